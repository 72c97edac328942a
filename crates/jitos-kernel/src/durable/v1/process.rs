//! Version 1 of the process records' payloads (`process.*`), laid out exactly as bincode
//! wrote `ProcessRecord` with the scheduler's event and the planner's intent and plans.
//!
//! A plan (`Decomposition`) is recursive; the codec's nesting limit bounds how deep a
//! payload may make it, and the fold's checks of the plan (`Dag::check`) run on what thaws.

use jitos_tree::TreePath;
use jitos_warp::BlobRef;
use serde::{Deserialize, Serialize};

use super::{sws::SwsRecord, warp::Rewrite};
use crate::durable::{freeze_map, freeze_usize, thaw_map, thaw_usize, Frozen, Map, PayloadError};
use crate::process_record::{self as live, ProcessRecord as LiveRecord};

/// The payload of every `process.*` kind; its event's variant is the kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProcessRecord {
    decided_ms: u64,
    pub(crate) event: Event,
    sws: Vec<SwsRecord>,
    rewrite: Option<Rewrite>,
    context: Option<AskContext>,
}

/// `AskContext`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AskContext {
    sws: u64,
    files: Vec<TreeChange>,
}

/// `jitos_tree::TreeChange`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum TreeChange {
    Added {
        path: String,
        entry: Entry,
    },
    Removed {
        path: String,
        entry: Entry,
    },
    Modified {
        path: String,
        old: Entry,
        new: Entry,
    },
}

/// `jitos_tree::Entry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Entry {
    Dir,
    File {
        blob: [u8; 32],
        size: u64,
        executable: bool,
    },
    Symlink {
        target: String,
    },
}

/// `jitos_sched::Event`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Event {
    Submitted {
        intent: Intent,
        slaps: Vec<Slap>,
    },
    LaneOpened {
        process: u64,
        lane: u64,
        sws: u64,
    },
    Dispatched {
        process: u64,
        job: u64,
        attempt: u64,
        sws: u64,
    },
    AttemptEnded {
        process: u64,
        attempt: u64,
        outcome: AttemptOutcome,
    },
    RetryScheduled {
        process: u64,
        job: u64,
        until_ms: u64,
    },
    Asked {
        process: u64,
        job: u64,
        question: String,
        reason: WaitReason,
    },
    Answered {
        process: u64,
        answer: Answer,
    },
    LaneCollapsed {
        process: u64,
        lane: u64,
    },
    LaneConflict {
        process: u64,
        lane: u64,
        why: String,
    },
    LaneDiscarded {
        process: u64,
        lane: u64,
    },
    Advanced {
        process: u64,
        to: u64,
        why: String,
    },
    Finished {
        process: u64,
        outcome: Outcome,
    },
}

/// `jitos_sched::AttemptOutcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum AttemptOutcome {
    Succeeded,
    Failed { why: String, verdict: bool },
    CutOff,
}

/// `jitos_sched::Answer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Answer {
    Value(String),
    Approve,
    Reject,
    Retry,
    Skip,
    Fail,
}

/// `jitos_sched::Outcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Outcome {
    Done,
    Failed { why: String },
    Cancelled,
}

/// `jitos_sched::WaitReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WaitReason {
    Ask,
    Approval,
    Failure,
    Crash,
}

/// `jitos_tasks::Intent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Intent {
    goal: String,
    params: Map<String, String>,
    workers: Vec<String>,
    paths: Vec<String>,
    max_jobs: u64,
    wall_secs: u64,
    parallel: u64,
}

/// `jitos_tasks::Slap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Slap {
    index: u64,
    tree: Decomposition,
    dag: Dag,
}

/// `jitos_tasks::Decomposition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Decomposition {
    task: String,
    params: Map<String, String>,
    node: Node,
}

/// `jitos_tasks::Node`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Node {
    Run(Run),
    Ask(Ask),
    Method {
        method: String,
        race: bool,
        on_failure: OnFailure,
        steps: Vec<DecomposedStep>,
        skipped: Vec<(String, String)>,
    },
}

