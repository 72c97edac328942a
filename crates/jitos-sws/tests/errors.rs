//! Refusals: limits, unknown and closed workspaces, seq order, open children, bad
//! rewrites and conflicts each get their typed error and leave the pool unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use jitos_sws::{
    Key, KeyValue, Over, Pool, Status, SwsError, Target, View, NESTING_DEPTH_MAX, REASON_BYTES_MAX,
    WORKSPACES_OPEN_MAX,
};
use jitos_warp::{Graph, RewriteError};

fn system() -> Graph {
    let mut graph = Graph::new();
    graph
        .apply(&rw(vec![add("a", "A"), add("b", "B"), set("a", "k", 1)]))
        .unwrap();
    graph
}

#[test]
fn nesting_deeper_than_the_limit_is_refused() {
    // Goal: depth is capped. Method: nest to the limit, then one more.
    let mut pool = Pool::new();
    pool.create(1, Over::System { at_seq: 0 }, 1).unwrap();
    for id in 2..=NESTING_DEPTH_MAX as u64 {
        pool.create(id, Over::Workspace { id: id - 1 }, id).unwrap();
    }
    let before = pool.clone();
    let last = NESTING_DEPTH_MAX as u64;
    let refused = pool.create(last + 1, Over::Workspace { id: last }, last + 1);
    assert_eq!(
        refused,
        Err(SwsError::TooDeep {
            depth: NESTING_DEPTH_MAX + 1,
            max: NESTING_DEPTH_MAX
        })
    );
    assert_eq!(pool, before);
}

#[test]
fn more_open_workspaces_than_the_limit_are_refused() {
    // Goal: the open count is capped, and closing one frees a place. Method: fill the
    // pool, try one more, discard one, try again.
    let mut pool = Pool::new();
    let max = WORKSPACES_OPEN_MAX as u64;
    for id in 1..=max {
        pool.create(id, Over::System { at_seq: 0 }, id).unwrap();
    }
    let refused = pool.create(max + 1, Over::System { at_seq: 0 }, max + 1);
    assert_eq!(
        refused,
        Err(SwsError::TooManyOpen {
            max: WORKSPACES_OPEN_MAX
        })
    );
    pool.discard(1, "make room", max + 1).unwrap();
    pool.create(max + 1, Over::System { at_seq: 0 }, max + 2)
        .unwrap();
    assert_eq!(pool.open_count(), WORKSPACES_OPEN_MAX);
}

#[test]
fn unknown_duplicate_and_closed_ids_are_refused() {
    // Goal: every call names a workspace that exists and is open. Method: call with an
    // unknown id, a taken id, and a discarded workspace.
    let g = system();
    let mut pool = Pool::new();
    assert_eq!(
        pool.apply(&g, 9, &rw(vec![add("c", "C")]), 1),
        Err(SwsError::UnknownWorkspace { id: 9 })
    );
    assert_eq!(
        pool.create(2, Over::Workspace { id: 9 }, 1),
        Err(SwsError::UnknownWorkspace { id: 9 })
    );
    pool.create(1, Over::System { at_seq: 0 }, 1).unwrap();
    assert_eq!(
        pool.create(1, Over::System { at_seq: 0 }, 2),
        Err(SwsError::DuplicateId { id: 1 })
    );
    pool.discard(1, "done", 2).unwrap();
    let closed = Err(SwsError::Closed {
        id: 1,
        status: Status::Discarded {
            seq: 2,
            reason: "done".to_owned(),
        },
    });
    assert_eq!(pool.apply(&g, 1, &rw(vec![add("c", "C")]), 3), closed);
    assert_eq!(pool.collapse(&g, 1, 3).map(|_| ()), closed);
    assert_eq!(pool.rebase(&g, 1, 3), closed);
    assert_eq!(pool.discard(1, "again", 3), closed);
    assert!(pool.view(&g, 1).is_err());
    assert_eq!(pool.create(2, Over::Workspace { id: 1 }, 3), closed);
    // Closed workspaces stay queryable until forgotten.
    assert!(matches!(
        pool.workspace(1).unwrap().status,
        Status::Discarded { .. }
    ));
    assert_eq!(pool.forget(1).unwrap().id, 1);
    assert_eq!(pool.forget(1), Err(SwsError::UnknownWorkspace { id: 1 }));
}

