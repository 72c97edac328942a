//! Writ records: the daemon's key coming into force, a writ issued (to a person, or
//! derived for a process), and a writ revoked. A dispatch under a writ is charged by its
//! own `job.dispatch` record, so issuance, spending and revocation are all replayed.

use jitos_gov::{
    writ::{Writ, WritPublicKey, WritSignature},
    Role,
};

use crate::durable::{self, v1::writ as durable_v1, Frozen, PayloadError};

/// The daemon's public key came into force: writs issued after it verify with it.
pub const KIND_WRIT_KEY: &str = "writ.key";
/// A writ was issued; its id is the record's seq.
pub const KIND_WRIT_ISSUE: &str = "writ.issue";
/// A writ, and every writ delegated from it, was revoked.
pub const KIND_WRIT_REVOKE: &str = "writ.revoke";
/// A writ's budget was raised by an admin.
pub const KIND_WRIT_RAISE: &str = "writ.raise";

/// The longest revocation reason a record keeps, in bytes.
pub const REVOKE_REASON_BYTES_MAX: usize = 1024;

/// A writ issued: the grant, the daemon's signature over it, and what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritIssue {
    /// The grant.
    pub writ: Writ,
    /// The daemon's signature over `writ.signing_bytes()`.
    pub signature: WritSignature,
    /// The process it was issued for, when a submit made it.
    pub for_process: Option<u64>,
    /// How it came to be.
    pub grant: Grant,
}

/// A writ issue as the daemon hands it to the kernel: with the public key that signed it,
/// which is recorded (`writ.key`) just before it when it is not yet the key in force. So
/// a store that never saw a writ holds no key record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIssue {
    /// The issue.
    pub issue: WritIssue,
    /// The key that signed it.
    pub signer: WritPublicKey,
}

/// How a writ came to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Issued by a person (`jitos writ issue`, or delegated with `--from`).
    Issued,
    /// Derived for a process submitted without one, from its submitter's roles.
    Derived {
        /// The submitter's roles when it was derived.
        roles: Vec<Role>,
    },
    /// Delegated for a process submitted under a writ (`submit --writ`).
    Delegated {
        /// The submitter's roles at the submit.
        roles: Vec<Role>,
    },
}

impl Grant {
    /// The roles of the user it was made for, when a submit made it.
    pub fn roles(&self) -> &[Role] {
        match self {
            Grant::Issued => &[],
            Grant::Derived { roles } | Grant::Delegated { roles } => roles,
        }
    }
}

/// A writ revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritRevoke {
    /// The writ.
    pub writ: u64,
    /// Why, as given.
    pub reason: String,
}

/// A writ's budget raised: what is added to each of its budgets (the signed grant stays
/// as it was; the raises are added to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritRaise {
    /// The writ.
    pub writ: u64,
    /// What is added: jobs, wall seconds and named counters.
    pub more: jitos_gov::writ::Spent,
    /// Why, as given.
    pub reason: String,
}

/// The payload of a writ record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WritRecord {
    /// `writ.key`.
    Key(WritPublicKey),
    /// `writ.issue` (boxed: a writ is far larger than a key or a revocation).
    Issue(Box<WritIssue>),
    /// `writ.revoke`.
    Revoke(WritRevoke),
    /// `writ.raise`.
    Raise(WritRaise),
}

