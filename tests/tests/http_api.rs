//! The HTTP API through the real daemon: a bearer token stands for the user who made it
//! and every field is authorised as the socket's request is (a viewer's mutation is
//! refused and audited, an admin's lands); a revoked token is refused; tokens survive a
//! restart; the unix socket knows its peer without a token; the graph reads as of a past
//! seq; a process submitted by mutation is followed by subscription to its end; records
//! are pushed as they commit over graphql-transport-ws; limits refuse deep, costly and
//! oversized queries; a remote address needs its flag.
//!
//! Root runs the daemon and is its `admin`; `nobody` (uid 65534) is a `viewer`.
#![allow(clippy::unwrap_used)]

use std::{
    os::unix::process::CommandExt as _,
    process::Command,
    time::{Duration, Instant},
};

use jitos_system_tests::{
    assert_failure, assert_success, free_port, grant_nobody, jitos_as, root_or_skip, Daemon,
    Sandbox, NOBODY,
};
use serde_json::{json, Value};
use tungstenite::{client::IntoClientRequest as _, Message};

const WHY_ROOT: &str = "the second user's client runs as nobody, started with setuid";

/// The API of a daemon listening on 127.0.0.1.
struct Api {
    port: u16,
    http: reqwest::blocking::Client,
}

impl Api {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/graphql", self.port)
    }

    /// POSTs `query` with `variables`, with `token` if any: the status and the body.
    fn post(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.url())
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        (status, response.json().unwrap())
    }

    /// `query`'s data, which must come without errors.
    fn data(&self, token: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(Some(token), query, variables);
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{query}: {body}");
        body["data"].clone()
    }

    /// The code of `query`'s first error.
    fn error_code(&self, token: &str, query: &str, variables: Value) -> String {
        let (_, body) = self.post(Some(token), query, variables);
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{query} did not fail with a code: {body}"))
            .to_owned()
    }
}

/// A daemon serving the API on a free port, with `flags`.
fn start(sandbox: &Sandbox, flags: &[String]) -> (Daemon, Api) {
    let port = free_port();
    let mut all = flags.to_vec();
    all.push("--http".to_owned());
    all.push(format!("127.0.0.1:{port}"));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let daemon = sandbox.start_with(&all);
    let api = Api {
        port,
        http: reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
    };
    (daemon, api)
}

/// A token made by `jitos token create` (as `uid`, or root).
fn token(sandbox: &Sandbox, uid: Option<u32>, name: &str) -> (String, String) {
    let args = ["--json", "token", "create", name];
    let output = match uid {
        Some(uid) => jitos_as(sandbox, uid, &args),
        None => sandbox.jitos(&args),
    };
    let created: Value = serde_json::from_str(&assert_success("token create", &output)).unwrap();
    (
        created["token"].as_str().unwrap().to_owned(),
        created["view"]["id"].as_str().unwrap().to_owned(),
    )
}

