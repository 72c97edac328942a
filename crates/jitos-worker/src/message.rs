//! The messages of the worker protocol and their limit checks.

use jitos_warp::Rewrite;
use serde::{Deserialize, Serialize};

use crate::{limits::*, FetchReply, FetchRequest, ProtocolError};

/// The eight bytes every hello starts with.
pub const MAGIC: [u8; 8] = *b"JITOSWK\0";
/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// The worker's first message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerHello {
    /// Always [`MAGIC`].
    pub magic: [u8; 8],
    /// Always [`PROTOCOL_VERSION`] for this crate.
    pub protocol_version: u32,
    /// The worker's name, as in its manifest.
    pub name: String,
    /// The worker's version, as in its manifest.
    pub version: String,
}

/// One unit of work for the worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The job.
    pub job_id: u64,
    /// The attempt number, from 1; a retry of the same job has a higher attempt.
    pub attempt: u32,
    /// Milliseconds the worker has before the daemon kills it; it should fail before then.
    pub deadline_ms: u64,
    /// The input, as bytes whose meaning the worker's input schema defines. Bytes rather
    /// than JSON text because the daemon never interprets it, binary inputs need no
    /// escaping, and a JSON worker can still parse it with `serde_json::from_slice`.
    pub input: Vec<u8>,
    /// Absolute path of the job's workspace directory, when the writ grants one; the
    /// worker's confinement allows access to it and nothing else outside scratch.
    pub workspace_dir: Option<String>,
    /// Arguments from the job's definition.
    pub args: Vec<String>,
}

/// How far a job has come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The job.
    pub job_id: u64,
    /// Progress in thousandths, at most [`PROGRESS_PERMILLE_MAX`].
    pub fraction_permille: u16,
    /// A short human note.
    pub message: String,
}

/// One line of the worker's log for a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The job.
    pub job_id: u64,
    /// The line, without its newline.
    pub line: String,
}

/// A named blob the worker produced; the kernel stores it and may reference it from the
/// graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Its name, unique within the proposal.
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// What a job cost, as the worker measured it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// CPU time (user + system) spent on the job, in milliseconds.
    pub cpu_ms: u64,
    /// The worker process's peak resident set so far, in KiB.
    pub max_rss_kib: u64,
}

/// A successful job's result: rewrites the kernel may validate and apply, never applied
/// by the worker itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The job.
    pub job_id: u64,
    /// The proposed rewrites, in order.
    pub rewrites: Vec<Rewrite>,
    /// Blobs produced.
    pub artifacts: Vec<Artifact>,
    /// The worker's own status code (0 for success), recorded as data.
    pub exit_status: i32,
    /// What the job cost.
    pub usage: Usage,
}

/// A job the worker could not do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The job.
    pub job_id: u64,
    /// Why, for a person.
    pub reason: String,
}

/// Worker → daemon. The variant order is the wire tag: append only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkerMessage {
    /// Tag 0: the handshake.
    Hello(WorkerHello),
    /// Tag 1: progress on the job in flight.
    Progress(Progress),
    /// Tag 2: a log line for the job in flight.
    Log(LogLine),
    /// Tag 3: the worker is alive.
    Heartbeat,
    /// Tag 4: terminal, the job's proposed result.
    Proposal(Proposal),
    /// Tag 5: terminal, the job failed.
    Failure(Failure),
    /// Tag 6: make an HTTP request for the job in flight; the daemon answers with
    /// [`DaemonMessage::Fetched`] before the worker may send anything but a heartbeat.
    Fetch(FetchRequest),
}

/// Daemon → worker. The variant order is the wire tag: append only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DaemonMessage {
    /// Tag 0: the hello is accepted; jobs may follow.
    Accept,
    /// Tag 1: the hello is refused; the daemon closes the socket.
    Refuse {
        /// Why.
        reason: String,
    },
    /// Tag 2: a job to run.
    Job(Job),
    /// Tag 3: stop the job soon; it still ends with exactly one proposal or failure.
    Cancel {
        /// The job.
        job_id: u64,
    },
    /// Tag 4: the answer to the job's `Fetch`, sent once it is recorded.
    Fetched(FetchReply),
}

