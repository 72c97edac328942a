//! Effects that leave the workspace, through the real daemon: a step whose effect class is
//! `local` gets an `effect.begin` with its dispatch and exactly one `effect.end`; when a
//! later step fails or the process is cancelled, the process unwinds and runs the
//! compensations of the effects that took place, newest first; an effect whose attempt
//! was cut off by a SIGKILL of jitosd is never run again blindly (its verify job runs
//! first, or a person is asked); a second cancel ends an unwinding process at once; and
//! the built-in `materialize` writes a workspace's files into a directory only under a
//! root the operator granted, and its compensation (`materialize remove`) takes it away.
//!
//! Every test follows its process through the ledger as a "story": one short line per
//! dispatch, attempt end, effect record, question, answer, unwinding and end of that
//! process, each job named by the last part of its path (`a`, `a#compensate`,
//! `slow#verify`), so an assertion shows the whole order when it fails.
#![allow(clippy::unwrap_used)]

use std::{
    collections::BTreeMap,
    fs,
    path::Path,
    time::{Duration, Instant},
};

use jitos_proto::{AttemptState, Client, RecordView, Request, Response};
use jitos_system_tests::{
    all_records, assert_success, call, process_summary, processes_running, wait_until, Daemon,
    Sandbox,
};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// Seed of the first crash test run when `JITOS_EFFECT_SEED` is not set.
const SEED_DEFAULT: u64 = 0x5eed_e44e;
/// Crash test runs (each with a fresh daemon), alternating the verify's answer by parity.
const SEEDS: u64 = 4;
/// Range of the delay between the `effect.begin` and the SIGKILL; well below the slow
/// step's 3 s, so the kill always cuts it off.
const KILL_DELAY_MS_MAX: u64 = 1500;
/// How long a test waits for a record or a worker.
const WAIT: Duration = Duration::from_secs(20);

/// The method library of every test here.
const METHODS: &str = r#"
[task.two_effects_then_fail]
params = ["tag"]
[[task.two_effects_then_fail.method]]
name = "a_b_check"
steps = [{ task = "a", compensate = "undo_a" }, { task = "b", compensate = "undo_b" }, { task = "check" }]

[task.effect_then_long]
params = ["tag"]
[[task.effect_then_long.method]]
name = "a_long"
steps = [{ task = "a", compensate = "undo_a" }, { task = "long" }]

[task.verified]
params = ["tag", "verdict"]
[[task.verified.method]]
name = "slow_with_verify"
steps = [{ task = "slow", verify = "check_slow" }]

[task.unverified]
params = ["tag"]
[[task.unverified.method]]
name = "slow_without_verify"
steps = [{ task = "slow_alone" }]

[task.unverified_undoable]
params = ["tag"]
[[task.unverified_undoable.method]]
name = "slow_with_compensate"
steps = [{ task = "slow_alone", compensate = "undo_a" }]

[task.publish]
params = ["dir", "content"]
[[task.publish.method]]
name = "write_then_materialize"
steps = [{ task = "make_report" }, { task = "put" }]

[task.ship_then_fail]
params = ["dir", "content"]
[[task.ship_then_fail.method]]
name = "ship_then_refuse"
steps = [{ task = "make_report" }, { task = "ship", verify = "shipped", compensate = "unship" }, { task = "refuse" }]

[task.slow_undo_then_long]
params = ["tag"]
[[task.slow_undo_then_long.method]]
name = "a_long"
steps = [{ task = "a", compensate = "undo_slowly" }, { task = "long" }]

[task.unpublish]
params = ["dir"]
[[task.unpublish.method]]
name = "remove_only"
steps = [{ task = "unship" }]

[task.a]
params = ["tag"]
run = { worker = "shell", args = ["sh", "-c", "echo \"$JITOS_EFFECT_KEY\" a {tag}"], effect = "local", timeout_secs = 30 }
[task.undo_a]
params = ["tag"]
run = { worker = "shell", args = ["sh", "-c", "echo \"$JITOS_EFFECT_KEY\" undo a {tag}"], effect = "local", timeout_secs = 30 }
[task.b]
params = ["tag"]
run = { worker = "shell", args = ["sh", "-c", "echo \"$JITOS_EFFECT_KEY\" b {tag}"], effect = "local", timeout_secs = 30 }
[task.undo_b]
params = ["tag"]
run = { worker = "shell", args = ["sh", "-c", "echo \"$JITOS_EFFECT_KEY\" undo b {tag}"], effect = "local", timeout_secs = 30 }
[task.check]
params = ["tag"]
run = { worker = "shell", args = ["sh", "-c", "exit 1"], effect = "workspace", timeout_secs = 30, gate = true }
[task.undo_slowly]
params = ["tag"]
run = { worker = "shell", args = ["sh", "-c", "sleep 30; echo undo slowly {tag}"], effect = "local", timeout_secs = 60 }
[task.long]
params = ["tag"]
run = { worker = "shell", args = ["sh", "-c", "sleep 30; echo long {tag}"], effect = "workspace", timeout_secs = 60 }

