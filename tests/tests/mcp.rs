//! `jitos mcp` through the real daemon: a scripted MCP client spawns the server, speaks
//! newline-delimited JSON-RPC to it over stdio, and does what an agent would — a whole
//! session from `initialize` to a collapse whose file the system then holds, every act in
//! the ledger as the user who ran the server — then feeds it every kind of bad input and
//! checks each gets a clear error while the server answers the next request and loses
//! nothing.
#![allow(clippy::unwrap_used)]

use std::fs;

use jitos_proto::ActorView;
use jitos_system_tests::{
    all_records, assert_failure, assert_success, grant_nobody, install_misbehave, jitos_as,
    root_or_skip, McpClient as Mcp, Sandbox, NOBODY,
};
use serde_json::{json, Value};

/// The server's line limit (`LINE_BYTES_MAX` in `bins/jitos-cli/src/mcp/transport.rs`).
const LINE_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Records the system tree: `README` and `check.sh`, a test the agent's file must pass.
fn import_project(sandbox: &Sandbox) {
    let project = sandbox.path().join("project");
    fs::create_dir_all(&project).unwrap();
    fs::write(project.join("README"), "a project\n").unwrap();
    fs::write(
        project.join("check.sh"),
        "grep -q 'hello from the agent' hello.txt\n",
    )
    .unwrap();
    sandbox.jitos_ok(&["tree", "import", project.to_str().unwrap()]);
}

