//! `Graph`: the WARP state graph and its read API.

use std::{cmp::Ordering, fmt, sync::Arc};

use rustc_hash::FxBuildHasher;

use crate::{digest::Accumulator, Edge, Node, NodeId, StateDigest};

/// A persistent set: copying it is O(1), and a change copies only the path to what it
/// changes, so a graph cloned for a reader shares everything the writer does not touch.
pub(crate) type EdgeSet<T> = imbl::OrdSet<T>;

/// The WARP state graph: typed nodes with attributes, and labelled edges.
///
/// Change it only through `apply` (and `undo`), which keep the state digest current.
/// Nodes live in a hash map for O(1) lookup; nothing hashed or encoded ever iterates it
/// unsorted, so its order cannot leak. Every part is persistent: `clone` is O(1), and the
/// clone and the original share what neither changes afterwards.
#[derive(Clone, Default)]
pub struct Graph {
    pub(crate) slots: SlotMap,
    /// Every edge, in `(from, label, to)` order.
    pub(crate) edges: EdgeSet<Edge>,
    /// Every edge again, in `(to, label, from)` order, to find a node's incoming edges.
    pub(crate) edges_in: EdgeSet<ByTarget>,
    pub(crate) acc: Accumulator,
    /// Names the current state for `undo`'s check that it reverts the latest apply.
    pub(crate) state: u64,
    /// The last state name handed out; never reused, so a stale `Applied` cannot match.
    pub(crate) state_last: u64,
}

/// A node and how many edges touch it (a self-loop counts once).
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub(crate) node: Node,
    pub(crate) degree: usize,
}

/// The nodes by id: a persistent hash map of shared slots, so copying a part of the map
/// copies pointers, and changing a node copies that node only when a reader shares it.
#[derive(Clone, Default)]
pub(crate) struct SlotMap(
    imbl::GenericHashMap<NodeId, Arc<Slot>, FxBuildHasher, imbl::shared_ptr::DefaultSharedPtr>,
);

impl SlotMap {
    pub(crate) fn get(&self, id: &str) -> Option<&Slot> {
        self.0.get(id).map(Arc::as_ref)
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Slot> {
        self.0.get_mut(id).map(Arc::make_mut)
    }

    pub(crate) fn contains_key(&self, id: &str) -> bool {
        self.0.contains_key(id)
    }

    /// Inserts `slot` unless a node of that id exists; whether it did.
    pub(crate) fn insert_new(&mut self, id: NodeId, slot: Slot) -> bool {
        match self.0.entry(id) {
            imbl::hashmap::Entry::Occupied(_) => false,
            imbl::hashmap::Entry::Vacant(entry) => {
                entry.insert(Arc::new(slot));
                true
            }
        }
    }

    pub(crate) fn insert(&mut self, id: NodeId, slot: Slot) {
        self.0.insert(id, Arc::new(slot));
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<Slot> {
        self.0.remove(id).map(Arc::unwrap_or_clone)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Slot> + '_ {
        self.0.values().map(Arc::as_ref)
    }
}

/// An edge ordered by `(to, label, from)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ByTarget(pub(crate) Edge);

impl Ord for ByTarget {
    fn cmp(&self, other: &Self) -> Ordering {
        (&self.0.to, &self.0.label, &self.0.from).cmp(&(&other.0.to, &other.0.label, &other.0.from))
    }
}

impl PartialOrd for ByTarget {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.slots.get(id).map(|slot| &slot.node)
    }

    /// Whether a node with this id exists.
    pub fn contains_node(&self, id: &str) -> bool {
        self.slots.contains_key(id)
    }

    /// Whether this edge exists.
    pub fn contains_edge(&self, edge: &Edge) -> bool {
        self.edges.contains(edge)
    }

    /// Every node in id order. Sorting costs O(n log n) per call: fine for views and
    /// snapshots, not for a hot loop (use `node` there).
    pub fn nodes(&self) -> impl Iterator<Item = &Node> + '_ {
        self.sorted_slots().into_iter().map(|slot| &slot.node)
    }

    /// Every edge in `(from, label, to)` order.
    pub fn edges(&self) -> impl Iterator<Item = &Edge> + '_ {
        self.edges.iter()
    }

    /// The edges out of and into a node, in `(from, label, to)` order; a self-loop once.
    pub fn edges_of(&self, id: &str) -> Vec<Edge> {
        let mut out: Vec<Edge> = self.outgoing(id).cloned().collect();
        out.extend(
            self.incoming(id)
                .filter(|edge| edge.from.as_str() != id)
                .cloned(),
        );
        out.sort_unstable();
        out
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.slots.len()
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Number of attributes over all nodes.
    pub fn attr_count(&self) -> u64 {
        self.acc.attr_count()
    }

    /// The state digest of the current content; O(1), kept current by every change.
    pub fn digest(&self) -> StateDigest {
        self.acc.digest()
    }

    /// The slots in id order.
    pub(crate) fn sorted_slots(&self) -> Vec<&Slot> {
        // Most comparisons are settled by the first 16 bytes of the ids, held inline, so
        // a large sort rarely follows a pointer (each a likely cache miss) to the full id.
        let mut keyed: Vec<(u128, &Slot)> = self
            .slots
            .values()
            .map(|slot| (id_prefix(slot.node.id.as_str()), slot))
            .collect();
        keyed.sort_unstable_by(|(pa, a), (pb, b)| {
            pa.cmp(pb).then_with(|| a.node.id.cmp(&b.node.id))
        });
        keyed.into_iter().map(|(_, slot)| slot).collect()
    }

    /// Edges out of `id`, in order.
    pub(crate) fn outgoing<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Edge> + 'a {
        let start = Edge {
            from: NodeId::unchecked(id),
            label: String::new(),
            to: NodeId::sentinel_min(),
        };
        self.edges
            .range(start..)
            .take_while(move |edge| edge.from.as_str() == id)
    }

    /// Edges into `id`, in `(label, from)` order.
    pub(crate) fn incoming<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Edge> + 'a {
        let start = ByTarget(Edge {
            from: NodeId::sentinel_min(),
            label: String::new(),
            to: NodeId::unchecked(id),
        });
        self.edges_in
            .range(start..)
            .map(|by_target| &by_target.0)
            .take_while(move |edge| edge.to.as_str() == id)
    }
}

impl fmt::Debug for Graph {
    /// Counts and digest only: the node map's order must not leak into anything logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("nodes", &self.node_count())
            .field("edges", &self.edge_count())
            .field("digest", &self.digest())
            .finish()
    }
}

/// The first 16 bytes of an id, zero-padded, as a number that orders like the bytes.
fn id_prefix(id: &str) -> u128 {
    let mut bytes = [0u8; 16];
    bytes
        .iter_mut()
        .zip(id.as_bytes())
        .for_each(|(byte, id)| *byte = *id);
    u128::from_be_bytes(bytes)
}
