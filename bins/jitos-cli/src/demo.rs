//! `jitos demo`: an embedded daemon on a throw-away store, a short scripted history, a
//! job on a sandboxed worker, and a tour of what the ledger knows about it.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{mpsc, Arc},
    thread,
};

use anyhow::{anyhow, bail, Context, Result};
use jitos_proto::{Request, Response};
use jitos_warp::Rewrite;
use jitosd::{Daemon, DaemonConfig};
use tokio::sync::oneshot;

use jitos_proto::Client;

use crate::{demo_job, render};

/// The scripted history: a task, the files it touches, and its progress.
const SCRIPT: &[(&str, &str)] = &[
    (
        "open a task",
        r#"{"ops": [{"add_node": {"id": "task:1", "kind": "Task", "attrs": {"title": "fix the flaky test", "state": "open"}}}]}"#,
    ),
    (
        "record the files it touches",
        r#"{"ops": [
            {"add_node": {"id": "src:lib.rs", "kind": "Source", "attrs": {"lines": 120}}},
            {"add_node": {"id": "src:tests/flaky.rs", "kind": "Source", "attrs": {"lines": 40}}},
            {"add_edge": {"from": "task:1", "to": "src:lib.rs", "label": "touches"}},
            {"add_edge": {"from": "task:1", "to": "src:tests/flaky.rs", "label": "touches"}}]}"#,
    ),
    (
        "start work, but only if the task is still open",
        r#"{"ops": [{"set_attr": {"node": "task:1", "key": "state", "value": "in_progress"}}],
            "expect": [{"attr_equals": {"node": "task:1", "key": "state", "value": "open"}}]}"#,
    ),
    (
        "the fix only needed the test file",
        r#"{"ops": [{"remove_edge": {"from": "task:1", "to": "src:lib.rs", "label": "touches"}},
                    {"set_attr": {"node": "src:tests/flaky.rs", "key": "lines", "value": 44}}]}"#,
    ),
    (
        "close the task",
        r#"{"ops": [{"set_attr": {"node": "task:1", "key": "state", "value": "done"}}],
            "expect": [{"attr_equals": {"node": "task:1", "key": "state", "value": "in_progress"}}]}"#,
    ),
];

/// What the two demo workspaces do to task:1: (state, why).
const SPECULATIONS: [(&str, &str); 2] = [
    ("reopened", "the test flaked again"),
    ("wont_fix", "the test is being deleted"),
];

/// A stale rewrite: it expects the task to be open, which it no longer is.
const STALE: &str = r#"{"ops": [{"set_attr": {"node": "task:1", "key": "state", "value": "in_progress"}}],
    "expect": [{"attr_equals": {"node": "task:1", "key": "state", "value": "open"}}]}"#;

/// Runs the tour; the store stays behind for the user to explore.
pub fn run(dir: Option<PathBuf>) -> Result<ExitCode> {
    let data_dir = match dir {
        Some(dir) => dir,
        None => tempfile::Builder::new()
            .prefix("jitos-demo-")
            .tempdir()
            .context("cannot create a temporary directory")?
            .keep(),
    };
    let socket = data_dir.join("run/jitosd.sock");
    let daemon = EmbeddedDaemon::start(DaemonConfig {
        data_dir: data_dir.clone(),
        socket: socket.clone(),
        snapshot_every: 4,
        read_only: false,
        clock: Arc::new(jitos_ledger::SystemClock),
        workers: jitosd::WorkerConfig {
            bin_dir: jitosd::paths::own_dir().map_err(|e| anyhow!(e))?,
            allow_unconfined: false,
            policy: jitosd::WorkerPolicy::default(),
            deadline_default_ms: 60_000,
        },
        library: Arc::new(
            jitosd::processes::load_library(None).map_err(|e| anyhow!(e.to_string()))?,
        ),
        worker_slots: 8,
    })?;
    let result = tour(&socket, &data_dir);
    daemon.stop();
    result?;
    Ok(ExitCode::SUCCESS)
}

