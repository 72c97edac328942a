//! `SnapshotDecodeError`: why bytes are not a valid snapshot, with the offset to look at.

use crate::{FieldError, IdError, NodeId};

/// Why bytes are not a valid snapshot. Offsets count from the snapshot's first byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotDecodeError {
    /// The bytes do not start with the snapshot magic.
    #[error("not a WARP snapshot: it does not start with the bytes \"JWSN\"")]
    BadMagic,
    /// A format this build does not read.
    #[error("snapshot format {found} is not supported; this build reads format {supported}")]
    UnsupportedFormat {
        /// The format byte found.
        found: u8,
        /// The format this build reads.
        supported: u8,
    },
    /// The input ends inside an item.
    #[error("snapshot truncated at byte {offset}: {needed} more bytes are needed")]
    Truncated {
        /// Where the missing bytes would start.
        offset: usize,
        /// Bytes needed from there.
        needed: usize,
    },
    /// A count promises more items than the rest of the input could hold.
    #[error(
        "snapshot byte {offset}: a count of {count} items cannot fit in the {remaining} bytes left"
    )]
    CountTooLarge {
        /// Where the count is.
        offset: usize,
        /// The count.
        count: u64,
        /// Bytes left after it.
        remaining: usize,
    },
    /// A string is not UTF-8.
    #[error("snapshot byte {offset}: string is not valid UTF-8")]
    InvalidUtf8 {
        /// Where the string starts.
        offset: usize,
    },
    /// A node id breaks the id rules.
    #[error("snapshot byte {offset}: {problem}")]
    InvalidNodeId {
        /// Where the id starts.
        offset: usize,
        /// The rule it breaks.
        problem: IdError,
    },
    /// A kind, key, label or value breaks a rule.
    #[error("snapshot byte {offset}: {problem}")]
    InvalidField {
        /// Where the field starts.
        offset: usize,
        /// The rule it breaks.
        problem: FieldError,
    },
    /// A node has version 0; versions start at 1.
    #[error("snapshot byte {offset}: node {id} has version 0; versions start at 1")]
    ZeroVersion {
        /// Where the version is.
        offset: usize,
        /// The node.
        id: NodeId,
    },
    /// Node ids are not strictly increasing (a duplicate or a misordering).
    #[error("snapshot byte {offset}: node id is not greater than the previous one (duplicate or out of order)")]
    NodesOutOfOrder {
        /// Where the id starts.
        offset: usize,
    },
    /// Attribute or map keys are not strictly increasing.
    #[error("snapshot byte {offset}: key is not greater than the previous one (duplicate or out of order)")]
    KeysOutOfOrder {
        /// Where the key starts.
        offset: usize,
    },
    /// Edges are not strictly increasing in `(from, label, to)` order.
    #[error("snapshot byte {offset}: edge is not greater than the previous one (duplicate or out of order)")]
    EdgesOutOfOrder {
        /// Where the edge starts.
        offset: usize,
    },
    /// An edge names a node the snapshot does not have.
    #[error("snapshot byte {offset}: edge refers to node #{index}, but the snapshot has {node_count} nodes")]
    EdgeEndpointMissing {
        /// Where the index is.
        offset: usize,
        /// The index.
        index: u64,
        /// Nodes in the snapshot.
        node_count: usize,
    },
    /// A value starts with an unknown tag.
    #[error("snapshot byte {offset}: unknown value tag {tag:#04x}")]
    BadValueTag {
        /// Where the tag is.
        offset: usize,
        /// The tag.
        tag: u8,
    },
    /// A boolean byte other than 0 or 1.
    #[error("snapshot byte {offset}: boolean byte {byte:#04x} is neither 0 nor 1")]
    BadBool {
        /// Where the byte is.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// Bytes follow the last edge.
    #[error("snapshot has {count} unexpected bytes after its end at byte {offset}")]
    TrailingBytes {
        /// Where the snapshot should have ended.
        offset: usize,
        /// How many bytes follow.
        count: usize,
    },
}
