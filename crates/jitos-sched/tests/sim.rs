//! The scheduler driven by a simulated kernel: decisions become events (as the kernel
//! records them), attempts end as a scripted fake worker says, and time is a number. The
//! tests check outcomes, that replaying the events reproduces the state and every
//! decision, and that the outcome does not depend on the number of worker slots.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use jitos_sched::{
    Answer, AttemptOutcome, Base, Capacity, Decision, Event, JobState, LaneState, Outcome,
    Processes, SchedError, Status, Unbounded, WaitReason,
};
use jitos_tasks::{plan, Intent, JobKind, Library};
use jitos_warp::Graph;

const LIBRARY: &str = r#"
[task.make_tests_pass]
params = ["test"]

[[task.make_tests_pass.method]]
name = "race_candidate_patches"
race = true
steps = [
  { task = "patch_and_test", id = "off_by_one", with = { patch = "off_by_one" } },
  { task = "patch_and_test", id = "wrong_sign", with = { patch = "wrong_sign" } },
]

[[task.make_tests_pass.method]]
name = "ask_a_person"
steps = [{ task = "ask_for_fix" }]

[task.patch_and_test]
params = ["patch", "test"]

[[task.patch_and_test.method]]
name = "apply_then_test"
steps = [{ task = "apply_patch" }, { task = "run_tests" }]

[task.apply_patch]
params = ["patch"]
run = { worker = "shell", args = ["apply", "{patch}"], effect = "workspace", timeout_secs = 30, retries = 2, backoff_ms = 100 }

[task.run_tests]
params = ["test"]
run = { worker = "shell", args = ["test", "{test}"], effect = "workspace", timeout_secs = 60, gate = true, idempotent = true, retries = 1 }

[task.ask_for_fix]
params = ["test"]
ask = { question = "what fixes {test}?" }
"#;

fn processes_with_submit(wall_secs: u64, max_jobs: usize) -> (Processes, u64) {
    processes_with_limits(&format!("max_jobs = {max_jobs}\nwall_secs = {wall_secs}\n"))
}

fn processes_with_limits(limits: &str) -> (Processes, u64) {
    let library = Library::parse(LIBRARY, Path::new("lib.toml")).unwrap();
    let intent_text = format!(
        "goal = \"make_tests_pass\"\n[params]\ntest = \"t\"\n[allow]\nworkers = [\"shell\"]\n\
         [limits]\n{limits}"
    );
    let intent = Intent::parse(&intent_text, Path::new("intent.toml")).unwrap();
    let slaps = plan(&library, &intent, &Graph::new()).unwrap();
    let mut processes = Processes::default();
    processes
        .apply(1, 0, &Event::Submitted { intent, slaps })
        .unwrap();
    (processes, 1)
}

/// What a fake worker does with one attempt: by the job's id (its decomposition path) and
/// the try.
type Script<'a> = dyn Fn(&str, u32) -> AttemptOutcome + 'a;

/// The simulated kernel: applies decisions as events, runs attempts through the script
/// (oldest first, each taking 10 ms), and keeps every event with its seq and time, and
/// the decision it came from.
struct Sim<'a> {
    processes: Processes,
    seq: u64,
    now_ms: u64,
    running: Vec<(u64, u64, usize, u32)>,
    script: &'a Script<'a>,
    capacity: Capacity,
    log: Vec<(u64, u64, Option<Decision>, Event)>,
    workers_called: usize,
    most_running: usize,
}