// Goal: a token is its user, with that user's roles, for every field; nothing the socket
// would refuse goes through HTTP. Method: a viewer's token discards an admin's workspace
// (refused, audited, still open), the admin's token discards it; a revoked token is 401;
// the admin's token still works after a restart.
#[test]
fn a_token_is_its_user_and_every_field_is_authorised_as_on_the_socket() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let flags = grant_nobody(&sandbox, &["viewer"]);
    let (daemon, api) = start(&sandbox, &flags);

    let (status, body) = api.post(None, "{ me { uid } }", json!({}));
    assert_eq!(status, 401, "no token: {body}");
    let unauthenticated = api
        .http
        .post(api.url())
        .json(&json!({ "query": "{ me { uid } }" }))
        .send()
        .unwrap();
    assert_eq!(
        unauthenticated.headers()["www-authenticate"]
            .to_str()
            .unwrap(),
        "Bearer"
    );
    let (status, body) = api.post(Some("jitos_not_a_token"), "{ me { uid } }", json!({}));
    assert_eq!(status, 401, "a made-up token: {body}");
    assert!(body.to_string().contains("jitos token create"), "{body}");

    let (root, _) = token(&sandbox, None, "root's");
    let (viewer, viewer_id) = token(&sandbox, Some(NOBODY), "nobody's");
    let me = api.data(&root, "{ me { uid roles } }", json!({}));
    assert_eq!(me["me"]["uid"], 0);
    assert!(me["me"]["roles"].to_string().contains("admin"), "{me}");
    let me = api.data(&viewer, "{ me { uid user roles } }", json!({}));
    assert_eq!(me["me"]["uid"], NOBODY);
    assert_eq!(me["me"]["roles"], json!(["viewer"]));

    let sws = sandbox.jitos_json(&["sws", "create"])["sws"]
        .as_u64()
        .unwrap();
    let discard = "mutation($id: Int!) { discardWorkspace(id: $id, reason: \"done\") }";
    assert_eq!(
        api.error_code(&viewer, discard, json!({ "id": sws })),
        "Forbidden"
    );
    let state = "query($id: Int!) { workspace(id: $id) { summary { state } } }";
    let open = api.data(&viewer, state, json!({ "id": sws }));
    assert_eq!(open["workspace"]["summary"]["state"], "OPEN");
    let refused = api.data(
        &root,
        "{ records(first: 1000) { records { kind actor { uid } summary } } }",
        json!({}),
    );
    let audited = refused["records"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["kind"] == "access.refused" && r["actor"]["uid"] == NOBODY);
    assert!(audited, "the refusal is recorded: {refused}");

    let landed = api.data(&root, discard, json!({ "id": sws }));
    assert!(landed["discardWorkspace"].is_object(), "{landed}");
    let gone = api.data(&viewer, state, json!({ "id": sws }));
    assert_eq!(gone["workspace"]["summary"]["state"], "DISCARDED");

    // Nobody sees only their own token; root, an admin, sees both.
    let mine = assert_success(
        "token list",
        &jitos_as(&sandbox, NOBODY, &["token", "list"]),
    );
    assert!(
        mine.contains(&viewer_id) && !mine.contains("root's"),
        "{mine}"
    );
    let all = sandbox.jitos_ok(&["token", "list"]);
    assert!(all.contains("root's") && all.contains("nobody's"), "{all}");

    assert_success(
        "token revoke",
        &jitos_as(&sandbox, NOBODY, &["token", "revoke", &viewer_id]),
    );
    let (status, _) = api.post(Some(&viewer), "{ me { uid } }", json!({}));
    assert_eq!(status, 401, "a revoked token is refused");

    daemon.terminate();
    let mut flags = flags;
    flags.push("--http".to_owned());
    flags.push(format!("127.0.0.1:{}", api.port));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let _daemon = sandbox.start_with(&flags);
    let me = api.data(&root, "{ me { uid } }", json!({}));
    assert_eq!(me["me"]["uid"], 0, "a token survives a restart");
    let (status, _) = api.post(Some(&viewer), "{ me { uid } }", json!({}));
    assert_eq!(status, 401, "and a revocation does too");
}

/// `query` on the API's unix socket, by curl run as `uid`.
fn over_socket(socket: &std::path::Path, uid: u32, query: &str) -> Value {
    let mut curl = Command::new("curl");
    curl.args(["-sS", "--max-time", "30", "--unix-socket"])
        .arg(socket)
        .args(["-H", "content-type: application/json", "-d"])
        .arg(json!({ "query": query }).to_string())
        .arg("http://jitos/graphql");
    if uid != 0 {
        curl.uid(uid).gid(NOBODY);
    }
    let output = curl.output().unwrap();
    serde_json::from_str(&assert_success("curl", &output)).unwrap()
}

// Goal: on the unix socket the peer's credentials say who asks, as on the daemon's own
// socket. Method: curl as root and as nobody asks `me`.
#[test]
fn the_unix_socket_knows_its_peer_without_a_token() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let socket = sandbox.socket().with_file_name("http.sock");
    let mut flags = grant_nobody(&sandbox, &["viewer"]);
    flags.push("--http-socket".to_owned());
    flags.push(socket.display().to_string());
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let daemon = sandbox.start_with(&flags);
    let root = over_socket(&socket, 0, "{ me { uid roles } }");
    assert_eq!(root["data"]["me"]["uid"], 0, "{root}");
    let nobody = over_socket(&socket, NOBODY, "{ me { uid roles } }");
    assert_eq!(nobody["data"]["me"]["uid"], NOBODY, "{nobody}");
    assert_eq!(nobody["data"]["me"]["roles"], json!(["viewer"]));
    daemon.terminate();
    assert!(!socket.exists(), "the HTTP socket is removed at stop");
}

