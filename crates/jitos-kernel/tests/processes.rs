//! Processes in the kernel: a plan run to its end through recorded decisions and job
//! records, on a real store, with fake workers; the system changes only at the end; the
//! whole run replays decision by decision and comes back the same from the ledger; a crash
//! is reconciled by the job's idempotence.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::Commands as _;
use std::{
    path::Path,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use jitos_kernel::{
    Dispatch, Effect, FailureCause, Kernel, KernelOptions, Outcome, Owner, Proposed,
};
use jitos_ledger::{Actor, Clock};
use jitos_sched::{Answer, Capacity, Decision, JobState, Status, WaitReason};
use jitos_tasks::{plan, Intent, JobKind, Library};
use jitos_warp::Rewrite;

/// A clock the test moves.
#[derive(Debug, Default)]
struct TestClock(AtomicU64);

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

const LIBRARY: &str = r#"
[task.goal]
[[task.goal.method]]
name = "prepare_then_race"
steps = [{ task = "prepare" }, { task = "choose" }]

[task.choose]
[[task.choose.method]]
name = "race"
race = true
steps = [{ task = "try_a" }, { task = "try_b" }]

[task.prepare]
run = { worker = "fake", args = ["prepare"], effect = "none", timeout_secs = 5, idempotent = true }

[task.try_a]
run = { worker = "fake", args = ["a"], effect = "none", timeout_secs = 5, gate = true }

[task.try_b]
run = { worker = "fake", args = ["b"], effect = "none", timeout_secs = 5, gate = true }
"#;

fn open(dir: &Path, clock: Arc<TestClock>) -> Kernel {
    Kernel::open(
        dir,
        KernelOptions {
            clock,
            snapshot_every: 5,
            read_only: false,
            create_with_id: Some([5; 16]),
            verify_on_open: true,
        },
    )
    .unwrap()
}

fn submit(kernel: &mut Kernel) -> u64 {
    let library = Library::parse(LIBRARY, Path::new("lib.toml")).unwrap();
    let intent = Intent::parse(
        "goal = \"goal\"\n[allow]\nworkers = [\"fake\"]\n",
        Path::new("intent.toml"),
    )
    .unwrap();
    let slaps = plan(&library, &intent, kernel.graph()).unwrap();
    kernel
        .process_submit(Actor::System, intent, slaps)
        .unwrap()
        .seq
}

/// The fake worker: proposes a node named after its argument; `b` fails its gate.
fn work(kernel: &mut Kernel, attempt: u64, arg: &str) {
    let rewrite = Rewrite::from_json(&format!(
        r#"{{"ops":[{{"add_node":{{"id":"did:{arg}","kind":"Did"}}}}]}}"#
    ))
    .unwrap();
    let exit_status = if arg == "b" { 1 } else { 0 };
    let proposed = Proposed {
        rewrites: vec![rewrite],
        artifacts: Vec::new(),
        exit_status,
        cpu_ms: 0,
        max_rss_kib: 0,
    };
    let outcome = kernel
        .job_propose(Actor::System, attempt, proposed)
        .unwrap();
    assert!(matches!(outcome, Outcome::ProposalDone(_)), "{outcome:?}");
}

/// Dispatches a decided job as the daemon does: a job record owned by the process.
fn dispatch(kernel: &mut Kernel, process: u64, job: usize, sws: u64) -> (u64, String) {
    let p = kernel.view().process(process).unwrap().unwrap();
    let node = &p.slaps[p.run.candidate].dag.jobs[job];
    let JobKind::Run {
        worker,
        args,
        timeout_ms,
        ..
    } = &node.kind
    else {
        panic!("job {job} runs no worker");
    };
    let dispatch = Dispatch {
        worker: worker.clone(),
        worker_version: "1".into(),
        sws,
        args: args.clone(),
        input: Vec::new(),
        deadline_ms: *timeout_ms,
        effect: Effect::GraphOnly,
        paths: Vec::new(),
        owner: Some(Owner { process, job }),
    };
    let arg = args[0].clone();
    let attempt = kernel.job_dispatch(Actor::System, dispatch).unwrap().seq;
    (attempt, arg)
}

/// Runs decisions until none is due; each dispatch is worked at once unless `hold` says
/// to leave it running. Returns the attempts left running.
fn drive(kernel: &mut Kernel, hold: impl Fn(&str) -> bool) -> Vec<u64> {
    let mut held = Vec::new();
    let capacity = Capacity {
        slots_free: 4,
        per_process: 4,
    };
    for _ in 0..200 {
        let now = kernel.now_ms();
        let Some(decision) = kernel
            .processes()
            .decide(now, capacity, &jitos_sched::Unbounded)
        else {
            return held;
        };
        match decision {
            Decision::Dispatch { process, job, sws } => {
                let (attempt, arg) = dispatch(kernel, process, job, sws);
                if hold(&arg) {
                    held.push(attempt);
                } else {
                    work(kernel, attempt, &arg);
                }
            }
            other => {
                kernel.process_execute(Actor::System, now, other).unwrap();
            }
        }
    }
    panic!("the process did not settle");
}

// Goal: a plan runs to its end through recorded decisions: the race lane whose gate passes
// collapses into the process's workspace, which collapses into the system at the end; the
// losing lane's work never reaches the system; replay reproduces the state and every
// decision, and a reopened kernel (from a snapshot and its tail) has the same processes.
// Method: `b` fails its gate, `a` passes.
#[test]
fn a_plan_runs_to_its_end_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::default());
    let mut kernel = open(dir.path(), clock.clone());
    let process = submit(&mut kernel);
    assert!(kernel.graph().node(&format!("process:{process}")).is_some());
    assert!(kernel.graph().node(&format!("plan:{process}:1")).is_some());
    let held = drive(&mut kernel, |_| false);
    assert!(held.is_empty());
    let p = kernel.view().process(process).unwrap().unwrap();
    assert!(matches!(p.status, Status::Done { .. }), "{:?}", p.status);
    assert!(kernel.graph().node("did:prepare").is_some());
    assert!(kernel.graph().node("did:a").is_some());
    assert!(
        kernel.graph().node("did:b").is_none(),
        "the losing lane reached the system"
    );

    let replay = kernel.replay_verify().unwrap();
    assert!(
        replay.processes_match && replay.jobs_match && replay.workspaces_match,
        "{replay:?}"
    );
    assert_eq!(replay.decision_mismatch, None);
    assert_eq!(replay.replayed, replay.live);
    let live = kernel.processes().clone();
    drop(kernel);
    let kernel = open(dir.path(), clock);
    assert_eq!(kernel.processes(), &live);
}

