//! Two runs compared: each process records the environment it was submitted into, and
//! `jitos diff` shows what differs between two of them — plans, jobs, files changed in
//! the system, and environments.
#![allow(clippy::unwrap_used)]

use std::fs;

use jitos_system_tests::{assert_failure, assert_success, wait_for_process, Sandbox};
use serde_json::{json, Value};

const METHODS: &str = r#"
[task.write_word]
params = ["word"]
run = { worker = "shell", args = ["sh", "-c", "echo {word} > word.txt"], effect = "workspace", timeout_secs = 30, gate = true }
"#;

/// Submits `write_word` with `word` and waits for its end; its id.
fn run_word(sandbox: &Sandbox, word: &str) -> u64 {
    let path = sandbox.path().join(format!("{word}.toml"));
    fs::write(
        &path,
        format!(
            "goal = \"write_word\"\n[params]\nword = {word:?}\n[allow]\nworkers = [\"shell\"]\n"
        ),
    )
    .unwrap();
    let submitted = sandbox.jitos_json(&["submit", path.to_str().unwrap()]);
    let id = submitted["process"].as_u64().unwrap();
    wait_for_process(sandbox, id, "done");
    id
}

/// The entry `name` of a comparison's list `items`.
fn item<'a>(items: &'a Value, name: &str) -> &'a Value {
    items
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {items}"))
}

// Goal: a process records the environment it was submitted into, and `jitos diff` names
// what differs between two runs and only that: the settings of the daemon each ran under,
// the file each wrote, the plans (their parameters); not the daemon's version, the method
// library or the shell worker's binary, which were the same. Method: one intent run twice
// with another word, the daemon restarted with other worker slots in between.
#[test]
fn two_runs_compared_show_what_differs() {
    let sandbox = Sandbox::new();
    let methods = sandbox.path().join("methods");
    fs::create_dir_all(&methods).unwrap();
    fs::write(methods.join("test.toml"), METHODS).unwrap();
    let methods = methods.to_str().unwrap();

    let daemon = sandbox.start_with(&["--methods-dir", methods]);
    let a = run_word(&sandbox, "one");
    drop(daemon);
    let _daemon = sandbox.start_with(&["--methods-dir", methods, "--worker-slots", "2"]);
    let b = run_word(&sandbox, "two");

    let inspected = assert_success("inspect", &sandbox.jitos(&["inspect", &a.to_string()]));
    assert!(
        inspected.contains("environment:") && inspected.contains("worker shell (built in): "),
        "{inspected}"
    );

    let compared = assert_success(
        "diff --json",
        &sandbox.jitos(&["--json", "diff", &a.to_string(), &b.to_string()]),
    );
    let compared: Value = serde_json::from_str(&compared).unwrap();
    assert_eq!(compared["a"]["summary"]["id"], a);
    assert_eq!(compared["b"]["summary"]["status"], "done");
    assert_eq!(compared["a"]["environment_recorded"], true);

    let environment = &compared["environment"];
    let settings = item(environment, "settings");
    assert_ne!(settings["a"], settings["b"], "{settings}");
    for same in [
        "jitosd version",
        "method library",
        "worker shell (built in)",
        "policy",
    ] {
        let entry = item(environment, same);
        assert_eq!(entry["a"], entry["b"], "{entry}");
        assert!(entry["a"].is_string(), "{entry}");
    }

    let word = item(&compared["files"], "word.txt");
    let (in_a, in_b) = (word["a"].as_str().unwrap(), word["b"].as_str().unwrap());
    // B ran after A had written the file into the system.
    assert!(
        in_a.starts_with("added ") && in_b.starts_with("modified "),
        "{word}"
    );
    assert_ne!(in_a[6..], in_b[9..], "other words, other contents");

    let jobs = compared["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["a"]["state"], json!({ "done": { "value": null } }));
    assert_eq!(jobs[0]["kind"], json!({ "run": { "worker": "shell" } }));
    assert_eq!(jobs[0]["a"]["attempts"], 1);
    assert_eq!(jobs[0]["b"]["attempts"], 1);
    let plans = compared["plans_diff"].as_array().unwrap();
    assert!(
        plans.iter().any(|line| line
            .as_str()
            .unwrap()
            .starts_with("-plan 1 of 1 for write_word (word=\"one\")")),
        "{plans:?}"
    );

    let text = assert_success(
        "diff",
        &sandbox.jitos(&["diff", &a.to_string(), &b.to_string()]),
    );
    assert!(text.contains("* settings"), "{text}");
    assert!(text.contains("* word.txt"), "{text}");
    assert!(!text.contains("* worker shell"), "{text}");
    let entries = environment.as_array().unwrap().len();
    assert!(
        text.contains(&format!("environment: {} the same, 1 differ", entries - 1)),
        "{text}"
    );

    let missing = sandbox.jitos(&["diff", &a.to_string(), "999999"]);
    let said = assert_failure("diff with no such process", &missing);
    assert!(said.contains("no process 999999"), "{said}");
}
