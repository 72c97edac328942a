//! Job operations on the live kernel: dispatch, the one terminal record of each attempt,
//! and worker registration. Each is one durable record, acknowledged once it is synced.

use jitos_ledger::{Actor, Hash, Record};
use jitos_sws::View;
use jitos_tree::{sync_rewrite, Entry, Tree, TreePath, ROOT_ID};
use jitos_warp::{BlobRef, NodeId, Rewrite};

use crate::{
    files::{blobs_of, tree_of},
    job_record::{Dispatch, Effect, FailureCause, JobRecord, Results, WorkerInstall},
    jobs::Jobs,
    proposal_check::check_scope,
    state::process_event_of,
    Kernel, KernelError,
};

/// What a worker proposed, as the daemon received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposed {
    /// The rewrites, for the job's workspace.
    pub rewrites: Vec<Rewrite>,
    /// Named artifacts, stored as blobs.
    pub artifacts: Vec<(String, Vec<u8>)>,
    /// The worker's status code.
    pub exit_status: i32,
    /// CPU milliseconds the worker reported.
    pub cpu_ms: u64,
    /// Peak resident KiB the worker reported.
    pub max_rss_kib: u64,
}

/// How a proposal ended. Both outcomes are the attempt's terminal record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProposalOutcome {
    /// Applied to the workspace: the `job.done` record.
    Done(Record),
    /// Refused: the `job.refused` record; nothing was applied.
    Refused {
        /// The record.
        record: Record,
        /// Why.
        reason: String,
    },
}

impl Kernel {
    /// The attempts and the worker registry.
    pub fn jobs(&self) -> &Jobs {
        &self.state.jobs
    }

    /// Records that an attempt is handed to a worker. Its id is the record's seq. A job
    /// of no process may not run in a process's workspace. A file job into a workspace
    /// without files first records its root directory, by the system: the worker sees an
    /// (empty) root and proposes against it.
    pub fn job_dispatch(
        &mut self,
        actor: Actor,
        dispatch: Dispatch,
    ) -> Result<Record, KernelError> {
        self.writable()?;
        self.state
            .check_open(dispatch.sws)
            .map_err(KernelError::JobRefused)?;
        if dispatch.owner.is_none() {
            self.check_not_a_lane(dispatch.sws)?;
        }
        if dispatch.effect == Effect::Files {
            self.give_root(dispatch.sws)?;
        }
        self.record_job(actor, JobRecord::Dispatch(dispatch))
    }

    fn give_root(&mut self, sws: u64) -> Result<(), KernelError> {
        // One lookup, not the whole tree: every tree with files has its root directory.
        let root = NodeId::new(ROOT_ID)
            .map_err(|e| KernelError::Payload(format!("the root directory's id: {e}")))?;
        let has_root = self
            .state
            .pool
            .view(&self.state.graph, sws)
            .map_err(KernelError::Workspace)?
            .node(&root)
            .is_some();
        if !has_root {
            let mut root_only = Tree::new();
            root_only.insert(TreePath::root(), Entry::Dir);
            let rewrite = sync_rewrite(&Tree::new(), &root_only)?;
            self.apply_in(Actor::System, sws, rewrite)?;
        }
        Ok(())
    }

    /// Validates a proposal and ends the attempt with it: applied (`job.done`) or refused
    /// with the reason (`job.refused`). Artifacts are stored first, so the record never
    /// names a blob that is not there.
    pub fn job_propose(
        &mut self,
        actor: Actor,
        attempt: u64,
        proposed: Proposed,
    ) -> Result<ProposalOutcome, KernelError> {
        self.writable()?;
        let dispatch = self
            .state
            .jobs
            .running_attempt(attempt)
            .map_err(KernelError::JobRefused)?
            .dispatch
            .clone();
        let artifacts = self.store_artifacts(&proposed.artifacts)?;
        let seq = self.head().seq + 1;
        let verdict = self
            .check_proposal(&dispatch, &proposed.rewrites)
            .and_then(|()| self.apply_proposal(dispatch.sws, &proposed.rewrites, seq));
        if let Err(reason) = verdict {
            let op = JobRecord::Refused {
                attempt,
                reason: reason.clone(),
            };
            let record = self.record_job(actor, op)?;
            return Ok(ProposalOutcome::Refused { record, reason });
        }
        let results = Results {
            artifacts,
            exit_status: proposed.exit_status,
            cpu_ms: proposed.cpu_ms,
            max_rss_kib: proposed.max_rss_kib,
        };
        // The rewrites are in the workspace already (applying them was the last check).
        let op = JobRecord::Done {
            attempt,
            rewrites: proposed.rewrites,
            results,
        };
        Ok(ProposalOutcome::Done(self.record_job(actor, op)?))
    }

