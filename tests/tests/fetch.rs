//! `fetch` through the real daemon: a confined test worker asks for HTTP requests, and a
//! real HTTP server on 127.0.0.1 (`ChatServer`) answers. What the writ allows is sent with
//! its secret filled in by the daemon and recorded as `job.fetch` with the secret named,
//! never its value; what it does not allow is refused and recorded, and reaches no server;
//! a model call is metered into the writ's `tokens`, and once they are spent the next call
//! ends the job as failed by its budget; bodies that never end, never come or are too
//! large fail with a reason; and a replay of the store touches no server.
#![allow(clippy::unwrap_used)]

use std::{fs, os::unix::fs::PermissionsExt};

use jitos_proto::{AttemptState, PageRequest, Request, Response};
use jitos_system_tests::{
    assert_success, bin_path, call, files_holding, wait_for_process, ChatServer, Daemon, Reply,
    Sandbox, USAGE_COMPLETION_TOKENS, USAGE_PROMPT_TOKENS,
};
use serde_json::{json, Value};

const METHODS: &str = r#"
[task.fetch]
params = ["a"]
run = { worker = "fetch", args = ["{a}"], effect = "none", timeout_secs = 30 }

[task.fetch2]
params = ["a", "b"]
run = { worker = "fetch", args = ["{a}", "{b}"], effect = "none", timeout_secs = 30 }

[task.fetch_quick]
params = ["a"]
run = { worker = "fetch", args = ["{a}"], effect = "none", timeout_secs = 3 }

[task.plain_fetch]
params = ["a"]
run = { worker = "plainfetch", args = ["{a}"], effect = "none", timeout_secs = 30 }
"#;

const SECRET: &str = "sk-test-4f9e1c0b7a2d";

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Installs the fetch test worker as `name`, asking for `fetch` or not.
fn install_fetch_worker(sandbox: &Sandbox, name: &str, fetch: bool) {
    fs::set_permissions(sandbox.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let dir = sandbox.path().join(name);
    fs::create_dir_all(&dir).unwrap();
    fs::copy(bin_path("jitos-worker-fetch"), dir.join("fetch")).unwrap();
    let manifest = dir.join("worker.toml");
    fs::write(
        &manifest,
        format!(
            "name = \"{name}\"\nversion = \"0.1.0\"\nbinary = \"fetch\"\nsandbox_profile = \"pure\"\n\
             effect_class = \"none\"\ninput_schema = {{ type = \"bytes\" }}\nfetch = {fetch}\n"
        ),
    )
    .unwrap();
    assert_success(
        "worker install",
        &sandbox.jitos(&["worker", "install", manifest.to_str().unwrap()]),
    );
}

/// A daemon whose model table names `server`'s endpoint, with both fetch workers and the
/// secret `KEY` stored.
fn start(sandbox: &Sandbox, server: &ChatServer) -> Daemon {
    let methods = sandbox.path().join("methods");
    fs::create_dir_all(&methods).unwrap();
    fs::write(methods.join("fetch.toml"), METHODS).unwrap();
    let models = sandbox.path().join("models.toml");
    fs::write(
        &models,
        format!(
            "[[endpoint]]\nurl = \"{}\"\n[[price]]\nmodel = \"m\"\nprompt_millicents_per_mtok = 1000000\ncompletion_millicents_per_mtok = 2000000\n",
            server.base_url()
        ),
    )
    .unwrap();
    let daemon = sandbox.start_with(&[
        "--methods-dir",
        methods.to_str().unwrap(),
        "--models",
        models.to_str().unwrap(),
    ]);
    install_fetch_worker(sandbox, "fetch", true);
    install_fetch_worker(sandbox, "plainfetch", false);
    assert_success(
        "secret add",
        &sandbox.jitos_with_stdin(&["secret", "add", "KEY"], format!("{SECRET}\n").as_bytes()),
    );
    daemon
}

fn me() -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::current())
        .unwrap()
        .unwrap()
        .name
}

/// A writ to the running user for the fetch workers, with egress to `origin` and the
/// secret `KEY`, and `extra` flags.
fn issue_writ(sandbox: &Sandbox, origin: &str, extra: &[&str]) -> u64 {
    let user = me();
    let mut args = vec![
        "--json",
        "writ",
        "issue",
        "--to",
        &user,
        "--workers",
        "fetch,plainfetch",
        "--egress",
        origin,
        "--secrets",
        "KEY",
    ];
    args.extend(extra);
    json_of(&assert_success("writ issue", &sandbox.jitos(&args)))["id"]
        .as_u64()
        .unwrap()
}

