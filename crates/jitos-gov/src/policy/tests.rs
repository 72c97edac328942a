//! Evaluation end to end: policies parsed from text, decided on a table of facts, hashed,
//! and simulated against recorded decisions.

#![allow(clippy::unwrap_used)]

use std::{collections::BTreeMap, path::Path};

use proptest::prelude::*;

use super::*;
use crate::{Effect, Role, Roles};

fn policy(text: &str) -> Policy {
    match Policy::parse(text, Path::new("test.toml")) {
        Ok(policy) => policy,
        Err(error) => panic!("{error}"),
    }
}

fn facts(point: Point, user: &str, roles: &[Role]) -> Facts {
    Facts::new(point, user, roles.iter().copied().collect::<Roles>())
}

/// The rules people number from 1, as the table below does.
fn numbers(refs: &[RuleRef]) -> Vec<u32> {
    refs.iter().map(|rule| rule.index + 1).collect()
}

const TABLE_POLICY: &str = r#"
default = "deny"

[[rule]]
name = "viewers run nothing"
when = { role = "viewer" }
decide = "deny"

[[rule]]
name = "irreversible needs two approvers"
at = "dispatch"
when = { effect_at_least = "irreversible", approvals_below = 2 }
decide = { require = 2, from = "approver" }

[[rule]]
name = "irreversible once approved"
at = "dispatch"
when = { effect_at_least = "irreversible", approvals_at_least = 2 }
decide = "allow"

[[rule]]
name = "secrets need an admin"
when = { path = "secrets" }
decide = { require = 1, from = "admin" }

[[rule]]
name = "low budget stops"
when = { budget_below = { jobs = 2, tokens = 1000 } }
decide = "deny"

[[rule]]
name = "shell for operators"
at = "dispatch"
when = { worker = "shell", role = ["operator", "admin"], effect_at_most = "workspace" }
decide = "allow"

[[rule]]
name = "alice reaches out"
at = "dispatch"
when = { user = "alice", effect = ["network", "local"] }
decide = "allow"

[[rule]]
name = "operators submit"
at = "submit"
when = { role = "operator" }
decide = "allow"

[[rule]]
name = "gates want an approver"
at = "gate"
decide = { require = 1, from = "approver" }
"#;

