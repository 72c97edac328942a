//! `WorkerChannel`: the daemon's end of a worker's socket, read with `recvmsg` so that a
//! file descriptor the worker tries to pass is seen, closed at once, and refused.
//!
//! A plain `read()` on a unix socket silently discards `SCM_RIGHTS` payloads, so a worker
//! could hand the daemon descriptors without anyone noticing. Reading with `recvmsg` and a
//! control buffer makes them visible: the protocol carries bytes only, so any ancillary
//! data at all ends the conversation with [`crate::ProtocolError::PassedDescriptors`].
//!
//! Linux only, like the sandbox it serves (`MSG_CMSG_CLOEXEC`, the `SCM_MAX_FD` bound).

use std::{
    io::{self, IoSliceMut, Read, Write},
    os::{
        fd::{AsFd, AsRawFd, BorrowedFd, RawFd},
        unix::net::UnixStream,
    },
    time::Duration,
};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

/// The most descriptors Linux attaches to one message (`SCM_MAX_FD` in the kernel's
/// `include/net/scm.h`); `sendmsg` refuses more with `EINVAL`. The control buffer holds
/// this many, so the kernel never has to truncate a worker's `SCM_RIGHTS` and every
/// descriptor it installs is one this channel sees and closes.
const DESCRIPTORS_PER_MESSAGE_MAX: usize = 253;

/// Why a read was refused: the worker sent ancillary data. Travels inside an
/// `io::Error` through `jitos_proto::read_frame`, and `codec` turns it back into
/// `ProtocolError::PassedDescriptors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the worker sent ancillary data ({count} file descriptors, truncated: {truncated})")]
pub(crate) struct AncillaryRefused {
    /// Descriptors received (and closed) in the refused read.
    pub(crate) count: usize,
    /// The kernel set `MSG_CTRUNC`: there was more ancillary data than fitted.
    pub(crate) truncated: bool,
}

/// The daemon's end of one worker's socket: a `UnixStream` that reads with `recvmsg` and
/// refuses ancillary data.
///
/// Every descriptor a worker passes is received close-on-exec (so a worker the daemon
/// spawns meanwhile cannot inherit it) and closed before the read returns; the read then
/// fails, and so does every later read, because the bytes that came with the descriptors
/// were dropped and the stream is no longer at a frame boundary. Writes go straight to the
/// socket.
///
/// ```no_run
/// # fn demo(stream: std::os::unix::net::UnixStream) -> Result<(), Box<dyn std::error::Error>> {
/// use jitos_worker::{DaemonEnd, WorkerChannel};
/// let channel = WorkerChannel::new(stream);
/// channel.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
/// let end = DaemonEnd::accept(channel)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct WorkerChannel {
    stream: UnixStream,
    /// Space for the ancillary data of one `recvmsg`; the kernel writes it only when a
    /// worker misbehaves, and the channel is refused from then on.
    control: Vec<u8>,
    /// Set by the first refused read; every later read fails the same way.
    refused: Option<AncillaryRefused>,
}

impl WorkerChannel {
    /// Wraps the daemon's end of a worker's socket.
    pub fn new(stream: UnixStream) -> Self {
        Self::with_control_space(
            stream,
            nix::cmsg_space!([RawFd; DESCRIPTORS_PER_MESSAGE_MAX]),
        )
    }

    fn with_control_space(stream: UnixStream, control: Vec<u8>) -> Self {
        Self {
            stream,
            control,
            refused: None,
        }
    }

