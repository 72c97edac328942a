//! `Graph::apply`: static validation, then preconditions, then the ops in order, all or
//! nothing, with the elements each op adds or removes queued for hashing in batches.

use std::{collections::BTreeMap, sync::OnceLock};

use crate::{
    applied::{Change, KeyArena},
    digest::{Delta, PendingElements},
    graph::{ByTarget, Slot},
    limits::{ATTRS_PER_NODE_MAX, CHANGES_PER_REWRITE_MAX},
    Applied, Edge, Graph, Node, NodeId, NodeRole, Op, Rewrite, RewriteError, Value,
};

/// What the ops of one apply did so far.
struct Log {
    changes: Vec<Change>,
    keys: KeyArena,
    pending: PendingElements,
}

impl Graph {
    /// Applies a rewrite atomically.
    ///
    /// Order: `Rewrite::validate`; every expect against the state before any op; then each
    /// op against the state the previous ones left. On any error the graph is exactly as
    /// before (content, digest and versions). On success, the returned `Applied` can
    /// produce the inverse rewrite or be handed to `undo`.
    pub fn apply(&mut self, rewrite: &Rewrite) -> Result<Applied, RewriteError> {
        rewrite.validate()?;
        self.check_preconditions(&rewrite.expect)?;
        let acc_before = self.acc.clone();
        let mut log = Log {
            changes: Vec::with_capacity(rewrite.ops.len()),
            keys: KeyArena::default(),
            pending: PendingElements::new(),
        };
        for (index, op) in rewrite.ops.iter().enumerate() {
            if let Err(error) = self.apply_op(index, op, &mut log) {
                self.revert(log.changes, &log.keys);
                self.acc = acc_before;
                return Err(error);
            }
            if log.pending.should_flush() {
                log.pending.flush(&mut self.acc);
            }
        }
        log.pending.flush(&mut self.acc);
        let state_before = self.state;
        self.state_last = self.state_last.wrapping_add(1);
        self.state = self.state_last;
        Ok(Applied {
            changes: log.changes,
            keys: log.keys,
            touched: OnceLock::new(),
            acc_before,
            state_before,
            state_after: self.state,
        })
    }

    /// Applies one op. Each op checks everything before it changes anything, so an error
    /// leaves only the changes of earlier ops, all of them in the log.
    fn apply_op(&mut self, index: usize, op: &Op, log: &mut Log) -> Result<(), RewriteError> {
        match op {
            Op::AddNode { id, kind, attrs } => self.add_node(index, id, kind, attrs, log),
            Op::RemoveNode { id, cascade } => self.remove_node(index, id, *cascade, log),
            Op::SetAttr { node, key, value } => self.set_attr(index, node, key, value, log),
            Op::RemoveAttr { node, key } => self.remove_attr(index, node, key, log),
            Op::AddEdge { from, to, label } => self.add_edge(index, from, to, label, log),
            Op::RemoveEdge { from, to, label } => self.remove_edge(index, from, to, label, log),
        }
    }

    fn add_node(
        &mut self,
        index: usize,
        id: &NodeId,
        kind: &str,
        attrs: &BTreeMap<String, Value>,
        log: &mut Log,
    ) -> Result<(), RewriteError> {
        let slot = Slot {
            node: Node {
                id: id.clone(),
                kind: kind.to_owned(),
                attrs: attrs.clone(),
                version: 1,
            },
            degree: 0,
        };
        if !self.slots.insert_new(id.clone(), slot) {
            return Err(RewriteError::DuplicateNode {
                index,
                id: id.clone(),
            });
        }
        log.pending.node(Delta::In, id.as_str(), kind);
        for (key, value) in attrs {
            log.pending.attr(Delta::In, id.as_str(), key, value);
        }
        log.changes.push(Change::NodeAdded { id: id.clone() });
        Ok(())
    }

