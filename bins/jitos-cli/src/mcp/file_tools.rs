//! `files_list`, `file_read` and `file_write`: the files of a workspace (or, for reading,
//! of the system). Paths are tree paths: relative, `/`-separated, no `.` or `..`, so no
//! path names anything outside the tree it is looked up in.

use jitos_proto::{Request, Response};
use jitos_tree::{node_id_of, Entry, Tree, TreePath, ATTR_BLOB};
use jitos_warp::{Expect, Value as WarpValue};
use serde_json::{json, Value};

use super::{
    daemon::Session,
    tools::{unexpected, Args, ToolError},
    FILE_BYTES_MAX,
};
use crate::tree_cmd;

/// Entries one `files_list` answers with.
const LIST_ENTRIES_MAX: usize = 10_000;

/// `files_list`.
pub fn list(session: &mut Session, args: &Args) -> Result<Value, ToolError> {
    args.only(&["workspace", "prefix"])?;
    let sws = args.opt_id("workspace")?;
    let prefix = match args.opt_str("prefix")? {
        Some(prefix) => tree_path(prefix.trim_end_matches('/'))?,
        None => TreePath::root(),
    };
    let tree = fetch_tree(session, sws)?;
    let under = |path: &TreePath| {
        prefix.is_root()
            || path == &prefix
            || path
                .as_str()
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    };
    let mut entries = Vec::new();
    let mut truncated = false;
    for (path, entry) in tree.entries.iter().filter(|(path, _)| !path.is_root()) {
        if !under(path) {
            continue;
        }
        if entries.len() == LIST_ENTRIES_MAX {
            truncated = true;
            break;
        }
        entries.push(match entry {
            Entry::Dir => json!({ "path": path.as_str(), "kind": "dir" }),
            Entry::File {
                size, executable, ..
            } => json!({ "path": path.as_str(), "kind": "file", "size": size, "executable": executable }),
            Entry::Symlink { target } => {
                json!({ "path": path.as_str(), "kind": "symlink", "target": target })
            }
        });
    }
    Ok(json!({
        "workspace": sws,
        "entries": entries,
        "truncated": truncated,
    }))
}

