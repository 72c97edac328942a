//! Effects that leave the workspace, driven by a simulated kernel that also plays the
//! kernel's effect rules: an `EffectBegun` after the dispatch of a step whose effect
//! leaves its workspace, an `EffectEnded` after whatever makes it known whether the effect
//! took place (its attempt's verdict, its verify job's exit status, a person's answer),
//! and an `Unknown` end for every effect still open before the process ends. Attempts end
//! as a script says, by job. The tests check that compensations run newest first, that a
//! cut-off effect is verified or asked about before it runs again and never runs again
//! once it took place, that cancels unwind, and that replaying the events reproduces the
//! state and every decision.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use jitos_sched::{
    effect_key, Answer, AttemptOutcome, Capacity, Decision, EffectEnd, EffectState, Event,
    JobState, LaneState, Outcome, Process, Processes, SchedError, Status, Then, Unbounded,
    WaitReason,
};
use jitos_tasks::{plan, Dag, Intent, JobKind, JobNode, Library, Purpose};
use jitos_warp::Graph;

/// `publish` writes `a` (verified by `check_a`, undone by `undo_a`), then `b` (undone by
/// `undo_b`, no verify), then runs a gate.
const PUBLISH: &str = r#"
[task.publish]
params = ["target"]

[[task.publish.method]]
name = "write_then_test"
steps = [
  { task = "write_a", verify = "check_a", compensate = "undo_a" },
  { task = "write_b", compensate = "undo_b" },
  { task = "test" },
]
"#;

/// A second method of `publish`, tried when the first fails.
const FALLBACK: &str = r#"
[[task.publish.method]]
name = "fallback"
steps = [{ task = "note" }]
"#;

// No library here races an effect: the kernel refuses a step whose effect leaves its
// workspace in a race's lane (its `Grants::refuses`), since a lane that loses is
// discarded, which cannot take back what reached beyond it.

/// The primitive tasks every library here uses.
const TASKS: &str = r#"
[task.write_a]
params = ["target"]
run = { worker = "shell", args = ["write", "a", "{target}"], effect = "local", timeout_secs = 30, retries = 2, backoff_ms = 100 }

[task.check_a]
params = ["target"]
run = { worker = "shell", args = ["check", "a", "{target}"], effect = "none", timeout_secs = 30 }

[task.undo_a]
params = ["target"]
run = { worker = "shell", args = ["undo", "a", "{target}"], effect = "local", timeout_secs = 30, retries = 1, backoff_ms = 50 }

[task.write_b]
params = ["target"]
run = { worker = "shell", args = ["write", "b", "{target}"], effect = "network", timeout_secs = 30, retries = 2, backoff_ms = 100 }

[task.undo_b]
params = ["target"]
run = { worker = "shell", args = ["undo", "b", "{target}"], effect = "network", timeout_secs = 30, retries = 1, backoff_ms = 50 }

[task.test]
params = ["target"]
run = { worker = "shell", args = ["test", "{target}"], effect = "workspace", timeout_secs = 60, gate = true, idempotent = true }

[task.gate_b]
params = ["target"]
run = { worker = "shell", args = ["test", "b", "{target}"], effect = "workspace", timeout_secs = 60, gate = true, idempotent = true }

[task.note]
params = ["target"]
run = { worker = "shell", args = ["note", "{target}"], effect = "workspace", timeout_secs = 30, idempotent = true }
"#;

/// Process 1 submitted at 0 with the intent `publish`, over the library `head` and
/// `TASKS`.
fn submit(head: &str) -> Processes {
    let library = Library::parse(&format!("{head}{TASKS}"), Path::new("lib.toml")).unwrap();
    let intent = Intent::parse(
        "goal = \"publish\"\n[params]\ntarget = \"t\"\n[allow]\nworkers = [\"shell\"]\n",
        Path::new("intent.toml"),
    )
    .unwrap();
    let slaps = plan(&library, &intent, &Graph::new()).unwrap();
    let mut processes = Processes::default();
    processes
        .apply(1, 0, &Event::Submitted { intent, slaps })
        .unwrap();
    processes
}

/// A job's name in the tests: the last part of its path (`write_a`, `write_a#verify`,
/// `write_a#compensate`, …).
fn short(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// Whether a job's effect reaches beyond its workspace.
fn leaves_workspace(node: &JobNode) -> bool {
    matches!(&node.kind, JobKind::Run { effect, .. } if effect.leaves_workspace())
}

fn dag_of(p: &Process) -> &Dag {
    &p.slaps[p.run.candidate].dag
}

fn ok() -> AttemptOutcome {
    AttemptOutcome::Succeeded
}

/// The worker ran to its end and said no (exit status 1).
fn says_no() -> AttemptOutcome {
    AttemptOutcome::Failed {
        why: "exit status 1".into(),
        verdict: true,
    }
}

/// The attempt itself failed: no verdict.
fn crashed() -> AttemptOutcome {
    AttemptOutcome::Failed {
        why: "crashed".into(),
        verdict: false,
    }
}

/// What a fake worker does with an attempt: by the job's short name and its try.
type Script<'a> = Box<dyn FnMut(&str, u32) -> AttemptOutcome + 'a>;

/// One recorded event, with the decision (and the capacity it was decided with) it came
/// from, if the scheduler decided it.
struct Entry {
    seq: u64,
    time: u64,
    decided: Option<(Decision, Capacity)>,
    event: Event,
}

/// The simulated kernel of one process (id 1).
struct Sim<'a> {
    start: Processes,
    processes: Processes,
    id: u64,
    seq: u64,
    now_ms: u64,
    /// Running attempts, oldest first: (attempt, job).
    running: Vec<(u64, usize)>,
    script: Script<'a>,
    slots: usize,
    log: Vec<Entry>,
    /// The short name of each dispatched job, in order.
    dispatches: Vec<String>,
}

