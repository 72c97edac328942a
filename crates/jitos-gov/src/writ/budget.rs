//! Budgets: how much a writ's jobs may use, what they have used, and charging one against
//! the other.
//!
//! All arithmetic saturates: amounts come from workers and recorded usage, and no amount,
//! however large, may panic the kernel or wrap round to look small.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    limits::shown,
    narrow::{Widening, WritField},
};

/// How much a writ's jobs may use in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Jobs it may run.
    pub jobs: u64,
    /// Wall-clock seconds its jobs may take, together.
    pub wall_secs: u64,
    /// Named limits, such as `tokens` or `cost_millicents`. A counter absent from the map is
    /// unbounded.
    pub counters: BTreeMap<String, u64>,
}

/// How much has been used, or is asked for, against a [`Budget`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spent {
    /// Jobs run.
    pub jobs: u64,
    /// Wall-clock seconds taken.
    pub wall_secs: u64,
    /// Named amounts, such as `tokens`; an absent counter is 0.
    pub counters: BTreeMap<String, u64>,
}

/// One of a budget's limits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BudgetItem {
    /// Jobs.
    Jobs,
    /// Wall-clock seconds.
    WallSecs,
    /// The named counter.
    Counter(String),
}

impl std::fmt::Display for BudgetItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BudgetItem::Jobs => f.write_str("jobs"),
            BudgetItem::WallSecs => f.write_str("wall seconds"),
            BudgetItem::Counter(name) => write!(f, "counter {}", shown(name)),
        }
    }
}

/// A charge that does not fit in what is left of a budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "over budget on {item}: the limit is {limit}, {spent} is spent and {asked} more was asked, \
     but only {} is left",
    limit.saturating_sub(*spent)
)]
pub struct Overdraft {
    /// The limit that would be passed.
    pub item: BudgetItem,
    /// Its limit.
    pub limit: u64,
    /// What was already spent of it.
    pub spent: u64,
    /// What the charge asked for.
    pub asked: u64,
}

impl Budget {
    /// A budget that bounds nothing: every limit at its largest, no counter bounded. What a
    /// root writ carries when its issuer sets no budget.
    pub fn unlimited() -> Budget {
        Budget {
            jobs: u64::MAX,
            wall_secs: u64::MAX,
            counters: BTreeMap::new(),
        }
    }

    /// What is left of it once `spent` is used: each limit less what is spent of it, never
    /// below 0. Counters it does not bound stay unbounded. It is itself a budget, so a
    /// delegated writ's budget can be checked against it with [`Budget::check_within`].
    pub fn left(&self, spent: &Spent) -> Budget {
        Budget {
            jobs: self.jobs.saturating_sub(spent.jobs),
            wall_secs: self.wall_secs.saturating_sub(spent.wall_secs),
            counters: self
                .counters
                .iter()
                .map(|(name, limit)| (name.clone(), limit.saturating_sub(spent.counter(name))))
                .collect(),
        }
    }

    /// The spent after charging `cost` on top of `spent`, when `cost` fits in what is left
    /// on every limit; otherwise the first limit it would pass (jobs, wall seconds, then
    /// counters by name). A charge of 0 always fits, even when `spent` is already past a
    /// limit. Counters it does not bound are added up all the same, so the spent records all
    /// usage.
    pub fn charge(&self, spent: &Spent, cost: &Spent) -> Result<Spent, Overdraft> {
        let fits = |item: BudgetItem, limit: u64, spent: u64, asked: u64| match asked
            <= limit.saturating_sub(spent)
        {
            true => Ok(()),
            false => Err(Overdraft {
                item,
                limit,
                spent,
                asked,
            }),
        };
        fits(BudgetItem::Jobs, self.jobs, spent.jobs, cost.jobs)?;
        fits(
            BudgetItem::WallSecs,
            self.wall_secs,
            spent.wall_secs,
            cost.wall_secs,
        )?;
        for (name, limit) in &self.counters {
            fits(
                BudgetItem::Counter(name.clone()),
                *limit,
                spent.counter(name),
                cost.counter(name),
            )?;
        }
        Ok(spent.plus(cost))
    }

    /// Whether it allows no more than `other` on any limit: as many or fewer jobs and wall
    /// seconds, and every counter `other` bounds bounded here at or below `other`'s bound
    /// (a counter `other` does not bound may be anything). `other` may be a parent's budget
    /// or what is [`left`](Budget::left) of it; the first limit over is reported.
    pub fn check_within(&self, other: &Budget) -> Result<(), Widening> {
        if self.jobs > other.jobs {
            return Err(Widening::new(
                WritField::Jobs,
                format!("jobs {} exceed the parent's {}", self.jobs, other.jobs),
            ));
        }
        if self.wall_secs > other.wall_secs {
            return Err(Widening::new(
                WritField::WallSecs,
                format!(
                    "wall seconds {} exceed the parent's {}",
                    self.wall_secs, other.wall_secs
                ),
            ));
        }
        for (name, bound) in &other.counters {
            match self.counters.get(name) {
                Some(mine) if mine <= bound => {}
                Some(mine) => {
                    return Err(Widening::new(
                        WritField::Counter,
                        format!(
                            "counter {} at {mine} exceeds the parent's bound {bound}",
                            shown(name)
                        ),
                    ))
                }
                None => {
                    return Err(Widening::new(
                        WritField::Counter,
                        format!(
                            "counter {} is unbounded but the parent bounds it at {bound}",
                            shown(name)
                        ),
                    ))
                }
            }
        }
        Ok(())
    }
}

