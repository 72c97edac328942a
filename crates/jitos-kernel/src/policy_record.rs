//! Policy records: the policy coming into force (its text, so replay rules as the live
//! daemon did), each ruling it made on a job (the facts it decided on, the verdict, the
//! rules that fired and the policy's hash), and each vote a person cast on a job held for
//! approvals.

use std::sync::Arc;

use jitos_gov::{
    policy::{Facts, Policy, PolicyHash, Ruling},
    Role,
};
use serde::{Deserialize, Serialize};

use crate::durable::{self, v1::policy as durable_v1, Frozen, PayloadError};

/// A policy came into force.
pub const KIND_POLICY_LOAD: &str = "policy.load";
/// The policy ruled on a job.
pub const KIND_POLICY_DECISION: &str = "policy.decision";
/// A person approved or rejected a job held for approvals.
pub const KIND_PROCESS_VOTE: &str = "process.vote";

/// The longest comment or rejection reason a vote keeps, in bytes.
pub const VOTE_NOTE_BYTES_MAX: usize = 1024;

/// The policy in force, as the state keeps it: snapshots hold its text, which is parsed
/// again on load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedPolicy {
    /// The `policy.load` record.
    pub seq: u64,
    /// The policy.
    pub policy: Arc<Policy>,
}

/// What a snapshot holds of the policy in force.
#[derive(Serialize, Deserialize)]
struct RecordedText {
    seq: u64,
    text: String,
}

impl Serialize for RecordedPolicy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RecordedText {
            seq: self.seq,
            text: self.policy.text().to_owned(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RecordedPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let recorded = RecordedText::deserialize(deserializer)?;
        let policy = parse_recorded(&recorded.text).map_err(serde::de::Error::custom)?;
        Ok(RecordedPolicy {
            seq: recorded.seq,
            policy: Arc::new(policy),
        })
    }
}

/// The policy a recorded text holds.
pub(crate) fn parse_recorded(text: &str) -> Result<Policy, String> {
    Policy::parse(text, "<the recorded policy>".as_ref()).map_err(|e| e.to_string())
}

/// One ruling of the policy on a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDecision {
    /// The time the scheduler asked for the ruling at (ms): what a replay checks that it
    /// was due at.
    pub decided_ms: u64,
    /// The process.
    pub process: u64,
    /// The job, by index in its current plan.
    pub job: usize,
    /// The hash of the policy that ruled.
    pub policy: PolicyHash,
    /// What it decided on.
    pub facts: Facts,
    /// The verdict and the rules that fired.
    pub ruling: Ruling,
}

impl PolicyDecision {
    /// The ruling in words, with the policy that made it: `require 2 approvals from
    /// approver (rule 1 "…") by policy 3f0c9a1b2d4e`.
    pub fn why(&self) -> String {
        format!(
            "{} by policy {}",
            self.ruling.explain(),
            self.policy.short()
        )
    }

    /// The scheduler's event it stands for.
    pub fn event(&self) -> jitos_sched::Event {
        jitos_sched::Event::Ruled {
            process: self.process,
            job: self.job,
            verdict: self.ruling.verdict,
            why: self.why(),
        }
    }
}

/// A person's approval or rejection of a job held for approvals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    /// The process.
    pub process: u64,
    /// The job, by index in its current plan.
    pub job: usize,
    /// Who: their uid (one principal counts once).
    pub uid: u32,
    /// Their name.
    pub user: String,
    /// Their roles when they voted.
    pub roles: Vec<Role>,
    /// Approve, or reject (which vetoes).
    pub approve: bool,
    /// A comment, or the reason for a rejection.
    pub note: String,
}

/// The payload of a policy record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyRecord {
    /// `policy.load`.
    Load(Arc<Policy>),
    /// `policy.decision`.
    Decision(PolicyDecision),
    /// `process.vote`.
    Vote(Vote),
}

