//! Speculative workspaces through the real daemon and CLI: isolation until collapse,
//! first-collapse-wins conflicts, files in a workspace, survival of SIGKILL, and replay
//! of a history full of workspaces from snapshots and from genesis.
#![allow(clippy::unwrap_used)]

use std::{
    collections::BTreeMap,
    fs,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread,
    time::Duration,
};

use jitos_proto::{Client, Request, Response};
use jitos_system_tests::{
    add_node, apply, assert_failure, assert_success, call, rewrite, status, Sandbox,
};
use jitos_warp::Rewrite;
use rand::{rngs::StdRng, Rng, SeedableRng};

fn create(client: &mut Client, at: Option<u64>, parent: Option<u64>) -> u64 {
    match call(client, &Request::SwsCreate { at, parent }) {
        Response::SwsRecorded { sws, .. } => sws,
        other => panic!("create answered {other:?}"),
    }
}

fn sws_apply(client: &mut Client, sws: u64, rewrite: Rewrite) -> Response {
    call(client, &Request::SwsApply { sws, rewrite })
}

fn set(node: &str, value: &str) -> Rewrite {
    rewrite(&format!(
        r#"{{"ops":[{{"set_attr":{{"node":"{node}","key":"state","value":"{value}"}}}}]}}"#
    ))
}

fn node_ids(client: &mut Client, sws: Option<u64>) -> Vec<String> {
    jitos_system_tests::sws_graph(client, sws)
        .nodes
        .iter()
        .map(|n| n.id.to_string())
        .collect()
}

// Goal: the CLI shows isolation and first-collapse-wins. Method: two workspaces write the
// same attribute; the system is unchanged until the first collapse; the second collapse
// fails, names the key and the record that changed it, and changes nothing.
#[test]
fn two_writers_first_collapse_wins_second_reports_the_conflict() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let mut client = daemon.client();
    apply(
        &mut client,
        rewrite(r#"{"ops":[{"add_node":{"id":"task:1","kind":"Task","attrs":{"state":"open"}}}]}"#),
    );
    let first = create(&mut client, None, None);
    let second = create(&mut client, None, None);
    assert!(matches!(
        sws_apply(&mut client, first, set("task:1", "done")),
        Response::SwsRecorded { .. }
    ));
    assert!(matches!(
        sws_apply(&mut client, second, set("task:1", "wontfix")),
        Response::SwsRecorded { .. }
    ));
    let before = status(&mut client).digest;

    let text = assert_success(
        "graph show --sws",
        &sandbox.jitos(&["graph", "show", "--sws", &first.to_string()]),
    );
    assert!(text.contains(r#""state":"done""#), "{text}");
    assert_eq!(
        status(&mut client).digest,
        before,
        "a workspace write reached the system"
    );

    let collapsed = assert_success(
        "collapse",
        &sandbox.jitos(&["sws", "collapse", &first.to_string()]),
    );
    let winner_seq = status(&mut client).head_seq;
    assert!(collapsed.contains("collapsed"), "{collapsed}");
    let after_first = status(&mut client).digest;
    assert_ne!(after_first, before);

    let output = sandbox.jitos(&["--json", "sws", "collapse", &second.to_string()]);
    assert_failure("the second collapse", &output);
    let view: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        view["conflicts"][0]["key"].as_str(),
        Some("task:1.state"),
        "{view:#}"
    );
    assert_eq!(
        view["conflicts"][0]["changed_at"].as_u64(),
        Some(winner_seq),
        "{view:#}"
    );
    assert_eq!(
        status(&mut client).digest,
        after_first,
        "a conflicted collapse changed the system"
    );

    // Rebase cannot clear a conflict on a key the workspace wrote; a workspace that
    // touched only other nodes rebases past the same change.
    let rebase = sandbox.jitos(&["sws", "rebase", &second.to_string()]);
    let text = assert_failure("rebase over a conflict", &rebase);
    assert!(text.contains("task:1.state"), "{text}");
    let bystander = create(&mut client, Some(winner_seq - 1), None);
    assert!(matches!(
        sws_apply(&mut client, bystander, add_node("task:2", "Task")),
        Response::SwsRecorded { .. }
    ));
    assert_success(
        "rebase",
        &sandbox.jitos(&["sws", "rebase", &bystander.to_string()]),
    );

    assert_success(
        "discard",
        &sandbox.jitos(&[
            "sws",
            "discard",
            &second.to_string(),
            "--reason",
            "lost the race",
        ]),
    );
    let log = assert_success("log", &sandbox.jitos(&["log"]));
    for kind in [
        "sws.create",
        "sws.apply",
        "sws.collapse",
        "sws.conflict",
        "sws.discard",
    ] {
        assert!(log.contains(kind), "the log lacks {kind}:\n{log}");
    }
    let list = assert_success("list", &sandbox.jitos(&["sws", "list"]));
    assert!(
        list.contains("discarded") && list.contains("lost the race"),
        "{list}"
    );
    assert_success("replay", &sandbox.jitos(&["replay", "--verify"]));
    daemon.terminate();
}

// Goal: a file changed in a workspace is visible there and not in the system until
// collapse. Method: import a tree, re-import a changed copy into a workspace, check out
// both, collapse, check out the system again.
#[test]
fn files_change_in_a_workspace_and_reach_the_system_only_on_collapse() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let project = sandbox.path().join("project");
    fs::create_dir_all(project.join("src")).unwrap();
    fs::write(project.join("src/lib.rs"), "fn broken() {}\n").unwrap();
    let dir = project.to_str().unwrap();
    assert_success("import", &sandbox.jitos(&["tree", "import", dir]));
    let id = create(&mut daemon.client(), None, None).to_string();

    fs::write(project.join("src/lib.rs"), "fn fixed() {}\n").unwrap();
    fs::write(project.join("NEW.md"), "new\n").unwrap();
    assert_success(
        "import --sws",
        &sandbox.jitos(&["tree", "import", dir, "--sws", &id]),
    );

    let in_sws = sandbox.path().join("in-sws");
    let in_system = sandbox.path().join("in-system");
    assert_success(
        "checkout --sws",
        &sandbox.jitos(&["tree", "checkout", in_sws.to_str().unwrap(), "--sws", &id]),
    );
    assert_success(
        "checkout",
        &sandbox.jitos(&["tree", "checkout", in_system.to_str().unwrap()]),
    );
    assert_eq!(
        fs::read_to_string(in_sws.join("src/lib.rs")).unwrap(),
        "fn fixed() {}\n"
    );
    assert!(in_sws.join("NEW.md").exists());
    assert_eq!(
        fs::read_to_string(in_system.join("src/lib.rs")).unwrap(),
        "fn broken() {}\n"
    );
    assert!(!in_system.join("NEW.md").exists());

    let diff = assert_success("sws diff", &sandbox.jitos(&["sws", "diff", &id]));
    assert!(diff.contains("-fn broken() {}\n+fn fixed() {}"), "{diff}");
    assert!(diff.contains("new file mode 100644"), "{diff}");

    assert_success("collapse", &sandbox.jitos(&["sws", "collapse", &id]));
    let after = sandbox.path().join("after");
    assert_success(
        "checkout after collapse",
        &sandbox.jitos(&["tree", "checkout", after.to_str().unwrap()]),
    );
    assert_eq!(
        fs::read_to_string(after.join("src/lib.rs")).unwrap(),
        "fn fixed() {}\n"
    );
    daemon.terminate();
}

