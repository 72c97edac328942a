//! Version 1 of `policy.load`, `policy.decision`, `process.vote`, `sws.ruling`,
//! `sws.vote` and `job.ruling`.

use std::{collections::BTreeMap, sync::Arc};

use jitos_gov::{
    policy::{
        Facts as LiveFacts, Point as LivePoint, Policy, PolicyHash, RuleRef as LiveRuleRef, Ruling,
        Trace as LiveTrace, Verdict as LiveVerdict, NAME_BYTES_MAX, POLICY_BYTES_MAX, RULES_MAX,
    },
    writ::{COUNTERS_MAX, PATHS_MAX, PATH_BYTES_MAX, USER_BYTES_MAX},
};
use serde::{Deserialize, Serialize};

use super::{
    access::Role,
    effect::{freeze_class, thaw_class},
};
use crate::durable::{freeze_usize, thaw_usize, Frozen, PayloadError};
use crate::{
    collapse_record::{CollapseRuling as LiveCollapseRuling, CollapseVote as LiveCollapseVote},
    job_ruling::JobRuling as LiveJobRuling,
    policy_record::{
        parse_recorded, PolicyDecision as LiveDecision, Vote as LiveVote, VOTE_NOTE_BYTES_MAX,
    },
};

/// The payload of `policy.load`: the policy's text, exactly as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PolicyLoad {
    text: String,
}

/// The payload of `policy.decision`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PolicyDecision {
    decided_ms: u64,
    process: u64,
    job: u64,
    /// BLAKE3 of the policy's text.
    policy: [u8; 32],
    facts: Facts,
    verdict: Verdict,
    trace: Trace,
}

/// `jitos_gov::policy::Facts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Facts {
    point: Point,
    user: String,
    roles: Vec<Role>,
    worker: Option<String>,
    /// 0 none, 1 workspace, 2 local, 3 network, 4 irreversible.
    effect: Option<u8>,
    paths: Vec<String>,
    budget_left: Vec<(String, u64)>,
    approvals: u32,
}

/// `jitos_gov::policy::Point`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Point {
    Submit,
    Dispatch,
    Gate,
    Collapse,
}

/// `jitos_gov::policy::Verdict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Verdict {
    Allow,
    Deny,
    Require { count: u32, from: Role },
}

/// `jitos_gov::policy::Trace`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Trace {
    rule: Option<RuleRef>,
    skipped: Vec<RuleRef>,
}

/// `jitos_gov::policy::RuleRef`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RuleRef {
    index: u32,
    name: String,
}

/// The payload of `process.vote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Vote {
    process: u64,
    job: u64,
    uid: u32,
    user: String,
    roles: Vec<Role>,
    approve: bool,
    note: String,
}

/// The payload of `sws.ruling`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CollapseRuling {
    sws: u64,
    decided_ms: u64,
    uid: u32,
    writ: Option<u64>,
    changes: [u8; 32],
    /// BLAKE3 of the policy's text.
    policy: [u8; 32],
    facts: Facts,
    verdict: Verdict,
    trace: Trace,
}

/// The payload of `job.ruling`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JobRuling {
    decided_ms: u64,
    uid: u32,
    writ: Option<u64>,
    sws: u64,
    /// BLAKE3 of the policy's text.
    policy: [u8; 32],
    facts: Facts,
    verdict: Verdict,
    trace: Trace,
}

/// The payload of `sws.vote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CollapseVote {
    sws: u64,
    uid: u32,
    user: String,
    roles: Vec<Role>,
    approve: bool,
    note: String,
}

fn invalid(what: &'static str) -> impl Fn(String) -> PayloadError + Copy {
    PayloadError::invalid(what)
}

fn check_len(what: &'static str, len: usize, max: usize) -> Result<(), PayloadError> {
    match len > max {
        true => Err(invalid(what)(format!("{len} is over the limit of {max}"))),
        false => Ok(()),
    }
}

impl Frozen for PolicyLoad {
    type Live = Arc<Policy>;

    fn freeze(live: &Arc<Policy>) -> PolicyLoad {
        PolicyLoad {
            text: live.text().to_owned(),
        }
    }

    fn thaw(self) -> Result<Arc<Policy>, PayloadError> {
        check_len("text", self.text.len(), POLICY_BYTES_MAX)?;
        parse_recorded(&self.text)
            .map(Arc::new)
            .map_err(invalid("text"))
    }
}