/// `jitos_tasks::DecomposedStep`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DecomposedStep {
    id: String,
    after: Vec<String>,
    sub: Decomposition,
}

/// `jitos_tasks::Run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Run {
    worker: String,
    args: Vec<String>,
    effect: TaskEffect,
    idempotent: bool,
    timeout_secs: u64,
    retries: u32,
    backoff_ms: u64,
    gate: bool,
    paths: Vec<String>,
}

/// `jitos_tasks::Ask`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ask {
    question: String,
    yes_no: bool,
}

/// `jitos_tasks::OnFailure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OnFailure {
    Next,
    Discard,
    Interrupt,
}

/// `jitos_tasks::Effect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum TaskEffect {
    None,
    Workspace,
}

/// `jitos_tasks::Dag`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Dag {
    jobs: Vec<JobNode>,
    lanes: Vec<Lane>,
}

/// `jitos_tasks::Lane`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lane {
    parent: Option<u64>,
    path: String,
}

/// `jitos_tasks::JobNode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JobNode {
    id: String,
    lane: u64,
    after: Vec<u64>,
    kind: JobKind,
    on_failure: OnFailure,
}

/// `jitos_tasks::JobKind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum JobKind {
    Run {
        worker: String,
        args: Vec<String>,
        effect: TaskEffect,
        idempotent: bool,
        timeout_ms: u64,
        retries: u32,
        backoff_ms: u64,
        gate: bool,
        paths: Vec<String>,
    },
    Ask {
        question: String,
        yes_no: bool,
    },
    Race {
        lanes: Vec<u64>,
    },
}

fn freeze_indices(live: &[usize]) -> Vec<u64> {
    live.iter().copied().map(freeze_usize).collect()
}

fn thaw_indices(indices: Vec<u64>, what: &'static str) -> Result<Vec<usize>, PayloadError> {
    indices.into_iter().map(|i| thaw_usize(i, what)).collect()
}

impl Frozen for ProcessRecord {
    type Live = LiveRecord;

    fn freeze(live: &LiveRecord) -> ProcessRecord {
        ProcessRecord {
            decided_ms: live.decided_ms,
            event: Event::freeze(&live.event),
            sws: Frozen::freeze(&live.sws),
            rewrite: Frozen::freeze(&live.rewrite),
            context: Frozen::freeze(&live.context),
        }
    }

    fn thaw(self) -> Result<LiveRecord, PayloadError> {
        Ok(LiveRecord {
            decided_ms: self.decided_ms,
            event: self.event.thaw()?,
            sws: self.sws.thaw()?,
            rewrite: self.rewrite.thaw()?,
            context: self.context.thaw()?,
            environment: None,
        })
    }
}

impl Frozen for AskContext {
    type Live = live::AskContext;

    fn freeze(live: &live::AskContext) -> AskContext {
        AskContext {
            sws: live.sws,
            files: Frozen::freeze(&live.files),
        }
    }

    fn thaw(self) -> Result<live::AskContext, PayloadError> {
        Ok(live::AskContext {
            sws: self.sws,
            files: self.files.thaw()?,
        })
    }
}

fn thaw_path(path: String) -> Result<TreePath, PayloadError> {
    TreePath::new(&path).map_err(|e| PayloadError::Invalid {
        what: "tree path",
        reason: e.to_string(),
    })
}

impl Frozen for TreeChange {
    type Live = jitos_tree::TreeChange;

    fn freeze(live: &jitos_tree::TreeChange) -> TreeChange {
        use jitos_tree::TreeChange as L;
        match live {
            L::Added { path, entry } => TreeChange::Added {
                path: path.as_str().to_owned(),
                entry: Entry::freeze(entry),
            },
            L::Removed { path, entry } => TreeChange::Removed {
                path: path.as_str().to_owned(),
                entry: Entry::freeze(entry),
            },
            L::Modified { path, old, new } => TreeChange::Modified {
                path: path.as_str().to_owned(),
                old: Entry::freeze(old),
                new: Entry::freeze(new),
            },
        }
    }

