//! `WorkerChannel` under `DaemonEnd`: passed descriptors are closed and refused, and an
//! ordinary conversation, however it is split into writes, works as over a plain stream.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    fs::File,
    io::{IoSlice, Write},
    os::{fd::AsRawFd, unix::net::UnixStream},
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
    thread,
    time::{Duration, Instant},
};

use jitos_proto::{encode_message, write_frame, FrameError};
use jitos_warp::Rewrite;
use jitos_worker::{
    serve, Context, DaemonEnd, Handler, Job, Outcome, Proposal, ProtocolError, Usage,
    WorkerChannel, WorkerHello, WorkerMessage, MAGIC, PROTOCOL_VERSION,
};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

/// A file only this test opens, so counting the descriptors open on it is not disturbed by
/// other tests opening sockets concurrently (a count of all of /proc/self/fd would be).
struct Probe {
    path: PathBuf,
    file: File,
}

impl Probe {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "jitos-channel-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let file = File::create(&path).unwrap();
        Self { path, file }
    }

    /// Descriptors of this process open on the probe file.
    fn open(&self) -> usize {
        open_on(&self.path)
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn open_on(path: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target == path)
        .count()
}

fn frame(message: &WorkerMessage) -> Vec<u8> {
    let mut bytes = Vec::new();
    write_frame(&mut bytes, &encode_message(message).unwrap()).unwrap();
    bytes
}

fn hello() -> WorkerMessage {
    WorkerMessage::Hello(WorkerHello {
        magic: MAGIC,
        protocol_version: PROTOCOL_VERSION,
        name: "raw".to_owned(),
        version: "0".to_owned(),
    })
}

/// Sends `bytes` with `fds` attached as SCM_RIGHTS, as a worker that skips the SDK could.
fn send_with_fds(stream: &UnixStream, bytes: &[u8], fds: &[i32]) {
    let sent = sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(bytes)],
        &[ControlMessage::ScmRights(fds)],
        MsgFlags::empty(),
        None,
    )
    .unwrap();
    assert_eq!(sent, bytes.len());
}

fn job(job_id: u64) -> Job {
    Job {
        job_id,
        attempt: 1,
        deadline_ms: 10_000,
        input: Vec::new(),
        workspace_dir: None,
        args: Vec::new(),
    }
}

// Goal: the probe can see a leak, so the "nothing left open" checks below can fail.
// Method: one clone of the probe file is one more descriptor on it.
#[test]
fn probe_counts_descriptors() {
    let probe = Probe::new();
    assert_eq!(probe.open(), 1);
    let clone = probe.file.try_clone().unwrap();
    assert_eq!(probe.open(), 2);
    drop(clone);
    assert_eq!(probe.open(), 1);
}

