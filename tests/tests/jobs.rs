//! Jobs through the real daemon and CLI: workers run confined, only their validated
//! proposals reach the job's workspace, and every misbehaving worker ends its attempt with
//! one terminal record and a clear reason while the daemon carries on.
#![allow(clippy::unwrap_used)]

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::PathBuf,
    time::{Duration, Instant},
};

use jitos_proto::{ActorView, AttemptState, AttemptView, Client, FailureCause, Request, Response};
use jitos_system_tests::{
    all_records, assert_failure, assert_success, bin_path, call, children_running, create_sws,
    install_misbehave, is_alive, job_spec, misbehave_manifest, run_job, terminal_records,
    wait_until, worker_children, Sandbox,
};

/// Dispatches the hanging misdeed without waiting for it; the attempt's id.
fn start_hanging_job(client: &mut Client, sws: u64) -> u64 {
    let mut hang = job_spec("misbehave", sws, &["hang"]);
    hang.wait = false;
    match call(client, &Request::JobRun(hang)) {
        Response::JobStarted { attempt } => attempt,
        other => panic!("detached run answered {other:?}"),
    }
}

// Goal: a job's proposal lands in its workspace, recorded as dispatch then done, and not
// in the system, with the worker's progress kept. Method: run the noop worker through the
// CLI into a new workspace; read the attempt, the workspace's graph, the system's graph,
// the log and the worker-log artifact.
#[test]
fn noop_job_lands_in_its_workspace_only() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let out = assert_success(
        "job run noop",
        &sandbox.jitos(&["--json", "job", "run", "noop", "--new-sws"]),
    );
    let view: serde_json::Value = serde_json::from_str(&out).unwrap();
    let attempt = view["id"].as_u64().unwrap();
    let sws = view["sws"].as_u64().unwrap();
    assert!(view["state"]["Done"].is_object(), "{view}");

    let node = format!("noop:{attempt}");
    let in_sws = assert_success(
        "graph show --sws",
        &sandbox.jitos(&["graph", "show", "--sws", &sws.to_string()]),
    );
    assert!(in_sws.contains(&node), "{in_sws}");
    let system = assert_success("graph show", &sandbox.jitos(&["graph", "show"]));
    assert!(!system.contains(&node), "{system}");

    let mut client = daemon.client();
    let ends = terminal_records(&mut client);
    assert_eq!(ends.get(&attempt), Some(&vec!["job.done".to_owned()]));
    let shown = assert_success(
        "job show",
        &sandbox.jitos(&["job", "show", &attempt.to_string()]),
    );
    assert!(shown.contains("done at seq"), "{shown}");

    // What the worker reported on the way is kept with the attempt.
    let log_blob = view["state"]["Done"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a[0] == "worker-log")
        .map(|a| a[1].as_str().unwrap().parse().unwrap())
        .unwrap_or_else(|| panic!("no worker-log artifact: {view}"));
    match call(&mut client, &Request::GetBlobs(vec![log_blob])) {
        Response::Blobs(blobs) => {
            assert_eq!(blobs[0], b"[progress 100.0%] done\n".to_vec());
        }
        other => panic!("get blobs answered {other:?}"),
    }
}

// Goal: every way a worker can misbehave ends its attempt as failed with the right cause,
// no worker process stays behind, and the daemon keeps serving. Method: the misbehaving
// test worker runs each misdeed in turn; a noop job after each must still succeed.
#[test]
fn misbehaving_workers_fail_their_attempts_and_the_daemon_carries_on() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    install_misbehave(&sandbox, "misbehave", "workspace");
    let mut client = daemon.client();
    let sws = create_sws(&mut client);
    let cases: [(&str, FailureCause, &str); 6] = [
        ("crash", FailureCause::Crashed, "exited"),
        (
            "exit-mid-frame",
            FailureCause::Protocol,
            "middle of a frame",
        ),
        ("garbage", FailureCause::Protocol, "protocol"),
        ("oversized", FailureCause::Protocol, "exceeds the maximum"),
        ("pass-fd", FailureCause::Protocol, "descriptor"),
        ("fail", FailureCause::Worker, "failing on purpose"),
    ];
    for (mode, cause, words) in cases {
        let view = run_job(&mut client, job_spec("misbehave", sws, &[mode]));
        match &view.state {
            AttemptState::Failed {
                cause: got, detail, ..
            } => {
                assert_eq!(*got, cause, "{mode}: {detail}");
                assert!(detail.contains(words), "{mode}: {detail}");
            }
            other => panic!("{mode} ended {other:?}"),
        }
        // Warm noop instances stay (their own test is warm_workers.rs); no misbehaving
        // worker may.
        assert!(
            children_running(&daemon, &bin_path("jitos-worker-misbehave")).is_empty(),
            "{mode} left a worker behind"
        );
        let after = run_job(&mut client, job_spec("noop", sws, &[]));
        assert!(
            matches!(after.state, AttemptState::Done { .. }),
            "{after:?}"
        );
    }
    for (attempt, ends) in terminal_records(&mut client) {
        assert_eq!(
            ends.len(),
            1,
            "attempt {attempt} has terminal records {ends:?}"
        );
    }
}

