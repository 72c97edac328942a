//! Job and worker-registry records: one kind per event of an attempt's life, and the
//! registration of a worker binary.

use jitos_warp::{BlobRef, Rewrite};
use jitos_worker::Manifest;
use serde::{Deserialize, Serialize};

use crate::{
    durable::{self, v1, v2, Frozen, PayloadError},
    KernelError,
};

/// An attempt was handed to a worker; its id is the record's seq.
pub const KIND_JOB_DISPATCH: &str = "job.dispatch";
/// Terminal: the worker's proposal was validated and applied to the job's workspace.
pub const KIND_JOB_DONE: &str = "job.done";
/// Terminal: the worker failed, crashed, hung or broke the protocol.
pub const KIND_JOB_FAILED: &str = "job.failed";
/// Terminal, payload version 2: a failure whose cause version 1 has no name for (a spent
/// budget); every other failure is still written as version 1.
pub const KIND_JOB_FAILED_V2: &str = "job.failed@2";
/// Terminal: the worker proposed something the job may not do; nothing was applied.
pub const KIND_JOB_REFUSED: &str = "job.refused";
/// A worker was registered with the daemon: payload version 2, which keeps its manifest as
/// text (`durable/v2.rs`).
pub const KIND_WORKER_INSTALL: &str = "worker.install@2";
/// A worker was registered, payload version 1 (its manifest's fields): read, no longer
/// written.
pub const KIND_WORKER_INSTALL_V1: &str = "worker.install";

/// What a job may change with its proposal, as decided at dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Graph nodes of its workspace, but no file-tree node.
    GraphOnly,
    /// Also the workspace's files, under the dispatch's path prefixes.
    Files,
}

/// Everything an attempt was started with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispatch {
    /// The worker's registered name.
    pub worker: String,
    /// The worker's version, from its manifest.
    pub worker_version: String,
    /// The workspace its proposal goes into.
    pub sws: u64,
    /// Arguments handed to the worker.
    pub args: Vec<String>,
    /// Input bytes handed to the worker.
    pub input: Vec<u8>,
    /// Milliseconds before the daemon kills the worker.
    pub deadline_ms: u64,
    /// What the proposal may change.
    pub effect: Effect,
    /// Tree paths (prefixes) the proposal may touch when `effect` is `Files`; empty
    /// means the whole tree.
    pub paths: Vec<String>,
    /// The process job this attempt runs, when a process's scheduler dispatched it.
    pub owner: Option<Owner>,
}

/// The process job an attempt runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The process.
    pub process: u64,
    /// The job, by index in the process's current plan.
    pub job: usize,
}

/// Why an attempt failed, by cause; the detail says more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureCause {
    /// The worker could not be started.
    Spawn,
    /// The worker reported a failure itself.
    Worker,
    /// The worker broke the protocol: garbage, oversized or out-of-order frames, passed
    /// descriptors, or a frame cut off by its exit.
    Protocol,
    /// The worker exited or was killed by a signal before ending the job.
    Crashed,
    /// The deadline passed; the worker was killed.
    Deadline,
    /// The job was cancelled.
    Cancelled,
    /// The daemon stopped while the attempt ran.
    Interrupted,
    /// A budget of its writ was spent (a model call's tokens or cost); the job may not go
    /// on until a person raises it.
    Budget,
}

impl FailureCause {
    /// A short lowercase name, for tables and JSON.
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

/// What an accepted proposal brought besides its rewrites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Results {
    /// Named blobs, stored before the record.
    pub artifacts: Vec<(String, BlobRef)>,
    /// The worker's status code.
    pub exit_status: i32,
    /// CPU milliseconds the worker reported.
    pub cpu_ms: u64,
    /// Peak resident KiB the worker reported.
    pub max_rss_kib: u64,
}

/// A worker known to the daemon by registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInstall {
    /// Its manifest, as validated at install.
    pub manifest: Manifest,
    /// The absolute path of its binary.
    pub binary: String,
    /// The BLAKE3 digest of the binary at install: a changed binary is refused.
    pub binary_digest: [u8; 32],
}

