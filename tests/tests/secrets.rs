//! Secrets through the real daemon, CLI and shell worker: a secret reaches the job of a
//! process whose writ names it, and no other; every byte the worker returns (its files,
//! its output, its failures) has the value replaced by `[secret:NAME]`; and the value is
//! in no record, snapshot, bundle or blob: the whole store on disk and an exported bundle
//! are searched for it.
#![allow(clippy::unwrap_used)]

use std::{fs, path::Path};

use jitos_system_tests::{assert_success, files_holding, wait_for_process, Daemon, Sandbox};

const METHODS: &str = r#"
[task.leak]
params = ["file"]
run = { worker = "shell", args = ["sh", "-c", "echo \"$JITOS_SECRET_TOKEN\" > {file}; echo \"out $JITOS_SECRET_TOKEN\"; echo \"err $JITOS_SECRET_TOKEN\" >&2"], effect = "workspace", timeout_secs = 30 }

[task.leak_and_fail]
params = []
run = { worker = "shell", args = ["sh", "-c", "echo \"err $JITOS_SECRET_TOKEN\" >&2; exit 3"], effect = "workspace", timeout_secs = 30, gate = true }
"#;

fn start(sandbox: &Sandbox) -> Daemon {
    let dir = sandbox.path().join("methods");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("test.toml"), METHODS).unwrap();
    sandbox.start_with(&["--methods-dir", dir.to_str().unwrap()])
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn submit(sandbox: &Sandbox, goal: &str, params: &str, writ: Option<u64>) -> u64 {
    let path = sandbox
        .path()
        .join(format!("{goal}-{}.toml", writ.is_some()));
    fs::write(
        &path,
        format!("goal = \"{goal}\"\n[params]\n{params}\n[allow]\nworkers = [\"shell\"]\n"),
    )
    .unwrap();
    let writ = writ.map(|w| w.to_string());
    let mut args = vec!["--json", "submit", path.to_str().unwrap()];
    if let Some(writ) = &writ {
        args.extend(["--writ", writ]);
    }
    json(&assert_success("submit", &sandbox.jitos(&args)))["process"]
        .as_u64()
        .unwrap()
}

// Goal: the job under a writ naming the secret sees it and the job under a writ without
// it does not; what both return, and a failing job's output, hold `[secret:TOKEN]` where
// the value was; and no byte of the store (records, snapshots, blobs) or of an exported
// bundle holds the value. Method: a value unique to this run, searched for in every file.
#[test]
fn a_secret_reaches_only_its_jobs_and_nothing_recorded_holds_it() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox);
    let value = format!(
        "tok-{:x}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
        std::process::id()
    );
    assert_success(
        "secret add",
        &sandbox.jitos_with_stdin(&["secret", "add", "TOKEN"], format!("{value}\n").as_bytes()),
    );
    let listed = sandbox.jitos_ok(&["secret", "list"]);
    assert_eq!(listed, "TOKEN\n");
    assert!(!listed.contains(&value));
    let mode = fs::metadata(sandbox.data_dir().join("secrets/TOKEN")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );

    let out = sandbox.jitos(&[
        "--json",
        "writ",
        "issue",
        "--to",
        "root",
        "--workers",
        "shell",
        "--secrets",
        "TOKEN",
    ]);
    let writ = json(&assert_success("writ issue", &out))["id"]
        .as_u64()
        .unwrap();
    let given = submit(&sandbox, "leak", "file = \"given.txt\"", Some(writ));
    wait_for_process(&sandbox, given, "done");
    let not_given = submit(&sandbox, "leak", "file = \"not-given.txt\"", None);
    wait_for_process(&sandbox, not_given, "done");
    let failing = submit(&sandbox, "leak_and_fail", "", Some(writ));
    wait_for_process(&sandbox, failing, "failed");

    let checkout = sandbox.path().join("checkout");
    assert_success(
        "checkout",
        &sandbox.jitos(&["tree", "checkout", checkout.to_str().unwrap()]),
    );
    assert_eq!(
        fs::read_to_string(checkout.join("given.txt")).unwrap(),
        "[secret:TOKEN]\n",
        "the job given the secret wrote it, and it was replaced"
    );
    assert_eq!(
        fs::read_to_string(checkout.join("not-given.txt")).unwrap(),
        "\n",
        "the job whose writ names no secret got none"
    );
    let log = sandbox.jitos_ok(&["--json", "log", "--limit", "10000"]);
    assert!(!log.contains(&value));
    let jobs = sandbox.jitos_ok(&["--json", "job", "list", "--all"]);
    assert!(!jobs.contains(&value), "{jobs}");

    assert_success("snapshot", &sandbox.jitos(&["snapshot"]));
    let bundle = sandbox.path().join("all.bundle");
    assert_success(
        "export",
        &sandbox.jitos(&["export", bundle.to_str().unwrap()]),
    );
    daemon.terminate();
    let secrets_dir = sandbox.data_dir().join("secrets");
    let mut found = files_holding(sandbox.data_dir(), value.as_bytes(), &secrets_dir);
    found.extend(files_holding(
        sandbox.path(),
        value.as_bytes(),
        sandbox.data_dir(),
    ));
    assert!(found.is_empty(), "the value is in {found:?}");
    // The search can find it: the secret's own file holds it.
    let found = files_holding(&secrets_dir, value.as_bytes(), Path::new("/nonexistent"));
    assert_eq!(found.len(), 1, "{found:?}");
}