[task.slow]
params = ["tag", "verdict"]
run = { worker = "shell", args = ["sh", "-c", "sleep 3; echo slow {tag}; echo \"$JITOS_EFFECT_KEY\" > slow.key"], effect = "local", timeout_secs = 30, retries = 1 }
[task.check_slow]
params = ["verdict"]
run = { worker = "shell", args = ["sh", "-c", "exit {verdict}"], effect = "workspace", timeout_secs = 30 }
[task.slow_alone]
params = ["tag"]
run = { worker = "shell", args = ["sh", "-c", "sleep 3; echo slow {tag}"], effect = "local", timeout_secs = 30 }

[task.make_report]
params = ["content"]
run = { worker = "shell", args = ["sh", "-c", "echo {content} > report.txt"], effect = "workspace", timeout_secs = 30 }
[task.put]
params = ["dir"]
run = { worker = "materialize", args = ["write", "{dir}"], effect = "local", timeout_secs = 30 }
[task.ship]
params = ["dir"]
run = { worker = "materialize", args = ["write", "{dir}"], effect = "local", timeout_secs = 30 }
[task.shipped]
params = ["dir"]
run = { worker = "materialize", args = ["verify", "{dir}"], effect = "local", timeout_secs = 30 }
[task.unship]
params = ["dir"]
run = { worker = "materialize", args = ["remove", "{dir}"], effect = "local", timeout_secs = 30 }
[task.refuse]
params = ["dir"]
run = { worker = "shell", args = ["sh", "-c", "exit 1"], effect = "workspace", timeout_secs = 30, gate = true }
"#;

/// The flags that make jitosd use the library (written into the sandbox), and `extra`.
fn flags(sandbox: &Sandbox, extra: &[&str]) -> Vec<String> {
    let dir = sandbox.path().join("methods");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("effects.toml"), METHODS).unwrap();
    let mut flags = vec!["--methods-dir".to_owned(), dir.display().to_string()];
    flags.extend(extra.iter().map(|f| (*f).to_owned()));
    flags
}

fn start(sandbox: &Sandbox, flags: &[String]) -> Daemon {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    sandbox.start_with(&flags)
}

/// Submits `goal` with `params`, allowing `workers`; the process id.
fn submit(client: &mut Client, goal: &str, params: &[(&str, &str)], workers: &[&str]) -> u64 {
    let mut intent = format!("goal = \"{goal}\"\n[params]\n");
    for (name, value) in params {
        intent.push_str(&format!("{name} = {value:?}\n"));
    }
    let workers: Vec<String> = workers.iter().map(|w| format!("{w:?}")).collect();
    intent.push_str(&format!("[allow]\nworkers = [{}]\n", workers.join(", ")));
    let request = Request::ProcessSubmit {
        intent,
        path: "effects.toml".to_owned(),
        writ: None,
    };
    match call(client, &request) {
        Response::ProcessSubmitted { process, .. } => process,
        other => panic!("submit answered {other:?}"),
    }
}

/// The short names of the jobs of `process`'s current plan, by index: the last part of
/// each job's path.
fn job_names(client: &mut Client, process: u64) -> Vec<String> {
    match call(client, &Request::ProcessShow(process)) {
        Response::Process(detail) => detail
            .jobs
            .iter()
            .map(|job| job.id.rsplit('/').next().unwrap_or(&job.id).to_owned())
            .collect(),
        other => panic!("show answered {other:?}"),
    }
}

