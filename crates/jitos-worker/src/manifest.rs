//! `Manifest`: a worker's `worker.toml` — what it is, how it is started and confined, what
//! effects its proposals have, and what it needs — parsed strictly and checked.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Longest worker name, in bytes.
pub const MANIFEST_NAME_BYTES_MAX: usize = 64;
/// Longest version string, in bytes.
pub const MANIFEST_VERSION_BYTES_MAX: usize = 64;
/// Most declared needs.
pub const MANIFEST_NEEDS_MAX: usize = 64;
/// Largest manifest file, in bytes.
pub const MANIFEST_BYTES_MAX: usize = 64 * 1024;
/// The fewest open files a worker may ask for: stdio, its channel and the files its
/// runtime opens; fewer and it cannot even be handed its channel.
pub const OPEN_FILES_MIN: u64 = 16;

/// A worker manifest (`worker.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The worker's name: lowercase letters, digits and `-`.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The binary's file name, relative to the directory the worker is installed in.
    pub binary: String,
    /// How it is confined.
    pub sandbox_profile: SandboxProfile,
    /// What its proposals may affect.
    pub effect_class: EffectClass,
    /// What its job input is.
    pub input_schema: InputSchema,
    /// What it needs beyond its scratch directory.
    #[serde(default)]
    pub needs: Vec<Need>,
    /// Resource limits it asks for instead of the daemon's defaults; the operator's policy
    /// bounds each one.
    #[serde(default)]
    pub limits: LimitsRequest,
    /// Whether one process of the worker may serve several jobs of one scope in turn
    /// (`reusable = true`; see `docs/SANDBOX.md`, *Warm workers*).
    #[serde(default)]
    pub reusable: bool,
    /// Whether its jobs may ask the daemon to make HTTP requests for them (`fetch`); where
    /// to, and with which methods, the job's writ says.
    #[serde(default)]
    pub fetch: bool,
}

/// Resource limits a worker asks for; each one left out keeps the daemon's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsRequest {
    /// CPU seconds before the worker is killed.
    pub cpu_seconds: Option<u64>,
    /// Address space, in MiB.
    pub address_space_mib: Option<u64>,
    /// Open file descriptors.
    pub open_files: Option<u64>,
    /// Processes (under `shell`; `pure` starts none).
    pub processes: Option<u64>,
    /// Largest file it may write, in MiB.
    pub file_size_mib: Option<u64>,
}

impl LimitsRequest {
    /// Each limit asked for, by its field name in `worker.toml`.
    pub fn asked(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("cpu_seconds", self.cpu_seconds),
            ("address_space_mib", self.address_space_mib),
            ("open_files", self.open_files),
            ("processes", self.processes),
            ("file_size_mib", self.file_size_mib),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
    }
}

/// The confinement a worker asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxProfile {
    /// Computes only: no new processes, no exec.
    Pure,
    /// May fork and exec read-only system binaries, within a process limit.
    Shell,
}

/// What a worker may change: through its proposals (`none`, `workspace`), or beyond its
/// workspace as it runs (`local`, `network`, `irreversible`), which makes each of its
/// jobs an effect, recorded as begun before it starts and never run again blindly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectClass {
    /// Only the graph of its job's workspace.
    None,
    /// Files of its job's workspace (as proposed file rewrites).
    Workspace,
    /// Files on this host outside any workspace.
    Local,
    /// Other hosts, over the network.
    Network,
    /// Something that cannot be taken back.
    Irreversible,
}

/// The shape of a job's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSchema {
    /// `bytes` (anything) or `json` (a JSON document).
    #[serde(rename = "type")]
    pub kind: InputKind,
}

/// The kinds of job input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Any bytes.
    Bytes,
    /// A JSON document.
    Json,
}

/// One thing a worker needs beyond its scratch directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Need {
    /// An absolute path it needs to read (or write).
    pub path: PathBuf,
    /// `read` or `write`.
    pub access: Access,
}

/// Access to a needed path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Read only.
    Read,
    /// Read and write.
    Write,
}

impl SandboxProfile {
    /// The name as `worker.toml` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxProfile::Pure => "pure",
            SandboxProfile::Shell => "shell",
        }
    }
}

impl EffectClass {
    /// The name as `worker.toml` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            EffectClass::None => "none",
            EffectClass::Workspace => "workspace",
            EffectClass::Local => "local",
            EffectClass::Network => "network",
            EffectClass::Irreversible => "irreversible",
        }
    }
}

impl Access {
    /// The name as `worker.toml` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// Why a manifest is not usable.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The TOML does not parse, or has unknown or missing fields; the message names the
    /// line and column.
    #[error("{path} is not a valid worker manifest: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the place.
        message: String,
    },
    /// The manifest cannot be written as TOML (a path that is not UTF-8).
    #[error("cannot write the manifest of {name} as TOML: {message}")]
    Render {
        /// The worker's name.
        name: String,
        /// The serializer's message.
        message: String,
    },
    /// A field parses but its value is not allowed.
    #[error("{path}: `{field}` {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// What is wrong, and what is allowed.
        problem: String,
    },
}

