//! The policy at the `dispatch` point for a job run outside any process
//! (`Command::JobRun`, what `jitos job run` and `jitos mcp`'s `job_run` send), through the
//! kernel's commands on real stores: with no policy the job is dispatched as before; with
//! one, its ruling (`job.ruling`) is recorded and, only when it allows, the dispatch in the
//! same step; a writ must be the asker's and admit the job, and its budgets reach the
//! ruling; the ledger replays; and the fold refuses a ruling the policy would not give.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod governance;

use std::collections::BTreeMap;

use governance::{
    doctored, fold_from_genesis, governance_misfit, kinds, load, open, replays, since, workspace,
    writ_issue, Person, ALICE, NOW_MS,
};
use jitos_gov::{
    policy::{Point, Verdict},
    writ::{Exceeds, Scope},
    Effect, Role,
};
use jitos_kernel::{
    Command, Dispatch, GovernanceRefusal, JobRecord, JobRuling, Kernel, KernelError, Outcome,
    State, WritRefusal, KIND_JOB_DISPATCH, KIND_JOB_RULING, KIND_SWS_APPLY,
};
use jitos_ledger::{Actor, Record};

/// Everything allowed, by the default.
const ALLOW_ALL: &str = "default = \"allow\"\n";

/// No shell job at dispatch; everything else allowed.
const NO_SHELL: &str = r#"default = "allow"

[[rule]]
name = "no shell outside processes"
at = "dispatch"
when = { worker = "shell" }
decide = "deny"
"#;

/// A shell job at dispatch needs one approver.
const SHELL_NEEDS_ONE: &str = r#"default = "allow"

[[rule]]
name = "shell needs a reviewer"
at = "dispatch"
when = { worker = "shell" }
decide = { require = 1, from = "approver" }
"#;

/// A job under a writ with fewer than 20 jobs left is denied: only a writ's budgets can
/// make it fire.
const LOW_BUDGET: &str = r#"default = "allow"

[[rule]]
name = "thin writs run nothing"
at = "dispatch"
when = { budget_below = { jobs = 20 } }
decide = "deny"
"#;

const BOB: Person = Person {
    uid: 1002,
    name: "bob",
    roles: &[Role::Operator],
};

/// A job outside any process, as the daemon builds it from `jitos job run WORKER`: a
/// `workspace` worker (`shell`) changes files, a `none` worker (`noop`) the graph only.
struct Job {
    worker: &'static str,
    effect: Effect,
    paths: &'static [&'static str],
}

const SHELL: Job = Job {
    worker: "shell",
    effect: Effect::Workspace,
    paths: &["src"],
};
const NOOP: Job = Job {
    worker: "noop",
    effect: Effect::None,
    paths: &[],
};

impl Job {
    fn dispatch(&self, sws: u64) -> Dispatch {
        Dispatch {
            worker: self.worker.to_owned(),
            worker_version: "0.1.0".to_owned(),
            sws,
            args: vec!["true".to_owned()],
            input: Vec::new(),
            deadline_ms: 5_000,
            effect: match self.effect {
                Effect::None => jitos_kernel::Effect::GraphOnly,
                _ => jitos_kernel::Effect::Files,
            },
            paths: self.paths.iter().map(|p| (*p).to_owned()).collect(),
            owner: None,
        }
    }
}

/// `who` runs `job` in `sws` outside any process, under `writ` if given.
fn run(
    kernel: &mut Kernel,
    who: &Person,
    job: &Job,
    sws: u64,
    writ: Option<u64>,
) -> Result<Outcome, KernelError> {
    kernel.execute_one(
        who.actor(),
        Command::JobRun {
            dispatch: job.dispatch(sws),
            effect: job.effect,
            by: who.requester(),
            writ,
        },
    )
}

/// The record an answer carries, which must be a plain `Recorded`.
fn recorded(answer: Result<Outcome, KernelError>) -> Record {
    match answer {
        Ok(Outcome::Recorded(record)) => record,
        other => panic!("expected a record, got {other:?}"),
    }
}

fn ruling_of(record: &Record) -> JobRuling {
    assert_eq!(record.kind, KIND_JOB_RULING, "{record:?}");
    JobRuling::decode(&record.payload).unwrap()
}

