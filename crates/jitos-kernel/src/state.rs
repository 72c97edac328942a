//! `State`: everything folded from the ledger — the system graph, the open workspaces, the
//! running attempts, the live processes and the worker registry — and the one fold that
//! every path (live, recovery, replay, time travel) shares.
//!
//! The state is bounded by what is live, not by history: the record that closes a
//! workspace, ends an attempt or finishes a process takes it out and hands it back in
//! [`Folded::ended`], for the index to keep; readers answer ended ones from there.

use std::sync::Arc;

use jitos_gov::policy::Verdict;
use jitos_ledger::Record;
use jitos_sws::{Pool, SwsError, Target, Workspace};
use jitos_warp::{Applied, Graph};

use jitos_sched::{AttemptOutcome, Event, Process, Processes};
use jitos_tasks::{JobNode, Purpose};

use crate::{
    collapse_hold::{is_ruled, rule_collapse, stands, AllowedJob, Holds, Requester},
    collapse_record::CollapseRecord,
    connect_record::{ConnectRecord, KIND_JOB_CONNECT},
    effect_record::EffectRecord,
    fetch_record::{FetchRecord, COST_COUNTER, KIND_JOB_FETCH, TOKENS_COUNTER},
    job_record::{FailureCause, JobRecord, Owner},
    job_ruling::{recorded_job, rule_public_job, JobRuling, KIND_JOB_RULING},
    jobs::{Attempt, Jobs, JobsError},
    payload,
    policy_record::{PolicyRecord, RecordedPolicy},
    process_record::ProcessRecord,
    ruling::{rule, waiting_need, GovernanceRefusal},
    sws_record::{SwsRecord, KIND_SWS_CONFLICT},
    writ_record::{Grant, WritRecord},
    writs::{plan_effect_of_dispatch, Writs},
    AccessRefused, KernelError, KIND_ACCESS_REFUSED, KIND_GENESIS, KIND_REWRITE,
};

/// The folded state.
#[derive(Clone, Default)]
pub struct State {
    /// The system WARP: committed reality.
    pub graph: Graph,
    /// The open workspaces, and the system's change log they read through.
    pub pool: Pool,
    /// The running attempts and every registered worker.
    pub jobs: Jobs,
    /// The live processes.
    pub processes: Processes,
    /// The daemon's key, the writs in force and what each process runs under.
    pub writs: Writs,
    /// The policy in force, once one was recorded.
    pub policy: Option<RecordedPolicy>,
    /// The latest ruling on each open workspace's collapse, with its votes.
    pub holds: Holds,
}

/// What folding one record did.
#[derive(Debug, Default)]
pub struct Folded {
    /// Its changes to the system graph (empty for records that leave it alone).
    pub applied: Vec<Applied>,
    /// What it ended, as it ended, now out of the state.
    pub ended: Vec<Ended>,
    /// The process it belongs to: a process record's own, or the owner of the attempt a
    /// job record dispatches or ends.
    pub process: Option<u64>,
}

/// Something a record ended, taken out of the state.
#[derive(Debug, Clone)]
pub enum Ended {
    /// A workspace it collapsed or discarded.
    Workspace(Arc<Workspace>),
    /// An attempt it ended.
    Attempt(Arc<Attempt>),
    /// A process it finished.
    Process(Arc<Process>),
}