// Goal: a worker that hangs is killed at its deadline and reaped. Method: the hanging
// misdeed with a 500 ms deadline; the attempt fails as `deadline` within a few seconds and
// the daemon has no child left.
#[test]
fn a_hanging_worker_is_killed_at_its_deadline() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    install_misbehave(&sandbox, "misbehave", "workspace");
    let mut client = daemon.client();
    let sws = create_sws(&mut client);
    let started = Instant::now();
    let mut hang = job_spec("misbehave", sws, &["hang"]);
    hang.deadline_ms = Some(500);
    let view = run_job(&mut client, hang);
    let took = started.elapsed();
    assert!(
        matches!(
            &view.state,
            AttemptState::Failed {
                cause: FailureCause::Deadline,
                ..
            }
        ),
        "{view:?}"
    );
    assert!(took < Duration::from_secs(5), "the deadline took {took:?}");
    assert!(worker_children(&daemon).is_empty());
}

// Goal: proposals are validated before anything is recorded, and refusals are recorded with
// their reason. Method: a graph-only worker proposes a file; a file worker proposes a file
// outside the job's paths; a file worker names a blob it did not ship. Each is refused and
// the workspace's files are unchanged; the same file inside the paths is applied.
#[test]
fn proposals_outside_the_jobs_scope_are_refused_with_the_reason() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    install_misbehave(&sandbox, "misbehave", "workspace");
    install_misbehave(&sandbox, "misbehave-graph", "none");
    let mut client = daemon.client();
    let sws = create_sws(&mut client);

    let graph_only = run_job(
        &mut client,
        job_spec("misbehave-graph", sws, &["touch-file", "a.txt"]),
    );
    let reason = match &graph_only.state {
        AttemptState::Refused { reason, .. } => reason.clone(),
        other => panic!("graph-only worker proposing a file ended {other:?}"),
    };
    assert!(reason.contains("may not change files"), "{reason}");

    let mut outside = job_spec("misbehave", sws, &["touch-file", "b.txt"]);
    outside.paths = vec!["src".to_owned()];
    let view = run_job(&mut client, outside);
    assert!(
        matches!(&view.state, AttemptState::Refused { reason, .. } if reason.contains("outside the paths")),
        "{view:?}"
    );

    let dangling = run_job(
        &mut client,
        job_spec("misbehave", sws, &["dangling-blob", "c.txt"]),
    );
    assert!(
        matches!(&dangling.state, AttemptState::Refused { reason, .. } if reason.contains("neither stored")),
        "{dangling:?}"
    );
    let files = |client: &mut Client| match call(
        client,
        &Request::TreeShow {
            sws: Some(sws),
            at: None,
        },
    ) {
        Response::Tree(tree) => tree
            .entries
            .keys()
            .map(|p| p.as_str().to_owned())
            .collect::<Vec<_>>(),
        other => panic!("tree show answered {other:?}"),
    };
    assert!(!files(&mut client).iter().any(|p| p.ends_with(".txt")));

    let mut inside = job_spec("misbehave", sws, &["touch-file", "src"]);
    inside.paths = vec!["src".to_owned()];
    let view = run_job(&mut client, inside);
    assert!(matches!(view.state, AttemptState::Done { .. }), "{view:?}");
    assert!(files(&mut client).contains(&"src".to_owned()));
}