    fn thaw(self) -> Result<jitos_tree::TreeChange, PayloadError> {
        use jitos_tree::TreeChange as L;
        Ok(match self {
            TreeChange::Added { path, entry } => L::Added {
                path: thaw_path(path)?,
                entry: entry.thaw()?,
            },
            TreeChange::Removed { path, entry } => L::Removed {
                path: thaw_path(path)?,
                entry: entry.thaw()?,
            },
            TreeChange::Modified { path, old, new } => L::Modified {
                path: thaw_path(path)?,
                old: old.thaw()?,
                new: new.thaw()?,
            },
        })
    }
}

impl Frozen for Entry {
    type Live = jitos_tree::Entry;

    fn freeze(live: &jitos_tree::Entry) -> Entry {
        use jitos_tree::Entry as L;
        match live {
            L::Dir => Entry::Dir,
            L::File {
                blob,
                size,
                executable,
            } => Entry::File {
                blob: blob.0,
                size: *size,
                executable: *executable,
            },
            L::Symlink { target } => Entry::Symlink {
                target: target.clone(),
            },
        }
    }

    fn thaw(self) -> Result<jitos_tree::Entry, PayloadError> {
        use jitos_tree::Entry as L;
        Ok(match self {
            Entry::Dir => L::Dir,
            Entry::File {
                blob,
                size,
                executable,
            } => L::File {
                blob: BlobRef(blob),
                size,
                executable,
            },
            Entry::Symlink { target } => L::Symlink { target },
        })
    }
}

impl Frozen for Event {
    type Live = jitos_sched::Event;

    fn freeze(live: &jitos_sched::Event) -> Event {
        use jitos_sched::Event as L;
        let n = freeze_usize;
        match live {
            L::Submitted { intent, slaps } => Event::Submitted {
                intent: Intent::freeze(intent),
                slaps: Frozen::freeze(slaps),
            },
            L::LaneOpened { process, lane, sws } => Event::LaneOpened {
                process: *process,
                lane: n(*lane),
                sws: *sws,
            },
            L::Dispatched {
                process,
                job,
                attempt,
                sws,
            } => Event::Dispatched {
                process: *process,
                job: n(*job),
                attempt: *attempt,
                sws: *sws,
            },
            L::AttemptEnded {
                process,
                attempt,
                outcome,
            } => Event::AttemptEnded {
                process: *process,
                attempt: *attempt,
                outcome: AttemptOutcome::freeze(outcome),
            },
            L::RetryScheduled {
                process,
                job,
                until_ms,
            } => Event::RetryScheduled {
                process: *process,
                job: n(*job),
                until_ms: *until_ms,
            },
            L::Asked {
                process,
                job,
                question,
                reason,
            } => Event::Asked {
                process: *process,
                job: n(*job),
                question: question.clone(),
                reason: WaitReason::freeze(reason),
            },
            L::Answered { process, answer } => Event::Answered {
                process: *process,
                answer: Answer::freeze(answer),
            },
            // Never written as a process record: `ProcessRecord::encode` refuses these
            // before freezing, since `policy.decision`, `process.vote`, `effect.*` and
            // `process.unwind` record them.
            L::Ruled { process, .. }
            | L::Voted { process, .. }
            | L::EffectBegun { process, .. }
            | L::EffectEnded { process, .. }
            | L::Unwinding { process, .. } => Event::Answered {
                process: *process,
                answer: Answer::Fail,
            },
            L::LaneCollapsed { process, lane } => Event::LaneCollapsed {
                process: *process,
                lane: n(*lane),
            },
            L::LaneConflict { process, lane, why } => Event::LaneConflict {
                process: *process,
                lane: n(*lane),
                why: why.clone(),
            },
            L::LaneDiscarded { process, lane } => Event::LaneDiscarded {
                process: *process,
                lane: n(*lane),
            },
            L::Advanced { process, to, why } => Event::Advanced {
                process: *process,
                to: n(*to),
                why: why.clone(),
            },
            L::Finished { process, outcome } => Event::Finished {
                process: *process,
                outcome: Outcome::freeze(outcome),
            },
        }
    }

