//! Processes through the real daemon and CLI: an intent submitted and followed to its
//! end, a question that survives a restart and takes its answer once, a cancel, and the
//! crash of a daemon in the middle of a job reconciled by the job's idempotence.
#![allow(clippy::unwrap_used)]

use std::{fs, path::PathBuf, time::Duration};

use jitos_system_tests::{
    assert_failure, assert_success, grant_nobody, jitos_as, processes_running, root_or_skip,
    wait_until, Daemon, Sandbox, NOBODY,
};

/// A method library with a slow step, idempotent or not, for crash tests.
const METHODS: &str = r#"
[task.slow_then_mark]
params = ["marker"]
[[task.slow_then_mark.method]]
name = "slow_then_mark"
steps = [{ task = "slow" }, { task = "mark" }]

[task.slow_unsafe]
params = ["marker"]
[[task.slow_unsafe.method]]
name = "slow_then_mark"
steps = [{ task = "slow_not_idempotent" }, { task = "mark" }]

[task.slow]
params = ["marker"]
run = { worker = "shell", args = ["sh", "-c", "sleep 1.5 && echo {marker} > slow.txt"], effect = "workspace", timeout_secs = 30, idempotent = true }

[task.slow_not_idempotent]
params = ["marker"]
run = { worker = "shell", args = ["sh", "-c", "sleep 1.5 && echo {marker} > slow.txt"], effect = "workspace", timeout_secs = 30 }

[task.write_then_ask]
params = ["marker"]
[[task.write_then_ask.method]]
name = "write_then_ask"
steps = [{ task = "mark" }, { task = "ask_about_it" }]

[task.ask_about_it]
params = ["marker"]
ask = { question = "Keep {marker}?" }

[task.mark]
params = ["marker"]
run = { worker = "shell", args = ["sh", "-c", "echo {marker} > marker.txt"], effect = "workspace", timeout_secs = 30, gate = true }
"#;

/// Writes the test library into the sandbox; the flags that make jitosd use it.
fn methods(sandbox: &Sandbox) -> Vec<String> {
    let dir = sandbox.path().join("methods");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("test.toml"), METHODS).unwrap();
    vec!["--methods-dir".to_owned(), dir.to_str().unwrap().to_owned()]
}

fn start(sandbox: &Sandbox) -> Daemon {
    let flags = methods(sandbox);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    sandbox.start_with(&flags)
}

/// Writes an intent file; its path.
fn intent(sandbox: &Sandbox, name: &str, goal: &str, params: &[(&str, &str)]) -> PathBuf {
    let mut text = format!("goal = \"{goal}\"\n[params]\n");
    for (k, v) in params {
        text.push_str(&format!("{k} = {v:?}\n"));
    }
    text.push_str("[allow]\nworkers = [\"shell\"]\n");
    let path = sandbox.path().join(name);
    fs::write(&path, text).unwrap();
    path
}

fn status_of(sandbox: &Sandbox, pid: u64) -> serde_json::Value {
    let out = assert_success(
        "inspect",
        &sandbox.jitos(&["--json", "inspect", &pid.to_string()]),
    );
    serde_json::from_str(&out).unwrap()
}

fn submitted(out: &str) -> u64 {
    let value: serde_json::Value = serde_json::from_str(out).unwrap();
    value["process"].as_u64().unwrap()
}

// Goal: an intent runs to its end from the CLI: `submit --wait` prints the records and
// exits 0 when done; the change reaches the system; ps, inspect and log --process agree;
// replay reproduces everything. Method: the built-in `run` task writes a file.
#[test]
fn an_intent_runs_to_its_end() {
    let sandbox = Sandbox::new();
    let _daemon = start(&sandbox);
    let file = intent(
        &sandbox,
        "run.toml",
        "run",
        &[("command", "echo made > made.txt")],
    );
    let planned = assert_success(
        "plan",
        &sandbox.jitos(&["plan", file.to_str().unwrap(), "--explain"]),
    );
    assert!(
        planned.contains("run by method run_and_collapse"),
        "{planned}"
    );
    let out = assert_success(
        "submit --wait",
        &sandbox.jitos(&["submit", "--wait", file.to_str().unwrap()]),
    );
    assert!(
        out.contains("process.submit") && out.contains("process.end"),
        "{out}"
    );
    assert!(out.contains("is done"), "{out}");
    let checkout = sandbox.path().join("out");
    assert_success(
        "checkout",
        &sandbox.jitos(&["tree", "checkout", checkout.to_str().unwrap()]),
    );
    assert_eq!(
        fs::read_to_string(checkout.join("made.txt")).unwrap(),
        "made\n"
    );
    let ps = assert_success("ps --all", &sandbox.jitos(&["ps", "--all"]));
    assert!(ps.contains("done"), "{ps}");
    let log = assert_success("log --process", &sandbox.jitos(&["log", "--process", "1"]));
    assert!(
        log.contains("job.dispatch") && log.contains("job.done"),
        "{log}"
    );
    let replay = assert_success("replay --verify", &sandbox.jitos(&["replay", "--verify"]));
    assert!(replay.contains("equals the live state"), "{replay}");
}

