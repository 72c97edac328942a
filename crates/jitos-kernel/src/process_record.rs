//! Process records: one per scheduler decision (and per submit and answer), each carrying
//! the scheduler's event, the workspace operations it performs, and for a submit the graph
//! nodes that record the plan.

use jitos_sched::Event;
use jitos_tree::TreeChange;
use jitos_warp::Rewrite;

use crate::{
    durable::{self, v1, v2, v3, Frozen},
    run_environment::RunEnvironment,
    sws_record::SwsRecord,
    KernelError,
};

/// A process was submitted with its plan candidates and the environment it runs in:
/// payload version 3 (`durable/v3.rs`).
pub const KIND_PROCESS_SUBMIT: &str = "process.submit@3";
/// A process was submitted with its plan candidates as text, payload version 2
/// (`durable/v2.rs`): read, and written only for a submit without an environment.
pub const KIND_PROCESS_SUBMIT_V2: &str = "process.submit@2";
/// A process was submitted, payload version 1 (the plans' fields): read, no longer
/// written.
pub const KIND_PROCESS_SUBMIT_V1: &str = "process.submit";
/// A lane's workspace was made.
pub const KIND_PROCESS_LANE: &str = "process.lane";
/// A failed job's next attempt was scheduled.
pub const KIND_PROCESS_RETRY: &str = "process.retry";
/// A question was asked; the process waits.
pub const KIND_PROCESS_ASK: &str = "process.ask";
/// A person answered.
pub const KIND_PROCESS_ANSWER: &str = "process.answer";
/// A lane's workspace was collapsed.
pub const KIND_PROCESS_COLLAPSE: &str = "process.collapse";
/// A lane's collapse was refused by a conflict.
pub const KIND_PROCESS_CONFLICT: &str = "process.conflict";
/// A lane's workspace was discarded.
pub const KIND_PROCESS_DISCARD: &str = "process.discard";
/// The process moved on to its next candidate.
pub const KIND_PROCESS_ADVANCE: &str = "process.advance";
/// The process ended.
pub const KIND_PROCESS_END: &str = "process.end";

/// The payload of a process record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRecord {
    /// The time the decision was made at (ms): what the scheduler decided with, and what
    /// a replay checks the decision against.
    pub decided_ms: u64,
    /// The scheduler's event.
    pub event: Event,
    /// The workspace operations the record performs, in order, with the pool calls the
    /// `sws.*` records make.
    pub sws: Vec<SwsRecord>,
    /// For a submit: the nodes recording the process and its plans in the system graph.
    pub rewrite: Option<Rewrite>,
    /// For a question: the workspace the process waits in and the files it has changed
    /// there so far, so the record says what the person was asked about.
    pub context: Option<AskContext>,
    /// For a submit: the environment the process runs in (none in a submit recorded
    /// before environments were).
    pub environment: Option<Box<RunEnvironment>>,
}

/// What a question was asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskContext {
    /// The workspace of the lane the question's job is in.
    pub sws: u64,
    /// Its files' changes against its base.
    pub files: Vec<TreeChange>,
}

impl ProcessRecord {
    /// The record kind this payload goes with.
    pub fn kind(&self) -> &'static str {
        match &self.event {
            Event::Submitted { .. } if self.environment.is_some() => KIND_PROCESS_SUBMIT,
            Event::Submitted { .. } => KIND_PROCESS_SUBMIT_V2,
            Event::LaneOpened { .. } => KIND_PROCESS_LANE,
            Event::RetryScheduled { .. } => KIND_PROCESS_RETRY,
            Event::Asked { .. } => KIND_PROCESS_ASK,
            Event::Answered { .. } => KIND_PROCESS_ANSWER,
            Event::LaneCollapsed { .. } => KIND_PROCESS_COLLAPSE,
            Event::LaneConflict { .. } => KIND_PROCESS_CONFLICT,
            Event::LaneDiscarded { .. } => KIND_PROCESS_DISCARD,
            Event::Advanced { .. } => KIND_PROCESS_ADVANCE,
            Event::Finished { .. } => KIND_PROCESS_END,
            // Dispatches and attempt ends are job records; rulings and votes policy records.
            Event::Dispatched { .. }
            | Event::AttemptEnded { .. }
            | Event::Ruled { .. }
            | Event::Voted { .. }
            | Event::EffectBegun { .. }
            | Event::EffectEnded { .. }
            | Event::Unwinding { .. } => "process.invalid",
        }
    }

    /// Whether `kind` is a process record kind.
    pub fn is_kind(kind: &str) -> bool {
        [
            KIND_PROCESS_SUBMIT,
            KIND_PROCESS_SUBMIT_V2,
            KIND_PROCESS_SUBMIT_V1,
            KIND_PROCESS_LANE,
            KIND_PROCESS_RETRY,
            KIND_PROCESS_ASK,
            KIND_PROCESS_ANSWER,
            KIND_PROCESS_COLLAPSE,
            KIND_PROCESS_CONFLICT,
            KIND_PROCESS_DISCARD,
            KIND_PROCESS_ADVANCE,
            KIND_PROCESS_END,
        ]
        .contains(&kind)
    }

    /// The payload bytes: version 3 for a submit with its environment, 2 for one without,
    /// version 1 for the rest.
    pub fn encode(&self) -> Result<Vec<u8>, KernelError> {
        match &self.event {
            Event::Dispatched { .. }
            | Event::AttemptEnded { .. }
            | Event::Ruled { .. }
            | Event::Voted { .. }
            | Event::EffectBegun { .. }
            | Event::EffectEnded { .. }
            | Event::Unwinding { .. } => Err(KernelError::Payload(
                "dispatches, attempt ends, rulings, votes, effects and unwinding are recorded by their own kinds, not as process records"
                    .to_owned(),
            )),
            Event::Submitted { .. } => match &self.environment {
                Some(environment) => Ok(durable::encode(&v3::ProcessSubmit::of(
                    self,
                    environment,
                )?)?),
                None => Ok(durable::encode(&v2::ProcessSubmit::of(self)?)?),
            },
            _ if self.environment.is_some() => Err(KernelError::Payload(
                "only a submit records an environment".to_owned(),
            )),
            _ => Ok(durable::encode(&v1::process::ProcessRecord::freeze(self))?),
        }
    }

    /// Decodes the payload of a record of `kind`, checking the two agree.
    pub fn decode(kind: &str, bytes: &[u8]) -> Result<ProcessRecord, KernelError> {
        if kind == KIND_PROCESS_SUBMIT {
            return Ok(durable::decode::<v3::ProcessSubmit>(bytes)?.thaw()?);
        }
        if kind == KIND_PROCESS_SUBMIT_V2 {
            return Ok(durable::decode::<v2::ProcessSubmit>(bytes)?.thaw()?);
        }
        // Version 1 names every kind, a submit included, by its event.
        let kind_v1 = |record: &ProcessRecord| match record.event {
            Event::Submitted { .. } => KIND_PROCESS_SUBMIT_V1,
            _ => record.kind(),
        };
        Ok(durable::decode_of_kind::<v1::process::ProcessRecord>(
            kind, bytes, kind_v1,
        )?)
    }

    /// The rewrites this record carries (for blob collection and display).
    pub fn rewrites(&self) -> Vec<&Rewrite> {
        self.rewrite
            .iter()
            .chain(self.sws.iter().flat_map(|op| op.rewrites()))
            .collect()
    }
}
