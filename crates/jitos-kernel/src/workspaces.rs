//! Workspace operations on the live kernel: each runs on the pool, is recorded as one
//! ledger record, and is acknowledged only once that record is durable.
//!
//! The pool changes first, so a refused operation records nothing; if the durable write
//! then fails, the state is rebuilt from the ledger, which never saw the operation.

use jitos_ledger::{Actor, Record};
use jitos_sws::{materialize, ConflictReport, KeyDiff, Over, SwsError, Target};
use jitos_tree::{sync_rewrite, Tree};
use jitos_warp::{Graph, Rewrite};

use crate::{
    files::tree_of,
    sws_record::{RefusedOp, SwsRecord},
    Kernel, KernelError,
};

/// How a collapse or rebase ended. Both outcomes are recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwsOutcome {
    /// It happened.
    Done(Record),
    /// Conflicts refused it; the record keeps the report, nothing else changed.
    Conflicts {
        /// The `sws.conflict` record.
        record: Record,
        /// Every clash.
        report: ConflictReport,
    },
}

impl Kernel {
    /// Creates a workspace over the system (at a seq, default the head) or over an open
    /// workspace. Its id is the seq of its record.
    pub fn sws_create(&mut self, actor: Actor, over: Over) -> Result<Record, KernelError> {
        if let Over::Workspace { id } = over {
            self.check_not_a_lane(id)?;
        }
        let seq = self.next_seq()?;
        self.state
            .pool
            .create(seq, over, seq)
            .map_err(KernelError::Workspace)?;
        self.record_sws(actor, &SwsRecord::Create { over })
    }

    /// Applies a rewrite in a workspace; the system is untouched.
    pub fn sws_apply(
        &mut self,
        actor: Actor,
        sws: u64,
        rewrite: Rewrite,
    ) -> Result<Record, KernelError> {
        self.check_not_a_lane(sws)?;
        self.apply_in(actor, sws, rewrite)
    }

    /// Applies a rewrite in a workspace, whoever owns it.
    pub(crate) fn apply_in(
        &mut self,
        actor: Actor,
        sws: u64,
        rewrite: Rewrite,
    ) -> Result<Record, KernelError> {
        let seq = self.next_seq()?;
        self.state
            .pool
            .apply(&self.state.graph, sws, &rewrite, seq)
            .map_err(KernelError::Workspace)?;
        self.record_sws(actor, &SwsRecord::Apply { sws, rewrite })
    }

    /// Collapses a workspace into its target, or records why it conflicts.
    pub fn sws_collapse(&mut self, actor: Actor, sws: u64) -> Result<SwsOutcome, KernelError> {
        self.check_not_a_lane(sws)?;
        let op = self.collapse_in_pool(sws, self.next_seq()?)?;
        let record = self.record_sws(actor, &op)?;
        Ok(match op {
            SwsRecord::Conflict { report, .. } => SwsOutcome::Conflicts { record, report },
            _ => SwsOutcome::Done(record),
        })
    }

    /// Runs a collapse as the record at `seq` will: the pool first, then, into the
    /// system, the graph. Returns what to record: the collapse, or the conflict that
    /// refused it (and then nothing changed).
    pub(crate) fn collapse_in_pool(
        &mut self,
        sws: u64,
        seq: u64,
    ) -> Result<SwsRecord, KernelError> {
        let collapse = match self.state.pool.collapse(&self.state.graph, sws, seq) {
            Ok(collapse) => collapse,
            Err(SwsError::Conflicts(report)) => {
                return Ok(SwsRecord::Conflict {
                    sws,
                    op: RefusedOp::Collapse,
                    report: *report,
                })
            }
            Err(error) => return Err(KernelError::Workspace(error)),
        };
        if collapse.target == Target::System {
            let applied =
                self.state
                    .pool
                    .commit_system(&mut self.state.graph, &collapse.rewrites, seq);
            if let Err(error) = applied {
                // The pool already closed the workspace: take that back from the ledger.
                self.restore_from_ledger();
                return Err(KernelError::Workspace(error));
            }
        }
        Ok(SwsRecord::Collapse {
            sws,
            rewrites: collapse.rewrites,
        })
    }

