//! `View`: what a reader sees — the folded state after one group of records, and the
//! ledger up to that group's head. The writer publishes a new view after every group; a
//! view is immutable and cheap to clone (the state is persistent), so any number of
//! readers on any threads hold one for as long as they like while the writer goes on.

use std::{path::Path, sync::Arc};

use jitos_ledger::{Hash, Head, Ledger, Record};
use jitos_sched::{JobState, Need, Processes, Status};
use jitos_sws::{materialize, KeyDiff, Pool, SwsError};
use jitos_tree::{diff_trees, Tree};
use jitos_warp::{BlobRef, Graph};

use crate::{
    collapse_hold::{stands, Hold},
    files::tree_of,
    past_graphs::{PagedGraph, PastGraphs},
    process_record::{AskContext, ProcessRecord},
    recovery::RecoveryReport,
    ruling::waiting_need,
    run_environment::RunEnvironment,
    time_travel, verify, HistoryStep, Jobs, KernelError, KernelOptions, ReplayOutcome, State,
    VerifyOutcome,
};

/// The state and ledger as of one committed group.
#[derive(Clone)]
pub struct View {
    pub(crate) state: State,
    /// A read handle on the ledger, seeing the chain up to this view's head.
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) facts: Arc<StoreFacts>,
    /// The newest snapshot's seq, as of this view.
    pub(crate) last_snapshot_seq: Option<u64>,
}

/// What every view of an open store shares: what does not change while it is open, and
/// the graphs of past seqs read lately.
pub(crate) struct StoreFacts {
    pub(crate) options: KernelOptions,
    pub(crate) dir: String,
    pub(crate) recovery: RecoveryReport,
    pub(crate) broken_at: Option<(u64, String)>,
    pub(crate) past: PastGraphs,
}

impl View {
    /// The system graph.
    pub fn graph(&self) -> &Graph {
        &self.state.graph
    }

    /// The open workspaces ([`View::workspace_summary`] answers closed ones too).
    pub fn pool(&self) -> &Pool {
        &self.state.pool
    }

    /// The running attempts and the worker registry ([`View::attempt`] answers ended
    /// attempts too).
    pub fn jobs(&self) -> &Jobs {
        &self.state.jobs
    }

    /// The live processes ([`View::process`] answers ended ones too).
    pub fn processes(&self) -> &Processes {
        &self.state.processes
    }

    /// The newest snapshot recovery could trust or the writer has stored since.
    pub fn last_snapshot_seq(&self) -> Option<u64> {
        self.last_snapshot_seq
    }

    /// The whole folded state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The ledger, up to this view's head (read access).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The newest record this view holds.
    pub fn head(&self) -> Head {
        self.ledger.head()
    }

    /// Hash of the genesis record's store identity, as hex.
    pub fn store_id_hex(&self) -> String {
        Hash::hex_of(&self.ledger.genesis().store_id)
    }

    /// The data directory.
    pub fn dir(&self) -> &str {
        &self.facts.dir
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &KernelOptions {
        &self.facts.options
    }

    /// What recovery did at open.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.facts.recovery
    }

    /// The first bad record, when a broken store was opened read-only.
    pub fn broken_at(&self) -> Option<&(u64, String)> {
        self.facts.broken_at.as_ref()
    }

    /// The time now, from the ledger's clock: what decisions are made at.
    pub fn now_ms(&self) -> u64 {
        self.facts.options.clock.now_ms()
    }

    /// The graph as of `seq` (inclusive); this view's own graph for its head.
    pub fn graph_at(&self, seq: u64) -> Result<Graph, KernelError> {
        self.paged_graph_at(seq).map(|paged| paged.graph().clone())
    }

    /// The graph as of `seq` (inclusive), to read page by page: this view's own for its
    /// head; for a past seq, the one built for a recent read when one was, else built
    /// and kept a while for the reads that follow.
    pub fn paged_graph_at(&self, seq: u64) -> Result<Arc<PagedGraph>, KernelError> {
        if seq == self.head().seq && self.facts.broken_at.is_none() {
            return Ok(Arc::new(PagedGraph::new(self.state.graph.clone())));
        }
        time_travel::graph_at(&self.ledger, &self.facts.past, seq)
    }

    /// Every record that changed `node`.
    pub fn history(&self, node: &str) -> Result<Vec<HistoryStep>, KernelError> {
        time_travel::history(&self.ledger, node)
    }

    /// Up to `limit` records of process `id` after seq `after` (from its start when
    /// `None`): its process records, its jobs' dispatches and their ends, oldest first.
    pub fn process_log(
        &self,
        id: u64,
        after: Option<u64>,
        limit: usize,
    ) -> Result<crate::Page<Record>, KernelError> {
        crate::process_log::process_log(&self.ledger, self.head().seq, id, after, limit)
    }

    /// The environment process `id` was submitted into: `None` when there is no such
    /// process, or its submit was recorded before environments were.
    pub fn run_environment(&self, id: u64) -> Result<Option<RunEnvironment>, KernelError> {
        if id > self.head().seq {
            return Ok(None);
        }
        let Some(record) = self.ledger.get(id)? else {
            return Ok(None);
        };
        if !ProcessRecord::is_kind(&record.kind) {
            return Ok(None);
        }
        let submit = ProcessRecord::decode(&record.kind, &record.payload)?;
        if !matches!(submit.event, jitos_sched::Event::Submitted { .. }) {
            return Ok(None);
        }
        Ok(submit.environment.map(|environment| *environment))
    }

    /// Up to `limit` records from `from` on.
    pub fn records(&self, from: u64, limit: u64) -> Result<Vec<Record>, KernelError> {
        let head = self.head().seq;
        if from > head || limit == 0 {
            return Ok(Vec::new());
        }
        let to = head.min(from.saturating_add(limit - 1));
        self.ledger
            .range(from, to)
            .map(|r| r.map_err(KernelError::from))
            .collect()
    }

