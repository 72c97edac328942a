//! The operator's policy for installed workers (`jitosd --worker-policy FILE`): which
//! profiles, needed paths and resource limits a manifest may ask for, by default and per
//! worker. A manifest never gets more than its worker's grant; built-in workers are part
//! of the product and run with the default limits.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use jitos_sandbox::Limits;
use jitos_worker::{LimitsRequest, Manifest, SandboxProfile};
use serde::Deserialize;

/// Bytes in a MiB, for the `_mib` limits.
const MIB: u64 = 1 << 20;

/// What installed workers may ask for; the default grants both profiles, no needed paths
/// and limits no higher than the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerPolicy {
    /// For every installed worker without a grant of its own.
    default: Grant,
    /// By worker name.
    workers: BTreeMap<String, Grant>,
}

/// What one worker may ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Grant {
    profiles: Vec<SandboxProfile>,
    /// Path prefixes a need must be at or under.
    needs: Vec<PathBuf>,
    /// The largest limits its manifest may ask for.
    limits_max: Limits,
}

impl Default for Grant {
    /// Both confined profiles, no needed paths, limits no higher than the defaults.
    fn default() -> Grant {
        Grant {
            profiles: vec![SandboxProfile::Pure, SandboxProfile::Shell],
            needs: Vec::new(),
            limits_max: Limits::default(),
        }
    }
}

/// Why a policy file is not usable, or a manifest asks for more than it grants.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read the worker policy {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The file does not parse; the message names the line.
    #[error("{path} is not a valid worker policy: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the place.
        message: String,
    },
    /// A manifest asks for what its grant does not include.
    #[error(
        "worker {worker} asks for {asked}, which the operator's policy does not grant it; \
         allow it under [workers.{worker}] in the file given to jitosd --worker-policy"
    )]
    NotGranted {
        /// The worker.
        worker: String,
        /// What it asked for, for a person.
        asked: String,
    },
}

/// The file's shape: `[default]` and `[workers.NAME]` tables of the same fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    default: GrantFile,
    #[serde(default)]
    workers: BTreeMap<String, GrantFile>,
}

/// One grant as written; a field left out keeps the built-in default's value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantFile {
    profiles: Option<Vec<SandboxProfile>>,
    needs: Option<Vec<PathBuf>>,
    limits_max: Option<LimitsRequest>,
}

impl GrantFile {
    fn over(self, base: &Grant) -> Grant {
        Grant {
            profiles: self.profiles.unwrap_or_else(|| base.profiles.clone()),
            needs: self.needs.unwrap_or_else(|| base.needs.clone()),
            limits_max: match self.limits_max {
                Some(asked) => with_asked(base.limits_max, &asked),
                None => base.limits_max,
            },
        }
    }
}

impl WorkerPolicy {
    /// Reads a policy file. Example:
    ///
    /// ```toml
    /// [default]
    /// profiles = ["pure"]
    ///
    /// [workers.indexer]
    /// profiles = ["pure", "shell"]
    /// needs = ["/srv/corpus"]
    /// limits_max = { processes = 128, cpu_seconds = 3600 }
    /// ```
    pub fn load(path: &Path) -> Result<WorkerPolicy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_owned(),
            source,
        })?;
        WorkerPolicy::parse(&text, path)
    }

    /// Parses policy text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<WorkerPolicy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| PolicyError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let default = file.default.over(&Grant::default());
        let workers = file
            .workers
            .into_iter()
            .map(|(name, grant)| {
                let grant = grant.over(&default);
                (name, grant)
            })
            .collect();
        Ok(WorkerPolicy { default, workers })
    }

    /// The limits an installed worker runs with, if its manifest stays within its grant:
    /// its profile, every needed path, and every limit it asks for.
    pub fn limits_for(&self, manifest: &Manifest) -> Result<Limits, PolicyError> {
        let grant = self.workers.get(&manifest.name).unwrap_or(&self.default);
        let refuse = |asked: String| PolicyError::NotGranted {
            worker: manifest.name.clone(),
            asked,
        };
        if !grant.profiles.contains(&manifest.sandbox_profile) {
            return Err(refuse(format!(
                "the {} profile",
                manifest.sandbox_profile.as_str()
            )));
        }
        for need in &manifest.needs {
            if !grant
                .needs
                .iter()
                .any(|prefix| need.path.starts_with(prefix))
            {
                return Err(refuse(format!(
                    "{} access to {}",
                    need.access.as_str(),
                    need.path.display()
                )));
            }
        }
        let limits = with_asked(Limits::default(), &manifest.limits);
        for ((name, got), (_, max)) in fields(&limits).into_iter().zip(fields(&grant.limits_max)) {
            if got > max {
                return Err(refuse(format!("{name} = {got} (at most {max} allowed)")));
            }
        }
        Ok(limits)
    }
}

