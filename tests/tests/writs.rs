//! Writs through the real daemon and CLI: the daemon's key is made private and kept
//! across restarts; an admin issues writs and only an admin may issue one from nothing;
//! a holder delegates only narrower ones; a process runs under a writ and is charged for
//! each dispatch until the budget makes it wait for a raise; a submit without a writ gets one derived from
//! the submitter's roles; revoking a writ stops the job running under it; and all of it
//! replays.
#![allow(clippy::unwrap_used)]

use std::{fs, os::unix::fs::PermissionsExt, path::PathBuf, time::Duration};

use jitos_system_tests::{
    assert_failure, assert_success, grant_nobody, jitos_as, processes_running, root_or_skip,
    stdout_text, wait_for_process, wait_until, Daemon, Sandbox, NOBODY,
};

const WHY_ROOT: &str = "a second user's client is started with setuid";

const METHODS: &str = r#"
[task.three_steps]
params = []
[[task.three_steps.method]]
name = "in_order"
steps = [{ task = "step", id = "a" }, { task = "step", id = "b" }, { task = "step", id = "c" }]

[task.step]
params = []
run = { worker = "shell", args = ["true"], effect = "workspace", timeout_secs = 10 }

[task.sleepy]
params = []
run = { worker = "shell", args = ["sleep", "37"], effect = "workspace", timeout_secs = 60 }
"#;

/// Starts a daemon with the test library (and `extra` flags).
fn start(sandbox: &Sandbox, extra: &[String]) -> Daemon {
    let dir = sandbox.path().join("methods");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("test.toml"), METHODS).unwrap();
    let mut flags = vec!["--methods-dir".to_owned(), dir.to_str().unwrap().to_owned()];
    flags.extend_from_slice(extra);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    sandbox.start_with(&flags)
}

/// An intent for `goal` on the shell worker, readable by everyone.
fn intent(sandbox: &Sandbox, goal: &str) -> PathBuf {
    let path = sandbox.path().join(format!("{goal}.toml"));
    fs::write(
        &path,
        format!("goal = \"{goal}\"\n[params]\n[allow]\nworkers = [\"shell\"]\n"),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    path
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `jitos --json ARGS` as root, which must succeed.
fn ok_json(sandbox: &Sandbox, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    json(&assert_success(&args.join(" "), &sandbox.jitos(&all)))
}

fn issue(sandbox: &Sandbox, args: &[&str]) -> u64 {
    let mut all = vec!["writ", "issue"];
    all.extend_from_slice(args);
    ok_json(sandbox, &all)["id"].as_u64().unwrap()
}

fn writ_of(sandbox: &Sandbox, id: u64) -> serde_json::Value {
    ok_json(sandbox, &["writ", "show", &id.to_string()])
}

/// The `writ.key` records of the log.
fn key_records(sandbox: &Sandbox) -> Vec<serde_json::Value> {
    let log = ok_json(sandbox, &["log"]);
    log.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "writ.key")
        .cloned()
        .collect()
}

// Goal: the key is made once, readable by the daemon alone, recorded with the first writ
// it signs and only then, and the same after a restart; `key show` prints what the
// ledger holds.
#[test]
fn the_key_is_private_recorded_once_and_kept_across_restarts() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let path = sandbox.data_dir().join("writ.key");
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the key file's mode");
    let shown = ok_json(&sandbox, &["key", "show"]);
    let public = shown["public"].as_str().unwrap().to_owned();
    assert_eq!(public.len(), 64, "{shown}");
    assert!(key_records(&sandbox).is_empty(), "no writ, no key record");
    issue(&sandbox, &["--to", "root"]);
    daemon.terminate();

    let daemon = sandbox.start();
    assert_eq!(
        ok_json(&sandbox, &["key", "show"])["public"],
        public.as_str()
    );
    issue(&sandbox, &["--to", "root"]);
    let keys = key_records(&sandbox);
    assert_eq!(
        keys.len(),
        1,
        "one writ.key record over two starts: {keys:?}"
    );
    assert!(
        keys[0]["summary"].as_str().unwrap().contains(&public),
        "{keys:?}"
    );
    daemon.terminate();
}

