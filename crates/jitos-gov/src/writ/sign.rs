//! The frozen encoding of a writ, and signing it with ed25519.
//!
//! The signed bytes are a tag followed by bincode 2 (standard configuration, through
//! serde) of a private copy of the writ's fields in a fixed order: [`WRIT_TAG`] and
//! `WritV1`, or [`WRIT_TAG_V2`] and `WritV2`, which adds the writ's egress. Both are
//! frozen: the ledger stores these bytes and signatures cover them, so changing either
//! would break every stored writ. A writ with no egress is written as version 1, so the
//! writs of stores written before egress existed keep their one byte form; one with egress
//! as version 2, and a version 2 without egress is not canonical. The in-memory [`Writ`]
//! may change; `freeze` and `thaw` move every field by name with no `..`, so a field added
//! to `Writ` stops the build here until someone decides how it is signed, in a version
//! with its own tag.

use std::collections::{BTreeMap, BTreeSet};

use bincode::error::DecodeError;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand_core::OsRng;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use super::{Budget, Scope, Subject, Writ, WritError, WRIT_BYTES_MAX};
use crate::Effect;

/// The domain tag that begins a writ's signing bytes, so a signature over a writ can never
/// be taken for a signature over anything else the same key signs.
pub const WRIT_TAG: &[u8] = b"jitos.writ.v1\0";
/// The tag of version 2, a writ with egress.
pub const WRIT_TAG_V2: &[u8] = b"jitos.writ.v2\0";

/// A writ as signed, version 2: version 1 and its egress. Frozen: see the module docs.
#[derive(Serialize, Deserialize)]
struct WritV2 {
    v1: WritV1,
    egress: ScopeV1,
}

/// A writ as signed, version 1. Frozen: see the module docs.
#[derive(Serialize, Deserialize)]
struct WritV1 {
    subject: SubjectV1,
    issuer: SubjectV1,
    parent: Option<u64>,
    workers: ScopeV1,
    paths: ScopeV1,
    /// The effect's rung, 0 (`none`) to 4 (`irreversible`), written out in `effect_code`
    /// so that reordering `Effect` cannot change it.
    effect: u8,
    budget: BudgetV1,
    /// Ascending, no repeats.
    secrets: Vec<String>,
    issued_ms: u64,
    expires_ms: u64,
    depth: u32,
}

#[derive(Serialize, Deserialize)]
struct SubjectV1 {
    uid: u32,
    user: String,
}

#[derive(Serialize, Deserialize)]
enum ScopeV1 {
    All,
    /// Ascending, no repeats.
    Only(Vec<String>),
}

#[derive(Serialize, Deserialize)]
struct BudgetV1 {
    jobs: u64,
    wall_secs: u64,
    /// Ascending by name, no repeats.
    counters: Vec<(String, u64)>,
}

/// The version a writ is signed as.
enum Frozen {
    V1(WritV1),
    V2(WritV2),
}

fn freeze(writ: Writ) -> Frozen {
    let Writ {
        subject,
        issuer,
        parent,
        workers,
        paths,
        effect,
        egress,
        budget,
        secrets,
        issued_ms,
        expires_ms,
        depth,
    } = writ;
    let Budget {
        jobs,
        wall_secs,
        counters,
    } = budget;
    let v1 = WritV1 {
        subject: freeze_subject(subject),
        issuer: freeze_subject(issuer),
        parent,
        workers: freeze_scope(workers),
        paths: freeze_scope(paths),
        effect: effect_code(effect),
        budget: BudgetV1 {
            jobs,
            wall_secs,
            counters: counters.into_iter().collect(),
        },
        secrets: secrets.into_iter().collect(),
        issued_ms,
        expires_ms,
        depth,
    };
    match egress {
        Scope::Only(entries) if entries.is_empty() => Frozen::V1(v1),
        egress => Frozen::V2(WritV2 {
            v1,
            egress: freeze_scope(egress),
        }),
    }
}

