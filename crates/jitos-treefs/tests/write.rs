//! `write_tree`: a tree laid out on disk walks back to itself, contents come in bounded
//! batches, and a bad source or target is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{collections::BTreeMap, fs, os::unix::fs::PermissionsExt, path::Path};

use jitos_tree::{Entry, Tree, TreePath};
use jitos_treefs::{
    blob_ref, read_tree, write_tree, FetchError, WriteError, BATCH_BYTES_MAX, BATCH_FILES_MAX,
};
use jitos_warp::BlobRef;

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

fn sample() -> (Tree, Store) {
    let mut tree = Tree::new();
    let mut store = Store::default();
    tree.insert(TreePath::root(), Entry::Dir);
    store.file(&mut tree, "README", b"hello\n", false);
    store.file(&mut tree, "bin/run", b"#!/bin/sh\nexit 0\n", true);
    store.file(&mut tree, "bin/copy", b"hello\n", false);
    store.file(&mut tree, "data/empty", b"", false);
    tree.insert(TreePath::new("data/nested/deeper").unwrap(), Entry::Dir);
    tree.insert(
        TreePath::new("data/link").unwrap(),
        Entry::Symlink {
            target: "../README".to_owned(),
        },
    );
    (tree, store)
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

// Goal: writing then walking is the identity on trees, with exact modes. Method: write a
// tree with files, an executable, an empty file, an empty directory and a link; walk it
// back and compare; check the two modes on disk.
#[test]
fn a_written_tree_walks_back_to_itself() {
    let (tree, store) = sample();
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), &tree, |refs| store.fetch(refs)).unwrap();
    assert_eq!(read_tree(dir.path()).unwrap(), tree);
    assert_eq!(mode(&dir.path().join("bin/run")), 0o755);
    assert_eq!(mode(&dir.path().join("README")), 0o644);
    assert_eq!(fs::read(dir.path().join("bin/copy")).unwrap(), b"hello\n");
}

// Goal: every batch respects both limits and files arrive in path order. Method: a tree
// of more files than one batch may hold plus files that fill the byte limit; record each
// batch the writer asks for.
#[test]
fn contents_are_fetched_in_bounded_batches() {
    let mut tree = Tree::new();
    let mut store = Store::default();
    tree.insert(TreePath::root(), Entry::Dir);
    for i in 0..BATCH_FILES_MAX + 3 {
        store.file(
            &mut tree,
            &format!("small/{i:04}"),
            format!("{i}").as_bytes(),
            false,
        );
    }
    let half = vec![7u8; (BATCH_BYTES_MAX / 2 + 1) as usize];
    store.file(&mut tree, "x/big-a", &half, false);
    let mut other = half.clone();
    other[0] = 8;
    store.file(&mut tree, "x/big-b", &other, false);

    let mut batches: Vec<Vec<BlobRef>> = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), &tree, |refs| {
        batches.push(refs.to_vec());
        store.fetch(refs)
    })
    .unwrap();
    let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
    // 512 small files; the 3 left with the first big file; the second big file alone.
    assert_eq!(sizes, vec![BATCH_FILES_MAX, 4, 1]);
    let asked: Vec<BlobRef> = batches.concat();
    let in_order: Vec<BlobRef> = tree
        .entries
        .values()
        .filter_map(|e| match e {
            Entry::File { blob, .. } => Some(*blob),
            _ => None,
        })
        .collect();
    assert_eq!(asked, in_order);
    assert_eq!(read_tree(dir.path()).unwrap(), tree);
}

// Goal: a source that returns the wrong bytes or the wrong count is caught before the
// file is written; a source error is passed on with its message. Method: three faulty
// sources.
#[test]
fn a_faulty_source_is_refused() {
    let (tree, store) = sample();

    let dir = tempfile::tempdir().unwrap();
    let error = write_tree(dir.path(), &tree, |refs| {
        let mut contents = store.fetch(refs)?;
        contents[0].push(b'!');
        Ok(contents)
    })
    .unwrap_err();
    assert!(matches!(error, WriteError::WrongContent { .. }), "{error}");

    let dir = tempfile::tempdir().unwrap();
    let error = write_tree(dir.path(), &tree, |refs| {
        let mut contents = store.fetch(refs)?;
        contents.pop();
        Ok(contents)
    })
    .unwrap_err();
    assert!(matches!(error, WriteError::WrongCount { .. }), "{error}");

    let dir = tempfile::tempdir().unwrap();
    let error = write_tree(dir.path(), &tree, |_| Err("blob 12 is corrupt".into())).unwrap_err();
    assert!(matches!(error, WriteError::Fetch { .. }), "{error}");
    assert!(error.to_string().contains("blob 12 is corrupt"), "{error}");
}

// Goal: the writer never mixes a tree into existing files, and never writes a link the
// walk would refuse. Method: a non-empty target; a tree with an escaping link; a tree
// whose file has no parent directory.
#[test]
fn bad_targets_and_trees_are_refused() {
    let (tree, store) = sample();
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("already"), b"here").unwrap();
    let error = write_tree(dir.path(), &tree, |refs| store.fetch(refs)).unwrap_err();
    assert!(matches!(error, WriteError::NotEmpty { .. }), "{error}");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

    let mut escaping = tree.clone();
    escaping.insert(
        TreePath::new("data/out").unwrap(),
        Entry::Symlink {
            target: "../../etc/passwd".to_owned(),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let error = write_tree(dir.path(), &escaping, |refs| store.fetch(refs)).unwrap_err();
    assert!(
        matches!(error, WriteError::EscapingSymlink { .. }),
        "{error}"
    );

    let mut orphan = Tree::new();
    orphan.entries.insert(
        TreePath::new("no/parent").unwrap(),
        Entry::Symlink {
            target: "x".to_owned(),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let error = write_tree(dir.path(), &orphan, |refs| store.fetch(refs)).unwrap_err();
    assert!(matches!(error, WriteError::Tree(_)), "{error}");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}
