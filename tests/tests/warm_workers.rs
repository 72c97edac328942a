//! Warm workers through the real daemon: what one job of a reusable worker leaves (in its
//! memory, its job's directory, its home) reaches later jobs of the same user and never a
//! job of another user; a crashed instance fails only its own attempt; instances are
//! retired after their jobs and when idle; none outlives a daemon killed with SIGKILL.
//!
//! The worker is `jitos-worker-leftover`, copied in as the built-in `noop` (so it is
//! reusable): each job proposes a node `probe:<attempt>` saying what it found.
#![allow(clippy::unwrap_used)]

use std::{collections::BTreeMap, fs, path::PathBuf, time::Duration};

use jitos_proto::{AttemptState, Client, FailureCause, Request, Response};
use jitos_system_tests::{
    assert_success, bin_path, call, children_running, create_sws, grant_nobody, is_alive, jitos_as,
    job_spec, root_or_skip, run_job, terminal_records, wait_until, Daemon, Sandbox, NOBODY,
};
use jitos_warp::Value;

/// The probe's binary, as the daemon finds it: `noop` and `scaffold` (the reusable
/// built-ins, without files and with them) in a worker directory of its own.
fn probe_dir(sandbox: &Sandbox) -> PathBuf {
    let dir = sandbox.path().join("workers");
    if !dir.is_dir() {
        fs::create_dir(&dir).unwrap();
        for name in ["jitos-worker-noop", "jitos-worker-scaffold"] {
            fs::copy(bin_path("jitos-worker-leftover"), dir.join(name)).unwrap();
        }
    }
    dir
}

/// A daemon that runs the probe as `noop`, with `extra` flags.
fn start(sandbox: &Sandbox, extra: &[&str]) -> Daemon {
    let dir = probe_dir(sandbox);
    let mut flags = vec!["--worker-dir", dir.to_str().unwrap()];
    flags.extend(extra);
    sandbox.start_with(&flags)
}

/// A daemon that runs the probe as `noop`, with `extra` flags, serving `nobody` as an
/// operator too.
fn start_serving_nobody(sandbox: &Sandbox, extra: &[&str]) -> Daemon {
    let access = grant_nobody(sandbox, &["operator", "approver"]);
    let mut flags: Vec<&str> = access.iter().map(String::as_str).collect();
    flags.extend(extra);
    start(sandbox, &flags)
}

/// The warm instances (and any other process) running the probe.
fn probes_running(daemon: &Daemon) -> Vec<u32> {
    children_running(daemon, &bin_path("jitos-worker-leftover"))
}

/// What one probe job found.
#[derive(Debug)]
struct Found {
    pid: u32,
    jobs: i64,
    memory: String,
    home: String,
    job_dir: String,
    /// The files written for the job, when it has them.
    workspace: Option<String>,
    /// Its job's directory, inside the instance's home.
    cwd: PathBuf,
}

fn found_in(attrs: &BTreeMap<String, Value>) -> Found {
    let text = |key: &str| match attrs.get(key) {
        Some(Value::Str(text)) => text.clone(),
        other => panic!("{key} is {other:?}"),
    };
    let int = |key: &str| match attrs.get(key) {
        Some(Value::Int(n)) => *n,
        other => panic!("{key} is {other:?}"),
    };
    Found {
        pid: u32::try_from(int("pid")).unwrap(),
        jobs: int("jobs"),
        memory: text("memory"),
        home: text("home"),
        job_dir: text("job_dir"),
        workspace: attrs.get("workspace").map(|_| text("workspace")),
        cwd: PathBuf::from(text("cwd")),
    }
}

/// Every probe node in workspace `sws` (or the system), by attempt.
fn probes_in(client: &mut Client, sws: Option<u64>) -> BTreeMap<u64, Found> {
    let view = jitos_system_tests::sws_graph(client, sws);
    view.nodes
        .iter()
        .filter_map(|node| {
            let attempt = node.id.as_str().strip_prefix("probe:")?.parse().ok()?;
            Some((attempt, found_in(&node.attrs)))
        })
        .collect()
}

/// Runs one probe job in `sws` with `args`; it must end done. What it found.
fn probe(client: &mut Client, sws: u64, args: &[&str]) -> Found {
    probe_as("noop", client, sws, args)
}

/// Runs one probe job as built-in `worker`.
fn probe_as(worker: &str, client: &mut Client, sws: u64, args: &[&str]) -> Found {
    let view = run_job(client, job_spec(worker, sws, args));
    assert!(
        matches!(view.state, AttemptState::Done { .. }),
        "{args:?} ended {view:?}"
    );
    probes_in(client, Some(sws))
        .remove(&view.id)
        .unwrap_or_else(|| panic!("attempt {} proposed no probe node", view.id))
}

