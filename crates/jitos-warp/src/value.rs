//! `Value`: what an attribute holds. Deliberately without floats or null, so that every
//! value has exactly one canonical encoding.

use std::{collections::BTreeMap, fmt};

use crate::BlobRef;

/// An attribute value. Its JSON form is natural (string, integer, bool, array, object) plus
/// the tagged objects `{"$bytes": "<hex>"}` and `{"$blob": "<64 hex>"}`; see
/// `docs/REWRITE_JSON.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// UTF-8 text.
    Str(String),
    /// A signed 64-bit integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// Raw bytes (JSON: `{"$bytes": "<hex>"}`).
    Bytes(Vec<u8>),
    /// A reference to a blob by content hash (JSON: `{"$blob": "<64 hex>"}`).
    Blob(BlobRef),
    /// An ordered list.
    List(Vec<Value>),
    /// A map with keys in byte order. Keys starting with `$` are reserved for the tagged
    /// JSON forms and refused by validation.
    Map(BTreeMap<String, Value>),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<BlobRef> for Value {
    fn from(v: BlobRef) -> Self {
        Value::Blob(v)
    }
}

impl fmt::Display for Value {
    /// The natural JSON form, as a rewrite would spell it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}
