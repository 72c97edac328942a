//! A throw-away directory holding one data directory and one socket path, and the CLI and
//! daemon runs that use them.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use tempfile::TempDir;

use crate::{bin_path, process::run_bounded, Daemon};

/// Longest a single `jitos` command, or a `jitosd` that is expected to refuse to start,
/// may run before its test fails.
const COMMAND_WAIT: Duration = Duration::from_secs(60);

/// A temporary directory with `data/` for the store and `run/jitosd.sock` for the socket.
/// Everything in it is removed when it is dropped.
pub struct Sandbox {
    dir: TempDir,
    data_dir: PathBuf,
    socket: PathBuf,
    daemons_started: AtomicU32,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// A fresh, empty sandbox; the socket's directory is left for the daemon to create.
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("jitos-systest-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let data_dir = dir.path().join("data");
        let socket = dir.path().join("run").join("jitosd.sock");
        Sandbox {
            dir,
            data_dir,
            socket,
            daemons_started: AtomicU32::new(0),
        }
    }

    /// The sandbox's root, for files a test writes beside the store (bundles, scripts).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The data directory (`--data-dir`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The RocksDB store inside the data directory.
    pub fn store_dir(&self) -> PathBuf {
        self.data_dir.join("store")
    }

    /// The socket path (`--socket`).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Starts `jitosd` on this sandbox and waits until it answers.
    pub fn start(&self) -> Daemon {
        self.start_with(&[])
    }

    /// Starts `jitosd` with extra flags (e.g. `--read-only`) and waits until it answers.
    pub fn start_with(&self, extra: &[&str]) -> Daemon {
        Daemon::spawn(
            self.jitosd_command(extra),
            self.socket.clone(),
            self.next_stderr_path(),
        )
    }

    /// Starts `jitosd` with only `args` (no `--data-dir` or `--socket`: a configuration
    /// file, say, names them) and waits until it answers on this sandbox's socket.
    pub fn start_bare(&self, args: &[&str]) -> Daemon {
        let mut command = Command::new(bin_path("jitosd"));
        command.args(args);
        clear_jitos_env(&mut command);
        Daemon::spawn(command, self.socket.clone(), self.next_stderr_path())
    }

    /// Starts `jitosd` as a service manager would by socket activation: this sandbox's
    /// socket is bound and listening before the daemon runs, and passed to it as fd 3 with
    /// `LISTEN_FDS` and `LISTEN_PID`.
    pub fn start_socket_activated(&self) -> Daemon {
        use std::os::fd::AsRawFd;
        let dir = self.socket.parent().unwrap_or_else(|| Path::new("/"));
        // Private, as the daemon makes it and as a socket unit's DirectoryMode would.
        std::fs::create_dir_all(dir)
            .and_then(|()| {
                std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            })
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let listener = std::os::unix::net::UnixListener::bind(&self.socket)
            .unwrap_or_else(|e| panic!("cannot bind {}: {e}", self.socket.display()));
        let fd = listener.as_raw_fd();
        // The shell inherits the listener, moves it to fd 3 and names itself, whose pid
        // the daemon keeps through `exec`, as the process the fds are for.
        nix::fcntl::fcntl(
            &listener,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .unwrap_or_else(|e| panic!("cannot pass the listener on: {e}"));
        let to_fd_3 = match fd {
            3 => String::new(),
            fd => format!("exec 3<&{fd} {fd}<&-; "),
        };
        // bash, since dash cannot name an fd above 9 in a redirection.
        let mut command = Command::new("bash");
        command
            .arg("-c")
            .arg(format!(
                "{to_fd_3}LISTEN_FDS=1 LISTEN_PID=$$ exec \"$0\" \"$@\""
            ))
            .arg(bin_path("jitosd"))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--socket")
            .arg(&self.socket);
        clear_jitos_env(&mut command);
        Daemon::spawn_passing(
            command,
            self.socket.clone(),
            self.next_stderr_path(),
            Some(listener),
        )
    }

    /// Runs `jitosd` with only `args` and `env` to completion (`--print-config`,
    /// `--check-config`), and returns its output.
    pub fn jitosd_bare(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(bin_path("jitosd"));
        command.args(args);
        clear_jitos_env(&mut command);
        command.envs(env.iter().copied());
        run_bounded(&mut command, &[], COMMAND_WAIT)
    }

    /// Runs a `jitosd` that is expected to exit on its own (a refused start), with extra
    /// flags, and returns its output.
    pub fn jitosd_until_exit(&self, extra: &[&str]) -> Output {
        run_bounded(&mut self.jitosd_command(extra), &[], COMMAND_WAIT)
    }

    /// Runs `jitos --socket S --data-dir D ARGS…` to completion.
    pub fn jitos(&self, args: &[&str]) -> Output {
        self.jitos_with_stdin(args, &[])
    }

    /// Runs `jitos ARGS`, asserts it succeeds, and returns its standard output.
    #[track_caller]
    pub fn jitos_ok(&self, args: &[&str]) -> String {
        crate::assert_success(&format!("jitos {}", args.join(" ")), &self.jitos(args))
    }

    /// Runs `jitos --json ARGS`, asserts it succeeds, and parses its output.
    #[track_caller]
    pub fn jitos_json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let text = self.jitos_ok(&full);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("jitos {} printed no JSON ({e}):\n{text}", full.join(" ")))
    }

    /// Runs `jitos` like [`Sandbox::jitos`], feeding `stdin` to it.
    pub fn jitos_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        run_bounded(&mut self.jitos_command(args), stdin, COMMAND_WAIT)
    }

    /// The `jitos` command line for this sandbox, for tests that manage the process
    /// themselves (`log --follow`).
    pub fn jitos_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin_path("jitos"));
        command
            .arg("--socket")
            .arg(&self.socket)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(args);
        clear_jitos_env(&mut command);
        command
    }

    /// The `jitosd` command line for this sandbox, for tests that change its environment.
    pub fn jitosd_command(&self, extra: &[&str]) -> Command {
        self.jitosd_command_of(&bin_path("jitosd"), extra)
    }

    /// Starts the `jitosd` binary at `jitosd` (a copy laid out as a package installs it,
    /// say) on this sandbox, with extra flags, and waits until it answers.
    pub fn start_binary(&self, jitosd: &Path, extra: &[&str]) -> Daemon {
        Daemon::spawn(
            self.jitosd_command_of(jitosd, extra),
            self.socket.clone(),
            self.next_stderr_path(),
        )
    }

    fn jitosd_command_of(&self, jitosd: &Path, extra: &[&str]) -> Command {
        let mut command = Command::new(jitosd);
        command
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--socket")
            .arg(&self.socket)
            .args(extra);
        clear_jitos_env(&mut command);
        command
    }

    fn next_stderr_path(&self) -> PathBuf {
        let n = self.daemons_started.fetch_add(1, Ordering::Relaxed);
        self.dir.path().join(format!("jitosd-{n}.stderr"))
    }
}

/// The binaries read their settings from the environment (`JITOS_*`) and the daemon from
/// a configuration file; a developer's own, or the host's, must not leak into a test: the
/// daemon reads an empty one unless a test names another.
fn clear_jitos_env(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("JITOS_") {
            command.env_remove(name);
        }
    }
    command
        .env("XDG_CONFIG_HOME", "/nonexistent/jitos-system-tests")
        .env("JITOS_CONFIG", "/dev/null");
}
