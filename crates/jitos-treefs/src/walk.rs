//! Reading a directory into a `Tree`: the walk that honours `.gitignore`, skips `.git`,
//! keeps the executable bit, and refuses special files and symlinks that lead outside.

use std::{
    fs::File,
    io::Read,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use jitos_tree::{Entry, Tree, TreePath};
use jitos_warp::BlobRef;

use crate::{blob::blob_ref, error::WalkError, link::check_stays_inside};

/// Largest file a tree takes: a file travels whole in one frame of the client protocol
/// (16 MiB), with room for the request around it.
pub const FILE_BYTES_MAX: u64 = 15 * 1024 * 1024;

/// A directory as found on disk: its tree shape, and where each file's bytes live.
#[derive(Debug, Clone)]
pub struct Walked {
    /// Directories and symlinks complete; files are added once their blob is known
    /// (`set_blob` or `read_contents`).
    pub tree: Tree,
    /// Every regular file, in path order.
    pub files: Vec<WalkedFile>,
}

/// A regular file found by the walk.
#[derive(Debug, Clone)]
pub struct WalkedFile {
    /// Where it goes in the tree.
    pub path: TreePath,
    /// Where it is on disk.
    pub disk: PathBuf,
    /// Its size when walked.
    pub size: u64,
    /// Whether any execute bit is set.
    pub executable: bool,
}

/// Walks `root` in name order. `.git` directories and whatever `.gitignore` files exclude
/// are skipped; special files are refused, as are files beyond [`FILE_BYTES_MAX`] and
/// symlinks that are absolute or climb out of `root`. File contents are not read.
pub fn walk(root: &Path) -> Result<Walked, WalkError> {
    if !root.is_dir() {
        return Err(WalkError::NotADirectory {
            path: root.to_owned(),
        });
    }
    let mut tree = Tree::new();
    tree.insert(TreePath::root(), Entry::Dir);
    let mut files = Vec::new();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(|entry| entry.file_name() != ".git")
        .build();
    for item in walker {
        let item = item.map_err(|source| WalkError::Walk {
            root: root.to_owned(),
            source,
        })?;
        let disk = item.path();
        // The walker yields only paths under its root.
        let relative = disk.strip_prefix(root).unwrap_or(disk);
        let path = tree_path(disk, relative)?;
        let read_error = |source| WalkError::Read {
            path: disk.to_owned(),
            source,
        };
        let metadata = std::fs::symlink_metadata(disk).map_err(read_error)?;
        let kind = metadata.file_type();
        if kind.is_dir() {
            tree.insert(path, Entry::Dir);
        } else if kind.is_symlink() {
            let target = std::fs::read_link(disk).map_err(read_error)?;
            check_stays_inside(relative, &target).map_err(|reason| WalkError::EscapingSymlink {
                path: disk.to_owned(),
                reason,
            })?;
            let target = target
                .to_str()
                .ok_or_else(|| WalkError::LinkNotUtf8 {
                    path: disk.to_owned(),
                })?
                .to_owned();
            tree.insert(path, Entry::Symlink { target });
        } else if kind.is_file() {
            if metadata.len() > FILE_BYTES_MAX {
                return Err(WalkError::TooLarge {
                    path: disk.to_owned(),
                    bytes: metadata.len(),
                    max: FILE_BYTES_MAX,
                });
            }
            files.push(WalkedFile {
                path,
                disk: disk.to_path_buf(),
                size: metadata.len(),
                executable: metadata.permissions().mode() & 0o111 != 0,
            });
        } else {
            return Err(WalkError::SpecialFile {
                path: disk.to_owned(),
            });
        }
    }
    Ok(Walked { tree, files })
}

/// Walks `root` and reads every file, returning the complete tree.
pub fn read_tree(root: &Path) -> Result<Tree, WalkError> {
    walk(root)?.read_contents(|_, _, _| {})
}

impl Walked {
    /// Records file `index` in the tree with the blob its bytes were stored under.
    /// An index beyond `files` changes nothing.
    pub fn set_blob(&mut self, index: usize, blob: BlobRef, size: u64) {
        if let Some(file) = self.files.get(index) {
            self.tree.insert(
                file.path.clone(),
                Entry::File {
                    blob,
                    size,
                    executable: file.executable,
                },
            );
        }
    }

    /// Reads every file, names its bytes with `blob_ref`, hands path, blob and bytes to
    /// `keep` (which may store or drop them), and returns the complete tree. Sizes are
    /// those read, not those walked, so the tree matches the bytes handed out.
    pub fn read_contents(
        mut self,
        mut keep: impl FnMut(&TreePath, BlobRef, Vec<u8>),
    ) -> Result<Tree, WalkError> {
        for file in &self.files {
            let bytes = file.read()?;
            let blob = blob_ref(&bytes);
            self.tree.insert(
                file.path.clone(),
                Entry::File {
                    blob,
                    size: bytes.len() as u64,
                    executable: file.executable,
                },
            );
            keep(&file.path, blob, bytes);
        }
        Ok(self.tree)
    }
}

impl WalkedFile {
    /// Reads the file's bytes, refusing it if it grew beyond [`FILE_BYTES_MAX`] since
    /// the walk.
    pub fn read(&self) -> Result<Vec<u8>, WalkError> {
        let read_error = |source| WalkError::Read {
            path: self.disk.clone(),
            source,
        };
        let file = File::open(&self.disk).map_err(read_error)?;
        let mut bytes = Vec::new();
        file.take(FILE_BYTES_MAX + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() as u64 > FILE_BYTES_MAX {
            return Err(WalkError::TooLarge {
                path: self.disk.clone(),
                bytes: bytes.len() as u64,
                max: FILE_BYTES_MAX,
            });
        }
        Ok(bytes)
    }
}

/// The tree path of `relative`, the path of `disk` below the walk's root.
fn tree_path(disk: &Path, relative: &Path) -> Result<TreePath, WalkError> {
    let text = relative.to_str().ok_or_else(|| WalkError::NotUtf8 {
        path: disk.to_owned(),
    })?;
    TreePath::new(text).map_err(|source| WalkError::BadPath {
        path: disk.to_owned(),
        source,
    })
}
