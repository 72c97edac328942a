//! Starting one worker process: confined exactly as `jitos sandbox exec` shows, under its
//! own uid when the daemon is root, with its channel on fd 3 and nothing else inherited.

use std::{
    fs::File,
    os::unix::{fs::OpenOptionsExt, net::UnixStream},
    path::{Path, PathBuf},
};

use jitos_sandbox::{CgroupLease, Confinement, Process, Profile, Spawn, Stdio, CHANNEL_FD};
use jitos_worker::{Access, SandboxProfile};

use super::catalog::ResolvedWorker;
use crate::egress::AttemptEgress;

/// How a worker is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// Landlock, seccomp and rlimits, as always where the kernel supports them.
    Confined,
    /// Degraded mode: the operator allowed workers without their read-only view, Landlock
    /// and seccomp on a kernel that lacks them. Still a clean environment, rlimits, its
    /// own session and uid, no capabilities, a parent-death signal, and fd 3 only.
    Unconfined,
}

/// A started worker: the process, the daemon's end of its channel, and its stderr.
pub struct Launched {
    /// The worker process (its own session and process group).
    pub child: Process,
    /// The daemon's end of the channel.
    pub channel: UnixStream,
    /// What the worker writes to stderr: a file with no name, so nothing the worker does
    /// to it (its mode, say) reaches a file anyone else can open.
    pub stderr: File,
}

/// Why a worker could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The confinement could not be prepared.
    #[error(transparent)]
    Sandbox(#[from] jitos_sandbox::SandboxError),
    /// A system call failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> LaunchError {
    move |source| LaunchError::Io { context, source }
}

/// The confinement a worker gets: its profile, its scratch read-write, its declared needs.
pub fn confinement_of(worker: &ResolvedWorker, scratch_dir: PathBuf) -> Confinement {
    let profile = match worker.manifest.sandbox_profile {
        SandboxProfile::Pure => Profile::Pure,
        SandboxProfile::Shell => Profile::Shell,
    };
    let mut confinement = Confinement::new(profile);
    confinement.limits = worker.limits;
    confinement.read_write.push(scratch_dir);
    for need in &worker.manifest.needs {
        match need.access {
            Access::Read => confinement.read_only.push(need.path.clone()),
            Access::Write => confinement.read_write.push(need.path.clone()),
        }
    }
    confinement
}

/// Where and as whom one worker starts.
pub struct Start<'a> {
    /// The binary to execute: the worker's copy in the store.
    pub program: &'a Path,
    /// Its directory, the one it may write: an attempt's scratch, or a warm instance's
    /// home.
    pub dir: &'a Path,
    /// Where its stderr file is made: outside `dir`, so the worker cannot rewrite it
    /// after the fact.
    pub stderr_dir: &'a Path,
    /// Its uid, when not the daemon's own.
    pub uid: Option<u32>,
    /// Its control group, when the daemon makes them.
    pub cgroup: Option<&'a CgroupLease>,
    /// Environment variables it gets besides `PATH` (the secrets its writ names).
    pub env: &'a [(String, String)],
}

/// Starts `worker` as `start` says.
pub fn launch(
    worker: &ResolvedWorker,
    start: Start<'_>,
    enforcement: Enforcement,
) -> Result<Launched, LaunchError> {
    launch_networked(worker, start, enforcement, None)
}

/// Starts `worker` as `start` says, and, given `egress`, in the attempt's network
/// namespace with its proxy in its environment: the way a `network` job without `fetch`
/// reaches the hosts its writ names (`docs/SANDBOX.md`, *Network jobs*). Without it the
/// worker has no network at all.
pub fn launch_networked(
    worker: &ResolvedWorker,
    start: Start<'_>,
    enforcement: Enforcement,
    egress: Option<&AttemptEgress>,
) -> Result<Launched, LaunchError> {
    let stderr =
        unnamed_file(start.stderr_dir).map_err(io("cannot create the worker's stderr file"))?;
    let worker_stderr = stderr
        .try_clone()
        .map_err(io("cannot create the worker's stderr file"))?;
    let (daemon_end, worker_end) =
        UnixStream::pair().map_err(io("cannot create the worker's channel"))?;
    let mut spawn = Spawn::new(start.program)
        .cwd(start.dir)
        .stdio(Stdio::Null, Stdio::Null, Stdio::Fd(worker_stderr.into()))
        .hand(worker_end.into(), CHANNEL_FD);
    if let Some(uid) = start.uid {
        spawn = spawn.uid(uid);
    }
    for (name, value) in start.env {
        spawn = spawn.env(name, value);
    }
    if let Some(egress) = egress {
        for (name, value) in egress.env() {
            spawn = spawn.env(name, value);
        }
        let namespace = egress
            .namespace()
            .map_err(io("cannot hand the worker its network namespace"))?;
        spawn = spawn.net_namespace(namespace);
    }
    if let Some(lease) = start.cgroup {
        spawn = spawn
            .cgroup(lease)
            .map_err(io("cannot hand the worker its control group"))?;
    }
    let confinement = confinement_of(worker, start.dir.to_owned());
    let started = std::time::Instant::now();
    // The worker's end of the channel is dropped with `spawn`: it lives only in the worker.
    let child = match enforcement {
        Enforcement::Confined => confinement.spawn(spawn)?,
        Enforcement::Unconfined => confinement.spawn_degraded(spawn)?,
    };
    metrics::histogram!(crate::metrics::SPAWN_SECONDS).record(started.elapsed().as_secs_f64());
    Ok(Launched {
        child,
        channel: daemon_end,
        stderr,
    })
}

/// A file in `dir` that has no name (`O_TMPFILE`), readable and writable by this
/// process only.
fn unnamed_file(dir: &Path) -> std::io::Result<File> {
    File::options()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_TMPFILE.bits())
        .open(dir)
}
