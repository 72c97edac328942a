//! The `llm` worker through the real daemon against a real chat-completions server on
//! 127.0.0.1 (`ChatServer`, scripted): tool calls and streamed chunks patch a project, a
//! 429 and a 500 are waited out and retried, a hang, malformed JSON and a tool loop past
//! its bound fail the job with a reason, a failed test is fed back to the model in the
//! next round, and a replay of the whole store calls the server zero times.
#![allow(clippy::unwrap_used)]

use std::fs;

use jitos_system_tests::{
    assert_success, wait_for_process, ChatServer, Reply, Sandbox, USAGE_COMPLETION_TOKENS,
    USAGE_PROMPT_TOKENS,
};
use serde_json::{json, Value};

const CALC: &str = "add() {\n  echo $(( $1 - $2 ))\n}\n";
const TEST: &str = "#!/bin/sh\n. ./calc.sh\ngot=$(add 2 3)\nif [ \"$got\" != 5 ]; then\n  echo \"FAIL: add 2 3 gave $got, want 5\"\n  exit 1\nfi\necho ok\n";
const SECRET: &str = "sk-llm-test-9b1d";

/// The method library: one model step, and one fed back by the test.
fn methods(url: &str) -> String {
    format!(
        r#"
[task.llm_fix]
params = ["turns", "stream"]
run = {{ worker = "llm", effect = "workspace", timeout_secs = 60, args = ["--endpoint", "{url}", "--model", "m", "--key-secret", "KEY", "--task", "make add add", "--max-turns", "{{turns}}", "--stream={{stream}}"] }}

[task.llm_quick]
params = []
run = {{ worker = "llm", effect = "workspace", timeout_secs = 4, args = ["--endpoint", "{url}", "--model", "m", "--task", "make add add"] }}

[task.fix_until_green]
params = []

[[task.fix_until_green.method]]
name = "patch_then_test"
steps = [{{ task = "llm_patch", feedback_from = "test", rounds = 1 }}, {{ task = "test" }}]

[task.llm_patch]
params = []
run = {{ worker = "llm", effect = "workspace", timeout_secs = 60, args = ["--endpoint", "{url}", "--model", "m", "--task", "make the test pass", "--feedback", "sh test.sh is the test"] }}

[task.test]
params = []
run = {{ worker = "shell", args = ["sh", "test.sh"], effect = "workspace", timeout_secs = 30, gate = true }}
"#
    )
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A daemon metering `server`'s endpoint, a project whose test fails, the secret `KEY`,
/// and a writ for the model's origin with `budget`; the writ.
fn start(
    sandbox: &Sandbox,
    server: &ChatServer,
    budget: &str,
) -> (jitos_system_tests::Daemon, u64) {
    let dir = sandbox.path().join("methods");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("llm.toml"), methods(&server.base_url())).unwrap();
    let models = sandbox.path().join("models.toml");
    fs::write(
        &models,
        format!("[[endpoint]]\nurl = \"{}\"\n", server.base_url()),
    )
    .unwrap();
    let daemon = sandbox.start_with(&[
        "--methods-dir",
        dir.to_str().unwrap(),
        "--models",
        models.to_str().unwrap(),
    ]);
    let project = sandbox.path().join("project");
    fs::create_dir_all(&project).unwrap();
    fs::write(project.join("calc.sh"), CALC).unwrap();
    fs::write(project.join("test.sh"), TEST).unwrap();
    assert_success(
        "import",
        &sandbox.jitos(&["tree", "import", project.to_str().unwrap()]),
    );
    assert_success(
        "secret add",
        &sandbox.jitos_with_stdin(&["secret", "add", "KEY"], format!("{SECRET}\n").as_bytes()),
    );
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::current())
        .unwrap()
        .unwrap()
        .name;
    let egress = format!("POST http://{}", server.addr());
    let out = sandbox.jitos(&[
        "--json",
        "writ",
        "issue",
        "--to",
        &user,
        "--workers",
        "llm,shell",
        "--secrets",
        "KEY",
        "--egress",
        &egress,
        "--budget",
        budget,
    ]);
    let writ = json_of(&assert_success("writ issue", &out))["id"]
        .as_u64()
        .unwrap();
    (daemon, writ)
}

fn submit(sandbox: &Sandbox, goal: &str, params: &str, writ: u64) -> u64 {
    let path = sandbox.path().join(format!("{goal}.toml"));
    fs::write(
        &path,
        format!("goal = \"{goal}\"\n[params]\n{params}\n[allow]\nworkers = [\"llm\", \"shell\"]\n"),
    )
    .unwrap();
    let out = sandbox.jitos(&[
        "--json",
        "submit",
        path.to_str().unwrap(),
        "--writ",
        &writ.to_string(),
    ]);
    json_of(&assert_success("submit", &out))["process"]
        .as_u64()
        .unwrap()
}