/// `jitos --json ARGS` run as `NOBODY`; it must succeed. What it printed.
fn jitos_as_nobody(sandbox: &Sandbox, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend(args);
    let output = jitos_as(sandbox, NOBODY, &all);
    let text = assert_success(&format!("jitos {} as nobody", all.join(" ")), &output);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("no JSON ({e}): {text}"))
}

/// Runs one probe job as `NOBODY` in `sws`; it must end done. What it found.
fn probe_as_nobody(sandbox: &Sandbox, client: &mut Client, sws: u64) -> Found {
    let sws_arg = sws.to_string();
    let attempt = jitos_as_nobody(
        sandbox,
        &["job", "run", "--sws", &sws_arg, "noop", "--", "look"],
    );
    let id = attempt["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("job run printed {attempt}"));
    probes_in(client, Some(sws))
        .remove(&id)
        .unwrap_or_else(|| panic!("attempt {id} proposed no probe node"))
}

/// The home of the instance that ran a job found in `cwd`.
fn home_of(found: &Found) -> PathBuf {
    found.cwd.parent().unwrap().to_owned()
}

// Goal: memory, files in a job's directory and files in the instance's home reach the
// next job of the same user, in any workspace, and never a job of another user, even
// while the first user's instance is alive and idle. Method: root plants a token in
// workspace A; root's job in B (the positive control) finds it in memory and in the home,
// and finds its own directory fresh; a job of uid 65534 in C runs in another process and
// finds nothing, while root's instance still runs.
#[test]
fn what_a_job_leaves_reaches_only_later_jobs_of_its_user() {
    if !root_or_skip("a second user's client is started with setuid") {
        return;
    }
    let sandbox = Sandbox::new();
    let daemon = start_serving_nobody(&sandbox, &[]);
    let mut client = daemon.client();
    let (a, b, c) = (
        create_sws(&mut client),
        create_sws(&mut client),
        create_sws(&mut client),
    );

    let planted = probe(&mut client, a, &["plant", "secret-a"]);
    assert_eq!(
        (planted.jobs, planted.memory.as_str(), planted.home.as_str()),
        (1, "", ""),
        "a fresh instance holds nothing: {planted:?}"
    );
    assert_eq!(planted.job_dir, "", "{planted:?}");
    wait_until(
        "the job's directory removed",
        Duration::from_secs(10),
        || !planted.cwd.exists(),
    );

    let again = probe(&mut client, b, &["look"]);
    assert_eq!(
        again.pid, planted.pid,
        "root's jobs did not share an instance"
    );
    assert_eq!(again.jobs, 2);
    assert_eq!(again.memory, "secret-a", "{again:?}");
    assert_eq!(again.home, "planted-secret-a", "{again:?}");
    assert_eq!(again.job_dir, "", "the job's directory was not fresh");
    assert_ne!(again.cwd, planted.cwd);

    let other = probe_as_nobody(&sandbox, &mut client, c);
    assert!(
        is_alive(planted.pid),
        "root's instance was retired meanwhile"
    );
    assert_ne!(
        other.pid, planted.pid,
        "uid {NOBODY}'s job ran in root's instance"
    );
    assert_eq!(
        (
            other.memory.as_str(),
            other.home.as_str(),
            other.job_dir.as_str()
        ),
        ("", "", ""),
        "uid {NOBODY}'s job saw what root's left: {other:?}"
    );
    assert_ne!(home_of(&other), home_of(&planted));
}

// Goal: a reusable worker whose jobs have files gets each job's workspace files in that
// job's fresh directory, and another job of the same workspace in the same instance gets
// its own. Method: a workspace with one file; two jobs of the probe as `scaffold` (whose
// effect class is `workspace`) list their files and directory.
#[test]
fn a_job_with_files_finds_them_in_its_own_directory() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, &[]);
    let project = sandbox.path().join("project");
    fs::create_dir(&project).unwrap();
    fs::write(project.join("README"), "warm\n").unwrap();
    assert_success(
        "tree import",
        &sandbox.jitos(&["tree", "import", project.to_str().unwrap()]),
    );
    let mut client = daemon.client();
    let a = create_sws(&mut client);
    let first = probe_as("scaffold", &mut client, a, &["plant", "in-files"]);
    let second = probe_as("scaffold", &mut client, a, &["look"]);
    assert_eq!(
        second.pid, first.pid,
        "the two jobs did not share an instance"
    );
    for found in [&first, &second] {
        assert_eq!(found.workspace.as_deref(), Some("README"), "{found:?}");
        assert_eq!(found.job_dir, "ws", "{found:?}");
    }
    assert_ne!(second.cwd, first.cwd);
    assert_eq!(second.home, "planted-in-files", "{second:?}");
}

