//! Materializing a `Tree` into a host directory: written into a stage beside the target,
//! synced, and swapped in with one rename, so the target holds the old tree or the new
//! one and never a mixture; and `matches`, which says whether a directory holds a tree.
//!
//! The stage is named after the target and the caller's idempotency key, so a run that
//! crashed leaves a stage the next run with the same key recognises as its own and
//! removes. One run per target and key at a time: two concurrent runs would remove each
//! other's stage.
//!
//! The checks on the target (absolute, no `.` or `..`, no symlink on the way) guard
//! against a path that does not say where the write lands. They are made when the run
//! starts; someone who can rename the target's ancestors meanwhile is not kept out, but
//! the swap itself goes through the parent opened then, so it cannot land elsewhere.

use std::{
    ffi::{OsStr, OsString},
    fs::{File, OpenOptions},
    io,
    os::unix::{ffi::OsStrExt, fs::OpenOptionsExt},
    path::{Component, Path, PathBuf},
};

use jitos_tree::{Entry, Tree, TreePath};
use jitos_warp::BlobRef;
use nix::{
    errno::Errno,
    fcntl::{openat, renameat2, OFlag, RenameFlags, AT_FDCWD},
    sys::stat::Mode,
};

use crate::{
    error::{FetchError, MaterializeError, WalkError},
    walk::read_tree,
    write::write_tree,
};

/// Longest key part of a stage's name, in bytes (all ASCII): with the target's name it
/// must fit one file name (255 bytes).
const STAGE_KEY_BYTES_MAX: usize = 64;

/// Hex digits of the key's hash in a stage name when the key had to be cleaned or cut.
const STAGE_KEY_HASH_CHARS: usize = 16;

/// What [`materialize`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Materialized {
    /// Regular files written.
    pub files: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// Whether an existing directory was replaced (rather than the target created).
    pub replaced: bool,
}

