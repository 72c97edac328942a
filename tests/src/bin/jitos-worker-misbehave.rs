//! `jitos-worker-misbehave`: a worker that breaks the rules on purpose, so the system
//! tests can show that the daemon fails, refuses or kills each attempt with a clear reason
//! and carries on. `Job.args[0]` picks the misdeed; anything unknown proposes nothing.
//!
//! Modes after the handshake and job: `crash` (abort), `exit-mid-frame` (half a frame,
//! then exit), `garbage` (bytes that are no frame), `oversized` (a length prefix beyond
//! the maximum), `pass-fd` (a frame carrying a file descriptor), `hang` (never answers),
//! `touch-file PATH` (proposes a new file PATH whose blob it ships as an artifact),
//! `read-file PATH` (proposes a `read:<job>` node with the size of PATH, or fails),
//! `dangling-blob PATH` (proposes a file whose blob it does not ship), `fail` (a Failure).

// Adopting fd 3 needs `FromRawFd`; this test tool is the only place here that does it.
#![allow(unsafe_code)]

use std::{
    io::{IoSlice, Write},
    os::{
        fd::{AsRawFd, FromRawFd},
        unix::net::UnixStream,
    },
    path::Path,
    process::ExitCode,
    time::Duration,
};

use jitos_proto::{read_frame, write_frame};
use jitos_tree::{sync_rewrite, Entry, Tree, TreePath};
use jitos_treefs::read_tree;
use jitos_warp::{BlobRef, NodeId, Op, Rewrite, Value};
use jitos_worker::{
    decode_daemon_message, encode_worker_message, Artifact, DaemonMessage, Failure, Proposal,
    Usage, WorkerHello, WorkerMessage, MAGIC, PROTOCOL_VERSION,
};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("misbehave: {e}");
            ExitCode::FAILURE
        }
    }
}

fn send(stream: &mut UnixStream, message: &WorkerMessage) -> Result<(), String> {
    let payload = encode_worker_message(message).map_err(|e| e.to_string())?;
    write_frame(stream, &payload).map_err(|e| e.to_string())
}

fn run() -> Result<(), String> {
    // SAFETY: the daemon passes the channel on fd 3 for this process's exclusive use.
    let mut stream = unsafe { UnixStream::from_raw_fd(3) };
    send(
        &mut stream,
        &WorkerMessage::Hello(WorkerHello {
            magic: MAGIC,
            protocol_version: PROTOCOL_VERSION,
            name: "misbehave".to_owned(),
            version: "0.1.0".to_owned(),
        }),
    )?;
    let mut job = None;
    while job.is_none() {
        let frame = read_frame(&mut stream).map_err(|e| e.to_string())?;
        if let DaemonMessage::Job(j) = decode_daemon_message(&frame).map_err(|e| e.to_string())? {
            job = Some(j);
        }
    }
    let job = job.ok_or("no job")?;
    let mode = job.args.first().map(String::as_str).unwrap_or("");
    let path = job.args.get(1).cloned().unwrap_or_default();
    let propose = |rewrites: Vec<Rewrite>, artifacts: Vec<Artifact>| {
        WorkerMessage::Proposal(Proposal {
            job_id: job.job_id,
            rewrites,
            artifacts,
            exit_status: 0,
            usage: Usage::default(),
        })
    };
    match mode {
        "crash" => std::process::abort(),
        "exit-mid-frame" => {
            stream
                .write_all(&100u32.to_le_bytes())
                .and_then(|()| stream.write_all(&[1, 2, 3]))
                .map_err(|e| e.to_string())?;
            std::process::exit(0)
        }
        "garbage" => stream
            .write_all(&[0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0x7f, 9, 9, 9])
            .map_err(|e| e.to_string()),
        "oversized" => stream
            .write_all(&u32::MAX.to_le_bytes())
            .and_then(|()| stream.write_all(&[0; 64]))
            .map_err(|e| e.to_string()),
        "pass-fd" => {
            let payload =
                encode_worker_message(&WorkerMessage::Heartbeat).map_err(|e| e.to_string())?;
            let mut frame = Vec::new();
            write_frame(&mut frame, &payload).map_err(|e| e.to_string())?;
            let fds = [std::io::stderr().as_raw_fd()];
            sendmsg::<()>(
                stream.as_raw_fd(),
                &[IoSlice::new(&frame)],
                &[ControlMessage::ScmRights(&fds)],
                MsgFlags::empty(),
                None,
            )
            .map_err(|e| e.to_string())?;
            std::thread::sleep(Duration::from_secs(30));
            Ok(())
        }
        "hang" => loop {
            std::thread::sleep(Duration::from_secs(60));
        },
        "fail" => send(
            &mut stream,
            &WorkerMessage::Failure(Failure {
                job_id: job.job_id,
                reason: "failing on purpose".to_owned(),
            }),
        ),
        "touch-file" => {
            let bytes = b"touched\n".to_vec();
            let blob = BlobRef(*blake3::hash(&bytes).as_bytes());
            let artifact = Artifact {
                name: format!("files/{path}"),
                bytes,
            };
            send(
                &mut stream,
                &propose(
                    vec![add_file(job.workspace_dir.as_deref(), &path, blob)?],
                    vec![artifact],
                ),
            )
        }
        "read-file" => match std::fs::read(&path) {
            Ok(bytes) => send(
                &mut stream,
                &propose(vec![read_node(job.job_id, bytes.len())?], Vec::new()),
            ),
            Err(e) => send(
                &mut stream,
                &WorkerMessage::Failure(Failure {
                    job_id: job.job_id,
                    reason: format!("cannot read {path}: {e}"),
                }),
            ),
        },
        "dangling-blob" => {
            let blob = BlobRef(*blake3::hash(b"never shipped").as_bytes());
            send(
                &mut stream,
                &propose(
                    vec![add_file(job.workspace_dir.as_deref(), &path, blob)?],
                    Vec::new(),
                ),
            )
        }
        _ => send(&mut stream, &propose(Vec::new(), Vec::new())),
    }?;
    // Stay until the daemon hangs up, as a well-behaved worker would.
    std::thread::sleep(Duration::from_secs(30));
    Ok(())
}

/// The rewrite adding node `read:<job>` with the number of bytes read.
fn read_node(job_id: u64, bytes: usize) -> Result<Rewrite, String> {
    let id = NodeId::new(format!("read:{job_id}")).map_err(|e| e.to_string())?;
    let mut attrs = std::collections::BTreeMap::new();
    attrs.insert(
        "bytes".to_owned(),
        Value::Int(i64::try_from(bytes).map_err(|e| e.to_string())?),
    );
    Ok(Rewrite {
        ops: vec![Op::AddNode {
            id,
            kind: "Read".to_owned(),
            attrs,
        }],
        expect: Vec::new(),
    })
}

/// The rewrite adding file `path` (content `blob`) to the workspace files the daemon
/// wrote into `workspace_dir`, or to an empty tree when the job has none (a graph-only
/// worker trying to change files anyway).
fn add_file(workspace_dir: Option<&str>, path: &str, blob: BlobRef) -> Result<Rewrite, String> {
    let before = match workspace_dir {
        Some(dir) => read_tree(Path::new(dir)).map_err(|e| e.to_string())?,
        None => {
            let mut root_only = Tree::new();
            root_only.insert(TreePath::root(), Entry::Dir);
            root_only
        }
    };
    let mut after = before.clone();
    let entry = Entry::File {
        blob,
        size: 8,
        executable: false,
    };
    after.insert(TreePath::new(path).map_err(|e| e.to_string())?, entry);
    sync_rewrite(&before, &after).map_err(|e| e.to_string())
}