impl<'a> Sim<'a> {
    fn new(processes: Processes, script: &'a Script<'a>, slots: usize) -> Sim<'a> {
        Sim {
            processes,
            seq: 1,
            now_ms: 0,
            running: Vec::new(),
            script,
            capacity: Capacity {
                slots_free: slots,
                per_process: slots,
            },
            log: Vec::new(),
            workers_called: 0,
            most_running: 0,
        }
    }

    fn record(&mut self, decision: Option<Decision>, event: Event) -> u64 {
        self.seq += 1;
        self.processes.apply(self.seq, self.now_ms, &event).unwrap();
        self.log.push((self.seq, self.now_ms, decision, event));
        self.seq
    }

    fn capacity(&self) -> Capacity {
        Capacity {
            slots_free: self.capacity.slots_free.saturating_sub(self.running.len()),
            ..self.capacity
        }
    }

    /// Runs until nothing is due and nothing runs, or the process waits for a person.
    fn run(&mut self) {
        for _ in 0..10_000 {
            if let Some(decision) = self
                .processes
                .decide(self.now_ms, self.capacity(), &Unbounded)
            {
                self.execute(decision);
                continue;
            }
            if !self.running.is_empty() {
                self.finish_oldest();
                continue;
            }
            match self.processes.next_wake_ms(&Unbounded) {
                Some(wake) if wake > self.now_ms && self.waiting().is_none() => self.now_ms = wake,
                _ => return,
            }
        }
        panic!("the simulation did not settle");
    }

    fn waiting(&self) -> Option<u64> {
        self.processes
            .all()
            .find(|p| matches!(p.status, Status::Waiting { .. }))
            .map(|p| p.id)
    }

    fn execute(&mut self, decision: Decision) {
        let event = match decision.clone() {
            Decision::Rule { .. } => unreachable!("no policy is in force in the simulation"),
            Decision::OpenLane { process, lane, .. } => Event::LaneOpened {
                process,
                lane,
                // The workspace id is the record's seq.
                sws: self.seq + 1,
            },
            Decision::Dispatch { process, job, sws } => {
                let attempt = self.seq + 1;
                let p = self.processes.get(process).unwrap();
                let tries = match p.run.jobs[job] {
                    JobState::Waiting { tries, .. } => tries + 1,
                    _ => 1,
                };
                self.running.push((attempt, process, job, tries));
                self.most_running = self.most_running.max(self.running.len());
                Event::Dispatched {
                    process,
                    job,
                    attempt,
                    sws,
                }
            }
            Decision::ScheduleRetry {
                process,
                job,
                until_ms,
            } => Event::RetryScheduled {
                process,
                job,
                until_ms,
            },
            Decision::Ask {
                process,
                job,
                question,
                reason,
            } => Event::Asked {
                process,
                job,
                question,
                reason,
            },
            Decision::CollapseLane { process, lane, .. } => Event::LaneCollapsed { process, lane },
            Decision::DiscardLane { process, lane, .. } => {
                // The attempts of a discarded lane are cancelled: they end now.
                let p = self.processes.get(process).unwrap();
                let dag = &p.slaps[p.run.candidate].dag;
                let (gone, kept): (Vec<_>, Vec<_>) = self
                    .running
                    .drain(..)
                    .partition(|(_, pr, job, _)| *pr == process && dag.jobs[*job].lane == lane);
                self.running = kept;
                let seq = self.record(Some(decision), Event::LaneDiscarded { process, lane });
                let _ = seq;
                for (attempt, process, ..) in gone {
                    self.record(
                        None,
                        Event::AttemptEnded {
                            process,
                            attempt,
                            outcome: AttemptOutcome::Failed {
                                why: "cancelled".into(),
                                verdict: false,
                            },
                        },
                    );
                }
                return;
            }
            Decision::Advance { process, to, why } => {
                self.record_and_cancel(decision, process, Event::Advanced { process, to, why });
                return;
            }
            Decision::Finish { process, outcome } => {
                self.record_and_cancel(decision, process, Event::Finished { process, outcome });
                return;
            }
            Decision::Unwind { process, then, why } => {
                let event = Event::Unwinding { process, then, why };
                self.record_and_cancel(decision, process, event);
                return;
            }
        };
        self.record(Some(decision), event);
    }

    /// Records `event`, which abandons the process's running attempts; they end after it.
    fn record_and_cancel(&mut self, decision: Decision, process: u64, event: Event) {
        let (gone, kept): (Vec<_>, Vec<_>) = self
            .running
            .drain(..)
            .partition(|(_, pr, ..)| *pr == process);
        self.running = kept;
        self.record(Some(decision), event);
        for (attempt, ..) in gone {
            self.record(
                None,
                Event::AttemptEnded {
                    process,
                    attempt,
                    outcome: AttemptOutcome::Failed {
                        why: "cancelled".into(),
                        verdict: false,
                    },
                },
            );
        }
    }

    fn finish_oldest(&mut self) {
        let (attempt, process, job, tries) = self.running.remove(0);
        self.now_ms += 10;
        let p = self.processes.get(process).unwrap();
        let node = &p.slaps[p.run.candidate].dag.jobs[job];
        assert!(
            matches!(node.kind, JobKind::Run { .. }),
            "a dispatched job runs no worker"
        );
        self.workers_called += 1;
        let outcome = (self.script)(&node.id, tries);
        self.record(
            None,
            Event::AttemptEnded {
                process,
                attempt,
                outcome,
            },
        );
    }

    fn answer(&mut self, process: u64, answer: Answer) -> Result<(), SchedError> {
        let event = Event::Answered { process, answer };
        self.processes.apply(self.seq + 1, self.now_ms, &event)?;
        self.seq += 1;
        self.log.push((self.seq, self.now_ms, None, event));
        Ok(())
    }

    /// Folds the log into fresh processes, checking before each decision's event that the
    /// decision is the one the state then calls for; no worker is called.
    fn replay(&self, start: Processes) -> Processes {
        let mut replayed = start;
        for (seq, time, decision, event) in &self.log {
            if let Some(decision) = decision {
                let again = replayed.decide(
                    *time,
                    Capacity {
                        slots_free: usize::MAX,
                        per_process: usize::MAX,
                    },
                    &Unbounded,
                );
                // With unbounded slots a dispatch may come earlier; every other decision
                // is the same.
                if !matches!(decision, Decision::Dispatch { .. }) {
                    assert_eq!(again.as_ref(), Some(decision), "at seq {seq}");
                }
            }
            replayed.apply(*seq, *time, event).unwrap();
        }
        replayed
    }
}

