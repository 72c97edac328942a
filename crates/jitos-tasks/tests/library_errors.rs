//! Bad library and intent files: each mistake is refused with a message that names the
//! file, the line and what to do, and a good file is the control.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use jitos_tasks::{Intent, Library, SourceError};

const GOOD: &str = r#"
[task.top]
params = ["x"]

[[task.top.method]]
name = "first"
when = [{ param = "x", equals = "yes" }]
steps = [{ task = "leaf" }, { task = "leaf", id = "again", with = { x = "{x}!" } }]

[task.leaf]
params = ["x"]
run = { worker = "shell", args = ["echo", "{x}"], effect = "none", timeout_secs = 5 }
"#;

fn parse(text: &str) -> Result<Library, SourceError> {
    Library::parse(text, Path::new("lib.toml"))
}

/// Asserts that `text` is refused at `line` with a message containing `words`.
fn refused_at(text: &str, line: usize, words: &str) {
    let error = parse(text).expect_err(&format!("accepted:\n{text}"));
    assert_eq!(error.at.map(|(l, _)| l), Some(line), "{error}");
    assert!(
        error.to_string().contains(words),
        "{error} does not say {words:?}"
    );
    assert!(error.to_string().starts_with("lib.toml:"), "{error}");
}

// Goal: every kind of mistake in a library is refused at its line. Method: break one thing
// of a good library at a time.
#[test]
fn each_mistake_is_refused_at_its_line() {
    assert!(parse(GOOD).is_ok(), "control: the good library parses");
    refused_at(&GOOD.replace("[task.leaf]", "[task.leaf"), 10, "");
    refused_at(
        &GOOD.replace("{ task = \"leaf\" },", "{ task = \"leef\" },"),
        8,
        "leef",
    );
    refused_at(
        &GOOD.replace("args = [\"echo\", \"{x}\"]", "args = [\"{y}\"]"),
        12,
        "{y}",
    );
    refused_at(
        &GOOD.replace("equals = \"yes\"", "equals = \"{x\""),
        7,
        "not closed",
    );
    refused_at(
        &GOOD.replace("timeout_secs = 5", "timeout_secs = 0"),
        12,
        "timeout_secs",
    );
    refused_at(&GOOD.replace("[task.top]", "[task.Top]"), 2, "lowercase");
    refused_at(
        &GOOD.replace("with = { x = \"{x}!\" }", "with = { y = \"1\" }"),
        8,
        "does not take",
    );
    refused_at(
        &GOOD.replace("id = \"again\", ", "id = \"again\", after = [\"leaf\"], "),
        8,
        "order = \"partial\"",
    );
    refused_at(
        &GOOD
            .replace(
                "name = \"first\"",
                "name = \"first\"\nrace = true\norder = \"partial\"",
            )
            .replace("id = \"again\", ", "id = \"again\", after = [\"leaf\"], "),
        10,
        "races",
    );
    refused_at(
        &GOOD.replace(
            "run = { worker",
            "ask = { question = \"?\" }\nrun = { worker",
        ),
        10,
        "exactly one",
    );
    refused_at(
        &GOOD.replace("effect = \"none\"", "effect = \"world\""),
        12,
        "",
    );
    refused_at(
        &GOOD.replace("[task.leaf]", "[task.leaf]\ncolour = 1"),
        11,
        "colour",
    );
}

// Goal: a task reachable from itself is refused, naming the cycle. Method: a leaf that
// calls the top task.
#[test]
fn a_cycle_is_refused_with_its_path() {
    let cyclic = GOOD.replace(
        "run = { worker = \"shell\", args = [\"echo\", \"{x}\"], effect = \"none\", timeout_secs = 5 }",
        "[[task.leaf.method]]\nname = \"back\"\nsteps = [{ task = \"top\" }]",
    );
    let error = parse(&cyclic).unwrap_err();
    let text = error.to_string();
    // The walk goes by name, so the cycle is reported from `leaf`.
    assert!(
        text.contains("cycle") && text.contains("leaf -> top -> leaf"),
        "{text}"
    );
}

// Goal: a decomposition deeper than the limit is refused. Method: a chain of 17 compound
// tasks over a leaf; 16 is the control.
#[test]
fn too_deep_a_library_is_refused() {
    let chain = |depth: usize| {
        let mut text = String::from(
            "[task.t0]\nrun = { worker = \"noop\", effect = \"none\", timeout_secs = 1 }\n",
        );
        for level in 1..=depth {
            text.push_str(&format!(
                "[task.t{level}]\n[[task.t{level}.method]]\nname = \"down\"\nsteps = [{{ task = \"t{}\" }}]\n",
                level - 1
            ));
        }
        text
    };
    assert!(parse(&chain(jitos_tasks::limits::DEPTH_MAX)).is_ok());
    let error = parse(&chain(jitos_tasks::limits::DEPTH_MAX + 1)).unwrap_err();
    assert!(error.to_string().contains("deep"), "{error}");
}

