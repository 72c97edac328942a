//! Record kinds the kernel writes besides its record families' own (`sws_record.rs`,
//! `job_record.rs`, `process_record.rs`), the rewrite payload, and the blobs a record names.

use std::collections::BTreeSet;

use jitos_ledger::Record;
use jitos_warp::{BlobRef, Rewrite};

use crate::{
    durable::{self, v1, Frozen},
    files::blobs_of,
    job_record::JobRecord,
    process_record::ProcessRecord,
    sws_record::SwsRecord,
    KernelError,
};

/// The kind of the genesis record, written by the ledger itself.
pub const KIND_GENESIS: &str = "ledger.genesis";

/// The kind of a record whose payload is one rewrite of the system WARP.
pub const KIND_REWRITE: &str = "warp.rewrite";

/// Encodes a rewrite as a `warp.rewrite` payload (version 1).
pub fn encode_rewrite(rewrite: &Rewrite) -> Result<Vec<u8>, KernelError> {
    Ok(durable::encode(&v1::warp::Rewrite::freeze(rewrite))?)
}

/// Decodes a `warp.rewrite` payload strictly.
pub fn decode_rewrite(payload: &[u8]) -> Result<Rewrite, KernelError> {
    Ok(durable::decode::<v1::warp::Rewrite>(payload)?.thaw()?)
}

/// Every blob a record refers to: through the rewrites it carries (a system rewrite, a
/// workspace apply, a collapse, a job's proposal), the artifacts it names and the bodies
/// of a fetch.
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
        crate::KIND_JOB_FETCH => {
            blobs.extend(crate::FetchRecord::decode(&record.payload)?.blobs());
        }
        _ => {}
    }
    Ok(blobs)
}