    /// Walks the chain and proves every snapshot.
    pub fn verify(&self, progress: &mut dyn FnMut(u64)) -> Result<VerifyOutcome, KernelError> {
        verify::verify(&self.ledger, progress)
    }

    /// Folds the ledger from genesis in a fresh state and compares it with this view's.
    pub fn replay_verify(&self) -> Result<ReplayOutcome, KernelError> {
        let (replayed, records, decision_mismatch) = verify::replay_from_genesis(&self.ledger)?;
        Ok(ReplayOutcome {
            records,
            replayed: replayed.graph.digest(),
            live: self.state.graph.digest(),
            workspaces_match: replayed.pool == self.state.pool,
            jobs_match: replayed.jobs == self.state.jobs,
            processes_match: replayed.processes == self.state.processes,
            governance_match: replayed.writs == self.state.writs
                && replayed.policy == self.state.policy
                && replayed.holds == self.state.holds,
            decision_mismatch,
        })
    }

    /// Writes records `from..=to` to a bundle file, with the blobs they name.
    pub fn export(
        &self,
        path: &Path,
        from: u64,
        to: u64,
    ) -> Result<jitos_ledger::BundleInfo, KernelError> {
        crate::bundle::export(&self.ledger, path, from, to)
    }

    /// Reads blobs, each checked against its hash; a missing one is an error.
    pub fn get_blobs(&self, refs: &[BlobRef]) -> Result<Vec<Vec<u8>>, KernelError> {
        refs.iter()
            .map(|blob| {
                self.ledger
                    .get_blob(&Hash(blob.0))?
                    .ok_or(KernelError::BlobMissing { blob: *blob })
            })
            .collect()
    }

    /// The file tree recorded in the system graph as of `seq`.
    pub fn tree_at(&self, seq: u64) -> Result<Tree, KernelError> {
        tree_of(&self.graph_at(seq)?)
    }

    /// The whole graph as an open workspace sees it. O(graph): for display and checkout.
    pub fn sws_graph(&self, sws: u64) -> Result<Graph, KernelError> {
        self.state.sws_graph(sws)
    }

    /// The graph-level changes of an open workspace against its base, in key order.
    pub fn sws_diff(&self, sws: u64) -> Result<Vec<KeyDiff>, KernelError> {
        self.state
            .pool
            .diff(&self.state.graph, sws)
            .map_err(KernelError::Workspace)
    }

    /// The file tree of an open workspace's base.
    pub fn sws_base_tree(&self, sws: u64) -> Result<Tree, KernelError> {
        self.state.sws_base_tree(sws)
    }

    /// The file tree an open workspace holds.
    pub fn sws_tree(&self, sws: u64) -> Result<Tree, KernelError> {
        tree_of(&self.sws_graph(sws)?)
    }

    /// The workspace of the lane of `job` and its file changes, if both can be read.
    pub fn ask_context(&self, process: u64, job: usize) -> Option<AskContext> {
        self.state.ask_context(process, job)
    }

    /// The latest ruling on an open workspace's collapse, and whether it still stands for
    /// the workspace as it is.
    pub fn collapse_hold(&self, sws: u64) -> Option<(Hold, bool)> {
        let hold = self.state.holds.get(sws)?;
        let now_ms = self.facts.options.clock.now_ms();
        let current = stands(&self.state, hold, now_ms).unwrap_or(false);
        Some((hold.clone(), current))
    }

    /// The approvals a live process waits for, if it waits for any.
    pub fn approval_wait(&self, process: u64) -> Option<ApprovalWait> {
        let p = self.state.processes.get(process)?;
        let Status::Waiting { job, .. } = &p.status else {
            return None;
        };
        let need = waiting_need(&self.state, process, *job)?;
        let approvals = match p.run.jobs.get(*job)? {
            JobState::Gated { approvals, .. } => approvals.clone(),
            _ => Vec::new(),
        };
        Some(ApprovalWait {
            job: *job,
            need,
            approvals,
        })
    }
}

/// What a process held for approvals waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalWait {
    /// The job held.
    pub job: usize,
    /// How many approvals, from which role.
    pub need: Need,
    /// Who approved so far (uids).
    pub approvals: Vec<u32>,
}

impl State {
    /// The whole graph as an open workspace sees it. O(graph).
    pub(crate) fn sws_graph(&self, sws: u64) -> Result<Graph, KernelError> {
        let view = self
            .pool
            .view(&self.graph, sws)
            .map_err(KernelError::Workspace)?;
        materialize(&view).map_err(|e| KernelError::Workspace(SwsError::Inconsistent(e)))
    }

    /// The file tree of an open workspace's base.
    pub(crate) fn sws_base_tree(&self, sws: u64) -> Result<Tree, KernelError> {
        let base = self
            .pool
            .base_view(&self.graph, sws)
            .map_err(KernelError::Workspace)?;
        let graph =
            materialize(&base).map_err(|e| KernelError::Workspace(SwsError::Inconsistent(e)))?;
        tree_of(&graph)
    }

    /// The workspace of the lane of `job` and its file changes, if both can be read.
    pub(crate) fn ask_context(&self, process: u64, job: usize) -> Option<AskContext> {
        let p = self.processes.get(process)?;
        let lane = p.slaps.get(p.run.candidate)?.dag.jobs.get(job)?.lane;
        let sws = p.run.lanes.get(lane)?.sws()?;
        let base = self.sws_base_tree(sws).ok()?;
        let now = tree_of(&self.sws_graph(sws).ok()?).ok()?;
        Some(AskContext {
            sws,
            files: diff_trees(&base, &now),
        })
    }
}
