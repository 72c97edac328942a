//! The policy at the collapse point: collapsing a workspace outside any process into the
//! system is ruled on (`sws.ruling`) with a policy in force, and a collapse the ruling
//! holds waits for approvals (`sws.vote`) — the fence around what people and agents do
//! in public workspaces (`jitos sws collapse`, `jitos mcp`'s `collapse`).
//!
//! The state keeps each workspace's latest ruling and its votes in [`Holds`]; the fold of
//! `sws.collapse` checks a collapse against it, so a ledger whose collapse went past a
//! denial, a veto or missing approvals does not replay. A ruling stands for the exact
//! changes it was made on, under the policy that made it: after either changes, the next
//! collapse is ruled on again and earlier approvals no longer count.

use imbl::OrdMap;
use jitos_gov::{
    policy::{Facts, Point, Verdict},
    writ::{PATHS_MAX, PATH_BYTES_MAX},
    Role,
};
use jitos_tree::{diff_trees, TreeChange};
use serde::{Deserialize, Serialize};

use crate::{
    collapse_record::{ChangesHash, CollapseRuling, CollapseVote},
    files::tree_of,
    ruling::GovernanceRefusal,
    sws_record::{collapse_op, SwsRecord},
    KernelError, State,
};

/// Who asks for a collapse, as the daemon authenticated them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// Their uid.
    pub uid: u32,
    /// Their user name.
    pub user: String,
    /// Their roles.
    pub roles: Vec<Role>,
}

/// The latest ruling on each open workspace's collapse, with its votes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holds {
    by_sws: OrdMap<u64, Hold>,
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

    /// The ruling on `sws` if it still stands for `changes` under `policy`.
    pub(crate) fn standing_for(
        &self,
        sws: u64,
        changes: &ChangesHash,
        policy: &jitos_gov::policy::PolicyHash,
    ) -> Option<&Hold> {
        self.get(sws)
            .filter(|hold| &hold.ruling.changes == changes && &hold.ruling.policy == policy)
    }

    pub(crate) fn fold_ruling(&mut self, seq: u64, ruling: CollapseRuling) {
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

/// Whether `hold` still stands for its workspace as it would collapse at `seq`: the
/// policy that ruled is in force and the changes are the ones ruled on (a collapse that
/// now conflicts is the system's doing, not a change of the workspace's).
pub(crate) fn stands(state: &State, hold: &Hold, seq: u64) -> Result<bool, KernelError> {
    let same_policy = state
        .policy
        .as_ref()
        .is_some_and(|in_force| in_force.policy.hash() == hold.ruling.policy);
    if !same_policy {
        return Ok(false);
    }
    match collapse_op(state, hold.ruling.sws, seq)? {
        op @ SwsRecord::Collapse { .. } => Ok(changes_of(&op)? == hold.ruling.changes),
        _ => Ok(true),
    }
}

/// The hash a ruling names `collapse`'s changes by.
pub(crate) fn changes_of(collapse: &SwsRecord) -> Result<ChangesHash, KernelError> {
    Ok(*blake3::hash(&collapse.encode()?).as_bytes())
}

/// The ruling of the policy in force on collapsing `sws` with `changes`, asked by `by`
/// (under `writ`, if given) at `decided_ms`, on the facts the state holds.
pub(crate) fn rule_collapse(
    state: &State,
    sws: u64,
    by: &Requester,
    writ: Option<u64>,
    changes: ChangesHash,
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
    if let Some(id) = writ {
        let held = state
            .writs
            .in_force(id, decided_ms)
            .map_err(KernelError::WritRefused)?;
        if held.writ.subject.uid != by.uid {
            return Err(KernelError::GovernanceRefused(
                GovernanceRefusal::NotYourWrit {
                    writ: id,
                    user: by.user.clone(),
                },
            ));
        }
        facts.user = held.writ.subject.user.clone();
        facts.budget_left = state.writs.budget_left_of_writ(id);
    }
    facts.paths = fact_paths(&changed_paths(state, sws)?);
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

/// The paths of the files and directories `sws` adds, removes or changes against its base.
fn changed_paths(state: &State, sws: u64) -> Result<Vec<String>, KernelError> {
    let base = state.sws_base_tree(sws)?;
    let now = tree_of(&state.sws_graph(sws)?)?;
    Ok(diff_trees(&base, &now)
        .iter()
        .map(|change| match change {
            TreeChange::Added { path, .. }
            | TreeChange::Removed { path, .. }
            | TreeChange::Modified { path, .. } => path,
        })
        .filter(|path| !path.is_root())
        .map(|path| path.as_str().to_owned())
        .collect())
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
