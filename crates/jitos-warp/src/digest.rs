//! The state digest: an additive multiset hash of a graph's content, kept current in O(1)
//! per change.
//!
//! Each element (a node's id and kind, one attribute, one edge) is encoded canonically and
//! hashed with BLAKE3 in derive-key mode under `ELEMENT_CONTEXT`. The hashes, read as
//! 256-bit little-endian integers, are summed modulo 2^256; adding or removing an element
//! adds or subtracts its hash, so the sum depends only on the set of elements, never on the
//! order they arrived in. The digest is BLAKE3 derive-key under `STATE_CONTEXT` of the sum
//! and the three element counts.

use std::{fmt, str::FromStr, sync::LazyLock};

use blake3::hazmat::{hash_derive_key_context, ContextKey, HasherExt};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::{
    encode::{encode_value, put_bytes},
    hex32::{parse_hex32, Hex32Error},
    lanes::{Lanes, LANES},
    Value,
};

/// Domain of element hashes. Changing the element encoding means a new version here.
const ELEMENT_CONTEXT: &str = "jitos.warp.element.v1";

/// Domain of the final digest.
const STATE_CONTEXT: &str = "jitos.warp.state.v1";

/// Hashing the context string once, not per element, halves the cost of a short element.
static ELEMENT_KEY: LazyLock<ContextKey> =
    LazyLock::new(|| hash_derive_key_context(ELEMENT_CONTEXT));

static STATE_KEY: LazyLock<ContextKey> = LazyLock::new(|| hash_derive_key_context(STATE_CONTEXT));

const ELEMENT_NODE: u8 = b'N';
const ELEMENT_ATTR: u8 = b'A';
const ELEMENT_EDGE: u8 = b'E';

/// The digest of a graph's content. Display and Debug: 64 lowercase hex digits. Serde: that
/// hex string in human-readable formats, the 32 raw bytes otherwise.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StateDigest(pub [u8; 32]);

impl fmt::Display for StateDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for StateDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for StateDigest {
    type Err = Hex32Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex32(s).map(StateDigest)
    }
}

impl Serialize for StateDigest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_string())
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for StateDigest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            text.parse()
                .map_err(|e| de::Error::custom(format_args!("invalid state digest: {e}")))
        } else {
            <[u8; 32]>::deserialize(deserializer).map(StateDigest)
        }
    }
}

/// The kinds of element the digest counts separately.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Element {
    Node,
    Attr,
    Edge,
}

/// The running sum of element hashes and the element counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Accumulator {
    sum: [u64; 4],
    nodes: u64,
    attrs: u64,
    edges: u64,
}

impl Accumulator {
    /// Counts an element in.
    pub(crate) fn add(&mut self, element: Element, hash: &[u8; 32]) {
        add_hash(&mut self.sum, hash);
        let count = self.count_mut(element);
        *count = count.wrapping_add(1);
    }

    /// Counts an element out.
    pub(crate) fn sub(&mut self, element: Element, hash: &[u8; 32]) {
        sub_hash(&mut self.sum, hash);
        let count = self.count_mut(element);
        *count = count.wrapping_sub(1);
    }

    /// Attributes counted in.
    pub(crate) fn attr_count(&self) -> u64 {
        self.attrs
    }

    /// The digest of the current content.
    pub(crate) fn digest(&self) -> StateDigest {
        let mut hasher = blake3::Hasher::new_from_context_key(&STATE_KEY);
        for limb in self.sum {
            hasher.update(&limb.to_le_bytes());
        }
        hasher.update(&self.nodes.to_le_bytes());
        hasher.update(&self.attrs.to_le_bytes());
        hasher.update(&self.edges.to_le_bytes());
        StateDigest(*hasher.finalize().as_bytes())
    }

    fn count_mut(&mut self, element: Element) -> &mut u64 {
        match element {
            Element::Node => &mut self.nodes,
            Element::Attr => &mut self.attrs,
            Element::Edge => &mut self.edges,
        }
    }
}

fn add_hash(sum: &mut [u64; 4], hash: &[u8; 32]) {
    let (chunks, _) = hash.as_chunks::<8>();
    let mut carry = false;
    for (limb, chunk) in sum.iter_mut().zip(chunks) {
        let (partial, c1) = limb.overflowing_add(u64::from_le_bytes(*chunk));
        let (total, c2) = partial.overflowing_add(u64::from(carry));
        *limb = total;
        carry = c1 | c2;
    }
}

