//! Properties of compilation over random partial orders: every job waits for exactly the
//! steps its step comes after, the result is acyclic, and planning is repeatable.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use jitos_tasks::{plan, Intent, Library};
use jitos_warp::Graph;
use proptest::prelude::*;

/// Steps `s0..sN`, each after a random subset of the lower-numbered ones, listed in a
/// random order: the text of a library and which steps each comes after.
fn partial_order() -> impl Strategy<Value = (String, Vec<Vec<usize>>)> {
    (2usize..7)
        .prop_flat_map(|n| {
            let edges = proptest::collection::vec(proptest::bool::weighted(0.4), n * n);
            let order = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
            (Just(n), edges, order)
        })
        .prop_map(|(n, edges, order)| {
            let after: Vec<Vec<usize>> = (0..n)
                .map(|i| (0..i).filter(|j| edges[i * n + j]).collect())
                .collect();
            let steps: Vec<String> = order
                .iter()
                .map(|&i| {
                    let after: Vec<String> = after[i].iter().map(|j| format!("\"s{j}\"")).collect();
                    format!(
                        "{{ task = \"leaf\", id = \"s{i}\", after = [{}] }}",
                        after.join(", ")
                    )
                })
                .collect();
            let text = format!(
                "[task.top]\n[[task.top.method]]\nname = \"m\"\norder = \"partial\"\nsteps = [{}]\n\
                 [task.leaf]\nrun = {{ worker = \"noop\", effect = \"none\", timeout_secs = 1 }}\n",
                steps.join(", ")
            );
            (text, after)
        })
}

fn intent() -> Intent {
    Intent::parse(
        "goal = \"top\"\n[allow]\nworkers = [\"noop\"]\n",
        Path::new("intent.toml"),
    )
    .unwrap()
}

proptest! {
    #[test]
    fn jobs_wait_for_exactly_their_steps((text, after) in partial_order()) {
        let library = Library::parse(&text, Path::new("random.toml")).unwrap();
        let slaps = plan(&library, &intent(), &Graph::new()).unwrap();
        prop_assert_eq!(&plan(&library, &intent(), &Graph::new()).unwrap(), &slaps);
        let dag = &slaps[0].dag;
        prop_assert_eq!(dag.check(), Ok(()));
        let step_of = |job: usize| -> usize {
            dag.jobs[job].id.rsplit('s').next().unwrap().parse().unwrap()
        };
        for (job, node) in dag.jobs.iter().enumerate() {
            let mut waits: Vec<usize> = node.after.iter().map(|&j| step_of(j)).collect();
            waits.sort_unstable();
            prop_assert_eq!(&waits, &after[step_of(job)]);
        }
        // Acyclic: repeatedly take the jobs whose waits are all taken.
        let mut taken = vec![false; dag.jobs.len()];
        for _ in 0..dag.jobs.len() {
            let ready = (0..dag.jobs.len())
                .find(|&j| !taken[j] && dag.jobs[j].after.iter().all(|&a| taken[a]));
            prop_assert!(ready.is_some(), "the jobs wait on each other in a cycle");
            if let Some(j) = ready {
                taken[j] = true;
            }
        }
    }
}
