//! Records, who caused them, the canonical encoding their hash binds, and their stored form.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};
use crate::error::AppendError;
use crate::genesis::RESERVED_KIND_PREFIX;
use crate::hash::Hash;
use crate::limits::{ACTOR_NAME_BYTES_MAX, KIND_BYTES_MAX, PAYLOAD_BYTES_MAX, RECORD_BYTES_MAX};

/// Who caused a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Actor {
    /// The daemon itself.
    System,
    /// A local peer on the control socket, identified by its credentials.
    Peer {
        /// The peer's user id.
        uid: u32,
        /// The peer's process id.
        pid: u32,
    },
    /// A named principal: a worker, a policy, a person.
    Named(String),
}

/// One durable, hash-chained entry of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the chain; genesis is 0 and every record follows its parent by one.
    pub seq: u64,
    /// Hash of the record at `seq - 1`, or `Hash::ZERO` for genesis.
    pub parent: Hash,
    /// A short tag saying what the payload is; the ledger does not interpret it.
    pub kind: String,
    /// Who caused the record.
    pub actor: Actor,
    /// When it was appended, from the ledger's clock, in ms since the Unix epoch.
    pub time_ms: u64,
    /// Opaque bytes.
    #[serde(with = "byte_string")]
    pub payload: Vec<u8>,
    /// Hash binding all the fields above; see `Record::compute_hash`.
    pub hash: Hash,
}

/// A record the caller wants appended; the ledger assigns seq, parent, time and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    /// A short tag saying what the payload is (at most `KIND_BYTES_MAX` printable ASCII bytes).
    pub kind: String,
    /// Who caused it.
    pub actor: Actor,
    /// Opaque bytes (at most `PAYLOAD_BYTES_MAX`).
    pub payload: Vec<u8>,
}

/// The newest record of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Head {
    /// Its sequence number.
    pub seq: u64,
    /// Its hash.
    pub hash: Hash,
}

/// Domain separation for record hashes, so no other hash in the system can collide with one.
const RECORD_HASH_CONTEXT: &str = "jitos.ledger.record.v1";

/// A hasher already keyed by `RECORD_HASH_CONTEXT`: deriving the key costs one BLAKE3
/// compression, a quarter of the work of hashing a small record, so it is done once.
static RECORD_HASHER: LazyLock<blake3::Hasher> =
    LazyLock::new(|| blake3::Hasher::new_derive_key(RECORD_HASH_CONTEXT));

impl Record {
    /// Recomputes the hash over seq, parent, kind, actor, time and payload
    /// (BLAKE3 derive-key mode, context `jitos.ledger.record.v1`, length-prefixed fields).
    pub fn compute_hash(&self) -> Hash {
        let mut hasher = RECORD_HASHER.clone();
        hasher.update(&self.seq.to_le_bytes());
        hasher.update(&self.parent.0);
        update_prefixed(&mut hasher, self.kind.as_bytes());
        match &self.actor {
            Actor::System => {
                hasher.update(&[0]);
            }
            Actor::Peer { uid, pid } => {
                hasher.update(&[1]);
                hasher.update(&uid.to_le_bytes());
                hasher.update(&pid.to_le_bytes());
            }
            Actor::Named(name) => {
                hasher.update(&[2]);
                update_prefixed(&mut hasher, name.as_bytes());
            }
        }
        hasher.update(&self.time_ms.to_le_bytes());
        update_prefixed(&mut hasher, &self.payload);
        hasher.finalize().into()
    }

    /// Builds the record at `seq` after `parent` and computes its hash.
    pub(crate) fn seal(seq: u64, parent: Hash, new: NewRecord, time_ms: u64) -> Record {
        let mut record = Record {
            seq,
            parent,
            kind: new.kind,
            actor: new.actor,
            time_ms,
            payload: new.payload,
            hash: Hash::ZERO,
        };
        record.hash = record.compute_hash();
        record
    }

