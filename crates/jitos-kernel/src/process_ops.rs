//! Process operations on the live kernel: a submit, an answer, a cancel, and the
//! execution of each scheduler decision as one durable record. As with workspaces, the
//! pool runs an operation first and the record follows; the process's own state is folded
//! from the record inside `Kernel::record_op`, as replay folds it.

use std::collections::BTreeMap;

use jitos_ledger::{Actor, Record};
use jitos_sched::{Answer, Base, Decision, Event, Outcome, Processes};
use jitos_sws::Over;
use jitos_tasks::{Intent, Slap};
use jitos_warp::{NodeId, Op, Rewrite, Value};

use jitos_tree::diff_trees;

use crate::{
    process_record::{AskContext, ProcessRecord},
    sws_record::SwsRecord,
    Kernel, KernelError,
};

/// What executing a decision did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// Its record.
    pub record: Record,
    /// Attempts that run for nothing now (a lane discarded, a candidate abandoned, a
    /// process ended): the daemon cancels them.
    pub cancel: Vec<u64>,
}

impl Kernel {
    /// Every process.
    pub fn processes(&self) -> &Processes {
        &self.state.processes
    }

    /// The time now, from the ledger's clock: what decisions are made at.
    pub fn now_ms(&self) -> u64 {
        self.options().clock.now_ms()
    }

    /// Records a process: its intent and its plan candidates, in the order they will be
    /// tried, with nodes for the process and each candidate in the system graph. Its id is
    /// the record's seq.
    pub fn process_submit(
        &mut self,
        actor: Actor,
        intent: Intent,
        slaps: Vec<Slap>,
    ) -> Result<Record, KernelError> {
        let seq = self.next_seq()?;
        let rewrite = plan_nodes(seq, &intent, &slaps)?;
        self.state
            .pool
            .commit_system(&mut self.state.graph, std::slice::from_ref(&rewrite), seq)
            .map_err(|e| {
                KernelError::ProcessRefused(jitos_sched::SchedError::Misfit {
                    process: seq,
                    what: format!("its plan nodes do not apply: {e}"),
                })
            })?;
        let record = ProcessRecord {
            decided_ms: self.now_ms(),
            event: Event::Submitted { intent, slaps },
            sws: Vec::new(),
            rewrite: Some(rewrite),
            context: None,
        };
        self.record_process(actor, record)
    }

    /// Records a person's answer to a waiting process, after checking it fits (a process
    /// that does not wait, or waits for another kind of answer, refuses it).
    pub fn process_answer(
        &mut self,
        actor: Actor,
        process: u64,
        answer: Answer,
    ) -> Result<Record, KernelError> {
        let seq = self.next_seq()?;
        let event = Event::Answered { process, answer };
        let ended = self
            .state
            .processes
            .check(seq, &event)
            .map_err(KernelError::ProcessRefused)?
            .is_over();
        let sws = if ended {
            self.discard_open(process, "a person ended it", seq)?
        } else {
            Vec::new()
        };
        let record = ProcessRecord {
            decided_ms: self.now_ms(),
            event,
            sws,
            rewrite: None,
            context: None,
        };
        self.record_process(actor, record)
    }

    /// Ends a process as cancelled; its open workspaces are discarded.
    pub fn process_cancel(&mut self, actor: Actor, process: u64) -> Result<Executed, KernelError> {
        let decision = Decision::Finish {
            process,
            outcome: Outcome::Cancelled,
        };
        let event = Event::Finished {
            process,
            outcome: Outcome::Cancelled,
        };
        self.state
            .processes
            .check(self.next_seq()?, &event)
            .map_err(KernelError::ProcessRefused)?;
        self.process_execute(actor, self.now_ms(), decision)
    }