fn dispatch_of(record: &Record) -> Dispatch {
    assert_eq!(record.kind, KIND_JOB_DISPATCH, "{record:?}");
    match JobRecord::decode(&record.kind, &record.payload).unwrap() {
        JobRecord::Dispatch(dispatch) => dispatch,
        other => panic!("a dispatch record decoded as {other:?}"),
    }
}

/// The ids of the attempts running now.
fn running(kernel: &Kernel) -> Vec<u64> {
    kernel.jobs().running().map(|a| a.id).collect()
}

/// The name of the rule that decided `ruling`, if one did.
fn rule_name(ruling: &JobRuling) -> Option<&str> {
    ruling.ruling.trace.rule.as_ref().map(|r| r.name.as_str())
}

// Goal: with no policy in force the `dispatch` point does not exist for a public job: a
// `JobRun` records what a dispatch records (a file job into a workspace with no tree
// first records its root directory) and never a `job.ruling`, and answers the
// `job.dispatch`, whose seq is the running attempt's id.
#[test]
fn without_a_policy_a_public_job_is_dispatched_without_a_ruling() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    let empty = workspace(&mut kernel, &[]);

    let before = kernel.head().seq;
    let answer = recorded(run(&mut kernel, &ALICE, &SHELL, empty, None));
    let made = since(&kernel, before);
    assert_eq!(kinds(&made), [KIND_SWS_APPLY, KIND_JOB_DISPATCH]);
    assert_eq!(answer.seq, made[1].seq);
    assert_eq!(answer.kind, KIND_JOB_DISPATCH);
    assert_eq!(dispatch_of(&answer), SHELL.dispatch(empty));
    assert_eq!(running(&kernel), [answer.seq]);
    assert_eq!(
        kernel.jobs().attempt(answer.seq).unwrap().dispatch,
        SHELL.dispatch(empty)
    );

    let before = kernel.head().seq;
    let second = recorded(run(&mut kernel, &ALICE, &NOOP, empty, None));
    assert_eq!(kinds(&since(&kernel, before)), [KIND_JOB_DISPATCH]);
    assert_eq!(second.seq, before + 1);
    assert_eq!(running(&kernel), [answer.seq, second.seq]);
    assert!(kernel
        .view()
        .records(0, 1000)
        .unwrap()
        .iter()
        .all(|r| r.kind != KIND_JOB_RULING));
}

// Goal: under a policy that allows, the ruling and the dispatch are recorded in one
// command at consecutive seqs, the answer is the dispatch (the attempt), and the ruling
// holds who asked and the job: worker, effect class, paths, the requester's name and
// roles, the policy's hash, the workspace, the time; no rule decided, the default did.
#[test]
fn an_allowed_public_job_records_its_ruling_then_its_dispatch_in_one_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    let policy = load(&mut kernel, ALLOW_ALL);
    let sws = workspace(&mut kernel, &[("src/calc.sh", "echo 1")]);

    let before = kernel.head().seq;
    let answer = recorded(run(&mut kernel, &ALICE, &SHELL, sws, None));
    let made = since(&kernel, before);
    assert_eq!(kinds(&made), [KIND_JOB_RULING, KIND_JOB_DISPATCH]);
    assert_eq!((made[0].seq, made[1].seq), (before + 1, before + 2));
    assert_eq!(answer.seq, made[1].seq, "the answer is the dispatch");
    assert_eq!(dispatch_of(&answer), SHELL.dispatch(sws));
    assert_eq!(running(&kernel), [answer.seq]);
    assert_eq!(made[0].actor, ALICE.actor(), "the ruling is alice's");
    assert_eq!(made[1].actor, ALICE.actor(), "the dispatch is alice's");

    let ruling = ruling_of(&made[0]);
    assert_eq!(
        (ruling.uid, ruling.writ, ruling.sws, ruling.decided_ms),
        (ALICE.uid, None, sws, NOW_MS)
    );
    assert_eq!(ruling.policy, policy.hash());
    assert_eq!(ruling.facts.point, Point::Dispatch);
    assert_eq!(ruling.facts.worker.as_deref(), Some("shell"));
    assert_eq!(ruling.facts.effect, Some(Effect::Workspace));
    assert_eq!(ruling.facts.paths, ["src"]);
    assert_eq!(ruling.facts.user, "alice");
    assert_eq!(ruling.facts.roles, [Role::Operator]);
    assert!(ruling.facts.budget_left.is_empty(), "no writ, no budget");
    assert_eq!(ruling.ruling.verdict, Verdict::Allow);
    assert_eq!(rule_name(&ruling), None, "the default allowed it");

    // A graph-only job's class reaches the ruling as `none`, and another person's name
    // and roles as theirs.
    let before = kernel.head().seq;
    let answer = recorded(run(&mut kernel, &BOB, &NOOP, sws, None));
    let made = since(&kernel, before);
    assert_eq!(kinds(&made), [KIND_JOB_RULING, KIND_JOB_DISPATCH]);
    assert_eq!(answer.seq, before + 2);
    let ruling = ruling_of(&made[0]);
    assert_eq!(ruling.facts.effect, Some(Effect::None));
    assert_eq!(ruling.facts.worker.as_deref(), Some("noop"));
    assert!(ruling.facts.paths.is_empty());
    assert_eq!((ruling.uid, ruling.facts.user.as_str()), (BOB.uid, "bob"));
}

