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

use std::{collections::BTreeSet, sync::Arc};

use imbl::OrdMap;
use jitos_gov::{
    writ::{Budget, Exceeds, Overdraft, Spent, Widening, Writ, WritPublicKey},
    Effect,
};
use jitos_tasks::Effect as PlanEffect;
use serde::{Deserialize, Serialize};

use crate::writ_record::{WritIssue, WritRaise, WritRevoke};

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
    /// What admins added to its budgets since (`writ.raise`).
    pub raised: Spent,
}

impl LiveWrit {
    /// Its budget in force: the signed one, raised by every `writ.raise` (a counter the
    /// writ does not bound stays unbounded).
    pub fn budget(&self) -> Budget {
        let mut budget = self.writ.budget.clone();
        budget.jobs = budget.jobs.saturating_add(self.raised.jobs);
        budget.wall_secs = budget.wall_secs.saturating_add(self.raised.wall_secs);
        for (name, more) in &self.raised.counters {
            if let Some(bound) = budget.counters.get_mut(name) {
                *bound = bound.saturating_add(*more);
            }
        }
        budget
    }
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
    /// A raise names a counter the writ does not bound.
    #[error("writ {writ} does not bound {counter:?}, so it cannot be raised (it is unbounded)")]
    Unbounded {
        /// The writ.
        writ: u64,
        /// The counter.
        counter: String,
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
    /// More writs are held than the state keeps.
    #[error("{WRITS_HELD_MAX} writs are in force already; revoke some, or let them expire")]
    TooMany,
    /// A writ names as its issuer someone other than who recorded it.
    #[error("the writ names uid {issuer} as its issuer, who did not issue it")]
    NotIssuer {
        /// The issuer it names.
        issuer: u32,
    },
    /// A writ issued for a process cannot be delegated from.
    #[error("writ {writ} was issued for process {process} and is spent by it alone; delegate from the writ it came from")]
    ProcessWrit {
        /// The writ.
        writ: u64,
        /// Its process.
        process: u64,
    },
    /// A request went out to an origin, or with a method, the writ's egress does not allow.
    #[error("writ {writ} does not allow {method} to {origin}; its egress must name the origin with that method")]
    Egress {
        /// The writ.
        writ: u64,
        /// The method.
        method: String,
        /// The origin.
        origin: String,
    },
    /// A request went out for an attempt that runs under no writ, which grants no egress.
    #[error("attempt {attempt} runs under no writ, so it may reach no host")]
    NoEgress {
        /// The attempt.
        attempt: u64,
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

/// The most writs not issued for a process that the state holds at once: a bound on what
/// delegation can make the writer keep (a process's writ is bounded by the processes).
pub const WRITS_HELD_MAX: usize = 10_000;

/// The cost of one dispatch: one job and its deadline, in whole seconds rounded up.
pub(crate) fn dispatch_cost(deadline_ms: u64) -> Spent {
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
        match self.bound.get(&process) {
            Some(&id) => self.budget_left_of_writ(id),
            None => std::collections::BTreeMap::new(),
        }
    }

    /// What is left of each bounded budget of writ `id`, the tightest over it and its
    /// ancestors; empty for a writ the state does not hold.
    pub fn budget_left_of_writ(&self, id: u64) -> std::collections::BTreeMap<String, u64> {
        let mut left = std::collections::BTreeMap::new();
        let mut tightest = |name: &str, amount: u64| {
            left.entry(name.to_owned())
                .and_modify(|held: &mut u64| *held = (*held).min(amount))
                .or_insert(amount);
        };
        for writ in self.chain(id) {
            let remaining = writ.budget().left(&writ.spent);
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
            writ.budget()
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
    /// `issuer` is the uid of the local user who recorded it, when one did (a writ a
    /// person issues names them as its issuer; one derived at a submit names the daemon).
    pub(crate) fn fold_issue(
        &mut self,
        seq: u64,
        time_ms: u64,
        issue: &WritIssue,
        issuer: Option<u32>,
        process_exists: impl Fn(u64) -> bool,
    ) -> Result<(), WritRefusal> {
        let key = self.key.as_ref().ok_or(WritRefusal::NoKey)?;
        key.verify(&issue.writ, &issue.signature)
            .map_err(|_| WritRefusal::BadSignature)?;
        // Writs that ended go first, so ended ones never crowd out a new one; a process's
        // writ is bounded by the live processes and not counted.
        self.prune(time_ms);
        let held = self
            .live
            .values()
            .filter(|w| w.for_process.is_none())
            .count();
        if issue.for_process.is_none() && held >= WRITS_HELD_MAX {
            return Err(WritRefusal::TooMany);
        }
        if issuer.is_some_and(|uid| uid != issue.writ.issuer.uid) {
            return Err(WritRefusal::NotIssuer {
                issuer: issue.writ.issuer.uid,
            });
        }
        if let Some(parent) = issue.writ.parent {
            let parent_writ = self.in_force(parent, time_ms)?;
            // A process's writ is spent by that process alone, and ends with it.
            if let Some(process) = parent_writ.for_process {
                return Err(WritRefusal::ProcessWrit {
                    writ: parent,
                    process,
                });
            }
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
                raised: Spent::default(),
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

    /// Folds `writ.raise`: the writ, in force, has its budgets raised; a counter it does
    /// not bound may not be raised (it is unbounded already).
    pub(crate) fn fold_raise(
        &mut self,
        time_ms: u64,
        raise: &WritRaise,
    ) -> Result<(), WritRefusal> {
        let id = self.in_force(raise.writ, time_ms)?.id;
        let Some(live) = self.live.get_mut(&id) else {
            return Err(WritRefusal::Unknown { writ: id });
        };
        let live = Arc::make_mut(live);
        if let Some(name) = raise
            .more
            .counters
            .keys()
            .find(|name| !live.writ.budget.counters.contains_key(*name))
        {
            return Err(WritRefusal::Unbounded {
                writ: id,
                counter: name.clone(),
            });
        }
        live.raised = live.raised.plus(&raise.more);
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
                    .budget()
                    .charge(&live.spent, &cost)
                    .map_err(|source| WritRefusal::Overdrawn { writ, source })?;
            }
        }
        Ok(())
    }

    /// The writ whose egress attempt `attempt` of `process` reaches the network under:
    /// its process's; an attempt under none reaches nothing.
    fn egress_writ(&self, attempt: u64, process: Option<u64>) -> Result<&LiveWrit, WritRefusal> {
        process
            .and_then(|process| self.of_process(process))
            .map(Arc::as_ref)
            .ok_or(WritRefusal::NoEgress { attempt })
    }

    /// Checks that a request attempt `attempt` of `process` made with `method` to `origin`
    /// was within the process's writ's egress.
    pub fn check_egress(
        &self,
        attempt: u64,
        process: Option<u64>,
        method: &str,
        origin: &str,
    ) -> Result<(), WritRefusal> {
        let writ = self.egress_writ(attempt, process)?;
        match jitos_gov::writ::allows_request(&writ.writ.egress, method, origin) {
            true => Ok(()),
            false => Err(WritRefusal::Egress {
                writ: writ.id,
                method: method.to_owned(),
                origin: origin.to_owned(),
            }),
        }
    }

    /// Checks that a connection attempt `attempt` of `process` made through its proxy to
    /// `host`:`port` was within the process's writ's egress.
    pub fn check_connect(
        &self,
        attempt: u64,
        process: Option<u64>,
        host: &str,
        port: u16,
    ) -> Result<(), WritRefusal> {
        let writ = self.egress_writ(attempt, process)?;
        match jitos_gov::writ::allows_connect(&writ.writ.egress, host, port) {
            true => Ok(()),
            false => Err(WritRefusal::Egress {
                writ: writ.id,
                method: "CONNECT".to_owned(),
                origin: format!("{host}:{port}"),
            }),
        }
    }

    /// Charges usage that already happened (a model call's tokens and cost) to `process`'s
    /// writ and every ancestor. It is recorded whatever the budget says, since it was
    /// spent; whether the next call may start is asked before it is made.
    pub(crate) fn fold_usage(&mut self, process: u64, used: &Spent) {
        let Some(&id) = self.bound.get(&process) else {
            return;
        };
        let chain: Vec<u64> = self.chain(id).map(|w| w.id).collect();
        for writ in chain {
            if let Some(live) = self.live.get_mut(&writ) {
                let live = Arc::make_mut(live);
                live.spent = live.spent.plus(used);
            }
        }
    }

    /// A process ended: it no longer runs under its writ, the writ issued for it ends
    /// with it, and writs that ended with nothing live under them leave the state.
    pub(crate) fn fold_process_end(&mut self, process: u64, time_ms: u64) {
        self.bound.remove(&process);
        self.prune(time_ms);
    }

    /// Drops every writ that is revoked, expired at `time_ms`, or issued for a process
    /// no longer live, and that no live process runs under and no held writ was delegated
    /// from (so a held writ's chain always reaches its root, for revocation and charges).
    pub(crate) fn prune(&mut self, time_ms: u64) {
        // A writ that goes may free its parent: until nothing more goes.
        loop {
            let in_use: BTreeSet<u64> = self
                .bound
                .values()
                .copied()
                .chain(self.live.values().filter_map(|w| w.writ.parent))
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
            if ended.is_empty() {
                return;
            }
            for id in ended {
                self.live.remove(&id);
            }
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
pub(crate) fn plan_effect(effect: PlanEffect) -> Effect {
    match effect {
        PlanEffect::None => Effect::None,
        PlanEffect::Workspace => Effect::Workspace,
        PlanEffect::Local => Effect::Local,
        PlanEffect::Network => Effect::Network,
        PlanEffect::Irreversible => Effect::Irreversible,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use jitos_gov::writ::{Budget, Scope, Subject, WritKey};

    use super::*;
    use crate::writ_record::Grant;

    const ROOT: u32 = 0;
    const ALICE: u32 = 1001;
    const BOB: u32 = 1002;

    fn key() -> WritKey {
        WritKey::from_bytes(&[9; 32])
    }

    fn writ(to: u32, by: u32, parent: Option<u64>, depth: u32) -> Writ {
        let user = |uid: u32| Subject {
            uid,
            user: format!("u{uid}"),
        };
        Writ {
            subject: user(to),
            issuer: user(by),
            parent,
            workers: Scope::All,
            paths: Scope::All,
            effect: Effect::Workspace,
            egress: Scope::nothing(),
            budget: Budget {
                jobs: 10,
                wall_secs: 1000,
                counters: BTreeMap::new(),
            },
            secrets: Default::default(),
            issued_ms: 0,
            expires_ms: 1_000_000,
            depth,
        }
    }

    fn issue(
        writs: &mut Writs,
        seq: u64,
        writ: Writ,
        for_process: Option<u64>,
    ) -> Result<(), WritRefusal> {
        let issuer = writ.issuer.uid;
        let issue = WritIssue {
            signature: key().sign(&writ),
            writ,
            for_process,
            grant: Grant::Issued,
        };
        writs.fold_issue(seq, 1, &issue, Some(issuer), |_| true)
    }

    // Goal: a writ delegated from a process's writ is refused, and a writ delegated from a
    // writ whose process ended still reaches its root: revoking the root revokes it, and a
    // dispatch under it is charged to the root. Method: the fold alone, as replay runs it.
    #[test]
    fn a_held_writs_chain_always_reaches_its_root() {
        let mut writs = Writs::default();
        writs.fold_key(key().public());
        issue(&mut writs, 1, writ(ALICE, ROOT, None, 3), None).unwrap();
        // Process 2's own writ, delegated from writ 1.
        issue(&mut writs, 3, writ(ALICE, ALICE, Some(1), 2), Some(2)).unwrap();
        let from_process = issue(&mut writs, 4, writ(BOB, ALICE, Some(3), 1), None);
        assert!(
            matches!(
                from_process,
                Err(WritRefusal::ProcessWrit {
                    writ: 3,
                    process: 2
                })
            ),
            "{from_process:?}"
        );
        // Bob's writ from writ 1, and process 6 under a writ delegated from it.
        issue(&mut writs, 5, writ(BOB, ALICE, Some(1), 1), None).unwrap();
        issue(&mut writs, 7, writ(BOB, BOB, Some(5), 0), Some(6)).unwrap();
        writs.fold_process_end(2, 2);
        assert!(writs.get(3).is_none(), "a process's writ ends with it");
        writs
            .fold_dispatch(6, "shell", Effect::Workspace, &[], 1000, 3)
            .unwrap();
        assert_eq!(writs.get(1).unwrap().spent.jobs, 1, "charged to the root");
        writs
            .fold_revoke(
                8,
                4,
                &WritRevoke {
                    writ: 1,
                    reason: "done".into(),
                },
            )
            .unwrap();
        // Process 6's writ, two delegations below the root, is revoked with it.
        let revoked = writs.in_force(7, 4);
        assert!(
            matches!(
                revoked,
                Err(WritRefusal::Revoked {
                    writ: 1,
                    seq: 8,
                    ..
                })
            ),
            "{revoked:?}"
        );
    }

    // Goal: a writ that names as its issuer someone other than who recorded it is refused.
    #[test]
    fn a_writ_must_be_recorded_by_its_issuer() {
        let mut writs = Writs::default();
        writs.fold_key(key().public());
        let forged = writ(ALICE, ROOT, None, 1);
        let issue = WritIssue {
            signature: key().sign(&forged),
            writ: forged,
            for_process: None,
            grant: Grant::Issued,
        };
        let refused = writs.fold_issue(1, 1, &issue, Some(ALICE), |_| true);
        assert!(
            matches!(refused, Err(WritRefusal::NotIssuer { issuer: ROOT })),
            "{refused:?}"
        );
    }
}