/// The number after `prefix` in `text`, up to the next character that is not a digit.
fn number_after(text: &str, prefix: &str) -> Option<u64> {
    let rest = text.split_once(prefix)?.1;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The job index a summary's tail starting at its number names: `#N` counts from 1 (as
/// dispatches and effect records say), a bare `N` from 0 (as retries say).
fn job_at(rest: &str) -> u64 {
    match rest.strip_prefix('#') {
        Some(one_based) => number_after(one_based, "").unwrap() - 1,
        None => number_after(rest, "").unwrap(),
    }
}

/// What the ledger says of one process, in order.
struct Story {
    /// One short line per record of the process that matters here.
    lines: Vec<String>,
    /// The `effect.begin`s: job name, attempt, idempotency key.
    begins: Vec<(String, u64, String)>,
    /// The `effect.end`s: job name, idempotency key, what and by whom (the summary's tail).
    ends: Vec<(String, String, String)>,
    /// The attempts dispatched: job name and attempt id.
    attempts: Vec<(String, u64)>,
}

impl Story {
    fn read(client: &mut Client, process: u64, names: &[String]) -> Story {
        story(&all_records(client), process, names)
    }

    fn shown(&self) -> String {
        self.lines.join("\n")
    }

    /// The attempts of job `name`, in order.
    fn attempts_of(&self, name: &str) -> Vec<u64> {
        self.attempts
            .iter()
            .filter(|(job, _)| job == name)
            .map(|(_, attempt)| *attempt)
            .collect()
    }

    /// The idempotency key of the effect of job `name` (its first begin's).
    fn key_of(&self, name: &str) -> &str {
        self.begins
            .iter()
            .find(|(job, _, _)| job == name)
            .map(|(_, _, key)| key.as_str())
            .unwrap_or_else(|| panic!("{name} began no effect:\n{}", self.shown()))
    }
}

/// The artifact `name` (`stdout`, `materialize`, …) of the ended `attempt`, as text.
fn artifact(client: &mut Client, attempt: u64, name: &str) -> String {
    let view = match call(client, &Request::JobShow(attempt)) {
        Response::Job(view) => view,
        other => panic!("job show {attempt} answered {other:?}"),
    };
    let AttemptState::Done { artifacts, .. } = &view.state else {
        panic!("attempt {attempt} did not end done: {view:?}");
    };
    let blob = artifacts
        .iter()
        .find(|(artifact, _)| artifact == name)
        .map(|(_, blob)| blob.parse().unwrap())
        .unwrap_or_else(|| panic!("attempt {attempt} has no {name}: {artifacts:?}"));
    match call(client, &Request::GetBlobs(vec![blob])) {
        Response::Blobs(mut blobs) => String::from_utf8(blobs.remove(0)).unwrap(),
        other => panic!("get blobs answered {other:?}"),
    }
}

fn story(records: &[RecordView], process: u64, names: &[String]) -> Story {
    let name = |job: u64| {
        names
            .get(job as usize)
            .cloned()
            .unwrap_or_else(|| format!("job {job}"))
    };
    let mine = format!("process {process}: job ");
    let mut attempts: BTreeMap<u64, String> = BTreeMap::new();
    let mut story = Story {
        lines: Vec::new(),
        begins: Vec::new(),
        ends: Vec::new(),
        attempts: Vec::new(),
    };
    for record in records {
        let summary = record.summary.as_str();
        let line = match record.kind.as_str() {
            "job.dispatch" => {
                let Some((_, owner)) = summary.split_once(" for process ") else {
                    continue;
                };
                let (owner_process, job) = owner.split_once(" job #").unwrap();
                if owner_process.parse::<u64>().unwrap() != process {
                    continue;
                }
                let job = name(job.parse::<u64>().unwrap() - 1);
                attempts.insert(record.seq, job.clone());
                story.attempts.push((job.clone(), record.seq));
                format!("dispatch {job}")
            }
            kind @ ("job.done" | "job.failed" | "job.refused") => {
                let attempt = number_after(summary, "attempt ").unwrap();
                let Some(job) = attempts.get(&attempt) else {
                    continue;
                };
                match kind {
                    "job.done" => {
                        let status = number_after(summary, "exit status ").unwrap();
                        format!("done {job} (exit {status})")
                    }
                    "job.failed" => {
                        let cause = summary
                            .split_once(" failed (")
                            .and_then(|(_, rest)| rest.split_once(')'))
                            .map_or("?", |(cause, _)| cause);
                        format!("failed {job} ({cause})")
                    }
                    _ => format!("refused {job}"),
                }
            }
            "effect.begin" => {
                let Some(rest) = summary.strip_prefix(&mine) else {
                    continue;
                };
                let job = name(job_at(rest));
                let attempt = number_after(rest, "(attempt ").unwrap();
                let key = rest
                    .split_once("idempotency key ")
                    .unwrap()
                    .1
                    .trim_end_matches(')')
                    .to_owned();
                story.begins.push((job.clone(), attempt, key));
                format!("begin {job}")
            }
            "effect.end" => {
                let Some(rest) = summary.strip_prefix(&mine) else {
                    continue;
                };
                let job = name(job_at(rest));
                let (key, said) = rest
                    .split_once("(key ")
                    .unwrap()
                    .1
                    .split_once(") ")
                    .unwrap();
                story
                    .ends
                    .push((job.clone(), key.to_owned(), said.to_owned()));
                format!("end {job}: {said}")
            }
            "process.unwind" if summary.starts_with(&format!("process {process} unwinds")) => {
                "unwind".to_owned()
            }
            "process.ask" if summary.starts_with(&format!("process {process} asks")) => {
                "ask".to_owned()
            }
            "process.answer" => {
                match summary.strip_prefix(&format!("process {process} answered: ")) {
                    Some(answer) => format!("answer {answer}"),
                    None => continue,
                }
            }
            "process.retry" if summary.starts_with(&mine) => {
                let rest = &summary[mine.len()..];
                format!("retry {}", name(job_at(rest)))
            }
            "process.end" => match summary.strip_prefix(&format!("process {process} ended: ")) {
                Some(outcome) => format!(
                    "ended {}",
                    outcome.split([':', ' ']).next().unwrap_or(outcome)
                ),
                None => continue,
            },
            _ => continue,
        };
        story.lines.push(line);
    }
    story
}

/// Asserts `story` is `expected`, showing both when not.
#[track_caller]
fn assert_story(story: &Story, expected: &[&str]) {
    assert_eq!(
        story.lines,
        expected,
        "the ledger told:\n{}\n\nexpected:\n{}",
        story.shown(),
        expected.join("\n")
    );
}

/// Waits until `process` is `status` and returns its summary; when it does not get there,
/// fails with where it stands and what the ledger told of it.
fn wait_status(
    sandbox: &Sandbox,
    client: &mut Client,
    process: u64,
    names: &[String],
    status: &str,
) -> serde_json::Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let summary = process_summary(sandbox, process);
        if summary["status"] == status {
            return summary;
        }
        if Instant::now() > deadline {
            panic!(
                "process {process} is not {status} after {WAIT:?}: {summary}\nthe ledger told:\n{}",
                Story::read(client, process, names).shown()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts that folding the ledger from genesis reproduces the live state: the effect
/// records replay as they were decided.
fn assert_replays(client: &mut Client) {
    match call(client, &Request::ReplayVerify) {
        Response::Replay(report) => assert!(report.matches(), "{report:?}"),
        other => panic!("replay answered {other:?}"),
    }
}

/// Waits until the ledger holds an `effect.begin` of `process`.
fn wait_for_begin(client: &mut Client, process: u64) {
    let mine = format!("process {process}: job ");
    wait_until(
        &format!("an effect.begin of process {process}"),
        WAIT,
        || {
            all_records(client)
                .iter()
                .any(|r| r.kind == "effect.begin" && r.summary.starts_with(&mine))
        },
    );
}

/// SIGKILLs `daemon`, waits until the workers whose command line holds `tag` are gone (so
/// none finishes its effect behind the next daemon's back), and starts another.
fn kill_and_restart(sandbox: &Sandbox, daemon: Daemon, flags: &[String], tag: &str) -> Daemon {
    daemon.kill9();
    wait_until(&format!("the death of the workers of {tag}"), WAIT, || {
        processes_running(tag).is_empty()
    });
    start(sandbox, flags)
}

/// A tag unique to this run of test `what`, put in its commands' command lines.
fn tag(what: &str) -> String {
    format!("effects-{what}-{}", std::process::id())
}

// Goal: when a later step fails, the effects that took place are compensated newest
// first, each compensation recorded, and only then does the process end, failed. Method:
// `a` and `b` (local effects, each with a compensation) succeed, then the gate `check`
// exits 1.
#[test]
fn compensations_run_newest_first_and_are_recorded() {
    let sandbox = Sandbox::new();
    let flags = flags(&sandbox, &[]);
    let daemon = start(&sandbox, &flags);
    let mut client = daemon.client();
    let tag = tag("compensate");
    let pid = submit(
        &mut client,
        "two_effects_then_fail",
        &[("tag", &tag)],
        &["shell"],
    );
    let names = job_names(&mut client, pid);
    let ended = wait_status(&sandbox, &mut client, pid, &names, "failed");
    assert!(
        ended["detail"].as_str().unwrap().contains("check failed"),
        "{ended}"
    );
    let story = Story::read(&mut client, pid, &names);
    assert_story(
        &story,
        &[
            "dispatch a",
            "begin a",
            "done a (exit 0)",
            "end a: took place (its attempt said so)",
            "dispatch b",
            "begin b",
            "done b (exit 0)",
            "end b: took place (its attempt said so)",
            "dispatch check",
            "done check (exit 1)",
            "unwind",
            "dispatch b#compensate",
            "done b#compensate (exit 0)",
            "dispatch a#compensate",
            "done a#compensate (exit 0)",
            "ended failed",
        ],
    );
    // Each effect has its own key, and its one end names it.
    let keys: Vec<&str> = story.begins.iter().map(|(_, _, k)| k.as_str()).collect();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1]);
    let ended_keys: Vec<&str> = story.ends.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(keys, ended_keys);
    // Each step's worker, and the compensation that undoes it, got that effect's key in
    // JITOS_EFFECT_KEY.
    for job in ["a", "b"] {
        let key = story.key_of(job);
        for (name, said) in [
            (job.to_owned(), format!("{key} {job} {tag}\n")),
            (
                format!("{job}#compensate"),
                format!("{key} undo {job} {tag}\n"),
            ),
        ] {
            let [attempt] = story.attempts_of(&name)[..] else {
                panic!("{name} did not run once:\n{}", story.shown());
            };
            assert_eq!(artifact(&mut client, attempt, "stdout"), said, "{name}");
        }
    }
    assert_replays(&mut client);
}

// Goal: a cancel unwinds too: the effect that took place is compensated, and the
// process then ends cancelled. Method: `a` (a local effect with a compensation) succeeds,
// then `long` sleeps 30 s; cancel while it runs.
#[test]
fn a_cancel_unwinds_the_effects_that_took_place() {
    let sandbox = Sandbox::new();
    let flags = flags(&sandbox, &[]);
    let daemon = start(&sandbox, &flags);
    let mut client = daemon.client();
    let tag = tag("cancel");
    let pid = submit(
        &mut client,
        "effect_then_long",
        &[("tag", &tag)],
        &["shell"],
    );
    let names = job_names(&mut client, pid);
    let long = format!("long {tag}");
    wait_until("the long step", WAIT, || {
        !processes_running(&long).is_empty()
    });
    assert_success("cancel", &sandbox.jitos(&["cancel", &pid.to_string()]));
    wait_status(&sandbox, &mut client, pid, &names, "cancelled");
    wait_until("the long step's end", WAIT, || {
        processes_running(&long).is_empty()
    });
    let story = Story::read(&mut client, pid, &names);
    assert_story(
        &story,
        &[
            "dispatch a",
            "begin a",
            "done a (exit 0)",
            "end a: took place (its attempt said so)",
            "dispatch long",
            "unwind",
            "failed long (cancelled)",
            "dispatch a#compensate",
            "done a#compensate (exit 0)",
            "ended cancelled",
        ],
    );
    assert_replays(&mut client);
}

// Goal: a second cancel while a process unwinds ends it at once: the compensation that
// runs is stopped, and nothing more is dispatched. Method: `a` succeeds, `long` runs;
// cancel; once `a`'s slow compensation runs, cancel again.
#[test]
fn a_second_cancel_while_unwinding_ends_the_process_at_once() {
    let sandbox = Sandbox::new();
    let flags = flags(&sandbox, &[]);
    let daemon = start(&sandbox, &flags);
    let mut client = daemon.client();
    let tag = tag("cancel-twice");
    let pid = submit(
        &mut client,
        "slow_undo_then_long",
        &[("tag", &tag)],
        &["shell"],
    );
    let names = job_names(&mut client, pid);
    let long = format!("long {tag}");
    let undo = format!("undo slowly {tag}");
    wait_until("the long step", WAIT, || {
        !processes_running(&long).is_empty()
    });
    assert_success("cancel", &sandbox.jitos(&["cancel", &pid.to_string()]));
    wait_until("the slow compensation", WAIT, || {
        !processes_running(&undo).is_empty()
    });
    assert_eq!(process_summary(&sandbox, pid)["status"], "running");
    assert_success(
        "cancel again",
        &sandbox.jitos(&["cancel", &pid.to_string()]),
    );
    assert_eq!(process_summary(&sandbox, pid)["status"], "cancelled");
    wait_until("the compensation's end", WAIT, || {
        processes_running(&undo).is_empty()
    });
    // Its attempt's end is recorded once its worker is reaped, after the process's end.
    wait_until("the compensation's terminal record", WAIT, || {
        Story::read(&mut client, pid, &names)
            .lines
            .iter()
            .any(|line| line.starts_with("failed a#compensate"))
    });
    let story = Story::read(&mut client, pid, &names);
    assert_story(
        &story,
        &[
            "dispatch a",
            "begin a",
            "done a (exit 0)",
            "end a: took place (its attempt said so)",
            "dispatch long",
            "unwind",
            "failed long (cancelled)",
            "dispatch a#compensate",
            "ended cancelled",
            "failed a#compensate (cancelled)",
        ],
    );
    assert_replays(&mut client);
}

/// One crash run: `slow` (a local effect, verified by `check_slow`, which exits
/// `verdict`) is SIGKILLed with jitosd `delay_ms` after its `effect.begin` is recorded.
fn verified_after_sigkill(seed: u64, delay_ms: u64, verdict: u8) {
    let sandbox = Sandbox::new();
    let flags = flags(&sandbox, &[]);
    let daemon = start(&sandbox, &flags);
    let mut client = daemon.client();
    let tag = format!("{}-{seed}", tag("verify"));
    let pid = submit(
        &mut client,
        "verified",
        &[("tag", &tag), ("verdict", &verdict.to_string())],
        &["shell"],
    );
    let names = job_names(&mut client, pid);
    wait_for_begin(&mut client, pid);
    std::thread::sleep(Duration::from_millis(delay_ms));
    drop(client);
    let daemon = kill_and_restart(&sandbox, daemon, &flags, &tag);
    let mut client = daemon.client();
    wait_status(&sandbox, &mut client, pid, &names, "done");
    let story = Story::read(&mut client, pid, &names);
    let context = format!("seed {seed:#x}, killed {delay_ms} ms after the begin");
    let cut_off = [
        "dispatch slow",
        "begin slow",
        "failed slow (interrupted)",
        "dispatch slow#verify",
    ];
    let expected: Vec<&str> = if verdict == 0 {
        // It took place: the step is done and never runs again.
        cut_off
            .into_iter()
            .chain([
                "done slow#verify (exit 0)",
                "end slow: took place (its verify job said so)",
                "ended done",
            ])
            .collect()
    } else {
        // It did not: the step runs again, as its second try, under the same key.
        cut_off
            .into_iter()
            .chain([
                "done slow#verify (exit 1)",
                "end slow: did not take place (its verify job said so)",
                "retry slow",
                "dispatch slow",
                "begin slow",
                "done slow (exit 0)",
                "end slow: took place (its attempt said so)",
                "ended done",
            ])
            .collect()
    };
    assert_eq!(
        story.lines,
        expected,
        "{context}: the ledger told:\n{}",
        story.shown()
    );
    let keys: Vec<&str> = story.begins.iter().map(|(_, _, k)| k.as_str()).collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "{context}: {keys:?}");
    assert!(
        story.ends.iter().all(|(_, k, _)| k == keys[0]),
        "{context}: {:?}",
        story.ends
    );
    // The attempt that ran to its end had the effect's key in its environment, and its
    // file is what reached the system.
    let checkout = sandbox.path().join("checkout");
    if verdict != 0 {
        assert_success(
            "checkout",
            &sandbox.jitos(&["tree", "checkout", checkout.to_str().unwrap()]),
        );
        assert_eq!(
            fs::read_to_string(checkout.join("slow.key"))
                .unwrap()
                .trim(),
            keys[0],
            "{context}"
        );
    }
    assert_replays(&mut client);
}