fn freeze_subject(subject: Subject) -> SubjectV1 {
    let Subject { uid, user } = subject;
    SubjectV1 { uid, user }
}

fn freeze_scope(scope: Scope) -> ScopeV1 {
    match scope {
        Scope::All => ScopeV1::All,
        Scope::Only(entries) => ScopeV1::Only(entries.into_iter().collect()),
    }
}

/// Sets and maps are rebuilt here, so repeats and disorder vanish; `from_signing_bytes`
/// refuses such bytes by re-encoding what this returns. A version 1 writ has no egress.
fn thaw(frozen: WritV1, egress: Scope) -> Result<Writ, WritError> {
    let WritV1 {
        subject,
        issuer,
        parent,
        workers,
        paths,
        effect,
        budget,
        secrets,
        issued_ms,
        expires_ms,
        depth,
    } = frozen;
    let BudgetV1 {
        jobs,
        wall_secs,
        counters,
    } = budget;
    Ok(Writ {
        subject: thaw_subject(subject),
        issuer: thaw_subject(issuer),
        parent,
        workers: thaw_scope(workers),
        paths: thaw_scope(paths),
        effect: effect_of_code(effect)?,
        egress,
        budget: Budget {
            jobs,
            wall_secs,
            counters: counters.into_iter().collect::<BTreeMap<_, _>>(),
        },
        secrets: secrets.into_iter().collect::<BTreeSet<_>>(),
        issued_ms,
        expires_ms,
        depth,
    })
}

fn thaw_subject(subject: SubjectV1) -> Subject {
    let SubjectV1 { uid, user } = subject;
    Subject { uid, user }
}

fn thaw_scope(scope: ScopeV1) -> Scope {
    match scope {
        ScopeV1::All => Scope::All,
        ScopeV1::Only(entries) => Scope::Only(entries.into_iter().collect()),
    }
}

fn effect_code(effect: Effect) -> u8 {
    match effect {
        Effect::None => 0,
        Effect::Workspace => 1,
        Effect::Local => 2,
        Effect::Network => 3,
        Effect::Irreversible => 4,
    }
}

fn effect_of_code(code: u8) -> Result<Effect, WritError> {
    match code {
        0 => Ok(Effect::None),
        1 => Ok(Effect::Workspace),
        2 => Ok(Effect::Local),
        3 => Ok(Effect::Network),
        4 => Ok(Effect::Irreversible),
        code => Err(WritError::UnknownEffect { code }),
    }
}

impl Writ {
    /// The bytes the ledger stores and an issuer signs: [`WRIT_TAG`] and the frozen
    /// version 1 encoding of every field, or [`WRIT_TAG_V2`] and version 2's for a writ
    /// with egress. Equal writs give equal bytes.
    pub fn signing_bytes(&self) -> Vec<u8> {
        // Encoding into a Vec cannot fail: the writer never runs out, every sequence has a
        // known length, and no field's Serialize returns an error.
        #[allow(clippy::expect_used)]
        fn tagged(tag: &[u8], body: impl Serialize) -> Vec<u8> {
            let mut bytes = tag.to_vec();
            bincode::serde::encode_into_std_write(body, &mut bytes, bincode::config::standard())
                .expect("a writ always encodes");
            bytes
        }
        match freeze(self.clone()) {
            Frozen::V1(v1) => tagged(WRIT_TAG, v1),
            Frozen::V2(v2) => tagged(WRIT_TAG_V2, v2),
        }
    }