/// Writes `tree` at `target`, a directory outside any sandbox, replacing whatever
/// directory is there in one atomic step. `fetch` supplies file contents exactly as for
/// [`write_tree`]; `key` is the effect's idempotency key, which names the stage.
///
/// `target` must be absolute with no `.` or `..` components; no ancestor may be a
/// symlink and its parent must exist. If `target` exists it must be a directory (not a
/// symlink to one). The tree is written into `.<name>.jitos-stage-<key>` beside it (a
/// leftover of that name is removed first), every file and directory is synced, and the
/// stage is renamed to `target`, or exchanged with an existing `target` whose old tree is
/// then removed. On an error before the swap the stage is removed and `target` is as it
/// was. The new directory gets the default mode, as `write_tree` gives the directories it
/// creates: a tree records no directory modes.
pub fn materialize<F>(
    target: &Path,
    tree: &Tree,
    key: &str,
    fetch: F,
) -> Result<Materialized, MaterializeError>
where
    F: FnMut(&[BlobRef]) -> Result<Vec<Vec<u8>>, FetchError>,
{
    let (parent_path, name) = split_target(target)?;
    if key.is_empty() {
        return Err(MaterializeError::EmptyKey);
    }
    let parent = open_dir_no_symlinks(parent_path)?;
    let replaced = match std::fs::symlink_metadata(target) {
        Ok(metadata) if metadata.file_type().is_symlink() => {
            return Err(MaterializeError::Symlink {
                path: target.to_owned(),
            })
        }
        Ok(metadata) if metadata.is_dir() => true,
        Ok(_) => {
            return Err(MaterializeError::NotADirectory {
                path: target.to_owned(),
            })
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => false,
        Err(source) => {
            return Err(MaterializeError::Inspect {
                path: target.to_owned(),
                source,
            })
        }
    };
    let stage_name = stage_name(name, key);
    let stage = parent_path.join(&stage_name);
    let stage_error = |source| MaterializeError::Stage {
        path: stage.clone(),
        source,
    };
    // Only a run with this key makes this name, so whatever is there is ours, left by a
    // run that crashed (before its swap, or after it with the old tree not yet removed).
    remove_any(&stage).map_err(stage_error)?;
    std::fs::create_dir(&stage).map_err(stage_error)?;
    let staged = write_tree(&stage, tree, fetch)
        .map_err(MaterializeError::from)
        .and_then(|()| sync_stage(&stage, tree));
    if let Err(error) = staged {
        discard(&stage);
        return Err(error);
    }
    // NOREPLACE and EXCHANGE re-check what the target is as the rename happens: a target
    // that appeared or vanished since it was looked at fails the swap, never overwritten.
    let flags = if replaced {
        RenameFlags::RENAME_EXCHANGE
    } else {
        RenameFlags::RENAME_NOREPLACE
    };
    if let Err(errno) = renameat2(&parent, stage_name.as_os_str(), &parent, name, flags) {
        discard(&stage);
        return Err(MaterializeError::Swap {
            stage,
            target: target.to_owned(),
            source: errno.into(),
        });
    }
    // The rename is durable once the directory holding both names is.
    parent
        .sync_all()
        .map_err(|source| MaterializeError::Swapped {
            target: target.to_owned(),
            source,
        })?;
    if replaced {
        remove_any(&stage).map_err(|source| MaterializeError::RemoveOld {
            target: target.to_owned(),
            old: stage.clone(),
            source,
        })?;
    }
    Ok(Materialized {
        // write_tree checked every file's bytes against its recorded size.
        files: tree.file_count() as u64,
        bytes: tree.file_bytes(),
        replaced,
    })
}

/// Whether `target` holds exactly `tree`: the same directories (empty ones included),
/// files with the same bytes and executable bit, and symlinks with the same targets, and
/// nothing else. A missing target, or one that is not a directory (a symlink to one
/// included), holds no tree: `Ok(false)`.
///
/// The target is read with [`read_tree`], the one meaning of a directory as a tree, and
/// its entries are then counted without `.gitignore` rules, so an ignored file or a `.git`
/// directory the walk skips still makes the answer `false`. The flip side: a tree that
/// itself holds a `.git` entry or paths its own `.gitignore` excludes, or anything else
/// the walk refuses (a file beyond `FILE_BYTES_MAX`), never matches. Modes other than
/// the executable bit, and the tree's root directory entry, are not compared; a tree
/// that is not well formed (an entry without its parent) matches nothing.
pub fn matches(target: &Path, tree: &Tree) -> Result<bool, MaterializeError> {
    // Read through no symlinked ancestor, as `materialize` writes through none.
    let (parent, _) = split_target(target)?;
    open_dir_no_symlinks(parent)?;
    match std::fs::symlink_metadata(target) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => return Ok(false),
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(MaterializeError::Inspect {
                path: target.to_owned(),
                source,
            })
        }
    }
    if tree.check_parents().is_err() {
        return Ok(false);
    }
    if tree
        .entries
        .get(&TreePath::root())
        .is_some_and(|root| !root.is_dir())
    {
        return Ok(false);
    }
    let found = match read_tree(target) {
        Ok(found) => found,
        // The target holds something no tree can: it does not hold this one.
        Err(
            WalkError::NotADirectory { .. }
            | WalkError::NotUtf8 { .. }
            | WalkError::BadPath { .. }
            | WalkError::EscapingSymlink { .. }
            | WalkError::LinkNotUtf8 { .. }
            | WalkError::TooLarge { .. }
            | WalkError::SpecialFile { .. },
        ) => return Ok(false),
        Err(error @ (WalkError::Walk { .. } | WalkError::Read { .. })) => return Err(error.into()),
    };
    let below_root = |(path, _): &(&TreePath, &Entry)| !path.is_root();
    let same = found
        .entries
        .iter()
        .filter(below_root)
        .eq(tree.entries.iter().filter(below_root));
    if !same {
        return Ok(false);
    }
    // Every entry the walk found is on disk, so equal counts leave no room for entries it
    // skipped.
    let walked = found.entries.keys().filter(|path| !path.is_root()).count();
    Ok(count_entries(target, walked)? == walked)
}

/// Removes the directory `target` and all it holds, as `materialize` would have written
/// it: `target` is a clean absolute path, no ancestor of it a symlink, and it is a
/// directory, not a symlink; whether it was there. The parent is fsynced after.
pub fn unmaterialize(target: &Path) -> Result<bool, MaterializeError> {
    let (parent, _) = split_target(target)?;
    let parent_dir = open_dir_no_symlinks(parent)?;
    match std::fs::symlink_metadata(target) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(MaterializeError::Inspect {
                path: target.to_owned(),
                source,
            })
        }
        Ok(metadata) if metadata.file_type().is_symlink() => {
            return Err(MaterializeError::Symlink {
                path: target.to_owned(),
            })
        }
        Ok(metadata) if !metadata.is_dir() => {
            return Err(MaterializeError::NotADirectory {
                path: target.to_owned(),
            })
        }
        Ok(_) => {}
    }
    std::fs::remove_dir_all(target).map_err(|source| MaterializeError::Stage {
        path: target.to_owned(),
        source,
    })?;
    parent_dir
        .sync_all()
        .map_err(|source| MaterializeError::Sync {
            path: parent.to_owned(),
            source,
        })?;
    Ok(true)
}

