//! A running `jitosd`, killed when its guard is dropped.

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use jitos_proto::Client;
use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};

use crate::process::{wait_bounded, POLL_INTERVAL};

/// Longest a daemon may take from spawn to answering a handshake (it verifies the whole
/// chain and recovers before it binds its socket).
const READY_WAIT: Duration = Duration::from_secs(20);

/// Longest a daemon may take to exit after SIGTERM or SIGKILL.
const EXIT_WAIT: Duration = Duration::from_secs(20);

/// A `jitosd` process. Its standard error goes to a file in the sandbox, so failures can
/// quote it; dropping the guard SIGKILLs a daemon that is still running.
pub struct Daemon {
    child: Child,
    socket: PathBuf,
    stderr_path: PathBuf,
}

impl Daemon {
    /// Spawns `command` and waits until the socket answers a handshake.
    pub(crate) fn spawn(command: Command, socket: PathBuf, stderr_path: PathBuf) -> Daemon {
        Daemon::spawn_passing(command, socket, stderr_path, None)
    }

    /// As [`Daemon::spawn`], `passed` (a listener the child inherits) closed here once the
    /// child has it: a daemon that dies then leaves no one listening, so the wait sees it
    /// die rather than hang on a handshake no one answers.
    pub(crate) fn spawn_passing(
        mut command: Command,
        socket: PathBuf,
        stderr_path: PathBuf,
        passed: Option<std::os::unix::net::UnixListener>,
    ) -> Daemon {
        let stderr = File::create(&stderr_path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", stderr_path.display()));
        let shown = format!("{command:?}");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
        drop(passed);
        let mut daemon = Daemon {
            child,
            socket,
            stderr_path,
        };
        daemon.wait_ready(&shown);
        daemon
    }

    fn wait_ready(&mut self, shown: &str) {
        let deadline = Instant::now() + READY_WAIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{shown} exited with {status} before answering\nstderr:\n{}",
                    self.stderr()
                );
            }
            if let Ok(Some(_)) = Client::connect(&self.socket, "systest-probe") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{shown} did not answer a handshake on {} within {READY_WAIT:?}\nstderr:\n{}",
                self.socket.display(),
                self.stderr()
            );
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// A new handshaken connection.
    pub fn client(&self) -> Client {
        crate::connect(&self.socket)
    }

    /// The socket the daemon listens on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything the daemon wrote to standard error so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_else(|e| format!("<unreadable: {e}>"))
    }

    /// Kills the daemon with SIGKILL, as a power cut would, and reaps it.
    pub fn kill9(mut self) {
        self.child
            .kill()
            .unwrap_or_else(|e| panic!("cannot SIGKILL jitosd {}: {e}", self.child.id()));
        if wait_bounded(&mut self.child, EXIT_WAIT).is_none() {
            panic!(
                "jitosd {} survived SIGKILL for {EXIT_WAIT:?}",
                self.child.id()
            );
        }
    }

    /// Stops the daemon with SIGTERM and asserts it exits 0; returns its standard error.
    pub fn terminate(mut self) -> String {
        let pid = self.pid();
        let pid_raw = i32::try_from(pid).unwrap_or_else(|_| panic!("pid {pid} out of range"));
        kill(Pid::from_raw(pid_raw), Signal::SIGTERM)
            .unwrap_or_else(|e| panic!("cannot SIGTERM jitosd {pid}: {e}"));
        let status = wait_bounded(&mut self.child, EXIT_WAIT).unwrap_or_else(|| {
            panic!(
                "jitosd {pid} did not exit within {EXIT_WAIT:?} of SIGTERM\nstderr:\n{}",
                self.stderr()
            )
        });
        let stderr = self.stderr();
        assert!(
            status.success(),
            "jitosd {pid} exited with {status} after SIGTERM\nstderr:\n{stderr}"
        );
        stderr
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
