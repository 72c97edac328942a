//! The policy at the collapse point: collapsing a workspace outside any process into the
//! system is ruled on (`sws.ruling`) with a policy in force, and a collapse the ruling
//! holds waits for approvals (`sws.vote`) — the fence around what people and agents do
//! in public workspaces (`jitos sws collapse`, `jitos mcp`'s `collapse`).
//!
//! The state keeps each workspace's latest ruling and its votes in [`Holds`]; the fold of
//! `sws.collapse` checks a collapse against it, so a ledger whose collapse went past a
//! denial, a veto or missing approvals does not replay. A ruling stands for the exact
//! changes it was made on (the hash of the collapse they make), under the policy that
//! made it and the writ it was asked under while that is in force: after any of those
//! changes, the next collapse is ruled on again and earlier approvals no longer count.
//!
//! From the first ruling a ledger holds (of a collapse or of a job outside a process,
//! `job_ruling.rs`), every later public collapse and public dispatch under a policy must
//! follow its own: a ledger written before rulings existed has none, and replays as it
//! was written.

use std::collections::BTreeSet;

use imbl::OrdMap;
use jitos_gov::{
    policy::{Facts, Point, Verdict},
    writ::{PATHS_MAX, PATH_BYTES_MAX},
    Role,
};
use jitos_tree::tree_path_of_id;
use jitos_warp::{Op, Rewrite};
use serde::{Deserialize, Serialize};

use crate::{
    collapse_record::{ChangesHash, CollapseRuling, CollapseVote},
    ruling::{writ_facts, GovernanceRefusal},
    sws_record::SwsRecord,
    KernelError, State,
};

/// Who asks for a collapse or a job outside a process, as the daemon authenticated them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// Their uid.
    pub uid: u32,
    /// Their user name.
    pub user: String,
    /// Their roles.
    pub roles: Vec<Role>,
}

/// The latest ruling on each open workspace's collapse, with its votes, and what the
/// rulings outside processes require of the records after them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holds {
    by_sws: OrdMap<u64, Hold>,
    /// Whether a ruling outside a process was ever recorded: from then on, every public
    /// collapse and dispatch under a policy must have its own.
    rulings_recorded: bool,
    /// The job outside a process the last `job.ruling` allowed, until its dispatch.
    allowed_job: Option<AllowedJob>,
}

/// A job outside a process its ruling allowed: what its dispatch must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AllowedJob {
    pub(crate) sws: u64,
    pub(crate) worker: String,
    pub(crate) paths: Vec<String>,
}

/// One ruling on a collapse and the votes cast on it since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The `sws.ruling` record.
    pub seq: u64,
    /// The ruling.
    pub ruling: CollapseRuling,
    /// The votes, in the order they were cast.
    pub votes: Vec<HoldVote>,
}

/// A vote as a hold keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldVote {
    /// The `sws.vote` record.
    pub seq: u64,
    /// Who.
    pub uid: u32,
    /// Their name.
    pub user: String,
    /// Approve, or reject.
    pub approve: bool,
    /// Their comment or reason.
    pub note: String,
}

/// Where a ruled collapse stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing<'a> {
    /// The policy allows it.
    Allowed,
    /// The policy denies it.
    Denied,
    /// It waits for `count` approvals from `from`; `approvals` given so far.
    Waiting {
        /// How many approvals it needs.
        count: u32,
        /// The role each approver must hold.
        from: Role,
        /// How many it has.
        approvals: u32,
    },
    /// Its approvals are all given.
    Approved,
    /// A voter rejected it.
    Vetoed(&'a HoldVote),
}

impl Hold {
    /// Where it stands.
    pub fn standing(&self) -> Standing<'_> {
        match self.ruling.ruling.verdict {
            Verdict::Allow => Standing::Allowed,
            Verdict::Deny => Standing::Denied,
            Verdict::Require { count, from } => {
                if let Some(veto) = self.votes.iter().find(|vote| !vote.approve) {
                    return Standing::Vetoed(veto);
                }
                let approvals = u32::try_from(self.votes.len()).unwrap_or(u32::MAX);
                match approvals >= count {
                    true => Standing::Approved,
                    false => Standing::Waiting {
                        count,
                        from,
                        approvals,
                    },
                }
            }
        }
    }

    /// Whether it lets the collapse through.
    pub fn lets_through(&self) -> bool {
        matches!(self.standing(), Standing::Allowed | Standing::Approved)
    }

    /// The refusal a collapse meets that it does not let through.
    pub(crate) fn refusal(&self) -> Option<GovernanceRefusal> {
        let sws = self.ruling.sws;
        match self.standing() {
            Standing::Allowed | Standing::Approved => None,
            Standing::Denied => Some(GovernanceRefusal::CollapseDenied {
                sws,
                why: self.ruling.why(),
            }),
            Standing::Waiting {
                count,
                from,
                approvals,
            } => Some(GovernanceRefusal::CollapseHeld {
                sws,
                count,
                from,
                approvals,
            }),
            Standing::Vetoed(veto) => Some(GovernanceRefusal::CollapseVetoed {
                sws,
                user: veto.user.clone(),
                note: veto.note.clone(),
            }),
        }
    }
}