// Goal: a process waiting for a person survives a restart, takes its answer once, and
// refuses answers that do not fit. Method: approve_then_run; restart while it waits;
// resume with a value (wrong kind, refused), approve as its submitter (refused), approve
// as a second user who is an approver (done), approve again (refused).
#[test]
fn a_question_survives_a_restart_and_takes_one_answer() {
    if !root_or_skip("a second user approves, started with setuid") {
        return;
    }
    let sandbox = Sandbox::new();
    let mut flags = methods(&sandbox);
    flags.extend(grant_nobody(&sandbox, &["approver"]));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let start = |sandbox: &Sandbox| sandbox.start_with(&flags);
    let daemon = start(&sandbox);
    let file = intent(
        &sandbox,
        "approve.toml",
        "approve_then_run",
        &[("command", "echo approved > ok.txt")],
    );
    let out = assert_success(
        "submit",
        &sandbox.jitos(&["--json", "submit", file.to_str().unwrap()]),
    );
    let pid = submitted(&out);
    wait_until("the question", Duration::from_secs(10), || {
        status_of(&sandbox, pid)["summary"]["status"] == "waiting"
    });
    daemon.terminate();
    let _daemon = start(&sandbox);
    let shown = status_of(&sandbox, pid);
    assert_eq!(shown["summary"]["status"], "waiting", "{shown}");
    assert!(
        shown["waiting"][0]
            .as_str()
            .unwrap()
            .contains("Run `echo approved"),
        "{shown}"
    );
    let wrong = assert_failure(
        "resume with a value",
        &sandbox.jitos(&["resume", &pid.to_string(), "--value", "\"yes\""]),
    );
    assert!(wrong.contains("approve or reject"), "{wrong}");
    let own = assert_failure(
        "approve one's own",
        &sandbox.jitos(&["approve", &pid.to_string()]),
    );
    assert!(own.contains("may not approve or reject it"), "{own}");
    assert_success(
        "approve",
        &jitos_as(&sandbox, NOBODY, &["approve", &pid.to_string()]),
    );
    wait_until("the end", Duration::from_secs(10), || {
        status_of(&sandbox, pid)["summary"]["status"] == "done"
    });
    let again = assert_failure(
        "approve again",
        &jitos_as(&sandbox, NOBODY, &["approve", &pid.to_string()]),
    );
    assert!(again.contains("does not wait for approvals"), "{again}");
    let log = assert_success(
        "log",
        &sandbox.jitos(&["log", "--process", &pid.to_string()]),
    );
    assert!(
        log.contains("process.vote") && log.contains("nobody approved"),
        "{log}"
    );
}

// Goal: cancel ends a process, stops its worker and discards its workspace. Method: a
// slow step; cancel while it runs.
#[test]
fn cancel_stops_a_process() {
    let sandbox = Sandbox::new();
    let _daemon = start(&sandbox);
    let file = intent(
        &sandbox,
        "slow.toml",
        "slow_then_mark",
        &[("marker", "cancel-me")],
    );
    let pid = submitted(&assert_success(
        "submit",
        &sandbox.jitos(&["--json", "submit", file.to_str().unwrap()]),
    ));
    wait_until("the slow job", Duration::from_secs(10), || {
        !processes_running("cancel-me").is_empty()
    });
    assert_success("cancel", &sandbox.jitos(&["cancel", &pid.to_string()]));
    let shown = status_of(&sandbox, pid);
    assert_eq!(shown["summary"]["status"], "cancelled", "{shown}");
    wait_until("the worker's end", Duration::from_secs(10), || {
        processes_running("cancel-me").is_empty()
    });
    assert!(shown["lanes"][0]["state"] == "discarded", "{shown}");
}

/// Kills the daemon while the slow step marked `marker` runs (the marker is in its
/// command line), restarts it, and returns it.
fn kill_during_slow_step(sandbox: &Sandbox, daemon: Daemon, marker: &str) -> Daemon {
    wait_until("the slow job", Duration::from_secs(10), || {
        !processes_running(marker).is_empty()
    });
    daemon.kill9();
    wait_until("the worker's death", Duration::from_secs(10), || {
        processes_running(marker).is_empty()
    });
    start(sandbox)
}

