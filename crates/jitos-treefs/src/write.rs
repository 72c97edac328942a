//! Writing a `Tree` into an empty directory: directories and symlinks first, then file
//! contents fetched from the caller in bounded batches.

use std::{
    fs::{OpenOptions, Permissions},
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
};

use jitos_tree::{Entry, Tree, TreePath};
use jitos_warp::BlobRef;

use crate::{
    blob::blob_ref,
    error::{FetchError, WriteError},
    link::check_stays_inside,
};

/// Most bytes of file content asked for in one batch (a single larger file goes alone):
/// a batch's answer fits one frame of the client protocol.
pub const BATCH_BYTES_MAX: u64 = 8 * 1024 * 1024;

/// Most files asked for in one batch, so a tree of small files still moves in steady steps.
pub const BATCH_FILES_MAX: usize = 512;

/// One file to write: its path, blob, recorded size and mode bit.
struct FileToWrite<'a> {
    path: &'a TreePath,
    blob: BlobRef,
    size: u64,
    executable: bool,
}

/// Writes every entry of `tree` under `dir`, which must exist and be empty: directories,
/// symlinks, and files with their exact bytes and mode (0755 when executable, else 0644).
///
/// `fetch` is given the blobs of a batch of files, in path order, at most
/// [`BATCH_FILES_MAX`] files and [`BATCH_BYTES_MAX`] bytes at a time, and returns their
/// contents in the same order. Each content is checked against its blob before it is
/// written. On error, what was written so far stays: callers that need all or nothing
/// write into a staging directory and rename it.
pub fn write_tree<F>(dir: &Path, tree: &Tree, mut fetch: F) -> Result<(), WriteError>
where
    F: FnMut(&[BlobRef]) -> Result<Vec<Vec<u8>>, FetchError>,
{
    let mut listing = std::fs::read_dir(dir).map_err(|source| WriteError::ReadDir {
        dir: dir.to_owned(),
        source,
    })?;
    if listing.next().is_some() {
        return Err(WriteError::NotEmpty {
            dir: dir.to_owned(),
        });
    }
    tree.check_parents()?;
    let mut files = Vec::new();
    // Path order puts every directory before what it contains.
    for (path, entry) in &tree.entries {
        if path.is_root() {
            continue;
        }
        let disk = dir.join(path.as_str());
        let create_error = |source| WriteError::Create {
            path: disk.clone(),
            source,
        };
        match entry {
            Entry::Dir => std::fs::create_dir(&disk).map_err(create_error)?,
            Entry::Symlink { target } => {
                check_stays_inside(Path::new(path.as_str()), Path::new(target)).map_err(
                    |reason| WriteError::EscapingSymlink {
                        path: path.to_string(),
                        reason,
                    },
                )?;
                std::os::unix::fs::symlink(target, &disk).map_err(create_error)?;
            }
            Entry::File {
                blob,
                size,
                executable,
            } => files.push(FileToWrite {
                path,
                blob: *blob,
                size: *size,
                executable: *executable,
            }),
        }
    }
    for batch in batches(&files) {
        let refs: Vec<BlobRef> = batch.iter().map(|file| file.blob).collect();
        let contents = fetch(&refs).map_err(|source| WriteError::Fetch { source })?;
        if contents.len() != batch.len() {
            return Err(WriteError::WrongCount {
                asked: batch.len(),
                got: contents.len(),
            });
        }
        for (file, content) in batch.iter().zip(contents) {
            write_file(dir, file, &content)?;
        }
    }
    Ok(())
}

/// Writes one file with `content`, after checking the content is the file's blob.
fn write_file(dir: &Path, file: &FileToWrite<'_>, content: &[u8]) -> Result<(), WriteError> {
    if blob_ref(content) != file.blob || content.len() as u64 != file.size {
        return Err(WriteError::WrongContent {
            path: file.path.to_string(),
        });
    }
    let disk = dir.join(file.path.as_str());
    let create_error = |source| WriteError::Create {
        path: disk.clone(),
        source,
    };
    let mode = if file.executable { 0o755 } else { 0o644 };
    // create_new: the directory started empty, so an existing file here means something
    // else is writing into it; never write through whatever that is.
    let mut handle = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&disk)
        .map_err(create_error)?;
    handle.write_all(content).map_err(create_error)?;
    // The mode given at creation is filtered by the umask; the tree's mode is exact.
    handle
        .set_permissions(Permissions::from_mode(mode))
        .map_err(create_error)?;
    Ok(())
}

/// Splits `files` into consecutive batches within the batch limits.
fn batches<'a, 'b>(files: &'a [FileToWrite<'b>]) -> Vec<&'a [FileToWrite<'b>]> {
    let mut batches = Vec::new();
    let mut start = 0;
    while start < files.len() {
        let mut end = start;
        let mut bytes = 0u64;
        while end < files.len() && end - start < BATCH_FILES_MAX {
            let size = files[end].size;
            if end > start && bytes.saturating_add(size) > BATCH_BYTES_MAX {
                break;
            }
            bytes = bytes.saturating_add(size);
            end += 1;
        }
        batches.push(&files[start..end]);
        start = end;
    }
    batches
}
