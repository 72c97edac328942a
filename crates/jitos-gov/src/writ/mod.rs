//! Writs: capability grants. A process runs under one, and it says which workers its jobs
//! may run, which paths of the tree they may change, how far their effects may reach, how
//! much they may use, which secrets they may receive, until when, and how many times it may
//! be delegated further.
//!
//! Everything here is pure: the kernel records writs (a writ's id is the seq of the record
//! that issues it, so the id is not part of what is signed), tracks what each has spent and
//! asks these functions whether an act fits.
//!
//! - [`Writ::check`] keeps every part within the named limits (the `*_MAX` constants).
//! - [`Writ::check_within`] says whether a writ may be delegated from another: a child
//!   grants no more than its parent on any field.
//! - [`Writ::admits`] and [`Budget::charge`] say whether a job fits.
//! - [`Writ::signing_bytes`] is the frozen encoding the ledger stores and an issuer signs
//!   with a [`WritKey`].

mod budget;
mod egress;
mod limits;
mod narrow;
mod scope;
mod sign;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::Effect;

pub use budget::{Budget, BudgetItem, Overdraft, Spent};
pub use egress::{
    allows_connect, allows_request, canonical_entry, parse_entry, EgressEntry, METHODS,
};
pub use limits::{
    COUNTERS_MAX, DEPTH_MAX, EGRESS_MAX, NAME_BYTES_MAX, PATHS_MAX, PATH_BYTES_MAX, SECRETS_MAX,
    USER_BYTES_MAX, WORKERS_MAX, WRIT_BYTES_MAX,
};
pub use narrow::{Widening, WritField};
pub use scope::{path_under, Scope};
pub use sign::{WritKey, WritPublicKey, WritSignature, WRIT_TAG, WRIT_TAG_V2};

use limits::{name_problem, path_problem, shown};

/// A local user, as a writ names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Their uid.
    pub uid: u32,
    /// Their user name.
    pub user: String,
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (uid {})", self.user, self.uid)
    }
}

/// A capability grant: what the jobs of a process running under it may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Writ {
    /// Who may use it.
    pub subject: Subject,
    /// Who issued it.
    pub issuer: Subject,
    /// The id of the writ it was delegated from; `None` for a root writ.
    pub parent: Option<u64>,
    /// The workers its jobs may run.
    pub workers: Scope,
    /// The path prefixes of the tree its jobs may change, component by component (`src`
    /// covers `src/a.rs` and `src`, not `srcx`).
    pub paths: Scope,
    /// The highest effect class its jobs may have.
    pub effect: Effect,
    /// The origins its jobs may reach over the network, each with the HTTP methods allowed
    /// there (`egress.rs`); `Only` of nothing, the default, reaches none.
    pub egress: Scope,
    /// How much its jobs may use in all.
    pub budget: Budget,
    /// The names of the secrets its jobs may receive.
    pub secrets: BTreeSet<String>,
    /// When it was issued, in milliseconds since the Unix epoch.
    pub issued_ms: u64,
    /// When it stops granting anything, in milliseconds since the Unix epoch.
    pub expires_ms: u64,
    /// How many further delegations it allows below it: 0 allows none.
    pub depth: u32,
}

/// A part of a writ that can be invalid, for [`WritError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WritPart {
    /// The subject's user name.
    Subject,
    /// The issuer's user name.
    Issuer,
    /// A worker name.
    Worker,
    /// A path prefix.
    Path,
    /// A counter name.
    Counter,
    /// A secret name.
    Secret,
    /// An egress entry.
    Egress,
}

impl WritPart {
    /// How a message names one of it.
    pub fn name(self) -> &'static str {
        match self {
            WritPart::Subject => "subject user name",
            WritPart::Issuer => "issuer user name",
            WritPart::Worker => "worker name",
            WritPart::Path => "path",
            WritPart::Counter => "counter name",
            WritPart::Secret => "secret name",
            WritPart::Egress => "egress entry",
        }
    }

    /// How a message names several of it.
    pub fn plural(self) -> &'static str {
        match self {
            WritPart::Subject => "subject user names",
            WritPart::Issuer => "issuer user names",
            WritPart::Worker => "workers",
            WritPart::Path => "paths",
            WritPart::Counter => "counters",
            WritPart::Secret => "secrets",
            WritPart::Egress => "egress entries",
        }
    }
}