// Goal: only an admin issues a writ from nothing; its holder delegates narrower ones
// only, each refusal naming the field; revoking reaches every delegated writ. Method:
// root issues to nobody (an operator), who delegates.
#[test]
fn only_an_admin_issues_and_a_holder_delegates_only_narrower_writs() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, &grant_nobody(&sandbox, &["operator"]));
    let parent = issue(
        &sandbox,
        &[
            "--to",
            "nobody",
            "--workers",
            "shell",
            "--jobs",
            "5",
            "--paths",
            "src",
        ],
    );
    let given = writ_of(&sandbox, parent);
    assert_eq!(given["writ"]["subject"]["uid"], NOBODY);
    assert_eq!(given["state"], "InForce");

    let refused = jitos_as(&sandbox, NOBODY, &["writ", "issue", "--to", "nobody"]);
    let stderr = assert_failure("an operator issuing from nothing", &refused);
    assert!(stderr.contains("may not issue a writ"), "{stderr}");
    // Raising a budget grants more than was signed: an admin's act, even on one's own writ.
    let raise = [
        "writ",
        "raise",
        &parent.to_string(),
        "--jobs",
        "9",
        "--reason",
        "more",
    ];
    let stderr = assert_failure(
        "an operator raising a writ",
        &jitos_as(&sandbox, NOBODY, &raise),
    );
    assert!(stderr.contains("may not raise writ"), "{stderr}");
    assert_eq!(writ_of(&sandbox, parent)["budget"]["jobs"], 5);

    let from = parent.to_string();
    for (wider, field) in [
        (vec!["--jobs", "6"], "jobs"),
        (vec!["--workers", "shell,noop"], "workers"),
        (vec!["--paths", "lib"], "paths"),
        (vec!["--effect", "local"], "effect"),
        (vec!["--depth", "1"], "depth"),
    ] {
        let mut args = vec!["writ", "issue", "--to", "nobody", "--from", &from];
        args.extend_from_slice(&wider);
        let out = jitos_as(&sandbox, NOBODY, &args);
        let stderr = assert_failure(&format!("a delegation wider in {field}"), &out);
        assert!(
            stderr.contains(&format!("wider than writ {parent}")) && stderr.contains(field),
            "{field}: {stderr}"
        );
    }
    let out = jitos_as(
        &sandbox,
        NOBODY,
        &[
            "--json", "writ", "issue", "--to", "nobody", "--from", &from, "--jobs", "2", "--paths",
            "src/a",
        ],
    );
    let child = json(&assert_success("a narrower delegation", &out));
    let child_id = child["id"].as_u64().unwrap();
    assert_eq!(child["writ"]["parent"], parent);
    assert_eq!(child["writ"]["depth"], 0);

    let out = jitos_as(
        &sandbox,
        NOBODY,
        &["writ", "revoke", &from, "--reason", "mine"],
    );
    let stderr = assert_failure("revoking a writ one did not issue", &out);
    assert!(stderr.contains("may not revoke writ"), "{stderr}");
    assert_success(
        "revoke",
        &sandbox.jitos(&["writ", "revoke", &from, "--reason", "the work is done"]),
    );
    let list = ok_json(&sandbox, &["writ", "list"]);
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
    let shown = writ_of(&sandbox, child_id);
    assert_eq!(shown["state"], "Ended", "{shown}");
    daemon.terminate();
}

// Goal: a process under a writ is charged one job per dispatch, to its own writ and the
// writ it was delegated from; the dispatch the budget does not cover makes it wait for a
// person, and once an admin raises the budgets and answers retry it goes on; the charges
// and raises replay and survive a restart.
#[test]
fn a_process_is_charged_per_dispatch_and_waits_when_its_budget_is_spent() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, &[]);
    let writ = issue(
        &sandbox,
        &["--to", "root", "--workers", "shell", "--jobs", "2"],
    );
    let path = intent(&sandbox, "three_steps");
    let submitted = ok_json(
        &sandbox,
        &[
            "submit",
            path.to_str().unwrap(),
            "--writ",
            &writ.to_string(),
        ],
    );
    let process = submitted["process"].as_u64().unwrap();
    let own = submitted["writ"].as_u64().unwrap();
    let waiting = wait_for_process(&sandbox, process, "waiting");
    let why = waiting["detail"].as_str().unwrap();
    assert!(
        why.contains("may not run") && why.contains("budget is spent") && why.contains("jobs"),
        "{why}"
    );
    let parent = writ_of(&sandbox, writ);
    assert_eq!(parent["spent"]["jobs"], 2, "{parent}");
    assert_eq!(writ_of(&sandbox, own)["writ"]["parent"], writ);
    // The process's writ and the one it was delegated from are both charged: raise both.
    for id in [writ, own] {
        assert_success(
            "writ raise",
            &sandbox.jitos(&[
                "writ",
                "raise",
                &id.to_string(),
                "--jobs",
                "1",
                "--reason",
                "one more step",
            ]),
        );
    }
    assert_eq!(writ_of(&sandbox, writ)["budget"]["jobs"], 3);
    assert_success(
        "resume",
        &sandbox.jitos(&["resume", &process.to_string(), "--value", "\"retry\""]),
    );
    wait_for_process(&sandbox, process, "done");
    assert_eq!(writ_of(&sandbox, writ)["spent"]["jobs"], 3);
    assert_success("replay", &sandbox.jitos(&["replay", "--verify"]));
    daemon.terminate();

    let daemon = start(&sandbox, &[]);
    let parent = writ_of(&sandbox, writ);
    assert_eq!(parent["spent"]["jobs"], 3, "{parent}");
    assert_eq!(parent["budget"]["jobs"], 3, "{parent}");
    daemon.terminate();
}

