//! `sws.ruling` and `sws.vote`: the policy's ruling on collapsing a workspace outside any
//! process into the system (`at = "collapse"`, `docs/POLICY.md`), and each vote a person
//! cast on a collapse held for approvals.
//!
//! A ruling names the exact changes it was made on (`changes`, the hash of the collapse
//! record those changes would make), so an approval given to one set of changes never
//! lets another through: a workspace changed since its ruling is ruled on again.

use jitos_gov::{
    policy::{Facts, PolicyHash, Ruling},
    Role,
};

use crate::durable::{self, v1::policy as durable_v1, Frozen, PayloadError};

/// The policy ruled on a workspace's collapse.
pub const KIND_SWS_RULING: &str = "sws.ruling";
/// A person approved or rejected a workspace's collapse held for approvals.
pub const KIND_SWS_VOTE: &str = "sws.vote";

/// The hash a ruling names its changes by: BLAKE3 of the `sws.collapse` payload they make.
pub type ChangesHash = [u8; 32];

/// `sws.ruling`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CollapseRuling {
    /// The workspace.
    pub sws: u64,
    /// When the collapse was asked for (ms), from the ledger's clock: the time the writ,
    /// if any, was checked at.
    pub decided_ms: u64,
    /// Who asked for the collapse (one principal may not approve their own).
    pub uid: u32,
    /// The writ it was asked under; `None` for the requester's roles alone.
    pub writ: Option<u64>,
    /// The changes it rules on.
    pub changes: ChangesHash,
    /// The hash of the policy that ruled.
    pub policy: PolicyHash,
    /// What it decided on.
    pub facts: Facts,
    /// The verdict and the rules that fired.
    pub ruling: Ruling,
}

impl CollapseRuling {
    /// The ruling in words, with the policy that made it.
    pub fn why(&self) -> String {
        format!(
            "{} by policy {}",
            self.ruling.explain(),
            self.policy.short()
        )
    }
}

/// `sws.vote`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollapseVote {
    /// The workspace whose collapse is held.
    pub sws: u64,
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

/// The payload of a collapse governance record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollapseRecord {
    /// `sws.ruling`.
    Ruling(Box<CollapseRuling>),
    /// `sws.vote`.
    Vote(CollapseVote),
}

impl CollapseRecord {
    /// The record kind this payload goes with.
    pub fn kind(&self) -> &'static str {
        match self {
            CollapseRecord::Ruling(_) => KIND_SWS_RULING,
            CollapseRecord::Vote(_) => KIND_SWS_VOTE,
        }
    }

    /// Whether `kind` is one of these kinds.
    pub fn is_kind(kind: &str) -> bool {
        [KIND_SWS_RULING, KIND_SWS_VOTE].contains(&kind)
    }

    /// The payload bytes (version 1).
    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        match self {
            CollapseRecord::Ruling(ruling) => {
                durable::encode(&durable_v1::CollapseRuling::freeze(ruling))
            }
            CollapseRecord::Vote(vote) => durable::encode(&durable_v1::CollapseVote::freeze(vote)),
        }
    }

    /// Decodes the payload of a record of `kind`.
    pub fn decode(kind: &str, bytes: &[u8]) -> Result<CollapseRecord, PayloadError> {
        match kind {
            KIND_SWS_RULING => Ok(CollapseRecord::Ruling(Box::new(
                durable::decode::<durable_v1::CollapseRuling>(bytes)?.thaw()?,
            ))),
            KIND_SWS_VOTE => Ok(CollapseRecord::Vote(
                durable::decode::<durable_v1::CollapseVote>(bytes)?.thaw()?,
            )),
            other => Err(PayloadError::Invalid {
                what: "kind",
                reason: format!("{other} is not a collapse governance record kind"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use jitos_gov::policy::{Point, Policy};

    use super::*;
    use crate::policy_record::VOTE_NOTE_BYTES_MAX;

    const POLICY: &str = "default = \"allow\"\n[[rule]]\nname = \"src needs two\"\nat = \"collapse\"\nwhen = { path = \"src\" }\ndecide = { require = 2, from = \"approver\" }\n";

    fn records() -> Vec<CollapseRecord> {
        let policy = Policy::parse(POLICY, "p.toml".as_ref()).unwrap();
        let mut facts = Facts::new(
            Point::Collapse,
            "alice",
            [Role::Operator].into_iter().collect(),
        );
        facts.paths = vec!["src/calc.sh".to_owned()];
        facts.budget_left.insert("tokens".to_owned(), 900);
        vec![
            CollapseRecord::Ruling(Box::new(CollapseRuling {
                sws: 12,
                decided_ms: 1_700_000_000_000,
                uid: 1001,
                writ: Some(7),
                changes: [9; 32],
                policy: policy.hash(),
                ruling: policy.evaluate(&facts),
                facts,
            })),
            CollapseRecord::Vote(CollapseVote {
                sws: 12,
                uid: 1002,
                user: "bob".to_owned(),
                roles: vec![Role::Approver],
                approve: true,
                note: "read the diff".to_owned(),
            }),
        ]
    }

    /// The blake3 of the bytes version 1 writes for `records()`, in order, pinned: a
    /// change here is a new version, not an edit.
    const GOLDEN: [&str; 2] = [
        "e9d6a09d7709c958bcf4f5e10219d684371b71d3b3221592c6fab50efb90c4ce",
        "b08948c33c9520c915a4bba3b2f7365e16bb55f218c6f2e9fc0e1e83926fc4e4",
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
                &CollapseRecord::decode(record.kind(), &bytes).unwrap(),
                record
            );
        }
    }

    #[test]
    fn a_long_note_a_bad_point_and_a_foreign_kind_are_refused() {
        let long = CollapseRecord::Vote(CollapseVote {
            sws: 1,
            uid: 1,
            user: "u".to_owned(),
            roles: Vec::new(),
            approve: false,
            note: "x".repeat(VOTE_NOTE_BYTES_MAX + 1),
        });
        assert!(CollapseRecord::decode(KIND_SWS_VOTE, &long.encode().unwrap()).is_err());
        let mut ruling = records().remove(0);
        if let CollapseRecord::Ruling(r) = &mut ruling {
            r.facts.point = Point::Dispatch;
        }
        assert!(
            CollapseRecord::decode(KIND_SWS_RULING, &ruling.encode().unwrap()).is_err(),
            "a collapse ruling's facts are at the collapse point"
        );
        assert!(CollapseRecord::decode("sws.nothing", &[]).is_err());
    }
}