fn tour(socket: &Path, data_dir: &Path) -> Result<()> {
    let mut client = Client::connect(socket, "jitos")?.ok_or_else(|| {
        anyhow!(
            "the embedded daemon is not listening on {}",
            socket.display()
        )
    })?;
    println!(
        "== jitos demo: an embedded jitosd on {}",
        data_dir.display()
    );
    println!("   store {}\n", client.welcome().store_id);

    println!("== 1. A scripted history: each rewrite is acknowledged only after its fsync");
    let mut seq_after_first = 0;
    for (i, (why, json)) in SCRIPT.iter().enumerate() {
        let rewrite = Rewrite::from_json(json).context("a demo rewrite does not parse")?;
        match client.call(&Request::ApplyRewrite(rewrite))? {
            Response::Committed { seq, hash, .. } => {
                println!("   seq {seq:>2}  {}…  {why}", &hash[..16]);
                if i == 0 {
                    seq_after_first = seq;
                }
            }
            other => bail!("the demo rewrite {why:?} failed: {other:?}"),
        }
    }

    println!("\n== 2. A stale rewrite is refused, and nothing is recorded");
    let stale = Rewrite::from_json(STALE).context("the stale rewrite does not parse")?;
    match client.call(&Request::ApplyRewrite(stale))? {
        Response::Error(e) => println!("   refused: {}", e.message),
        other => bail!("the stale rewrite was not refused: {other:?}"),
    }

    println!("\n== 3. The graph now");
    print_graph(&mut client, None)?;
    println!("\n== 4. Time travel: the graph as of seq {seq_after_first}");
    print_graph(&mut client, Some(seq_after_first))?;

    println!("\n== 5. The history of task:1");
    match client.call(&Request::History {
        node: "task:1".into(),
    })? {
        Response::History(entries) => print!("{}", indent(&render::history("task:1", &entries))),
        other => bail!("history failed: {other:?}"),
    }

    println!("\n== 6. Speculation: two workspaces reopen task:1, each its own way");
    speculate(&mut client)?;

    println!("\n== 7. A job on a sandboxed worker: it proposes, the kernel disposes");
    demo_job::run(&mut client)?;

    println!("\n== 8. Verification (replay reproduces the graph, every workspace and job)");
    match client.call(&Request::Verify)? {
        Response::Verify(view) if view.ok() => print!("{}", indent(&render::verify(&view))),
        other => bail!("verification failed: {other:?}"),
    }
    match client.call(&Request::ReplayVerify)? {
        Response::Replay(report) if report.matches() => {
            print!("{}", indent(&render::replay(&report)))
        }
        other => bail!("replay did not reproduce the live state: {other:?}"),
    }

    let data = data_dir.display();
    println!("\n== Try next (the store is kept in {data}):");
    println!("   jitos --data-dir {data} log                 # the records, without a daemon");
    println!("   jitos --data-dir {data} graph show --at 1   # time travel, offline");
    println!("   jitosd --data-dir {data} --socket {data}/run/jitosd.sock &");
    println!("   export JITOS_SOCKET={data}/run/jitosd.sock");
    println!("   echo '{{\"ops\":[{{\"add_node\":{{\"id\":\"task:2\",\"kind\":\"Task\"}}}}]}}' | jitos rewrite apply -");
    println!("   jitos log --follow                          # watch records as they commit");
    println!("   jitos sws list                              # the demo's workspaces");
    println!("   jitos job list --all                        # the demo's jobs");
    println!("   jitos job run shell --new-sws -- sh -c 'echo hi > hello.txt'");
    Ok(())
}