impl Spent {
    /// What is spent of the counter `name`; 0 when it is absent.
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// This and `more` together, each amount saturating at its largest. Unlike
    /// [`Budget::charge`] it checks no limit: for recording usage that has already
    /// happened.
    #[must_use]
    pub fn plus(&self, more: &Spent) -> Spent {
        let mut counters = self.counters.clone();
        for (name, amount) in &more.counters {
            let total = counters.entry(name.clone()).or_insert(0);
            *total = total.saturating_add(*amount);
        }
        Spent {
            jobs: self.jobs.saturating_add(more.jobs),
            wall_secs: self.wall_secs.saturating_add(more.wall_secs),
            counters,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    fn counters(entries: &[(&str, u64)]) -> BTreeMap<String, u64> {
        entries
            .iter()
            .map(|(name, amount)| ((*name).to_owned(), *amount))
            .collect()
    }

    fn budget(jobs: u64, wall_secs: u64, entries: &[(&str, u64)]) -> Budget {
        Budget {
            jobs,
            wall_secs,
            counters: counters(entries),
        }
    }

    fn spent(jobs: u64, wall_secs: u64, entries: &[(&str, u64)]) -> Spent {
        Spent {
            jobs,
            wall_secs,
            counters: counters(entries),
        }
    }

    #[test]
    fn a_charge_that_fits_adds_up_and_one_that_does_not_says_what_was_over() {
        let limits = budget(10, 600, &[("tokens", 1000)]);
        let before = spent(3, 100, &[("tokens", 900)]);
        let after = limits
            .charge(&before, &spent(1, 60, &[("tokens", 100)]))
            .unwrap();
        assert_eq!(after, spent(4, 160, &[("tokens", 1000)]));

        let over = limits
            .charge(&after, &spent(1, 0, &[("tokens", 1)]))
            .unwrap_err();
        assert_eq!(
            over,
            Overdraft {
                item: BudgetItem::Counter("tokens".to_owned()),
                limit: 1000,
                spent: 1000,
                asked: 1,
            }
        );
        assert_eq!(
            over.to_string(),
            "over budget on counter \"tokens\": the limit is 1000, 1000 is spent and 1 more \
             was asked, but only 0 is left"
        );

        let over = limits.charge(&after, &spent(7, 0, &[])).unwrap_err();
        assert_eq!(over.item, BudgetItem::Jobs);
        assert_eq!((over.limit, over.spent, over.asked), (10, 4, 7));
        let over = limits.charge(&after, &spent(0, 441, &[])).unwrap_err();
        assert_eq!(over.item, BudgetItem::WallSecs);
        assert!(over.to_string().contains("wall seconds"), "{over}");
    }

    #[test]
    fn an_absent_counter_is_unbounded_but_still_counted() {
        let limits = budget(1, 1, &[]);
        let after = limits
            .charge(
                &spent(0, 0, &[("tokens", u64::MAX - 1)]),
                &spent(1, 1, &[("tokens", 5)]),
            )
            .unwrap();
        assert_eq!(after, spent(1, 1, &[("tokens", u64::MAX)]));
        assert_eq!(limits.left(&after).counters, BTreeMap::new());
    }

    #[test]
    fn amounts_saturate_instead_of_overflowing() {
        let limits = Budget::unlimited();
        let full = spent(u64::MAX, u64::MAX - 1, &[("c", u64::MAX)]);
        // Anything more passes the largest limit; no addition wraps round to fit.
        let over = limits.charge(&full, &spent(1, 0, &[])).unwrap_err();
        assert_eq!(over.item, BudgetItem::Jobs);
        let over = limits.charge(&full, &spent(0, 2, &[])).unwrap_err();
        assert_eq!(over.item, BudgetItem::WallSecs);
        assert_eq!(
            limits.charge(&full, &spent(0, 1, &[])).unwrap(),
            spent(u64::MAX, u64::MAX, &[("c", u64::MAX)])
        );
        assert_eq!(
            full.plus(&full),
            spent(u64::MAX, u64::MAX, &[("c", u64::MAX)])
        );
        // Spent past a limit leaves 0, not a wrapped-round amount.
        let small = budget(1, 1, &[("c", 1)]);
        assert_eq!(small.left(&full), budget(0, 0, &[("c", 0)]));
    }

    #[test]
    fn a_zero_charge_fits_even_past_a_limit() {
        let limits = budget(1, 1, &[("c", 1)]);
        let past = spent(5, 5, &[("c", 5)]);
        assert_eq!(limits.charge(&past, &Spent::default()).unwrap(), past);
    }

    #[test]
    fn left_is_what_remains_of_each_limit() {
        let limits = budget(10, 600, &[("tokens", 1000), ("cost", 50)]);
        let used = spent(3, 100, &[("tokens", 400), ("other", 9)]);
        assert_eq!(
            limits.left(&used),
            budget(7, 500, &[("tokens", 600), ("cost", 50)])
        );
    }

    #[test]
    fn a_budget_lies_within_another_limit_by_limit() {
        let parent = budget(10, 600, &[("tokens", 1000)]);
        assert_eq!(
            budget(10, 600, &[("tokens", 1000), ("cost", 5)]).check_within(&parent),
            Ok(())
        );
        assert_eq!(budget(0, 0, &[("tokens", 0)]).check_within(&parent), Ok(()));

        let wide = budget(11, 600, &[("tokens", 1000)]).check_within(&parent);
        assert_eq!(wide.unwrap_err().field, WritField::Jobs);
        let wide = budget(10, 601, &[("tokens", 1000)]).check_within(&parent);
        assert_eq!(wide.unwrap_err().field, WritField::WallSecs);
        let wide = budget(10, 600, &[("tokens", 1001)])
            .check_within(&parent)
            .unwrap_err();
        assert_eq!(wide.field, WritField::Counter);
        assert_eq!(
            wide.message,
            "counter \"tokens\" at 1001 exceeds the parent's bound 1000"
        );
        let wide = budget(10, 600, &[]).check_within(&parent).unwrap_err();
        assert_eq!(wide.field, WritField::Counter);
        assert_eq!(
            wide.message,
            "counter \"tokens\" is unbounded but the parent bounds it at 1000"
        );
        // Against what is left, not the whole budget.
        let left = parent.left(&spent(4, 0, &[]));
        let wide = budget(7, 0, &[("tokens", 1)]).check_within(&left);
        assert_eq!(wide.unwrap_err().message, "jobs 7 exceed the parent's 6");
    }

    fn amount() -> impl Strategy<Value = u64> {
        prop_oneof![
            0..20u64,
            Just(u64::MAX),
            (u64::MAX - 20)..=u64::MAX,
            any::<u64>()
        ]
    }

    fn amounts() -> impl Strategy<Value = BTreeMap<String, u64>> {
        prop::collection::btree_map(prop::sample::select(vec!["a", "b", "c"]), amount(), 0..3)
            .prop_map(|map| map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    proptest! {
        /// A charge succeeds exactly when, for every bounded limit, what is spent plus what
        /// is asked (in wide arithmetic) stays within it, or nothing is asked; and then the
        /// new spent is the wide sum, capped at the largest amount.
        #[test]
        fn charge_agrees_with_wide_arithmetic(
            limits in (amount(), amount(), amounts()),
            before in (amount(), amount(), amounts()),
            cost in (amount(), amount(), amounts()),
        ) {
            let limits = Budget { jobs: limits.0, wall_secs: limits.1, counters: limits.2 };
            let before = Spent { jobs: before.0, wall_secs: before.1, counters: before.2 };
            let cost = Spent { jobs: cost.0, wall_secs: cost.1, counters: cost.2 };
            let fits = |limit: u64, spent: u64, asked: u64| {
                asked == 0 || u128::from(spent) + u128::from(asked) <= u128::from(limit)
            };
            let expected_ok = fits(limits.jobs, before.jobs, cost.jobs)
                && fits(limits.wall_secs, before.wall_secs, cost.wall_secs)
                && limits.counters.iter().all(|(name, limit)| {
                    fits(*limit, before.counter(name), cost.counter(name))
                });
            let cap = |a: u64, b: u64| {
                u64::try_from(u128::from(a) + u128::from(b)).unwrap_or(u64::MAX)
            };
            match limits.charge(&before, &cost) {
                Ok(after) => {
                    prop_assert!(expected_ok);
                    prop_assert_eq!(after.jobs, cap(before.jobs, cost.jobs));
                    prop_assert_eq!(after.wall_secs, cap(before.wall_secs, cost.wall_secs));
                    for name in ["a", "b", "c"] {
                        prop_assert_eq!(
                            after.counter(name),
                            cap(before.counter(name), cost.counter(name))
                        );
                    }
                }
                Err(over) => {
                    prop_assert!(!expected_ok);
                    prop_assert!(!fits(over.limit, over.spent, over.asked));
                }
            }
        }
    }
}
