//! The viewer in a real headless Chromium (Debian's `chromium` and `chromium-driver`,
//! driven over WebDriver with fantoccini), on the store `jitos demo` leaves: the page
//! loads; the slider moved back shows the record of the failing test; the demo's race
//! shows its discarded lanes; the failing test's attempt shows what it printed; a process the policy holds is approved from the page by the
//! approver, and runs on; two runs compare with their environments; a new record reaches
//! the page without a reload; and, on the demo run with a scripted model, an agent job's
//! attempt shows its transcript and what its model calls were charged. Screenshots go
//! to `$JITOS_SCREENSHOTS` (docs/viewer/ holds the committed ones), else the sandbox.
//!
//! Root runs the demo and the daemon; `nobody` is the approver who uses the page.
#![allow(clippy::unwrap_used)]

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use jitos_system_tests::{
    assert_success, free_port, grant_nobody, jitos_as, present_or_skip, process_summary,
    root_or_skip, stdout_text, wait_for_process, ChatServer, Reply, Sandbox, NOBODY,
};
use serde_json::{json, Value};

const WHY_ROOT: &str = "the demo's approver is nobody, started with setuid";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port }
    }
}

/// Whether the browser is here: CI installs it (scripts/setup.sh) and must run this.
fn browser_or_skip() -> bool {
    present_or_skip(
        Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists(),
        "CI installs chromium and chromium-driver (scripts/setup.sh); this test needs them",
    )
}

async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1400,1000", format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .unwrap()
}

/// A browser over chromedriver for one test, and where its screenshots go.
struct Session {
    driver: Driver,
    profile: PathBuf,
    shots: PathBuf,
    runtime: tokio::runtime::Runtime,
}

