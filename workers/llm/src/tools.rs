//! The model's tools — `list_files`, `read_file`, `write_file`, `apply_patch`, `finish` —
//! run against an in-memory copy of the workspace: reads see the files as the job found
//! them plus what the model wrote, writes change only the copy, and every path is
//! confined to the workspace and the job's scope. A bad call is an error message back to
//! the model, never a failure of the job.

use std::{collections::BTreeMap, path::PathBuf};

use jitos_tree::{within_prefixes, Entry, Tree, TreePath};
use jitos_worker::limits::{ARTIFACTS_PER_PROPOSAL_MAX, ARTIFACT_BYTES_TOTAL_MAX};
use serde_json::{json, Value};

use crate::proposal::{SUMMARY_BYTES_MAX, TRANSCRIPT_BYTES_MAX};

/// Most bytes of a file shown to the model by one `read_file`.
pub const READ_BYTES_MAX: usize = 128 * 1024;
/// Most entries one `list_files` shows.
pub const LIST_ENTRIES_MAX: usize = 1000;
/// Largest file the model may write, in bytes.
pub const WRITE_BYTES_MAX: usize = 1024 * 1024;
/// Room the daemon needs for the worker-log artifact it adds to a proposal.
const DAEMON_LOG_BYTES_MAX: usize = 64 * 1024;
/// Most files the model may write: a proposal's artifacts less `transcript`, `summary`
/// and the daemon's worker log.
pub const FILES_WRITTEN_MAX: usize = ARTIFACTS_PER_PROPOSAL_MAX - 3;
/// Most bytes of new content over all files written, so the proposal's artifacts stay
/// within the protocol's total.
pub const WRITTEN_BYTES_MAX: usize =
    ARTIFACT_BYTES_TOTAL_MAX - TRANSCRIPT_BYTES_MAX - SUMMARY_BYTES_MAX - DAEMON_LOG_BYTES_MAX;

/// Where a file's content as the job found it is.
#[derive(Debug, Clone)]
pub enum Source {
    /// On disk, in the job's workspace; read when the model asks.
    Disk(PathBuf),
    /// In memory: how tests build a workspace without a directory.
    #[cfg_attr(not(test), allow(dead_code))]
    Bytes(Vec<u8>),
}

/// The workspace as the model sees it.
#[derive(Debug)]
pub struct Workspace {
    /// The tree as the job found it.
    pub before: Tree,
    /// The tree with the model's writes.
    pub after: Tree,
    /// Where each file of `before` can be read.
    sources: BTreeMap<TreePath, Source>,
    /// What the model wrote, by path.
    pub written: BTreeMap<TreePath, Vec<u8>>,
    /// Path prefixes in scope; empty for all.
    scope: Vec<String>,
}

/// What one tool call came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolOutcome {
    /// Text for the model (a result, or an error it can act on).
    Reply(String),
    /// The model called `finish` with this summary.
    Finish(String),
}

impl Workspace {
    /// A workspace of `before`, whose files are read from `sources`, with `scope`.
    pub fn new(before: Tree, sources: BTreeMap<TreePath, Source>, scope: Vec<String>) -> Workspace {
        Workspace {
            after: before.clone(),
            before,
            sources,
            written: BTreeMap::new(),
            scope,
        }
    }

    /// Reads the job's workspace directory.
    pub fn read(dir: &std::path::Path, scope: Vec<String>) -> Result<Workspace, String> {
        let walked =
            jitos_treefs::walk(dir).map_err(|e| format!("cannot read the job's workspace: {e}"))?;
        let sources = walked
            .files
            .iter()
            .map(|f| (f.path.clone(), Source::Disk(f.disk.clone())))
            .collect();
        let before = walked
            .read_contents(|_, _, _| {})
            .map_err(|e| format!("cannot read the job's workspace: {e}"))?;
        Ok(Workspace::new(before, sources, scope))
    }

