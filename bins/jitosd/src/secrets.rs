//! Secrets: values registered with the daemon (`jitos secret add NAME`), kept 0600 in
//! `secrets/` in the data directory and never in the ledger. A job of a process gets those
//! its writ names, as environment variables; every byte a worker returns is scanned and
//! each registered value is replaced with `[secret:NAME]` before anything is recorded.

use std::{
    borrow::Cow,
    collections::BTreeMap,
    os::unix::fs::DirBuilderExt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use jitos_kernel::Proposed;
use jitos_tree::{ATTR_BLOB, ATTR_SIZE};
use jitos_warp::{BlobRef, Expect, Op, Value};

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
    /// Held through an add or a remove, so two at once do not lose one; the values are
    /// swapped under their own lock only briefly, as every launch reads them.
    changes: Mutex<()>,
    /// The values stored now, and their redactor (built once per change rather than at
    /// every attempt's end), swapped together.
    stored: Mutex<Stored>,
}

#[derive(Clone)]
struct Stored {
    values: Arc<BTreeMap<String, String>>,
    redactor: Arc<Redactor>,
}

impl SecretStore {
    /// The store in `data_dir`, made (0700) if missing unless `read_only`, with every
    /// secret read. A file that is not a secret's (a bad name, not text, a directory) is
    /// left alone with a warning; one an interrupted add left half-written is removed.
    pub fn open(data_dir: &Path, read_only: bool) -> Result<SecretStore, SecretError> {
        let dir = data_dir.join(SECRETS_DIR);
        let io = |source| SecretError::Io {
            path: dir.clone(),
            source,
        };
        let mut values = BTreeMap::new();
        if !read_only {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(io)?;
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if read_only && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(SecretStore::of(dir, values))
            }
            Err(e) => return Err(io(e)),
        };
        for entry in entries {
            let path = entry.map_err(io)?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if crate::private_file::is_staged(&name) && !read_only {
                std::fs::remove_file(&path).map_err(|source| SecretError::Io {
                    path: path.clone(),
                    source,
                })?;
                continue;
            }
            let value = match (check_name(&name), std::fs::read_to_string(&path)) {
                (Ok(()), Ok(value)) if check_value(&name, &value).is_ok() => value,
                _ => {
                    tracing::warn!(path = %path.display(), "not a secret's file: left alone");
                    continue;
                }
            };
            values.insert(name, value);
        }
        Ok(SecretStore::of(dir, values))
    }

    fn of(dir: PathBuf, values: BTreeMap<String, String>) -> SecretStore {
        SecretStore {
            dir,
            changes: Mutex::new(()),
            stored: Mutex::new(Stored::of(values)),
        }
    }

    /// The values now `values`, and their redactor with them.
    fn replace(&self, values: BTreeMap<String, String>) {
        *lock(&self.stored) = Stored::of(values);
    }

    /// Every secret, by name.
    pub fn values(&self) -> Arc<BTreeMap<String, String>> {
        Arc::clone(&lock(&self.stored).values)
    }

    /// Stores `value` as secret `name` (replacing one of that name): written to a
    /// temporary file (0600), synced, renamed into place, the directory synced.
    pub fn add(&self, name: &str, value: &str) -> Result<(), SecretError> {
        check_name(name)?;
        check_value(name, value)?;
        let _changing = lock(&self.changes);
        let values = self.values();
        if !values.contains_key(name) && values.len() >= SECRETS_MAX {
            return Err(SecretError::TooMany);
        }
        if let Some(other) = values
            .keys()
            .find(|other| *other != name && env_name(other) == env_name(name))
        {
            return Err(SecretError::BadName {
                name: format!("{name} (its variable {} is {other}'s)", env_name(name)),
            });
        }
        let path = self.dir.join(name);
        crate::private_file::write(&self.dir, name, value.as_bytes())
            .map_err(|source| SecretError::Io { path, source })?;
        let mut values = (*values).clone();
        values.insert(name.to_owned(), value.to_owned());
        self.replace(values);
        Ok(())
    }

    /// Removes secret `name`.
    pub fn remove(&self, name: &str) -> Result<(), SecretError> {
        check_name(name)?;
        let _changing = lock(&self.changes);
        let values = self.values();
        if !values.contains_key(name) {
            return Err(SecretError::Unknown {
                name: name.to_owned(),
            });
        }
        let path = self.dir.join(name);
        crate::private_file::remove(&self.dir, name)
            .map_err(|source| SecretError::Io { path, source })?;
        let mut values = (*values).clone();
        values.remove(name);
        self.replace(values);
        Ok(())
    }

    /// What scans a worker's output for the secrets stored now and those in `given`
    /// (name, value: what the job was given, which may have been replaced since).
    pub fn redactor(&self, given: &[(String, String)]) -> Arc<Redactor> {
        let stored = lock(&self.stored).clone();
        let current = given
            .iter()
            .all(|(name, value)| stored.values.get(name) == Some(value));
        if current {
            return stored.redactor;
        }
        Arc::new(Redactor::new(
            stored
                .values
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .chain(given.iter().cloned()),
        ))
    }
}

