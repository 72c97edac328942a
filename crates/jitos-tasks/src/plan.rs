//! The planner: decomposes an intent's goal with the library's methods, in a fixed order,
//! into at most `CANDIDATES_MAX` plan candidates (SLAPs), each compiled to a `Dag`.
//!
//! For each compound task the applicable methods (those whose preconditions hold) are
//! taken in library order, and for each method every combination of its steps'
//! decompositions in lexicographic order: the first candidate takes the first choice
//! everywhere; later ones are what "try the next method" moves to.

use std::{cell::Cell, collections::BTreeMap};

use jitos_tree::within_prefixes;
use jitos_warp::{Graph, Node as GraphNode};
use serde::{Deserialize, Serialize};

use crate::{
    dag::{Dag, JobKind, Purpose},
    error::PlanError,
    intent::Intent,
    limits::{CANDIDATES_MAX, DEPTH_MAX, JOBS_PER_PLAN_MAX, PLAN_STEPS_MAX, VALUE_BYTES_MAX},
    model::{Ask, Body, Condition, Method, OnFailure, Run, Task},
    template, Library,
};

/// What the planner reads of the state: nodes by id.
pub trait StateView {
    /// The node `id`, if it exists.
    fn node(&self, id: &str) -> Option<&GraphNode>;
}

impl StateView for Graph {
    fn node(&self, id: &str) -> Option<&GraphNode> {
        Graph::node(self, id)
    }
}

/// A plan candidate: one decomposition of the goal, and its jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slap {
    /// Its place among the candidates, from 0: the order they are tried in.
    pub index: usize,
    /// How the goal decomposes.
    pub tree: Decomposition,
    /// The jobs.
    pub dag: Dag,
}

/// A task with its parameter values, and how it is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decomposition {
    /// The task.
    pub task: String,
    /// Its parameter values.
    pub params: BTreeMap<String, String>,
    /// How it is done.
    pub node: Node,
}

impl Decomposition {
    /// The method chosen for each compound task, depth first, as `task=method`.
    pub fn choices(&self) -> Vec<String> {
        let mut found = Vec::new();
        if let Node::Method { method, steps, .. } = &self.node {
            found.push(format!("{}={method}", self.task));
            for step in steps {
                found.extend(step.sub.choices());
            }
        }
        found
    }
}

/// How a decomposed task is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Node {
    /// A job, its templates filled in.
    Run(Run),
    /// A question, filled in.
    Ask(Ask),
    /// The method chosen, and its steps decomposed.
    Method {
        /// The method's name.
        method: String,
        /// Its steps race in sibling workspaces.
        race: bool,
        /// What its failure leads to.
        on_failure: OnFailure,
        /// Its steps.
        steps: Vec<DecomposedStep>,
        /// The task's methods before this one that did not apply, and why.
        skipped: Vec<(String, String)>,
    },
}

/// A step of a chosen method, decomposed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecomposedStep {
    /// The step's id.
    pub id: String,
    /// Steps it comes after.
    pub after: Vec<String>,
    /// Its task, decomposed.
    pub sub: Decomposition,
    /// The job that tells whether its effect took place, filled in with its values.
    #[serde(default)]
    pub verify: Option<Run>,
    /// The job that undoes its effect, filled in with its values.
    #[serde(default)]
    pub compensate: Option<Run>,
    /// The later gate step whose failure is fed back to it.
    #[serde(default)]
    pub feedback: Option<crate::FeedbackFrom>,
}

