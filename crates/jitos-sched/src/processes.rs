//! `Processes`: every process, folded from its events with the checks that keep a ledger
//! honest — an event that does not fit the process's state is refused, so a ledger that
//! broke a rule does not replay.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use jitos_gov::{policy::Verdict, Role};
use jitos_tasks::{JobKind, Purpose, Slap};

use crate::{
    decide::owes_compensation,
    event::{Answer, AttemptOutcome, EffectEnd, Event, Outcome},
    process::Need,
    process::{
        effect_key, EffectMark, EffectState, JobState, LaneState, Process, Run, Status, Then,
        WaitReason,
    },
    SchedError,
};

/// Every process, by id. Persistent: a copy costs O(1) and shares every process neither
/// side changes afterwards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Processes {
    by_id: imbl::OrdMap<u64, Arc<Process>>,
}

impl Processes {
    /// A process by id.
    pub fn get(&self, id: u64) -> Option<&Process> {
        self.by_id.get(&id).map(Arc::as_ref)
    }

    /// Every process, oldest first.
    pub fn all(&self) -> impl DoubleEndedIterator<Item = &Process> + '_ {
        self.by_id.values().map(Arc::as_ref)
    }

    /// Process `id`, shared: a view that did not change it holds the very same one, so a
    /// follower tells "unchanged" by pointer.
    pub fn shared(&self, id: u64) -> Option<Arc<Process>> {
        self.by_id.get(&id).cloned()
    }

    /// The processes with an id below `before`, newest first: a page from a cursor in
    /// O(log n) to its start.
    pub fn before(&self, before: u64) -> impl Iterator<Item = &Process> + '_ {
        self.by_id.range(..before).rev().map(|(_, p)| p.as_ref())
    }

    /// Removes process `id` and returns it: its holder's retention decision (the kernel
    /// keeps only live processes and answers ended ones from the ledger).
    pub fn forget(&mut self, id: u64) -> Option<Arc<Process>> {
        self.by_id.remove(&id)
    }

    /// The process that runs in `sws`, if it is one of a live process's open lanes: no
    /// one else may change or end it, or the process would decide on a workspace it no
    /// longer knows.
    pub fn lane_owner(&self, sws: u64) -> Option<u64> {
        self.all()
            .find(|p| !p.status.is_over() && p.open_workspaces().contains(&sws))
            .map(|p| p.id)
    }

    /// Whether `event` fits, and where its process would stand after it: the fold run on
    /// a copy of the one process; nothing here changes.
    pub fn check(&self, seq: u64, event: &Event) -> Result<Status, SchedError> {
        let id = event.process().unwrap_or(seq);
        let mut trial = Processes::default();
        if let Some(process) = self.by_id.get(&id) {
            trial.by_id.insert(id, process.clone());
        }
        trial.apply(seq, 0, event)?;
        trial
            .by_id
            .get(&id)
            .map(|p| p.status.clone())
            .ok_or(SchedError::UnknownProcess { process: id })
    }

    /// Folds the event of the record at `seq`, made at `time_ms`.
    pub fn apply(&mut self, seq: u64, time_ms: u64, event: &Event) -> Result<(), SchedError> {
        if let Event::Submitted { intent, slaps } = event {
            let first = slaps.first().ok_or(SchedError::NoCandidates)?;
            for (index, slap) in slaps.iter().enumerate() {
                slap.dag.check().map_err(|what| SchedError::Misfit {
                    process: seq,
                    what: format!("plan {} is malformed: {what}", index + 1),
                })?;
            }
            self.by_id.insert(
                seq,
                Arc::new(Process {
                    id: seq,
                    intent: intent.clone(),
                    slaps: Arc::new(slaps.clone()),
                    submitted_ms: time_ms,
                    run: fresh_run(0, first),
                    attempts: 0,
                    status: Status::Running,
                }),
            );
            return Ok(());
        }
        let id = event.process().unwrap_or(seq);
        let process = self
            .by_id
            .get_mut(&id)
            .map(Arc::make_mut)
            .ok_or(SchedError::UnknownProcess { process: id })?;
        if process.status.is_over() {
            // Attempts still in flight when a process ended report later; that is all.
            return match event {
                Event::AttemptEnded { .. } | Event::LaneDiscarded { .. } => Ok(()),
                _ => Err(SchedError::Ended { process: id }),
            };
        }
        apply_to(process, seq, event)
    }
}

