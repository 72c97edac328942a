//! The writs folded from the ledger: the daemon's key in force, every writ still in force
//! (or bound to a live process), what each has spent, and which process runs under which.
//!
//! The fold is where a writ's rules are checked: a `writ.issue` must verify against the
//! key in force and, when delegated, lie within its parent; a dispatch of a process under
//! a writ is charged to the writ and every ancestor, and must fit each one's budget; a
//! revocation reaches every descendant. A command whose records break a rule is refused
//! by the fold that stages it, so the live path and replay share one set of checks.
//!
//! The state is bounded by what is in force: a writ that is revoked or expired leaves it
//! once no live process runs under it or a descendant; `writ show` reads its records.

use std::sync::Arc;

use imbl::OrdMap;
use jitos_gov::{
    writ::{Exceeds, Overdraft, Spent, Widening, Writ, WritPublicKey},
    Effect,
};
use jitos_tasks::Effect as PlanEffect;
use serde::{Deserialize, Serialize};

use crate::writ_record::{WritIssue, WritRevoke};

/// The writs in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Writs {
    /// The daemon's public key, as last recorded: every writ issued since verifies with it.
    key: Option<WritPublicKey>,
    /// Writs in force, or ended but still bound to a live process, by id.
    live: OrdMap<u64, Arc<LiveWrit>>,
    /// The writ each live process runs under.
    bound: OrdMap<u64, u64>,
}

/// A writ as the fold keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveWrit {
    /// Its id: the seq of the record that issued it.
    pub id: u64,
    /// The grant.
    pub writ: Writ,
    /// What the dispatches under it (and under its descendants) have spent.
    pub spent: Spent,
    /// Its revocation, once revoked (or an ancestor was).
    pub revoked: Option<Revocation>,
    /// The process it was issued for, if any.
    pub for_process: Option<u64>,
    /// The roles of the user it was issued for, when a submit made it (what the policy
    /// rules on).
    pub roles: Vec<jitos_gov::Role>,
}

/// Why and when a writ was revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The `writ.revoke` record.
    pub seq: u64,
    /// The writ named by it (this one, or an ancestor).
    pub writ: u64,
    /// Why, as given.
    pub reason: String,
}

/// Why a writ does not allow what was asked, or a writ record does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WritRefusal {
    /// No such writ is in force.
    #[error("no writ {writ} is in force (it was never issued, or it ended); `jitos writ list` shows those that are")]
    Unknown {
        /// The writ named.
        writ: u64,
    },
    /// The writ, or an ancestor, was revoked.
    #[error("writ {writ} was revoked (record {seq}): {reason}")]
    Revoked {
        /// The writ.
        writ: u64,
        /// The revocation record.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// The writ has expired.
    #[error("writ {writ} expired at {expires_ms} ms since the epoch")]
    Expired {
        /// The writ.
        writ: u64,
        /// When.
        expires_ms: u64,
    },
    /// The writ does not cover the worker, effect or paths.
    #[error("writ {writ} does not allow it: {source}")]
    NotAdmitted {
        /// The writ.
        writ: u64,
        /// What it does not cover.
        source: Exceeds,
    },
    /// A budget of the writ (or an ancestor) is spent.
    #[error("writ {writ}'s budget is spent: {source}")]
    Overdrawn {
        /// The writ whose budget it is.
        writ: u64,
        /// Which budget, and by how much.
        source: Overdraft,
    },
    /// A delegated writ is wider than its parent.
    #[error("a writ delegated from writ {parent} must lie within it: {source}")]
    Widens {
        /// The parent.
        parent: u64,
        /// The field that is wider.
        source: Widening,
    },
    /// The signature does not verify against the daemon's key in force.
    #[error("the writ's signature does not verify against the daemon's key in force")]
    BadSignature,
    /// No key has been recorded yet.
    #[error("no daemon key is recorded in this store, so no writ can be verified")]
    NoKey,
    /// The process already runs under a writ, or does not exist.
    #[error("process {process} cannot take a writ: {why}")]
    Binding {
        /// The process.
        process: u64,
        /// Why.
        why: String,
    },
    /// A writ names a process recorded after it.
    #[error("writ {writ} is recorded before the process {process} it is for")]
    Order {
        /// The writ.
        writ: u64,
        /// The process.
        process: u64,
    },
}

/// The cost of one dispatch: one job and its deadline, in whole seconds rounded up.
pub fn dispatch_cost(deadline_ms: u64) -> Spent {
    Spent {
        jobs: 1,
        wall_secs: deadline_ms.div_ceil(1000),
        counters: Default::default(),
    }
}

