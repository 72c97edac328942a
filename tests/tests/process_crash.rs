//! The process crash harness: SIGKILL a real `jitosd` at seeded random moments while
//! multi-job processes run (sequences, a race, idempotent jobs and jobs that are not, and
//! steps of the reusable `noop` in warm instances), restart it on the same data directory,
//! and check that no worker, warm instance or one-shot, outlives a restart, and that after
//! the last restart every process finishes or waits for a person, no attempt has two
//! terminal records, no job that is not idempotent was dispatched twice, and replay
//! reproduces every decision.
#![allow(clippy::unwrap_used)]

use std::{
    collections::BTreeMap,
    fs,
    time::{Duration, Instant},
};

use jitos_proto::{Client, Request, Response};
use jitos_system_tests::{
    all_records, bin_path, call, children_running, is_alive, terminal_records, wait_until,
    worker_children, Daemon, Sandbox,
};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// Kill cycles when `JITOS_PROCESS_CRASH_CYCLES` is not set.
const CYCLES_DEFAULT: u64 = 8;
/// Seed of the kill delays when `JITOS_CRASH_SEED` is not set.
const SEED_DEFAULT: u64 = 0x9e37_79b9_7f4a;
/// Processes submitted per cycle.
const PROCESSES_PER_CYCLE: usize = 2;
/// Range of the delay between the submits and the SIGKILL.
const KILL_DELAY_MS_MIN: u64 = 10;
const KILL_DELAY_MS_MAX: u64 = 400;
/// How long the processes get to settle after the last restart.
const SETTLE: Duration = Duration::from_secs(60);

/// Steps whose id ends in `_once` are not idempotent.
const METHODS: &str = r#"
[task.pipeline]
params = ["name"]
[[task.pipeline.method]]
name = "steps"
steps = [{ task = "prepare" }, { task = "stamp", id = "stamp_prepared" }, { task = "write_once" }, { task = "choose" }, { task = "stamp", id = "stamp_chosen" }, { task = "publish_once" }]

[task.choose]
params = ["name"]
[[task.choose.method]]
name = "race"
race = true
steps = [{ task = "left" }, { task = "right" }]

[task.stamp]
params = ["name"]
run = { worker = "noop", effect = "none", timeout_secs = 30, idempotent = true }
[task.prepare]
params = ["name"]
run = { worker = "shell", args = ["sh", "-c", "sleep 0.05; echo p > {name}-prepare.txt"], effect = "workspace", timeout_secs = 30, idempotent = true }
[task.write_once]
params = ["name"]
run = { worker = "shell", args = ["sh", "-c", "sleep 0.05; echo w > {name}-write.txt"], effect = "workspace", timeout_secs = 30 }
[task.left]
params = ["name"]
run = { worker = "shell", args = ["sh", "-c", "sleep 0.08; echo l > {name}-left.txt"], effect = "workspace", timeout_secs = 30, idempotent = true, gate = true }
[task.right]
params = ["name"]
run = { worker = "shell", args = ["sh", "-c", "sleep 0.03; echo r > {name}-right.txt"], effect = "workspace", timeout_secs = 30, idempotent = true, gate = true }
[task.publish_once]
params = ["name"]
run = { worker = "shell", args = ["sh", "-c", "echo done > {name}-published.txt"], effect = "workspace", timeout_secs = 30 }
"#;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{name}={text:?} is not a whole number: {e}")),
        Err(_) => default,
    }
}

fn start(sandbox: &Sandbox, methods: &str) -> Daemon {
    sandbox.start_with(&["--methods-dir", methods, "--snapshot-every", "25"])
}

/// Submits a pipeline whose files are named after `name`, so that processes running side
/// by side touch different files and do not conflict at collapse.
fn submit(client: &mut Client, name: &str) -> u64 {
    let intent = format!(
        "goal = \"pipeline\"\n[params]\nname = \"{name}\"\n[allow]\nworkers = [\"shell\", \"noop\"]\n"
    );
    let request = Request::ProcessSubmit {
        intent,
        path: "crash.toml".to_owned(),
        writ: None,
    };
    match call(client, &request) {
        Response::ProcessSubmitted { process, .. } => process,
        other => panic!("submit answered {other:?}"),
    }
}

/// A process's records, one line each.
fn process_log(client: &mut Client, process: u64) -> String {
    match jitos_system_tests::process_records(client, process) {
        Ok(records) => records
            .iter()
            .map(|r| format!("{} {} {}", r.seq, r.kind, r.summary))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(other) => format!("{other:?}"),
    }
}

/// Submits this cycle's processes.
fn submit_cycle(daemon: &Daemon, processes: &mut Vec<u64>, cycle: u64) {
    let mut client = daemon.client();
    for n in 0..PROCESSES_PER_CYCLE {
        processes.push(submit(&mut client, &format!("c{cycle}p{n}")));
    }
}

/// SIGKILLs `daemon` and starts another on its data, checking none of its workers, warm
/// or one-shot, outlived it.
fn kill_and_restart(daemon: Daemon, sandbox: &Sandbox, methods: &str, cycle: u64) -> Daemon {
    let workers = worker_children(&daemon);
    daemon.kill9();
    let daemon = start(sandbox, methods);
    let outlived: Vec<u32> = workers.into_iter().filter(|p| is_alive(*p)).collect();
    assert!(
        outlived.is_empty(),
        "cycle {cycle}: workers {outlived:?} outlived the restart"
    );
    daemon
}