fn ok() -> AttemptOutcome {
    AttemptOutcome::Succeeded
}

fn tests_fail() -> AttemptOutcome {
    AttemptOutcome::Failed {
        why: "exit status 1".into(),
        verdict: true,
    }
}

fn process_status(sim: &Sim<'_>, id: u64) -> Status {
    sim.processes.get(id).unwrap().status.clone()
}

// Goal: the race collapses the first lane whose jobs all pass and discards the other, and
// the process ends done after collapsing its own workspace. Method: every attempt
// succeeds; with 4 slots both lanes run side by side and the first to finish wins.
#[test]
fn the_lane_that_passes_collapses_and_the_other_is_discarded() {
    let (processes, id) = processes_with_submit(600, 64);
    let start = processes.clone();
    let script = |_: &str, _: u32| ok();
    let mut sim = Sim::new(processes, &script, 4);
    sim.run();
    assert!(
        matches!(process_status(&sim, id), Status::Done { .. }),
        "{:?}",
        process_status(&sim, id)
    );
    let p = sim.processes.get(id).unwrap();
    assert!(matches!(p.run.lanes[0], LaneState::Collapsed { .. }));
    let collapsed = p
        .run
        .lanes
        .iter()
        .filter(|l| matches!(l, LaneState::Collapsed { .. }))
        .count();
    let discarded = p
        .run
        .lanes
        .iter()
        .filter(|l| matches!(l, LaneState::Discarded { .. }))
        .count();
    assert_eq!((collapsed, discarded), (2, 1), "{:?}", p.run.lanes);
    assert_eq!(sim.replay(start), sim.processes);
}

/// The tests fail after the `off_by_one` patch only.
fn off_by_one_fails(job: &str, _try: u32) -> AttemptOutcome {
    if job.contains("off_by_one") && job.ends_with("run_tests") {
        tests_fail()
    } else {
        ok()
    }
}