    /// The writ whose [`signing_bytes`](Writ::signing_bytes) are exactly `bytes`, checked
    /// with [`Writ::check`]. Refuses more than [`WRIT_BYTES_MAX`] bytes before decoding,
    /// bytes without the tag, bytes that end early or run on, and any other encoding of the
    /// same writ (so one writ has one byte form, and a signature over it one meaning).
    pub fn from_signing_bytes(bytes: &[u8]) -> Result<Writ, WritError> {
        if bytes.len() > WRIT_BYTES_MAX {
            return Err(WritError::TooLarge { len: bytes.len() });
        }
        let writ = if let Some(body) = bytes.strip_prefix(WRIT_TAG) {
            thaw(decode_whole::<WritV1>(body)?, Scope::nothing())?
        } else if let Some(body) = bytes.strip_prefix(WRIT_TAG_V2) {
            let WritV2 { v1, egress } = decode_whole::<WritV2>(body)?;
            thaw(v1, thaw_scope(egress))?
        } else {
            return Err(WritError::NoTag);
        };
        writ.check_parts()?;
        if writ.signing_bytes() != bytes {
            return Err(WritError::NotCanonical);
        }
        Ok(writ)
    }
}

/// `body` decoded as a `T` that is all of it, within [`WRIT_BYTES_MAX`].
fn decode_whole<T: de::DeserializeOwned>(body: &[u8]) -> Result<T, WritError> {
    let config = bincode::config::standard().with_limit::<WRIT_BYTES_MAX>();
    let (frozen, used): (T, usize) =
        bincode::serde::decode_from_slice(body, config).map_err(|error| WritError::Decode {
            message: describe(error),
        })?;
    if used != body.len() {
        return Err(WritError::Trailing {
            extra: body.len().saturating_sub(used),
        });
    }
    Ok(frozen)
}

/// A decoding error in words (bincode's own `Display` is its `Debug`).
fn describe(error: DecodeError) -> String {
    match error {
        DecodeError::UnexpectedEnd { .. } => "they end inside a value".to_owned(),
        DecodeError::LimitExceeded => {
            format!("they claim more than the {WRIT_BYTES_MAX} bytes a writ may hold")
        }
        DecodeError::Utf8 { inner } => format!("a name is not UTF-8: {inner}"),
        DecodeError::InvalidBooleanValue(found) => {
            format!("a flag is {found}, neither 0 nor 1")
        }
        DecodeError::UnexpectedVariant {
            type_name, found, ..
        } => format!("{type_name} has no variant {found}"),
        DecodeError::OutsideUsizeRange(found) => {
            format!("a length of {found} does not fit this machine")
        }
        DecodeError::OtherString(message) => message,
        DecodeError::Other(message) => message.to_owned(),
        other => format!("{other:?}"),
    }
}

/// A key that issues writs: an ed25519 signing key. Its `Debug` shows only its public key,
/// so the secret never lands in a log.
#[derive(Clone)]
pub struct WritKey(SigningKey);

impl WritKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> WritKey {
        WritKey(SigningKey::generate(&mut OsRng))
    }

    /// The key whose secret is `bytes`.
    pub fn from_bytes(bytes: &[u8; 32]) -> WritKey {
        WritKey(SigningKey::from_bytes(bytes))
    }

    /// Its secret, to store; whoever holds these bytes can issue writs as this key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Its public key, which verifies what it signs.
    pub fn public(&self) -> WritPublicKey {
        WritPublicKey(self.0.verifying_key().to_bytes())
    }

    /// Its signature over `writ`'s [`signing_bytes`](Writ::signing_bytes).
    pub fn sign(&self, writ: &Writ) -> WritSignature {
        WritSignature(self.0.sign(&writ.signing_bytes()).to_bytes())
    }
}

impl std::fmt::Debug for WritKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WritKey")
            .field("public", &self.public().to_hex())
            .finish_non_exhaustive()
    }
}

/// The public half of a [`WritKey`]. In human-readable formats it is 64 hex digits; in
/// binary ones (bincode) its 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WritPublicKey(pub [u8; 32]);

impl WritPublicKey {
    /// Its bytes in lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The key written as 64 hex digits.
    pub fn from_hex(text: &str) -> Result<WritPublicKey, WritError> {
        Ok(WritPublicKey(array_from_hex(text, "public key")?))
    }