/// Plans `intent` with `library` over `state`: the candidates in the order they are tried.
pub fn plan(
    library: &Library,
    intent: &Intent,
    state: &dyn StateView,
) -> Result<Vec<Slap>, PlanError> {
    let goal = library
        .task(&intent.goal)
        .ok_or_else(|| PlanError::UnknownGoal {
            goal: intent.goal.clone(),
            known: library
                .tasks()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    check_params(goal, &intent.params)?;
    let planner = Planner {
        library,
        intent,
        state,
        steps: Cell::new(0),
    };
    let trees = planner.expand(goal, &intent.params, &goal.name, 0);
    if planner.steps.get() > PLAN_STEPS_MAX {
        return Err(PlanError::PlanTooLarge {
            max: PLAN_STEPS_MAX,
        });
    }
    let trees = trees?;
    let max = intent.max_jobs.min(JOBS_PER_PLAN_MAX);
    let mut slaps = Vec::new();
    let mut largest = 0;
    for tree in trees {
        let dag = Dag::compile(&tree);
        // A verify or compensate job runs only when it is needed.
        let jobs = dag
            .jobs
            .iter()
            .filter(|j| !matches!(j.kind, JobKind::Race { .. }) && j.purpose == Purpose::Step)
            .count();
        largest = largest.max(jobs);
        if jobs <= max {
            slaps.push(Slap {
                index: slaps.len(),
                tree,
                dag,
            });
        }
    }
    if slaps.is_empty() {
        return Err(PlanError::TooManyJobs { jobs: largest, max });
    }
    Ok(slaps)
}

fn check_params(task: &Task, given: &BTreeMap<String, String>) -> Result<(), PlanError> {
    let problem = |problem: String| PlanError::Params {
        task: task.name.clone(),
        problem,
    };
    if let Some(missing) = task.params.iter().find(|p| !given.contains_key(*p)) {
        return Err(problem(format!("needs a value for parameter {missing:?}")));
    }
    if let Some(extra) = given.keys().find(|k| !task.params.contains(k)) {
        return Err(problem(format!(
            "takes no parameter {extra:?} (it takes: {})",
            task.params.join(", ")
        )));
    }
    Ok(())
}

struct Planner<'a> {
    library: &'a Library,
    intent: &'a Intent,
    state: &'a dyn StateView,
    /// Primitive steps decomposed so far; past `PLAN_STEPS_MAX` every expansion stops.
    steps: Cell<usize>,
}

impl Planner<'_> {
    /// Every decomposition of `task` with `params` (up to `CANDIDATES_MAX`), in order.
    fn expand(
        &self,
        task: &Task,
        params: &BTreeMap<String, String>,
        path: &str,
        depth: usize,
    ) -> Result<Vec<Decomposition>, PlanError> {
        let decomposition = |node| Decomposition {
            task: task.name.clone(),
            params: params.clone(),
            node,
        };
        if !matches!(task.body, Body::Compound(_)) {
            self.steps.set(self.steps.get() + 1);
        }
        if self.steps.get() > PLAN_STEPS_MAX {
            return Err(PlanError::PlanTooLarge {
                max: PLAN_STEPS_MAX,
            });
        }
        match &task.body {
            Body::Run(run) => Ok(vec![decomposition(Node::Run(
                self.fill_run(run, params, path)?,
            ))]),
            Body::Ask(ask) => Ok(vec![decomposition(Node::Ask(Ask {
                question: fill(&ask.question, params, path)?,
                yes_no: ask.yes_no,
            }))]),
            Body::Compound(methods) => {
                if depth >= DEPTH_MAX {
                    return Err(PlanError::NoMethod {
                        task: path.to_owned(),
                        why: format!("the decomposition is deeper than {DEPTH_MAX}"),
                    });
                }
                let mut found = Vec::new();
                let mut skipped = Vec::new();
                for method in methods {
                    if found.len() >= CANDIDATES_MAX {
                        break;
                    }
                    let combos = self
                        .holds(method, params, path)
                        .and_then(|()| self.expand_steps(method, params, path, depth));
                    match combos {
                        Ok(combos) => {
                            for steps in combos.into_iter().take(CANDIDATES_MAX - found.len()) {
                                found.push(decomposition(Node::Method {
                                    method: method.name.clone(),
                                    race: method.race,
                                    on_failure: method.on_failure,
                                    steps,
                                    skipped: skipped.clone(),
                                }));
                            }
                        }
                        Err(why) => skipped.push((method.name.clone(), why)),
                    }
                }
                if found.is_empty() {
                    let why = skipped
                        .iter()
                        .map(|(method, why)| format!("{method}: {why}"))
                        .collect::<Vec<_>>()
                        .join("; ");
                    return Err(PlanError::NoMethod {
                        task: path.to_owned(),
                        why,
                    });
                }
                Ok(found)
            }
        }
    }

    /// Whether every precondition of `method` holds; the first that does not, if not.
    fn holds(
        &self,
        method: &Method,
        params: &BTreeMap<String, String>,
        path: &str,
    ) -> Result<(), String> {
        for condition in &method.when {
            match condition {
                Condition::Param { param, equals } => {
                    let want = fill(equals, params, path).map_err(|e| e.to_string())?;
                    let have = params.get(param).map(String::as_str).unwrap_or_default();
                    if have != want {
                        return Err(format!("parameter {param} is {have:?}, not {want:?}"));
                    }
                }
                Condition::Node { node, exists } => {
                    let id = fill(node, params, path).map_err(|e| e.to_string())?;
                    if self.state.node(&id).is_some() != *exists {
                        let state = if *exists { "does not exist" } else { "exists" };
                        return Err(format!("node {id} {state}"));
                    }
                }
                Condition::Attr { node, attr, equals } => {
                    let id = fill(node, params, path).map_err(|e| e.to_string())?;
                    let have = self.state.node(&id).and_then(|n| n.attrs.get(attr));
                    if have != Some(equals) {
                        let have = have.map_or("absent".to_owned(), |v| v.to_string());
                        return Err(format!("{id}.{attr} is {have}, not {equals}"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Every combination of the decompositions of `method`'s steps, in lexicographic
    /// order, up to `CANDIDATES_MAX`; why the method cannot be used, if it cannot.
    fn expand_steps(
        &self,
        method: &Method,
        params: &BTreeMap<String, String>,
        path: &str,
        depth: usize,
    ) -> Result<Vec<Vec<DecomposedStep>>, String> {
        let mut per_step = Vec::with_capacity(method.steps.len());
        for step in &method.steps {
            let callee = self
                .library
                .task(&step.task)
                .ok_or_else(|| format!("step {} names no task", step.id))?;
            let mut sub_params = BTreeMap::new();
            for name in &callee.params {
                let value = match step.with.get(name) {
                    Some(template) => fill(template, params, path).map_err(|e| e.to_string())?,
                    None => params.get(name).cloned().unwrap_or_default(),
                };
                sub_params.insert(name.clone(), value);
            }
            let step_path = format!("{path}/{}/{}", method.name, step.id);
            let subs = self
                .expand(callee, &sub_params, &step_path, depth + 1)
                .map_err(|e| e.to_string())?;
            let side = |task: &Option<String>, what: &str| -> Result<Option<Run>, String> {
                let Some(name) = task else { return Ok(None) };
                let Some(Task {
                    body: Body::Run(run),
                    ..
                }) = self.library.task(name)
                else {
                    return Err(format!(
                        "step {}: its {what} task {name} runs no worker",
                        step.id
                    ));
                };
                self.fill_run(run, &sub_params, &format!("{step_path}#{what}"))
                    .map(Some)
                    .map_err(|e| e.to_string())
            };
            let sides = (
                side(&step.verify, "verify")?,
                side(&step.compensate, "compensate")?,
            );
            per_step.push((subs, sides));
        }
        let mut combos: Vec<Vec<DecomposedStep>> = vec![Vec::new()];
        for (step, (subs, (verify, compensate))) in method.steps.iter().zip(per_step) {
            let mut next = Vec::new();
            'combos: for combo in &combos {
                for sub in &subs {
                    if next.len() >= CANDIDATES_MAX {
                        break 'combos;
                    }
                    let mut longer = combo.clone();
                    longer.push(DecomposedStep {
                        id: step.id.clone(),
                        after: step.after.clone(),
                        sub: sub.clone(),
                        verify: verify.clone(),
                        compensate: compensate.clone(),
                        feedback: step.feedback.clone(),
                    });
                    next.push(longer);
                }
            }
            combos = next;
        }
        Ok(combos)
    }

    /// A run with its templates filled in and its paths checked against the intent's.
    fn fill_run(
        &self,
        run: &Run,
        params: &BTreeMap<String, String>,
        path: &str,
    ) -> Result<Run, PlanError> {
        if !self.intent.workers.contains(&run.worker) {
            return Err(PlanError::WorkerNotAllowed {
                step: path.to_owned(),
                worker: run.worker.clone(),
                allowed: self.intent.workers.join(", "),
            });
        }
        let args = run
            .args
            .iter()
            .map(|a| fill(a, params, path))
            .collect::<Result<Vec<_>, _>>()?;
        let mut paths = run
            .paths
            .iter()
            .map(|p| fill(p, params, path))
            .collect::<Result<Vec<_>, _>>()?;
        if paths.is_empty() {
            paths = self.intent.paths.clone();
        } else if let Some(outside) = paths
            .iter()
            .find(|p| !within_prefixes(p, &self.intent.paths))
        {
            return Err(PlanError::Params {
                task: path.to_owned(),
                problem: format!(
                    "may touch {outside}, outside the intent's paths ({})",
                    self.intent.paths.join(", ")
                ),
            });
        }
        Ok(Run {
            args,
            paths,
            ..run.clone()
        })
    }
}

/// `template` filled from `params`, within `VALUE_BYTES_MAX`.
fn fill(
    template: &str,
    params: &BTreeMap<String, String>,
    path: &str,
) -> Result<String, PlanError> {
    let value = template::render(template, params).map_err(|problem| PlanError::Params {
        task: path.to_owned(),
        problem,
    })?;
    if value.len() > VALUE_BYTES_MAX {
        return Err(PlanError::ValueTooLong {
            step: path.to_owned(),
            bytes: value.len(),
            max: VALUE_BYTES_MAX,
        });
    }
    Ok(value)
}