/// Two workspaces write the same attribute: the system is untouched until the first
/// collapses; the second's collapse is refused with the conflict, and it is discarded.
fn speculate(client: &mut Client) -> Result<()> {
    let mut ids = Vec::new();
    for (state, why) in SPECULATIONS {
        let sws = match client.call(&Request::SwsCreate {
            at: None,
            parent: None,
        })? {
            Response::SwsRecorded { sws, .. } => sws,
            other => bail!("cannot create a workspace: {other:?}"),
        };
        let json = format!(
            r#"{{"ops": [{{"set_attr": {{"node": "task:1", "key": "state", "value": "{state}"}}}}]}}"#
        );
        let rewrite = Rewrite::from_json(&json).context("a demo rewrite does not parse")?;
        match client.call(&Request::SwsApply { sws, rewrite })? {
            Response::SwsRecorded { seq, .. } => {
                println!("   seq {seq:>2}  workspace {sws}: task:1.state = {state:?}  ({why})")
            }
            other => bail!("the workspace rewrite failed: {other:?}"),
        }
        ids.push(sws);
    }
    println!(
        "   the system still says task:1.state = {}",
        task_state(client)?
    );
    let [first, second] = ids[..] else {
        bail!("the demo made {} workspaces, not 2", ids.len());
    };
    match client.call(&Request::SwsCollapse(first))? {
        Response::SwsRecorded { seq, .. } => println!(
            "   seq {seq:>2}  workspace {first} collapsed: the system now says {}",
            task_state(client)?
        ),
        other => bail!("the first collapse failed: {other:?}"),
    }
    match client.call(&Request::SwsCollapse(second))? {
        Response::SwsConflicts(view) => {
            for conflict in &view.conflicts {
                println!(
                    "   seq {:>2}  workspace {second} refused: {} was changed by record {} \
                     (the workspace {})",
                    view.seq, conflict.key, conflict.changed_at, conflict.workspace_did
                );
            }
        }
        other => bail!("the second collapse was not refused: {other:?}"),
    }
    match client.call(&Request::SwsDiscard {
        sws: second,
        reason: "lost the race to workspace ".to_owned() + &first.to_string(),
    })? {
        Response::SwsRecorded { seq, .. } => {
            println!("   seq {seq:>2}  workspace {second} discarded; it stays in history")
        }
        other => bail!("the discard failed: {other:?}"),
    }
    Ok(())
}

/// The system's current `task:1.state`, as JSON.
fn task_state(client: &mut Client) -> Result<String> {
    match client.call(&Request::GraphShow {
        at: None,
        node: Some("task:1".to_owned()),
        sws: None,
    })? {
        Response::Graph(view) => Ok(view
            .nodes
            .iter()
            .find(|node| node.id.as_str() == "task:1")
            .and_then(|node| node.attrs.get("state"))
            .map(ToString::to_string)
            .unwrap_or_default()),
        other => bail!("cannot read task:1: {other:?}"),
    }
}

fn print_graph(client: &mut Client, at: Option<u64>) -> Result<()> {
    match client.call(&Request::GraphShow {
        at,
        node: None,
        sws: None,
    })? {
        Response::Graph(view) => {
            print!("{}", indent(&render::graph(&view)));
            Ok(())
        }
        other => bail!("graph show failed: {other:?}"),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("   {line}\n")).collect()
}

/// A daemon on its own thread and runtime, inside this process.
struct EmbeddedDaemon {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EmbeddedDaemon {
    fn start(config: DaemonConfig) -> Result<EmbeddedDaemon> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("jitosd-embedded".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Runtime::new() {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow!("cannot start a runtime: {e}")));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match Daemon::start(config) {
                        Ok(daemon) => {
                            let _ = ready_tx.send(Ok(()));
                            daemon
                                .serve(async {
                                    let _ = stopped.await;
                                })
                                .await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(anyhow!(e)));
                        }
                    }
                });
            })
            .context("cannot start the embedded daemon's thread")?;
        ready_rx
            .recv()
            .map_err(|_| anyhow!("the embedded daemon stopped during start-up"))??;
        Ok(EmbeddedDaemon {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