impl<'a> Sim<'a> {
    fn new(
        processes: Processes,
        script: impl FnMut(&str, u32) -> AttemptOutcome + 'a,
        slots: usize,
    ) -> Sim<'a> {
        Sim {
            start: processes.clone(),
            processes,
            id: 1,
            seq: 1,
            now_ms: 0,
            running: Vec::new(),
            script: Box::new(script),
            slots,
            log: Vec::new(),
            dispatches: Vec::new(),
        }
    }

    fn process(&self) -> &Process {
        self.processes.get(self.id).unwrap()
    }

    fn status(&self) -> Status {
        self.process().status.clone()
    }

    fn dag(&self) -> &Dag {
        dag_of(self.process())
    }

    /// The index of a job of the current candidate, by short name.
    fn job(&self, name: &str) -> usize {
        self.dag()
            .jobs
            .iter()
            .position(|n| short(&n.id) == name)
            .unwrap_or_else(|| panic!("no job {name}"))
    }

    fn job_state(&self, name: &str) -> JobState {
        self.process().run.jobs[self.job(name)].clone()
    }

    fn events(&self) -> impl Iterator<Item = &Event> + '_ {
        self.log.iter().map(|e| &e.event)
    }

    fn record(&mut self, decided: Option<(Decision, Capacity)>, event: Event) -> u64 {
        self.seq += 1;
        if let Err(e) = self.processes.apply(self.seq, self.now_ms, &event) {
            panic!("seq {}: {event:?} refused: {e}", self.seq);
        }
        self.log.push(Entry {
            seq: self.seq,
            time: self.now_ms,
            decided,
            event,
        });
        self.seq
    }

    fn capacity(&self) -> Capacity {
        Capacity {
            slots_free: self.slots.saturating_sub(self.running.len()),
            per_process: self.slots,
        }
    }

    /// One step: the next decision, else the end of the oldest running attempt, else a
    /// jump to the next timer. False when nothing is due (the process ended or waits).
    fn step(&mut self) -> bool {
        let capacity = self.capacity();
        if let Some(decision) = self.processes.decide(self.now_ms, capacity, &Unbounded) {
            self.execute(decision, Some(capacity));
            return true;
        }
        if !self.running.is_empty() {
            self.finish_oldest();
            return true;
        }
        let waits = matches!(self.status(), Status::Waiting { .. });
        match self.processes.next_wake_ms(&Unbounded) {
            Some(wake) if wake > self.now_ms && !waits => {
                self.now_ms = wake;
                true
            }
            _ => false,
        }
    }

    /// Runs until nothing is due.
    fn run(&mut self) {
        for _ in 0..10_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the simulation did not settle");
    }

    /// Runs until `done` holds (checked before each step); false if nothing was due first.
    fn run_until(&mut self, done: impl Fn(&Sim<'_>) -> bool) -> bool {
        for _ in 0..10_000 {
            if done(self) {
                return true;
            }
            if !self.step() {
                return false;
            }
        }
        panic!("the simulation did not settle");
    }

    /// Records what `decision` records, as the kernel does; `decided` is the capacity the
    /// scheduler decided it with, none for a person's cancel.
    fn execute(&mut self, decision: Decision, decided: Option<Capacity>) {
        let from = decided.map(|capacity| (decision.clone(), capacity));
        match decision {
            Decision::Rule { .. } => unreachable!("no policy is in force in the simulation"),
            Decision::DiscardLane { process, lane, .. } => {
                self.record(from, Event::LaneDiscarded { process, lane });
                // The attempts of a discarded lane are cancelled: they end after it.
                let lanes: Vec<usize> = self.dag().jobs.iter().map(|n| n.lane).collect();
                let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.running)
                    .into_iter()
                    .partition(|(_, job)| lanes[*job] == lane);
                self.running = kept;
                for (attempt, job) in gone {
                    self.end_attempt(attempt, job, crashed_by_cancel());
                }
            }
            Decision::OpenLane { process, lane, .. } => {
                let sws = self.seq + 1;
                self.record(from, Event::LaneOpened { process, lane, sws });
            }
            Decision::Dispatch { process, job, sws } => {
                let attempt = self.seq + 1;
                self.record(
                    from,
                    Event::Dispatched {
                        process,
                        job,
                        attempt,
                        sws,
                    },
                );
                self.running.push((attempt, job));
                let p = self.process();
                let node = &dag_of(p).jobs[job];
                let name = short(&node.id).to_owned();
                let begins = node.purpose == Purpose::Step && leaves_workspace(node);
                let key = effect_key(process, p.run.candidate, job);
                self.dispatches.push(name);
                // The begin goes with the dispatch, before the worker starts.
                if begins {
                    self.record(
                        None,
                        Event::EffectBegun {
                            process,
                            job,
                            attempt,
                            key,
                        },
                    );
                }
            }
            Decision::ScheduleRetry {
                process,
                job,
                until_ms,
            } => {
                self.record(
                    from,
                    Event::RetryScheduled {
                        process,
                        job,
                        until_ms,
                    },
                );
            }
            Decision::Ask {
                process,
                job,
                question,
                reason,
            } => {
                self.record(
                    from,
                    Event::Asked {
                        process,
                        job,
                        question,
                        reason,
                    },
                );
            }
            Decision::CollapseLane { process, lane, .. } => {
                self.record(from, Event::LaneCollapsed { process, lane });
            }
            Decision::Advance { process, to, why } => {
                self.record(from, Event::Advanced { process, to, why });
                self.cancel_running();
            }
            Decision::Unwind { process, then, why } => {
                self.record(from, Event::Unwinding { process, then, why });
                self.cancel_running();
            }
            Decision::Finish { process, outcome } => {
                self.end_open_effects_unknown();
                self.record(from, Event::Finished { process, outcome });
                self.cancel_running();
            }
        }
    }

    /// Before a process ends: every effect still open ends as unknown.
    fn end_open_effects_unknown(&mut self) {
        let open: Vec<usize> = self
            .process()
            .run
            .effects
            .iter()
            .filter(|m| m.state == EffectState::Begun)
            .map(|m| m.job)
            .collect();
        for job in open {
            let process = self.id;
            self.record(
                None,
                Event::EffectEnded {
                    process,
                    job,
                    end: EffectEnd::Unknown,
                },
            );
        }
    }

    /// The running attempts are cancelled: they end, without a verdict, after the record
    /// that cancelled them.
    fn cancel_running(&mut self) {
        for (attempt, job) in std::mem::take(&mut self.running) {
            self.end_attempt(attempt, job, crashed_by_cancel());
        }
    }

    fn finish_oldest(&mut self) {
        let (attempt, job) = self.running.remove(0);
        self.now_ms += 10;
        let p = self.process();
        let tries = match p.run.jobs[job] {
            JobState::Running { attempt: a, tries } if a == attempt => tries,
            ref other => panic!("attempt {attempt} of job {job} ends while {other:?}"),
        };
        let name = short(&dag_of(p).jobs[job].id).to_owned();
        let outcome = (self.script)(&name, tries);
        self.end_attempt(attempt, job, outcome);
    }

    /// Records an attempt's end, and the effect end it makes known, as the kernel does.
    fn end_attempt(&mut self, attempt: u64, job: usize, outcome: AttemptOutcome) {
        let p = self.process();
        let current = !p.status.is_over()
            && matches!(p.run.jobs.get(job), Some(JobState::Running { attempt: a, .. }) if *a == attempt);
        let said = match &outcome {
            AttemptOutcome::Succeeded => Some(EffectEnd::Happened),
            AttemptOutcome::Failed { verdict: true, .. } => Some(EffectEnd::NotHappened),
            _ => None,
        };
        let end = if current {
            let node = &dag_of(p).jobs[job];
            let open = |of: usize, by: Option<u64>| {
                p.run.effects.iter().any(|m| {
                    m.job == of
                        && m.state == EffectState::Begun
                        && by.is_none_or(|a| a == m.attempt)
                })
            };
            match node.purpose {
                Purpose::Step if open(job, Some(attempt)) => said.map(|end| (job, end)),
                Purpose::Verify { of } if open(of, None) => said.map(|end| (of, end)),
                _ => None,
            }
        } else {
            None
        };
        let process = self.id;
        self.record(
            None,
            Event::AttemptEnded {
                process,
                attempt,
                outcome,
            },
        );
        if let Some((job, end)) = end {
            self.record(None, Event::EffectEnded { process, job, end });
        }
    }

    /// A person's answer, with the effect end it makes known (a fail ends every open
    /// effect as unknown before it).
    fn answer(&mut self, answer: Answer) -> Result<(), SchedError> {
        let process = self.id;
        let event = Event::Answered {
            process,
            answer: answer.clone(),
        };
        self.processes.check(self.seq + 1, &event)?;
        let p = self.process();
        let crash_job = match p.status {
            Status::Waiting {
                job,
                reason: WaitReason::Crash,
                ..
            } => p
                .run
                .effects
                .iter()
                .any(|m| m.job == job && m.state == EffectState::Begun)
                .then_some(job),
            _ => None,
        };
        if answer == Answer::Fail {
            self.end_open_effects_unknown();
        }
        self.record(None, event);
        let end = match answer {
            Answer::Retry => Some(EffectEnd::NotHappened),
            Answer::Skip => Some(EffectEnd::Happened),
            _ => None,
        };
        if let (Some(job), Some(end)) = (crash_job, end) {
            self.record(None, Event::EffectEnded { process, job, end });
        }
        Ok(())
    }

    /// A person cancels: what `cancel_decision` calls for is recorded (not a scheduler
    /// decision).
    fn cancel(&mut self) -> Decision {
        let decision = self.processes.cancel_decision(self.id);
        self.execute(decision.clone(), None);
        decision
    }

    /// Position in the log of the first event matching `f`.
    fn position(&self, f: impl Fn(&Event) -> bool) -> Option<usize> {
        self.log.iter().position(|e| f(&e.event))
    }

    fn effect_ends(&self, job: usize) -> Vec<EffectEnd> {
        self.events()
            .filter_map(|e| match e {
                Event::EffectEnded { job: j, end, .. } if *j == job => Some(*end),
                _ => None,
            })
            .collect()
    }
}