    /// Every file in scope, with its size, in path order.
    pub fn files_in_scope(&self) -> Vec<(&TreePath, u64)> {
        self.after
            .entries
            .iter()
            .filter_map(|(path, entry)| match entry {
                Entry::File { size, .. } if within_prefixes(path.as_str(), &self.scope) => {
                    Some((path, *size))
                }
                _ => None,
            })
            .collect()
    }

    /// The current bytes of file `path` (written, or as found), or why not.
    pub fn content(&self, path: &TreePath) -> Result<Vec<u8>, String> {
        if let Some(bytes) = self.written.get(path) {
            return Ok(bytes.clone());
        }
        match self.sources.get(path) {
            Some(Source::Bytes(bytes)) => Ok(bytes.clone()),
            Some(Source::Disk(disk)) => {
                let bytes = std::fs::read(disk).map_err(|e| format!("cannot read {path}: {e}"))?;
                // The model must see what the proposal's `before` records, or an edit
                // would be made to content the kernel never saw.
                match self.before.entries.get(path) {
                    Some(Entry::File { blob, .. }) if *blob == jitos_treefs::blob_ref(&bytes) => {
                        Ok(bytes)
                    }
                    _ => Err(format!("{path} changed on disk while the job ran")),
                }
            }
            None => Err(format!("no file {path}")),
        }
    }

    /// Checks `raw` as a path the model may name: relative, no `.` or `..`, inside the
    /// scope.
    pub fn confine(&self, raw: &str) -> Result<TreePath, String> {
        let trimmed = raw.strip_prefix("./").unwrap_or(raw);
        if trimmed.is_empty() || trimmed == "." {
            return Err("the path is empty: name a file, such as src/main.rs".to_owned());
        }
        let path = TreePath::new(trimmed).map_err(|e| format!("{e}"))?;
        if !within_prefixes(path.as_str(), &self.scope) {
            return Err(format!(
                "{path} is outside the paths in scope ({})",
                self.scope.join(", ")
            ));
        }
        Ok(path)
    }

    /// Runs one tool call.
    pub fn run(&mut self, name: &str, arguments: &str) -> ToolOutcome {
        let args: Value = if arguments.trim().is_empty() {
            json!({})
        } else {
            match serde_json::from_str(arguments) {
                Ok(value) => value,
                Err(e) => {
                    return ToolOutcome::Reply(format!(
                        "error: the arguments are not valid JSON ({e}); call {name} again with \
                         a JSON object"
                    ))
                }
            }
        };
        let result = match name {
            "list_files" => Ok(self.list_files()),
            "read_file" => string_arg(&args, "path").and_then(|p| self.read_file(p)),
            "write_file" => string_arg(&args, "path").and_then(|p| {
                let content = string_arg(&args, "content")?;
                self.write_file(p, content.as_bytes().to_vec())
            }),
            "apply_patch" => string_arg(&args, "path").and_then(|p| {
                let old = string_arg(&args, "old")?;
                let new = string_arg(&args, "new")?;
                self.apply_patch(p, old, new)
            }),
            "finish" => {
                let summary = args
                    .get("summary")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                return ToolOutcome::Finish(summary);
            }
            other => Err(format!(
                "there is no tool {other:?}; the tools are list_files, read_file, write_file, \
                 apply_patch and finish"
            )),
        };
        ToolOutcome::Reply(result.unwrap_or_else(|e| format!("error: {e}")))
    }

    fn list_files(&self) -> String {
        let files = self.files_in_scope();
        if files.is_empty() {
            return "no files in scope".to_owned();
        }
        let mut out = String::new();
        for (path, size) in files.iter().take(LIST_ENTRIES_MAX) {
            out.push_str(&format!("{path} ({size} bytes)\n"));
        }
        if files.len() > LIST_ENTRIES_MAX {
            out.push_str(&format!(
                "… and {} more files\n",
                files.len() - LIST_ENTRIES_MAX
            ));
        }
        out
    }

