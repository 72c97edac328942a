//! `NodeId`: the validated, cheaply cloned name of a node.

use std::{borrow::Borrow, fmt, str::FromStr, sync::Arc};

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::limits::NODE_ID_BYTES_MAX;

/// The name of a node: 1..=`NODE_ID_BYTES_MAX` bytes of UTF-8, no ASCII control characters,
/// no whitespace at either end. Serializes as a plain string.
///
/// Clones share one allocation, because ids are copied into edges, undo logs and touched
/// sets on every change.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(Arc<str>);

/// Why a string is not a valid node id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id is the empty string.
    #[error("node id is empty")]
    Empty,
    /// The id is longer than `NODE_ID_BYTES_MAX`.
    #[error("node id is {bytes} bytes long; at most {max} are allowed")]
    TooLong {
        /// Its length in bytes.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The id contains an ASCII control character.
    #[error("node id contains the control character {code:#04x} at byte {position}")]
    ControlChar {
        /// Byte offset of the character.
        position: usize,
        /// The character's code.
        code: u8,
    },
    /// The id starts or ends with whitespace, which would be invisible when printed.
    #[error("node id starts or ends with whitespace")]
    Whitespace,
}

impl NodeId {
    /// Validates `s` and makes it a node id.
    pub fn new(s: impl AsRef<str>) -> Result<NodeId, IdError> {
        let s = s.as_ref();
        check(s)?;
        Ok(NodeId(Arc::from(s)))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An id that sorts before every valid one; only for range probes, never stored.
    pub(crate) fn sentinel_min() -> NodeId {
        NodeId(Arc::from(""))
    }

    /// An id from a string the caller already checked, or a probe that is never stored.
    pub(crate) fn unchecked(s: &str) -> NodeId {
        NodeId(Arc::from(s))
    }
}

/// Checks the rules of `NodeId::new` without allocating.
pub(crate) fn check(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > NODE_ID_BYTES_MAX {
        return Err(IdError::TooLong {
            bytes: s.len(),
            max: NODE_ID_BYTES_MAX,
        });
    }
    // UTF-8 never uses bytes below 0x80 inside multi-byte sequences, so a byte scan finds
    // exactly the ASCII control characters.
    if let Some((position, &code)) = s
        .as_bytes()
        .iter()
        .enumerate()
        .find(|(_, &b)| b < 0x20 || b == 0x7f)
    {
        return Err(IdError::ControlChar { position, code });
    }
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err(IdError::Whitespace);
    }
    Ok(())
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({:?})", &*self.0)
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for NodeId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl FromStr for NodeId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NodeId::new(s)
    }
}

impl TryFrom<&str> for NodeId {
    type Error = IdError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        NodeId::new(s)
    }
}

impl TryFrom<String> for NodeId {
    type Error = IdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        NodeId::new(s)
    }
}

impl PartialEq<str> for NodeId {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for NodeId {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(IdVisitor)
    }
}

struct IdVisitor;

impl de::Visitor<'_> for IdVisitor {
    type Value = NodeId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a node id (a non-empty string)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<NodeId, E> {
        NodeId::new(v).map_err(|e| match e {
            // Echoing an over-long id would flood the message.
            IdError::TooLong { .. } => E::custom(e),
            _ => E::custom(format_args!("invalid node id {v:?}: {e}")),
        })
    }
}
