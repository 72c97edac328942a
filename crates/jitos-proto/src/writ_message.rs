//! The wire types of governance: writs and the daemon's key (what a client asks to grant,
//! and what it reads about a grant), and the policy in force.

use jitos_gov::{
    writ::{Budget, Spent, Writ},
    Effect, Role,
};
use serde::{Deserialize, Serialize};

/// A writ a client asks the daemon to issue and sign. Unset fields take the parent's value
/// when delegating (`from`), and otherwise the defaults `jitos writ issue --help` lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WritSpec {
    /// Who may use it: a user name, or a uid in decimal.
    pub to: String,
    /// The writ it is delegated from; none for a writ of the daemon's own (admin only).
    pub from: Option<u64>,
    /// Workers its jobs may run; none for every worker (or the parent's).
    pub workers: Option<Vec<String>>,
    /// Tree path prefixes its jobs may change; none for the whole tree (or the parent's).
    pub paths: Option<Vec<String>>,
    /// The highest effect class its jobs may have.
    pub effect: Option<Effect>,
    /// Jobs it may dispatch in all.
    pub jobs: Option<u64>,
    /// Seconds of job deadlines it may spend in all.
    pub wall_secs: Option<u64>,
    /// Named budgets (`tokens`, `cost_millicents`, …) and their limits.
    pub counters: Vec<(String, u64)>,
    /// Secrets its jobs may receive, by name; none for the parent's (or none at all).
    pub secrets: Option<Vec<String>>,
    /// Origins its jobs may reach, each optionally preceded by its methods
    /// (`GET,HEAD https://pypi.org`); none for the parent's (or none at all).
    pub egress: Option<Vec<String>>,
    /// Seconds from now until it expires.
    pub expires_secs: Option<u64>,
    /// How many further delegations it allows (a process takes one).
    pub depth: Option<u32>,
}

/// Where a writ stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WritState {
    /// It may be used.
    InForce,
    /// It, or the writ it was delegated from, was revoked.
    Revoked {
        /// The revocation record.
        seq: u64,
        /// The writ the revocation named.
        writ: u64,
        /// Why.
        reason: String,
    },
    /// Its expiry has passed.
    Expired,
    /// It is no longer held by the daemon's state (revoked or expired, with nothing left
    /// running under it); its record is history.
    Ended,
}

/// How a writ came to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantView {
    /// Issued by a person.
    Issued,
    /// Derived for a process from its submitter's roles.
    Derived {
        /// Those roles.
        roles: Vec<Role>,
    },
    /// Delegated for a process submitted under a writ.
    Delegated {
        /// The submitter's roles.
        roles: Vec<Role>,
    },
}

/// One writ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WritView {
    /// Its id: the seq of the record that issued it.
    pub id: u64,
    /// The grant as signed.
    pub writ: Writ,
    /// What has been spent under it, when the daemon still holds it.
    pub spent: Option<Spent>,
    /// Its budgets in force: as signed, raised by every `writ raise` (for a writ the
    /// daemon no longer holds, as signed).
    pub budget: Budget,
    /// Where it stands.
    pub state: WritState,
    /// The process it was issued for, if any.
    pub for_process: Option<u64>,
    /// How it came to be.
    pub grant: GrantView,
    /// The signature, hex.
    pub signature: String,
}

/// The daemon's writ-signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    /// The ed25519 public key, hex.
    pub public: String,
    /// The file that holds the secret half, on the daemon's host.
    pub path: String,
}

/// The policy in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyView {
    /// Its content hash (BLAKE3 of the text, hex).
    pub hash: String,
    /// The record that brought it into force; none when no policy was ever recorded (every
    /// job is allowed and not ruled on).
    pub seq: Option<u64>,
    /// What happens when no rule applies.
    pub default: String,
    /// Each rule in a line, in order.
    pub rules: Vec<String>,
    /// Its text.
    pub text: String,
}

/// What a candidate policy would have ruled differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulationView {
    /// The candidate's content hash (hex).
    pub hash: String,
    /// How many recorded rulings were ruled on again.
    pub rulings: u64,
    /// Each ruling the candidate changes, oldest first.
    pub changes: Vec<ChangeView>,
}

/// One recorded ruling a candidate policy changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeView {
    /// The `policy.decision` record.
    pub seq: u64,
    /// The process.
    pub process: u64,
    /// The job, by index in its plan.
    pub job: u64,
    /// What was ruled, in words.
    pub was: String,
    /// What the candidate rules, and by which rule.
    pub now: String,
}
