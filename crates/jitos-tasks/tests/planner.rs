//! The planner on a real library: golden plans, the order candidates are tried in, and
//! how the state and the intent steer the choice of method.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use jitos_tasks::{explain, plan, Intent, JobKind, Library, Node, PlanError};
use jitos_warp::{Graph, Rewrite};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn library() -> Library {
    Library::load(&[fixture("fix_tests.toml")]).unwrap()
}

fn intent() -> Intent {
    Intent::load(&fixture("fix_tests.intent.toml")).unwrap()
}

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("JITOS_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        actual, expected,
        "{name} changed; rerun with JITOS_BLESS=1 if the change is intended"
    );
}

fn graph_with(id: &str) -> Graph {
    let mut graph = Graph::new();
    let add = format!(r#"{{"ops":[{{"add_node":{{"id":"{id}","kind":"Fact"}}}}]}}"#);
    graph.apply(&Rewrite::from_json(&add).unwrap()).unwrap();
    graph
}

// Goal: the plan for the demo library is exactly the recorded one, decomposition and jobs.
// Method: plan over an empty graph and compare the explanation with the golden file.
#[test]
fn the_fix_tests_plan_is_the_golden_one() {
    let slaps = plan(&library(), &intent(), &Graph::new()).unwrap();
    golden("fix_tests.plan.txt", &explain(&slaps));
}

// Goal: the race compiles to one lane per candidate patch, each applying then testing, and
// a race job in the process's own lane waiting for both. Method: read the first DAG.
#[test]
fn a_race_compiles_to_sibling_lanes_and_a_race_job() {
    let slaps = plan(&library(), &intent(), &Graph::new()).unwrap();
    let dag = &slaps[0].dag;
    assert_eq!(dag.lanes.len(), 3);
    assert_eq!(dag.lanes[1].parent, Some(0));
    assert_eq!(dag.lanes[2].parent, Some(0));
    let race = dag.jobs.last().unwrap();
    let JobKind::Race { lanes } = &race.kind else {
        panic!("the last job is {race:?}");
    };
    assert_eq!(lanes, &vec![1, 2]);
    assert_eq!(race.lane, 0);
    for lane in [1, 2] {
        let jobs: Vec<usize> = (0..dag.jobs.len())
            .filter(|j| dag.jobs[*j].lane == lane)
            .collect();
        assert_eq!(jobs.len(), 2, "lane {lane}");
        assert!(dag.jobs[jobs[0]].after.is_empty());
        assert_eq!(dag.jobs[jobs[1]].after, vec![jobs[0]]);
        assert!(race.after.contains(&jobs[1]));
    }
}

// Goal: the state steers the method: a fact in the graph makes the first method apply.
// Method: plan over a graph holding `tests:green`; the first candidate runs the tests only,
// and the race comes second.
#[test]
fn the_state_chooses_the_method() {
    let slaps = plan(&library(), &intent(), &graph_with("tests:green")).unwrap();
    assert_eq!(slaps.len(), 3);
    let Node::Method { method, .. } = &slaps[0].tree.node else {
        panic!("the goal did not decompose");
    };
    assert_eq!(method, "already_green");
    assert_eq!(slaps[0].dag.jobs.len(), 1);
    let Node::Method { method, .. } = &slaps[1].tree.node else {
        panic!("the goal did not decompose");
    };
    assert_eq!(method, "race_candidate_patches");
}

// Goal: the intent bounds the plan: a worker it does not allow rules out every method
// using it (the reason kept), a job limit rules out plans too large, and a goal or
// parameter it gets wrong is named. Method: plan with no workers allowed (only asking a
// person is left), with a two-job limit, with a goal the library lacks, and without the
// goal's parameter.
#[test]
fn the_intent_bounds_the_plan() {
    let library = library();
    let mut no_shell = intent();
    no_shell.workers.clear();
    let slaps = plan(&library, &no_shell, &Graph::new()).unwrap();
    assert_eq!(slaps.len(), 1);
    let Node::Method {
        method, skipped, ..
    } = &slaps[0].tree.node
    else {
        panic!("the goal did not decompose");
    };
    assert_eq!(method, "ask_a_person");
    assert!(
        skipped
            .iter()
            .any(|(m, why)| m == "race_candidate_patches" && why.contains("worker shell")),
        "{skipped:?}"
    );
    no_shell.goal = "run_tests".to_owned();
    match plan(&library, &no_shell, &Graph::new()) {
        Err(PlanError::WorkerNotAllowed { worker, .. }) => assert_eq!(worker, "shell"),
        other => panic!("ran tests without a worker: {other:?}"),
    }
    let mut unknown = intent();
    unknown.goal = "make_coffee".to_owned();
    assert!(matches!(
        plan(&library, &unknown, &Graph::new()),
        Err(PlanError::UnknownGoal { .. })
    ));
    let mut bare = intent();
    bare.params.clear();
    let error = plan(&library, &bare, &Graph::new()).unwrap_err();
    assert!(error.to_string().contains("\"test\""), "{error}");
    let mut small = intent();
    small.max_jobs = 2;
    let slaps = plan(&library, &small, &Graph::new()).unwrap();
    let Node::Method { method, .. } = &slaps[0].tree.node else {
        panic!("the goal did not decompose");
    };
    assert_eq!(
        method, "ask_a_person",
        "the race needs 4 jobs, over the limit of 2"
    );
}

// Goal: planning is a function of library, state and intent: the same inputs give the same
// plans, and so does a library whose tasks are written in another order. Method: plan
// twice, and once more from the fixture with its tasks reversed.
#[test]
fn planning_is_deterministic() {
    let text = std::fs::read_to_string(fixture("fix_tests.toml")).unwrap();
    let a = plan(&library(), &intent(), &Graph::new()).unwrap();
    let b = plan(&library(), &intent(), &Graph::new()).unwrap();
    assert_eq!(a, b);
    let mut blocks: Vec<&str> = text.split("\n[task.").collect();
    let head = blocks.remove(0);
    blocks.reverse();
    let reordered = format!("{head}\n[task.{}", blocks.join("\n[task."));
    let reversed = Library::parse(&reordered, Path::new("reversed.toml")).unwrap();
    assert_eq!(plan(&reversed, &intent(), &Graph::new()).unwrap(), a);
}

/// A library whose goal `l0` nests `levels` levels of methods of 64 steps each over one
/// primitive task: 64^levels jobs.
fn wide_library(levels: usize) -> Library {
    let steps = |task: &str| {
        (0..64)
            .map(|i| format!("{{ task = \"{task}\", id = \"s{i}\" }}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = String::new();
    for level in 0..levels {
        let below = if level + 1 == levels {
            "leaf".to_owned()
        } else {
            format!("l{}", level + 1)
        };
        text.push_str(&format!(
            "[task.l{level}]\n[[task.l{level}.method]]\nname = \"all\"\nsteps = [{}]\n",
            steps(&below)
        ));
    }
    text.push_str(
        "[task.leaf]\nrun = { worker = \"noop\", effect = \"none\", timeout_secs = 5 }\n",
    );
    Library::parse(&text, Path::new("wide.toml")).unwrap()
}

// Goal: a library whose decomposition explodes is refused quickly, before it is expanded
// (the planner runs on the kernel thread). Method: 64^3 jobs, refused as too large; 64^2,
// expanded and refused for its job count; 64, planned (the control).
#[test]
fn an_exploding_decomposition_is_refused_before_it_is_expanded() {
    let intent = Intent::parse(
        "goal = \"l0\"\n[allow]\nworkers = [\"noop\"]\n[limits]\nmax_jobs = 1024\n",
        Path::new("intent.toml"),
    )
    .unwrap();
    assert!(matches!(
        plan(&wide_library(3), &intent, &Graph::new()),
        Err(PlanError::PlanTooLarge { .. })
    ));
    assert!(matches!(
        plan(&wide_library(2), &intent, &Graph::new()),
        Err(PlanError::TooManyJobs { jobs: 4096, .. })
    ));
    let slaps = plan(&wide_library(1), &intent, &Graph::new()).unwrap();
    assert_eq!(slaps[0].dag.jobs.len(), 64);
}
