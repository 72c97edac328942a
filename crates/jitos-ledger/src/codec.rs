//! The one place that calls bincode for durable bytes: stored records, record payloads,
//! snapshot sections and bundles.
//!
//! Every encoding is bincode 2's standard configuration (varint integers) through serde,
//! as `docs/LEDGER_FORMAT.md` specifies. Keeping the codec behind this module means a
//! change of encoding library (bincode 2.0.x is marked unmaintained upstream) touches one
//! file, and every decoder gets the same guards: a byte limit checked before anything is
//! allocated, a nesting limit (`depth.rs`) so no input can overflow the stack, and no
//! trailing bytes.

use bincode::{
    de::read::Reader,
    error::{DecodeError, EncodeError},
    serde::OwnedSerdeDecoder,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::depth::Limited;

/// Deepest nesting any decoder accepts, counted in sequences, maps, enums, options and
/// newtypes. The deepest valid payload (a plan nested `jitos_tasks::DEPTH_MAX` levels,
/// about five per level, or a value nested `VALUE_DEPTH_MAX` levels, two per level, inside
/// a record) stays under 100; nesting to this limit uses well under 1 MiB of stack.
pub const DECODE_DEPTH_MAX: usize = 256;

/// Why bytes could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The value does not encode within the limit (or at all).
    #[error("cannot encode {what}: {message}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's message.
        message: String,
    },
    /// The bytes do not decode: cut short, over the limit, nested too deep, an unknown
    /// tag, invalid UTF-8.
    #[error("cannot decode {what}: {message}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's message.
        message: String,
    },
    /// The bytes decode but more follow.
    #[error("{extra} trailing bytes after {what}")]
    Trailing {
        /// What was decoded.
        what: &'static str,
        /// Bytes left over.
        extra: usize,
    },
}

/// Encodes `value`, refusing more than `MAX` bytes; `what` names it in errors.
pub fn encode<const MAX: usize>(
    value: &impl Serialize,
    what: &'static str,
) -> Result<Vec<u8>, CodecError> {
    let mut buffer = Vec::new();
    encode_into::<MAX>(value, &mut buffer, what)?;
    Ok(buffer)
}

/// Encodes `value` into `buffer`, replacing its contents (so one buffer serves a batch).
pub fn encode_into<const MAX: usize>(
    value: &impl Serialize,
    buffer: &mut Vec<u8>,
    what: &'static str,
) -> Result<(), CodecError> {
    buffer.clear();
    let config = bincode::config::standard().with_limit::<MAX>();
    bincode::serde::encode_into_std_write(value, buffer, config).map_err(
        |error: EncodeError| CodecError::Encode {
            what,
            message: error.to_string(),
        },
    )?;
    // bincode bounds only decoding by its limit; the bound on writing is checked here.
    if buffer.len() > MAX {
        return Err(CodecError::Encode {
            what,
            message: format!("it is {} bytes, over the {MAX} allowed", buffer.len()),
        });
    }
    Ok(())
}

/// Decodes all of `bytes` as a `T`: at most `MAX` bytes are claimed for anything it holds
/// (checked before allocating), nothing nests deeper than [`DECODE_DEPTH_MAX`], and no byte
/// may follow.
pub fn decode<T: DeserializeOwned, const MAX: usize>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, CodecError> {
    decode_nested::<T, MAX>(bytes, DECODE_DEPTH_MAX, what)
}

/// [`decode`] with another nesting limit, for tests of the limit itself.
fn decode_nested<T: DeserializeOwned, const MAX: usize>(
    bytes: &[u8],
    depth_max: usize,
    what: &'static str,
) -> Result<T, CodecError> {
    let config = bincode::config::standard().with_limit::<MAX>();
    let mut input = Input { rest: bytes };
    let value = {
        let mut decoder = OwnedSerdeDecoder::from_reader(&mut input, config);
        T::deserialize(Limited::new(decoder.as_deserializer(), depth_max)).map_err(
            |error: DecodeError| CodecError::Decode {
                what,
                message: describe(error, MAX),
            },
        )?
    };
    match input.rest.len() {
        0 => Ok(value),
        extra => Err(CodecError::Trailing { what, extra }),
    }
}

/// A decoding error in words (bincode's own `Display` is its `Debug`).
fn describe(error: DecodeError, max: usize) -> String {
    match error {
        DecodeError::OtherString(message) => message,
        DecodeError::Other(message) => message.to_owned(),
        DecodeError::LimitExceeded => {
            format!("it claims more than the {max} bytes it may hold")
        }
        DecodeError::UnexpectedEnd { .. } => "it ends inside a value".to_owned(),
        DecodeError::Utf8 { inner } => format!("a string is not UTF-8: {inner}"),
        DecodeError::InvalidBooleanValue(found) => {
            format!("a boolean is {found}, neither 0 nor 1")
        }
        DecodeError::UnexpectedVariant {
            type_name, found, ..
        } => format!("{type_name} has no variant {found}"),
        DecodeError::OutsideUsizeRange(found) => {
            format!("{found} does not fit this machine's usize")
        }
        other => format!("{other:?}"),
    }
}

/// A slice read front to back, whose unread rest shows whether bytes trail the value.
struct Input<'a> {
    rest: &'a [u8],
}

impl Reader for Input<'_> {
    fn read(&mut self, bytes: &mut [u8]) -> Result<(), DecodeError> {
        let (head, rest) =
            self.rest
                .split_at_checked(bytes.len())
                .ok_or_else(|| DecodeError::UnexpectedEnd {
                    additional: bytes.len().saturating_sub(self.rest.len()),
                })?;
        bytes.copy_from_slice(head);
        self.rest = rest;
        Ok(())
    }

    fn peek_read(&mut self, n: usize) -> Option<&[u8]> {
        self.rest.get(..n)
    }

    fn consume(&mut self, n: usize) {
        self.rest = self.rest.get(n..).unwrap_or_default();
    }
}