// Goal: the outcome does not depend on the number of worker slots, and replay reproduces
// every decision without calling a worker. Method: run the same process with 1 and with 8
// slots, where with 1 slot the failing lane runs first and loses; compare outcomes and
// winners, and replay each log.
#[test]
fn the_outcome_does_not_depend_on_the_slots_and_replay_reproduces_it() {
    let mut winners = Vec::new();
    for slots in [1, 8] {
        let (processes, id) = processes_with_submit(600, 64);
        let start = processes.clone();
        let mut sim = Sim::new(processes, &off_by_one_fails, slots);
        sim.run();
        let p = sim.processes.get(id).unwrap();
        assert!(
            matches!(p.status, Status::Done { .. }),
            "{slots} slots: {:?}",
            p.status
        );
        let won: Vec<usize> = (1..p.run.lanes.len())
            .filter(|&l| matches!(p.run.lanes[l], LaneState::Collapsed { .. }))
            .collect();
        winners.push(won);
        let called = sim.workers_called;
        let replayed = sim.replay(start);
        assert_eq!(replayed, sim.processes, "{slots} slots");
        assert_eq!(sim.workers_called, called, "replay called a worker");
    }
    assert_eq!(winners[0], winners[1]);
}

// Goal: an intent's `parallel` bounds how many of its jobs run at once, whatever the
// slots. Method: 8 slots, `parallel = 1` (one at a time), then `parallel = 3` (the race's
// two lanes side by side).
#[test]
fn an_intents_parallel_limit_holds() {
    for parallel in [1usize, 3] {
        let (processes, id) = processes_with_limits(&format!("parallel = {parallel}\n"));
        let script = |_: &str, _: u32| ok();
        let mut sim = Sim::new(processes, &script, 8);
        sim.run();
        assert!(matches!(process_status(&sim, id), Status::Done { .. }));
        assert_eq!(sim.most_running, parallel.min(2), "parallel {parallel}");
    }
}

// Goal: when every alternative fails, the candidate is abandoned for the next one, which
// asks a person; the answer lets the process finish. Method: the tests always fail; the
// process moves to `ask_a_person`, waits, is answered, and ends done. A second answer is
// refused.
#[test]
fn a_lost_race_moves_to_the_next_candidate_which_asks_a_person() {
    let (processes, id) = processes_with_submit(600, 64);
    let start = processes.clone();
    let script = |job: &str, _try: u32| {
        if job.ends_with("run_tests") {
            tests_fail()
        } else {
            ok()
        }
    };
    let mut sim = Sim::new(processes, &script, 2);
    sim.run();
    let p = sim.processes.get(id).unwrap();
    assert_eq!(p.run.candidate, 1);
    match &p.status {
        Status::Waiting {
            question, reason, ..
        } => {
            assert_eq!(*reason, WaitReason::Ask);
            assert_eq!(question, "what fixes t?");
        }
        other => panic!("the process is {other:?}"),
    }
    assert!(matches!(
        sim.answer(id, Answer::Approve),
        Err(SchedError::WrongAnswer { .. })
    ));
    sim.answer(id, Answer::Value("use the event".into()))
        .unwrap();
    sim.run();
    assert!(matches!(process_status(&sim, id), Status::Done { .. }));
    assert!(matches!(
        sim.answer(id, Answer::Value("again".into())),
        Err(SchedError::Ended { .. })
    ));
    assert_eq!(sim.replay(start), sim.processes);
}

// Goal: a failed attempt is retried after a recorded backoff that doubles. Method: each
// lane's `apply` crashes twice then works; the retries wait 100 then 200 ms.
#[test]
fn failures_are_retried_with_recorded_backoff() {
    let (processes, id) = processes_with_submit(600, 64);
    let script = |job: &str, attempt: u32| {
        if job.ends_with("apply_patch") && attempt < 3 {
            AttemptOutcome::Failed {
                why: "crashed".into(),
                verdict: false,
            }
        } else {
            ok()
        }
    };
    let mut sim = Sim::new(processes, &script, 1);
    sim.run();
    assert!(matches!(process_status(&sim, id), Status::Done { .. }));
    let waits: Vec<u64> = sim
        .log
        .iter()
        .filter_map(|(_, time, _, event)| match event {
            Event::RetryScheduled { until_ms, .. } => Some(until_ms - time),
            _ => None,
        })
        .collect();
    // Each lane's apply job waits 100 ms, then 200 ms.
    let mut waits = waits;
    waits.sort_unstable();
    assert_eq!(waits, vec![100, 100, 200, 200]);
}

