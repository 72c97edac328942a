//! Serde for `Value`: natural JSON for human-readable formats, a plain enum otherwise.
//!
//! The ledger stores rewrites with bincode, which cannot drive `deserialize_any`, so the
//! natural form is only used where the format describes itself.

use std::{cell::Cell, collections::BTreeMap, fmt};

use serde::{
    de::{self, IgnoredAny},
    ser::SerializeMap,
    Deserialize, Deserializer, Serialize, Serializer,
};

use crate::{
    blob::{blob_from_tag, BLOB_TAG},
    limits::VALUE_DEPTH_MAX,
    BlobRef, Value,
};

/// The key of the tagged JSON form `{"$bytes": "<hex>"}`.
pub(crate) const BYTES_TAG: &str = "$bytes";

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            return serialize_natural(self, serializer);
        }
        match self {
            Value::Str(v) => serializer.serialize_newtype_variant("Value", 0, "Str", v),
            Value::Int(v) => serializer.serialize_newtype_variant("Value", 1, "Int", v),
            Value::Bool(v) => serializer.serialize_newtype_variant("Value", 2, "Bool", v),
            Value::Bytes(v) => {
                serializer.serialize_newtype_variant("Value", 3, "Bytes", &RawBytes(v))
            }
            Value::Blob(v) => serializer.serialize_newtype_variant("Value", 4, "Blob", v),
            Value::List(v) => serializer.serialize_newtype_variant("Value", 5, "List", v),
            Value::Map(v) => serializer.serialize_newtype_variant("Value", 6, "Map", v),
        }
    }
}

fn serialize_natural<S: Serializer>(value: &Value, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Value::Str(v) => serializer.serialize_str(v),
        Value::Int(v) => serializer.serialize_i64(*v),
        Value::Bool(v) => serializer.serialize_bool(*v),
        Value::Bytes(v) => {
            let mut map = serializer.serialize_map(Some(1))?;
            map.serialize_entry(BYTES_TAG, &hex::encode(v))?;
            map.end()
        }
        Value::Blob(v) => v.serialize(serializer),
        Value::List(v) => serializer.collect_seq(v),
        Value::Map(v) => serializer.collect_map(v),
    }
}

/// Serializes bytes as one byte string rather than a sequence of numbers.
struct RawBytes<'a>(&'a [u8]);

impl Serialize for RawBytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// The plain encoding, read back. Variant order must match the indices `serialize` writes.
#[derive(Deserialize)]
#[serde(rename = "Value")]
enum Plain {
    Str(String),
    Int(i64),
    Bool(bool),
    Bytes(ByteBuf),
    Blob(BlobRef),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

/// Owned bytes read from a byte string (or, from formats without one, a sequence).
struct ByteBuf(Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_byte_buf(ByteBufVisitor)
    }
}

struct ByteBufVisitor;

impl<'de> de::Visitor<'de> for ByteBufVisitor {
    type Value = ByteBuf;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
        Ok(ByteBuf(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
        Ok(ByteBuf(v))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ByteBuf, A::Error> {
        let mut out = Vec::new();
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(ByteBuf(out))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let _depth = DepthGuard::enter::<D::Error>()?;
        if deserializer.is_human_readable() {
            return deserializer.deserialize_any(NaturalVisitor);
        }
        Ok(match Plain::deserialize(deserializer)? {
            Plain::Str(v) => Value::Str(v),
            Plain::Int(v) => Value::Int(v),
            Plain::Bool(v) => Value::Bool(v),
            Plain::Bytes(v) => Value::Bytes(v.0),
            Plain::Blob(v) => Value::Blob(v),
            Plain::List(v) => Value::List(v),
            Plain::Map(v) => Value::Map(v),
        })
    }
}

thread_local! {
    /// How deep the value being deserialized on this thread is nested. Serde passes no
    /// context down, and without a bound a hostile input could exhaust the stack.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// One level of value nesting, released when dropped (also on error and unwind).
struct DepthGuard;

impl DepthGuard {
    fn enter<E: de::Error>() -> Result<DepthGuard, E> {
        DEPTH.with(|depth| {
            let next = depth.get() + 1;
            if next > VALUE_DEPTH_MAX {
                return Err(E::custom(format_args!(
                    "value nests deeper than {VALUE_DEPTH_MAX} levels"
                )));
            }
            depth.set(next);
            Ok(DepthGuard)
        })
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        DEPTH.with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

struct NaturalVisitor;

impl<'de> de::Visitor<'de> for NaturalVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            r#"a value: string, integer, boolean, array, object, {"$bytes": "<hex>"} or {"$blob": "<64 hex>"}"#,
        )
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v).map(Value::Int).map_err(|_| {
            E::custom(format_args!(
                "integer {v} is out of range: values hold signed 64-bit integers"
            ))
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Err(E::custom(format_args!(
            "floats are not allowed in values (found {v}): they are not deterministic; \
             use an integer (e.g. in thousandths) or a string"
        )))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Err(null_refused())
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Err(null_refused())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Ok(Value::Map(BTreeMap::new()));
        };
        if first == BYTES_TAG || first == BLOB_TAG {
            let hex: String = map.next_value()?;
            if map.next_key::<IgnoredAny>()?.is_some() {
                return Err(de::Error::custom(format_args!(
                    "{first:?} must be the only key of its object"
                )));
            }
            return if first == BYTES_TAG {
                hex::decode(&hex)
                    .map(Value::Bytes)
                    .map_err(|e| de::Error::custom(format_args!("invalid {BYTES_TAG}: {e}")))
            } else {
                blob_from_tag(&hex).map(Value::Blob)
            };
        }
        let mut out = BTreeMap::new();
        let mut key = first;
        loop {
            if key.starts_with('$') {
                return Err(de::Error::custom(format_args!(
                    "map key {key:?} starts with '$', which is reserved for the tagged forms \
                     {BYTES_TAG:?} and {BLOB_TAG:?}"
                )));
            }
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate map key {key:?}")));
            }
            let value = map.next_value::<Value>()?;
            out.insert(key, value);
            match map.next_key::<String>()? {
                Some(next) => key = next,
                None => return Ok(Value::Map(out)),
            }
        }
    }
}

fn null_refused<E: de::Error>() -> E {
    E::custom(
        "null is not allowed in values: leave the attribute out, or remove it with remove_attr",
    )
}
