//! The writer's follow-on through the kernel service: what it makes due commits in the
//! group that made it due, and it hears each outcome only once the view readers get holds
//! that outcome's records (what it does next, such as starting a worker, reads that view).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::{Arc, Mutex, OnceLock};

use jitos_kernel::{
    Command, FollowOn, Kernel, KernelError, KernelHandle, KernelOptions, KernelService, Outcome,
    Request, State,
};
use jitos_ledger::{Actor, FixedClock};
use jitos_warp::Rewrite;

fn add(id: &str) -> Rewrite {
    Rewrite::from_json(&format!(
        r#"{{"ops":[{{"add_node":{{"id":"{id}","kind":"T"}}}}]}}"#
    ))
    .unwrap()
}

/// Adds `echo:<id>` after each `<id>` the state gains, and notes, for each outcome, its
/// record's seq and the head of the view the handle gave when the outcome was told.
struct Echo {
    handle: Arc<OnceLock<KernelHandle>>,
    told: Arc<Mutex<Vec<(u64, u64)>>>,
}

impl FollowOn for Echo {
    fn next(&mut self, state: &State, _now_ms: u64) -> Option<Request> {
        let missing = state
            .graph
            .nodes()
            .map(|node| node.id.as_str().to_owned())
            .find(|id| {
                !id.starts_with("echo:") && state.graph.node(&format!("echo:{id}")).is_none()
            })?;
        Some(Request {
            actor: Actor::System,
            command: Command::Rewrite(add(&format!("echo:{missing}"))),
        })
    }

    fn settled(&mut self, outcome: Result<Outcome, KernelError>) {
        let Ok(Outcome::Committed(commit)) = outcome else {
            panic!("the echo was not committed: {outcome:?}");
        };
        let seen = self
            .handle
            .get()
            .expect("the handle is set")
            .view()
            .head()
            .seq;
        self.told.lock().unwrap().push((commit.record.seq, seen));
    }
}

// Goal: an outcome of the follow-on is told only after the view holding its record is
// published, and what it makes due shares its cause's group. Method: a follow-on that
// echoes every node added; three rewrites through the service; at each telling the
// handle's view must already reach the echo's seq, and each echo directly follows its node.
#[test]
fn a_follow_on_hears_its_outcome_after_the_view_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = Kernel::open(
        dir.path(),
        KernelOptions {
            clock: Arc::new(FixedClock(1_700_000_000_000)),
            snapshot_every: 0,
            read_only: false,
            create_with_id: Some([3; 16]),
            verify_on_open: true,
        },
    )
    .unwrap();
    let handle = Arc::new(OnceLock::new());
    let told = Arc::new(Mutex::new(Vec::new()));
    let echo = Echo {
        handle: Arc::clone(&handle),
        told: Arc::clone(&told),
    };
    let service = KernelService::start_following(kernel, Some(Box::new(echo))).unwrap();
    handle.set(service.handle()).ok().unwrap();
    let client = service.handle();
    let mut added = Vec::new();
    for id in ["a", "b", "c"] {
        let outcome = client
            .execute_blocking(Actor::System, Command::Rewrite(add(id)))
            .unwrap();
        let Outcome::Committed(commit) = outcome else {
            panic!("{outcome:?}");
        };
        added.push(commit.record.seq);
    }
    let view = client.view();
    for id in ["a", "b", "c"] {
        assert!(
            view.graph().node(&format!("echo:{id}")).is_some(),
            "no echo of {id}"
        );
    }
    // Callers hear their answers before the follow-on is told; stopping the writer waits
    // for the telling.
    service.stop();
    let told = told.lock().unwrap().clone();
    assert_eq!(told.len(), 3, "{told:?}");
    for ((echo_seq, seen), node_seq) in told.iter().zip(&added) {
        assert_eq!(*echo_seq, node_seq + 1, "the echo left its cause's group");
        assert!(
            seen >= echo_seq,
            "told of record {echo_seq} with the view at {seen}"
        );
    }
}
