//! The scheduler under a policy: every job is ruled on before it runs or is asked; a job
//! held for approvals counts each principal once, goes on at the count it needs, and fails
//! at any rejection; a job waiting for its retry when a policy comes into force is ruled on
//! too, and then retried.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use jitos_gov::{policy::Verdict, Role};
use jitos_sched::{
    AttemptOutcome, Base, Capacity, Decision, Event, Grants, JobState, Processes, SchedError,
    Status, Unbounded,
};
use jitos_tasks::{plan, Intent, JobNode, Library};
use jitos_warp::Graph;

const LIBRARY: &str = r#"
[task.gated]
[[task.gated.method]]
name = "ask_then_step"
steps = [{ task = "ok" }, { task = "step" }]

[task.ok]
ask = { question = "ok?", yes_no = true }

[task.step]
run = { worker = "shell", args = ["true"], effect = "workspace", timeout_secs = 10, retries = 1, backoff_ms = 100 }
"#;

/// A policy is in force; nothing else is bounded.
struct PolicyInForce;

impl Grants for PolicyInForce {
    fn stops(&self, _: u64, _: u64) -> Option<String> {
        None
    }

    fn refuses(&self, _: u64, _: &JobNode, _: u64) -> Option<jitos_sched::Refusal> {
        None
    }

    fn ends_at_ms(&self, _: u64) -> Option<u64> {
        None
    }

    fn policy_in_force(&self) -> bool {
        true
    }
}

const SLOTS: Capacity = Capacity {
    slots_free: 4,
    per_process: 4,
};

/// Process 1, submitted at 0, with its lane open as workspace 2.
fn submitted() -> Processes {
    let library = Library::parse(LIBRARY, Path::new("lib.toml")).unwrap();
    let intent = Intent::parse(
        "goal = \"gated\"\n[allow]\nworkers = [\"shell\"]\n",
        Path::new("intent.toml"),
    )
    .unwrap();
    let slaps = plan(&library, &intent, &Graph::new()).unwrap();
    let mut processes = Processes::default();
    processes
        .apply(1, 0, &Event::Submitted { intent, slaps })
        .unwrap();
    assert_eq!(
        processes.decide(0, SLOTS, &PolicyInForce),
        Some(Decision::OpenLane {
            process: 1,
            lane: 0,
            base: Base::System
        })
    );
    processes
        .apply(
            2,
            0,
            &Event::LaneOpened {
                process: 1,
                lane: 0,
                sws: 2,
            },
        )
        .unwrap();
    processes
}

fn vote(by: u32, approve: bool) -> Event {
    Event::Voted {
        process: 1,
        job: 0,
        by,
        user: format!("uid {by}"),
        approve,
        note: "because".to_owned(),
    }
}

fn ruled(job: usize, verdict: Verdict) -> Event {
    Event::Ruled {
        process: 1,
        job,
        verdict,
        why: format!("{verdict}"),
    }
}

// Goal: two of a role: the step is ruled on first, each principal counts once, and the
// second approval lets the process go on to its next job, which is ruled on in turn.
#[test]
fn approvals_count_each_principal_once_and_go_on_at_the_count() {
    let mut processes = submitted();
    assert_eq!(
        processes.decide(0, SLOTS, &PolicyInForce),
        Some(Decision::Rule { process: 1, job: 0 })
    );
    let two = Verdict::Require {
        count: 2,
        from: Role::Approver,
    };
    processes.apply(3, 0, &ruled(0, two)).unwrap();
    assert!(matches!(
        processes.get(1).unwrap().status,
        Status::Waiting { job: 0, .. }
    ));
    assert_eq!(processes.decide(0, SLOTS, &PolicyInForce), None);
    processes.apply(4, 0, &vote(7, true)).unwrap();
    assert!(matches!(
        processes.apply(5, 0, &vote(7, true)),
        Err(SchedError::AlreadyApproved { process: 1, .. })
    ));
    assert!(matches!(
        processes.get(1).unwrap().run.jobs[0],
        JobState::Gated { ref approvals, .. } if approvals == &[7]
    ));
    processes.apply(5, 0, &vote(8, true)).unwrap();
    let p = processes.get(1).unwrap();
    assert_eq!(p.status, Status::Running);
    assert!(matches!(p.run.jobs[0], JobState::Done { .. }));
    assert_eq!(
        processes.decide(0, SLOTS, &PolicyInForce),
        Some(Decision::Rule { process: 1, job: 1 })
    );
    // With no policy in force, the same job is dispatched without a ruling.
    assert!(matches!(
        processes.decide(0, SLOTS, &Unbounded),
        Some(Decision::Dispatch {
            process: 1,
            job: 1,
            ..
        })
    ));
}

// Goal: one rejection vetoes whatever approvals came before; a vote on a job that waits
// for none is refused.
#[test]
fn one_rejection_fails_the_job() {
    let mut processes = submitted();
    let two = Verdict::Require {
        count: 2,
        from: Role::Approver,
    };
    processes.apply(3, 0, &ruled(0, two)).unwrap();
    processes.apply(4, 0, &vote(7, true)).unwrap();
    processes.apply(5, 0, &vote(8, false)).unwrap();
    let p = processes.get(1).unwrap();
    assert!(
        matches!(&p.run.jobs[0], JobState::Failed { why } if why.contains("uid 8 rejected it: because")),
        "{:?}",
        p.run.jobs[0]
    );
    assert!(matches!(
        processes.apply(6, 0, &vote(9, true)),
        Err(SchedError::Misfit { .. })
    ));
}

// Goal: a job waiting for its retry when a policy comes into force is ruled on when the
// retry is due, and an allowed one is then retried.
#[test]
fn a_job_waiting_to_retry_is_ruled_on_once_a_policy_is_in_force() {
    let mut processes = submitted();
    // The step ran with no policy in force: the yes/no step was answered, then the step
    // failed once and waits for its retry.
    processes.apply(3, 0, &ruled(0, Verdict::Allow)).unwrap();
    processes.apply(4, 0, &vote(7, true)).unwrap();
    let events = [
        Event::Dispatched {
            process: 1,
            job: 1,
            attempt: 5,
            sws: 2,
        },
        Event::AttemptEnded {
            process: 1,
            attempt: 5,
            outcome: AttemptOutcome::Failed {
                why: "it crashed".to_owned(),
                verdict: false,
            },
        },
        Event::RetryScheduled {
            process: 1,
            job: 1,
            until_ms: 100,
        },
    ];
    for (seq, event) in (5..).zip(&events) {
        processes.apply(seq, 0, event).unwrap();
    }
    assert_eq!(processes.decide(50, SLOTS, &PolicyInForce), None);
    assert_eq!(
        processes.decide(100, SLOTS, &PolicyInForce),
        Some(Decision::Rule { process: 1, job: 1 })
    );
    processes.apply(8, 100, &ruled(1, Verdict::Allow)).unwrap();
    assert!(matches!(
        processes.decide(100, SLOTS, &PolicyInForce),
        Some(Decision::Dispatch {
            process: 1,
            job: 1,
            ..
        })
    ));
}
