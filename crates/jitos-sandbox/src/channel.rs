//! `pass_channel`: puts the worker's end of its socket on fd 3 in the child.

use std::os::{fd::AsRawFd, unix::net::UnixStream, unix::process::CommandExt};
use std::process::Command;

/// The descriptor a worker finds its channel on.
pub const CHANNEL_FD: i32 = 3;

/// Arranges for `channel` to be the child's fd [`CHANNEL_FD`], without close-on-exec, so
/// it is the one descriptor (besides stdio) the worker inherits: every other descriptor
/// the daemon holds is close-on-exec.
///
/// `channel` must stay open in the parent until `spawn` returns; drop it right after, so
/// the worker's end lives only in the worker.
pub fn pass_channel(command: &mut Command, channel: &UnixStream) {
    let fd = channel.as_raw_fd();
    // SAFETY: the closure makes only dup2 and fcntl, which are async-signal-safe, on a
    // descriptor that stays open in the parent until the child has been spawned.
    unsafe {
        command.pre_exec(move || {
            let done = if fd == CHANNEL_FD {
                // dup2 onto itself keeps close-on-exec set; clear it instead.
                libc::fcntl(CHANNEL_FD, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, CHANNEL_FD)
            };
            if done < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
