//! The policy through the real daemon and CLI: a policy holds a job for an approval and
//! denies another, each ruling recorded with its facts, rules and the policy's hash; the
//! policy in force is recorded once, and again only when it changes; `policy check` says
//! where a file is wrong; `policy simulate` lists exactly the recorded rulings a candidate
//! would change, and records nothing.
#![allow(clippy::unwrap_used)]

use std::{fs, os::unix::fs::PermissionsExt, path::PathBuf};

use jitos_system_tests::{
    assert_failure, assert_success, jitos_as, root_or_skip, wait_for_process, Daemon, Sandbox,
};

const APPROVER: u32 = 60001;

const METHODS: &str = r#"
[task.look]
params = []
run = { worker = "noop", args = [], effect = "none", timeout_secs = 10 }
"#;

/// Shell jobs need one approval; noop jobs are denied.
const POLICY: &str = r#"
default = "allow"

[[rule]]
name = "shell needs an approver"
at = "dispatch"
when = { worker = "shell" }
decide = { require = 1, from = "approver" }

[[rule]]
name = "no noop"
at = "dispatch"
when = { worker = "noop" }
decide = "deny"
"#;

/// Everything allowed, but still a policy: the candidate for `simulate`.
const ALLOW_ALL: &str = "default = \"allow\"\n";

fn write(sandbox: &Sandbox, name: &str, text: &str) -> PathBuf {
    let path = sandbox.path().join(name);
    fs::write(&path, text).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    path
}

/// A daemon ruling by `policy` (none: no `--policy`), with `nogroup` as approvers.
fn start(sandbox: &Sandbox, policy: Option<&str>) -> Daemon {
    let access = write(
        sandbox,
        "access.toml",
        "[socket]\ngroup = \"nogroup\"\n\n[groups]\nnogroup = [\"approver\"]\n",
    );
    let methods = sandbox.path().join("methods");
    fs::create_dir_all(&methods).unwrap();
    fs::write(methods.join("test.toml"), METHODS).unwrap();
    fs::set_permissions(sandbox.path(), fs::Permissions::from_mode(0o711)).unwrap();
    let mut flags = vec![
        "--access".to_owned(),
        access.display().to_string(),
        "--methods-dir".to_owned(),
        methods.display().to_string(),
    ];
    if let Some(policy) = policy {
        flags.push("--policy".to_owned());
        flags.push(write(sandbox, "policy.toml", policy).display().to_string());
    }
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    sandbox.start_with(&flags)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn submit(sandbox: &Sandbox, goal: &str, params: &str, worker: &str) -> u64 {
    let path = write(
        sandbox,
        &format!("{goal}.toml"),
        &format!("goal = \"{goal}\"\n[params]\n{params}\n[allow]\nworkers = [\"{worker}\"]\n"),
    );
    let out = assert_success(
        "submit",
        &sandbox.jitos(&["--json", "submit", path.to_str().unwrap()]),
    );
    json(&out)["process"].as_u64().unwrap()
}

/// The log's records of `kind`.
fn records_of(sandbox: &Sandbox, kind: &str) -> Vec<serde_json::Value> {
    let log = json(&assert_success("log", &sandbox.jitos(&["--json", "log"])));
    log.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == kind)
        .cloned()
        .collect()
}

