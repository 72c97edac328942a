//! Version 1 of `effect.begin`, `effect.end` and `process.unwind`.

use jitos_gov::Effect;
use serde::{Deserialize, Serialize};

use super::process::Outcome;
use crate::durable::{freeze_usize, thaw_usize, Frozen, PayloadError};
use crate::effect_record::{
    EffectBegin as LiveBegin, EffectEndRecord as LiveEnd, KnownBy as LiveKnownBy,
    Unwind as LiveUnwind, EFFECT_KEY_BYTES_MAX,
};

/// The payload of `effect.begin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EffectBegin {
    process: u64,
    job: u64,
    attempt: u64,
    key: String,
    /// 0 none, 1 workspace, 2 local, 3 network, 4 irreversible (as `policy.decision`).
    class: u8,
}

/// The payload of `effect.end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EffectEnd {
    process: u64,
    job: u64,
    key: String,
    end: End,
    by: KnownBy,
}

/// `jitos_sched::EffectEnd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum End {
    Happened,
    NotHappened,
    Unknown,
}

/// `effect_record::KnownBy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum KnownBy {
    Attempt,
    Verify,
    Person,
    ProcessEnd,
}

/// The payload of `process.unwind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Unwind {
    decided_ms: u64,
    process: u64,
    then: Then,
    why: String,
}

/// `jitos_sched::Then`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Then {
    Finish(Outcome),
    Advance { to: u64, why: String },
}

fn check_key(key: &str) -> Result<(), PayloadError> {
    if key.len() > EFFECT_KEY_BYTES_MAX {
        return Err(PayloadError::Invalid {
            what: "key",
            reason: format!(
                "it is {} bytes, over EFFECT_KEY_BYTES_MAX ({EFFECT_KEY_BYTES_MAX})",
                key.len()
            ),
        });
    }
    Ok(())
}

/// An effect class as the ledger holds it: 0 none, 1 workspace, 2 local, 3 network, 4
/// irreversible (`policy.decision`'s facts hold it so too).
pub(crate) fn freeze_class(class: Effect) -> u8 {
    match class {
        Effect::None => 0,
        Effect::Workspace => 1,
        Effect::Local => 2,
        Effect::Network => 3,
        Effect::Irreversible => 4,
    }
}

/// The effect class `code` stands for; `what` names the field in a refusal.
pub(crate) fn thaw_class(code: u8, what: &'static str) -> Result<Effect, PayloadError> {
    Ok(match code {
        0 => Effect::None,
        1 => Effect::Workspace,
        2 => Effect::Local,
        3 => Effect::Network,
        4 => Effect::Irreversible,
        other => {
            return Err(PayloadError::Invalid {
                what,
                reason: format!("no effect class {other}"),
            })
        }
    })
}

impl Frozen for EffectBegin {
    type Live = LiveBegin;

    fn freeze(live: &LiveBegin) -> EffectBegin {
        EffectBegin {
            process: live.process,
            job: freeze_usize(live.job),
            attempt: live.attempt,
            key: live.key.clone(),
            class: freeze_class(live.class),
        }
    }

    fn thaw(self) -> Result<LiveBegin, PayloadError> {
        check_key(&self.key)?;
        Ok(LiveBegin {
            process: self.process,
            job: thaw_usize(self.job, "job")?,
            attempt: self.attempt,
            key: self.key,
            class: thaw_class(self.class, "class")?,
        })
    }
}

impl Frozen for EffectEnd {
    type Live = LiveEnd;

    fn freeze(live: &LiveEnd) -> EffectEnd {
        use jitos_sched::EffectEnd as L;
        EffectEnd {
            process: live.process,
            job: freeze_usize(live.job),
            key: live.key.clone(),
            end: match live.end {
                L::Happened => End::Happened,
                L::NotHappened => End::NotHappened,
                L::Unknown => End::Unknown,
            },
            by: match live.by {
                LiveKnownBy::Attempt => KnownBy::Attempt,
                LiveKnownBy::Verify => KnownBy::Verify,
                LiveKnownBy::Person => KnownBy::Person,
                LiveKnownBy::ProcessEnd => KnownBy::ProcessEnd,
            },
        }
    }

    fn thaw(self) -> Result<LiveEnd, PayloadError> {
        use jitos_sched::EffectEnd as L;
        check_key(&self.key)?;
        Ok(LiveEnd {
            process: self.process,
            job: thaw_usize(self.job, "job")?,
            key: self.key,
            end: match self.end {
                End::Happened => L::Happened,
                End::NotHappened => L::NotHappened,
                End::Unknown => L::Unknown,
            },
            by: match self.by {
                KnownBy::Attempt => LiveKnownBy::Attempt,
                KnownBy::Verify => LiveKnownBy::Verify,
                KnownBy::Person => LiveKnownBy::Person,
                KnownBy::ProcessEnd => LiveKnownBy::ProcessEnd,
            },
        })
    }
}

impl Frozen for Unwind {
    type Live = LiveUnwind;

    fn freeze(live: &LiveUnwind) -> Unwind {
        use jitos_sched::Then as L;
        Unwind {
            decided_ms: live.decided_ms,
            process: live.process,
            then: match &live.then {
                L::Finish(outcome) => Then::Finish(Outcome::freeze(outcome)),
                L::Advance { to, why } => Then::Advance {
                    to: freeze_usize(*to),
                    why: why.clone(),
                },
            },
            why: live.why.clone(),
        }
    }

    fn thaw(self) -> Result<LiveUnwind, PayloadError> {
        use jitos_sched::Then as L;
        Ok(LiveUnwind {
            decided_ms: self.decided_ms,
            process: self.process,
            then: match self.then {
                Then::Finish(outcome) => L::Finish(outcome.thaw()?),
                Then::Advance { to, why } => L::Advance {
                    to: thaw_usize(to, "to")?,
                    why,
                },
            },
            why: self.why,
        })
    }
}
