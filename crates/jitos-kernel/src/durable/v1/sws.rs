//! Version 1 of the workspace records' payloads (`sws.*`), laid out exactly as bincode
//! wrote `SwsRecord` and the `jitos_sws` types it holds.

use serde::{Deserialize, Serialize};

use super::warp::{freeze_id, thaw_id, Edge, Id, Rewrite, Value};
use crate::durable::{Frozen, PayloadError};
use crate::sws_record::{self as live, SwsRecord as LiveRecord};

/// The payload of every `sws.*` kind; its variant is the kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum SwsRecord {
    Create {
        over: Over,
    },
    Apply {
        sws: u64,
        rewrite: Rewrite,
    },
    Collapse {
        sws: u64,
        rewrites: Vec<Rewrite>,
    },
    Conflict {
        sws: u64,
        op: RefusedOp,
        report: ConflictReport,
    },
    Rebase {
        sws: u64,
    },
    Discard {
        sws: u64,
        reason: String,
    },
}

/// `jitos_sws::Over`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Over {
    System { at_seq: u64 },
    Workspace { id: u64 },
}

/// `RefusedOp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum RefusedOp {
    Collapse,
    Rebase,
}

/// `jitos_sws::ConflictReport`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ConflictReport {
    workspace: u64,
    target: Target,
    base_seq: u64,
    conflicts: Vec<Conflict>,
}

/// `jitos_sws::Target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Target {
    System,
    Workspace(u64),
}

/// `jitos_sws::Conflict`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Conflict {
    key: Key,
    read: bool,
    read_node: bool,
    wrote: Option<KeyValue>,
    base: KeyValue,
    changed_at: u64,
}

/// `jitos_sws::Key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Key {
    Node(Id),
    Attr(Id, String),
    Edge(Edge),
}

/// `jitos_sws::KeyValue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum KeyValue {
    Node(Option<String>),
    Attr(Option<Value>),
    Edge(bool),
}

impl Frozen for SwsRecord {
    type Live = LiveRecord;

    fn freeze(live: &LiveRecord) -> SwsRecord {
        match live {
            LiveRecord::Create { over } => SwsRecord::Create {
                over: Over::freeze(over),
            },
            LiveRecord::Apply { sws, rewrite } => SwsRecord::Apply {
                sws: *sws,
                rewrite: Rewrite::freeze(rewrite),
            },
            LiveRecord::Collapse { sws, rewrites } => SwsRecord::Collapse {
                sws: *sws,
                rewrites: Frozen::freeze(rewrites),
            },
            LiveRecord::Conflict { sws, op, report } => SwsRecord::Conflict {
                sws: *sws,
                op: RefusedOp::freeze(op),
                report: ConflictReport::freeze(report),
            },
            LiveRecord::Rebase { sws } => SwsRecord::Rebase { sws: *sws },
            LiveRecord::Discard { sws, reason } => SwsRecord::Discard {
                sws: *sws,
                reason: reason.clone(),
            },
        }
    }

    fn thaw(self) -> Result<LiveRecord, PayloadError> {
        Ok(match self {
            SwsRecord::Create { over } => LiveRecord::Create { over: over.thaw()? },
            SwsRecord::Apply { sws, rewrite } => LiveRecord::Apply {
                sws,
                rewrite: rewrite.thaw()?,
            },
            SwsRecord::Collapse { sws, rewrites } => LiveRecord::Collapse {
                sws,
                rewrites: rewrites.thaw()?,
            },
            SwsRecord::Conflict { sws, op, report } => LiveRecord::Conflict {
                sws,
                op: op.thaw()?,
                report: report.thaw()?,
            },
            SwsRecord::Rebase { sws } => LiveRecord::Rebase { sws },
            SwsRecord::Discard { sws, reason } => LiveRecord::Discard { sws, reason },
        })
    }
}

impl Frozen for Over {
    type Live = jitos_sws::Over;

    fn freeze(live: &jitos_sws::Over) -> Over {
        match *live {
            jitos_sws::Over::System { at_seq } => Over::System { at_seq },
            jitos_sws::Over::Workspace { id } => Over::Workspace { id },
        }
    }

    fn thaw(self) -> Result<jitos_sws::Over, PayloadError> {
        Ok(match self {
            Over::System { at_seq } => jitos_sws::Over::System { at_seq },
            Over::Workspace { id } => jitos_sws::Over::Workspace { id },
        })
    }
}

