//! `jitos tree import|checkout|diff` and `jitos blob gc`: file trees between disk and the
//! daemon, with progress on large trees.

use std::{io::IsTerminal, path::Path, process::ExitCode};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use jitos_proto::{Client, Request, Response};
use jitos_tree::{diff_trees, Entry, Tree, TreeChange};
use jitos_treefs::{Walked, BATCH_BYTES_MAX, BATCH_FILES_MAX};
use jitos_warp::BlobRef;

use crate::{
    commands::{emit_json, print},
    render,
};

/// Where a tree is read from.
#[derive(Debug, Clone, Copy)]
pub struct TreeSource {
    /// A workspace, or the system when `None`.
    pub sws: Option<u64>,
    /// A sequence number (system only), or the head.
    pub at: Option<u64>,
}

/// `jitos tree import DIR [--sws ID]`.
pub fn import(client: &mut Client, json: bool, dir: &Path, sws: Option<u64>) -> Result<ExitCode> {
    let mut walked = jitos_treefs::walk(dir)?;
    let bar = progress(json, walked.files.len() as u64, "storing files");
    upload(client, &mut walked, &bar)?;
    bar.finish_and_clear();
    let files = walked.files.len();
    let bytes = walked.tree.file_bytes();
    let response = client.call(&Request::TreeImport {
        sws,
        tree: walked.tree,
    })?;
    print(json, response, |r| match r {
        Response::Committed { seq, digest, .. } => Some(format!(
            "imported {} ({files} files, {bytes} bytes) at seq {seq}\ndigest {digest}\n",
            dir.display()
        )),
        Response::SwsRecorded { sws, seq, .. } => Some(format!(
            "imported {} ({files} files, {bytes} bytes) into workspace {sws} at seq {seq}\n",
            dir.display()
        )),
        _ => None,
    })
}

/// Reads every walked file and stores it, in requests within the batch limits the
/// checkout uses too.
fn upload(client: &mut Client, walked: &mut Walked, bar: &ProgressBar) -> Result<()> {
    let mut start = 0;
    while start < walked.files.len() {
        let mut end = start;
        let mut bytes = 0u64;
        let mut contents = Vec::new();
        while end < walked.files.len()
            && end - start < BATCH_FILES_MAX
            && (end == start || bytes + walked.files[end].size <= BATCH_BYTES_MAX)
        {
            let content = walked.files[end].read()?;
            bytes += content.len() as u64;
            contents.push(content);
            end += 1;
        }
        let sizes: Vec<u64> = contents.iter().map(|c| c.len() as u64).collect();
        let refs = match client.call(&Request::PutBlobs(contents))? {
            Response::BlobsStored(refs) if refs.len() == sizes.len() => refs,
            Response::Error(e) => bail!("{}; nothing was recorded", e.message),
            other => bail!("jitosd sent an unexpected answer: {other:?}"),
        };
        for (offset, (blob, size)) in refs.into_iter().zip(sizes).enumerate() {
            walked.set_blob(start + offset, blob, size);
        }
        bar.inc((end - start) as u64);
        start = end;
    }
    Ok(())
}

/// Asks for the tree recorded at `source`.
pub fn fetch_tree(client: &mut Client, source: TreeSource) -> Result<Tree> {
    match client.call(&Request::TreeShow {
        sws: source.sws,
        at: source.at,
    })? {
        Response::Tree(tree) => Ok(tree),
        Response::Error(e) => bail!("{}", e.message),
        other => bail!("jitosd sent an unexpected answer: {other:?}"),
    }
}

