//! The real `jitos-worker-noop` binary, spawned with its socket on fd 3, plain and confined.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    os::unix::net::UnixStream,
    process::{Command, Stdio},
};

use jitos_sandbox::{Confinement, Profile, Spawn, UidPool, CHANNEL_FD};
use jitos_warp::Op;
use jitos_worker::{DaemonEnd, Job, WorkerMessage};

const NOOP: &str = env!("CARGO_BIN_EXE_jitos-worker-noop");

/// Runs two jobs on a worker spawned under the Pure confinement (or its degraded form:
/// everything but Landlock and seccomp) and checks the proposals; then closes the socket
/// and expects the worker to exit successfully.
fn drive(confined: bool) {
    let (daemon, worker) = UnixStream::pair().unwrap();
    let mut spawn = Spawn::new(NOOP).hand(worker.into(), CHANNEL_FD);
    // Never as root: a root caller lends the worker a uid, as the daemon does.
    let lent = UidPool::for_caller().unwrap();
    if let Some(lent) = &lent {
        spawn = spawn.uid(lent.uid());
    }
    let confinement = Confinement::new(Profile::Pure);
    let mut child = if confined {
        confinement.spawn(spawn)
    } else {
        confinement.spawn_degraded(spawn)
    }
    .unwrap();
    let mut end = DaemonEnd::accept(daemon).unwrap();
    assert_eq!(end.hello().name, "noop");
    for job_id in [41, 42] {
        end.send_job(Job {
            job_id,
            attempt: 1,
            deadline_ms: 5_000,
            input: Vec::new(),
            workspace_dir: None,
            args: Vec::new(),
        })
        .unwrap();
        let proposal = loop {
            match end.next_message().unwrap() {
                WorkerMessage::Proposal(p) => break p,
                WorkerMessage::Progress(_) | WorkerMessage::Heartbeat | WorkerMessage::Log(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(proposal.job_id, job_id);
        assert_eq!(proposal.exit_status, 0);
        let [rewrite] = proposal.rewrites.as_slice() else {
            panic!("expected one rewrite")
        };
        let [Op::AddNode { id, kind, .. }] = rewrite.ops.as_slice() else {
            panic!("expected one add_node")
        };
        assert_eq!(id.as_str(), format!("noop:{job_id}"));
        assert_eq!(kind, "noop");
    }
    drop(end);
    let status = child.wait().unwrap();
    assert!(status.success(), "worker exited with {status}");
}

// Goal: the real binary speaks the protocol on fd 3. Method: spawn it without Landlock
// and seccomp with a socket pair end on fd 3 and run two jobs.
#[test]
fn noop_binary_unconfined() {
    drive(false);
}

// Goal: the real binary works under the Pure confinement the daemon will use. Method:
// the same as above through `Confinement::spawn` (it fails on a kernel that cannot
// confine, naming what is missing).
#[test]
fn noop_binary_confined_pure() {
    let status = jitos_sandbox::status();
    assert!(
        status.supported,
        "this kernel cannot confine workers: {status:?}"
    );
    drive(true);
}

// Goal: started by hand (no fd 3), the worker says so and fails instead of hanging.
// Method: run it with fd 3 closed and read its stderr.
#[test]
fn noop_binary_without_socket_fails() {
    let out = Command::new(NOOP).stdin(Stdio::null()).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("fd 3"), "{stderr}");
}