impl PolicyRecord {
    /// The record kind this payload goes with.
    pub fn kind(&self) -> &'static str {
        match self {
            PolicyRecord::Load(_) => KIND_POLICY_LOAD,
            PolicyRecord::Decision(_) => KIND_POLICY_DECISION,
            PolicyRecord::Vote(_) => KIND_PROCESS_VOTE,
        }
    }

    /// Whether `kind` is a policy record kind.
    pub fn is_kind(kind: &str) -> bool {
        [KIND_POLICY_LOAD, KIND_POLICY_DECISION, KIND_PROCESS_VOTE].contains(&kind)
    }

    /// The payload bytes (version 1).
    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        match self {
            PolicyRecord::Load(policy) => durable::encode(&durable_v1::PolicyLoad::freeze(policy)),
            PolicyRecord::Decision(decision) => {
                durable::encode(&durable_v1::PolicyDecision::freeze(decision))
            }
            PolicyRecord::Vote(vote) => durable::encode(&durable_v1::Vote::freeze(vote)),
        }
    }

    /// Decodes the payload of a record of `kind`.
    pub fn decode(kind: &str, bytes: &[u8]) -> Result<PolicyRecord, PayloadError> {
        match kind {
            KIND_POLICY_LOAD => Ok(PolicyRecord::Load(
                durable::decode::<durable_v1::PolicyLoad>(bytes)?.thaw()?,
            )),
            KIND_POLICY_DECISION => Ok(PolicyRecord::Decision(
                durable::decode::<durable_v1::PolicyDecision>(bytes)?.thaw()?,
            )),
            KIND_PROCESS_VOTE => Ok(PolicyRecord::Vote(
                durable::decode::<durable_v1::Vote>(bytes)?.thaw()?,
            )),
            other => Err(PayloadError::Invalid {
                what: "kind",
                reason: format!("{other} is not a policy record kind"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use jitos_gov::policy::Point;

    use super::*;

    const POLICY: &str = "default = \"allow\"\n[[rule]]\nname = \"two\"\nat = \"gate\"\ndecide = { require = 2, from = \"approver\" }\n";

    fn records() -> Vec<PolicyRecord> {
        let policy = Arc::new(parse_recorded(POLICY).unwrap());
        let mut facts = Facts::new(Point::Gate, "alice", [Role::Operator].into_iter().collect());
        facts.budget_left.insert("jobs".to_owned(), 3);
        vec![
            PolicyRecord::Decision(PolicyDecision {
                decided_ms: 5,
                process: 9,
                job: 1,
                policy: policy.hash(),
                ruling: policy.evaluate(&facts),
                facts,
            }),
            PolicyRecord::Load(policy),
            PolicyRecord::Vote(Vote {
                process: 9,
                job: 1,
                uid: 1001,
                user: "bob".to_owned(),
                roles: vec![Role::Approver],
                approve: false,
                note: "not today".to_owned(),
            }),
        ]
    }

    /// The blake3 of the bytes version 1 writes for `records()`, in order, pinned: a
    /// change here is a new version, not an edit.
    const GOLDEN: [&str; 3] = [
        "7c833a10ed32e1826422ed47146a08b17a08e8ea32417a1d8360fa226b041488",
        "7f2b63cc74d86c14e72851bf39cf52fb86e6642efbb0933e3181c4c36f95ec25",
        "d43d4164b984b8515162aad06d6d15695dbcc2fed43ebbca78f8c6695a026cac",
    ];

    #[test]
    fn version_1_reads_back_what_it_wrote_and_its_bytes_are_pinned() {
        for (record, golden) in records().iter().zip(GOLDEN) {
            let bytes = record.encode().unwrap();
            assert_eq!(
                blake3::hash(&bytes).to_hex().as_str(),
                golden,
                "{}",
                record.kind()
            );
            assert_eq!(
                &PolicyRecord::decode(record.kind(), &bytes).unwrap(),
                record
            );
        }
    }

    #[test]
    fn a_policy_that_does_not_parse_a_long_note_and_a_foreign_kind_are_refused() {
        let bad = PolicyRecord::Load(Arc::new(parse_recorded(POLICY).unwrap()));
        let mut bytes = bad.encode().unwrap();
        // The text's first byte, after its one-byte length: `default` becomes `xefault`.
        bytes[1] = b'x';
        assert!(PolicyRecord::decode(KIND_POLICY_LOAD, &bytes).is_err());
        let long = PolicyRecord::Vote(Vote {
            process: 1,
            job: 0,
            uid: 1,
            user: "u".to_owned(),
            roles: Vec::new(),
            approve: true,
            note: "x".repeat(VOTE_NOTE_BYTES_MAX + 1),
        });
        assert!(PolicyRecord::decode(KIND_PROCESS_VOTE, &long.encode().unwrap()).is_err());
        assert!(PolicyRecord::decode("policy.nothing", &[]).is_err());
    }
}
