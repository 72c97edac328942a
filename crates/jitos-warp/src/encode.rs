//! The canonical byte encoding of values, and the primitives the digest and snapshots share.
//!
//! Lengths and counts are `u32` little-endian; every value within the crate's limits fits.

use crate::Value;

pub(crate) const TAG_STR: u8 = 0x01;
pub(crate) const TAG_INT: u8 = 0x02;
pub(crate) const TAG_BOOL: u8 = 0x03;
pub(crate) const TAG_BYTES: u8 = 0x04;
pub(crate) const TAG_BLOB: u8 = 0x05;
pub(crate) const TAG_LIST: u8 = 0x06;
pub(crate) const TAG_MAP: u8 = 0x07;

/// Appends the canonical encoding of `v` to `out`: a tag byte, then
/// - `Str`, `Bytes`: `u32` LE length, then the bytes;
/// - `Int`: 8 bytes, two's complement LE; `Bool`: one byte, 0 or 1;
/// - `Blob`: the 32 hash bytes;
/// - `List`: `u32` LE count, then each item;
/// - `Map`: `u32` LE count, then per entry in key byte order: `u32` LE key length, key
///   bytes, the value.
///
/// Equal values encode to equal bytes and different values (within `VALUE_BYTES_MAX`) to
/// different bytes: the state digest and snapshots rely on both.
pub fn encode_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Str(s) => {
            out.push(TAG_STR);
            put_bytes(out, s.as_bytes());
        }
        Value::Int(i) => {
            out.push(TAG_INT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Bool(b) => {
            out.push(TAG_BOOL);
            out.push(u8::from(*b));
        }
        Value::Bytes(b) => {
            out.push(TAG_BYTES);
            put_bytes(out, b);
        }
        Value::Blob(r) => {
            out.push(TAG_BLOB);
            out.extend_from_slice(&r.0);
        }
        Value::List(items) => {
            out.push(TAG_LIST);
            put_len(out, items.len());
            for item in items {
                encode_value(item, out);
            }
        }
        Value::Map(map) => {
            out.push(TAG_MAP);
            put_len(out, map.len());
            for (key, value) in map {
                put_bytes(out, key.as_bytes());
                encode_value(value, out);
            }
        }
    }
}

/// Appends a `u32` LE length. Limits keep every length far below `u32::MAX`; saturating
/// keeps this total for values built outside them.
pub(crate) fn put_len(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
}

/// Appends a length-prefixed byte string.
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}
