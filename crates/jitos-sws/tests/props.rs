//! Property tests of the workspace algebra: collapse equals direct application,
//! isolation, exact conflicts, nested collapse, `AsOf` history, and serde round trips.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeSet;

use common::*;
use jitos_sws::{AsOf, Key, Over, Pool, SwsError};
use jitos_warp::{Expect, Graph, Rewrite};
use proptest::{collection::vec, prelude::*};

/// Applies `rewrites` in the workspace and to `direct`, asserting each is accepted or
/// refused alike (with the same error); returns the accepted ones.
fn apply_both(
    pool: &mut Pool,
    system: &Graph,
    ws: u64,
    direct: &mut Graph,
    rewrites: &[Rewrite],
    seq: &mut u64,
) -> Vec<Rewrite> {
    let mut accepted = Vec::new();
    for rewrite in rewrites {
        *seq += 1;
        let in_ws = pool.apply(system, ws, rewrite, *seq);
        let straight = direct.apply(rewrite);
        match (in_ws, straight) {
            (Ok(()), Ok(_)) => accepted.push(rewrite.clone()),
            (Err(SwsError::Rewrite(a)), Err(b)) => assert_eq!(a, b),
            (a, b) => panic!("workspace {a:?} but direct {:?}", b.map(|_| ())),
        }
    }
    accepted
}

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn collapse_equals_direct_application(g0 in graph(), rewrites in vec(rewrite(), 0..12)) {
        // Goal: a conflict-free collapse gives the system exactly what applying the same
        // rewrites directly gives, refusals included. Method: apply each rewrite in a
        // workspace and to a clone, then collapse and apply its rewrites to the system.
        let mut pool = Pool::new();
        pool.create(1, Over::System { at_seq: 1 }, 1).unwrap();
        let mut direct = g0.clone();
        let mut seq = 1;
        apply_both(&mut pool, &g0, 1, &mut direct, &rewrites, &mut seq);
        seq += 1;
        let collapse = pool.collapse(&g0, 1, seq).unwrap();
        let mut system = g0.clone();
        pool.commit_system(&mut system, &collapse.rewrites, seq).unwrap();
        prop_assert_eq!(system.digest(), direct.digest());
        prop_assert_eq!(graph_contents(&system).1, graph_contents(&direct).1);
    }

    #[test]
    fn workspaces_are_isolated(g0 in graph(), rewrites in vec(rewrite(), 0..12)) {
        // Goal: workspace applies change only the workspace, its merged view is the
        // directly rewritten graph (versions included), and discard changes nothing.
        // Method: compare the merged view, base view and a sibling's view with clones.
        let mut pool = Pool::new();
        pool.create(1, Over::System { at_seq: 1 }, 1).unwrap();
        pool.create(2, Over::System { at_seq: 1 }, 2).unwrap();
        let mut direct = g0.clone();
        let mut seq = 2;
        apply_both(&mut pool, &g0, 1, &mut direct, &rewrites, &mut seq);
        let view = pool.view(&g0, 1).unwrap();
        prop_assert_eq!(contents(&view), graph_contents(&direct));
        prop_assert_eq!(jitos_sws::materialize(&view).unwrap().digest(), direct.digest());
        prop_assert_eq!(contents(&pool.base_view(&g0, 1).unwrap()), graph_contents(&g0));
        prop_assert_eq!(contents(&pool.view(&g0, 2).unwrap()), graph_contents(&g0));
        drop(view);
        let before = g0.digest();
        pool.discard(1, "test", seq + 1).unwrap();
        prop_assert_eq!(g0.digest(), before);
        prop_assert_eq!(contents(&pool.view(&g0, 2).unwrap()), graph_contents(&g0));
    }

    #[test]
    fn conflicts_are_exact(
        g0 in graph(),
        steps in vec((any::<bool>(), rewrite()), 0..16),
    ) {
        // Goal: collapse is refused iff the footprint meets a key the system changed
        // since the base, and names exactly those keys; otherwise replaying the accepted
        // workspace rewrites on the changed system gives the collapsed system. Method:
        // interleave workspace applies and system commits; compute the system's changed
        // keys by diffing graph states around each commit.
        let mut pool = Pool::new();
        pool.create(1, Over::System { at_seq: 1 }, 1).unwrap();
        let mut system = g0.clone();
        let mut changed = BTreeSet::new();
        let mut accepted = Vec::new();
        let mut seq = 1;
        for (in_ws, rewrite) in &steps {
            seq += 1;
            if *in_ws {
                if pool.apply(&system, 1, rewrite, seq).is_ok() {
                    accepted.push(rewrite.clone());
                }
            } else {
                let before = system.clone();
                if pool.commit_system(&mut system, std::slice::from_ref(rewrite), seq).is_ok() {
                    changed.extend(changed_keys(&before, &system));
                }
            }
        }
        let footprint = pool.workspace(1).unwrap().footprint.clone();
        let expected: BTreeSet<Key> = changed
            .iter()
            .filter(|key| {
                footprint.reads.contains(*key)
                    || footprint.writes.contains(*key)
                    || key.nodes().iter().any(|id| footprint.nodes_read.contains(*id))
            })
            .cloned()
            .collect();
        seq += 1;
        match pool.collapse(&system, 1, seq) {
            Err(SwsError::Conflicts(report)) => {
                let reported: BTreeSet<Key> =
                    report.conflicts.iter().map(|c| c.key.clone()).collect();
                prop_assert_eq!(reported, expected);
                prop_assert!(pool.workspace(1).unwrap().is_open());
            }
            Ok(collapse) => {
                prop_assert!(expected.is_empty(), "missed conflicts {:?}", expected);
                let mut replay = system.clone();
                for rewrite in &accepted {
                    prop_assert!(replay.apply(rewrite).is_ok());
                }
                pool.commit_system(&mut system, &collapse.rewrites, seq).unwrap();
                prop_assert_eq!(system.digest(), replay.digest());
            }
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }

    #[test]
    fn nested_collapse_composes(
        g0 in graph(),
        before in vec(rewrite(), 0..6),
        child in vec(rewrite(), 0..8),
        after in vec(rewrite(), 0..6),
    ) {
        // Goal: child into parent, then parent into system, equals applying every
        // rewrite directly in order. Method: parent applies, child applies, child
        // collapses, parent applies more, parent collapses; compare with a clone.
        let mut pool = Pool::new();
        pool.create(1, Over::System { at_seq: 1 }, 1).unwrap();
        let mut direct = g0.clone();
        let mut seq = 1;
        apply_both(&mut pool, &g0, 1, &mut direct, &before, &mut seq);
        seq += 1;
        pool.create(2, Over::Workspace { id: 1 }, seq).unwrap();
        apply_both(&mut pool, &g0, 2, &mut direct, &child, &mut seq);
        prop_assert_eq!(contents(&pool.view(&g0, 2).unwrap()), graph_contents(&direct));
        seq += 1;
        pool.collapse(&g0, 2, seq).unwrap();
        prop_assert_eq!(
            jitos_sws::materialize(&pool.view(&g0, 1).unwrap()).unwrap().digest(),
            direct.digest()
        );
        // A collapse applies net changes, so versions after it count those, not the
        // child's every op (versions are history, outside the digest): expects on
        // versions are dropped from the rewrites that follow.
        let after: Vec<Rewrite> = after
            .into_iter()
            .map(|mut rewrite| {
                rewrite.expect.retain(|e| !matches!(e, Expect::NodeVersion { .. }));
                rewrite
            })
            .collect();
        apply_both(&mut pool, &g0, 1, &mut direct, &after, &mut seq);
        seq += 1;
        let collapse = pool.collapse(&g0, 1, seq).unwrap();
        let mut system = g0.clone();
        pool.commit_system(&mut system, &collapse.rewrites, seq).unwrap();
        prop_assert_eq!(system.digest(), direct.digest());
    }

    #[test]
    fn as_of_equals_history(
        g0 in graph(),
        commits in vec(vec(rewrite(), 1..3), 1..12),
        rebase_at in 0..12usize,
    ) {
        // Goal: the system read as of any seq the log covers is the system as it was
        // then, versions included, also after pruning. Method: keep a clone per seq and
        // compare; rebase the reader midway so the log prunes below it.
        let mut pool = Pool::new();
        pool.create(1, Over::System { at_seq: 1 }, 1).unwrap();
        let mut system = g0.clone();
        let mut history = vec![(1, system.clone())];
        let mut seq = 1;
        // Nothing pruned yet: the log holds every change since the pool began.
        let mut floor = 0;
        for (at, batch) in commits.iter().enumerate() {
            seq += 1;
            if pool.commit_system(&mut system, batch, seq).is_ok() {
                history.push((seq, system.clone()));
            }
            if at == rebase_at {
                seq += 1;
                pool.rebase(&system, 1, seq).unwrap();
                history.push((seq, system.clone()));
                floor = seq;
            }
        }
        prop_assert_eq!(pool.system_log().floor(), floor);
        for (at, graph) in history.iter().filter(|(at, _)| *at >= floor) {
            let view = AsOf::new(Box::new(&system), pool.system_log(), *at);
            prop_assert_eq!(contents(&view), graph_contents(graph));
        }
    }

    #[test]
    fn serde_round_trip_preserves_behaviour(
        g0 in graph(),
        steps in vec((0..3u8, rewrite()), 0..12),
    ) {
        // Goal: a pool decoded from its bincode encoding is equal, re-encodes to the same
        // bytes, and behaves the same. Method: build a pool with nested workspaces and
        // system commits, round-trip it, then collapse both and compare outcomes.
        let mut pool = Pool::new();
        pool.create(1, Over::System { at_seq: 1 }, 1).unwrap();
        pool.create(2, Over::Workspace { id: 1 }, 2).unwrap();
        let mut system = g0.clone();
        let mut seq = 2;
        for (target, rewrite) in &steps {
            seq += 1;
            let _ = match target {
                0 => pool.commit_system(&mut system, std::slice::from_ref(rewrite), seq).map(|_| ()),
                1 => pool.apply(&system, 1, rewrite, seq),
                _ => pool.apply(&system, 2, rewrite, seq),
            };
        }
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&pool, config).unwrap();
        let (mut back, used): (Pool, usize) =
            bincode::serde::decode_from_slice(&bytes, config).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(&back, &pool);
        prop_assert_eq!(bincode::serde::encode_to_vec(&back, config).unwrap(), bytes);
        prop_assert_eq!(
            contents(&back.view(&system, 2).unwrap()),
            contents(&pool.view(&system, 2).unwrap())
        );
        for id in [2, 1] {
            seq += 1;
            let a = pool.collapse(&system, id, seq);
            let b = back.collapse(&system, id, seq);
            prop_assert_eq!(a, b);
        }
        prop_assert_eq!(back, pool);
    }
}
