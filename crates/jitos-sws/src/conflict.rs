//! Conflict detection: a workspace's footprint against the changes its target made
//! since the workspace's base, and the report that names each clash.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};

use crate::{ChangeLog, Footprint, Key, KeyValue, View};

/// Where a workspace collapses to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Target {
    /// The system graph.
    System,
    /// The parent workspace with this id.
    Workspace(u64),
}

/// One key the workspace read or wrote that its target changed since the base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The key.
    pub key: Key,
    /// The workspace read the key itself.
    pub read: bool,
    /// The workspace read the key's node whole (a `node_version` expect or a removal).
    pub read_node: bool,
    /// The workspace wrote the key, and this is its value there now.
    pub wrote: Option<KeyValue>,
    /// The key's value at the workspace's base, before the target changed it.
    pub base: KeyValue,
    /// The seq of the first target change to the key after the base.
    pub changed_at: u64,
}

/// Why a collapse or rebase was refused: every clash, in key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictReport {
    /// The workspace.
    pub workspace: u64,
    /// Its target.
    pub target: Target,
    /// Its base seq.
    pub base_seq: u64,
    /// The clashes, in key order; never empty.
    pub conflicts: Vec<Conflict>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::System => f.write_str("the system"),
            Target::Workspace(id) => write!(f, "workspace {id}"),
        }
    }
}

impl fmt::Display for ConflictReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "workspace {} conflicts with {} on {} key(s) changed since its base at seq {}",
            self.workspace,
            self.target,
            self.conflicts.len(),
            self.base_seq
        )?;
        for conflict in &self.conflicts {
            let did = match (&conflict.wrote, conflict.read || conflict.read_node) {
                (Some(value), _) => format!("wrote {value}"),
                (None, _) if conflict.read => "read it".to_owned(),
                (None, _) => "read its node".to_owned(),
            };
            write!(
                f,
                "; {}: was {} at the base, changed at seq {}, the workspace {did}",
                conflict.key, conflict.base, conflict.changed_at
            )?;
        }
        Ok(())
    }
}

/// The conflicts of a workspace whose target logs its changes in `log`, or `None`.
/// O(footprint × log lookups).
pub(crate) fn check(
    workspace: u64,
    target: Target,
    log: &ChangeLog,
    base_seq: u64,
    footprint: &Footprint,
    now: &dyn View,
) -> Option<ConflictReport> {
    let mut found: BTreeMap<Key, Conflict> = BTreeMap::new();
    let clash = |key: &Key, changed_at: u64, base: &KeyValue| Conflict {
        key: key.clone(),
        read: footprint.reads.contains(key),
        read_node: false,
        wrote: footprint.writes.contains(key).then(|| now.value(key)),
        base: base.clone(),
        changed_at,
    };
    for key in footprint.reads.iter().chain(&footprint.writes) {
        if let Some((changed_at, base)) = log.first_after(key, base_seq) {
            found
                .entry(key.clone())
                .or_insert_with(|| clash(key, changed_at, base));
        }
    }
    for id in &footprint.nodes_read {
        for (key, changed_at, base) in log.changed_touching(id, base_seq) {
            found
                .entry(key.clone())
                .or_insert_with(|| clash(key, changed_at, base))
                .read_node = true;
        }
    }
    if found.is_empty() {
        return None;
    }
    Some(ConflictReport {
        workspace,
        target,
        base_seq,
        conflicts: found.into_values().collect(),
    })
}