fn crashed_by_cancel() -> AttemptOutcome {
    AttemptOutcome::Failed {
        why: "cancelled".into(),
        verdict: false,
    }
}

/// Replays the log into fresh processes and checks, event by event:
/// - each decision is what `decide` called for at its time with the capacity it was made
///   with, and, as the kernel's verify does it (no slots), every event the scheduler is
///   taken to decide is explained by the decision then called for; no event recorded
///   without a decision is taken for one;
/// - no effect's job is dispatched again once its effect is known to have happened, nor
///   while a mark of it is open;
/// - a job left unsure by an attempt was verified or asked about before it ran again;
/// - a compensate job runs only while unwinding, for an effect that took place;
/// - every attempt ends once, every effect begun ends once (by the process's end at the
///   latest, and before its candidate is abandoned);
/// - the replay ends in the very state the run did.
fn audit(sim: &Sim<'_>) {
    let mut state = sim.start.clone();
    let mut ended = BTreeSet::new();
    let mut open_begins = BTreeSet::new();
    let mut happened = BTreeSet::new();
    // Jobs left unsure by an attempt: whether they were verified or asked about since.
    let mut unsure: BTreeMap<usize, bool> = BTreeMap::new();
    let no_slots = Capacity {
        slots_free: 0,
        per_process: 0,
    };
    for entry in &sim.log {
        let at = entry.seq;
        let event = &entry.event;
        match &entry.decided {
            Some((decision, capacity)) => {
                let again = state.decide(entry.time, *capacity, &Unbounded);
                assert_eq!(again.as_ref(), Some(decision), "at seq {at}");
                if event.is_decision() {
                    let kernel = state.decide(entry.time, no_slots, &Unbounded);
                    assert!(
                        kernel.as_ref().is_some_and(|d| d.explains(event)),
                        "at seq {at}: the kernel's verify would find {kernel:?} for {event:?}"
                    );
                }
            }
            None => assert!(
                !event.is_decision(),
                "at seq {at}: {event:?} was recorded without a decision, but verify checks it as one"
            ),
        }
        let p = state.get(sim.id).unwrap();
        let dag = dag_of(p);
        match event {
            Event::Dispatched { job, .. } => {
                let node = &dag.jobs[*job];
                match node.purpose {
                    Purpose::Step if leaves_workspace(node) => {
                        assert!(
                            !happened.contains(job),
                            "at seq {at}: {} dispatched again after its effect was known to have happened",
                            node.id
                        );
                        assert!(
                            p.run.effects.iter().all(|m| m.job != *job),
                            "at seq {at}: {} dispatched while a mark of it stands: {:?}",
                            node.id,
                            p.run.effects
                        );
                        if let Some(consulted) = unsure.remove(job) {
                            assert!(
                                consulted,
                                "at seq {at}: {} ran again after an attempt that left it unsure, unverified and unasked",
                                node.id
                            );
                        }
                    }
                    Purpose::Verify { of } => {
                        if let Some(consulted) = unsure.get_mut(&of) {
                            *consulted = true;
                        }
                    }
                    Purpose::Compensate { of } => {
                        assert!(
                            p.run.unwinding.is_some(),
                            "at seq {at}: {} dispatched while not unwinding",
                            node.id
                        );
                        assert!(
                            p.run
                                .effects
                                .iter()
                                .any(|m| m.job == of && m.state == EffectState::Happened),
                            "at seq {at}: {} dispatched for an effect not known to have happened: {:?}",
                            node.id,
                            p.run.effects
                        );
                    }
                    Purpose::Step => {}
                }
            }
            Event::Asked {
                job,
                reason: WaitReason::Crash,
                ..
            } => {
                if let Some(consulted) = unsure.get_mut(job) {
                    *consulted = true;
                }
            }
            Event::AttemptEnded { attempt, .. } => {
                assert!(
                    ended.insert(*attempt),
                    "at seq {at}: attempt {attempt} ended twice"
                );
            }
            Event::EffectBegun { job, .. } => {
                assert!(
                    open_begins.insert(*job),
                    "at seq {at}: job {job} began twice"
                );
            }
            Event::EffectEnded { job, end, .. } => {
                assert!(
                    open_begins.remove(job),
                    "at seq {at}: job {job} ended, never begun"
                );
                if *end == EffectEnd::Happened {
                    happened.insert(*job);
                }
            }
            Event::Advanced { .. } => {
                assert!(
                    open_begins.is_empty(),
                    "at seq {at}: the candidate is abandoned with effects open: {open_begins:?}"
                );
                happened.clear();
                unsure.clear();
            }
            _ => {}
        }
        if let Err(e) = state.apply(entry.seq, entry.time, event) {
            panic!("at seq {at}: the replay refuses {event:?}: {e}");
        }
        let p = state.get(sim.id).unwrap();
        for (job, s) in p.run.jobs.iter().enumerate() {
            if matches!(s, JobState::Unsure { .. }) {
                unsure.entry(job).or_insert(false);
            }
        }
    }
    assert_eq!(state, sim.processes, "the replay ends elsewhere");
    if sim.process().status.is_over() {
        assert!(
            open_begins.is_empty(),
            "the process ended with effects begun and never ended: {open_begins:?}"
        );
    }
}

