//! Escape probe for the sandbox tests: tries one action, exits 0 if it worked, 1 if refused.
//!
//! Usage: `jitos-sandbox-probe ACTION [ARG]...`. Exit code 2 means a usage error, so that
//! a typo in a test can never pass as "refused".

#![allow(unsafe_code)] // The probe makes raw system calls on purpose.

// A directory of its own, so the auto-discovery of binaries takes it for none.
#[path = "jitos-sandbox-probe/net.rs"]
mod net;

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let action = args.first().map(String::as_str).unwrap_or("");
    let arg = args.get(1).map(String::as_str).unwrap_or("");
    let result = match action {
        "write" => std::fs::File::create(arg).and_then(|mut f| f.write_all(b"escaped")),
        "read" => std::fs::File::open(arg).and_then(|mut f| f.read(&mut [0u8; 16]).map(|_| ())),
        "read-proc-root" => {
            // The same file, reached through the /proc/self/root magic link.
            let through = format!("/proc/self/root{arg}");
            std::fs::File::open(through).and_then(|mut f| f.read(&mut [0u8; 16]).map(|_| ()))
        }
        "inet-socket" => std::net::UdpSocket::bind("127.0.0.1:0").map(|_| ()),
        "inet6-socket" => socket(libc::AF_INET6, libc::SOCK_DGRAM, 0),
        "netlink-socket" => socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE),
        "packet-socket" => socket(libc::AF_PACKET, libc::SOCK_RAW, 0),
        "unix-connect" => std::os::unix::net::UnixStream::connect(arg).map(|_| ()),
        "unix-dgram-send" => std::os::unix::net::UnixDatagram::unbound()
            .and_then(|socket| socket.send_to(b"escaped", arg))
            .map(|_| ()),
        "unix-dgram-pair-send" => std::os::unix::net::UnixDatagram::pair()
            .and_then(|(socket, _)| socket.send_to(b"escaped", arg))
            .map(|_| ()),
        "socketpair" => std::os::unix::net::UnixStream::pair().map(|_| ()),
        "unix-raw-send" => unix_raw_send(arg),
        "clone-userns" => clone_into(libc::CLONE_NEWUSER),
        "signal-parent" => {
            // SIGCONT changes nothing for a running process, but needs the right to signal.
            // SAFETY: getppid and kill take integers only.
            sys(unsafe { libc::kill(libc::getppid(), libc::SIGCONT) }.into())
        }
        // SAFETY: getppid takes no arguments.
        "ptrace-parent" => ptrace_seize(unsafe { libc::getppid() }),
        "process-vm-readv" => process_vm_readv(arg, args.get(2).map(String::as_str).unwrap_or("")),
        "setns" => {
            // SAFETY: setns takes a descriptor and flags.
            sys(unsafe { libc::setns(fd(arg), 0) }.into())
        }
        "chroot" => {
            let dir = cstr(arg);
            // SAFETY: dir is a live NUL-terminated string.
            sys(unsafe { libc::chroot(dir.as_ptr()) }.into())
        }
        "pivot-root" => pivot_root(arg),
        "cpu-spin" => cpu_spin(arg),
        // SAFETY: setuid takes an integer.
        "setuid" => sys(unsafe { libc::setuid(number(arg)) }.into()),
        "perf" => perf_event(),
        "tiocsti" => {
            let byte = b'x';
            // SAFETY: TIOCSTI reads one byte through a pointer to a live local.
            sys(unsafe { libc::ioctl(fd(arg), libc::TIOCSTI, &byte as *const u8) }.into())
        }
        "leaked-fds" => leaked_fds(),
        "tcp-connect" => std::net::TcpStream::connect(("127.0.0.1", port(arg))).map(|_| ()),
        "tcp-token" => net::tcp_token(arg, arg_at(&args, 2), arg_at(&args, 3)),
        "udp-echo" => net::udp_echo(arg, arg_at(&args, 2)),
        "dns" => net::dns(arg),
        "raw-socket" => socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP),
        "raw6-socket" => socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6),
        "proxy-connect" => net::proxy_connect(arg, arg_at(&args, 2)),
        "ptrace" => ptrace_seize(number(arg)),
        "mount" => mount_tmpfs(arg),
        "mknod-block" => {
            let path = cstr(arg);
            // SAFETY: path is a live NUL-terminated string; device 7,0 is loop0.
            sys(
                unsafe { libc::mknod(path.as_ptr(), libc::S_IFBLK | 0o600, libc::makedev(7, 0)) }
                    .into(),
            )
        }
        // SAFETY: unshare takes flags only.
        "unshare-user" => sys(unsafe { libc::unshare(libc::CLONE_NEWUSER) }.into()),
        "io-uring" => io_uring(),
        "bpf" => bpf_map(),
        // SAFETY: KEYCTL_GET_KEYRING_ID takes integer arguments only.
        "keyctl" => sys(unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                0,  /* GET_KEYRING_ID */
                -3, /* SESSION */
                1,
            )
        }),
        // SAFETY: getpid through its x32 number takes no arguments.
        "x32-getpid" => sys(unsafe { libc::syscall(0x4000_0000 | libc::SYS_getpid) }),
        "exec" => exec(arg),
        "fork" => fork_many(1),
        "fork-bomb" => fork_many(port(arg).into()),
        "mem-bomb" => {
            let mut v: Vec<u8> = Vec::new();
            v.try_reserve_exact(2 << 30)
                .map_err(|_| std::io::Error::from_raw_os_error(libc::ENOMEM))
        }
        "chmod" => {
            let path = cstr(arg);
            // SAFETY: path is a live NUL-terminated string.
            sys(unsafe { libc::chmod(path.as_ptr(), 0o777) }.into())
        }
        "fchmod" => std::fs::File::open(arg).and_then(|file| {
            // SAFETY: fchmod takes a live descriptor and a mode.
            sys(unsafe { libc::fchmod(file.as_raw_fd(), 0o777) }.into())
        }),
        "chown" => {
            let path = cstr(arg);
            // Giving a file to its own owner is allowed to that owner: only the view
            // of the file system can refuse it.
            // SAFETY: path is a live NUL-terminated string; the ids are the probe's own.
            sys(unsafe { libc::chown(path.as_ptr(), libc::getuid(), libc::getgid()) }.into())
        }
        "utimensat" => {
            let path = cstr(arg);
            let times = [libc::timespec {
                tv_sec: 978_307_200, // 2001-01-01
                tv_nsec: 0,
            }; 2];
            // SAFETY: path is a live NUL-terminated string and times two live timespecs.
            sys(unsafe { libc::utimensat(libc::AT_FDCWD, path.as_ptr(), times.as_ptr(), 0) }.into())
        }
        "setxattr" => {
            let (path, name, value) = (cstr(arg), cstr("user.jitos-probe"), b"escaped");
            // SAFETY: path and name are live NUL-terminated strings, value a live buffer
            // of the length passed.
            sys(unsafe {
                libc::setxattr(
                    path.as_ptr(),
                    name.as_ptr(),
                    value.as_ptr().cast(),
                    value.len(),
                    0,
                )
            }
            .into())
        }
        "caps-held" => caps_held(),
        "shm-attach" => {
            // SAFETY: shmget takes integers; shmat maps the segment, shmdt unmaps it.
            unsafe {
                let id = libc::shmget(number(arg), 0, 0);
                sys(id.into()).and_then(|()| {
                    let at = libc::shmat(id, std::ptr::null(), libc::SHM_RDONLY);
                    if at as isize == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    libc::shmdt(at);
                    Ok(())
                })
            }
        }
        "mem-touch" => {
            // Resident memory, which a memory cgroup counts (an address-space limit counts
            // reservations instead).
            let mut held: Vec<Vec<u8>> = Vec::new();
            for _ in 0..number::<u32>(arg) {
                held.push(vec![1u8; 1 << 20]);
            }
            std::hint::black_box(&held);
            Ok(())
        }
        "pause" => {
            std::thread::sleep(std::time::Duration::from_secs(number(arg)));
            Ok(())
        }
        "sethostname" => {
            // The name it already has: a success changes nothing.
            let mut name = [0u8; 256];
            // SAFETY: gethostname writes at most the buffer's length into a live buffer.
            sys(unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) }.into()).and_then(
                |()| {
                    let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                    // SAFETY: the first `len` bytes of `name` are live.
                    sys(unsafe { libc::sethostname(name.as_ptr().cast(), len) }.into())
                },
            )
        }
        // With neither a time nor a zone, a permitted call changes nothing; the
        // permission check comes first.
        // SAFETY: both pointers are null, which settimeofday accepts.
        "settimeofday" => sys(unsafe {
            libc::syscall(
                libc::SYS_settimeofday,
                std::ptr::null::<libc::timeval>(),
                std::ptr::null::<libc::c_void>(),
            )
        }),
        "nnp-clear" => {
            // SAFETY: PR_GET_NO_NEW_PRIVS reads a flag.
            match unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) } {
                0 => Ok(()),
                _ => Err(std::io::Error::other("no_new_privs is set")),
            }
        }
        _ => usage(&format!("unknown action {action:?}")),
    };
    match result {
        Ok(()) => {
            println!("{action}: succeeded");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{action}: refused: {e}");
            ExitCode::from(1)
        }
    }
}

