//! The real `jitos-worker-llm` binary, spawned confined under the Pure profile with its
//! socket on fd 3 as the daemon does; the test plays the daemon and answers each `Fetch`
//! from a script, and checks the requests, the proposal and the failures.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    fs,
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
};

use jitos_sandbox::{
    give_tree, Confinement, LentUid, Process, Profile, Spawn, UidPool, CHANNEL_FD,
};
use jitos_tree::{sync_rewrite, Tree};
use jitos_treefs::read_tree;
use jitos_warp::Graph;
use jitos_worker::{
    DaemonEnd, FetchOutcome, FetchReply, FetchRequest, Header, HttpResponse, Job, Method,
    WorkerMessage,
};
use serde_json::{json, Value};

const LLM: &str = env!("CARGO_BIN_EXE_jitos-worker-llm");

struct Worker {
    child: Process,
    end: DaemonEnd<UnixStream>,
    _lent: Option<LentUid>,
}

impl Worker {
    /// Starts the worker confined as the daemon starts it: Pure, scratch writable.
    fn start(scratch: &Path) -> Worker {
        let status = jitos_sandbox::status();
        assert!(
            status.supported,
            "this kernel cannot confine workers: {status:?}"
        );
        let mut confinement = Confinement::new(Profile::Pure);
        confinement.read_write.push(scratch.to_owned());
        let (daemon, worker) = UnixStream::pair().unwrap();
        let mut spawn = Spawn::new(LLM).cwd(scratch).hand(worker.into(), CHANNEL_FD);
        let lent = UidPool::for_caller().unwrap();
        if let Some(lent) = &lent {
            give_tree(scratch, lent.uid()).unwrap();
            spawn = spawn.uid(lent.uid());
        }
        let child = confinement.spawn(spawn).unwrap();
        let end = DaemonEnd::accept(daemon).unwrap();
        assert_eq!(end.hello().name, "llm");
        Worker {
            child,
            end,
            _lent: lent,
        }
    }

    /// Runs `job`, answering its fetches from `script` in order; returns the requests
    /// and the terminal message.
    fn run(&mut self, job: Job, script: Vec<FetchOutcome>) -> (Vec<FetchRequest>, WorkerMessage) {
        let mut script = script.into_iter();
        let mut requests = Vec::new();
        let job_id = job.job_id;
        self.end.send_job(job).unwrap();
        loop {
            match self.end.next_message().unwrap() {
                WorkerMessage::Progress(_) | WorkerMessage::Heartbeat | WorkerMessage::Log(_) => {}
                WorkerMessage::Fetch(request) => {
                    requests.push(request);
                    let outcome = script.next().expect("the worker fetched past the script");
                    self.end
                        .send_fetched(FetchReply { job_id, outcome })
                        .unwrap();
                }
                terminal => return (requests, terminal),
            }
        }
    }

    fn stop(mut self) {
        drop(self.end);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "worker exited with {status}");
    }
}

fn prepare() -> (tempfile::TempDir, PathBuf) {
    let scratch = tempfile::tempdir().unwrap();
    let workspace = scratch.path().join("workspace");
    fs::create_dir_all(&workspace).unwrap();
    fs::write(workspace.join("calc.sh"), "echo $(($1 - $2))\n").unwrap();
    fs::write(workspace.join("test.sh"), "[ \"$(sh calc.sh 1 2)\" = 3 ]\n").unwrap();
    (scratch, workspace)
}

fn job(workspace: &Path, args: &[&str]) -> Job {
    Job {
        job_id: 9,
        attempt: 1,
        deadline_ms: 20_000,
        input: Vec::new(),
        workspace_dir: Some(workspace.to_str().unwrap().to_owned()),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
    }
}

fn ok(content_type: &str, body: String) -> FetchOutcome {
    FetchOutcome::Response(HttpResponse {
        status: 200,
        headers: vec![Header::new("Content-Type", content_type)],
        body: body.into_bytes(),
    })
}

/// A streamed turn that patches calc.sh, its arguments split over two events.
fn streamed_patch() -> FetchOutcome {
    let args = json!({"path": "calc.sh", "old": "$1 - $2", "new": "$1 + $2"}).to_string();
    let (a, b) = args.split_at(10);
    let events = [
        json!({"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_p","type":"function","function":{"name":"apply_patch","arguments":a}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":b}}]}}]}),
        json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}),
        json!({"choices":[],"usage":{"prompt_tokens":30,"completion_tokens":12}}),
    ];
    let mut body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    body.push_str("data: [DONE]\n\n");
    ok("text/event-stream", body)
}

