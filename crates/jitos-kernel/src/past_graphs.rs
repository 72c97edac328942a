//! The graphs of the last past seqs read, kept a short while.
//!
//! A graph as of a past seq is rebuilt from the snapshot before it and the records after
//! it: seconds on a large store. A reader pages through it, or asks again, within moments,
//! so the last `KEPT` built are kept, each until `IDLE_FOR` passes without a read, and a
//! later seq folds on from the nearest kept state before it when no snapshot is nearer.
//!
//! Dropping a large graph takes about as long as building it, so no reader waits for
//! that: one thread, running while anything is kept, drops what leaves.

use std::{
    sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError},
    time::{Duration, Instant},
};

use jitos_warp::{Graph, Node, NodeId};

use crate::State;

/// Past states kept at most: one reader paging, and another reading elsewhere meanwhile.
const KEPT: usize = 2;

/// How long a kept state outlives its last read: pages are asked for moments apart.
const IDLE_FOR: Duration = Duration::from_secs(120);

/// A graph, with its node ids sorted once for all the pages read from it.
pub struct PagedGraph {
    graph: Graph,
    order: OnceLock<Vec<NodeId>>,
}

impl PagedGraph {
    /// `graph`, its order sorted at the first page.
    pub fn new(graph: Graph) -> PagedGraph {
        PagedGraph {
            graph,
            order: OnceLock::new(),
        }
    }

    /// The whole graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The nodes in id order after `after` (from the first when `None`). The first call
    /// sorts the ids, O(n log n); each call after is O(log n) to start.
    pub fn nodes_after<'a>(&'a self, after: Option<&str>) -> impl Iterator<Item = &'a Node> + 'a {
        let order = self
            .order
            .get_or_init(|| self.graph.nodes().map(|node| node.id.clone()).collect());
        let start = after.map_or(0, |after| order.partition_point(|id| id.as_str() <= after));
        order
            .get(start..)
            .unwrap_or_default()
            .iter()
            .filter_map(|id| self.graph.node(id.as_str()))
    }
}

/// The kept states of one store, shared by all its views.
pub(crate) struct PastGraphs {
    shared: Arc<Shared>,
    idle_for: Duration,
}

struct Shared {
    kept: Mutex<Kept>,
    /// Something left, or the store closed: the sweeper looks again.
    changed: Condvar,
}

#[derive(Default)]
struct Kept {
    /// Least recently read first.
    entries: Vec<Entry>,
    /// Out of `entries`, waiting for the sweeper to drop them.
    leaving: Vec<Entry>,
    sweeping: bool,
    closed: bool,
}

struct Entry {
    seq: u64,
    state: State,
    paged: Arc<PagedGraph>,
    read_at: Instant,
}

impl Default for PastGraphs {
    fn default() -> PastGraphs {
        PastGraphs::new(IDLE_FOR)
    }
}

impl PastGraphs {
    fn new(idle_for: Duration) -> PastGraphs {
        PastGraphs {
            shared: Arc::new(Shared {
                kept: Mutex::new(Kept::default()),
                changed: Condvar::new(),
            }),
            idle_for,
        }
    }

    /// The graph as of `seq`, if kept; the read keeps it longer.
    pub(crate) fn get(&self, seq: u64) -> Option<Arc<PagedGraph>> {
        let mut kept = self.shared.lock();
        let at = kept.entries.iter().position(|entry| entry.seq == seq)?;
        let mut entry = kept.entries.remove(at);
        entry.read_at = Instant::now();
        let paged = Arc::clone(&entry.paged);
        kept.entries.push(entry);
        Some(paged)
    }

    /// The kept state nearest below `seq`, and its seq: a base to fold on from.
    pub(crate) fn base_below(&self, seq: u64) -> Option<(u64, State)> {
        let kept = self.shared.lock();
        kept.entries
            .iter()
            .filter(|entry| entry.seq < seq)
            .max_by_key(|entry| entry.seq)
            .map(|entry| (entry.seq, entry.state.clone()))
    }

