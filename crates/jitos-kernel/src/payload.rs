//! Record kinds the kernel writes, and the encoding of their payloads.

use std::collections::BTreeSet;

use jitos_ledger::Record;
use jitos_warp::{BlobRef, Rewrite};
use serde::{de::DeserializeOwned, Serialize};

use crate::{
    files::blobs_of, job_record::JobRecord, process_record::ProcessRecord, sws_record::SwsRecord,
    KernelError,
};

/// The kind of the genesis record, written by the ledger itself.
pub const KIND_GENESIS: &str = "ledger.genesis";

/// The kind of a record whose payload is one rewrite of the system WARP.
pub const KIND_REWRITE: &str = "warp.rewrite";

/// Payloads are bounded by the ledger too; this bound keeps a hostile payload from making
/// the decoder reserve memory the bytes do not justify.
const PAYLOAD_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Bound for snapshot sections, which may hold far more than one record.
const SNAPSHOT_SECTION_BYTES_MAX: usize = 1024 * 1024 * 1024;

/// Encodes `value` with bincode's standard config, refusing more than `MAX` bytes; `what`
/// names it in errors.
fn encode_bounded<const MAX: usize>(
    value: &impl Serialize,
    what: &str,
) -> Result<Vec<u8>, KernelError> {
    let config = bincode::config::standard().with_limit::<MAX>();
    bincode::serde::encode_to_vec(value, config)
        .map_err(|e| KernelError::Payload(format!("cannot encode {what}: {e}")))
}

/// Decodes `bytes` strictly (trailing bytes are corruption), reserving at most `MAX`.
fn decode_bounded<T: DeserializeOwned, const MAX: usize>(
    bytes: &[u8],
    what: &str,
) -> Result<T, KernelError> {
    let config = bincode::config::standard().with_limit::<MAX>();
    let (value, used): (T, usize) = bincode::serde::decode_from_slice(bytes, config)
        .map_err(|e| KernelError::Payload(format!("cannot decode {what}: {e}")))?;
    if used != bytes.len() {
        return Err(KernelError::Payload(format!(
            "{} trailing bytes after a {what}",
            bytes.len() - used
        )));
    }
    Ok(value)
}

/// Encodes a record payload.
pub(crate) fn encode(value: &impl Serialize) -> Result<Vec<u8>, KernelError> {
    encode_bounded::<PAYLOAD_BYTES_MAX>(value, "payload")
}

/// Decodes a record payload strictly.
pub(crate) fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, KernelError> {
    decode_bounded::<T, PAYLOAD_BYTES_MAX>(payload, "payload")
}

/// Encodes a snapshot section.
pub(crate) fn encode_large(value: &impl Serialize) -> Result<Vec<u8>, KernelError> {
    encode_bounded::<SNAPSHOT_SECTION_BYTES_MAX>(value, "snapshot section")
}

/// Decodes a snapshot section strictly.
pub(crate) fn decode_large<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, KernelError> {
    decode_bounded::<T, SNAPSHOT_SECTION_BYTES_MAX>(bytes, "snapshot section")
}

/// Encodes a rewrite as a record payload.
pub fn encode_rewrite(rewrite: &Rewrite) -> Result<Vec<u8>, KernelError> {
    encode(rewrite)
}

/// Decodes a rewrite payload strictly.
pub fn decode_rewrite(payload: &[u8]) -> Result<Rewrite, KernelError> {
    decode(payload)
}

/// Decodes the payload of a record of `kind` into a type that names its own kind
/// (`kind_of`), checking the two agree.
pub(crate) fn decode_of_kind<T: DeserializeOwned>(
    kind: &str,
    bytes: &[u8],
    kind_of: impl Fn(&T) -> &'static str,
) -> Result<T, KernelError> {
    let record: T = decode(bytes)?;
    if kind_of(&record) != kind {
        return Err(KernelError::Payload(format!(
            "a {kind} record carries a {} payload",
            kind_of(&record)
        )));
    }
    Ok(record)
}

/// Every blob a record refers to: through the rewrites it carries (a system rewrite, a
/// workspace apply, a collapse, a job's proposal) and the artifacts it names.
pub(crate) fn blobs_named_by(record: &Record) -> Result<BTreeSet<BlobRef>, KernelError> {
    let mut blobs = BTreeSet::new();
    match record.kind.as_str() {
        KIND_REWRITE => blobs.extend(blobs_of(&decode_rewrite(&record.payload)?)),
        kind if SwsRecord::is_kind(kind) => {
            for rewrite in SwsRecord::decode(kind, &record.payload)?.rewrites() {
                blobs.extend(blobs_of(rewrite));
            }
        }
        kind if ProcessRecord::is_kind(kind) => {
            for rewrite in ProcessRecord::decode(kind, &record.payload)?.rewrites() {
                blobs.extend(blobs_of(rewrite));
            }
        }
        kind if JobRecord::is_kind(kind) => {
            let op = JobRecord::decode(kind, &record.payload)?;
            for rewrite in op.rewrites() {
                blobs.extend(blobs_of(rewrite));
            }
            blobs.extend(op.artifact_blobs());
        }
        _ => {}
    }
    Ok(blobs)
}