// Goal: an effect whose attempt was cut off by a SIGKILL of jitosd is never run again
// blindly: after the restart its verify job runs first; when it exits 0 the step is done
// without running again, and when it exits 1 the step runs again (after an `effect.end`
// saying it did not take place), under the same idempotency key. Method: seeded kill
// delays after the `effect.begin`; each run a fresh daemon, the verify's answer
// alternating by the seed's parity; the runs go side by side.
#[test]
fn an_effect_cut_off_by_sigkill_is_verified_never_rerun_blindly() {
    let base = std::env::var("JITOS_EFFECT_SEED")
        .map(|text| {
            text.trim()
                .parse()
                .unwrap_or_else(|e| panic!("JITOS_EFFECT_SEED={text:?}: {e}"))
        })
        .unwrap_or(SEED_DEFAULT);
    std::thread::scope(|scope| {
        for seed in base..base + SEEDS {
            let delay_ms = StdRng::seed_from_u64(seed).random_range(0..=KILL_DELAY_MS_MAX);
            let verdict = u8::from(seed % 2 == 1);
            eprintln!(
                "seed {seed:#x}: SIGKILL {delay_ms} ms after the begin, verify exits {verdict}"
            );
            scope.spawn(move || verified_after_sigkill(seed, delay_ms, verdict));
        }
    });
}