impl Stored {
    fn of(values: BTreeMap<String, String>) -> Stored {
        let redactor = Redactor::new(
            values
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        Stored {
            values: Arc::new(values),
            redactor: Arc::new(redactor),
        }
    }
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

/// The shortest piece of a secret replaced where a buffer was cut (a tail, a log kept
/// from its newest line): a shorter one is too likely to be something else.
pub const EDGE_BYTES_MIN: usize = SECRET_BYTES_MIN;

/// Replaces every secret's value in what a worker returns: each whole value, longest
/// first in one pass (so a secret inside another goes with it), and the piece of one a
/// cut left at either end of a buffer.
pub struct Redactor {
    /// Names and values, longest value first.
    secrets: Vec<(String, Vec<u8>)>,
    /// Finds all the values at once, leftmost and longest.
    finder: Option<aho_corasick::AhoCorasick>,
}

impl Redactor {
    /// A redactor of `secrets` (name, value).
    pub fn new(secrets: impl IntoIterator<Item = (String, String)>) -> Redactor {
        let mut secrets: Vec<(String, Vec<u8>)> = secrets
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name, value.into_bytes()))
            .collect();
        secrets.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
        secrets.dedup_by(|a, b| a.1 == b.1);
        // Every match, overlapping ones too: ranges that overlap are merged below.
        let finder = aho_corasick::AhoCorasick::new(secrets.iter().map(|(_, value)| value)).ok();
        Redactor { secrets, finder }
    }