// Goal: a ruling and the root directory a file job into a tree-less workspace needs are
// recorded in the same step, ruling first; the attempt is still the dispatch's seq.
#[test]
fn an_allowed_file_job_into_an_empty_workspace_records_ruling_root_and_dispatch() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    load(&mut kernel, ALLOW_ALL);
    let empty = workspace(&mut kernel, &[]);
    let before = kernel.head().seq;
    let answer = recorded(run(&mut kernel, &ALICE, &SHELL, empty, None));
    let made = since(&kernel, before);
    assert_eq!(
        kinds(&made),
        [KIND_JOB_RULING, KIND_SWS_APPLY, KIND_JOB_DISPATCH]
    );
    assert_eq!(answer.seq, before + 3);
    assert_eq!(running(&kernel), [answer.seq]);
    assert!(kernel.view().replay_verify().unwrap().jobs_match);
}

// Goal: a rule denying the worker records the ruling alone, naming the rule, and no
// attempt runs; the same policy lets another worker through, with the rule tried and
// skipped.
#[test]
fn a_denied_public_job_records_only_its_ruling_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    let policy = load(&mut kernel, NO_SHELL);
    let sws = workspace(&mut kernel, &[("src/calc.sh", "echo 1")]);

    let before = kernel.head().seq;
    let answer = recorded(run(&mut kernel, &ALICE, &SHELL, sws, None));
    assert_eq!(kinds(&since(&kernel, before)), [KIND_JOB_RULING]);
    assert_eq!(answer.seq, before + 1);
    let ruling = ruling_of(&answer);
    assert_eq!(ruling.ruling.verdict, Verdict::Deny);
    assert_eq!(rule_name(&ruling), Some("no shell outside processes"));
    assert_eq!(ruling.policy, policy.hash());
    let why = ruling.why();
    assert!(
        why.contains("deny (rule 1 \"no shell outside processes\")")
            && why.contains(&policy.hash().short()),
        "{why}"
    );
    assert!(running(&kernel).is_empty(), "{:?}", running(&kernel));
    assert!(kernel.jobs().attempt(answer.seq).is_none());

    let before = kernel.head().seq;
    let allowed = recorded(run(&mut kernel, &ALICE, &NOOP, sws, None));
    assert_eq!(
        kinds(&since(&kernel, before)),
        [KIND_JOB_RULING, KIND_JOB_DISPATCH]
    );
    let ruling = ruling_of(&since(&kernel, before)[0]);
    assert_eq!(ruling.ruling.verdict, Verdict::Allow);
    assert_eq!(rule_name(&ruling), None);
    assert_eq!(ruling.ruling.trace.skipped.len(), 1, "{ruling:?}");
    assert_eq!(running(&kernel), [allowed.seq]);
}