const METHODS: &str = r#"
[task.plant_then_look]
params = ["token"]
[[task.plant_then_look.method]]
name = "in_order"
steps = [{ task = "plant" }, { task = "go_on" }, { task = "look" }]

[task.look_once]
[[task.look_once.method]]
name = "look"
steps = [{ task = "look" }]

[task.plant]
params = ["token"]
run = { worker = "noop", args = ["plant", "{token}"], effect = "none", timeout_secs = 30 }
[task.go_on]
params = ["token"]
ask = { question = "Look now?", yes_no = true }
[task.look]
run = { worker = "noop", args = ["look"], effect = "none", timeout_secs = 30 }
"#;

fn submit(sandbox: &Sandbox, name: &str, goal: &str, params: &str) -> u64 {
    let file = sandbox.path().join(name);
    fs::write(
        &file,
        format!("goal = \"{goal}\"\n[params]\n{params}\n[allow]\nworkers = [\"noop\"]\n"),
    )
    .unwrap();
    let out = assert_success(
        "submit",
        &sandbox.jitos(&["--json", "submit", file.to_str().unwrap()]),
    );
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    value["process"].as_u64().unwrap()
}

fn inspect(sandbox: &Sandbox, process: u64) -> serde_json::Value {
    let out = assert_success(
        "inspect",
        &sandbox.jitos(&["--json", "inspect", &process.to_string()]),
    );
    serde_json::from_str(&out).unwrap()
}

fn wait_for(sandbox: &Sandbox, process: u64, status: &str) -> serde_json::Value {
    let mut shown = serde_json::Value::Null;
    wait_until(
        &format!("process {process} {status}"),
        Duration::from_secs(20),
        || {
            shown = inspect(sandbox, process);
            shown["summary"]["status"] == status
        },
    );
    shown
}

// Goal: the same for processes: the jobs of one user's processes share an instance,
// another user's process never sees what they left, even while the first user's
// instance is alive and idle. Method: root's process P1 plants a token, then asks a
// person before it looks; meanwhile P2 of uid 65534 looks; then root's P3 looks (the
// positive control across processes) and P1 is approved and looks.
#[test]
fn what_a_job_leaves_reaches_only_later_jobs_of_its_users_processes() {
    if !root_or_skip("a second user's client is started with setuid") {
        return;
    }
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("methods");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("probe.toml"), METHODS).unwrap();
    // Long enough that no instance retires idle during the test.
    let daemon = start_serving_nobody(
        &sandbox,
        &[
            "--methods-dir",
            dir.to_str().unwrap(),
            "--warm-idle-ms",
            "600000",
        ],
    );
    let mut client = daemon.client();

    let p1 = submit(
        &sandbox,
        "p1.toml",
        "plant_then_look",
        "token = \"secret-p1\"",
    );
    let waiting = wait_for(&sandbox, p1, "waiting");
    let p1_sws = waiting["lanes"][0]["sws"].as_u64().unwrap();
    let planted: Vec<Found> = probes_in(&mut client, Some(p1_sws)).into_values().collect();
    let [planted] = planted.as_slice() else {
        panic!("P1 has {} probe nodes before the answer", planted.len())
    };

    // P2 collapses into the system while P1 still waits, so the system holds its node only.
    let intent = sandbox.path().join("p2.toml");
    fs::write(
        &intent,
        "goal = \"look_once\"\n[allow]\nworkers = [\"noop\"]\n",
    )
    .unwrap();
    let p2 = jitos_as_nobody(&sandbox, &["submit", intent.to_str().unwrap()])["process"]
        .as_u64()
        .unwrap();
    wait_for(&sandbox, p2, "done");
    let looked: Vec<Found> = probes_in(&mut client, None).into_values().collect();
    let [other] = looked.as_slice() else {
        panic!("the system has {} probe nodes", looked.len())
    };
    assert!(is_alive(planted.pid), "P1's instance was retired meanwhile");
    assert_ne!(other.pid, planted.pid, "P2's job ran in root's instance");
    assert_eq!(
        (other.memory.as_str(), other.home.as_str()),
        ("", ""),
        "P2's job saw what P1's left: {other:?}"
    );

    let p3 = submit(&sandbox, "p3.toml", "look_once", "");
    wait_for(&sandbox, p3, "done");
    let by_root = probes_in(&mut client, None);
    let seen = by_root
        .values()
        .find(|found| found.jobs == 2)
        .unwrap_or_else(|| panic!("P3 did not look in root's instance: {by_root:?}"));
    assert_eq!(seen.pid, planted.pid);
    assert_eq!(seen.memory, "secret-p1", "{seen:?}");

    assert_success(
        "nobody approves root's",
        &jitos_as(&sandbox, NOBODY, &["approve", &p1.to_string()]),
    );
    wait_for(&sandbox, p1, "done");
    let probes = probes_in(&mut client, None);
    let seen = probes
        .values()
        .find(|found| found.jobs == 3)
        .unwrap_or_else(|| panic!("P1 did not look in the same instance: {probes:?}"));
    assert_eq!(seen.pid, planted.pid);
    assert_eq!(seen.memory, "secret-p1", "{seen:?}");
    assert_eq!(seen.home, "planted-secret-p1", "{seen:?}");
}