/// The argument at `index`; a usage error if it is missing.
fn arg_at(args: &[String], index: usize) -> &str {
    args.get(index)
        .map(String::as_str)
        .unwrap_or_else(|| usage(&format!("argument {index} is missing")))
}

fn port(arg: &str) -> u16 {
    number(arg)
}

/// `arg` as a number; a usage error (exit 2) if it is none, so a typo in a test never
/// passes as "refused".
fn number<T: std::str::FromStr>(arg: &str) -> T {
    arg.parse()
        .unwrap_or_else(|_| usage(&format!("{arg:?} is not a number")))
}

fn usage(why: &str) -> ! {
    eprintln!("usage error: {why}");
    std::process::exit(2)
}

fn sys(ret: libc::c_long) -> std::io::Result<()> {
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| usage(&format!("{s:?} holds a NUL byte")))
}

fn fd(arg: &str) -> libc::c_int {
    number(arg)
}

fn socket(domain: libc::c_int, kind: libc::c_int, protocol: libc::c_int) -> std::io::Result<()> {
    // SAFETY: socket takes integers; the descriptor is closed right away.
    let fd = unsafe { libc::socket(domain, kind, protocol) };
    sys(fd.into())?;
    // SAFETY: fd is the descriptor just created.
    unsafe { libc::close(fd) };
    Ok(())
}

