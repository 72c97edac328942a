//! `WalkError`, `WriteError` and `MaterializeError`: why a directory could not be read as
//! a tree, a tree could not be written out, or a tree could not be swapped into a host
//! directory.

use std::{io, path::PathBuf};

use jitos_tree::TreeError;

/// What a blob source may fail with: the caller's own error, boxed so the CLI (talking
/// to the daemon) and the daemon (reading its store) can both supply one.
pub type FetchError = Box<dyn std::error::Error + Send + Sync>;

/// Why a directory could not be read as a tree.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// The root is missing or not a directory.
    #[error("{} is not a directory", .path.display())]
    NotADirectory {
        /// The root given.
        path: PathBuf,
    },
    /// The walk itself failed (a directory or a `.gitignore` could not be read).
    #[error("cannot walk {}: {source}", .root.display())]
    Walk {
        /// The root of the walk.
        root: PathBuf,
        /// What failed.
        source: ignore::Error,
    },
    /// A file's metadata, link or content could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A name is not UTF-8, so it cannot be a tree path.
    #[error("{} is not UTF-8; a tree holds UTF-8 paths only", .path.display())]
    NotUtf8 {
        /// The file on disk.
        path: PathBuf,
    },
    /// A name is UTF-8 but not a usable tree path (too long, control characters…).
    #[error("{}: {source}", .path.display())]
    BadPath {
        /// The file on disk.
        path: PathBuf,
        /// Why the path is refused.
        source: TreeError,
    },
    /// A symlink is absolute or climbs out of the root.
    #[error("refusing the symlink {}: {reason}", .path.display())]
    EscapingSymlink {
        /// The link on disk.
        path: PathBuf,
        /// Where it points instead.
        reason: String,
    },
    /// A symlink's target is not UTF-8.
    #[error("refusing the symlink {}: its target is not UTF-8", .path.display())]
    LinkNotUtf8 {
        /// The link on disk.
        path: PathBuf,
    },
    /// A file is larger than one tree file may be.
    #[error(
        "{} is {bytes} bytes; a tree takes files up to {max} bytes: remove it or list it \
         in .gitignore",
        .path.display()
    )]
    TooLarge {
        /// The file on disk.
        path: PathBuf,
        /// Its size (at least, when it grew while being read).
        bytes: u64,
        /// `FILE_BYTES_MAX`.
        max: u64,
    },
    /// A socket, fifo or device node.
    #[error(
        "{} is a special file (socket, fifo or device), which a tree cannot hold; remove it \
         or list it in .gitignore",
        .path.display()
    )]
    SpecialFile {
        /// The file on disk.
        path: PathBuf,
    },
}

/// Why a tree could not be written out.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The target directory could not be listed.
    #[error("cannot read {}: {source}", .dir.display())]
    ReadDir {
        /// The target directory.
        dir: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The target directory already holds something.
    #[error("{} is not empty; write a tree into an empty directory", .dir.display())]
    NotEmpty {
        /// The target directory.
        dir: PathBuf,
    },
    /// The tree is not well formed (an entry without its parent directory).
    #[error("the tree cannot be written: {0}")]
    Tree(#[from] TreeError),
    /// A symlink in the tree would lead outside it, which a walk would refuse to read back.
    #[error("refusing to write the symlink {path}: {reason}")]
    EscapingSymlink {
        /// Its tree path.
        path: String,
        /// Where it points instead.
        reason: String,
    },
    /// A directory, link or file could not be created, written or given its mode.
    #[error("cannot create {}: {source}", .path.display())]
    Create {
        /// The path on disk.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The blob source failed.
    #[error("cannot fetch file contents: {source}")]
    Fetch {
        /// The source's own error.
        source: FetchError,
    },
    /// The blob source answered a batch with the wrong number of contents.
    #[error("the blob source returned {got} contents for {asked} blobs")]
    WrongCount {
        /// Blobs asked for.
        asked: usize,
        /// Contents returned.
        got: usize,
    },
    /// The blob source returned bytes that are not the blob asked for.
    #[error("the blob source returned the wrong bytes for {path}: they do not hash to its blob")]
    WrongContent {
        /// The file's tree path.
        path: String,
    },
}

/// Why a tree could not be materialized into a host directory, or a directory could not
/// be compared with a tree.
#[derive(Debug, thiserror::Error)]
pub enum MaterializeError {
    /// The target is not a clean absolute path that names a directory.
    #[error("cannot materialize into {}: {reason}", .path.display())]
    BadTarget {
        /// The target given.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The idempotency key is empty, so it cannot name the stage.
    #[error("the idempotency key is empty; materializing needs one to name its stage")]
    EmptyKey,
    /// The target or one of its ancestors is a symlink, which could send the write
    /// somewhere other than the path named.
    #[error("{} is a symlink; refusing to materialize through it", .path.display())]
    Symlink {
        /// The symlink.
        path: PathBuf,
    },
    /// The target or one of its ancestors exists and is not a directory.
    #[error("{} exists and is not a directory", .path.display())]
    NotADirectory {
        /// What is there.
        path: PathBuf,
    },
    /// An ancestor of the target could not be opened (missing, or not permitted).
    #[error("cannot open {}: {source}", .path.display())]
    Open {
        /// The ancestor.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The target, or something below it, could not be inspected.
    #[error("cannot inspect {}: {source}", .path.display())]
    Inspect {
        /// The path on disk.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// A leftover stage could not be removed, or a fresh one created.
    #[error("cannot prepare the stage {}: {source}", .path.display())]
    Stage {
        /// The stage directory.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The tree could not be written into the stage.
    #[error("cannot write the tree into the stage: {0}")]
    Write(#[from] WriteError),
    /// A file or directory could not be flushed to disk.
    #[error("cannot sync {}: {source}", .path.display())]
    Sync {
        /// The path on disk.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The stage could not be moved into place; the target is as it was.
    #[error(
        "cannot move {} into place at {}: {source}",
        .stage.display(),
        .target.display()
    )]
    Swap {
        /// The stage directory.
        stage: PathBuf,
        /// The target.
        target: PathBuf,
        /// What failed (a target that appeared or vanished meanwhile fails here).
        source: io::Error,
    },
    /// The new tree was swapped in, but the directory holding it could not be synced:
    /// whether the swap survives a crash is unknown.
    #[error("the new tree is at {} but its directory could not be synced: {source}", .target.display())]
    Swapped {
        /// The target.
        target: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The new tree is in place and durable, but the old one could not be removed. The
    /// next run with the same key removes it as a leftover stage.
    #[error(
        "{} holds the new tree, but the old one, moved to {}, could not be removed: {source}",
        .target.display(),
        .old.display()
    )]
    RemoveOld {
        /// The target, which holds the new tree.
        target: PathBuf,
        /// Where the old tree is.
        old: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The target could not be walked to compare it with a tree.
    #[error("cannot read the target back: {0}")]
    Walk(#[from] WalkError),
}