// Goal: the graph reads as it stood at any seq, paged; a node's history names the
// records that changed it. Method: import one tree, then another; the first import's
// seq shows the first file only.
#[test]
fn the_graph_reads_as_of_a_past_seq_in_pages() {
    let sandbox = Sandbox::new();
    let (_daemon, api) = start(&sandbox, &[]);
    let (root, _) = token(&sandbox, None, "root's");
    let project = sandbox.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("a.txt"), "a\n").unwrap();
    sandbox.jitos_ok(&["tree", "import", project.to_str().unwrap()]);
    let first = api.data(&root, "{ status }", json!({}))["status"]["head_seq"]
        .as_u64()
        .unwrap();
    for name in ["b.txt", "c.txt", "d.txt"] {
        std::fs::write(project.join(name), "more\n").unwrap();
    }
    sandbox.jitos_ok(&["tree", "import", project.to_str().unwrap()]);

    let graph = "query($at: Int, $after: String) { graph(at: $at, first: 2, after: $after) \
                 { atSeq nodeCount nodes { id kind } edges { from label to } next } }";
    let then = api.data(&root, graph, json!({ "at": first }))["graph"].clone();
    let now = api.data(&root, graph, json!({}))["graph"].clone();
    assert_eq!(then["atSeq"], first);
    assert!(
        now["nodeCount"].as_u64().unwrap() > then["nodeCount"].as_u64().unwrap(),
        "then {then}, now {now}"
    );
    // Paging walks every node once, in id order.
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = api.data(&root, graph, json!({ "after": after }))["graph"].clone();
        for node in page["nodes"].as_array().unwrap() {
            seen.push(node["id"].as_str().unwrap().to_owned());
        }
        if page["next"].is_null() {
            break;
        }
        after = page["next"].clone();
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted);
    assert_eq!(seen.len() as u64, now["nodeCount"].as_u64().unwrap());

    let node = seen[0].clone();
    let history = api.data(
        &root,
        "query($n: String!) { history(node: $n) { record { seq kind } nodeAfter { id } } }",
        json!({ "n": node }),
    );
    let changes = history["history"].as_array().unwrap();
    assert!(!changes.is_empty(), "{history}");
    let missing = api.data(&root, "{ node(id: \"no-such-node\") { id } }", json!({}));
    assert!(missing["node"].is_null());
}

/// A WebSocket to the API speaking graphql-transport-ws, acknowledged.
struct Subscriber {
    socket: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
}

impl Subscriber {
    /// Connects with the token in the `Authorization` header, or else in
    /// `connection_init`'s payload.
    fn connect(api: &Api, header: Option<&str>, init: Value) -> Subscriber {
        let mut request = format!("ws://127.0.0.1:{}/graphql", api.port)
            .into_client_request()
            .unwrap();
        let headers = request.headers_mut();
        headers.insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        if let Some(token) = header {
            headers.insert("Authorization", format!("Bearer {token}").parse().unwrap());
        }
        let (socket, _) = tungstenite::connect(request).unwrap();
        if let tungstenite::stream::MaybeTlsStream::Plain(tcp) = socket.get_ref() {
            tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        }
        let mut subscriber = Subscriber { socket };
        subscriber.send(json!({ "type": "connection_init", "payload": init }));
        subscriber
    }

    fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .unwrap();
    }

    /// The next message, or `None` once the server closed the socket.
    fn receive(&mut self) -> Option<Value> {
        loop {
            match self.socket.read() {
                Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).unwrap()),
                Ok(Message::Close(_)) => return None,
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return None
                }
                Err(tungstenite::Error::Protocol(_)) => return None,
                Err(e) => panic!("the subscription failed: {e}"),
            }
        }
    }

    fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({
            "id": id,
            "type": "subscribe",
            "payload": { "query": query, "variables": variables }
        }));
    }

    /// The payloads of `next` messages for `id` until it completes.
    fn until_complete(&mut self, id: &str) -> Vec<Value> {
        let mut payloads = Vec::new();
        while let Some(message) = self.receive() {
            match message["type"].as_str() {
                Some("next") if message["id"] == id => payloads.push(message["payload"].clone()),
                Some("complete") if message["id"] == id => return payloads,
                Some("error") => panic!("the subscription failed: {message}"),
                _ => {}
            }
        }
        panic!("the socket closed before {id} completed: {payloads:?}");
    }
}

