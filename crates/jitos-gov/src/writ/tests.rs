//! Tests of writs as a whole: their limits, what they admit, and (randomized) narrowing.

#![allow(clippy::unwrap_used)]

use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet},
};

use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};

use super::*;

fn only(entries: &[&str]) -> Scope {
    Scope::Only(entries.iter().map(|entry| (*entry).to_owned()).collect())
}

fn names(prefix: &str, count: usize) -> BTreeSet<String> {
    (0..count).map(|i| format!("{prefix}{i}")).collect()
}

/// A writ every test module starts from.
pub(super) fn sample() -> Writ {
    Writ {
        subject: Subject {
            uid: 1001,
            user: "alice".to_owned(),
        },
        issuer: Subject {
            uid: 0,
            user: "root".to_owned(),
        },
        parent: Some(7),
        workers: only(&["build", "test"]),
        paths: only(&["src", "docs/api"]),
        effect: Effect::Network,
        egress: Scope::nothing(),
        budget: Budget {
            jobs: 100,
            wall_secs: 3600,
            counters: [("tokens", 100_000), ("cost_millicents", 5000)]
                .into_iter()
                .map(|(name, limit)| (name.to_owned(), limit))
                .collect(),
        },
        secrets: ["github-token".to_owned()].into_iter().collect(),
        issued_ms: 1_700_000_000_000,
        expires_ms: 1_700_003_600_000,
        depth: 2,
    }
}

#[test]
fn the_sample_is_valid() {
    assert_eq!(sample().check(), Ok(()));
}

#[test]
fn user_names_are_bounded_and_not_empty() {
    let mut writ = sample();
    writ.subject.user = "u".repeat(USER_BYTES_MAX);
    writ.issuer.user = "uid 0".to_owned();
    assert_eq!(writ.check(), Ok(()));
    writ.subject.user.push('u');
    let refused = writ.check().unwrap_err();
    assert!(
        matches!(
            refused,
            WritError::Invalid {
                part: WritPart::Subject,
                ..
            }
        ),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("257 bytes, over the 256"),
        "{refused}"
    );

    let mut writ = sample();
    writ.issuer.user = String::new();
    let refused = writ.check().unwrap_err();
    assert_eq!(
        refused.to_string(),
        "issuer user name \"\" is not valid: it is empty; name a local user"
    );
}

#[test]
fn each_list_is_bounded_at_its_limit() {
    let mut writ = sample();
    writ.workers = Scope::Only(names("w", WORKERS_MAX));
    writ.paths = Scope::Only(names("p", PATHS_MAX));
    writ.budget.counters = names("c", COUNTERS_MAX)
        .into_iter()
        .map(|name| (name, 1))
        .collect();
    writ.secrets = names("s", SECRETS_MAX);
    writ.depth = DEPTH_MAX;
    assert_eq!(writ.check(), Ok(()));
    assert_eq!(
        Writ::from_signing_bytes(&writ.signing_bytes()),
        Ok(writ.clone())
    );

    let over = |part: WritPart, count: usize, max: usize| WritError::TooMany { part, count, max };
    let mut wide = writ.clone();
    wide.workers = Scope::Only(names("w", WORKERS_MAX + 1));
    assert_eq!(wide.check(), Err(over(WritPart::Worker, 65, 64)));
    let mut wide = writ.clone();
    wide.paths = Scope::Only(names("p", PATHS_MAX + 1));
    assert_eq!(wide.check(), Err(over(WritPart::Path, 257, 256)));
    let mut wide = writ.clone();
    wide.budget.counters.insert("one-more".to_owned(), 1);
    assert_eq!(wide.check(), Err(over(WritPart::Counter, 33, 32)));
    let mut wide = writ.clone();
    wide.secrets.insert("one-more".to_owned());
    let refused = wide.check().unwrap_err();
    assert_eq!(refused, over(WritPart::Secret, 33, 32));
    assert_eq!(
        refused.to_string(),
        "the writ names 33 secrets, over the 32 allowed"
    );
    let mut wide = writ;
    wide.depth = DEPTH_MAX + 1;
    assert_eq!(wide.check(), Err(WritError::TooDeep { depth: 9 }));
}