// Goal: a descriptor passed after a valid hello fails the conversation with the typed
// error and is not left open in the daemon's process. Method: a fake worker sends a raw
// hello, then a heartbeat frame carrying the probe file's descriptor (SCM_RIGHTS); the
// daemon end's next read must refuse it, and every later read too.
#[test]
fn passed_descriptor_after_hello_is_refused_and_closed() {
    let probe = Probe::new();
    let (daemon, mut worker) = UnixStream::pair().unwrap();
    worker.write_all(&frame(&hello())).unwrap();
    let mut end = DaemonEnd::accept(WorkerChannel::new(daemon)).unwrap();
    assert_eq!(end.hello().name, "raw");

    send_with_fds(
        &worker,
        &frame(&WorkerMessage::Heartbeat),
        &[probe.file.as_raw_fd()],
    );
    let err = end.next_message().unwrap_err();
    assert!(
        matches!(
            err,
            ProtocolError::PassedDescriptors {
                count: 1,
                truncated: false
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("1 file descriptor"), "{err}");
    assert_eq!(
        probe.open(),
        1,
        "the received descriptor was closed at once"
    );

    // The heartbeat's bytes were dropped with the descriptor, so nothing after it can be
    // trusted to start at a frame boundary: the refusal sticks.
    worker.write_all(&frame(&WorkerMessage::Heartbeat)).unwrap();
    assert!(matches!(
        end.next_message(),
        Err(ProtocolError::PassedDescriptors { count: 1, .. })
    ));
    assert_eq!(probe.open(), 1);
}

// Goal: descriptors that come with the hello itself fail the handshake, several at a time
// are all counted and closed, and the channel still releases its socket. Method: the
// hello frame is sent with three descriptors attached.
#[test]
fn passed_descriptors_with_hello_fail_the_handshake() {
    let probe = Probe::new();
    let (daemon, worker) = UnixStream::pair().unwrap();
    let fd = probe.file.as_raw_fd();
    send_with_fds(&worker, &frame(&hello()), &[fd, fd, fd]);
    let err = DaemonEnd::accept(WorkerChannel::new(daemon)).unwrap_err();
    assert!(
        matches!(
            err,
            ProtocolError::PassedDescriptors {
                count: 3,
                truncated: false
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        probe.open(),
        1,
        "all three received descriptors were closed"
    );
}

// Goal: positive control: the same conversation without ancillary data works through
// WorkerChannel, end to end with the SDK. Method: `serve` on a thread runs a job that
// proposes one empty rewrite; the daemon end sees the proposal and the worker exits
// cleanly when the daemon hangs up.
#[test]
fn conversation_without_descriptors_works() {
    struct One;
    impl Handler for One {
        fn handle(&mut self, _: &Job, ctx: &mut Context<'_>) -> Result<Outcome, String> {
            ctx.log("working").map_err(|e| e.to_string())?;
            Ok(Outcome {
                rewrites: vec![Rewrite::default()],
                ..Outcome::default()
            })
        }
    }
    let (daemon, worker) = UnixStream::pair().unwrap();
    let handle = thread::spawn(move || serve(worker, "one", "1.0.0", One));
    let mut end = DaemonEnd::accept(WorkerChannel::new(daemon)).unwrap();
    assert_eq!(end.hello().name, "one");
    end.send_job(job(9)).unwrap();
    assert!(matches!(end.next_message().unwrap(), WorkerMessage::Log(_)));
    let WorkerMessage::Proposal(p) = end.next_message().unwrap() else {
        panic!("expected a proposal")
    };
    assert_eq!((p.job_id, p.rewrites.len()), (9, 1));
    drop(end);
    handle.join().unwrap().unwrap();
}

// Goal: recvmsg handles partial reads as read() does: frames that arrive a byte at a time
// still decode. Method: a fake worker writes the hello and a proposal one byte per write,
// pausing between writes so each byte is a separate segment for the daemon's reads.
#[test]
fn frames_split_into_single_bytes_decode() {
    let (daemon, mut worker) = UnixStream::pair().unwrap();
    let writer = thread::spawn(move || {
        let proposal = WorkerMessage::Proposal(Proposal {
            job_id: 4,
            rewrites: vec![Rewrite::default(); 3],
            artifacts: Vec::new(),
            exit_status: 0,
            usage: Usage {
                cpu_ms: 300,
                max_rss_kib: 70_000,
            },
        });
        for message in [hello(), proposal] {
            for byte in frame(&message) {
                worker.write_all(&[byte]).unwrap();
                thread::sleep(Duration::from_micros(200));
            }
        }
        // Read the Accept and the Job: closing a unix socket with unread data resets the
        // connection, and the check below is about a clean close.
        for _ in 0..2 {
            jitos_proto::read_frame(&mut worker).unwrap();
        }
        worker
    });
    let mut end = DaemonEnd::accept(WorkerChannel::new(daemon)).unwrap();
    end.send_job(job(4)).unwrap();
    let WorkerMessage::Proposal(p) = end.next_message().unwrap() else {
        panic!("expected a proposal")
    };
    assert_eq!((p.job_id, p.rewrites.len(), p.usage.cpu_ms), (4, 3, 300));
    drop(writer.join().unwrap());
    assert!(matches!(
        end.next_message(),
        Err(ProtocolError::Frame(FrameError::Closed))
    ));
}

// Goal: the read timeout set through WorkerChannel applies to its recvmsg, so the daemon
// can bound how long it waits for a silent worker. Method: a worker that never speaks;
// the handshake must fail with an I/O timeout well before a generous bound.
#[test]
fn read_timeout_applies() {
    let (daemon, _worker) = UnixStream::pair().unwrap();
    let channel = WorkerChannel::new(daemon);
    channel
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let started = Instant::now();
    let err = DaemonEnd::accept(channel).unwrap_err();
    let ProtocolError::Frame(FrameError::Io(io)) = &err else {
        panic!("expected an I/O timeout, got {err:?}")
    };
    assert!(
        matches!(
            io.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{io:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}