    fn thaw(self) -> Result<jitos_sched::Event, PayloadError> {
        use jitos_sched::Event as L;
        Ok(match self {
            Event::Submitted { intent, slaps } => L::Submitted {
                intent: intent.thaw()?,
                slaps: slaps.thaw()?,
            },
            Event::LaneOpened { process, lane, sws } => L::LaneOpened {
                process,
                lane: thaw_usize(lane, "lane")?,
                sws,
            },
            Event::Dispatched {
                process,
                job,
                attempt,
                sws,
            } => L::Dispatched {
                process,
                job: thaw_usize(job, "job")?,
                attempt,
                sws,
            },
            Event::AttemptEnded {
                process,
                attempt,
                outcome,
            } => L::AttemptEnded {
                process,
                attempt,
                outcome: outcome.thaw()?,
            },
            Event::RetryScheduled {
                process,
                job,
                until_ms,
            } => L::RetryScheduled {
                process,
                job: thaw_usize(job, "job")?,
                until_ms,
            },
            Event::Asked {
                process,
                job,
                question,
                reason,
            } => L::Asked {
                process,
                job: thaw_usize(job, "job")?,
                question,
                reason: reason.thaw()?,
            },
            Event::Answered { process, answer } => L::Answered {
                process,
                answer: answer.thaw()?,
            },
            Event::LaneCollapsed { process, lane } => L::LaneCollapsed {
                process,
                lane: thaw_usize(lane, "lane")?,
            },
            Event::LaneConflict { process, lane, why } => L::LaneConflict {
                process,
                lane: thaw_usize(lane, "lane")?,
                why,
            },
            Event::LaneDiscarded { process, lane } => L::LaneDiscarded {
                process,
                lane: thaw_usize(lane, "lane")?,
            },
            Event::Advanced { process, to, why } => L::Advanced {
                process,
                to: thaw_usize(to, "candidate")?,
                why,
            },
            Event::Finished { process, outcome } => L::Finished {
                process,
                outcome: outcome.thaw()?,
            },
        })
    }
}

impl Frozen for AttemptOutcome {
    type Live = jitos_sched::AttemptOutcome;

    fn freeze(live: &jitos_sched::AttemptOutcome) -> AttemptOutcome {
        use jitos_sched::AttemptOutcome as L;
        match live {
            L::Succeeded => AttemptOutcome::Succeeded,
            L::Failed { why, verdict } => AttemptOutcome::Failed {
                why: why.clone(),
                verdict: *verdict,
            },
            L::CutOff => AttemptOutcome::CutOff,
            // Never written: `ProcessRecord::encode` refuses an attempt's end, which is a
            // job record.
            L::Refused { why } => AttemptOutcome::Failed {
                why: why.clone(),
                verdict: true,
            },
        }
    }

    fn thaw(self) -> Result<jitos_sched::AttemptOutcome, PayloadError> {
        use jitos_sched::AttemptOutcome as L;
        Ok(match self {
            AttemptOutcome::Succeeded => L::Succeeded,
            AttemptOutcome::Failed { why, verdict } => L::Failed { why, verdict },
            AttemptOutcome::CutOff => L::CutOff,
        })
    }
}

impl Frozen for Answer {
    type Live = jitos_sched::Answer;

    fn freeze(live: &jitos_sched::Answer) -> Answer {
        use jitos_sched::Answer as L;
        match live {
            L::Value(value) => Answer::Value(value.clone()),
            L::Approve => Answer::Approve,
            L::Reject => Answer::Reject,
            L::Retry => Answer::Retry,
            L::Skip => Answer::Skip,
            L::Fail => Answer::Fail,
        }
    }

    fn thaw(self) -> Result<jitos_sched::Answer, PayloadError> {
        use jitos_sched::Answer as L;
        Ok(match self {
            Answer::Value(value) => L::Value(value),
            Answer::Approve => L::Approve,
            Answer::Reject => L::Reject,
            Answer::Retry => L::Retry,
            Answer::Skip => L::Skip,
            Answer::Fail => L::Fail,
        })
    }
}

