//! The policy at the collapse point, through the kernel's commands on real stores: a
//! public workspace's collapse into the system is ruled on (`sws.ruling`), allowed, denied
//! or held for approvals (`sws.vote`), and the last approval records the collapse; a
//! ruling stands only for the changes and the policy it was made on; the whole ledger
//! replays to the same holds; and the fold refuses a ruling, a vote or a collapse the
//! state before it does not admit.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod governance;

use common::Commands as _;
use governance::{
    doctored, fold_from_genesis, governance_misfit, kinds, load, open, policy, replays, since,
    upload, workspace, writ_issue, write, Person, ALICE, NOW_MS,
};
use jitos_gov::{policy::Verdict, writ::Scope, Role};
use jitos_kernel::{
    CollapseRecord, CollapseVote, Command, GovernanceRefusal, Kernel, KernelError, Outcome,
    Standing, State, SwsRecord, KIND_POLICY_LOAD, KIND_SWS_APPLY, KIND_SWS_COLLAPSE,
    KIND_SWS_RULING, KIND_SWS_VOTE,
};
use jitos_ledger::{Actor, Record};
use jitos_sws::Over;
use jitos_tree::TreePath;
use jitos_warp::Rewrite;

/// Sources need two approvers; everything else is allowed.
const TWO_FOR_SRC: &str = r#"default = "allow"

[[rule]]
name = "src needs two"
at = "collapse"
when = { path = "src" }
decide = { require = 2, from = "approver" }
"#;

/// Sources need one approver (a second policy, for a policy change).
const ONE_FOR_SRC: &str = r#"default = "allow"

[[rule]]
name = "src needs one"
at = "collapse"
when = { path = "src" }
decide = { require = 1, from = "approver" }
"#;

/// No collapse may change sources.
const NO_SRC: &str = r#"default = "allow"

[[rule]]
name = "src is frozen"
at = "collapse"
when = { path = "src" }
decide = "deny"
"#;

const BOB: Person = Person {
    uid: 1002,
    name: "bob",
    roles: &[Role::Approver],
};
/// An admin, who stands in for any role a hold asks for.
const CAROL: Person = Person {
    uid: 1003,
    name: "carol",
    roles: &[Role::Admin],
};
const DAVE: Person = Person {
    uid: 1004,
    name: "dave",
    roles: &[Role::Approver],
};
const EVE: Person = Person {
    uid: 1005,
    name: "eve",
    roles: &[Role::Viewer],
};

impl Person {
    fn vote(&self, sws: u64, approve: bool, note: &str) -> CollapseVote {
        CollapseVote {
            sws,
            uid: self.uid,
            user: self.name.to_owned(),
            roles: self.roles.to_vec(),
            approve,
            note: note.to_owned(),
        }
    }
}

/// Records `files` as the system's tree, so workspaces opened after share its
/// directories (two workspaces that each add the same directory conflict).
fn seed(kernel: &mut Kernel, files: &[(&str, &str)]) {
    let mut tree = jitos_tree::Tree::new();
    for (path, entry) in upload(kernel, Actor::System, files) {
        tree.insert(path, entry);
    }
    kernel
        .execute_one(Actor::System, Command::ImportTree(tree))
        .unwrap();
}

/// `who` asks for `sws`'s collapse, under `writ` if given.
fn ask(
    kernel: &mut Kernel,
    who: &Person,
    sws: u64,
    writ: Option<u64>,
) -> Result<Outcome, KernelError> {
    kernel.execute_one(
        who.actor(),
        Command::SwsCollapse {
            sws,
            by: who.requester(),
            writ,
        },
    )
}

/// `who` approves (or rejects) `sws`'s held collapse.
fn vote(
    kernel: &mut Kernel,
    who: &Person,
    sws: u64,
    approve: bool,
) -> Result<Outcome, KernelError> {
    let note = if approve {
        "read the diff"
    } else {
        "not like this"
    };
    kernel.execute_one(who.actor(), Command::SwsVote(who.vote(sws, approve, note)))
}

/// The refusal a command met, or a panic saying what it did instead.
fn refusal(answer: Result<Outcome, KernelError>) -> GovernanceRefusal {
    match answer {
        Err(KernelError::GovernanceRefused(refusal)) => refusal,
        other => panic!("expected a governance refusal, got {other:?}"),
    }
}