// Goal: after a daemon crash, an idempotent job is retried without asking, and the
// process finishes. Method: SIGKILL jitosd during the idempotent slow step; restart.
#[test]
fn a_crash_retries_an_idempotent_job() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox);
    let file = intent(
        &sandbox,
        "slow.toml",
        "slow_then_mark",
        &[("marker", "crash-idempotent")],
    );
    let pid = submitted(&assert_success(
        "submit",
        &sandbox.jitos(&["--json", "submit", file.to_str().unwrap()]),
    ));
    let _daemon = kill_during_slow_step(&sandbox, daemon, "crash-idempotent");
    wait_until("the end", Duration::from_secs(20), || {
        status_of(&sandbox, pid)["summary"]["status"] == "done"
    });
    let log = assert_success(
        "log",
        &sandbox.jitos(&["log", "--process", &pid.to_string()]),
    );
    assert!(log.contains("interrupted"), "{log}");
    assert!(log.contains("retries"), "{log}");
}

// Goal: after a daemon crash, a job that is not idempotent is not repeated: the process
// asks a person, and `retry` runs it again. Method: SIGKILL jitosd during the slow step
// that is not idempotent; restart; the process waits; resume retry; it finishes.
#[test]
fn a_crash_asks_before_repeating_a_job_that_is_not_idempotent() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox);
    let file = intent(
        &sandbox,
        "unsafe.toml",
        "slow_unsafe",
        &[("marker", "crash-unsafe")],
    );
    let pid = submitted(&assert_success(
        "submit",
        &sandbox.jitos(&["--json", "submit", file.to_str().unwrap()]),
    ));
    let _daemon = kill_during_slow_step(&sandbox, daemon, "crash-unsafe");
    wait_until("the question", Duration::from_secs(10), || {
        status_of(&sandbox, pid)["summary"]["status"] == "waiting"
    });
    let shown = status_of(&sandbox, pid);
    assert!(
        shown["waiting"][0]
            .as_str()
            .unwrap()
            .contains("not idempotent"),
        "{shown}"
    );
    let mut client = jitos_system_tests::connect(sandbox.socket());
    let dispatches =
        |client: &mut jitos_proto::Client| match jitos_system_tests::process_records(client, pid) {
            Ok(records) => records.iter().filter(|r| r.kind == "job.dispatch").count(),
            Err(other) => panic!("log answered {other:?}"),
        };
    assert_eq!(
        dispatches(&mut client),
        1,
        "the job ran again without asking"
    );
    assert_success(
        "resume retry",
        &sandbox.jitos(&["resume", &pid.to_string(), "--value", "\"retry\""]),
    );
    wait_until("the end", Duration::from_secs(20), || {
        status_of(&sandbox, pid)["summary"]["status"] == "done"
    });
}

// Goal: a question shows what the process has done so far: the files its workspace has
// changed. Method: a step writes a file, then a question; inspect, resume with a value,
// and the process ends done. Meanwhile its workspace is its own: discarding it by hand is
// refused.
#[test]
fn a_question_shows_the_workspace_it_waits_in() {
    let sandbox = Sandbox::new();
    let _daemon = start(&sandbox);
    let file = intent(
        &sandbox,
        "ask.toml",
        "write_then_ask",
        &[("marker", "kept")],
    );
    let pid = submitted(&assert_success(
        "submit",
        &sandbox.jitos(&["--json", "submit", file.to_str().unwrap()]),
    ));
    wait_until("the question", Duration::from_secs(10), || {
        status_of(&sandbox, pid)["summary"]["status"] == "waiting"
    });
    let shown = status_of(&sandbox, pid);
    assert_eq!(
        shown["waiting_files"],
        serde_json::json!(["added marker.txt"]),
        "{shown}"
    );
    let text = assert_success("inspect", &sandbox.jitos(&["inspect", &pid.to_string()]));
    assert!(
        text.contains("Keep kept?") && text.contains("added marker.txt"),
        "{text}"
    );
    let sws = shown["lanes"][0]["sws"].as_u64().unwrap();
    let refused = assert_failure(
        "discard the process's workspace",
        &sandbox.jitos(&["sws", "discard", &sws.to_string(), "--reason", "mine"]),
    );
    assert!(
        refused.contains(&format!("belongs to process {pid}")),
        "{refused}"
    );
    assert_success(
        "resume",
        &sandbox.jitos(&["resume", &pid.to_string(), "--value", "\"yes, keep it\""]),
    );
    wait_until("the end", Duration::from_secs(10), || {
        status_of(&sandbox, pid)["summary"]["status"] == "done"
    });
}