#[test]
fn forgetting_an_open_workspace_is_refused() {
    // Goal: only history can be forgotten. Method: forget an open workspace.
    let mut pool = Pool::new();
    pool.create(1, Over::System { at_seq: 0 }, 1).unwrap();
    assert_eq!(pool.forget(1), Err(SwsError::StillOpen { id: 1 }));
}

#[test]
fn seqs_must_move_forward_and_bases_must_be_covered() {
    // Goal: seqs are ordered, a base is in the past and within the system log. Method:
    // pass a repeated seq, a future base and a base below the log's floor.
    let mut g = system();
    let mut pool = Pool::new();
    pool.create(1, Over::System { at_seq: 0 }, 5).unwrap();
    assert_eq!(
        pool.create(2, Over::System { at_seq: 0 }, 5),
        Err(SwsError::SeqOutOfOrder { seq: 5, last: 5 })
    );
    assert_eq!(
        pool.create(2, Over::System { at_seq: 7 }, 6),
        Err(SwsError::BaseInFuture { at_seq: 7, seq: 6 })
    );
    pool.discard(1, "", 6).unwrap();
    // No reader: the commit at 7 is not kept, so states before 7 are gone.
    pool.commit_system(&mut g, &[rw(vec![add("c", "C")])], 7)
        .unwrap();
    assert_eq!(
        pool.create(2, Over::System { at_seq: 6 }, 8),
        Err(SwsError::BaseTooOld {
            at_seq: 6,
            floor: 7
        })
    );
    pool.create(2, Over::System { at_seq: 7 }, 8).unwrap();
    assert!(matches!(
        pool.commit_system(&mut g, &[rw(vec![add("d", "D")])], 7),
        Err(SwsError::SeqOutOfOrder { .. })
    ));
}

#[test]
fn open_children_block_collapse_rebase_and_discard() {
    // Goal: a parent cannot close or move while a child reads it. Method: try each with
    // a child open, then close the child and retry.
    let g = system();
    let mut pool = Pool::new();
    pool.create(1, Over::System { at_seq: 0 }, 1).unwrap();
    pool.create(2, Over::Workspace { id: 1 }, 2).unwrap();
    let blocked = Err(SwsError::HasOpenChildren {
        id: 1,
        children: vec![2],
    });
    assert_eq!(pool.collapse(&g, 1, 3).map(|_| ()), blocked);
    assert_eq!(pool.rebase(&g, 1, 3), blocked);
    assert_eq!(pool.discard(1, "", 3), blocked);
    pool.discard(2, "", 3).unwrap();
    pool.collapse(&g, 1, 4).unwrap();
}

#[test]
fn long_discard_reasons_are_refused() {
    // Goal: the recorded reason is bounded. Method: discard with one byte too many.
    let mut pool = Pool::new();
    pool.create(1, Over::System { at_seq: 0 }, 1).unwrap();
    let reason = "x".repeat(REASON_BYTES_MAX + 1);
    assert!(matches!(
        pool.discard(1, &reason, 2),
        Err(SwsError::ReasonTooLong { .. })
    ));
}

#[test]
fn a_refused_rewrite_changes_nothing() {
    // Goal: a rewrite the graph refuses leaves the workspace exactly as it was, with
    // the system's own error. Method: a valid op followed by one on a missing node.
    let g = system();
    let mut pool = Pool::new();
    pool.create(1, Over::System { at_seq: 0 }, 1).unwrap();
    let before = pool.clone();
    let refused = pool.apply(&g, 1, &rw(vec![set("a", "k", 2), set("zz", "k", 1)]), 2);
    let mut direct = g.clone();
    let expected = direct
        .apply(&rw(vec![set("a", "k", 2), set("zz", "k", 1)]))
        .unwrap_err();
    assert!(matches!(expected, RewriteError::MissingNode { .. }));
    assert_eq!(refused, Err(SwsError::Rewrite(expected)));
    assert_eq!(pool, before);
}

