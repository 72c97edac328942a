//! `job.ruling`: the policy's ruling on a job run outside any process (`jitos job run`,
//! `jitos mcp`'s `job_run`) before it is dispatched, at the `dispatch` point, as a
//! process's job is ruled on. An allowed job's dispatch follows its ruling in the same
//! step; a denied one, or one the policy would hold for approvals, is refused with its
//! ruling recorded — a job outside a process has nothing to wait in, and what it changes
//! reaches the system only through a collapse, which the policy rules on again.
//!
//! Under a writ (`--writ`), the job must lie within the writ's scope (worker, effect,
//! paths) and the ruling sees the writ's user and what is left of its budgets; it is not
//! charged to the writ, since its dispatch record names no writ.

use jitos_gov::{
    policy::{Facts, Point, PolicyHash, Ruling},
    Effect,
};

use crate::{
    collapse_hold::Requester,
    durable::{self, v1::policy as durable_v1, Frozen, PayloadError},
    ruling::{writ_facts, GovernanceRefusal},
    KernelError, State, WritRefusal,
};

/// The policy ruled on a job outside any process.
pub const KIND_JOB_RULING: &str = "job.ruling";

/// `job.ruling`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRuling {
    /// When it was asked for (ms), from the ledger's clock: the time the writ, if any,
    /// was checked at.
    pub decided_ms: u64,
    /// Who asked.
    pub uid: u32,
    /// The writ they asked under; `None` for their roles alone.
    pub writ: Option<u64>,
    /// The workspace the job would run in.
    pub sws: u64,
    /// The hash of the policy that ruled.
    pub policy: PolicyHash,
    /// What it decided on: the worker, its effect class and the paths are the job's.
    pub facts: Facts,
    /// The verdict and the rules that fired.
    pub ruling: Ruling,
}

impl JobRuling {
    /// The payload bytes (version 1).
    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        durable::encode(&durable_v1::JobRuling::freeze(self))
    }

    /// Decodes a `job.ruling` payload.
    pub fn decode(bytes: &[u8]) -> Result<JobRuling, PayloadError> {
        durable::decode::<durable_v1::JobRuling>(bytes)?.thaw()
    }

    /// The ruling in words, with the policy that made it.
    pub fn why(&self) -> String {
        format!(
            "{} by policy {}",
            self.ruling.explain(),
            self.policy.short()
        )
    }
}

/// A job outside any process, as the ruling sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJob {
    /// The workspace it runs in.
    pub sws: u64,
    /// Its worker.
    pub worker: String,
    /// Its worker's effect class.
    pub effect: Effect,
    /// The paths it may change; empty for the whole tree.
    pub paths: Vec<String>,
}

/// The ruling of the policy in force on `job`, asked by `by` under `writ` (if given) at
/// `decided_ms`; `None` with no policy in force. A writ that is not `by`'s, is not in
/// force or does not admit the job is refused.
pub(crate) fn rule_public_job(
    state: &State,
    job: &PublicJob,
    by: &Requester,
    writ: Option<u64>,
    decided_ms: u64,
) -> Result<Option<JobRuling>, KernelError> {
    let mut facts = Facts::new(
        Point::Dispatch,
        by.user.clone(),
        by.roles.iter().copied().collect(),
    );
    if let Some((id, held)) = writ_facts(state, writ, by, decided_ms, &mut facts)? {
        held.admits(&job.worker, job.effect, &job.paths)
            .map_err(|source| {
                KernelError::WritRefused(WritRefusal::NotAdmitted { writ: id, source })
            })?;
    }
    let Some(in_force) = state.policy.as_ref() else {
        return Ok(None);
    };
    facts.worker = Some(job.worker.clone());
    facts.effect = Some(job.effect);
    facts.paths = job.paths.clone();
    Ok(Some(JobRuling {
        decided_ms,
        uid: by.uid,
        writ,
        sws: job.sws,
        policy: in_force.policy.hash(),
        ruling: in_force.policy.evaluate(&facts),
        facts,
    }))
}

/// The job a recorded ruling was made on, and who asked, as its facts say.
pub(crate) fn recorded_job(
    ruling: &JobRuling,
) -> Result<(PublicJob, Requester), GovernanceRefusal> {
    let mismatch = || GovernanceRefusal::Mismatch {
        policy: ruling.policy.short(),
    };
    let facts = &ruling.facts;
    let (Some(worker), Some(effect)) = (facts.worker.clone(), facts.effect) else {
        return Err(mismatch());
    };
    Ok((
        PublicJob {
            sws: ruling.sws,
            worker,
            effect,
            paths: facts.paths.clone(),
        },
        Requester {
            uid: ruling.uid,
            user: facts.user.clone(),
            roles: facts.roles.clone(),
        },
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use jitos_gov::{policy::Policy, Role};

    use super::*;

    const POLICY: &str = "default = \"allow\"\n[[rule]]\nname = \"no shell\"\nwhen = { worker = \"shell\" }\ndecide = \"deny\"\n";

    fn ruling() -> JobRuling {
        let policy = Policy::parse(POLICY, "p.toml".as_ref()).unwrap();
        let mut facts = Facts::new(
            Point::Dispatch,
            "alice",
            [Role::Operator].into_iter().collect(),
        );
        facts.worker = Some("shell".to_owned());
        facts.effect = Some(Effect::Workspace);
        facts.paths = vec!["src".to_owned()];
        JobRuling {
            decided_ms: 1_700_000_000_000,
            uid: 1001,
            writ: None,
            sws: 4,
            policy: policy.hash(),
            ruling: policy.evaluate(&facts),
            facts,
        }
    }

    /// The blake3 of the bytes version 1 writes for `ruling()`, pinned: a change here is
    /// a new version, not an edit.
    const GOLDEN: &str = "b69779c044a43785ecbc5e550c82882efbe7dd27dcfce11843a66e1a7a816bc4";

    #[test]
    fn version_1_reads_back_what_it_wrote_and_its_bytes_are_pinned() {
        let ruling = ruling();
        let bytes = ruling.encode().unwrap();
        assert_eq!(blake3::hash(&bytes).to_hex().as_str(), GOLDEN);
        assert_eq!(JobRuling::decode(&bytes).unwrap(), ruling);
    }

    #[test]
    fn a_ruling_not_at_dispatch_or_without_a_worker_is_refused() {
        let mut gate = ruling();
        gate.facts.point = Point::Gate;
        assert!(JobRuling::decode(&gate.encode().unwrap()).is_err());
        let mut no_worker = ruling();
        no_worker.facts.worker = None;
        assert!(JobRuling::decode(&no_worker.encode().unwrap()).is_err());
    }
}