    /// `bytes` with each secret's value, and a piece of one at either end, replaced by
    /// `[secret:NAME]`: every match is found in the bytes as they are, overlapping ones
    /// too, and each run of bytes that any of them covers becomes one mark (the name of
    /// the longest match in it). With secrets to find and no matcher, nothing is kept.
    pub fn bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        if self.secrets.is_empty() {
            return Cow::Borrowed(bytes);
        }
        let Some(finder) = &self.finder else {
            return Cow::Owned(b"[secrets could not be scanned for]".to_vec());
        };
        // (start, end, secret), whole values and pieces at either end.
        let mut covered: Vec<(usize, usize, usize)> = finder
            .find_overlapping_iter(bytes)
            .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
            .collect();
        if let Some((k, secret)) = self.longest(|value| head_piece(value, bytes)) {
            covered.push((0, k, secret));
        }
        if let Some((k, secret)) = self.longest(|value| tail_piece(value, bytes)) {
            covered.push((bytes.len() - k, bytes.len(), secret));
        }
        if covered.is_empty() {
            return Cow::Borrowed(bytes);
        }
        covered.sort_unstable();
        let mut out = Vec::with_capacity(bytes.len());
        let mut at = 0;
        let mut runs = covered.into_iter().peekable();
        while let Some((start, mut end, mut secret)) = runs.next() {
            let mut longest = end - start;
            while let Some(&(next_start, next_end, next)) = runs.peek() {
                if next_start > end {
                    break;
                }
                if next_end - next_start > longest {
                    longest = next_end - next_start;
                    secret = next;
                }
                end = end.max(next_end);
                runs.next();
            }
            out.extend_from_slice(&bytes[at..start]);
            out.extend_from_slice(mark(&self.secrets[secret].0).as_bytes());
            at = end;
        }
        out.extend_from_slice(&bytes[at..]);
        Cow::Owned(out)
    }

    /// The longest overlap `overlap` finds with any secret, and that secret's index.
    fn longest(&self, overlap: impl Fn(&[u8]) -> Option<usize>) -> Option<(usize, usize)> {
        self.secrets
            .iter()
            .enumerate()
            .filter_map(|(index, (_, value))| overlap(value).map(|k| (k, index)))
            .max_by_key(|(k, _)| *k)
    }

    /// `text` with each secret's value replaced.
    pub fn text(&self, text: &str) -> String {
        String::from_utf8_lossy(&self.bytes(text.as_bytes())).into_owned()
    }

    /// Whether `text` holds a secret's value (whole); with secrets to find and no
    /// matcher, anything might.
    pub fn finds(&self, text: &str) -> bool {
        match &self.finder {
            Some(finder) => finder.is_match(text.as_bytes()),
            None => !self.secrets.is_empty(),
        }
    }

    /// A proposal with every secret replaced: in its artifacts (whose references in the
    /// rewrites follow them to their new contents, and the files' sizes with them) and in
    /// the values of its rewrites and their preconditions. A secret in a node id, a kind,
    /// an attribute's name, a map's key or an edge's label cannot be replaced without
    /// changing what the rewrite means: the proposal is refused, naming no value.
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
            // The files whose content moved, their new sizes, and whether the rewrite
            // gives each a size of its own.
            let mut resized: BTreeMap<String, (u64, bool)> = BTreeMap::new();
            for op in &mut rewrite.ops {
                if let Some((node, size, sized)) = self.op(op, &moved)? {
                    resized.insert(node, (size, sized));
                }
            }
            for op in &mut rewrite.ops {
                resize(op, &mut resized);
            }
            // A file whose new blob comes with no size of its own gets one right after it.
            let mut at = 0;
            while at < rewrite.ops.len() {
                at += 1;
                let Op::SetAttr { node, key, .. } = &rewrite.ops[at - 1] else {
                    continue;
                };
                let Some(&(size, false)) = resized.get(node.as_str()).filter(|_| key == ATTR_BLOB)
                else {
                    continue;
                };
                let Ok(size) = i64::try_from(size) else {
                    continue;
                };
                let node = node.clone();
                resized.remove(node.as_str());
                rewrite.ops.insert(
                    at,
                    Op::SetAttr {
                        node,
                        key: ATTR_SIZE.to_owned(),
                        value: Value::Int(size),
                    },
                );
            }
            for expect in &mut rewrite.expect {
                self.expect(expect, &moved)?;
            }
        }
        Ok(())
    }

    /// Replaces the secrets in `op`'s values; for a file whose blob moved, its node, its
    /// new size and whether `op` gives its size too.
    fn op(&self, op: &mut Op, moved: &Moved) -> Result<Option<(String, u64, bool)>, String> {
        let refuse = |texts: &[&str]| match texts.iter().any(|text| self.finds(text)) {
            true => Err(refusal()),
            false => Ok(()),
        };
        let mut resized = None;
        match op {
            Op::AddNode { id, kind, attrs } => {
                refuse(&[id.as_str(), kind])?;
                for key in attrs.keys() {
                    refuse(&[key])?;
                }
                if let Some(Value::Blob(blob)) = attrs.get(ATTR_BLOB) {
                    resized = moved.get(blob).map(|(_, size)| {
                        (id.as_str().to_owned(), *size, attrs.contains_key(ATTR_SIZE))
                    });
                }
                for value in attrs.values_mut() {
                    self.value(value, moved)?;
                }
            }
            Op::SetAttr { node, key, value } => {
                refuse(&[node.as_str(), key])?;
                if let (ATTR_BLOB, Value::Blob(blob)) = (key.as_str(), &*value) {
                    resized = moved
                        .get(blob)
                        .map(|(_, size)| (node.as_str().to_owned(), *size, false));
                }
                self.value(value, moved)?;
            }
            Op::RemoveNode { id, .. } => refuse(&[id.as_str()])?,
            Op::RemoveAttr { node, key } => refuse(&[node.as_str(), key])?,
            Op::AddEdge { from, to, label } | Op::RemoveEdge { from, to, label } => {
                refuse(&[from.as_str(), to.as_str(), label])?
            }
        }
        Ok(resized)
    }

    fn expect(&self, expect: &mut Expect, moved: &Moved) -> Result<(), String> {
        let refuse = |texts: &[&str]| match texts.iter().any(|text| self.finds(text)) {
            true => Err(refusal()),
            false => Ok(()),
        };
        match expect {
            Expect::NodeExists { node } | Expect::NodeAbsent { node } => refuse(&[node.as_str()]),
            Expect::NodeVersion { node, .. } => refuse(&[node.as_str()]),
            Expect::AttrAbsent { node, key } => refuse(&[node.as_str(), key]),
            Expect::AttrEquals { node, key, value } => {
                refuse(&[node.as_str(), key])?;
                self.value(value, moved)
            }
            Expect::EdgeExists { from, to, label } | Expect::EdgeAbsent { from, to, label } => {
                refuse(&[from.as_str(), to.as_str(), label])
            }
        }
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

/// The length of the longest end of `value` (shorter than it, at least
/// [`EDGE_BYTES_MIN`]) that `bytes` starts with. Only where `bytes`' first bytes occur in
/// `value` is compared, so the cost follows the value's length, not its square.
fn head_piece(value: &[u8], bytes: &[u8]) -> Option<usize> {
    let probe = bytes.get(..EDGE_BYTES_MIN)?;
    // The earliest start is the longest piece.
    occurrences(value, probe)
        .filter(|&at| at > 0)
        .find(|&at| bytes.starts_with(&value[at..]))
        .map(|at| value.len() - at)
}

/// The length of the longest start of `value` (shorter than it, at least
/// [`EDGE_BYTES_MIN`]) that `bytes` ends with.
fn tail_piece(value: &[u8], bytes: &[u8]) -> Option<usize> {
    let probe = bytes.get(bytes.len().checked_sub(EDGE_BYTES_MIN)?..)?;
    let ends: Vec<usize> = occurrences(value, probe)
        .map(|at| at + EDGE_BYTES_MIN)
        .filter(|&end| end < value.len())
        .collect();
    // The latest end is the longest piece.
    ends.into_iter()
        .rev()
        .find(|&end| bytes.ends_with(&value[..end]))
}

/// Where `probe` occurs in `value`, in order.
fn occurrences<'a>(value: &'a [u8], probe: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    value
        .windows(probe.len())
        .enumerate()
        .filter(move |(_, window)| *window == probe)
        .map(|(at, _)| at)
}

