//! Deserialization of attribute maps that refuses duplicate keys instead of keeping the last.

use std::{collections::BTreeMap, fmt};

use serde::{de, Deserializer};

use crate::Value;

/// Reads an attribute map; a repeated key is an error, since silently keeping one of two
/// values would hide a mistake in the input.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Value>, D::Error> {
    deserializer.deserialize_map(AttrsVisitor)
}

struct AttrsVisitor;

impl<'de> de::Visitor<'de> for AttrsVisitor {
    type Value = BTreeMap<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of attribute keys to values")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate attribute key {key:?}"
                )));
            }
            let value = map.next_value::<Value>()?;
            out.insert(key, value);
        }
        Ok(out)
    }
}
