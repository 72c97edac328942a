//! Every file-tree, workspace, paged and streamed message survives the wire encoding: bincode cannot carry
//! every serde shape (internally tagged enums, for one), so each is round-tripped here; and the
//! states scripts read from `--json` keep their shapes.
#![allow(clippy::unwrap_used, missing_docs)]

use jitos_gov::{Effect, Role};
use jitos_proto::{
    decode_message, encode_message, AttemptState, AttemptView, ConflictEntry, ConflictView,
    ErrorCode, ErrorInfo, FailureCause, GraphEnd, GraphPart, HoldStanding, HoldVoteView,
    JobComparison, JobRun, KeyChangeView, PageRequest, PageView, PathAccess, PlanJobKind,
    PlanJobState, PlanLaneState, ProcessDetail, ProcessJobView, ProcessLaneView, ProcessStatus,
    ProcessSummary, Request, Response, SwsDetail, SwsHold, SwsState, SwsSummary, WorkerLimitsView,
    WorkerOrigin, WorkerProfile, WorkerView,
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
        status: ProcessStatus::Running,
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

/// One of each state a job of a plan can be in.
fn every_job_state() -> Vec<PlanJobState> {
    vec![
        PlanJobState::Pending,
        PlanJobState::Running {
            attempt: 9,
            tries: 2,
        },
        PlanJobState::RetryDue { tries: 1 },
        PlanJobState::Waiting {
            until_ms: 1_000,
            tries: 3,
        },
        PlanJobState::Unsure {
            tries: 1,
            why: "deadline".to_owned(),
        },
        PlanJobState::Asked,
        PlanJobState::Gated {
            approved_by: vec![65534],
            need: 2,
            from: Role::Approver,
        },
        PlanJobState::Done {
            value: Some("\"yes\"".to_owned()),
        },
        PlanJobState::Failed {
            why: "exit status 1".to_owned(),
        },
        PlanJobState::Cancelled,
    ]
}

// Goal: a process, its jobs and lanes, an attempt and a worker cross the socket with their
// states and kinds as the enums they were sent as. Method: encode and decode a process in
// full with a job in each state and each kind, a failed attempt and a worker.
#[test]
fn typed_states_and_kinds_round_trip() {
    let kinds = [
        PlanJobKind::Run {
            worker: "shell".to_owned(),
        },
        PlanJobKind::Ask,
        PlanJobKind::Race,
    ];
    let jobs: Vec<ProcessJobView> = every_job_state()
        .into_iter()
        .enumerate()
        .map(|(index, state)| ProcessJobView {
            id: format!("g/{index}"),
            lane: 0,
            kind: kinds[index % kinds.len()].clone(),
            state,
            after: Vec::new(),
            ruling: None,
        })
        .collect();
    let lanes = [
        PlanLaneState::Unopened,
        PlanLaneState::Open,
        PlanLaneState::Collapsed,
        PlanLaneState::Discarded,
    ]
    .into_iter()
    .enumerate()
    .map(|(lane, state)| ProcessLaneView {
        lane,
        path: "g".to_owned(),
        state,
        sws: Some(lane as u64),
    })
    .collect();
    let detail = ProcessDetail {
        summary: ProcessSummary {
            id: 3,
            goal: "g".to_owned(),
            status: ProcessStatus::Waiting,
            detail: Some("approve".to_owned()),
            plan: 1,
            plans: 1,
            jobs_done: 1,
            jobs: jobs.len(),
            attempts: 4,
            submitted_ms: 5,
        },
        params: Vec::new(),
        waiting: None,
        waiting_files: Vec::new(),
        explain: String::new(),
        jobs,
        lanes,
        environment: None,
    };
    round_trip(Response::Process(detail));
    round_trip(Response::Job(AttemptView {
        id: 7,
        worker: "shell".to_owned(),
        worker_version: "1".to_owned(),
        sws: 2,
        args: Vec::new(),
        deadline_ms: 10,
        effect: Effect::Workspace,
        paths: Vec::new(),
        state: AttemptState::Failed {
            seq: 8,
            cause: FailureCause::Budget,
            detail: "tokens spent".to_owned(),
        },
    }));
    round_trip(WorkerView {
        name: "fetcher".to_owned(),
        version: "1".to_owned(),
        origin: WorkerOrigin::Installed,
        binary: "/usr/lib/jitos/workers/fetcher".to_owned(),
        profile: WorkerProfile::Shell,
        effect_class: Effect::Network,
        needs: vec![("/etc/ssl".to_owned(), PathAccess::Read)],
        limits: WorkerLimitsView {
            cpu_seconds: 1,
            address_space_mib: 2,
            open_files: 3,
            processes: 4,
            file_size_mib: 5,
        },
        installed_seq: Some(6),
        policy_refusal: None,
    });
}

// Goal: a job's state reads as `jitos inspect` has always worded it, and two runs of a job
// differ by their states' names and attempts, not by what a state carries. Method: word
// each state; compare runs that differ in the carried value only, then in the state.
#[test]
fn job_states_word_and_compare_by_name() {
    let words: Vec<String> = every_job_state().iter().map(ToString::to_string).collect();
    assert_eq!(
        words,
        [
            "pending",
            "running (attempt 9, try 2)",
            "retry due after 1 tries",
            "waiting to retry at 1000 ms (after 3 tries)",
            "unsure whether its effect took place (after 1 tries: deadline); verifying or asking",
            "asked: waiting for a person",
            "waiting for approvals: 1 of 2 from approver",
            "done: \"yes\"",
            "failed: exit status 1",
            "cancelled",
        ]
    );
    let run = |state: PlanJobState| {
        Some(JobRun {
            state,
            attempts: 1,
            took_ms: 10,
        })
    };
    let compared = |a: PlanJobState, b: PlanJobState| JobComparison {
        id: "g/0".to_owned(),
        kind: PlanJobKind::Ask,
        a: run(a),
        b: run(b),
    };
    let done = |value: &str| PlanJobState::Done {
        value: Some(value.to_owned()),
    };
    assert!(!compared(done("1"), done("2")).differs());
    assert!(compared(
        done("1"),
        PlanJobState::Failed {
            why: "1".to_owned()
        }
    )
    .differs());
    assert_eq!(format!("{:<9}|", ProcessStatus::Done), "done     |");
    assert_eq!(format!("{:<10}|", PlanJobKind::Ask), "ask       |");
    assert_eq!(format!("{:<8}|", PlanJobState::Cancelled), "cancelled|");
    assert_eq!(format!("{:<9}|", PlanJobState::Pending), "pending  |");
}

// Goal: `--json` gives states and kinds in the shapes docs/PROCESSES.md shows scripts: a
// bare name for a state that carries nothing, the name over its fields otherwise. Method:
// render one of each shape as JSON.
#[test]
fn states_and_kinds_have_their_documented_json_shapes() {
    assert_eq!(json(&PlanJobState::Pending), serde_json::json!("pending"));
    assert_eq!(
        json(&PlanJobState::Done { value: None }),
        serde_json::json!({ "done": { "value": null } })
    );
    assert_eq!(
        json(&PlanJobState::RetryDue { tries: 2 }),
        serde_json::json!({ "retry_due": { "tries": 2 } })
    );
    assert_eq!(
        json(&PlanJobKind::Run {
            worker: "shell".to_owned()
        }),
        serde_json::json!({ "run": { "worker": "shell" } })
    );
    assert_eq!(json(&ProcessStatus::Waiting), serde_json::json!("waiting"));
    assert_eq!(
        json(&PlanLaneState::Discarded),
        serde_json::json!("discarded")
    );
    assert_eq!(json(&FailureCause::Deadline), serde_json::json!("deadline"));
    assert_eq!(json(&WorkerOrigin::Builtin), serde_json::json!("builtin"));
    assert_eq!(json(&PathAccess::Write), serde_json::json!("write"));
}

fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap()
}