fn status(client: &mut Client, process: u64) -> (String, Vec<String>) {
    match call(client, &Request::ProcessShow(process)) {
        Response::Process(detail) => (
            detail.summary.status.to_string(),
            detail.jobs.into_iter().map(|j| j.id).collect(),
        ),
        other => panic!("show answered {other:?}"),
    }
}

// Goal: see the module doc. Method: seeded cycles of submit, random delay, SIGKILL and
// restart; then a settle period with no kills, and the checks.
#[test]
fn processes_survive_random_kills() {
    let cycles = env_u64("JITOS_PROCESS_CRASH_CYCLES", CYCLES_DEFAULT);
    let seed = env_u64("JITOS_CRASH_SEED", SEED_DEFAULT);
    let mut rng = StdRng::seed_from_u64(seed);
    let sandbox = Sandbox::new();
    let methods = sandbox.path().join("methods");
    fs::create_dir_all(&methods).unwrap();
    fs::write(methods.join("crash.toml"), METHODS).unwrap();
    let methods = methods.to_str().unwrap().to_owned();
    let mut processes = Vec::new();
    let mut daemon = start(&sandbox, &methods);
    let mut kills_among_warm_instances = 0;
    // The system's tree needs its root directory before processes add files beside each
    // other; two workspaces each adding the root would conflict.
    let project = sandbox.path().join("project");
    fs::create_dir_all(&project).unwrap();
    fs::write(project.join("README"), "crash harness\n").unwrap();
    let imported = sandbox.jitos(&["tree", "import", project.to_str().unwrap()]);
    assert!(imported.status.success(), "{imported:?}");
    for cycle in 0..cycles {
        submit_cycle(&daemon, &mut processes, cycle);
        std::thread::sleep(Duration::from_millis(
            rng.random_range(KILL_DELAY_MS_MIN..=KILL_DELAY_MS_MAX),
        ));
        if !children_running(&daemon, &bin_path("jitos-worker-noop")).is_empty() {
            kills_among_warm_instances += 1;
        }
        daemon = kill_and_restart(daemon, &sandbox, &methods, cycle);
    }
    // On a loaded machine no random delay may have reached a noop step: one more cycle
    // kills only once warm instances run, so a kill among them is always exercised.
    if kills_among_warm_instances == 0 {
        submit_cycle(&daemon, &mut processes, cycles);
        wait_until("a warm noop instance to run", SETTLE, || {
            !children_running(&daemon, &bin_path("jitos-worker-noop")).is_empty()
        });
        kills_among_warm_instances += 1;
        daemon = kill_and_restart(daemon, &sandbox, &methods, cycles);
    }

    let mut client = daemon.client();
    let settle_deadline = Instant::now() + SETTLE;
    loop {
        let running: Vec<u64> = processes
            .iter()
            .copied()
            .filter(|&p| status(&mut client, p).0 == "running")
            .collect();
        if running.is_empty() {
            break;
        }
        if Instant::now() > settle_deadline {
            let logs: Vec<String> = running
                .iter()
                .map(|&p| format!("process {p}:\n{}", process_log(&mut client, p)))
                .collect();
            drop(client);
            panic!(
                "processes {running:?} still run {SETTLE:?} after the last restart\n{}\n\
                 jitosd's stderr:\n{}",
                logs.join("\n"),
                daemon.terminate()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut ends: BTreeMap<String, usize> = BTreeMap::new();
    for &process in &processes {
        *ends.entry(status(&mut client, process).0).or_default() += 1;
    }
    eprintln!(
        "seed {seed:#x}, {cycles} cycles ({kills_among_warm_instances} kills among warm \
         instances): {ends:?}"
    );
    for &process in &processes {
        let (state, _) = status(&mut client, process);
        if state != "done" && state != "waiting" {
            panic!(
                "process {process} ended {state}:\n{}",
                process_log(&mut client, process)
            );
        }
    }

    for (attempt, kinds) in terminal_records(&mut client) {
        assert!(kinds.len() <= 1, "attempt {attempt} ended {kinds:?}");
    }
    let mut dispatched: BTreeMap<(u64, usize), usize> = BTreeMap::new();
    for record in all_records(&mut client) {
        if record.kind != "job.dispatch" {
            continue;
        }
        let Some((_, owner)) = record.summary.split_once(" for process ") else {
            continue;
        };
        let (process, job) = owner.split_once(" job #").unwrap();
        let key = (process.parse().unwrap(), job.parse::<usize>().unwrap() - 1);
        *dispatched.entry(key).or_default() += 1;
    }
    for &process in &processes {
        let (_, jobs) = status(&mut client, process);
        for (job, id) in jobs.iter().enumerate() {
            if id.ends_with("_once") {
                let times = dispatched.get(&(process, job)).copied().unwrap_or(0);
                assert!(times <= 1, "process {process} ran {id} {times} times");
            }
        }
    }
    match call(&mut client, &Request::ReplayVerify) {
        Response::Replay(report) => assert!(report.matches(), "{report:?}"),
        other => panic!("replay answered {other:?}"),
    }
}