impl Manifest {
    /// Reads and checks the manifest in `path`: a regular file of at most
    /// [`MANIFEST_BYTES_MAX`] bytes.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let unreadable = |source| ManifestError::Read {
            path: path.to_owned(),
            source,
        };
        // Non-blocking, so opening a FIFO returns at once instead of waiting for a writer.
        let file = std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(unreadable)?;
        if !file.metadata().map_err(unreadable)?.is_file() {
            return Err(unreadable(std::io::Error::other(
                "it is not a regular file",
            )));
        }
        let mut text = String::new();
        file.take(MANIFEST_BYTES_MAX as u64 + 1)
            .read_to_string(&mut text)
            .map_err(unreadable)?;
        if text.len() > MANIFEST_BYTES_MAX {
            return Err(unreadable(std::io::Error::other(format!(
                "it is larger than {MANIFEST_BYTES_MAX} bytes"
            ))));
        }
        Manifest::parse(&text, path)
    }

    /// Parses and checks manifest text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| ManifestError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        manifest.check(path)?;
        Ok(manifest)
    }

    /// The manifest as `worker.toml` text, which [`Manifest::parse`] reads back as this
    /// manifest: what the ledger keeps of an installed worker, so that fields added to
    /// this type later (with defaults) do not change what an old record means. A key at
    /// its default is left out, so a manifest renders as it did before the key existed.
    pub fn to_text(&self) -> Result<String, ManifestError> {
        let text = toml::to_string(self).map_err(|e| ManifestError::Render {
            name: self.name.clone(),
            message: e.to_string(),
        })?;
        // A top-level key renders as one line of its own, in field order.
        let mut text = text;
        for (key, set) in [("reusable", self.reusable), ("fetch", self.fetch)] {
            if !set {
                text = text.replacen(&format!("{key} = false\n"), "", 1);
            }
        }
        Ok(text)
    }

    fn check(&self, path: &Path) -> Result<(), ManifestError> {
        let invalid = |field, problem: String| ManifestError::Invalid {
            path: path.to_owned(),
            field,
            problem,
        };
        let name_ok = !self.name.is_empty()
            && self.name.len() <= MANIFEST_NAME_BYTES_MAX
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err(invalid(
                "name",
                format!(
                    "is {:?}; use 1 to {MANIFEST_NAME_BYTES_MAX} lowercase letters, digits or `-`",
                    self.name
                ),
            ));
        }
        if self.version.is_empty()
            || self.version.len() > MANIFEST_VERSION_BYTES_MAX
            || self.version.chars().any(char::is_whitespace)
        {
            return Err(invalid(
                "version",
                format!("is {:?}; use a version such as 0.1.0", self.version),
            ));
        }
        let binary = Path::new(&self.binary);
        if !matches!(
            binary.components().collect::<Vec<_>>()[..],
            [Component::Normal(_)]
        ) {
            return Err(invalid(
                "binary",
                format!(
                    "is {:?}; give the file name only, relative to the install directory",
                    self.binary
                ),
            ));
        }
        if self.needs.len() > MANIFEST_NEEDS_MAX {
            return Err(invalid(
                "needs",
                format!(
                    "lists {} entries; at most {MANIFEST_NEEDS_MAX}",
                    self.needs.len()
                ),
            ));
        }
        if let Some((name, _)) = self.limits.asked().find(|(_, value)| *value == 0) {
            return Err(invalid(
                "limits",
                format!("sets {name} to 0; leave it out to keep the daemon's default"),
            ));
        }
        if let Some(open_files) = self.limits.open_files.filter(|&n| n < OPEN_FILES_MIN) {
            return Err(invalid(
                "limits",
                format!(
                    "sets open_files to {open_files}; a worker needs at least {OPEN_FILES_MIN} \
                     (stdio, its channel and what its runtime opens)"
                ),
            ));
        }
        if self.reusable && self.sandbox_profile != SandboxProfile::Pure {
            return Err(invalid(
                "reusable",
                format!(
                    "is true under sandbox_profile = \"{}\"; only a `pure` worker may be \
                     reusable, since a job of any other could leave processes running into \
                     the next",
                    self.sandbox_profile.as_str()
                ),
            ));
        }
        for need in &self.needs {
            let clean = need.path.is_absolute()
                && need
                    .path
                    .components()
                    .all(|c| !matches!(c, Component::ParentDir | Component::CurDir));
            if !clean {
                return Err(invalid(
                    "needs",
                    format!(
                        "names {}; needed paths must be absolute, without `.` or `..`",
                        need.path.display()
                    ),
                ));
            }
        }
        Ok(())
    }
}