#[test]
fn names_and_paths_are_checked_where_they_appear() {
    type Change = fn(&mut Writ);
    let cases: [(Change, WritPart); 5] = [
        (
            |writ| writ.workers = only(&["build", "no spaces"]),
            WritPart::Worker,
        ),
        (|writ| writ.paths = only(&["src/../etc"]), WritPart::Path),
        (|writ| writ.paths = only(&["/etc"]), WritPart::Path),
        (
            |writ| {
                writ.budget.counters.insert(String::new(), 1);
            },
            WritPart::Counter,
        ),
        (
            |writ| {
                writ.secrets.insert("..".to_owned());
            },
            WritPart::Secret,
        ),
    ];
    for (change, part) in cases {
        let mut writ = sample();
        change(&mut writ);
        match writ.check() {
            Err(WritError::Invalid { part: found, .. }) => assert_eq!(found, part),
            other => panic!("{part}: {other:?}"),
        }
    }
    let mut writ = sample();
    writ.paths = only(&["src//a"]);
    assert_eq!(
        writ.check().unwrap_err().to_string(),
        "path \"src//a\" is not valid: it has an empty component (two '/' in a row)"
    );
    // Scopes of everything name nothing to check.
    writ.paths = Scope::All;
    writ.workers = Scope::All;
    assert_eq!(writ.check(), Ok(()));
}

#[test]
fn expiry_is_not_before_issue() {
    let mut writ = sample();
    writ.expires_ms = writ.issued_ms;
    assert_eq!(writ.check(), Ok(()));
    writ.expires_ms -= 1;
    assert_eq!(
        writ.check(),
        Err(WritError::ExpiresBeforeIssued {
            issued_ms: 1_700_000_000_000,
            expires_ms: 1_699_999_999_999,
        })
    );
}

#[test]
fn a_writ_too_large_to_encode_within_the_limit_is_refused() {
    // Each path is allowed alone; together they pass the byte limit.
    let mut writ = sample();
    let paths: BTreeSet<String> = (0..20)
        .map(|i| format!("{i}{}", "p".repeat(PATH_BYTES_MAX - 2)))
        .collect();
    writ.paths = Scope::Only(paths);
    match writ.check() {
        Err(WritError::TooLarge { len }) => assert!(len > WRIT_BYTES_MAX, "{len}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Writ::from_signing_bytes(&writ.signing_bytes()),
        Err(WritError::TooLarge { .. })
    ));
}

fn paths(list: &[&str]) -> Vec<String> {
    list.iter().map(|path| (*path).to_owned()).collect()
}

#[test]
fn admits_a_job_within_every_scope() {
    let writ = sample();
    assert_eq!(
        writ.admits(
            "build",
            Effect::Network,
            &paths(&["src", "src/a.rs", "docs/api/x"])
        ),
        Ok(())
    );
    assert_eq!(
        writ.admits("test", Effect::None, &paths(&["docs/api"])),
        Ok(())
    );
}

#[test]
fn refuses_a_worker_it_does_not_name() {
    let writ = sample();
    assert_eq!(
        writ.admits("deploy", Effect::None, &paths(&["src"])),
        Err(Exceeds::Worker {
            worker: "deploy".to_owned()
        })
    );
    assert_eq!(
        writ.admits("buil", Effect::None, &paths(&["src"])),
        Err(Exceeds::Worker {
            worker: "buil".to_owned()
        })
    );
    let mut any = sample();
    any.workers = Scope::All;
    assert_eq!(any.admits("deploy", Effect::None, &paths(&["src"])), Ok(()));
    any.workers = Scope::nothing();
    assert!(any.admits("build", Effect::None, &paths(&["src"])).is_err());
}

