//! Version 2 payloads: `worker.install@2`, which holds a worker's manifest as TOML text
//! with its BLAKE3 digest instead of the SDK's `Manifest` fields, so the SDK may add
//! fields (with defaults) without changing what old records mean; and `process.submit@2`,
//! which holds the plan candidates so too, as JSON text with its digest, so the planner's
//! plans may gain fields (a step's verify and compensate jobs, an effect class) that an
//! old record reads back as their defaults.

use jitos_worker::{Manifest, MANIFEST_BYTES_MAX};
use serde::{Deserialize, Serialize};

use super::v1::{process::Intent, warp::Rewrite};
use crate::durable::{Frozen, PayloadError, PAYLOAD_BYTES_MAX};
use crate::job_record::{
    FailureCause as LiveCause, JobRecord as LiveJobRecord, WorkerInstall as LiveInstall,
};
use crate::process_record::ProcessRecord as LiveRecord;

/// The payload of `worker.install@2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WorkerInstall {
    /// The manifest as TOML, as `Manifest::to_text` renders it.
    manifest_text: String,
    /// `blake3::hash` of `manifest_text` (checkable with `b3sum`).
    manifest_digest: [u8; 32],
    /// The absolute path of the worker's binary.
    binary: String,
    /// `blake3::hash` of the binary at install.
    binary_digest: [u8; 32],
}

/// The name a manifest read back from a record goes by in errors.
const MANIFEST_ORIGIN: &str = "the manifest recorded by worker.install@2";

impl WorkerInstall {
    /// The payload of `live`, with its manifest rendered as text and checked to parse back
    /// to the same manifest, so nothing is recorded that would not read back as it was.
    pub(crate) fn of(live: &LiveInstall) -> Result<WorkerInstall, PayloadError> {
        let invalid = PayloadError::invalid("manifest");
        let manifest_text = live
            .manifest
            .to_text()
            .map_err(|e| invalid(e.to_string()))?;
        let parsed = Manifest::parse(&manifest_text, MANIFEST_ORIGIN.as_ref())
            .map_err(|e| invalid(e.to_string()))?;
        if parsed != live.manifest {
            return Err(invalid(
                "its text does not read back as the same manifest".to_owned(),
            ));
        }
        Ok(WorkerInstall {
            manifest_digest: *blake3::hash(manifest_text.as_bytes()).as_bytes(),
            manifest_text,
            binary: live.binary.clone(),
            binary_digest: live.binary_digest,
        })
    }

    /// The in-memory install: the text checked against its digest and parsed as a
    /// manifest is when installed.
    pub(crate) fn thaw(self) -> Result<LiveInstall, PayloadError> {
        let invalid = PayloadError::invalid("manifest");
        if self.manifest_text.len() > MANIFEST_BYTES_MAX {
            return Err(invalid(format!(
                "its text is {} bytes, over MANIFEST_BYTES_MAX ({MANIFEST_BYTES_MAX})",
                self.manifest_text.len()
            )));
        }
        if blake3::hash(self.manifest_text.as_bytes()).as_bytes() != &self.manifest_digest {
            return Err(invalid(
                "its text does not hash to the digest recorded with it".to_owned(),
            ));
        }
        let manifest = Manifest::parse(&self.manifest_text, MANIFEST_ORIGIN.as_ref())
            .map_err(|e| invalid(e.to_string()))?;
        Ok(LiveInstall {
            manifest,
            binary: self.binary,
            binary_digest: self.binary_digest,
        })
    }
}

/// The payload of `process.submit@2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProcessSubmit {
    decided_ms: u64,
    intent: Intent,
    /// The plan candidates (`Vec<jitos_tasks::Slap>`) as compact JSON, as serde writes
    /// them (checked, when written, to read back as the same plans).
    pub(super) plans_json: String,
    /// `blake3::hash` of `plans_json`.
    pub(super) plans_digest: [u8; 32],
    /// The nodes recording the process and its plans in the system graph.
    rewrite: Option<Rewrite>,
}

impl ProcessSubmit {
    /// The payload of a submit record; `None` if `live` is no submit.
    pub(crate) fn of(live: &LiveRecord) -> Result<ProcessSubmit, PayloadError> {
        let invalid = PayloadError::invalid("plans");
        let jitos_sched::Event::Submitted { intent, slaps } = &live.event else {
            return Err(invalid("the record is no submit".to_owned()));
        };
        if !live.sws.is_empty() || live.context.is_some() {
            return Err(invalid(
                "a submit performs no workspace operation and asks nothing".to_owned(),
            ));
        }
        let plans_json = serde_json::to_string(slaps)
            .map(|text| without_absent_fields(&text))
            .map_err(|e| invalid(e.to_string()))?;
        // Nothing is recorded that would not read back as it was.
        let again: Vec<jitos_tasks::Slap> =
            serde_json::from_str(&plans_json).map_err(|e| invalid(e.to_string()))?;
        if &again != slaps {
            return Err(invalid(
                "their text does not read back as the same plans".to_owned(),
            ));
        }
        Ok(ProcessSubmit {
            decided_ms: live.decided_ms,
            intent: Intent::freeze(intent),
            plans_digest: *blake3::hash(plans_json.as_bytes()).as_bytes(),
            plans_json,
            rewrite: Frozen::freeze(&live.rewrite),
        })
    }

