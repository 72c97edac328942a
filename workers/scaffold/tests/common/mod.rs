//! Shared by the scaffold tests: starting the real worker binary and reading back what
//! its proposal would record.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::{
    collections::BTreeMap,
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
};

use jitos_sandbox::{give_tree, Confinement, Profile, Spawn, UidPool, CHANNEL_FD};
use jitos_tree::{sync_rewrite, Tree};
use jitos_warp::{BlobRef, Graph};
use jitos_worker::{DaemonEnd, Job, Proposal, WorkerMessage};

pub const SCAFFOLD: &str = env!("CARGO_BIN_EXE_jitos-worker-scaffold");

/// The JITOS `crates/` directory, which generated crates depend on.
pub fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates")
        .canonicalize()
        .unwrap()
}

/// Runs one job per `args` on one worker started with `scratch` as its working directory
/// (confined under Pure with `scratch` read-write when `confined`), and returns each
/// terminal message; then closes the socket and expects a clean exit.
pub fn run_jobs(
    scratch: &Path,
    workspace: &Path,
    confined: bool,
    args: &[Vec<String>],
) -> Vec<WorkerMessage> {
    let mut confinement = Confinement::new(Profile::Pure);
    confinement.read_write.push(scratch.to_owned());
    let (daemon, worker) = UnixStream::pair().unwrap();
    let mut spawn = Spawn::new(SCAFFOLD)
        .cwd(scratch)
        .hand(worker.into(), CHANNEL_FD);
    // Never as root: a root caller lends the worker a uid and gives it its scratch, as
    // the daemon does.
    let lent = UidPool::for_caller().unwrap();
    if let Some(lent) = &lent {
        give_tree(scratch, lent.uid()).unwrap();
        spawn = spawn.uid(lent.uid());
    }
    // Unconfined is the degraded start: everything but Landlock and seccomp.
    let mut child = if confined {
        confinement.spawn(spawn)
    } else {
        confinement.spawn_degraded(spawn)
    }
    .unwrap();
    let mut end = DaemonEnd::accept(daemon).unwrap();
    assert_eq!(end.hello().name, "scaffold");
    let mut answers = Vec::new();
    for (job_id, args) in (1..).zip(args) {
        end.send_job(Job {
            job_id,
            attempt: 1,
            deadline_ms: 10_000,
            input: Vec::new(),
            workspace_dir: Some(workspace.to_str().unwrap().to_owned()),
            args: args.clone(),
        })
        .unwrap();
        let answer = loop {
            match end.next_message().unwrap() {
                WorkerMessage::Progress(_) | WorkerMessage::Heartbeat | WorkerMessage::Log(_) => {}
                terminal => break terminal,
            }
        };
        answers.push(answer);
    }
    drop(end);
    let status = child.wait().unwrap();
    assert!(status.success(), "worker exited with {status}");
    answers
}

/// The tree recorded after applying the proposal's one rewrite to a graph recording
/// `before`.
pub fn tree_after(before: &Tree, proposal: &Proposal) -> Tree {
    let mut graph = Graph::new();
    graph
        .apply(&sync_rewrite(&Tree::new(), before).unwrap())
        .unwrap();
    let [rewrite] = proposal.rewrites.as_slice() else {
        panic!("expected one rewrite, got {:?}", proposal.rewrites)
    };
    graph.apply(rewrite).unwrap();
    Tree::from_nodes(graph.nodes()).unwrap()
}

/// The proposal's file artifacts by blob, as the daemon stores them.
pub fn artifact_blobs(proposal: &Proposal) -> BTreeMap<BlobRef, Vec<u8>> {
    proposal
        .artifacts
        .iter()
        .filter(|a| a.name.starts_with("files/"))
        .map(|a| (jitos_treefs::blob_ref(&a.bytes), a.bytes.clone()))
        .collect()
}