impl std::fmt::Display for WritPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a writ is not valid, its bytes do not decode, or its signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WritError {
    /// A name or path breaks the rules for its kind.
    #[error("{part} {} is not valid: {problem}", shown(value))]
    Invalid {
        /// What kind of thing it is.
        part: WritPart,
        /// The name or path.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// More entries of one kind than a writ may hold.
    #[error("the writ names {count} {}, over the {max} allowed", part.plural())]
    TooMany {
        /// What kind of entry.
        part: WritPart,
        /// How many it names.
        count: usize,
        /// How many are allowed.
        max: usize,
    },
    /// A depth over [`DEPTH_MAX`].
    #[error("depth {depth} is over the {DEPTH_MAX} delegations a writ may allow")]
    TooDeep {
        /// The depth asked for.
        depth: u32,
    },
    /// An expiry before the issue.
    #[error(
        "the writ expires at {expires_ms} ms, before it is issued at {issued_ms} ms; \
         give an expiry at or after its issue"
    )]
    ExpiresBeforeIssued {
        /// When it is issued.
        issued_ms: u64,
        /// When it expires.
        expires_ms: u64,
    },
    /// An encoding over [`WRIT_BYTES_MAX`].
    #[error(
        "the writ is {len} bytes encoded, over the {WRIT_BYTES_MAX} allowed; \
         name fewer or shorter paths, workers, counters or secrets"
    )]
    TooLarge {
        /// Its length in bytes.
        len: usize,
    },
    /// Bytes that do not begin with [`WRIT_TAG`].
    #[error(
        "these bytes are not a writ: they begin with neither the tag \"jitos.writ.v1\\0\" \
         nor \"jitos.writ.v2\\0\""
    )]
    NoTag,
    /// Bytes after the tag that do not decode as a writ.
    #[error("the writ's bytes do not decode: {message}")]
    Decode {
        /// What the decoder found.
        message: String,
    },
    /// Bytes after a complete writ.
    #[error("{extra} bytes follow the writ; a writ's bytes end where its encoding does")]
    Trailing {
        /// How many.
        extra: usize,
    },
    /// An effect code no class has.
    #[error("the writ's effect code {code} names no effect class (0 none to 4 irreversible)")]
    UnknownEffect {
        /// The code found.
        code: u8,
    },
    /// Bytes that decode but are not the encoding `signing_bytes` gives.
    #[error(
        "the writ's bytes are not its canonical encoding (a set out of order or repeated, or a \
         number not in its shortest form); re-encode the writ with signing_bytes"
    )]
    NotCanonical,
    /// A public key or signature in hex that is not the right number of hex digits.
    #[error("a writ {what} is {} hex digits: {problem}", 2 * len)]
    Hex {
        /// "public key" or "signature".
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// What is wrong with the text.
        problem: String,
    },
    /// Public key bytes that are no ed25519 key.
    #[error("{key} is not a valid ed25519 public key")]
    InvalidPublicKey {
        /// The key, in hex.
        key: String,
    },
    /// A signature that does not match.
    #[error(
        "the signature does not match the writ under the public key {key}: the writ changed \
         after it was signed, or another key signed it"
    )]
    BadSignature {
        /// The key, in hex.
        key: String,
    },
}