/// Bytes carried as one byte string: a varint length, then the bytes, exactly as bincode
/// writes a `Vec<u8>`, but read in one piece instead of one element at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteString(pub Vec<u8>);

impl Serialize for ByteString {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for ByteString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_byte_buf(ByteStringVisitor)
    }
}

struct ByteStringVisitor;

impl<'de> serde::de::Visitor<'de> for ByteStringVisitor {
    type Value = ByteString;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ByteString, E> {
        Ok(ByteString(v.to_vec()))
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<ByteString, E> {
        Ok(ByteString(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 1 << 20;

    /// A type as recursive as a plan: each level an enum, a struct and a sequence.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Tree {
        Leaf(u8),
        Node { children: Vec<Tree> },
    }

    fn nested(levels: usize) -> Tree {
        let mut tree = Tree::Leaf(7);
        for _ in 0..levels {
            tree = Tree::Node {
                children: vec![tree],
            };
        }
        tree
    }

    /// Bytes of a `Tree` nested `levels` deep, written by hand (variant 1, one child, ...,
    /// variant 0, 7) so no encoder recursion is needed to make hostile input.
    fn nested_bytes(levels: usize) -> Vec<u8> {
        let mut bytes = [1u8, 1].repeat(levels);
        bytes.extend_from_slice(&[0, 7]);
        bytes
    }

    #[test]
    fn values_round_trip_and_match_plain_bincode() {
        // Goal: the codec's bytes are bincode's standard encoding, unchanged by the guards.
        let tree = nested(5);
        let bytes = encode::<LIMIT>(&tree, "tree").unwrap();
        let plain = bincode::serde::encode_to_vec(&tree, bincode::config::standard()).unwrap();
        assert_eq!(bytes, plain);
        assert_eq!(bytes, nested_bytes(5));
        assert_eq!(decode::<Tree, LIMIT>(&bytes, "tree").unwrap(), tree);
    }

    #[test]
    fn nesting_beyond_the_limit_is_an_error_not_a_stack_overflow() {
        // Goal: hostile nesting far past the limit fails cleanly on a small stack. Method:
        // a million levels of hand-written bytes, decoded on a thread with 256 KiB of stack.
        let bytes = nested_bytes(1_000_000);
        let outcome = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || decode::<Tree, { 16 << 20 }>(&bytes, "tree"))
            .unwrap()
            .join()
            .unwrap();
        let error = outcome.unwrap_err();
        assert!(
            error.to_string().contains("nests deeper than 256 levels"),
            "{error}"
        );
    }

    #[test]
    fn nesting_up_to_the_limit_fits_a_small_stack() {
        // Goal: the limit is safe: input nested right up to it decodes on a thread with
        // 512 KiB of stack (jitosd's threads have 2 MiB), and one level more is refused.
        // Each `Tree` level spends three: the enum, its struct variant and the sequence.
        let levels = DECODE_DEPTH_MAX / 3;
        let fits = nested_bytes(levels);
        let over = nested_bytes(levels + 1);
        let (fits, over) = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || {
                (
                    decode::<Tree, LIMIT>(&fits, "tree"),
                    decode::<Tree, LIMIT>(&over, "tree"),
                )
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(fits.unwrap(), nested(levels));
        assert!(matches!(over, Err(CodecError::Decode { .. })), "{over:?}");
    }

    #[test]
    fn the_limit_counts_levels_exactly() {
        // Goal: a limit of n accepts exactly n levels, so the documented budget is the real
        // one. Two nodes spend three levels each, the leaf's enum one more: seven.
        let bytes = nested_bytes(2);
        assert!(decode_nested::<Tree, LIMIT>(&bytes, 7, "tree").is_ok());
        assert!(decode_nested::<Tree, LIMIT>(&bytes, 6, "tree").is_err());
    }

    #[test]
    fn huge_claimed_lengths_are_refused_before_allocating() {
        // Goal: a length prefix claiming far more than the limit fails at once. Method: a
        // byte string claiming 2^40 bytes (varint tag 0xfd, then a u64).
        let mut bytes = vec![0xfd];
        bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
        let error = decode::<ByteString, LIMIT>(&bytes, "bytes").unwrap_err();
        assert!(matches!(error, CodecError::Decode { .. }), "{error:?}");
        let error = decode::<Vec<String>, LIMIT>(&bytes, "strings").unwrap_err();
        assert!(matches!(error, CodecError::Decode { .. }), "{error:?}");
    }

    #[test]
    fn trailing_bytes_and_short_input_are_refused() {
        let mut bytes = encode::<LIMIT>(&7u32, "n").unwrap();
        bytes.push(0);
        assert_eq!(
            decode::<u32, LIMIT>(&bytes, "n"),
            Err(CodecError::Trailing {
                what: "n",
                extra: 1
            })
        );
        assert!(decode::<u64, LIMIT>(&[0xfd, 1], "n").is_err());
    }

    #[test]
    fn byte_strings_are_encoded_as_byte_vectors_are() {
        // Goal: `ByteString` is a drop-in for a `Vec<u8>` field of a type already on disk.
        let bytes = vec![0u8, 1, 2, 255];
        let as_vec = encode::<LIMIT>(&bytes, "vec").unwrap();
        assert_eq!(
            encode::<LIMIT>(&ByteString(bytes.clone()), "bytes").unwrap(),
            as_vec
        );
        assert_eq!(
            decode::<ByteString, LIMIT>(&as_vec, "bytes").unwrap(),
            ByteString(bytes)
        );
    }
}
