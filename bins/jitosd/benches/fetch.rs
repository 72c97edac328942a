//! The cost of a `fetch` through the kernel beside the same request made directly: a
//! local HTTP server on 127.0.0.1 answers `GET /` with a small body; the bench times
//! `FETCH_N` (200) requests from this process with the daemon's own HTTP client, then a
//! process whose one job (the `fetch` test worker, confined) makes `FETCH_N` requests
//! through the daemon — each checked against the writ, sent, recorded as `job.fetch` with
//! its fsync, and answered — and one whose job makes one, so that the job's own start and
//! end cancel out: per fetch = (T(N) − T(1)) / (N − 1). It prints both and their ratio.
//!
//! Then the forward proxy of `network` jobs: `PROXY_MIB` (256) MiB pushed through an HTTP
//! CONNECT tunnel to a sink on 127.0.0.1, beside the same bytes sent to the sink directly
//! (MiB/s each, and their ratio).
//!
//! The test worker must be built in the same profile first (`cargo xtask bench fetch`
//! does).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod bench_daemon;

use std::{
    io::{Read, Write},
    net::TcpListener,
    path::PathBuf,
    time::{Duration, Instant},
};

use jitos_proto::{Client, Request, Response, WritSpec};

use bench_daemon::{connect, profile_dir, BenchDaemon};

const FETCH_N: usize = 200;
const PROXY_MIB: usize = 256;

/// Answers every connection's request with a fixed small body, until the process ends.
fn serve_http() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // One write per answer, sent at once: otherwise Nagle's algorithm and the
            // client's delayed ACK add 40 ms to every request, on both sides alike.
            let _ = stream.set_nodelay(true);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                loop {
                    let n = stream.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let body = "{\"ok\":true}";
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if stream.write_all(answer.as_bytes()).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    port
}

fn library(url: &str) -> jitos_tasks::Library {
    // An arg is a template: its braces are written doubled.
    let request = serde_json::json!({ "method": "GET", "url": url })
        .to_string()
        .replace('{', "{{")
        .replace('}', "}}");
    let quoted = serde_json::to_string(&request).unwrap();
    let many = vec![quoted.clone(); FETCH_N].join(", ");
    let text = format!(
        "[task.fetch_many]\nrun = {{ worker = \"fetch\", args = [{many}], effect = \"none\", timeout_secs = 300 }}\n\
         [task.fetch_one]\nrun = {{ worker = \"fetch\", args = [{quoted}], effect = \"none\", timeout_secs = 300 }}\n"
    );
    jitosd::processes::load_library_with(&[(PathBuf::from("fetch.toml"), text)]).unwrap()
}

/// Installs the fetch test worker from this profile's build.
fn install_fetch_worker(client: &mut Client, dir: &std::path::Path) {
    let binary = profile_dir().join("jitos-worker-fetch");
    assert!(
        binary.is_file(),
        "build the fetch test worker first: cargo build --release -p jitos-system-tests --bin jitos-worker-fetch"
    );
    std::fs::copy(&binary, dir.join("jitos-worker-fetch")).unwrap();
    let manifest = dir.join("worker.toml");
    std::fs::write(
        &manifest,
        "name = \"fetch\"\nversion = \"0.1.0\"\nbinary = \"jitos-worker-fetch\"\n\
         sandbox_profile = \"pure\"\neffect_class = \"none\"\ninput_schema = { type = \"bytes\" }\n\
         fetch = true\n",
    )
    .unwrap();
    match client
        .call(&Request::WorkerInstall {
            manifest: manifest.to_string_lossy().into_owned(),
        })
        .unwrap()
    {
        Response::WorkerInstalled(_) => {}
        other => panic!("install answered {other:?}"),
    }
}

/// Runs `goal` under `writ` to its end; how long it took.
fn run_process(client: &mut Client, goal: &str, writ: u64) -> Duration {
    let started = Instant::now();
    let process = match client
        .call(&Request::ProcessSubmit {
            intent: format!("goal = \"{goal}\"\n[allow]\nworkers = [\"fetch\"]\n"),
            path: "fetch.toml".to_owned(),
            writ: Some(writ),
        })
        .unwrap()
    {
        Response::ProcessSubmitted { process, .. } => process,
        other => panic!("submit answered {other:?}"),
    };
    client.send(&Request::ProcessFollow(process)).unwrap();
    loop {
        match client.receive().unwrap() {
            Response::ProcessProgress { .. } => {}
            Response::Process(detail) => {
                assert_eq!(
                    detail.summary.status,
                    jitos_proto::ProcessStatus::Done,
                    "{:?}",
                    detail.summary.detail
                );
                return started.elapsed();
            }
            other => panic!("follow answered {other:?}"),
        }
    }
}