impl State {
    /// Applies one record.
    pub fn fold(&mut self, record: &Record) -> Result<Folded, KernelError> {
        let seq = record.seq;
        let mut folded = Folded::default();
        match record.kind.as_str() {
            KIND_GENESIS => {}
            KIND_REWRITE => {
                let rewrite = payload::decode_rewrite(&record.payload)?;
                folded.applied = self
                    .pool
                    .commit_system(&mut self.graph, std::slice::from_ref(&rewrite), seq)
                    .map_err(|source| replay_error(seq, source))?;
            }
            // Refusals change nothing either; reading the payload checks it.
            KIND_ACCESS_REFUSED => {
                AccessRefused::decode(&record.payload)?;
            }
            // Conflicts change nothing; the record is the knowledge.
            KIND_SWS_CONFLICT => {
                SwsRecord::decode(&record.kind, &record.payload)?;
            }
            kind if CollapseRecord::is_kind(kind) => {
                let op = CollapseRecord::decode(kind, &record.payload)?;
                let uid = match &op {
                    CollapseRecord::Ruling(ruling) => ruling.uid,
                    CollapseRecord::Vote(vote) => vote.uid,
                };
                check_asker(seq, record, uid)?;
                self.fold_collapse_governance(seq, record.time_ms, op)?;
            }
            kind if SwsRecord::is_kind(kind) => {
                let op = SwsRecord::decode(kind, &record.payload)?;
                if let SwsRecord::Collapse { sws, .. } = &op {
                    self.check_collapse_ruled(seq, record.time_ms, *sws)?;
                }
                self.fold_sws(seq, &op, &mut folded)?;
            }
            kind if JobRecord::is_kind(kind) => {
                let op = JobRecord::decode(kind, &record.payload)?;
                self.fold_job(seq, record.time_ms, op, &mut folded)?;
            }
            kind if ProcessRecord::is_kind(kind) => {
                let op = ProcessRecord::decode(kind, &record.payload)?;
                self.fold_process(seq, record.time_ms, &op, &mut folded)?;
            }
            kind if PolicyRecord::is_kind(kind) => {
                let op = PolicyRecord::decode(kind, &record.payload)?;
                folded.process = self.fold_policy(seq, op)?;
            }
            KIND_JOB_RULING => {
                let ruling = JobRuling::decode(&record.payload)?;
                check_asker(seq, record, ruling.uid)?;
                self.fold_job_ruling(seq, &ruling)?;
            }
            KIND_JOB_CONNECT => {
                let op = ConnectRecord::decode(&record.payload)?;
                folded.process = self.fold_connect(seq, &op)?;
            }
            KIND_JOB_FETCH => {
                let op = FetchRecord::decode(&record.payload)?;
                folded.process = self.fold_fetch(seq, &op)?;
            }
            kind if EffectRecord::is_kind(kind) => {
                let op = EffectRecord::decode(kind, &record.payload)?;
                folded.process = Some(op.process());
                self.fold_effect(seq, &op)?;
            }
            kind if WritRecord::is_kind(kind) => {
                let op = WritRecord::decode(kind, &record.payload)?;
                folded.process = match &op {
                    WritRecord::Issue(issue) => issue.for_process,
                    _ => None,
                };
                self.fold_writ(seq, record, op)?;
            }
            other => {
                return Err(KernelError::UnknownKind {
                    seq,
                    kind: other.to_owned(),
                })
            }
        }
        Ok(folded)
    }

    /// Replays a workspace operation at `seq` with the pool calls the live path made; a
    /// workspace it closes leaves the pool.
    fn fold_sws(
        &mut self,
        seq: u64,
        op: &SwsRecord,
        folded: &mut Folded,
    ) -> Result<(), KernelError> {
        let closed = match op {
            SwsRecord::Create { over } => self.pool.create(seq, *over, seq).map(|()| None),
            SwsRecord::Apply { sws, rewrite } => self
                .pool
                .apply(&self.graph, *sws, rewrite, seq)
                .map(|()| None),
            SwsRecord::Collapse { sws, rewrites } => {
                let collapse = self
                    .pool
                    .collapse(&self.graph, *sws, seq)
                    .map_err(|source| replay_error(seq, source))?;
                if &collapse.rewrites != rewrites {
                    return Err(KernelError::CollapseMismatch { seq, sws: *sws });
                }
                match collapse.target {
                    Target::System => self
                        .pool
                        .commit_system(&mut self.graph, rewrites, seq)
                        .map(|applied| folded.applied.extend(applied)),
                    Target::Workspace(_) => Ok(()),
                }
                .map(|()| Some(*sws))
            }
            SwsRecord::Conflict { .. } => Ok(None),
            SwsRecord::Rebase { sws } => self.pool.rebase(&self.graph, *sws, seq).map(|()| None),
            SwsRecord::Discard { sws, reason } => {
                self.pool.discard(*sws, reason, seq).map(|()| Some(*sws))
            }
        };
        if let Some(sws) = closed.map_err(|source| replay_error(seq, source))? {
            self.holds.forget(sws);
            let workspace = self
                .pool
                .forget(sws)
                .map_err(|source| replay_error(seq, source))?;
            folded.ended.push(Ended::Workspace(workspace));
        }
        Ok(())
    }