// Goal: a person who answers fail to "did it take effect?" leaves nothing to compensate
// (no one knows the effect took place): the effect ends unknown before the answer, the
// process ends failed at once, and its workspace is discarded with it. Method: a step
// with a compensate job but no verify, cut off by a SIGKILL, answered fail.
#[test]
fn answering_fail_after_a_crash_ends_the_effect_unknown_and_the_process() {
    let sandbox = Sandbox::new();
    let flags = flags(&sandbox, &[]);
    let daemon = start(&sandbox, &flags);
    let mut client = daemon.client();
    let tag = tag("fail");
    let pid = submit(
        &mut client,
        "unverified_undoable",
        &[("tag", &tag)],
        &["shell"],
    );
    let names = job_names(&mut client, pid);
    wait_for_begin(&mut client, pid);
    std::thread::sleep(Duration::from_millis(300));
    drop(client);
    let daemon = kill_and_restart(&sandbox, daemon, &flags, &tag);
    let mut client = daemon.client();
    wait_status(&sandbox, &mut client, pid, &names, "waiting");
    assert_success(
        "resume fail",
        &sandbox.jitos(&["resume", &pid.to_string(), "--value", "\"fail\""]),
    );
    wait_status(&sandbox, &mut client, pid, &names, "failed");
    let story = Story::read(&mut client, pid, &names);
    assert!(
        !story.shown().contains("compensate"),
        "nothing is known to undo:\n{}",
        story.shown()
    );
    assert_eq!(story.ends.len(), 1, "{}", story.shown());
    let shown = assert_success(
        "inspect",
        &sandbox.jitos(&["--json", "inspect", &pid.to_string()]),
    );
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["lanes"][0]["state"], "discarded", "{shown:#}");
    // The workspace itself was discarded with the answer, not left open and ownerless.
    let sws = shown["lanes"][0]["sws"].as_u64().unwrap().to_string();
    let workspace = assert_success("sws show", &sandbox.jitos(&["--json", "sws", "show", &sws]));
    let workspace: serde_json::Value = serde_json::from_str(&workspace).unwrap();
    assert!(
        workspace["summary"]["state"].get("discarded").is_some(),
        "{workspace:#}"
    );
    assert_replays(&mut client);
}

