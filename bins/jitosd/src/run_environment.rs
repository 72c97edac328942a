//! What the daemon reports of itself and its host at each submit: its version, a digest of
//! the settings that shape a run, the method library's digest, the built-in workers'
//! binaries and the kernel's confinement features. The kernel adds what the ledger knows
//! (installed workers, the policy) and records it all with the process.

use std::{
    collections::BTreeMap,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use jitos_kernel::{BuiltinWorker, Confinement, HostEnvironment};
use jitos_ledger::Hash;

use crate::jobs::{builtins, WorkerConfig};

/// The host's part of every submit's environment.
pub struct HostProbe {
    /// Everything but the built-in workers' digests, fixed at start.
    fixed: HostEnvironment,
    /// Each built-in worker: name, version and binary.
    builtins: Vec<(String, String, PathBuf)>,
    /// Each binary's digest, with the file identity it was taken of: a binary replaced
    /// while the daemon runs is digested again, an unchanged one is not.
    digests: Mutex<BTreeMap<PathBuf, (FileIdentity, Option<String>)>>,
}

/// What tells a file's contents changed without reading them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

impl HostProbe {
    /// The probe of a daemon running workers as `workers` says, `worker_slots` at a time,
    /// planning with a library of `library_digest`.
    pub fn new(workers: &WorkerConfig, worker_slots: usize, library_digest: [u8; 32]) -> HostProbe {
        let sandbox = jitos_sandbox::status();
        let builtins = match builtins(workers) {
            Ok(all) => all
                .into_iter()
                .map(|w| (w.manifest.name, w.manifest.version, w.binary))
                .collect(),
            // A built-in manifest that does not parse is a build defect the first job meets.
            Err(e) => {
                tracing::warn!(error = %e, "the built-in workers are not recorded with processes");
                Vec::new()
            }
        };
        HostProbe {
            fixed: HostEnvironment {
                daemon_version: env!("CARGO_PKG_VERSION").to_owned(),
                config_digest: settings_digest(workers, worker_slots),
                library_digest: Hash::hex_of(&library_digest),
                builtin_workers: Vec::new(),
                confinement: Confinement {
                    landlock_abi: sandbox.landlock_abi,
                    seccomp: sandbox.seccomp,
                    mount_namespace: sandbox.mount_namespace,
                    workers_confined: sandbox.supported,
                },
            },
            builtins,
            digests: Mutex::new(BTreeMap::new()),
        }
    }

    /// Digests the built-in binaries on a thread of its own, so the first submit finds
    /// them known.
    pub fn warm(self: &Arc<Self>) {
        let probe = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("jitosd-host-probe".to_owned())
            .spawn(move || {
                probe.now();
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "the built-in workers will be digested at the first submit");
        }
    }

    /// The host's environment now. Reads a built-in binary only when it changed since it
    /// was last digested (runs on a blocking thread: a first digest reads megabytes).
    pub fn now(&self) -> HostEnvironment {
        let builtin_workers = self
            .builtins
            .iter()
            .map(|(name, version, binary)| BuiltinWorker {
                name: name.clone(),
                version: version.clone(),
                binary_digest: self.digest_of(binary),
            })
            .collect();
        HostEnvironment {
            builtin_workers,
            ..self.fixed.clone()
        }
    }

    fn digest_of(&self, binary: &Path) -> Option<String> {
        let identity = identity_of(binary)?;
        let lock = || self.digests.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((known, digest)) = lock().get(binary) {
            if *known == identity {
                return digest.clone();
            }
        }
        // Read without the lock: a submit for which every binary is known does not wait
        // behind one that reads a changed one.
        let digest = digest_file(binary);
        lock().insert(binary.to_owned(), (identity, digest.clone()));
        digest
    }
}

fn identity_of(path: &Path) -> Option<FileIdentity> {
    let meta = std::fs::metadata(path).ok()?;
    Some(FileIdentity {
        dev: meta.dev(),
        ino: meta.ino(),
        len: meta.len(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
    })
}

fn digest_file(path: &Path) -> Option<String> {
    let mut hasher = blake3::Hasher::new();
    let file = std::fs::File::open(path).ok()?;
    hasher.update_reader(file).ok()?;
    Some(hasher.finalize().to_hex().to_string())
}

/// BLAKE3 (hex) of the settings that shape how a job runs: where built-in workers come
/// from and whether they may run unconfined, the operator's worker policy, the default
/// deadline, warm instances, output roots, metered models, and the worker slots. (The
/// socket, the store and who may connect do not change what a run does; the policy and
/// the method library are recorded on their own.) It is taken of their rendering by this
/// build, so two builds may digest the same settings differently: the daemon's version is
/// recorded beside it.
fn settings_digest(workers: &WorkerConfig, worker_slots: usize) -> String {
    let text = format!("{workers:#?}\nworker_slots = {worker_slots}\n");
    blake3::hash(text.as_bytes()).to_hex().to_string()
}