/// `jitos tree checkout DIR [--sws ID] [--at SEQ]`: writes the tree into a new or empty
/// directory. The files are written into a sibling directory first and renamed into
/// place at the end, so a failure leaves nothing half written.
pub fn checkout(
    client: &mut Client,
    json: bool,
    dir: &Path,
    source: TreeSource,
) -> Result<ExitCode> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty; check out into a new or empty directory",
            dir.display()
        );
    }
    let tree = fetch_tree(client, source)?;
    if tree.is_empty() {
        bail!("no file tree is recorded there; record one with `jitos tree import DIR`");
    }
    let parent = match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let staged = tempfile::Builder::new()
        .prefix(".jitos-checkout-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot create a directory in {}", parent.display()))?;
    write_tree(client, json, staged.path(), &tree)?;
    // rename(2) replaces an empty directory, and the check above refused a non-empty one.
    std::fs::rename(staged.path(), dir)
        .with_context(|| format!("cannot move the checkout into {}", dir.display()))?;
    let files = tree.file_count();
    let summary = serde_json::json!({
        "dir": dir.display().to_string(),
        "entries": tree.len(),
        "files": files,
        "bytes": tree.file_bytes(),
    });
    if json {
        emit_json(&summary)?;
    } else {
        println!(
            "checked out {files} files ({} bytes) into {}",
            tree.file_bytes(),
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes every entry of `tree` under `dir`, which exists and is empty, fetching file
/// contents from the daemon batch by batch.
pub fn write_tree(client: &mut Client, json: bool, dir: &Path, tree: &Tree) -> Result<()> {
    let files = tree.file_count();
    let bar = progress(json, files as u64, "writing files");
    jitos_treefs::write_tree(dir, tree, |refs| {
        let contents = fetch_blobs(client, refs.to_vec())?;
        bar.inc(refs.len() as u64);
        Ok(contents)
    })?;
    bar.finish_and_clear();
    Ok(())
}

/// The contents of `refs`, in order, from the daemon.
pub fn fetch_blobs(client: &mut Client, refs: Vec<BlobRef>) -> Result<Vec<Vec<u8>>> {
    let count = refs.len();
    match client.call(&Request::GetBlobs(refs))? {
        Response::Blobs(contents) if contents.len() == count => Ok(contents),
        Response::Error(e) => bail!("{}", e.message),
        other => bail!("jitosd sent an unexpected answer: {other:?}"),
    }
}

/// `jitos tree diff FROM TO`: a unified diff of every file that differs.
pub fn diff(client: &mut Client, json: bool, from: TreeSource, to: TreeSource) -> Result<ExitCode> {
    let old = fetch_tree(client, from)?;
    let new = fetch_tree(client, to)?;
    let changes = diff_trees(&old, &new);
    if json {
        emit_json(&changes)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_file_diffs(client, &changes)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints a unified diff of every file among `changes`, fetching contents as needed.
pub fn print_file_diffs(client: &mut Client, changes: &[TreeChange]) -> Result<()> {
    print!("{}", file_diffs_text(client, changes)?);
    Ok(())
}

/// A unified diff of every file among `changes`, fetching contents as needed.
pub fn file_diffs_text(client: &mut Client, changes: &[TreeChange]) -> Result<String> {
    let mut text = String::new();
    for change in changes {
        let (old_entry, new_entry) = match change {
            TreeChange::Added { entry, .. } => (None, Some(entry)),
            TreeChange::Removed { entry, .. } => (Some(entry), None),
            TreeChange::Modified { old, new, .. } => (Some(old), Some(new)),
        };
        // Directories show through the files inside them.
        let holds_content = |entry: Option<&Entry>| entry.is_some_and(|e| !e.is_dir());
        if !holds_content(old_entry) && !holds_content(new_entry) {
            continue;
        }
        let old_bytes = content_of(client, old_entry)?;
        let new_bytes = content_of(client, new_entry)?;
        text.push_str(&render::file_diff(
            change.path().as_str(),
            old_entry,
            new_entry,
            &old_bytes,
            &new_bytes,
        ));
    }
    Ok(text)
}

fn content_of(client: &mut Client, entry: Option<&Entry>) -> Result<Vec<u8>> {
    match entry {
        Some(Entry::File { blob, .. }) => Ok(fetch_blobs(client, vec![*blob])?
            .into_iter()
            .next()
            .unwrap_or_default()),
        Some(Entry::Symlink { target }) => Ok(target.clone().into_bytes()),
        Some(Entry::Dir) | None => Ok(Vec::new()),
    }
}

/// `jitos blob gc`.
pub fn blob_gc(client: &mut Client, json: bool) -> Result<ExitCode> {
    let response = client.call(&Request::BlobGc)?;
    print(json, response, |r| match r {
        Response::BlobGc(report) => Some(format!(
            "removed {} unreferenced blobs ({} bytes); kept {}\n",
            report.removed, report.removed_bytes, report.kept
        )),
        _ => None,
    })
}

/// A progress bar on standard error for people; hidden for scripts and pipes.
fn progress(json: bool, total: u64, message: &'static str) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total).with_message(message);
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>14} [{bar:30}] {pos}/{len} files, {per_sec}, eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Parses a state named on the command line: `head`, a sequence number, or `sws:ID`.
pub fn parse_source(text: &str) -> Result<TreeSource, String> {
    if text == "head" {
        return Ok(TreeSource {
            sws: None,
            at: None,
        });
    }
    if let Some(id) = text.strip_prefix("sws:") {
        return id
            .parse()
            .map(|id| TreeSource {
                sws: Some(id),
                at: None,
            })
            .map_err(|_| format!("{text:?}: `sws:` takes a workspace id, e.g. sws:12"));
    }
    text.parse()
        .map(|seq| TreeSource {
            sws: None,
            at: Some(seq),
        })
        .map_err(|_| format!("{text:?} is not a state: use `head`, a sequence number, or `sws:ID`"))
}
