//! The environment a process was submitted into, recorded with its submit
//! (`process.submit@3`) so that two runs can be compared afterwards: what the daemon says
//! of itself and its host, and what the ledger itself had in force then (the installed
//! workers and the policy), which replay checks.

use serde::{Deserialize, Serialize};

use crate::State;

/// What a process ran in.
///
/// Recorded as JSON text (`durable/v3.rs`), so a field added here later reads back from an
/// older record as its default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunEnvironment {
    /// What the daemon reported of itself and its host.
    pub host: HostEnvironment,
    /// The workers installed by records when the process was submitted, by name.
    pub installed_workers: Vec<InstalledWorker>,
    /// The policy in force then, if one was.
    pub policy: Option<PolicyInForce>,
}

/// What the daemon reports of itself and its host at a submit: nothing the ledger knows,
/// so replay takes it as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostEnvironment {
    /// The daemon's version.
    pub daemon_version: String,
    /// BLAKE3 (hex) of the daemon's settings that shape a run (`jitosd`'s
    /// `run_environment.rs` says which).
    pub config_digest: String,
    /// BLAKE3 (hex) of the method library the process was planned with: each source's
    /// name and text, in order.
    pub library_digest: String,
    /// The built-in workers, by name.
    pub builtin_workers: Vec<BuiltinWorker>,
    /// What the kernel offers to confine workers, and whether they are confined.
    pub confinement: Confinement,
}

/// A built-in worker as the daemon found it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BuiltinWorker {
    /// Its name.
    pub name: String,
    /// Its manifest's version.
    pub version: String,
    /// BLAKE3 (hex) of its binary; `None` when the binary could not be read.
    pub binary_digest: Option<String>,
}

/// A worker installed by a `worker.install` record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstalledWorker {
    /// Its name.
    pub name: String,
    /// Its manifest's version.
    pub version: String,
    /// The install record.
    pub install_seq: u64,
    /// BLAKE3 (hex) of its binary at install.
    pub binary_digest: String,
}

/// The policy in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyInForce {
    /// The `policy.load` record.
    pub seq: u64,
    /// The hash of its text (hex).
    pub hash: String,
}

/// The kernel's confinement features as the daemon probed them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Confinement {
    /// The Landlock ABI version; 0 without Landlock.
    pub landlock_abi: i64,
    /// Whether seccomp filters can be installed.
    pub seccomp: bool,
    /// Whether workers can get a private read-only view of the file system.
    pub mount_namespace: bool,
    /// Whether workers run confined (false: degraded mode).
    pub workers_confined: bool,
}

impl RunEnvironment {
    /// The environment of a submit folded into `state`: `host` as the daemon reports it,
    /// the rest from the state.
    pub fn of(host: HostEnvironment, state: &State) -> RunEnvironment {
        let (installed_workers, policy) = ledger_part(state);
        RunEnvironment {
            host,
            installed_workers,
            policy,
        }
    }

    /// Whether the part the ledger knows is what `state` has in force: each installed
    /// worker's name, version, install record and digest, and the policy's record and
    /// hash. Only these are compared, so a field added to these types later (read back
    /// from an older record as its default) does not make an old store fail to replay.
    pub(crate) fn fits(&self, state: &State) -> bool {
        let (installed_workers, policy) = ledger_part(state);
        let workers = |all: &[InstalledWorker]| {
            all.iter()
                .map(|w| {
                    (
                        w.name.clone(),
                        w.version.clone(),
                        w.install_seq,
                        w.binary_digest.clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let policy_of = |p: &Option<PolicyInForce>| p.as_ref().map(|p| (p.seq, p.hash.clone()));
        workers(&self.installed_workers) == workers(&installed_workers)
            && policy_of(&self.policy) == policy_of(&policy)
    }

    /// The environment as named values, each name once, in a stable order: what a person
    /// reads and what two runs are compared by (by content: a policy or worker is named by
    /// its hash or digest, not by the record that brought it, which differs between stores).
    pub fn entries(&self) -> Vec<(String, String)> {
        let host = &self.host;
        let mut entries = vec![
            ("jitosd version".to_owned(), host.daemon_version.clone()),
            ("settings".to_owned(), host.config_digest.clone()),
            ("method library".to_owned(), host.library_digest.clone()),
            (
                "policy".to_owned(),
                match &self.policy {
                    Some(policy) => policy.hash.clone(),
                    None => "none".to_owned(),
                },
            ),
            ("confinement".to_owned(), host.confinement.to_string()),
        ];
        entries.extend(host.builtin_workers.iter().map(|worker| {
            (
                format!("worker {} (built in)", worker.name),
                format!(
                    "{} {}",
                    worker.version,
                    worker
                        .binary_digest
                        .as_deref()
                        .unwrap_or("(binary unreadable)")
                ),
            )
        }));
        entries.extend(self.installed_workers.iter().map(|worker| {
            (
                format!("worker {} (installed)", worker.name),
                format!("{} {}", worker.version, worker.binary_digest),
            )
        }));
        entries
    }
}

impl std::fmt::Display for Confinement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let yes_no = |on: bool| if on { "yes" } else { "no" };
        write!(
            f,
            "Landlock ABI {}, seccomp {}, private view {}, workers {}",
            self.landlock_abi,
            yes_no(self.seccomp),
            yes_no(self.mount_namespace),
            if self.workers_confined {
                "confined"
            } else {
                "unconfined (degraded)"
            }
        )
    }
}

/// The installed workers (by name) and the policy `state` has in force.
fn ledger_part(state: &State) -> (Vec<InstalledWorker>, Option<PolicyInForce>) {
    let workers = state
        .jobs
        .workers()
        .map(|(seq, install)| InstalledWorker {
            name: install.manifest.name.clone(),
            version: install.manifest.version.clone(),
            install_seq: *seq,
            binary_digest: jitos_ledger::Hash::hex_of(&install.binary_digest),
        })
        .collect();
    let policy = state.policy.as_ref().map(|recorded| PolicyInForce {
        seq: recorded.seq,
        hash: recorded.policy.hash().to_hex(),
    });
    (workers, policy)
}