#[test]
fn refuses_an_effect_over_the_ceiling() {
    let refused = sample()
        .admits("build", Effect::Irreversible, &paths(&["src"]))
        .unwrap_err();
    assert_eq!(
        refused,
        Exceeds::Effect {
            effect: Effect::Irreversible,
            ceiling: Effect::Network
        }
    );
    assert_eq!(
        refused.to_string(),
        "effect irreversible is over the writ's ceiling network"
    );
}

#[test]
fn refuses_paths_outside_its_prefixes() {
    let writ = sample();
    for outside in ["srcx", "srcx/a", "docs", "docs/apix", "tests/a.rs"] {
        assert_eq!(
            writ.admits("build", Effect::None, &paths(&["src/ok", outside])),
            Err(Exceeds::Path {
                path: outside.to_owned()
            }),
            "{outside}"
        );
    }
    assert_eq!(
        writ.admits("build", Effect::None, &[]),
        Err(Exceeds::WholeTree)
    );
    let mut everywhere = sample();
    everywhere.paths = Scope::All;
    assert_eq!(everywhere.admits("build", Effect::None, &[]), Ok(()));
    assert_eq!(
        everywhere.admits("build", Effect::None, &paths(&["any/where"])),
        Ok(())
    );
}

#[test]
fn refuses_paths_that_are_not_paths_whatever_the_scope() {
    let mut writ = sample();
    for scope in [sample().paths, Scope::All] {
        writ.paths = scope;
        for bad in ["src/../etc", "", "/src", "src/", "src/./a"] {
            match writ.admits("build", Effect::None, &paths(&[bad])) {
                Err(Exceeds::InvalidPath { path, .. }) => assert_eq!(path, bad),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}

#[test]
fn writs_round_trip_through_serde() {
    let writ = sample();
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(&writ, config).unwrap();
    let (back, _): (Writ, usize) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
    assert_eq!(back, writ);
    let text = toml::to_string(&writ).unwrap();
    assert_eq!(toml::from_str::<Writ>(&text).unwrap(), writ);
}

// Randomized narrowing.

const WORKER_POOL: [&str; 6] = ["build", "test", "lint", "fmt", "deploy", "fetch"];
/// Path components. None is another with letters added, so `p` plus a letter is never in a
/// generated prefix's last place.
const COMPONENT_POOL: [&str; 4] = ["a", "b", "src", "doc"];
const COUNTER_POOL: [&str; 4] = ["tokens", "cost_millicents", "calls", "bytes"];
const SECRET_POOL: [&str; 5] = ["github-token", "npm", "aws.key", "db_pass", "s3"];
const EGRESS_POOL: [&str; 5] = [
    "https://api.example.com:443",
    "GET https://pypi.org:443",
    "GET,HEAD,POST https://x.org:8443",
    "http://127.0.0.1:8080",
    "POST http://[::1]:9000",
];

/// Whether `path` lies under `prefix`, by comparing component lists: written apart from
/// `path_under` so each checks the other.
fn oracle_under(path: &str, prefix: &str) -> bool {
    let path: Vec<&str> = path.split('/').collect();
    let prefix: Vec<&str> = prefix.split('/').collect();
    path.starts_with(&prefix)
}

fn pooled(pool: &'static [&'static str]) -> impl Strategy<Value = BTreeSet<String>> {
    prop::sample::subsequence(pool, 0..=pool.len())
        .prop_map(|chosen| chosen.into_iter().map(str::to_owned).collect())
}

fn name_scope(pool: &'static [&'static str]) -> impl Strategy<Value = Scope> {
    prop_oneof![1 => Just(Scope::All), 3 => pooled(pool).prop_map(Scope::Only)]
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(&COMPONENT_POOL[..]), 1..=3)
        .prop_map(|components| components.join("/"))
}

fn path_scope() -> impl Strategy<Value = Scope> {
    prop_oneof![
        1 => Just(Scope::All),
        3 => prop::collection::btree_set(path(), 0..5).prop_map(Scope::Only),
    ]
}

fn limit() -> impl Strategy<Value = u64> {
    prop_oneof![8 => 0..1000u64, 1 => Just(u64::MAX)]
}

