//! A `network` job without `fetch` through the real daemon: the `shell` worker runs `curl`
//! in the attempt's own network namespace, whose only route is the daemon's proxy. What
//! the writ's egress names is reached through it and recorded (`job.connect`, with the
//! bytes each way); a host it does not name is refused by the proxy and recorded; going
//! around the proxy reaches nothing — beside the allowed control. Needs root (network
//! namespaces), as CI is.
#![allow(clippy::unwrap_used)]

use std::fs;

use jitos_system_tests::{
    assert_success, root_or_skip, wait_for_process, ChatServer, Reply, Sandbox,
};
use serde_json::{json, Value};

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

const METHODS: &str = r#"
[task.reach]
params = ["allowed", "refused"]

[[task.reach.method]]
name = "three_ways"
steps = [
  { task = "curl", id = "through_proxy", with = { url = "{allowed}", out = "allowed" } },
  { task = "curl", id = "refused_host", with = { url = "{refused}", out = "refused" } },
  { task = "curl_direct", with = { url = "{allowed}", out = "direct" } },
]

[task.curl]
params = ["url", "out"]
run = { worker = "shell", args = ["sh", "-c", "curl -sS -m 5 -o /dev/null -w '%{{http_code}}' '{url}' > {out}.code 2> {out}.err; echo $? > {out}.rc"], effect = "network", timeout_secs = 30 }

[task.curl_direct]
params = ["url", "out"]
run = { worker = "shell", args = ["sh", "-c", "curl -sS -m 5 --noproxy '*' -o /dev/null -w '%{{http_code}}' '{url}' > {out}.code 2> {out}.err; echo $? > {out}.rc"], effect = "network", timeout_secs = 30 }
"#;

// Goal: through the proxy the allowed server answers 200 and the connection is recorded
// with its bytes; a port the writ does not name gets the proxy's 403 and a refused record;
// curl with the proxy bypassed cannot connect at all, and the server saw one request.
// Method: curl's status codes written into the workspace, the checkout, the records.
#[test]
fn a_network_job_reaches_only_what_its_writ_names_through_the_proxy() {
    if !root_or_skip("a network job's namespace needs root") {
        return;
    }
    let sandbox = Sandbox::new();
    let server = ChatServer::start(vec![Reply::json(200, json!({ "ok": true }))]);
    let dir = sandbox.path().join("methods");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("net.toml"), METHODS).unwrap();
    let _daemon = sandbox.start_with(&["--methods-dir", dir.to_str().unwrap()]);
    let egress = format!("GET http://{}", server.addr());
    let out = sandbox.jitos(&[
        "--json",
        "writ",
        "issue",
        "--to",
        "root",
        "--workers",
        "shell",
        "--effect",
        "network",
        "--egress",
        &egress,
    ]);
    let writ = json_of(&assert_success("writ issue", &out))["id"]
        .as_u64()
        .unwrap();
    let allowed = format!("http://{}/ok", server.addr());
    let refused = format!("http://127.0.0.1:{}/no", server.addr().port() + 1);
    let intent = sandbox.path().join("intent.toml");
    fs::write(
        &intent,
        format!(
            "goal = \"reach\"\n[params]\nallowed = \"{allowed}\"\nrefused = \"{refused}\"\n[allow]\nworkers = [\"shell\"]\n"
        ),
    )
    .unwrap();
    let out = sandbox.jitos(&[
        "--json",
        "submit",
        intent.to_str().unwrap(),
        "--writ",
        &writ.to_string(),
    ]);
    let process = json_of(&assert_success("submit", &out))["process"]
        .as_u64()
        .unwrap();
    wait_for_process(&sandbox, process, "done");

    let checkout = sandbox.path().join("checkout");
    assert_success(
        "checkout",
        &sandbox.jitos(&["tree", "checkout", checkout.to_str().unwrap()]),
    );
    let read = |name: &str| fs::read_to_string(checkout.join(name)).unwrap_or_default();
    assert_eq!(read("allowed.code"), "200", "{}", read("allowed.err"));
    assert_eq!(read("refused.code"), "403", "{}", read("refused.err"));
    assert_ne!(
        read("direct.rc").trim(),
        "0",
        "curl reached the server around the proxy"
    );
    assert_eq!(read("direct.code"), "000");
    assert_eq!(server.request_count(), 1);

    let log = assert_success(
        "log",
        &sandbox.jitos(&["log", "--process", &process.to_string()]),
    );
    let connects: Vec<&str> = log.lines().filter(|l| l.contains("job.connect")).collect();
    assert_eq!(connects.len(), 2, "{log}");
    assert!(
        connects.iter().any(
            |l| l.contains(&format!("127.0.0.1:{}", server.addr().port())) && l.contains("relayed")
        ),
        "{log}"
    );
    assert!(connects.iter().any(|l| l.contains("refused")), "{log}");
    assert_success("verify", &sandbox.jitos(&["verify"]));
}
