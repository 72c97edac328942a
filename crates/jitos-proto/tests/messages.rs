//! Every file-tree, workspace, paged and streamed message survives the wire encoding: bincode cannot carry
//! every serde shape (internally tagged enums, for one), so each is round-tripped here.
#![allow(clippy::unwrap_used, missing_docs)]

use jitos_proto::{
    decode_message, encode_message, ConflictEntry, ConflictView, ErrorCode, ErrorInfo, GraphEnd,
    GraphPart, HoldStanding, HoldVoteView, KeyChangeView, PageRequest, PageView, ProcessSummary,
    Request, Response, SwsDetail, SwsHold, SwsState, SwsSummary,
};
use jitos_tree::{Entry, Tree, TreeChange, TreePath};
use jitos_warp::{BlobRef, Edge, NodeId};

fn hold(standing: HoldStanding) -> SwsHold {
    SwsHold {
        sws: 4,
        ruling_seq: 9,
        requester_uid: 1001,
        writ: None,
        why: "require 2 approvals from approver (rule 1 \"src\")".to_owned(),
        paths: vec!["src/lib.rs".to_owned()],
        current: true,
        standing,
        votes: vec![HoldVoteView {
            seq: 10,
            uid: 1002,
            user: "bob".to_owned(),
            approve: true,
            note: String::new(),
        }],
    }
}

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
        Request::SwsCollapse {
            sws: 4,
            writ: Some(2),
        },
        Request::SwsVote {
            sws: 4,
            approve: false,
            note: "not now".to_owned(),
        },
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
        held: None,
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
            hold: Some(hold(HoldStanding::Waiting {
                count: 2,
                from: jitos_gov::Role::Approver,
                approvals: 1,
            })),
        }),
        Response::SwsHeld(hold(HoldStanding::Vetoed {
            user: "carol".to_owned(),
            note: "no".to_owned(),
        })),
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

// Goal: the paged, streamed and followed messages decode to what was sent, the worker
// page with its name cursor included. Method: encode and decode one of each.
#[test]
fn paged_and_streamed_messages_round_trip() {
    let page = PageRequest {
        after: Some(9),
        limit: 2,
    };
    for request in [
        Request::JobList {
            all: true,
            page: page.clone(),
        },
        Request::ProcessList {
            all: false,
            waiting_for_me: true,
            page: page.clone(),
        },
        Request::ProcessLog { process: 3, page },
        Request::WorkerList(PageRequest {
            after: Some("shell".to_owned()),
            limit: 5,
        }),
        Request::ProcessFollow(3),
        Request::GraphShow {
            at: Some(4),
            node: None,
            sws: None,
        },
    ] {
        round_trip(request);
    }
    let summary = ProcessSummary {
        id: 3,
        goal: "run".to_owned(),
        status: "running".to_owned(),
        detail: None,
        plan: 1,
        plans: 2,
        jobs_done: 0,
        jobs: 1,
        attempts: 1,
        submitted_ms: 77,
    };
    for response in [
        Response::Processes(PageView {
            items: vec![summary.clone()],
            next: None,
        }),
        Response::Workers(PageView {
            items: Vec::new(),
            next: Some("noop".to_owned()),
        }),
        Response::ProcessProgress {
            summary,
            records: Vec::new(),
        },
        Response::GraphPart(GraphPart {
            nodes: Vec::new(),
            edges: vec![Edge {
                from: NodeId::new("a").unwrap(),
                label: "dep".to_owned(),
                to: NodeId::new("b").unwrap(),
            }],
        }),
        Response::GraphEnd(GraphEnd {
            at_seq: 4,
            digest: "ab".to_owned(),
            nodes: 0,
            edges: 1,
        }),
        Response::Error(ErrorInfo {
            code: ErrorCode::TooLarge,
            message: "narrow it".to_owned(),
        }),
    ] {
        round_trip(response);
    }
}