/// The state of a candidate before anything ran.
pub(crate) fn fresh_run(candidate: usize, slap: &Slap) -> Run {
    Run {
        candidate,
        lanes: vec![LaneState::Unopened; slap.dag.lanes.len()],
        jobs: vec![JobState::Pending; slap.dag.jobs.len()],
        allowed: vec![false; slap.dag.jobs.len()],
        rulings: vec![None; slap.dag.jobs.len()],
        effects: Vec::new(),
        unwinding: None,
        rounds: vec![0; slap.dag.jobs.len()],
        fed: vec![None; slap.dag.jobs.len()],
    }
}

/// When gate `gate` failed with a verdict in attempt `attempt` and an earlier job takes
/// its feedback with a round left: that job and every job from it to the gate are to run
/// again, the earlier one given the gate's output. Returns the jobs to reset, the fed job
/// first, or none when no round is left.
fn feedback_round(dag: &jitos_tasks::Dag, run: &Run, gate: usize) -> Option<(usize, Vec<usize>)> {
    let fed = dag
        .jobs
        .iter()
        .position(|node| node.feedback.is_some_and(|feedback| feedback.from == gate))?;
    let rounds = dag.jobs[fed].feedback?.rounds;
    if run.rounds.get(fed).copied().unwrap_or(u32::MAX) >= rounds {
        return None;
    }
    // The jobs the gate waits on, itself included, that wait on the fed job.
    let reaches = |from: usize, to: usize| {
        let mut seen = vec![false; dag.jobs.len()];
        let mut todo = vec![from];
        while let Some(job) = todo.pop() {
            if job == to {
                return true;
            }
            for &before in &dag.jobs[job].after {
                if before < seen.len() && !seen[before] {
                    seen[before] = true;
                    todo.push(before);
                }
            }
        }
        false
    };
    let mut again = vec![fed];
    again.extend((0..dag.jobs.len()).filter(|&job| {
        job != fed
            && dag.jobs[job].purpose == jitos_tasks::Purpose::Step
            && reaches(gate, job)
            && reaches(job, fed)
    }));
    // The library allows rounds only over jobs within their workspace; a plan from
    // elsewhere whose round would repeat an effect gets none.
    if again
        .iter()
        .any(|job| run.effects.iter().any(|mark| mark.job == *job))
    {
        return None;
    }
    Some((fed, again))
}