fn parent_writ() -> impl Strategy<Value = Writ> {
    let counters = prop::collection::btree_map(
        prop::sample::select(&COUNTER_POOL[..]).prop_map(str::to_owned),
        limit(),
        0..=COUNTER_POOL.len(),
    );
    (
        (
            name_scope(&WORKER_POOL),
            path_scope(),
            name_scope(&EGRESS_POOL),
        ),
        prop::sample::select(&Effect::ALL[..]),
        (limit(), limit(), counters),
        pooled(&SECRET_POOL),
        (0..1_000_000u64, limit()),
        1..=DEPTH_MAX,
        any::<Option<u64>>(),
    )
        .prop_map(
            |(
                (workers, paths, egress),
                effect,
                (jobs, wall_secs, counters),
                secrets,
                times,
                depth,
                parent,
            )| {
                let (issued_ms, lifetime) = times;
                Writ {
                    subject: Subject {
                        uid: 1001,
                        user: "alice".to_owned(),
                    },
                    issuer: Subject {
                        uid: 0,
                        user: "root".to_owned(),
                    },
                    parent,
                    workers,
                    paths,
                    effect,
                    egress,
                    budget: Budget {
                        jobs,
                        wall_secs,
                        counters,
                    },
                    secrets,
                    issued_ms,
                    expires_ms: issued_ms.saturating_add(lifetime),
                    depth,
                }
            },
        )
}

/// splitmix64: the child is derived from its parent and a seed, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    /// A value in `low..=high`, the ends often.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        match self.next() % 4 {
            0 => low,
            1 => high,
            _ => match (high - low).checked_add(1) {
                Some(span) => low + self.next() % span,
                None => self.next(),
            },
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let at = usize::try_from(self.next() % items.len() as u64).unwrap();
        &items[at]
    }

    fn subset(&mut self, set: &BTreeSet<String>) -> BTreeSet<String> {
        set.iter().filter(|_| self.coin()).cloned().collect()
    }
}

fn random_path(rng: &mut Rng) -> String {
    let depth = 1 + rng.next() % 3;
    (0..depth)
        .map(|_| *rng.pick(&COMPONENT_POOL))
        .collect::<Vec<_>>()
        .join("/")
}

/// A child of `parent` that grants no more on any field and has less depth.
fn narrower(parent: &Writ, rng: &mut Rng) -> Writ {
    let workers = match &parent.workers {
        Scope::All if rng.coin() => Scope::All,
        Scope::All => {
            let pool = WORKER_POOL.iter().map(|w| (*w).to_owned()).collect();
            Scope::Only(rng.subset(&pool))
        }
        Scope::Only(theirs) => Scope::Only(rng.subset(theirs)),
    };
    let paths = match &parent.paths {
        Scope::All if rng.coin() => Scope::All,
        Scope::All => Scope::Only((0..rng.next() % 4).map(|_| random_path(rng)).collect()),
        Scope::Only(theirs) => Scope::Only(
            rng.subset(theirs)
                .into_iter()
                .map(|prefix| match rng.coin() {
                    true => prefix,
                    false => format!("{prefix}/{}", rng.pick(&COMPONENT_POOL)),
                })
                .collect(),
        ),
    };
    let rung = Effect::ALL
        .iter()
        .position(|e| *e == parent.effect)
        .unwrap();
    let effect = Effect::ALL[usize::try_from(rng.between(0, rung as u64)).unwrap()];
    let mut counters: BTreeMap<String, u64> = parent
        .budget
        .counters
        .iter()
        .map(|(name, bound)| (name.clone(), rng.between(0, *bound)))
        .collect();
    for name in COUNTER_POOL {
        if !parent.budget.counters.contains_key(name) && rng.coin() {
            counters.insert(name.to_owned(), rng.between(0, u64::MAX));
        }
    }
    let egress = match &parent.egress {
        Scope::All if rng.coin() => Scope::All,
        Scope::All => {
            let pool = EGRESS_POOL.iter().map(|e| (*e).to_owned()).collect();
            Scope::Only(rng.subset(&pool))
        }
        Scope::Only(theirs) => Scope::Only(rng.subset(theirs)),
    };
    let expires_ms = rng.between(0, parent.expires_ms);
    Writ {
        subject: Subject {
            uid: 2000 + u32::try_from(rng.next() % 1000).unwrap(),
            user: "bob".to_owned(),
        },
        issuer: parent.subject.clone(),
        parent: Some(rng.next()),
        workers,
        paths,
        effect,
        egress,
        budget: Budget {
            jobs: rng.between(0, parent.budget.jobs),
            wall_secs: rng.between(0, parent.budget.wall_secs),
            counters,
        },
        secrets: rng.subset(&parent.secrets),
        issued_ms: rng.between(0, expires_ms),
        expires_ms,
        depth: u32::try_from(rng.between(0, u64::from(parent.depth - 1))).unwrap(),
    }
}

