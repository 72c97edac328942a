//! Deciding process commands: a submit, an answer, a cancel, and each scheduler decision
//! as one `process.*` record carrying the workspace operations it performs.

use std::collections::BTreeMap;

use jitos_ledger::Actor;
use jitos_sched::{Answer as PersonAnswer, Base, Decision, EffectEnd, Event, Outcome, SchedError};
use jitos_sws::Over;
use jitos_tasks::{Intent, Slap};
use jitos_warp::{NodeId, Op, Rewrite, Value};

use super::{effects, Answer, Decided, Working};
use crate::{
    effect_record::{EffectRecord, Unwind},
    policy_record::{PolicyRecord, Vote},
    process_record::ProcessRecord,
    ruling::{self, GovernanceRefusal},
    run_environment::{HostEnvironment, RunEnvironment},
    sws_record::{collapse_op, SwsRecord},
    writ_record::SignedIssue,
    KernelError, State,
};

/// A process, with nodes for it and each of its plan candidates in the system graph, and
/// the environment it runs in: `host` as the daemon reports it, the workers and policy
/// from the state. Its id is the record's seq.
///
/// A writ given with it is recorded right after it, bound to it: the process runs under
/// that writ from its first decision.
pub(crate) fn submit(
    working: &Working<'_>,
    actor: Actor,
    intent: Intent,
    slaps: Vec<Slap>,
    writ: Option<Box<SignedIssue>>,
    host: HostEnvironment,
) -> Result<Decided, KernelError> {
    let rewrite = plan_nodes(working.seq, &intent, &slaps)?;
    let record = ProcessRecord {
        decided_ms: working.now_ms,
        event: Event::Submitted { intent, slaps },
        sws: Vec::new(),
        rewrite: Some(rewrite),
        context: None,
        environment: Some(Box::new(RunEnvironment::of(host, working.state))),
    };
    let mut decided = process_record(actor.clone(), &record, Answer::Submitted)?;
    if let Some(mut signed) = writ {
        signed.issue.for_process = Some(working.seq);
        decided
            .records
            .extend(super::writs::issue_records(working, actor, *signed)?);
    }
    Ok(decided)
}

/// A person's answer, after checking it fits (a process that does not wait, or waits for
/// another kind of answer, refuses it).
pub(crate) fn answer(
    working: &Working<'_>,
    actor: Actor,
    process: u64,
    answer: PersonAnswer,
) -> Result<Decided, KernelError> {
    // Approvals are votes, counted and checked (`vote`); these answers are read from old
    // ledgers only.
    if matches!(answer, PersonAnswer::Approve | PersonAnswer::Reject) {
        return Err(KernelError::ProcessRefused(SchedError::WrongAnswer {
            process,
            expected: "a vote (jitos approve or jitos reject)",
            got: answer.to_string(),
        }));
    }
    let event = Event::Answered { process, answer };
    let refused = KernelError::ProcessRefused;
    // What the answer makes known of an effect the process waited on: a retry says it
    // did not take place, a skip that it did. After a fail no one will say: the effects
    // not running end unknown first, and if the process then unwinds (an effect that
    // took place is owed its compensation) its running attempts are cancelled, so their
    // ends say; if it ends, every open effect ends unknown.
    let mut cancel = Vec::new();
    let (before, after, ended) = match &answer_of(&event) {
        Some(PersonAnswer::Fail) => {
            let idle = effects::unknown_ends(working.state, process, effects::Open::Idle);
            let mut trial = working.state.processes.clone();
            for end in idle {
                trial
                    .apply(working.seq, 0, &EffectRecord::End(end).event())
                    .map_err(refused)?;
            }
            let ended = trial.check(working.seq, &event).map_err(refused)?.is_over();
            // Either way what it runs is stopped: an ended process wants nothing more done.
            cancel = running_of(working.state, process);
            let which = match ended {
                true => effects::Open::All,
                false => effects::Open::Idle,
            };
            let before = effects::ends_unknown(working.state, process, which)?;
            (before, None, ended)
        }
        answered => {
            let ended = working
                .state
                .processes
                .check(working.seq, &event)
                .map_err(refused)?
                .is_over();
            let after = match answered {
                Some(PersonAnswer::Retry) => {
                    effects::end_by_person(working.state, process, EffectEnd::NotHappened)?
                }
                Some(PersonAnswer::Skip) => {
                    effects::end_by_person(working.state, process, EffectEnd::Happened)?
                }
                _ => None,
            };
            (Vec::new(), after, ended)
        }
    };
    let sws = if ended {
        discard_open(working.state, process, "a person ended it")
    } else {
        Vec::new()
    };
    let record = ProcessRecord {
        decided_ms: working.now_ms,
        event,
        sws,
        rewrite: None,
        context: None,
        environment: None,
    };
    let answered = process_record(actor, &record, Answer::Executed(cancel))?;
    Ok(Decided {
        records: before
            .into_iter()
            .chain(answered.records)
            .chain(after)
            .collect(),
        ..answered
    })
}