fn main() {
    let port = serve_http();
    let url = format!("http://127.0.0.1:{port}/");

    // Directly, with the daemon's HTTP client on a runtime of its own.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let direct = runtime.block_on(async {
        for _ in 0..20 {
            client
                .get(&url)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
        }
        let started = Instant::now();
        for _ in 0..FETCH_N {
            client
                .get(&url)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
        }
        started.elapsed() / FETCH_N as u32
    });

    // Through the kernel.
    let daemon = BenchDaemon::start(library(&url), 4, jitosd::WarmConfig::default());
    let mut client = connect(daemon.socket());
    let dir = tempfile::tempdir_in(profile_dir()).unwrap();
    install_fetch_worker(&mut client, dir.path());
    let me = nix::unistd::User::from_uid(nix::unistd::Uid::current())
        .unwrap()
        .unwrap()
        .name;
    let writ = match client
        .call(&Request::WritIssue(WritSpec {
            to: me,
            workers: Some(vec!["fetch".to_owned()]),
            egress: Some(vec![format!("GET http://127.0.0.1:{port}")]),
            jobs: Some(1000),
            ..Default::default()
        }))
        .unwrap()
    {
        Response::Writ(writ) => writ.id,
        other => panic!("writ issue answered {other:?}"),
    };
    run_process(&mut client, "fetch_one", writ);
    let one = run_process(&mut client, "fetch_one", writ);
    let many = run_process(&mut client, "fetch_many", writ);
    let through = many.saturating_sub(one) / (FETCH_N as u32 - 1);

    println!("fetch of a small GET on 127.0.0.1, {FETCH_N} in a row:");
    println!(
        "  directly (reqwest, this process)     {:>10.3} ms",
        ms(direct)
    );
    println!(
        "  through the kernel (checked, sent, recorded and fsynced, answered) {:>10.3} ms",
        ms(through)
    );
    println!(
        "  ratio through/direct                 {:>10.1}",
        through.as_secs_f64() / direct.as_secs_f64()
    );
    println!(
        "  (one job of {FETCH_N} fetches took {:.1} ms; one of 1 fetch {:.1} ms)",
        ms(many),
        ms(one)
    );
    drop(client);
    drop(daemon);
    proxy_throughput();
}

/// A listener that reads and drops everything each connection sends; its port.
fn sink() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                while stream.read(&mut buf).unwrap_or(0) > 0 {}
            });
        }
    });
    port
}

/// Sends `PROXY_MIB` MiB over `stream`, closes its writing half and waits for the other
/// side to close; MiB/s.
fn push(mut stream: std::net::TcpStream) -> f64 {
    let chunk = vec![7u8; 1 << 20];
    let started = Instant::now();
    for _ in 0..PROXY_MIB {
        stream.write_all(&chunk).unwrap();
    }
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    PROXY_MIB as f64 / started.elapsed().as_secs_f64()
}

fn proxy_throughput() {
    let port = sink();
    let direct = push(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = listener.local_addr().unwrap().port();
    let proxy = jitosd::egress::Proxy::start(
        runtime.handle(),
        listener,
        jitosd::egress::EgressAllow::only([("127.0.0.1", port)]),
        std::sync::Arc::new(|_| {}),
    )
    .unwrap();
    let mut tunnel = std::net::TcpStream::connect(("127.0.0.1", proxy_port)).unwrap();
    write!(
        tunnel,
        "CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tunnel.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let through = push(tunnel);
    proxy.stop(Duration::from_secs(5));
    println!("{PROXY_MIB} MiB to a sink on 127.0.0.1:");
    println!("  directly                             {direct:>10.0} MiB/s");
    println!("  through a network job's proxy        {through:>10.0} MiB/s");
    println!(
        "  ratio through/direct                 {:>10.2}",
        through / direct
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