fn mark(name: &str) -> String {
    format!("[secret:{name}]")
}

/// Artifacts whose contents changed: their old reference, and their new one and size.
type Moved = BTreeMap<BlobRef, (BlobRef, u64)>;

/// Sets the size of each file in `resized` that `op` gives a size, and notes it given.
fn resize(op: &mut Op, resized: &mut BTreeMap<String, (u64, bool)>) {
    let (node, value) = match op {
        Op::AddNode { id, attrs, .. } => (id.as_str(), attrs.get_mut(ATTR_SIZE)),
        Op::SetAttr { node, key, value } if key == ATTR_SIZE => (node.as_str(), Some(value)),
        _ => return,
    };
    if let (Some((size, sized)), Some(value)) = (resized.get_mut(node), value) {
        if let Ok(size) = i64::try_from(*size) {
            *value = Value::Int(size);
            *sized = true;
        }
    }
}

fn refusal() -> String {
    "its proposal holds a secret's value where it cannot be replaced (a node id, a kind, an attribute's or a map's key, or an edge's label)".to_owned()
}

fn blob_ref(bytes: &[u8]) -> BlobRef {
    BlobRef(jitos_ledger::blob_hash(bytes).0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use jitos_warp::NodeId;

    use super::*;

    // Goal: every occurrence is replaced, text stays text, and names and sizes are checked.
    #[test]
    fn values_are_replaced_wherever_they_occur() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::open(dir.path(), false).unwrap();
        store.add("TOKEN", "hunter2-hunter2").unwrap();
        let redactor = store.redactor(&[]);
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
        let reopened = SecretStore::open(dir.path(), false).unwrap();
        assert_eq!(reopened.values().get("TOKEN").unwrap(), "hunter2-hunter2");
        reopened.remove("TOKEN").unwrap();
        assert!(SecretStore::open(dir.path(), false)
            .unwrap()
            .values()
            .is_empty());
        assert_eq!(env_name("api.key-2"), "JITOS_SECRET_API_KEY_2");
    }

    // Goal: a secret inside another goes with it, pieces at a cut are replaced, and a
    // file whose content was replaced gets its new size even when only its blob was set.
    #[test]
    fn longest_first_pieces_at_cuts_and_sizes_follow() {
        let redactor = Redactor::new([
            ("SHORT".to_owned(), "abcdefgh".to_owned()),
            ("LONG".to_owned(), "xxabcdefghyy".to_owned()),
        ]);
        assert_eq!(
            redactor.text("1 xxabcdefghyy 2 abcdefgh"),
            "1 [secret:LONG] 2 [secret:SHORT]"
        );
        // A tail that starts inside a value, and an output cut inside another.
        assert_eq!(redactor.text("cdefghyy then"), "[secret:LONG] then");
        assert_eq!(redactor.text("then xxabcdef"), "then [secret:LONG]");
        assert_eq!(redactor.text("ghyy is short"), "ghyy is short");
        // A cut inside the longer value, right before the shorter one it holds.
        let nested = Redactor::new([
            ("SHORT".to_owned(), "abcdefgh".to_owned()),
            ("LONG".to_owned(), "xxabcdefghyyyyyyyyyy".to_owned()),
        ]);
        assert_eq!(nested.text("abcdefghyyyyyyyyyy then"), "[secret:LONG] then");
        // Two values that overlap become one mark.
        let overlapping = Redactor::new([
            ("A".to_owned(), "11112222".to_owned()),
            ("B".to_owned(), "22223333".to_owned()),
        ]);
        assert_eq!(overlapping.text("x 111122223333 y"), "x [secret:A] y");

        let file = NodeId::new("file:a.txt").unwrap();
        let written = b"token abcdefgh\n".to_vec();
        let before = blob_ref(&written);
        let mut proposed = Proposed {
            rewrites: vec![jitos_warp::Rewrite {
                ops: vec![Op::SetAttr {
                    node: file.clone(),
                    key: ATTR_BLOB.to_owned(),
                    value: Value::Blob(before),
                }],
                expect: vec![Expect::AttrEquals {
                    node: file.clone(),
                    key: "note".to_owned(),
                    value: Value::Str("was abcdefgh".to_owned()),
                }],
            }],
            artifacts: vec![("a.txt".to_owned(), written)],
            exit_status: 0,
            cpu_ms: 0,
            max_rss_kib: 0,
        };
        redactor.proposal(&mut proposed).unwrap();
        let after = &proposed.artifacts[0].1;
        assert_eq!(after.as_slice(), b"token [secret:SHORT]\n");
        let ops = &proposed.rewrites[0].ops;
        assert_eq!(
            ops[0],
            Op::SetAttr {
                node: file.clone(),
                key: ATTR_BLOB.to_owned(),
                value: Value::Blob(blob_ref(after)),
            }
        );
        assert_eq!(
            ops[1],
            Op::SetAttr {
                node: file.clone(),
                key: ATTR_SIZE.to_owned(),
                value: Value::Int(after.len() as i64),
            }
        );
        assert!(matches!(
            &proposed.rewrites[0].expect[0],
            Expect::AttrEquals { value: Value::Str(v), .. } if v == "was [secret:SHORT]"
        ));
        let mut in_a_label = Proposed {
            rewrites: vec![jitos_warp::Rewrite {
                ops: vec![Op::AddEdge {
                    from: file.clone(),
                    to: file,
                    label: "abcdefgh".to_owned(),
                }],
                expect: Vec::new(),
            }],
            artifacts: Vec::new(),
            exit_status: 0,
            cpu_ms: 0,
            max_rss_kib: 0,
        };
        assert!(redactor.proposal(&mut in_a_label).is_err());
    }
}