// Goal: a job a rule would hold for approvals is not held (it has no process to wait in):
// the ruling alone is recorded, with the verdict, no attempt runs, and nothing waits: the
// same job asked again is ruled on again.
#[test]
fn a_public_job_the_policy_would_hold_records_only_its_ruling() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    load(&mut kernel, SHELL_NEEDS_ONE);
    let sws = workspace(&mut kernel, &[("src/calc.sh", "echo 1")]);
    let before = kernel.head().seq;
    let answer = recorded(run(&mut kernel, &ALICE, &SHELL, sws, None));
    assert_eq!(kinds(&since(&kernel, before)), [KIND_JOB_RULING]);
    let ruling = ruling_of(&answer);
    assert_eq!(
        ruling.ruling.verdict,
        Verdict::Require {
            count: 1,
            from: Role::Approver
        }
    );
    assert_eq!(rule_name(&ruling), Some("shell needs a reviewer"));
    assert!(running(&kernel).is_empty());
    // Nothing stands from it: asking again is ruled on again, and refused again.
    let again = recorded(run(&mut kernel, &ALICE, &SHELL, sws, None));
    assert_eq!(again.seq, answer.seq + 1);
    assert_eq!(ruling_of(&again).ruling, ruling.ruling);
    assert!(running(&kernel).is_empty());
}

/// A root writ for `to` granting `workers` (`governance::writ_issue`), as the system.
fn issue_writ(kernel: &mut Kernel, to: &Person, workers: Scope) -> u64 {
    recorded(kernel.execute_one(Actor::System, writ_issue(to, workers))).seq
}

fn only(names: &[&str]) -> Scope {
    Scope::Only(names.iter().map(|n| (*n).to_owned()).collect())
}

// Goal: a public job under a writ: someone else's writ is refused (NotYourWrit), the
// asker's own that does not grant the worker is refused (NotAdmitted), each recording
// nothing; the asker's own admitting writ is named by the ruling, whose facts hold the
// writ's budgets — and a rule on budgets decides by them.
#[test]
fn a_public_job_under_a_writ_must_be_the_askers_and_within_its_scope() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    load(&mut kernel, ALLOW_ALL);
    let bobs = issue_writ(&mut kernel, &BOB, Scope::All);
    let noop_only = issue_writ(&mut kernel, &ALICE, only(&["noop"]));
    let shell_ok = issue_writ(&mut kernel, &ALICE, only(&["shell", "noop"]));
    let sws = workspace(&mut kernel, &[("src/calc.sh", "echo 1")]);

    let head = kernel.head().seq;
    match run(&mut kernel, &ALICE, &SHELL, sws, Some(bobs)) {
        Err(KernelError::GovernanceRefused(GovernanceRefusal::NotYourWrit { writ, user })) => {
            assert_eq!((writ, user.as_str()), (bobs, "alice"));
        }
        other => panic!("expected NotYourWrit, got {other:?}"),
    }
    match run(&mut kernel, &ALICE, &SHELL, sws, Some(noop_only)) {
        Err(KernelError::WritRefused(WritRefusal::NotAdmitted { writ, source })) => {
            assert_eq!(writ, noop_only);
            assert_eq!(
                source,
                Exceeds::Worker {
                    worker: "shell".to_owned()
                }
            );
        }
        other => panic!("expected NotAdmitted, got {other:?}"),
    }
    assert_eq!(kernel.head().seq, head, "a refusal records nothing");
    assert!(running(&kernel).is_empty());

    let before = kernel.head().seq;
    let answer = recorded(run(&mut kernel, &ALICE, &SHELL, sws, Some(shell_ok)));
    let made = since(&kernel, before);
    assert_eq!(kinds(&made), [KIND_JOB_RULING, KIND_JOB_DISPATCH]);
    assert_eq!(running(&kernel), [answer.seq]);
    let ruling = ruling_of(&made[0]);
    assert_eq!(ruling.writ, Some(shell_ok));
    assert_eq!(ruling.facts.user, "alice");
    assert_eq!(
        ruling.facts.budget_left,
        BTreeMap::from([("jobs".to_owned(), 10), ("wall_secs".to_owned(), 1000)])
    );
    assert_eq!(ruling.ruling.verdict, Verdict::Allow);
    assert!(kernel.view().replay_verify().unwrap().governance_match);

    // A rule on budgets: the same job is denied under the writ, allowed without it.
    load(&mut kernel, LOW_BUDGET);
    let under = ruling_of(&recorded(run(
        &mut kernel,
        &ALICE,
        &SHELL,
        sws,
        Some(shell_ok),
    )));
    assert_eq!(under.ruling.verdict, Verdict::Deny);
    assert_eq!(rule_name(&under), Some("thin writs run nothing"));
    let before = kernel.head().seq;
    recorded(run(&mut kernel, &ALICE, &SHELL, sws, None));
    assert_eq!(
        kinds(&since(&kernel, before)),
        [KIND_JOB_RULING, KIND_JOB_DISPATCH]
    );
}