// Goal: killing the daemon kills its workers, and the attempt they ran ends (once) as
// interrupted when the daemon comes back. Method: a detached hanging job; find its worker
// among the daemon's children; SIGKILL the daemon; the worker dies; restart; the attempt
// shows `interrupted` and has exactly one terminal record.
#[test]
fn killing_the_daemon_kills_its_workers_and_restart_ends_their_attempts() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start_with(&["--snapshot-every", "3"]);
    install_misbehave(&sandbox, "misbehave", "workspace");
    let mut client = daemon.client();
    let sws = create_sws(&mut client);
    let attempt = start_hanging_job(&mut client, sws);
    let mut workers = Vec::new();
    wait_until("the worker's start", Duration::from_secs(10), || {
        workers = worker_children(&daemon);
        !workers.is_empty()
    });
    drop(client);
    daemon.kill9();
    wait_until("the worker's death", Duration::from_secs(10), || {
        workers.iter().all(|pid| !is_alive(*pid))
    });

    let daemon = sandbox.start_with(&["--snapshot-every", "3"]);
    let mut client = daemon.client();
    match call(&mut client, &Request::JobShow(attempt)) {
        Response::Job(AttemptView {
            state: AttemptState::Failed { cause, .. },
            ..
        }) => assert_eq!(cause, FailureCause::Interrupted),
        other => panic!("after restart the attempt is {other:?}"),
    }
    let ends = terminal_records(&mut client);
    assert_eq!(ends.get(&attempt).map(Vec::len), Some(1), "{ends:?}");
    drop(client);
    daemon.terminate();
    let daemon = sandbox.start();
    let mut client = daemon.client();
    assert_eq!(
        terminal_records(&mut client).get(&attempt).map(Vec::len),
        Some(1)
    );
}

// Goal: a client waiting on a job when the daemon stops hears how it ended (interrupted),
// rather than losing its connection. Method: wait on a job of the hanging misdeed (which
// ignores Cancel, so it runs out the whole grace) from one thread, SIGTERM the daemon.
#[test]
fn a_client_waiting_on_a_job_hears_it_end_when_the_daemon_stops() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    install_misbehave(&sandbox, "misbehave", "workspace");
    let mut client = daemon.client();
    let sws = create_sws(&mut client);
    let mut waiter = daemon.client();
    let waiting = std::thread::spawn(move || {
        call(
            &mut waiter,
            &Request::JobRun(job_spec("misbehave", sws, &["hang"])),
        )
    });
    wait_until("the worker's start", Duration::from_secs(10), || {
        !worker_children(&daemon).is_empty()
    });
    drop(client);
    daemon.terminate();
    match waiting.join().unwrap() {
        Response::Job(AttemptView {
            state: AttemptState::Failed { cause, .. },
            ..
        }) => assert_eq!(cause, FailureCause::Interrupted),
        other => panic!("the waiting client heard {other:?}"),
    }
}

// Goal: the registry lists built-in and installed workers, survives a restart, and refuses
// a binary that changed after install. Method: install, list (text and JSON), restart,
// list again, then overwrite the binary and run a job.
#[test]
fn installed_workers_are_listed_and_a_changed_binary_is_refused() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let dir = install_misbehave(&sandbox, "misbehave", "workspace");
    let listed = assert_success("worker list", &sandbox.jitos(&["worker", "list"]));
    assert!(
        listed.contains("noop") && listed.contains("builtin"),
        "{listed}"
    );
    assert!(
        listed.contains("misbehave") && listed.contains("installed"),
        "{listed}"
    );
    daemon.terminate();
    let daemon = sandbox.start();
    let json = assert_success(
        "worker list --json",
        &sandbox.jitos(&["--json", "worker", "list"]),
    );
    let workers: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        workers["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["name"] == "misbehave"),
        "{workers}"
    );

    fs::write(dir.join("misbehave"), b"#!/bin/sh\nexit 0\n").unwrap();
    let mut client = daemon.client();
    let sws = create_sws(&mut client);
    match call(
        &mut client,
        &Request::JobRun(job_spec("misbehave", sws, &[])),
    ) {
        Response::Error(e) => assert!(e.message.contains("changed since"), "{}", e.message),
        other => panic!("a changed binary ran: {other:?}"),
    }
    let out = assert_failure(
        "install of a built-in name",
        &sandbox.jitos(&[
            "worker",
            "install",
            workers_manifest(&sandbox, "noop").to_str().unwrap(),
        ]),
    );
    assert!(out.contains("built-in"), "{out}");
}