    /// Whether `signature` is this key's over `writ`. Verification is strict: it refuses
    /// weak keys and any other encoding of a valid signature, so a signature has one form.
    pub fn verify(&self, writ: &Writ, signature: &WritSignature) -> Result<(), WritError> {
        let key = VerifyingKey::from_bytes(&self.0)
            .map_err(|_| WritError::InvalidPublicKey { key: self.to_hex() })?;
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(&writ.signing_bytes(), &signature)
            .map_err(|_| WritError::BadSignature { key: self.to_hex() })
    }
}

impl std::fmt::Display for WritPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for WritPublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_array(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for WritPublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_array(deserializer).map(WritPublicKey)
    }
}

/// An ed25519 signature over a writ's signing bytes. In human-readable formats it is 128
/// hex digits; in binary ones (bincode) its 64 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WritSignature(pub [u8; 64]);

impl WritSignature {
    /// Its bytes in lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The signature written as 128 hex digits.
    pub fn from_hex(text: &str) -> Result<WritSignature, WritError> {
        Ok(WritSignature(array_from_hex(text, "signature")?))
    }
}

impl std::fmt::Display for WritSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for WritSignature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_array(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for WritSignature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_array(deserializer).map(WritSignature)
    }
}

fn array_from_hex<const N: usize>(text: &str, what: &'static str) -> Result<[u8; N], WritError> {
    let problem = |problem: String| WritError::Hex {
        what,
        len: N,
        problem,
    };
    if text.len() != 2 * N {
        return Err(problem(format!("{} characters were given", text.len())));
    }
    let mut bytes = [0u8; N];
    hex::decode_to_slice(text, &mut bytes).map_err(|error| problem(error.to_string()))?;
    Ok(bytes)
}

/// Hex text for people, the bytes as one length-prefixed run for machines. serde has no
/// array impls past 32 elements, and a byte run is also the compact form in bincode.
fn serialize_array<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        serializer.serialize_str(&hex::encode(bytes))
    } else {
        serializer.serialize_bytes(bytes)
    }
}