// Goal: an attempt cut off by a crash is asked about when its job is not idempotent, and
// `retry` runs it again. Method: cut off the first `apply` (not idempotent), answer retry,
// and finish.
#[test]
fn a_cut_off_attempt_that_is_not_idempotent_asks_a_person() {
    let (processes, id) = processes_with_submit(600, 64);
    let cut = std::cell::Cell::new(false);
    let script = |job: &str, _attempt: u32| {
        if job.ends_with("apply_patch") && !cut.replace(true) {
            AttemptOutcome::CutOff
        } else {
            ok()
        }
    };
    let mut sim = Sim::new(processes, &script, 1);
    sim.run();
    match process_status(&sim, id) {
        Status::Waiting { reason, .. } => assert_eq!(reason, WaitReason::Crash),
        other => panic!("the process is {other:?}"),
    }
    sim.answer(id, Answer::Retry).unwrap();
    sim.run();
    assert!(matches!(process_status(&sim, id), Status::Done { .. }));
}

// Goal: the intent's limits end a process: its wall time (its workspaces discarded with
// it) and its job budget. Method: no worker slot, so nothing runs before the wall time;
// then a budget that the plan fits but a retry does not.
#[test]
fn limits_end_a_process() {
    let (processes, id) = processes_with_submit(1, 64);
    let script = |_: &str, _: u32| tests_fail();
    let mut sim = Sim::new(processes, &script, 0);
    sim.run();
    sim.now_ms = 1_000;
    sim.run();
    match process_status(&sim, id) {
        Status::Failed { why, .. } => assert!(why.contains("wall time"), "{why}"),
        other => panic!("the process is {other:?}"),
    }
    let p = sim.processes.get(id).unwrap();
    assert!(p
        .run
        .lanes
        .iter()
        .all(|l| !matches!(l, LaneState::Open { .. })));

    // The race needs exactly 4 jobs; a crash that needs a retry takes a fifth.
    let (processes, id) = processes_with_submit(600, 4);
    let crash_once = |job: &str, attempt: u32| {
        if job.ends_with("apply_patch") && attempt == 1 {
            AttemptOutcome::Failed {
                why: "crashed".into(),
                verdict: false,
            }
        } else {
            ok()
        }
    };
    let mut sim = Sim::new(processes, &crash_once, 4);
    sim.run();
    match process_status(&sim, id) {
        Status::Failed { why, .. } => assert!(why.contains("4 jobs"), "{why}"),
        other => panic!("the process is {other:?}"),
    }
}