fn workers_manifest(sandbox: &Sandbox, name: &str) -> PathBuf {
    let dir = sandbox.path().join(format!("{name}-impostor"));
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("bin"), b"").unwrap();
    let manifest = dir.join("worker.toml");
    fs::write(
        &manifest,
        format!(
            "name = \"{name}\"\nversion = \"9.9.9\"\nbinary = \"bin\"\nsandbox_profile = \"pure\"\n\
             effect_class = \"none\"\ninput_schema = {{ type = \"bytes\" }}\n"
        ),
    )
    .unwrap();
    manifest
}

// Goal: `jitos job cancel` stops a running attempt, which ends once, as cancelled, with its
// worker gone. Method: a detached job of the hanging misdeed (which ignores Cancel, so the
// daemon kills it after the grace period); cancel it through the CLI and wait for its end,
// recorded as the canceller's.
#[test]
fn a_cancelled_job_ends_as_cancelled() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    install_misbehave(&sandbox, "misbehave", "workspace");
    let mut client = daemon.client();
    let sws = create_sws(&mut client);
    let attempt = start_hanging_job(&mut client, sws);
    let out = assert_success(
        "job cancel",
        &sandbox.jitos(&["job", "cancel", &attempt.to_string()]),
    );
    assert!(out.contains("asked to stop"), "{out}");
    let mut ended = None;
    wait_until(
        "the cancelled attempt's end",
        Duration::from_secs(10),
        || match call(&mut client, &Request::JobShow(attempt)) {
            Response::Job(AttemptView {
                state: AttemptState::Failed { cause, .. },
                ..
            }) => {
                ended = Some(cause);
                true
            }
            _ => false,
        },
    );
    assert_eq!(ended, Some(FailureCause::Cancelled));
    assert!(worker_children(&daemon).is_empty());
    assert_eq!(
        terminal_records(&mut client).get(&attempt).map(Vec::len),
        Some(1)
    );
    // The end is by whoever cancelled (the CLI's process), not by the worker.
    let end = all_records(&mut client)
        .into_iter()
        .find(|r| r.kind == "job.failed" && r.summary.starts_with(&format!("attempt {attempt} ")))
        .unwrap();
    assert!(
        matches!(end.actor, ActorView::Peer { .. }),
        "{:?}",
        end.actor
    );
    let again = assert_failure(
        "cancel of an ended attempt",
        &sandbox.jitos(&["job", "cancel", &attempt.to_string()]),
    );
    assert!(again.contains("not running"), "{again}");
}

// Goal: a worker whose binary only root can reach (built under a private home) runs all
// the same: the daemon executes its copy in the worker store, not the binary where it
// lies. Method: install from a 0700 directory under a root daemon and run a job of it.
#[test]
fn a_binary_only_root_can_reach_runs_from_the_worker_store() {
    if !jitos_system_tests::root_or_skip("only a root jitosd runs workers under uids of their own")
    {
        return;
    }
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let manifest = misbehave_manifest(&sandbox, "private", "effect_class = \"none\"");
    let dir = manifest.parent().unwrap();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
    assert_success(
        "install from a private directory",
        &sandbox.jitos(&["worker", "install", manifest.to_str().unwrap()]),
    );
    let mut client = daemon.client();
    let sws = create_sws(&mut client);
    let view = run_job(&mut client, job_spec("private", sws, &[]));
    assert!(
        matches!(view.state, AttemptState::Done { .. }),
        "the job ended {}",
        view.state
    );
}

// Goal: a manifest whose binary is no regular file (a FIFO would block a reader forever)
// is refused at install and the daemon keeps serving. Method: a FIFO as the binary.
#[test]
fn a_binary_that_is_not_a_regular_file_is_refused() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let manifest = misbehave_manifest(&sandbox, "fifo", "effect_class = \"none\"");
    let binary = manifest.with_file_name("misbehave");
    fs::remove_file(&binary).unwrap();
    nix::unistd::mkfifo(&binary, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let out = assert_failure(
        "install of a FIFO",
        &sandbox.jitos(&["worker", "install", manifest.to_str().unwrap()]),
    );
    assert!(out.contains("not a regular file"), "{out}");
    let mut client = daemon.client();
    assert!(create_sws(&mut client) > 0, "the daemon stopped serving");
}