    fn remove_node(
        &mut self,
        index: usize,
        id: &NodeId,
        cascade: bool,
        log: &mut Log,
    ) -> Result<(), RewriteError> {
        let Some(slot) = self.slots.get(id.as_str()) else {
            return Err(RewriteError::MissingNode {
                index,
                id: id.clone(),
                role: NodeRole::Subject,
            });
        };
        let degree = slot.degree;
        if degree > 0 {
            if !cascade {
                return Err(RewriteError::NodeHasEdges {
                    index,
                    id: id.clone(),
                    edges: degree,
                });
            }
            if log.changes.len() + degree + 1 > CHANGES_PER_REWRITE_MAX {
                return Err(RewriteError::TooManyChanges {
                    index,
                    max: CHANGES_PER_REWRITE_MAX,
                });
            }
            self.remove_incident_edges(id, log);
        }
        if let Some(slot) = self.slots.remove(id.as_str()) {
            let node = slot.node;
            log.pending.node(Delta::Out, node.id.as_str(), &node.kind);
            for (key, value) in &node.attrs {
                log.pending.attr(Delta::Out, node.id.as_str(), key, value);
            }
            log.changes.push(Change::NodeRemoved {
                node: Box::new(node),
            });
        }
        Ok(())
    }

    /// Removes every edge touching `id`. Each neighbour's version grows once for the whole
    /// op, however many edges it loses; the node itself is about to go.
    fn remove_incident_edges(&mut self, id: &NodeId, log: &mut Log) {
        let mut neighbours = Vec::new();
        for edge in self.edges_of(id.as_str()) {
            let versions = self.versions_of(&edge);
            self.unlink(&edge);
            log.pending.edge(
                Delta::Out,
                edge.from.as_str(),
                &edge.label,
                edge.to.as_str(),
            );
            let other = if edge.from == *id {
                &edge.to
            } else {
                &edge.from
            };
            if other != id {
                neighbours.push(other.clone());
            }
            log.changes.push(Change::EdgeRemoved { edge, versions });
        }
        neighbours.sort_unstable();
        neighbours.dedup();
        for neighbour in &neighbours {
            self.bump(neighbour);
        }
    }

    fn set_attr(
        &mut self,
        index: usize,
        node: &NodeId,
        key: &str,
        value: &Value,
        log: &mut Log,
    ) -> Result<(), RewriteError> {
        let Some(slot) = self.slots.get_mut(node.as_str()) else {
            return Err(RewriteError::MissingNode {
                index,
                id: node.clone(),
                role: NodeRole::Subject,
            });
        };
        let target = &mut slot.node;
        let version = target.version;
        let old = match target.attrs.get_mut(key) {
            // Setting the value it already holds changes nothing: no version, no history.
            Some(current) if current == value => return Ok(()),
            Some(current) => {
                log.pending.attr(Delta::Out, node.as_str(), key, current);
                log.pending.attr(Delta::In, node.as_str(), key, value);
                Some(std::mem::replace(current, value.clone()))
            }
            None => {
                if target.attrs.len() >= ATTRS_PER_NODE_MAX {
                    return Err(RewriteError::TooManyAttrs {
                        index,
                        node: node.clone(),
                        key: key.to_owned(),
                        max: ATTRS_PER_NODE_MAX,
                    });
                }
                log.pending.attr(Delta::In, node.as_str(), key, value);
                target.attrs.insert(key.to_owned(), value.clone());
                None
            }
        };
        target.version = version.saturating_add(1);
        log.changes.push(Change::AttrSet {
            node: target.id.clone(),
            key: log.keys.push(key),
            old,
            version,
        });
        Ok(())
    }

    fn remove_attr(
        &mut self,
        index: usize,
        node: &NodeId,
        key: &str,
        log: &mut Log,
    ) -> Result<(), RewriteError> {
        let Some(slot) = self.slots.get_mut(node.as_str()) else {
            return Err(RewriteError::MissingNode {
                index,
                id: node.clone(),
                role: NodeRole::Subject,
            });
        };
        let target = &mut slot.node;
        let Some((key, old)) = target.attrs.remove_entry(key) else {
            return Err(RewriteError::MissingAttr {
                index,
                node: node.clone(),
                key: key.to_owned(),
            });
        };
        log.pending.attr(Delta::Out, node.as_str(), &key, &old);
        let version = target.version;
        target.version = version.saturating_add(1);
        log.changes.push(Change::AttrRemoved {
            node: target.id.clone(),
            key,
            old,
            version,
        });
        Ok(())
    }