/// The record an answer carries, when it recorded one.
fn recorded(answer: Result<Outcome, KernelError>) -> Record {
    match answer {
        Ok(Outcome::Recorded(record)) | Ok(Outcome::SwsDone(record)) => record,
        other => panic!("expected a record, got {other:?}"),
    }
}

fn ruling_of(record: &Record) -> jitos_kernel::CollapseRuling {
    assert_eq!(record.kind, KIND_SWS_RULING);
    match CollapseRecord::decode(&record.kind, &record.payload).unwrap() {
        CollapseRecord::Ruling(ruling) => *ruling,
        other => panic!("a ruling record decoded as {other:?}"),
    }
}

/// Whether the system's tree holds `path`.
fn in_system(kernel: &Kernel, path: &str) -> bool {
    kernel.graph().node(&format!("file:{path}")).is_some()
}

/// The refusal of a collapse held under "src needs two" with `approvals` so far.
fn held_for_two(sws: u64, approvals: u32) -> GovernanceRefusal {
    GovernanceRefusal::CollapseHeld {
        sws,
        count: 2,
        from: Role::Approver,
        approvals,
    }
}

/// How a hold on `sws` stands, as an owned summary: (approvals, count) while it waits.
fn waiting(kernel: &Kernel, sws: u64) -> Option<(u32, u32)> {
    let (hold, _) = kernel.view().collapse_hold(sws)?;
    match hold.standing() {
        Standing::Waiting {
            approvals, count, ..
        } => Some((approvals, count)),
        _ => None,
    }
}

// Goal: with no policy in force the collapse point does not exist: a collapse records
// `sws.collapse` alone, and the state keeps no hold.
#[test]
fn without_a_policy_a_collapse_is_recorded_without_a_ruling() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    let sws = workspace(&mut kernel, &[("src/calc.sh", "echo 1")]);
    let before = kernel.head().seq;
    let outcome = ask(&mut kernel, &ALICE, sws, None).unwrap();
    assert!(matches!(outcome, Outcome::SwsDone(_)), "{outcome:?}");
    assert_eq!(kinds(&since(&kernel, before)), [KIND_SWS_COLLAPSE]);
    assert!(in_system(&kernel, "src/calc.sh"));
    assert!(kernel.view().collapse_hold(sws).is_none());
    assert_eq!(kernel.view().state().holds.all().count(), 0);
}