/// Submits `goal` with `params` (each a request as JSON) under `writ`; the process.
fn submit(sandbox: &Sandbox, goal: &str, params: &[(&str, Value)], writ: u64) -> u64 {
    let mut text = format!("goal = \"{goal}\"\n[params]\n");
    for (name, request) in params {
        text.push_str(&format!(
            "{name} = {}\n",
            serde_json::to_string(&request.to_string()).unwrap()
        ));
    }
    text.push_str("[allow]\nworkers = [\"fetch\", \"plainfetch\"]\n");
    let path = sandbox.path().join(format!("{goal}-{}.toml", params.len()));
    fs::write(&path, text).unwrap();
    let writ = writ.to_string();
    let out = sandbox.jitos(&["--json", "submit", path.to_str().unwrap(), "--writ", &writ]);
    json_of(&assert_success("submit", &out))["process"]
        .as_u64()
        .unwrap()
}

/// The records of `process`, oldest first, as JSON (the wire's `RecordView`s).
fn records(daemon: &Daemon, process: u64) -> Vec<Value> {
    let mut client = daemon.client();
    let mut records = Vec::new();
    let mut after = None;
    loop {
        let page = match call(
            &mut client,
            &Request::ProcessLog {
                process,
                page: PageRequest { after, limit: 500 },
            },
        ) {
            Response::ProcessLog(page) => page,
            other => panic!("process log answered {other:?}"),
        };
        records.extend(
            page.items
                .iter()
                .map(|record| serde_json::to_value(record).unwrap()),
        );
        match page.next {
            Some(next) => after = Some(next),
            None => return records,
        }
    }
}

/// The `outcomes` artifact of the process's one attempt (the seq of its dispatch record).
fn outcomes(daemon: &Daemon, process: u64) -> Vec<Value> {
    let attempt = records(daemon, process)
        .iter()
        .find(|r| r["kind"] == "job.dispatch")
        .and_then(|r| r["seq"].as_u64())
        .unwrap_or_else(|| panic!("process {process} dispatched nothing"));
    let mut client = daemon.client();
    let artifacts = match call(&mut client, &Request::JobShow(attempt)) {
        Response::Job(view) => match view.state {
            AttemptState::Done { artifacts, .. } => artifacts,
            other => panic!("attempt {attempt} ended {other:?}"),
        },
        other => panic!("job show answered {other:?}"),
    };
    let blob = artifacts
        .iter()
        .find(|(name, _)| name == "outcomes")
        .map(|(_, blob)| blob.parse().unwrap())
        .unwrap_or_else(|| panic!("attempt {attempt} has no outcomes: {artifacts:?}"));
    let bytes = match call(&mut client, &Request::GetBlobs(vec![blob])) {
        Response::Blobs(mut blobs) => blobs.pop().unwrap(),
        other => panic!("get blobs answered {other:?}"),
    };
    match serde_json::from_slice(&bytes).unwrap() {
        Value::Array(outcomes) => outcomes,
        other => panic!("outcomes are {other}"),
    }
}

fn kinds(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn origin(server: &ChatServer) -> String {
    format!("http://{}", server.addr())
}

// Goal: an allowed GET and model call are sent with the secret filled in by the daemon,
// answered with what the server said, recorded with the secret named and never its value,
// the model call charged to the writ; and a replay touches no server. Method: a real
// server counting requests, the store's log and the writ read back.
#[test]
fn an_allowed_fetch_is_sent_recorded_charged_and_replayed_offline() {
    let sandbox = Sandbox::new();
    let server = ChatServer::start(vec![
        Reply::json(200, json!({ "hello": "world" })),
        Reply::content("hi"),
    ]);
    let daemon = start(&sandbox, &server);
    let writ = issue_writ(&sandbox, &origin(&server), &[]);
    let base = server.base_url();
    let process = submit(
        &sandbox,
        "fetch2",
        &[
            (
                "a",
                // Not under the model endpoint (`/v1`), so not metered.
                json!({ "method": "GET", "url": format!("{}/things", origin(&server)),
                        "headers": [["X-Test", "${secret:KEY}"]] }),
            ),
            (
                "b",
                json!({ "method": "POST", "url": format!("{base}/chat/completions"),
                        "headers": [["Authorization", "Bearer ${secret:KEY}"]],
                        "body": "{\"model\":\"m\",\"messages\":[]}", "key": "k-1" }),
            ),
        ],
        writ,
    );
    wait_for_process(&sandbox, process, "done");

    let got = outcomes(&daemon, process);
    assert_eq!(got[0]["response"]["status"], 200, "{got:?}");
    assert_eq!(
        json_of(got[0]["response"]["body"].as_str().unwrap())["hello"],
        "world"
    );
    assert_eq!(got[1]["response"]["status"], 200, "{got:?}");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header("x-test"), Some(SECRET));
    assert_eq!(
        requests[1].header("authorization").map(str::to_owned),
        Some(format!("Bearer {SECRET}"))
    );
    assert_eq!(requests[1].header("idempotency-key"), Some("k-1"));

    let log = records(&daemon, process);
    let fetches: Vec<&Value> = log.iter().filter(|r| r["kind"] == "job.fetch").collect();
    assert_eq!(fetches.len(), 2, "{:?}", kinds(&log));
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains(SECRET), "a record holds the secret's value");
    let tokens = USAGE_PROMPT_TOKENS + USAGE_COMPLETION_TOKENS;
    assert!(
        fetches[1]["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("{tokens} tokens")),
        "{}",
        fetches[1]["summary"]
    );
    let shown = json_of(&assert_success(
        "writ show",
        &sandbox.jitos(&["--json", "writ", "show", &writ.to_string()]),
    ));
    assert_eq!(shown["spent"]["counters"]["tokens"], tokens, "{shown}");
    let cost = USAGE_PROMPT_TOKENS + 2 * USAGE_COMPLETION_TOKENS;
    assert_eq!(
        shown["spent"]["counters"]["cost_millicents"], cost,
        "{shown}"
    );

    // Every store file is searched too: no record, blob or snapshot holds the value.
    let found = files_holding(
        sandbox.data_dir(),
        SECRET.as_bytes(),
        &sandbox.data_dir().join("secrets"),
    );
    assert!(found.is_empty(), "the secret's value is in {found:?}");

    assert_success("replay", &sandbox.jitos(&["replay", "--verify"]));
    assert_eq!(server.request_count(), 2, "the replay reached the server");
}