impl Frozen for Outcome {
    type Live = jitos_sched::Outcome;

    fn freeze(live: &jitos_sched::Outcome) -> Outcome {
        use jitos_sched::Outcome as L;
        match live {
            L::Done => Outcome::Done,
            L::Failed { why } => Outcome::Failed { why: why.clone() },
            L::Cancelled => Outcome::Cancelled,
        }
    }

    fn thaw(self) -> Result<jitos_sched::Outcome, PayloadError> {
        use jitos_sched::Outcome as L;
        Ok(match self {
            Outcome::Done => L::Done,
            Outcome::Failed { why } => L::Failed { why },
            Outcome::Cancelled => L::Cancelled,
        })
    }
}

impl Frozen for WaitReason {
    type Live = jitos_sched::WaitReason;

    fn freeze(live: &jitos_sched::WaitReason) -> WaitReason {
        use jitos_sched::WaitReason as L;
        match live {
            L::Ask => WaitReason::Ask,
            L::Approval => WaitReason::Approval,
            L::Failure => WaitReason::Failure,
            L::Crash => WaitReason::Crash,
        }
    }

    fn thaw(self) -> Result<jitos_sched::WaitReason, PayloadError> {
        use jitos_sched::WaitReason as L;
        Ok(match self {
            WaitReason::Ask => L::Ask,
            WaitReason::Approval => L::Approval,
            WaitReason::Failure => L::Failure,
            WaitReason::Crash => L::Crash,
        })
    }
}

impl Frozen for Intent {
    type Live = jitos_tasks::Intent;

    fn freeze(live: &jitos_tasks::Intent) -> Intent {
        Intent {
            goal: live.goal.clone(),
            params: freeze_map(&live.params),
            workers: live.workers.clone(),
            paths: live.paths.clone(),
            max_jobs: freeze_usize(live.max_jobs),
            wall_secs: live.wall_secs,
            parallel: freeze_usize(live.parallel),
        }
    }

    fn thaw(self) -> Result<jitos_tasks::Intent, PayloadError> {
        Ok(jitos_tasks::Intent {
            goal: self.goal,
            params: thaw_map(self.params, "intent's parameters")?,
            workers: self.workers,
            paths: self.paths,
            max_jobs: thaw_usize(self.max_jobs, "intent's max_jobs")?,
            wall_secs: self.wall_secs,
            parallel: thaw_usize(self.parallel, "intent's parallel")?,
        })
    }
}

impl Frozen for Slap {
    type Live = jitos_tasks::Slap;

    fn freeze(live: &jitos_tasks::Slap) -> Slap {
        Slap {
            index: freeze_usize(live.index),
            tree: Decomposition::freeze(&live.tree),
            dag: Dag::freeze(&live.dag),
        }
    }

    fn thaw(self) -> Result<jitos_tasks::Slap, PayloadError> {
        Ok(jitos_tasks::Slap {
            index: thaw_usize(self.index, "plan's index")?,
            tree: self.tree.thaw()?,
            dag: self.dag.thaw()?,
        })
    }
}

impl Frozen for Decomposition {
    type Live = jitos_tasks::Decomposition;

    fn freeze(live: &jitos_tasks::Decomposition) -> Decomposition {
        Decomposition {
            task: live.task.clone(),
            params: freeze_map(&live.params),
            node: Node::freeze(&live.node),
        }
    }

    fn thaw(self) -> Result<jitos_tasks::Decomposition, PayloadError> {
        Ok(jitos_tasks::Decomposition {
            task: self.task,
            params: thaw_map(self.params, "task's parameters")?,
            node: self.node.thaw()?,
        })
    }
}

impl Frozen for Node {
    type Live = jitos_tasks::Node;

    fn freeze(live: &jitos_tasks::Node) -> Node {
        use jitos_tasks::Node as L;
        match live {
            L::Run(run) => Node::Run(Run::freeze(run)),
            L::Ask(ask) => Node::Ask(Ask::freeze(ask)),
            L::Method {
                method,
                race,
                on_failure,
                steps,
                skipped,
            } => Node::Method {
                method: method.clone(),
                race: *race,
                on_failure: OnFailure::freeze(on_failure),
                steps: Frozen::freeze(steps),
                skipped: skipped.clone(),
            },
        }
    }

