//! `jitosd --otlp URL`: a process's span and its job's attempt's span reach an OTLP/HTTP
//! collector as protobuf a collector decodes, with the daemon's resource, the ids as
//! attributes and the attempt within the process, sent by the time SIGTERM's clean stop
//! ends; a collector that is not there, or never answers, holds up nothing. The setting
//! comes from the flag, its variable or the file, as every setting does.
#![allow(clippy::unwrap_used)]

use std::{
    fs,
    net::{SocketAddr, TcpListener},
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use jitos_system_tests::{
    assert_failure, assert_success, free_port, process_records, wait_for_process, Daemon, Sandbox,
};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    common::v1::{any_value::Value, KeyValue},
    trace::v1::Span,
};
use prost::Message as _;

/// How often the collector looks at its stop flag.
const POLL: Duration = Duration::from_millis(20);

/// Longer than the daemon may take to stop with spans it cannot send: its wait for the
/// last batch (5 s) and the rest of a clean stop, with room for a loaded machine.
const STOP_WITH_UNSENT_SPANS_MAX: Duration = Duration::from_secs(15);

/// What the collector was sent: each request decoded, and whatever it could not take.
#[derive(Default)]
struct Received {
    requests: Vec<ExportTraceServiceRequest>,
    refused: Vec<String>,
}

