//! `ChangeLog`: for one target (the system or a workspace), every change to every key
//! after a floor sequence number, with the value just before it, so that the target can
//! be read as of any later sequence number and conflicts can name the change.

use imbl::{OrdMap, OrdSet};
use jitos_warp::NodeId;
use serde::{Deserialize, Serialize, Serializer};

use crate::{capture::Changes, Key, KeyValue};

/// The changes made to one target after `floor`, kept while some open workspace reads
/// the target as of a sequence number at or above the floor.
///
/// Memory is proportional to the changes made since the oldest open reader's base;
/// with no reader, `record` keeps nothing and only moves the floor. The maps are
/// persistent, so the copy of the state each write makes and each published view shares
/// them, paying only for the paths a change touches; they encode as the ordered maps
/// and sets they replaced, byte for byte.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "LogData")]
pub struct ChangeLog {
    data: LogData,
    /// For each node, the keys in `data.keys` that belong to it (an edge to both ends).
    by_node: OrdMap<NodeId, OrdSet<Key>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct LogData {
    /// Per key, `(seq, value before the change at seq)`, in seq order.
    keys: OrdMap<Key, Vec<(u64, KeyValue)>>,
    /// Per node, `(seq, version before the change at seq)`, 0 meaning absent.
    versions: OrdMap<NodeId, Vec<(u64, u64)>>,
    /// The open workspaces reading this target, as `(base seq, workspace id)`.
    readers: OrdSet<(u64, u64)>,
    /// The log holds every change with a seq above this one.
    floor: u64,
}

impl From<LogData> for ChangeLog {
    fn from(data: LogData) -> ChangeLog {
        // The index is derived, so it is rebuilt rather than trusted from the input.
        let mut by_node: OrdMap<NodeId, OrdSet<Key>> = OrdMap::new();
        for key in data.keys.keys() {
            for id in key.nodes() {
                by_node.entry(id.clone()).or_default().insert(key.clone());
            }
        }
        ChangeLog { data, by_node }
    }
}

impl Serialize for ChangeLog {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.data.serialize(serializer)
    }
}

impl ChangeLog {
    /// An empty log that holds every change after `floor`.
    pub fn new(floor: u64) -> ChangeLog {
        ChangeLog::from(LogData {
            floor,
            ..LogData::default()
        })
    }

    /// The log holds every change with a seq above this one.
    pub fn floor(&self) -> u64 {
        self.data.floor
    }

    /// Whether some open workspace reads this target, so changes must be kept.
    pub fn has_readers(&self) -> bool {
        !self.data.readers.is_empty()
    }