    fn read_file(&self, raw: &str) -> Result<String, String> {
        let path = self.confine(raw)?;
        match self.after.entries.get(&path) {
            Some(Entry::File { .. }) => {}
            Some(Entry::Dir) => return Err(format!("{path} is a directory")),
            Some(Entry::Symlink { target }) => {
                return Err(format!("{path} is a symbolic link to {target}; read that"))
            }
            None => return Err(format!("there is no file {path}; list_files shows them")),
        }
        let bytes = self.content(&path)?;
        let total = bytes.len();
        let shown = &bytes[..total.min(READ_BYTES_MAX)];
        let text = match std::str::from_utf8(shown) {
            Ok(text) => text,
            // Cut inside a character: show up to it.
            Err(e) if e.error_len().is_none() => {
                std::str::from_utf8(&shown[..e.valid_up_to()]).unwrap_or_default()
            }
            Err(_) => return Err(format!("{path} is not UTF-8 text; it cannot be shown")),
        };
        if text.len() < total {
            Ok(format!(
                "{text}\n[… cut: {path} has {total} bytes; only the first {} are shown]",
                text.len()
            ))
        } else {
            Ok(text.to_owned())
        }
    }

    fn write_file(&mut self, raw: &str, content: Vec<u8>) -> Result<String, String> {
        let path = self.confine(raw)?;
        if content.len() > WRITE_BYTES_MAX {
            return Err(format!(
                "the content is {} bytes; a file written here holds at most {WRITE_BYTES_MAX}",
                content.len()
            ));
        }
        let executable = match self.after.entries.get(&path) {
            None => false,
            Some(Entry::File { executable, .. }) => *executable,
            Some(Entry::Dir) => return Err(format!("{path} is a directory")),
            Some(Entry::Symlink { .. }) => {
                return Err(format!(
                    "{path} is a symbolic link; write its target instead"
                ))
            }
        };
        let mut parent = path.parent();
        while let Some(dir) = parent {
            match self.after.entries.get(&dir) {
                None | Some(Entry::Dir) => {}
                Some(_) => return Err(format!("{dir} is not a directory")),
            }
            parent = dir.parent();
        }
        if !self.written.contains_key(&path) && self.written.len() >= FILES_WRITTEN_MAX {
            return Err(format!(
                "{FILES_WRITTEN_MAX} files were written already, the most one proposal carries"
            ));
        }
        let others: usize = self
            .written
            .iter()
            .filter(|(p, _)| **p != path)
            .map(|(_, b)| b.len())
            .sum();
        if others + content.len() > WRITTEN_BYTES_MAX {
            return Err(format!(
                "the files written would hold {} bytes; one proposal carries at most \
                 {WRITTEN_BYTES_MAX}",
                others + content.len()
            ));
        }
        let size = content.len();
        self.after.insert(
            path.clone(),
            Entry::File {
                blob: jitos_treefs::blob_ref(&content),
                size: size as u64,
                executable,
            },
        );
        self.written.insert(path.clone(), content);
        Ok(format!("wrote {path} ({size} bytes)"))
    }

    fn apply_patch(&mut self, raw: &str, old: &str, new: &str) -> Result<String, String> {
        let path = self.confine(raw)?;
        if old.is_empty() {
            return Err("old is empty: give the exact text to replace".to_owned());
        }
        if !matches!(self.after.entries.get(&path), Some(Entry::File { .. })) {
            return Err(format!(
                "there is no file {path}; use write_file to create it"
            ));
        }
        let bytes = self.content(&path)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("{path} is not UTF-8 text; it cannot be patched"))?;
        let patched = replace_once(&text, old, new).map_err(|e| format!("{path}: {e}"))?;
        self.write_file(path.as_str(), patched.into_bytes())
            .map(|_| format!("patched {path}"))
    }
}

/// `text` with the one occurrence of `old` replaced by `new`; none or several is an error,
/// since the model cannot then have meant one place.
pub fn replace_once(text: &str, old: &str, new: &str) -> Result<String, String> {
    let mut found = text.match_indices(old);
    let Some((at, _)) = found.next() else {
        return Err("old does not occur; read the file and copy the text exactly".to_owned());
    };
    if found.next().is_some() {
        let count = text.matches(old).count();
        return Err(format!(
            "old occurs {count} times; give more surrounding text so it occurs once"
        ));
    }
    Ok(format!("{}{new}{}", &text[..at], &text[at + old.len()..]))
}