const REFUSE_THEN_LOOK: &str = r#"
[task.refuse_then_look]
[[task.refuse_then_look.method]]
name = "refused"
steps = [{ task = "refuse" }]
[[task.refuse_then_look.method]]
name = "then_look"
steps = [{ task = "look" }]

[task.refuse]
run = { worker = "noop", args = ["refuse", "refused-token"], effect = "none", timeout_secs = 30 }
[task.look]
run = { worker = "noop", args = ["look"], effect = "none", timeout_secs = 30 }
"#;

// Goal: an instance whose proposal was refused serves no other job, even the one the
// refusal makes due, which the writer may hand to it while the refusal is recorded (it is
// idle again by then, so that a step's next job finds it). Method: a process whose first
// plan's only job plants a token and is refused; its next plan's job must find no token
// and be the first job of whatever ran it (a spare, or a process of its own when it was
// handed to the refused instance first), and the process still ends done.
#[test]
fn the_job_after_a_refused_proposal_runs_elsewhere() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("methods");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("probe.toml"), REFUSE_THEN_LOOK).unwrap();
    let daemon = start(&sandbox, &["--methods-dir", dir.to_str().unwrap()]);
    let mut client = daemon.client();
    for round in 0..5 {
        let process = submit(&sandbox, "p.toml", "refuse_then_look", "");
        wait_for(&sandbox, process, "done");
        let looked: Vec<Found> = probes_in(&mut client, None).into_values().collect();
        let Some(looked) = looked.last() else {
            panic!("round {round}: the system has no probe node")
        };
        assert_eq!(
            (looked.jobs, looked.memory.as_str()),
            (1, ""),
            "round {round}: the job after the refusal ran in the refused instance: {looked:?}"
        );
    }
}

// Goal: a crashed instance fails its own attempt, once, as crashed, and nothing else:
// another user's idle instance keeps running, and the next job of the crashed instance's
// user gets a fresh instance. Method: one job of root in A and one of uid 65534 in B, a
// crash of root's instance, then a job of each again.
#[test]
fn a_crashed_instance_fails_only_its_attempt() {
    if !root_or_skip("a second user's client is started with setuid") {
        return;
    }
    let sandbox = Sandbox::new();
    let daemon = start_serving_nobody(&sandbox, &[]);
    let mut client = daemon.client();
    let (a, b) = (create_sws(&mut client), create_sws(&mut client));
    let in_a = probe(&mut client, a, &["look"]);
    let in_b = probe_as_nobody(&sandbox, &mut client, b);
    assert_ne!(in_a.pid, in_b.pid, "two users' jobs shared an instance");

    let crashed = run_job(&mut client, job_spec("noop", a, &["crash"]));
    match &crashed.state {
        AttemptState::Failed { cause, detail, .. } => {
            assert_eq!(*cause, FailureCause::Crashed, "{detail}");
            assert!(detail.contains("exited"), "{detail}");
        }
        other => panic!("the crash ended {other:?}"),
    }
    assert!(!is_alive(in_a.pid), "the crashed instance is still there");
    wait_until(
        "the crashed instance's home removed",
        Duration::from_secs(10),
        || !home_of(&in_a).exists(),
    );

    let b_again = probe_as_nobody(&sandbox, &mut client, b);
    assert_eq!(
        b_again.pid, in_b.pid,
        "the other user's instance was disturbed"
    );
    assert_eq!(b_again.jobs, 2);
    let a_again = probe(&mut client, a, &["look"]);
    assert_ne!(a_again.pid, in_a.pid);
    assert_eq!(a_again.jobs, 1, "{a_again:?}");
    for (attempt, ends) in terminal_records(&mut client) {
        assert_eq!(ends.len(), 1, "attempt {attempt} ended {ends:?}");
    }
}

