//! Record kinds the kernel writes, and the encoding of their payloads.

use jitos_ledger::Record;
use jitos_warp::Rewrite;

use crate::KernelError;

/// The kind of the genesis record, written by the ledger itself.
pub const KIND_GENESIS: &str = "ledger.genesis";

/// The kind of a record whose payload is one rewrite of the system WARP.
pub const KIND_REWRITE: &str = "warp.rewrite";

/// Payloads are bounded by the ledger too; this bound keeps a hostile payload from making
/// the decoder reserve memory the bytes do not justify.
const PAYLOAD_BYTES_MAX: usize = 16 * 1024 * 1024;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<PAYLOAD_BYTES_MAX>()
}

/// Encodes a rewrite as a record payload.
pub fn encode_rewrite(rewrite: &Rewrite) -> Result<Vec<u8>, KernelError> {
    bincode::serde::encode_to_vec(rewrite, config())
        .map_err(|e| KernelError::Payload(format!("cannot encode rewrite: {e}")))
}

/// Decodes a rewrite payload strictly: trailing bytes are corruption.
pub fn decode_rewrite(payload: &[u8]) -> Result<Rewrite, KernelError> {
    let (rewrite, used): (Rewrite, usize) = bincode::serde::decode_from_slice(payload, config())
        .map_err(|e| KernelError::Payload(format!("cannot decode rewrite: {e}")))?;
    if used != payload.len() {
        return Err(KernelError::Payload(format!(
            "{} trailing bytes after a rewrite payload",
            payload.len() - used
        )));
    }
    Ok(rewrite)
}

/// The rewrites a record carries: one for a rewrite record, none for other kinds.
pub(crate) fn rewrites_of(record: &Record) -> Result<Vec<Rewrite>, KernelError> {
    match record.kind.as_str() {
        KIND_REWRITE => Ok(vec![decode_rewrite(&record.payload)?]),
        _ => Ok(Vec::new()),
    }
}
