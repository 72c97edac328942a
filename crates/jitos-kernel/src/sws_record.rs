//! Workspace records: one kind per workspace operation, and their payloads.

use jitos_sws::{ConflictReport, Over, SwsError};
use jitos_warp::Rewrite;

use crate::{
    durable::{self, v1, Frozen},
    KernelError, State,
};

/// A workspace was created; its id is the record's seq.
pub const KIND_SWS_CREATE: &str = "sws.create";
/// A rewrite was applied in a workspace.
pub const KIND_SWS_APPLY: &str = "sws.apply";
/// A workspace collapsed into its target.
pub const KIND_SWS_COLLAPSE: &str = "sws.collapse";
/// A collapse or rebase was refused for conflicts; nothing changed.
pub const KIND_SWS_CONFLICT: &str = "sws.conflict";
/// A workspace's base moved to the head of its target.
pub const KIND_SWS_REBASE: &str = "sws.rebase";
/// A workspace was discarded.
pub const KIND_SWS_DISCARD: &str = "sws.discard";

/// Which operation met the conflicts of a `sws.conflict` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedOp {
    /// A collapse.
    Collapse,
    /// A rebase.
    Rebase,
}

/// The payload of a workspace record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwsRecord {
    /// `sws.create`.
    Create {
        /// What it sits on.
        over: Over,
    },
    /// `sws.apply`.
    Apply {
        /// The workspace.
        sws: u64,
        /// The rewrite, as applied in the workspace.
        rewrite: Rewrite,
    },
    /// `sws.collapse`.
    Collapse {
        /// The workspace.
        sws: u64,
        /// The net changes applied to the target, as the fold recomputes them.
        rewrites: Vec<Rewrite>,
    },
    /// `sws.conflict`.
    Conflict {
        /// The workspace.
        sws: u64,
        /// What was refused.
        op: RefusedOp,
        /// Every clash.
        report: ConflictReport,
    },
    /// `sws.rebase`.
    Rebase {
        /// The workspace.
        sws: u64,
    },
    /// `sws.discard`.
    Discard {
        /// The workspace.
        sws: u64,
        /// Why, as the operator said.
        reason: String,
    },
}

impl SwsRecord {
    /// The record kind this payload goes with.
    pub fn kind(&self) -> &'static str {
        match self {
            SwsRecord::Create { .. } => KIND_SWS_CREATE,
            SwsRecord::Apply { .. } => KIND_SWS_APPLY,
            SwsRecord::Collapse { .. } => KIND_SWS_COLLAPSE,
            SwsRecord::Conflict { .. } => KIND_SWS_CONFLICT,
            SwsRecord::Rebase { .. } => KIND_SWS_REBASE,
            SwsRecord::Discard { .. } => KIND_SWS_DISCARD,
        }
    }

    /// Whether `kind` is a workspace record kind.
    pub fn is_kind(kind: &str) -> bool {
        [
            KIND_SWS_CREATE,
            KIND_SWS_APPLY,
            KIND_SWS_COLLAPSE,
            KIND_SWS_CONFLICT,
            KIND_SWS_REBASE,
            KIND_SWS_DISCARD,
        ]
        .contains(&kind)
    }

    /// The payload bytes (version 1).
    pub fn encode(&self) -> Result<Vec<u8>, KernelError> {
        Ok(durable::encode(&v1::sws::SwsRecord::freeze(self))?)
    }

    /// Decodes the payload of a record of `kind`, checking the two agree.
    pub fn decode(kind: &str, bytes: &[u8]) -> Result<SwsRecord, KernelError> {
        Ok(durable::decode_of_kind::<v1::sws::SwsRecord>(
            kind,
            bytes,
            SwsRecord::kind,
        )?)
    }

    /// The rewrites this record carries (for blob collection and display).
    pub fn rewrites(&self) -> &[Rewrite] {
        match self {
            SwsRecord::Apply { rewrite, .. } => std::slice::from_ref(rewrite),
            SwsRecord::Collapse { rewrites, .. } => rewrites,
            _ => &[],
        }
    }
}

/// What collapsing `sws` at `seq` records: the collapse with its net rewrites, or the
/// conflicts that refuse it. Run on a copy of the state; the fold runs it on the state.
pub(crate) fn collapse_op(state: &State, sws: u64, seq: u64) -> Result<SwsRecord, KernelError> {
    let mut trial = state.clone();
    match trial.pool.collapse(&trial.graph, sws, seq) {
        Ok(collapse) => Ok(SwsRecord::Collapse {
            sws,
            rewrites: collapse.rewrites,
        }),
        Err(SwsError::Conflicts(report)) => Ok(SwsRecord::Conflict {
            sws,
            op: RefusedOp::Collapse,
            report: *report,
        }),
        Err(error) => Err(KernelError::Workspace(error)),
    }
}