// Goal: with no policy in force a writ is still checked: someone else's is refused and
// records nothing, one's own admitting writ dispatches with no ruling.
#[test]
fn without_a_policy_a_writ_is_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    let bobs = issue_writ(&mut kernel, &BOB, Scope::All);
    let alices = issue_writ(&mut kernel, &ALICE, Scope::All);
    let sws = workspace(&mut kernel, &[("src/calc.sh", "echo 1")]);
    let head = kernel.head().seq;
    assert!(
        matches!(
            run(&mut kernel, &ALICE, &SHELL, sws, Some(bobs)),
            Err(KernelError::GovernanceRefused(
                GovernanceRefusal::NotYourWrit { .. }
            ))
        ),
        "someone else's writ"
    );
    assert_eq!(kernel.head().seq, head);
    recorded(run(&mut kernel, &ALICE, &SHELL, sws, Some(alices)));
    assert_eq!(kinds(&since(&kernel, head)), [KIND_JOB_DISPATCH]);
}

// Goal: a job into a workspace that is not open is refused as without a policy — nothing
// recorded — whatever the policy would rule on it: a ruling on a job that could never run
// is no ruling.
#[test]
fn a_job_into_a_workspace_that_is_not_open_records_no_ruling() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    load(&mut kernel, NO_SHELL);
    let head = kernel.head().seq;
    let answer = run(&mut kernel, &ALICE, &SHELL, 9_999, None);
    assert!(
        matches!(answer, Err(KernelError::JobRefused(_))),
        "{answer:?}"
    );
    assert_eq!(kernel.head().seq, head, "{:?}", since(&kernel, head));
}

// Goal: a ledger of public jobs under two policies — allowed, denied, held, under a writ,
// and one with no policy yet — replays to the same state, by the kernel's replay check, by
// a fold from genesis by hand and by a reopening (from a snapshot taken half way).
#[test]
fn a_ledger_of_public_job_rulings_replays() {
    let dir = tempfile::tempdir().unwrap();
    let (jobs, digest) = {
        let mut kernel = open(dir.path());
        let sws = workspace(&mut kernel, &[("src/calc.sh", "echo 1")]);
        let empty = workspace(&mut kernel, &[]);
        recorded(run(&mut kernel, &ALICE, &SHELL, sws, None));
        load(&mut kernel, NO_SHELL);
        let alices = issue_writ(&mut kernel, &ALICE, Scope::All);
        recorded(run(&mut kernel, &ALICE, &SHELL, sws, None));
        recorded(run(&mut kernel, &ALICE, &NOOP, sws, Some(alices)));
        recorded(run(&mut kernel, &BOB, &SHELL, empty, None));
        kernel.snapshot().unwrap();
        load(&mut kernel, SHELL_NEEDS_ONE);
        recorded(run(&mut kernel, &ALICE, &SHELL, sws, Some(alices)));
        recorded(run(&mut kernel, &BOB, &SHELL, empty, None));
        load(&mut kernel, ALLOW_ALL);
        recorded(run(&mut kernel, &BOB, &SHELL, empty, None));
        let rulings = kernel
            .view()
            .records(0, 1000)
            .unwrap()
            .iter()
            .filter(|r| r.kind == KIND_JOB_RULING)
            .count();
        assert_eq!(rulings, 6);
        assert_eq!(
            running(&kernel).len(),
            3,
            "without a policy, noop, the last"
        );

        let replay = replays(&kernel);
        let folded = fold_from_genesis(&kernel);
        assert_eq!(&folded.jobs, kernel.jobs());
        (kernel.jobs().clone(), replay.live)
    };
    let kernel = open(dir.path());
    assert!(kernel.view().last_snapshot_seq().is_some());
    assert_eq!(kernel.jobs(), &jobs);
    let replay = kernel.view().replay_verify().unwrap();
    assert_eq!(replay.live, digest);
    assert_eq!(replay.replayed, digest);
}