fn apply_to(process: &mut Process, seq: u64, event: &Event) -> Result<(), SchedError> {
    let id = process.id;
    let misfit = |what: String| SchedError::Misfit { process: id, what };
    let slap = process
        .slaps
        .get(process.run.candidate)
        .ok_or_else(|| misfit("its candidate is missing".to_owned()))?;
    let dag = &slap.dag;
    let run = &mut process.run;
    match event {
        Event::Submitted { .. } => return Err(misfit("submitted twice".to_owned())),
        Event::LaneOpened { lane, sws, .. } => match run.lanes.get_mut(*lane) {
            Some(state @ LaneState::Unopened) => *state = LaneState::Open { sws: *sws },
            _ => {
                return Err(misfit(format!(
                    "lane {lane} opened twice or does not exist"
                )))
            }
        },
        Event::Dispatched {
            job, attempt, sws, ..
        } => {
            let node = dag
                .jobs
                .get(*job)
                .ok_or_else(|| misfit(format!("job {job} does not exist")))?;
            if !matches!(node.kind, JobKind::Run { .. }) {
                return Err(misfit(format!("job {job} runs no worker")));
            }
            let due = match node.purpose {
                Purpose::Step => true,
                Purpose::Verify { of } => matches!(run.jobs.get(of), Some(JobState::Unsure { .. })),
                Purpose::Compensate { .. } => run.unwinding.is_some(),
            };
            if !due {
                return Err(misfit(format!(
                    "job {job} dispatched when it is not needed"
                )));
            }
            if run.lanes.get(node.lane) != Some(&LaneState::Open { sws: *sws }) {
                return Err(misfit(format!(
                    "job {job} dispatched into workspace {sws}, which is not its lane's"
                )));
            }
            let tries = match run.jobs.get(*job) {
                Some(JobState::Pending) => 0,
                Some(JobState::Waiting { tries, .. }) => *tries,
                other => return Err(misfit(format!("job {job} dispatched while {other:?}"))),
            };
            run.jobs[*job] = JobState::Running {
                attempt: *attempt,
                tries: tries + 1,
            };
            process.attempts += 1;
        }
        Event::AttemptEnded {
            attempt, outcome, ..
        } => {
            let Some(job) = run
                .jobs
                .iter()
                .position(|j| matches!(j, JobState::Running { attempt: a, .. } if a == attempt))
            else {
                // An attempt of an abandoned candidate or a lost lane; nothing waits on it.
                return Ok(());
            };
            let JobState::Running { tries, .. } = run.jobs[job] else {
                return Err(misfit(format!("job {job} is not running")));
            };
            let JobKind::Run {
                retries,
                gate,
                idempotent,
                ..
            } = &dag.jobs[job].kind
            else {
                return Err(misfit(format!("job {job} runs no worker")));
            };
            let effect_open = run.effects.iter().any(|mark| {
                mark.job == job && mark.attempt == *attempt && mark.state == EffectState::Begun
            });
            // An effect's attempt that ended without a verdict leaves it unknown whether
            // the effect took place: it is settled before the job may run again.
            if effect_open {
                let unsure = match outcome {
                    AttemptOutcome::CutOff => Some("jitosd stopped while it ran".to_owned()),
                    AttemptOutcome::Failed {
                        why,
                        verdict: false,
                    }
                    | AttemptOutcome::Refused { why } => Some(why.clone()),
                    _ => None,
                };
                if let Some(why) = unsure {
                    run.jobs[job] = JobState::Unsure { tries, why };
                    return Ok(());
                }
            }
            // A verify job's exit status is its answer; the effect's end follows it.
            if let Purpose::Verify { .. } = dag.jobs[job].purpose {
                run.jobs[job] = match outcome {
                    AttemptOutcome::Succeeded => JobState::Done { value: None },
                    AttemptOutcome::Failed { verdict: true, .. } => JobState::Pending,
                    AttemptOutcome::Failed { why, .. } | AttemptOutcome::Refused { why } => {
                        JobState::Failed { why: why.clone() }
                    }
                    AttemptOutcome::CutOff => JobState::Failed {
                        why: "jitosd stopped while it ran".to_owned(),
                    },
                };
                return Ok(());
            }
            // A gate's verdict that an earlier job takes as feedback, with a round left,
            // runs that job again with this attempt's output, and the jobs up to the gate.
            let verdict = matches!(outcome, AttemptOutcome::Failed { verdict: true, .. })
                || matches!(outcome, AttemptOutcome::Refused { .. });
            if *gate && verdict {
                if let Some((fed, again)) = feedback_round(dag, run, job) {
                    for again in again {
                        run.jobs[again] = JobState::Pending;
                    }
                    run.rounds[fed] += 1;
                    run.fed[fed] = Some(*attempt);
                    return Ok(());
                }
            }
            // Elsewhere a refused proposal is a verdict, like a non-zero exit status.
            run.jobs[job] = match outcome {
                AttemptOutcome::Succeeded => JobState::Done { value: None },
                AttemptOutcome::Failed { why, verdict }
                    if (*gate && *verdict) || tries > *retries =>
                {
                    JobState::Failed { why: why.clone() }
                }
                AttemptOutcome::Refused { why } if *gate || tries > *retries => {
                    JobState::Failed { why: why.clone() }
                }
                AttemptOutcome::Failed { .. } | AttemptOutcome::Refused { .. } => {
                    JobState::RetryDue { tries }
                }
                AttemptOutcome::CutOff if *idempotent => JobState::RetryDue { tries },
                AttemptOutcome::CutOff => {
                    process.status = Status::Waiting {
                        job,
                        question: format!(
                            "job {} was running when jitosd stopped, and it is not idempotent: did it take effect? Answer retry (it did not), skip (it did) or fail",
                            dag.jobs[job].id
                        ),
                        reason: WaitReason::Crash,
                    };
                    JobState::Asked
                }
            };
        }
        Event::RetryScheduled { job, until_ms, .. } => match run.jobs.get(*job) {
            Some(JobState::RetryDue { tries }) => {
                run.jobs[*job] = JobState::Waiting {
                    tries: *tries,
                    until_ms: *until_ms,
                }
            }
            other => return Err(misfit(format!("retry of job {job} while {other:?}"))),
        },
        Event::Asked {
            job,
            question,
            reason,
            ..
        } => {
            match (run.jobs.get(*job), reason) {
                (Some(JobState::Pending), WaitReason::Ask | WaitReason::Approval)
                | (Some(JobState::Failed { .. }), WaitReason::Failure)
                // A spent budget, before the job's next attempt.
                | (Some(JobState::Pending | JobState::Waiting { .. }), WaitReason::Failure)
                | (Some(JobState::Unsure { .. }), WaitReason::Crash) => {}
                (other, _) => return Err(misfit(format!("job {job} asked about while {other:?}"))),
            }
            run.jobs[*job] = JobState::Asked;
            process.status = Status::Waiting {
                job: *job,
                question: question.clone(),
                reason: *reason,
            };
        }
        Event::Answered { answer, .. } => {
            let Status::Waiting { job, reason, .. } = &process.status else {
                return Err(misfit("answered while not waiting".to_owned()));
            };
            let (job, reason) = (*job, *reason);
            let state = match (reason, answer) {
                (WaitReason::Ask, Answer::Value(value)) => JobState::Done {
                    value: Some(value.clone()),
                },
                // Recorded before approvals were counted; a gate takes only votes.
                (WaitReason::Approval, Answer::Approve) if run.jobs[job] == JobState::Asked => {
                    JobState::Done {
                        value: Some("approved".to_owned()),
                    }
                }
                (WaitReason::Approval, Answer::Reject) if run.jobs[job] == JobState::Asked => {
                    JobState::Failed {
                        why: "rejected".to_owned(),
                    }
                }
                (WaitReason::Failure | WaitReason::Crash, Answer::Retry) => JobState::Pending,
                (WaitReason::Failure | WaitReason::Crash, Answer::Skip) => {
                    JobState::Done { value: None }
                }
                // A person's fail ends the process, or, while an effect that took place is
                // owed its compensation, makes it unwind first (a fail while it unwinds
                // stops the unwinding).
                (_, Answer::Fail) => {
                    let why = "a person answered fail".to_owned();
                    if run.unwinding.is_none() && owes_compensation(run, dag) {
                        run.unwinding = Some(Then::Finish(Outcome::Failed { why }));
                        process.status = Status::Running;
                    } else {
                        // Its open workspaces are discarded with this record, as at an end.
                        close_run(run);
                        process.status = Status::Failed { seq, why };
                    }
                    return Ok(());
                }
                (reason, answer) => {
                    return Err(SchedError::WrongAnswer {
                        process: id,
                        expected: expected_answer(reason),
                        got: answer.to_string(),
                    })
                }
            };
            run.jobs[job] = state;
            // A person settled what a failed verify job could not; it may run next time.
            if let Some(verify) = dag.verify_of(job) {
                if matches!(run.jobs[verify], JobState::Failed { .. }) {
                    run.jobs[verify] = JobState::Pending;
                }
            }
            process.status = Status::Running;
        }
        Event::EffectBegun {
            job, attempt, key, ..
        } => {
            let step = dag.jobs.get(*job).map(|n| n.purpose) == Some(Purpose::Step);
            let running = matches!(run.jobs.get(*job), Some(JobState::Running { attempt: a, .. }) if a == attempt);
            let open = run
                .effects
                .iter()
                .any(|m| m.job == *job && m.state == EffectState::Begun);
            if !step || !running || open {
                return Err(misfit(format!(
                    "an effect of job {job} began with attempt {attempt}, which is not its running step's, or one is open"
                )));
            }
            if *key != effect_key(id, run.candidate, *job) {
                return Err(misfit(format!(
                    "an effect of job {job} began with the key {key:?}, which is not the job's"
                )));
            }
            run.effects.push(EffectMark {
                job: *job,
                attempt: *attempt,
                key: key.clone(),
                state: EffectState::Begun,
            });
        }
        Event::EffectEnded { job, end, .. } => {
            let Some(at) = run
                .effects
                .iter()
                .position(|m| m.job == *job && m.state == EffectState::Begun)
            else {
                return Err(misfit(format!("job {job} has no effect open to end")));
            };
            let mut mark = run.effects.remove(at);
            let unsure = match &run.jobs[*job] {
                JobState::Unsure { tries, why } => Some((*tries, why.clone())),
                _ => None,
            };
            match end {
                EffectEnd::Happened => {
                    mark.state = EffectState::Happened;
                    run.effects.push(mark);
                    if unsure.is_some() {
                        run.jobs[*job] = JobState::Done { value: None };
                    }
                }
                EffectEnd::NotHappened => {
                    if let Some((tries, why)) = unsure {
                        let retries = match &dag.jobs[*job].kind {
                            JobKind::Run { retries, .. } => *retries,
                            _ => 0,
                        };
                        run.jobs[*job] = if tries > retries {
                            JobState::Failed {
                                why: format!("{why}; it did not take effect"),
                            }
                        } else {
                            JobState::RetryDue { tries }
                        };
                    }
                }
                EffectEnd::Unknown => {}
            }
        }
        Event::Unwinding { then, .. } => {
            if run.unwinding.is_some() {
                return Err(misfit("it unwinds already".to_owned()));
            }
            // A job whose person was asked whether its effect took place is asked again
            // by the unwinding, which must know before it compensates.
            for mark in &run.effects {
                if mark.state == EffectState::Begun && run.jobs[mark.job] == JobState::Asked {
                    run.jobs[mark.job] = JobState::Unsure {
                        tries: 0,
                        why: "it was waiting for a person when the process began to unwind"
                            .to_owned(),
                    };
                }
            }
            run.unwinding = Some(then.clone());
            process.status = Status::Running;
        }
        Event::Ruled {
            job, verdict, why, ..
        } => {
            let node = dag
                .jobs
                .get(*job)
                .ok_or_else(|| misfit(format!("job {job} does not exist")))?;
            // A job waiting for its retry when a policy came into force is ruled on too.
            let ready = matches!(run.jobs[*job], JobState::Pending | JobState::Waiting { .. });
            if !ready || run.allowed[*job] {
                return Err(misfit(format!(
                    "job {job} ruled on while {:?}",
                    run.jobs[*job]
                )));
            }
            let question = match &node.kind {
                JobKind::Run { .. } => None,
                JobKind::Ask {
                    question,
                    yes_no: true,
                } => Some(question.clone()),
                _ => return Err(misfit(format!("job {job} is not ruled on by the policy"))),
            };
            run.rulings[*job] = Some(why.clone());
            // A yes/no step asks a person whatever the policy says, at least one approver.
            let need = match (verdict, &question) {
                (Verdict::Deny, _) => {
                    run.jobs[*job] = JobState::Failed {
                        why: format!("the policy denies it: {why}"),
                    };
                    return Ok(());
                }
                (Verdict::Allow, None) => {
                    run.allowed[*job] = true;
                    return Ok(());
                }
                (Verdict::Allow, Some(_)) => Need {
                    count: 1,
                    from: Role::Approver,
                },
                (Verdict::Require { count, from }, _) => Need {
                    count: *count,
                    from: *from,
                },
            };
            run.jobs[*job] = JobState::Gated {
                need,
                approvals: Vec::new(),
            };
            process.status = Status::Waiting {
                job: *job,
                question: question.unwrap_or_else(|| format!("may {} run? ({why})", node.id)),
                reason: WaitReason::Approval,
            };
        }
        Event::Voted {
            job,
            by,
            user,
            approve,
            note,
            ..
        } => {
            let waiting = matches!(&process.status, Status::Waiting { job: j, reason: WaitReason::Approval, .. } if j == job);
            let node_kind = dag.jobs.get(*job).map(|node| &node.kind);
            let (need, mut approvals) = match run.jobs.get(*job) {
                Some(JobState::Gated { need, approvals }) if waiting => (*need, approvals.clone()),
                // A yes/no step asked with no policy in force: one approver.
                Some(JobState::Asked) if waiting => (
                    Need {
                        count: 1,
                        from: Role::Approver,
                    },
                    Vec::new(),
                ),
                other => {
                    return Err(misfit(format!(
                        "job {job} does not wait for approvals (it is {other:?})"
                    )))
                }
            };
            if approvals.contains(by) {
                return Err(SchedError::AlreadyApproved {
                    process: id,
                    user: user.clone(),
                });
            }
            if !approve {
                run.jobs[*job] = JobState::Failed {
                    why: format!("{user} rejected it: {note}"),
                };
                process.status = Status::Running;
                return Ok(());
            }
            approvals.push(*by);
            if (approvals.len() as u64) < u64::from(need.count) {
                run.jobs[*job] = JobState::Gated { need, approvals };
                return Ok(());
            }
            run.jobs[*job] = match node_kind {
                Some(JobKind::Run { .. }) => {
                    run.allowed[*job] = true;
                    JobState::Pending
                }
                _ => JobState::Done {
                    value: Some("approved".to_owned()),
                },
            };
            process.status = Status::Running;
        }
        Event::LaneCollapsed { lane, .. } => {
            let sws = match run.lanes.get(*lane) {
                Some(LaneState::Open { sws }) => *sws,
                other => return Err(misfit(format!("lane {lane} collapsed while {other:?}"))),
            };
            run.lanes[*lane] = LaneState::Collapsed { sws };
            // The race this lane won is done, and its rivals' jobs will not be needed.
            if let Some(race) = race_of(dag, *lane) {
                run.jobs[race] = JobState::Done { value: None };
                if let JobKind::Race { lanes } = &dag.jobs[race].kind {
                    for (job, node) in dag.jobs.iter().enumerate() {
                        let rival = lanes.contains(&node.lane) && node.lane != *lane;
                        if rival && !run.jobs[job].is_over() {
                            run.jobs[job] = JobState::Cancelled;
                        }
                    }
                }
            }
        }
        Event::LaneConflict { lane, why, .. } => {
            // The lane's work cannot land: its jobs stand, but the lane has failed.
            let job = lane_exit(dag, *lane)
                .ok_or_else(|| misfit(format!("lane {lane} conflicted, but it has no job")))?;
            run.jobs[job] = JobState::Failed { why: why.clone() };
        }
        Event::LaneDiscarded { lane, .. } => {
            let sws = match run.lanes.get(*lane) {
                Some(LaneState::Open { sws }) => *sws,
                other => return Err(misfit(format!("lane {lane} discarded while {other:?}"))),
            };
            run.lanes[*lane] = LaneState::Discarded { sws };
            for (job, node) in dag.jobs.iter().enumerate() {
                if node.lane == *lane && !run.jobs[job].is_over() {
                    run.jobs[job] = JobState::Cancelled;
                }
            }
        }
        Event::Advanced { to, .. } => {
            let next = process
                .slaps
                .get(*to)
                .filter(|_| *to == run.candidate + 1)
                .ok_or_else(|| misfit(format!("no candidate {to} to move to")))?;
            // The abandoned candidate's workspaces are discarded with this record.
            *run = fresh_run(*to, next);
        }
        Event::Finished { outcome, .. } => {
            // Its open workspaces are discarded with this record.
            close_run(run);
            process.status = match outcome {
                Outcome::Done => Status::Done { seq },
                Outcome::Failed { why } => Status::Failed {
                    seq,
                    why: why.clone(),
                },
                Outcome::Cancelled => Status::Cancelled { seq },
            };
        }
    }
    Ok(())
}

