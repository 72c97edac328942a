//! The policy at the `dispatch` point for jobs outside any process, through the real
//! daemon and CLI and `jitos mcp`: a job the policy denies is refused naming the rule,
//! with its ruling recorded and no dispatch; a job it allows runs, its ruling recorded
//! right before its dispatch; a job it would hold for approvals is refused with the advice
//! to run it in a process; an agent's `job_run` under a denying policy is a tool error
//! naming the rule; `--writ` must name a writ of the user's that admits the job, and its
//! budgets reach the ruling. Every ledger replays.
#![allow(clippy::unwrap_used)]

use std::{fs, os::unix::fs::PermissionsExt, process::Output};

use jitos_proto::RecordView;
use jitos_system_tests::{
    all_records, assert_failure, assert_success, Daemon, McpClient as Mcp, Sandbox,
};
use serde_json::{json, Value};

/// Shell jobs are denied at dispatch; everything else is allowed.
const NO_SHELL: &str = r#"
default = "allow"

[[rule]]
name = "no shell outside processes"
at = "dispatch"
when = { worker = "shell" }
decide = "deny"
"#;

/// The same rule with no `at`: it applies at every point, dispatch included.
const NO_SHELL_ANYWHERE: &str = r#"
default = "allow"

[[rule]]
name = "no shell at all"
when = { worker = "shell" }
decide = "deny"
"#;

/// Allows shell jobs (the default); only noop jobs are denied.
const NO_NOOP: &str = r#"
default = "allow"

[[rule]]
name = "no noop"
at = "dispatch"
when = { worker = "noop" }
decide = "deny"
"#;

/// Shell jobs need an approver at dispatch.
const SHELL_NEEDS_APPROVAL: &str = r#"
default = "allow"

[[rule]]
name = "shell needs a reviewer"
at = "dispatch"
when = { worker = "shell" }
decide = { require = 1, from = "approver" }
"#;

/// A job under a writ with fewer than 20 jobs left is denied; without a writ no budget is
/// bounded and the rule never fires.
const THIN_WRITS: &str = r#"
default = "allow"

[[rule]]
name = "thin writs run nothing"
at = "dispatch"
when = { budget_below = { jobs = 20 } }
decide = "deny"
"#;

/// A daemon ruling by `policy`.
fn start(sandbox: &Sandbox, policy: &str) -> Daemon {
    let path = sandbox.path().join("policy.toml");
    fs::write(&path, policy).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    sandbox.start_with(&["--policy", path.to_str().unwrap()])
}

fn records(daemon: &Daemon) -> Vec<RecordView> {
    all_records(&mut daemon.client())
}

fn of_kind<'a>(records: &'a [RecordView], kind: &str) -> Vec<&'a RecordView> {
    records.iter().filter(|r| r.kind == kind).collect()
}

/// The hash of the policy in force, as `jitos policy show` prints it, cut to the length
/// messages show.
fn short_hash(sandbox: &Sandbox) -> String {
    let shown = sandbox.jitos_json(&["policy", "show"]);
    shown["hash"].as_str().unwrap()[..12].to_owned()
}

/// `jitos job run shell --new-sws [--writ W] -- true`.
fn run_shell(sandbox: &Sandbox, writ: Option<u64>) -> Output {
    let writ = writ.map(|w| w.to_string());
    let mut args = vec!["job", "run", "shell", "--new-sws"];
    if let Some(writ) = &writ {
        args.extend(["--writ", writ]);
    }
    args.extend(["--", "true"]);
    sandbox.jitos(&args)
}