/// The state just before a public job's ruling, and the ruling record, under `text`.
fn ruled(text: &str, job: &Job) -> (tempfile::TempDir, State, Record) {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    load(&mut kernel, text);
    let sws = workspace(&mut kernel, &[("src/calc.sh", "echo 1")]);
    let before = kernel.view().state().clone();
    let head = kernel.head().seq;
    run(&mut kernel, &ALICE, job, sws, None).unwrap();
    let ruling = since(&kernel, head).remove(0);
    assert_eq!(ruling.kind, KIND_JOB_RULING);
    (dir, before, ruling)
}

// Goal: the fold rules again on every `job.ruling` and refuses one that is not what the
// policy in force gives on the job and requester it names. Method: the genuine rulings (a
// denial of shell, an allowance of noop) fold into the state before them; copies with the
// verdict, the rule or the worker changed, each keeping the rest, are refused as mismatches
// at the ruling's seq; one naming a writ the state does not hold is refused as a writ that
// does not fit; a ruling folded where no policy is in force is refused too.
#[test]
fn a_doctored_job_ruling_does_not_fold() {
    let (_denied_dir, before_denied, denied) = ruled(NO_SHELL, &SHELL);
    let (_allowed_dir, before_allowed, allowed) = ruled(NO_SHELL, &NOOP);
    let genuine_denied = ruling_of(&denied);
    let genuine_allowed = ruling_of(&allowed);
    assert_eq!(genuine_denied.ruling.verdict, Verdict::Deny);
    assert_eq!(genuine_allowed.ruling.verdict, Verdict::Allow);
    before_denied.clone().fold(&denied).unwrap();
    before_allowed.clone().fold(&allowed).unwrap();

    let mut allow = genuine_denied.clone();
    allow.ruling.verdict = Verdict::Allow;
    let mut require = genuine_denied.clone();
    require.ruling.verdict = Verdict::Require {
        count: 1,
        from: Role::Approver,
    };
    let mut noop_denied = genuine_denied.clone();
    noop_denied.facts.worker = Some("noop".to_owned());
    noop_denied.facts.effect = Some(Effect::None);
    let mut unruled = genuine_denied.clone();
    unruled.ruling.trace.rule = None;
    let mut shell_allowed = genuine_allowed.clone();
    shell_allowed.facts.worker = Some("shell".to_owned());
    let mut deny = genuine_allowed.clone();
    deny.ruling.verdict = Verdict::Deny;
    let mut under_writ = genuine_allowed.clone();
    under_writ.writ = Some(1);
    for (what, before, record, forged) in [
        ("deny made allow", &before_denied, &denied, allow),
        ("deny made require", &before_denied, &denied, require),
        (
            "shell's denial said of noop",
            &before_denied,
            &denied,
            noop_denied,
        ),
        ("denial without its rule", &before_denied, &denied, unruled),
        (
            "noop's allowance said of shell",
            &before_allowed,
            &allowed,
            shell_allowed,
        ),
        ("allow made deny", &before_allowed, &allowed, deny),
    ] {
        let mut state = before.clone();
        let forged = doctored(record, record.seq, forged.encode().unwrap());
        let (seq, source) = governance_misfit(state.fold(&forged));
        assert_eq!(seq, record.seq, "{what}");
        assert!(
            matches!(source, GovernanceRefusal::Mismatch { .. }),
            "{what}: {source:?}"
        );
    }

    // A writ the state does not hold: refused as a writ that does not fit.
    let mut state = before_allowed.clone();
    let forged = doctored(&allowed, allowed.seq, under_writ.encode().unwrap());
    assert!(
        matches!(
            state.fold(&forged),
            Err(KernelError::Writ { seq, source: WritRefusal::Unknown { writ: 1 } }) if seq == allowed.seq
        ),
        "a ruling under an unknown writ folded"
    );

    // No policy in force: no ruling can stand.
    let mut bare = State::default();
    assert_eq!(
        governance_misfit(bare.fold(&doctored(&allowed, allowed.seq, allowed.payload.clone()))),
        (allowed.seq, GovernanceRefusal::NoPolicy)
    );
}