impl Holds {
    /// The latest ruling on `sws`'s collapse, if one was made while it is open.
    pub fn get(&self, sws: u64) -> Option<&Hold> {
        self.by_sws.get(&sws)
    }

    /// Every hold, by workspace.
    pub fn all(&self) -> impl Iterator<Item = &Hold> + '_ {
        self.by_sws.values()
    }

    /// Whether rulings outside processes are recorded in this ledger.
    pub(crate) fn rulings_recorded(&self) -> bool {
        self.rulings_recorded
    }

    /// Notes a job outside a process its ruling allowed (or, `None`, refused).
    pub(crate) fn fold_job_ruling(&mut self, allowed: Option<AllowedJob>) {
        self.rulings_recorded = true;
        self.allowed_job = allowed;
    }

    /// Takes the job the last ruling allowed, for its dispatch.
    pub(crate) fn take_allowed_job(&mut self) -> Option<AllowedJob> {
        self.allowed_job.take()
    }

    pub(crate) fn fold_ruling(&mut self, seq: u64, ruling: CollapseRuling) {
        self.rulings_recorded = true;
        self.by_sws.insert(
            ruling.sws,
            Hold {
                seq,
                ruling,
                votes: Vec::new(),
            },
        );
    }

    /// Adds a vote, if the hold waits for it and the voter may cast it.
    pub(crate) fn fold_vote(
        &mut self,
        seq: u64,
        vote: CollapseVote,
    ) -> Result<(), GovernanceRefusal> {
        let hold = self
            .by_sws
            .get_mut(&vote.sws)
            .ok_or(GovernanceRefusal::NotHeld { sws: vote.sws })?;
        check_vote(hold, &vote)?;
        hold.votes.push(HoldVote {
            seq,
            uid: vote.uid,
            user: vote.user,
            approve: vote.approve,
            note: vote.note,
        });
        Ok(())
    }

    /// Takes the hold of a workspace that closed.
    pub(crate) fn forget(&mut self, sws: u64) -> Option<Hold> {
        self.by_sws.remove(&sws)
    }
}

/// Refuses a vote on a hold that waits for none, by its requester, by someone without
/// the role it needs, or by someone who voted already.
pub(crate) fn check_vote(hold: &Hold, vote: &CollapseVote) -> Result<(), GovernanceRefusal> {
    let sws = vote.sws;
    let Standing::Waiting { from, .. } = hold.standing() else {
        return Err(GovernanceRefusal::NotHeld { sws });
    };
    if vote.uid == hold.ruling.uid {
        return Err(GovernanceRefusal::OwnCollapse {
            user: vote.user.clone(),
            sws,
        });
    }
    if !vote
        .roles
        .iter()
        .any(|&role| role == from || role == Role::Admin)
    {
        return Err(GovernanceRefusal::NotEligible {
            user: vote.user.clone(),
            needed: from,
        });
    }
    if hold.votes.iter().any(|cast| cast.uid == vote.uid) {
        return Err(GovernanceRefusal::AlreadyVoted {
            user: vote.user.clone(),
            sws,
        });
    }
    Ok(())
}

/// Whether collapsing `sws` is ruled on: a policy is in force and the workspace collapses
/// into the system (a nested workspace's collapse changes only its parent).
pub(crate) fn is_ruled(state: &State, sws: u64) -> Result<bool, KernelError> {
    if state.policy.is_none() {
        return Ok(false);
    }
    let workspace = state.pool.workspace(sws).ok_or(KernelError::Workspace(
        jitos_sws::SwsError::UnknownWorkspace { id: sws },
    ))?;
    Ok(workspace.parent.is_none())
}