fn check(what: &'static str, actual: usize, max: usize) -> Result<(), ProtocolError> {
    if actual > max {
        return Err(ProtocolError::Limit { what, actual, max });
    }
    Ok(())
}

impl WorkerMessage {
    /// Checks every field against its limit.
    pub fn check_limits(&self) -> Result<(), ProtocolError> {
        match self {
            WorkerMessage::Hello(h) => {
                check("worker name bytes", h.name.len(), WORKER_NAME_BYTES_MAX)?;
                check(
                    "worker version bytes",
                    h.version.len(),
                    WORKER_NAME_BYTES_MAX,
                )
            }
            WorkerMessage::Progress(p) => {
                check(
                    "progress fraction_permille",
                    p.fraction_permille.into(),
                    PROGRESS_PERMILLE_MAX.into(),
                )?;
                check(
                    "progress message bytes",
                    p.message.len(),
                    PROGRESS_MESSAGE_BYTES_MAX,
                )
            }
            WorkerMessage::Log(l) => check("log line bytes", l.line.len(), LOG_LINE_BYTES_MAX),
            WorkerMessage::Heartbeat => Ok(()),
            WorkerMessage::Proposal(p) => {
                check(
                    "rewrites per proposal",
                    p.rewrites.len(),
                    REWRITES_PER_PROPOSAL_MAX,
                )?;
                check(
                    "artifacts per proposal",
                    p.artifacts.len(),
                    ARTIFACTS_PER_PROPOSAL_MAX,
                )?;
                let mut total = 0usize;
                for a in &p.artifacts {
                    check("artifact name bytes", a.name.len(), ARTIFACT_NAME_BYTES_MAX)?;
                    total = total.saturating_add(a.bytes.len());
                }
                check("artifact bytes total", total, ARTIFACT_BYTES_TOTAL_MAX)
            }
            WorkerMessage::Failure(f) => {
                check("failure reason bytes", f.reason.len(), REASON_BYTES_MAX)
            }
            WorkerMessage::Fetch(request) => request.check_limits(),
        }
    }

    /// The message's name, for errors.
    pub fn kind(&self) -> &'static str {
        match self {
            WorkerMessage::Hello(_) => "Hello",
            WorkerMessage::Progress(_) => "Progress",
            WorkerMessage::Log(_) => "Log",
            WorkerMessage::Heartbeat => "Heartbeat",
            WorkerMessage::Proposal(_) => "Proposal",
            WorkerMessage::Failure(_) => "Failure",
            WorkerMessage::Fetch(_) => "Fetch",
        }
    }
}

impl DaemonMessage {
    /// Checks every field against its limit.
    pub fn check_limits(&self) -> Result<(), ProtocolError> {
        match self {
            DaemonMessage::Accept | DaemonMessage::Cancel { .. } => Ok(()),
            DaemonMessage::Refuse { reason } => {
                check("refusal reason bytes", reason.len(), REASON_BYTES_MAX)
            }
            DaemonMessage::Job(j) => {
                check("job input bytes", j.input.len(), JOB_INPUT_BYTES_MAX)?;
                check("job args", j.args.len(), JOB_ARGS_MAX)?;
                for arg in &j.args {
                    check("job argument bytes", arg.len(), JOB_ARG_BYTES_MAX)?;
                }
                if let Some(dir) = &j.workspace_dir {
                    check("workspace path bytes", dir.len(), JOB_ARG_BYTES_MAX)?;
                }
                Ok(())
            }
            DaemonMessage::Fetched(reply) => reply.check_limits(),
        }
    }

    /// The message's name, for errors.
    pub fn kind(&self) -> &'static str {
        match self {
            DaemonMessage::Accept => "Accept",
            DaemonMessage::Refuse { .. } => "Refuse",
            DaemonMessage::Job(_) => "Job",
            DaemonMessage::Cancel { .. } => "Cancel",
            DaemonMessage::Fetched(_) => "Fetched",
        }
    }
}