impl Session {
    fn new(sandbox: &Sandbox) -> Session {
        let shots = std::env::var_os("JITOS_SCREENSHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| sandbox.path().to_owned());
        std::fs::create_dir_all(&shots).unwrap();
        Session {
            driver: Driver::start(),
            profile: sandbox.path().join("chromium-profile"),
            shots,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    /// A page of the viewer at `port`, signed in with `token` and following the head.
    async fn signed_in(&self, port: u16, token: &str) -> Client {
        let page = browser(&self.driver, &self.profile).await;
        page.goto(&format!("http://127.0.0.1:{port}/#token={token}"))
            .await
            .unwrap();
        wait_for_text(&page, "#live", "live").await;
        page
    }
}

/// The element `css` once it shows `wanted` in its text.
async fn wait_for_text(page: &Client, css: &str, wanted: &str) -> Element {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(element) = page.find(Locator::Css(css)).await {
            if element.text().await.unwrap_or_default().contains(wanted) {
                return element;
            }
        }
        if Instant::now() > deadline {
            let body = page.source().await.unwrap_or_default();
            panic!("{css} never showed {wanted:?}; the page: {body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The texts of every element `css`, read at one moment (the page re-renders as records
/// arrive, which would leave elements found one by one stale).
async fn texts(page: &Client, css: &str) -> Vec<String> {
    let read = page
        .execute(
            "return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent);",
            vec![json!(css)],
        )
        .await
        .unwrap();
    serde_json::from_value(read).unwrap()
}

async fn screenshot(page: &Client, dir: &Path, name: &str) {
    let png = page.screenshot().await.unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

/// A GraphQL query over HTTP with `token`; its data.
fn query(port: u16, token: &str, query: &str, variables: Value) -> Value {
    let body: Value = reqwest::blocking::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

// Goal: the viewer shows a real run as a person needs it, and acts for them: the slider
// reaches the failing test, the race shows its discarded lanes, the approver approves a
// held process from the page, and records arrive live. Method: the demo's store, served
// by jitosd with the demo's policy; a second run of the demo's intent waits for approval.
#[test]
fn the_viewer_shows_the_demo_and_approves_from_the_page() {
    if !root_or_skip(WHY_ROOT) || !browser_or_skip() {
        return;
    }
    let sandbox = Sandbox::new();
    assert_success(
        "jitos demo",
        &sandbox.jitos(&["demo", "--dir", sandbox.data_dir().to_str().unwrap()]),
    );
    let demo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bins/jitos-cli/demo");
    let methods = sandbox.path().join("methods");
    std::fs::create_dir_all(&methods).unwrap();
    std::fs::copy(demo.join("methods.toml"), methods.join("demo.toml")).unwrap();
    let out = sandbox.data_dir().join("out-again");
    std::fs::create_dir_all(&out).unwrap();
    let port = free_port();
    let mut flags = grant_nobody(&sandbox, &["approver"]);
    flags.extend(
        [
            "--policy",
            demo.join("policy.toml").to_str().unwrap(),
            "--methods-dir",
            methods.to_str().unwrap(),
            "--output-root",
            out.to_str().unwrap(),
            "--http",
            &format!("127.0.0.1:{port}"),
        ]
        .map(str::to_owned),
    );
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let _daemon = sandbox.start_with(&flags);

    let created = jitos_as(&sandbox, NOBODY, &["--json", "token", "create", "browser"]);
    let created: Value = serde_json::from_str(&assert_success("token create", &created)).unwrap();
    let token = created["token"].as_str().unwrap().to_owned();

    // What the page should find, read from the API.
    let records = query(
        port,
        &token,
        "{ records(first: 1000) { records { seq kind summary } } processes(all: true) { items { id } } }",
        json!({}),
    );
    let failing = records["records"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["summary"].as_str().unwrap().contains("fail"))
        .unwrap_or_else(|| panic!("the demo's store records a failing test: {records}"))["seq"]
        .as_u64()
        .unwrap();
    // Newest first: the demo's race, then its first run, whose test fails.
    let race = records["processes"]["items"][0]["id"].as_u64().unwrap();
    let first_run = records["processes"]["items"][1]["id"].as_u64().unwrap();

    // A second run of the demo's intent: its shipping waits for an approver.
    let intent = std::fs::read_to_string(demo.join("intent.toml"))
        .unwrap()
        .replace("OUTPUT_DIR", out.join("calc").to_str().unwrap());
    let intent_path = sandbox.path().join("intent.toml");
    std::fs::write(&intent_path, intent).unwrap();
    let submitted = sandbox.jitos_json(&["submit", intent_path.to_str().unwrap()]);
    let held = submitted["process"].as_u64().unwrap();
    wait_for_process(&sandbox, held, "waiting");

    let session = Session::new(&sandbox);
    let shots = session.shots.clone();
    session.runtime.block_on(async {
        let page = session.signed_in(port, &token).await;
        wait_for_text(&page, "#who", "nobody").await;
        wait_for_text(&page, "#view", "Graph at seq").await;
        let loaded = page
            .execute("return performance.now();", vec![])
            .await
            .unwrap();
        eprintln!("the demo store's page was shown {loaded} ms after navigation began");
        screenshot(&page, &shots, "overview.png").await;

        // Back in time: the slider at the failing test's record.
        page.execute(
            "const s = document.getElementById('slider'); s.value = arguments[0]; \
             s.dispatchEvent(new Event('input'));",
            vec![json!(failing)],
        )
        .await
        .unwrap();
        wait_for_text(&page, "#at", &failing.to_string()).await;
        wait_for_text(&page, "#inspector-summary", "fail").await;
        wait_for_text(&page, "#chain", "linked").await;
        screenshot(&page, &shots, "timeline.png").await;
        page.execute("document.getElementById('follow').click();", vec![])
            .await
            .unwrap();

        // The race: the lanes that lost are discarded.
        page.goto(&format!("http://127.0.0.1:{port}/#/process/{race}"))
            .await
            .unwrap();
        wait_for_text(&page, "#process-status", "done").await;
        let lanes = texts(&page, ".lane-state").await;
        let discarded = lanes.iter().filter(|s| s.contains("discarded")).count();
        assert!(discarded >= 2, "the race's lanes: {lanes:?}");
        assert!(lanes.iter().any(|s| s.contains("collapsed")), "{lanes:?}");
        screenshot(&page, &shots, "race.png").await;

        // The failing test of the demo's first run: its attempt, with what the test printed.
        // (Which candidates of the race fail, and which are cut short, varies.)
        page.goto(&format!("http://127.0.0.1:{port}/#/process/{first_run}"))
            .await
            .unwrap();
        wait_for_text(&page, "#process-status", "failed").await;
        page.execute(
            "for (const row of document.querySelectorAll('tr')) { \
               const link = row.querySelector('a.attempt'); \
               if (link && row.textContent.includes('failed')) { link.click(); return; } }",
            vec![],
        )
        .await
        .unwrap();
        wait_for_text(&page, "#attempt-state", "exit status 1").await;
        let outputs = texts(&page, "pre[class^=output]").await;
        assert!(
            !outputs.concat().trim().is_empty(),
            "the test's output is shown"
        );
        screenshot(&page, &shots, "attempt.png").await;

        // The approver approves the held shipping from the page.
        page.goto(&format!("http://127.0.0.1:{port}/#/process/{held}"))
            .await
            .unwrap();
        wait_for_text(&page, "#process-status", "waiting").await;
        screenshot(&page, &shots, "approval.png").await;
        page.find(Locator::Css("#approve"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_text(&page, "#vote-said", "recorded").await;

        // The two runs side by side.
        page.goto(&format!("http://127.0.0.1:{port}/#/compare/{race}/{held}"))
            .await
            .unwrap();
        wait_for_text(&page, ".compare", &format!("B: process {held}")).await;
        wait_for_text(&page, ".compare", &format!("A: process {race}")).await;
        // Each ran in a recorded environment: the demo's embedded daemon and this one
        // were started with other settings, and both name the same built-in shell.
        wait_for_text(&page, "#compare-environment", "worker shell (built in)").await;
        let differing = texts(&page, "#compare-environment tr.differs td:first-child").await;
        assert!(
            differing.iter().any(|name| name.contains("settings")),
            "the environments should differ in their settings: {differing:?}"
        );
        assert!(
            !differing.iter().any(|name| name.contains("worker shell")),
            "the same shell binary ran both: {differing:?}"
        );
        screenshot(&page, &shots, "compare.png").await;

        // Live: a record made elsewhere reaches the page without a reload.
        page.goto(&format!("http://127.0.0.1:{port}/#/"))
            .await
            .unwrap();
        wait_for_text(&page, "#live", "live").await;
        let made = sandbox.jitos_json(&["sws", "create"])["sws"]
            .as_u64()
            .unwrap();
        let shown = Instant::now();
        loop {
            let head = page
                .find(Locator::Css("#head"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if head.parse::<u64>().is_ok_and(|head| head >= made) {
                break;
            }
            assert!(
                shown.elapsed() < Duration::from_secs(30),
                "the page's head stayed at {head}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        eprintln!("a new record reached the page in {:?}", shown.elapsed());
        page.close().await.unwrap();
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let approved = loop {
        let now = process_summary(&sandbox, held);
        if now["status"] != "waiting" && now["status"] != "running" || Instant::now() > deadline {
            break now;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let log = stdout_text(&sandbox.jitos(&["log", "--process", &held.to_string()]));
    assert_eq!(approved["status"], "done", "{approved}\n{log}");
    let log = stdout_text(&sandbox.jitos(&["log", "--process", &held.to_string()]));
    assert!(
        log.contains(&format!("uid {NOBODY}")),
        "the approval is nobody's: {log}"
    );
}

// Goal: an agent job's attempt shows its conversation — the messages, the tool calls the
// model made, each turn's tokens — and each model call with what it was charged. Method:
// the demo with a scripted model (a real HTTP server on 127.0.0.1), then the race's llm
// attempt opened in the browser.
#[test]
fn an_agent_jobs_attempt_shows_its_transcript_and_charges() {
    if !root_or_skip(WHY_ROOT) || !browser_or_skip() {
        return;
    }
    let sandbox = Sandbox::new();
    let server = ChatServer::start(vec![Reply::fix_demo_calc(), Reply::fix_demo_calc()]);
    let data = sandbox.data_dir().to_str().unwrap().to_owned();
    sandbox.jitos_ok(&[
        "demo",
        "--dir",
        &data,
        "--model",
        &server.base_url(),
        "--model-name",
        "scripted",
    ]);
    let port = free_port();
    let policy = sandbox.data_dir().join("policy.toml");
    let _daemon = sandbox.start_with(&[
        "--policy",
        policy.to_str().unwrap(),
        "--http",
        &format!("127.0.0.1:{port}"),
    ]);
    let token = sandbox.jitos_json(&["token", "create", "browser"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let found = query(
        port,
        &token,
        "{ jobs(all: true, first: 1000) { items { id worker } } processes(all: true) { items { id } } }",
        json!({}),
    );
    let attempt = found["jobs"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["worker"] == "llm")
        .unwrap_or_else(|| panic!("the demo with a model runs the llm worker: {found}"))["id"]
        .as_u64()
        .unwrap();
    let race = found["processes"]["items"][0]["id"].as_u64().unwrap();

    let session = Session::new(&sandbox);
    let shots = session.shots.clone();
    session.runtime.block_on(async {
        let page = session.signed_in(port, &token).await;
        page.goto(&format!(
            "http://127.0.0.1:{port}/#/process/{race}/attempt/{attempt}"
        ))
        .await
        .unwrap();
        wait_for_text(&page, "#transcript", "fix").await;
        let calls = texts(&page, "#transcript .tool-call").await;
        assert!(
            calls
                .iter()
                .any(|call| call.starts_with("→ apply_patch(") && call.contains("calc.sh")),
            "{calls:?}"
        );
        assert!(
            calls.iter().any(|call| call.starts_with("→ finish(")),
            "{calls:?}"
        );
        let roles = texts(&page, "#transcript .message > b").await;
        assert_eq!(
            roles.first().map(String::as_str),
            Some("system"),
            "{roles:?}"
        );
        assert!(roles.iter().any(|role| role == "tool"), "{roles:?}");
        let charged = wait_for_text(&page, "#model-calls", "millicents").await;
        let charged = charged.text().await.unwrap();
        assert!(
            charged.contains(&format!("attempt {attempt} fetched POST"))
                && charged.contains("tokens"),
            "{charged}"
        );
        screenshot(&page, &shots, "transcript.png").await;
        page.close().await.unwrap();
    });
}
