//! Feedback rounds (`feedback_from` in a method library), driven by a small simulated
//! kernel: a failing gate runs the earlier step that takes its feedback again, given the
//! gate's attempt, then the gate, for as many rounds as the step allows; then the gate's
//! failure stands. A replay of the recorded events reproduces the state.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use jitos_sched::{
    AttemptOutcome, Capacity, Decision, Event, JobState, Processes, Status, Unbounded,
};
use jitos_tasks::{plan, Intent, Library};
use jitos_warp::Graph;

const LIBRARY: &str = r#"
[task.fix]
params = []

[[task.fix.method]]
name = "patch_until_green"
steps = [
  { task = "patch", feedback_from = "test", rounds = 2 },
  { task = "build" },
  { task = "test" },
]

[task.patch]
params = []
run = { worker = "llm", args = ["patch"], effect = "workspace", timeout_secs = 30 }

[task.build]
params = []
run = { worker = "shell", args = ["build"], effect = "workspace", timeout_secs = 30 }

[task.test]
params = []
run = { worker = "shell", args = ["test"], effect = "workspace", timeout_secs = 30, gate = true }
"#;

/// The simulated kernel: every attempt ends as `outcome` says, by job name and how many
/// times that job was dispatched before.
struct Sim {
    processes: Processes,
    seq: u64,
    events: Vec<(u64, Event)>,
    /// (attempt, job name) of each dispatch, in order.
    dispatched: Vec<(u64, String)>,
}

impl Sim {
    fn new() -> Sim {
        let library = Library::parse(LIBRARY, Path::new("lib.toml")).unwrap();
        let intent = Intent::parse(
            "goal = \"fix\"\n[allow]\nworkers = [\"llm\", \"shell\"]\n",
            Path::new("intent.toml"),
        )
        .unwrap();
        let slaps = plan(&library, &intent, &Graph::new()).unwrap();
        let mut sim = Sim {
            processes: Processes::default(),
            seq: 0,
            events: Vec::new(),
            dispatched: Vec::new(),
        };
        sim.record(Event::Submitted { intent, slaps });
        sim
    }

    fn record(&mut self, event: Event) -> u64 {
        self.seq += 1;
        self.processes.apply(self.seq, 0, &event).unwrap();
        self.events.push((self.seq, event));
        self.seq
    }

    fn name(&self, job: usize) -> String {
        let p = self.processes.get(1).unwrap();
        let id = &p.slaps[p.run.candidate].dag.jobs[job].id;
        id.rsplit('/').next().unwrap().to_owned()
    }

    /// Runs until the process ends; `gate_passes_on` is the test attempt (from 1) that
    /// passes, if any.
    fn run(&mut self, gate_passes_on: Option<usize>) -> Status {
        let capacity = Capacity {
            slots_free: 1,
            per_process: 1,
        };
        for _ in 0..1000 {
            let Some(decision) = self.processes.decide(0, capacity, &Unbounded) else {
                return self.status();
            };
            match decision {
                Decision::OpenLane { process, lane, .. } => {
                    let sws = self.seq + 1;
                    self.record(Event::LaneOpened { process, lane, sws });
                }
                Decision::Dispatch { process, job, sws } => {
                    let attempt = self.seq + 1;
                    self.record(Event::Dispatched {
                        process,
                        job,
                        attempt,
                        sws,
                    });
                    let name = self.name(job);
                    self.dispatched.push((attempt, name.clone()));
                    let tests = self.dispatched.iter().filter(|(_, n)| n == "test").count();
                    let outcome = match name.as_str() {
                        "test" if Some(tests) != gate_passes_on => AttemptOutcome::Failed {
                            why: "exit status 1".into(),
                            verdict: true,
                        },
                        _ => AttemptOutcome::Succeeded,
                    };
                    self.record(Event::AttemptEnded {
                        process,
                        attempt,
                        outcome,
                    });
                }
                Decision::CollapseLane { process, lane, .. } => {
                    self.record(Event::LaneCollapsed { process, lane });
                }
                Decision::Finish { process, outcome } => {
                    self.record(Event::Finished { process, outcome });
                    return self.status();
                }
                Decision::Advance { process, to, why } => {
                    self.record(Event::Advanced { process, to, why });
                }
                other => panic!("unexpected decision {other:?}"),
            }
        }
        panic!("the simulation did not settle");
    }

    fn status(&self) -> Status {
        self.processes.get(1).unwrap().status.clone()
    }

    fn names(&self) -> Vec<&str> {
        self.dispatched.iter().map(|(_, n)| n.as_str()).collect()
    }
}

// Goal: a failing gate feeds back to the earlier step: patch, build and test run again,
// the patch given the failed test's attempt, until the test passes. Method: the test
// fails once, then passes.
#[test]
fn a_failed_gate_runs_the_fed_step_again_with_its_attempt() {
    let mut sim = Sim::new();
    let status = sim.run(Some(2));
    assert_eq!(
        sim.names(),
        ["patch", "build", "test", "patch", "build", "test"]
    );
    assert!(matches!(status, Status::Done { .. }), "{status:?}");
    let p = sim.processes.get(1).unwrap();
    assert_eq!(
        p.run.fed[0],
        Some(sim.dispatched[2].0),
        "fed the first test's attempt"
    );
    assert_eq!(p.run.rounds[0], 1);
}

// Goal: the rounds are bounded: with two rounds, a test that never passes runs three
// times, and then the gate's failure stands and the method fails.
#[test]
fn the_rounds_are_bounded_and_then_the_gate_fails() {
    let mut sim = Sim::new();
    let status = sim.run(None);
    assert_eq!(
        sim.names(),
        ["patch", "build", "test", "patch", "build", "test", "patch", "build", "test"]
    );
    assert!(matches!(status, Status::Failed { .. }), "{status:?}");
    assert_eq!(sim.processes.get(1).unwrap().run.rounds[0], 2);
}

// Goal: the round's state is what the fold keeps: after the first failure the fed job is
// pending with the failed attempt recorded, and the jobs up to the gate are pending too;
// a replay of the same events gives the same processes.
#[test]
fn a_round_resets_the_jobs_up_to_the_gate_and_replays() {
    let mut sim = Sim::new();
    sim.run(Some(2));
    let first_test = sim.dispatched[2].0;
    let mut replayed = Processes::default();
    let mut after_first_failure = None;
    for (seq, event) in &sim.events {
        replayed.apply(*seq, 0, event).unwrap();
        if let Event::AttemptEnded { attempt, .. } = event {
            if *attempt == first_test {
                let p = replayed.get(1).unwrap();
                after_first_failure =
                    Some((p.run.jobs.clone(), p.run.fed.clone(), p.run.rounds.clone()));
            }
        }
    }
    let (jobs, fed, rounds) = after_first_failure.unwrap();
    assert_eq!(jobs, vec![JobState::Pending; 3]);
    assert_eq!(fed, vec![Some(first_test), None, None]);
    assert_eq!(rounds, vec![1, 0, 0]);
    assert_eq!(
        format!("{:?}", replayed.get(1).map(|p| &p.status)),
        format!("{:?}", sim.processes.get(1).map(|p| &p.status))
    );
}