// Goal: an effect cut off by a SIGKILL, with no verify job, waits for a person; `skip`
// (it took place) ends it as a person's word and the process completes without running
// the step again. Method: SIGKILL jitosd while `slow_alone` runs; restart; inspect;
// resume with "skip".
#[test]
fn an_effect_without_verify_waits_for_a_person_after_sigkill() {
    let sandbox = Sandbox::new();
    let flags = flags(&sandbox, &[]);
    let daemon = start(&sandbox, &flags);
    let mut client = daemon.client();
    let tag = tag("person");
    let pid = submit(&mut client, "unverified", &[("tag", &tag)], &["shell"]);
    let names = job_names(&mut client, pid);
    wait_for_begin(&mut client, pid);
    std::thread::sleep(Duration::from_millis(300));
    drop(client);
    let daemon = kill_and_restart(&sandbox, daemon, &flags, &tag);
    let mut client = daemon.client();
    let waiting = wait_status(&sandbox, &mut client, pid, &names, "waiting");
    let question = waiting["detail"].as_str().unwrap();
    assert!(
        question.contains("slow_alone reaches beyond its workspace")
            && question.contains(&format!("idempotency key jitos-{pid}-"))
            && question.contains("retry (it did not), skip (it did) or fail"),
        "{question}"
    );
    // It stays waiting: nothing runs the step again meanwhile.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(process_summary(&sandbox, pid)["status"], "waiting");
    assert_success(
        "resume skip",
        &sandbox.jitos(&["resume", &pid.to_string(), "--value", "\"skip\""]),
    );
    wait_status(&sandbox, &mut client, pid, &names, "done");
    let story = Story::read(&mut client, pid, &names);
    assert_story(
        &story,
        &[
            "dispatch slow_alone",
            "begin slow_alone",
            "failed slow_alone (interrupted)",
            "ask",
            "answer take the job as done",
            "end slow_alone: took place (a person said so)",
            "ended done",
        ],
    );
    assert_replays(&mut client);
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Submits `publish` of `content` into `dir` and asserts it fails, its `put` refused
/// before anything was written; what the built-in said.
fn publish_refused(sandbox: &Sandbox, client: &mut Client, dir: &str, content: &str) -> String {
    let pid = submit(
        client,
        "publish",
        &[("dir", dir), ("content", content)],
        &["shell", "materialize"],
    );
    let names = job_names(client, pid);
    wait_status(sandbox, client, pid, &names, "failed");
    let story = Story::read(client, pid, &names);
    assert_story(
        &story,
        &[
            "dispatch make_report",
            "done make_report (exit 0)",
            "dispatch put",
            "begin put",
            "done put (exit 2)",
            "end put: did not take place (its attempt said so)",
            "ended failed",
        ],
    );
    artifact(client, story.attempts_of("put")[0], "materialize")
}

// Goal: the built-in `materialize` writes the workspace's files into a directory under
// the root the operator granted, swapped in whole (no staging directory is left), as a
// recorded local effect; a directory outside every granted root, one named with `..`, or
// one reached through a symlink under the root is refused, the process fails and nothing
// is written outside the root. Method: jitosd with `--output-root`; a shell step writes
// report.txt, then `put` materializes into ROOT/site; then three processes aim elsewhere.
#[test]
fn materialize_writes_only_under_a_granted_root() {
    let sandbox = Sandbox::new();
    let root = sandbox.path().join("out");
    let elsewhere = sandbox.path().join("elsewhere");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&elsewhere).unwrap();
    let flags = flags(&sandbox, &["--output-root", root.to_str().unwrap()]);
    let daemon = start(&sandbox, &flags);
    let mut client = daemon.client();

    let site = root.join("site");
    let pid = submit(
        &mut client,
        "publish",
        &[("dir", site.to_str().unwrap()), ("content", "granted")],
        &["shell", "materialize"],
    );
    let names = job_names(&mut client, pid);
    wait_status(&sandbox, &mut client, pid, &names, "done");
    let story = Story::read(&mut client, pid, &names);
    assert_story(
        &story,
        &[
            "dispatch make_report",
            "done make_report (exit 0)",
            "dispatch put",
            "begin put",
            "done put (exit 0)",
            "end put: took place (its attempt said so)",
            "ended done",
        ],
    );
    let said = artifact(&mut client, story.attempts_of("put")[0], "materialize");
    assert!(said.starts_with("wrote 1 files"), "{said}");
    assert_eq!(listing(&root), ["site"]);
    assert_eq!(listing(&site), ["report.txt"]);
    assert_eq!(
        fs::read_to_string(site.join("report.txt")).unwrap(),
        "granted\n"
    );

    let outside = elsewhere.join("site");
    let said = publish_refused(&sandbox, &mut client, outside.to_str().unwrap(), "outside");
    assert!(
        said.contains("is not under a granted output root"),
        "{said}"
    );
    let climbing = format!("{}/../elsewhere/site", root.display());
    let said = publish_refused(&sandbox, &mut client, &climbing, "climbing");
    assert!(said.contains("without . or .. components"), "{said}");
    std::os::unix::fs::symlink(&elsewhere, root.join("link")).unwrap();
    let through = root.join("link").join("site");
    let said = publish_refused(&sandbox, &mut client, through.to_str().unwrap(), "linked");
    assert!(said.contains("is a symlink"), "{said}");

    assert!(listing(&elsewhere).is_empty(), "{:?}", listing(&elsewhere));
    assert_eq!(listing(&root), ["link", "site"]);
    assert_eq!(
        fs::read_to_string(site.join("report.txt")).unwrap(),
        "granted\n"
    );
    assert_replays(&mut client);
}