    fn thaw(self) -> Result<jitos_tasks::Node, PayloadError> {
        use jitos_tasks::Node as L;
        Ok(match self {
            Node::Run(run) => L::Run(run.thaw()?),
            Node::Ask(ask) => L::Ask(ask.thaw()?),
            Node::Method {
                method,
                race,
                on_failure,
                steps,
                skipped,
            } => L::Method {
                method,
                race,
                on_failure: on_failure.thaw()?,
                steps: steps.thaw()?,
                skipped,
            },
        })
    }
}

impl Frozen for DecomposedStep {
    type Live = jitos_tasks::DecomposedStep;

    fn freeze(live: &jitos_tasks::DecomposedStep) -> DecomposedStep {
        DecomposedStep {
            id: live.id.clone(),
            after: live.after.clone(),
            sub: Decomposition::freeze(&live.sub),
        }
    }

    fn thaw(self) -> Result<jitos_tasks::DecomposedStep, PayloadError> {
        // Version 1 came before verify and compensate jobs, and feedback.
        Ok(jitos_tasks::DecomposedStep {
            id: self.id,
            after: self.after,
            sub: self.sub.thaw()?,
            verify: None,
            compensate: None,
            feedback: None,
        })
    }
}

impl Frozen for Run {
    type Live = jitos_tasks::Run;

    fn freeze(live: &jitos_tasks::Run) -> Run {
        Run {
            worker: live.worker.clone(),
            args: live.args.clone(),
            effect: TaskEffect::freeze(&live.effect),
            idempotent: live.idempotent,
            timeout_secs: live.timeout_secs,
            retries: live.retries,
            backoff_ms: live.backoff_ms,
            gate: live.gate,
            paths: live.paths.clone(),
        }
    }

    fn thaw(self) -> Result<jitos_tasks::Run, PayloadError> {
        Ok(jitos_tasks::Run {
            worker: self.worker,
            args: self.args,
            effect: self.effect.thaw()?,
            idempotent: self.idempotent,
            timeout_secs: self.timeout_secs,
            retries: self.retries,
            backoff_ms: self.backoff_ms,
            gate: self.gate,
            paths: self.paths,
        })
    }
}

impl Frozen for Ask {
    type Live = jitos_tasks::Ask;

    fn freeze(live: &jitos_tasks::Ask) -> Ask {
        Ask {
            question: live.question.clone(),
            yes_no: live.yes_no,
        }
    }

    fn thaw(self) -> Result<jitos_tasks::Ask, PayloadError> {
        Ok(jitos_tasks::Ask {
            question: self.question,
            yes_no: self.yes_no,
        })
    }
}

impl Frozen for OnFailure {
    type Live = jitos_tasks::OnFailure;

    fn freeze(live: &jitos_tasks::OnFailure) -> OnFailure {
        use jitos_tasks::OnFailure as L;
        match live {
            L::Next => OnFailure::Next,
            L::Discard => OnFailure::Discard,
            L::Interrupt => OnFailure::Interrupt,
        }
    }

    fn thaw(self) -> Result<jitos_tasks::OnFailure, PayloadError> {
        use jitos_tasks::OnFailure as L;
        Ok(match self {
            OnFailure::Next => L::Next,
            OnFailure::Discard => L::Discard,
            OnFailure::Interrupt => L::Interrupt,
        })
    }
}

impl Frozen for TaskEffect {
    type Live = jitos_tasks::Effect;

    fn freeze(live: &jitos_tasks::Effect) -> TaskEffect {
        match live {
            jitos_tasks::Effect::None => TaskEffect::None,
            // Version 1 knew no class beyond the workspace; a plan with one is written as
            // `process.submit@2`, never here.
            jitos_tasks::Effect::Workspace
            | jitos_tasks::Effect::Local
            | jitos_tasks::Effect::Network
            | jitos_tasks::Effect::Irreversible => TaskEffect::Workspace,
        }
    }