fn finish() -> FetchOutcome {
    ok(
        "application/json",
        json!({"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[
            {"id":"call_f","type":"function","function":{"name":"finish","arguments":"{\"summary\":\"plus, not minus\"}"}}]},
            "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":50,"completion_tokens":5}})
        .to_string(),
    )
}

const ARGS: [&str; 10] = [
    "--endpoint",
    "http://127.0.0.1:8080/v1",
    "--model",
    "qwen2.5-coder",
    "--key-secret",
    "local",
    "--task",
    "make test.sh pass",
    "--stream",
    "--feedback=test.sh failed",
];

// Goal: parameters as a method library gives them (args only), a streamed turn and a
// JSON turn, give one rewrite that records the patched file, its content as
// `files/calc.sh`, a transcript and the summary; each fetch is a POST naming the secret,
// with the job's idempotency key. Method: the real binary, confined, answered from a
// script; the rewrite applied to a graph recording the workspace before.
#[test]
fn a_streamed_patch_and_a_finish_become_one_rewrite() {
    let (scratch, workspace) = prepare();
    let before = read_tree(&workspace).unwrap();
    let mut worker = Worker::start(scratch.path());
    let (requests, end) = worker.run(job(&workspace, &ARGS), vec![streamed_patch(), finish()]);
    let WorkerMessage::Proposal(p) = end else {
        panic!("expected a proposal, got {end:?}")
    };
    assert_eq!(p.exit_status, 0);
    assert_eq!(requests.len(), 2);
    let first = &requests[0];
    assert_eq!(first.method, Method::Post);
    assert_eq!(first.url, "http://127.0.0.1:8080/v1/chat/completions");
    assert_eq!(first.idempotency_key.as_deref(), Some("llm-9-1-1-0"));
    assert_eq!(requests[1].idempotency_key.as_deref(), Some("llm-9-1-2-0"));
    assert!(first
        .headers
        .iter()
        .any(|h| h.name == "Authorization" && h.value == "Bearer ${secret:local}"));
    let body: Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["stream_options"]["include_usage"], json!(true));
    assert_eq!(body["model"], json!("qwen2.5-coder"));

    let mut graph = Graph::new();
    graph
        .apply(&sync_rewrite(&Tree::new(), &before).unwrap())
        .unwrap();
    let [rewrite] = p.rewrites.as_slice() else {
        panic!("expected one rewrite, got {:?}", p.rewrites)
    };
    graph.apply(rewrite).unwrap();
    fs::write(workspace.join("calc.sh"), "echo $(($1 + $2))\n").unwrap();
    assert_eq!(
        Tree::from_nodes(graph.nodes()).unwrap(),
        read_tree(&workspace).unwrap()
    );

    let names: Vec<&str> = p.artifacts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["files/calc.sh", "transcript", "summary"]);
    assert_eq!(p.artifacts[0].bytes, b"echo $(($1 + $2))\n");
    assert_eq!(p.artifacts[2].bytes, b"plus, not minus");
    let transcript: Value = serde_json::from_slice(&p.artifacts[1].bytes).unwrap();
    assert_eq!(transcript["turns"][0]["usage"]["prompt_tokens"], json!(30));
    worker.stop();
}

// Goal: a refused call (a spent budget) ends the job as failed with the daemon's reason
// verbatim, and a reply that is not UTF-8 fails naming that; the worker serves the next
// job after each. Method: two jobs on one worker.
#[test]
fn a_refusal_and_a_bad_reply_fail_the_job() {
    let (scratch, workspace) = prepare();
    let mut worker = Worker::start(scratch.path());
    let reason = "the writ's token budget is spent: 1000 of 1000 tokens";
    let (_, end) = worker.run(
        job(&workspace, &ARGS),
        vec![FetchOutcome::Refused {
            reason: reason.to_owned(),
        }],
    );
    let WorkerMessage::Failure(f) = end else {
        panic!("expected a failure, got {end:?}")
    };
    assert_eq!(f.reason, reason);
    let bad = FetchOutcome::Response(HttpResponse {
        status: 200,
        headers: Vec::new(),
        body: vec![b'{', 0xff, 0xfe],
    });
    let (_, end) = worker.run(job(&workspace, &ARGS), vec![bad]);
    let WorkerMessage::Failure(f) = end else {
        panic!("expected a failure, got {end:?}")
    };
    assert!(f.reason.contains("not UTF-8"), "{}", f.reason);
    worker.stop();
}
