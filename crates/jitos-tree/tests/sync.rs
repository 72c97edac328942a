//! Sync rewrites and diffs against real graphs: whatever tree is recorded, applying the
//! sync rewrite records exactly the wanted tree.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use jitos_tree::{diff_trees, sync_rewrite, Entry, Tree, TreeChange, TreePath};
use jitos_warp::{BlobRef, Graph, Node, Op, Rewrite};
use proptest::prelude::*;

fn file(byte: u8, executable: bool) -> Entry {
    Entry::File {
        blob: BlobRef([byte; 32]),
        size: u64::from(byte),
        executable,
    }
}

fn tree_strategy() -> impl Strategy<Value = Tree> {
    let name = prop::sample::select(vec!["a", "b", "src", "lib.rs", "x y"]);
    let path = prop::collection::vec(name, 1..4);
    let entry = prop_oneof![
        (any::<u8>(), any::<bool>()).prop_map(|(byte, exec)| file(byte % 4, exec)),
        Just(Entry::Dir),
        Just(Entry::Symlink {
            target: "lib.rs".to_owned()
        }),
    ];
    prop::collection::vec((path, entry), 0..12).prop_map(|items| {
        let mut tree = Tree::new();
        for (components, entry) in items {
            let path = TreePath::new(&components.join("/")).unwrap();
            // A later entry under a non-directory would orphan it: skip those.
            let blocked = path.parent().is_some_and(|parent| {
                std::iter::successors(Some(parent), TreePath::parent)
                    .any(|dir| tree.entries.get(&dir).is_some_and(|e| !e.is_dir()))
            });
            let is_parent_of_existing = tree.entries.keys().any(|other| {
                std::iter::successors(other.parent(), TreePath::parent).any(|p| p == path)
            });
            if !blocked && (entry.is_dir() || !is_parent_of_existing) {
                tree.insert(path, entry);
            }
        }
        tree
    })
}

fn recorded(graph: &Graph) -> Tree {
    let nodes: Vec<&Node> = graph.nodes().collect();
    Tree::from_nodes(nodes).unwrap()
}

fn graph_of(tree: &Tree) -> Graph {
    let mut graph = Graph::new();
    graph
        .apply(&sync_rewrite(&Tree::new(), tree).unwrap())
        .unwrap();
    graph
}

proptest! {
    // Goal: sync takes any recorded tree to any wanted tree. Method: record `a`, apply
    // sync(a, b), then read the tree back and compare it and the digest with a fresh `b`.
    #[test]
    fn sync_records_exactly_the_wanted_tree(a in tree_strategy(), b in tree_strategy()) {
        let mut graph = graph_of(&a);
        prop_assert_eq!(recorded(&graph), a.clone());
        graph.apply(&sync_rewrite(&a, &b).unwrap()).unwrap();
        prop_assert_eq!(recorded(&graph), b.clone());
        prop_assert_eq!(graph.digest(), graph_of(&b).digest());
    }

    // Goal: the diff names exactly the paths whose entries differ. Method: compare it
    // with a path-by-path comparison of the two trees.
    #[test]
    fn diff_names_exactly_the_changed_paths(a in tree_strategy(), b in tree_strategy()) {
        let changed: Vec<TreePath> = diff_trees(&a, &b).iter().map(|c| c.path().clone()).collect();
        let mut expected: Vec<TreePath> = a.entries.keys().chain(b.entries.keys())
            .filter(|path| a.entries.get(*path) != b.entries.get(*path))
            .cloned()
            .collect();
        expected.sort();
        expected.dedup();
        prop_assert_eq!(changed, expected);
    }
}

// Goal: re-importing an unchanged tree records nothing. Method: sync a tree onto itself.
#[test]
fn syncing_an_unchanged_tree_is_empty() {
    let mut tree = Tree::new();
    tree.insert(TreePath::new("src/lib.rs").unwrap(), file(1, false));
    assert!(sync_rewrite(&tree, &tree).unwrap().ops.is_empty());
}

// Goal: a changed mode is an attribute update, not a new node. Method: flip the exec bit.
#[test]
fn a_mode_change_sets_one_attribute() {
    let path = TreePath::new("run.sh").unwrap();
    let mut old = Tree::new();
    old.insert(path.clone(), file(1, false));
    let mut new = Tree::new();
    new.insert(path.clone(), file(1, true));
    let rewrite = sync_rewrite(&old, &new).unwrap();
    assert!(matches!(&rewrite.ops[..], [Op::SetAttr { key, .. }] if key == "executable"));
    assert!(matches!(
        &diff_trees(&old, &new)[..],
        [TreeChange::Modified { .. }]
    ));
}

// Goal: paths that cannot be clean tree paths are refused. Method: try each bad shape.
#[test]
fn unclean_paths_are_refused() {
    for bad in [
        "/abs",
        "a//b",
        "a/../b",
        "./a",
        "a/",
        " a",
        "a\nb",
        &"x".repeat(300),
    ] {
        assert!(TreePath::new(bad).is_err(), "{bad:?} was accepted");
    }
    assert_eq!(
        TreePath::new("a/b").unwrap().parent(),
        Some(TreePath::new("a").unwrap())
    );
}

// Goal: a malformed tree node is reported, never skipped. Method: record a File node
// without its blob attribute and read the tree back.
#[test]
fn a_malformed_tree_node_is_an_error() {
    let mut graph = Graph::new();
    graph
        .apply(
            &Rewrite::from_json(
                r#"{"ops":[{"add_node":{"id":"file:x","kind":"File","attrs":{"path":"x"}}}]}"#,
            )
            .unwrap(),
        )
        .unwrap();
    let nodes: Vec<&Node> = graph.nodes().collect();
    let error = Tree::from_nodes(nodes).unwrap_err();
    assert!(error.to_string().contains("file:x"), "{error}");
}