    /// Keeps `state` as the state at `seq`, letting the least recently read go beyond
    /// `KEPT`; its graph, ready to page. Another reader may have kept `seq` meanwhile:
    /// then that one is answered, and this one left to the sweeper.
    pub(crate) fn keep(&self, seq: u64, state: State) -> Arc<PagedGraph> {
        let mut entry = Entry {
            seq,
            paged: Arc::new(PagedGraph::new(state.graph.clone())),
            state,
            read_at: Instant::now(),
        };
        let mut kept = self.shared.lock();
        if kept.closed {
            drop(kept);
            return entry.paged;
        }
        if let Some(there) = kept.entries.iter().position(|e| e.seq == seq) {
            let mut found = kept.entries.remove(there);
            found.read_at = entry.read_at;
            std::mem::swap(&mut entry, &mut found);
            kept.leaving.push(found);
        }
        let paged = Arc::clone(&entry.paged);
        kept.entries.push(entry);
        let over = kept.entries.len().saturating_sub(KEPT);
        let evicted: Vec<Entry> = kept.entries.drain(..over).collect();
        kept.leaving.extend(evicted);
        if kept.sweeping {
            self.shared.changed.notify_one();
            return paged;
        }
        let shared = Arc::clone(&self.shared);
        let idle_for = self.idle_for;
        let started = std::thread::Builder::new()
            .name("past-graphs".to_owned())
            .spawn(move || shared.sweep(idle_for));
        match started {
            Ok(_) => kept.sweeping = true,
            Err(e) => {
                // Nothing could drop them later: none is kept, and what left goes now.
                tracing::warn!(error = %e, "past graphs are not kept: no thread to drop them");
                let gone = (
                    std::mem::take(&mut kept.entries),
                    std::mem::take(&mut kept.leaving),
                );
                drop(kept);
                drop(gone);
            }
        }
        paged
    }
}

impl Drop for PastGraphs {
    fn drop(&mut self) {
        let mut kept = self.shared.lock();
        kept.closed = true;
        let gone = (
            std::mem::take(&mut kept.entries),
            std::mem::take(&mut kept.leaving),
        );
        drop(kept);
        self.shared.changed.notify_one();
        drop(gone);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Kept> {
        // Every change to `Kept` is whole before anything that can panic: a poisoned lock
        // still guards consistent entries.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops what leaves, and what was not read for `idle_for`, until nothing is kept.
    fn sweep(&self, idle_for: Duration) {
        let mut kept = self.lock();
        loop {
            let now = Instant::now();
            let (idle, fresh): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut kept.entries)
                .into_iter()
                .partition(|entry| now.duration_since(entry.read_at) >= idle_for);
            kept.entries = fresh;
            kept.leaving.extend(idle);
            if !kept.leaving.is_empty() {
                let leaving = std::mem::take(&mut kept.leaving);
                drop(kept);
                drop(leaving);
                kept = self.lock();
                continue;
            }
            let Some(oldest) = kept.entries.iter().map(|entry| entry.read_at).min() else {
                kept.sweeping = false;
                return;
            };
            if kept.closed {
                kept.sweeping = false;
                return;
            }
            let wait = (oldest + idle_for).saturating_duration_since(now);
            kept = self
                .changed
                .wait_timeout(kept, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn state_with(nodes: usize) -> State {
        let ops = (0..nodes)
            .map(|i| jitos_warp::Op::AddNode {
                id: NodeId::new(format!("n{i:03}")).unwrap(),
                kind: "T".to_owned(),
                attrs: Default::default(),
            })
            .collect();
        let mut state = State::default();
        state
            .graph
            .apply(&jitos_warp::Rewrite {
                ops,
                expect: Vec::new(),
            })
            .unwrap();
        state
    }

    fn kept_seqs(past: &PastGraphs) -> Vec<u64> {
        past.shared.lock().entries.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn pages_follow_id_order_from_the_cursor() {
        // Goal: the pages of a paged graph are its nodes in id order, each after the cursor.
        let paged = PagedGraph::new(state_with(25).graph);
        let ids = |after: Option<&str>| -> Vec<String> {
            paged.nodes_after(after).map(|n| n.id.to_string()).collect()
        };
        let all: Vec<String> = paged.graph().nodes().map(|n| n.id.to_string()).collect();
        assert_eq!(ids(None), all);
        assert_eq!(ids(Some("n010")), all[11..].to_vec());
        // A cursor between ids, or past the last, starts at the next one.
        assert_eq!(ids(Some("n010a")), all[11..].to_vec());
        assert!(ids(Some("z")).is_empty());
    }

    #[test]
    fn at_most_kept_states_stay_and_the_least_recently_read_leaves() {
        // Goal: the cache is bounded, a read keeps its entry, and a base is the nearest
        // kept state below the seq asked.
        let past = PastGraphs::default();
        past.keep(10, state_with(1));
        past.keep(20, state_with(2));
        assert!(past.get(10).is_some());
        past.keep(30, state_with(3));
        assert_eq!(kept_seqs(&past), vec![10, 30]);
        assert!(past.get(20).is_none());
        let (seq, base) = past.base_below(25).unwrap();
        assert_eq!((seq, base.graph.node_count()), (10, 1));
        assert!(past.base_below(10).is_none());
    }

    #[test]
    fn a_state_not_read_for_the_idle_time_is_dropped() {
        // Goal: nothing is held for long after its last read.
        let past = PastGraphs::new(Duration::from_millis(50));
        let paged = past.keep(7, state_with(1));
        let held = Arc::downgrade(&paged);
        drop(paged);
        let deadline = Instant::now() + Duration::from_secs(10);
        while held.upgrade().is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(held.upgrade().is_none(), "the idle state is still held");
        assert!(kept_seqs(&past).is_empty());
    }
}