// Goal: what the writ, the manifest or the rules do not allow is refused, recorded, and
// reaches no server — beside an allowed control in the same job. Method: a server that
// would answer everything, counting requests.
#[test]
fn a_fetch_the_writ_does_not_allow_is_refused_recorded_and_never_sent() {
    let sandbox = Sandbox::new();
    let server = ChatServer::start(vec![Reply::json(200, json!({ "ok": true }))]);
    let daemon = start(&sandbox, &server);
    let writ = issue_writ(&sandbox, &format!("GET {}", origin(&server)), &[]);
    let base = server.base_url();
    let other_port = format!("http://127.0.0.1:{}/v1/x", server.addr().port() + 1);
    let cases = [
        (json!({ "url": other_port }), "does not allow GET"),
        (
            json!({ "method": "POST", "url": format!("{base}/chat/completions"), "key": "k" }),
            "does not allow POST",
        ),
        (
            json!({ "url": format!("{base}/x"), "headers": [["X", "${secret:OTHER}"]] }),
            "does not grant the secret",
        ),
        (
            json!({ "url": format!("{base}/x"), "headers": [["Host", "evil"]] }),
            "daemon's to set",
        ),
        (json!({ "url": "file:///etc/passwd" }), "not http or https"),
        (
            json!({ "url": format!("http://user:pw@{}/v1/x", server.addr()) }),
            "credentials",
        ),
    ];
    for (request, words) in &cases {
        let process = submit(&sandbox, "fetch", &[("a", request.clone())], writ);
        wait_for_process(&sandbox, process, "done");
        let got = outcomes(&daemon, process);
        let reason = got[0]["refused"]
            .as_str()
            .unwrap_or_else(|| panic!("{request} was not refused: {got:?}"));
        assert!(reason.contains(words), "{request}: {reason}");
        assert!(kinds(&records(&daemon, process)).contains(&"job.fetch".to_owned()));
    }
    assert_eq!(
        server.request_count(),
        0,
        "a refused request reached the server"
    );

    // A worker whose manifest does not ask for fetch is refused, whatever the writ.
    let process = submit(
        &sandbox,
        "plain_fetch",
        &[("a", json!({ "url": format!("{base}/x") }))],
        writ,
    );
    wait_for_process(&sandbox, process, "done");
    let got = outcomes(&daemon, process);
    assert!(
        got[0]["refused"].as_str().unwrap().contains("manifest"),
        "{got:?}"
    );

    // A host named by name reaches only other hosts: `localhost` resolves to loopback, so
    // a writ naming it reaches nothing, where one naming 127.0.0.1 does (the control).
    let by_name = issue_writ(
        &sandbox,
        &format!("GET http://localhost:{}", server.addr().port()),
        &[],
    );
    let process = submit(
        &sandbox,
        "fetch",
        &[(
            "a",
            json!({ "url": format!("http://localhost:{}/x", server.addr().port()) }),
        )],
        by_name,
    );
    wait_for_process(&sandbox, process, "done");
    let got = outcomes(&daemon, process);
    assert!(
        got[0]["failed"]
            .as_str()
            .unwrap_or_default()
            .contains("loopback")
            || got[0]["failed"]
                .as_str()
                .unwrap_or_default()
                .contains("this host"),
        "{got:?}"
    );
    assert_eq!(server.request_count(), 0);

    // The control: the same job shape, allowed, is sent.
    let process = submit(
        &sandbox,
        "fetch",
        &[("a", json!({ "url": format!("{base}/x") }))],
        writ,
    );
    wait_for_process(&sandbox, process, "done");
    assert_eq!(outcomes(&daemon, process)[0]["response"]["status"], 200);
    assert_eq!(server.request_count(), 1);
}

