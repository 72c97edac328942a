//! Evaluation: the facts a decision is made on, the ruling with the trace of rules that
//! led to it, and the pure function from (rules, facts) to ruling.
//!
//! Nothing here reads a clock, a map with a random order or the environment: the daemon
//! records the facts with each ruling, and `jitos policy simulate` re-evaluates them
//! later, so the same facts under the same policy must give the same ruling forever.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};

use super::rule::{Condition, Point, Rule, Verdict};
use crate::{Effect, Role, Roles};

/// What the daemon knows at a decision point, and all a policy may decide on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Where the decision is made.
    pub point: Point,
    /// The requester's user name.
    pub user: String,
    /// The requester's roles, strongest first (the order of `Role`), each once.
    pub roles: Vec<Role>,
    /// The job's worker; `None` at a point with no job yet (submit).
    pub worker: Option<String>,
    /// The job's effect class; `None` at a point with no job yet.
    pub effect: Option<Effect>,
    /// The tree paths the job may change; empty for the whole tree.
    pub paths: Vec<String>,
    /// What is left of each bounded budget, by name (`jobs`, `wall_secs`, a counter); a
    /// budget that is not here is unbounded.
    pub budget_left: BTreeMap<String, u64>,
    /// Approvals already given at this point.
    pub approvals: u32,
}

impl Facts {
    /// The facts of `user` holding `roles` at `point`, with no worker, no effect, the whole
    /// tree, no bounded budget and no approval; set the rest by field.
    pub fn new(point: Point, user: impl Into<String>, roles: Roles) -> Facts {
        Facts {
            point,
            user: user.into(),
            // `Roles::iter` yields in `Role` order, so this is sorted and free of repeats.
            roles: roles.iter().collect(),
            worker: None,
            effect: None,
            paths: Vec::new(),
            budget_left: BTreeMap::new(),
            approvals: 0,
        }
    }
}

/// A rule named in a trace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RuleRef {
    /// Its place in the policy, from 0 (shown from 1: `rule 1`).
    pub index: u32,
    /// Its name.
    pub name: String,
}

impl RuleRef {
    fn of(rule: &Rule) -> RuleRef {
        RuleRef {
            index: rule.index,
            name: rule.name.clone(),
        }
    }
}

/// `rule 1 "name"`, counted from 1 as people count the rules of a file.
impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {} {:?}", u64::from(self.index) + 1, self.name)
    }
}

/// How a ruling was reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// The rule that decided; `None` when none applied and the default did.
    pub rule: Option<RuleRef>,
    /// The rules for this point tried before it, in order, whose conditions did not all
    /// hold. At most `RULES_MAX`; rules for other points are not listed.
    pub skipped: Vec<RuleRef>,
}

/// What a policy decided on some facts, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ruling {
    /// The decision.
    pub verdict: Verdict,
    /// The rules that led to it.
    pub trace: Trace,
}

impl Ruling {
    /// One line for `jitos log` and `inspect`: `require 2 approvals from approver (rule 1
    /// "two approvers")`, or `allow (the default)`.
    pub fn explain(&self) -> String {
        match &self.trace.rule {
            Some(rule) => format!("{} ({rule})", self.verdict),
            None => format!("{} (the default)", self.verdict),
        }
    }
}

/// The first rule for `facts.point` whose every condition holds, else `default`.
pub(super) fn evaluate(rules: &[Rule], default: Verdict, facts: &Facts) -> Ruling {
    let mut skipped = Vec::new();
    for rule in rules {
        if rule.at.is_some_and(|at| at != facts.point) {
            continue;
        }
        if rule.when.iter().all(|condition| condition.holds(facts)) {
            return Ruling {
                verdict: rule.decide,
                trace: Trace {
                    rule: Some(RuleRef::of(rule)),
                    skipped,
                },
            };
        }
        skipped.push(RuleRef::of(rule));
    }
    Ruling {
        verdict: default,
        trace: Trace {
            rule: None,
            skipped,
        },
    }
}