// Goal: a collapse changing `src` under "src needs two" is ruled on once and held; the
// requester, a viewer and a repeated voter are refused without a record; the second
// approval (by an admin) records the vote and the collapse in one command, and the hold
// goes with the workspace.
#[test]
fn a_collapse_of_src_waits_for_two_approvals_and_the_last_one_collapses_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    let policy = load(&mut kernel, TWO_FOR_SRC);
    let sws = workspace(&mut kernel, &[("src/calc.sh", "echo 1")]);

    let before = kernel.head().seq;
    let ruled = recorded(ask(&mut kernel, &ALICE, sws, None));
    assert_eq!(kinds(&since(&kernel, before)), [KIND_SWS_RULING]);
    assert_eq!(ruled.seq, before + 1);
    assert!(
        !in_system(&kernel, "src/calc.sh"),
        "a held collapse changes nothing"
    );
    let ruling = ruling_of(&ruled);
    assert_eq!(
        (ruling.sws, ruling.uid, ruling.writ),
        (sws, ALICE.uid, None)
    );
    assert_eq!(ruling.policy, policy.hash());
    assert_eq!(ruling.decided_ms, NOW_MS);
    assert_eq!(ruling.facts.user, "alice");
    assert!(ruling.facts.paths.contains(&"src/calc.sh".to_owned()));
    assert_eq!(
        ruling.ruling.verdict,
        Verdict::Require {
            count: 2,
            from: Role::Approver
        }
    );
    let (hold, current) = kernel.view().collapse_hold(sws).unwrap();
    assert!(current);
    assert_eq!(hold.seq, ruled.seq);

    // Asking again rules nothing new: the standing ruling refuses it.
    let head = kernel.head().seq;
    assert_eq!(
        refusal(ask(&mut kernel, &ALICE, sws, None)),
        held_for_two(sws, 0)
    );
    assert_eq!(
        refusal(vote(&mut kernel, &ALICE, sws, true)),
        GovernanceRefusal::OwnCollapse {
            user: "alice".to_owned(),
            sws
        }
    );
    assert_eq!(
        refusal(vote(&mut kernel, &EVE, sws, true)),
        GovernanceRefusal::NotEligible {
            user: "eve".to_owned(),
            needed: Role::Approver
        }
    );
    assert_eq!(kernel.head().seq, head, "a refusal records nothing");

    let voted = recorded(vote(&mut kernel, &BOB, sws, true));
    assert_eq!(voted.kind, KIND_SWS_VOTE);
    assert_eq!(voted.seq, head + 1);
    assert_eq!(waiting(&kernel, sws), Some((1, 2)));
    assert!(!in_system(&kernel, "src/calc.sh"));
    assert_eq!(
        refusal(ask(&mut kernel, &ALICE, sws, None)),
        held_for_two(sws, 1)
    );
    assert_eq!(
        refusal(vote(&mut kernel, &BOB, sws, true)),
        GovernanceRefusal::AlreadyVoted {
            user: "bob".to_owned(),
            sws
        }
    );
    assert_eq!(kernel.head().seq, voted.seq);

    let outcome = vote(&mut kernel, &CAROL, sws, true).unwrap();
    let made = since(&kernel, voted.seq);
    assert_eq!(kinds(&made), [KIND_SWS_VOTE, KIND_SWS_COLLAPSE]);
    assert_eq!(made[1].seq, made[0].seq + 1);
    assert!(
        matches!(&outcome, Outcome::SwsDone(record) if record.seq == made[1].seq),
        "{outcome:?}"
    );
    assert!(in_system(&kernel, "src/calc.sh"));
    assert!(kernel.view().collapse_hold(sws).is_none());
    assert_eq!(kernel.view().state().holds.all().count(), 0);
    assert!(kernel.view().pool().workspace(sws).is_none());
}

// Goal: under the same policy, a collapse that changes only `docs` falls to the default
// and goes through in the step that rules on it.
#[test]
fn a_collapse_of_docs_only_is_ruled_and_collapsed_in_one_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    load(&mut kernel, TWO_FOR_SRC);
    let sws = workspace(&mut kernel, &[("docs/guide.md", "# guide")]);
    let before = kernel.head().seq;
    let outcome = ask(&mut kernel, &ALICE, sws, None).unwrap();
    let made = since(&kernel, before);
    assert_eq!(kinds(&made), [KIND_SWS_RULING, KIND_SWS_COLLAPSE]);
    assert_eq!((made[0].seq, made[1].seq), (before + 1, before + 2));
    assert!(
        matches!(&outcome, Outcome::SwsDone(record) if record.seq == made[1].seq),
        "{outcome:?}"
    );
    let ruling = ruling_of(&made[0]);
    assert_eq!(ruling.ruling.verdict, Verdict::Allow);
    assert!(ruling.ruling.trace.rule.is_none(), "the default allowed it");
    assert!(in_system(&kernel, "docs/guide.md"));
    assert_eq!(kernel.view().state().holds.all().count(), 0);
}

// Goal: a collapse that changes no file is under no `path` prefix, so a `path` rule does
// not hold it (`docs/POLICY.md`).
#[test]
fn a_collapse_that_changes_no_file_matches_no_path_rule() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    load(&mut kernel, TWO_FOR_SRC);
    let sws = workspace(&mut kernel, &[]);
    let note =
        Rewrite::from_json(r#"{"ops":[{"add_node":{"id":"note:1","kind":"Note"}}]}"#).unwrap();
    kernel.sws_apply(ALICE.actor(), sws, note).unwrap();
    let before = kernel.head().seq;
    ask(&mut kernel, &ALICE, sws, None).unwrap();
    let made = since(&kernel, before);
    assert_eq!(kinds(&made), [KIND_SWS_RULING, KIND_SWS_COLLAPSE]);
    let ruling = ruling_of(&made[0]);
    assert!(ruling.facts.paths.is_empty());
    assert_eq!(ruling.ruling.verdict, Verdict::Allow);
    assert!(kernel.graph().node("note:1").is_some());
}

