//! The worker's side: the handshake, the job loop and the [`Handler`] a worker implements.

use std::{
    net::Shutdown,
    os::unix::net::UnixStream,
    path::Path,
    sync::{mpsc, Arc, Mutex},
    thread,
};

use crate::{
    codec::{recv_daemon, send_worker},
    limits::{
        LOG_LINE_BYTES_MAX, PROGRESS_MESSAGE_BYTES_MAX, PROGRESS_PERMILLE_MAX, REASON_BYTES_MAX,
    },
    Artifact, DaemonMessage, Failure, FetchOutcome, FetchReply, FetchRequest, Job, LogLine,
    Progress, Proposal, ProtocolError, Usage, WorkerHello, WorkerMessage, MAGIC, PROTOCOL_VERSION,
};

/// What a handler returns for a job that succeeded; the SDK adds the job id and usage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The proposed rewrites.
    pub rewrites: Vec<jitos_warp::Rewrite>,
    /// Blobs produced.
    pub artifacts: Vec<Artifact>,
    /// The worker's own status code, 0 for success.
    pub exit_status: i32,
}

/// A worker's logic: one call per job.
pub trait Handler {
    /// Runs `job`. `Err(reason)` becomes a `Failure`; an outcome beyond the protocol's
    /// limits also becomes a `Failure`, so every job ends with exactly one terminal message.
    fn handle(&mut self, job: &Job, ctx: &mut Context<'_>) -> Result<Outcome, String>;
}

/// What a handler may do while it runs: report progress, log, ask about cancellation, and
/// have the daemon make HTTP requests for it.
pub struct Context<'a> {
    stream: &'a mut UnixStream,
    job_id: u64,
    cancelled: &'a Mutex<Option<u64>>,
    fetched: &'a mpsc::Receiver<FetchReply>,
}

impl Context<'_> {
    /// The job being run.
    pub fn job_id(&self) -> u64 {
        self.job_id
    }

    /// Reports progress. `fraction_permille` is clamped to 1000 and `message` cut to
    /// `PROGRESS_MESSAGE_BYTES_MAX`, since a progress note is not worth failing a job over.
    pub fn progress(&mut self, fraction_permille: u16, message: &str) -> Result<(), ProtocolError> {
        let message = WorkerMessage::Progress(Progress {
            job_id: self.job_id,
            fraction_permille: fraction_permille.min(PROGRESS_PERMILLE_MAX),
            message: truncate(message, PROGRESS_MESSAGE_BYTES_MAX),
        });
        send_worker(self.stream, &message)
    }

    /// Sends one log line, cut to `LOG_LINE_BYTES_MAX` bytes.
    pub fn log(&mut self, line: &str) -> Result<(), ProtocolError> {
        let message = WorkerMessage::Log(LogLine {
            job_id: self.job_id,
            line: truncate(line, LOG_LINE_BYTES_MAX),
        });
        send_worker(self.stream, &message)
    }

    /// Tells the daemon the worker is alive during a long step.
    pub fn heartbeat(&mut self) -> Result<(), ProtocolError> {
        send_worker(self.stream, &WorkerMessage::Heartbeat)
    }

    /// Asks the daemon to make `request` for this job and waits for its answer, which the
    /// daemon sends only once request and response are recorded. The request's job is
    /// filled in here. A refusal (the writ does not allow it) and a failure (no whole
    /// response) are outcomes, not errors: only a broken conversation is an `Err`.
    pub fn fetch(&mut self, mut request: FetchRequest) -> Result<FetchOutcome, ProtocolError> {
        request.job_id = self.job_id;
        send_worker(self.stream, &WorkerMessage::Fetch(request))?;
        let reply = self
            .fetched
            .recv()
            .map_err(|_| ProtocolError::Frame(jitos_proto::FrameError::Closed))?;
        if reply.job_id != self.job_id {
            return Err(ProtocolError::WrongJob {
                expected: self.job_id,
                got: reply.job_id,
            });
        }
        Ok(reply.outcome)
    }

    /// Whether the daemon asked to cancel this job. A handler that sees `true` should
    /// return soon, usually with `Err("cancelled")`.
    pub fn is_cancelled(&self) -> bool {
        *lock(self.cancelled) == Some(self.job_id)
    }
}

/// Runs the worker protocol on `stream`: the handshake as `name`/`version`, then one
/// handler call per job until the daemon closes the socket, which returns `Ok(())`.
///
/// A reader thread receives the daemon's messages so a `Cancel` is seen while a handler
/// runs; jobs run one at a time on the calling thread.
pub fn serve<H: Handler>(
    mut stream: UnixStream,
    name: &str,
    version: &str,
    mut handler: H,
) -> Result<(), ProtocolError> {
    send_worker(
        &mut stream,
        &WorkerMessage::Hello(WorkerHello {
            magic: MAGIC,
            protocol_version: PROTOCOL_VERSION,
            name: name.to_owned(),
            version: version.to_owned(),
        }),
    )?;
    match recv_daemon(&mut stream)? {
        DaemonMessage::Accept => {}
        DaemonMessage::Refuse { reason } => return Err(ProtocolError::Refused { reason }),
        other => {
            return Err(ProtocolError::Unexpected {
                got: other.kind(),
                state: "waiting for Accept or Refuse",
            })
        }
    }

    let cancelled = Arc::new(Mutex::new(None));
    let (jobs_tx, jobs_rx) = mpsc::channel();
    let (fetched_tx, fetched_rx) = mpsc::channel();
    let mut reader_stream = stream.try_clone().map_err(jitos_proto::FrameError::Io)?;
    let reader_cancelled = Arc::clone(&cancelled);
    let reader = thread::spawn(move || loop {
        let next = match recv_daemon(&mut reader_stream) {
            Ok(DaemonMessage::Cancel { job_id }) => {
                *lock(&reader_cancelled) = Some(job_id);
                continue;
            }
            Ok(DaemonMessage::Job(job)) => Ok(job),
            // The handler waiting in `Context::fetch` takes it; if it is gone the job
            // ended and the answer is moot.
            Ok(DaemonMessage::Fetched(reply)) => {
                let _ = fetched_tx.send(reply);
                continue;
            }
            Ok(other) => Err(ProtocolError::Unexpected {
                got: other.kind(),
                state: "the handshake was already done",
            }),
            Err(e) => Err(e),
        };
        let stop = next.is_err();
        if jobs_tx.send(next).is_err() || stop {
            return;
        }
    });

    // Where the daemon makes each job's directory when one process serves several jobs.
    let home = std::env::current_dir().ok();
    let result = job_loop(
        &mut stream,
        &mut handler,
        (&jobs_rx, &fetched_rx),
        &cancelled,
        home.as_deref(),
    );
    // Unblocks the reader if the loop ended on a write error; harmless when it already ended.
    let _ = stream.shutdown(Shutdown::Both);
    // The reader only returns; a panic there would be a bug in this crate, and the job
    // loop's result is what the caller needs either way.
    let _ = reader.join();
    result
}