fn sub_hash(sum: &mut [u64; 4], hash: &[u8; 32]) {
    let (chunks, _) = hash.as_chunks::<8>();
    let mut borrow = false;
    for (limb, chunk) in sum.iter_mut().zip(chunks) {
        let (partial, b1) = limb.overflowing_sub(u64::from_le_bytes(*chunk));
        let (total, b2) = partial.overflowing_sub(u64::from(borrow));
        *limb = total;
        borrow = b1 | b2;
    }
}

fn count(acc: &mut Accumulator, element: Element, delta: Delta, hash: &[u8; 32]) {
    match delta {
        Delta::In => acc.add(element, hash),
        Delta::Out => acc.sub(element, hash),
    }
}

/// Whether an element enters or leaves the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delta {
    In,
    Out,
}

/// Elements whose hashes are still to be counted in or out of an `Accumulator`.
///
/// Ops only encode their elements here; `flush` hashes them `LANES` at a time (see
/// `lanes`), about twice as fast as one by one. The sum does not depend on the order
/// elements are counted in, so batching changes no digest.
pub(crate) struct PendingElements {
    key: ContextKey,
    /// The encodings, end to end.
    bytes: Vec<u8>,
    items: Vec<Pending>,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    end: usize,
    element: Element,
    delta: Delta,
}

impl PendingElements {
    /// Elements held before `should_flush` says to hash them, bounding the buffer.
    const ITEMS_MAX: usize = 4096;

    pub(crate) fn new() -> PendingElements {
        PendingElements {
            key: *ELEMENT_KEY,
            bytes: Vec::new(),
            items: Vec::new(),
        }
    }

    /// `'N'`, id, kind.
    pub(crate) fn node(&mut self, delta: Delta, id: &str, kind: &str) {
        self.bytes.push(ELEMENT_NODE);
        put_bytes(&mut self.bytes, id.as_bytes());
        put_bytes(&mut self.bytes, kind.as_bytes());
        self.push(Element::Node, delta);
    }

    /// `'A'`, node id, key, canonical value.
    pub(crate) fn attr(&mut self, delta: Delta, node: &str, key: &str, value: &Value) {
        self.bytes.push(ELEMENT_ATTR);
        put_bytes(&mut self.bytes, node.as_bytes());
        put_bytes(&mut self.bytes, key.as_bytes());
        encode_value(value, &mut self.bytes);
        self.push(Element::Attr, delta);
    }

    /// `'E'`, from, label, to.
    pub(crate) fn edge(&mut self, delta: Delta, from: &str, label: &str, to: &str) {
        self.bytes.push(ELEMENT_EDGE);
        put_bytes(&mut self.bytes, from.as_bytes());
        put_bytes(&mut self.bytes, label.as_bytes());
        put_bytes(&mut self.bytes, to.as_bytes());
        self.push(Element::Edge, delta);
    }

    fn push(&mut self, element: Element, delta: Delta) {
        self.items.push(Pending {
            end: self.bytes.len(),
            element,
            delta,
        });
    }

    /// Whether enough elements wait that they should be flushed now.
    pub(crate) fn should_flush(&self) -> bool {
        self.items.len() >= Self::ITEMS_MAX
    }

    /// Forgets every pending element (their op failed).
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.items.clear();
    }

    /// Hashes every pending element into `acc`, then forgets them.
    pub(crate) fn flush(&mut self, acc: &mut Accumulator) {
        let mut lanes = Lanes::new(&self.key);
        let mut waiting = [(Element::Node, Delta::In); LANES];
        let mut start = 0;
        for item in &self.items {
            let bytes = self.bytes.get(start..item.end).unwrap_or_default();
            start = item.end;
            if let Some(slot) = waiting.get_mut(lanes.len()) {
                *slot = (item.element, item.delta);
            }
            if !lanes.push(bytes) {
                // Longer than one block: rare (long ids or values), hashed alone.
                let mut hasher = blake3::Hasher::new_from_context_key(&self.key);
                hasher.update(bytes);
                count(acc, item.element, item.delta, hasher.finalize().as_bytes());
                continue;
            }
            if lanes.is_full() {
                for ((element, delta), hash) in waiting.iter().zip(lanes.hash()) {
                    count(acc, *element, *delta, &hash);
                }
            }
        }
        let waiting_count = lanes.len();
        if waiting_count > 0 {
            for ((element, delta), hash) in waiting.iter().zip(lanes.hash()).take(waiting_count) {
                count(acc, *element, *delta, &hash);
            }
        }
        self.clear();
    }
}
