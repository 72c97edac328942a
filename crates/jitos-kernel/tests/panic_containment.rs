//! A command that panics, in decide or in the fold of its records, is refused with an
//! internal error and changes nothing: its work was on a copy of the state. The writer
//! thread goes on serving, the next command commits, and the state still equals a replay
//! of the ledger from genesis. The panics come from `Command::Fault`, which only the
//! `fault-injection` feature (on for these tests alone) builds.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    future::Future,
    path::Path,
    pin::pin,
    sync::Arc,
    task::{Context, Waker},
};

use jitos_kernel::{
    Command, Fault, Kernel, KernelError, KernelHandle, KernelOptions, KernelService, Outcome,
    Request, View,
};
use jitos_ledger::{Actor, FixedClock};
use jitos_warp::{NodeId, Op, Rewrite};

fn options() -> KernelOptions {
    KernelOptions {
        clock: Arc::new(FixedClock(1_700_000_000_000)),
        snapshot_every: 0,
        read_only: false,
        create_with_id: Some([13; 16]),
        verify_on_open: true,
    }
}

fn add(id: &str) -> Rewrite {
    Rewrite {
        ops: vec![Op::AddNode {
            id: NodeId::new(id).unwrap(),
            kind: "T".to_owned(),
            attrs: Default::default(),
        }],
        expect: Vec::new(),
    }
}

fn panic_in_fold(before: &str) -> Command {
    Command::Fault(Fault::PanicInFold {
        before: add(before),
    })
}

/// The refusal a contained panic gets, with the panic's message.
fn assert_internal(answer: &Result<Outcome, KernelError>, message: &str) {
    match answer {
        Err(KernelError::Internal(what)) => assert!(what.contains(message), "{what}"),
        other => panic!("a panicking command was answered {other:?}"),
    }
}

/// The view's state is what a fold of its ledger from genesis gives, all of it.
fn assert_replays(view: &View) {
    let replay = view.replay_verify().unwrap();
    assert_eq!(replay.replayed, replay.live, "{replay:?}");
    assert!(
        replay.workspaces_match && replay.jobs_match && replay.processes_match,
        "{replay:?}"
    );
    assert_eq!(replay.records, view.head().seq + 1, "{replay:?}");
}

/// Whether the writer has stopped, asked without waiting: `closed` resolves at once if so.
fn writer_closed(handle: &KernelHandle) -> bool {
    let closed = pin!(handle.closed());
    closed
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_ready()
}

fn start(dir: &Path) -> KernelService {
    KernelService::start(Kernel::open(dir, options()).unwrap()).unwrap()
}

// Goal: "a command that panics in decide is refused and the daemon keeps serving".
// Method: through the writer thread, commit one rewrite, send a command that panics in
// decide, then another rewrite; check the answers, that the panic left no record, that
// the writer is still open, and that the state equals a replay from genesis.
#[test]
fn a_panic_in_decide_refuses_only_that_command() {
    let dir = tempfile::tempdir().unwrap();
    let service = start(dir.path());
    let handle = service.handle();
    let first = handle.commit_blocking(Actor::System, add("first")).unwrap();
    let head = handle.view().head();

    let answer = handle.execute_blocking(Actor::System, Command::Fault(Fault::PanicInDecide));
    assert_internal(&answer, "fault injected in decide");
    assert_eq!(
        handle.view().head(),
        head,
        "the refused command recorded something"
    );
    assert!(
        !writer_closed(&handle),
        "the writer stopped after a contained panic"
    );

    let next = handle.commit_blocking(Actor::System, add("next")).unwrap();
    assert_eq!(next.record.seq, first.record.seq + 1);
    let view = handle.view();
    assert!(view.graph().node("next").is_some());
    assert_replays(&view);
    drop(view);
    service.stop();
}

// Goal: a command whose fold panics (the working copy half changed) is refused with
// KernelError::Internal, nothing of it is committed, the writer goes on, and the state
// equals a replay from genesis, also after the store is reopened. Method: the fault
// records a rewrite adding `half` and then a record whose fold panics; send it through
// the writer thread between two rewrites, then reopen the store.
#[test]
fn a_panic_in_fold_refuses_only_that_command() {
    let dir = tempfile::tempdir().unwrap();
    let service = start(dir.path());
    let handle = service.handle();
    handle.commit_blocking(Actor::System, add("first")).unwrap();
    let before = handle.view();

    let answer = handle.execute_blocking(Actor::System, panic_in_fold("half"));
    assert_internal(&answer, "fault injected in fold");
    let after = handle.view();
    assert_eq!(
        after.head(),
        before.head(),
        "the refused command recorded something"
    );
    assert_eq!(after.graph().digest(), before.graph().digest());
    assert!(after.graph().node("half").is_none(), "half a fold was kept");
    assert!(
        !writer_closed(&handle),
        "the writer stopped after a contained panic"
    );

    let next = handle.commit_blocking(Actor::System, add("next")).unwrap();
    assert_eq!(next.record.seq, before.head().seq + 1);
    let view = handle.view();
    assert!(view.graph().node("next").is_some());
    assert!(view.graph().node("half").is_none());
    assert_replays(&view);
    let digest = view.graph().digest();
    // The handle and views hold the store open; the reopen below needs it closed.
    drop((before, after, view, handle));
    service.stop();

    let reopened = Kernel::open(dir.path(), options()).unwrap();
    assert_eq!(reopened.graph().digest(), digest);
    assert_replays(&reopened.view());
}

// Goal: a panic in the middle of a group refuses only its own command: the commands
// before and after it in the same synced write commit, each against the state the one
// before left (the fault's half-folded rewrite not among them). Method: one
// `Kernel::execute` of [add a, fault in fold (adding b), fault in decide, add b, add c];
// `add b` commits only if the fault's `b` was thrown away.
#[test]
fn a_panic_inside_a_group_spares_the_rest_of_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = Kernel::open(dir.path(), options()).unwrap();
    let request = |command| Request {
        actor: Actor::System,
        command,
    };
    let answers = kernel.execute(vec![
        request(Command::Rewrite(add("a"))),
        request(panic_in_fold("b")),
        request(Command::Fault(Fault::PanicInDecide)),
        request(Command::Rewrite(add("b"))),
        request(Command::Rewrite(add("c"))),
    ]);
    assert_eq!(answers.len(), 5);
    assert_internal(&answers[1], "fault injected in fold");
    assert_internal(&answers[2], "fault injected in decide");
    let seqs: Vec<u64> = [&answers[0], &answers[3], &answers[4]]
        .into_iter()
        .map(|answer| match answer {
            Ok(Outcome::Committed(commit)) => commit.record.seq,
            other => panic!("a rewrite around the faults was answered {other:?}"),
        })
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(kernel.head().seq, 3);
    for id in ["a", "b", "c"] {
        assert!(kernel.graph().node(id).is_some(), "{id} is missing");
    }
    assert_replays(&kernel.view());
}