// Goal: a denial is recorded once; asking again for the same changes is refused with the
// denial, naming the rule, and records nothing; no vote can be cast on it.
#[test]
fn a_denied_collapse_is_ruled_once_and_refused_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    load(&mut kernel, NO_SRC);
    let sws = workspace(&mut kernel, &[("src/calc.sh", "echo 1")]);
    let before = kernel.head().seq;
    let ruled = recorded(ask(&mut kernel, &ALICE, sws, None));
    assert_eq!(kinds(&since(&kernel, before)), [KIND_SWS_RULING]);
    assert_eq!(ruling_of(&ruled).ruling.verdict, Verdict::Deny);
    let (hold, _) = kernel.view().collapse_hold(sws).unwrap();
    assert_eq!(hold.standing(), Standing::Denied);
    assert!(!in_system(&kernel, "src/calc.sh"));

    let head = kernel.head().seq;
    match refusal(ask(&mut kernel, &ALICE, sws, None)) {
        GovernanceRefusal::CollapseDenied { sws: denied, why } => {
            assert_eq!(denied, sws);
            assert!(why.contains("src is frozen"), "{why}");
        }
        other => panic!("expected a denial, got {other:?}"),
    }
    assert_eq!(
        refusal(vote(&mut kernel, &BOB, sws, true)),
        GovernanceRefusal::NotHeld { sws }
    );
    assert_eq!(kernel.head().seq, head);
    assert!(!in_system(&kernel, "src/calc.sh"));
}

// Goal: one rejection vetoes: the rejection is recorded, the next ask is refused with
// who rejected it and why, and no further vote is taken.
#[test]
fn a_rejection_vetoes_the_collapse_and_ends_the_voting() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    load(&mut kernel, TWO_FOR_SRC);
    let sws = workspace(&mut kernel, &[("src/calc.sh", "echo 1")]);
    recorded(ask(&mut kernel, &ALICE, sws, None));
    let rejected = recorded(vote(&mut kernel, &BOB, sws, false));
    assert_eq!(rejected.kind, KIND_SWS_VOTE);
    let head = kernel.head().seq;
    assert_eq!(
        refusal(ask(&mut kernel, &ALICE, sws, None)),
        GovernanceRefusal::CollapseVetoed {
            sws,
            user: "bob".to_owned(),
            note: "not like this".to_owned()
        }
    );
    assert_eq!(
        refusal(vote(&mut kernel, &DAVE, sws, true)),
        GovernanceRefusal::NotHeld { sws }
    );
    assert_eq!(kernel.head().seq, head);
    assert!(!in_system(&kernel, "src/calc.sh"));
}

/// A kernel on a fresh store under "src needs two" in which alice wrote `src/calc.sh` in
/// a workspace and asked for its collapse, and bob approved it once: the store, the
/// kernel, the workspace and the ruling record.
fn approved_once() -> (tempfile::TempDir, Kernel, u64, Record) {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    load(&mut kernel, TWO_FOR_SRC);
    let sws = workspace(&mut kernel, &[("src/calc.sh", "echo 1")]);
    let first = recorded(ask(&mut kernel, &ALICE, sws, None));
    recorded(vote(&mut kernel, &BOB, sws, true));
    (dir, kernel, sws, first)
}