fn job_loop<H: Handler>(
    stream: &mut UnixStream,
    handler: &mut H,
    (jobs, fetched): (
        &mpsc::Receiver<Result<Job, ProtocolError>>,
        &mpsc::Receiver<FetchReply>,
    ),
    cancelled: &Mutex<Option<u64>>,
    home: Option<&Path>,
) -> Result<(), ProtocolError> {
    // The reader drops its sender only after forwarding an error, so `recv` failing
    // means the same as a closed socket.
    while let Ok(next) = jobs.recv() {
        let job = match next {
            Ok(job) => job,
            Err(ProtocolError::Frame(jitos_proto::FrameError::Closed)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let before = rusage();
        // An answer left from an earlier job (its handler gave up waiting) is not this
        // job's.
        while fetched.try_recv().is_ok() {}
        let mut ctx = Context {
            stream,
            job_id: job.job_id,
            cancelled,
            fetched,
        };
        let result = in_job_dir(home, job.job_id, || handler.handle(&job, &mut ctx));
        let after = rusage();
        let terminal = match result {
            Ok(outcome) => {
                let proposal = WorkerMessage::Proposal(Proposal {
                    job_id: job.job_id,
                    rewrites: outcome.rewrites,
                    artifacts: outcome.artifacts,
                    exit_status: outcome.exit_status,
                    usage: Usage {
                        cpu_ms: after.cpu_ms.saturating_sub(before.cpu_ms),
                        max_rss_kib: after.max_rss_kib,
                    },
                });
                match proposal.check_limits() {
                    Ok(()) => proposal,
                    Err(e) => failure(
                        job.job_id,
                        &format!("the proposal breaks a protocol limit: {e}"),
                    ),
                }
            }
            Err(reason) => failure(job.job_id, &reason),
        };
        send_worker(stream, &terminal)?;
    }
    Ok(())
}

/// Runs `run` in the job's own directory when the daemon made one: a reusable worker's
/// directory is its home, kept across the jobs of one scope, and the daemon makes a fresh
/// `<home>/<job_id>` for each job and removes it after (`docs/WORKER_PROTOCOL.md`). A
/// worker run for one job has none; its directory is already fresh.
fn in_job_dir(
    home: Option<&Path>,
    job_id: u64,
    run: impl FnOnce() -> Result<Outcome, String>,
) -> Result<Outcome, String> {
    let Some(home) = home else {
        return run();
    };
    let dir = home.join(job_id.to_string());
    if !dir.is_dir() {
        return run();
    }
    std::env::set_current_dir(&dir)
        .map_err(|e| format!("cannot enter the job's directory {}: {e}", dir.display()))?;
    let result = run();
    // The next job enters its own directory; a worker left in a removed one would only
    // fail to use relative paths until then.
    let _ = std::env::set_current_dir(home);
    result
}

fn failure(job_id: u64, reason: &str) -> WorkerMessage {
    WorkerMessage::Failure(Failure {
        job_id,
        reason: truncate(reason, REASON_BYTES_MAX),
    })
}

/// Cuts `s` to at most `max` bytes on a character boundary: how the SDK fits a note to
/// its limit, for workers to do the same.
pub fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// A poisoned lock only means a handler panicked elsewhere; the flag itself stays valid.
fn lock(m: &Mutex<Option<u64>>) -> std::sync::MutexGuard<'_, Option<u64>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The CPU time and peak RSS so far of the process and of the children it has reaped (a
/// shell worker's commands); zero when getrusage fails, since usage is informative and not
/// worth failing a job over.
fn rusage() -> Usage {
    use nix::sys::resource::{getrusage, UsageWho};
    let of = |who| match getrusage(who) {
        Ok(u) => {
            let ms = |t: nix::sys::time::TimeVal| {
                u64::try_from(t.tv_sec()).unwrap_or(0) * 1000
                    + u64::try_from(t.tv_usec()).unwrap_or(0) / 1000
            };
            Usage {
                cpu_ms: ms(u.user_time()) + ms(u.system_time()),
                max_rss_kib: u64::try_from(u.max_rss()).unwrap_or(0),
            }
        }
        Err(_) => Usage::default(),
    };
    let (own, children) = (of(UsageWho::RUSAGE_SELF), of(UsageWho::RUSAGE_CHILDREN));
    Usage {
        cpu_ms: own.cpu_ms + children.cpu_ms,
        max_rss_kib: own.max_rss_kib.max(children.max_rss_kib),
    }
}
