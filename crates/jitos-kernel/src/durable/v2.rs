//! Version 2 payloads: `worker.install@2`, which holds a worker's manifest as TOML text
//! with its BLAKE3 digest instead of the SDK's `Manifest` fields, so the SDK may add
//! fields (with defaults) without changing what old records mean.

use jitos_worker::{Manifest, MANIFEST_BYTES_MAX};
use serde::{Deserialize, Serialize};

use crate::durable::PayloadError;
use crate::job_record::WorkerInstall as LiveInstall;

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