// Goal: new records are pushed in order as they commit, none missed, to a client that
// authenticates by header and to one (a browser) that sends its token in
// `connection_init`; a bad token there ends the socket; a token revoked while its socket
// is open ends its subscription and its right to ask. Method: subscribe, create three
// workspaces with the CLI, read three `sws.create` records among consecutive seqs; then
// revoke one subscriber's token and commit once more.
#[test]
fn records_are_pushed_as_they_commit() {
    let sandbox = Sandbox::new();
    let (_daemon, api) = start(&sandbox, &[]);
    let (root, _) = token(&sandbox, None, "root's");

    let mut refused = Subscriber::connect(&api, None, json!({ "token": "jitos_wrong" }));
    let answer = refused.receive();
    assert!(
        answer
            .as_ref()
            .is_none_or(|a| a["type"] != "connection_ack"),
        "a bad token is not acknowledged: {answer:?}"
    );

    let mut by_header = Subscriber::connect(&api, Some(&root), json!({}));
    let mut by_init = Subscriber::connect(&api, None, json!({ "token": root }));
    for subscriber in [&mut by_header, &mut by_init] {
        let ack = subscriber.receive().unwrap();
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        subscriber.subscribe("r", "subscription { records { seq kind } }", json!({}));
    }
    // The subscription starts at the next record: give it a moment to be in place.
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        sandbox.jitos_ok(&["sws", "create"]);
    }
    for subscriber in [&mut by_header, &mut by_init] {
        let mut creates = Vec::new();
        let mut last = 0;
        let deadline = Instant::now() + Duration::from_secs(30);
        while creates.len() < 3 && Instant::now() < deadline {
            let message = subscriber.receive().unwrap();
            assert_eq!(message["type"], "next", "{message}");
            let record = &message["payload"]["data"]["records"];
            let seq = record["seq"].as_u64().unwrap();
            assert!(
                last == 0 || seq == last + 1,
                "each in order, none missed: {seq} after {last}"
            );
            last = seq;
            if record["kind"] == "sws.create" {
                creates.push(seq);
            }
        }
        assert_eq!(creates.len(), 3, "{creates:?}");
    }

    // A token revoked while its WebSocket is open: its subscription ends at the next
    // record, and the connection may do nothing more.
    let (doomed, doomed_id) = token(&sandbox, None, "doomed");
    let mut revoked = Subscriber::connect(&api, Some(&doomed), json!({}));
    assert_eq!(revoked.receive().unwrap()["type"], "connection_ack");
    revoked.subscribe("r", "subscription { records { seq } }", json!({}));
    std::thread::sleep(Duration::from_millis(300));
    sandbox.jitos_ok(&["token", "revoke", &doomed_id]);
    sandbox.jitos_ok(&["sws", "create"]);
    let ended = revoked.receive().unwrap();
    let code = &ended["payload"]["errors"][0]["extensions"]["code"];
    assert_eq!(code, "Unauthenticated", "{ended}");
    revoked.subscribe("q", "{ me { uid } }", json!({}));
    let refused = loop {
        let message = revoked.receive().unwrap();
        if message["id"] == "q" {
            break message;
        }
    };
    assert!(refused.to_string().contains("revoked"), "{refused}");
}

