//! What a policy is made of: the decision points, the verdicts, the conditions and the
//! rules, each with the one-line rendering `jitos policy show` prints.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};

use crate::{Effect, Role};

/// Where in a job's life the daemon asks the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Point {
    /// A process is submitted.
    Submit,
    /// A job is about to be dispatched to its worker.
    Dispatch,
    /// A gate: a step that waits on approvals before the work goes on.
    Gate,
    /// A workspace outside any process is about to collapse into the system.
    Collapse,
}

impl Point {
    /// Every point, in the order a job meets them.
    pub const ALL: [Point; 4] = [Point::Submit, Point::Dispatch, Point::Gate, Point::Collapse];

    /// Its name in policy files, records and messages.
    pub fn name(self) -> &'static str {
        match self {
            Point::Submit => "submit",
            Point::Dispatch => "dispatch",
            Point::Gate => "gate",
            Point::Collapse => "collapse",
        }
    }

    /// The point named `name`, if any.
    pub fn from_name(name: &str) -> Option<Point> {
        Point::ALL.into_iter().find(|point| point.name() == name)
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a policy decides: go on, stop, or wait for approvals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Go on.
    Allow,
    /// Refuse.
    Deny,
    /// Go on once `count` distinct holders of `from` have approved.
    Require {
        /// How many approvals, 1 to `REQUIRE_MAX`.
        count: u32,
        /// The role each approver must hold.
        from: Role,
    },
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Allow => f.write_str("allow"),
            Verdict::Deny => f.write_str("deny"),
            Verdict::Require { count: 1, from } => write!(f, "require 1 approval from {from}"),
            Verdict::Require { count, from } => write!(f, "require {count} approvals from {from}"),
        }
    }
}

/// One condition of a rule's `when`. A list in the file means any of its items; a
/// condition on a fact the point does not have (no worker at submit, say) does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The requester holds any of these roles. Only the roles themselves count: `admin`
    /// does not stand in for the others, so a rule says whom it means.
    Role(Vec<Role>),
    /// The requester's user name is one of these.
    User(Vec<String>),
    /// The job's worker is one of these.
    Worker(Vec<String>),
    /// The job's effect class is one of these.
    Effect(Vec<Effect>),
    /// The job's effect class is this one or above.
    EffectAtLeast(Effect),
    /// The job's effect class is this one or below.
    EffectAtMost(Effect),
    /// Some path the job may change is under one of these prefixes, component-wise.
    Path(Vec<String>),
    /// Some named budget has less than its number left.
    BudgetBelow(BTreeMap<String, u64>),
    /// Fewer approvals than this have been given.
    ApprovalsBelow(u32),
    /// At least this many approvals have been given.
    ApprovalsAtLeast(u32),
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Role(roles) => write!(f, "role is {}", any_of(roles, |r| r.to_string())),
            Condition::User(users) => write!(f, "user is {}", any_of(users, |u| quoted(u))),
            Condition::Worker(workers) => write!(f, "worker is {}", any_of(workers, |w| quoted(w))),
            Condition::Effect(effects) => {
                write!(f, "effect is {}", any_of(effects, |e| e.to_string()))
            }
            Condition::EffectAtLeast(effect) => write!(f, "effect at least {effect}"),
            Condition::EffectAtMost(effect) => write!(f, "effect at most {effect}"),
            Condition::Path(paths) => write!(f, "path under {}", any_of(paths, |p| quoted(p))),
            Condition::BudgetBelow(budgets) => {
                let each: Vec<String> = budgets
                    .iter()
                    .map(|(name, below)| format!("{name} below {below}"))
                    .collect();
                write!(f, "budget {}", each.join(" or "))
            }
            Condition::ApprovalsBelow(count) => write!(f, "approvals below {count}"),
            Condition::ApprovalsAtLeast(count) => write!(f, "approvals at least {count}"),
        }
    }
}

/// Free text (user names, workers, paths) is quoted so a space or an `or` in it cannot
/// be misread in a rendered rule.
fn quoted(text: &str) -> String {
    format!("{text:?}")
}

fn any_of<T>(items: &[T], show: impl Fn(&T) -> String) -> String {
    let shown: Vec<String> = items.iter().map(show).collect();
    shown.join(" or ")
}

/// One rule of a policy: at which point it applies, what must hold, and what it decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Its place in the policy, from 0; people see it counted from 1 (`rule 1`).
    pub index: u32,
    /// Its name, unique in the policy.
    pub name: String,
    /// The one point it applies at; `None` for every point.
    pub at: Option<Point>,
    /// What must all hold for it to decide; empty for always.
    pub when: Vec<Condition>,
    /// What it decides when it applies.
    pub decide: Verdict,
}

/// One line: `rule 1 "name": at dispatch, when effect at least irreversible: require 2
/// approvals from approver`.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {} {:?}: ", u64::from(self.index) + 1, self.name)?;
        match self.at {
            Some(point) => write!(f, "at {point}, ")?,
            None => f.write_str("at every point, ")?,
        }
        if self.when.is_empty() {
            f.write_str("always")?;
        } else {
            let each: Vec<String> = self.when.iter().map(ToString::to_string).collect();
            write!(f, "when {}", each.join(" and "))?;
        }
        write!(f, ": {}", self.decide)
    }
}
