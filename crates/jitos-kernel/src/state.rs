//! `State`: everything folded from the ledger — the system graph, the workspace pool, the
//! job attempts and the worker registry — and the one fold that every path (live,
//! recovery, replay, time travel) shares.

use jitos_ledger::Record;
use jitos_sws::{Pool, SwsError, Target};
use jitos_warp::{Applied, Graph};

use jitos_sched::{AttemptOutcome, Event, Processes};

use crate::{
    job_record::{FailureCause, JobRecord},
    jobs::{Jobs, JobsError},
    payload,
    process_record::ProcessRecord,
    sws_record::{SwsRecord, KIND_SWS_CONFLICT},
    KernelError, KIND_GENESIS, KIND_REWRITE,
};

/// The folded state.
#[derive(Clone, Default)]
pub struct State {
    /// The system WARP: committed reality.
    pub graph: Graph,
    /// Every workspace, and the system's change log they read through.
    pub pool: Pool,
    /// Every job attempt and registered worker.
    pub jobs: Jobs,
    /// Every process.
    pub processes: Processes,
}

impl State {
    /// Applies one record. Returns what it did to the system graph (empty for records
    /// that leave it alone).
    pub fn fold(&mut self, record: &Record) -> Result<Vec<Applied>, KernelError> {
        let seq = record.seq;
        match record.kind.as_str() {
            KIND_GENESIS => Ok(Vec::new()),
            KIND_REWRITE => {
                let rewrite = payload::decode_rewrite(&record.payload)?;
                self.pool
                    .commit_system(&mut self.graph, std::slice::from_ref(&rewrite), seq)
                    .map_err(|source| replay_error(seq, source))
            }
            // Conflicts change nothing; the record is the knowledge.
            KIND_SWS_CONFLICT => {
                SwsRecord::decode(&record.kind, &record.payload)?;
                Ok(Vec::new())
            }
            kind if SwsRecord::is_kind(kind) => {
                let op = SwsRecord::decode(kind, &record.payload)?;
                self.fold_sws(seq, &op)
            }
            kind if JobRecord::is_kind(kind) => {
                let op = JobRecord::decode(kind, &record.payload)?;
                self.fold_job(seq, op).map(|()| Vec::new())
            }
            kind if ProcessRecord::is_kind(kind) => {
                let op = ProcessRecord::decode(kind, &record.payload)?;
                self.fold_process(seq, &op)
            }
            other => Err(KernelError::UnknownKind {
                seq,
                kind: other.to_owned(),
            }),
        }
    }

    /// Replays a workspace operation at `seq` with the pool calls the live path made.
    fn fold_sws(&mut self, seq: u64, op: &SwsRecord) -> Result<Vec<Applied>, KernelError> {
        let done = match op {
            SwsRecord::Create { over } => self.pool.create(seq, *over, seq).map(|()| Vec::new()),
            SwsRecord::Apply { sws, rewrite } => self
                .pool
                .apply(&self.graph, *sws, rewrite, seq)
                .map(|()| Vec::new()),
            SwsRecord::Collapse { sws, rewrites } => {
                let collapse = self
                    .pool
                    .collapse(&self.graph, *sws, seq)
                    .map_err(|source| replay_error(seq, source))?;
                if &collapse.rewrites != rewrites {
                    return Err(KernelError::CollapseMismatch { seq, sws: *sws });
                }
                match collapse.target {
                    Target::System => self.pool.commit_system(&mut self.graph, rewrites, seq),
                    Target::Workspace(_) => Ok(Vec::new()),
                }
            }
            SwsRecord::Conflict { .. } => Ok(Vec::new()),
            SwsRecord::Rebase { sws } => self
                .pool
                .rebase(&self.graph, *sws, seq)
                .map(|()| Vec::new()),
            SwsRecord::Discard { sws, reason } => {
                self.pool.discard(*sws, reason, seq).map(|()| Vec::new())
            }
        };
        done.map_err(|source| replay_error(seq, source))
    }