// Goal: the whole session. Method: initialize, list the tools, open a workspace,
// write a file and read it back, run a shell job there that tests it, read the diff,
// check the system does not have the file yet, collapse, and check through the CLI that
// the system has it and that the ledger holds each act with the server's uid and pid.
#[test]
fn a_whole_session_lands_a_tested_file_as_the_users_recorded_acts() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    import_project(&sandbox);
    let mut mcp = Mcp::start(&sandbox, None, &[]);

    let init = mcp.initialize();
    assert_eq!(init["protocolVersion"], "2025-06-18", "{init}");
    assert_eq!(init["serverInfo"]["name"], "jitos", "{init}");
    assert!(init["capabilities"]["tools"].is_object(), "{init}");
    let uid = nix::unistd::getuid().as_raw();
    assert!(
        init["instructions"]
            .as_str()
            .unwrap()
            .contains(&format!("(uid {uid}")),
        "{init}"
    );

    let listed = mcp.ok("tools/list", json!({}));
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| {
            assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
            assert!(tool["description"].as_str().unwrap().len() > 20, "{tool}");
            tool["name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        names,
        [
            "workspace_open",
            "files_list",
            "file_read",
            "file_write",
            "job_run",
            "diff",
            "collapse",
            "workspace_discard"
        ]
    );

    let opened = mcp.tool("workspace_open", json!({}));
    let sws = opened["workspace"].as_u64().unwrap();
    let written = mcp.tool(
        "file_write",
        json!({ "workspace": sws, "path": "greet/hello.txt", "content": "hello from the agent\n" }),
    );
    assert_eq!(written["created"], json!(true), "{written}");
    // The second write replaces the content, expecting the first.
    let written = mcp.tool(
        "file_write",
        json!({ "workspace": sws, "path": "hello.txt", "content": "hello from the agent\n" }),
    );
    assert_eq!(written["bytes"], json!(21), "{written}");
    let read = mcp.tool(
        "file_read",
        json!({ "workspace": sws, "path": "hello.txt" }),
    );
    assert_eq!(read["content"], "hello from the agent\n", "{read}");
    let text = mcp.tool_text(
        "file_read",
        json!({ "workspace": sws, "path": "hello.txt" }),
    );
    assert_eq!(text, "hello from the agent\n");
    let listed = mcp.tool("files_list", json!({ "workspace": sws }));
    let paths: Vec<&str> = listed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "README",
            "check.sh",
            "greet",
            "greet/hello.txt",
            "hello.txt"
        ]
    );
    let under = mcp.tool("files_list", json!({ "workspace": sws, "prefix": "greet" }));
    assert_eq!(under["entries"].as_array().unwrap().len(), 2, "{under}");

    let job = mcp.tool(
        "job_run",
        json!({
            "workspace": sws,
            "command": ["sh", "-c", "sh check.sh && echo passed > result.txt && echo tests pass"],
            "timeout_secs": 30
        }),
    );
    assert_eq!(job["passed"], json!(true), "{job}");
    assert_eq!(job["exit_status"], json!(0), "{job}");
    assert!(
        job["stdout"].as_str().unwrap().contains("tests pass"),
        "{job}"
    );
    assert_eq!(
        job["files_changed"],
        json!([{ "change": "added", "path": "result.txt" }]),
        "{job}"
    );
    // A failing test is an answer, not a tool error.
    let failing = mcp.tool(
        "job_run",
        json!({ "workspace": sws, "command": ["sh", "-c", "echo nope >&2; exit 3"] }),
    );
    assert_eq!(failing["passed"], json!(false), "{failing}");
    assert_eq!(failing["exit_status"], json!(3), "{failing}");
    assert!(
        failing["stderr"].as_str().unwrap().contains("nope"),
        "{failing}"
    );

    let diff = mcp.tool("diff", json!({ "workspace": sws }));
    let changed: Vec<String> = diff["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["change"].as_str().unwrap(),
                f["path"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        changed,
        [
            "added greet",
            "added greet/hello.txt",
            "added hello.txt",
            "added result.txt"
        ]
    );
    assert!(
        diff["unified_diff"]
            .as_str()
            .unwrap()
            .contains("+hello from the agent"),
        "{diff}"
    );

    let text = mcp.tool_text("diff", json!({ "workspace": sws }));
    assert!(
        text.starts_with("added greet\n") && text.contains("+hello from the agent"),
        "{text}"
    );

    let before = sandbox.path().join("before");
    sandbox.jitos_ok(&["tree", "checkout", before.to_str().unwrap()]);
    assert!(!before.join("hello.txt").exists());

    let collapsed = mcp.tool("collapse", json!({ "workspace": sws }));
    assert_eq!(collapsed["collapsed"], json!(true), "{collapsed}");
    let collapse_seq = collapsed["record"].as_u64().unwrap();

    let after = sandbox.path().join("after");
    sandbox.jitos_ok(&["tree", "checkout", after.to_str().unwrap()]);
    assert_eq!(
        fs::read_to_string(after.join("hello.txt")).unwrap(),
        "hello from the agent\n"
    );
    assert_eq!(
        fs::read_to_string(after.join("result.txt")).unwrap(),
        "passed\n"
    );
    // The system's files through the server too.
    let system = mcp.tool("file_read", json!({ "path": "greet/hello.txt" }));
    assert_eq!(system["content"], "hello from the agent\n", "{system}");

    // Every act is the server's: its uid and pid, as `jitos log` shows them.
    let server = ActorView::Peer {
        uid,
        pid: mcp.pid(),
    };
    let mut client = daemon.client();
    let records = all_records(&mut client);
    let acted: Vec<&str> = records
        .iter()
        .filter(|r| r.actor == server)
        .map(|r| r.kind.as_str())
        .collect();
    for kind in ["sws.create", "sws.apply", "job.dispatch", "sws.collapse"] {
        assert!(
            acted.contains(&kind),
            "no {kind} by {server:?} in {acted:?}"
        );
    }
    assert_eq!(acted.iter().filter(|k| **k == "sws.apply").count(), 2);
    assert_eq!(acted.iter().filter(|k| **k == "job.dispatch").count(), 2);
    let log = sandbox.jitos_ok(&["log", "--from", &collapse_seq.to_string(), "--limit", "1"]);
    assert!(
        log.contains(&format!("uid {uid} pid {}", mcp.pid())) && log.contains("sws.collapse"),
        "{log}"
    );

    // A closed workspace is no longer the session's to change.
    let again = mcp.tool_error("collapse", json!({ "workspace": sws }));
    assert!(again.contains("was not opened by this session"), "{again}");
    drop(mcp);
    assert_success("verify", &sandbox.jitos(&["verify"]));
}