impl Frozen for PolicyDecision {
    type Live = LiveDecision;

    fn freeze(live: &LiveDecision) -> PolicyDecision {
        PolicyDecision {
            decided_ms: live.decided_ms,
            process: live.process,
            job: freeze_usize(live.job),
            policy: live.policy.0,
            facts: Facts::freeze(&live.facts),
            verdict: Verdict::freeze(live.ruling.verdict),
            trace: Trace::freeze(&live.ruling.trace),
        }
    }

    fn thaw(self) -> Result<LiveDecision, PayloadError> {
        Ok(LiveDecision {
            decided_ms: self.decided_ms,
            process: self.process,
            job: thaw_usize(self.job, "job")?,
            policy: PolicyHash(self.policy),
            facts: self.facts.thaw()?,
            ruling: Ruling {
                verdict: self.verdict.thaw(),
                trace: self.trace.thaw()?,
            },
        })
    }
}

impl Facts {
    fn freeze(live: &LiveFacts) -> Facts {
        Facts {
            point: match live.point {
                LivePoint::Submit => Point::Submit,
                LivePoint::Dispatch => Point::Dispatch,
                LivePoint::Gate => Point::Gate,
                LivePoint::Collapse => Point::Collapse,
            },
            user: live.user.clone(),
            roles: Role::freeze_all(&live.roles),
            worker: live.worker.clone(),
            effect: live.effect.map(freeze_class),
            paths: live.paths.clone(),
            budget_left: live
                .budget_left
                .iter()
                .map(|(name, left)| (name.clone(), *left))
                .collect(),
            approvals: live.approvals,
        }
    }

    fn thaw(self) -> Result<LiveFacts, PayloadError> {
        check_len("user", self.user.len(), USER_BYTES_MAX)?;
        check_len("paths", self.paths.len(), PATHS_MAX)?;
        for path in &self.paths {
            check_len("path", path.len(), PATH_BYTES_MAX)?;
        }
        if let Some(worker) = &self.worker {
            check_len("worker", worker.len(), USER_BYTES_MAX)?;
        }
        // The writ's counters, and `jobs` and `wall_secs`.
        check_len("budget_left", self.budget_left.len(), COUNTERS_MAX + 2)?;
        let mut budget_left = BTreeMap::new();
        for (name, left) in self.budget_left {
            check_len("budget name", name.len(), USER_BYTES_MAX)?;
            if budget_left.insert(name, left).is_some() {
                return Err(invalid("budget_left")("a budget is named twice".to_owned()));
            }
        }
        let effect = self
            .effect
            .map(|code| thaw_class(code, "effect"))
            .transpose()?;
        Ok(LiveFacts {
            point: match self.point {
                Point::Submit => LivePoint::Submit,
                Point::Dispatch => LivePoint::Dispatch,
                Point::Gate => LivePoint::Gate,
                Point::Collapse => LivePoint::Collapse,
            },
            user: self.user,
            roles: Role::thaw_all(self.roles, "roles")?,
            worker: self.worker,
            effect,
            paths: self.paths,
            budget_left,
            approvals: self.approvals,
        })
    }
}

impl Verdict {
    fn freeze(live: LiveVerdict) -> Verdict {
        match live {
            LiveVerdict::Allow => Verdict::Allow,
            LiveVerdict::Deny => Verdict::Deny,
            LiveVerdict::Require { count, from } => Verdict::Require {
                count,
                from: Role::freeze(from),
            },
        }
    }

    fn thaw(self) -> LiveVerdict {
        match self {
            Verdict::Allow => LiveVerdict::Allow,
            Verdict::Deny => LiveVerdict::Deny,
            Verdict::Require { count, from } => LiveVerdict::Require {
                count,
                from: from.thaw(),
            },
        }
    }
}

impl Trace {
    fn freeze(live: &LiveTrace) -> Trace {
        let rule_ref = |r: &LiveRuleRef| RuleRef {
            index: r.index,
            name: r.name.clone(),
        };
        Trace {
            rule: live.rule.as_ref().map(rule_ref),
            skipped: live.skipped.iter().map(rule_ref).collect(),
        }
    }

    fn thaw(self) -> Result<LiveTrace, PayloadError> {
        check_len("skipped", self.skipped.len(), RULES_MAX)?;
        let rule_ref = |r: RuleRef| {
            check_len("rule name", r.name.len(), NAME_BYTES_MAX).map(|()| LiveRuleRef {
                index: r.index,
                name: r.name,
            })
        };
        Ok(LiveTrace {
            rule: self.rule.map(rule_ref).transpose()?,
            skipped: self
                .skipped
                .into_iter()
                .map(rule_ref)
                .collect::<Result<_, _>>()?,
        })
    }
}