// Goal: an instance is retired after `--warm-jobs-max` jobs and after `--warm-idle-ms`
// without one, its process gone and its home removed. Method: with 3 jobs and 300 ms, four
// jobs in A (the fourth in a new instance); then no jobs until every instance is gone, and
// one more job in a new instance.
#[test]
fn instances_are_retired_after_their_jobs_and_when_idle() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, &["--warm-jobs-max", "3", "--warm-idle-ms", "300"]);
    let mut client = daemon.client();
    let a = create_sws(&mut client);
    let found: Vec<Found> = (0..4).map(|_| probe(&mut client, a, &["look"])).collect();
    let jobs: Vec<i64> = found.iter().map(|f| f.jobs).collect();
    assert_eq!(jobs, [1, 2, 3, 1], "{found:?}");
    assert!(found[..3].iter().all(|f| f.pid == found[0].pid));
    assert_ne!(found[3].pid, found[0].pid);
    wait_until("the full instance's end", Duration::from_secs(10), || {
        !is_alive(found[0].pid) && !home_of(&found[0]).exists()
    });

    // Spares and the bound instance alike retire when idle.
    wait_until("every idle instance's end", Duration::from_secs(10), || {
        probes_running(&daemon).is_empty()
    });
    wait_until(
        "the idle instance's home removed",
        Duration::from_secs(10),
        || !home_of(&found[3]).exists(),
    );
    let after = probe(&mut client, a, &["look"]);
    assert_eq!(after.jobs, 1, "{after:?}");
}

// Goal: with `--warm-instances-max 0`, a reusable worker runs one process per job, as
// before warm workers. Method: two jobs in one workspace run in two processes, and none
// stays.
#[test]
fn no_instances_are_kept_when_the_operator_allows_none() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, &["--warm-instances-max", "0"]);
    let mut client = daemon.client();
    let a = create_sws(&mut client);
    let first = probe(&mut client, a, &["plant", "kept"]);
    let second = probe(&mut client, a, &["look"]);
    assert_ne!(first.pid, second.pid);
    assert_eq!((second.jobs, second.memory.as_str()), (1, ""));
    assert!(probes_running(&daemon).is_empty());
}

// Goal: no warm instance outlives a daemon killed with SIGKILL, idle or busy, and the
// busy one's attempt ends once, as interrupted, at the restart. Method: a hanging job in
// an instance that ran a job in C, then a job in A, which the busy instance cannot take
// (so it runs in another, idle after it), spares; SIGKILL; after the restart, none of
// their processes runs and their homes are gone.
#[test]
fn no_instance_outlives_a_killed_daemon() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, &[]);
    let mut client = daemon.client();
    let (a, c) = (create_sws(&mut client), create_sws(&mut client));
    let busy = probe(&mut client, c, &["look"]);
    let mut hang = job_spec("noop", c, &["hang"]);
    hang.wait = false;
    let attempt = match call(&mut client, &Request::JobRun(hang)) {
        Response::JobStarted { attempt } => attempt,
        other => panic!("the hanging job answered {other:?}"),
    };
    let idle = probe(&mut client, a, &["look"]);
    assert_ne!(idle.pid, busy.pid, "a job ran in the busy instance");
    let instances = probes_running(&daemon);
    assert!(
        instances.contains(&idle.pid) && instances.contains(&busy.pid),
        "{instances:?} lacks {} or {}",
        idle.pid,
        busy.pid
    );
    drop(client);
    daemon.kill9();

    let daemon = start(&sandbox, &[]);
    let alive: Vec<u32> = instances.into_iter().filter(|p| is_alive(*p)).collect();
    assert!(alive.is_empty(), "instances {alive:?} outlived the restart");
    for found in [&idle, &busy] {
        assert!(!home_of(found).exists(), "{found:?}");
    }
    let mut client = daemon.client();
    match call(&mut client, &Request::JobShow(attempt)) {
        Response::Job(view) => assert!(
            matches!(
                &view.state,
                AttemptState::Failed {
                    cause: FailureCause::Interrupted,
                    ..
                }
            ),
            "{view:?}"
        ),
        other => panic!("job show answered {other:?}"),
    }
    assert_eq!(
        terminal_records(&mut client).get(&attempt).map(Vec::len),
        Some(1)
    );
}