// Goal: an attempt cut off by a crash is retried when its job is idempotent, and asked
// about when it is not; the answer is recorded and lets the process go on. Method: hold
// `prepare` (idempotent) and end it as interrupted, as a restarted daemon does; then hold
// `a` (not idempotent) the same way, answer skip, and finish.
#[test]
fn a_crash_is_reconciled_by_idempotence() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::default());
    let mut kernel = open(dir.path(), clock.clone());
    let process = submit(&mut kernel);
    let held = drive(&mut kernel, |arg| arg == "prepare");
    assert_eq!(held.len(), 1);
    drop(kernel);
    let mut kernel = open(dir.path(), clock.clone());
    kernel
        .job_fail(
            Actor::System,
            held[0],
            FailureCause::Interrupted,
            "jitosd stopped".into(),
        )
        .unwrap();
    let p = kernel.view().process(process).unwrap().unwrap();
    assert!(
        matches!(p.run.jobs[0], JobState::RetryDue { .. }),
        "{:?}",
        p.run.jobs[0]
    );

    let held = drive(&mut kernel, |arg| arg == "a");
    assert_eq!(held.len(), 1);
    kernel
        .job_fail(
            Actor::System,
            held[0],
            FailureCause::Interrupted,
            "jitosd stopped".into(),
        )
        .unwrap();
    let p = kernel.view().process(process).unwrap().unwrap();
    assert!(
        matches!(
            p.status,
            Status::Waiting {
                reason: WaitReason::Crash,
                ..
            }
        ),
        "{:?}",
        p.status
    );
    let wrong = kernel.process_answer(Actor::Named("ops".into()), process, Answer::Approve);
    assert!(wrong.is_err(), "an approval answered a crash question");
    kernel
        .process_answer(Actor::Named("ops".into()), process, Answer::Skip)
        .unwrap();
    drive(&mut kernel, |_| false);
    let p = kernel.view().process(process).unwrap().unwrap();
    assert!(matches!(p.status, Status::Done { .. }), "{:?}", p.status);
    let replay = kernel.replay_verify().unwrap();
    assert_eq!(replay.decision_mismatch, None);
    assert!(replay.processes_match, "{replay:?}");
}