    /// Records one decision made at `now_ms` (any but a dispatch, which the daemon makes
    /// with a job record, as the worker must be resolved first).
    pub fn process_execute(
        &mut self,
        actor: Actor,
        now_ms: u64,
        decision: Decision,
    ) -> Result<Executed, KernelError> {
        let seq = self.next_seq()?;
        let mut cancel = Vec::new();
        let mut context = None;
        let (event, sws) = match decision {
            Decision::Dispatch { process, job, .. } => {
                return Err(KernelError::ProcessRefused(
                    jitos_sched::SchedError::Misfit {
                        process,
                        what: format!("job {job} is dispatched with a job record"),
                    },
                ))
            }
            Decision::OpenLane {
                process,
                lane,
                base,
            } => {
                let over = match base {
                    Base::System => Over::System {
                        at_seq: self.head().seq,
                    },
                    Base::Workspace(parent) => Over::Workspace { id: parent },
                };
                self.state
                    .pool
                    .create(seq, over, seq)
                    .map_err(KernelError::Workspace)?;
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
                context = self.ask_context(process, job);
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
                self.collapse_lane(process, lane, sws, seq)?
            }
            Decision::DiscardLane {
                process,
                lane,
                sws,
                reason,
            } => {
                cancel = self.attempts_in_lane(process, lane);
                let reason = workspace_reason(reason);
                self.state
                    .pool
                    .discard(sws, &reason, seq)
                    .map_err(KernelError::Workspace)?;
                (
                    Event::LaneDiscarded { process, lane },
                    vec![SwsRecord::Discard { sws, reason }],
                )
            }
            Decision::Advance { process, to, why } => {
                cancel = self.running_of(process);
                let reason = workspace_reason(format!("abandoned for plan {}: {why}", to + 1));
                let sws = self.discard_open(process, &reason, seq)?;
                (Event::Advanced { process, to, why }, sws)
            }
            Decision::Finish { process, outcome } => {
                cancel = self.running_of(process);
                let reason = match &outcome {
                    Outcome::Done => "the process is done".to_owned(),
                    Outcome::Failed { why } => format!("the process failed: {why}"),
                    Outcome::Cancelled => "the process was cancelled".to_owned(),
                };
                let sws = self.discard_open(process, &workspace_reason(reason), seq)?;
                (Event::Finished { process, outcome }, sws)
            }
        };
        let record = ProcessRecord {
            decided_ms: now_ms,
            event,
            sws,
            rewrite: None,
            context,
        };
        let record = self.record_process(actor, record)?;
        Ok(Executed { record, cancel })
    }

    /// The workspace of the lane of `job` and its file changes, if both can be read.
    pub fn ask_context(&self, process: u64, job: usize) -> Option<AskContext> {
        let p = self.state.processes.get(process)?;
        let lane = p.slaps.get(p.run.candidate)?.dag.jobs.get(job)?.lane;
        let sws = p.run.lanes.get(lane)?.sws()?;
        let base = self.sws_base_tree(sws).ok()?;
        let now = self.sws_tree(sws).ok()?;
        Some(AskContext {
            sws,
            files: diff_trees(&base, &now),
        })
    }

    /// Collapses a lane's workspace into its target, or records the conflict.
    fn collapse_lane(
        &mut self,
        process: u64,
        lane: usize,
        sws: u64,
        seq: u64,
    ) -> Result<(Event, Vec<SwsRecord>), KernelError> {
        let op = self.collapse_in_pool(sws, seq)?;
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
        Ok((event, vec![op]))
    }

    /// Discards a process's open workspaces, children before parents.
    fn discard_open(
        &mut self,
        process: u64,
        reason: &str,
        seq: u64,
    ) -> Result<Vec<SwsRecord>, KernelError> {
        let open = self
            .state
            .processes
            .get(process)
            .map(|p| p.open_workspaces())
            .unwrap_or_default();
        let mut ops = Vec::with_capacity(open.len());
        for sws in open.into_iter().rev() {
            self.state
                .pool
                .discard(sws, reason, seq)
                .map_err(KernelError::Workspace)?;
            ops.push(SwsRecord::Discard {
                sws,
                reason: reason.to_owned(),
            });
        }
        Ok(ops)
    }

    fn running_of(&self, process: u64) -> Vec<u64> {
        self.state
            .processes
            .get(process)
            .map(|p| p.running_attempts())
            .unwrap_or_default()
    }

    fn attempts_in_lane(&self, process: u64, lane: usize) -> Vec<u64> {
        let Some(p) = self.state.processes.get(process) else {
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

    /// Appends a process record; its event is folded into the processes before any
    /// snapshot, as replay folds it.
    fn record_process(
        &mut self,
        actor: Actor,
        record: ProcessRecord,
    ) -> Result<Record, KernelError> {
        self.check_event(&record.event)?;
        let payload = record.encode()?;
        let decided_ms = record.decided_ms;
        self.record_op(actor, record.kind(), payload, |state, seq| {
            state
                .processes
                .apply(seq, decided_ms, &record.event)
                .map_err(|source| KernelError::Process { seq, source })
        })
    }

    /// Refuses an event that the fold would refuse, before it is recorded: a durable
    /// record that does not fold would stop the store from opening. The pool may already
    /// have run the operation's workspace changes; they are taken back from the ledger.
    pub(crate) fn check_event(&mut self, event: &Event) -> Result<(), KernelError> {
        let seq = self.head().seq + 1;
        if let Err(refusal) = self.state.processes.check(seq, event) {
            self.restore_from_ledger();
            return Err(KernelError::ProcessRefused(refusal));
        }
        Ok(())
    }
}

/// The nodes that record a process and its plan candidates in the system graph:
/// `process:<id>` (its goal and parameters) and `plan:<id>:<n>` for each candidate (the
/// method chosen for each task, and how many jobs), joined by `candidate` edges.
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