// Goal: workspaces survive a crash and replay exactly, from a snapshot and from genesis.
// Method: a seeded random history of creates (flat and nested), applies, collapses (some
// conflicting), rebases and discards on a daemon snapshotting every 3 records; restart,
// check the view of every open workspace is unchanged, keep going, then replay.
#[test]
fn a_history_of_many_workspaces_recovers_and_replays_to_the_same_state() {
    let sandbox = Sandbox::new();
    let flags = ["--snapshot-every", "3"];
    let mut daemon = sandbox.start_with(&flags);
    let mut rng = StdRng::seed_from_u64(0x5e55_1015);
    let mut open: Vec<u64> = Vec::new();
    let mut outcomes = BTreeMap::new();
    for round in 0..3 {
        let mut client = daemon.client();
        for step in 0..40 {
            let node = format!("n{}", rng.random_range(0..6));
            let choice = rng.random_range(0..10);
            let answer = match (choice, open.is_empty()) {
                (0..=1, _) | (_, true) => {
                    let parent = (rng.random_bool(0.3) && !open.is_empty())
                        .then(|| open[rng.random_range(0..open.len())]);
                    let request = Request::SwsCreate { at: None, parent };
                    let answer = call(&mut client, &request);
                    if let Response::SwsRecorded { sws, .. } = answer {
                        open.push(sws);
                    }
                    "create".to_owned()
                }
                (2..=5, false) => {
                    let sws = open[rng.random_range(0..open.len())];
                    let change = if rng.random_bool(0.5) {
                        add_node(&format!("{node}-{round}-{step}"), "T")
                    } else {
                        set(&node, &format!("v{step}"))
                    };
                    format!(
                        "{:?}",
                        std::mem::discriminant(&sws_apply(&mut client, sws, change))
                    )
                }
                (6, false) => {
                    apply(&mut client, add_node(&format!("sys-{round}-{step}"), "T"));
                    "system".to_owned()
                }
                (7..=8, false) => {
                    let sws = open[rng.random_range(0..open.len())];
                    let answer = call(&mut client, &Request::SwsCollapse { sws, writ: None });
                    if matches!(answer, Response::SwsRecorded { .. }) {
                        open.retain(|&id| id != sws);
                    }
                    format!("{:?}", std::mem::discriminant(&answer))
                }
                _ => {
                    let sws = open[rng.random_range(0..open.len())];
                    let answer = call(
                        &mut client,
                        &Request::SwsDiscard {
                            sws,
                            reason: "random".to_owned(),
                        },
                    );
                    if matches!(answer, Response::SwsRecorded { .. }) {
                        open.retain(|&id| id != sws);
                    }
                    "discard".to_owned()
                }
            };
            *outcomes.entry(answer).or_insert(0u32) += 1;
        }
        // Create an isolated node in the system so its digest moves, then crash.
        let seen: BTreeMap<u64, Vec<String>> = open
            .iter()
            .map(|&sws| (sws, node_ids(&mut client, Some(sws))))
            .collect();
        let digest = status(&mut client).digest;
        drop(client);
        daemon.kill9();
        daemon = sandbox.start_with(&flags);
        let mut client = daemon.client();
        assert_eq!(
            status(&mut client).digest,
            digest,
            "round {round}: system digest changed"
        );
        for (sws, nodes) in &seen {
            assert_eq!(
                &node_ids(&mut client, Some(*sws)),
                nodes,
                "workspace {sws} changed"
            );
        }
    }
    let output = sandbox.jitos(&["--json", "replay", "--verify"]);
    assert_success("replay --verify", &output);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["workspaces_match"].as_bool(),
        Some(true),
        "{report:#}"
    );
    assert!(
        outcomes.len() >= 4,
        "the history was too uniform: {outcomes:?}"
    );
    daemon.terminate();
}

