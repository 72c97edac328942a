//! `blob_ref`: the name of a file's content.

use jitos_warp::BlobRef;

/// The blob name of `bytes`: plain BLAKE3, as the ledger's blob store names what it
/// stores, so a tree hashed here refers to the blobs the daemon holds.
pub fn blob_ref(bytes: &[u8]) -> BlobRef {
    BlobRef(*blake3::hash(bytes).as_bytes())
}