impl Writs {
    /// The daemon's public key in force.
    pub fn key(&self) -> Option<&WritPublicKey> {
        self.key.as_ref()
    }

    /// The writ `id`, if the state holds it.
    pub fn get(&self, id: u64) -> Option<&Arc<LiveWrit>> {
        self.live.get(&id)
    }

    /// Every writ the state holds, by id.
    pub fn all(&self) -> impl DoubleEndedIterator<Item = &Arc<LiveWrit>> + '_ {
        self.live.values()
    }

    /// The writ `process` runs under, if it runs under one.
    pub fn of_process(&self, process: u64) -> Option<&Arc<LiveWrit>> {
        self.bound.get(&process).and_then(|id| self.live.get(id))
    }

    /// When `process`'s writ, or one it was delegated from, expires.
    pub fn expires_ms(&self, process: u64) -> Option<u64> {
        let &id = self.bound.get(&process)?;
        self.chain(id).map(|w| w.writ.expires_ms).min()
    }

    /// What is left of each bounded budget of `process`'s writ, the tightest over the
    /// writ and its ancestors (`jobs`, `wall_secs`, and each counter); empty for a process
    /// under no writ.
    pub fn budget_left(&self, process: u64) -> std::collections::BTreeMap<String, u64> {
        let mut left = std::collections::BTreeMap::new();
        let Some(&id) = self.bound.get(&process) else {
            return left;
        };
        let mut tightest = |name: &str, amount: u64| {
            left.entry(name.to_owned())
                .and_modify(|held: &mut u64| *held = (*held).min(amount))
                .or_insert(amount);
        };
        for writ in self.chain(id) {
            let remaining = writ.writ.budget.left(&writ.spent);
            tightest("jobs", remaining.jobs);
            tightest("wall_secs", remaining.wall_secs);
            for (name, amount) in &remaining.counters {
                tightest(name, *amount);
            }
        }
        left
    }

    /// The writ `id` and its ancestors still held, nearest first.
    fn chain(&self, id: u64) -> impl Iterator<Item = &Arc<LiveWrit>> + '_ {
        std::iter::successors(self.live.get(&id), move |w| {
            w.writ.parent.and_then(|parent| self.live.get(&parent))
        })
    }

    /// The writ `id` if it is in force at `now_ms`: held, not revoked, not expired.
    pub fn in_force(&self, id: u64, now_ms: u64) -> Result<&Arc<LiveWrit>, WritRefusal> {
        let live = self
            .live
            .get(&id)
            .ok_or(WritRefusal::Unknown { writ: id })?;
        if let Some(revoked) = &live.revoked {
            return Err(WritRefusal::Revoked {
                writ: revoked.writ,
                seq: revoked.seq,
                reason: revoked.reason.clone(),
            });
        }
        if now_ms >= live.writ.expires_ms {
            return Err(WritRefusal::Expired {
                writ: id,
                expires_ms: live.writ.expires_ms,
            });
        }
        Ok(live)
    }

    /// Whether `process` may dispatch a job on `worker` with `effect` over `paths` for
    /// `deadline_ms` at `now_ms`; a process under no writ (submitted before writs) may.
    pub fn check_dispatch(
        &self,
        process: u64,
        worker: &str,
        effect: Effect,
        paths: &[String],
        deadline_ms: u64,
        now_ms: u64,
    ) -> Result<(), WritRefusal> {
        let Some(&id) = self.bound.get(&process) else {
            return Ok(());
        };
        let live = self.in_force(id, now_ms)?;
        live.writ
            .admits(worker, effect, paths)
            .map_err(|source| WritRefusal::NotAdmitted { writ: id, source })?;
        let cost = dispatch_cost(deadline_ms);
        for writ in self.chain(id) {
            writ.writ
                .budget
                .charge(&writ.spent, &cost)
                .map_err(|source| WritRefusal::Overdrawn {
                    writ: writ.id,
                    source,
                })?;
        }
        Ok(())
    }

    /// Folds `writ.key`.
    pub(crate) fn fold_key(&mut self, key: WritPublicKey) {
        self.key = Some(key);
    }

    /// Folds `writ.issue` at `seq`, made at `time_ms`; `process_exists` says whether a
    /// live process has the id it is for.
    pub(crate) fn fold_issue(
        &mut self,
        seq: u64,
        time_ms: u64,
        issue: &WritIssue,
        process_exists: impl Fn(u64) -> bool,
    ) -> Result<(), WritRefusal> {
        let key = self.key.as_ref().ok_or(WritRefusal::NoKey)?;
        key.verify(&issue.writ, &issue.signature)
            .map_err(|_| WritRefusal::BadSignature)?;
        if let Some(parent) = issue.writ.parent {
            let parent_writ = self.in_force(parent, time_ms)?;
            issue
                .writ
                .check_within(&parent_writ.writ)
                .map_err(|source| WritRefusal::Widens { parent, source })?;
        }
        if let Some(process) = issue.for_process {
            if process >= seq {
                return Err(WritRefusal::Order { writ: seq, process });
            }
            if !process_exists(process) {
                return Err(WritRefusal::Binding {
                    process,
                    why: "no such process is live".to_owned(),
                });
            }
            if let Some(writ) = self.bound.get(&process) {
                return Err(WritRefusal::Binding {
                    process,
                    why: format!("it already runs under writ {writ}"),
                });
            }
            self.bound.insert(process, seq);
        }
        self.live.insert(
            seq,
            Arc::new(LiveWrit {
                id: seq,
                writ: issue.writ.clone(),
                spent: Spent::default(),
                revoked: None,
                for_process: issue.for_process,
                roles: issue.grant.roles().to_vec(),
            }),
        );
        Ok(())
    }

    /// Folds `writ.revoke` at `seq`: the writ and every descendant held are revoked. The
    /// processes under them stop at the scheduler's next decision (`Grants::stops`).
    pub(crate) fn fold_revoke(
        &mut self,
        seq: u64,
        time_ms: u64,
        revoke: &WritRevoke,
    ) -> Result<(), WritRefusal> {
        let root = self.in_force(revoke.writ, time_ms)?.id;
        let revocation = Revocation {
            seq,
            writ: root,
            reason: revoke.reason.clone(),
        };
        let revoked: Vec<u64> = self
            .live
            .keys()
            .copied()
            .filter(|&id| self.chain(id).any(|w| w.id == root))
            .collect();
        for id in &revoked {
            if let Some(live) = self.live.get_mut(id) {
                Arc::make_mut(live)
                    .revoked
                    .get_or_insert_with(|| revocation.clone());
            }
        }
        Ok(())
    }

    /// Checks a dispatch of `process` as `check_dispatch` does, then charges it to its
    /// writ and every ancestor.
    pub(crate) fn fold_dispatch(
        &mut self,
        process: u64,
        worker: &str,
        effect: Effect,
        paths: &[String],
        deadline_ms: u64,
        time_ms: u64,
    ) -> Result<(), WritRefusal> {
        let Some(&id) = self.bound.get(&process) else {
            return Ok(());
        };
        self.check_dispatch(process, worker, effect, paths, deadline_ms, time_ms)?;
        let cost = dispatch_cost(deadline_ms);
        let chain: Vec<u64> = self.chain(id).map(|w| w.id).collect();
        for writ in chain {
            if let Some(live) = self.live.get_mut(&writ) {
                let live = Arc::make_mut(live);
                live.spent = live
                    .writ
                    .budget
                    .charge(&live.spent, &cost)
                    .map_err(|source| WritRefusal::Overdrawn { writ, source })?;
            }
        }
        Ok(())
    }

    /// A process ended: it no longer runs under its writ, the writ issued for it ends
    /// with it, and writs that ended with nothing live under them leave the state.
    pub(crate) fn fold_process_end(&mut self, process: u64, time_ms: u64) {
        self.bound.remove(&process);
        self.prune(time_ms);
    }

    /// Drops every writ that is revoked, expired at `time_ms`, or issued for a process
    /// no longer live, and has no live process under it or under a descendant.
    pub(crate) fn prune(&mut self, time_ms: u64) {
        let in_use: Vec<u64> = self
            .bound
            .values()
            .flat_map(|&writ| self.chain(writ).map(|w| w.id).collect::<Vec<_>>())
            .collect();
        let ended: Vec<u64> = self
            .live
            .values()
            .filter(|w| {
                w.revoked.is_some()
                    || time_ms >= w.writ.expires_ms
                    || w.for_process.is_some_and(|p| !self.bound.contains_key(&p))
            })
            .map(|w| w.id)
            .filter(|id| !in_use.contains(id))
            .collect();
        for id in ended {
            self.live.remove(&id);
        }
    }
}

/// The effect class of a dispatch, by what its proposal may change.
pub(crate) fn plan_effect_of_dispatch(effect: crate::Effect) -> Effect {
    match effect {
        crate::Effect::GraphOnly => Effect::None,
        crate::Effect::Files => Effect::Workspace,
    }
}

/// The effect class a plan's job asks for.
pub fn plan_effect(effect: PlanEffect) -> Effect {
    match effect {
        PlanEffect::None => Effect::None,
        PlanEffect::Workspace => Effect::Workspace,
    }
}