/// The marks of the process's effects: (job, state, attempt, key).
fn marks(sim: &Sim<'_>) -> Vec<(usize, EffectState, u64, String)> {
    sim.process()
        .run
        .effects
        .iter()
        .map(|m| (m.job, m.state, m.attempt, m.key.clone()))
        .collect()
}

/// The attempt (dispatch seq) of every dispatch of `job`, in order.
fn attempts_of(sim: &Sim<'_>, job: usize) -> Vec<u64> {
    sim.events()
        .filter_map(|e| match e {
            Event::Dispatched {
                job: j, attempt, ..
            } if *j == job => Some(*attempt),
            _ => None,
        })
        .collect()
}

fn failed_why(status: &Status) -> &str {
    match status {
        Status::Failed { why, .. } => why,
        other => panic!("the process is {other:?}, not failed"),
    }
}

fn waiting(status: &Status) -> (usize, &str, WaitReason) {
    match status {
        Status::Waiting {
            job,
            question,
            reason,
        } => (*job, question, *reason),
        other => panic!("the process is {other:?}, not waiting"),
    }
}

/// Why the process fails when its gate says no.
fn gate_says_no(sim: &Sim<'_>) -> String {
    format!(
        "{} failed: exit status 1",
        sim.dag().jobs[sim.job("test")].id
    )
}

// 1. Goal: when a later step fails, the effects that took place are compensated newest
// first, each once, and the process then fails with the step's reason. Method: both
// writes succeed, the gate says no; look at the dispatch order, the unwinding recorded,
// the end, and the effect marks.
#[test]
fn a_failed_gate_compensates_newest_first_then_fails_with_its_reason() {
    let mut sim = Sim::new(
        submit(PUBLISH),
        |name: &str, _| if name == "test" { says_no() } else { ok() },
        2,
    );
    sim.run();
    let why = gate_says_no(&sim);
    assert_eq!(failed_why(&sim.status()), why);
    assert_eq!(
        sim.dispatches,
        [
            "write_a",
            "write_b",
            "test",
            "write_b#compensate",
            "write_a#compensate"
        ]
    );
    let unwindings: Vec<&Then> = sim
        .events()
        .filter_map(|e| match e {
            Event::Unwinding { then, .. } => Some(then),
            _ => None,
        })
        .collect();
    assert_eq!(
        unwindings,
        [&Then::Finish(Outcome::Failed { why: why.clone() })]
    );
    let (a, b) = (sim.job("write_a"), sim.job("write_b"));
    let [first_a] = attempts_of(&sim, a)[..] else {
        panic!("write_a ran more than once")
    };
    let [first_b] = attempts_of(&sim, b)[..] else {
        panic!("write_b ran more than once")
    };
    assert_eq!(
        marks(&sim),
        [
            (a, EffectState::Happened, first_a, effect_key(1, 0, a)),
            (b, EffectState::Happened, first_b, effect_key(1, 0, b)),
        ]
    );
    // Only the steps whose effect leaves the workspace began effects; the verify job never
    // ran, and both compensations are done.
    let begun: Vec<usize> = sim
        .events()
        .filter_map(|e| match e {
            Event::EffectBegun { job, .. } => Some(*job),
            _ => None,
        })
        .collect();
    assert_eq!(begun, [a, b]);
    assert_eq!(sim.job_state("write_a#verify"), JobState::Cancelled);
    for undo in ["write_a#compensate", "write_b#compensate"] {
        assert_eq!(
            sim.job_state(undo),
            JobState::Done { value: None },
            "{undo}"
        );
    }
    audit(&sim);
}

// 1b. Goal: with nothing done that has a compensation, a failure ends the process at
// once. Method: write_a says no on every try (so its effect did not happen), the process
// fails without unwinding and without running any compensation.
#[test]
fn a_failure_with_nothing_to_undo_does_not_unwind() {
    let mut sim = Sim::new(
        submit(PUBLISH),
        |name: &str, _| if name == "write_a" { says_no() } else { ok() },
        2,
    );
    sim.run();
    assert!(failed_why(&sim.status()).contains("write_a failed"));
    assert_eq!(sim.dispatches, ["write_a", "write_a", "write_a"]);
    assert!(sim
        .position(|e| matches!(e, Event::Unwinding { .. }))
        .is_none());
    assert_eq!(
        sim.effect_ends(sim.job("write_a")),
        [EffectEnd::NotHappened; 3]
    );
    assert!(marks(&sim).is_empty());
    audit(&sim);
}

// 2a. Goal: an attempt of write_a cut off by a crash is not run again blindly: its
// verify job runs next, and when it says the effect took place, write_a is done and never
// runs again. Method: cut off write_a's first try; check_a succeeds.
#[test]
fn a_cut_off_effect_is_verified_and_not_run_again_when_it_took_place() {
    let mut sim = Sim::new(
        submit(PUBLISH),
        |name: &str, tries| match name {
            "write_a" if tries == 1 => AttemptOutcome::CutOff,
            _ => ok(),
        },
        2,
    );
    assert!(sim.run_until(|s| s.dispatches.len() == 2));
    // Between the cut-off attempt's end and the verify's dispatch, nothing made the effect
    // known.
    assert!(matches!(
        sim.job_state("write_a"),
        JobState::Unsure { tries: 1, .. }
    ));
    assert_eq!(sim.dispatches, ["write_a", "write_a#verify"]);
    assert!(sim.effect_ends(sim.job("write_a")).is_empty());
    sim.run();
    assert!(
        matches!(sim.status(), Status::Done { .. }),
        "{:?}",
        sim.status()
    );
    assert_eq!(
        sim.dispatches,
        ["write_a", "write_a#verify", "write_b", "test"]
    );
    let a = sim.job("write_a");
    assert_eq!(sim.effect_ends(a), [EffectEnd::Happened]);
    assert_eq!(sim.job_state("write_a"), JobState::Done { value: None });
    // The verify's end is what made it known.
    let verify_end = sim
        .position(|e| matches!(e, Event::AttemptEnded { attempt, .. } if *attempt == attempts_of(&sim, sim.job("write_a#verify"))[0]))
        .unwrap();
    assert!(matches!(
        sim.log[verify_end + 1].event,
        Event::EffectEnded { job, end: EffectEnd::Happened, .. } if job == a
    ));
    audit(&sim);
}