impl WritRecord {
    /// The record kind this payload goes with.
    pub fn kind(&self) -> &'static str {
        match self {
            WritRecord::Key(_) => KIND_WRIT_KEY,
            WritRecord::Issue(_) => KIND_WRIT_ISSUE,
            WritRecord::Revoke(_) => KIND_WRIT_REVOKE,
            WritRecord::Raise(_) => KIND_WRIT_RAISE,
        }
    }

    /// Whether `kind` is a writ record kind.
    pub fn is_kind(kind: &str) -> bool {
        [
            KIND_WRIT_KEY,
            KIND_WRIT_ISSUE,
            KIND_WRIT_REVOKE,
            KIND_WRIT_RAISE,
        ]
        .contains(&kind)
    }

    /// The payload bytes (version 1).
    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        match self {
            WritRecord::Key(key) => durable::encode(&durable_v1::WritKey::freeze(key)),
            WritRecord::Issue(issue) => durable::encode(&durable_v1::WritIssue::freeze(issue)),
            WritRecord::Revoke(revoke) => durable::encode(&durable_v1::WritRevoke::freeze(revoke)),
            WritRecord::Raise(raise) => durable::encode(&durable_v1::WritRaise::freeze(raise)),
        }
    }

    /// Decodes the payload of a record of `kind`.
    pub fn decode(kind: &str, bytes: &[u8]) -> Result<WritRecord, PayloadError> {
        match kind {
            KIND_WRIT_KEY => Ok(WritRecord::Key(
                durable::decode::<durable_v1::WritKey>(bytes)?.thaw()?,
            )),
            KIND_WRIT_ISSUE => Ok(WritRecord::Issue(Box::new(
                durable::decode::<durable_v1::WritIssue>(bytes)?.thaw()?,
            ))),
            KIND_WRIT_REVOKE => Ok(WritRecord::Revoke(
                durable::decode::<durable_v1::WritRevoke>(bytes)?.thaw()?,
            )),
            KIND_WRIT_RAISE => Ok(WritRecord::Raise(
                durable::decode::<durable_v1::WritRaise>(bytes)?.thaw()?,
            )),
            other => Err(PayloadError::Invalid {
                what: "kind",
                reason: format!("{other} is not a writ record kind"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::{BTreeMap, BTreeSet};

    use jitos_gov::{
        writ::{Budget, Scope, Subject, WritKey},
        Effect,
    };

    use super::*;

    fn writ() -> Writ {
        let user = |uid: u32, name: &str| Subject {
            uid,
            user: name.to_owned(),
        };
        Writ {
            subject: user(1001, "alice"),
            issuer: user(0, "root"),
            parent: Some(7),
            workers: Scope::Only(BTreeSet::from(["shell".to_owned()])),
            paths: Scope::All,
            effect: Effect::Workspace,
            egress: Scope::nothing(),
            budget: Budget {
                jobs: 3,
                wall_secs: 60,
                counters: BTreeMap::from([("tokens".to_owned(), 1000)]),
            },
            secrets: BTreeSet::new(),
            issued_ms: 1,
            expires_ms: 2,
            depth: 0,
        }
    }

    fn records() -> Vec<WritRecord> {
        let key = WritKey::from_bytes(&[7; 32]);
        vec![
            WritRecord::Key(key.public()),
            WritRecord::Issue(Box::new(WritIssue {
                signature: key.sign(&writ()),
                writ: writ(),
                for_process: Some(9),
                grant: Grant::Derived {
                    roles: vec![Role::Operator],
                },
            })),
            WritRecord::Revoke(WritRevoke {
                writ: 7,
                reason: "done".to_owned(),
            }),
            WritRecord::Raise(WritRaise {
                writ: 7,
                more: jitos_gov::writ::Spent {
                    jobs: 2,
                    wall_secs: 30,
                    counters: BTreeMap::from([("tokens".to_owned(), 500)]),
                },
                reason: "one more try".to_owned(),
            }),
        ]
    }

    /// The blake3 of the bytes version 1 writes for `records()`, in order, pinned: a
    /// change here is a new version, not an edit.
    const GOLDEN: [&str; 4] = [
        "0871f3aabc26e4582c508af5c03884e6a96f0989d1dd8cfb49cd17ed25792433",
        "f07e29bad529c3eacd2fe4615fdc3e4bd214c54ebd496f2f30b1c9a30f2462fd",
        "34ba40ac627a616252120106797b5ab71994793558debf99f6e8af5293ef8152",
        "1b192e5fc4123e85e8a53c1f24bafae147a81f78717d55f505ad2900c2ef03da",
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
            assert_eq!(&WritRecord::decode(record.kind(), &bytes).unwrap(), record);
        }
    }

    #[test]
    fn a_short_signature_a_long_reason_and_a_foreign_kind_are_refused() {
        let WritRecord::Issue(issue) = &records()[1] else {
            panic!("the second record issues");
        };
        let mut bytes = WritRecord::Issue(issue.clone()).encode().unwrap();
        let body = issue.writ.signing_bytes();
        // The signature's length follows the body's (a varint: one byte below 251, else
        // 251 and two bytes) and the body.
        let at = if body.len() < 251 { 1 } else { 3 } + body.len();
        assert_eq!(bytes[at], 64, "the signature's length prefix");
        bytes[at] = 63;
        assert!(WritRecord::decode(KIND_WRIT_ISSUE, &bytes).is_err());
        let long = WritRecord::Revoke(WritRevoke {
            writ: 1,
            reason: "x".repeat(REVOKE_REASON_BYTES_MAX + 1),
        });
        assert!(WritRecord::decode(KIND_WRIT_REVOKE, &long.encode().unwrap()).is_err());
        assert!(WritRecord::decode("writ.nothing", &[]).is_err());
    }
}