/// An OTLP/HTTP collector on 127.0.0.1: takes `POST /v1/traces` with a protobuf
/// `ExportTraceServiceRequest` and answers as a collector does; anything else is
/// answered 400 and kept as refused.
struct Collector {
    addr: SocketAddr,
    received: Arc<Mutex<Received>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    fn start() -> Collector {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let addr = server.server_addr().to_ip().unwrap();
        let received = Arc::new(Mutex::new(Received::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (received, stop) = (Arc::clone(&received), Arc::clone(&stop));
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match server.recv_timeout(POLL) {
                        Ok(Some(request)) => take(request, &received),
                        Ok(None) => {}
                        Err(_) => return,
                    }
                }
            })
        };
        Collector {
            addr,
            received,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received, with its resource's attributes.
    fn spans(&self) -> Vec<(Vec<KeyValue>, Span)> {
        let received = self.received.lock().unwrap();
        assert!(
            received.refused.is_empty(),
            "the collector refused: {:?}",
            received.refused
        );
        let mut spans = Vec::new();
        for request in &received.requests {
            for resource_spans in &request.resource_spans {
                let resource = resource_spans
                    .resource
                    .as_ref()
                    .map(|r| r.attributes.clone())
                    .unwrap_or_default();
                for scope in &resource_spans.scope_spans {
                    for span in &scope.spans {
                        spans.push((resource.clone(), span.clone()));
                    }
                }
            }
        }
        spans
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Decodes one request into `received` and answers it.
fn take(mut request: tiny_http::Request, received: &Mutex<Received>) {
    let content_type = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Content-Type"))
        .map(|h| h.value.to_string())
        .unwrap_or_default();
    let mut body = Vec::new();
    let read = request.as_reader().read_to_end(&mut body);
    let what = format!("{} {} ({content_type})", request.method(), request.url());
    let decoded = match (request.method(), request.url(), content_type.as_str(), read) {
        (tiny_http::Method::Post, "/v1/traces", "application/x-protobuf", Ok(_)) => {
            ExportTraceServiceRequest::decode(body.as_slice()).map_err(|e| format!("{what}: {e}"))
        }
        _ => Err(what),
    };
    let response = match decoded {
        Ok(export) => {
            received.lock().unwrap().requests.push(export);
            tiny_http::Response::from_data(ExportTraceServiceResponse::default().encode_to_vec())
                .with_header(
                    "Content-Type: application/x-protobuf"
                        .parse::<tiny_http::Header>()
                        .unwrap(),
                )
        }
        Err(why) => {
            received.lock().unwrap().refused.push(why);
            tiny_http::Response::from_data(Vec::new()).with_status_code(400)
        }
    };
    let _ = request.respond(response);
}

/// The value of attribute `key`, if there is one.
fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn text<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attribute(attributes, key) {
        Some(Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// An intent for the built-in `run` task: one shell job.
fn intent(sandbox: &Sandbox) -> PathBuf {
    let path = sandbox.path().join("run.toml");
    fs::write(
        &path,
        "goal = \"run\"\n[params]\ncommand = \"echo made > made.txt\"\n\
         [allow]\nworkers = [\"shell\"]\n",
    )
    .unwrap();
    path
}

/// Submits the intent and waits for it to be done: its process id.
fn run_process(sandbox: &Sandbox) -> u64 {
    let file = intent(sandbox);
    let out = assert_success(
        "submit",
        &sandbox.jitos(&["--json", "submit", file.to_str().unwrap()]),
    );
    let submitted: serde_json::Value = serde_json::from_str(&out).unwrap();
    let process = submitted["process"].as_u64().unwrap();
    wait_for_process(sandbox, process, "done");
    process
}

/// The attempts of `process`: the seqs of its dispatch records.
fn attempts_of(daemon: &Daemon, process: u64) -> Vec<u64> {
    process_records(&mut daemon.client(), process)
        .unwrap()
        .into_iter()
        .filter(|record| record.kind == "job.dispatch")
        .map(|record| record.seq)
        .collect()
}

// Goal: with --otlp, a process's span and its job's attempt's span reach the collector,
// decoded from the real OTLP/HTTP protobuf, by the time the daemon has stopped on SIGTERM:
// the resource names the service and its version, the process span carries the process's
// id, the attempt span the attempt's, the process's and the job's, and the attempt is a
// child of the process in the same trace, within its time. Method: a collector on
// loopback; the built-in `run` task run through the CLI; SIGTERM; the spans it kept.
#[test]
fn a_process_and_its_attempt_reach_the_collector_as_parent_and_child() {
    let collector = Collector::start();
    let sandbox = Sandbox::new();
    let daemon = sandbox.start_with(&["--otlp", &collector.url()]);
    let process = run_process(&sandbox);
    let attempts = attempts_of(&daemon, process);
    assert_eq!(attempts.len(), 1, "one job, one attempt: {attempts:?}");
    let inspected = sandbox.jitos_json(&["inspect", &process.to_string()]);
    let job = inspected["jobs"][0]["id"].as_str().unwrap().to_owned();
    daemon.terminate();

    let spans = collector.spans();
    let names: Vec<&str> = spans.iter().map(|(_, s)| s.name.as_str()).collect();
    let shown: Vec<String> = spans
        .iter()
        .map(|(_, s)| format!("{} {:?}", s.name, s.attributes))
        .collect();
    for (resource, span) in &spans {
        assert_eq!(
            text(resource, "service.name"),
            Some("jitosd"),
            "{}",
            span.name
        );
        assert_eq!(
            text(resource, "service.version"),
            Some(env!("CARGO_PKG_VERSION")),
            "{}",
            span.name
        );
    }
    // The bridge writes unsigned numbers as text.
    let process_id = process.to_string();
    let processes: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| {
            s.name == "process" && text(&s.attributes, "process") == Some(process_id.as_str())
        })
        .collect();
    assert_eq!(
        processes.len(),
        1,
        "one span of process {process}: {shown:#?}"
    );
    let process_span = processes[0];
    let attempt_id = attempts[0].to_string();
    let attempt_span = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| {
            s.name == "attempt" && text(&s.attributes, "attempt") == Some(attempt_id.as_str())
        })
        .unwrap_or_else(|| panic!("no span of attempt {attempt_id}: {shown:#?}"));
    assert_eq!(
        text(&attempt_span.attributes, "process"),
        Some(process_id.as_str())
    );
    assert_eq!(text(&attempt_span.attributes, "job"), Some(job.as_str()));
    assert_eq!(text(&attempt_span.attributes, "worker"), Some("shell"));
    // How it ended, as the ledger has it: the process's one job succeeded.
    assert_eq!(
        text(&attempt_span.attributes, "outcome"),
        Some("done"),
        "{shown:#?}"
    );
    assert!(
        attribute(&attempt_span.attributes, "ended_seq").is_some(),
        "{shown:#?}"
    );
    assert_eq!(attribute(&attempt_span.attributes, "cause"), None);
    assert_eq!(attempt_span.trace_id, process_span.trace_id);
    assert_eq!(attempt_span.parent_span_id, process_span.span_id);
    assert!(
        process_span.parent_span_id.is_empty(),
        "the process span is a trace's root"
    );
    assert!(
        process_span.start_time_unix_nano <= attempt_span.start_time_unix_nano
            && attempt_span.end_time_unix_nano <= process_span.end_time_unix_nano,
        "the attempt runs within its process"
    );
    // Only the traced spans go out: a CLI connection's does not.
    assert!(
        names
            .iter()
            .all(|name| ["process", "attempt"].contains(name)),
        "{names:?}"
    );
}

// Goal: a job run alone is a trace of its one attempt, which says how the attempt ended
// as the ledger has it: failed, why, and the record that ended it. Method: a shell job
// past its deadline through the CLI with a collector on loopback; SIGTERM; its span.
#[test]
fn a_job_run_alone_is_a_span_that_says_how_it_ended() {
    let collector = Collector::start();
    let sandbox = Sandbox::new();
    let daemon = sandbox.start_with(&["--otlp", &collector.url()]);
    let out = sandbox.jitos(&[
        "--json",
        "job",
        "run",
        "shell",
        "--new-sws",
        "--deadline",
        "0.2",
        "--",
        "sleep",
        "5",
    ]);
    let failed = assert_failure("a job past its deadline", &out);
    let shown: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {failed}"));
    let attempt = shown["id"].as_u64().unwrap_or_else(|| panic!("{shown}"));
    let ended = shown["state"]["Failed"]["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("{shown}"));
    let cause = shown["state"]["Failed"]["cause"]
        .as_str()
        .unwrap_or_else(|| panic!("{shown}"))
        .to_owned();
    daemon.terminate();

    let spans = collector.spans();
    let attempt_id = attempt.to_string();
    let span = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| s.name == "attempt" && text(&s.attributes, "attempt") == Some(&attempt_id))
        .unwrap_or_else(|| panic!("no span of attempt {attempt}"));
    assert!(
        span.parent_span_id.is_empty(),
        "a job alone is a trace's root"
    );
    assert_eq!(text(&span.attributes, "outcome"), Some("failed"));
    assert_eq!(text(&span.attributes, "cause"), Some(cause.as_str()));
    assert_eq!(
        text(&span.attributes, "ended_seq"),
        Some(ended.to_string().as_str())
    );
}

/// Runs a process with the daemon sending to `url`, stops it, and checks it served and
/// stopped cleanly in time, saying it could not send: its standard error.
fn serves_and_stops_despite(url: &str) -> String {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start_with(&["--otlp", url]);
    run_process(&sandbox);
    let status = sandbox.jitos_json(&["status"]);
    assert!(status["head_seq"].as_u64().unwrap() > 0, "{status:#}");
    let stopping = Instant::now();
    let stderr = daemon.terminate();
    assert!(
        stopping.elapsed() < STOP_WITH_UNSENT_SPANS_MAX,
        "the stop took {:?}",
        stopping.elapsed()
    );
    assert!(
        stderr.contains("the OTLP collector does not take spans"),
        "no warning that spans were dropped:\n{stderr}"
    );
    stderr
}

// Goal: a collector that is not there (nothing listens) stops nothing: the daemon runs a
// process, answers, stops cleanly on SIGTERM and says the spans were dropped. Method: a
// free port on loopback as the collector.
#[test]
fn a_collector_that_is_not_there_stops_nothing() {
    serves_and_stops_despite(&format!("http://127.0.0.1:{}", free_port()));
}

// Goal: a collector that takes the connection and never answers holds up nothing: the
// daemon serves as before and its stop waits for the last batch a bounded time. Method:
// a listener that never accepts (the kernel completes the handshake, no one reads).
#[test]
fn a_collector_that_never_answers_holds_up_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    serves_and_stops_despite(&url);
    drop(listener);
}

// Goal: --otlp is a setting like any other: its variable and its configuration key set
// it, --print-config names the source, and a URL that is no collector's is refused as a
// bad flag (exit 2) saying what to give. Method: jitosd --print-config with each source.
#[test]
fn the_collector_is_set_by_flag_variable_or_file_and_checked() {
    let sandbox = Sandbox::new();
    let out = sandbox.jitosd_bare(
        &["--print-config"],
        &[("JITOS_OTLP", "http://127.0.0.1:4318")],
    );
    let printed = assert_success("--print-config", &out);
    assert!(
        printed.contains("otlp = \"http://127.0.0.1:4318\"  # environment"),
        "{printed}"
    );
    let config = sandbox.path().join("jitosd.toml");
    fs::write(&config, "otlp = \"https://otel.example:4318/base\"\n").unwrap();
    let out = sandbox.jitosd_bare(
        &["--config", config.to_str().unwrap(), "--print-config"],
        &[],
    );
    let printed = assert_success("--print-config", &out);
    assert!(
        printed.contains("otlp = \"https://otel.example:4318/base\"  # configuration file"),
        "{printed}"
    );
    let out = sandbox.jitosd_bare(&["--otlp", "grpc://127.0.0.1:4317", "--print-config"], &[]);
    let refused = assert_failure("--otlp grpc://", &out);
    assert_eq!(out.status.code(), Some(2), "{refused}");
    assert!(refused.contains("http:// or https://"), "{refused}");
}