/// Why a job does not fit a writ.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Exceeds {
    /// The worker is not among the writ's.
    #[error("the writ does not grant the worker {}", shown(worker))]
    Worker {
        /// The worker asked for.
        worker: String,
    },
    /// The effect is over the writ's ceiling.
    #[error("effect {effect} is over the writ's ceiling {ceiling}")]
    Effect {
        /// The effect asked for.
        effect: Effect,
        /// The writ's ceiling.
        ceiling: Effect,
    },
    /// A path lies outside the writ's path prefixes.
    #[error("path {} lies under none of the writ's paths", shown(path))]
    Path {
        /// The path asked for.
        path: String,
    },
    /// The job names no paths, so may change the whole tree, and the writ grants only some.
    #[error(
        "the job may change the whole tree but the writ grants only some paths; name the \
         paths the job changes"
    )]
    WholeTree,
    /// A path asked for that is not a valid path, so cannot be placed in or out of scope.
    #[error("path {} is not valid: {problem}", shown(path))]
    InvalidPath {
        /// The path asked for.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl Writ {
    /// Whether every part is within the limits: user names non-empty and at most
    /// [`USER_BYTES_MAX`] bytes; worker, counter and secret names valid (non-empty, at most
    /// [`NAME_BYTES_MAX`] bytes of ASCII letters, digits, `_`, `.` and `-`, not `.` or `..`);
    /// paths relative, at most [`PATH_BYTES_MAX`] bytes, with no empty, `.` or `..`
    /// components; at most [`WORKERS_MAX`] workers, [`PATHS_MAX`] paths, [`COUNTERS_MAX`]
    /// counters, [`SECRETS_MAX`] secrets and [`EGRESS_MAX`] egress entries, each in its
    /// canonical form (`canonical_entry`); depth at most [`DEPTH_MAX`]; an expiry not
    /// before the issue; and all of it encoding within [`WRIT_BYTES_MAX`].
    pub fn check(&self) -> Result<(), WritError> {
        self.check_parts()?;
        let len = self.signing_bytes().len();
        if len > WRIT_BYTES_MAX {
            return Err(WritError::TooLarge { len });
        }
        Ok(())
    }

    /// [`Writ::check`] without the size of the encoding, which decoding bounds already.
    fn check_parts(&self) -> Result<(), WritError> {
        check_user(WritPart::Subject, &self.subject.user)?;
        check_user(WritPart::Issuer, &self.issuer.user)?;
        if let Scope::Only(workers) = &self.workers {
            check_entries(WritPart::Worker, workers.iter(), WORKERS_MAX, name_problem)?;
        }
        if let Scope::Only(paths) = &self.paths {
            check_entries(WritPart::Path, paths.iter(), PATHS_MAX, path_problem)?;
        }
        // `jobs` and `wall_secs` name the built-in budgets wherever budgets are named (a
        // policy's `budget_below`), so no counter may take them.
        check_entries(
            WritPart::Counter,
            self.budget.counters.keys(),
            COUNTERS_MAX,
            |name| match name {
                "jobs" | "wall_secs" => Some("it names a built-in budget".to_owned()),
                name => name_problem(name),
            },
        )?;
        check_entries(
            WritPart::Secret,
            self.secrets.iter(),
            SECRETS_MAX,
            name_problem,
        )?;
        if let Scope::Only(egress) = &self.egress {
            check_entries(
                WritPart::Egress,
                egress.iter(),
                EGRESS_MAX,
                egress::entry_problem,
            )?;
        }
        if self.depth > DEPTH_MAX {
            return Err(WritError::TooDeep { depth: self.depth });
        }
        if self.expires_ms < self.issued_ms {
            return Err(WritError::ExpiresBeforeIssued {
                issued_ms: self.issued_ms,
                expires_ms: self.expires_ms,
            });
        }
        Ok(())
    }

    /// Whether a job that runs `worker`, has effect class `effect` and changes `paths` fits
    /// this writ. No paths means the job may change the whole tree, which only a writ
    /// granting all paths admits. Budgets are apart: see [`Budget::charge`]. Expiry is too,
    /// since only the kernel knows the time.
    pub fn admits(&self, worker: &str, effect: Effect, paths: &[String]) -> Result<(), Exceeds> {
        if !self.workers.has_name(worker) {
            return Err(Exceeds::Worker {
                worker: worker.to_owned(),
            });
        }
        if effect > self.effect {
            return Err(Exceeds::Effect {
                effect,
                ceiling: self.effect,
            });
        }
        if paths.is_empty() && self.paths != Scope::All {
            return Err(Exceeds::WholeTree);
        }
        for path in paths {
            // An unchecked path could climb out of a prefix (`src/../etc` starts with
            // `src`), so one that is not a valid path is refused whatever the scope.
            if let Some(problem) = path_problem(path) {
                return Err(Exceeds::InvalidPath {
                    path: path.clone(),
                    problem,
                });
            }
            if !self.paths.covers_path(path) {
                return Err(Exceeds::Path { path: path.clone() });
            }
        }
        Ok(())
    }
}

fn check_user(part: WritPart, user: &str) -> Result<(), WritError> {
    let problem = if user.is_empty() {
        "it is empty; name a local user".to_owned()
    } else if user.len() > USER_BYTES_MAX {
        format!(
            "it is {} bytes, over the {USER_BYTES_MAX} allowed",
            user.len()
        )
    } else {
        return Ok(());
    };
    Err(WritError::Invalid {
        part,
        value: user.to_owned(),
        problem,
    })
}

/// Counts `entries` against `max` before looking at any, then checks each.
fn check_entries<'a>(
    part: WritPart,
    entries: impl ExactSizeIterator<Item = &'a String>,
    max: usize,
    problem_of: fn(&str) -> Option<String>,
) -> Result<(), WritError> {
    let count = entries.len();
    if count > max {
        return Err(WritError::TooMany { part, count, max });
    }
    for entry in entries {
        if let Some(problem) = problem_of(entry) {
            return Err(WritError::Invalid {
                part,
                value: entry.clone(),
                problem,
            });
        }
    }
    Ok(())
}