/// Whether `hold` still stands for its workspace at `now_ms`: the policy that ruled is in
/// force, the writ it was asked under (if any) is too, and the workspace's changes are the
/// ones ruled on — whether or not its collapse would now conflict.
pub(crate) fn stands(state: &State, hold: &Hold, now_ms: u64) -> Result<bool, KernelError> {
    let same_policy = state
        .policy
        .as_ref()
        .is_some_and(|in_force| in_force.policy.hash() == hold.ruling.policy);
    let writ_in_force = hold
        .ruling
        .writ
        .is_none_or(|id| state.writs.in_force(id, now_ms).is_ok());
    Ok(same_policy
        && writ_in_force
        && workspace_changes(state, hold.ruling.sws)?.0 == hold.ruling.changes)
}

/// The hash a ruling names `sws`'s changes by — BLAKE3 of the `sws.collapse` payload
/// collapsing it would write, conflicts or not — and the tree paths they touch. O(changes).
pub(crate) fn workspace_changes(
    state: &State,
    sws: u64,
) -> Result<(ChangesHash, Vec<String>), KernelError> {
    let rewrites = state
        .pool
        .net_rewrites(&state.graph, sws)
        .map_err(KernelError::Workspace)?;
    let paths = fact_paths(&touched_paths(&rewrites));
    let collapse = SwsRecord::Collapse { sws, rewrites };
    Ok((*blake3::hash(&collapse.encode()?).as_bytes(), paths))
}

/// The ruling of the policy in force on collapsing `sws` as it is, asked by `by` (under
/// `writ`, if given) at `decided_ms`, on the facts the state holds.
pub(crate) fn rule_collapse(
    state: &State,
    sws: u64,
    by: &Requester,
    writ: Option<u64>,
    decided_ms: u64,
) -> Result<CollapseRuling, KernelError> {
    let in_force = state
        .policy
        .as_ref()
        .ok_or(KernelError::GovernanceRefused(GovernanceRefusal::NoPolicy))?;
    let mut facts = Facts::new(
        Point::Collapse,
        by.user.clone(),
        by.roles.iter().copied().collect(),
    );
    writ_facts(state, writ, by, decided_ms, &mut facts)?;
    let (changes, paths) = workspace_changes(state, sws)?;
    facts.paths = paths;
    Ok(CollapseRuling {
        sws,
        decided_ms,
        uid: by.uid,
        writ,
        changes,
        policy: in_force.policy.hash(),
        ruling: in_force.policy.evaluate(&facts),
        facts,
    })
}

/// The tree paths of the files and directories `rewrites` add, change or remove, sorted
/// and each once; the root directory, which a tree gains with its first file, is none.
fn touched_paths(rewrites: &[Rewrite]) -> Vec<String> {
    let paths: BTreeSet<&str> = rewrites
        .iter()
        .flat_map(|rewrite| &rewrite.ops)
        .map(|op| match op {
            Op::AddNode { id, .. } | Op::RemoveNode { id, .. } => id,
            Op::SetAttr { node, .. } | Op::RemoveAttr { node, .. } => node,
            Op::AddEdge { to, .. } | Op::RemoveEdge { to, .. } => to,
        })
        .filter_map(tree_path_of_id)
        .filter(|path| *path != ".")
        .collect();
    paths.into_iter().map(str::to_owned).collect()
}

/// The paths a ruling's facts hold, within a writ's bounds: each changed path, or, for
/// more than `PATHS_MAX` of them, their top-level directories, or else the root `.`,
/// which every `path` condition overlaps. Coarser never lets a `path` rule miss.
fn fact_paths(changed: &[String]) -> Vec<String> {
    let fits = |paths: &[String]| {
        paths.len() <= PATHS_MAX && paths.iter().all(|path| path.len() <= PATH_BYTES_MAX)
    };
    if fits(changed) {
        return changed.to_vec();
    }
    let mut tops: Vec<String> = changed
        .iter()
        .map(|path| path.split('/').next().unwrap_or(path).to_owned())
        .collect();
    tops.sort();
    tops.dedup();
    match fits(&tops) {
        true => tops,
        false => vec![".".to_owned()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_changed_paths_become_their_top_directories_then_the_whole_tree() {
        let few = vec!["src/a".to_owned(), "README".to_owned()];
        assert_eq!(fact_paths(&few), few);
        let many: Vec<String> = (0..=PATHS_MAX).map(|i| format!("src/f{i}")).collect();
        assert_eq!(fact_paths(&many), vec!["src".to_owned()]);
        let tops: Vec<String> = (0..=PATHS_MAX).map(|i| format!("d{i}/f")).collect();
        assert_eq!(fact_paths(&tops), vec![".".to_owned()]);
        let long = vec!["x".repeat(PATH_BYTES_MAX + 1)];
        assert_eq!(fact_paths(&long), vec![".".to_owned()]);
        assert!(fact_paths(&[]).is_empty());
    }
}
