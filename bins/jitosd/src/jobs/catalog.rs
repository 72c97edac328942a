//! The workers this daemon can run: the built-in ones, found beside `jitosd`, and the
//! installed ones, registered by records; and the operator's bounds on what they need.

use std::{
    collections::HashMap,
    os::unix::fs::{MetadataExt, OpenOptionsExt},
    path::{Path, PathBuf},
    sync::{Mutex, OnceLock},
};

use jitos_kernel::{Jobs, WorkerInstall};
use jitos_sandbox::Limits;
use jitos_worker::{Manifest, ManifestError};

use super::policy::{PolicyError, WorkerPolicy};
use crate::reply::lock;

/// The built-in workers' manifests, compiled in so a daemon always knows them.
const BUILTIN_MANIFESTS: [(&str, &str); 3] = [
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
}

/// A worker ready to launch.
#[derive(Debug, Clone)]
pub struct ResolvedWorker {
    /// Its manifest.
    pub manifest: Manifest,
    /// Its binary.
    pub binary: PathBuf,
    /// The install record, for installed workers.
    pub installed_seq: Option<u64>,
    /// The binary's digest at install, checked before each launch.
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
    /// The binary cannot be read.
    #[error("cannot read the worker binary {path}: {source}")]
    Binary {
        /// The binary.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The binary changed since it was installed.
    #[error("the binary {path} changed since worker {name} was installed; run `jitos worker install` again if the change is intended")]
    BinaryChanged {
        /// The worker.
        name: String,
        /// The binary.
        path: PathBuf,
    },
    /// The manifest asks for more than the operator's policy grants.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Worker uids could not execute the binary.
    #[error(
        "workers run under uids of their own, which cannot execute {binary}: {path} has mode \
         {mode:04o} and others need {needs} permission; install the worker from a directory \
         any user may enter (such as /opt/jitos-workers)"
    )]
    Unreachable {
        /// The binary.
        binary: PathBuf,
        /// The file or directory in the way.
        path: PathBuf,
        /// Its mode.
        mode: u32,
        /// What others lack on it.
        needs: &'static str,
    },
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
pub fn installed(seq: u64, install: &WorkerInstall, limits: Limits) -> ResolvedWorker {
    ResolvedWorker {
        manifest: install.manifest.clone(),
        binary: PathBuf::from(&install.binary),
        installed_seq: Some(seq),
        binary_digest: Some(install.binary_digest),
        limits,
    }
}

/// Reads a manifest on this host and describes the worker it installs (the binary beside
/// the manifest, and its digest now), with the limits the operator's policy gives it.
/// With `others_run_it` (workers run under uids of their own), the binary must be
/// executable by any uid, through directories any uid may enter.
pub fn prepare_install(
    config: &WorkerConfig,
    manifest_path: &Path,
    others_run_it: bool,
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
    let binary_digest = digest_of(&binary)?;
    if others_run_it {
        check_reachable(&binary)?;
    }
    let install = WorkerInstall {
        binary: binary.to_string_lossy().into_owned(),
        manifest,
        binary_digest,
    };
    Ok((install, limits))
}

/// Checks that a uid with no rights of its own can execute `binary`: read and execute for
/// others on the file, search for others on every directory above it.
fn check_reachable(binary: &Path) -> Result<(), CatalogError> {
    const OTHERS_RX: u32 = 0o005;
    const OTHERS_X: u32 = 0o001;
    let unreachable = |path: &Path, mode: u32, needs: &'static str| CatalogError::Unreachable {
        binary: binary.to_owned(),
        path: path.to_owned(),
        mode: mode & 0o7777,
        needs,
    };
    let mode_of = |path: &Path| {
        std::fs::metadata(path)
            .map(|meta| meta.mode())
            .map_err(|source| CatalogError::Binary {
                path: path.to_owned(),
                source,
            })
    };
    let mode = mode_of(binary)?;
    if mode & OTHERS_RX != OTHERS_RX {
        return Err(unreachable(binary, mode, "read and execute"));
    }
    for dir in binary.ancestors().skip(1) {
        let mode = mode_of(dir)?;
        if mode & OTHERS_X == 0 {
            return Err(unreachable(dir, mode, "search"));
        }
    }
    Ok(())
}

/// Digests of installed workers' binaries, each kept with the file's stamp (device,
/// inode, size, modification and change times), which any write to the file changes, so a
/// launch reads the whole binary again only when it may have changed.
#[derive(Debug, Default)]
pub struct DigestCache {
    known: Mutex<HashMap<PathBuf, (FileStamp, [u8; 32])>>,
}

/// What identifies one version of a file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FileStamp {
    fn of(path: &Path) -> std::io::Result<FileStamp> {
        let meta = std::fs::metadata(path)?;
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        Ok(FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        })
    }
}

impl DigestCache {
    /// Checks that an installed worker's binary is the one that was installed.
    pub fn check(&self, worker: &ResolvedWorker) -> Result<(), CatalogError> {
        let Some(expected) = worker.binary_digest else {
            return Ok(());
        };
        let unreadable = |source| CatalogError::Binary {
            path: worker.binary.clone(),
            source,
        };
        let stamp = FileStamp::of(&worker.binary).map_err(unreadable)?;
        let cached = lock(&self.known).get(&worker.binary).copied();
        let digest = match cached {
            Some((seen, digest)) if seen == stamp => digest,
            _ => {
                let digest = digest_of(&worker.binary)?;
                lock(&self.known).insert(worker.binary.clone(), (stamp, digest));
                digest
            }
        };
        if digest != expected {
            return Err(CatalogError::BinaryChanged {
                name: worker.manifest.name.clone(),
                path: worker.binary.clone(),
            });
        }
        Ok(())
    }
}

/// The BLAKE3 digest of a binary, read in a stream; anything but a regular file (a FIFO or
/// a device would never end) is refused.
fn digest_of(binary: &Path) -> Result<[u8; 32], CatalogError> {
    let unreadable = |source| CatalogError::Binary {
        path: binary.to_owned(),
        source,
    };
    // Non-blocking, so opening a FIFO returns at once instead of waiting for a writer.
    let file = std::fs::File::options()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(binary)
        .map_err(unreadable)?;
    if !file.metadata().map_err(unreadable)?.is_file() {
        return Err(unreadable(std::io::Error::other(
            "it is not a regular file",
        )));
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(file).map_err(unreadable)?;
    Ok(*hasher.finalize().as_bytes())
}