    /// The in-memory record: the text checked against its digest and parsed (serde_json's
    /// nesting limit bounds its depth). It is not checked to be the text this build would
    /// write, which a field added to the plans since changes.
    pub(crate) fn thaw(self) -> Result<LiveRecord, PayloadError> {
        let invalid = PayloadError::invalid("plans");
        if self.plans_json.len() > PAYLOAD_BYTES_MAX {
            return Err(invalid(format!(
                "their text is {} bytes, over the payload limit",
                self.plans_json.len()
            )));
        }
        if blake3::hash(self.plans_json.as_bytes()).as_bytes() != &self.plans_digest {
            return Err(invalid(
                "their text does not hash to the digest recorded with it".to_owned(),
            ));
        }
        // A field added to the plans since reads back as its default; a repeated field is
        // refused by serde.
        let slaps: Vec<jitos_tasks::Slap> =
            serde_json::from_str(&self.plans_json).map_err(|e| invalid(e.to_string()))?;
        Ok(LiveRecord {
            decided_ms: self.decided_ms,
            event: jitos_sched::Event::Submitted {
                intent: self.intent.thaw()?,
                slaps,
            },
            sws: Vec::new(),
            rewrite: self.rewrite.thaw()?,
            context: None,
            environment: None,
        })
    }
}

/// The keys added to the plans since `process.submit@2` was first written, whose absence
/// reads back as their default: left out when they hold it, so a plan that does not use
/// one is written byte for byte as before the key existed.
const ADDED_KEYS_AT_DEFAULT: [&str; 1] = [",\"feedback\":null"];

/// `text` (serde_json's compact JSON of the plans) without [`ADDED_KEYS_AT_DEFAULT`]. A
/// quote inside a JSON string is always escaped, so these bytes can only be a key and its
/// value, never part of a string.
fn without_absent_fields(text: &str) -> String {
    ADDED_KEYS_AT_DEFAULT
        .iter()
        .fold(text.to_owned(), |text, key| text.replace(key, ""))
}

/// The payload of `job.failed@2`: a failure whose cause version 1 cannot name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JobFailed {
    attempt: u64,
    cause: FailureCause,
    detail: String,
}

/// `FailureCause`, version 2: version 1's causes, then the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum FailureCause {
    Spawn,
    Worker,
    Protocol,
    Crashed,
    Deadline,
    Cancelled,
    Interrupted,
    Budget,
}

impl JobFailed {
    /// The payload of a failure.
    pub(crate) fn of(attempt: u64, cause: LiveCause, detail: &str) -> JobFailed {
        JobFailed {
            attempt,
            cause: match cause {
                LiveCause::Spawn => FailureCause::Spawn,
                LiveCause::Worker => FailureCause::Worker,
                LiveCause::Protocol => FailureCause::Protocol,
                LiveCause::Crashed => FailureCause::Crashed,
                LiveCause::Deadline => FailureCause::Deadline,
                LiveCause::Cancelled => FailureCause::Cancelled,
                LiveCause::Interrupted => FailureCause::Interrupted,
                LiveCause::Budget => FailureCause::Budget,
            },
            detail: detail.to_owned(),
        }
    }

    /// The in-memory record. Only a cause version 1 cannot name is written here, so any
    /// other is refused: each failure has one form.
    pub(crate) fn thaw(self) -> Result<LiveJobRecord, PayloadError> {
        if self.cause != FailureCause::Budget {
            return Err(PayloadError::Invalid {
                what: "cause",
                reason: format!(
                    "{:?} is written as job.failed (version 1), never as job.failed@2",
                    self.cause
                ),
            });
        }
        Ok(LiveJobRecord::Failed {
            attempt: self.attempt,
            cause: match self.cause {
                FailureCause::Spawn => LiveCause::Spawn,
                FailureCause::Worker => LiveCause::Worker,
                FailureCause::Protocol => LiveCause::Protocol,
                FailureCause::Crashed => LiveCause::Crashed,
                FailureCause::Deadline => LiveCause::Deadline,
                FailureCause::Cancelled => LiveCause::Cancelled,
                FailureCause::Interrupted => LiveCause::Interrupted,
                FailureCause::Budget => LiveCause::Budget,
            },
            detail: self.detail,
        })
    }
}
