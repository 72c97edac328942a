//! `kill_uid`: ends every process running under one worker uid, including any that left
//! the worker's process group or session, which a group kill would miss.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// Sends SIGKILL to every process running as `uid`.
///
/// A short-lived child takes `uid` and calls `kill(-1, SIGKILL)`, which as an
/// unprivileged uid reaches exactly the processes of that uid (and not the caller). The
/// kernel refuses `fork` to a process with a fatal signal pending, so a fork bomb under
/// `uid` cannot outrun it. Only for uids no other program shares: uid 0 is refused.
pub fn kill_uid(uid: u32) -> std::io::Result<()> {
    if uid == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "refusing to kill every process of uid 0",
        ));
    }
    // The program is never executed: the child exits inside `pre_exec`.
    let mut command = Command::new("/");
    command
        .uid(uid)
        .gid(uid)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: the closure makes two raw system calls, kill and _exit, both
    // async-signal-safe; std has already switched the child to `uid` before it runs.
    unsafe {
        command.pre_exec(|| {
            libc::kill(-1, libc::SIGKILL);
            libc::_exit(0)
        });
    }
    let status = command.status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "the helper that kills uid {uid}'s processes ended with {status}"
        )))
    }
}