// Goal: every acknowledged workspace write survives SIGKILL, and collapse then behaves as
// if there had been no crash. Method: writers add nodes to three workspaces; kill -9 the
// daemon mid-stream; after restart each workspace holds every acknowledged node, the
// system none of them, and after collapsing all three the system holds all of them.
#[test]
fn acknowledged_workspace_writes_survive_sigkill() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let mut client = daemon.client();
    let workspaces: Vec<u64> = (0..3).map(|_| create(&mut client, None, None)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = workspaces
        .iter()
        .map(|&sws| {
            let socket = daemon.socket().to_path_buf();
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut client = jitos_system_tests::connect(&socket);
                let mut acked = Vec::new();
                for i in 0..100_000u32 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let id = format!("w{sws}-{i}");
                    let request = Request::SwsApply {
                        sws,
                        rewrite: add_node(&id, "W"),
                    };
                    match client.call(&request) {
                        Ok(Response::SwsRecorded { .. }) => acked.push(id),
                        _ => break,
                    }
                }
                (sws, acked)
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(400));
    daemon.kill9();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<(u64, Vec<String>)> = writers.into_iter().map(|w| w.join().unwrap()).collect();

    let daemon = sandbox.start();
    let mut client = daemon.client();
    let system = node_ids(&mut client, None);
    for (sws, ids) in &acked {
        assert!(
            !ids.is_empty(),
            "workspace {sws} had no acknowledged write before the kill"
        );
        let present = node_ids(&mut client, Some(*sws));
        for id in ids {
            assert!(
                present.contains(id),
                "acknowledged {id} is missing from workspace {sws}"
            );
            assert!(!system.contains(id), "{id} leaked into the system");
        }
    }
    for (sws, _) in &acked {
        assert!(matches!(
            call(
                &mut client,
                &Request::SwsCollapse {
                    sws: *sws,
                    writ: None,
                }
            ),
            Response::SwsRecorded { .. }
        ));
    }
    let system = node_ids(&mut client, None);
    for (_, ids) in &acked {
        for id in ids {
            assert!(
                system.contains(id),
                "collapsed {id} is missing from the system"
            );
        }
    }
    assert_success("replay", &sandbox.jitos(&["replay", "--verify"]));
    daemon.terminate();
}