fn deserialize_array<'de, D: Deserializer<'de>, const N: usize>(
    deserializer: D,
) -> Result<[u8; N], D::Error> {
    struct Exactly<const N: usize>;

    impl<'de, const N: usize> de::Visitor<'de> for Exactly<N> {
        type Value = [u8; N];

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{N} bytes, or {} hex digits", 2 * N)
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<[u8; N], E> {
            let mut bytes = [0u8; N];
            match text.len() == 2 * N && hex::decode_to_slice(text, &mut bytes).is_ok() {
                true => Ok(bytes),
                false => Err(E::invalid_value(de::Unexpected::Str(text), &self)),
            }
        }

        fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<[u8; N], E> {
            <[u8; N]>::try_from(bytes).map_err(|_| E::invalid_length(bytes.len(), &self))
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
            let mut bytes = [0u8; N];
            for (at, byte) in bytes.iter_mut().enumerate() {
                *byte = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(at, &self))?;
            }
            match seq.next_element::<u8>()? {
                None => Ok(bytes),
                Some(_) => Err(de::Error::invalid_length(N + 1, &self)),
            }
        }
    }

    if deserializer.is_human_readable() {
        deserializer.deserialize_str(Exactly::<N>)
    } else {
        deserializer.deserialize_bytes(Exactly::<N>)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::tests::sample;
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    /// The frozen encoding of `sample()`, pinned: if this changes, every stored writ and
    /// every signature over one breaks. Change the encoding only with a new tag.
    const SAMPLE_HEX: &str = concat!(
        "6a69746f732e777269742e763100",           // the tag, "jitos.writ.v1\0"
        "fbe903",                                 // subject uid 1001 (varint: 0xfb, then a u16)
        "05616c696365",                           // "alice"
        "00",                                     // issuer uid 0
        "04726f6f74",                             // "root"
        "0107",                                   // parent: Some(7)
        "01",                                     // workers: Only
        "02056275696c640474657374",               // ["build", "test"]
        "01",                                     // paths: Only
        "0208646f63732f61706903737263",           // ["docs/api", "src"]
        "03",                                     // effect: network
        "64",                                     // jobs 100
        "fb100e",                                 // wall seconds 3600
        "02",                                     // two counters, by name
        "0f636f73745f6d696c6c6963656e7473fb8813", // "cost_millicents" 5000
        "06746f6b656e73fca0860100",               // "tokens" 100000
        "010c6769746875622d746f6b656e",           // secrets ["github-token"]
        "fd0068e5cf8b010000",                     // issued 1700000000000 ms
        "fd80561cd08b010000",                     // expires 1700003600000 ms
        "02",                                     // depth 2
    );

    #[test]
    fn the_frozen_encoding_is_pinned() {
        let bytes = sample().signing_bytes();
        assert_eq!(hex::encode(&bytes), SAMPLE_HEX);
        assert!(bytes.starts_with(WRIT_TAG));
        assert_eq!(Writ::from_signing_bytes(&bytes).unwrap(), sample());
    }

    #[test]
    fn a_signature_from_fixed_key_bytes_is_pinned_and_verifies() {
        let key = WritKey::from_bytes(&KEY);
        assert_eq!(key.to_bytes(), KEY);
        let signature = key.sign(&sample());
        assert_eq!(signature.to_hex(), SAMPLE_SIGNATURE_HEX);
        assert_eq!(key.public().to_hex(), SAMPLE_PUBLIC_HEX);
        assert_eq!(key.public().verify(&sample(), &signature), Ok(()));
    }

    const SAMPLE_SIGNATURE_HEX: &str = concat!(
        "3c07f0a0568be0afca45ab57fc07a93f2b0ff6faf31c6daad9d03d6b7bce7a7e",
        "52211b523f9ab73581a4a45601eb38d7c1a797f7897eb1caa3ffb6cc87a5c403",
    );
    const SAMPLE_PUBLIC_HEX: &str =
        "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c";

    #[test]
    fn flipping_any_bit_of_the_body_or_signature_fails_verification() {
        let key = WritKey::from_bytes(&KEY);
        let public = key.public();
        let writ = sample();
        let signature = key.sign(&writ);
        let bytes = writ.signing_bytes();
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            // Either the flipped bytes are no writ, or they are another writ the signature
            // does not cover.
            if let Ok(other) = Writ::from_signing_bytes(&flipped) {
                assert_ne!(other, writ, "bit {bit}");
                assert!(public.verify(&other, &signature).is_err(), "bit {bit}");
            }
        }
        for bit in 0..64 * 8 {
            let mut flipped = signature;
            flipped.0[bit / 8] ^= 1 << (bit % 8);
            assert!(public.verify(&writ, &flipped).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn another_key_does_not_verify() {
        let writ = sample();
        let signature = WritKey::from_bytes(&KEY).sign(&writ);
        let other = WritKey::generate();
        let refused = other.public().verify(&writ, &signature).unwrap_err();
        assert!(
            matches!(refused, WritError::BadSignature { .. }),
            "{refused}"
        );
        assert!(refused.to_string().contains(&other.public().to_hex()));
        assert_ne!(other.to_bytes(), WritKey::generate().to_bytes());
    }

    #[test]
    fn debug_shows_the_public_key_only() {
        let key = WritKey::from_bytes(&KEY);
        let shown = format!("{key:?}");
        assert!(shown.contains(&key.public().to_hex()), "{shown}");
        assert!(!shown.contains(&hex::encode(KEY)), "{shown}");
        assert!(!shown.contains("7, 7"), "{shown}");
    }

    #[test]
    fn keys_and_signatures_round_trip_through_hex_and_serde() {
        let key = WritKey::from_bytes(&KEY);
        let public = key.public();
        let signature = key.sign(&sample());
        assert_eq!(WritPublicKey::from_hex(&public.to_hex()), Ok(public));
        assert_eq!(public.to_string(), public.to_hex());
        assert_eq!(WritSignature::from_hex(&signature.to_hex()), Ok(signature));
        assert!(WritPublicKey::from_hex("abc").is_err());
        assert!(WritPublicKey::from_hex(&"zz".repeat(32)).is_err());
        let refused = WritSignature::from_hex(&public.to_hex()).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "a writ signature is 128 hex digits: 64 characters were given"
        );

        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec((public, signature), config).unwrap();
        // A length byte and the raw bytes each, nothing else.
        assert_eq!(bytes.len(), 1 + 32 + 1 + 64);
        let (back, used): ((WritPublicKey, WritSignature), usize) =
            bincode::serde::decode_from_slice(&bytes, config).unwrap();
        assert_eq!((back, used), ((public, signature), bytes.len()));
        let short = bincode::serde::encode_to_vec(vec![0u8; 63], config).unwrap();
        assert!(bincode::serde::decode_from_slice::<WritSignature, _>(&short, config).is_err());

        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Doc {
            key: WritPublicKey,
            signature: WritSignature,
        }
        let doc = Doc {
            key: public,
            signature,
        };
        let text = toml::to_string(&doc).unwrap();
        assert!(
            text.contains(&format!("key = \"{}\"", public.to_hex())),
            "{text}"
        );
        assert_eq!(toml::from_str::<Doc>(&text).unwrap(), doc);
        let bad = text.replace(&public.to_hex(), "00");
        assert!(toml::from_str::<Doc>(&bad).is_err());
    }

    #[test]
    fn an_invalid_public_key_is_refused_not_panicked_on() {
        // Not every 32 bytes are a point on the curve; this y-coordinate has no x.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        let public = WritPublicKey(bytes);
        let signature = WritKey::from_bytes(&KEY).sign(&sample());
        assert!(public.verify(&sample(), &signature).is_err());
    }

    #[test]
    fn bad_bytes_are_refused_with_a_reason() {
        let bytes = sample().signing_bytes();
        for len in 0..bytes.len() {
            let refused = Writ::from_signing_bytes(&bytes[..len]).unwrap_err();
            match len < WRIT_TAG.len() {
                true => assert_eq!(refused, WritError::NoTag, "{len}"),
                false => assert!(matches!(refused, WritError::Decode { .. }), "{len}"),
            }
        }

        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            Writ::from_signing_bytes(&trailing),
            Err(WritError::Trailing { extra: 1 })
        );

        let oversized = vec![0u8; WRIT_BYTES_MAX + 1];
        assert_eq!(
            Writ::from_signing_bytes(&oversized),
            Err(WritError::TooLarge {
                len: WRIT_BYTES_MAX + 1
            })
        );

        let mut untagged = bytes.clone();
        untagged[0] ^= 0x20;
        assert_eq!(Writ::from_signing_bytes(&untagged), Err(WritError::NoTag));

        // A length claim far past the limit is refused before anything is allocated.
        // (uid 0, then a user name claiming 2^60 bytes.)
        let mut huge = WRIT_TAG.to_vec();
        huge.extend_from_slice(&[0, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0x10]);
        let refused = Writ::from_signing_bytes(&huge).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "the writ's bytes do not decode: they claim more than the 65536 bytes a writ may hold"
        );

        // Garbage after the tag: an error each time, never a panic.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for len in [1usize, 2, 7, 50, 200, 4000] {
            for _ in 0..50 {
                let mut garbage = WRIT_TAG.to_vec();
                for _ in 0..len {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    garbage.push(state.to_le_bytes()[0]);
                }
                let _ = Writ::from_signing_bytes(&garbage);
            }
        }
    }

    #[test]
    fn an_unknown_effect_code_is_named() {
        let Frozen::V1(mut frozen) = freeze(sample()) else {
            panic!("the sample has no egress, so it is version 1");
        };
        frozen.effect = 5;
        let mut bytes = WRIT_TAG.to_vec();
        bytes.extend(bincode::serde::encode_to_vec(frozen, bincode::config::standard()).unwrap());
        assert_eq!(
            Writ::from_signing_bytes(&bytes),
            Err(WritError::UnknownEffect { code: 5 })
        );
    }

    #[test]
    fn another_encoding_of_the_same_writ_is_refused() {
        // Secrets out of order and repeated decode to the same set, but are not the bytes
        // signing_bytes gives.
        for secrets in [
            vec!["b".to_owned(), "a".to_owned()],
            vec!["a".to_owned(), "a".to_owned()],
        ] {
            let Frozen::V1(mut frozen) = freeze(sample()) else {
                panic!("the sample has no egress, so it is version 1");
            };
            frozen.secrets = secrets;
            let mut bytes = WRIT_TAG.to_vec();
            bytes.extend(
                bincode::serde::encode_to_vec(frozen, bincode::config::standard()).unwrap(),
            );
            assert_eq!(
                Writ::from_signing_bytes(&bytes),
                Err(WritError::NotCanonical)
            );
        }
        // A number in a longer form than its shortest: depth 2 as a u16 varint.
        let bytes = sample().signing_bytes();
        assert_eq!(*bytes.last().unwrap(), 2);
        let mut long = bytes[..bytes.len() - 1].to_vec();
        long.extend_from_slice(&[0xfb, 2, 0]);
        assert_eq!(
            Writ::from_signing_bytes(&long),
            Err(WritError::NotCanonical)
        );
    }

    // Goal: a writ with egress is signed as version 2 and read back whole; its bytes are
    // pinned; version 2 bytes that carry no egress are not canonical (a writ without egress
    // has one form, version 1). Method: encode, decode, and hand-made version 2 bytes.
    #[test]
    fn a_writ_with_egress_is_version_2_and_round_trips() {
        let mut writ = sample();
        writ.egress = Scope::Only(
            [
                "GET https://pypi.org:443".to_owned(),
                "http://127.0.0.1:8080".to_owned(),
            ]
            .into_iter()
            .collect(),
        );
        let bytes = writ.signing_bytes();
        assert!(bytes.starts_with(WRIT_TAG_V2));
        let v1 = sample().signing_bytes();
        assert_eq!(
            hex::encode(&bytes[WRIT_TAG_V2.len()..]),
            format!(
                "{}{}",
                hex::encode(&v1[WRIT_TAG.len()..]),
                concat!(
                    "01",                                                 // egress: Only
                    "02",                                                 // two entries
                    "184745542068747470733a2f2f707970692e6f72673a343433", // "GET https://pypi.org:443"
                    "15687474703a2f2f3132372e302e302e313a38303830",       // "http://127.0.0.1:8080"
                )
            )
        );
        assert_eq!(Writ::from_signing_bytes(&bytes).unwrap(), writ);
        let key = WritKey::from_bytes(&KEY);
        key.public().verify(&writ, &key.sign(&writ)).unwrap();

        let Frozen::V1(v1_frozen) = freeze(sample()) else {
            panic!("the sample has no egress");
        };
        let mut empty = WRIT_TAG_V2.to_vec();
        empty.extend(
            bincode::serde::encode_to_vec(
                WritV2 {
                    v1: v1_frozen,
                    egress: ScopeV1::Only(Vec::new()),
                },
                bincode::config::standard(),
            )
            .unwrap(),
        );
        assert_eq!(
            Writ::from_signing_bytes(&empty),
            Err(WritError::NotCanonical)
        );

        writ.egress = Scope::Only(["https://pypi.org".to_owned()].into_iter().collect());
        assert!(
            matches!(
                writ.check(),
                Err(WritError::Invalid {
                    part: super::super::WritPart::Egress,
                    ..
                })
            ),
            "an entry not in canonical form is refused"
        );
    }

    #[test]
    fn decoding_checks_the_writ() {
        let mut writ = sample();
        writ.depth = 9;
        assert_eq!(
            Writ::from_signing_bytes(&writ.signing_bytes()),
            Err(WritError::TooDeep { depth: 9 })
        );
    }
}