// Goal: no one but the process changes or ends a workspace it works in, so it never decides
// on a workspace that is no longer what it left; the same operations on a workspace of no
// process go through. Method: hold `prepare` so the process runs in its lane, then try
// every workspace operation and a job of no process there, and beside each the same on a
// workspace of the user's own.
#[test]
fn a_process_workspace_is_the_process_alone() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::default());
    let mut kernel = open(dir.path(), clock);
    let process = submit(&mut kernel);
    let held = drive(&mut kernel, |arg| arg == "prepare");
    assert_eq!(held.len(), 1);
    let lanes = kernel
        .view()
        .process(process)
        .unwrap()
        .unwrap()
        .open_workspaces();
    let at_seq = kernel.head().seq;
    let own = kernel
        .sws_create(Actor::System, jitos_sws::Over::System { at_seq })
        .unwrap()
        .seq;
    let user = Actor::Named("ops".into());
    let rewrite =
        Rewrite::from_json(r#"{"ops":[{"add_node":{"id":"mine","kind":"Note"}}]}"#).unwrap();
    let job = |sws| Dispatch {
        worker: "fake".into(),
        worker_version: "1".into(),
        sws,
        args: Vec::new(),
        input: Vec::new(),
        deadline_ms: 1000,
        effect: Effect::GraphOnly,
        paths: Vec::new(),
        owner: None,
    };
    for &sws in &lanes {
        let head = kernel.head().seq;
        let refusals = [
            kernel
                .sws_apply(user.clone(), sws, rewrite.clone())
                .map(|_| ()),
            kernel.sws_collapse(user.clone(), sws).map(|_| ()),
            kernel.sws_rebase(user.clone(), sws).map(|_| ()),
            kernel
                .sws_discard(user.clone(), sws, "mine now".into())
                .map(|_| ()),
            kernel
                .sws_create(user.clone(), jitos_sws::Over::Workspace { id: sws })
                .map(|_| ()),
            kernel.job_dispatch(user.clone(), job(sws)).map(|_| ()),
        ];
        for refusal in refusals {
            match refusal {
                Err(jitos_kernel::KernelError::ProcessWorkspace { sws: s, process: p }) => {
                    assert_eq!((s, p), (sws, process));
                }
                other => panic!("workspace {sws} of process {process}: {other:?}"),
            }
        }
        assert_eq!(kernel.head().seq, head, "a refused operation was recorded");
    }
    kernel.sws_apply(user.clone(), own, rewrite).unwrap();
    kernel.sws_rebase(user.clone(), own).unwrap();
    kernel.job_dispatch(user.clone(), job(own)).unwrap();
    let child = kernel
        .sws_create(user.clone(), jitos_sws::Over::Workspace { id: own })
        .unwrap()
        .seq;
    kernel.sws_collapse(user.clone(), child).unwrap();
    kernel.sws_discard(user, own, "done".into()).unwrap();
    let p = kernel.view().process(process).unwrap().unwrap();
    assert_eq!(p.open_workspaces(), lanes, "the process lost a lane");
}

// Goal: a failure's text as long as a worker may send ends the process all the same (a
// workspace's discard reason has a limit of its own, and a refused discard left the
// scheduler retrying its decision forever). Method: end `prepare` as a worker failure of
// 4096 bytes, of a character that is more than one byte; the process fails and the
// whole text stays in its record.
#[test]
fn a_long_failure_still_ends_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::default());
    let mut kernel = open(dir.path(), clock);
    let process = submit(&mut kernel);
    let held = drive(&mut kernel, |arg| arg == "prepare");
    let why = "é".repeat(2048);
    kernel
        .job_fail(Actor::System, held[0], FailureCause::Worker, why.clone())
        .unwrap();
    drive(&mut kernel, |_| false);
    let p = kernel.view().process(process).unwrap().unwrap();
    match &p.status {
        Status::Failed { why: recorded, .. } => assert!(recorded.contains(&why), "{recorded}"),
        other => panic!("{other:?}"),
    }
    assert!(p.open_workspaces().is_empty());
    assert_eq!(kernel.replay_verify().unwrap().decision_mismatch, None);
}