    fn add_edge(
        &mut self,
        index: usize,
        from: &NodeId,
        to: &NodeId,
        label: &str,
        log: &mut Log,
    ) -> Result<(), RewriteError> {
        let (from, to) = self.endpoints(index, from, to)?;
        let edge = Edge {
            from,
            label: label.to_owned(),
            to,
        };
        if self.edges.contains(&edge) {
            return Err(RewriteError::DuplicateEdge { index, edge });
        }
        let versions = self.versions_of(&edge);
        log.pending
            .edge(Delta::In, edge.from.as_str(), label, edge.to.as_str());
        self.link(edge.clone());
        self.bump_ends(&edge);
        log.changes.push(Change::EdgeAdded { edge, versions });
        Ok(())
    }

    fn remove_edge(
        &mut self,
        index: usize,
        from: &NodeId,
        to: &NodeId,
        label: &str,
        log: &mut Log,
    ) -> Result<(), RewriteError> {
        let (from, to) = self.endpoints(index, from, to)?;
        let edge = Edge {
            from,
            label: label.to_owned(),
            to,
        };
        if !self.edges.contains(&edge) {
            return Err(RewriteError::MissingEdge { index, edge });
        }
        let versions = self.versions_of(&edge);
        self.unlink(&edge);
        log.pending
            .edge(Delta::Out, edge.from.as_str(), label, edge.to.as_str());
        self.bump_ends(&edge);
        log.changes.push(Change::EdgeRemoved { edge, versions });
        Ok(())
    }

    /// The graph's own ids of an edge's two ends, so that edges share the nodes' id
    /// allocations rather than the rewrite's; an error names the missing end.
    fn endpoints(
        &self,
        index: usize,
        from: &NodeId,
        to: &NodeId,
    ) -> Result<(NodeId, NodeId), RewriteError> {
        let find = |id: &NodeId, role: NodeRole| {
            self.slots
                .get(id.as_str())
                .map(|slot| slot.node.id.clone())
                .ok_or_else(|| RewriteError::MissingNode {
                    index,
                    id: id.clone(),
                    role,
                })
        };
        Ok((find(from, NodeRole::From)?, find(to, NodeRole::To)?))
    }

    /// The versions of an edge's two ends, as `undo` must restore them.
    fn versions_of(&self, edge: &Edge) -> (u64, u64) {
        let version = |id: &NodeId| self.slots.get(id.as_str()).map_or(0, |s| s.node.version);
        (version(&edge.from), version(&edge.to))
    }

    /// Bumps both ends of an edge, a self-loop's node once.
    fn bump_ends(&mut self, edge: &Edge) {
        self.bump(&edge.from);
        if edge.to != edge.from {
            self.bump(&edge.to);
        }
    }

    fn bump(&mut self, id: &NodeId) {
        if let Some(slot) = self.slots.get_mut(id.as_str()) {
            slot.node.version = slot.node.version.saturating_add(1);
        }
    }

    /// Inserts an edge into both indexes and counts it on its ends. No digest, no version.
    pub(crate) fn link(&mut self, edge: Edge) {
        self.adjust_degree(&edge, true);
        self.edges_in.insert(ByTarget(edge.clone()));
        self.edges.insert(edge);
    }

    /// Removes an edge from both indexes and its ends' counts. No digest, no version.
    pub(crate) fn unlink(&mut self, edge: &Edge) {
        self.adjust_degree(edge, false);
        self.edges_in.remove(&ByTarget(edge.clone()));
        self.edges.remove(edge);
    }

    fn adjust_degree(&mut self, edge: &Edge, up: bool) {
        let ends: &[&NodeId] = if edge.from == edge.to {
            &[&edge.from]
        } else {
            &[&edge.from, &edge.to]
        };
        for id in ends {
            if let Some(slot) = self.slots.get_mut(id.as_str()) {
                slot.degree = if up {
                    slot.degree.saturating_add(1)
                } else {
                    slot.degree.saturating_sub(1)
                };
            }
        }
    }
}
