//! Both ends of the worker protocol talking over an in-process socket pair.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{io::Write, os::unix::net::UnixStream, thread};

use jitos_proto::{encode_message, write_frame, FrameError};
use jitos_warp::{NodeId, Op, Rewrite};
use jitos_worker::{
    limits::{LOG_LINE_BYTES_MAX, REWRITES_PER_PROPOSAL_MAX},
    serve, Context, DaemonEnd, Handler, Job, LogLine, Outcome, Proposal, ProtocolError, Usage,
    WorkerHello, WorkerMessage, MAGIC, PROTOCOL_VERSION,
};

/// Reports progress and a log line, then proposes one node; or waits for a cancel when
/// the job's first argument is "wait".
struct Echo;

impl Handler for Echo {
    fn handle(&mut self, job: &Job, ctx: &mut Context<'_>) -> Result<Outcome, String> {
        if job.args.first().map(String::as_str) == Some("wait") {
            while !ctx.is_cancelled() {
                thread::sleep(std::time::Duration::from_millis(1));
            }
            return Err("cancelled".to_owned());
        }
        ctx.progress(500, "half way").map_err(|e| e.to_string())?;
        ctx.log(&"x".repeat(LOG_LINE_BYTES_MAX + 10))
            .map_err(|e| e.to_string())?;
        Ok(Outcome {
            rewrites: vec![Rewrite {
                ops: vec![Op::AddNode {
                    id: NodeId::new(format!("echo:{}", job.job_id)).unwrap(),
                    kind: "echo".to_owned(),
                    attrs: Default::default(),
                }],
                expect: Vec::new(),
            }],
            artifacts: Vec::new(),
            exit_status: 0,
        })
    }
}