// Goal: one WebSocket runs at most 64 subscriptions at once — the 65th is refused, and
// completing one frees its slot — and a WebSocket that never says who it is
// (`connection_init`) is closed instead of holding a connection slot. Method: 65
// subscriptions on one socket, a `complete`, one more; a socket opened without init.
#[test]
fn a_websocket_holds_bounded_subscriptions_and_must_say_who_it_is() {
    let sandbox = Sandbox::new();
    let (_daemon, api) = start(&sandbox, &[]);
    let (root, _) = token(&sandbox, None, "root's");
    let mut subscriber = Subscriber::connect(&api, Some(&root), json!({}));
    assert_eq!(subscriber.receive().unwrap()["type"], "connection_ack");
    for n in 0..64 {
        subscriber.subscribe(
            &format!("s{n}"),
            "subscription { records { seq } }",
            json!({}),
        );
    }
    subscriber.subscribe("s64", "subscription { records { seq } }", json!({}));
    // Which one finds every slot taken depends on the order they start in.
    let refused = subscriber.receive().unwrap();
    assert!(
        refused
            .to_string()
            .contains("already runs 64 subscriptions"),
        "{refused}"
    );
    let running = if refused["id"] == "s0" { "s1" } else { "s0" };
    subscriber.send(json!({ "id": running, "type": "complete" }));
    // The server drops the completed stream, and with it its slot.
    std::thread::sleep(Duration::from_millis(300));
    // From genesis, so it has something to push at once.
    subscriber.subscribe(
        "again",
        "subscription { records(from: 0) { seq } }",
        json!({}),
    );
    let pushed = loop {
        let message = subscriber.receive().unwrap();
        if message["id"] == "again" {
            break message;
        }
    };
    assert!(
        pushed["payload"]["data"]["records"]["seq"].is_u64(),
        "{pushed}"
    );

    let mut request = format!("ws://127.0.0.1:{}/graphql", api.port)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (socket, _) = tungstenite::connect(request).unwrap();
    if let tungstenite::stream::MaybeTlsStream::Plain(tcp) = socket.get_ref() {
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    }
    let mut silent = socket;
    let opened = Instant::now();
    // Closed with a close frame, or the connection just ends: either way, not answered.
    let ended = loop {
        match silent.read() {
            Ok(Message::Close(_)) => break "a close frame".to_owned(),
            Ok(Message::Text(text)) => panic!("a socket that never said who it is got {text}"),
            Ok(_) => {}
            Err(e) => break e.to_string(),
        }
    };
    let waited = opened.elapsed();
    eprintln!("the silent socket ended after {waited:?}: {ended}");
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(25),
        "closed after {waited:?} ({ended})"
    );
}