    /// Sets the socket's receive timeout (`SO_RCVTIMEO`), which `recvmsg` honours: a read
    /// that waits longer fails with `WouldBlock` or `TimedOut`. `None` waits forever.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    /// Sets the socket's send timeout (`SO_SNDTIMEO`), so a worker that stops reading
    /// cannot block the daemon once the socket buffer is full. `None` waits forever.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_write_timeout(timeout)
    }

    /// The socket, e.g. to `shutdown` it. Reading it directly bypasses the check on
    /// passed descriptors.
    pub fn get_ref(&self) -> &UnixStream {
        &self.stream
    }

    /// Gives back the socket.
    pub fn into_inner(self) -> UnixStream {
        self.stream
    }

    /// One `recvmsg` into `buf`; any ancillary data refuses the read and the channel.
    fn receive(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let fd = self.stream.as_raw_fd();
        let mut iov = [IoSliceMut::new(buf)];
        // The borrow of `self.control` by the result must end before the fallback below
        // reads the buffer, so take what is needed out of it here.
        let (bytes, truncated, controls) = {
            let msg = recvmsg::<()>(
                fd,
                &mut iov,
                Some(&mut self.control),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )?;
            // `cmsgs()` is an error exactly when MSG_CTRUNC is set (nix will not walk a
            // truncated buffer); that case is handled by `close_rights_in` below.
            let controls: Option<Vec<ControlMessageOwned>> =
                msg.cmsgs().ok().map(|cmsgs| cmsgs.collect());
            (
                msg.bytes,
                msg.flags.contains(MsgFlags::MSG_CTRUNC),
                controls,
            )
        };
        let count = match controls {
            Some(controls) if controls.is_empty() && !truncated => return Ok(bytes),
            Some(controls) => controls
                .into_iter()
                .map(|control| match control {
                    ControlMessageOwned::ScmRights(fds) => close_all(&fds),
                    // Nothing else can arrive on a socket that set no SO_PASS* option;
                    // if it does, it is still ancillary data the protocol has no room for.
                    _ => 0,
                })
                .sum(),
            None => close_rights_in(&self.control),
        };
        // The kernel wrote into the buffer; clear it so `close_rights_in` can rely on
        // zeroes marking the end of what the kernel wrote, should it ever run again.
        self.control.fill(0);
        let refused = AncillaryRefused { count, truncated };
        self.refused = Some(refused);
        Err(io::Error::other(refused))
    }
}

/// Closes each descriptor, returning how many there were. A failed close is ignored: the
/// descriptor was just installed by the kernel for this process, so `EBADF` cannot happen,
/// and on any other error Linux has released the descriptor anyway.
fn close_all(fds: &[RawFd]) -> usize {
    for &fd in fds {
        let _ = nix::unistd::close(fd);
    }
    fds.len()
}

/// Walks a control buffer the kernel truncated (`MSG_CTRUNC`), which nix refuses to walk,
/// and closes every descriptor in its `SCM_RIGHTS` messages; returns how many it closed.
///
/// The layout is the kernel's `struct cmsghdr` (`cmsg_len: size_t`, `cmsg_level: int`,
/// `cmsg_type: int`), each header and its data aligned to `size_t`. On truncation the
/// kernel still writes whole headers whose `cmsg_len` covers only what it installed, and
/// the rest of the buffer stays zero, so a zero (or impossible) length ends the walk.
/// Lengths are clamped to the buffer so a bad header can never read past it.
fn close_rights_in(control: &[u8]) -> usize {
    const WORD: usize = std::mem::size_of::<usize>();
    const INT: usize = std::mem::size_of::<i32>();
    const DATA_OFFSET: usize = (WORD + 2 * INT).next_multiple_of(WORD);
    let word_at = |at: usize| -> Option<usize> {
        let bytes = control.get(at..at.checked_add(WORD)?)?;
        Some(usize::from_ne_bytes(bytes.try_into().ok()?))
    };
    let int_at = |at: usize| -> Option<i32> {
        let bytes = control.get(at..at.checked_add(INT)?)?;
        Some(i32::from_ne_bytes(bytes.try_into().ok()?))
    };
    let mut closed = 0;
    let mut at = 0;
    // `at` stays below the buffer's length (see the step below), so these sums cannot
    // overflow.
    while let (Some(len), Some(level), Some(kind)) =
        (word_at(at), int_at(at + WORD), int_at(at + WORD + INT))
    {
        if len < DATA_OFFSET {
            break;
        }
        let end = at.saturating_add(len).min(control.len());
        if level == libc::SOL_SOCKET && kind == libc::SCM_RIGHTS {
            let fds: Vec<RawFd> = control
                .get(at + DATA_OFFSET..end)
                .unwrap_or_default()
                .chunks_exact(INT)
                .filter_map(|b| b.try_into().ok().map(RawFd::from_ne_bytes))
                .collect();
            closed += close_all(&fds);
        }
        match len.checked_next_multiple_of(WORD) {
            Some(step) if step < control.len() - at => at += step,
            _ => break,
        }
    }
    closed
}