// Goal: a ruling stands for the changes it was made on: after alice changes the
// workspace, a vote is refused as stale, the next ask rules again (a new seq), and the
// approval given before no longer counts.
#[test]
fn a_workspace_changed_after_its_ruling_is_ruled_again_without_earlier_approvals() {
    let (_dir, mut kernel, sws, first) = approved_once();
    assert_eq!(waiting(&kernel, sws), Some((1, 2)));

    let change =
        Rewrite::from_json(r#"{"ops":[{"add_node":{"id":"note:2","kind":"Note"}}]}"#).unwrap();
    let applied = kernel.sws_apply(ALICE.actor(), sws, change).unwrap();
    assert_eq!(applied.kind, KIND_SWS_APPLY);
    let (_, current) = kernel.view().collapse_hold(sws).unwrap();
    assert!(!current, "the hold no longer stands for the workspace");
    assert_eq!(
        refusal(vote(&mut kernel, &CAROL, sws, true)),
        GovernanceRefusal::HoldStale { sws }
    );
    assert_eq!(kernel.head().seq, applied.seq);

    let again = recorded(ask(&mut kernel, &ALICE, sws, None));
    assert_eq!(kinds(&since(&kernel, applied.seq)), [KIND_SWS_RULING]);
    assert!(again.seq > first.seq);
    assert_ne!(ruling_of(&again).changes, ruling_of(&first).changes);
    let (hold, current) = kernel.view().collapse_hold(sws).unwrap();
    assert!(current);
    assert_eq!(hold.seq, again.seq);
    assert!(hold.votes.is_empty());
    assert_eq!(
        refusal(ask(&mut kernel, &ALICE, sws, None)),
        held_for_two(sws, 0)
    );
    // Bob's approval was for the old changes: he may approve the new ones, and it takes
    // carol's too.
    recorded(vote(&mut kernel, &BOB, sws, true));
    assert!(!in_system(&kernel, "src/calc.sh"));
    vote(&mut kernel, &CAROL, sws, true).unwrap();
    assert!(in_system(&kernel, "src/calc.sh"));
    assert!(kernel.graph().node("note:2").is_some());
}

// Goal: a ruling stands under the policy that made it: after a new policy is loaded,
// votes are refused as stale and the next ask is ruled on by the new policy.
#[test]
fn a_new_policy_makes_the_next_collapse_be_ruled_again() {
    let (_dir, mut kernel, sws, first) = approved_once();

    let one = load(&mut kernel, ONE_FOR_SRC);
    let loaded = kernel.head().seq;
    assert_eq!(
        refusal(vote(&mut kernel, &DAVE, sws, true)),
        GovernanceRefusal::HoldStale { sws }
    );
    let again = recorded(ask(&mut kernel, &ALICE, sws, None));
    assert_eq!(kinds(&since(&kernel, loaded)), [KIND_SWS_RULING]);
    assert!(again.seq > first.seq);
    let ruling = ruling_of(&again);
    assert_eq!(ruling.policy, one.hash());
    assert_eq!(ruling.changes, ruling_of(&first).changes, "same changes");
    // One approval is needed now, and bob's earlier one does not count.
    assert_eq!(waiting(&kernel, sws), Some((0, 1)));
    vote(&mut kernel, &DAVE, sws, true).unwrap();
    assert!(in_system(&kernel, "src/calc.sh"));
}

/// "src needs two", and `vendor` frozen.
const TWO_FOR_SRC_NO_VENDOR: &str = r#"default = "allow"

[[rule]]
name = "vendor is frozen"
at = "collapse"
when = { path = "vendor" }
decide = "deny"

[[rule]]
name = "src needs two"
at = "collapse"
when = { path = "src" }
decide = { require = 2, from = "approver" }
"#;

// Goal: a ledger with every kind of hold replays: a ruling made stale by a new policy, a
// collapse through approvals, one allowed at once, a hold waiting with one vote, a veto, a
// denial, and a ruling made stale by a change and made again. Method: the kernel's own
// replay check, a fold from genesis by hand, and a reopening from a snapshot taken while
// holds were open, each compared with the live holds; the reopened kernel then goes on
// as the live one would: the waiting collapse completes, the stale hold takes no vote.
#[test]
fn a_ledger_of_rulings_votes_and_collapses_replays_to_the_same_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (live_holds, waits, old) = {
        let mut kernel = open(dir.path());
        seed(&mut kernel, &[("src/seed.sh", "0"), ("docs/seed.md", "0")]);
        load(&mut kernel, TWO_FOR_SRC);
        let old = workspace(&mut kernel, &[("src/old.sh", "0")]);
        recorded(ask(&mut kernel, &ALICE, old, None));
        load(&mut kernel, TWO_FOR_SRC_NO_VENDOR);
        let done = workspace(&mut kernel, &[("src/done.sh", "1")]);
        let waits = workspace(&mut kernel, &[("src/waits.sh", "2")]);
        let vetoed = workspace(&mut kernel, &[("src/vetoed.sh", "3")]);
        let stale = workspace(&mut kernel, &[("src/stale.sh", "4")]);
        let docs = workspace(&mut kernel, &[("docs/a.md", "5")]);
        let denied = workspace(&mut kernel, &[("vendor/lib.sh", "6")]);
        for sws in [done, waits, vetoed, stale, denied] {
            recorded(ask(&mut kernel, &ALICE, sws, None));
        }
        ask(&mut kernel, &ALICE, docs, None).unwrap();
        recorded(vote(&mut kernel, &BOB, done, true));
        vote(&mut kernel, &CAROL, done, true).unwrap();
        recorded(vote(&mut kernel, &BOB, waits, true));
        recorded(vote(&mut kernel, &BOB, vetoed, false));
        recorded(vote(&mut kernel, &BOB, stale, true));
        kernel.snapshot().unwrap();
        write(&mut kernel, stale, &[("src/more.sh", "7")]);
        recorded(ask(&mut kernel, &ALICE, stale, None));
        assert!(in_system(&kernel, "src/done.sh") && in_system(&kernel, "docs/a.md"));

        let holds = kernel.view().state().holds.clone();
        assert_eq!(
            holds.all().map(|hold| hold.ruling.sws).collect::<Vec<_>>(),
            [old, waits, vetoed, stale, denied],
            "the collapsed workspaces' holds are gone, the others kept"
        );
        replays(&kernel);
        assert_eq!(fold_from_genesis(&kernel).holds, holds);
        (holds, waits, old)
    };

    let mut kernel = open(dir.path());
    assert!(kernel.view().last_snapshot_seq().is_some());
    assert_eq!(kernel.view().state().holds, live_holds);
    assert_eq!(fold_from_genesis(&kernel).holds, live_holds);
    assert_eq!(
        refusal(vote(&mut kernel, &CAROL, old, true)),
        GovernanceRefusal::HoldStale { sws: old }
    );
    vote(&mut kernel, &CAROL, waits, true).unwrap();
    assert!(in_system(&kernel, "src/waits.sh"));
    assert!(kernel.view().replay_verify().unwrap().governance_match);
}