// 2b. Goal: when the verify job says the cut-off effect did not take place (exit status
// non-zero), write_a runs again, after its backoff, as its second try. Method: cut off
// write_a's first try; check_a says no.
#[test]
fn a_cut_off_effect_that_did_not_take_place_runs_again() {
    let tries_seen = std::cell::RefCell::new(Vec::new());
    let mut sim = Sim::new(
        submit(PUBLISH),
        |name: &str, tries| {
            if name == "write_a" {
                tries_seen.borrow_mut().push(tries);
            }
            match name {
                "write_a" if tries == 1 => AttemptOutcome::CutOff,
                "write_a#verify" => says_no(),
                _ => ok(),
            }
        },
        2,
    );
    sim.run();
    assert!(
        matches!(sim.status(), Status::Done { .. }),
        "{:?}",
        sim.status()
    );
    assert_eq!(
        sim.dispatches,
        ["write_a", "write_a#verify", "write_a", "write_b", "test"]
    );
    assert_eq!(*tries_seen.borrow(), [1, 2]);
    let a = sim.job("write_a");
    assert_eq!(
        sim.effect_ends(a),
        [EffectEnd::NotHappened, EffectEnd::Happened]
    );
    // Not happened is known before write_a is dispatched again, which waits its backoff.
    let attempts = attempts_of(&sim, a);
    let not_happened = sim
        .position(|e| {
            matches!(
                e,
                Event::EffectEnded {
                    end: EffectEnd::NotHappened,
                    ..
                }
            )
        })
        .unwrap();
    let second = sim
        .position(|e| matches!(e, Event::Dispatched { attempt, .. } if *attempt == attempts[1]))
        .unwrap();
    assert!(not_happened < second);
    assert!(sim.log[not_happened..second]
        .iter()
        .any(|e| matches!(e.event, Event::RetryScheduled { job, .. } if job == a)));
    assert_eq!(
        marks(&sim)[0],
        (a, EffectState::Happened, attempts[1], effect_key(1, 0, a))
    );
    audit(&sim);
}

// 2c. Goal: when the verify job itself fails without a verdict, a person is asked, and
// told so; skip takes the effect as done, so write_a does not run again. Method: cut off
// write_a; check_a crashes; answer skip.
#[test]
fn a_verify_that_crashes_asks_a_person() {
    let mut sim = Sim::new(
        submit(PUBLISH),
        |name: &str, tries| match name {
            "write_a" if tries == 1 => AttemptOutcome::CutOff,
            "write_a#verify" => crashed(),
            _ => ok(),
        },
        2,
    );
    sim.run();
    let a = sim.job("write_a");
    let status = sim.status();
    let (job, question, reason) = waiting(&status);
    assert_eq!((job, reason), (a, WaitReason::Crash));
    assert!(question.contains("verify job failed too"), "{question}");
    assert!(question.contains(&effect_key(1, 0, a)), "{question}");
    sim.answer(Answer::Skip).unwrap();
    sim.run();
    assert!(
        matches!(sim.status(), Status::Done { .. }),
        "{:?}",
        sim.status()
    );
    assert_eq!(
        sim.dispatches,
        ["write_a", "write_a#verify", "write_b", "test"]
    );
    assert_eq!(sim.effect_ends(a), [EffectEnd::Happened]);
    audit(&sim);
}

/// write_b's first attempt is cut off; everything else succeeds. (A retry a person asks
/// for starts its tries afresh, so the script counts calls.)
fn cut_b() -> impl FnMut(&str, u32) -> AttemptOutcome {
    let mut calls = 0;
    move |name: &str, _| match name {
        "write_b" => {
            calls += 1;
            if calls == 1 {
                AttemptOutcome::CutOff
            } else {
                ok()
            }
        }
        _ => ok(),
    }
}

// 3. Goal: write_b, cut off and without a verify job, makes the process wait for a person
// (WaitReason::Crash, naming its idempotency key); skip continues without running it
// again, retry runs it again; each answer makes the effect's end known right after it.
#[test]
fn a_cut_off_effect_without_verify_asks_a_person() {
    for answer in [Answer::Skip, Answer::Retry] {
        let mut sim = Sim::new(submit(PUBLISH), cut_b(), 2);
        sim.run();
        let b = sim.job("write_b");
        let status = sim.status();
        let (job, question, reason) = waiting(&status);
        assert_eq!((job, reason), (b, WaitReason::Crash));
        assert!(question.contains(&effect_key(1, 0, b)), "{question}");
        assert_eq!(sim.dispatches, ["write_a", "write_b"]);
        sim.answer(answer.clone()).unwrap();
        let answered = sim.log.len() - 1;
        let expected_end = if answer == Answer::Skip {
            EffectEnd::Happened
        } else {
            EffectEnd::NotHappened
        };
        let known = sim
            .position(|e| matches!(e, Event::Answered { .. }))
            .unwrap();
        assert!(matches!(
            sim.log[known + 1].event,
            Event::EffectEnded { job, end, .. } if job == b && end == expected_end
        ));
        assert_eq!(known + 1, answered);
        sim.run();
        assert!(
            matches!(sim.status(), Status::Done { .. }),
            "{answer:?}: {:?}",
            sim.status()
        );
        let expected: &[&str] = if answer == Answer::Skip {
            &["write_a", "write_b", "test"]
        } else {
            &["write_a", "write_b", "write_b", "test"]
        };
        assert_eq!(sim.dispatches, expected, "{answer:?}");
        audit(&sim);
    }
}

// 3b. Goal: answering fail to the crash question ends the process as failed (once what
// took place is undone), and the open effect ends as unknown before the answer. Method:
// cut off write_b, answer fail.
#[test]
fn answering_fail_ends_the_open_effect_as_unknown_first() {
    let mut sim = Sim::new(submit(PUBLISH), cut_b(), 2);
    sim.run();
    let b = sim.job("write_b");
    sim.answer(Answer::Fail).unwrap();
    let n = sim.log.len();
    assert!(matches!(
        sim.log[n - 2].event,
        Event::EffectEnded { job, end: EffectEnd::Unknown, .. } if job == b
    ));
    assert!(matches!(sim.log[n - 1].event, Event::Answered { .. }));
    // write_a's effect took place and is owed its undoing: the fail unwinds first.
    assert_eq!(
        sim.process().run.unwinding,
        Some(Then::Finish(Outcome::Failed {
            why: "a person answered fail".into()
        }))
    );
    sim.run();
    assert_eq!(failed_why(&sim.status()), "a person answered fail");
    audit(&sim);
}

// 3c. Goal: a person's fail is a failure of the step like any other, so the effects that
// took place are compensated before the process ends (as a cancel's are). Method: write_a
// happened, write_b is cut off, answer fail: undo_a should run.
#[test]
fn answering_fail_compensates_the_effects_that_took_place() {
    let mut sim = Sim::new(submit(PUBLISH), cut_b(), 2);
    sim.run();
    sim.answer(Answer::Fail).unwrap();
    sim.run();
    assert!(matches!(sim.status(), Status::Failed { .. }));
    assert!(
        sim.dispatches.iter().any(|d| d == "write_a#compensate"),
        "{:?}",
        sim.dispatches
    );
}

