//! A network namespace of its own for a program that may reach the network only through
//! a forward proxy of its caller: nothing in it but `lo`, and on `lo` one TCP listener the
//! caller serves the proxy on.
//!
//! It is made on a short-lived thread of its own, so no other thread of the caller ever
//! changes namespace: the thread unshares, brings `lo` up, binds the listener (a socket
//! keeps the namespace it was made in, whichever thread later serves it) and opens its
//! `/proc/thread-self/ns/net`; then it exits. The program joins the namespace through that
//! descriptor ([`crate::Spawn::net_namespace`]) before it gives up its capabilities.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use thiserror::Error;

/// Why a network namespace could not be made.
#[derive(Debug, Error)]
pub enum NetNamespaceError {
    /// Only root (`CAP_SYS_ADMIN`) makes a namespace a confined program can join.
    #[error(
        "a network namespace for a network job needs a root jitosd (CAP_SYS_ADMIN); run \
         jitosd as root to give network jobs their proxied network"
    )]
    NotRoot,
    /// A step failed.
    #[error("cannot make the network namespace: {step} failed: {error}")]
    Step {
        /// The step, such as "unshare(CLONE_NEWNET)".
        step: &'static str,
        /// What failed (in the message, so not also a source).
        error: std::io::Error,
    },
}

/// A network namespace holding only `lo`, and the port its proxy listens on there.
#[derive(Debug)]
pub struct NetNamespace {
    /// `/proc/thread-self/ns/net` of the thread that made it; close-on-exec.
    fd: OwnedFd,
    /// The port of the listener on 127.0.0.1 inside: the only TCP port a confined
    /// program in it may connect to (Landlock).
    proxy_port: u16,
}

impl NetNamespace {
    /// Makes a namespace and binds a TCP listener on `127.0.0.1:proxy_port` inside it
    /// (0 picks a free port; read it back with [`NetNamespace::proxy_port`]). The caller
    /// serves the listener; a confined program in the namespace reaches nothing else.
    pub fn create(proxy_port: u16) -> Result<(NetNamespace, TcpListener), NetNamespaceError> {
        // SAFETY: geteuid takes no arguments.
        if unsafe { libc::geteuid() } != 0 {
            return Err(NetNamespaceError::NotRoot);
        }
        let made = std::thread::Builder::new()
            .name("jitos-netns".to_owned())
            .spawn(move || make_on_this_thread(proxy_port))
            .map_err(|error| NetNamespaceError::Step {
                step: "starting its thread",
                error,
            })?
            .join()
            .map_err(|_| NetNamespaceError::Step {
                step: "its thread",
                error: std::io::Error::other("the thread panicked"),
            })??;
        Ok(made)
    }

    /// The port the proxy listens on, on 127.0.0.1 inside.
    pub fn proxy_port(&self) -> u16 {
        self.proxy_port
    }

    /// Another handle on the same namespace (one per program that joins it).
    pub fn try_clone(&self) -> std::io::Result<NetNamespace> {
        Ok(NetNamespace {
            fd: self.fd.try_clone()?,
            proxy_port: self.proxy_port,
        })
    }

    /// The descriptor the child passes to `setns`.
    pub(crate) fn raw_fd(&self) -> libc::c_int {
        self.fd.as_raw_fd()
    }
}

fn step(step: &'static str) -> impl FnOnce(std::io::Error) -> NetNamespaceError {
    move |error| NetNamespaceError::Step { step, error }
}

/// The thread's part: it leaves the caller's namespace for good, and ends afterwards.
fn make_on_this_thread(port: u16) -> Result<(NetNamespace, TcpListener), NetNamespaceError> {
    // SAFETY: unshare takes flags only; it changes this thread alone (CLONE_NEWNET does
    // not require a single-threaded process).
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } < 0 {
        return Err(step("unshare(CLONE_NEWNET)")(
            std::io::Error::last_os_error(),
        ));
    }
    loopback_up().map_err(step("bringing lo up"))?;
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
        .map_err(step("binding the proxy's listener"))?;
    let proxy_port = listener
        .local_addr()
        .map_err(step("reading the proxy's port"))?
        .port();
    let ns = std::fs::File::open("/proc/thread-self/ns/net")
        .map_err(step("opening /proc/thread-self/ns/net"))?;
    Ok((
        NetNamespace {
            fd: ns.into(),
            proxy_port,
        },
        listener,
    ))
}

/// Sets `IFF_UP` on `lo` in this thread's namespace (a new one holds it down).
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: socket takes integers; the descriptor is owned right away.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is the socket just made and owned by nothing else.
    let socket = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: an all-zero ifreq is a valid request with an empty name.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name from and writes the flags into a live ifreq.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    unsafe { request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads a live ifreq.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