impl Frozen for Vote {
    type Live = LiveVote;

    fn freeze(live: &LiveVote) -> Vote {
        Vote {
            process: live.process,
            job: freeze_usize(live.job),
            uid: live.uid,
            user: live.user.clone(),
            roles: Role::freeze_all(&live.roles),
            approve: live.approve,
            note: live.note.clone(),
        }
    }

    fn thaw(self) -> Result<LiveVote, PayloadError> {
        check_len("user", self.user.len(), USER_BYTES_MAX)?;
        check_len("note", self.note.len(), VOTE_NOTE_BYTES_MAX)?;
        Ok(LiveVote {
            process: self.process,
            job: thaw_usize(self.job, "job")?,
            uid: self.uid,
            user: self.user,
            roles: Role::thaw_all(self.roles, "roles")?,
            approve: self.approve,
            note: self.note,
        })
    }
}

impl Frozen for CollapseRuling {
    type Live = LiveCollapseRuling;

    fn freeze(live: &LiveCollapseRuling) -> CollapseRuling {
        CollapseRuling {
            sws: live.sws,
            decided_ms: live.decided_ms,
            uid: live.uid,
            writ: live.writ,
            changes: live.changes,
            policy: live.policy.0,
            facts: Facts::freeze(&live.facts),
            verdict: Verdict::freeze(live.ruling.verdict),
            trace: Trace::freeze(&live.ruling.trace),
        }
    }

    fn thaw(self) -> Result<LiveCollapseRuling, PayloadError> {
        let facts = self.facts.thaw()?;
        if facts.point != LivePoint::Collapse {
            return Err(invalid("facts")(format!(
                "a collapse was ruled on at the {} point",
                facts.point
            )));
        }
        Ok(LiveCollapseRuling {
            sws: self.sws,
            decided_ms: self.decided_ms,
            uid: self.uid,
            writ: self.writ,
            changes: self.changes,
            policy: PolicyHash(self.policy),
            facts,
            ruling: Ruling {
                verdict: self.verdict.thaw(),
                trace: self.trace.thaw()?,
            },
        })
    }
}

impl Frozen for CollapseVote {
    type Live = LiveCollapseVote;

    fn freeze(live: &LiveCollapseVote) -> CollapseVote {
        CollapseVote {
            sws: live.sws,
            uid: live.uid,
            user: live.user.clone(),
            roles: Role::freeze_all(&live.roles),
            approve: live.approve,
            note: live.note.clone(),
        }
    }

    fn thaw(self) -> Result<LiveCollapseVote, PayloadError> {
        check_len("user", self.user.len(), USER_BYTES_MAX)?;
        check_len("note", self.note.len(), VOTE_NOTE_BYTES_MAX)?;
        Ok(LiveCollapseVote {
            sws: self.sws,
            uid: self.uid,
            user: self.user,
            roles: Role::thaw_all(self.roles, "roles")?,
            approve: self.approve,
            note: self.note,
        })
    }
}

impl Frozen for JobRuling {
    type Live = LiveJobRuling;

    fn freeze(live: &LiveJobRuling) -> JobRuling {
        JobRuling {
            decided_ms: live.decided_ms,
            uid: live.uid,
            writ: live.writ,
            sws: live.sws,
            policy: live.policy.0,
            facts: Facts::freeze(&live.facts),
            verdict: Verdict::freeze(live.ruling.verdict),
            trace: Trace::freeze(&live.ruling.trace),
        }
    }

    fn thaw(self) -> Result<LiveJobRuling, PayloadError> {
        let facts = self.facts.thaw()?;
        if facts.point != LivePoint::Dispatch || facts.worker.is_none() || facts.effect.is_none() {
            return Err(invalid("facts")(
                "a job outside a process is ruled on at the dispatch point, on its worker and effect"
                    .to_owned(),
            ));
        }
        Ok(LiveJobRuling {
            decided_ms: self.decided_ms,
            uid: self.uid,
            writ: self.writ,
            sws: self.sws,
            policy: PolicyHash(self.policy),
            facts,
            ruling: Ruling {
                verdict: self.verdict.thaw(),
                trace: self.trace.thaw()?,
            },
        })
    }
}
