//! `DaemonEnd`: the daemon's side of one worker's socket, which enforces the message order.

use std::io::{Read, Write};

use crate::{
    codec::{recv_worker, send_daemon},
    DaemonMessage, FetchReply, Job, ProtocolError, WorkerHello, WorkerMessage, MAGIC,
    PROTOCOL_VERSION,
};

/// The daemon's end of a worker connection after a successful handshake.
///
/// It allows one job in flight at a time and checks that every message the worker sends
/// fits the protocol's order: progress, logs and the one terminal message name the job in
/// flight; heartbeats may come at any time.
///
/// `S` is any byte stream. The daemon passes a [`crate::WorkerChannel`], whose reads
/// refuse file descriptors a worker tries to pass ([`ProtocolError::PassedDescriptors`]);
/// over a plain `UnixStream` the kernel would drop them unnoticed.
#[derive(Debug)]
pub struct DaemonEnd<S> {
    stream: S,
    hello: WorkerHello,
    in_flight: Option<u64>,
}

impl<S: Read + Write> DaemonEnd<S> {
    /// Reads the worker's hello and answers `Accept`, or `Refuse` (then returns the error)
    /// when the magic or the protocol version is wrong.
    pub fn accept(mut stream: S) -> Result<Self, ProtocolError> {
        let hello = match recv_worker(&mut stream)? {
            WorkerMessage::Hello(hello) => hello,
            other => {
                return Err(ProtocolError::Unexpected {
                    got: other.kind(),
                    state: "waiting for the worker's hello",
                })
            }
        };
        let problem = if hello.magic != MAGIC {
            Some(ProtocolError::BadMagic { found: hello.magic })
        } else if hello.protocol_version != PROTOCOL_VERSION {
            Some(ProtocolError::UnsupportedVersion {
                found: hello.protocol_version,
                supported: PROTOCOL_VERSION,
            })
        } else {
            None
        };
        if let Some(problem) = problem {
            // Best effort: the worker may already be gone, and the error to report is the
            // refusal's cause, not a failure to deliver it.
            let _ = send_daemon(
                &mut stream,
                &DaemonMessage::Refuse {
                    reason: problem.to_string(),
                },
            );
            return Err(problem);
        }
        send_daemon(&mut stream, &DaemonMessage::Accept)?;
        Ok(Self {
            stream,
            hello,
            in_flight: None,
        })
    }

    /// The worker's hello.
    pub fn hello(&self) -> &WorkerHello {
        &self.hello
    }

    /// The job in flight, if any.
    pub fn in_flight(&self) -> Option<u64> {
        self.in_flight
    }

    /// Sends a job; refused while another job is in flight.
    pub fn send_job(&mut self, job: Job) -> Result<(), ProtocolError> {
        if let Some(in_flight) = self.in_flight {
            return Err(ProtocolError::JobInFlight { in_flight });
        }
        let job_id = job.job_id;
        send_daemon(&mut self.stream, &DaemonMessage::Job(job))?;
        self.in_flight = Some(job_id);
        Ok(())
    }

    /// Asks the worker to stop the job in flight. The worker still ends it with exactly one
    /// `Proposal` or `Failure`, which [`DaemonEnd::next_message`] returns as usual.
    pub fn send_cancel(&mut self, job_id: u64) -> Result<(), ProtocolError> {
        match self.in_flight {
            Some(in_flight) if in_flight == job_id => {
                send_daemon(&mut self.stream, &DaemonMessage::Cancel { job_id })
            }
            Some(in_flight) => Err(ProtocolError::WrongJob {
                expected: in_flight,
                got: job_id,
            }),
            None => Err(ProtocolError::Unexpected {
                got: "Cancel",
                state: "no job is in flight",
            }),
        }
    }

    /// Answers the job's `Fetch`. The caller answers each fetch before it reads the
    /// worker's next message, so a worker never has two in flight.
    pub fn send_fetched(&mut self, reply: FetchReply) -> Result<(), ProtocolError> {
        match self.in_flight {
            Some(in_flight) if in_flight == reply.job_id => {
                send_daemon(&mut self.stream, &DaemonMessage::Fetched(reply))
            }
            Some(in_flight) => Err(ProtocolError::WrongJob {
                expected: in_flight,
                got: reply.job_id,
            }),
            None => Err(ProtocolError::Unexpected {
                got: "Fetched",
                state: "no job is in flight",
            }),
        }
    }

    /// Reads the worker's next message, strictly: limits, order and job id are checked.
    /// After a `Proposal` or `Failure` no job is in flight.
    pub fn next_message(&mut self) -> Result<WorkerMessage, ProtocolError> {
        let message = recv_worker(&mut self.stream)?;
        let job_id = match &message {
            WorkerMessage::Heartbeat => return Ok(message),
            WorkerMessage::Hello(_) => {
                return Err(ProtocolError::Unexpected {
                    got: "Hello",
                    state: "the handshake was already done",
                })
            }
            WorkerMessage::Progress(p) => p.job_id,
            WorkerMessage::Log(l) => l.job_id,
            WorkerMessage::Proposal(p) => p.job_id,
            WorkerMessage::Failure(f) => f.job_id,
            WorkerMessage::Fetch(f) => f.job_id,
        };
        let expected = self.in_flight.ok_or(ProtocolError::Unexpected {
            got: message.kind(),
            state: "no job is in flight",
        })?;
        if job_id != expected {
            return Err(ProtocolError::WrongJob {
                expected,
                got: job_id,
            });
        }
        if matches!(
            message,
            WorkerMessage::Proposal(_) | WorkerMessage::Failure(_)
        ) {
            self.in_flight = None;
        }
        Ok(message)
    }

    /// The stream, e.g. to poll a `WorkerChannel`'s descriptor or set its read timeout
    /// while this end owns it. Reading or writing it directly would desynchronise the
    /// conversation.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Gives back the stream, e.g. to close it.
    pub fn into_inner(self) -> S {
        self.stream
    }
}