// Goal: a task defined in two files is refused at the second, naming the first. Method:
// load the good library twice from two files.
#[test]
fn a_task_defined_twice_names_both_places() {
    let dir = tempfile_dir();
    let a = dir.join("a.toml");
    let b = dir.join("b.toml");
    std::fs::write(&a, GOOD).unwrap();
    std::fs::write(&b, GOOD).unwrap();
    let error = Library::load(&[a.clone(), b.clone()]).unwrap_err();
    assert_eq!(error.path, b);
    assert!(
        error.to_string().contains(&format!("{}:", a.display())),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

// Goal: intents are checked the same way. Method: a good intent (the control), then a
// missing `allow`, a zero job limit, a bad goal name, and a text past the size limit (as a
// client may send one).
#[test]
fn bad_intents_are_refused_at_their_line() {
    let good = "goal = \"top\"\n[params]\nx = \"yes\"\n[allow]\nworkers = [\"shell\"]\n[limits]\nmax_jobs = 4\n";
    let intent = Intent::parse(good, Path::new("i.toml")).unwrap();
    assert_eq!(intent.max_jobs, 4);
    for (text, line, words) in [
        (
            good.replace("[allow]\nworkers = [\"shell\"]\n", ""),
            None,
            "allow",
        ),
        (
            good.replace("max_jobs = 4", "max_jobs = 0"),
            Some(7),
            "max_jobs",
        ),
        (
            good.replace("goal = \"top\"", "goal = \"To p\""),
            Some(1),
            "lowercase",
        ),
        (
            format!(
                "{good}# {}\n",
                "x".repeat(jitos_tasks::limits::SOURCE_BYTES_MAX)
            ),
            None,
            "at most",
        ),
    ] {
        let error = Intent::parse(&text, Path::new("i.toml")).expect_err(&text);
        if line.is_some() {
            assert_eq!(error.at.map(|(l, _)| l), line, "{error}");
        }
        assert!(error.to_string().contains(words), "{error}");
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("jitos-tasks-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const FED: &str = r#"
[task.fix]
params = []

[[task.fix.method]]
name = "loop"
steps = [{ task = "patch", feedback_from = "test", rounds = 3 }, { task = "test" }]

[task.patch]
params = []
run = { worker = "llm", args = [], effect = "workspace", timeout_secs = 5 }

[task.test]
params = []
run = { worker = "shell", args = ["true"], effect = "workspace", timeout_secs = 5, gate = true }
"#;

// Goal: `feedback_from` is taken between a step that runs a worker in its workspace and a
// later gate of the same method, with 1 to FEEDBACK_ROUNDS_MAX rounds, and every other
// use is refused at its line. Method: the good library, then one thing broken at a time.
#[test]
fn feedback_is_refused_where_it_cannot_be_fed() {
    let library = parse(FED).unwrap();
    let step = match &library.task("fix").unwrap().body {
        jitos_tasks::Body::Compound(methods) => methods[0].steps[0].clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        step.feedback,
        Some(jitos_tasks::FeedbackFrom {
            step: "test".to_owned(),
            rounds: 3
        })
    );
    refused_at(&FED.replace("rounds = 3", "rounds = 0"), 7, "give 1 to 8");
    refused_at(&FED.replace("rounds = 3", "rounds = 9"), 7, "give 1 to 8");
    refused_at(
        &FED.replace("feedback_from = \"test\", rounds = 3", "rounds = 3"),
        7,
        "`rounds` counts",
    );
    refused_at(
        &FED.replace("feedback_from = \"test\"", "feedback_from = \"nothing\""),
        7,
        "no step of method loop that comes after it",
    );
    refused_at(&FED.replace(", gate = true", ""), 7, "`gate = true`");
    refused_at(
        &FED.replace(
            "effect = \"workspace\", timeout_secs = 5 }\n\n[task.test]",
            "effect = \"network\", timeout_secs = 5 }\n\n[task.test]",
        ),
        7,
        "within its workspace",
    );
    refused_at(
        &FED.replace(
            "{ task = \"test\" }]",
            "{ task = \"ship\" }, { task = \"test\" }]\n[task.ship]\nparams = []\nrun = { worker = \"shell\", args = [], effect = \"network\", timeout_secs = 5 }",
        ),
        7,
        "step ship between them",
    );
    refused_at(
        &FED.replace("name = \"loop\"", "name = \"loop\"\nrace = true"),
        8,
        "races its steps",
    );
}
