//! The API's types for two processes compared (`jitos diff`).

use async_graphql::SimpleObject;

use super::{
    objects::{Param, Process},
    plan_states::{JobKind, JobStatus},
};

/// Two processes side by side.
#[derive(SimpleObject)]
pub struct RunComparison {
    /// The first.
    pub a: RunSide,
    /// The second.
    pub b: RunSide,
    /// The plans as `jitos plan --explain` shows them, every line of A's against B's as a
    /// line diff (each starts with ` `, `-` or `+`); empty when they are the same.
    pub plans_diff: Vec<String>,
    /// Each job of either current plan, by its path in the decomposition.
    pub jobs: Vec<JobComparison>,
    /// Each file either process changed in the system, by path.
    pub files: Vec<Compared>,
    /// Each entry of either environment, by name.
    pub environment: Vec<Compared>,
}

/// One side of a comparison.
#[derive(SimpleObject)]
pub struct RunSide {
    /// The process in a line.
    pub summary: Process,
    /// Its parameters.
    pub params: Vec<Param>,
    /// From its submit to its last record (ms).
    pub took_ms: u64,
    /// Whether its environment was recorded (not for a process submitted before
    /// environments were).
    pub environment_recorded: bool,
    /// Whether it was compared on part of itself: a log longer than is read, or more
    /// collapses than their files are compared for.
    pub partial: bool,
}

/// One job compared: how it went in each process whose plan has it.
#[derive(SimpleObject)]
pub struct JobComparison {
    /// Its path in the decomposition.
    pub id: String,
    /// What it does, as in the first process that has it.
    pub kind: JobKind,
    /// The worker a `RUN` job runs.
    pub worker: Option<String>,
    /// In A.
    pub a: Option<JobRun>,
    /// In B.
    pub b: Option<JobRun>,
    /// Whether it went differently: another status or number of attempts, or in one
    /// plan only (times, and what a state carries, do not count).
    pub differs: bool,
}

/// How one job went in one process.
#[derive(SimpleObject)]
pub struct JobRun {
    /// Where it stands.
    pub status: JobStatus,
    /// Where it stands, as `jitos inspect` words it.
    pub state: String,
    /// Attempts dispatched for it.
    pub attempts: u32,
    /// Time its attempts ran (ms).
    pub took_ms: u64,
}

/// One named thing compared, with its value in each (null: not there).
#[derive(SimpleObject)]
pub struct Compared {
    /// A path, or an environment entry's name.
    pub name: String,
    /// In A.
    pub a: Option<String>,
    /// In B.
    pub b: Option<String>,
    /// Whether they differ.
    pub differs: bool,
}

impl From<jitos_proto::RunComparison> for RunComparison {
    fn from(c: jitos_proto::RunComparison) -> RunComparison {
        RunComparison {
            a: c.a.into(),
            b: c.b.into(),
            plans_diff: c.plans_diff,
            jobs: c.jobs.into_iter().map(JobComparison::from).collect(),
            files: c.files.into_iter().map(Compared::from).collect(),
            environment: c.environment.into_iter().map(Compared::from).collect(),
        }
    }
}

impl From<jitos_proto::RunSide> for RunSide {
    fn from(side: jitos_proto::RunSide) -> RunSide {
        RunSide {
            summary: side.summary.into(),
            params: Param::all(side.params),
            took_ms: side.took_ms,
            environment_recorded: side.environment_recorded,
            partial: side.partial,
        }
    }
}

impl From<jitos_proto::JobComparison> for JobComparison {
    fn from(job: jitos_proto::JobComparison) -> JobComparison {
        let differs = job.differs();
        let (kind, worker) = JobKind::of(job.kind);
        JobComparison {
            differs,
            id: job.id,
            kind,
            worker,
            a: job.a.map(JobRun::from),
            b: job.b.map(JobRun::from),
        }
    }
}

impl From<jitos_proto::JobRun> for JobRun {
    fn from(run: jitos_proto::JobRun) -> JobRun {
        JobRun {
            status: JobStatus::from(&run.state),
            state: run.state.to_string(),
            attempts: run.attempts,
            took_ms: run.took_ms,
        }
    }
}

impl From<jitos_proto::Compared> for Compared {
    fn from(item: jitos_proto::Compared) -> Compared {
        Compared {
            differs: item.differs(),
            name: item.name,
            a: item.a,
            b: item.b,
        }
    }
}