/// Splits `target` into its parent and name, refusing anything but a clean absolute path.
fn split_target(target: &Path) -> Result<(&Path, &OsStr), MaterializeError> {
    let bad = |reason| MaterializeError::BadTarget {
        path: target.to_owned(),
        reason,
    };
    if !target.is_absolute() {
        return Err(bad("it is not an absolute path"));
    }
    // `Path::components` drops inner `.` components, so look at the bytes.
    let dotted = target
        .as_os_str()
        .as_bytes()
        .split(|byte| *byte == b'/')
        .any(|component| component == b"." || component == b"..");
    if dotted {
        return Err(bad("it has a `.` or `..` component"));
    }
    match (target.parent(), target.file_name()) {
        (Some(parent), Some(name)) => Ok((parent, name)),
        _ => Err(bad("it names no directory below the root")),
    }
}

/// Opens the directory `path` (absolute and clean) one component at a time, refusing any
/// component that is a symlink or not a directory.
fn open_dir_no_symlinks(path: &Path) -> Result<File, MaterializeError> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut opened = PathBuf::from("/");
    let open_error = |path: &Path, errno: Errno| match errno {
        // Linux fails a symlink with ENOTDIR under O_DIRECTORY (ELOOP without it), the
        // same errno as a file, so the component itself tells which it is.
        Errno::ELOOP | Errno::ENOTDIR => match std::fs::symlink_metadata(path) {
            Ok(metadata) if metadata.file_type().is_symlink() => MaterializeError::Symlink {
                path: path.to_owned(),
            },
            _ => MaterializeError::NotADirectory {
                path: path.to_owned(),
            },
        },
        other => MaterializeError::Open {
            path: path.to_owned(),
            source: other.into(),
        },
    };
    let mut dir = File::from(
        openat(AT_FDCWD, "/", flags, Mode::empty()).map_err(|errno| open_error(&opened, errno))?,
    );
    for component in path.components() {
        // split_target refused `.` and `..`; the root is already open.
        let Component::Normal(name) = component else {
            continue;
        };
        opened.push(name);
        let next =
            openat(&dir, name, flags, Mode::empty()).map_err(|errno| open_error(&opened, errno))?;
        dir = File::from(next);
    }
    Ok(dir)
}

/// The stage's name for target `name` and `key`: `.<name>.jitos-stage-<key>`, the key
/// kept to letters, digits, `_` and `-`, at most [`STAGE_KEY_BYTES_MAX`] bytes.
fn stage_name(name: &OsStr, key: &str) -> OsString {
    let mut stage = OsString::from(".");
    stage.push(name);
    stage.push(".jitos-stage-");
    stage.push(stage_key(key));
    stage
}

/// `key` as it appears in a stage name. A clean, short key is kept as it is. Replacing
/// and cutting alone could turn two keys into one name, and a run would then remove the
/// other key's stage as its own leftover, so a changed key ends with a hash of the whole.
fn stage_key(key: &str) -> String {
    let clean = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if key.len() <= STAGE_KEY_BYTES_MAX && key.chars().all(clean) {
        return key.to_owned();
    }
    let mut cleaned: String = key
        .chars()
        .map(|c| if clean(c) { c } else { '_' })
        .take(STAGE_KEY_BYTES_MAX - 1 - STAGE_KEY_HASH_CHARS)
        .collect();
    cleaned.push('-');
    cleaned.extend(
        blake3::hash(key.as_bytes())
            .to_hex()
            .chars()
            .take(STAGE_KEY_HASH_CHARS),
    );
    cleaned
}

/// Syncs every directory and file of the tree as written under `stage`, then `stage`
/// itself. A symlink has no data of its own: syncing its directory makes it durable.
fn sync_stage(stage: &Path, tree: &Tree) -> Result<(), MaterializeError> {
    for (path, entry) in &tree.entries {
        if path.is_root() {
            continue;
        }
        match entry {
            Entry::Dir => sync_path(&stage.join(path.as_str()), true)?,
            Entry::File { .. } => sync_path(&stage.join(path.as_str()), false)?,
            Entry::Symlink { .. } => {}
        }
    }
    sync_path(stage, true)
}

