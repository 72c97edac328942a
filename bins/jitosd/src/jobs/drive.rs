//! Driving a started worker: the handshake, then a job and its messages until the one
//! terminal message, under the job's deadline and cancellation. A worker started for one
//! job (`drive`) has its process group killed and reaped whatever happened, so it never
//! outlives its attempt; a warm instance (`super::warm`) runs the same conversation once
//! per job and is killed when it is retired.

use std::{
    os::{fd::AsFd, unix::net::UnixStream},
    process::ExitStatus,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use jitos_kernel::FailureCause;
use jitos_proto::FrameError;
use jitos_sandbox::Process;
use jitos_worker::{
    Artifact, DaemonEnd, FetchReply, Job, Proposal, ProtocolError, WorkerChannel, WorkerMessage,
};
use nix::{
    poll::{poll, PollFd, PollFlags, PollTimeout},
    sys::{
        signal::{killpg, Signal},
        wait::{waitid, Id, WaitPidFlag, WaitStatus},
    },
    unistd::Pid,
};

use super::launch::Launched;
use crate::{
    fetch::{Asker, Fetcher, FETCHES_PER_ATTEMPT_MAX},
    secrets::{Redactor, SECRET_BYTES_MAX},
};

/// Who serves the worker's fetches during a job.
pub(super) struct Fetching<'a> {
    /// The daemon's fetcher.
    pub(super) fetcher: &'a Fetcher,
    /// The worker's name.
    pub(super) worker: &'a str,
    /// Whether its manifest asks for `fetch`.
    pub(super) manifest_fetch: bool,
}

/// How often a waiting attempt looks at its cancel flag.
const CANCEL_CHECK_EVERY: Duration = Duration::from_millis(50);
/// How long a cancelled worker has to end its job before it is killed.
pub(crate) const CANCEL_GRACE: Duration = Duration::from_secs(2);
/// How long a worker that hung up gets to exit before it is killed anyway.
const EXIT_SETTLE: Duration = Duration::from_millis(500);
/// How often its exit is looked for meanwhile.
const EXIT_POLL_EVERY: Duration = Duration::from_millis(5);
/// The end of the worker's stderr kept in a failure's detail.
const STDERR_TAIL_BYTES: usize = 2048;
/// The end of the worker's log and progress lines kept for the attempt's record.
const LOG_KEPT_BYTES_MAX: usize = 64 * 1024;
/// The end of that log quoted in a failure's detail.
const LOG_TAIL_BYTES: usize = 512;

/// The artifact the daemon adds to a proposal: the worker's log.
const LOG_ARTIFACT: &str = "worker-log";

/// The worker's `Log` and `Progress` lines during the job, newest kept when they exceed
/// `LOG_KEPT_BYTES_MAX`; recorded with the attempt so its history says what it reported.
#[derive(Debug, Default)]
pub(super) struct WorkerLog {
    lines: std::collections::VecDeque<String>,
    bytes: usize,
    dropped: usize,
}

impl WorkerLog {
    fn push(&mut self, line: String) {
        self.bytes += line.len() + 1;
        self.lines.push_back(line);
        while self.bytes > LOG_KEPT_BYTES_MAX {
            let Some(old) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= old.len() + 1;
            self.dropped += 1;
        }
    }

    /// The kept lines, one per line, after a note of how many earlier ones were dropped.
    fn into_bytes(self) -> Vec<u8> {
        let mut text = String::with_capacity(self.bytes + 64);
        if self.dropped > 0 {
            text.push_str(&format!("[{} earlier lines dropped]\n", self.dropped));
        }
        for line in self.lines {
            text.push_str(&line);
            text.push('\n');
        }
        text.into_bytes()
    }

    /// The last lines, at most `LOG_TAIL_BYTES` of them, on one line.
    fn tail(&self) -> String {
        let mut tail = Vec::new();
        let mut bytes = 0;
        for line in self.lines.iter().rev() {
            bytes += line.len() + 3;
            if bytes > LOG_TAIL_BYTES && !tail.is_empty() {
                break;
            }
            tail.push(line.as_str());
        }
        tail.reverse();
        tail.join(" | ")
    }
}

