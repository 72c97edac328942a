//! The wire types of jobs and workers: what a client asks a worker to do, and how an
//! attempt and a worker are shown.

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
        /// The cause: spawn, worker, protocol, crashed, deadline, cancelled, interrupted.
        cause: String,
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
    /// `none` (graph only) or `workspace` (files too).
    pub effect: String,
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
    /// `builtin` or `installed`.
    pub origin: String,
    /// The binary's absolute path.
    pub binary: String,
    /// `pure` or `shell`.
    pub profile: String,
    /// `none` or `workspace`.
    pub effect_class: String,
    /// Absolute paths it needs beyond its scratch directory, with `read` or `write`.
    pub needs: Vec<(String, String)>,
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