fn answer_of(event: &Event) -> Option<&PersonAnswer> {
    match event {
        Event::Answered { answer, .. } => Some(answer),
        _ => None,
    }
}

/// A person's approval or rejection of a job held for approvals: refused if the job does
/// not wait for approvals or the voter submitted the process (the fold checks the rest:
/// the voter's role, and that one principal counts once).
pub(crate) fn vote(
    working: &Working<'_>,
    actor: Actor,
    vote: Vote,
) -> Result<Decided, KernelError> {
    let refused = KernelError::GovernanceRefused;
    ruling::waiting_need(working.state, vote.process, vote.job).ok_or(refused(
        GovernanceRefusal::NotWaiting {
            process: vote.process,
        },
    ))?;
    let submitter = working
        .ledger
        .get(vote.process)?
        .and_then(|record| match record.actor {
            Actor::Peer { uid, .. } => Some(uid),
            _ => None,
        });
    if submitter == Some(vote.uid) {
        return Err(refused(GovernanceRefusal::OwnProcess {
            user: vote.user,
            process: vote.process,
        }));
    }
    let record = PolicyRecord::Vote(vote);
    Ok(Decided::one(
        actor,
        record.kind(),
        record.encode()?,
        Answer::Record,
    ))
}

/// A process ended as cancelled; its open workspaces are discarded.
pub(crate) fn cancel(
    working: &Working<'_>,
    actor: Actor,
    process: u64,
) -> Result<Decided, KernelError> {
    // An effect owed its compensation makes the cancel an unwinding first.
    let decision = working.state.processes.cancel_decision(process);
    execute(working, actor, working.now_ms, decision)
}

/// One decision made at `now_ms` (any but a dispatch, which is a job record, since the
/// worker must be resolved first).
pub(crate) fn execute(
    working: &Working<'_>,
    actor: Actor,
    now_ms: u64,
    decision: Decision,
) -> Result<Decided, KernelError> {
    let state = working.state;
    let seq = working.seq;
    let mut cancel = Vec::new();
    let mut context = None;
    let mut ends_first = Vec::new();
    let (event, sws) = match decision {
        Decision::Rule { process, job } => {
            let decision = ruling::rule(state, process, job, now_ms)
                .map_err(KernelError::GovernanceRefused)?;
            let record = PolicyRecord::Decision(decision);
            return Ok(Decided::one(
                actor,
                record.kind(),
                record.encode()?,
                Answer::Executed(Vec::new()),
            ));
        }
        Decision::Dispatch { process, job, .. } => {
            return Err(KernelError::ProcessRefused(SchedError::Misfit {
                process,
                what: format!("job {job} is dispatched with a job record"),
            }))
        }
        Decision::OpenLane {
            process,
            lane,
            base,
        } => {
            let over = match base {
                Base::System => Over::System { at_seq: seq - 1 },
                Base::Workspace(parent) => Over::Workspace { id: parent },
            };
            let event = Event::LaneOpened {
                process,
                lane,
                sws: seq,
            };
            (event, vec![SwsRecord::Create { over }])
        }
        Decision::ScheduleRetry {
            process,
            job,
            until_ms,
        } => (
            Event::RetryScheduled {
                process,
                job,
                until_ms,
            },
            Vec::new(),
        ),
        Decision::Ask {
            process,
            job,
            question,
            reason,
        } => {
            context = state.ask_context(process, job);
            (
                Event::Asked {
                    process,
                    job,
                    question,
                    reason,
                },
                Vec::new(),
            )
        }
        Decision::CollapseLane { process, lane, sws } => {
            let op = collapse_op(state, sws, seq)?;
            let event = match &op {
                SwsRecord::Conflict { report, .. } => Event::LaneConflict {
                    process,
                    lane,
                    why: format!(
                        "its workspace {sws} conflicts with what changed since its base ({} keys)",
                        report.conflicts.len()
                    ),
                },
                _ => Event::LaneCollapsed { process, lane },
            };
            (event, vec![op])
        }
        Decision::DiscardLane {
            process,
            lane,
            sws,
            reason,
        } => {
            cancel = attempts_in_lane(state, process, lane);
            let reason = workspace_reason(reason);
            (
                Event::LaneDiscarded { process, lane },
                vec![SwsRecord::Discard { sws, reason }],
            )
        }
        Decision::Advance { process, to, why } => {
            // The abandoned candidate's effects still open end unknown with it.
            ends_first = effects::ends_unknown(state, process, effects::Open::All)?;
            cancel = running_of(state, process);
            let reason = workspace_reason(format!("abandoned for plan {}: {why}", to + 1));
            let sws = discard_open(state, process, &reason);
            (Event::Advanced { process, to, why }, sws)
        }
        Decision::Unwind { process, then, why } => {
            let record = EffectRecord::Unwind(Unwind {
                decided_ms: now_ms,
                process,
                then,
                why,
            });
            // Its running attempts are cancelled: an effect's attempt cut off so is
            // settled (verified or asked about) before anything is compensated.
            return Ok(Decided::one(
                actor,
                record.kind(),
                record.encode()?,
                Answer::Executed(running_of(state, process)),
            ));
        }
        Decision::Finish { process, outcome } => {
            ends_first = effects::ends_unknown(state, process, effects::Open::All)?;
            cancel = running_of(state, process);
            let reason = match &outcome {
                Outcome::Done => "the process is done".to_owned(),
                Outcome::Failed { why } => format!("the process failed: {why}"),
                Outcome::Cancelled => "the process was cancelled".to_owned(),
            };
            let sws = discard_open(state, process, &workspace_reason(reason));
            (Event::Finished { process, outcome }, sws)
        }
    };
    let record = ProcessRecord {
        decided_ms: now_ms,
        event,
        sws,
        rewrite: None,
        context,
        environment: None,
    };
    let executed = process_record(actor, &record, Answer::Executed(cancel))?;
    Ok(Decided {
        records: ends_first.into_iter().chain(executed.records).collect(),
        ..executed
    })
}