// Goal: bad input of every kind gets a clear JSON-RPC or tool error, the server answers
// the next request, and nothing is lost. Method: send each before and after initialize,
// ping after each, then check the workspace still takes a write and the ledger verifies.
#[test]
fn bad_input_gets_a_clear_error_and_the_server_goes_on() {
    let sandbox = Sandbox::new();
    let _daemon = sandbox.start();
    import_project(&sandbox);
    let mut mcp = Mcp::start(&sandbox, None, &[]);

    // Before initialize: only ping and initialize are answered.
    let early = mcp.error("tools/list", json!({}), -32002);
    assert!(early.contains("send `initialize`"), "{early}");
    mcp.assert_alive();

    let bad_line = |mcp: &mut Mcp, bytes: &[u8], wanted: &str| {
        mcp.send_raw(bytes);
        let reply = mcp.receive();
        assert_eq!(reply["id"], Value::Null, "{reply}");
        assert_eq!(reply["error"]["code"], json!(-32700), "{reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains(wanted), "{message}");
        mcp.assert_alive();
    };
    bad_line(&mut mcp, b"{\"jsonrpc\": \"2.0\", \"id\": 1,\n", "not JSON");
    bad_line(&mut mcp, b"\xff\xfe{}\n", "not UTF-8");
    let deep = format!("{}\n", "[".repeat(100));
    bad_line(&mut mcp, deep.as_bytes(), "more than 64 deep");
    let mut long = b"{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\",\"pad\":\"".to_vec();
    long.resize(LINE_BYTES_MAX + 100, b'x');
    long.extend_from_slice(b"\"}\n");
    bad_line(&mut mcp, &long, "over 8388608 bytes");

    let reply = {
        mcp.send_raw(b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]\n");
        mcp.receive()
    };
    assert_eq!(reply["error"]["code"], json!(-32600), "{reply}");
    mcp.send_raw(b"{\"jsonrpc\":\"1.0\",\"id\":\"x\",\"method\":\"ping\"}\n");
    let reply = mcp.receive();
    assert_eq!(reply["id"], "x", "{reply}");
    assert_eq!(reply["error"]["code"], json!(-32600), "{reply}");
    mcp.assert_alive();

    mcp.initialize();
    // A notification gets no answer: the next line is the ping's.
    mcp.send_raw(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{}}\n");
    mcp.assert_alive();

    let unknown = mcp.error("resources/list", json!({}), -32601);
    assert!(unknown.contains("tools/call"), "{unknown}");
    let no_tool = mcp.error(
        "tools/call",
        json!({ "name": "rm_rf", "arguments": {} }),
        -32602,
    );
    assert!(no_tool.contains("Unknown tool: \"rm_rf\""), "{no_tool}");
    let not_object = mcp.error(
        "tools/call",
        json!({ "name": "diff", "arguments": [1] }),
        -32602,
    );
    assert!(
        not_object.contains("`arguments` must be an object"),
        "{not_object}"
    );

    let sws = mcp.tool("workspace_open", json!({}))["workspace"]
        .as_u64()
        .unwrap();
    let cases = [
        (
            "file_read",
            json!({ "path": 5 }),
            "argument `path` must be a string, not a number",
        ),
        ("file_read", json!({}), "argument `path` is required"),
        (
            "file_write",
            json!({ "workspace": "one", "path": "a", "content": "" }),
            "argument `workspace` must be a positive whole number, not a string",
        ),
        (
            "file_write",
            json!({ "workspace": sws, "path": "../outside.txt", "content": "x" }),
            "`.` or `..` component",
        ),
        (
            "file_write",
            json!({ "workspace": sws, "path": "/etc/passwd", "content": "x" }),
            "it is absolute",
        ),
        (
            "file_write",
            json!({ "workspace": sws, "path": "README/inner", "content": "x" }),
            "README is a file in workspace",
        ),
        (
            "file_write",
            json!({ "workspace": sws, "path": "a", "content": "x", "mode": 7 }),
            "unknown argument `mode`",
        ),
        (
            "file_write",
            json!({ "workspace": 999_999, "path": "a", "content": "x" }),
            "workspace 999999 was not opened by this session",
        ),
        (
            "file_read",
            json!({ "workspace": sws, "path": "missing.txt" }),
            "there is no file missing.txt",
        ),
        (
            "files_list",
            json!({ "workspace": sws, "prefix": "a/../b" }),
            "`.` or `..` component",
        ),
        (
            "job_run",
            json!({ "workspace": sws, "command": "make test" }),
            "argument `command` must be an array of strings",
        ),
        (
            "job_run",
            json!({ "workspace": sws, "command": [] }),
            "argument `command` is empty",
        ),
        (
            "job_run",
            json!({ "workspace": sws, "command": ["true"], "worker": "no-such-worker" }),
            "jitosd refused",
        ),
        (
            "job_run",
            json!({ "workspace": sws, "command": ["true"], "timeout_secs": -1 }),
            "must be a positive number",
        ),
        (
            "workspace_discard",
            json!({ "workspace": sws, "reason": "  " }),
            "argument `reason` is empty",
        ),
        ("workspace_open", json!({ "at": 1 }), "this tool takes none"),
        ("diff", json!({ "workspace": 999_999 }), "jitosd refused"),
    ];
    for (tool, arguments, wanted) in cases {
        let message = mcp.tool_error(tool, arguments.clone());
        assert!(
            message.contains(wanted),
            "{tool} {arguments}: wanted {wanted:?} in {message:?}"
        );
        mcp.assert_alive();
    }

    // Nothing was lost: the workspace still takes a write, and the system holds no file
    // any bad call named.
    let written = mcp.tool(
        "file_write",
        json!({ "workspace": sws, "path": "ok.txt", "content": "fine\n" }),
    );
    assert_eq!(written["created"], json!(true), "{written}");
    let diff = mcp.tool("diff", json!({ "workspace": sws }));
    assert_eq!(
        diff["files"],
        json!([{ "change": "added", "path": "ok.txt" }]),
        "{diff}"
    );
    let discarded = mcp.tool(
        "workspace_discard",
        json!({ "workspace": sws, "reason": "the bad-input test is over" }),
    );
    assert_eq!(discarded["discarded"], json!(true), "{discarded}");
    drop(mcp);
    assert_success("verify", &sandbox.jitos(&["verify"]));
}

// Goal: an agent's server without a daemon says so at once instead of serving tools that
// all fail. Method: start it on a socket nothing listens on.
#[test]
fn the_server_refuses_to_start_without_a_daemon() {
    let sandbox = Sandbox::new();
    let out = assert_failure("jitos mcp", &sandbox.jitos(&["mcp"]));
    assert!(out.contains("no jitosd is listening on"), "{out}");
    assert!(out.contains("--socket"), "{out}");
}

// Goal: authority is the daemon's, per user: a server run by a user who may only read
// gets the daemon's refusal as a tool error, recorded as `access.refused`, and reads
// still work. Method: grant `nobody` the viewer role and run the server as nobody.
#[test]
fn a_viewers_server_is_refused_by_the_daemon_and_the_refusal_is_recorded() {
    if !root_or_skip("runs the MCP server as a second user") {
        return;
    }
    let sandbox = Sandbox::new();
    let flags = grant_nobody(&sandbox, &["viewer"]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let daemon = sandbox.start_with(&flags);
    import_project(&sandbox);
    let mut mcp = Mcp::start(&sandbox, Some(NOBODY), &[]);
    let init = mcp.initialize();
    assert!(
        init["instructions"]
            .as_str()
            .unwrap()
            .contains("roles: viewer"),
        "{init}"
    );
    let refused = mcp.tool_error("workspace_open", json!({}));
    assert!(
        refused.contains(
            "jitosd refused: user nobody (viewer) may not create a workspace: operator role needed"
        ),
        "{refused}"
    );
    let read = mcp.tool("file_read", json!({ "path": "README" }));
    assert_eq!(read["content"], "a project\n", "{read}");
    let mut client = daemon.client();
    let records = all_records(&mut client);
    assert!(
        records.iter().any(|r| r.kind == "access.refused"
            && r.actor
                == ActorView::Peer {
                    uid: NOBODY,
                    pid: mcp.pid()
                }),
        "no access.refused by the server"
    );
    assert!(!records.iter().any(|r| r.kind == "sws.create"));
}

// Goal: a collapse refused for a conflict applies nothing and says what clashed. Method:
// two workspaces of one session write the same file; the first collapses; the second is
// refused with the conflict named, the system keeps the first's content, and the second
// is still open and can be discarded.
#[test]
fn a_conflicting_collapse_is_refused_and_applies_nothing() {
    let sandbox = Sandbox::new();
    let _daemon = sandbox.start();
    import_project(&sandbox);
    let mut mcp = Mcp::start(&sandbox, None, &[]);
    mcp.initialize();
    let first = mcp.tool("workspace_open", json!({}))["workspace"]
        .as_u64()
        .unwrap();
    let second = mcp.tool("workspace_open", json!({}))["workspace"]
        .as_u64()
        .unwrap();
    for (sws, content) in [(first, "first\n"), (second, "second\n")] {
        mcp.tool(
            "file_write",
            json!({ "workspace": sws, "path": "README", "content": content }),
        );
    }
    mcp.tool("collapse", json!({ "workspace": first }));
    let refused = mcp.tool_error("collapse", json!({ "workspace": second }));
    assert!(
        refused.contains(&format!("workspace {second} conflicts with the system"))
            && refused.contains("file:README")
            && refused.contains("Nothing was applied"),
        "{refused}"
    );
    let system = mcp.tool("file_read", json!({ "path": "README" }));
    assert_eq!(system["content"], "first\n", "{system}");
    let kept = mcp.tool(
        "file_read",
        json!({ "workspace": second, "path": "README" }),
    );
    assert_eq!(kept["content"], "second\n", "{kept}");
    let discarded = mcp.tool(
        "workspace_discard",
        json!({ "workspace": second, "reason": "lost the race" }),
    );
    assert_eq!(discarded["discarded"], json!(true), "{discarded}");
}

// Goal: a daemon that goes away costs the agent errors, not its server, and a restarted
// one is reached again with the session's workspace intact. Method: SIGKILL jitosd
// between calls, call (a tool error), start it again, and go on writing.
#[test]
fn the_server_outlives_its_daemon_and_reaches_a_restarted_one() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    import_project(&sandbox);
    let mut mcp = Mcp::start(&sandbox, None, &[]);
    mcp.initialize();
    let sws = mcp.tool("workspace_open", json!({}))["workspace"]
        .as_u64()
        .unwrap();
    daemon.kill9();
    let lost = mcp.tool_error("files_list", json!({ "workspace": sws }));
    assert!(lost.contains("lost the connection to jitosd"), "{lost}");
    let absent = mcp.tool_error("files_list", json!({ "workspace": sws }));
    assert!(absent.contains("no jitosd is listening"), "{absent}");
    mcp.assert_alive();
    let _daemon = sandbox.start();
    let written = mcp.tool(
        "file_write",
        json!({ "workspace": sws, "path": "after-restart.txt", "content": "still here\n" }),
    );
    assert_eq!(written["created"], json!(true), "{written}");
}

// Goal: nothing irreversible is done through the server: the daemon refuses, outside a
// process, a worker whose effect leaves its workspace, and the server passes the refusal
// on. Method: install a worker of class `irreversible` and ask job_run to run it.
#[test]
fn a_worker_that_reaches_beyond_its_workspace_is_refused() {
    let sandbox = Sandbox::new();
    let _daemon = sandbox.start();
    import_project(&sandbox);
    install_misbehave(&sandbox, "launcher", "irreversible");
    let mut mcp = Mcp::start(&sandbox, None, &[]);
    mcp.initialize();
    let sws = mcp.tool("workspace_open", json!({}))["workspace"]
        .as_u64()
        .unwrap();
    let refused = mcp.tool_error(
        "job_run",
        json!({ "workspace": sws, "worker": "launcher", "command": ["ok"] }),
    );
    assert!(
        refused.contains("worker launcher reaches beyond its workspace (irreversible)"),
        "{refused}"
    );
    let diff = mcp.tool("diff", json!({ "workspace": sws }));
    assert_eq!(diff["files"], json!([]), "{diff}");
}

// Goal: an agent's collapse the policy holds reads as held, with what it waits for, and
// once a person approves it, the agent's next collapse reports it landed. Method: a rule
// holds changes under `src` for one approver; the session (as root) writes src/fix.sh and
// collapses; nobody approves through the CLI; the agent asks again; the system has the file.
#[test]
fn a_held_collapse_waits_for_a_persons_approval_then_reads_as_collapsed() {
    if !root_or_skip("the approver's CLI runs as nobody, started with setuid") {
        return;
    }
    let sandbox = Sandbox::new();
    let policy = sandbox.path().join("policy.toml");
    fs::write(
        &policy,
        "default = \"allow\"\n\n[[rule]]\nname = \"sources need a reviewer\"\nat = \"collapse\"\n\
         when = { path = \"src\" }\ndecide = { require = 1, from = \"approver\" }\n",
    )
    .unwrap();
    let mut flags = grant_nobody(&sandbox, &["approver"]);
    flags.extend(["--policy".to_owned(), policy.display().to_string()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let _daemon = sandbox.start_with(&flags);
    import_project(&sandbox);
    let mut mcp = Mcp::start(&sandbox, None, &[]);
    mcp.initialize();
    let listed = mcp.ok("tools/list", json!({}));
    let described = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tool| tool["name"] == "collapse")
        .unwrap()["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        described.contains("held") && described.contains("approve"),
        "{described}"
    );

    let sws = mcp.tool("workspace_open", json!({}))["workspace"]
        .as_u64()
        .unwrap();
    mcp.tool(
        "file_write",
        json!({ "workspace": sws, "path": "src/fix.sh", "content": "echo fixed\n" }),
    );
    let held = mcp.tool("collapse", json!({ "workspace": sws }));
    assert_eq!(held["held"], json!(true), "{held}");
    assert_eq!(held["collapsed"], json!(false), "{held}");
    assert_eq!(
        held["waiting_for"],
        json!({ "approvals": 0, "needed": 1, "role": "approver" }),
        "{held}"
    );
    assert!(
        held["ruling"]
            .as_str()
            .unwrap()
            .contains("sources need a reviewer"),
        "{held}"
    );
    let system = mcp.tool_error("file_read", json!({ "path": "src/fix.sh" }));
    assert!(system.contains("there is no file src/fix.sh"), "{system}");

    assert_success(
        "nobody's approval",
        &jitos_as(
            &sandbox,
            NOBODY,
            &["sws", "approve", &sws.to_string(), "--comment", "ok"],
        ),
    );
    let landed = mcp.tool("collapse", json!({ "workspace": sws }));
    assert_eq!(landed["collapsed"], json!(true), "{landed}");
    assert!(landed.get("held").is_none(), "{landed}");
    let after = sandbox.path().join("after");
    sandbox.jitos_ok(&["tree", "checkout", after.to_str().unwrap()]);
    assert_eq!(
        fs::read_to_string(after.join("src/fix.sh")).unwrap(),
        "echo fixed\n"
    );
    drop(mcp);
    assert_success("replay", &sandbox.jitos(&["replay", "--verify"]));
}