    /// Replays a job or registry record at `seq`, with the checks the live path made:
    /// an accepted proposal's rewrites go into its workspace, then the record's effect on
    /// the attempts (`Jobs::fold`, which the live path runs too).
    fn fold_job(&mut self, seq: u64, op: JobRecord) -> Result<(), KernelError> {
        let misfit = |source| KernelError::Job { seq, source };
        match &op {
            JobRecord::Dispatch(dispatch) => self.check_open(dispatch.sws).map_err(misfit)?,
            JobRecord::Done {
                attempt, rewrites, ..
            } => {
                let sws = self
                    .jobs
                    .running_attempt(*attempt)
                    .map_err(misfit)?
                    .dispatch
                    .sws;
                for rewrite in rewrites {
                    self.pool
                        .apply(&self.graph, sws, rewrite, seq)
                        .map_err(|source| replay_error(seq, source))?;
                }
            }
            _ => {}
        }
        self.fold_job_effects(seq, &op)
    }

    /// What a job record does to the attempts and, for an attempt a process dispatched,
    /// to that process; the one definition, for the live path and the fold alike.
    pub(crate) fn fold_job_effects(&mut self, seq: u64, op: &JobRecord) -> Result<(), KernelError> {
        let event = process_event_of(&self.jobs, seq, op);
        self.jobs
            .fold(seq, op)
            .map_err(|source| KernelError::Job { seq, source })?;
        if let Some(event) = event {
            self.processes
                .apply(seq, 0, &event)
                .map_err(|source| KernelError::Process { seq, source })?;
        }
        Ok(())
    }

    /// Replays a process record at `seq`: its workspace operations with the pool calls the
    /// live path made, its plan nodes, then its event.
    fn fold_process(&mut self, seq: u64, op: &ProcessRecord) -> Result<Vec<Applied>, KernelError> {
        let mut applied = Vec::new();
        if let Some(rewrite) = &op.rewrite {
            applied.extend(
                self.pool
                    .commit_system(&mut self.graph, std::slice::from_ref(rewrite), seq)
                    .map_err(|source| replay_error(seq, source))?,
            );
        }
        for sws_op in &op.sws {
            if !matches!(sws_op, SwsRecord::Conflict { .. }) {
                applied.extend(self.fold_sws(seq, sws_op)?);
            }
        }
        self.processes
            .apply(seq, op.decided_ms, &op.event)
            .map_err(|source| KernelError::Process { seq, source })?;
        Ok(applied)
    }

    /// Whether workspace `sws` exists and is open, as a dispatch needs.
    pub(crate) fn check_open(&self, sws: u64) -> Result<(), JobsError> {
        match self.pool.workspace(sws) {
            Some(workspace) if workspace.is_open() => Ok(()),
            _ => Err(JobsError::WorkspaceNotOpen { sws }),
        }
    }
}

fn replay_error(seq: u64, source: SwsError) -> KernelError {
    KernelError::Sws { seq, source }
}

/// The process event a job record stands for, when a process dispatched its attempt.
pub(crate) fn process_event_of(jobs: &Jobs, seq: u64, op: &JobRecord) -> Option<Event> {
    let owner_of = |attempt: u64| jobs.attempt(attempt).and_then(|a| a.dispatch.owner);
    let ended = |attempt: u64, outcome| {
        owner_of(attempt).map(|owner| Event::AttemptEnded {
            process: owner.process,
            attempt,
            outcome,
        })
    };
    match op {
        JobRecord::Dispatch(dispatch) => dispatch.owner.map(|owner| Event::Dispatched {
            process: owner.process,
            job: owner.job,
            attempt: seq,
            sws: dispatch.sws,
        }),
        JobRecord::Done {
            attempt, results, ..
        } => ended(
            *attempt,
            match results.exit_status {
                0 => AttemptOutcome::Succeeded,
                status => AttemptOutcome::Failed {
                    why: format!("it exited with status {status}"),
                    verdict: true,
                },
            },
        ),
        JobRecord::Refused { attempt, reason } => ended(
            *attempt,
            AttemptOutcome::Failed {
                why: format!("its proposal was refused: {reason}"),
                verdict: true,
            },
        ),
        JobRecord::Failed {
            attempt,
            cause: FailureCause::Interrupted,
            ..
        } => ended(*attempt, AttemptOutcome::CutOff),
        JobRecord::Failed {
            attempt,
            cause,
            detail,
        } => ended(
            *attempt,
            AttemptOutcome::Failed {
                why: format!("{}: {detail}", cause.as_str()),
                verdict: false,
            },
        ),
        JobRecord::Install(_) => None,
    }
}