/// Asserts `output` failed and returns its standard error.
#[track_caller]
fn refused(what: &str, output: &Output) -> String {
    assert_failure(what, output);
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The seq a refusal says its ruling was recorded at.
fn recorded_at(message: &str) -> u64 {
    let (_, after) = message
        .split_once("recorded at seq ")
        .unwrap_or_else(|| panic!("no seq in {message}"));
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

fn replays(sandbox: &Sandbox) {
    assert_success("verify", &sandbox.jitos(&["verify"]));
    let out = assert_success("replay --verify", &sandbox.jitos(&["replay", "--verify"]));
    assert!(!out.is_empty(), "replay printed nothing");
}

// Goal: a deny rule on the shell worker at dispatch (and one with no `at`) fences
// `jitos job run`: the CLI fails with the rule, the policy and the seq of the recorded
// ruling; the log holds that `job.ruling`, whose summary names the rule, and no
// `job.dispatch`; the ledger verifies and replays.
#[test]
fn a_denied_job_names_its_rule_and_is_never_dispatched() {
    for (policy, rule) in [
        (NO_SHELL, "rule 1 \"no shell outside processes\""),
        (NO_SHELL_ANYWHERE, "rule 1 \"no shell at all\""),
    ] {
        let sandbox = Sandbox::new();
        let daemon = start(&sandbox, policy);
        let hash = short_hash(&sandbox);
        let err = refused("the denied shell job", &run_shell(&sandbox, None));
        assert!(
            err.contains(&format!(
                "the policy denies this job: deny ({rule}) by policy {hash}"
            )),
            "{err}"
        );

        let all = records(&daemon);
        let rulings = of_kind(&all, "job.ruling");
        assert_eq!(rulings.len(), 1, "{all:?}");
        assert_eq!(rulings[0].seq, recorded_at(&err), "{err}");
        assert!(rulings[0].summary.contains(rule), "{:?}", rulings[0]);
        assert!(
            rulings[0].summary.starts_with("a shell job in workspace"),
            "{:?}",
            rulings[0]
        );
        assert!(of_kind(&all, "job.dispatch").is_empty(), "{all:?}");
        let log = sandbox.jitos_ok(&["log"]);
        assert!(log.contains("job.ruling") && log.contains(rule), "{log}");
        assert!(!log.contains("job.dispatch"), "{log}");
        let jobs = sandbox.jitos_json(&["job", "list"]);
        assert!(
            !jobs.to_string().contains("\"shell\""),
            "a shell attempt is listed: {jobs}"
        );
        replays(&sandbox);
        daemon.terminate();
    }
}

// Goal: under a policy that allows it, the same job runs and succeeds, and the log holds
// its `job.ruling` right before its `job.dispatch` (the attempt). The policy's other rule
// still fences its own worker. The system holds a file, so the new workspace has its root
// directory and the dispatch needs no record of its own before it.
#[test]
fn an_allowed_job_runs_with_its_ruling_right_before_its_dispatch() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, NO_NOOP);
    let project = sandbox.path().join("project");
    fs::create_dir_all(&project).unwrap();
    fs::write(project.join("README"), "a project\n").unwrap();
    sandbox.jitos_ok(&["tree", "import", project.to_str().unwrap()]);
    let out = assert_success(
        "the shell job",
        &sandbox.jitos(&["--json", "job", "run", "shell", "--new-sws", "--", "true"]),
    );
    let view: Value = serde_json::from_str(&out).unwrap();
    let attempt = view["id"].as_u64().unwrap();
    assert_eq!(view["state"]["Done"]["exit_status"], json!(0), "{view}");

    let all = records(&daemon);
    let dispatch = all.iter().position(|r| r.seq == attempt).unwrap();
    assert_eq!(all[dispatch].kind, "job.dispatch", "{:?}", all[dispatch]);
    let ruling = &all[dispatch - 1];
    assert_eq!(ruling.kind, "job.ruling", "{ruling:?}");
    assert_eq!(ruling.seq + 1, attempt);
    assert!(
        ruling.summary.contains("a shell job") && ruling.summary.contains("allow (the default)"),
        "{ruling:?}"
    );
    assert_eq!(of_kind(&all, "job.ruling").len(), 1);

    let err = refused(
        "the noop job",
        &sandbox.jitos(&["job", "run", "noop", "--new-sws"]),
    );
    assert!(
        err.contains("the policy denies this job: deny (rule 1 \"no noop\")"),
        "{err}"
    );
    let all = records(&daemon);
    assert_eq!(of_kind(&all, "job.ruling").len(), 2);
    assert_eq!(of_kind(&all, "job.dispatch").len(), 1);
    replays(&sandbox);
    daemon.terminate();
}

// Goal: a job the policy would hold for approvals is refused, not left hanging: the
// message says it is held, by which rule, and to run it as a step of a process; the
// ruling is recorded, and nothing is dispatched.
#[test]
fn a_job_the_policy_would_hold_is_refused_with_advice_to_use_a_process() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, SHELL_NEEDS_APPROVAL);
    let err = refused("the held shell job", &run_shell(&sandbox, None));
    assert!(
        err.contains("the policy holds this job for approvals (require 1 approval from approver (rule 1 \"shell needs a reviewer\")"),
        "{err}"
    );
    assert!(
        err.contains("run it as a step of a process (`jitos submit`)"),
        "{err}"
    );
    let all = records(&daemon);
    let rulings = of_kind(&all, "job.ruling");
    assert_eq!(rulings.len(), 1, "{all:?}");
    assert_eq!(rulings[0].seq, recorded_at(&err));
    assert!(of_kind(&all, "job.dispatch").is_empty(), "{all:?}");
    replays(&sandbox);
    daemon.terminate();
}