// Goal: events that do not fit are refused, so a doctored ledger does not replay. Method:
// a dispatch outside its lane's workspace, a dispatch of a job that is running, a plan
// whose indexes point nowhere, an answer to a process that does not wait, an event
// for a process that does not exist.
#[test]
fn events_that_do_not_fit_are_refused() {
    let (mut processes, id) = processes_with_submit(600, 64);
    let open = Event::LaneOpened {
        process: id,
        lane: 0,
        sws: 2,
    };
    processes.apply(2, 0, &open).unwrap();
    assert!(processes.apply(3, 0, &open).is_err(), "a lane opened twice");
    // Job 0 is in the first alternative's lane, nested in lane 0's workspace.
    let lane = processes.get(id).unwrap().slaps[0].dag.jobs[0].lane;
    assert_ne!(lane, 0);
    let nested = Event::LaneOpened {
        process: id,
        lane,
        sws: 3,
    };
    processes.apply(3, 0, &nested).unwrap();
    let dispatch = Event::Dispatched {
        process: id,
        job: 0,
        attempt: 4,
        sws: 3,
    };
    let elsewhere = Event::Dispatched {
        process: id,
        job: 0,
        attempt: 4,
        sws: 2,
    };
    assert!(
        processes.apply(4, 0, &elsewhere).is_err(),
        "a job dispatched outside its lane's workspace"
    );
    processes.apply(4, 0, &dispatch).unwrap();
    assert!(
        processes.apply(5, 0, &dispatch).is_err(),
        "a running job dispatched"
    );
    let answer = Event::Answered {
        process: id,
        answer: Answer::Skip,
    };
    assert!(matches!(
        processes.apply(6, 0, &answer),
        Err(SchedError::Misfit { .. })
    ));
    let stranger = Event::Finished {
        process: 99,
        outcome: Outcome::Cancelled,
    };
    assert!(matches!(
        processes.apply(7, 0, &stranger),
        Err(SchedError::UnknownProcess { process: 99 })
    ));
    // A plan whose indexes point nowhere (a ledger written elsewhere) is refused at
    // submit, not trusted by the scheduler.
    let (mut fresh, _) = processes_with_submit(600, 64);
    let mut slaps = processes.get(id).unwrap().slaps.to_vec();
    slaps[0].dag.jobs[0].lane = 99;
    let doctored = Event::Submitted {
        intent: processes.get(id).unwrap().intent.clone(),
        slaps,
    };
    assert!(matches!(
        fresh.apply(8, 0, &doctored),
        Err(SchedError::Misfit { .. })
    ));
    assert!(matches!(
        processes.decide(
            0,
            Capacity {
                slots_free: 1,
                per_process: 1
            },
            &Unbounded,
        ),
        Some(Decision::OpenLane {
            base: Base::Workspace(_),
            ..
        }) | Some(Decision::Dispatch { .. })
    ));
}

mod random_runs {
    use super::*;
    use proptest::prelude::*;

    /// Outcomes by (job, try), picked from `table`: 0 succeeds, 1 a failing verdict, 2 a
    /// crash, 3 cut off by a crash of the daemon.
    fn scripted(table: &[u8], job: &str, attempt: u32) -> AttemptOutcome {
        let key = job.bytes().map(u64::from).sum::<u64>() + u64::from(attempt) * 7;
        match table[(key as usize) % table.len()] {
            0 => ok(),
            1 => tests_fail(),
            2 => AttemptOutcome::Failed {
                why: "crashed".into(),
                verdict: false,
            },
            _ => AttemptOutcome::CutOff,
        }
    }

    proptest! {
        // Goal: whatever the workers do, the process ends (a person answering every
        // question), replay gives the same state, no race collapses two lanes, the job
        // budget holds, and no attempt has two ends. Method: random outcome tables, 1 to
        // 4 slots.
        #[test]
        fn every_run_ends_and_replays(
            table in proptest::collection::vec(0u8..4, 1..12),
            slots in 1usize..5,
        ) {
            let (processes, id) = processes_with_submit(600, 64);
            let start = processes.clone();
            let script = |job: &str, attempt: u32| scripted(&table, job, attempt);
            let mut sim = Sim::new(processes, &script, slots);
            for _ in 0..64 {
                sim.run();
                let p = sim.processes.get(id).unwrap();
                match &p.status {
                    Status::Waiting { reason, .. } => {
                        let answer = match reason {
                            WaitReason::Ask => Answer::Value("a fix".into()),
                            WaitReason::Approval => Answer::Approve,
                            WaitReason::Failure | WaitReason::Crash => Answer::Skip,
                        };
                        sim.answer(id, answer).unwrap();
                    }
                    _ => break,
                }
            }
            let p = sim.processes.get(id).unwrap();
            prop_assert!(p.status.is_over(), "{:?}", p.status);
            prop_assert!(p.attempts <= p.intent.max_jobs);
            let collapsed = p.run.lanes.iter().skip(1).filter(|l| matches!(l, LaneState::Collapsed { .. })).count();
            prop_assert!(collapsed <= 1, "{:?}", p.run.lanes);
            let mut ends = std::collections::BTreeMap::new();
            for (_, _, _, event) in &sim.log {
                if let Event::AttemptEnded { attempt, .. } = event {
                    *ends.entry(*attempt).or_insert(0) += 1;
                }
            }
            prop_assert!(ends.values().all(|&n| n == 1), "{ends:?}");
            prop_assert_eq!(sim.replay(start), sim.processes);
        }
    }
}