// Goal: `materialize` is a saga's step like any other: when a later step fails, its
// compensation (`materialize remove`) takes the directory it wrote away again, and its
// verify job is not needed. Method: make report.txt, `put` it into ROOT/site (verify
// `materialize verify`, compensate `materialize remove`), then a gate exits 1.
#[test]
fn a_materialized_directory_is_removed_by_its_compensation() {
    let sandbox = Sandbox::new();
    let root = sandbox.path().join("out");
    fs::create_dir_all(&root).unwrap();
    let flags = flags(&sandbox, &["--output-root", root.to_str().unwrap()]);
    let daemon = start(&sandbox, &flags);
    let mut client = daemon.client();
    let site = root.join("site");
    let pid = submit(
        &mut client,
        "ship_then_fail",
        &[("dir", site.to_str().unwrap()), ("content", "shipped")],
        &["shell", "materialize"],
    );
    let names = job_names(&mut client, pid);
    wait_status(&sandbox, &mut client, pid, &names, "failed");
    let story = Story::read(&mut client, pid, &names);
    assert_story(
        &story,
        &[
            "dispatch make_report",
            "done make_report (exit 0)",
            "dispatch ship",
            "begin ship",
            "done ship (exit 0)",
            "end ship: took place (its attempt said so)",
            "dispatch refuse",
            "done refuse (exit 1)",
            "unwind",
            "dispatch ship#compensate",
            "done ship#compensate (exit 0)",
            "ended failed",
        ],
    );
    let wrote = artifact(&mut client, story.attempts_of("ship")[0], "materialize");
    assert!(wrote.starts_with("wrote 1 files"), "{wrote}");
    let removed = artifact(
        &mut client,
        story.attempts_of("ship#compensate")[0],
        "materialize",
    );
    assert_eq!(removed, format!("removed {}", site.display()));
    assert!(listing(&root).is_empty(), "{:?}", listing(&root));
    assert_replays(&mut client);
}

