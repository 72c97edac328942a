//! Effect records: an attempt of a job whose effect leaves its workspace began
//! (`effect.begin`, written with its dispatch, before the worker runs), whether that effect
//! took place became known (`effect.end`, exactly one per begin), and a process began to
//! unwind, compensating the effects that took place (`process.unwind`).

use jitos_gov::Effect;
use jitos_sched::{EffectEnd, Event, Then};

use crate::durable::{self, v1::effect as durable_v1, Frozen, PayloadError};

/// An attempt with an effect beyond its workspace is about to start.
pub const KIND_EFFECT_BEGIN: &str = "effect.begin";
/// Whether a begun effect took place is known.
pub const KIND_EFFECT_END: &str = "effect.end";
/// A process began to unwind.
pub const KIND_PROCESS_UNWIND: &str = "process.unwind";

/// The longest idempotency key a record holds, in bytes.
pub const EFFECT_KEY_BYTES_MAX: usize = 128;

/// `effect.begin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectBegin {
    /// The process.
    pub process: u64,
    /// The job, by index in its current plan.
    pub job: usize,
    /// The attempt (its dispatch's seq).
    pub attempt: u64,
    /// The idempotency key, the same for every attempt of the job.
    pub key: String,
    /// Its effect class: the greater of its task's and its worker's.
    pub class: Effect,
}

/// How it became known whether an effect took place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownBy {
    /// Its attempt ended with a verdict: exit status 0 (it did), or another status, a
    /// refused proposal or a worker that never started (it did not).
    Attempt,
    /// Its verify job's exit status.
    Verify,
    /// A person's answer.
    Person,
    /// No one: the process ended first.
    ProcessEnd,
}

/// `effect.end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectEndRecord {
    /// The process.
    pub process: u64,
    /// The job.
    pub job: usize,
    /// The idempotency key its begin named.
    pub key: String,
    /// Whether it took place.
    pub end: EffectEnd,
    /// How that is known.
    pub by: KnownBy,
}

/// `process.unwind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwind {
    /// The time the scheduler decided it at (ms).
    pub decided_ms: u64,
    /// The process.
    pub process: u64,
    /// What it does once its compensations ran.
    pub then: Then,
    /// Why it unwinds.
    pub why: String,
}

/// The payload of an effect record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectRecord {
    /// `effect.begin`.
    Begin(EffectBegin),
    /// `effect.end`.
    End(EffectEndRecord),
    /// `process.unwind`.
    Unwind(Unwind),
}