/// A run as its process ends: its open lanes discarded (with the ending record) and the
/// jobs not over cancelled.
fn close_run(run: &mut Run) {
    for lane in &mut run.lanes {
        if let LaneState::Open { sws } = lane {
            *lane = LaneState::Discarded { sws: *sws };
        }
    }
    for job in &mut run.jobs {
        if !job.is_over() {
            *job = JobState::Cancelled;
        }
    }
}

/// What a person must answer a wait of `reason` with.
pub(crate) fn expected_answer(reason: WaitReason) -> &'static str {
    match reason {
        WaitReason::Ask => "a value (resume --value)",
        WaitReason::Approval => "approve or reject",
        WaitReason::Failure | WaitReason::Crash => "retry, skip or fail",
    }
}

/// The race job whose lanes include `lane`.
pub(crate) fn race_of(dag: &jitos_tasks::Dag, lane: usize) -> Option<usize> {
    dag.jobs
        .iter()
        .position(|j| matches!(&j.kind, JobKind::Race { lanes } if lanes.contains(&lane)))
}

/// The job that stands for a lane's outcome: its last job (a lane's jobs are compiled in
/// order, so the last one is an exit); none for a lane without jobs.
pub(crate) fn lane_exit(dag: &jitos_tasks::Dag, lane: usize) -> Option<usize> {
    dag.jobs
        .iter()
        .rposition(|j| j.lane == lane && j.purpose == Purpose::Step)
}