#[test]
fn a_conflict_report_names_key_access_values_and_seq() {
    // Goal: the report says what the workspace did to each clashing key, its value at
    // the base, and which system commit changed it; nothing changes. Method: the
    // workspace sets a.k and reads b; the system then changes both.
    let mut g = system();
    let mut pool = Pool::new();
    pool.create(1, Over::System { at_seq: 0 }, 1).unwrap();
    pool.apply(&g, 1, &rw(vec![set("a", "k", 5), link("a", "x", "b")]), 2)
        .unwrap();
    pool.commit_system(&mut g, &[rw(vec![set("a", "k", 9)])], 3)
        .unwrap();
    pool.commit_system(&mut g, &[rw(vec![remove("b", false)])], 4)
        .unwrap();
    let before = pool.clone();
    let Err(SwsError::Conflicts(report)) = pool.collapse(&g, 1, 5) else {
        panic!("expected a conflict");
    };
    assert_eq!(pool, before);
    assert_eq!(report.target, Target::System);
    let keys: Vec<&Key> = report.conflicts.iter().map(|c| &c.key).collect();
    assert_eq!(
        keys,
        vec![&Key::Node(id("b")), &Key::Attr(id("a"), "k".to_owned())]
    );
    let node_b = &report.conflicts[0];
    assert!(node_b.read && node_b.wrote.is_none());
    assert_eq!(node_b.changed_at, 4);
    assert_eq!(node_b.base, KeyValue::Node(Some("B".to_owned())));
    let attr = &report.conflicts[1];
    assert_eq!(attr.wrote, Some(KeyValue::Attr(Some(5.into()))));
    assert_eq!(attr.base, KeyValue::Attr(Some(1.into())));
    assert_eq!(attr.changed_at, 3);
    assert!(SwsError::Conflicts(report)
        .to_string()
        .contains("rebase or discard"));
    // Rebase is refused for the same reason; discard always works.
    assert!(matches!(pool.rebase(&g, 1, 5), Err(SwsError::Conflicts(_))));
    pool.discard(1, "conflict", 5).unwrap();
}

#[test]
fn a_child_conflicts_with_its_parent_and_rebase_clears_disjoint_changes() {
    // Goal: a nested workspace is checked against its parent's changes since its base,
    // and a sibling whose footprint misses those changes rebases and collapses. Method:
    // two children write different keys; the parent then changes the first one's key.
    let g = system();
    let mut pool = Pool::new();
    pool.create(1, Over::System { at_seq: 0 }, 1).unwrap();
    pool.create(2, Over::Workspace { id: 1 }, 2).unwrap();
    pool.create(3, Over::Workspace { id: 1 }, 3).unwrap();
    pool.apply(&g, 2, &rw(vec![set("a", "k", 7)]), 4).unwrap();
    pool.apply(&g, 3, &rw(vec![set("b", "j", 1)]), 5).unwrap();
    pool.apply(&g, 1, &rw(vec![set("a", "k", 8)]), 6).unwrap();
    let Err(SwsError::Conflicts(report)) = pool.collapse(&g, 2, 7) else {
        panic!("expected a conflict");
    };
    assert_eq!(report.target, Target::Workspace(1));
    assert_eq!(report.conflicts[0].changed_at, 6);
    pool.rebase(&g, 3, 7).unwrap();
    assert_eq!(pool.workspace(3).unwrap().base_seq, 7);
    pool.collapse(&g, 3, 8).unwrap();
    let view = pool.view(&g, 1).unwrap();
    let b = view.node(&id("b")).unwrap();
    assert_eq!(b.attrs.get("j"), Some(&1.into()));
}
