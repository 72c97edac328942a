//! `BlobRef`: the content hash naming a blob stored outside the graph.

use std::{fmt, str::FromStr};

use serde::{de, ser::SerializeMap, Deserialize, Deserializer, Serialize, Serializer};

use crate::hex32::{parse_hex32, Hex32Error};

/// The key of the tagged JSON form `{"$blob": "<64 hex>"}`.
pub(crate) const BLOB_TAG: &str = "$blob";

/// The content hash of a blob. JSON form: `{"$blob": "<64 lowercase hex>"}`; in
/// non-human-readable formats, the 32 raw bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobRef(pub [u8; 32]);

impl fmt::Display for BlobRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for BlobRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobRef({self})")
    }
}

impl FromStr for BlobRef {
    type Err = Hex32Error;

    /// Parses the 64 hex digits (without the `$blob` wrapper).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex32(s).map(BlobRef)
    }
}

impl Serialize for BlobRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            let mut map = serializer.serialize_map(Some(1))?;
            map.serialize_entry(BLOB_TAG, &self.to_string())?;
            map.end()
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for BlobRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_map(BlobVisitor)
        } else {
            <[u8; 32]>::deserialize(deserializer).map(BlobRef)
        }
    }
}

/// Parses the hex of a `$blob` tag into a serde error a person can act on.
pub(crate) fn blob_from_tag<E: de::Error>(hex: &str) -> Result<BlobRef, E> {
    hex.parse()
        .map_err(|e| E::custom(format_args!("invalid {BLOB_TAG}: {e}")))
}

struct BlobVisitor;

impl<'de> de::Visitor<'de> for BlobVisitor {
    type Value = BlobRef;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a blob reference {"$blob": "<64 hex digits>"}"#)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<BlobRef, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(
                r#"expected {"$blob": "<64 hex digits>"}, found {}"#,
            ));
        };
        if key != BLOB_TAG {
            return Err(de::Error::custom(format_args!(
                "expected the key {BLOB_TAG:?}, found {key:?}"
            )));
        }
        let hex: String = map.next_value()?;
        if map.next_key::<String>()?.is_some() {
            return Err(de::Error::custom(format_args!(
                "{BLOB_TAG:?} must be the only key of its object"
            )));
        }
        blob_from_tag(&hex)
    }
}