/// A root writ for `to` granting every worker (`governance::writ_issue`), as the system.
fn issue_writ(kernel: &mut Kernel, to: &Person) -> u64 {
    recorded(kernel.execute_one(Actor::System, writ_issue(to, Scope::All))).seq
}

// Goal: a collapse asked under a writ is ruled on as the writ's: under a writ granted to
// someone else it is refused and records nothing; under one's own, the ruling names the
// writ and what is left of its budget, and it replays.
#[test]
fn a_collapse_under_someone_elses_writ_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    load(&mut kernel, TWO_FOR_SRC);
    let bobs = issue_writ(&mut kernel, &BOB);
    let alices = issue_writ(&mut kernel, &ALICE);
    let sws = workspace(&mut kernel, &[("src/calc.sh", "echo 1")]);

    let head = kernel.head().seq;
    assert_eq!(
        refusal(ask(&mut kernel, &ALICE, sws, Some(bobs))),
        GovernanceRefusal::NotYourWrit {
            writ: bobs,
            user: "alice".to_owned()
        }
    );
    assert_eq!(kernel.head().seq, head);
    assert!(kernel.view().collapse_hold(sws).is_none());

    let ruling = ruling_of(&recorded(ask(&mut kernel, &ALICE, sws, Some(alices))));
    assert_eq!(ruling.writ, Some(alices));
    assert_eq!(ruling.facts.user, "alice");
    assert_eq!(ruling.facts.budget_left.get("jobs"), Some(&10));
    assert!(kernel.view().replay_verify().unwrap().governance_match);
}

/// A kernel that ran "src needs two" on one workspace to its collapse: the states just
/// before its ruling, just after it and after the first vote, and the records from the
/// ruling on (the ruling, two votes, the collapse).
struct Ran {
    _dir: tempfile::TempDir,
    before_ruling: State,
    after_ruling: State,
    after_one_vote: State,
    records: Vec<Record>,
    sws: u64,
}