fn checked_out_calc(sandbox: &Sandbox) -> String {
    let checkout = sandbox.path().join(format!("checkout-{}", rand_suffix()));
    assert_success(
        "checkout",
        &sandbox.jitos(&["tree", "checkout", checkout.to_str().unwrap()]),
    );
    fs::read_to_string(checkout.join("calc.sh")).unwrap()
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn spent_tokens(sandbox: &Sandbox, writ: u64) -> Value {
    let shown = json_of(&assert_success(
        "writ show",
        &sandbox.jitos(&["--json", "writ", "show", &writ.to_string()]),
    ));
    shown["spent"]["counters"]["tokens"].clone()
}

const FIX: (&str, &str) = ("$1 - $2", "$1 + $2");

fn patch() -> Value {
    json!({ "path": "calc.sh", "old": FIX.0, "new": FIX.1 })
}

// Goal: a model's tool calls, one streamed, patch the project through the daemon: each
// call carries the secret the daemon filled in and an idempotency key of its own, its
// tokens are charged, the patch collapses, and a replay of the store calls the server
// zero times. Method: the server's requests, the checkout, the writ and `replay --verify`.
#[test]
fn the_model_patches_the_project_and_a_replay_calls_no_server() {
    let sandbox = Sandbox::new();
    let server = ChatServer::start(vec![
        Reply::tool_calls(&[("read_file", json!({ "path": "calc.sh" }))]),
        Reply::streamed("", &[("apply_patch", patch())]),
        Reply::tool_calls(&[("finish", json!({ "summary": "add adds" }))]),
    ]);
    let (_daemon, writ) = start(&sandbox, &server, "tokens=1000");
    let process = submit(
        &sandbox,
        "llm_fix",
        "turns = \"8\"\nstream = \"true\"",
        writ,
    );
    wait_for_process(&sandbox, process, "done");
    assert!(checked_out_calc(&sandbox).contains(FIX.1));
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let mut keys: Vec<&str> = requests
        .iter()
        .map(|r| r.header("idempotency-key").unwrap())
        .collect();
    for request in &requests {
        assert_eq!(
            request.header("authorization").map(str::to_owned),
            Some(format!("Bearer {SECRET}"))
        );
        assert_eq!(request.json()["stream"], true, "{}", request.json());
    }
    keys.dedup();
    assert_eq!(keys.len(), 3, "each call has a key of its own");
    let per_call = USAGE_PROMPT_TOKENS + USAGE_COMPLETION_TOKENS;
    assert_eq!(spent_tokens(&sandbox, writ), 3 * per_call);

    assert_success("replay", &sandbox.jitos(&["replay", "--verify"]));
    assert_success("verify", &sandbox.jitos(&["verify"]));
    assert_eq!(server.request_count(), 3, "the replay called the server");
}

// Goal: a 429 is waited out for its Retry-After and a 500 retried, then the patch lands;
// neither is charged.
// Method: the scripted failures come first; the process still ends done, after 5 calls.
#[test]
fn rate_limits_and_server_errors_are_retried() {
    let sandbox = Sandbox::new();
    let server = ChatServer::start(vec![
        Reply::rate_limited(1),
        Reply::server_error(),
        Reply::tool_calls(&[("apply_patch", patch())]),
        Reply::tool_calls(&[("finish", json!({ "summary": "done" }))]),
    ]);
    // Only the two answered calls are charged: a 429 or a 500 did no work.
    let per_call = USAGE_PROMPT_TOKENS + USAGE_COMPLETION_TOKENS;
    let (_daemon, writ) = start(&sandbox, &server, &format!("tokens={}", 2 * per_call));
    let process = submit(
        &sandbox,
        "llm_fix",
        "turns = \"4\"\nstream = \"false\"",
        writ,
    );
    wait_for_process(&sandbox, process, "done");
    assert!(checked_out_calc(&sandbox).contains(FIX.1));
    assert_eq!(server.request_count(), 4);
    let requests = server.requests();
    assert_ne!(
        requests[0].header("idempotency-key"),
        requests[1].header("idempotency-key"),
        "a retry is a call of its own"
    );
    assert_eq!(spent_tokens(&sandbox, writ), 2 * per_call);
}

// Goal: a hang past the deadline, malformed JSON and a tool loop past the bound each fail
// the job with a reason that says which, and the project is unchanged. Method: one
// process each, its summary's detail.
#[test]
fn a_hang_malformed_json_and_a_loop_past_the_bound_fail_with_a_reason() {
    let sandbox = Sandbox::new();
    let loop_call = || Reply::tool_calls(&[("read_file", json!({ "path": "calc.sh" }))]);
    let server = ChatServer::start(vec![
        Reply::Hang,
        Reply::malformed_json(),
        loop_call(),
        loop_call(),
    ]);
    let (_daemon, writ) = start(&sandbox, &server, "tokens=1000");
    for (goal, params, words) in [
        ("llm_quick", "", "no whole response"),
        (
            "llm_fix",
            "turns = \"2\"\nstream = \"false\"",
            "not valid JSON",
        ),
        (
            "llm_fix",
            "turns = \"2\"\nstream = \"false\"",
            "did not finish within 2 turns",
        ),
    ] {
        let process = submit(&sandbox, goal, params, writ);
        let summary = wait_for_process(&sandbox, process, "failed");
        let detail = summary["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(words), "{goal}: {summary}");
    }
    assert!(
        checked_out_calc(&sandbox).contains(FIX.0),
        "a failed job changed the project"
    );
    assert_success("verify", &sandbox.jitos(&["verify"]));
}

// Goal: "ask the model for a patch, run the tests, feed the failure back" is a method: the
// model's first patch fails the test, the next call carries the test's output, and its
// second patch passes. Method: the second round's request body, the checkout.
#[test]
fn a_failed_test_is_fed_back_to_the_model() {
    let sandbox = Sandbox::new();
    let server = ChatServer::start(vec![
        Reply::tool_calls(&[(
            "apply_patch",
            json!({ "path": "calc.sh", "old": FIX.0, "new": "$1 * $2" }),
        )]),
        Reply::tool_calls(&[("finish", json!({ "summary": "multiplied" }))]),
        Reply::tool_calls(&[(
            "apply_patch",
            json!({ "path": "calc.sh", "old": "$1 * $2", "new": FIX.1 }),
        )]),
        Reply::tool_calls(&[("finish", json!({ "summary": "added" }))]),
    ]);
    let (_daemon, writ) = start(&sandbox, &server, "tokens=1000");
    let process = submit(&sandbox, "fix_until_green", "", writ);
    wait_for_process(&sandbox, process, "done");
    assert!(checked_out_calc(&sandbox).contains(FIX.1));
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    let first = String::from_utf8_lossy(&requests[0].body).into_owned();
    let round = String::from_utf8_lossy(&requests[2].body).into_owned();
    assert!(!first.contains("gave 6"), "the first call knew the failure");
    assert!(
        round.contains("FAIL: add 2 3 gave 6, want 5"),
        "the second round's call lacks the test's output: {round}"
    );
    assert_eq!(server.request_count(), 4);
}

// Goal: `jitos demo --model URL` makes the bundled project's test pass with patches the
// model writes: every lane's one call patches and finishes, one lane collapses, the
// fixed test passes, each call is recorded, and a replay of the demo's store calls the
// server no more. Method: the demo against the scripted server; its output, the fixed
// project, `jitos replay --verify` on the kept store.
#[test]
fn the_demo_with_a_model_makes_the_tests_pass() {
    let sandbox = Sandbox::new();
    let server = ChatServer::start(vec![Reply::fix_demo_calc(), Reply::fix_demo_calc()]);
    let dir = sandbox.data_dir().to_string_lossy().into_owned();
    let out = sandbox.jitos_ok(&[
        "demo",
        "--dir",
        &dir,
        "--model",
        &server.base_url(),
        "--model-name",
        "scripted",
    ]);
    assert!(out.contains("the model may be asked"), "{out}");
    let lanes: Vec<&str> = out.lines().filter(|l| l.contains("its test:")).collect();
    assert_eq!(lanes.len(), 2, "{out}");
    assert_eq!(
        lanes.iter().filter(|l| l.contains("collapsed")).count(),
        1,
        "{out}"
    );
    assert!(out.contains("job.fetch"), "{out}");
    let fixed = sandbox.data_dir().join("fixed");
    let test = std::process::Command::new("sh")
        .arg("test.sh")
        .current_dir(&fixed)
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "{}",
        String::from_utf8_lossy(&test.stdout)
    );
    let calls = server.request_count();
    assert!((1..=2).contains(&calls), "{calls} calls");
    for request in server.requests() {
        assert_eq!(request.json()["model"], "scripted");
    }
    // The demo replayed its store before it ended; a daemon opened on it replays again.
    assert!(out.contains("every scheduler decision"), "{out}");
    let _daemon = sandbox.start_with(&[]);
    assert_success("replay", &sandbox.jitos(&["replay", "--verify"]));
    assert_eq!(server.request_count(), calls, "a replay called the server");
}