/// `file_read`.
pub fn read(session: &mut Session, args: &Args) -> Result<Value, ToolError> {
    args.only(&["workspace", "path"])?;
    let sws = args.opt_id("workspace")?;
    let path = tree_path(args.str("path")?)?;
    let tree = fetch_tree(session, sws)?;
    let where_ = place(sws);
    let (blob, size) = match tree.entries.get(&path) {
        Some(Entry::File { blob, size, .. }) => (*blob, *size),
        Some(Entry::Dir) => {
            return Err(ToolError::BadArgument(format!(
                "{path} is a directory in {where_}; list it with files_list"
            )))
        }
        Some(Entry::Symlink { target }) => {
            return Err(ToolError::BadArgument(format!(
                "{path} is a symbolic link to {target:?} in {where_}; read its target"
            )))
        }
        None => {
            return Err(ToolError::BadArgument(format!(
                "there is no file {path} in {where_}; files_list shows what there is"
            )))
        }
    };
    if size > FILE_BYTES_MAX as u64 {
        return Err(ToolError::BadArgument(format!(
            "{path} is {size} bytes, over the {FILE_BYTES_MAX} bytes file_read returns"
        )));
    }
    let bytes = session
        .with_client(|client| tree_cmd::fetch_blobs(client, vec![blob]))?
        .into_iter()
        .next()
        .unwrap_or_default();
    let content = String::from_utf8(bytes).map_err(|e| {
        ToolError::BadArgument(format!(
            "{path} is not UTF-8 text (byte {} of {size}); file_read returns text only",
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok(json!({ "workspace": sws, "path": path.as_str(), "size": size, "content": content }))
}

/// `file_write`: one rewrite of the workspace that adds the file or changes its content,
/// expecting the content it replaces, so a change made meanwhile is refused rather than
/// overwritten.
pub fn write(session: &mut Session, args: &Args) -> Result<Value, ToolError> {
    args.only(&["workspace", "path", "content", "executable"])?;
    let sws = session.own(args.id("workspace")?)?;
    let path = tree_path(args.str("path")?)?;
    if path.is_root() {
        return Err(ToolError::BadArgument(
            "argument `path` is empty; name a file, e.g. `src/lib.rs`".to_owned(),
        ));
    }
    let content = args.str("content")?;
    let executable = args.opt_bool("executable")?.unwrap_or(false);
    if content.len() > FILE_BYTES_MAX {
        return Err(ToolError::BadArgument(format!(
            "argument `content` is {} bytes, over the {FILE_BYTES_MAX} bytes file_write takes",
            content.len()
        )));
    }
    let current = fetch_tree(session, Some(sws))?;
    let mut ancestor = path.parent();
    while let Some(dir) = ancestor {
        if let Some(entry) = current.entries.get(&dir).filter(|entry| !entry.is_dir()) {
            return Err(ToolError::BadArgument(format!(
                "{dir} is a {} in workspace {sws}, not a directory",
                entry.kind().to_lowercase()
            )));
        }
        ancestor = dir.parent();
    }
    let old_blob = match current.entries.get(&path) {
        Some(Entry::Dir) => {
            return Err(ToolError::BadArgument(format!(
                "{path} is a directory in workspace {sws}; write a file inside it"
            )))
        }
        Some(Entry::File { blob, .. }) => Some(*blob),
        Some(Entry::Symlink { .. }) | None => None,
    };
    let blob = match session.call(&Request::PutBlobs(vec![content.as_bytes().to_vec()]))? {
        Response::BlobsStored(refs) if refs.len() == 1 => refs[0],
        other => return Err(unexpected("storing the file's content", &other)),
    };
    let mut wanted = current.clone();
    wanted.insert(
        path.clone(),
        Entry::File {
            blob,
            size: content.len() as u64,
            executable,
        },
    );
    let mut rewrite = jitos_tree::sync_rewrite(&current, &wanted)
        .map_err(|e| ToolError::BadArgument(e.to_string()))?;
    if rewrite.ops.is_empty() {
        return Ok(json!({
            "workspace": sws, "path": path.as_str(), "bytes": content.len(),
            "unchanged": true, "message": "the file already holds exactly this; nothing was recorded",
        }));
    }
    if let Some(old) = old_blob {
        let node = node_id_of(&path, false).map_err(|e| ToolError::BadArgument(e.to_string()))?;
        rewrite.expect.push(Expect::AttrEquals {
            node,
            key: ATTR_BLOB.to_owned(),
            value: WarpValue::Blob(old),
        });
    }
    match session.call(&Request::SwsApply { sws, rewrite })? {
        Response::SwsRecorded { seq, .. } => Ok(json!({
            "workspace": sws,
            "path": path.as_str(),
            "bytes": content.len(),
            "created": old_blob.is_none(),
            "record": seq,
        })),
        other => Err(unexpected("a workspace rewrite", &other)),
    }
}

/// The tree of a workspace, or of the system at its head.
pub fn fetch_tree(session: &mut Session, sws: Option<u64>) -> Result<Tree, ToolError> {
    match session.call(&Request::TreeShow { sws, at: None })? {
        Response::Tree(tree) => Ok(tree),
        other => Err(unexpected("a file tree", &other)),
    }
}

/// A path argument as a tree path, or why it names nothing inside the tree.
fn tree_path(text: &str) -> Result<TreePath, ToolError> {
    TreePath::new(text).map_err(|e| {
        ToolError::BadArgument(format!(
            "{e}; paths are relative to the workspace's root, `/`-separated, without `.` or `..` (e.g. `src/lib.rs`)"
        ))
    })
}

fn place(sws: Option<u64>) -> String {
    match sws {
        Some(sws) => format!("workspace {sws}"),
        None => "the system".to_owned(),
    }
}