fn job(job_id: u64, args: &[&str]) -> Job {
    Job {
        job_id,
        attempt: 1,
        deadline_ms: 10_000,
        input: b"{}".to_vec(),
        workspace_dir: None,
        args: args.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn spawn_worker(worker: UnixStream) -> thread::JoinHandle<Result<(), ProtocolError>> {
    thread::spawn(move || serve(worker, "echo", "1.0.0", Echo))
}

/// Writes one worker message as a frame without the sender's limit checks, as a buggy or
/// hostile worker would.
fn raw_send(stream: &mut UnixStream, message: &WorkerMessage) {
    write_frame(stream, &encode_message(message).unwrap()).unwrap();
}

fn raw_hello(stream: &mut UnixStream) {
    raw_send(
        stream,
        &WorkerMessage::Hello(WorkerHello {
            magic: MAGIC,
            protocol_version: PROTOCOL_VERSION,
            name: "raw".to_owned(),
            version: "0".to_owned(),
        }),
    );
}

// Goal: the SDK and DaemonEnd agree end to end. Method: a handler on a thread runs two
// jobs over a socket pair; the daemon sees hello, progress, a truncated log line and the
// proposal, in order, and the worker exits cleanly when the daemon hangs up.
#[test]
fn handshake_job_progress_proposal() {
    let (daemon, worker) = UnixStream::pair().unwrap();
    let handle = spawn_worker(worker);
    let mut end = DaemonEnd::accept(daemon).unwrap();
    assert_eq!(end.hello().name, "echo");
    for job_id in [7, 8] {
        end.send_job(job(job_id, &[])).unwrap();
        assert_eq!(end.in_flight(), Some(job_id));
        let WorkerMessage::Progress(p) = end.next_message().unwrap() else {
            panic!("expected progress")
        };
        assert_eq!((p.job_id, p.fraction_permille), (job_id, 500));
        let WorkerMessage::Log(l) = end.next_message().unwrap() else {
            panic!("expected a log line")
        };
        assert_eq!(l.line.len(), LOG_LINE_BYTES_MAX, "the SDK cuts long lines");
        let WorkerMessage::Proposal(proposal) = end.next_message().unwrap() else {
            panic!("expected a proposal")
        };
        assert_eq!(proposal.job_id, job_id);
        assert_eq!(proposal.rewrites.len(), 1);
        assert_eq!(end.in_flight(), None);
    }
    drop(end);
    handle.join().unwrap().unwrap();
}

// Goal: a cancel reaches a running handler and the job still ends with one terminal
// message. Method: the handler waits for the cancel flag, then fails.
#[test]
fn cancel_ends_with_one_failure() {
    let (daemon, worker) = UnixStream::pair().unwrap();
    let handle = spawn_worker(worker);
    let mut end = DaemonEnd::accept(daemon).unwrap();
    end.send_job(job(3, &["wait"])).unwrap();
    assert!(matches!(
        end.send_job(job(4, &[])),
        Err(ProtocolError::JobInFlight { in_flight: 3 })
    ));
    end.send_cancel(3).unwrap();
    let WorkerMessage::Failure(f) = end.next_message().unwrap() else {
        panic!("expected a failure")
    };
    assert_eq!((f.job_id, f.reason.as_str()), (3, "cancelled"));
    assert_eq!(end.in_flight(), None);
    drop(end);
    handle.join().unwrap().unwrap();
}

// Goal: an oversize log line from a worker that skips the SDK is a typed limit error.
// Method: write the frame by hand after a valid hello and job.
#[test]
fn oversize_log_line_is_refused() {
    let (daemon, mut worker) = UnixStream::pair().unwrap();
    raw_hello(&mut worker);
    let mut end = DaemonEnd::accept(daemon).unwrap();
    end.send_job(job(1, &[])).unwrap();
    raw_send(
        &mut worker,
        &WorkerMessage::Log(LogLine {
            job_id: 1,
            line: "y".repeat(LOG_LINE_BYTES_MAX + 1),
        }),
    );
    let err = end.next_message().unwrap_err();
    assert!(
        matches!(
            err,
            ProtocolError::Limit {
                what: "log line bytes",
                ..
            }
        ),
        "{err}"
    );
}

// Goal: too many rewrites is refused by the daemon end, and the SDK turns such an outcome
// into a Failure instead of sending it. Method: a raw proposal, then a handler that
// returns one rewrite too many.
#[test]
fn too_many_rewrites_is_refused() {
    let rewrites = vec![Rewrite::default(); REWRITES_PER_PROPOSAL_MAX + 1];

    let (daemon, mut worker) = UnixStream::pair().unwrap();
    raw_hello(&mut worker);
    let mut end = DaemonEnd::accept(daemon).unwrap();
    end.send_job(job(1, &[])).unwrap();
    raw_send(
        &mut worker,
        &WorkerMessage::Proposal(Proposal {
            job_id: 1,
            rewrites: rewrites.clone(),
            artifacts: Vec::new(),
            exit_status: 0,
            usage: Usage::default(),
        }),
    );
    let err = end.next_message().unwrap_err();
    assert!(
        matches!(
            err,
            ProtocolError::Limit {
                what: "rewrites per proposal",
                ..
            }
        ),
        "{err}"
    );

    struct TooMany(Vec<Rewrite>);
    impl Handler for TooMany {
        fn handle(&mut self, _: &Job, _: &mut Context<'_>) -> Result<Outcome, String> {
            Ok(Outcome {
                rewrites: self.0.clone(),
                ..Outcome::default()
            })
        }
    }
    let (daemon, worker) = UnixStream::pair().unwrap();
    let handle = thread::spawn(move || serve(worker, "many", "1", TooMany(rewrites)));
    let mut end = DaemonEnd::accept(daemon).unwrap();
    end.send_job(job(2, &[])).unwrap();
    let WorkerMessage::Failure(f) = end.next_message().unwrap() else {
        panic!("expected a failure")
    };
    assert!(f.reason.contains("rewrites per proposal"), "{}", f.reason);
    drop(end);
    handle.join().unwrap().unwrap();
}

// Goal: a worker that writes junk makes the daemon end return an error, never panic.
// Method: junk instead of a hello, junk after a valid hello, a message for another job,
// a second hello, and a hello with the wrong magic and version.
#[test]
fn garbage_worker_gets_errors() {
    let (daemon, mut worker) = UnixStream::pair().unwrap();
    worker.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    drop(worker);
    assert!(DaemonEnd::accept(daemon).is_err());

    let (daemon, mut worker) = UnixStream::pair().unwrap();
    write_frame(&mut worker, &[9, 9, 9]).unwrap();
    assert!(matches!(
        DaemonEnd::accept(daemon),
        Err(ProtocolError::Frame(FrameError::Malformed(_)))
    ));

    let (daemon, mut worker) = UnixStream::pair().unwrap();
    raw_hello(&mut worker);
    let mut end = DaemonEnd::accept(daemon).unwrap();
    end.send_job(job(5, &[])).unwrap();
    raw_send(
        &mut worker,
        &WorkerMessage::Log(LogLine {
            job_id: 6,
            line: String::new(),
        }),
    );
    assert!(matches!(
        end.next_message(),
        Err(ProtocolError::WrongJob {
            expected: 5,
            got: 6
        })
    ));
    raw_hello(&mut worker);
    assert!(matches!(
        end.next_message(),
        Err(ProtocolError::Unexpected { .. })
    ));
    write_frame(&mut worker, &[0xff; 4]).unwrap();
    assert!(matches!(end.next_message(), Err(ProtocolError::Frame(_))));
    // Read the Accept and the job first: closing a unix socket with unread data resets the connection,
    // and this check is about a frame cut short.
    for _ in 0..2 {
        jitos_proto::read_frame(&mut worker).unwrap();
    }
    worker.write_all(&[1, 0]).unwrap();
    drop(worker);
    let err = end.next_message().unwrap_err();
    assert!(
        matches!(err, ProtocolError::Frame(FrameError::Truncated)),
        "{err:?}"
    );

    for (magic, version) in [
        (*b"NOTJITOS", PROTOCOL_VERSION),
        (MAGIC, PROTOCOL_VERSION + 1),
    ] {
        let (daemon, mut worker) = UnixStream::pair().unwrap();
        raw_send(
            &mut worker,
            &WorkerMessage::Hello(WorkerHello {
                magic,
                protocol_version: version,
                name: "old".to_owned(),
                version: "0".to_owned(),
            }),
        );
        let err = DaemonEnd::accept(daemon).unwrap_err();
        assert!(
            matches!(
                err,
                ProtocolError::BadMagic { .. } | ProtocolError::UnsupportedVersion { .. }
            ),
            "{err}"
        );
        // The refusal reached the worker, so it can report why it was turned away.
        let reply =
            jitos_worker::decode_daemon_message(&jitos_proto::read_frame(&mut worker).unwrap());
        assert!(matches!(
            reply,
            Ok(jitos_worker::DaemonMessage::Refuse { .. })
        ));
    }
}

// Goal: a refused worker's serve returns the daemon's reason. Method: answer the SDK's
// hello with Refuse by hand.
#[test]
fn refused_worker_reports_reason() {
    let (mut daemon, worker) = UnixStream::pair().unwrap();
    let handle = spawn_worker(worker);
    jitos_proto::read_frame(&mut daemon).unwrap();
    let refuse = jitos_worker::encode_daemon_message(&jitos_worker::DaemonMessage::Refuse {
        reason: "not in the manifest".to_owned(),
    })
    .unwrap();
    write_frame(&mut daemon, &refuse).unwrap();
    let err = handle.join().unwrap().unwrap_err();
    assert!(
        matches!(err, ProtocolError::Refused { ref reason } if reason == "not in the manifest")
    );
}

// Goal: the byte layout in docs/WORKER_PROTOCOL.md is what the code sends. Method:
// compare encodings of the documented examples with the bytes written in the spec.
#[test]
fn wire_examples_match_the_spec() {
    let hello = WorkerMessage::Hello(WorkerHello {
        magic: MAGIC,
        protocol_version: PROTOCOL_VERSION,
        name: "noop".to_owned(),
        version: "0.1.0".to_owned(),
    });
    let mut frame = Vec::new();
    write_frame(
        &mut frame,
        &jitos_worker::encode_worker_message(&hello).unwrap(),
    )
    .unwrap();
    assert_eq!(
        frame,
        [
            0x15, 0, 0, 0,    // length 21, little-endian u32
            0x00, // tag: Hello
            b'J', b'I', b'T', b'O', b'S', b'W', b'K', 0,    // magic
            0x01, // protocol_version
            4, b'n', b'o', b'o', b'p', // name
            5, b'0', b'.', b'1', b'.', b'0', // version
        ]
    );
    let heartbeat = jitos_worker::encode_worker_message(&WorkerMessage::Heartbeat).unwrap();
    assert_eq!(heartbeat, [0x03]);
    let accept = jitos_worker::encode_daemon_message(&jitos_worker::DaemonMessage::Accept).unwrap();
    assert_eq!(accept, [0x00]);
    let cancel =
        jitos_worker::encode_daemon_message(&jitos_worker::DaemonMessage::Cancel { job_id: 300 })
            .unwrap();
    assert_eq!(cancel, [0x03, 0xfb, 0x2c, 0x01]);
}