    /// Replays a job or registry record at `seq`, with the checks the live path made:
    /// an accepted proposal's rewrites go into its workspace, then the record's effect on
    /// the attempts and, for an attempt a process dispatched, on that process.
    fn fold_job(
        &mut self,
        seq: u64,
        time_ms: u64,
        op: JobRecord,
        folded: &mut Folded,
    ) -> Result<(), KernelError> {
        let misfit = |source| KernelError::Job { seq, source };
        match &op {
            JobRecord::Dispatch(dispatch) => {
                self.check_open(dispatch.sws).map_err(misfit)?;
                if dispatch.owner.is_none() {
                    self.check_public_dispatch(seq, dispatch)?;
                }
                // A verify or compensate job is the consequence of a step the writ admitted
                // and charged: it is not refused, or an effect could not be settled.
                let step = dispatch.owner.and_then(|owner| {
                    let node = self.process_job(owner)?;
                    let effect =
                        plan_effect_of_dispatch(dispatch.effect).max(self.job_effect(node));
                    (node.purpose == Purpose::Step).then_some((owner.process, effect))
                });
                if let Some((process, effect)) = step {
                    self.writs
                        .fold_dispatch(
                            process,
                            &dispatch.worker,
                            effect,
                            &dispatch.paths,
                            dispatch.deadline_ms,
                            time_ms,
                        )
                        .map_err(|source| KernelError::Writ { seq, source })?;
                }
            }
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
        let event = process_event_of(&self.jobs, seq, &op);
        folded.process = match &op {
            JobRecord::Dispatch(dispatch) => dispatch.owner.map(|owner| owner.process),
            JobRecord::Install(_) => None,
            JobRecord::Done { attempt, .. }
            | JobRecord::Failed { attempt, .. }
            | JobRecord::Refused { attempt, .. } => self
                .jobs
                .attempt(*attempt)
                .and_then(|a| a.dispatch.owner)
                .map(|owner| owner.process),
        };
        if let Some(attempt) = self.jobs.fold(seq, &op).map_err(misfit)? {
            folded.ended.push(Ended::Attempt(attempt));
        }
        match event {
            // An attempt still running when its process finished reports to no one: the
            // process left the state with its last record.
            Some(Event::AttemptEnded { process, .. }) if self.processes.get(process).is_none() => {
                Ok(())
            }
            Some(event) => self
                .processes
                .apply(seq, 0, &event)
                .map_err(|source| KernelError::Process { seq, source }),
            None => Ok(()),
        }
    }

    /// Replays a process record at `seq`: its workspace operations with the pool calls the
    /// live path made, its plan nodes, then its event; a process it finishes leaves the
    /// state.
    fn fold_process(
        &mut self,
        seq: u64,
        time_ms: u64,
        op: &ProcessRecord,
        folded: &mut Folded,
    ) -> Result<(), KernelError> {
        // The part of a submit's environment the ledger knows must be what it had.
        if op.environment.as_ref().is_some_and(|env| !env.fits(self)) {
            return Err(KernelError::EnvironmentMismatch { seq });
        }
        if let Some(rewrite) = &op.rewrite {
            folded.applied.extend(
                self.pool
                    .commit_system(&mut self.graph, std::slice::from_ref(rewrite), seq)
                    .map_err(|source| replay_error(seq, source))?,
            );
        }
        for sws_op in &op.sws {
            if !matches!(sws_op, SwsRecord::Conflict { .. }) {
                self.fold_sws(seq, sws_op, folded)?;
            }
        }
        let process = op.event.process().unwrap_or(seq);
        folded.process = Some(process);
        self.processes
            .apply(seq, op.decided_ms, &op.event)
            .map_err(|source| KernelError::Process { seq, source })?;
        if self
            .processes
            .get(process)
            .is_some_and(|p| p.status.is_over())
        {
            if let Some(ended) = self.processes.forget(process) {
                folded.ended.push(Ended::Process(ended));
            }
            self.writs.fold_process_end(process, time_ms);
        }
        Ok(())
    }

    /// Replays a policy record at `seq`: the policy coming into force, a ruling (checked
    /// to be what that policy gives on its facts) or a vote (checked to be by someone the
    /// gate admits). Returns the process it belongs to.
    fn fold_policy(&mut self, seq: u64, op: PolicyRecord) -> Result<Option<u64>, KernelError> {
        let misfit = |source| KernelError::Governance { seq, source };
        let (process, event) = match op {
            PolicyRecord::Load(policy) => {
                self.policy = Some(RecordedPolicy { seq, policy });
                return Ok(None);
            }
            PolicyRecord::Decision(decision) => {
                // The ruling the state before it gives, facts and all: an edited fact, rule
                // or verdict does not replay.
                let expected = rule(self, decision.process, decision.job, decision.decided_ms)
                    .map_err(misfit)?;
                if expected != decision {
                    return Err(misfit(GovernanceRefusal::Mismatch {
                        policy: expected.policy.short(),
                    }));
                }
                (decision.process, decision.event())
            }
            PolicyRecord::Vote(vote) => {
                let need = waiting_need(self, vote.process, vote.job).ok_or(misfit(
                    GovernanceRefusal::NotWaiting {
                        process: vote.process,
                    },
                ))?;
                // The submitter, as the process's writ names them (the decide also checks
                // the submit record, for processes from before writs).
                if self
                    .writs
                    .of_process(vote.process)
                    .is_some_and(|writ| writ.writ.subject.uid == vote.uid)
                {
                    return Err(misfit(GovernanceRefusal::OwnProcess {
                        user: vote.user,
                        process: vote.process,
                    }));
                }
                let eligible = vote
                    .roles
                    .iter()
                    .any(|&role| role == need.from || role == jitos_gov::Role::Admin);
                if !eligible {
                    return Err(misfit(GovernanceRefusal::NotEligible {
                        user: vote.user,
                        needed: need.from,
                    }));
                }
                let event = Event::Voted {
                    process: vote.process,
                    job: vote.job,
                    by: vote.uid,
                    user: vote.user,
                    approve: vote.approve,
                    note: vote.note,
                };
                (vote.process, event)
            }
        };
        self.processes
            .apply(seq, 0, &event)
            .map_err(|source| KernelError::Process { seq, source })?;
        Ok(Some(process))
    }

    /// Replays a ruling on a workspace's collapse (checked to be what the policy in force
    /// gives on the facts and the changes the state holds) or a vote on one (checked to be
    /// by someone the hold admits, while its ruling stands at the record's time).
    fn fold_collapse_governance(
        &mut self,
        seq: u64,
        time_ms: u64,
        op: CollapseRecord,
    ) -> Result<(), KernelError> {
        let misfit = |source| KernelError::Governance { seq, source };
        match op {
            CollapseRecord::Ruling(ruling) => {
                let sws = ruling.sws;
                let mismatch = || {
                    misfit(GovernanceRefusal::Mismatch {
                        policy: ruling.policy.short(),
                    })
                };
                let ruled = is_ruled(self, sws).map_err(|e| e.at_seq(seq))?;
                if !ruled || self.processes.lane_owner(sws).is_some() {
                    return Err(mismatch());
                }
                // With a writ, the user is the writ's; without, the one recorded, which
                // the daemon authenticated.
                let by = Requester {
                    uid: ruling.uid,
                    user: ruling.facts.user.clone(),
                    roles: ruling.facts.roles.clone(),
                };
                let expected = rule_collapse(self, sws, &by, ruling.writ, ruling.decided_ms)
                    .map_err(|e| e.at_seq(seq))?;
                if expected != *ruling {
                    return Err(mismatch());
                }
                self.holds.fold_ruling(seq, *ruling);
            }
            CollapseRecord::Vote(vote) => {
                let sws = vote.sws;
                let hold = self
                    .holds
                    .get(sws)
                    .ok_or(misfit(GovernanceRefusal::NotHeld { sws }))?;
                if !stands(self, hold, time_ms).map_err(|e| e.at_seq(seq))? {
                    return Err(misfit(GovernanceRefusal::HoldStale { sws }));
                }
                self.holds.fold_vote(seq, vote).map_err(misfit)?
            }
        }
        Ok(())
    }

    /// Replays a ruling on a job outside any process: refused unless it is what the policy
    /// in force gives on the job it names, who asked and the writ's state before it. An
    /// allowing ruling admits the one dispatch that follows it.
    fn fold_job_ruling(&mut self, seq: u64, ruling: &JobRuling) -> Result<(), KernelError> {
        let misfit = |source| KernelError::Governance { seq, source };
        let (job, by) = recorded_job(ruling).map_err(misfit)?;
        let expected = rule_public_job(self, &job, &by, ruling.writ, ruling.decided_ms)
            .map_err(|e| e.at_seq(seq))?
            .ok_or(misfit(GovernanceRefusal::NoPolicy))?;
        if expected != *ruling {
            return Err(misfit(GovernanceRefusal::Mismatch {
                policy: ruling.policy.short(),
            }));
        }
        let allowed = (ruling.ruling.verdict == Verdict::Allow).then_some(AllowedJob {
            sws: job.sws,
            worker: job.worker,
            paths: job.paths,
        });
        self.holds.fold_job_ruling(allowed);
        Ok(())
    }

    /// Refuses a public dispatch under a policy, in a ledger that records rulings, that
    /// is not the job the ruling just before it allowed.
    fn check_public_dispatch(
        &mut self,
        seq: u64,
        dispatch: &crate::Dispatch,
    ) -> Result<(), KernelError> {
        if self.policy.is_none() || !self.holds.rulings_recorded() {
            return Ok(());
        }
        let wanted = AllowedJob {
            sws: dispatch.sws,
            worker: dispatch.worker.clone(),
            paths: dispatch.paths.clone(),
        };
        match self.holds.take_allowed_job() == Some(wanted) {
            true => Ok(()),
            false => Err(KernelError::Governance {
                seq,
                source: GovernanceRefusal::JobUnruled {
                    sws: dispatch.sws,
                    worker: dispatch.worker.clone(),
                },
            }),
        }
    }

    /// Refuses a collapse of `sws` its standing ruling does not let through, or whose
    /// ruling no longer stands at `time_ms` (the changes, the policy or the writ are not
    /// the ones ruled on), or that has no ruling in a ledger that records them. A ledger
    /// written before rulings existed collapses as it did.
    fn check_collapse_ruled(&self, seq: u64, time_ms: u64, sws: u64) -> Result<(), KernelError> {
        let refusal = match self.holds.get(sws) {
            Some(hold) => match stands(self, hold, time_ms).map_err(|e| e.at_seq(seq))? {
                true => hold.refusal(),
                false => Some(GovernanceRefusal::HoldStale { sws }),
            },
            None if self.holds.rulings_recorded()
                && is_ruled(self, sws).map_err(|e| e.at_seq(seq))? =>
            {
                Some(GovernanceRefusal::CollapseUnruled { sws })
            }
            None => None,
        };
        match refusal {
            Some(source) => Err(KernelError::Governance { seq, source }),
            None => Ok(()),
        }
    }

    /// Replays a writ record at `seq` (`record`'s time and actor).
    fn fold_writ(&mut self, seq: u64, record: &Record, op: WritRecord) -> Result<(), KernelError> {
        let misfit = |source| KernelError::Writ { seq, source };
        let time_ms = record.time_ms;
        match op {
            WritRecord::Key(key) => self.writs.fold_key(key),
            WritRecord::Issue(issue) => {
                let processes = &self.processes;
                // A writ derived at a submit names the daemon as its issuer.
                let issuer = match (&issue.grant, &record.actor) {
                    (Grant::Derived { .. }, _) => None,
                    (_, jitos_ledger::Actor::Peer { uid, .. }) => Some(*uid),
                    _ => None,
                };
                self.writs
                    .fold_issue(seq, time_ms, &issue, issuer, |p| processes.get(p).is_some())
                    .map_err(misfit)?;
            }
            WritRecord::Raise(raise) => {
                self.writs.fold_raise(time_ms, &raise).map_err(misfit)?;
            }
            WritRecord::Revoke(revoke) => {
                self.writs
                    .fold_revoke(seq, time_ms, &revoke)
                    .map_err(misfit)?;
                // The issue prunes before it counts; a revocation leaves writs to drop.
                self.writs.prune(time_ms);
            }
        }
        Ok(())
    }

    /// The job an attempt's owner names, in its process's current plan.
    pub(crate) fn process_job(&self, owner: Owner) -> Option<&JobNode> {
        let p = self.processes.get(owner.process)?;
        p.slaps.get(p.run.candidate)?.dag.jobs.get(owner.job)
    }

    /// The effect class of a running attempt: its dispatch's, raised by its process job's
    /// (its task's and its worker's); `None` for an attempt that is not running.
    pub fn attempt_effect(&self, attempt: u64) -> Option<jitos_gov::Effect> {
        let dispatch = &self.jobs.attempt(attempt)?.dispatch;
        let own = plan_effect_of_dispatch(dispatch.effect);
        let job = dispatch.owner.and_then(|owner| self.process_job(owner));
        Some(job.map_or(own, |node| own.max(self.job_effect(node))))
    }

    /// The process of attempt `attempt`, which a record at `seq` names and which must be
    /// running; `None` for an attempt of no process.
    fn running_attempts_process(&self, seq: u64, attempt: u64) -> Result<Option<u64>, KernelError> {
        Ok(self
            .jobs
            .running_attempt(attempt)
            .map_err(|source| KernelError::Job { seq, source })?
            .dispatch
            .owner
            .map(|owner| owner.process))
    }

    /// Replays a `job.connect` at `seq`: its attempt is running, and a connection the proxy
    /// let through was to a host and port its process's writ's egress names. Returns the
    /// attempt's process, if any.
    fn fold_connect(&mut self, seq: u64, op: &ConnectRecord) -> Result<Option<u64>, KernelError> {
        let process = self.running_attempts_process(seq, op.attempt)?;
        if op.let_through() {
            self.writs
                .check_connect(op.attempt, process, &op.host, op.port)
                .map_err(|source| KernelError::Writ { seq, source })?;
        }
        Ok(process)
    }

    /// Replays a `job.fetch` at `seq`: its attempt is running, a request that went out was
    /// within its process's writ's egress, and a model call's usage is charged to that
    /// writ. Returns the attempt's process, if any.
    fn fold_fetch(&mut self, seq: u64, op: &FetchRecord) -> Result<Option<u64>, KernelError> {
        let process = self.running_attempts_process(seq, op.attempt)?;
        if op.was_sent() {
            self.writs
                .check_egress(op.attempt, process, op.method.as_str(), &op.origin)
                .map_err(|source| KernelError::Writ { seq, source })?;
        }
        if let (Some(process), Some(usage)) = (process, &op.usage) {
            let used = jitos_gov::writ::Spent {
                jobs: 0,
                wall_secs: 0,
                counters: [
                    (TOKENS_COUNTER.to_owned(), usage.tokens()),
                    (COST_COUNTER.to_owned(), usage.cost_millicents),
                ]
                .into_iter()
                .collect(),
            };
            self.writs.fold_usage(process, &used);
        }
        Ok(process)
    }

    /// Replays an effect record at `seq`: a begin (checked to be of the class its job has),
    /// an end, or an unwinding.
    fn fold_effect(&mut self, seq: u64, op: &EffectRecord) -> Result<(), KernelError> {
        if let EffectRecord::Begin(begin) = op {
            let owner = Owner {
                process: begin.process,
                job: begin.job,
            };
            let class = self.process_job(owner).map(|node| self.job_effect(node));
            if class != Some(begin.class) || begin.class < jitos_gov::Effect::Local {
                return Err(KernelError::Process {
                    seq,
                    source: jitos_sched::SchedError::Misfit {
                        process: begin.process,
                        what: format!(
                            "an effect of class {} began for job {}, whose class is {}",
                            begin.class.name(),
                            begin.job,
                            class.map_or("unknown", |c| c.name())
                        ),
                    },
                });
            }
        }
        if let EffectRecord::End(end) = op {
            let open_key = self.processes.get(end.process).and_then(|p| {
                p.run
                    .effects
                    .iter()
                    .find(|mark| {
                        mark.job == end.job && mark.state == jitos_sched::EffectState::Begun
                    })
                    .map(|mark| mark.key.clone())
            });
            if open_key.is_some_and(|key| key != end.key) {
                return Err(KernelError::Process {
                    seq,
                    source: jitos_sched::SchedError::Misfit {
                        process: end.process,
                        what: format!(
                            "an effect of job {} ended under the key {:?}, not its begin's",
                            end.job, end.key
                        ),
                    },
                });
            }
        }
        self.processes
            .apply(seq, 0, &op.event())
            .map_err(|source| KernelError::Process { seq, source })
    }

    /// Whether workspace `sws` exists and is open, as a dispatch needs.
    pub(crate) fn check_open(&self, sws: u64) -> Result<(), JobsError> {
        match self.pool.workspace(sws) {
            Some(workspace) if workspace.is_open() => Ok(()),
            _ => Err(JobsError::WorkspaceNotOpen { sws }),
        }
    }
}

/// Refuses a ruling or vote outside a process that names someone other than the local
/// user whose request made the record.
fn check_asker(seq: u64, record: &Record, uid: u32) -> Result<(), KernelError> {
    match record.actor {
        jitos_ledger::Actor::Peer { uid: actor, .. } if actor != uid => {
            Err(KernelError::Governance {
                seq,
                source: GovernanceRefusal::NotTheAsker { named: uid, actor },
            })
        }
        _ => Ok(()),
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
            AttemptOutcome::Refused {
                why: format!("its proposal was refused: {reason}"),
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