/// Attaches without stopping the target (PTRACE_SEIZE), then detaches again.
fn ptrace_seize(pid: libc::pid_t) -> std::io::Result<()> {
    // SAFETY: PTRACE_SEIZE takes a pid and null pointers.
    sys(unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid, 0usize, 0usize) })?;
    // SAFETY: as above; the target keeps running.
    unsafe { libc::ptrace(libc::PTRACE_DETACH, pid, 0usize, 0usize) };
    Ok(())
}

/// Reads 8 bytes at hex address `addr` of process `pid`.
fn process_vm_readv(pid: &str, addr: &str) -> std::io::Result<()> {
    let pid: libc::pid_t = number(pid);
    let addr = usize::from_str_radix(addr.trim_start_matches("0x"), 16)
        .unwrap_or_else(|_| usage(&format!("{addr:?} is not a hex address")));
    let mut buffer = [0u8; 8];
    let local = libc::iovec {
        iov_base: buffer.as_mut_ptr().cast(),
        iov_len: buffer.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buffer.len(),
    };
    // SAFETY: both iovecs describe 8 bytes; the local one is a live buffer, the remote one
    // is read by the kernel in the other process, which checks it.
    let read = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    sys(read as libc::c_long)
}

fn pivot_root(dir: &str) -> std::io::Result<()> {
    let new_root = cstr(dir);
    // SAFETY: both arguments are live NUL-terminated strings.
    sys(unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), new_root.as_ptr()) })
}

/// Burns CPU for `secs` seconds of CPU time; a CPU limit below that kills the probe.
fn cpu_spin(secs: &str) -> std::io::Result<()> {
    let wanted = std::time::Duration::from_secs(number(secs));
    let mut x = 0u64;
    loop {
        for i in 0..1_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: the pointer refers to a live rusage the kernel fills.
        sys(unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) }.into())?;
        // SAFETY: getrusage succeeded, so the struct is filled.
        let usage = unsafe { usage.assume_init() };
        let spent = std::time::Duration::from_secs(usage.ru_utime.tv_sec as u64)
            + std::time::Duration::from_micros(usage.ru_utime.tv_usec as u64);
        if spent >= wanted {
            return Ok(());
        }
    }
}

fn perf_event() -> std::io::Result<()> {
    // struct perf_event_attr: type (PERF_TYPE_SOFTWARE), size, config (CPU clock).
    let mut attr = [0u32; 32];
    attr[0] = 1; // PERF_TYPE_SOFTWARE
    attr[1] = 128; // size of the attribute struct
                   // SAFETY: attr is a live buffer as large as the size it declares.
    let fd = unsafe { libc::syscall(libc::SYS_perf_event_open, attr.as_mut_ptr(), 0, -1, -1, 0) };
    sys(fd)
}

/// Succeeds when a descriptor above stderr is open: one the launcher let through.
fn leaked_fds() -> std::io::Result<()> {
    let open: Vec<i32> = (3..1024)
        // SAFETY: F_GETFD only asks whether a descriptor is open.
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0)
        .collect();
    if open.is_empty() {
        Err(std::io::Error::other("no descriptor above 2 is open"))
    } else {
        println!("open descriptors: {open:?}");
        Ok(())
    }
}

