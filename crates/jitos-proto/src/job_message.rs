//! The wire types of jobs and workers: what a client asks a worker to do, and how an
//! attempt and a worker are shown.

use std::fmt;

use jitos_gov::Effect;
use serde::{Deserialize, Serialize};

/// A job to dispatch: which worker, into which workspace, with what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The worker's name (built in or installed).
    pub worker: String,
    /// The workspace the proposal goes into; it must be open.
    pub sws: u64,
    /// Arguments for the worker (for `shell`, the command's argv).
    pub args: Vec<String>,
    /// Input bytes for the worker.
    pub input: Vec<u8>,
    /// Milliseconds before the worker is killed; `None` for the daemon's default.
    pub deadline_ms: Option<u64>,
    /// Tree paths the proposal may touch; empty for the whole tree.
    pub paths: Vec<String>,
    /// Answer when the attempt has ended instead of as soon as it is dispatched.
    pub wait: bool,
    /// The writ to run it under (one granted to the asking user): the job must lie within
    /// its scope, and the policy's ruling sees its user and budgets; `None` for the
    /// user's roles alone.
    pub writ: Option<u64>,
}

/// How an attempt stands or ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptState {
    /// Dispatched, not ended.
    Running,
    /// Its proposal was applied to the workspace.
    Done {
        /// The terminal record.
        seq: u64,
        /// The worker's status code.
        exit_status: i32,
        /// Artifacts: name and blob reference (hex).
        artifacts: Vec<(String, String)>,
        /// CPU milliseconds the worker reported.
        cpu_ms: u64,
        /// Peak resident KiB the worker reported.
        max_rss_kib: u64,
    },
    /// It failed.
    Failed {
        /// The terminal record.
        seq: u64,
        /// Why it failed.
        cause: FailureCause,
        /// What happened.
        detail: String,
    },
    /// Its proposal was refused.
    Refused {
        /// The terminal record.
        seq: u64,
        /// Why.
        reason: String,
    },
}

/// Why an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCause {
    /// The worker could not be started.
    Spawn,
    /// The worker reported a failure itself.
    Worker,
    /// The worker broke the protocol.
    Protocol,
    /// The worker exited or was killed by a signal before ending the job.
    Crashed,
    /// The deadline passed; the worker was killed.
    Deadline,
    /// The job was cancelled.
    Cancelled,
    /// The daemon stopped while the attempt ran.
    Interrupted,
    /// A budget of its writ was spent.
    Budget,
}

impl FailureCause {
    /// Its name, as the log and `--json` show it.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCause::Spawn => "spawn",
            FailureCause::Worker => "worker",
            FailureCause::Protocol => "protocol",
            FailureCause::Crashed => "crashed",
            FailureCause::Deadline => "deadline",
            FailureCause::Cancelled => "cancelled",
            FailureCause::Interrupted => "interrupted",
            FailureCause::Budget => "budget",
        }
    }
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Where a worker comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerOrigin {
    /// Shipped with the daemon.
    Builtin,
    /// Installed by an operator (`jitos worker install`).
    Installed,
}

impl fmt::Display for WorkerOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            WorkerOrigin::Builtin => "builtin",
            WorkerOrigin::Installed => "installed",
        })
    }
}

/// The sandbox a worker runs in, as its `worker.toml` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerProfile {
    /// Computes only: no new processes, no exec.
    Pure,
    /// May fork and exec read-only system binaries.
    Shell,
}

impl fmt::Display for WorkerProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            WorkerProfile::Pure => "pure",
            WorkerProfile::Shell => "shell",
        })
    }
}

/// The access a worker needs to a path beyond its scratch directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathAccess {
    /// Read only.
    Read,
    /// Read and write.
    Write,
}

impl fmt::Display for PathAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            PathAccess::Read => "read",
            PathAccess::Write => "write",
        })
    }
}

/// How an attempt stands, in words: `running`, `done at seq 7: proposal applied, exit
/// status 0 (…)`, `failed at seq 5 (spawn): …`, `refused at seq 9: …`.
impl std::fmt::Display for AttemptState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttemptState::Running => f.write_str("running"),
            AttemptState::Done {
                seq,
                exit_status,
                cpu_ms,
                max_rss_kib,
                ..
            } => write!(
                f,
                "done at seq {seq}: proposal applied, exit status {exit_status} ({cpu_ms} ms CPU, {max_rss_kib} KiB peak)"
            ),
            AttemptState::Failed { seq, cause, detail } => {
                write!(f, "failed at seq {seq} ({cause}): {detail}")
            }
            AttemptState::Refused { seq, reason } => write!(f, "refused at seq {seq}: {reason}"),
        }
    }
}

/// One attempt, for `jitos job show/list` and the answer to a waited run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    /// Its id: the seq of its dispatch record.
    pub id: u64,
    /// The worker.
    pub worker: String,
    /// The worker's version.
    pub worker_version: String,
    /// The workspace.
    pub sws: u64,
    /// The worker's arguments.
    pub args: Vec<String>,
    /// Deadline in milliseconds.
    pub deadline_ms: u64,
    /// What its proposal may change: [`Effect::None`] (the workspace's graph only) or
    /// [`Effect::Workspace`] (its files too).
    pub effect: Effect,
    /// Tree paths the proposal may touch; empty for all.
    pub paths: Vec<String>,
    /// Where it stands.
    pub state: AttemptState,
}

/// A worker the daemon can run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerView {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Where it comes from.
    pub origin: WorkerOrigin,
    /// The binary's absolute path.
    pub binary: String,
    /// The sandbox it runs in.
    pub profile: WorkerProfile,
    /// How far its work may reach.
    pub effect_class: Effect,
    /// Absolute paths it needs beyond its scratch directory, with the access it needs.
    pub needs: Vec<(String, PathAccess)>,
    /// The resource limits it runs with.
    pub limits: WorkerLimitsView,
    /// The record that installed it, for installed workers.
    pub installed_seq: Option<u64>,
    /// Why the operator's policy refuses to run it now, if it does.
    pub policy_refusal: Option<String>,
}

/// The resource limits a worker runs with, in `worker.toml`'s units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerLimitsView {
    /// CPU seconds.
    pub cpu_seconds: u64,
    /// Address space, MiB.
    pub address_space_mib: u64,
    /// Open file descriptors.
    pub open_files: u64,
    /// Processes.
    pub processes: u64,
    /// Largest file written, MiB.
    pub file_size_mib: u64,
}

/// The daemon's worker confinement, for `jitos status` and `jitos doctor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxView {
    /// Landlock ABI version, 0 when absent.
    pub landlock_abi: i64,
    /// Whether seccomp filters work.
    pub seccomp: bool,
    /// Whether each worker gets a private view of the file system, read-only outside its
    /// writable paths.
    pub mount_namespace: bool,
    /// Whether workers run confined. False only in degraded mode.
    pub enforced: bool,
    /// Whether the operator allowed unconfined workers when confinement is missing.
    pub degraded_allowed: bool,
    /// Whether workers run under their own unprivileged uids (the daemon is root).
    pub separate_uids: bool,
    /// What holds each worker's process and memory limits.
    pub limits: LimitsHeld,
}

/// What holds a worker's process and memory limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LimitsHeld {
    /// A control group per worker (`pids.max` and the memory limit), of this cgroup
    /// version.
    Cgroup {
        /// 1 or 2.
        version: u8,
    },
    /// rlimits only (`RLIMIT_NPROC`, `RLIMIT_AS`), since the daemon cannot make groups.
    Rlimits {
        /// Why no group can be made.
        why: String,
    },
}