// Goal: a connection that does not finish sending a request's head within 10 s is
// closed, so idle or trickling clients cannot hold the door's connection slots; one that
// sends its request is answered. Method: two TCP connections to the API, one sending half
// a request head, one a whole request.
#[test]
fn a_request_head_not_sent_in_time_closes_its_connection() {
    use std::io::{Read as _, Write as _};
    let sandbox = Sandbox::new();
    let (_daemon, api) = start(&sandbox, &[]);
    let connect = || {
        let tcp = std::net::TcpStream::connect(("127.0.0.1", api.port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        tcp
    };
    let mut trickling = connect();
    trickling
        .write_all(b"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let mut whole = connect();
    whole
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    whole.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let opened = Instant::now();
    let mut rest = Vec::new();
    let read = trickling.read_to_end(&mut rest);
    let waited = opened.elapsed();
    assert!(
        read.is_ok() || waited < Duration::from_secs(25),
        "the half-sent request was not closed: {read:?} after {waited:?}"
    );
    assert!(
        !String::from_utf8_lossy(&rest).contains("200 OK"),
        "a half-sent request is never answered: {}",
        String::from_utf8_lossy(&rest)
    );
    assert!(
        waited >= Duration::from_secs(8) && waited < Duration::from_secs(25),
        "closed after {waited:?}"
    );
}

const METHODS: &str = r#"
[task.mark]
params = ["marker"]
run = { worker = "shell", args = ["sh", "-c", "echo {marker} > marker.txt"], effect = "workspace", timeout_secs = 30 }
"#;

// Goal: a process submitted by mutation runs, and its subscription pushes its states
// to its end; its log and plan read back; /metrics counts what it took. Method: submit a
// one-job intent, subscribe to the process, read `done` last, scrape.
#[test]
fn a_process_submitted_by_mutation_is_followed_to_its_end() {
    let sandbox = Sandbox::new();
    let methods = sandbox.path().join("methods");
    std::fs::create_dir_all(&methods).unwrap();
    std::fs::write(methods.join("test.toml"), METHODS).unwrap();
    let (_daemon, api) = start(
        &sandbox,
        &["--methods-dir".to_owned(), methods.display().to_string()],
    );
    let (root, _) = token(&sandbox, None, "root's");
    let intent = "goal = \"mark\"\n[params]\nmarker = \"here\"\n[allow]\nworkers = [\"shell\"]\n";
    let submitted = api.data(
        &root,
        "mutation($intent: String!) { submitProcess(intent: $intent) }",
        json!({ "intent": intent }),
    );
    let process = submitted["submitProcess"]["ProcessSubmitted"]["process"]
        .as_u64()
        .unwrap_or_else(|| panic!("{submitted}"));

    let mut subscriber = Subscriber::connect(&api, Some(&root), json!({}));
    assert_eq!(subscriber.receive().unwrap()["type"], "connection_ack");
    subscriber.subscribe(
        "p",
        "subscription($id: Int!) { process(id: $id) { id status jobsDone jobs } }",
        json!({ "id": process }),
    );
    let states = subscriber.until_complete("p");
    let last = &states.last().unwrap()["data"]["process"];
    assert_eq!(last["status"], "DONE", "{states:?}");
    assert_eq!(last["jobsDone"], last["jobs"]);

    let full = api.data(
        &root,
        "query($id: Int!) { process(id: $id) { summary { status } \
         jobs { kind worker status state } lanes { state } explain } \
         processLog(id: $id) { records { kind } } }",
        json!({ "id": process }),
    );
    assert_eq!(full["process"]["summary"]["status"], "DONE");
    let job = &full["process"]["jobs"][0];
    assert_eq!(
        (&job["kind"], &job["worker"], &job["status"]),
        (&json!("RUN"), &json!("shell"), &json!("DONE")),
        "{job}"
    );
    assert!(job["state"].as_str().unwrap().starts_with("done"), "{job}");
    assert_eq!(full["process"]["lanes"][0]["state"], "COLLAPSED");
    let kinds = full["processLog"]["records"].to_string();
    assert!(kinds.contains("job.dispatch"), "{kinds}");
    let absent = api.data(&root, "{ process(id: 999999) { explain } }", json!({}));
    assert!(absent["process"].is_null());

    // What it took shows in the metrics, to a scraper with a token.
    let metrics_url = format!("http://127.0.0.1:{}/metrics", api.port);
    let anonymous = api.http.get(&metrics_url).send().unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let metrics = api
        .http
        .get(&metrics_url)
        .bearer_auth(&root)
        .send()
        .unwrap()
        .text()
        .unwrap();
    for wanted in [
        "jitos_commit_seconds_bucket",
        "jitos_commit_group_records_bucket",
        "jitos_records_total{kind=\"job.done\"}",
        "jitos_scheduler_decisions_total{decision=\"dispatch\"}",
        "jitos_worker_spawn_seconds_bucket",
        "jitos_approvals_waiting 0",
        "jitos_head_seq ",
    ] {
        assert!(metrics.contains(wanted), "{wanted} in {metrics}");
    }
}

// Goal: the limits hold: a query nested past the depth limit, one whose lists cost past
// the complexity limit, a page of 0 and a body over 1 MiB are refused, and the daemon
// answers the next query. Method: one of each.
#[test]
fn deep_costly_and_oversized_queries_are_refused() {
    let sandbox = Sandbox::new();
    let (_daemon, api) = start(&sandbox, &[]);
    let (root, _) = token(&sandbox, None, "root's");

    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {} name {} }} }} }} }}",
        "{ ofType ".repeat(8),
        "}".repeat(8)
    );
    let (_, body) = api.post(Some(&root), &deep, json!({}));
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{body}"
    );

    let costly = "{ a: records(first: 1000) { records { seq kind hash parent summary timeMs \
                  actor { kind uid pid name } } } b: records(first: 1000) { records { seq kind \
                  hash parent summary timeMs actor { kind uid pid name } } } }";
    let (_, body) = api.post(Some(&root), costly, json!({}));
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too complex"),
        "{body}"
    );

    assert_eq!(
        api.error_code(&root, "{ records(first: 0) { next } }", json!({})),
        "BadRequest"
    );

    let huge = "x".repeat(2 * 1024 * 1024);
    // On a connection of its own: the daemon closes it after refusing the body.
    let response = reqwest::blocking::Client::new()
        .post(api.url())
        .bearer_auth(&root)
        .header("content-type", "application/json")
        .body(json!({ "query": huge }).to_string())
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);

    let me = api.data(&root, "{ me { uid } }", json!({}));
    assert_eq!(me["me"]["uid"], 0);
}

// Goal: the API listens beyond loopback only when told to. Method: check a configuration
// with --http on 0.0.0.0, without and with --http-allow-remote.
#[test]
fn a_remote_address_needs_its_flag() {
    let sandbox = Sandbox::new();
    let refused = sandbox.jitosd_bare(&["--check-config", "--http", "0.0.0.0:7780"], &[]);
    let said = assert_failure("a remote address", &refused);
    assert!(said.contains("not a loopback address"), "{said}");
    let allowed = sandbox.jitosd_bare(
        &[
            "--check-config",
            "--http",
            "0.0.0.0:7780",
            "--http-allow-remote",
        ],
        &[],
    );
    assert_success("a remote address, allowed", &allowed);
}
