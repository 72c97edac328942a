//! Running the job's command: in its own process group, with stdin null and stdout and
//! stderr captured up to a limit, and killed as a whole group whenever it is stopped.

use std::{
    io::Read,
    os::unix::process::{CommandExt, ExitStatusExt},
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    thread,
    time::Instant,
};

use nix::{
    sys::{
        signal::{killpg, Signal},
        wait::{waitid, Id, WaitPidFlag, WaitStatus},
    },
    unistd::Pid,
};

/// Bytes of stdout, and of stderr, kept; the rest is read and counted, not kept.
pub const OUTPUT_BYTES_MAX: usize = 1024 * 1024;

/// What one output stream produced: its first `OUTPUT_BYTES_MAX` bytes and its length.
pub struct Captured {
    head: Vec<u8>,
    total: u64,
}

impl Captured {
    /// The bytes kept, followed by a note when the stream was longer, so a reader of the
    /// artifact sees that it was cut.
    pub fn into_bytes(self) -> Vec<u8> {
        let mut bytes = self.head;
        let kept = bytes.len() as u64;
        if self.total > kept {
            bytes.extend_from_slice(
                format!(
                    "\n[jitos-worker-shell: output truncated: kept the first {kept} of {} bytes]\n",
                    self.total
                )
                .as_bytes(),
            );
        }
        bytes
    }
}

/// The command once it ended: its status and both outputs.
pub struct Finished {
    /// How the command's own process ended.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: Captured,
    /// Its standard error.
    pub stderr: Captured,
}

impl Finished {
    /// The exit code, or 128 + the signal that ended it, as shells report it.
    pub fn exit_status(&self) -> i32 {
        match (self.status.code(), self.status.signal()) {
            (Some(code), _) => code,
            (None, Some(signal)) => 128 + signal,
            (None, None) => -1,
        }
    }
}

/// Which output stream a reader thread served.
enum Stream {
    Stdout,
    Stderr,
}

/// A command that was started and not yet finished. Dropping it kills its whole process
/// group and reaps the command, so no early return leaves a process behind.
pub struct Running {
    child: Option<Child>,
    group: Pid,
    outputs: mpsc::Receiver<(Stream, std::io::Result<Captured>)>,
}

impl Running {
    /// Starts `args` (`args[0]` is looked up in `PATH` unless absolute) in `cwd`.
    pub fn spawn(args: &[String], cwd: &Path) -> Result<Running, String> {
        let (program, rest) = args
            .split_first()
            .ok_or_else(|| "the job has no command".to_owned())?;
        let mut child = Command::new(program)
            .args(rest)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so the command and everything it starts die together.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start `{program}`: {e}"))?;
        let group = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
        let (tx, outputs) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            let tx = tx.clone();
            thread::spawn(move || {
                let _ = tx.send((Stream::Stdout, capture(stdout)));
            });
        }
        if let Some(stderr) = child.stderr.take() {
            thread::spawn(move || {
                let _ = tx.send((Stream::Stderr, capture(stderr)));
            });
        }
        Ok(Running {
            child: Some(child),
            group,
            outputs,
        })
    }

    /// Whether the command's own process has exited. It is not reaped yet, so its
    /// process group id cannot be reused before the group is killed.
    pub fn has_exited(&self) -> Result<bool, String> {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        match waitid(Id::Pid(self.group), flags) {
            Ok(WaitStatus::StillAlive) => Ok(false),
            Ok(_) => Ok(true),
            Err(e) => Err(format!("cannot wait for the command: {e}")),
        }
    }

    /// After the command exited: kills what it left running in its group, reaps it, and
    /// collects both outputs, waiting for them no later than `deadline`.
    pub fn finish(mut self, deadline: Instant) -> Result<Finished, String> {
        kill_group(self.group);
        let status = match self.child.take() {
            Some(mut child) => child
                .wait()
                .map_err(|e| format!("cannot reap the command: {e}"))?,
            None => return Err("the command was already reaped".to_owned()),
        };
        let (mut stdout, mut stderr) = (None, None);
        while stdout.is_none() || stderr.is_none() {
            let wait = deadline.saturating_duration_since(Instant::now());
            let (stream, captured) = self.outputs.recv_timeout(wait).map_err(|_| {
                "a process started by the command left its own process group and kept the \
                 command's output open past the job's deadline"
                    .to_owned()
            })?;
            let captured =
                captured.map_err(|e| format!("cannot read the command's output: {e}"))?;
            match stream {
                Stream::Stdout => stdout = Some(captured),
                Stream::Stderr => stderr = Some(captured),
            }
        }
        match (stdout, stderr) {
            (Some(stdout), Some(stderr)) => Ok(Finished {
                status,
                stdout,
                stderr,
            }),
            _ => Err("the command's output was lost".to_owned()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(self.group);
            // Reaping can only fail if the child was already reaped, which `take` rules out.
            let _ = child.wait();
        }
    }
}

/// Sends SIGKILL to every process of `group`. ESRCH (no process left) is the goal, and
/// EPERM (a member changed its uid) leaves nothing more this worker could do.
fn kill_group(group: Pid) {
    let _ = killpg(group, Signal::SIGKILL);
}

/// Reads `stream` to its end, keeping the first `OUTPUT_BYTES_MAX` bytes; reading on
/// past the limit keeps the command from blocking on a full pipe.
fn capture<R: Read>(mut stream: R) -> std::io::Result<Captured> {
    let mut head = Vec::new();
    let mut total = 0u64;
    let mut buffer = [0u8; 64 * 1024];
    loop {
        let read = match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += read as u64;
        let room = OUTPUT_BYTES_MAX.saturating_sub(head.len());
        head.extend_from_slice(&buffer[..read.min(room)]);
    }
    Ok(Captured { head, total })
}