// Goal: `jitos job run --writ`: someone else's writ and one's own that does not grant
// the worker are refused and record nothing; under one's own admitting writ the ruling
// sees its budgets, so a rule on budgets denies the job it lets run without the writ.
#[test]
fn a_job_under_a_writ_is_checked_against_it_and_ruled_on_its_budgets() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, THIN_WRITS);
    let issue = |args: &[&str]| {
        let mut all = vec!["writ", "issue"];
        all.extend_from_slice(args);
        sandbox.jitos_json(&all)["id"].as_u64().unwrap()
    };
    let nobodys = issue(&["--to", "nobody", "--workers", "shell", "--jobs", "5"]);
    let noop_only = issue(&["--to", "root", "--workers", "noop", "--jobs", "5"]);
    let thin = issue(&["--to", "root", "--workers", "shell", "--jobs", "5"]);
    let before = records(&daemon).len();

    let err = refused("under nobody's writ", &run_shell(&sandbox, Some(nobodys)));
    assert!(
        err.contains(&format!("writ {nobodys} was not granted to root")),
        "{err}"
    );
    let err = refused("under a noop writ", &run_shell(&sandbox, Some(noop_only)));
    assert!(
        err.contains(&format!("writ {noop_only} does not allow it"))
            && err.contains("does not grant the worker"),
        "{err}"
    );
    let after = records(&daemon);
    // Each refused run opened its workspace (`--new-sws`) and discarded it: that is all
    // it recorded.
    let kinds: Vec<&str> = after[before..].iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["sws.create", "sws.discard", "sws.create", "sws.discard"],
        "{after:?}"
    );

    let err = refused("under a thin writ", &run_shell(&sandbox, Some(thin)));
    assert!(
        err.contains("the policy denies this job: deny (rule 1 \"thin writs run nothing\")"),
        "{err}"
    );
    assert_success("without a writ", &run_shell(&sandbox, None));
    let all = records(&daemon);
    assert_eq!(of_kind(&all, "job.ruling").len(), 2);
    assert_eq!(of_kind(&all, "job.dispatch").len(), 1);
    replays(&sandbox);
    daemon.terminate();
}

// Goal: a job into a workspace that is not open is refused as it is without a policy —
// "workspace N is not open", nothing recorded — whatever the policy would rule on it.
#[test]
fn a_denied_job_into_a_workspace_that_is_not_open_records_nothing() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, NO_SHELL);
    let before = records(&daemon).len();
    let err = refused(
        "a job into workspace 999",
        &sandbox.jitos(&["job", "run", "shell", "--sws", "999", "--", "true"]),
    );
    assert!(err.contains("workspace 999 is not open"), "{err}");
    assert_eq!(records(&daemon).len(), before, "{:?}", records(&daemon));
    daemon.terminate();
}

// Goal: an agent's `job_run` is ruled on as `jitos job run` is: under a policy denying
// shell it is a tool error naming the rule, with the ruling recorded and nothing
// dispatched; the server goes on, and a worker the policy allows runs. Under `--writ`, a
// writ that does not grant the worker is a tool error too, recording nothing.
#[test]
fn an_agents_denied_job_run_is_a_tool_error_naming_the_rule() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, NO_SHELL);
    let mut mcp = Mcp::start(&sandbox, None, &[]);
    mcp.initialize();
    let sws = mcp.tool("workspace_open", json!({}))["workspace"]
        .as_u64()
        .unwrap();
    let text = mcp.tool_error("job_run", json!({ "workspace": sws, "command": ["true"] }));
    assert!(
        text.contains("the policy denies this job: deny (rule 1 \"no shell outside processes\")"),
        "{text}"
    );
    let all = records(&daemon);
    let rulings = of_kind(&all, "job.ruling");
    assert_eq!(rulings.len(), 1, "{all:?}");
    assert_eq!(rulings[0].seq, recorded_at(&text), "{text}");
    assert!(of_kind(&all, "job.dispatch").is_empty(), "{all:?}");

    let ran = mcp.tool(
        "job_run",
        json!({ "workspace": sws, "worker": "noop", "command": ["look"] }),
    );
    assert_eq!(ran["ended"], json!("done"), "{ran}");
    assert_eq!(of_kind(&records(&daemon), "job.dispatch").len(), 1);
    drop(mcp);

    let writ = sandbox.jitos_json(&["writ", "issue", "--to", "root", "--workers", "shell"])["id"]
        .as_u64()
        .unwrap()
        .to_string();
    let mut mcp = Mcp::start(&sandbox, None, &["--writ", &writ]);
    mcp.initialize();
    let sws = mcp.tool("workspace_open", json!({}))["workspace"]
        .as_u64()
        .unwrap();
    let before = records(&daemon).len();
    let text = mcp.tool_error(
        "job_run",
        json!({ "workspace": sws, "worker": "noop", "command": ["look"] }),
    );
    assert!(
        text.contains(&format!("writ {writ} does not allow it")) && text.contains("noop"),
        "{text}"
    );
    assert_eq!(records(&daemon).len(), before, "a refusal recorded");
    drop(mcp);
    replays(&sandbox);
    daemon.terminate();
}