// Goal: a job the policy holds waits for an approval, then runs; a job it denies fails
// with the rule that denied it; each ruling is recorded; `policy simulate` under a policy
// that allows everything lists exactly those two rulings and records nothing; the ledger
// replays.
#[test]
fn a_policy_holds_and_denies_jobs_and_simulation_lists_what_would_change() {
    if !root_or_skip("an approver's client is started with setuid") {
        return;
    }
    let sandbox = Sandbox::new();
    let _daemon = start(&sandbox, Some(POLICY));

    let held = submit(&sandbox, "run", "command = \"true\"", "shell");
    let waiting = wait_for_process(&sandbox, held, "waiting");
    let question = waiting["detail"].as_str().unwrap();
    assert!(
        question.contains("require 1 approval from approver")
            && question.contains("shell needs an approver"),
        "{question}"
    );
    assert_success(
        "approve",
        &jitos_as(&sandbox, APPROVER, &["approve", &held.to_string()]),
    );
    wait_for_process(&sandbox, held, "done");
    let shown = assert_success("inspect", &sandbox.jitos(&["inspect", &held.to_string()]));
    assert!(
        shown.contains("ruled: require 1 approval from approver (rule 1 \"shell needs an approver\") by policy"),
        "inspect shows the ruling and the policy: {shown}"
    );

    let denied = submit(&sandbox, "look", "", "noop");
    let failed = wait_for_process(&sandbox, denied, "failed");
    let why = failed["detail"].as_str().unwrap();
    assert!(
        why.contains("the policy denies it") && why.contains("no noop"),
        "{why}"
    );

    let rulings = records_of(&sandbox, "policy.decision");
    assert_eq!(rulings.len(), 2, "{rulings:?}");
    let hash = json(&assert_success(
        "show",
        &sandbox.jitos(&["--json", "policy", "show"]),
    ))["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    for ruling in &rulings {
        assert!(
            ruling["summary"].as_str().unwrap().contains(&hash[..12]),
            "each ruling names the policy: {ruling}"
        );
    }

    let head = records_of(&sandbox, "policy.decision").len();
    let candidate = write(&sandbox, "candidate.toml", ALLOW_ALL);
    let out = assert_success(
        "simulate",
        &sandbox.jitos(&["--json", "policy", "simulate", candidate.to_str().unwrap()]),
    );
    let simulated = json(&out);
    assert_eq!(simulated["rulings"], 2, "{simulated}");
    let changed: Vec<u64> = simulated["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["seq"].as_u64().unwrap())
        .collect();
    let recorded: Vec<u64> = rulings.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(changed, recorded, "{simulated}");
    assert!(
        simulated["changes"][1]["was"]
            .as_str()
            .unwrap()
            .contains("deny"),
        "{simulated}"
    );
    // The same policy changes nothing.
    let same = write(&sandbox, "same.toml", POLICY);
    let out = assert_success(
        "simulate the same",
        &sandbox.jitos(&["--json", "policy", "simulate", same.to_str().unwrap()]),
    );
    assert_eq!(json(&out)["changes"], serde_json::json!([]));
    assert_eq!(
        records_of(&sandbox, "policy.decision").len(),
        head,
        "simulate recorded nothing"
    );
    assert_success("replay", &sandbox.jitos(&["replay", "--verify"]));
}

// Goal: the policy in force is recorded when it changes and only then: the same policy
// over a restart records nothing; no policy after one records the allow-all policy; a
// rule for a point the daemon does not rule at stops the start; `policy check` says where
// a file is wrong.
#[test]
fn the_policy_in_force_is_recorded_when_it_changes_and_checked_at_its_line() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, None);
    assert!(records_of(&sandbox, "policy.load").is_empty());
    daemon.terminate();
    let daemon = start(&sandbox, Some(POLICY));
    assert_eq!(records_of(&sandbox, "policy.load").len(), 1);
    daemon.terminate();
    let daemon = start(&sandbox, Some(POLICY));
    assert_eq!(
        records_of(&sandbox, "policy.load").len(),
        1,
        "the same policy again"
    );
    daemon.terminate();
    let daemon = start(&sandbox, None);
    let loads = records_of(&sandbox, "policy.load");
    assert_eq!(loads.len(), 2, "{loads:?}");
    let shown = json(&assert_success(
        "show",
        &sandbox.jitos(&["--json", "policy", "show"]),
    ));
    assert_eq!(shown["default"], "allow", "{shown}");
    assert_eq!(shown["rules"], serde_json::json!([]), "{shown}");
    daemon.terminate();

    let submit_rule = write(
        &sandbox,
        "submit.toml",
        "default = \"allow\"\n[[rule]]\nname = \"at submit\"\nat = \"submit\"\ndecide = \"deny\"\n",
    );
    let out = sandbox.jitosd_until_exit(&["--policy", submit_rule.to_str().unwrap()]);
    let stderr = assert_failure("a rule at submit", &out);
    assert!(stderr.contains("does not rule at yet"), "{stderr}");

    let bad = write(
        &sandbox,
        "bad.toml",
        "default = \"allow\"\n[[rule]]\nname = \"x\"\ndecide = { require = 2, from = \"boss\" }\n",
    );
    let out = sandbox.jitos(&["policy", "check", bad.to_str().unwrap()]);
    let stderr = assert_failure("check a bad file", &out);
    assert!(
        stderr.contains("bad.toml:4:") && stderr.contains("boss"),
        "{stderr}"
    );
    let good = write(&sandbox, "good.toml", POLICY);
    let out = assert_success(
        "check a good file",
        &sandbox.jitos(&["policy", "check", good.to_str().unwrap()]),
    );
    assert!(out.contains("2 rules") && out.contains("no noop"), "{out}");
}