impl Condition {
    /// Whether the condition holds of `facts`.
    pub fn holds(&self, facts: &Facts) -> bool {
        match self {
            Condition::Role(roles) => roles.iter().any(|role| facts.roles.contains(role)),
            Condition::User(users) => users.contains(&facts.user),
            Condition::Worker(workers) => facts
                .worker
                .as_ref()
                .is_some_and(|worker| workers.contains(worker)),
            Condition::Effect(effects) => {
                facts.effect.is_some_and(|effect| effects.contains(&effect))
            }
            Condition::EffectAtLeast(least) => facts.effect.is_some_and(|effect| effect >= *least),
            Condition::EffectAtMost(most) => facts.effect.is_some_and(|effect| effect <= *most),
            // A job that may change the whole tree may change something under any prefix.
            // A yes/no step changes no path: only a job's paths can hold.
            Condition::Path(_) if facts.point == Point::Gate => false,
            // A collapse's paths are the files it changes: with none changed, none is under
            // any prefix (a collapse of more than can be listed names the root, `.`).
            Condition::Path(prefixes) => {
                (facts.paths.is_empty() && facts.point != Point::Collapse)
                    || facts
                        .paths
                        .iter()
                        .any(|path| prefixes.iter().any(|prefix| overlaps(path, prefix)))
            }
            Condition::BudgetBelow(limits) => limits
                .iter()
                .any(|(name, below)| facts.budget_left.get(name).is_some_and(|left| left < below)),
            Condition::ApprovalsBelow(count) => facts.approvals < *count,
            Condition::ApprovalsAtLeast(count) => facts.approvals >= *count,
        }
    }
}

/// Whether a job allowed to change `path` (and everything under it) may change something
/// under `prefix`: one is a component-wise prefix of the other. A job allowed `src` may
/// change `src/secret/key`, so a rule about `src/secret` must see it; `srcx` is not under
/// `src`. The root (`""` or `.`, as the scheduler writes it) is a prefix of every path.
pub(super) fn overlaps(path: &str, prefix: &str) -> bool {
    components(path)
        .zip(components(prefix))
        .all(|(a, b)| a == b)
}

/// The named components of a tree path: `""` and `.` name nothing.
fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter(|component| !component.is_empty() && *component != ".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts::new(Point::Dispatch, "alice", Roles::of(Role::Operator))
    }

    #[test]
    fn paths_overlap_by_whole_components() {
        let cases = [
            ("src", "src", true),
            ("src/a", "src", true),
            ("src", "src/a", true),
            ("src/a/b", "src/a", true),
            ("srcx", "src", false),
            ("src", "srcx", false),
            ("src/ab", "src/a", false),
            ("docs", "src", false),
            ("", "src", true),
            (".", "src", true),
            ("src/", "src", true),
        ];
        for (path, prefix, wanted) in cases {
            assert_eq!(overlaps(path, prefix), wanted, "{path:?} vs {prefix:?}");
        }
    }

    #[test]
    fn absent_facts_hold_no_condition_on_them() {
        let bare = facts();
        let on_absent = [
            Condition::Worker(vec!["shell".into()]),
            Condition::Effect(Effect::ALL.to_vec()),
            Condition::EffectAtLeast(Effect::None),
            Condition::EffectAtMost(Effect::Irreversible),
            Condition::BudgetBelow([("jobs".to_owned(), u64::MAX)].into()),
        ];
        for condition in on_absent {
            assert!(
                !condition.holds(&bare),
                "{condition} held with nothing known"
            );
        }
    }

    #[test]
    fn facts_new_lists_roles_sorted() {
        let roles: Roles = [Role::Viewer, Role::Admin, Role::Approver]
            .into_iter()
            .collect();
        let facts = Facts::new(Point::Gate, "bob", roles);
        assert_eq!(facts.roles, vec![Role::Admin, Role::Approver, Role::Viewer]);
    }

    #[test]
    fn explain_names_the_rule_from_one_or_the_default() {
        let decided = Ruling {
            verdict: Verdict::Require {
                count: 2,
                from: Role::Approver,
            },
            trace: Trace {
                rule: Some(RuleRef {
                    index: 0,
                    name: "two approvers".into(),
                }),
                skipped: Vec::new(),
            },
        };
        assert_eq!(
            decided.explain(),
            "require 2 approvals from approver (rule 1 \"two approvers\")"
        );
        let fallen = Ruling {
            verdict: Verdict::Allow,
            trace: Trace {
                rule: None,
                skipped: Vec::new(),
            },
        };
        assert_eq!(fallen.explain(), "allow (the default)");
    }
}