// Goal: `materialize remove` (a compensation) removes only under a granted root, as
// `write` writes only there: a directory reached through a symlink under the root is
// refused, and what lies beyond the link stays. Method: ROOT/link points at a directory
// outside the root holding site/keep.txt; a process removes ROOT/link/site.
#[test]
fn materialize_remove_does_not_follow_a_symlink_out_of_the_root() {
    let sandbox = Sandbox::new();
    let root = sandbox.path().join("out");
    let elsewhere = sandbox.path().join("elsewhere");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(elsewhere.join("site")).unwrap();
    fs::write(elsewhere.join("site").join("keep.txt"), "keep\n").unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("link")).unwrap();
    let flags = flags(&sandbox, &["--output-root", root.to_str().unwrap()]);
    let daemon = start(&sandbox, &flags);
    let mut client = daemon.client();
    let through = root.join("link").join("site");
    let pid = submit(
        &mut client,
        "unpublish",
        &[("dir", through.to_str().unwrap())],
        &["materialize"],
    );
    let names = job_names(&mut client, pid);
    let deadline = Instant::now() + WAIT;
    while process_summary(&sandbox, pid)["status"] == "running" {
        assert!(Instant::now() < deadline, "process {pid} never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    let story = Story::read(&mut client, pid, &names);
    assert_eq!(
        fs::read_to_string(elsewhere.join("site").join("keep.txt")).ok(),
        Some("keep\n".to_owned()),
        "removing {} reached outside the root:\n{}",
        through.display(),
        story.shown()
    );
    assert_eq!(process_summary(&sandbox, pid)["status"], "failed");
}