    /// Ends an attempt as failed.
    pub fn job_fail(
        &mut self,
        actor: Actor,
        attempt: u64,
        cause: FailureCause,
        detail: String,
    ) -> Result<Record, KernelError> {
        self.writable()?;
        self.state
            .jobs
            .running_attempt(attempt)
            .map_err(KernelError::JobRefused)?;
        self.record_job(
            actor,
            JobRecord::Failed {
                attempt,
                cause,
                detail,
            },
        )
    }

    /// Registers a worker (replacing an earlier registration of the same name).
    pub fn worker_install(
        &mut self,
        actor: Actor,
        install: WorkerInstall,
    ) -> Result<Record, KernelError> {
        self.writable()?;
        self.record_job(actor, JobRecord::Install(install))
    }

    /// Why a proposal may not be applied to the dispatch's workspace, if it may not: it
    /// leaves the job's scope, names a blob that is not stored, does not apply, or (for a
    /// file-changing job) leaves a file tree that does not read back.
    fn check_proposal(&self, dispatch: &Dispatch, rewrites: &[Rewrite]) -> Result<(), String> {
        check_scope(dispatch, rewrites)?;
        for rewrite in rewrites {
            for blob in blobs_of(rewrite) {
                match self.ledger().has_blob(&Hash(blob.0)) {
                    Ok(true) => {}
                    Ok(false) => {
                        return Err(format!(
                            "it names blob {blob}, which is neither stored nor among its artifacts"
                        ))
                    }
                    Err(error) => return Err(format!("cannot check blob {blob}: {error}")),
                }
            }
        }
        // One rewrite applies atomically in the pool, so it needs no trial run unless the
        // resulting file tree must be read back.
        if rewrites.len() <= 1 && dispatch.effect == Effect::GraphOnly {
            return Ok(());
        }
        let mut trial = self
            .sws_graph(dispatch.sws)
            .map_err(|e| format!("cannot read workspace {}: {e}", dispatch.sws))?;
        for (index, rewrite) in rewrites.iter().enumerate() {
            trial
                .apply(rewrite)
                .map_err(|e| format!("rewrite {index} does not apply: {e}"))?;
        }
        if dispatch.effect == Effect::Files {
            tree_of(&trial).map_err(|e| format!("the files it leaves do not form a tree: {e}"))?;
        }
        Ok(())
    }

    fn store_artifacts(
        &mut self,
        artifacts: &[(String, Vec<u8>)],
    ) -> Result<Vec<(String, BlobRef)>, KernelError> {
        let bytes: Vec<Vec<u8>> = artifacts.iter().map(|(_, b)| b.clone()).collect();
        let refs = self.put_blobs(&bytes)?;
        Ok(artifacts
            .iter()
            .map(|(name, _)| name.clone())
            .zip(refs)
            .collect())
    }

    /// Applies an accepted proposal's rewrites in the workspace, all or none.
    fn apply_proposal(&mut self, sws: u64, rewrites: &[Rewrite], seq: u64) -> Result<(), String> {
        for (index, rewrite) in rewrites.iter().enumerate() {
            if let Err(error) = self.state.pool.apply(&self.state.graph, sws, rewrite, seq) {
                if index > 0 {
                    // Earlier rewrites of this proposal are already in the pool.
                    self.restore_from_ledger();
                }
                return Err(format!(
                    "rewrite {index} does not apply in workspace {sws}: {error}"
                ));
            }
        }
        Ok(())
    }

    /// Records a job or registry record and folds its effect on the attempts into the
    /// state, as replay will.
    fn record_job(&mut self, actor: Actor, op: JobRecord) -> Result<Record, KernelError> {
        let seq = self.head().seq + 1;
        if let Some(event) = process_event_of(&self.state.jobs, seq, &op) {
            self.check_event(&event)?;
        }
        let payload = op.encode()?;
        self.record_op(actor, op.kind(), payload, |state, seq| {
            state.fold_job_effects(seq, &op)
        })
    }

    /// Refuses when the store takes no writes.
    pub(crate) fn writable(&self) -> Result<(), KernelError> {
        if self.options().read_only {
            return Err(KernelError::ReadOnly);
        }
        Ok(())
    }
}