/// `base` with each limit `asked` sets replaced.
fn with_asked(base: Limits, asked: &LimitsRequest) -> Limits {
    Limits {
        cpu_seconds: asked.cpu_seconds.unwrap_or(base.cpu_seconds),
        address_space_bytes: asked
            .address_space_mib
            .map_or(base.address_space_bytes, |mib| mib.saturating_mul(MIB)),
        open_files: asked.open_files.unwrap_or(base.open_files),
        processes: asked.processes.unwrap_or(base.processes),
        file_size_bytes: asked
            .file_size_mib
            .map_or(base.file_size_bytes, |mib| mib.saturating_mul(MIB)),
    }
}

/// Each limit under its `worker.toml` name and unit.
fn fields(limits: &Limits) -> [(&'static str, u64); 5] {
    [
        ("cpu_seconds", limits.cpu_seconds),
        ("address_space_mib", limits.address_space_bytes / MIB),
        ("open_files", limits.open_files),
        ("processes", limits.processes),
        ("file_size_mib", limits.file_size_bytes / MIB),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(extra: &str) -> Manifest {
        let text = format!(
            "name = \"indexer\"\nversion = \"1\"\nbinary = \"b\"\nsandbox_profile = \"shell\"\n\
             effect_class = \"none\"\ninput_schema = {{ type = \"bytes\" }}\n{extra}"
        );
        Manifest::parse(&text, Path::new("worker.toml"))
            .unwrap_or_else(|e| panic!("test manifest: {e}"))
    }

    fn policy(text: &str) -> WorkerPolicy {
        WorkerPolicy::parse(text, Path::new("policy.toml"))
            .unwrap_or_else(|e| panic!("test policy: {e}"))
    }

    #[test]
    fn the_default_grants_defaults_and_lower_limits_only() {
        let open = WorkerPolicy::default();
        assert_eq!(open.limits_for(&manifest("")).ok(), Some(Limits::default()));
        let lower = open
            .limits_for(&manifest("limits = { processes = 4 }"))
            .map(|l| l.processes);
        assert_eq!(lower.ok(), Some(4));
        let higher = open.limits_for(&manifest("limits = { processes = 1000 }"));
        assert!(
            matches!(&higher, Err(e) if e.to_string().contains("processes = 1000")),
            "{higher:?}"
        );
        let need = open.limits_for(&manifest(
            "needs = [{ path = \"/srv/corpus\", access = \"read\" }]",
        ));
        assert!(
            matches!(&need, Err(e) if e.to_string().contains("/srv/corpus")),
            "{need:?}"
        );
    }

    #[test]
    fn a_workers_grant_widens_only_that_worker() {
        let p = policy(
            "[default]\nprofiles = [\"pure\"]\n\n[workers.indexer]\nprofiles = [\"shell\"]\n\
             needs = [\"/srv\"]\nlimits_max = { processes = 128 }\n",
        );
        let wide = manifest(
            "needs = [{ path = \"/srv/corpus\", access = \"write\" }]\nlimits = { processes = 100 }",
        );
        assert_eq!(p.limits_for(&wide).map(|l| l.processes).ok(), Some(100));
        let mut other = wide.clone();
        other.name = "other".to_owned();
        let refused = p.limits_for(&other);
        assert!(
            matches!(&refused, Err(e) if e.to_string().contains("shell profile")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_bad_policy_file_names_its_line() {
        let bad = WorkerPolicy::parse("[default]\nprofile = [\"pure\"]\n", Path::new("p.toml"));
        assert!(
            matches!(&bad, Err(PolicyError::Parse { message, .. }) if message.contains("line 2")),
            "{bad:?}"
        );
    }
}