/// How an attempt's worker conversation ended.
#[derive(Debug)]
pub enum AttemptEnd {
    /// The worker proposed; the kernel still has to validate it.
    Proposal(Proposal),
    /// No proposal: why.
    Failed {
        /// The cause.
        cause: FailureCause,
        /// What happened, for a person.
        detail: String,
    },
}

fn failed(cause: FailureCause, detail: impl Into<String>) -> AttemptEnd {
    AttemptEnd::Failed {
        cause,
        detail: detail.into(),
    }
}

/// Runs `job` on the launched worker until it ends or `deadline` passes, then kills and
/// reaps the worker's process group. Its stderr is read for failure details.
/// `redactor` replaces secrets in its stderr's tail before the tail is cut.
pub(super) fn drive(
    launched: Launched,
    job: Job,
    deadline: Instant,
    cancel: &AtomicBool,
    redactor: &Redactor,
    fetching: &Fetching<'_>,
) -> AttemptEnd {
    let Launched {
        mut child,
        channel,
        stderr,
    } = launched;
    let mut log = WorkerLog::default();
    let end = handshake(channel, deadline, cancel)
        .and_then(|mut talk| run_job(&mut talk, job, deadline, cancel, &mut log, fetching));
    let crashed = matches!(end, Err((FailureCause::Crashed, _)));
    let status = kill_and_reap(&mut child, crashed);
    attempt_end(end, log, status, &stderr, 0, redactor)
}

/// The attempt's end from its conversation's: a proposal with the worker's log added as
/// an artifact, or the failure with its exit status (when it crashed), the end of its log
/// and the end of what it wrote to stderr since `stderr_from`.
pub(super) fn attempt_end(
    end: Result<Proposal, Ended>,
    log: WorkerLog,
    status: Option<ExitStatus>,
    stderr: &std::fs::File,
    stderr_from: u64,
    redactor: &Redactor,
) -> AttemptEnd {
    match end {
        Ok(mut proposal) => {
            if !log.lines.is_empty() {
                proposal.artifacts.push(Artifact {
                    name: LOG_ARTIFACT.to_owned(),
                    bytes: log.into_bytes(),
                });
            }
            AttemptEnd::Proposal(proposal)
        }
        Err((cause, detail)) => {
            let exit = match status {
                Some(status) if cause == FailureCause::Crashed => format!(" ({status})"),
                _ => String::new(),
            };
            let quoted = |what: &str, tail: String| {
                if tail.is_empty() {
                    String::new()
                } else {
                    format!("; its {what} ends with: {tail}")
                }
            };
            // A worker killed for its spent budget only says the pipe broke.
            let (stderr, logged) = match cause {
                FailureCause::Budget => (String::new(), String::new()),
                _ => (
                    quoted("stderr", stderr_tail(stderr, stderr_from, redactor)),
                    quoted("log", log.tail()),
                ),
            };
            failed(cause, format!("{detail}{exit}{logged}{stderr}"))
        }
    }
}

/// Why a conversation ended without a proposal: the cause and what happened.
pub(super) type Ended = (FailureCause, String);

/// A worker past its handshake: the protocol's end of its channel, and a second handle
/// on the same socket to wait on and to set its timeout through (both belong to the
/// socket, not the handle) while the protocol end owns the first.
pub(super) struct Talk {
    end: DaemonEnd<WorkerChannel>,
    watch: UnixStream,
}

impl Talk {
    /// The socket, to look at while no job is in flight.
    pub(super) fn watch(&self) -> &UnixStream {
        &self.watch
    }
}