    /// The open workspaces reading this target, as `(base seq, workspace id)`.
    pub fn readers(&self) -> impl Iterator<Item = &(u64, u64)> + '_ {
        self.data.readers.iter()
    }

    /// Number of changes held, over all keys.
    pub fn len(&self) -> usize {
        self.data.keys.values().map(Vec::len).sum()
    }

    /// Whether the log holds no change.
    pub fn is_empty(&self) -> bool {
        self.data.keys.is_empty()
    }

    /// The first change to `key` after `seq`: its seq and the key's value before it,
    /// which is the value as of `seq`.
    pub fn first_after(&self, key: &Key, seq: u64) -> Option<(u64, &KeyValue)> {
        let entries = self.data.keys.get(key)?;
        let at = entries.partition_point(|(change, _)| *change <= seq);
        entries.get(at).map(|(change, value)| (*change, value))
    }

    /// A node's version as of `seq` (0: absent), if it changed after `seq`.
    pub fn version_after(&self, id: &NodeId, seq: u64) -> Option<u64> {
        let entries = self.data.versions.get(id)?;
        let at = entries.partition_point(|(change, _)| *change <= seq);
        entries.get(at).map(|(_, version)| *version)
    }

    /// Every key of a node (its existence, its attributes, its edges) that changed after
    /// `seq`, in key order, with the first such change.
    pub fn changed_touching(&self, id: &NodeId, seq: u64) -> Vec<(&Key, u64, &KeyValue)> {
        self.by_node
            .get(id)
            .into_iter()
            .flat_map(OrdSet::iter)
            .filter_map(|key| {
                self.first_after(key, seq)
                    .map(|(change, value)| (key, change, value))
            })
            .collect()
    }

    /// Every key of a node that has changes in the log, in key order.
    pub(crate) fn keys_of(&self, id: &NodeId) -> impl Iterator<Item = &Key> + '_ {
        self.by_node.get(id).into_iter().flat_map(OrdSet::iter)
    }

    /// Every node key in the log.
    pub(crate) fn node_keys(&self) -> impl Iterator<Item = &NodeId> + '_ {
        self.data.keys.keys().filter_map(|key| match key {
            Key::Node(id) => Some(id),
            _ => None,
        })
    }

    /// Records what one operation at `seq` changed; with no reader, keeps nothing and
    /// moves the floor to `seq` instead.
    pub(crate) fn record(&mut self, seq: u64, changes: &Changes) {
        if !self.has_readers() {
            self.data.floor = self.data.floor.max(seq);
            return;
        }
        for (key, before, _) in &changes.keys {
            for id in key.nodes() {
                self.by_node
                    .entry(id.clone())
                    .or_default()
                    .insert(key.clone());
            }
            self.data
                .keys
                .entry(key.clone())
                .or_default()
                .push((seq, before.clone()));
        }
        for node in &changes.nodes {
            let after = node.after.as_ref().map_or(0, |(_, version)| *version);
            if after != node.version_before {
                self.data
                    .versions
                    .entry(node.id.clone())
                    .or_default()
                    .push((seq, node.version_before));
            }
        }
    }

    /// Adds a reader that reads this target as of `base`.
    pub(crate) fn add_reader(&mut self, id: u64, base: u64) {
        self.data.readers.insert((base, id));
    }

    /// Removes a reader, then drops what no remaining reader needs. With no reader left
    /// the log empties and its floor becomes `now`, the latest seq the caller has seen.
    pub(crate) fn remove_reader(&mut self, id: u64, base: u64, now: u64) {
        self.data.readers.remove(&(base, id));
        match self.data.readers.get_min() {
            None => {
                self.data.keys.clear();
                self.data.versions.clear();
                self.by_node.clear();
                self.data.floor = self.data.floor.max(now);
            }
            Some(&(oldest, _)) => self.prune(oldest),
        }
    }

    /// Drops every change at or below `floor`, which no reader can need any more.
    /// Linear in the change log's size; runs only when the oldest reader's base moves up.
    fn prune(&mut self, floor: u64) {
        if floor <= self.data.floor {
            return;
        }
        self.data.floor = floor;
        let pruned: Vec<Key> = self
            .data
            .keys
            .iter()
            .filter(|(_, entries)| holds_at_or_below(entries, floor))
            .map(|(key, _)| key.clone())
            .collect();
        for key in pruned {
            let Some(entries) = self.data.keys.get_mut(&key) else {
                continue;
            };
            entries.retain(|(seq, _)| *seq > floor);
            if !entries.is_empty() {
                continue;
            }
            self.data.keys.remove(&key);
            for id in key.nodes() {
                if let Some(keys) = self.by_node.get_mut(id) {
                    keys.remove(&key);
                    if keys.is_empty() {
                        self.by_node.remove(id);
                    }
                }
            }
        }
        let pruned: Vec<NodeId> = self
            .data
            .versions
            .iter()
            .filter(|(_, entries)| holds_at_or_below(entries, floor))
            .map(|(id, _)| id.clone())
            .collect();
        for id in pruned {
            let Some(entries) = self.data.versions.get_mut(&id) else {
                continue;
            };
            entries.retain(|(seq, _)| *seq > floor);
            if entries.is_empty() {
                self.data.versions.remove(&id);
            }
        }
    }
}

/// Whether pruning at `floor` changes `entries`: some are at or below it, or there are
/// none (a key without changes is dropped).
fn holds_at_or_below<T>(entries: &[(u64, T)], floor: u64) -> bool {
    entries.is_empty() || entries.iter().any(|(seq, _)| *seq <= floor)
}
