//! Durable payloads: for each record kind and payload version, a frozen type that is what
//! the ledger holds, separate from the types the kernel folds and from the wire types.
//!
//! A record is a promise to every later version, so its bytes may not depend on an
//! in-memory type that someone may extend tomorrow. Each kind's payload is therefore a type
//! in a version module (`v1`, `v2`) that never changes once released, with a conversion
//! from the in-memory type (`Frozen::freeze`) and back (`Frozen::thaw`, which checks what
//! the in-memory type's own decoder used to check: ids, paths, value depth, canonical
//! maps). A change to an in-memory type fails to compile here, or fails the golden tests
//! in `tests.rs`, instead of silently changing the ledger.
//!
//! **Versions.** A payload's version is part of its record's kind: a kind without a suffix
//! is version 1 (every kind written before versions existed), and a later version of a
//! kind is spelled `kind@N` (`worker.install@2`). The kind is hashed into the chain with
//! the payload, so which reader a record needs can never be confused or changed, and a
//! build that does not know a version refuses the record by its kind, naming it, before
//! reading a byte of its payload. Each version's reader is kept for ever.
//!
//! **Changing an in-memory type.** When a type a payload holds gains a field, the `thaw`
//! of every version that lacks it fills in what an old record means (a default, stated
//! there). If new records must carry the field, add a version: a new durable type (in a
//! new module, never an edit of an old one), a new kind string written from then on, a
//! reader for it here, golden bytes and a fixture written by it (`tests/fixtures/`).
//!
//! Every payload is read through `jitos_ledger::codec`, bounded in bytes and nesting.

use std::collections::BTreeMap;

use jitos_ledger::codec::{self, CodecError};
use serde::{de::DeserializeOwned, Serialize};

pub(crate) mod v1;
pub(crate) mod v2;
pub(crate) mod v3;

#[cfg(test)]
pub(crate) mod tests;

/// The largest payload the ledger stores; decoding claims no more.
pub(crate) const PAYLOAD_BYTES_MAX: usize = jitos_ledger::PAYLOAD_BYTES_MAX;

/// Why a payload cannot be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The bytes do not decode as the kind's payload type.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The payload decodes, but as another kind's.
    #[error("a {kind} record carries a {found} payload")]
    KindMismatch {
        /// The record's kind.
        kind: String,
        /// The kind its payload belongs to.
        found: &'static str,
    },
    /// A field holds what its in-memory type does not allow.
    #[error("its {what} is invalid: {reason}")]
    Invalid {
        /// The field.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl PayloadError {
    /// An invalid `what`, for `map_err`.
    pub(crate) fn invalid(what: &'static str) -> impl Fn(String) -> PayloadError + Copy {
        move |reason| PayloadError::Invalid { what, reason }
    }
}

/// A frozen durable type and the in-memory type it stands for.
pub(crate) trait Frozen: Sized {
    /// The in-memory type.
    type Live;

    /// The durable form of `live`.
    fn freeze(live: &Self::Live) -> Self;

    /// The in-memory value, checked as the in-memory type's own decoder would.
    fn thaw(self) -> Result<Self::Live, PayloadError>;
}

impl<T: Frozen> Frozen for Vec<T> {
    type Live = Vec<T::Live>;

    fn freeze(live: &Vec<T::Live>) -> Self {
        live.iter().map(T::freeze).collect()
    }

    fn thaw(self) -> Result<Vec<T::Live>, PayloadError> {
        self.into_iter().map(T::thaw).collect()
    }
}

impl<T: Frozen> Frozen for Option<T> {
    type Live = Option<T::Live>;

    fn freeze(live: &Option<T::Live>) -> Self {
        live.as_ref().map(T::freeze)
    }

    fn thaw(self) -> Result<Option<T::Live>, PayloadError> {
        self.map(T::thaw).transpose()
    }
}

/// Text is its own durable form.
impl Frozen for String {
    type Live = String;

    fn freeze(live: &String) -> String {
        live.clone()
    }

    fn thaw(self) -> Result<String, PayloadError> {
        Ok(self)
    }
}

/// A map as the ledger holds it: its entries in ascending key order. bincode writes a
/// `BTreeMap` exactly so (a length, then each key and value), and reading it as a list
/// lets `thaw_map` refuse a repeated or out-of-order key instead of silently keeping one
/// of two values.
pub(crate) type Map<K, V> = Vec<(K, V)>;

/// The durable form of a map whose values freeze.
pub(crate) fn freeze_map<V: Frozen>(live: &BTreeMap<String, V::Live>) -> Map<String, V> {
    live.iter()
        .map(|(k, v)| (k.clone(), V::freeze(v)))
        .collect()
}

/// The map, refusing keys that are not strictly ascending.
pub(crate) fn thaw_map<V: Frozen>(
    entries: Map<String, V>,
    what: &'static str,
) -> Result<BTreeMap<String, V::Live>, PayloadError> {
    thaw_map_with(entries, what, V::thaw)
}

/// The map with each value thawed by `thaw`, refusing keys that are not strictly ascending.
pub(crate) fn thaw_map_with<V, L>(
    entries: Map<String, V>,
    what: &'static str,
    mut thaw: impl FnMut(V) -> Result<L, PayloadError>,
) -> Result<BTreeMap<String, L>, PayloadError> {
    check_ascending(&entries, what)?;
    entries
        .into_iter()
        .map(|(k, v)| Ok((k, thaw(v)?)))
        .collect()
}

fn check_ascending<V>(entries: &Map<String, V>, what: &'static str) -> Result<(), PayloadError> {
    match entries.windows(2).find(|pair| pair[0].0 >= pair[1].0) {
        Some(pair) => Err(PayloadError::Invalid {
            what,
            reason: format!(
                "key {:?} follows {:?}: keys must be unique and ascending",
                pair[1].0, pair[0].0
            ),
        }),
        None => Ok(()),
    }
}

/// A count or index the ledger holds as a `u64` (bincode writes a `usize` so too).
pub(crate) fn thaw_usize(value: u64, what: &'static str) -> Result<usize, PayloadError> {
    usize::try_from(value).map_err(|_| PayloadError::Invalid {
        what,
        reason: format!("{value} does not fit this machine's usize"),
    })
}

/// The durable form of a count or index.
pub(crate) fn freeze_usize(value: usize) -> u64 {
    // Lossless: usize is at most 64 bits on every target Rust supports.
    value as u64
}

/// Encodes a durable payload.
pub(crate) fn encode(value: &impl Serialize) -> Result<Vec<u8>, PayloadError> {
    Ok(codec::encode::<PAYLOAD_BYTES_MAX>(value, "the payload")?)
}

/// Decodes a durable payload strictly, bounded in bytes and nesting.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PayloadError> {
    Ok(codec::decode::<T, PAYLOAD_BYTES_MAX>(bytes, "the payload")?)
}

/// Decodes the payload of a record of `kind` as the durable type `D`, whose in-memory value
/// names its own kind (`kind_of`), and checks the two agree.
pub(crate) fn decode_of_kind<D: Frozen + DeserializeOwned>(
    kind: &str,
    bytes: &[u8],
    kind_of: impl Fn(&D::Live) -> &'static str,
) -> Result<D::Live, PayloadError> {
    let live = decode::<D>(bytes)?.thaw()?;
    match kind_of(&live) {
        found if found == kind => Ok(live),
        found => Err(PayloadError::KindMismatch {
            kind: kind.to_owned(),
            found,
        }),
    }
}
