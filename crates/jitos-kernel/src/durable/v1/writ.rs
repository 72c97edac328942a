//! Version 1 of `writ.key`, `writ.issue` and `writ.revoke`. A writ is held as the exact
//! bytes the daemon signed (`Writ::signing_bytes`, a frozen encoding `jitos-gov` owns), so
//! the record and the signature can never disagree about what was granted.

use jitos_gov::writ::{Writ, WritPublicKey, WritSignature};
use serde::{Deserialize, Serialize};

use super::access::Role;
use crate::durable::{Frozen, PayloadError};
use crate::writ_record::{
    Grant as LiveGrant, WritIssue as LiveIssue, WritRaise as LiveRaise, WritRevoke as LiveRevoke,
    REVOKE_REASON_BYTES_MAX,
};

/// The payload of `writ.key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WritKey {
    public: [u8; 32],
}

/// The payload of `writ.issue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WritIssue {
    /// `Writ::signing_bytes` of the grant.
    body: Vec<u8>,
    /// The ed25519 signature over `body` (64 bytes).
    signature: Vec<u8>,
    for_process: Option<u64>,
    grant: Grant,
}

/// `writ_record::Grant`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Grant {
    Issued,
    Derived { roles: Vec<Role> },
    Delegated { roles: Vec<Role> },
}

/// The payload of `writ.raise`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WritRaise {
    writ: u64,
    jobs: u64,
    wall_secs: u64,
    counters: Vec<(String, u64)>,
    reason: String,
}

/// The payload of `writ.revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WritRevoke {
    writ: u64,
    reason: String,
}

impl Frozen for WritKey {
    type Live = WritPublicKey;

    fn freeze(live: &WritPublicKey) -> WritKey {
        WritKey { public: live.0 }
    }

    fn thaw(self) -> Result<WritPublicKey, PayloadError> {
        Ok(WritPublicKey(self.public))
    }
}

impl Frozen for WritIssue {
    type Live = LiveIssue;

    fn freeze(live: &LiveIssue) -> WritIssue {
        WritIssue {
            body: live.writ.signing_bytes(),
            signature: live.signature.0.to_vec(),
            for_process: live.for_process,
            grant: match &live.grant {
                LiveGrant::Issued => Grant::Issued,
                LiveGrant::Derived { roles } => Grant::Derived {
                    roles: Role::freeze_all(roles),
                },
                LiveGrant::Delegated { roles } => Grant::Delegated {
                    roles: Role::freeze_all(roles),
                },
            },
        }
    }

    fn thaw(self) -> Result<LiveIssue, PayloadError> {
        let writ = Writ::from_signing_bytes(&self.body)
            .map_err(|e| PayloadError::invalid("writ")(e.to_string()))?;
        let signature: [u8; 64] = self.signature.as_slice().try_into().map_err(|_| {
            PayloadError::invalid("signature")(format!(
                "it is {} bytes, not 64",
                self.signature.len()
            ))
        })?;
        let grant = match self.grant {
            Grant::Issued => LiveGrant::Issued,
            Grant::Derived { roles } => LiveGrant::Derived {
                roles: Role::thaw_all(roles, "grant")?,
            },
            Grant::Delegated { roles } => LiveGrant::Delegated {
                roles: Role::thaw_all(roles, "grant")?,
            },
        };
        Ok(LiveIssue {
            writ,
            signature: WritSignature(signature),
            for_process: self.for_process,
            grant,
        })
    }
}

impl Frozen for WritRevoke {
    type Live = LiveRevoke;

    fn freeze(live: &LiveRevoke) -> WritRevoke {
        WritRevoke {
            writ: live.writ,
            reason: live.reason.clone(),
        }
    }

    fn thaw(self) -> Result<LiveRevoke, PayloadError> {
        if self.reason.len() > REVOKE_REASON_BYTES_MAX {
            return Err(PayloadError::invalid("reason")(format!(
                "it is over {REVOKE_REASON_BYTES_MAX} bytes"
            )));
        }
        Ok(LiveRevoke {
            writ: self.writ,
            reason: self.reason,
        })
    }
}

impl Frozen for WritRaise {
    type Live = LiveRaise;

    fn freeze(live: &LiveRaise) -> WritRaise {
        WritRaise {
            writ: live.writ,
            jobs: live.more.jobs,
            wall_secs: live.more.wall_secs,
            counters: live
                .more
                .counters
                .iter()
                .map(|(name, n)| (name.clone(), *n))
                .collect(),
            reason: live.reason.clone(),
        }
    }

    fn thaw(self) -> Result<LiveRaise, PayloadError> {
        let invalid = PayloadError::invalid;
        if self.reason.len() > REVOKE_REASON_BYTES_MAX {
            return Err(invalid("reason")(format!(
                "it is over {REVOKE_REASON_BYTES_MAX} bytes"
            )));
        }
        if self.counters.len() > jitos_gov::writ::COUNTERS_MAX {
            return Err(invalid("counters")(format!(
                "more than {} counters",
                jitos_gov::writ::COUNTERS_MAX
            )));
        }
        let mut counters = std::collections::BTreeMap::new();
        for (name, n) in self.counters {
            if name.len() > jitos_gov::writ::USER_BYTES_MAX {
                return Err(invalid("counters")(
                    "a counter's name is too long".to_owned(),
                ));
            }
            if counters.insert(name, n).is_some() {
                return Err(invalid("counters")("a counter is named twice".to_owned()));
            }
        }
        Ok(LiveRaise {
            writ: self.writ,
            more: jitos_gov::writ::Spent {
                jobs: self.jobs,
                wall_secs: self.wall_secs,
                counters,
            },
            reason: self.reason,
        })
    }
}
