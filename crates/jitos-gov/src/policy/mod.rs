//! Policy: an ordered list of rules the daemon asks at its decision points (submit,
//! dispatch, gate), read from a strict TOML file.
//!
//! ```toml
//! default = "deny"                       # when no rule applies: "allow" or "deny"
//!
//! [[rule]]
//! name = "irreversible effects need two approvers"
//! at = "dispatch"                        # optional: submit | dispatch | gate
//! when = { effect_at_least = "irreversible" }
//! decide = { require = 2, from = "approver" }
//!
//! [[rule]]
//! name = "viewers run nothing"
//! when = { role = "viewer" }
//! decide = "deny"
//! ```
//!
//! Rules are tried in file order, skipping those for another point; the first whose every
//! condition holds decides, and none leaves it to `default`. Evaluation is a pure function
//! of the policy and the [`Facts`]: the daemon records the facts, the ruling and the
//! policy's hash with each decision, and [`simulate`] re-evaluates recorded facts under a
//! candidate policy to show which decisions it would change.

mod evaluate;
mod file;
mod rule;
#[cfg(test)]
mod tests;

use std::{fmt, path::Path, str::FromStr};

use jitos_tasks::{read_source, SourceError};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

pub use evaluate::{Facts, RuleRef, Ruling, Trace};
pub use rule::{Condition, Point, Rule, Verdict};

/// Largest policy text, in bytes.
pub const POLICY_BYTES_MAX: usize = 64 * 1024;

/// Most rules a policy holds; also the bound on a trace's skipped rules.
pub const RULES_MAX: usize = 256;

/// Longest rule name, in bytes.
pub const NAME_BYTES_MAX: usize = 128;

/// Most approvals a rule may require.
pub const REQUIRE_MAX: u32 = 16;

/// The text of the policy the daemon runs with when given none: allow everything. It is
/// fixed, so decisions made without a policy all carry one known hash.
pub const ALLOW_ALL_TEXT: &str =
    "# No policy given: every decision is allowed.\ndefault = \"allow\"\n";

/// A checked policy: its rules, its default, and the exact text they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    text: String,
    hash: PolicyHash,
    default: Verdict,
    rules: Vec<Rule>,
}

impl Policy {
    /// Parses and checks policy text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Policy, SourceError> {
        let (default, rules) = file::parse(text, path)?;
        Ok(Policy {
            text: text.to_owned(),
            hash: PolicyHash::of(text),
            default,
            rules,
        })
    }

    /// Reads and checks the policy file at `path`.
    pub fn load(path: &Path) -> Result<Policy, SourceError> {
        Policy::parse(&read_source(path)?, path)
    }

    /// The policy of a daemon given none: no rule, default allow, text `ALLOW_ALL_TEXT`.
    pub fn allow_all() -> Policy {
        Policy {
            text: ALLOW_ALL_TEXT.to_owned(),
            hash: PolicyHash::of(ALLOW_ALL_TEXT),
            default: Verdict::Allow,
            rules: Vec::new(),
        }
    }

    /// The hash of its text, which records name it by.
    pub fn hash(&self) -> PolicyHash {
        self.hash
    }

    /// The exact text it was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Its rules, in the order they are tried.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// What it decides when no rule applies: `Allow` or `Deny`.
    pub fn default_verdict(&self) -> Verdict {
        self.default
    }

    /// What it decides on `facts`, and which rules led there.
    pub fn evaluate(&self, facts: &Facts) -> Ruling {
        evaluate::evaluate(&self.rules, self.default, facts)
    }
}

/// A recorded decision a candidate policy would decide otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The record the decision was made in.
    pub seq: u64,
    /// What was decided.
    pub was: Verdict,
    /// What the candidate decides, and why.
    pub now: Ruling,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seq {}: was {}, now {}",
            self.seq,
            self.was,
            self.now.explain()
        )
    }
}

/// The recorded decisions — each its record's seq, the facts it was made on and its
/// verdict — that `candidate` would decide otherwise, in the order given.
pub fn simulate<'a>(
    candidate: &Policy,
    recorded: impl IntoIterator<Item = (u64, &'a Facts, &'a Verdict)>,
) -> Vec<Change> {
    recorded
        .into_iter()
        .filter_map(|(seq, facts, was)| {
            let now = candidate.evaluate(facts);
            (now.verdict != *was).then_some(Change {
                seq,
                was: *was,
                now,
            })
        })
        .collect()
}

/// The BLAKE3 hash of a policy's exact text, so `b3sum` of the file gives the same. Display
/// and Debug: 64 lowercase hex digits. Serde: that hex string in human-readable formats,
/// the 32 raw bytes otherwise.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyHash(pub [u8; 32]);

impl PolicyHash {
    /// The hash of `text`.
    pub fn of(text: &str) -> PolicyHash {
        PolicyHash(*blake3::hash(text.as_bytes()).as_bytes())
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 12 hex digits, for lists and messages.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }
}

impl fmt::Display for PolicyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PolicyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for PolicyHash {
    type Err = hex::FromHexError;

    /// Exactly 64 hex digits.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes)?;
        Ok(PolicyHash(bytes))
    }
}

impl Serialize for PolicyHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_hex())
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for PolicyHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            text.parse()
                .map_err(|e| de::Error::custom(format_args!("invalid policy hash: {e}")))
        } else {
            <[u8; 32]>::deserialize(deserializer).map(PolicyHash)
        }
    }
}