// Goal: a submit without a writ runs under one derived from the submitter's roles and
// the intent, recorded as such; a submit under another user's writ is refused.
#[test]
fn a_plain_submit_gets_a_derived_writ_and_anothers_writ_is_refused() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, &grant_nobody(&sandbox, &["operator"]));
    let path = intent(&sandbox, "step");
    let out = jitos_as(
        &sandbox,
        NOBODY,
        &["--json", "submit", path.to_str().unwrap()],
    );
    let submitted = json(&assert_success("a plain submit", &out));
    let derived = writ_of(&sandbox, submitted["writ"].as_u64().unwrap());
    assert_eq!(
        derived["grant"]["Derived"]["roles"],
        serde_json::json!(["operator"])
    );
    assert_eq!(derived["writ"]["subject"]["uid"], NOBODY);
    assert_eq!(derived["writ"]["issuer"]["uid"], 0);
    assert_eq!(derived["writ"]["effect"], "workspace");
    assert_eq!(
        derived["writ"]["workers"],
        serde_json::json!({ "only": ["shell"] })
    );

    let roots = issue(&sandbox, &["--to", "root"]);
    let out = jitos_as(
        &sandbox,
        NOBODY,
        &[
            "submit",
            path.to_str().unwrap(),
            "--writ",
            &roots.to_string(),
        ],
    );
    let stderr = assert_failure("a submit under another's writ", &out);
    assert!(
        stderr.contains(&format!("may not submit a process under writ {roots}")),
        "{stderr}"
    );
    daemon.terminate();
}

// Goal: revoking a writ stops the process under it and kills its running job. Method: a
// job that sleeps 37 s; the revocation lands while it runs.
#[test]
fn revoking_a_writ_stops_its_running_job() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, &[]);
    let writ = issue(&sandbox, &["--to", "root"]);
    let path = intent(&sandbox, "sleepy");
    let submitted = ok_json(
        &sandbox,
        &[
            "submit",
            path.to_str().unwrap(),
            "--writ",
            &writ.to_string(),
        ],
    );
    let process = submitted["process"].as_u64().unwrap();
    let mut attempt = None;
    wait_until("the sleeping job runs", Duration::from_secs(30), || {
        let jobs = ok_json(&sandbox, &["job", "list"]);
        attempt = jobs["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["state"] == "Running")
            .and_then(|a| a["id"].as_u64());
        attempt.is_some()
    });
    // Dispatched is not yet started: the revocation must find the worker running.
    wait_until("the worker sleeps", Duration::from_secs(30), || {
        !processes_running("sleep 37").is_empty()
    });
    assert_success(
        "revoke",
        &sandbox.jitos(&["writ", "revoke", &writ.to_string(), "--reason", "stop it"]),
    );
    let ended = wait_for_process(&sandbox, process, "failed");
    let why = ended["detail"].as_str().unwrap();
    assert!(
        why.contains("was revoked") && why.contains("stop it"),
        "{why}"
    );
    let attempt = attempt.unwrap().to_string();
    // `job show` exits non-zero for an attempt that did not succeed: its JSON is read.
    let job = || {
        json(&stdout_text(
            &sandbox.jitos(&["--json", "job", "show", &attempt]),
        ))
    };
    wait_until("the job ends", Duration::from_secs(20), || {
        job()["state"] != "Running"
    });
    let shown = job();
    assert_eq!(shown["state"]["Failed"]["cause"], "cancelled", "{shown}");
    assert_success("replay", &sandbox.jitos(&["replay", "--verify"]));
    daemon.terminate();
}

// Goal: revoking a writ ends a process under it that waits for a person, too.
#[test]
fn revoking_a_writ_ends_a_process_waiting_for_a_person() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, &[]);
    let writ = issue(&sandbox, &["--to", "root", "--workers", "shell"]);
    let path = sandbox.path().join("approve.toml");
    fs::write(
        &path,
        "goal = \"approve_then_run\"\n[params]\ncommand = \"true\"\n[allow]\nworkers = [\"shell\"]\n",
    )
    .unwrap();
    let submitted = ok_json(
        &sandbox,
        &[
            "submit",
            path.to_str().unwrap(),
            "--writ",
            &writ.to_string(),
        ],
    );
    let process = submitted["process"].as_u64().unwrap();
    wait_for_process(&sandbox, process, "waiting");
    assert_success(
        "revoke",
        &sandbox.jitos(&[
            "writ",
            "revoke",
            &writ.to_string(),
            "--reason",
            "not any more",
        ]),
    );
    let ended = wait_for_process(&sandbox, process, "failed");
    let why = ended["detail"].as_str().unwrap();
    assert!(
        why.contains("was revoked") && why.contains("not any more"),
        "{why}"
    );
    assert_success("replay", &sandbox.jitos(&["replay", "--verify"]));
    daemon.terminate();
}