/// Opens `path` without following a symlink and syncs it.
fn sync_path(path: &Path, dir: bool) -> Result<(), MaterializeError> {
    let sync_error = |source| MaterializeError::Sync {
        path: path.to_owned(),
        source,
    };
    let mut flags = OFlag::O_NOFOLLOW;
    if dir {
        flags |= OFlag::O_DIRECTORY;
    }
    OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits())
        .open(path)
        .map_err(sync_error)?
        .sync_all()
        .map_err(sync_error)
}

/// Removes whatever is at `path`, without following a symlink there; nothing there is
/// fine.
fn remove_any(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// Removes a stage after a failed run. Best effort: the failure being reported matters
/// more, and the next run with the same key removes what is left.
fn discard(stage: &Path) {
    let _ = remove_any(stage);
}

/// Counts the entries below `root`, without following symlinks or honouring
/// `.gitignore`, stopping once the count passes `limit` (the answer is then `limit + 1`).
fn count_entries(root: &Path, limit: usize) -> Result<usize, MaterializeError> {
    let mut count = 0usize;
    // Every directory pushed was counted, so the stack stays within `limit + 1`.
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let inspect_error = |source| MaterializeError::Inspect {
            path: dir.clone(),
            source,
        };
        for item in std::fs::read_dir(&dir).map_err(inspect_error)? {
            let item = item.map_err(inspect_error)?;
            count += 1;
            if count > limit {
                return Ok(count);
            }
            // A directory entry's type is the entry's own: a symlink is not followed.
            if item.file_type().map_err(inspect_error)?.is_dir() {
                dirs.push(item.path());
            }
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::{
        collections::BTreeMap,
        fs,
        os::unix::fs::{symlink, PermissionsExt},
        path::{Path, PathBuf},
    };

    use jitos_tree::{Entry, Tree, TreePath};
    use jitos_warp::BlobRef;

    use super::{matches, materialize, stage_key, Materialized};
    use crate::{blob::blob_ref, error::FetchError, MaterializeError, WriteError};

    /// A blob store in memory, as the daemon's would be.
    #[derive(Default)]
    struct Store(BTreeMap<BlobRef, Vec<u8>>);

    impl Store {
        fn file(&mut self, tree: &mut Tree, path: &str, bytes: &[u8], executable: bool) {
            let blob = blob_ref(bytes);
            self.0.insert(blob, bytes.to_vec());
            tree.insert(
                TreePath::new(path).unwrap(),
                Entry::File {
                    blob,
                    size: bytes.len() as u64,
                    executable,
                },
            );
        }

        fn fetch(&self, refs: &[BlobRef]) -> Result<Vec<Vec<u8>>, FetchError> {
            refs.iter()
                .map(|r| {
                    self.0
                        .get(r)
                        .cloned()
                        .ok_or_else(|| format!("no blob {r}").into())
                })
                .collect()
        }
    }

    /// A tree with files, an executable, an empty directory, a link and a `.gitignore`
    /// (which `matches` must not let hide anything).
    fn sample() -> (Tree, Store) {
        let mut tree = Tree::new();
        let mut store = Store::default();
        tree.insert(TreePath::root(), Entry::Dir);
        store.file(&mut tree, ".gitignore", b"*.log\n", false);
        store.file(&mut tree, "README", b"hello\n", false);
        store.file(&mut tree, "bin/run", b"#!/bin/sh\nexit 0\n", true);
        tree.insert(TreePath::new("data/empty-dir").unwrap(), Entry::Dir);
        tree.insert(
            TreePath::new("data/link").unwrap(),
            Entry::Symlink {
                target: "../README".to_owned(),
            },
        );
        (tree, store)
    }

    /// A temporary directory by a path with no symlinks in it (TMPDIR may hold one, which
    /// `materialize` would rightly refuse).
    fn scratch() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().canonicalize().unwrap();
        (dir, path)
    }

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|item| item.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    // Goal: a fresh target ends up holding exactly the tree, with nothing left beside it.
    // Method: materialize into a missing directory; walk it back, check the counts, the
    // exec mode and that the parent holds only the target.
    #[test]
    fn a_fresh_target_gets_the_tree() {
        let (tree, store) = sample();
        let (_dir, root) = scratch();
        let target = root.join("out");
        let done = materialize(&target, &tree, "job-1", |refs| store.fetch(refs)).unwrap();
        assert_eq!(
            done,
            Materialized {
                files: 3,
                bytes: 6 + 6 + 17,
                replaced: false,
            }
        );
        assert_eq!(crate::read_tree(&target).unwrap(), tree);
        let mode = fs::metadata(target.join("bin/run"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(names(&root), ["out"]);
    }

    // Goal: an existing directory is replaced whole: its old files are gone, the new ones
    // are there, and the old tree is not left beside it. Method: fill the target with
    // other content (a nested file too), materialize, compare and list.
    #[test]
    fn an_existing_directory_is_replaced() {
        let (tree, store) = sample();
        let (_dir, root) = scratch();
        let target = root.join("out");
        fs::create_dir_all(target.join("old/deep")).unwrap();
        fs::write(target.join("old/deep/file"), b"old").unwrap();
        fs::write(target.join("README"), b"old readme\n").unwrap();
        let done = materialize(&target, &tree, "job-1", |refs| store.fetch(refs)).unwrap();
        assert!(done.replaced);
        assert!(!target.join("old").exists());
        assert_eq!(fs::read(target.join("README")).unwrap(), b"hello\n");
        assert_eq!(crate::read_tree(&target).unwrap(), tree);
        assert_eq!(names(&root), ["out"]);
    }

    // Goal: a stage left by a crashed run with the same key is removed, not written into
    // or refused. Method: plant a stage holding files under the name the key gives, then
    // materialize; the target must hold only the tree and the stage must be gone.
    #[test]
    fn a_leftover_stage_is_cleaned() {
        let (tree, store) = sample();
        let (_dir, root) = scratch();
        let target = root.join("out");
        let stage = root.join(".out.jitos-stage-job-7");
        fs::create_dir_all(stage.join("half/written")).unwrap();
        fs::write(stage.join("half/written/file"), b"partial").unwrap();
        fs::write(stage.join("stray"), b"stray").unwrap();
        materialize(&target, &tree, "job-7", |refs| store.fetch(refs)).unwrap();
        assert!(!stage.exists());
        assert!(!target.join("stray").exists());
        assert_eq!(crate::read_tree(&target).unwrap(), tree);
        assert_eq!(names(&root), ["out"]);
    }

    // Goal: a failed write leaves the target as it was and no stage behind. Method: an
    // existing target, a blob source that fails; check the error, the old content and
    // the parent's listing.
    #[test]
    fn a_failed_write_leaves_the_target_alone() {
        let (tree, _store) = sample();
        let (_dir, root) = scratch();
        let target = root.join("out");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), b"old").unwrap();
        let error =
            materialize(&target, &tree, "job-1", |_| Err("store offline".into())).unwrap_err();
        assert!(
            matches!(error, MaterializeError::Write(WriteError::Fetch { .. })),
            "{error:?}"
        );
        assert_eq!(fs::read(target.join("keep")).unwrap(), b"old");
        assert_eq!(names(&root), ["out"]);
    }

    /// A change made to a materialized tree.
    type Change = fn(&Path);

    // Goal: `matches` is true for what `materialize` wrote and false for any change, even
    // one the walk's `.gitignore` rules would hide. Method: materialize, then check after
    // each of: a changed file, an added file, an added ignored file, an added empty
    // directory, a flipped exec bit; each on a fresh copy.
    #[test]
    fn matches_sees_every_change() {
        let (tree, store) = sample();
        let (_dir, root) = scratch();
        let changes: [(&str, Change); 5] = [
            ("changed", |t| {
                fs::write(t.join("README"), b"hellO\n").unwrap()
            }),
            ("added", |t| fs::write(t.join("extra"), b"").unwrap()),
            ("ignored", |t| fs::write(t.join("trace.log"), b"x").unwrap()),
            ("dir", |t| fs::create_dir(t.join("data/new")).unwrap()),
            ("mode", |t| {
                fs::set_permissions(t.join("README"), fs::Permissions::from_mode(0o744)).unwrap()
            }),
        ];
        assert!(!matches(&root.join("missing"), &tree).unwrap());
        for (name, change) in changes {
            let target = root.join(name);
            materialize(&target, &tree, "k", |refs| store.fetch(refs)).unwrap();
            assert!(
                matches(&target, &tree).unwrap(),
                "{name}: before the change"
            );
            change(&target);
            assert!(
                !matches(&target, &tree).unwrap(),
                "{name}: after the change"
            );
        }
    }

    // Goal: neither a symlinked target nor a symlinked ancestor is written through.
    // Method: a link to a real directory as the target, and as the target's parent; both
    // are refused as symlinks and the real directories are untouched.
    #[test]
    fn symlinks_on_the_way_are_refused() {
        let (tree, store) = sample();
        let (_dir, root) = scratch();
        let real = root.join("real");
        fs::create_dir(&real).unwrap();
        fs::write(real.join("keep"), b"mine").unwrap();
        symlink(&real, root.join("link")).unwrap();

        let error =
            materialize(&root.join("link"), &tree, "k", |refs| store.fetch(refs)).unwrap_err();
        assert!(
            matches!(&error, MaterializeError::Symlink { path } if *path == root.join("link")),
            "{error:?}"
        );
        let error =
            materialize(&root.join("link/out"), &tree, "k", |refs| store.fetch(refs)).unwrap_err();
        assert!(
            matches!(&error, MaterializeError::Symlink { path } if *path == root.join("link")),
            "{error:?}"
        );
        assert_eq!(names(&real), ["keep"]);
        assert_eq!(names(&root), ["link", "real"]);
    }

    // Goal: only a clean absolute path is accepted, and a refused one writes nothing.
    // Method: a relative path, paths with `..` and `.` (which `Path::components` would
    // hide) and `/`; each is refused before the blob source is asked for anything.
    #[test]
    fn unmaterialize_removes_a_target_but_never_through_a_symlink() {
        let (_dir, root) = scratch();
        let (tree, store) = sample();
        let target = root.join("out");
        materialize(&target, &tree, "k", |refs| store.fetch(refs)).unwrap();
        assert!(super::unmaterialize(&target).unwrap());
        assert!(!target.exists());
        assert!(!super::unmaterialize(&target).unwrap(), "gone already");

        let outside = root.join("outside");
        std::fs::create_dir_all(outside.join("site")).unwrap();
        std::fs::write(outside.join("site/keep.txt"), "keep").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        let through = super::unmaterialize(&root.join("link/site")).unwrap_err();
        assert!(
            matches!(through, MaterializeError::Symlink { .. }),
            "{through}"
        );
        let itself = super::unmaterialize(&root.join("link")).unwrap_err();
        assert!(
            matches!(itself, MaterializeError::Symlink { .. }),
            "{itself}"
        );
        assert!(outside.join("site/keep.txt").exists());
        let read = super::matches(&root.join("link/site"), &tree).unwrap_err();
        assert!(matches!(read, MaterializeError::Symlink { .. }), "{read}");
    }

    #[test]
    fn unclean_targets_are_refused() {
        let (tree, _store) = sample();
        let (_dir, root) = scratch();
        let dotted = format!("{}/./out", root.display());
        let climbing = format!("{}/sub/../out", root.display());
        for target in ["out", "./out", dotted.as_str(), climbing.as_str(), "/"] {
            let error = materialize(Path::new(target), &tree, "k", |_| {
                panic!("{target}: fetched for a refused target")
            })
            .unwrap_err();
            assert!(
                matches!(error, MaterializeError::BadTarget { .. }),
                "{target}: {error:?}"
            );
        }
        assert!(names(&root).is_empty());
    }

    // Goal: a target that is a file is refused, not replaced. Method: a regular file at
    // the target; the error names it and its bytes stay.
    #[test]
    fn a_file_target_is_refused() {
        let (tree, store) = sample();
        let (_dir, root) = scratch();
        let target = root.join("out");
        fs::write(&target, b"a file").unwrap();
        let error = materialize(&target, &tree, "k", |refs| store.fetch(refs)).unwrap_err();
        assert!(
            matches!(error, MaterializeError::NotADirectory { .. }),
            "{error:?}"
        );
        assert_eq!(fs::read(&target).unwrap(), b"a file");
        assert_eq!(names(&root), ["out"]);
    }

    // Goal: stage keys are safe file-name parts and distinct keys stay distinct. Method: a
    // clean key is kept; keys that clean or cut to the same text get different names,
    // all within the allowed characters and length.
    #[test]
    fn stage_keys_are_clean_and_distinct() {
        assert_eq!(stage_key("job-1_a"), "job-1_a");
        let long_a = "a".repeat(100);
        let long_b = format!("{}b", "a".repeat(99));
        let keys = [
            "job/1",
            "job:1",
            "job_1",
            "../..",
            long_a.as_str(),
            long_b.as_str(),
        ];
        let staged: Vec<String> = keys.iter().map(|key| stage_key(key)).collect();
        for name in &staged {
            assert!(name.len() <= super::STAGE_KEY_BYTES_MAX, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                "{name}"
            );
        }
        let mut distinct = staged.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), staged.len(), "{staged:?}");
    }
}