    /// The stored form: bincode 2, standard configuration, of the whole record.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode::<RECORD_BYTES_MAX>(self, "a record")
    }

    /// Encodes the stored form into `buffer`, replacing its contents; reusing one buffer
    /// across a batch saves an allocation and its regrowth per record.
    pub(crate) fn encode_into(&self, buffer: &mut Vec<u8>) -> Result<(), CodecError> {
        codec::encode_into::<RECORD_BYTES_MAX>(self, buffer, "a record")
    }

    /// Decodes a stored record expected at `seq` and checks it is intact: it decodes within
    /// `RECORD_BYTES_MAX` with no trailing bytes, carries `seq`, and its hash recomputes.
    /// The error is the reason it is corrupt.
    pub(crate) fn decode_checked(seq: u64, bytes: &[u8]) -> Result<Record, String> {
        let record: Record = codec::decode::<Record, RECORD_BYTES_MAX>(bytes, "the record")
            .map_err(|error| error.to_string())?;
        if record.seq != seq {
            return Err(format!(
                "stored under seq {seq} but says seq {}",
                record.seq
            ));
        }
        let computed = record.compute_hash();
        if computed != record.hash {
            return Err(format!(
                "hash does not recompute: stored {}, computed {computed}",
                record.hash
            ));
        }
        Ok(record)
    }
}

/// Serde for the payload as one byte string. Bincode encodes it exactly as it would a
/// sequence of u8 (a length, then the bytes), but copies it in one go instead of byte by
/// byte, which matters for large payloads.
mod byte_string {
    use std::fmt;

    pub(super) fn serialize<S: serde::Serializer>(
        bytes: &[u8],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        deserializer.deserialize_byte_buf(ByteStringVisitor)
    }

    struct ByteStringVisitor;

    impl serde::de::Visitor<'_> for ByteStringVisitor {
        type Value = Vec<u8>;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("a byte string")
        }

        fn visit_byte_buf<E>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(bytes)
        }

        fn visit_bytes<E>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
            Ok(bytes.to_vec())
        }
    }
}

fn update_prefixed(hasher: &mut blake3::Hasher, bytes: &[u8]) {
    // usize always fits u64 on the targets this crate builds for.
    let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    hasher.update(&len.to_le_bytes());
    hasher.update(bytes);
}