    fn thaw(self) -> Result<jitos_tasks::Effect, PayloadError> {
        Ok(match self {
            TaskEffect::None => jitos_tasks::Effect::None,
            TaskEffect::Workspace => jitos_tasks::Effect::Workspace,
        })
    }
}

impl Frozen for Dag {
    type Live = jitos_tasks::Dag;

    fn freeze(live: &jitos_tasks::Dag) -> Dag {
        Dag {
            jobs: Frozen::freeze(&live.jobs),
            lanes: Frozen::freeze(&live.lanes),
        }
    }

    fn thaw(self) -> Result<jitos_tasks::Dag, PayloadError> {
        Ok(jitos_tasks::Dag {
            jobs: self.jobs.thaw()?,
            lanes: self.lanes.thaw()?,
        })
    }
}

impl Frozen for Lane {
    type Live = jitos_tasks::Lane;

    fn freeze(live: &jitos_tasks::Lane) -> Lane {
        Lane {
            parent: live.parent.map(freeze_usize),
            path: live.path.clone(),
        }
    }

    fn thaw(self) -> Result<jitos_tasks::Lane, PayloadError> {
        Ok(jitos_tasks::Lane {
            parent: self
                .parent
                .map(|p| thaw_usize(p, "lane's parent"))
                .transpose()?,
            path: self.path,
        })
    }
}

impl Frozen for JobNode {
    type Live = jitos_tasks::JobNode;

    fn freeze(live: &jitos_tasks::JobNode) -> JobNode {
        JobNode {
            id: live.id.clone(),
            lane: freeze_usize(live.lane),
            after: freeze_indices(&live.after),
            kind: JobKind::freeze(&live.kind),
            on_failure: OnFailure::freeze(&live.on_failure),
        }
    }

    fn thaw(self) -> Result<jitos_tasks::JobNode, PayloadError> {
        Ok(jitos_tasks::JobNode {
            id: self.id,
            lane: thaw_usize(self.lane, "job's lane")?,
            after: thaw_indices(self.after, "job's predecessor")?,
            kind: self.kind.thaw()?,
            on_failure: self.on_failure.thaw()?,
            // Version 1 came before verify and compensate jobs (every job was a step) and
            // feedback.
            purpose: jitos_tasks::Purpose::Step,
            feedback: None,
        })
    }
}

impl Frozen for JobKind {
    type Live = jitos_tasks::JobKind;

    fn freeze(live: &jitos_tasks::JobKind) -> JobKind {
        use jitos_tasks::JobKind as L;
        match live {
            L::Run {
                worker,
                args,
                effect,
                idempotent,
                timeout_ms,
                retries,
                backoff_ms,
                gate,
                paths,
            } => JobKind::Run {
                worker: worker.clone(),
                args: args.clone(),
                effect: TaskEffect::freeze(effect),
                idempotent: *idempotent,
                timeout_ms: *timeout_ms,
                retries: *retries,
                backoff_ms: *backoff_ms,
                gate: *gate,
                paths: paths.clone(),
            },
            L::Ask { question, yes_no } => JobKind::Ask {
                question: question.clone(),
                yes_no: *yes_no,
            },
            L::Race { lanes } => JobKind::Race {
                lanes: freeze_indices(lanes),
            },
        }
    }

    fn thaw(self) -> Result<jitos_tasks::JobKind, PayloadError> {
        use jitos_tasks::JobKind as L;
        Ok(match self {
            JobKind::Run {
                worker,
                args,
                effect,
                idempotent,
                timeout_ms,
                retries,
                backoff_ms,
                gate,
                paths,
            } => L::Run {
                worker,
                args,
                effect: effect.thaw()?,
                idempotent,
                timeout_ms,
                retries,
                backoff_ms,
                gate,
                paths,
            },
            JobKind::Ask { question, yes_no } => L::Ask { question, yes_no },
            JobKind::Race { lanes } => L::Race {
                lanes: thaw_indices(lanes, "race's lane")?,
            },
        })
    }
}