fn process_record(
    actor: Actor,
    record: &ProcessRecord,
    answer: Answer,
) -> Result<Decided, KernelError> {
    Ok(Decided::one(actor, record.kind(), record.encode()?, answer))
}

/// The discards of a process's open workspaces, children before parents.
fn discard_open(state: &State, process: u64, reason: &str) -> Vec<SwsRecord> {
    let open = state
        .processes
        .get(process)
        .map(|p| p.open_workspaces())
        .unwrap_or_default();
    open.into_iter()
        .rev()
        .map(|sws| SwsRecord::Discard {
            sws,
            reason: reason.to_owned(),
        })
        .collect()
}

fn running_of(state: &State, process: u64) -> Vec<u64> {
    state
        .processes
        .get(process)
        .map(|p| p.running_attempts())
        .unwrap_or_default()
}

fn attempts_in_lane(state: &State, process: u64, lane: usize) -> Vec<u64> {
    let Some(p) = state.processes.get(process) else {
        return Vec::new();
    };
    let Some(slap) = p.slaps.get(p.run.candidate) else {
        return Vec::new();
    };
    p.run
        .jobs
        .iter()
        .zip(&slap.dag.jobs)
        .filter(|(_, node)| node.lane == lane)
        .filter_map(|(state, _)| match state {
            jitos_sched::JobState::Running { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect()
}

/// A reason fit for a workspace's discard: a failure's text (a worker's, at most as long
/// as the limit itself) with what the process adds may run past the limit, and a refused
/// discard would leave the scheduler retrying the decision forever. The process's record
/// keeps the whole text.
fn workspace_reason(mut reason: String) -> String {
    const MORE: &str = "…";
    if reason.len() > jitos_sws::REASON_BYTES_MAX {
        let mut end = jitos_sws::REASON_BYTES_MAX - MORE.len();
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push_str(MORE);
    }
    reason
}

/// The nodes that record a process and its plan candidates in the system graph:
/// `process:<id>` (its goal and parameters) and `plan:<id>:<n>` for each candidate (the
/// method chosen for each task, and how many jobs), joined by `candidate` edges.
fn plan_nodes(id: u64, intent: &Intent, slaps: &[Slap]) -> Result<Rewrite, KernelError> {
    let node_id = |text: String| {
        NodeId::new(text).map_err(|e| KernelError::Payload(format!("a plan node id: {e}")))
    };
    let process = node_id(format!("process:{id}"))?;
    let params: BTreeMap<String, Value> = intent
        .params
        .iter()
        .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
        .collect();
    let mut ops = vec![Op::AddNode {
        id: process.clone(),
        kind: "Process".to_owned(),
        attrs: BTreeMap::from([
            ("goal".to_owned(), Value::Str(intent.goal.clone())),
            ("params".to_owned(), Value::Map(params)),
            ("candidates".to_owned(), Value::Int(slaps.len() as i64)),
        ]),
    }];
    for slap in slaps {
        let plan = node_id(format!("plan:{id}:{}", slap.index + 1))?;
        let methods = slap.tree.choices().into_iter().map(Value::Str).collect();
        ops.push(Op::AddNode {
            id: plan.clone(),
            kind: "Plan".to_owned(),
            attrs: BTreeMap::from([
                ("index".to_owned(), Value::Int(slap.index as i64 + 1)),
                ("methods".to_owned(), Value::List(methods)),
                ("jobs".to_owned(), Value::Int(slap.dag.jobs.len() as i64)),
            ]),
        });
        ops.push(Op::AddEdge {
            from: process.clone(),
            to: plan,
            label: "candidate".to_owned(),
        });
    }
    Ok(Rewrite {
        ops,
        expect: Vec::new(),
    })
}