fn mount_tmpfs(dir: &str) -> std::io::Result<()> {
    let (src, target, fstype) = (cstr("none"), cstr(dir), cstr("tmpfs"));
    // SAFETY: all pointers are live NUL-terminated strings; data is null.
    sys(unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    }
    .into())?;
    // SAFETY: as above.
    unsafe { libc::umount2(target.as_ptr(), 0) };
    Ok(())
}

fn io_uring() -> std::io::Result<()> {
    let mut params = [0u8; 120]; // struct io_uring_params
                                 // SAFETY: params is a zeroed io_uring_params-sized buffer the kernel may write.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) };
    sys(fd)
}

fn bpf_map() -> std::io::Result<()> {
    // union bpf_attr for BPF_MAP_CREATE: map_type, key_size, value_size, max_entries.
    let mut attr = [0u32; 32];
    attr[0] = 2; // BPF_MAP_TYPE_ARRAY
    attr[1] = 4;
    attr[2] = 4;
    attr[3] = 1;
    // SAFETY: attr is a live buffer at least as large as the kernel reads.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            0, /* MAP_CREATE */
            attr.as_mut_ptr(),
            128u32,
        )
    };
    sys(fd)
}

fn exec(path: &str) -> std::io::Result<()> {
    let path = cstr(path);
    let argv = [path.as_ptr(), std::ptr::null()];
    // SAFETY: argv is NUL-terminated and points at live strings; execv only returns on error.
    unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
    Err(std::io::Error::last_os_error())
}

/// Forks `count` children that sleep; succeeds only if all forks worked.
fn fork_many(count: u32) -> std::io::Result<()> {
    let mut children = Vec::new();
    let mut result = Ok(());
    for _ in 0..count {
        // SAFETY: the child only sleeps and exits, both async-signal-safe.
        match unsafe { libc::fork() } {
            -1 => {
                result = Err(std::io::Error::last_os_error());
                break;
            }
            0 => unsafe {
                // SAFETY: sleep and _exit are async-signal-safe.
                libc::sleep(10);
                libc::_exit(0)
            },
            pid => children.push(pid),
        }
    }
    for pid in children {
        // SAFETY: kill and waitpid on our own children.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    result
}

/// Succeeds when the probe holds any capability: in its effective, permitted or
/// inheritable set (capget), its bounding set (PR_CAPBSET_READ) or its ambient set.
fn caps_held() -> std::io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: both pointers refer to live values laid out as the kernel's structs.
    sys(unsafe {
        libc::syscall(
            libc::SYS_capget,
            &header as *const Header,
            data.as_mut_ptr(),
        )
    })?;
    let mut held = Vec::new();
    for (word, d) in data.iter().enumerate() {
        for (set, bits) in [
            ("effective", d.effective),
            ("permitted", d.permitted),
            ("inheritable", d.inheritable),
        ] {
            if bits != 0 {
                held.push(format!("{set}[{word}]={bits:#x}"));
            }
        }
    }
    for cap in 0..64 {
        // SAFETY: PR_CAPBSET_READ and PR_CAP_AMBIENT_IS_SET take integers.
        let (bounding, ambient) = unsafe {
            (
                libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0),
                libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_IS_SET, cap, 0, 0),
            )
        };
        if bounding > 0 {
            held.push(format!("bounding {cap}"));
        }
        if ambient > 0 {
            held.push(format!("ambient {cap}"));
        }
    }
    if held.is_empty() {
        Err(std::io::Error::other("no capability is held"))
    } else {
        println!("held: {}", held.join(", "));
        Ok(())
    }
}

/// Sends to the datagram socket bound at `path` from a unix socket of type `SOCK_RAW`,
/// which the kernel makes a datagram socket.
fn unix_raw_send(path: &str) -> std::io::Result<()> {
    // SAFETY: socket takes integers.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    sys(fd.into())?;
    // SAFETY: `fd` is the socket just made, owned here.
    let socket =
        unsafe { <std::os::unix::net::UnixDatagram as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    socket.send_to(b"escaped", path).map(|_| ())
}

/// Starts a child in the new namespace `flag` with raw clone; succeeds if it started.
fn clone_into(flag: libc::c_int) -> std::io::Result<()> {
    // SAFETY: a fork-like clone (no new stack, no shared memory): the child only exits.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flag | libc::SIGCHLD) as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0usize,
        )
    };
    match pid {
        0 => {
            // SAFETY: _exit ends the child only.
            unsafe { libc::_exit(0) }
        }
        pid if pid < 0 => Err(std::io::Error::last_os_error()),
        pid => {
            // SAFETY: waitpid on the child just made.
            unsafe { libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0) };
            Ok(())
        }
    }
}