/// Waits for the worker's hello until `deadline` (or cancellation) and accepts it.
pub(super) fn handshake(
    channel: UnixStream,
    deadline: Instant,
    cancel: &AtomicBool,
) -> Result<Talk, Ended> {
    let watch = channel.try_clone().map_err(|e| {
        (
            FailureCause::Spawn,
            format!("cannot watch the worker's channel: {e}"),
        )
    })?;
    wait_readable(&watch, deadline, None, cancel)?;
    set_timeout(&watch, deadline);
    let end = DaemonEnd::accept(WorkerChannel::new(channel))
        .map_err(|e| classify(&e, "during the handshake"))?;
    Ok(Talk { end, watch })
}

/// Sends `job` and reads the worker's messages until its one terminal message, the
/// deadline, or the end of the cancellation's grace. A fetch is served (checked, made and
/// recorded) before the next message is read.
pub(super) fn run_job(
    talk: &mut Talk,
    job: Job,
    deadline: Instant,
    cancel: &AtomicBool,
    log: &mut WorkerLog,
    fetching: &Fetching<'_>,
) -> Result<Proposal, Ended> {
    let Talk { end, watch } = talk;
    let job_id = job.job_id;
    end.send_job(job)
        .map_err(|e| classify(&e, "while sending the job"))?;
    let mut cancel_sent: Option<Instant> = None;
    let mut fetches = 0usize;
    loop {
        match wait_readable(watch, deadline, cancel_sent, cancel) {
            Ok(()) => {}
            Err((FailureCause::Cancelled, _)) if cancel_sent.is_none() => {
                end.send_cancel(job_id)
                    .map_err(|e| classify(&e, "while sending the cancellation"))?;
                cancel_sent = Some(Instant::now());
                continue;
            }
            Err(ended) => return Err(ended),
        }
        set_timeout(watch, deadline);
        match end.next_message() {
            Ok(WorkerMessage::Proposal(proposal)) => return Ok(proposal),
            Ok(WorkerMessage::Failure(failure)) => {
                let cause = if cancel_sent.is_some() {
                    FailureCause::Cancelled
                } else {
                    FailureCause::Worker
                };
                return Err((cause, failure.reason));
            }
            Ok(WorkerMessage::Log(line)) => log.push(line.line),
            Ok(WorkerMessage::Progress(progress)) => log.push(format!(
                "[progress {}.{}%] {}",
                progress.fraction_permille / 10,
                progress.fraction_permille % 10,
                progress.message
            )),
            Ok(WorkerMessage::Fetch(request)) => {
                fetches += 1;
                if fetches > FETCHES_PER_ATTEMPT_MAX {
                    return Err((
                        FailureCause::Protocol,
                        format!(
                            "the worker asked for more than {FETCHES_PER_ATTEMPT_MAX} fetches in one job"
                        ),
                    ));
                }
                let asker = Asker {
                    attempt: job_id,
                    worker: fetching.worker,
                    manifest_fetch: fetching.manifest_fetch,
                    deadline,
                    cancel,
                };
                let outcome = fetching.fetcher.serve(&asker, request)?;
                end.send_fetched(FetchReply { job_id, outcome })
                    .map_err(|e| classify(&e, "while answering a fetch"))?;
            }
            Ok(_) => {}
            Err(e) => return Err(classify(&e, "while the job ran")),
        }
    }
}

/// Waits until the channel has bytes (or hung up), the deadline passes, or cancellation
/// is asked for (reported once, as `Cancelled`) and its grace runs out.
fn wait_readable(
    channel: &UnixStream,
    deadline: Instant,
    cancel_sent: Option<Instant>,
    cancel: &AtomicBool,
) -> Result<(), Ended> {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err((
                FailureCause::Deadline,
                "the deadline passed; the worker was killed".to_owned(),
            ));
        }
        match cancel_sent {
            Some(sent) if now >= sent + CANCEL_GRACE => return Err((
                FailureCause::Cancelled,
                "cancelled; the worker did not end the job within the grace period and was killed"
                    .to_owned(),
            )),
            None if cancel.load(Ordering::Relaxed) => {
                return Err((FailureCause::Cancelled, "cancelled".to_owned()))
            }
            _ => {}
        }
        let slice = (deadline - now).min(CANCEL_CHECK_EVERY);
        let timeout = PollTimeout::try_from(slice).unwrap_or(PollTimeout::ZERO);
        let mut fds = [PollFd::new(channel.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => return Ok(()),
            Err(e) => {
                return Err((
                    FailureCause::Protocol,
                    format!("cannot wait on the worker's channel: {e}"),
                ))
            }
        }
    }
}