    /// Moves a workspace's base to the head of its target, or records why it conflicts.
    pub fn sws_rebase(&mut self, actor: Actor, sws: u64) -> Result<SwsOutcome, KernelError> {
        self.check_not_a_lane(sws)?;
        let seq = self.next_seq()?;
        match self.state.pool.rebase(&self.state.graph, sws, seq) {
            Ok(()) => self
                .record_sws(actor, &SwsRecord::Rebase { sws })
                .map(SwsOutcome::Done),
            Err(SwsError::Conflicts(report)) => {
                self.record_conflict(actor, sws, RefusedOp::Rebase, *report)
            }
            Err(error) => Err(KernelError::Workspace(error)),
        }
    }

    /// Ends a workspace without applying it; it stays in history with the reason.
    pub fn sws_discard(
        &mut self,
        actor: Actor,
        sws: u64,
        reason: String,
    ) -> Result<Record, KernelError> {
        self.check_not_a_lane(sws)?;
        let seq = self.next_seq()?;
        self.state
            .pool
            .discard(sws, &reason, seq)
            .map_err(KernelError::Workspace)?;
        self.record_sws(actor, &SwsRecord::Discard { sws, reason })
    }

    /// The whole graph as an open workspace sees it. O(graph): for display and checkout.
    pub fn sws_graph(&self, sws: u64) -> Result<Graph, KernelError> {
        let view = self
            .state
            .pool
            .view(&self.state.graph, sws)
            .map_err(KernelError::Workspace)?;
        materialize(&view).map_err(|e| KernelError::Workspace(SwsError::Inconsistent(e)))
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
        let base = self
            .state
            .pool
            .base_view(&self.state.graph, sws)
            .map_err(KernelError::Workspace)?;
        let graph =
            materialize(&base).map_err(|e| KernelError::Workspace(SwsError::Inconsistent(e)))?;
        tree_of(&graph)
    }

    /// The file tree an open workspace holds.
    pub fn sws_tree(&self, sws: u64) -> Result<Tree, KernelError> {
        tree_of(&self.sws_graph(sws)?)
    }

    /// Records `wanted` as the file tree of a workspace, as one workspace rewrite.
    pub fn sws_import_tree(
        &mut self,
        actor: Actor,
        sws: u64,
        wanted: &Tree,
    ) -> Result<Record, KernelError> {
        self.check_blobs_stored(wanted)?;
        let rewrite = sync_rewrite(&self.sws_tree(sws)?, wanted)?;
        self.sws_apply(actor, sws, rewrite)
    }

    /// Refuses a workspace a live process works in: only the process may change or end
    /// it, or it would decide on a workspace that is no longer what it left.
    pub(crate) fn check_not_a_lane(&self, sws: u64) -> Result<(), KernelError> {
        match self.state.processes.lane_owner(sws) {
            Some(process) => Err(KernelError::ProcessWorkspace { sws, process }),
            None => Ok(()),
        }
    }

    /// The seq the next record will get, refusing when the store takes no writes.
    pub(crate) fn next_seq(&self) -> Result<u64, KernelError> {
        self.writable()?;
        Ok(self.head().seq + 1)
    }

    fn record_conflict(
        &mut self,
        actor: Actor,
        sws: u64,
        op: RefusedOp,
        report: ConflictReport,
    ) -> Result<SwsOutcome, KernelError> {
        let record = self.record_sws(
            actor,
            &SwsRecord::Conflict {
                sws,
                op,
                report: report.clone(),
            },
        )?;
        Ok(SwsOutcome::Conflicts { record, report })
    }

    /// Appends the record of an operation the pool has already run.
    fn record_sws(&mut self, actor: Actor, op: &SwsRecord) -> Result<Record, KernelError> {
        // The pool already ran the operation.
        self.record_op(actor, op.kind(), op.encode()?, |_, _| Ok(()))
    }
}