// Goal: what the fold of processes would refuse is refused before it is recorded, so no
// durable record stops the store from opening. Method: a submit without plans, and a
// job of the process dispatched into a workspace that is not its lane's; each records
// nothing, and the store reopens and replays.
#[test]
fn what_would_not_fold_is_never_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::default());
    let mut kernel = open(dir.path(), clock.clone());
    let intent = Intent::parse(
        "goal = \"goal\"\n[allow]\nworkers = [\"fake\"]\n",
        Path::new("intent.toml"),
    )
    .unwrap();
    let head = kernel.head().seq;
    let empty = kernel.process_submit(Actor::System, intent, Vec::new());
    assert!(
        matches!(empty, Err(jitos_kernel::KernelError::ProcessRefused(_))),
        "{empty:?}"
    );
    assert_eq!(kernel.head().seq, head);

    let process = submit(&mut kernel);
    drive(&mut kernel, |arg| arg == "prepare");
    let at_seq = kernel.head().seq;
    let other = kernel
        .sws_create(Actor::System, jitos_sws::Over::System { at_seq })
        .unwrap()
        .seq;
    let p = kernel.view().process(process).unwrap().unwrap();
    let job = p
        .run
        .jobs
        .iter()
        .position(|j| *j == JobState::Pending)
        .unwrap();
    let head = kernel.head().seq;
    let stray = Dispatch {
        worker: "fake".into(),
        worker_version: "1".into(),
        sws: other,
        args: Vec::new(),
        input: Vec::new(),
        deadline_ms: 1000,
        effect: Effect::GraphOnly,
        paths: Vec::new(),
        owner: Some(Owner { process, job }),
    };
    let refused = kernel.job_dispatch(Actor::System, stray);
    assert!(
        matches!(refused, Err(jitos_kernel::KernelError::ProcessRefused(_))),
        "{refused:?}"
    );
    assert_eq!(kernel.head().seq, head);
    drop(kernel);
    let kernel = open(dir.path(), clock);
    assert!(kernel.replay_verify().unwrap().processes_match);
}

/// The store's ledger alone, writable, as a tool beside the kernel would open it.
fn open_ledger(dir: &Path, clock: &Arc<TestClock>) -> jitos_ledger::Ledger {
    jitos_ledger::Ledger::open(
        dir,
        jitos_ledger::OpenOptions {
            read_only: false,
            clock: clock.clone(),
        },
    )
    .unwrap()
}