// Goal: a model call's tokens are charged before the next may start: with 10 tokens and
// a first call of 18, the second is refused and the job fails by its budget
// (`job.failed@2`), having reached the server once. Method: the writ's spent, the records
// and the server's count.
#[test]
fn a_spent_budget_ends_the_job_as_failed_by_budget() {
    let sandbox = Sandbox::new();
    let server = ChatServer::start(vec![Reply::content("one"), Reply::content("two")]);
    let daemon = start(&sandbox, &server);
    let writ = issue_writ(&sandbox, &origin(&server), &["--budget", "tokens=10"]);
    let call = json!({ "method": "POST", "url": format!("{}/chat/completions", server.base_url()),
                       "body": "{\"model\":\"m\"}", "key": "k" });
    let process = submit(
        &sandbox,
        "fetch2",
        &[("a", call.clone()), ("b", call)],
        writ,
    );
    wait_for_process(&sandbox, process, "failed");
    let log = records(&daemon, process);
    let failed = log
        .iter()
        .find(|r| r["kind"] == "job.failed@2")
        .unwrap_or_else(|| panic!("no budget failure in {:?}", kinds(&log)));
    assert!(
        failed["summary"].as_str().unwrap().contains("budget"),
        "{failed}"
    );
    assert_eq!(
        server.request_count(),
        1,
        "the second call reached the server"
    );
    let shown = json_of(&assert_success(
        "writ show",
        &sandbox.jitos(&["--json", "writ", "show", &writ.to_string()]),
    ));
    assert_eq!(
        shown["spent"]["counters"]["tokens"],
        USAGE_PROMPT_TOKENS + USAGE_COMPLETION_TOKENS
    );
    assert_success("verify", &sandbox.jitos(&["verify"]));
}

// Goal: responses that are too large, never end or never come fail the fetch with a
// reason that says which, a large one within the limit is kept whole as a blob, and the
// daemon carries on. Method: the scripted server's bad replies, one job each.
#[test]
fn bad_responses_fail_with_a_reason_and_large_ones_are_kept_whole() {
    let sandbox = Sandbox::new();
    let large = vec![b'x'; 100_000];
    let server = ChatServer::start(vec![
        Reply::Oversized {
            bytes: 5 * 1024 * 1024,
        },
        Reply::endless(),
        Reply::Hang,
        Reply::raw(200, "text/plain", large.clone()),
        Reply::invalid_utf8(),
    ]);
    let daemon = start(&sandbox, &server);
    let writ = issue_writ(&sandbox, &origin(&server), &[]);
    let get = json!({ "url": format!("{}/x", server.base_url()) });
    for (goal, words) in [
        ("fetch", "passed 4194304 bytes"),
        ("fetch_quick", "no whole response"),
        ("fetch_quick", "no whole response"),
    ] {
        let process = submit(&sandbox, goal, &[("a", get.clone())], writ);
        wait_for_process(&sandbox, process, "done");
        let got = outcomes(&daemon, process);
        let reason = got[0]["failed"]
            .as_str()
            .unwrap_or_else(|| panic!("{got:?}"));
        assert!(reason.contains(words), "{reason}");
    }
    let process = submit(&sandbox, "fetch", &[("a", get.clone())], writ);
    wait_for_process(&sandbox, process, "done");
    assert_eq!(
        outcomes(&daemon, process)[0]["response"]["body_len"],
        large.len()
    );
    let log = records(&daemon, process);
    let fetch = log.iter().find(|r| r["kind"] == "job.fetch").unwrap();
    assert!(
        fetch["summary"].as_str().unwrap().contains("blob"),
        "{fetch}"
    );
    let process = submit(&sandbox, "fetch", &[("a", get)], writ);
    wait_for_process(&sandbox, process, "done");
    assert_eq!(outcomes(&daemon, process)[0]["response"]["status"], 200);
    assert_success("verify", &sandbox.jitos(&["verify"]));
}