// 4. Goal: a person's cancel after both effects took place unwinds: the running gate is
// cancelled, both compensations run newest first, then the process ends cancelled.
// Method: run until write_b's effect is known and the gate is dispatched, then cancel.
#[test]
fn a_cancel_unwinds_the_effects_that_took_place() {
    let mut sim = Sim::new(submit(PUBLISH), |_: &str, _| ok(), 2);
    assert!(sim.run_until(|s| s.dispatches.len() == 3));
    let b = sim.job("write_b");
    assert_eq!(sim.effect_ends(b), [EffectEnd::Happened]);
    assert!(matches!(sim.job_state("test"), JobState::Running { .. }));
    let decision = sim.cancel();
    assert_eq!(
        decision,
        Decision::Unwind {
            process: 1,
            then: Then::Finish(Outcome::Cancelled),
            why: "cancelled".into(),
        }
    );
    sim.run();
    assert!(
        matches!(sim.status(), Status::Cancelled { .. }),
        "{:?}",
        sim.status()
    );
    assert_eq!(
        sim.dispatches,
        [
            "write_a",
            "write_b",
            "test",
            "write_b#compensate",
            "write_a#compensate"
        ]
    );
    let n = sim.log.len();
    assert!(matches!(
        sim.log[n - 1].event,
        Event::Finished {
            outcome: Outcome::Cancelled,
            ..
        }
    ));
    audit(&sim);
}

// 4b. Goal: a cancel while an effect's attempt runs settles that effect before anything
// is compensated: the cancelled attempt leaves it unknown, and (write_b having no verify)
// a person is asked; skip compensates it and then write_a's, retry compensates only
// write_a's. Neither runs write_b again.
#[test]
fn a_cancel_during_an_effect_asks_about_it_before_compensating() {
    for answer in [Answer::Skip, Answer::Retry] {
        let mut sim = Sim::new(submit(PUBLISH), |_: &str, _| ok(), 2);
        assert!(sim.run_until(|s| s.dispatches.len() == 2));
        assert!(matches!(sim.job_state("write_b"), JobState::Running { .. }));
        assert!(matches!(sim.cancel(), Decision::Unwind { .. }));
        sim.run();
        let b = sim.job("write_b");
        let status = sim.status();
        let (job, _, reason) = waiting(&status);
        assert_eq!((job, reason), (b, WaitReason::Crash));
        assert_eq!(
            sim.dispatches,
            ["write_a", "write_b"],
            "nothing compensated yet"
        );
        sim.answer(answer.clone()).unwrap();
        sim.run();
        assert!(
            matches!(sim.status(), Status::Cancelled { .. }),
            "{:?}",
            sim.status()
        );
        let expected: &[&str] = if answer == Answer::Skip {
            &[
                "write_a",
                "write_b",
                "write_b#compensate",
                "write_a#compensate",
            ]
        } else {
            &["write_a", "write_b", "write_a#compensate"]
        };
        assert_eq!(sim.dispatches, expected, "{answer:?}");
        audit(&sim);
    }
}

// 4c. Goal: a cancel of a process waiting on a crash question, with an earlier effect
// owed its compensation, unwinds and asks the question again before compensating.
#[test]
fn a_cancel_while_asked_about_an_effect_asks_again_then_unwinds() {
    let mut sim = Sim::new(submit(PUBLISH), cut_b(), 2);
    sim.run();
    let b = sim.job("write_b");
    assert_eq!(waiting(&sim.status()).2, WaitReason::Crash);
    assert!(matches!(sim.cancel(), Decision::Unwind { .. }));
    sim.run();
    let status = sim.status();
    let (job, _, reason) = waiting(&status);
    assert_eq!((job, reason), (b, WaitReason::Crash));
    sim.answer(Answer::Skip).unwrap();
    sim.run();
    assert!(matches!(sim.status(), Status::Cancelled { .. }));
    assert_eq!(
        sim.dispatches,
        [
            "write_a",
            "write_b",
            "write_b#compensate",
            "write_a#compensate"
        ]
    );
    audit(&sim);
}

// 4d. Goal: a cancel with nothing owed ends the process at once.
#[test]
fn a_cancel_with_nothing_to_undo_ends_at_once() {
    let mut sim = Sim::new(submit(PUBLISH), |_: &str, _| ok(), 2);
    assert!(sim.run_until(|s| s.process().run.lanes[0] != LaneState::Unopened));
    assert_eq!(
        sim.cancel(),
        Decision::Finish {
            process: 1,
            outcome: Outcome::Cancelled
        }
    );
    sim.run();
    assert!(matches!(sim.status(), Status::Cancelled { .. }));
    assert!(sim.dispatches.is_empty());
    audit(&sim);
}

/// The gate says no, and undo_b fails without a verdict on its first `fails` calls.
fn undo_b_fails(fails: usize) -> impl FnMut(&str, u32) -> AttemptOutcome {
    let mut calls = 0;
    move |name: &str, _| match name {
        "test" => says_no(),
        "write_b#compensate" => {
            calls += 1;
            if calls <= fails {
                crashed()
            } else {
                ok()
            }
        }
        _ => ok(),
    }
}

// 5. Goal: a compensation that fails after its retries makes the process wait for a
// person (WaitReason::Failure, saying the effect stays); skip goes on unwinding, retry
// runs it again; either way the process then fails with the gate's reason.
#[test]
fn a_failed_compensation_asks_a_person() {
    for answer in [Answer::Skip, Answer::Retry] {
        let mut sim = Sim::new(submit(PUBLISH), undo_b_fails(2), 2);
        sim.run();
        let undo_b = sim.job("write_b#compensate");
        let status = sim.status();
        let (job, question, reason) = waiting(&status);
        assert_eq!((job, reason), (undo_b, WaitReason::Failure));
        assert!(question.contains("stays in place"), "{question}");
        assert_eq!(
            sim.dispatches,
            [
                "write_a",
                "write_b",
                "test",
                "write_b#compensate",
                "write_b#compensate"
            ]
        );
        let waits: Vec<u64> = sim
            .log
            .iter()
            .filter_map(|e| match e.event {
                Event::RetryScheduled { job, until_ms, .. } if job == undo_b => {
                    Some(until_ms - e.time)
                }
                _ => None,
            })
            .collect();
        assert_eq!(waits, [50], "undo_b's one retry waits its backoff");
        // Waiting while unwinding: nothing is decided.
        assert_eq!(
            sim.processes.decide(sim.now_ms, sim.capacity(), &Unbounded),
            None
        );
        sim.answer(answer.clone()).unwrap();
        sim.run();
        assert_eq!(failed_why(&sim.status()), gate_says_no(&sim), "{answer:?}");
        let mut expected = vec![
            "write_a",
            "write_b",
            "test",
            "write_b#compensate",
            "write_b#compensate",
        ];
        if answer == Answer::Retry {
            expected.push("write_b#compensate");
        }
        expected.push("write_a#compensate");
        assert_eq!(sim.dispatches, expected, "{answer:?}");
        audit(&sim);
    }
}

// 5b. Goal: a cancel while an unwinding waits on a failed compensation ends the process
// at once (what it owes is left as it stands).
#[test]
fn a_cancel_while_unwinding_ends_at_once() {
    let mut sim = Sim::new(submit(PUBLISH), undo_b_fails(2), 2);
    sim.run();
    assert_eq!(waiting(&sim.status()).2, WaitReason::Failure);
    assert_eq!(
        sim.cancel(),
        Decision::Finish {
            process: 1,
            outcome: Outcome::Cancelled
        }
    );
    assert!(matches!(sim.status(), Status::Cancelled { .. }));
    assert!(!sim.dispatches.iter().any(|d| d == "write_a#compensate"));
    audit(&sim);
}