impl EffectRecord {
    /// The record kind this payload goes with.
    pub fn kind(&self) -> &'static str {
        match self {
            EffectRecord::Begin(_) => KIND_EFFECT_BEGIN,
            EffectRecord::End(_) => KIND_EFFECT_END,
            EffectRecord::Unwind(_) => KIND_PROCESS_UNWIND,
        }
    }

    /// Whether `kind` is an effect record kind.
    pub fn is_kind(kind: &str) -> bool {
        [KIND_EFFECT_BEGIN, KIND_EFFECT_END, KIND_PROCESS_UNWIND].contains(&kind)
    }

    /// The process it belongs to.
    pub fn process(&self) -> u64 {
        match self {
            EffectRecord::Begin(begin) => begin.process,
            EffectRecord::End(end) => end.process,
            EffectRecord::Unwind(unwind) => unwind.process,
        }
    }

    /// The scheduler's event it stands for.
    pub fn event(&self) -> Event {
        match self {
            EffectRecord::Begin(begin) => Event::EffectBegun {
                process: begin.process,
                job: begin.job,
                attempt: begin.attempt,
                key: begin.key.clone(),
            },
            EffectRecord::End(end) => Event::EffectEnded {
                process: end.process,
                job: end.job,
                end: end.end,
            },
            EffectRecord::Unwind(unwind) => Event::Unwinding {
                process: unwind.process,
                then: unwind.then.clone(),
                why: unwind.why.clone(),
            },
        }
    }

    /// The payload bytes (version 1).
    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        match self {
            EffectRecord::Begin(begin) => durable::encode(&durable_v1::EffectBegin::freeze(begin)),
            EffectRecord::End(end) => durable::encode(&durable_v1::EffectEnd::freeze(end)),
            EffectRecord::Unwind(unwind) => durable::encode(&durable_v1::Unwind::freeze(unwind)),
        }
    }

    /// Decodes the payload of a record of `kind`.
    pub fn decode(kind: &str, bytes: &[u8]) -> Result<EffectRecord, PayloadError> {
        match kind {
            KIND_EFFECT_BEGIN => Ok(EffectRecord::Begin(
                durable::decode::<durable_v1::EffectBegin>(bytes)?.thaw()?,
            )),
            KIND_EFFECT_END => Ok(EffectRecord::End(
                durable::decode::<durable_v1::EffectEnd>(bytes)?.thaw()?,
            )),
            KIND_PROCESS_UNWIND => Ok(EffectRecord::Unwind(
                durable::decode::<durable_v1::Unwind>(bytes)?.thaw()?,
            )),
            other => Err(PayloadError::Invalid {
                what: "kind",
                reason: format!("{other} is not an effect record kind"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use jitos_sched::Outcome;

    use super::*;

    fn records() -> Vec<EffectRecord> {
        vec![
            EffectRecord::Begin(EffectBegin {
                process: 9,
                job: 2,
                attempt: 14,
                key: "jitos-9-0-2".to_owned(),
                class: Effect::Local,
            }),
            EffectRecord::End(EffectEndRecord {
                process: 9,
                job: 2,
                key: "jitos-9-0-2".to_owned(),
                end: EffectEnd::Happened,
                by: KnownBy::Verify,
            }),
            EffectRecord::Unwind(Unwind {
                decided_ms: 77,
                process: 9,
                then: Then::Finish(Outcome::Cancelled),
                why: "cancelled".to_owned(),
            }),
            EffectRecord::Unwind(Unwind {
                decided_ms: 78,
                process: 9,
                then: Then::Advance {
                    to: 1,
                    why: "a gate failed".to_owned(),
                },
                why: "a gate failed".to_owned(),
            }),
        ]
    }

    /// The blake3 of the bytes version 1 writes for `records()`, in order, pinned: a
    /// change here is a new version, not an edit.
    const GOLDEN: [&str; 4] = [
        "ca9f1af6bb34b22513a8251d0b9048900c1ee212c1b7f2849067f8802cfdead9",
        "b9603fe4e74271a36b57e39c4d07163c887589516a2206e1bdfe6758a140011b",
        "53e0fef10e9c5721a8f247921647f012c3f8ce7a4a081a540d072ac5334fb81f",
        "dbd9b4949a89633cf0c3cf90718a727ade7002c66a23c09ee55631ec4b8db1f9",
    ];

    #[test]
    fn version_1_reads_back_what_it_wrote_and_its_bytes_are_pinned() {
        for (record, golden) in records().iter().zip(GOLDEN) {
            let bytes = record.encode().unwrap();
            assert_eq!(
                &EffectRecord::decode(record.kind(), &bytes).unwrap(),
                record
            );
            assert_eq!(blake3::hash(&bytes).to_hex().as_str(), golden, "{record:?}");
        }
    }

    #[test]
    fn an_overlong_key_does_not_read() {
        let begin = EffectRecord::Begin(EffectBegin {
            process: 1,
            job: 0,
            attempt: 2,
            key: "k".repeat(EFFECT_KEY_BYTES_MAX + 1),
            class: Effect::Irreversible,
        });
        let bytes = begin.encode().unwrap();
        assert!(EffectRecord::decode(KIND_EFFECT_BEGIN, &bytes).is_err());
    }

    #[test]
    fn a_payload_of_one_kind_does_not_read_as_another() {
        let bytes = records()[0].encode().unwrap();
        assert!(EffectRecord::decode(KIND_PROCESS_UNWIND, &bytes).is_err());
    }
}
