//! The API's enums for where a process, a job of its plan and a lane stand, and what a
//! job does: the wire's typed states, as GraphQL enums.

use async_graphql::Enum;
use jitos_proto::{PlanJobKind, PlanJobState, PlanLaneState};

/// Where a process stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ProcessStatus {
    /// Its jobs run, or are due to.
    Running,
    /// It waits for a person: an answer, an approval, or what to do after a failure.
    Waiting,
    /// It reached its goal.
    Done,
    /// It ended without reaching its goal.
    Failed,
    /// It was cancelled.
    Cancelled,
}

impl From<jitos_proto::ProcessStatus> for ProcessStatus {
    fn from(status: jitos_proto::ProcessStatus) -> ProcessStatus {
        use jitos_proto::ProcessStatus as Wire;
        match status {
            Wire::Running => ProcessStatus::Running,
            Wire::Waiting => ProcessStatus::Waiting,
            Wire::Done => ProcessStatus::Done,
            Wire::Failed => ProcessStatus::Failed,
            Wire::Cancelled => ProcessStatus::Cancelled,
        }
    }
}

/// What a job of a plan does.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum JobKind {
    /// Runs a worker (named by the job's `worker`).
    Run,
    /// Asks a person for a value.
    Ask,
    /// Races its alternatives, each in a lane of its own.
    Race,
}

impl JobKind {
    /// The kind, and the worker a `run` job runs.
    pub fn of(kind: PlanJobKind) -> (JobKind, Option<String>) {
        match kind {
            PlanJobKind::Run { worker } => (JobKind::Run, Some(worker)),
            PlanJobKind::Ask => (JobKind::Ask, None),
            PlanJobKind::Race => (JobKind::Race, None),
        }
    }
}

/// Where a job of a plan stands, without what its state carries (the job's `state` says
/// it in words).
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum JobStatus {
    /// Not started.
    Pending,
    /// An attempt runs.
    Running,
    /// An attempt failed and another is due.
    RetryDue,
    /// Waiting for its retry timer.
    Waiting,
    /// An attempt with an effect beyond its workspace ended without saying whether the
    /// effect took place.
    Unsure,
    /// Its question is asked.
    Asked,
    /// It waits for approvals.
    Gated,
    /// Done.
    Done,
    /// Failed for good.
    Failed,
    /// Ended without running to its end.
    Cancelled,
}

impl From<&PlanJobState> for JobStatus {
    fn from(state: &PlanJobState) -> JobStatus {
        match state {
            PlanJobState::Pending => JobStatus::Pending,
            PlanJobState::Running { .. } => JobStatus::Running,
            PlanJobState::RetryDue { .. } => JobStatus::RetryDue,
            PlanJobState::Waiting { .. } => JobStatus::Waiting,
            PlanJobState::Unsure { .. } => JobStatus::Unsure,
            PlanJobState::Asked => JobStatus::Asked,
            PlanJobState::Gated { .. } => JobStatus::Gated,
            PlanJobState::Done { .. } => JobStatus::Done,
            PlanJobState::Failed { .. } => JobStatus::Failed,
            PlanJobState::Cancelled => JobStatus::Cancelled,
        }
    }
}

/// Where the workspace of a plan's lane stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum LaneState {
    /// Not made yet.
    Unopened,
    /// Open.
    Open,
    /// Collapsed into its parent lane's workspace (or, for lane 0, the system).
    Collapsed,
    /// Discarded: it lost its race, or its plan was abandoned.
    Discarded,
}

impl From<PlanLaneState> for LaneState {
    fn from(state: PlanLaneState) -> LaneState {
        match state {
            PlanLaneState::Unopened => LaneState::Unopened,
            PlanLaneState::Open => LaneState::Open,
            PlanLaneState::Collapsed => LaneState::Collapsed,
            PlanLaneState::Discarded => LaneState::Discarded,
        }
    }
}