/// A name from `pool` not in `taken`, or a made-up one when the pool is used up.
fn fresh_name(pool: &[&str], taken: &BTreeSet<String>, rng: &mut Rng) -> String {
    let free: Vec<&str> = pool
        .iter()
        .copied()
        .filter(|name| !taken.contains(*name))
        .collect();
    match free.is_empty() {
        true => format!("extra-{}", rng.next() % 1000),
        false => (*rng.pick(&free)).to_owned(),
    }
}

/// `child` with only `field` widened past `parent`, or `None` when `parent` leaves no
/// room (its scope is all, its limit the largest, it bounds no counter).
fn widened(child: &Writ, parent: &Writ, field: WritField, rng: &mut Rng) -> Option<Writ> {
    let mut wide = child.clone();
    match field {
        WritField::Workers => {
            let Scope::Only(theirs) = &parent.workers else {
                return None;
            };
            if rng.coin() {
                wide.workers = Scope::All;
            } else if let Scope::Only(mine) = &mut wide.workers {
                mine.insert(fresh_name(&WORKER_POOL, theirs, rng));
            }
        }
        WritField::Paths => {
            let Scope::Only(theirs) = &parent.paths else {
                return None;
            };
            let outside = |candidate: &str| !theirs.iter().any(|p| oracle_under(candidate, p));
            let mut candidates = vec![format!("zz/{}", rng.pick(&COMPONENT_POOL))];
            for prefix in theirs {
                // A prefix with its last component lengthened ("src" to "srcx"), and each
                // ancestor of a prefix ("a" for "a/b"), when no parent prefix covers them.
                let components: Vec<&str> = prefix.split('/').collect();
                candidates.push(format!("{prefix}x"));
                for end in 1..components.len() {
                    candidates.push(components[..end].join("/"));
                }
            }
            candidates.retain(|candidate| outside(candidate));
            if rng.next().is_multiple_of(4) {
                wide.paths = Scope::All;
            } else if let Scope::Only(mine) = &mut wide.paths {
                mine.insert(rng.pick(&candidates).clone());
            }
        }
        WritField::Effect => {
            let rung = Effect::ALL
                .iter()
                .position(|e| *e == parent.effect)
                .unwrap();
            let above = &Effect::ALL[rung + 1..];
            if above.is_empty() {
                return None;
            }
            wide.effect = *rng.pick(above);
        }
        WritField::Jobs => {
            let low = parent.budget.jobs.checked_add(1)?;
            wide.budget.jobs = rng.between(low, u64::MAX);
        }
        WritField::WallSecs => {
            let low = parent.budget.wall_secs.checked_add(1)?;
            wide.budget.wall_secs = rng.between(low, u64::MAX);
        }
        WritField::Counter => {
            let bounded: Vec<(&String, &u64)> = parent.budget.counters.iter().collect();
            if bounded.is_empty() {
                return None;
            }
            let (name, bound) = *rng.pick(&bounded);
            match bound.checked_add(1) {
                Some(low) if rng.coin() => {
                    wide.budget
                        .counters
                        .insert(name.clone(), rng.between(low, u64::MAX));
                }
                _ => {
                    wide.budget.counters.remove(name);
                }
            }
        }
        WritField::Secrets => {
            let name = fresh_name(&SECRET_POOL, &parent.secrets, rng);
            wide.secrets.insert(name);
        }
        WritField::Egress => {
            let Scope::Only(theirs) = &parent.egress else {
                return None;
            };
            if rng.coin() {
                wide.egress = Scope::All;
            } else if let Scope::Only(mine) = &mut wide.egress {
                // An origin the parent lacks, or one it has with a method it does not allow.
                match theirs.iter().find(|e| e.starts_with("GET ")) {
                    Some(entry) if rng.coin() => {
                        mine.insert(entry.replacen("GET ", "GET,PUT ", 1));
                    }
                    _ => {
                        mine.insert(format!("https://fresh-{}.org:443", rng.next() % 1000));
                    }
                }
            }
        }
        WritField::Expiry => {
            let low = parent.expires_ms.checked_add(1)?;
            wide.expires_ms = rng.between(low, u64::MAX);
        }
        WritField::Depth => {
            wide.depth =
                u32::try_from(rng.between(u64::from(parent.depth), u64::from(DEPTH_MAX))).unwrap();
        }
    }
    Some(wide)
}