fn run_to_collapse() -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    load(&mut kernel, TWO_FOR_SRC);
    let sws = workspace(&mut kernel, &[("src/calc.sh", "echo 1")]);
    let before_ruling = kernel.view().state().clone();
    let start = kernel.head().seq;
    recorded(ask(&mut kernel, &ALICE, sws, None));
    let after_ruling = kernel.view().state().clone();
    recorded(vote(&mut kernel, &BOB, sws, true));
    let after_one_vote = kernel.view().state().clone();
    vote(&mut kernel, &CAROL, sws, true).unwrap();
    let records = since(&kernel, start);
    assert_eq!(
        kinds(&records),
        [
            KIND_SWS_RULING,
            KIND_SWS_VOTE,
            KIND_SWS_VOTE,
            KIND_SWS_COLLAPSE
        ]
    );
    Ran {
        _dir: dir,
        before_ruling,
        after_ruling,
        after_one_vote,
        records,
        sws,
    }
}

// Goal: the fold rules again on every `sws.ruling` and refuses one that is not what the
// policy gives on the state's facts and changes. Method: the genuine ruling folds into the
// state before it and gives the live hold; doctored copies (another verdict, other
// changes, other paths with the verdict they would get) are each refused as a mismatch.
#[test]
fn a_doctored_ruling_does_not_fold() {
    let ran = run_to_collapse();
    let genuine = &ran.records[0];
    let mut state = ran.before_ruling.clone();
    state.fold(genuine).unwrap();
    assert_eq!(state.holds, ran.after_ruling.holds);

    let ruling = ruling_of(genuine);
    let mut allow = ruling.clone();
    allow.ruling.verdict = Verdict::Allow;
    let mut deny = ruling.clone();
    deny.ruling.verdict = Verdict::Deny;
    let mut changes = ruling.clone();
    changes.changes[0] ^= 1;
    let mut paths = ruling.clone();
    paths.facts.paths = vec!["docs/guide.md".to_owned()];
    paths.ruling.verdict = Verdict::Allow;
    paths.ruling.trace.rule = None;
    for (what, forged) in [
        ("allow", allow),
        ("deny", deny),
        ("changes", changes),
        ("paths", paths),
    ] {
        let payload = CollapseRecord::Ruling(Box::new(forged)).encode().unwrap();
        let mut state = ran.before_ruling.clone();
        let (seq, source) = governance_misfit(state.fold(&doctored(genuine, genuine.seq, payload)));
        assert_eq!(seq, genuine.seq, "{what}");
        assert!(
            matches!(source, GovernanceRefusal::Mismatch { .. }),
            "{what}: {source:?}"
        );
        assert_eq!(
            state.holds, ran.before_ruling.holds,
            "{what}: no hold taken"
        );
    }
}

// Goal: the fold refuses a `sws.collapse` its hold does not let through (no approval,
// then one of two) and a vote the hold does not admit (the requester's own), while the
// genuine votes and collapse fold. Method: the real collapse record, moved to the seq
// right after the ruling or the first vote.
#[test]
fn a_collapse_or_a_vote_the_hold_does_not_admit_does_not_fold() {
    let ran = run_to_collapse();
    let collapse = &ran.records[3];
    assert!(matches!(
        SwsRecord::decode(&collapse.kind, &collapse.payload).unwrap(),
        SwsRecord::Collapse { .. }
    ));
    let sws = ran.sws;
    let ruling_seq = ran.records[0].seq;

    let early = doctored(collapse, ruling_seq + 1, collapse.payload.clone());
    assert_eq!(
        governance_misfit(ran.after_ruling.clone().fold(&early)),
        (ruling_seq + 1, held_for_two(sws, 0))
    );
    let early = doctored(collapse, ruling_seq + 2, collapse.payload.clone());
    assert_eq!(
        governance_misfit(ran.after_one_vote.clone().fold(&early)),
        (ruling_seq + 2, held_for_two(sws, 1))
    );

    let own = CollapseRecord::Vote(ALICE.vote(sws, true, "mine"))
        .encode()
        .unwrap();
    let vote = &ran.records[1];
    let by_alice = Record {
        actor: ALICE.actor(),
        ..doctored(vote, vote.seq, own.clone())
    };
    assert_eq!(
        governance_misfit(ran.after_ruling.clone().fold(&by_alice)),
        (
            vote.seq,
            GovernanceRefusal::OwnCollapse {
                user: "alice".to_owned(),
                sws
            }
        )
    );
    // The same vote in bob's record names someone other than its maker.
    assert_eq!(
        governance_misfit(
            ran.after_ruling
                .clone()
                .fold(&doctored(vote, vote.seq, own))
        ),
        (
            vote.seq,
            GovernanceRefusal::NotTheAsker {
                named: ALICE.uid,
                actor: BOB.uid,
            }
        )
    );

    // The genuine records fold, and the collapse takes the hold with the workspace.
    let mut state = ran.after_one_vote.clone();
    state.fold(&ran.records[2]).unwrap();
    state.fold(collapse).unwrap();
    assert!(state.holds.get(sws).is_none());
    assert!(state.graph.node("file:src/calc.sh").is_some());
}