// 5c. Goal: moving on to the next plan candidate unwinds first: compensations newest
// first, then the next candidate runs and the process is done.
#[test]
fn moving_to_the_next_candidate_unwinds_first() {
    let library = format!("{PUBLISH}{FALLBACK}");
    let mut sim = Sim::new(
        submit(&library),
        |name: &str, _| if name == "test" { says_no() } else { ok() },
        2,
    );
    sim.run();
    assert!(
        matches!(sim.status(), Status::Done { .. }),
        "{:?}",
        sim.status()
    );
    assert_eq!(
        sim.dispatches,
        [
            "write_a",
            "write_b",
            "test",
            "write_b#compensate",
            "write_a#compensate",
            "note"
        ]
    );
    let thens: Vec<&Then> = sim
        .events()
        .filter_map(|e| match e {
            Event::Unwinding { then, .. } => Some(then),
            _ => None,
        })
        .collect();
    assert!(
        matches!(thens[..], [Then::Advance { to: 1, .. }]),
        "{thens:?}"
    );
    assert_eq!(sim.process().run.candidate, 1);
    audit(&sim);
}

// 6. Goal: replaying the recorded events into fresh processes reproduces the final state,
// and every recorded decision is what `decide` called for at its time (with the capacity
// it was made with, and as the kernel's verify checks it, with none). Method: a long run
// through every kind of effect event — a cut-off write_a its verify says did not happen,
// a cut-off write_b a person says to retry, a failing gate, a compensation that fails
// once — audited, and replayed twice to the same state.
#[test]
fn replay_reproduces_the_state_and_every_decision() {
    let mut calls: BTreeMap<String, u32> = BTreeMap::new();
    let mut sim = Sim::new(
        submit(PUBLISH),
        move |name: &str, _| {
            let call = calls.entry(name.to_owned()).or_default();
            *call += 1;
            match name {
                "write_a" | "write_b" | "write_b#compensate" if *call == 1 => {
                    if name == "write_b#compensate" {
                        crashed()
                    } else {
                        AttemptOutcome::CutOff
                    }
                }
                "write_a#verify" | "test" => says_no(),
                _ => ok(),
            }
        },
        1,
    );
    sim.run();
    assert_eq!(waiting(&sim.status()).2, WaitReason::Crash);
    sim.answer(Answer::Retry).unwrap();
    sim.run();
    assert_eq!(failed_why(&sim.status()), gate_says_no(&sim));
    assert_eq!(
        sim.dispatches,
        [
            "write_a",
            "write_a#verify",
            "write_a",
            "write_b",
            "write_b",
            "test",
            "write_b#compensate",
            "write_b#compensate",
            "write_a#compensate"
        ]
    );
    audit(&sim);
    let replay = |sim: &Sim<'_>| {
        let mut p = sim.start.clone();
        for e in &sim.log {
            p.apply(e.seq, e.time, &e.event).unwrap();
        }
        p
    };
    assert_eq!(replay(&sim), sim.processes);
    assert_eq!(replay(&sim), replay(&sim));
    // Every event kind of the effects was exercised.
    for kind in [
        "EffectBegun",
        "EffectEnded",
        "Unwinding",
        "Asked",
        "RetryScheduled",
    ] {
        assert!(
            sim.events().any(|e| format!("{e:?}").starts_with(kind)),
            "no {kind}"
        );
    }
}

// 6b. Goal: effect events that do not fit are refused, so a doctored ledger does not
// replay: a verify or compensate job dispatched when it is not needed, a begin for a job
// that does not run, a second begin or one under another key, an end with no begin, a
// second unwinding.
#[test]
fn effect_events_that_do_not_fit_are_refused() {
    let mut sim = Sim::new(submit(PUBLISH), |_: &str, _| ok(), 1);
    assert!(sim.run_until(|s| s.dispatches.len() == 1));
    let (a, b) = (sim.job("write_a"), sim.job("write_b"));
    let (verify, undo_a) = (sim.job("write_a#verify"), sim.job("write_a#compensate"));
    let sws = sim.process().open_workspaces()[0];
    let attempt = attempts_of(&sim, a)[0];
    let next = sim.seq + 1;
    let refused = |sim: &Sim<'_>, event: Event| {
        assert!(
            matches!(
                sim.processes.check(next, &event),
                Err(SchedError::Misfit { .. })
            ),
            "{event:?} is accepted"
        );
    };
    for job in [verify, undo_a] {
        refused(
            &sim,
            Event::Dispatched {
                process: 1,
                job,
                attempt: next,
                sws,
            },
        );
    }
    refused(
        &sim,
        Event::EffectBegun {
            process: 1,
            job: a,
            attempt,
            key: effect_key(1, 0, a),
        },
    );
    refused(
        &sim,
        Event::EffectBegun {
            process: 1,
            job: b,
            attempt,
            key: effect_key(1, 0, b),
        },
    );
    refused(
        &sim,
        Event::EffectEnded {
            process: 1,
            job: b,
            end: EffectEnd::Happened,
        },
    );
    // With write_a's effect closed, a begin for its running attempt fits only under the
    // job's own key.
    let mut closed = sim.processes.clone();
    closed
        .apply(
            next,
            0,
            &Event::EffectEnded {
                process: 1,
                job: a,
                end: EffectEnd::Unknown,
            },
        )
        .unwrap();
    let begin = |key: String| Event::EffectBegun {
        process: 1,
        job: a,
        attempt,
        key,
    };
    assert!(matches!(
        closed.check(next + 1, &begin("jitos-1-0-99".into())),
        Err(SchedError::Misfit { .. })
    ));
    assert!(closed.check(next + 1, &begin(effect_key(1, 0, a))).is_ok());
    let unwinding = Event::Unwinding {
        process: 1,
        then: Then::Finish(Outcome::Cancelled),
        why: "cancelled".into(),
    };
    sim.record(None, unwinding.clone());
    refused(&sim, unwinding);
}

// 5d. Goal: a person's cancel that comes after lane 0 collapsed into the system (the
// goal landed) and before the process's end is recorded still ends the process. Method:
// run until lane 0 has collapsed, cancel, run.
#[test]
fn a_cancel_after_the_goal_landed_does_not_stall() {
    let mut sim = Sim::new(submit(PUBLISH), |_: &str, _| ok(), 2);
    assert!(sim.run_until(|s| matches!(s.process().run.lanes[0], LaneState::Collapsed { .. })));
    assert!(!sim.status().is_over(), "the process is not ended yet");
    sim.cancel();
    sim.run();
    assert!(
        sim.status().is_over(),
        "the process stalls: {:?}, decide gives {:?}",
        sim.status(),
        sim.processes.decide(sim.now_ms, sim.capacity(), &Unbounded)
    );
    audit(&sim);
}

/// A tiny deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