impl Read for WorkerChannel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(refused) = self.refused {
            return Err(io::Error::other(refused));
        }
        // A zero-length recvmsg could still dequeue ancillary data while reporting 0
        // bytes, which a caller would take for end of stream; `Read` allows answering an
        // empty buffer without asking the kernel.
        if buf.is_empty() {
            return Ok(0);
        }
        self.receive(buf)
    }
}

impl Write for WorkerChannel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.stream).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&self.stream).flush()
    }
}

impl AsFd for WorkerChannel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

impl AsRawFd for WorkerChannel {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

impl From<UnixStream> for WorkerChannel {
    fn from(stream: UnixStream) -> Self {
        Self::new(stream)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::{fs::File, io::IoSlice, path::Path};

    use nix::sys::socket::{sendmsg, ControlMessage};

    use super::*;

    /// How many of this process's descriptors are open on `path`; robust to other tests
    /// opening descriptors concurrently, unlike a count of all of them.
    fn open_on(path: &Path) -> usize {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|target| target == path)
            .count()
    }

    // Goal: when the control buffer is too small (MSG_CTRUNC), the descriptors the kernel
    // did install are still found and closed, and the read is refused as truncated.
    // Method: a channel with room for two descriptors receives four.
    #[test]
    fn truncated_control_data_is_closed_and_refused() {
        let path = std::env::temp_dir().join(format!("jitos-ctrunc-{}", std::process::id()));
        let file = File::create(&path).unwrap();
        let (daemon, worker) = UnixStream::pair().unwrap();
        let mut channel = WorkerChannel::with_control_space(daemon, nix::cmsg_space!([RawFd; 2]));
        let fd = file.as_raw_fd();
        let fds = [fd, fd, fd, fd];
        sendmsg::<()>(
            worker.as_raw_fd(),
            &[IoSlice::new(b"x")],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .unwrap();
        assert_eq!(
            open_on(&path),
            1,
            "only the test's own file before the read"
        );
        let err = channel.read(&mut [0u8; 8]).unwrap_err();
        let refused = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<AncillaryRefused>())
            .copied()
            .unwrap();
        assert!(refused.truncated, "{refused:?}");
        assert!(
            (1..=4).contains(&refused.count),
            "the installed descriptors are counted: {refused:?}"
        );
        assert_eq!(open_on(&path), 1, "every received descriptor was closed");
        assert!(channel.read(&mut [0u8; 8]).is_err(), "the refusal sticks");
        drop(file);
        std::fs::remove_file(&path).unwrap();
    }

    // Goal: the fallback walker never reads past the buffer or closes anything for
    // garbage. Method: buffers of zeroes, of a header with a huge length and of a
    // non-SCM_RIGHTS header, all of which must close nothing.
    #[test]
    fn walker_is_bounded() {
        assert_eq!(close_rights_in(&[]), 0);
        assert_eq!(close_rights_in(&[0; 64]), 0);
        let mut huge = vec![0u8; 64];
        huge[..8].copy_from_slice(&usize::MAX.to_ne_bytes());
        assert_eq!(
            close_rights_in(&huge),
            0,
            "SOL 0 / type 0 is not SCM_RIGHTS"
        );
        let mut other = vec![0u8; 64];
        other[..8].copy_from_slice(&24usize.to_ne_bytes());
        other[8..12].copy_from_slice(&libc::SOL_SOCKET.to_ne_bytes());
        other[12..16].copy_from_slice(&libc::SCM_CREDENTIALS.to_ne_bytes());
        assert_eq!(close_rights_in(&other), 0);
    }
}