/// A random valid parent; a random child narrower or equal on every field is accepted;
/// that child widened on any one field is refused, naming exactly that field. Every field
/// is widened in every case where the parent leaves room, and each must have been widened
/// many times over the run.
#[test]
fn narrowing_accepts_every_narrower_child_and_names_the_one_wider_field() {
    let widened_count = RefCell::new([0usize; WritField::ALL.len()]);
    let mut runner = TestRunner::new(Config::with_cases(512));
    runner
        .run(&(parent_writ(), any::<u64>()), |(parent, seed)| {
            prop_assert_eq!(parent.check(), Ok(()));
            let mut rng = Rng(seed);
            let child = narrower(&parent, &mut rng);
            prop_assert_eq!(child.check(), Ok(()));
            prop_assert_eq!(child.check_within(&parent), Ok(()), "{:?}", child);
            for (at, field) in WritField::ALL.into_iter().enumerate() {
                let Some(wide) = widened(&child, &parent, field, &mut rng) else {
                    continue;
                };
                widened_count.borrow_mut()[at] += 1;
                prop_assert_eq!(wide.check(), Ok(()));
                let refused = wide.check_within(&parent).map_err(|refusal| refusal.field);
                prop_assert_eq!(refused, Err(field), "{:?} within {:?}", wide, parent);
            }
            Ok::<(), TestCaseError>(())
        })
        .unwrap();
    let counts = widened_count.into_inner();
    for (field, count) in WritField::ALL.into_iter().zip(counts) {
        assert!(count >= 100, "{field} widened only {count} times");
    }
}

proptest! {
    #![proptest_config(Config::with_cases(512))]

    /// `path_under` agrees with comparing component lists, on components chosen so that
    /// one is often a string prefix of another.
    #[test]
    fn path_under_agrees_with_component_lists(
        path in prop::collection::vec(prop::sample::select(vec!["s", "sr", "src", "srcx"]), 1..4),
        prefix in prop::collection::vec(prop::sample::select(vec!["s", "sr", "src", "srcx"]), 1..4),
    ) {
        let (path, prefix) = (path.join("/"), prefix.join("/"));
        prop_assert_eq!(path_under(&path, &prefix), oracle_under(&path, &prefix));
    }

    /// A path scope lies within another exactly when each of its prefixes lies under one
    /// of the other's.
    #[test]
    fn path_scopes_nest_as_the_oracle_says(child in path_scope(), parent in path_scope()) {
        let expected = match (&child, &parent) {
            (_, Scope::All) => true,
            (Scope::All, Scope::Only(_)) => false,
            (Scope::Only(mine), Scope::Only(theirs)) => mine
                .iter()
                .all(|path| theirs.iter().any(|prefix| oracle_under(path, prefix))),
        };
        prop_assert_eq!(child.paths_within(&parent), expected);
    }
}