// 7. Goal: wherever a running effect attempt is cut off, no effect's job is dispatched
// again once its effect is known to have happened, every job left unsure was verified or
// asked about before it ran again, every effect begun ends once, the process ends, a
// process that unwound to its end compensated every effect that took place newest first,
// and replay reproduces it. Method: for seeds 0..200, cut off (or crash) the n-th effect
// attempt (sometimes a second one too), with random verdicts of the verify job, the gate
// and the compensations, random answers (now and then a fail), and sometimes a cancel at
// a random step.
#[test]
fn wherever_an_effect_is_cut_off_it_never_runs_blindly() {
    // How many runs saw each situation: the test is only as good as what it reached.
    let mut seen: BTreeMap<&str, u32> = BTreeMap::new();
    for seed in 0..200u64 {
        let mut rng = Rng(seed);
        let first_cut = rng.below(4);
        let second_cut = rng.one_in(4).then(|| first_cut + 1 + rng.below(3));
        let mut worker_rng = Rng(seed ^ 0xDEAD_BEEF);
        let mut effect_attempts = 0u64;
        let script = move |name: &str, _tries: u32| match name {
            "write_a" | "write_b" => {
                let n = effect_attempts;
                effect_attempts += 1;
                if n == first_cut || Some(n) == second_cut {
                    if worker_rng.one_in(3) {
                        crashed()
                    } else {
                        AttemptOutcome::CutOff
                    }
                } else if worker_rng.one_in(6) {
                    says_no()
                } else {
                    ok()
                }
            }
            "write_a#verify" => match worker_rng.below(4) {
                0 => says_no(),
                1 => crashed(),
                2 => AttemptOutcome::CutOff,
                _ => ok(),
            },
            "test" => {
                if worker_rng.one_in(2) {
                    says_no()
                } else {
                    ok()
                }
            }
            _ => match worker_rng.below(8) {
                0 | 1 => crashed(),
                2 => AttemptOutcome::CutOff,
                _ => ok(),
            },
        };
        let slots = 1 + rng.below(2) as usize;
        let mut sim = Sim::new(submit(PUBLISH), script, slots);
        let mut cancel_at = rng.one_in(4).then(|| rng.below(40));
        let mut steps = 0u64;
        let mut answers = 0;
        let mut forced_end = false;
        for _ in 0..100_000 {
            if sim.status().is_over() {
                break;
            }
            // Not once lane 0 has collapsed: a cancel then stalls the process (see
            // `a_cancel_after_the_goal_landed_does_not_stall`).
            let landed = sim.process().run.lanes[0] != LaneState::Unopened
                && sim.process().open_workspaces().is_empty();
            if cancel_at.is_some_and(|c| steps >= c) && !landed {
                cancel_at = None;
                let unwinding = sim.process().run.unwinding.is_some();
                let decision = sim.cancel();
                forced_end |= unwinding;
                if unwinding {
                    assert!(
                        matches!(decision, Decision::Finish { .. }),
                        "seed {seed}: {decision:?}"
                    );
                }
                continue;
            }
            if sim.step() {
                steps += 1;
                continue;
            }
            let reason = match sim.status() {
                Status::Waiting { reason, .. } => reason,
                other => {
                    for e in &sim.log {
                        eprintln!("{} {} {:?}", e.seq, e.time, e.event);
                    }
                    panic!("seed {seed}: the process stalls while {other:?}")
                }
            };
            assert!(
                matches!(reason, WaitReason::Crash | WaitReason::Failure),
                "seed {seed}: {reason:?}"
            );
            answers += 1;
            let answer = if answers > 10 {
                Answer::Skip
            } else {
                match rng.below(10) {
                    // A person's fail ends the process as it stands (no compensation).
                    0 => {
                        forced_end = true;
                        Answer::Fail
                    }
                    1..=4 => Answer::Skip,
                    _ => Answer::Retry,
                }
            };
            sim.answer(answer).unwrap();
        }
        let p = sim.process();
        assert!(p.status.is_over(), "seed {seed}: {:?}", p.status);
        audit(&sim);
        let mut saw =
            |what: &'static str, yes: bool| *seen.entry(what).or_default() += u32::from(yes);
        saw(
            "verified",
            sim.dispatches.iter().any(|d| d == "write_a#verify"),
        );
        saw(
            "asked about a crash",
            sim.events().any(|e| {
                matches!(
                    e,
                    Event::Asked {
                        reason: WaitReason::Crash,
                        ..
                    }
                )
            }),
        );
        saw(
            "asked about a failed compensation",
            sim.events().any(|e| {
                matches!(
                    e,
                    Event::Asked {
                        reason: WaitReason::Failure,
                        ..
                    }
                )
            }),
        );
        saw(
            "ran an effect again after it did not happen",
            sim.events().any(|e| {
                matches!(
                    e,
                    Event::EffectEnded {
                        end: EffectEnd::NotHappened,
                        ..
                    }
                )
            }),
        );
        saw(
            "unwound",
            sim.events().any(|e| matches!(e, Event::Unwinding { .. })),
        );
        saw("cancelled", matches!(p.status, Status::Cancelled { .. }));
        saw("done", matches!(p.status, Status::Done { .. }));
        saw(
            "ended an effect unknown",
            sim.events().any(|e| {
                matches!(
                    e,
                    Event::EffectEnded {
                        end: EffectEnd::Unknown,
                        ..
                    }
                )
            }),
        );
        let dag = dag_of(p);
        let unwound = sim
            .position(|e| matches!(e, Event::Unwinding { .. }))
            .is_some();
        if matches!(p.status, Status::Done { .. }) {
            assert!(!unwound, "seed {seed}: done after unwinding");
            for (job, node) in dag.jobs.iter().enumerate() {
                if node.purpose == Purpose::Step {
                    assert_eq!(
                        p.run.jobs[job],
                        JobState::Done { value: None },
                        "seed {seed}"
                    );
                }
            }
        }
        if unwound && !forced_end {
            // Every effect that took place and has a compensation was compensated (or a
            // person took its compensation as done), newest first.
            let happened: Vec<usize> = p
                .run
                .effects
                .iter()
                .filter(|m| m.state == EffectState::Happened)
                .map(|m| m.job)
                .collect();
            let mut owed = Vec::new();
            for &job in happened.iter().rev() {
                if let Some(undo) = dag
                    .jobs
                    .iter()
                    .position(|n| n.purpose == Purpose::Compensate { of: job })
                {
                    assert_eq!(
                        p.run.jobs[undo],
                        JobState::Done { value: None },
                        "seed {seed}: {} left undone",
                        dag.jobs[undo].id
                    );
                    owed.push(short(&dag.jobs[undo].id).to_owned());
                }
            }
            let mut compensated: Vec<String> = Vec::new();
            for name in &sim.dispatches {
                if name.ends_with("#compensate") && !compensated.contains(name) {
                    compensated.push(name.clone());
                }
            }
            assert_eq!(compensated, owed, "seed {seed}");
        }
    }
    for (what, runs) in &seen {
        assert!(*runs >= 3, "only {runs} of 200 runs {what}: {seen:?}");
    }
}