#[test]
fn a_table_of_facts_meets_the_first_rule_that_holds() {
    use Point::{Dispatch, Gate, Submit};
    use Role::{Admin, Approver, Operator, Viewer};
    let policy = policy(TABLE_POLICY);
    let approvers = |count| Verdict::Require {
        count,
        from: Approver,
    };
    let an_admin = Verdict::Require {
        count: 1,
        from: Admin,
    };
    let src = |mut f: Facts| {
        f.paths = vec!["src".into()];
        f
    };
    let job = |mut f: Facts, worker: Option<&str>, effect: Option<Effect>| {
        f.worker = worker.map(str::to_owned);
        f.effect = effect;
        src(f)
    };
    let budget = |mut f: Facts, name: &str, left: u64| {
        f.budget_left.insert(name.to_owned(), left);
        f
    };
    let approved = |mut f: Facts, approvals| {
        f.approvals = approvals;
        f
    };
    let paths = |mut f: Facts, paths: &[&str]| {
        f.paths = paths.iter().map(|p| (*p).to_owned()).collect();
        f
    };
    let op = |point| facts(point, "bob", &[Operator]);
    let irreversible = |approvals| {
        approved(
            job(op(Dispatch), Some("deploy"), Some(Effect::Irreversible)),
            approvals,
        )
    };

    // (what, facts, verdict, deciding rule from 1 (0 for the default), skipped rules)
    let table: Vec<(&str, Facts, Verdict, u32, Vec<u32>)> = vec![
        (
            "a viewer at submit",
            src(facts(Submit, "v", &[Viewer])),
            Verdict::Deny,
            1,
            vec![],
        ),
        (
            "any role among several",
            facts(Dispatch, "v", &[Operator, Viewer]),
            Verdict::Deny,
            1,
            vec![],
        ),
        // The whole tree holds every path; rules 2 and 3 are for dispatch, so unlisted.
        (
            "the whole tree touches secrets",
            op(Submit),
            an_admin,
            4,
            vec![1],
        ),
        (
            "under secrets",
            paths(op(Submit), &["docs", "secrets/key"]),
            an_admin,
            4,
            vec![1],
        ),
        (
            "a sibling named like it",
            paths(op(Submit), &["secretsx"]),
            Verdict::Allow,
            8,
            vec![1, 4, 5],
        ),
        (
            "a plain submit",
            src(op(Submit)),
            Verdict::Allow,
            8,
            vec![1, 4, 5],
        ),
        (
            "jobs below 2",
            budget(src(op(Submit)), "jobs", 1),
            Verdict::Deny,
            5,
            vec![1, 4],
        ),
        (
            "jobs at 2 is not below",
            budget(src(op(Submit)), "jobs", 2),
            Verdict::Allow,
            8,
            vec![1, 4, 5],
        ),
        (
            "tokens below 1000",
            budget(src(op(Submit)), "tokens", 999),
            Verdict::Deny,
            5,
            vec![1, 4],
        ),
        (
            "tokens at 1000",
            budget(src(op(Submit)), "tokens", 1000),
            Verdict::Allow,
            8,
            vec![1, 4, 5],
        ),
        (
            "a budget no rule names",
            budget(src(op(Submit)), "wall_secs", 0),
            Verdict::Allow,
            8,
            vec![1, 4, 5],
        ),
        (
            "no rule for an approver",
            src(facts(Submit, "ann", &[Approver])),
            Verdict::Deny,
            0,
            vec![1, 4, 5, 8],
        ),
        (
            "an operator's shell job",
            job(op(Dispatch), Some("shell"), Some(Effect::Workspace)),
            Verdict::Allow,
            6,
            vec![1, 2, 3, 4, 5],
        ),
        (
            "effect none is at most workspace",
            job(op(Dispatch), Some("shell"), Some(Effect::None)),
            Verdict::Allow,
            6,
            vec![1, 2, 3, 4, 5],
        ),
        (
            "shell reaching past its workspace",
            job(op(Dispatch), Some("shell"), Some(Effect::Local)),
            Verdict::Deny,
            0,
            vec![1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "no worker known",
            job(op(Dispatch), None, Some(Effect::Workspace)),
            Verdict::Deny,
            0,
            vec![1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "an admin's shell job",
            job(
                facts(Dispatch, "root", &[Admin]),
                Some("shell"),
                Some(Effect::Workspace),
            ),
            Verdict::Allow,
            6,
            vec![1, 2, 3, 4, 5],
        ),
        (
            "alice on the network",
            job(
                facts(Dispatch, "alice", &[Operator]),
                Some("http"),
                Some(Effect::Network),
            ),
            Verdict::Allow,
            7,
            vec![1, 2, 3, 4, 5, 6],
        ),
        (
            "bob on the network",
            job(op(Dispatch), Some("http"), Some(Effect::Network)),
            Verdict::Deny,
            0,
            vec![1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "irreversible, unapproved",
            irreversible(0),
            approvers(2),
            2,
            vec![1],
        ),
        (
            "irreversible, one approval",
            irreversible(1),
            approvers(2),
            2,
            vec![1],
        ),
        (
            "irreversible, two approvals",
            irreversible(2),
            Verdict::Allow,
            3,
            vec![1, 2],
        ),
        (
            "irreversible, three approvals",
            irreversible(3),
            Verdict::Allow,
            3,
            vec![1, 2],
        ),
        ("a gate", src(op(Gate)), approvers(1), 9, vec![1, 4, 5]),
        (
            "a viewer at a gate",
            src(facts(Gate, "v", &[Viewer])),
            Verdict::Deny,
            1,
            vec![],
        ),
    ];
    let mut wrong = Vec::new();
    for (what, facts, verdict, rule, skipped) in table {
        let ruling = policy.evaluate(&facts);
        let got = (
            ruling.verdict,
            ruling.trace.rule.as_ref().map_or(0, |rule| rule.index + 1),
            numbers(&ruling.trace.skipped),
        );
        if got != (verdict, rule, skipped.clone()) {
            wrong.push(format!(
                "{what}: got {got:?}, wanted {:?}",
                (verdict, rule, skipped)
            ));
        }
        if let Some(decider) = &ruling.trace.rule {
            assert_eq!(
                decider.name,
                policy.rules()[decider.index as usize].name,
                "{what}"
            );
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Each condition alone, in a rule that allows against a default of deny.
#[test]
fn each_condition_holds_exactly_when_it_should() {
    type Change = fn(&mut Facts);
    let cases: Vec<(&str, Change, bool)> = vec![
        ("role = \"operator\"", |_| {}, true),
        ("role = \"approver\"", |_| {}, false),
        // admin does not stand in for a role a rule names.
        (
            "role = \"operator\"",
            |f| f.roles = vec![Role::Admin],
            false,
        ),
        (
            "role = [\"viewer\", \"admin\"]",
            |f| f.roles = vec![Role::Admin],
            true,
        ),
        ("role = \"viewer\"", |f| f.roles.clear(), false),
        ("user = \"bob\"", |_| {}, true),
        ("user = \"bo\"", |_| {}, false),
        ("user = [\"alice\", \"bob\"]", |_| {}, true),
        ("worker = \"shell\"", |_| {}, true),
        ("worker = \"noop\"", |_| {}, false),
        ("worker = [\"noop\", \"shell\"]", |_| {}, true),
        ("worker = \"shell\"", |f| f.worker = None, false),
        ("effect = \"workspace\"", |_| {}, true),
        ("effect = [\"local\", \"network\"]", |_| {}, false),
        ("effect = \"workspace\"", |f| f.effect = None, false),
        ("effect_at_least = \"workspace\"", |_| {}, true),
        ("effect_at_least = \"local\"", |_| {}, false),
        ("effect_at_least = \"none\"", |f| f.effect = None, false),
        ("effect_at_most = \"workspace\"", |_| {}, true),
        ("effect_at_most = \"none\"", |_| {}, false),
        (
            "effect_at_most = \"irreversible\"",
            |f| f.effect = None,
            false,
        ),
        ("path = \"src\"", |_| {}, true),
        ("path = \"src\"", |f| f.paths = vec!["src".into()], true),
        ("path = \"src\"", |f| f.paths = vec!["srcx".into()], false),
        ("path = \"src\"", |f| f.paths = vec!["sr".into()], false),
        (
            "path = \"src\"",
            |f| f.paths = vec!["docs".into(), "src/a/b".into()],
            true,
        ),
        ("path = \"src\"", |f| f.paths = vec![".".into()], true),
        ("path = \"src/a\"", |f| f.paths = vec!["src".into()], true),
        (
            "path = \"src/a\"",
            |f| f.paths = vec!["src/b".into()],
            false,
        ),
        (
            "path = [\"docs\", \"src/a\"]",
            |f| f.paths = vec!["docs/x".into()],
            true,
        ),
        ("budget_below = { jobs = 3 }", |_| {}, false),
        ("budget_below = { jobs = 3 }", |f| set(f, "jobs", 2), true),
        ("budget_below = { jobs = 3 }", |f| set(f, "jobs", 3), false),
        (
            "budget_below = { jobs = 3 }",
            |f| set(f, "tokens", 0),
            false,
        ),
        (
            "budget_below = { jobs = 3, tokens = 10 }",
            |f| set(f, "tokens", 9),
            true,
        ),
        (
            "budget_below = { wall_secs = 60 }",
            |f| set(f, "wall_secs", 59),
            true,
        ),
        ("approvals_below = 2", |_| {}, true),
        ("approvals_below = 2", |f| f.approvals = 1, true),
        ("approvals_below = 2", |f| f.approvals = 2, false),
        ("approvals_at_least = 2", |f| f.approvals = 1, false),
        ("approvals_at_least = 2", |f| f.approvals = 2, true),
        ("approvals_at_least = 0", |_| {}, true),
        ("role = \"operator\", worker = \"shell\"", |_| {}, true),
        ("role = \"operator\", worker = \"noop\"", |_| {}, false),
        ("role = \"admin\", worker = \"shell\"", |_| {}, false),
    ];
    fn set(facts: &mut Facts, name: &str, left: u64) {
        facts.budget_left.insert(name.to_owned(), left);
    }
    let mut wrong = Vec::new();
    for (when, change, holds) in cases {
        let policy = policy(&format!(
            "default = \"deny\"\n[[rule]]\nname = \"r\"\nwhen = {{ {when} }}\ndecide = \"allow\"\n"
        ));
        // An operator's shell job in the workspace, whole tree, no budget, no approval.
        let mut facts = facts(Point::Dispatch, "bob", &[Role::Operator]);
        facts.worker = Some("shell".into());
        facts.effect = Some(Effect::Workspace);
        change(&mut facts);
        let ruling = policy.evaluate(&facts);
        if (ruling.verdict == Verdict::Allow) != holds {
            wrong.push(format!("{when} on {facts:?}: wanted holds = {holds}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_first_rule_that_holds_decides_so_order_matters() {
    let allow_first = policy(
        "default = \"deny\"\n[[rule]]\nname = \"all\"\ndecide = \"allow\"\n[[rule]]\nname = \"viewers\"\nwhen = { role = \"viewer\" }\ndecide = \"deny\"\n",
    );
    let deny_first = policy(
        "default = \"deny\"\n[[rule]]\nname = \"viewers\"\nwhen = { role = \"viewer\" }\ndecide = \"deny\"\n[[rule]]\nname = \"all\"\ndecide = \"allow\"\n",
    );
    let viewer = facts(Point::Submit, "v", &[Role::Viewer]);
    let allowed = allow_first.evaluate(&viewer);
    assert_eq!(allowed.verdict, Verdict::Allow);
    assert_eq!(allowed.explain(), "allow (rule 1 \"all\")");
    assert!(allowed.trace.skipped.is_empty());
    let denied = deny_first.evaluate(&viewer);
    assert_eq!(denied.verdict, Verdict::Deny);
    assert_eq!(denied.explain(), "deny (rule 1 \"viewers\")");
    let operator = facts(Point::Submit, "o", &[Role::Operator]);
    let ruling = deny_first.evaluate(&operator);
    assert_eq!(ruling.explain(), "allow (rule 2 \"all\")");
    assert_eq!(numbers(&ruling.trace.skipped), [1]);
}

#[test]
fn a_rule_for_another_point_neither_decides_nor_shows_in_the_trace() {
    let policy = policy(
        "default = \"allow\"\n[[rule]]\nname = \"gate only\"\nat = \"gate\"\ndecide = \"deny\"\n[[rule]]\nname = \"submit, never holds\"\nat = \"submit\"\nwhen = { user = \"nobody\" }\ndecide = \"deny\"\n",
    );
    for point in Point::ALL {
        let ruling = policy.evaluate(&facts(point, "u", &[Role::Operator]));
        let (verdict, skipped) = match point {
            Point::Gate => (Verdict::Deny, vec![]),
            Point::Submit => (Verdict::Allow, vec![2]),
            Point::Dispatch | Point::Collapse => (Verdict::Allow, vec![]),
        };
        assert_eq!(ruling.verdict, verdict, "{point}");
        assert_eq!(numbers(&ruling.trace.skipped), skipped, "{point}");
    }
}

#[test]
fn with_no_rule_holding_the_default_decides() {
    for (default, verdict) in [("allow", Verdict::Allow), ("deny", Verdict::Deny)] {
        let policy = policy(&format!(
            "default = \"{default}\"\n[[rule]]\nname = \"admins\"\nwhen = {{ role = \"admin\" }}\ndecide = {{ require = 3, from = \"approver\" }}\n"
        ));
        assert_eq!(policy.default_verdict(), verdict);
        let ruling = policy.evaluate(&facts(Point::Dispatch, "u", &[Role::Operator]));
        assert_eq!(ruling.verdict, verdict);
        assert_eq!(ruling.trace.rule, None);
        assert_eq!(numbers(&ruling.trace.skipped), [1]);
        assert_eq!(ruling.explain(), format!("{default} (the default)"));
    }
}

#[test]
fn the_hash_is_of_the_exact_text() {
    let a = policy(TABLE_POLICY);
    let b = policy(TABLE_POLICY);
    assert_eq!(a.hash(), b.hash());
    assert_eq!(a, b);
    assert_eq!(a.text(), TABLE_POLICY);
    assert_eq!(
        a.hash().0,
        *blake3::hash(TABLE_POLICY.as_bytes()).as_bytes()
    );
    // Any one byte changed, even in a comment or a blank line, is another policy text.
    let bytes = TABLE_POLICY.as_bytes();
    for at in 0..bytes.len() {
        let mut changed = bytes.to_vec();
        changed[at] = if changed[at] == b'x' { b'y' } else { b'x' };
        let changed = String::from_utf8(changed).unwrap();
        assert_ne!(PolicyHash::of(&changed), a.hash(), "byte {at}");
    }
    let spaced = policy(&format!("{TABLE_POLICY}\n"));
    assert_ne!(spaced.hash(), a.hash());
    assert_eq!(spaced.rules(), a.rules());
}

#[test]
fn a_hash_reads_back_from_its_hex_in_every_form() {
    let hash = policy(TABLE_POLICY).hash();
    let hex = hash.to_hex();
    assert_eq!(hex.len(), 64);
    assert!(hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(hash.to_string(), hex);
    assert_eq!(format!("{hash:?}"), hex);
    assert_eq!(hash.short(), hex[..12]);
    assert_eq!(hex.parse::<PolicyHash>().unwrap(), hash);
    assert!(hex[..63].parse::<PolicyHash>().is_err());
    assert!(format!("{}g", &hex[..63]).parse::<PolicyHash>().is_err());

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Record {
        policy: PolicyHash,
    }
    let record = Record { policy: hash };
    let text = toml::to_string(&record).unwrap();
    assert_eq!(text, format!("policy = \"{hex}\"\n"));
    assert_eq!(toml::from_str::<Record>(&text).unwrap(), record);
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(&record, config).unwrap();
    assert_eq!(bytes, hash.0, "raw bytes in binary formats");
    let (back, _): (Record, usize) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
    assert_eq!(back, record);
}

#[test]
fn allow_all_is_its_canonical_text_and_allows_everything() {
    let all = Policy::allow_all();
    assert_eq!(all, policy(ALLOW_ALL_TEXT));
    assert_eq!(all.text(), ALLOW_ALL_TEXT);
    assert!(all.rules().is_empty());
    assert_eq!(all.default_verdict(), Verdict::Allow);
    // Decisions made without a policy name this hash; it must never drift.
    assert_eq!(
        all.hash().to_hex(),
        "990bac522c3f935ff8bc48bddc7f8e9c0a58ba750a71af44970f6c7e902b6059"
    );
}

#[test]
fn load_reads_a_file_and_names_it_in_errors() {
    let dir = std::env::temp_dir().join(format!("jitos-policy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(&good, TABLE_POLICY).unwrap();
    assert_eq!(Policy::load(&good).unwrap(), policy(TABLE_POLICY));
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "default = \"deny\"\n[[rule]]\nname = \"r\"\ndecide = \"never\"\n",
    )
    .unwrap();
    let error = Policy::load(&bad).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!("{}:4:10: decide must be", bad.display())),
        "{error}"
    );
    let missing = Policy::load(&dir.join("missing.toml")).unwrap_err();
    assert!(missing.message.contains("cannot read it"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn simulate_lists_exactly_the_decisions_that_would_change() {
    let current = policy(TABLE_POLICY);
    // The candidate lets viewers submit, drops the budget rule and asks three approvers.
    let candidate = policy(
        &TABLE_POLICY
            .replace(
                "when = { role = \"viewer\" }\ndecide = \"deny\"",
                "when = { role = \"viewer\" }\nat = \"dispatch\"\ndecide = \"deny\"",
            )
            .replace(
                "when = { budget_below = { jobs = 2, tokens = 1000 } }",
                "when = { user = \"nobody\" }",
            )
            .replace(
                "decide = { require = 2, from",
                "decide = { require = 3, from",
            ),
    );
    let mut low = facts(Point::Submit, "bob", &[Role::Operator]);
    low.paths = vec!["src".into()];
    low.budget_left.insert("jobs".into(), 0);
    let mut irreversible = facts(Point::Dispatch, "bob", &[Role::Operator]);
    irreversible.paths = vec!["src".into()];
    irreversible.effect = Some(Effect::Irreversible);
    let mut viewer_submit = facts(Point::Submit, "v", &[Role::Viewer, Role::Operator]);
    viewer_submit.paths = vec!["src".into()];
    let viewer_dispatch = facts(Point::Dispatch, "v", &[Role::Viewer]);
    let mut plain = facts(Point::Submit, "bob", &[Role::Operator]);
    plain.paths = vec!["src".into()];
    let recorded: Vec<(u64, Facts)> = vec![
        (10, plain),
        (11, low),
        (12, irreversible),
        (13, viewer_submit),
        (14, viewer_dispatch),
    ];
    let verdicts: Vec<Verdict> = recorded
        .iter()
        .map(|(_, facts)| current.evaluate(facts).verdict)
        .collect();
    let as_recorded = || {
        recorded
            .iter()
            .zip(&verdicts)
            .map(|((seq, facts), verdict)| (*seq, facts, verdict))
    };
    assert!(simulate(&current, as_recorded()).is_empty());

    let changes = simulate(&candidate, as_recorded());
    let shown: Vec<String> = changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "seq 11: was deny, now allow (rule 8 \"operators submit\")",
            "seq 12: was require 2 approvals from approver, now require 3 approvals from approver (rule 2 \"irreversible needs two approvers\")",
            "seq 13: was deny, now allow (rule 8 \"operators submit\")",
        ]
    );
    assert_eq!(changes[0].now, candidate.evaluate(&recorded[1].1));
    assert_eq!(changes[1].was, verdicts[2]);
}

#[test]
fn rulings_and_facts_survive_the_record_encoding() {
    let policy = policy(TABLE_POLICY);
    let mut facts = facts(Point::Dispatch, "alice", &[Role::Operator, Role::Approver]);
    facts.worker = Some("shell".into());
    facts.effect = Some(Effect::Irreversible);
    facts.paths = vec!["src".into(), "docs".into()];
    facts.budget_left = BTreeMap::from([("jobs".into(), 4), ("tokens".into(), 10)]);
    facts.approvals = 1;
    let ruling = policy.evaluate(&facts);
    let change = Change {
        seq: 7,
        was: Verdict::Allow,
        now: ruling.clone(),
    };
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec((&facts, &ruling, &change), config).unwrap();
    let ((back_facts, back_ruling, back_change), _): ((Facts, Ruling, Change), usize) =
        bincode::serde::decode_from_slice(&bytes, config).unwrap();
    assert_eq!(back_facts, facts);
    assert_eq!(back_ruling, ruling);
    assert_eq!(back_change, change);
    // Re-deciding what was recorded gives what was decided.
    assert_eq!(policy.evaluate(&back_facts), ruling);
}

fn any_facts() -> impl Strategy<Value = Facts> {
    let names = ["jobs", "wall_secs", "tokens"];
    (
        prop::sample::select(Point::ALL.to_vec()),
        prop::sample::select(vec!["alice", "bob", "v", "ann"]),
        prop::sample::subsequence(Role::ALL.to_vec(), 0..=4),
        prop::option::of(prop::sample::select(vec![
            "shell", "noop", "deploy", "http",
        ])),
        prop::option::of(prop::sample::select(Effect::ALL.to_vec())),
        prop::sample::subsequence(
            vec!["src", "src/a", "srcx", "secrets", "secrets/k", "docs", "."],
            0..=3,
        ),
        prop::collection::btree_map(prop::sample::select(names.to_vec()), 0u64..2000, 0..=3),
        0u32..4,
    )
        .prop_map(
            |(point, user, roles, worker, effect, paths, budgets, approvals)| Facts {
                point,
                user: user.to_owned(),
                roles,
                worker: worker.map(str::to_owned),
                effect,
                paths: paths.into_iter().map(str::to_owned).collect(),
                budget_left: budgets
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
                approvals,
            },
        )
}

proptest! {
    /// The trace accounts for every rule of the point before the decider: each skipped
    /// rule is for this point and fails a condition, in order; the decider is for this
    /// point and holds; no rule of the point before it is left out.
    #[test]
    fn the_trace_accounts_for_every_rule_it_passed(facts in any_facts()) {
        let policy = policy(TABLE_POLICY);
        let ruling = policy.evaluate(&facts);
        prop_assert_eq!(&policy.evaluate(&facts), &ruling, "deterministic");
        let for_point = |rule: &Rule| rule.at.is_none_or(|at| at == facts.point);
        let holds = |rule: &Rule| rule.when.iter().all(|condition| condition.holds(&facts));
        let end = ruling.trace.rule.as_ref().map_or(policy.rules().len(), |rule| rule.index as usize);
        let passed: Vec<u32> = policy.rules()[..end]
            .iter()
            .filter(|rule| for_point(rule))
            .map(|rule| rule.index)
            .collect();
        let skipped: Vec<u32> = ruling.trace.skipped.iter().map(|rule| rule.index).collect();
        prop_assert_eq!(skipped, passed);
        for skipped in &ruling.trace.skipped {
            let rule = &policy.rules()[skipped.index as usize];
            prop_assert_eq!(&rule.name, &skipped.name);
            prop_assert!(!holds(rule));
        }
        match &ruling.trace.rule {
            Some(decider) => {
                let rule = &policy.rules()[decider.index as usize];
                prop_assert!(for_point(rule) && holds(rule));
                prop_assert_eq!(ruling.verdict, rule.decide);
            }
            None => prop_assert_eq!(ruling.verdict, policy.default_verdict()),
        }
    }

    #[test]
    fn allow_all_allows_any_facts(facts in any_facts()) {
        let ruling = Policy::allow_all().evaluate(&facts);
        prop_assert_eq!(ruling.verdict, Verdict::Allow);
        prop_assert_eq!(ruling.trace, Trace { rule: None, skipped: Vec::new() });
    }

    /// What simulate reports is exactly the recorded decisions the candidate decides
    /// otherwise, with the candidate's ruling.
    #[test]
    fn simulate_reports_exactly_the_differences(recorded in prop::collection::vec(any_facts(), 0..16)) {
        let current = policy(TABLE_POLICY);
        let candidate = Policy::allow_all();
        let verdicts: Vec<Verdict> = recorded.iter().map(|f| current.evaluate(f).verdict).collect();
        let changes = simulate(
            &candidate,
            (0u64..).zip(&recorded).zip(&verdicts).map(|((seq, f), v)| (seq, f, v)),
        );
        let wanted: Vec<u64> = (0u64..)
            .zip(&verdicts)
            .filter(|(_, verdict)| **verdict != Verdict::Allow)
            .map(|(seq, _)| seq)
            .collect();
        prop_assert_eq!(changes.iter().map(|c| c.seq).collect::<Vec<_>>(), wanted);
        for change in &changes {
            prop_assert_eq!(&change.now, &candidate.evaluate(&recorded[change.seq as usize]));
        }
    }
}

#[test]
fn a_collapse_rule_sees_the_changed_paths_and_no_worker_or_effect() {
    let policy = policy(
        "default = \"allow\"\n[[rule]]\nname = \"shell\"\nwhen = { worker = \"shell\" }\ndecide = \"deny\"\n[[rule]]\nname = \"src needs two\"\nat = \"collapse\"\nwhen = { path = \"src\" }\ndecide = { require = 2, from = \"approver\" }\n",
    );
    let mut docs = facts(Point::Collapse, "u", &[Role::Operator]);
    docs.paths = vec!["docs/a.md".to_owned()];
    let ruling = policy.evaluate(&docs);
    assert_eq!(ruling.verdict, Verdict::Allow, "{}", ruling.explain());
    assert_eq!(numbers(&ruling.trace.skipped), [1, 2]);
    let mut src = docs.clone();
    src.paths.push("src/lib.rs".to_owned());
    assert_eq!(
        policy.evaluate(&src).verdict,
        Verdict::Require {
            count: 2,
            from: Role::Approver
        }
    );
    // No file changed: no path is under any prefix. The root stands for every file.
    let mut none = docs;
    none.paths.clear();
    assert_eq!(policy.evaluate(&none).verdict, Verdict::Allow);
    let mut whole = none;
    whole.paths = vec![".".to_owned()];
    assert_eq!(
        policy.evaluate(&whole).explain(),
        "require 2 approvals from approver (rule 2 \"src needs two\")"
    );
}
