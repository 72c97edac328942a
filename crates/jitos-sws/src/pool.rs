//! `Pool`: every workspace and the system's change log; the crate's API.

use std::sync::Arc;

use jitos_warp::{Graph, Rewrite};
use serde::{Deserialize, Serialize};

use crate::{
    conflict::check,
    limits::{NESTING_DEPTH_MAX, OVERLAY_ENTRIES_MAX, REASON_BYTES_MAX, WORKSPACES_OPEN_MAX},
    net, scratch, AsOf, ChangeLog, Footprint, KeyDiff, Merged, Overlay, Status, SwsError, Target,
    Workspace,
};

/// All workspaces, open and closed, and the change log of the system graph.
///
/// The pool holds no graph: every call that reads the system takes it as of the pool's
/// latest seq. Every mutating call takes the ledger seq of the record the kernel made
/// for it: workspace operations strictly increasing, system commits (`commit_system`,
/// `finish_system_commit`) non-decreasing, so that a collapse and the system commit of
/// its rewrites share one seq. The state as of seq S includes every record at or
/// below S.
///
/// Serializable with serde (ordered maps only), so the kernel can put it in snapshots;
/// derived indexes are rebuilt on decoding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// Persistent, each workspace shared: a copy of the pool costs O(1), and changing a
    /// workspace copies that workspace only while a copy shares it.
    workspaces: imbl::OrdMap<u64, Arc<Workspace>>,
    open: imbl::OrdSet<u64>,
    pub(crate) system_log: Arc<ChangeLog>,
    pub(crate) seq_last: u64,
}

/// What a new workspace sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Over {
    /// The system graph as of this seq (at or above the system log's floor).
    System {
        /// The base seq.
        at_seq: u64,
    },
    /// An open workspace, as of the creation's seq.
    Workspace {
        /// The parent's id.
        id: u64,
    },
}

/// A successful collapse: the workspace's net changes as rewrites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collapse {
    /// The workspace collapsed.
    pub workspace: u64,
    /// Where its changes went.
    pub target: Target,
    /// The net changes, in an order that validates. For `Target::System` the kernel
    /// applies them to the system graph and passes them to `commit_system` at the
    /// collapse's seq; for a parent workspace the pool has applied them already.
    pub rewrites: Vec<Rewrite>,
}

impl Pool {
    /// An empty pool.
    pub fn new() -> Pool {
        Pool::default()
    }

    /// The workspace with this id, open or closed.
    pub fn workspace(&self, id: u64) -> Option<&Workspace> {
        self.workspaces.get(&id).map(Arc::as_ref)
    }

