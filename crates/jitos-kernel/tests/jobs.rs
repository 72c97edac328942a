//! Job attempts in the kernel: a dispatch and exactly one terminal record per attempt,
//! proposals validated against the dispatch's scope before anything is recorded, and the
//! whole of it folded back the same by recovery, snapshots and replay.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::Commands as _;
use std::sync::Arc;

use jitos_kernel::{
    AttemptStatus, Dispatch, Effect, FailureCause, JobsError, Kernel, KernelError, KernelOptions,
    Outcome, Proposed,
};
use jitos_ledger::{Actor, FixedClock};
use jitos_sws::Over;
use jitos_warp::Rewrite;

fn open(dir: &std::path::Path, snapshot_every: u64) -> Kernel {
    Kernel::open(
        dir,
        KernelOptions {
            clock: Arc::new(FixedClock(1_700_000_000_000)),
            snapshot_every,
            read_only: false,
            create_with_id: Some([7; 16]),
            verify_on_open: true,
        },
    )
    .unwrap()
}

fn dispatch(sws: u64, effect: Effect) -> Dispatch {
    Dispatch {
        worker: "noop".to_owned(),
        worker_version: "0.1.0".to_owned(),
        sws,
        args: Vec::new(),
        input: Vec::new(),
        deadline_ms: 1_000,
        effect,
        paths: Vec::new(),
        owner: None,
    }
}

/// A new workspace over the system and a graph-only attempt dispatched into it.
fn sws_and_attempt(kernel: &mut Kernel) -> (u64, u64) {
    let sws = kernel
        .sws_create(Actor::System, Over::System { at_seq: 0 })
        .unwrap()
        .seq;
    let attempt = kernel
        .job_dispatch(Actor::System, dispatch(sws, Effect::GraphOnly))
        .unwrap()
        .seq;
    (sws, attempt)
}

fn proposal(json: &str) -> Proposed {
    Proposed {
        rewrites: vec![Rewrite::from_json(json).unwrap()],
        artifacts: vec![("stdout".to_owned(), b"hi".to_vec())],
        exit_status: 0,
        cpu_ms: 1,
        max_rss_kib: 2,
    }
}

const ADD_NODE: &str = r#"{"ops":[{"add_node":{"id":"noop:1","kind":"noop"}}]}"#;
const ADD_FILE_NODE: &str = r#"{"ops":[{"add_node":{"id":"file:a.txt","kind":"File"}}]}"#;

// Goal: the attempt life cycle is one dispatch and one end, the end is refused a second
// time, and an accepted proposal lands in its workspace only. Method: dispatch, propose,
// then try every kind of second end; read the workspace and the system.
#[test]
fn an_attempt_ends_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path(), 0);
    let (sws, attempt) = sws_and_attempt(&mut kernel);
    assert_eq!(kernel.jobs().running().count(), 1);
    let outcome = kernel
        .job_propose(Actor::System, attempt, proposal(ADD_NODE))
        .unwrap();
    assert!(matches!(outcome, Outcome::ProposalDone(_)), "{outcome:?}");
    assert!(kernel.sws_graph(sws).unwrap().node("noop:1").is_some());
    assert_eq!(
        kernel.graph().node_count(),
        0,
        "the system must be untouched"
    );

    let again = kernel.job_fail(Actor::System, attempt, FailureCause::Crashed, "x".into());
    assert!(
        matches!(
            again,
            Err(KernelError::JobRefused(JobsError::UnknownAttempt { .. }))
        ),
        "{again:?}"
    );
    let again = kernel.job_propose(Actor::System, attempt, proposal(ADD_NODE));
    assert!(
        matches!(again, Err(KernelError::JobRefused(_))),
        "{again:?}"
    );
    let unknown = kernel.job_fail(Actor::System, 999, FailureCause::Crashed, "x".into());
    assert!(
        matches!(
            unknown,
            Err(KernelError::JobRefused(JobsError::UnknownAttempt { .. }))
        ),
        "{unknown:?}"
    );
    let closed = kernel.job_dispatch(Actor::System, dispatch(12345, Effect::GraphOnly));
    assert!(
        matches!(closed, Err(KernelError::JobRefused(_))),
        "{closed:?}"
    );
    assert_eq!(kernel.jobs().running().count(), 0);
}

// Goal: a proposal outside the job's effect class is refused with its reason and applies
// nothing, and the refusal is the attempt's one end. Method: a graph-only job proposes a
// file node.
#[test]
fn a_proposal_outside_its_scope_is_refused_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path(), 0);
    let (sws, attempt) = sws_and_attempt(&mut kernel);
    let outcome = kernel
        .job_propose(Actor::System, attempt, proposal(ADD_FILE_NODE))
        .unwrap();
    let Outcome::ProposalRefused { reason, .. } = outcome else {
        panic!("a file from a graph-only job was applied: {outcome:?}");
    };
    assert!(reason.contains("may not change files"), "{reason}");
    assert_eq!(kernel.sws_graph(sws).unwrap().node_count(), 0);
    match &kernel.view().attempt(attempt).unwrap().unwrap().status {
        AttemptStatus::Refused { reason: kept, .. } => assert_eq!(kept, &reason),
        other => panic!("the attempt is {other:?}"),
    }
}

// Goal: attempts and their ends come back the same from the ledger alone: on reopen (from
// a snapshot and its tail) and on replay from genesis. Method: a done, a failed and a
// running attempt with snapshots every 3 records; reopen and compare; replay --verify.
#[test]
fn attempts_fold_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path(), 3);
    let sws = kernel
        .sws_create(Actor::System, Over::System { at_seq: 0 })
        .unwrap()
        .seq;
    let done = kernel
        .job_dispatch(Actor::System, dispatch(sws, Effect::GraphOnly))
        .unwrap()
        .seq;
    kernel
        .job_propose(Actor::System, done, proposal(ADD_NODE))
        .unwrap();
    let failed = kernel
        .job_dispatch(Actor::System, dispatch(sws, Effect::GraphOnly))
        .unwrap()
        .seq;
    kernel
        .job_fail(Actor::System, failed, FailureCause::Deadline, "late".into())
        .unwrap();
    kernel
        .job_dispatch(Actor::System, dispatch(sws, Effect::GraphOnly))
        .unwrap();
    let live = kernel.jobs().clone();
    let replay = kernel.replay_verify().unwrap();
    assert!(replay.jobs_match && replay.workspaces_match, "{replay:?}");
    drop(kernel);

    let kernel = open(dir.path(), 3);
    assert_eq!(kernel.jobs(), &live);
    assert_eq!(kernel.jobs().running().count(), 1);
    assert!(kernel.sws_graph(sws).unwrap().node("noop:1").is_some());
}
