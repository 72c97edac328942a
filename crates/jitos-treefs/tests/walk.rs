//! The directory walk: what it keeps, what it skips, and what it refuses.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    fs,
    os::unix::fs::{symlink, PermissionsExt},
    path::Path,
};

use jitos_tree::{Entry, TreePath};
use jitos_treefs::{blob_ref, read_tree, walk, WalkError, FILE_BYTES_MAX};

fn path(text: &str) -> TreePath {
    TreePath::new(text).unwrap()
}

fn write(root: &Path, relative: &str, bytes: &[u8]) {
    let disk = root.join(relative);
    fs::create_dir_all(disk.parent().unwrap()).unwrap();
    fs::write(disk, bytes).unwrap();
}

// Goal: the walk records every kept entry with its exact blob, size and exec bit, and
// skips `.git` and what `.gitignore` excludes. Method: build a small project and compare
// the whole tree read back with the one expected, entry by entry.
#[test]
fn walk_keeps_bytes_modes_and_links_and_skips_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, ".gitignore", b"target/\n*.log\n");
    write(root, "src/lib.rs", b"pub fn f() {}\n");
    write(root, "run.sh", b"#!/bin/sh\necho hi\n");
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    write(root, "target/debug/out", b"build output");
    write(root, "trace.log", b"noise");
    write(root, ".git/HEAD", b"ref: refs/heads/main\n");
    fs::create_dir(root.join("empty")).unwrap();
    symlink("src/lib.rs", root.join("lib-link")).unwrap();

    let tree = read_tree(root).unwrap();
    let file = |bytes: &[u8], executable| Entry::File {
        blob: blob_ref(bytes),
        size: bytes.len() as u64,
        executable,
    };
    let expected = [
        ("", Entry::Dir),
        (".gitignore", file(b"target/\n*.log\n", false)),
        ("empty", Entry::Dir),
        (
            "lib-link",
            Entry::Symlink {
                target: "src/lib.rs".to_owned(),
            },
        ),
        ("run.sh", file(b"#!/bin/sh\necho hi\n", true)),
        ("src", Entry::Dir),
        ("src/lib.rs", file(b"pub fn f() {}\n", false)),
    ];
    let got: Vec<(&str, &Entry)> = tree.entries.iter().map(|(p, e)| (p.as_str(), e)).collect();
    let want: Vec<(&str, &Entry)> = expected.iter().map(|(p, e)| (*p, e)).collect();
    assert_eq!(got, want);
}

// Goal: `walk` alone reads no contents: files are listed with their disk path and size,
// and the tree holds them only once `set_blob` names their blob. Method: walk, check the
// listing, set one blob and see it appear.
#[test]
fn walk_lists_files_without_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a/b.txt", b"12345");
    let mut walked = walk(dir.path()).unwrap();
    assert_eq!(walked.files.len(), 1);
    let file = &walked.files[0];
    assert_eq!(file.path, path("a/b.txt"));
    assert_eq!(file.disk, dir.path().join("a/b.txt"));
    assert_eq!(file.size, 5);
    assert!(!file.executable);
    assert!(!walked.tree.entries.contains_key(&path("a/b.txt")));
    assert!(walked.tree.entries.contains_key(&path("a")));

    let blob = blob_ref(b"12345");
    walked.set_blob(0, blob, 5);
    assert_eq!(
        walked.tree.entries.get(&path("a/b.txt")),
        Some(&Entry::File {
            blob,
            size: 5,
            executable: false
        })
    );
}

// Goal: `read_contents` hands out each file's path, blob and exact bytes. Method: collect
// what it hands out for two files and compare.
#[test]
fn read_contents_hands_out_every_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "one", b"first");
    write(dir.path(), "two/three", b"second");
    let mut seen = Vec::new();
    walk(dir.path())
        .unwrap()
        .read_contents(|p, blob, bytes| seen.push((p.to_string(), blob, bytes)))
        .unwrap();
    assert_eq!(
        seen,
        vec![
            ("one".to_owned(), blob_ref(b"first"), b"first".to_vec()),
            (
                "two/three".to_owned(),
                blob_ref(b"second"),
                b"second".to_vec()
            ),
        ]
    );
}

// Goal: symlinks that are absolute or climb out of the root are refused, while one that
// climbs and comes back down stays allowed. Method: walk with each link in turn.
#[test]
fn escaping_symlinks_are_refused() {
    for (target, allowed) in [
        ("../../etc/passwd", false),
        ("/etc/passwd", false),
        ("../outside", true),
        ("../sub/x", true),
        ("./x", true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "sub/x", b"x");
        symlink(target, dir.path().join("sub/link")).unwrap();
        let result = walk(dir.path());
        if allowed {
            assert!(result.is_ok(), "{target}: {result:?}");
        } else {
            let error = result.unwrap_err();
            assert!(
                matches!(error, WalkError::EscapingSymlink { .. }),
                "{target}: {error}"
            );
            assert!(
                error.to_string().contains("refusing the symlink"),
                "{error}"
            );
        }
    }
}

// Goal: a fifo cannot be part of a tree, and the refusal says what to do. Method: make a
// fifo in an otherwise valid directory.
#[test]
fn special_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ok.txt", b"ok");
    nix::unistd::mkfifo(
        &dir.path().join("pipe"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let error = walk(dir.path()).unwrap_err();
    assert!(matches!(error, WalkError::SpecialFile { .. }), "{error}");
    assert!(error.to_string().contains(".gitignore"), "{error}");
}

// Goal: a file one byte beyond FILE_BYTES_MAX is refused, one exactly at it is not.
// Method: sparse files of both sizes (set_len writes no data).
#[test]
fn files_beyond_the_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let at_limit = fs::File::create(dir.path().join("big")).unwrap();
    at_limit.set_len(FILE_BYTES_MAX).unwrap();
    let tree = read_tree(dir.path()).unwrap();
    assert_eq!(tree.file_bytes(), FILE_BYTES_MAX);

    at_limit.set_len(FILE_BYTES_MAX + 1).unwrap();
    let error = walk(dir.path()).unwrap_err();
    assert!(
        matches!(error, WalkError::TooLarge { bytes, .. } if bytes == FILE_BYTES_MAX + 1),
        "{error}"
    );
}

// Goal: a missing root is a clear error, not an empty tree. Method: walk a path that
// does not exist.
#[test]
fn a_missing_root_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = walk(&dir.path().join("absent")).unwrap_err();
    assert!(matches!(error, WalkError::NotADirectory { .. }), "{error}");
}
