//! The workers this daemon can run: the built-in ones, found beside `jitosd`, and the
//! installed ones, registered by records; and the operator's bounds on what they need.

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

use jitos_kernel::{Jobs, WorkerInstall};
use jitos_sandbox::Limits;
use jitos_worker::{Manifest, ManifestError};

use super::policy::{PolicyError, WorkerPolicy};
use super::store::{StoreError, WorkerStore};

/// The built-in workers' manifests, compiled in so a daemon always knows them.
const BUILTIN_MANIFESTS: [(&str, &str); 4] = [
    (
        "workers/noop/worker.toml",
        include_str!("../../../../workers/noop/worker.toml"),
    ),
    (
        "workers/shell/worker.toml",
        include_str!("../../../../workers/shell/worker.toml"),
    ),
    (
        "workers/scaffold/worker.toml",
        include_str!("../../../../workers/scaffold/worker.toml"),
    ),
    (
        "workers/llm/worker.toml",
        include_str!("../../../../workers/llm/worker.toml"),
    ),
];

/// How the operator configured workers.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Where the built-in worker binaries are (by default beside `jitosd`).
    pub bin_dir: PathBuf,
    /// Run workers unconfined where the kernel lacks Landlock or seccomp (degraded mode).
    pub allow_unconfined: bool,
    /// What installed workers may ask for in their manifests.
    pub policy: WorkerPolicy,
    /// Deadline for jobs that do not set one.
    pub deadline_default_ms: u64,
    /// How warm instances of reusable workers are kept.
    pub warm: super::WarmConfig,
    /// The host directories under which the built-in `materialize` may write (each
    /// granted by the operator with `--output-root`); none: it may write nowhere.
    pub output_roots: Vec<PathBuf>,
    /// The model endpoints whose calls are metered, and their prices (`--models`).
    pub models: crate::fetch::Models,
}

/// A worker ready to launch.
#[derive(Debug, Clone)]
pub struct ResolvedWorker {
    /// Its manifest.
    pub manifest: Manifest,
    /// Its binary, where it was built or installed from; what runs is its copy in the
    /// worker store.
    pub binary: PathBuf,
    /// The install record, for installed workers.
    pub installed_seq: Option<u64>,
    /// The binary's digest at install, which its copy in the store must have.
    pub binary_digest: Option<[u8; 32]>,
    /// The resource limits it runs with: the defaults, or what its manifest asked for
    /// within the operator's policy.
    pub limits: Limits,
}

/// Why a worker cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No worker of that name.
    #[error("no worker named {name:?}; `jitos worker list` shows the workers this daemon knows")]
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// A built-in manifest does not parse (a build defect).
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The binary cannot be copied into the worker store, or is not the one installed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The manifest asks for more than the operator's policy grants.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A built-in worker's name cannot be taken by an install.
    #[error("{name} is a built-in worker; give the custom worker another name")]
    BuiltinName {
        /// The name.
        name: String,
    },
}

/// The built-in manifests, parsed once: they are part of this build.
fn builtin_manifests() -> Result<&'static [Manifest], CatalogError> {
    static PARSED: OnceLock<Vec<Manifest>> = OnceLock::new();
    if let Some(parsed) = PARSED.get() {
        return Ok(parsed);
    }
    let parsed = BUILTIN_MANIFESTS
        .iter()
        .map(|(path, text)| Manifest::parse(text, Path::new(path)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PARSED.get_or_init(|| parsed))
}

/// The built-in workers, with their binaries under `config.bin_dir`.
pub fn builtins(config: &WorkerConfig) -> Result<Vec<ResolvedWorker>, CatalogError> {
    Ok(builtin_manifests()?
        .iter()
        .map(|manifest| ResolvedWorker {
            binary: config.bin_dir.join(&manifest.binary),
            manifest: manifest.clone(),
            installed_seq: None,
            binary_digest: None,
            limits: Limits::default(),
        })
        .collect())
}

/// Finds a worker by name: built-ins first (their names are reserved), then installed
/// ones, which must still be within the operator's policy.
pub fn resolve(
    config: &WorkerConfig,
    jobs: &Jobs,
    name: &str,
) -> Result<ResolvedWorker, CatalogError> {
    if let Some(builtin) = builtins(config)?
        .into_iter()
        .find(|w| w.manifest.name == name)
    {
        return Ok(builtin);
    }
    let (seq, install) = jobs.worker(name).ok_or_else(|| CatalogError::Unknown {
        name: name.to_owned(),
    })?;
    let limits = config.policy.limits_for(&install.manifest)?;
    Ok(installed(*seq, install, limits))
}

/// Every worker: built-ins, then installed ones by name, each with why the operator's
/// policy refuses it now, if it does (it then shows the default limits and will not run).
pub fn list(
    config: &WorkerConfig,
    jobs: &Jobs,
) -> Result<Vec<(ResolvedWorker, Option<String>)>, CatalogError> {
    let mut all: Vec<_> = builtins(config)?.into_iter().map(|w| (w, None)).collect();
    all.extend(jobs.workers().map(
        |(seq, install)| match config.policy.limits_for(&install.manifest) {
            Ok(limits) => (installed(*seq, install, limits), None),
            Err(e) => (
                installed(*seq, install, Limits::default()),
                Some(e.to_string()),
            ),
        },
    ));
    Ok(all)
}

/// An installed worker as registered by the record at `seq`.
///
/// It runs one process per job whatever its manifest says: the record keeps the manifest
/// in a form without `reusable` (see `Manifest::reusable`), so a worker read back from
/// the ledger would lose it, and a worker must run the same way before and after a
/// restart.
pub fn installed(seq: u64, install: &WorkerInstall, limits: Limits) -> ResolvedWorker {
    let mut manifest = install.manifest.clone();
    manifest.reusable = false;
    ResolvedWorker {
        manifest,
        binary: PathBuf::from(&install.binary),
        installed_seq: Some(seq),
        binary_digest: Some(install.binary_digest),
        limits,
    }
}

/// Reads a manifest on this host and describes the worker it installs (the binary beside
/// the manifest, copied into `store`, and its digest), with the limits the operator's
/// policy gives it.
pub fn prepare_install(
    config: &WorkerConfig,
    store: &WorkerStore,
    manifest_path: &Path,
) -> Result<(WorkerInstall, Limits), CatalogError> {
    let manifest = Manifest::load(manifest_path)?;
    if builtins(config)?
        .iter()
        .any(|w| w.manifest.name == manifest.name)
    {
        return Err(CatalogError::BuiltinName {
            name: manifest.name,
        });
    }
    let limits = config.policy.limits_for(&manifest)?;
    let dir = manifest_path.parent().unwrap_or(Path::new("/"));
    let binary = dir.join(&manifest.binary);
    let (_, binary_digest) = store.admit(&binary, None)?;
    let install = WorkerInstall {
        binary: binary.to_string_lossy().into_owned(),
        manifest,
        binary_digest,
    };
    Ok((install, limits))
}

/// The store's copy of `worker`'s binary when it is there already and the binary
/// unchanged, found without copying or hashing; none when [`executable`] has work to do.
pub fn admitted(store: &WorkerStore, worker: &ResolvedWorker) -> Option<PathBuf> {
    store.admitted(&worker.binary, worker.binary_digest)
}

/// The store's copy of `worker`'s binary, the one to execute: for an installed worker,
/// checked against the digest its install recorded.
pub fn executable(store: &WorkerStore, worker: &ResolvedWorker) -> Result<PathBuf, CatalogError> {
    Ok(store.admit(&worker.binary, worker.binary_digest)?.0)
}