/// A frame that has started must finish before the deadline.
fn set_timeout(channel: &UnixStream, deadline: Instant) {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    if let Err(e) = channel.set_read_timeout(Some(left)) {
        tracing::warn!(error = %e, "cannot set the worker channel's read timeout");
    }
}

fn classify(error: &ProtocolError, when: &str) -> Ended {
    let cause = match error {
        ProtocolError::Frame(FrameError::Closed) => FailureCause::Crashed,
        ProtocolError::Frame(FrameError::Io(io))
            if matches!(
                io.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            FailureCause::Deadline
        }
        _ => FailureCause::Protocol,
    };
    let detail = match (cause, error) {
        (FailureCause::Crashed, _) => format!("the worker exited {when}"),
        (FailureCause::Deadline, _) => {
            format!("the deadline passed in the middle of a frame {when}; the worker was killed")
        }
        (_, ProtocolError::Frame(FrameError::Truncated)) => {
            format!("the worker's channel ended in the middle of a frame {when}")
        }
        _ => format!("the worker broke the protocol {when}: {error}"),
    };
    (cause, detail)
}

/// Kills the worker's whole process group (it is its session leader) and reaps the
/// worker. Returns its exit status if it exited on its own; with `settle`, a worker that
/// hung up gets a moment to finish exiting so its status can be told.
///
/// The worker is looked at with `WNOWAIT` and reaped only after the kill: until then its
/// pid, and so its process group id, cannot be reused by an unrelated process.
pub(super) fn kill_and_reap(child: &mut Process, settle: bool) -> Option<ExitStatus> {
    let settle_until = Instant::now() + if settle { EXIT_SETTLE } else { Duration::ZERO };
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    let exited_before = loop {
        match waitid(Id::Pid(pid), flags) {
            Ok(WaitStatus::StillAlive) if Instant::now() < settle_until => {
                std::thread::sleep(EXIT_POLL_EVERY)
            }
            Ok(WaitStatus::StillAlive) | Err(_) => break false,
            Ok(_) => break true,
        }
    };
    // The group may already be empty; that is the outcome wanted.
    let _ = killpg(pid, Signal::SIGKILL);
    match child.wait() {
        Ok(status) if exited_before => Some(status),
        Ok(_) => None,
        Err(e) => {
            tracing::error!(pid = child.id(), error = %e, "cannot reap a worker");
            None
        }
    }
}

/// The last [`STDERR_TAIL_BYTES`] of what the worker wrote to stderr from offset `from`
/// on (a warm instance's earlier jobs wrote before it), read from where they are,
/// however much it wrote.
///
/// Secrets are replaced in a longer stretch first, the longest a secret may be more, so
/// that the cut never leaves part of one.
fn stderr_tail(stderr: &std::fs::File, from: u64, redactor: &Redactor) -> String {
    use std::os::unix::fs::FileExt;
    let len = stderr.metadata().map(|m| m.len()).unwrap_or(0);
    let read_back = (STDERR_TAIL_BYTES + SECRET_BYTES_MAX) as u64;
    let start = len.saturating_sub(read_back).max(from);
    let mut bytes = vec![0u8; usize::try_from(len.saturating_sub(start)).unwrap_or(0)];
    let read = stderr.read_at(&mut bytes, start).unwrap_or(0);
    bytes.truncate(read);
    // Scanned as bytes, so a value cut at the window's start still matches as a piece.
    let redacted = redactor.bytes(&bytes);
    let text = String::from_utf8_lossy(&redacted).into_owned();
    let mut cut = text.len().saturating_sub(STDERR_TAIL_BYTES);
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    text[cut..].trim().to_owned()
}
