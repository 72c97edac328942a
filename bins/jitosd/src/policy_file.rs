//! The policy file the daemon rules with: `--policy FILE`, else `/etc/jitos/policy.toml`
//! if it exists, else none (every job allowed, nothing ruled on). Read with the checks
//! `jitos_gov::policy` makes, and refused if it has rules for a point this daemon does not
//! rule at yet.

use std::path::{Path, PathBuf};

use jitos_gov::policy::{Point, Policy};

/// Where the policy is read from when no `--policy` is given, if it exists.
pub const POLICY_FILE_DEFAULT: &str = "/etc/jitos/policy.toml";

/// Why the policy file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyFileError {
    /// It does not parse, or breaks a limit.
    #[error(transparent)]
    Source(#[from] jitos_tasks::SourceError),
    /// A rule names a point the daemon does not rule at.
    #[error("{path}: rule {index} {name:?} is for `at = \"submit\"`, which this jitosd does not rule at yet; rule at \"dispatch\" (each job) or \"gate\" (each yes/no step)")]
    SubmitPoint {
        /// The file.
        path: PathBuf,
        /// The rule, from 1.
        index: u32,
        /// Its name.
        name: String,
    },
}

/// The policy at `path`, or at [`POLICY_FILE_DEFAULT`] if that exists, or none.
pub fn load(path: Option<&Path>) -> Result<Option<Policy>, PolicyFileError> {
    let default = Path::new(POLICY_FILE_DEFAULT);
    let path = match path {
        Some(path) => path,
        None if default.exists() => default,
        None => return Ok(None),
    };
    check(Policy::load(path)?, path).map(Some)
}

/// `policy`, read from `path`, if this daemon can rule by every rule of it.
pub fn check(policy: Policy, path: &Path) -> Result<Policy, PolicyFileError> {
    if let Some(rule) = policy.rules().iter().find(|r| r.at == Some(Point::Submit)) {
        return Err(PolicyFileError::SubmitPoint {
            path: path.to_owned(),
            index: rule.index + 1,
            name: rule.name.clone(),
        });
    }
    Ok(policy)
}