impl Frozen for RefusedOp {
    type Live = live::RefusedOp;

    fn freeze(live: &live::RefusedOp) -> RefusedOp {
        match live {
            live::RefusedOp::Collapse => RefusedOp::Collapse,
            live::RefusedOp::Rebase => RefusedOp::Rebase,
        }
    }

    fn thaw(self) -> Result<live::RefusedOp, PayloadError> {
        Ok(match self {
            RefusedOp::Collapse => live::RefusedOp::Collapse,
            RefusedOp::Rebase => live::RefusedOp::Rebase,
        })
    }
}

impl Frozen for ConflictReport {
    type Live = jitos_sws::ConflictReport;

    fn freeze(live: &jitos_sws::ConflictReport) -> ConflictReport {
        ConflictReport {
            workspace: live.workspace,
            target: Target::freeze(&live.target),
            base_seq: live.base_seq,
            conflicts: Frozen::freeze(&live.conflicts),
        }
    }

    fn thaw(self) -> Result<jitos_sws::ConflictReport, PayloadError> {
        Ok(jitos_sws::ConflictReport {
            workspace: self.workspace,
            target: self.target.thaw()?,
            base_seq: self.base_seq,
            conflicts: self.conflicts.thaw()?,
        })
    }
}

impl Frozen for Target {
    type Live = jitos_sws::Target;

    fn freeze(live: &jitos_sws::Target) -> Target {
        match *live {
            jitos_sws::Target::System => Target::System,
            jitos_sws::Target::Workspace(id) => Target::Workspace(id),
        }
    }

    fn thaw(self) -> Result<jitos_sws::Target, PayloadError> {
        Ok(match self {
            Target::System => jitos_sws::Target::System,
            Target::Workspace(id) => jitos_sws::Target::Workspace(id),
        })
    }
}

impl Frozen for Conflict {
    type Live = jitos_sws::Conflict;

    fn freeze(live: &jitos_sws::Conflict) -> Conflict {
        Conflict {
            key: Key::freeze(&live.key),
            read: live.read,
            read_node: live.read_node,
            wrote: Frozen::freeze(&live.wrote),
            base: KeyValue::freeze(&live.base),
            changed_at: live.changed_at,
        }
    }

    fn thaw(self) -> Result<jitos_sws::Conflict, PayloadError> {
        Ok(jitos_sws::Conflict {
            key: self.key.thaw()?,
            read: self.read,
            read_node: self.read_node,
            wrote: self.wrote.thaw()?,
            base: self.base.thaw()?,
            changed_at: self.changed_at,
        })
    }
}

impl Frozen for Key {
    type Live = jitos_sws::Key;

    fn freeze(live: &jitos_sws::Key) -> Key {
        match live {
            jitos_sws::Key::Node(id) => Key::Node(freeze_id(id)),
            jitos_sws::Key::Attr(id, key) => Key::Attr(freeze_id(id), key.clone()),
            jitos_sws::Key::Edge(edge) => Key::Edge(Edge::freeze(edge)),
        }
    }

    fn thaw(self) -> Result<jitos_sws::Key, PayloadError> {
        Ok(match self {
            Key::Node(id) => jitos_sws::Key::Node(thaw_id(id)?),
            Key::Attr(id, key) => jitos_sws::Key::Attr(thaw_id(id)?, key),
            Key::Edge(edge) => jitos_sws::Key::Edge(edge.thaw()?),
        })
    }
}

impl Frozen for KeyValue {
    type Live = jitos_sws::KeyValue;

    fn freeze(live: &jitos_sws::KeyValue) -> KeyValue {
        match live {
            jitos_sws::KeyValue::Node(kind) => KeyValue::Node(kind.clone()),
            jitos_sws::KeyValue::Attr(value) => KeyValue::Attr(Frozen::freeze(value)),
            jitos_sws::KeyValue::Edge(exists) => KeyValue::Edge(*exists),
        }
    }

    fn thaw(self) -> Result<jitos_sws::KeyValue, PayloadError> {
        Ok(match self {
            KeyValue::Node(kind) => jitos_sws::KeyValue::Node(kind),
            KeyValue::Attr(value) => jitos_sws::KeyValue::Attr(value.thaw()?),
            KeyValue::Edge(exists) => jitos_sws::KeyValue::Edge(exists),
        })
    }
}