impl NewRecord {
    /// Checks the caller-supplied fields against the limits; `index` is the record's
    /// position in its batch, for the error message.
    pub(crate) fn check(&self, index: usize) -> Result<(), AppendError> {
        let kind = &self.kind;
        let kind_problem = if kind.is_empty() {
            Some("is empty")
        } else if kind.len() > KIND_BYTES_MAX {
            Some("is longer than KIND_BYTES_MAX")
        } else if !kind.bytes().all(|byte| byte.is_ascii_graphic()) {
            Some("must be printable ASCII without spaces")
        } else if kind.starts_with(RESERVED_KIND_PREFIX) {
            Some("uses the prefix reserved for the ledger's own records")
        } else {
            None
        };
        if let Some(reason) = kind_problem {
            return Err(AppendError::KindInvalid {
                index,
                kind: kind.chars().take(KIND_BYTES_MAX).collect(),
                reason,
            });
        }
        if let Actor::Named(name) = &self.actor {
            if name.len() > ACTOR_NAME_BYTES_MAX {
                return Err(AppendError::ActorNameTooLong {
                    index,
                    bytes: name.len(),
                    max: ACTOR_NAME_BYTES_MAX,
                });
            }
        }
        if self.payload.len() > PAYLOAD_BYTES_MAX {
            return Err(AppendError::PayloadTooLarge {
                index,
                bytes: self.payload.len(),
                max: PAYLOAD_BYTES_MAX,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record::seal(
            7,
            Hash([3; 32]),
            NewRecord {
                kind: "test.kind".into(),
                actor: Actor::Peer { uid: 1000, pid: 42 },
                payload: b"payload".to_vec(),
            },
            1_700_000_000_000,
        )
    }

    #[test]
    fn encode_decode_round_trip() {
        // A sealed record must decode back identical and pass its own checks.
        let record = sample();
        let bytes = record.encode().unwrap();
        assert_eq!(Record::decode_checked(7, &bytes).unwrap(), record);
    }

    #[test]
    fn stored_encoding_ends_with_payload_then_hash() {
        // The stored form is bincode's encoding of a u8 sequence for the payload (a varint
        // length, then the bytes) followed by the 32 raw hash bytes: pinned for format v1.
        let record = sample();
        let bytes = record.encode().unwrap();
        let mut tail = vec![u8::try_from(record.payload.len()).unwrap()];
        tail.extend_from_slice(&record.payload);
        tail.extend_from_slice(&record.hash.0);
        assert!(bytes.ends_with(&tail));
        let as_sequence: Vec<u8> =
            bincode::serde::encode_to_vec(record.payload.clone(), bincode::config::standard())
                .unwrap();
        assert_eq!(as_sequence[..], tail[..tail.len() - 32]);
    }

    #[test]
    fn every_field_is_bound_by_the_hash() {
        // Changing any one field must change the hash.
        let base = sample();
        let mut variants = vec![base.clone(); 6];
        variants[0].seq += 1;
        variants[1].parent = Hash::ZERO;
        variants[2].kind.push('x');
        variants[3].actor = Actor::Peer { uid: 1000, pid: 43 };
        variants[4].time_ms += 1;
        variants[5].payload.push(0);
        for variant in variants {
            assert_ne!(variant.compute_hash(), base.hash, "{variant:?}");
        }
    }

    #[test]
    fn length_prefixes_separate_adjacent_fields() {
        // Moving bytes between kind and actor name must not keep the same hash.
        let mut left = sample();
        left.kind = "ab".into();
        left.actor = Actor::Named("c".into());
        let mut right = sample();
        right.kind = "a".into();
        right.actor = Actor::Named("bc".into());
        assert_ne!(left.compute_hash(), right.compute_hash());
    }

    #[test]
    fn golden_hash_is_stable() {
        // The record hash is a format promise: this value must never change for v1.
        let record = Record::seal(
            0,
            Hash::ZERO,
            NewRecord {
                kind: "k".into(),
                actor: Actor::System,
                payload: vec![1, 2, 3],
            },
            5,
        );
        assert_eq!(record.hash.to_string(), GOLDEN_RECORD_HASH);
    }

    const GOLDEN_RECORD_HASH: &str =
        "a0883672bc185553b00d981306e719ea219589d8a6565265e32e0d229519251d";

    #[test]
    fn tampering_is_detected_on_decode() {
        // A wrong seq, a flipped payload byte and trailing bytes must all be refused.
        let record = sample();
        let bytes = record.encode().unwrap();
        assert!(Record::decode_checked(8, &bytes).is_err());
        let mut flipped = record.clone();
        flipped.payload[0] ^= 1;
        assert!(Record::decode_checked(7, &flipped.encode().unwrap()).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Record::decode_checked(7, &longer).is_err());
        assert!(Record::decode_checked(7, &bytes[..bytes.len() - 1]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn no_bit_flip_changes_a_record_silently(
            seq in 0u64..1_000_000,
            kind in "[a-z.]{1,20}",
            name in proptest::option::of("[ -~]{0,30}"),
            time_ms in proptest::num::u64::ANY,
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            bit in proptest::num::usize::ANY,
        ) {
            // Flipping any one stored bit either makes the record fail its checks or leaves it
            // decoding to exactly the same record: damage is never silent.
            let actor = name.map_or(Actor::System, Actor::Named);
            let record = Record::seal(seq, Hash([1; 32]), NewRecord { kind, actor, payload }, time_ms);
            let mut bytes = record.encode().unwrap();
            let bit = bit % (bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            if let Ok(decoded) = Record::decode_checked(seq, &bytes) {
                proptest::prop_assert_eq!(decoded, record);
            }
        }
    }

    #[test]
    fn new_record_limits_are_enforced() {
        // Empty, overlong, spaced and reserved kinds and an overlong payload are refused.
        let ok = NewRecord {
            kind: "a.b".into(),
            actor: Actor::System,
            payload: vec![],
        };
        assert!(ok.check(0).is_ok());
        for kind in [
            "",
            "has space",
            "ledger.genesis",
            &"k".repeat(KIND_BYTES_MAX + 1),
        ] {
            let bad = NewRecord {
                kind: kind.into(),
                ..ok.clone()
            };
            assert!(matches!(
                bad.check(3),
                Err(AppendError::KindInvalid { index: 3, .. })
            ));
        }
        let big = NewRecord {
            payload: vec![0; PAYLOAD_BYTES_MAX + 1],
            ..ok.clone()
        };
        assert!(matches!(
            big.check(0),
            Err(AppendError::PayloadTooLarge { .. })
        ));
        let named = NewRecord {
            actor: Actor::Named("n".repeat(ACTOR_NAME_BYTES_MAX + 1)),
            ..ok
        };
        assert!(matches!(
            named.check(0),
            Err(AppendError::ActorNameTooLong { .. })
        ));
    }
}