/// The payload of a job or registry record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobRecord {
    /// `job.dispatch`.
    Dispatch(Dispatch),
    /// `job.done`.
    Done {
        /// The attempt (its dispatch seq).
        attempt: u64,
        /// The proposal's rewrites, as applied in the workspace.
        rewrites: Vec<Rewrite>,
        /// Artifacts, exit status and usage.
        results: Results,
    },
    /// `job.failed`.
    Failed {
        /// The attempt.
        attempt: u64,
        /// The cause.
        cause: FailureCause,
        /// What happened, for a person.
        detail: String,
    },
    /// `job.refused`.
    Refused {
        /// The attempt.
        attempt: u64,
        /// Why the proposal was refused.
        reason: String,
    },
    /// `worker.install`.
    Install(WorkerInstall),
}

impl JobRecord {
    /// The record kind this payload goes with.
    pub fn kind(&self) -> &'static str {
        match self {
            JobRecord::Dispatch(_) => KIND_JOB_DISPATCH,
            JobRecord::Done { .. } => KIND_JOB_DONE,
            JobRecord::Failed {
                cause: FailureCause::Budget,
                ..
            } => KIND_JOB_FAILED_V2,
            JobRecord::Failed { .. } => KIND_JOB_FAILED,
            JobRecord::Refused { .. } => KIND_JOB_REFUSED,
            JobRecord::Install(_) => KIND_WORKER_INSTALL,
        }
    }

    /// Whether `kind` is a job or registry record kind.
    pub fn is_kind(kind: &str) -> bool {
        [
            KIND_JOB_DISPATCH,
            KIND_JOB_DONE,
            KIND_JOB_FAILED,
            KIND_JOB_FAILED_V2,
            KIND_JOB_REFUSED,
            KIND_WORKER_INSTALL,
            KIND_WORKER_INSTALL_V1,
        ]
        .contains(&kind)
    }

    /// The payload bytes: version 2 for an install and a budget failure, version 1 for
    /// the others.
    pub fn encode(&self) -> Result<Vec<u8>, KernelError> {
        let bytes = match self {
            JobRecord::Install(install) => durable::encode(&v2::WorkerInstall::of(install)?),
            JobRecord::Failed {
                attempt,
                cause: cause @ FailureCause::Budget,
                detail,
            } => durable::encode(&v2::JobFailed::of(*attempt, *cause, detail)),
            other => durable::encode(&v1::job::JobRecord::freeze(other)),
        };
        Ok(bytes?)
    }

    /// Decodes the payload of a record of `kind`, checking the two agree.
    pub fn decode(kind: &str, bytes: &[u8]) -> Result<JobRecord, KernelError> {
        let record = match kind {
            KIND_WORKER_INSTALL => durable::decode::<v2::WorkerInstall>(bytes)
                .and_then(v2::WorkerInstall::thaw)
                .map(JobRecord::Install),
            KIND_JOB_FAILED_V2 => {
                durable::decode::<v2::JobFailed>(bytes).and_then(v2::JobFailed::thaw)
            }
            KIND_WORKER_INSTALL_V1 => match durable::decode::<v1::job::JobRecord>(bytes)? {
                v1::job::JobRecord::Install(install) => install.thaw().map(JobRecord::Install),
                other => Err(PayloadError::KindMismatch {
                    kind: kind.to_owned(),
                    found: other.thaw()?.kind(),
                }),
            },
            _ => durable::decode_of_kind::<v1::job::JobRecord>(kind, bytes, JobRecord::kind),
        };
        Ok(record?)
    }

    /// The rewrites this record carries (for blob collection and display).
    pub fn rewrites(&self) -> &[Rewrite] {
        match self {
            JobRecord::Done { rewrites, .. } => rewrites,
            _ => &[],
        }
    }

    /// The blobs this record names besides those its rewrites reference.
    pub fn artifact_blobs(&self) -> impl Iterator<Item = BlobRef> + '_ {
        let artifacts: &[(String, BlobRef)] = match self {
            JobRecord::Done { results, .. } => &results.artifacts,
            _ => &[],
        };
        artifacts.iter().map(|(_, blob)| *blob)
    }
}