    /// Every workspace, in id order.
    pub fn workspaces(&self) -> impl Iterator<Item = &Workspace> + '_ {
        self.workspaces.values().map(Arc::as_ref)
    }

    /// The workspaces with an id above `after`, in id order: a page from a cursor in
    /// O(log n) to its start.
    pub fn workspaces_after(&self, after: u64) -> impl Iterator<Item = &Workspace> + '_ {
        self.workspaces
            .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
            .map(|(_, ws)| ws.as_ref())
    }

    /// Number of open workspaces.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// The system's change log.
    pub fn system_log(&self) -> &ChangeLog {
        &self.system_log
    }

    /// The latest seq the pool has seen.
    pub fn seq_last(&self) -> u64 {
        self.seq_last
    }

    /// Creates workspace `id` over the system or an open workspace, in O(1) of the graph.
    pub fn create(&mut self, id: u64, over: Over, seq: u64) -> Result<(), SwsError> {
        self.check_seq(seq)?;
        if self.workspaces.contains_key(&id) {
            return Err(SwsError::DuplicateId { id });
        }
        if self.open.len() >= WORKSPACES_OPEN_MAX {
            return Err(SwsError::TooManyOpen {
                max: WORKSPACES_OPEN_MAX,
            });
        }
        let (parent, base_seq, depth) = match over {
            Over::System { at_seq } => {
                if at_seq > seq {
                    return Err(SwsError::BaseInFuture { at_seq, seq });
                }
                let floor = self.system_log.floor();
                if at_seq < floor {
                    return Err(SwsError::BaseTooOld { at_seq, floor });
                }
                (None, at_seq, 1)
            }
            Over::Workspace { id: parent } => {
                let depth = self.open_ws(parent)?.depth + 1;
                if depth > NESTING_DEPTH_MAX {
                    return Err(SwsError::TooDeep {
                        depth,
                        max: NESTING_DEPTH_MAX,
                    });
                }
                (Some(parent), seq, depth)
            }
        };
        self.target_log_mut(parent).add_reader(id, base_seq);
        self.workspaces.insert(
            id,
            Arc::new(Workspace {
                id,
                parent,
                base_seq,
                depth,
                overlay: Overlay::default(),
                footprint: Footprint::default(),
                log: ChangeLog::new(seq),
                status: Status::Open,
            }),
        );
        self.open.insert(id);
        self.seq_last = seq;
        Ok(())
    }

    /// The workspace's state: its overlay over its base. `system` is the system graph now.
    pub fn view<'a>(&'a self, system: &'a Graph, id: u64) -> Result<Merged<'a>, SwsError> {
        let ws = self.open_ws(id)?;
        Ok(Merged::new(
            Box::new(self.base_view(system, id)?),
            &ws.overlay,
        ))
    }

    /// The workspace's base: its target as of its base seq.
    pub fn base_view<'a>(&'a self, system: &'a Graph, id: u64) -> Result<AsOf<'a>, SwsError> {
        let ws = self.open_ws(id)?;
        Ok(match ws.parent {
            None => AsOf::new(Box::new(system), self.system_log.as_ref(), ws.base_seq),
            Some(parent) => AsOf::new(
                Box::new(self.view(system, parent)?),
                &self.open_ws(parent)?.log,
                ws.base_seq,
            ),
        })
    }

    /// Applies a rewrite in the workspace, with exactly the system's validation. On
    /// refusal nothing changes. Cost: the rewrite's size (plus the attributes and edges
    /// of nodes it removes), not the graph's.
    pub fn apply(
        &mut self,
        system: &Graph,
        id: u64,
        rewrite: &Rewrite,
        seq: u64,
    ) -> Result<(), SwsError> {
        self.check_seq(seq)?;
        let rewrites = std::slice::from_ref(rewrite);
        let changes = scratch::run(&self.view(system, id)?, rewrites)?;
        let ws = self.open_ws_mut(id)?;
        check_overlay_room(ws, changes.keys.len())?;
        ws.overlay.absorb(&changes);
        ws.footprint.read(rewrites);
        ws.footprint
            .writes
            .extend(changes.keys.iter().map(|(key, _, _)| key.clone()));
        ws.log.record(seq, &changes);
        self.seq_last = seq;
        Ok(())
    }

    /// The workspace's net changes against its base, in key order.
    pub fn diff(&self, system: &Graph, id: u64) -> Result<Vec<KeyDiff>, SwsError> {
        let ws = self.open_ws(id)?;
        Ok(net::diff(&self.base_view(system, id)?, &ws.overlay))
    }

    /// The rewrites collapsing the workspace would apply to its target: its net changes
    /// against its base, whether or not the target changed underneath (that check is
    /// `collapse`'s). O(changes).
    pub fn net_rewrites(&self, system: &Graph, id: u64) -> Result<Vec<Rewrite>, SwsError> {
        let ws = self.open_ws(id)?;
        let base = self.base_view(system, id)?;
        let now = self.view(system, id)?;
        let diffs = net::diff(&base, &ws.overlay);
        Ok(net::rewrites(&base, &now, &diffs))
    }

    /// Commits the workspace's net changes into its target, unless the target changed,
    /// since the base, a key the workspace read or wrote: then `SwsError::Conflicts`
    /// names each, and nothing changes. O(changes) plus the footprint's log lookups.
    ///
    /// Into the system, the kernel applies `Collapse::rewrites`; into a parent, the pool
    /// applies them to the parent's overlay (as the parent's writes, in its log), and the
    /// child's reads become the parent's.
    pub fn collapse(&mut self, system: &Graph, id: u64, seq: u64) -> Result<Collapse, SwsError> {
        self.check_seq(seq)?;
        self.check_conflicts(system, id)?;
        let ws = self.closable(id)?;
        let (parent, base_seq) = (ws.parent, ws.base_seq);
        let rewrites = self.net_rewrites(system, id)?;
        let parent_changes = match parent {
            Some(parent) => Some(scratch::run(&self.view(system, parent)?, &rewrites)?),
            None => None,
        };
        if let (Some(parent), Some(changes)) = (&parent, &parent_changes) {
            check_overlay_room(self.open_ws(*parent)?, changes.keys.len())?;
        }
        let child_footprint = self.open_ws(id)?.footprint.clone();
        self.target_log_mut(parent).remove_reader(id, base_seq, seq);
        if let (Some(parent), Some(changes)) = (parent, parent_changes) {
            let target = self.open_ws_mut(parent)?;
            target.overlay.absorb(&changes);
            target.footprint.read(&rewrites);
            target.footprint.read_all(&child_footprint);
            target
                .footprint
                .writes
                .extend(changes.keys.iter().map(|(key, _, _)| key.clone()));
            target.log.record(seq, &changes);
        }
        self.close(id, Status::Collapsed { seq })?;
        self.seq_last = seq;
        Ok(Collapse {
            workspace: id,
            target: parent.map_or(Target::System, Target::Workspace),
            rewrites,
        })
    }

    /// Moves the workspace's base to its target as of `seq` (now), keeping its overlay
    /// and footprint, unless the target changed a key of its footprint since the base.
    pub fn rebase(&mut self, system: &Graph, id: u64, seq: u64) -> Result<(), SwsError> {
        self.check_seq(seq)?;
        self.check_conflicts(system, id)?;
        let ws = self.closable(id)?;
        let (parent, base_seq) = (ws.parent, ws.base_seq);
        let log = self.target_log_mut(parent);
        log.remove_reader(id, base_seq, seq);
        log.add_reader(id, seq);
        self.open_ws_mut(id)?.base_seq = seq;
        self.seq_last = seq;
        Ok(())
    }

    /// Discards the workspace; the system and its target are untouched. It stays in the
    /// pool, with its overlay and footprint, until it is forgotten.
    pub fn discard(&mut self, id: u64, reason: &str, seq: u64) -> Result<(), SwsError> {
        self.check_seq(seq)?;
        if reason.len() > REASON_BYTES_MAX {
            return Err(SwsError::ReasonTooLong {
                bytes: reason.len(),
                max: REASON_BYTES_MAX,
            });
        }
        let ws = self.closable(id)?;
        let (parent, base_seq) = (ws.parent, ws.base_seq);
        self.target_log_mut(parent).remove_reader(id, base_seq, seq);
        self.close(
            id,
            Status::Discarded {
                seq,
                reason: reason.to_owned(),
            },
        )?;
        self.seq_last = seq;
        Ok(())
    }

    /// Removes a closed workspace from the pool (the kernel's retention decision) and
    /// returns it, shared with any copy of the pool that still holds it.
    pub fn forget(&mut self, id: u64) -> Result<Arc<Workspace>, SwsError> {
        match self.workspace(id) {
            None => Err(SwsError::UnknownWorkspace { id }),
            Some(ws) if ws.is_open() => Err(SwsError::StillOpen { id }),
            Some(_) => self
                .workspaces
                .remove(&id)
                .ok_or(SwsError::UnknownWorkspace { id }),
        }
    }

    fn check_conflicts(&self, system: &Graph, id: u64) -> Result<(), SwsError> {
        let ws = self.closable(id)?;
        let (target, log) = match ws.parent {
            None => (Target::System, self.system_log.as_ref()),
            Some(parent) => (Target::Workspace(parent), &self.open_ws(parent)?.log),
        };
        let now = self.view(system, id)?;
        match check(id, target, log, ws.base_seq, &ws.footprint, &now) {
            None => Ok(()),
            Some(report) => Err(SwsError::Conflicts(Box::new(report))),
        }
    }

    /// An open workspace without open children: one that may collapse, rebase or close.
    fn closable(&self, id: u64) -> Result<&Workspace, SwsError> {
        let ws = self.open_ws(id)?;
        if ws.log.has_readers() {
            return Err(SwsError::HasOpenChildren {
                id,
                children: ws.log.readers().map(|(_, child)| *child).collect(),
            });
        }
        Ok(ws)
    }

    fn close(&mut self, id: u64, status: Status) -> Result<(), SwsError> {
        let ws = self.open_ws_mut(id)?;
        ws.status = status;
        self.open.remove(&id);
        Ok(())
    }

    fn check_seq(&self, seq: u64) -> Result<(), SwsError> {
        if seq <= self.seq_last {
            return Err(SwsError::SeqOutOfOrder {
                seq,
                last: self.seq_last,
            });
        }
        Ok(())
    }

    fn target_log_mut(&mut self, parent: Option<u64>) -> &mut ChangeLog {
        match parent.and_then(|parent| self.workspaces.get_mut(&parent)) {
            Some(ws) => &mut Arc::make_mut(ws).log,
            None => Arc::make_mut(&mut self.system_log),
        }
    }

    fn open_ws(&self, id: u64) -> Result<&Workspace, SwsError> {
        let ws = self
            .workspace(id)
            .ok_or(SwsError::UnknownWorkspace { id })?;
        if !ws.is_open() {
            return Err(SwsError::Closed {
                id,
                status: ws.status.clone(),
            });
        }
        Ok(ws)
    }

    fn open_ws_mut(&mut self, id: u64) -> Result<&mut Workspace, SwsError> {
        self.open_ws(id)?;
        self.workspaces
            .get_mut(&id)
            .map(Arc::make_mut)
            .ok_or(SwsError::UnknownWorkspace { id })
    }
}

/// Refuses a change of `keys` keys that could take the overlay past `OVERLAY_ENTRIES_MAX`
/// (each key adds at most one entry).
fn check_overlay_room(ws: &Workspace, keys: usize) -> Result<(), SwsError> {
    let entries = ws.overlay.entries().saturating_add(keys);
    if entries > OVERLAY_ENTRIES_MAX {
        return Err(SwsError::OverlayTooLarge {
            id: ws.id,
            entries,
            max: OVERLAY_ENTRIES_MAX,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the overlay limit refuses exactly past OVERLAY_ENTRIES_MAX. Method: ask an
    // empty workspace for room for the limit, then for one more.
    #[test]
    fn overlay_room_is_refused_past_the_limit() {
        let mut pool = Pool::new();
        assert!(pool.create(1, Over::System { at_seq: 0 }, 1).is_ok());
        let Some(ws) = pool.workspace(1) else {
            panic!("the workspace was not created");
        };
        assert!(check_overlay_room(ws, OVERLAY_ENTRIES_MAX).is_ok());
        assert!(matches!(
            check_overlay_room(ws, OVERLAY_ENTRIES_MAX + 1),
            Err(SwsError::OverlayTooLarge { id: 1, .. })
        ));
    }
}
