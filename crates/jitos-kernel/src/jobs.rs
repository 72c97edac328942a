//! `Jobs`: the attempts and the worker registry folded from the ledger, with the rules
//! that keep every attempt to exactly one terminal record.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::job_record::{Dispatch, FailureCause, JobRecord, Results, WorkerInstall};

/// Where an attempt stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptStatus {
    /// Dispatched; no terminal record yet.
    Running,
    /// Its proposal was applied, at this seq.
    Done {
        /// The `job.done` record.
        seq: u64,
        /// What it brought.
        results: Results,
    },
    /// It failed, at this seq.
    Failed {
        /// The `job.failed` record.
        seq: u64,
        /// The cause.
        cause: FailureCause,
        /// What happened.
        detail: String,
    },
    /// Its proposal was refused, at this seq.
    Refused {
        /// The `job.refused` record.
        seq: u64,
        /// Why.
        reason: String,
    },
}

/// One dispatched attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// Its id: the seq of its dispatch record.
    pub id: u64,
    /// What it was started with.
    pub dispatch: Dispatch,
    /// Where it stands.
    pub status: AttemptStatus,
}

/// Why a job record does not fit the folded state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobsError {
    /// A terminal record names an attempt that is not running: it ended, or it was
    /// never dispatched.
    #[error("attempt {attempt} is not running: it has ended or was never dispatched (`jitos job show {attempt}` says which)")]
    UnknownAttempt {
        /// The attempt named.
        attempt: u64,
    },
    /// A dispatch into a workspace that is not open.
    #[error("workspace {sws} is not open; create one with `jitos sws create`")]
    WorkspaceNotOpen {
        /// The workspace named.
        sws: u64,
    },
}

/// The running attempts and every registered worker: an attempt leaves at its terminal
/// record, so this holds what runs now, however long the history. Persistent: a copy costs O(1) and shares
/// every attempt neither side changes afterwards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jobs {
    attempts: imbl::OrdMap<u64, Arc<Attempt>>,
    workers: imbl::OrdMap<String, Arc<(u64, WorkerInstall)>>,
}

impl Jobs {
    /// A running attempt by id.
    pub fn attempt(&self, id: u64) -> Option<&Attempt> {
        self.attempts.get(&id).map(Arc::as_ref)
    }

    /// The running attempts with an id below `before`, newest first: a page from a cursor in
    /// O(log n) to its start.
    pub fn attempts_before(&self, before: u64) -> impl Iterator<Item = &Attempt> + '_ {
        self.attempts.range(..before).rev().map(|(_, a)| a.as_ref())
    }

    /// Attempts dispatched without a terminal record, oldest first.
    pub fn running(&self) -> impl DoubleEndedIterator<Item = &Attempt> + '_ {
        self.attempts.values().map(Arc::as_ref)
    }

    /// A registered worker and the seq of its latest registration.
    pub fn worker(&self, name: &str) -> Option<&(u64, WorkerInstall)> {
        self.workers.get(name).map(Arc::as_ref)
    }

    /// Every registered worker, by name.
    pub fn workers(&self) -> impl Iterator<Item = &(u64, WorkerInstall)> + '_ {
        self.workers.values().map(Arc::as_ref)
    }

    /// What the job or registry record at `seq` does to the attempts and the registry;
    /// the one definition, for the live path and the fold alike. An attempt's terminal
    /// record takes it out (ended attempts are answered from the ledger) and returns it
    /// as it ended.
    pub(crate) fn fold(
        &mut self,
        seq: u64,
        record: &JobRecord,
    ) -> Result<Option<Arc<Attempt>>, JobsError> {
        let ended = match record {
            JobRecord::Dispatch(dispatch) => {
                self.dispatch(seq, dispatch.clone());
                return Ok(None);
            }
            JobRecord::Install(install) => {
                self.install(seq, install.clone());
                return Ok(None);
            }
            JobRecord::Done {
                attempt, results, ..
            } => {
                let results = results.clone();
                self.end(*attempt, AttemptStatus::Done { seq, results })?
            }
            JobRecord::Failed {
                attempt,
                cause,
                detail,
            } => {
                let (cause, detail) = (*cause, detail.clone());
                self.end(*attempt, AttemptStatus::Failed { seq, cause, detail })?
            }
            JobRecord::Refused { attempt, reason } => {
                let reason = reason.clone();
                self.end(*attempt, AttemptStatus::Refused { seq, reason })?
            }
        };
        Ok(Some(ended))
    }

    /// Records a dispatch at `seq`.
    fn dispatch(&mut self, seq: u64, dispatch: Dispatch) {
        self.attempts.insert(
            seq,
            Arc::new(Attempt {
                id: seq,
                dispatch,
                status: AttemptStatus::Running,
            }),
        );
    }

    /// The running attempt `id`, or why a terminal record for it is refused.
    pub(crate) fn running_attempt(&self, id: u64) -> Result<&Attempt, JobsError> {
        self.attempt(id)
            .ok_or(JobsError::UnknownAttempt { attempt: id })
    }

    /// Ends a running attempt: takes it out and returns it with its terminal status.
    fn end(&mut self, id: u64, status: AttemptStatus) -> Result<Arc<Attempt>, JobsError> {
        let mut attempt = self
            .attempts
            .remove(&id)
            .ok_or(JobsError::UnknownAttempt { attempt: id })?;
        Arc::make_mut(&mut attempt).status = status;
        Ok(attempt)
    }

    /// Registers (or re-registers) a worker at `seq`.
    fn install(&mut self, seq: u64, install: WorkerInstall) {
        self.workers
            .insert(install.manifest.name.clone(), Arc::new((seq, install)));
    }
}