// Goal: a nested workspace's collapse changes only its parent, so it is not ruled on;
// the parent's collapse into the system is.
#[test]
fn a_nested_workspaces_collapse_into_its_parent_is_not_ruled_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path());
    load(&mut kernel, TWO_FOR_SRC);
    let parent = workspace(&mut kernel, &[]);
    let child = kernel
        .sws_create(ALICE.actor(), Over::Workspace { id: parent })
        .unwrap()
        .seq;
    write(&mut kernel, child, &[("src/calc.sh", "echo 1")]);
    let before = kernel.head().seq;
    let outcome = ask(&mut kernel, &ALICE, child, None).unwrap();
    assert!(matches!(outcome, Outcome::SwsDone(_)), "{outcome:?}");
    assert_eq!(kinds(&since(&kernel, before)), [KIND_SWS_COLLAPSE]);
    assert!(!in_system(&kernel, "src/calc.sh"));
    assert!(kernel
        .view()
        .sws_tree(parent)
        .unwrap()
        .entries
        .contains_key(&TreePath::new("src/calc.sh").unwrap()));

    let before = kernel.head().seq;
    recorded(ask(&mut kernel, &ALICE, parent, None));
    assert_eq!(kinds(&since(&kernel, before)), [KIND_SWS_RULING]);
    assert_eq!(waiting(&kernel, parent), Some((0, 2)));
}

// Goal: the fold holds a ruling to the policy that made it, as the kernel's decide does
// (`a_new_policy_makes_the_next_collapse_be_ruled_again`): once a new policy is in force,
// a vote on the old ruling's hold does not fold, nor does a collapse its old approvals
// let through. Method: ledgers doctored by hand — the genuine ruling and votes with a
// `policy.load` of a policy that denies the collapse slipped in before the second vote,
// or before the collapse.
#[test]
fn a_hold_from_an_earlier_policy_lets_no_vote_or_collapse_fold() {
    let ran = run_to_collapse();
    let sws = ran.sws;
    let [_, first, second, collapse] = &ran.records[..] else {
        panic!("four records");
    };
    let load_at = |seq: u64| Record {
        kind: KIND_POLICY_LOAD.to_owned(),
        ..doctored(
            first,
            seq,
            jitos_kernel::PolicyRecord::Load(policy(NO_SRC))
                .encode()
                .unwrap(),
        )
    };
    let stale = |seq| (seq, GovernanceRefusal::HoldStale { sws });

    // The policy changes before the second vote: the vote is stale.
    let mut state = ran.after_one_vote.clone();
    state.fold(&load_at(second.seq)).unwrap();
    let vote = doctored(second, second.seq + 1, second.payload.clone());
    assert_eq!(governance_misfit(state.fold(&vote)), stale(vote.seq));

    // The policy changes between the last vote and the collapse: the collapse is stale.
    let mut state = ran.after_one_vote.clone();
    state.fold(second).unwrap();
    state.fold(&load_at(collapse.seq)).unwrap();
    let late = doctored(collapse, collapse.seq + 1, collapse.payload.clone());
    assert_eq!(governance_misfit(state.fold(&late)), stale(late.seq));
}
