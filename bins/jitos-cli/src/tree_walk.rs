//! Reading a directory into a `Tree`: the walk that honours `.gitignore`, keeps the
//! executable bit, and refuses symlinks that lead outside the directory.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Component, Path, PathBuf},
};

use anyhow::{bail, Context, Result};
use jitos_tree::{Entry, Tree, TreePath};
use jitos_warp::BlobRef;

/// Largest file `jitos tree import` sends: one file travels in one frame.
pub const FILE_BYTES_MAX: u64 = 15 * 1024 * 1024;

/// A directory as found on disk: its tree shape, and where each file's bytes live.
pub struct Walked {
    /// Directories and symlinks complete; files still need their blob (filled by
    /// `set_blob` once uploaded).
    pub tree: Tree,
    /// Every regular file: its tree path, its path on disk, its size, whether executable.
    pub files: Vec<WalkedFile>,
}

/// A regular file found by the walk.
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
/// are skipped; special files are refused, as are symlinks that are absolute or climb
/// out of `root`.
pub fn walk(root: &Path) -> Result<Walked> {
    if !root.is_dir() {
        bail!("{} is not a directory", root.display());
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
        let item = item.with_context(|| format!("cannot walk {}", root.display()))?;
        let disk = item.path();
        let relative = disk
            .strip_prefix(root)
            .with_context(|| format!("{} is outside {}", disk.display(), root.display()))?;
        let path = tree_path(relative)?;
        let metadata = std::fs::symlink_metadata(disk)
            .with_context(|| format!("cannot read {}", disk.display()))?;
        let kind = metadata.file_type();
        if kind.is_dir() {
            tree.insert(path, Entry::Dir);
        } else if kind.is_symlink() {
            let target = std::fs::read_link(disk)
                .with_context(|| format!("cannot read the link {}", disk.display()))?;
            check_link_stays_inside(relative, &target)
                .with_context(|| format!("refusing the symlink {}", disk.display()))?;
            let target = target
                .to_str()
                .with_context(|| format!("the link {} has a non-UTF-8 target", disk.display()))?
                .to_owned();
            tree.insert(path, Entry::Symlink { target });
        } else if kind.is_file() {
            if metadata.len() > FILE_BYTES_MAX {
                bail!(
                    "{} is {} bytes; `jitos tree import` takes files up to {FILE_BYTES_MAX} bytes",
                    disk.display(),
                    metadata.len()
                );
            }
            files.push(WalkedFile {
                path,
                disk: disk.to_path_buf(),
                size: metadata.len(),
                executable: metadata.permissions().mode() & 0o111 != 0,
            });
        } else {
            bail!(
                "{} is a special file (socket, fifo or device), which a tree cannot hold; \
                 remove it or list it in .gitignore",
                disk.display()
            );
        }
    }
    Ok(Walked { tree, files })
}

impl Walked {
    /// Records file `index` in the tree with the blob its bytes were stored under.
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
}

/// The tree path of a path relative to the walk's root.
fn tree_path(relative: &Path) -> Result<TreePath> {
    let text = relative
        .to_str()
        .with_context(|| format!("{} is not UTF-8", relative.display()))?;
    Ok(TreePath::new(text)?)
}

/// Checks lexically that a link at `link` (relative to the root) pointing at `target`
/// resolves inside the root.
fn check_link_stays_inside(link: &Path, target: &Path) -> Result<()> {
    if target.is_absolute() {
        bail!("it points at the absolute path {}", target.display());
    }
    let mut depth: usize = link.components().count().saturating_sub(1);
    for component in target.components() {
        match component {
            Component::ParentDir => {
                depth = depth
                    .checked_sub(1)
                    .with_context(|| format!("it points outside, at {}", target.display()))?;
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                bail!("it points at the absolute path {}", target.display())
            }
        }
    }
    Ok(())
}
