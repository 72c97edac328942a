//! Every file-tree and workspace message survives the wire encoding: bincode cannot carry
//! every serde shape (internally tagged enums, for one), so each is round-tripped here.
#![allow(clippy::unwrap_used, missing_docs)]

use jitos_proto::{
    decode_message, encode_message, ConflictEntry, ConflictView, KeyChangeView, PageRequest,
    PageView, Request, Response, SwsDetail, SwsState, SwsSummary,
};
use jitos_tree::{Entry, Tree, TreeChange, TreePath};
use jitos_warp::BlobRef;

fn tree() -> Tree {
    let mut tree = Tree::new();
    tree.insert(
        TreePath::new("src/lib.rs").unwrap(),
        Entry::File {
            blob: BlobRef([7; 32]),
            size: 3,
            executable: true,
        },
    );
    tree.insert(
        TreePath::new("link").unwrap(),
        Entry::Symlink {
            target: "src/lib.rs".to_owned(),
        },
    );
    tree
}

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    value: T,
) {
    let bytes = encode_message(&value).unwrap();
    assert_eq!(decode_message::<T>(&bytes).unwrap(), value);
}

// Goal: requests about files and workspaces decode to what was sent. Method: encode and
// decode one of each.
#[test]
fn file_and_workspace_requests_round_trip() {
    for request in [
        Request::PutBlobs(vec![b"a".to_vec(), Vec::new()]),
        Request::GetBlobs(vec![BlobRef([1; 32])]),
        Request::TreeImport {
            sws: Some(3),
            tree: tree(),
        },
        Request::TreeShow {
            sws: None,
            at: Some(2),
        },
        Request::BlobGc,
        Request::SwsCreate {
            at: Some(1),
            parent: None,
        },
        Request::SwsList(PageRequest {
            after: Some(3),
            limit: 10,
        }),
        Request::SwsShow(4),
        Request::SwsCollapse(4),
        Request::SwsRebase(4),
        Request::SwsDiscard {
            sws: 4,
            reason: "why".to_owned(),
        },
    ] {
        round_trip(request);
    }
}

// Goal: answers about files and workspaces decode to what was sent. Method: as above.
#[test]
fn file_and_workspace_responses_round_trip() {
    let summary = SwsSummary {
        id: 2,
        parent: Some(1),
        base_seq: 1,
        depth: 2,
        state: SwsState::Discarded {
            seq: 9,
            reason: "lost".to_owned(),
        },
        overlay_entries: 3,
        reads: 4,
        writes: 5,
    };
    let path = TreePath::new("src/lib.rs").unwrap();
    let entry = tree().entries[&path].clone();
    for response in [
        Response::Tree(tree()),
        Response::BlobsStored(vec![BlobRef([2; 32])]),
        Response::Blobs(vec![b"x".to_vec()]),
        Response::SwsList(PageView {
            items: vec![summary.clone()],
            next: Some(4),
        }),
        Response::Sws(SwsDetail {
            summary,
            changes: vec![KeyChangeView {
                key: "a.b".to_owned(),
                base: "1".to_owned(),
                now: "2".to_owned(),
            }],
            files: vec![
                TreeChange::Added {
                    path: path.clone(),
                    entry: entry.clone(),
                },
                TreeChange::Modified {
                    path,
                    old: Entry::Dir,
                    new: entry,
                },
            ],
        }),
        Response::SwsConflicts(ConflictView {
            sws: 2,
            target: "the system".to_owned(),
            base_seq: 1,
            seq: 7,
            conflicts: vec![ConflictEntry {
                key: "a.b".to_owned(),
                workspace_did: "read it".to_owned(),
                base: "1".to_owned(),
                changed_at: 5,
            }],
        }),
    ] {
        round_trip(response);
    }
}