fn string_arg<'a>(args: &'a Value, name: &str) -> Result<&'a str, String> {
    args.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the argument {name:?} (a string) is missing"))
}

/// The tools as OpenAI function tools.
pub fn definitions() -> Value {
    let tool = |name: &str, description: &str, properties: Value, required: &[&str]| {
        json!({
            "type": "function",
            "function": {
                "name": name,
                "description": description,
                "parameters": {
                    "type": "object",
                    "properties": properties,
                    "required": required,
                },
            },
        })
    };
    let path = json!({ "type": "string", "description": "A path relative to the workspace root, e.g. src/main.rs" });
    json!([
        tool("list_files", "List the files in scope with their sizes.", json!({}), &[]),
        tool("read_file", "Read a file's text.", json!({ "path": path }), &["path"]),
        tool(
            "write_file",
            "Create or replace a file with this whole content.",
            json!({ "path": path, "content": { "type": "string" } }),
            &["path", "content"],
        ),
        tool(
            "apply_patch",
            "Replace the one occurrence of `old` in a file with `new`; `old` must occur exactly once.",
            json!({ "path": path, "old": { "type": "string" }, "new": { "type": "string" } }),
            &["path", "old", "new"],
        ),
        tool(
            "finish",
            "Stop: the task is done (or cannot be done). Say what you changed and why.",
            json!({ "summary": { "type": "string" } }),
            &["summary"],
        ),
    ])
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    pub(crate) fn workspace(files: &[(&str, &str)], scope: &[&str]) -> Workspace {
        let mut tree = Tree::new();
        tree.insert(TreePath::root(), Entry::Dir);
        let mut sources = BTreeMap::new();
        for (path, content) in files {
            let path = TreePath::new(path).unwrap();
            tree.insert(
                path.clone(),
                Entry::File {
                    blob: jitos_treefs::blob_ref(content.as_bytes()),
                    size: content.len() as u64,
                    executable: false,
                },
            );
            sources.insert(path, Source::Bytes(content.as_bytes().to_vec()));
        }
        Workspace::new(
            tree,
            sources,
            scope.iter().map(|s| (*s).to_owned()).collect(),
        )
    }

    fn reply(ws: &mut Workspace, name: &str, args: Value) -> String {
        match ws.run(name, &args.to_string()) {
            ToolOutcome::Reply(text) => text,
            ToolOutcome::Finish(s) => panic!("finished: {s}"),
        }
    }

    // Goal: a path outside the workspace or the scope is an error for the model, and
    // nothing is written. Method: absolute, `..`, empty and out-of-scope paths.
    #[test]
    fn paths_are_confined_to_the_workspace_and_the_scope() {
        let mut ws = workspace(&[("src/a.rs", "a"), ("secret.txt", "s")], &["src"]);
        for bad in [
            "/etc/passwd",
            "../x",
            "src/../secret.txt",
            "",
            ".",
            "secret.txt",
            "src//a.rs",
        ] {
            let text = reply(&mut ws, "write_file", json!({"path": bad, "content": "x"}));
            assert!(text.starts_with("error:"), "{bad:?} was accepted: {text}");
            let text = reply(&mut ws, "read_file", json!({"path": bad}));
            assert!(text.starts_with("error:"), "{bad:?} was read: {text}");
        }
        assert!(ws.written.is_empty());
        assert_eq!(
            reply(&mut ws, "read_file", json!({"path": "./src/a.rs"})),
            "a"
        );
        let listed = reply(&mut ws, "list_files", json!({}));
        assert!(
            listed.contains("src/a.rs") && !listed.contains("secret"),
            "{listed}"
        );
    }

    // Goal: apply_patch replaces exactly one occurrence and refuses zero or two.
    #[test]
    fn apply_patch_needs_exactly_one_match() {
        let mut ws = workspace(&[("f.txt", "one two two")], &[]);
        let text = reply(
            &mut ws,
            "apply_patch",
            json!({"path": "f.txt", "old": "three", "new": "x"}),
        );
        assert!(text.contains("does not occur"), "{text}");
        let text = reply(
            &mut ws,
            "apply_patch",
            json!({"path": "f.txt", "old": "two", "new": "x"}),
        );
        assert!(text.contains("occurs 2 times"), "{text}");
        assert!(ws.written.is_empty());
        let text = reply(
            &mut ws,
            "apply_patch",
            json!({"path": "f.txt", "old": "one", "new": "1"}),
        );
        assert_eq!(text, "patched f.txt");
        assert_eq!(
            reply(&mut ws, "read_file", json!({"path": "f.txt"})),
            "1 two two"
        );
        assert_ne!(ws.after, ws.before);
    }

    // Goal: writes land in the copy only, create parent directories, and cannot go under
    // a file; bad arguments and unknown tools are messages, finish ends the loop.
    #[test]
    fn writes_and_bad_calls() {
        let mut ws = workspace(&[("f.txt", "x")], &[]);
        let text = reply(
            &mut ws,
            "write_file",
            json!({"path": "new/dir/g.txt", "content": "g"}),
        );
        assert!(text.starts_with("wrote"), "{text}");
        assert!(matches!(
            ws.after.entries.get(&TreePath::new("new/dir").unwrap()),
            Some(Entry::Dir)
        ));
        let text = reply(
            &mut ws,
            "write_file",
            json!({"path": "f.txt/under", "content": "g"}),
        );
        assert!(text.contains("not a directory"), "{text}");
        let text = reply(
            &mut ws,
            "write_file",
            json!({"path": "new", "content": "g"}),
        );
        assert!(text.contains("is a directory"), "{text}");
        assert!(
            matches!(ws.run("read_file", "{not json"), ToolOutcome::Reply(t) if t.contains("not valid JSON"))
        );
        assert!(matches!(ws.run("rm", "{}"), ToolOutcome::Reply(t) if t.contains("no tool")));
        assert!(
            matches!(ws.run("read_file", "{}"), ToolOutcome::Reply(t) if t.contains("missing"))
        );
        assert_eq!(
            ws.run("finish", r#"{"summary": "done"}"#),
            ToolOutcome::Finish("done".to_owned())
        );
    }

    // Goal: a file that is not UTF-8 is refused for reading, not shown as garbage.
    #[test]
    fn binary_files_are_not_shown() {
        let mut ws = workspace(&[], &[]);
        let path = TreePath::new("b.bin").unwrap();
        let bytes = vec![0xff, 0x00, 0xfe];
        ws.before.insert(
            path.clone(),
            Entry::File {
                blob: jitos_treefs::blob_ref(&bytes),
                size: 3,
                executable: false,
            },
        );
        ws.after = ws.before.clone();
        ws.sources.insert(path, Source::Bytes(bytes));
        let text = reply(&mut ws, "read_file", json!({"path": "b.bin"}));
        assert!(text.contains("not UTF-8"), "{text}");
    }

    // Goal: the number of files written is bounded, so the proposal stays within the
    // protocol's artifact count.
    #[test]
    fn files_written_are_bounded() {
        let mut ws = workspace(&[], &[]);
        for i in 0..FILES_WRITTEN_MAX {
            let text = reply(
                &mut ws,
                "write_file",
                json!({"path": format!("f{i}"), "content": "x"}),
            );
            assert!(text.starts_with("wrote"), "{text}");
        }
        let text = reply(
            &mut ws,
            "write_file",
            json!({"path": "one-more", "content": "x"}),
        );
        assert!(text.contains("files were written already"), "{text}");
        let text = reply(
            &mut ws,
            "write_file",
            json!({"path": "f0", "content": "again"}),
        );
        assert!(
            text.starts_with("wrote"),
            "rewriting a written file is fine: {text}"
        );
    }
}
