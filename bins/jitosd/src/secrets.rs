//! Secrets: values registered with the daemon (`jitos secret add NAME`), kept 0600 in
//! `secrets/` in the data directory and never in the ledger. A job of a process gets those
//! its writ names, as environment variables; every byte a worker returns is scanned and
//! each registered value is replaced with `[secret:NAME]` before anything is recorded.

use std::{
    borrow::Cow,
    collections::BTreeMap,
    io::Write,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use jitos_kernel::Proposed;
use jitos_tree::{ATTR_BLOB, ATTR_SIZE};
use jitos_warp::{BlobRef, Op, Value};

use crate::reply::lock;

/// The directory of the secrets in the data directory.
pub const SECRETS_DIR: &str = "secrets";
/// The shortest value a secret may have: a shorter one would be found, and replaced, in
/// too much that is not it.
pub const SECRET_BYTES_MIN: usize = 8;
/// The longest value a secret may have.
pub const SECRET_BYTES_MAX: usize = 64 * 1024;
/// The longest name a secret may have.
pub const SECRET_NAME_BYTES_MAX: usize = 64;
/// The most secrets the daemon keeps.
pub const SECRETS_MAX: usize = 256;

/// Why a secret cannot be stored, read or removed.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The name is not one a secret may have.
    #[error("{name:?} is not a secret's name: use 1 to {SECRET_NAME_BYTES_MAX} letters, digits, `_`, `-` or `.`")]
    BadName {
        /// The name.
        name: String,
    },
    /// The value is not one a secret may have.
    #[error("the value of {name} is not usable: {why}")]
    BadValue {
        /// The name.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// No secret has the name.
    #[error("no secret {name}; `jitos secret list` lists them")]
    Unknown {
        /// The name.
        name: String,
    },
    /// Too many secrets.
    #[error("{SECRETS_MAX} secrets are stored already; remove one first")]
    TooMany,
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// The secrets, on disk and in memory (the scanner needs every value at every end).
pub struct SecretStore {
    dir: PathBuf,
    values: Mutex<Arc<BTreeMap<String, String>>>,
}

impl SecretStore {
    /// The store in `data_dir`, made (0700) if missing, with every secret read.
    pub fn open(data_dir: &Path) -> Result<SecretStore, SecretError> {
        let dir = data_dir.join(SECRETS_DIR);
        let io = |source| SecretError::Io {
            path: dir.clone(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io)?;
        let mut values = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Half-written files of an interrupted add.
            if name.starts_with('.') {
                continue;
            }
            let value =
                std::fs::read_to_string(entry.path()).map_err(|source| SecretError::Io {
                    path: entry.path(),
                    source,
                })?;
            values.insert(name, value);
        }
        Ok(SecretStore {
            dir,
            values: Mutex::new(Arc::new(values)),
        })
    }

    /// Every secret, by name.
    pub fn values(&self) -> Arc<BTreeMap<String, String>> {
        Arc::clone(&lock(&self.values))
    }

    /// Stores `value` as secret `name` (replacing one of that name): written to a
    /// temporary file (0600), synced, renamed into place, the directory synced.
    pub fn add(&self, name: &str, value: &str) -> Result<(), SecretError> {
        check_name(name)?;
        check_value(name, value)?;
        // Held to the end, so that two changes at once do not lose one.
        let mut held = lock(&self.values);
        let values = Arc::clone(&held);
        if !values.contains_key(name) && values.len() >= SECRETS_MAX {
            return Err(SecretError::TooMany);
        }
        let path = self.dir.join(name);
        let staged = self.dir.join(format!(".{name}.new"));
        let io = |source| SecretError::Io {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&staged)
            .map_err(io)?;
        file.write_all(value.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io)?;
        std::fs::rename(&staged, &path).map_err(io)?;
        sync_dir(&self.dir).map_err(io)?;
        let mut values = (*values).clone();
        values.insert(name.to_owned(), value.to_owned());
        *held = Arc::new(values);
        Ok(())
    }

    /// Removes secret `name`.
    pub fn remove(&self, name: &str) -> Result<(), SecretError> {
        check_name(name)?;
        let mut held = lock(&self.values);
        let values = Arc::clone(&held);
        if !values.contains_key(name) {
            return Err(SecretError::Unknown {
                name: name.to_owned(),
            });
        }
        let path = self.dir.join(name);
        std::fs::remove_file(&path)
            .and_then(|()| sync_dir(&self.dir))
            .map_err(|source| SecretError::Io { path, source })?;
        let mut values = (*values).clone();
        values.remove(name);
        *held = Arc::new(values);
        Ok(())
    }

    /// What scans a worker's output for the secrets stored now.
    pub fn redactor(&self) -> Redactor {
        Redactor {
            values: self.values(),
        }
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

fn check_name(name: &str) -> Result<(), SecretError> {
    let ok = !name.is_empty()
        && name.len() <= SECRET_NAME_BYTES_MAX
        && name != "."
        && name != ".."
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    match ok {
        true => Ok(()),
        false => Err(SecretError::BadName {
            name: name.to_owned(),
        }),
    }
}

fn check_value(name: &str, value: &str) -> Result<(), SecretError> {
    let bad = |why: String| SecretError::BadValue {
        name: name.to_owned(),
        why,
    };
    if value.len() < SECRET_BYTES_MIN || value.len() > SECRET_BYTES_MAX {
        return Err(bad(format!(
            "it is {} bytes; a secret is {SECRET_BYTES_MIN} to {SECRET_BYTES_MAX} bytes",
            value.len()
        )));
    }
    if value.contains('\0') {
        return Err(bad("it holds a NUL byte".to_owned()));
    }
    Ok(())
}

/// The environment variable a job finds secret `name` in: `JITOS_SECRET_` and the name
/// in capitals, `.` and `-` as `_`.
pub fn env_name(name: &str) -> String {
    let tail: String = name
        .chars()
        .map(|c| match c {
            '.' | '-' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    format!("JITOS_SECRET_{tail}")
}

/// Replaces every registered secret's value in what a worker returns.
pub struct Redactor {
    values: Arc<BTreeMap<String, String>>,
}

impl Redactor {
    /// `bytes` with each secret's value replaced by `[secret:NAME]`.
    pub fn bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let mut out = Cow::Borrowed(bytes);
        for (name, value) in self.values.iter() {
            if let Some(replaced) = replace_all(&out, value.as_bytes(), name) {
                out = Cow::Owned(replaced);
            }
        }
        out
    }

    /// `text` with each secret's value replaced.
    pub fn text(&self, text: &str) -> String {
        // Replacing whole UTF-8 values with ASCII keeps the text UTF-8.
        String::from_utf8_lossy(&self.bytes(text.as_bytes())).into_owned()
    }

    /// Whether `text` holds a secret's value.
    pub fn finds(&self, text: &str) -> bool {
        matches!(self.bytes(text.as_bytes()), Cow::Owned(_))
    }

    /// A proposal with every secret replaced: in its artifacts (whose references in the
    /// rewrites follow them to their new contents, and the files' sizes with them) and in
    /// the values of its rewrites. A secret in a node id, an attribute's name or an edge's
    /// label cannot be replaced without changing what the rewrite means: the proposal is
    /// refused, naming no value.
    pub fn proposal(&self, proposed: &mut Proposed) -> Result<(), String> {
        let mut moved = Moved::new();
        for (name, bytes) in &mut proposed.artifacts {
            *name = self.text(name);
            if let Cow::Owned(replaced) = self.bytes(bytes) {
                let before = blob_ref(bytes);
                *bytes = replaced;
                moved.insert(before, (blob_ref(bytes), bytes.len() as u64));
            }
        }
        for rewrite in &mut proposed.rewrites {
            // The files whose content moved, and their new sizes.
            let mut resized: BTreeMap<String, u64> = BTreeMap::new();
            for op in &mut rewrite.ops {
                if let Some((node, size)) = self.op(op, &moved)? {
                    resized.insert(node, size);
                }
            }
            for op in &mut rewrite.ops {
                resize(op, &resized);
            }
        }
        Ok(())
    }

    /// Replaces the secrets in `op`'s values; the node and new size of a file whose blob
    /// moved, if it sets one.
    fn op(&self, op: &mut Op, moved: &Moved) -> Result<Option<(String, u64)>, String> {
        let names_one = |text: &str| self.finds(text);
        let mut resized = None;
        match op {
            Op::AddNode { id, kind, attrs } => {
                if names_one(id.as_str()) || names_one(kind) || attrs.keys().any(|k| names_one(k)) {
                    return Err(refusal());
                }
                if let Some(Value::Blob(blob)) = attrs.get(ATTR_BLOB) {
                    resized = moved
                        .get(blob)
                        .map(|(_, size)| (id.as_str().to_owned(), *size));
                }
                for value in attrs.values_mut() {
                    self.value(value, moved)?;
                }
            }
            Op::SetAttr { node, key, value } => {
                if names_one(node.as_str()) || names_one(key) {
                    return Err(refusal());
                }
                if let (ATTR_BLOB, Value::Blob(blob)) = (key.as_str(), &*value) {
                    resized = moved
                        .get(blob)
                        .map(|(_, size)| (node.as_str().to_owned(), *size));
                }
                self.value(value, moved)?;
            }
            other => {
                if names_one(&format!("{other:?}")) {
                    return Err(refusal());
                }
            }
        }
        Ok(resized)
    }

    fn value(&self, value: &mut Value, moved: &Moved) -> Result<(), String> {
        match value {
            Value::Str(text) => *text = self.text(text),
            Value::Bytes(bytes) => *bytes = self.bytes(bytes).into_owned(),
            Value::Blob(blob) => {
                if let Some((to, _)) = moved.get(blob) {
                    *blob = *to;
                }
            }
            Value::List(items) => {
                for item in items {
                    self.value(item, moved)?;
                }
            }
            Value::Map(entries) => {
                if entries.keys().any(|k| self.finds(k)) {
                    return Err(refusal());
                }
                for item in entries.values_mut() {
                    self.value(item, moved)?;
                }
            }
            Value::Int(_) | Value::Bool(_) => {}
        }
        Ok(())
    }
}

/// Artifacts whose contents changed: their old reference, and their new one and size.
type Moved = BTreeMap<BlobRef, (BlobRef, u64)>;

/// Sets the size of each file in `resized` that `op` gives a size.
fn resize(op: &mut Op, resized: &BTreeMap<String, u64>) {
    let size_of = |node: &str| resized.get(node).and_then(|size| i64::try_from(*size).ok());
    match op {
        Op::AddNode { id, attrs, .. } => {
            if let (Some(size), Some(value)) = (size_of(id.as_str()), attrs.get_mut(ATTR_SIZE)) {
                *value = Value::Int(size);
            }
        }
        Op::SetAttr { node, key, value } if key == ATTR_SIZE => {
            if let Some(size) = size_of(node.as_str()) {
                *value = Value::Int(size);
            }
        }
        _ => {}
    }
}

fn refusal() -> String {
    "its proposal holds a secret's value where it cannot be replaced (a node id, an attribute's name or an edge's label)".to_owned()
}

fn blob_ref(bytes: &[u8]) -> BlobRef {
    BlobRef(jitos_ledger::blob_hash(bytes).0)
}

/// `haystack` with every `needle` replaced by `[secret:NAME]`, if it holds any.
fn replace_all(haystack: &[u8], needle: &[u8], name: &str) -> Option<Vec<u8>> {
    let first = find(haystack, needle)?;
    let mark = format!("[secret:{name}]");
    let mut out = Vec::with_capacity(haystack.len());
    out.extend_from_slice(&haystack[..first]);
    out.extend_from_slice(mark.as_bytes());
    let mut rest = &haystack[first + needle.len()..];
    while let Some(at) = find(rest, needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(mark.as_bytes());
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    Some(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // Goal: every occurrence is replaced, text stays text, and names and sizes are checked.
    #[test]
    fn values_are_replaced_wherever_they_occur() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::open(dir.path()).unwrap();
        store.add("TOKEN", "hunter2-hunter2").unwrap();
        let redactor = store.redactor();
        assert_eq!(
            redactor.text("a hunter2-hunter2 b hunter2-hunter2"),
            "a [secret:TOKEN] b [secret:TOKEN]"
        );
        assert_eq!(redactor.text("nothing here"), "nothing here");
        assert!(matches!(
            store.add("no/slash", "long enough value"),
            Err(SecretError::BadName { .. })
        ));
        assert!(matches!(
            store.add("SHORT", "tiny"),
            Err(SecretError::BadValue { .. })
        ));
        let reopened = SecretStore::open(dir.path()).unwrap();
        assert_eq!(reopened.values().get("TOKEN").unwrap(), "hunter2-hunter2");
        reopened.remove("TOKEN").unwrap();
        assert!(SecretStore::open(dir.path()).unwrap().values().is_empty());
        assert_eq!(env_name("api.key-2"), "JITOS_SECRET_API_KEY_2");
    }
}
