//! Static validation: the limits and field rules a rewrite must meet before it sees a graph.

use crate::{
    error::{Field, FieldError},
    limits::{
        ATTRS_PER_NODE_MAX, ATTR_KEY_BYTES_MAX, EXPECTS_PER_REWRITE_MAX, KIND_BYTES_MAX,
        LABEL_BYTES_MAX, OPS_PER_REWRITE_MAX, STRING_BYTES_MAX, VALUE_BYTES_MAX, VALUE_DEPTH_MAX,
    },
    Expect, Op, Rewrite, RewriteError, Value,
};

impl Rewrite {
    /// Checks the rewrite against every limit and field rule, without looking at a graph.
    /// `Graph::apply` runs this first.
    pub fn validate(&self) -> Result<(), RewriteError> {
        if self.ops.len() > OPS_PER_REWRITE_MAX {
            return Err(RewriteError::TooManyOps {
                count: self.ops.len(),
                max: OPS_PER_REWRITE_MAX,
            });
        }
        if self.expect.len() > EXPECTS_PER_REWRITE_MAX {
            return Err(RewriteError::TooManyExpects {
                count: self.expect.len(),
                max: EXPECTS_PER_REWRITE_MAX,
            });
        }
        for (index, op) in self.ops.iter().enumerate() {
            check_op(op).map_err(|problem| RewriteError::InvalidOp { index, problem })?;
        }
        for (index, expect) in self.expect.iter().enumerate() {
            check_expect(expect)
                .map_err(|problem| RewriteError::InvalidExpect { index, problem })?;
        }
        Ok(())
    }
}

fn check_op(op: &Op) -> Result<(), FieldError> {
    match op {
        Op::AddNode { kind, attrs, .. } => {
            check_kind(kind)?;
            if attrs.len() > ATTRS_PER_NODE_MAX {
                return Err(FieldError::TooManyAttrs {
                    count: attrs.len(),
                    max: ATTRS_PER_NODE_MAX,
                });
            }
            for (key, value) in attrs {
                check_attr_key(key)?;
                check_value(value)?;
            }
            Ok(())
        }
        Op::RemoveNode { .. } => Ok(()),
        Op::SetAttr { key, value, .. } => {
            check_attr_key(key)?;
            check_value(value)
        }
        Op::RemoveAttr { key, .. } => check_attr_key(key),
        Op::AddEdge { label, .. } | Op::RemoveEdge { label, .. } => check_label(label),
    }
}

fn check_expect(expect: &Expect) -> Result<(), FieldError> {
    match expect {
        Expect::NodeExists { .. } | Expect::NodeAbsent { .. } | Expect::NodeVersion { .. } => {
            Ok(())
        }
        Expect::AttrEquals { key, value, .. } => {
            check_attr_key(key)?;
            check_value(value)
        }
        Expect::AttrAbsent { key, .. } => check_attr_key(key),
        Expect::EdgeExists { label, .. } | Expect::EdgeAbsent { label, .. } => check_label(label),
    }
}

/// A node kind: non-empty, at most `KIND_BYTES_MAX` bytes.
pub(crate) fn check_kind(kind: &str) -> Result<(), FieldError> {
    check_text(Field::Kind, kind, KIND_BYTES_MAX)
}

/// An edge label: non-empty, at most `LABEL_BYTES_MAX` bytes.
pub(crate) fn check_label(label: &str) -> Result<(), FieldError> {
    check_text(Field::Label, label, LABEL_BYTES_MAX)
}

/// An attribute key: non-empty, at most `ATTR_KEY_BYTES_MAX` bytes.
pub(crate) fn check_attr_key(key: &str) -> Result<(), FieldError> {
    check_text(Field::AttrKey, key, ATTR_KEY_BYTES_MAX)
}

fn check_text(field: Field, text: &str, max: usize) -> Result<(), FieldError> {
    if text.is_empty() {
        return Err(FieldError::Empty { field });
    }
    if text.len() > max {
        return Err(FieldError::TooLong {
            field,
            bytes: text.len(),
            max,
        });
    }
    Ok(())
}

/// A key of a map inside a value: at most `ATTR_KEY_BYTES_MAX` bytes, not starting with
/// `$` (empty is allowed: JSON allows it and it is unambiguous).
pub(crate) fn check_map_key(key: &str) -> Result<(), FieldError> {
    if key.len() > ATTR_KEY_BYTES_MAX {
        return Err(FieldError::TooLong {
            field: Field::MapKey,
            bytes: key.len(),
            max: ATTR_KEY_BYTES_MAX,
        });
    }
    if key.starts_with('$') {
        return Err(FieldError::ReservedMapKey {
            key: key.to_owned(),
        });
    }
    Ok(())
}

/// A value within `VALUE_DEPTH_MAX`, `STRING_BYTES_MAX` and `VALUE_BYTES_MAX`, with legal
/// map keys.
pub(crate) fn check_value(value: &Value) -> Result<(), FieldError> {
    encoded_size(value, 1).map(|_| ())
}

/// The size of `value`'s canonical encoding, checking limits on the way. Stops as soon as
/// the running size passes `VALUE_BYTES_MAX`, so the cost is bounded by the limit.
fn encoded_size(value: &Value, depth: usize) -> Result<usize, FieldError> {
    if depth > VALUE_DEPTH_MAX {
        return Err(FieldError::ValueTooDeep {
            max: VALUE_DEPTH_MAX,
        });
    }
    let size = match value {
        Value::Str(s) => {
            if s.len() > STRING_BYTES_MAX {
                return Err(FieldError::TooLong {
                    field: Field::StringValue,
                    bytes: s.len(),
                    max: STRING_BYTES_MAX,
                });
            }
            5 + s.len()
        }
        Value::Int(_) => 9,
        Value::Bool(_) => 2,
        Value::Bytes(b) => 5usize.saturating_add(b.len()),
        Value::Blob(_) => 33,
        Value::List(items) => {
            let mut size = 5usize;
            for item in items {
                size = size.saturating_add(encoded_size(item, depth + 1)?);
                check_size(size)?;
            }
            size
        }
        Value::Map(map) => {
            let mut size = 5usize;
            for (key, item) in map {
                check_map_key(key)?;
                size = size
                    .saturating_add(4 + key.len())
                    .saturating_add(encoded_size(item, depth + 1)?);
                check_size(size)?;
            }
            size
        }
    };
    check_size(size)?;
    Ok(size)
}

fn check_size(size: usize) -> Result<(), FieldError> {
    if size > VALUE_BYTES_MAX {
        return Err(FieldError::ValueTooLarge {
            max: VALUE_BYTES_MAX,
        });
    }
    Ok(())
}