/// What the indexes answer for `process` and the nodes it made: its log a page at a time,
/// the history of two nodes, and the ended process, its attempts and its workspaces, one by
/// one and a page at a time.
fn indexed_answers(kernel: &Kernel, process: u64) -> (Vec<u64>, Vec<String>, Vec<String>) {
    let mut log = Vec::new();
    let mut after = None;
    loop {
        let page = kernel.process_log(process, after, 3).unwrap();
        assert!(page.items.len() <= 3);
        log.extend(page.items.iter().map(|r| r.seq));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let history = ["did:a", &format!("process:{process}")]
        .iter()
        .flat_map(|node| kernel.history(node).unwrap())
        .map(|step| format!("{} {:?}", step.record.seq, step.node_after))
        .collect();
    let view = kernel.view();
    let mut ended = Vec::new();
    let mut before = None;
    loop {
        let page = view.attempt_page(before, 2).unwrap();
        for attempt in &page.items {
            assert_eq!(view.attempt(attempt.id).unwrap().as_ref(), Some(attempt));
            ended.push(format!("attempt {} {:?}", attempt.id, attempt.status));
        }
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    let mut after = None;
    loop {
        let page = view.workspace_page(after, 1).unwrap();
        for ws in &page.items {
            assert_eq!(view.workspace_summary(ws.id).unwrap().as_ref(), Some(ws));
            ended.push(format!("workspace {ws:?}"));
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let processes = view.process_page(None, 10).unwrap();
    assert_eq!(processes.items.len(), 1);
    assert_eq!(
        view.process(process).unwrap().as_ref(),
        processes.items.first()
    );
    ended.push(format!("{:?}", processes.items));
    (log, history, ended)
}

// Goal: the index answers a process's log (paged) and a node's history exactly as a fold of
// the ledger does, and a store whose index is of another layout is indexed again when
// opened writable. Method: run a plan to its end; reset the index to another layout through
// the ledger; open read-only
// (answers by fold and scan), then writable (builds the index), comparing all three.
#[test]
fn the_index_answers_as_the_fold_does_and_is_built_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::default());
    let mut kernel = open(dir.path(), clock.clone());
    let process = submit(&mut kernel);
    drive(&mut kernel, |_| false);
    assert!(kernel.ledger().indexed());
    let indexed = indexed_answers(&kernel, process);
    assert!(indexed.0.len() > 6, "{indexed:?}");
    assert!(!indexed.1.is_empty());
    // The process ended, and with it its attempts and workspaces: none stays in the state.
    assert_eq!(kernel.processes().all().count(), 0);
    assert_eq!(kernel.jobs().running().count(), 0);
    assert_eq!(kernel.pool().workspaces().count(), 0);
    assert!(
        indexed.2.iter().any(|line| line.starts_with("attempt")),
        "{indexed:?}"
    );
    assert!(
        indexed.2.iter().any(|line| line.starts_with("workspace")),
        "{indexed:?}"
    );
    drop(kernel);

    let mut ledger = open_ledger(dir.path(), &clock);
    // An index of another layout is emptied and must be rebuilt before it is trusted.
    ledger.reset_index(7).unwrap();
    assert!(!ledger.indexed());
    drop(ledger);

    let read_only = Kernel::open(
        dir.path(),
        KernelOptions {
            clock: clock.clone(),
            snapshot_every: 5,
            read_only: true,
            create_with_id: None,
            verify_on_open: true,
        },
    )
    .unwrap();
    assert!(!read_only.ledger().indexed());
    assert_eq!(indexed_answers(&read_only, process), indexed);
    drop(read_only);

    let rebuilt = open(dir.path(), clock.clone());
    assert!(rebuilt.ledger().indexed());
    assert_eq!(
        rebuilt.ledger().index_layout(),
        2 << 16 | jitos_kernel::STATE_LAYOUT
    );
    assert_eq!(indexed_answers(&rebuilt, process), indexed);
    drop(rebuilt);

    // An index of this layout left behind (records appended without it, as an import
    // does) is completed at open too.
    let mut ledger = open_ledger(dir.path(), &clock);
    ledger.put_index(&[], 0).unwrap();
    assert!(!ledger.indexed());
    drop(ledger);
    let completed = open(dir.path(), clock);
    assert!(completed.ledger().indexed());
    assert_eq!(indexed_answers(&completed, process), indexed);
}

// Goal: a submit records the environment it ran in — what the daemon reports, and the
// workers installed then — and a replay refuses a submit whose environment names workers
// other than those in force. Method: install a worker, submit, read the record back; then
// fold the ledger into a fresh state with the submit's installed worker edited.
#[test]
fn a_submit_records_its_environment_and_replay_checks_what_the_ledger_knows() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path(), Arc::new(TestClock::default()));
    let manifest = jitos_worker::Manifest::parse(
        "name = \"fake\"\nversion = \"0.3.0\"\nbinary = \"jitos-worker-fake\"\n\
         sandbox_profile = \"pure\"\neffect_class = \"none\"\ninput_schema = { type = \"bytes\" }\n\
         needs = []\n",
        Path::new("worker.toml"),
    )
    .unwrap();
    let install = kernel
        .worker_install(
            Actor::System,
            jitos_kernel::WorkerInstall {
                manifest,
                binary: "/opt/workers/jitos-worker-fake".to_owned(),
                binary_digest: [7; 32],
            },
        )
        .unwrap();
    let id = submit(&mut kernel);

    let view = kernel.view();
    let record = view.ledger().get(id).unwrap().unwrap();
    assert_eq!(record.kind, jitos_kernel::KIND_PROCESS_SUBMIT);
    let submitted = jitos_kernel::ProcessRecord::decode(&record.kind, &record.payload).unwrap();
    let environment = submitted.environment.clone().unwrap();
    assert_eq!(
        environment.installed_workers,
        vec![jitos_kernel::InstalledWorker {
            name: "fake".into(),
            version: "0.3.0".into(),
            install_seq: install.seq,
            binary_digest: "07".repeat(32),
        }]
    );
    assert_eq!(environment.policy, None);
    let entries = environment.entries();
    assert!(
        entries
            .iter()
            .any(|(name, value)| name == "worker fake (installed)" && value.starts_with("0.3.0")),
        "{entries:?}"
    );

    let mut edited = submitted;
    if let Some(environment) = edited.environment.as_mut() {
        environment.installed_workers[0].binary_digest = "08".repeat(32);
    }
    let mut state = jitos_kernel::State::default();
    for seq in 1..=id {
        let mut record = view.ledger().get(seq).unwrap().unwrap();
        if seq == id {
            record.payload = edited.encode().unwrap();
            let error = state.fold(&record).map(|_| ()).unwrap_err();
            assert!(
                matches!(error, jitos_kernel::KernelError::EnvironmentMismatch { seq } if seq == id),
                "{error}"
            );
        } else {
            state.fold(&record).unwrap();
        }
    }
}
