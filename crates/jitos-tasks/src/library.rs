//! `Library`: the method library, loaded from TOML files and checked as a whole — every
//! name well formed, every reference resolved, every template over declared parameters,
//! no task reachable from itself, no decomposition deeper than `DEPTH_MAX` — with each
//! problem reported at its file, line and column.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use toml::Spanned;

use crate::{
    error::{line_column, SourceError},
    library_file::{
        AskFile, ConditionFile, EffectFile, LibraryFile, MethodFile, OnFailureFile, OrderFile,
        RunFile, TaskFile,
    },
    limits::{
        CONDITIONS_PER_METHOD_MAX, DEPTH_MAX, FEEDBACK_ROUNDS_DEFAULT, FEEDBACK_ROUNDS_MAX,
        METHODS_PER_TASK_MAX, NAME_BYTES_MAX, PARAMS_MAX, RETRIES_MAX, SOURCE_BYTES_MAX,
        STEPS_PER_METHOD_MAX, TASKS_MAX, TIMEOUT_SECS_MAX,
    },
    model::{Ask, Body, Condition, Effect, FeedbackFrom, Method, OnFailure, Run, Step, Task},
    template,
};

/// Where something was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) path: PathBuf,
    pub(crate) at: (usize, usize),
}

impl Origin {
    pub(crate) fn error(&self, message: impl Into<String>) -> SourceError {
        SourceError {
            path: self.path.clone(),
            at: Some(self.at),
            message: message.into(),
        }
    }
}

/// What an origin belongs to, for the checks across files.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    Task(String),
    /// A step's reference to its task.
    Step {
        task: String,
        method: String,
        step: String,
    },
}

/// A checked method library.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Library {
    tasks: BTreeMap<String, Task>,
    origins: BTreeMap<Place, Origin>,
    /// BLAKE3 of the sources it was made of: each one's file name and text, length-prefixed.
    digest: [u8; 32],
}

impl Library {
    /// Loads and checks the library made of `paths` (in the order given; a task defined
    /// twice is an error naming both places).
    pub fn load(paths: &[PathBuf]) -> Result<Library, SourceError> {
        let sources = paths
            .iter()
            .map(|path| Ok((path.clone(), read_source(path)?)))
            .collect::<Result<Vec<_>, SourceError>>()?;
        Library::from_sources(&sources)
    }

    /// Parses, merges and checks the library made of these texts, each named by its path
    /// (built-in libraries are texts compiled in).
    pub fn from_sources(sources: &[(PathBuf, String)]) -> Result<Library, SourceError> {
        let mut library = Library::default();
        for (path, text) in sources {
            library.merge(Library::parse_file(text, path)?)?;
        }
        library.check()?;
        library.digest = sources_digest(
            sources
                .iter()
                .map(|(path, text)| (path.as_path(), text.as_str())),
        );
        Ok(library)
    }

    /// Parses and checks one self-contained library text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Library, SourceError> {
        let mut library = Library::parse_file(text, path)?;
        library.check()?;
        library.digest = sources_digest([(path, text)]);
        Ok(library)
    }

    /// BLAKE3 of the sources it was made of, in order: each one's file name and text, so
    /// two daemons planning with the same files have the same digest.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// A task by name.
    pub fn task(&self, name: &str) -> Option<&Task> {
        self.tasks.get(name)
    }

    /// Every task, by name.
    pub fn tasks(&self) -> impl Iterator<Item = &Task> + '_ {
        self.tasks.values()
    }

    /// Parses one file and checks what can be checked within it.
    fn parse_file(text: &str, path: &Path) -> Result<Library, SourceError> {
        check_source_len(text, path)?;
        let at = |offset: usize| Origin {
            path: path.to_owned(),
            at: line_column(text, offset),
        };
        let file: LibraryFile = toml::from_str(text).map_err(|e| SourceError {
            path: path.to_owned(),
            at: e.span().map(|span| line_column(text, span.start)),
            message: e.message().to_owned(),
        })?;
        if file.task.len() > TASKS_MAX {
            return Err(SourceError {
                path: path.to_owned(),
                at: None,
                message: format!("defines {} tasks; at most {TASKS_MAX}", file.task.len()),
            });
        }
        let mut library = Library::default();
        for (name, task_file) in file.task {
            let origin = at(name.span().start);
            check_name(&origin, "task", name.get_ref())?;
            let name = name.into_inner();
            let (task, steps) = task_of(&name, task_file, &at, &origin)?;
            library.origins.insert(Place::Task(name.clone()), origin);
            for (method, step, origin) in steps {
                library.origins.insert(
                    Place::Step {
                        task: name.clone(),
                        method,
                        step,
                    },
                    origin,
                );
            }
            library.tasks.insert(name, task);
        }
        Ok(library)
    }

    /// Adds `other`'s tasks; a name both define is an error at the second definition.
    fn merge(&mut self, other: Library) -> Result<(), SourceError> {
        for (name, task) in other.tasks {
            let place = Place::Task(name.clone());
            if let (Some(first), Some(second)) =
                (self.origins.get(&place), other.origins.get(&place))
            {
                return Err(second.error(format!(
                    "task {name} is already defined at {}:{}:{}",
                    first.path.display(),
                    first.at.0,
                    first.at.1
                )));
            }
            self.tasks.insert(name, task);
        }
        self.origins.extend(other.origins);
        Ok(())
    }

    /// The checks across tasks: references, parameters, cycles and depth.
    fn check(&self) -> Result<(), SourceError> {
        for task in self.tasks.values() {
            let Body::Compound(methods) = &task.body else {
                continue;
            };
            for method in methods {
                for step in &method.steps {
                    self.check_step(task, method, step)?;
                }
            }
        }
        self.check_acyclic_and_shallow()
    }

    fn step_origin(&self, task: &Task, method: &Method, step: &Step) -> Origin {
        let place = Place::Step {
            task: task.name.clone(),
            method: method.name.clone(),
            step: step.id.clone(),
        };
        self.origins
            .get(&place)
            .or_else(|| self.origins.get(&Place::Task(task.name.clone())))
            .cloned()
            .unwrap_or(Origin {
                path: PathBuf::from("<library>"),
                at: (1, 1),
            })
    }

    fn check_step(&self, task: &Task, method: &Method, step: &Step) -> Result<(), SourceError> {
        let origin = self.step_origin(task, method, step);
        let Some(callee) = self.tasks.get(&step.task) else {
            return Err(origin.error(format!(
                "step {} of {}.{} names task {:?}, which no library file defines",
                step.id, task.name, method.name, step.task
            )));
        };
        for given in step.with.keys() {
            if !callee.params.contains(given) {
                return Err(origin.error(format!(
                    "step {} gives parameter {given:?}, which task {} does not take (it takes: {})",
                    step.id,
                    callee.name,
                    callee.params.join(", ")
                )));
            }
        }
        for needed in &callee.params {
            if !step.with.contains_key(needed) && !task.params.contains(needed) {
                return Err(origin.error(format!(
                    "step {} gives task {} no value for its parameter {needed:?}; add it to `with`",
                    step.id, callee.name
                )));
            }
        }
        if let Some(from) = &step.feedback {
            self.check_feedback(method, step, callee, from)
                .map_err(|problem| origin.error(problem))?;
        }
        let sides = [("verify", &step.verify), ("compensate", &step.compensate)];
        for (what, side) in sides {
            let Some(side) = side else { continue };
            if !matches!(callee.body, Body::Run(_)) {
                return Err(origin.error(format!(
                    "step {} has a `{what}` task, but its task {} runs no worker: only a worker's job has an effect to {what}",
                    step.id, callee.name
                )));
            }
            let Some(side_task) = self.tasks.get(side) else {
                return Err(origin.error(format!(
                    "step {}: `{what}` names task {side:?}, which no library file defines",
                    step.id
                )));
            };
            if !matches!(side_task.body, Body::Run(_)) {
                return Err(origin.error(format!(
                    "step {}: `{what}` task {side} must run a worker (a `run` task)",
                    step.id
                )));
            }
            if let Some(missing) = side_task.params.iter().find(|p| !callee.params.contains(p)) {
                return Err(origin.error(format!(
                    "step {}: `{what}` task {side} takes parameter {missing:?}, which task {} does not; it is given the step's values",
                    step.id, callee.name
                )));
            }
        }
        Ok(())
    }

    /// A step fed back from a gate: both run a worker within their workspace (a round runs
    /// them again, which only a workspace can take back), and the gate is a gate.
    fn check_feedback(
        &self,
        method: &Method,
        step: &Step,
        callee: &Task,
        from: &FeedbackFrom,
    ) -> Result<(), String> {
        fn in_workspace(task: &Task) -> Option<&Run> {
            match &task.body {
                Body::Run(run) if run.effect <= Effect::Workspace => Some(run),
                _ => None,
            }
        }
        if in_workspace(callee).is_none() {
            return Err(format!(
                "step {} takes feedback, but its task {} does not run a worker within its workspace: only such a step can run again",
                step.id, callee.name
            ));
        }
        let gate = method
            .steps
            .iter()
            .find(|s| s.id == from.step)
            .and_then(|s| self.tasks.get(&s.task));
        if !matches!(gate.and_then(in_workspace), Some(run) if run.gate) {
            return Err(format!(
                "step {} takes feedback from step {}, whose task must run a worker within its workspace with `gate = true`",
                step.id, from.step
            ));
        }
        // A round runs every step between them again too.
        for between in method.steps.iter().filter(|s| {
            comes_after(&method.steps, &s.id, &step.id)
                && comes_after(&method.steps, &from.step, &s.id)
        }) {
            if self
                .tasks
                .get(&between.task)
                .and_then(in_workspace)
                .is_none()
            {
                return Err(format!(
                    "step {} takes feedback from step {}, but step {} between them does not run a worker within its workspace, and a round would run it again",
                    step.id, from.step, between.id
                ));
            }
        }
        Ok(())
    }

    /// Depth-first over the task graph: a task on the current path again is a cycle; a
    /// path longer than `DEPTH_MAX` compound tasks is too deep.
    fn check_acyclic_and_shallow(&self) -> Result<(), SourceError> {
        let mut depth_of: BTreeMap<&str, usize> = BTreeMap::new();
        for name in self.tasks.keys() {
            let mut path = Vec::new();
            self.depth(name, &mut path, &mut depth_of)?;
        }
        Ok(())
    }

    fn depth<'a>(
        &'a self,
        name: &'a str,
        path: &mut Vec<&'a str>,
        depth_of: &mut BTreeMap<&'a str, usize>,
    ) -> Result<usize, SourceError> {
        if let Some(depth) = depth_of.get(name) {
            return Ok(*depth);
        }
        let origin = |name: &str| {
            self.origins
                .get(&Place::Task(name.to_owned()))
                .cloned()
                .unwrap_or(Origin {
                    path: PathBuf::from("<library>"),
                    at: (1, 1),
                })
        };
        if let Some(start) = path.iter().position(|on| *on == name) {
            let cycle: Vec<&str> = path[start..].iter().copied().chain([name]).collect();
            return Err(origin(name).error(format!(
                "task {name} is part of a cycle: {}",
                cycle.join(" -> ")
            )));
        }
        let Some(task) = self.tasks.get(name) else {
            return Ok(0);
        };
        let Body::Compound(methods) = &task.body else {
            depth_of.insert(name, 0);
            return Ok(0);
        };
        path.push(name);
        let mut deepest = 0;
        for step in methods.iter().flat_map(|m| &m.steps) {
            deepest = deepest.max(self.depth(&step.task, path, depth_of)?);
        }
        path.pop();
        let depth = deepest + 1;
        if depth > DEPTH_MAX {
            return Err(origin(name).error(format!(
                "task {name} decomposes {depth} compound tasks deep; at most {DEPTH_MAX}"
            )));
        }
        depth_of.insert(name, depth);
        Ok(depth)
    }
}

/// Refuses a text past `SOURCE_BYTES_MAX`, however it arrived (a file, or a client).
pub(crate) fn check_source_len(text: &str, path: &Path) -> Result<(), SourceError> {
    if text.len() > SOURCE_BYTES_MAX {
        return Err(SourceError {
            path: path.to_owned(),
            at: None,
            message: format!("it is {} bytes; at most {SOURCE_BYTES_MAX}", text.len()),
        });
    }
    Ok(())
}

/// BLAKE3 over `sources`, each file name and text prefixed by its length (the name, not
/// the directory: the same files read from elsewhere are the same library).
fn sources_digest<'a>(sources: impl IntoIterator<Item = (&'a Path, &'a str)>) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    for (path, text) in sources {
        let path = path
            .file_name()
            .unwrap_or(path.as_os_str())
            .as_encoded_bytes();
        for part in [path, text.as_bytes()] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
    }
    *hasher.finalize().as_bytes()
}

/// Reads a library or intent file: a regular file of at most `SOURCE_BYTES_MAX` bytes.
pub fn read_source(path: &Path) -> Result<String, SourceError> {
    let refuse = |message: String| SourceError {
        path: path.to_owned(),
        at: None,
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| refuse(format!("cannot read it: {e}")))?;
    if !meta.is_file() {
        return Err(refuse("it is not a regular file".to_owned()));
    }
    if meta.len() > SOURCE_BYTES_MAX as u64 {
        return Err(refuse(format!(
            "it is {} bytes; at most {SOURCE_BYTES_MAX}",
            meta.len()
        )));
    }
    std::fs::read_to_string(path).map_err(|e| refuse(format!("cannot read it: {e}")))
}

/// Lowercase letters, digits, `_` and `-`, 1 to `NAME_BYTES_MAX` bytes.
pub(crate) fn check_name(origin: &Origin, what: &str, name: &str) -> Result<(), SourceError> {
    let ok = !name.is_empty()
        && name.len() <= NAME_BYTES_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(origin.error(format!(
            "{what} name {name:?}: use 1 to {NAME_BYTES_MAX} lowercase letters, digits, `_` or `-`"
        )))
    }
}

/// Steps' (method, step id, origin of its task reference), for the checks across files.
type StepOrigins = Vec<(String, String, Origin)>;

fn task_of(
    name: &str,
    file: TaskFile,
    at: &dyn Fn(usize) -> Origin,
    origin: &Origin,
) -> Result<(Task, StepOrigins), SourceError> {
    if file.params.len() > PARAMS_MAX {
        return Err(origin.error(format!(
            "task {name} takes more than {PARAMS_MAX} parameters"
        )));
    }
    let mut params = Vec::new();
    for param in &file.params {
        check_name(&at(param.span().start), "parameter", param.get_ref())?;
        if params.contains(param.get_ref()) {
            return Err(at(param.span().start)
                .error(format!("parameter {} is listed twice", param.get_ref())));
        }
        params.push(param.get_ref().clone());
    }
    let bodies = usize::from(!file.method.is_empty())
        + usize::from(file.run.is_some())
        + usize::from(file.ask.is_some());
    if bodies != 1 {
        return Err(origin.error(format!(
            "task {name} needs exactly one of: `[[task.{name}.method]]` entries, a `run` table, an `ask` table"
        )));
    }
    let mut steps = Vec::new();
    let body = if let Some(run) = file.run {
        Body::Run(run_of(name, &params, run, at)?)
    } else if let Some(ask) = file.ask {
        Body::Ask(ask_of(&params, ask, at)?)
    } else {
        if file.method.len() > METHODS_PER_TASK_MAX {
            return Err(origin.error(format!(
                "task {name} has {} methods; at most {METHODS_PER_TASK_MAX}",
                file.method.len()
            )));
        }
        let mut methods: Vec<Method> = Vec::new();
        for method_file in file.method {
            let method_origin = at(method_file.name.span().start);
            let (method, step_origins) = method_of(&params, method_file, at)?;
            if methods.iter().any(|m| m.name == method.name) {
                return Err(method_origin
                    .error(format!("task {name} has two methods named {}", method.name)));
            }
            steps.extend(
                step_origins
                    .into_iter()
                    .map(|(step, origin)| (method.name.clone(), step, origin)),
            );
            methods.push(method);
        }
        Body::Compound(methods)
    };
    let task = Task {
        name: name.to_owned(),
        params,
        body,
    };
    Ok((task, steps))
}

/// Checks that `template` is well formed and uses only `params`.
fn check_template(origin: &Origin, template: &str, params: &[String]) -> Result<(), SourceError> {
    let used = template::params_of(template).map_err(|e| origin.error(e))?;
    match used.iter().find(|name| !params.iter().any(|p| p == *name)) {
        Some(unknown) => Err(origin.error(format!(
            "{{{unknown}}} is no parameter of this task (its parameters: {})",
            if params.is_empty() {
                "none".to_owned()
            } else {
                params.join(", ")
            }
        ))),
        None => Ok(()),
    }
}

fn run_of(
    name: &str,
    params: &[String],
    run: Spanned<RunFile>,
    at: &dyn Fn(usize) -> Origin,
) -> Result<Run, SourceError> {
    let run_origin = at(run.span().start);
    let run = run.into_inner();
    check_name(&at(run.worker.span().start), "worker", run.worker.get_ref())?;
    for text in run.args.iter().chain(&run.paths) {
        check_template(&at(text.span().start), text.get_ref(), params)?;
    }
    let timeout = *run.timeout_secs.get_ref();
    if timeout == 0 || timeout > TIMEOUT_SECS_MAX {
        return Err(at(run.timeout_secs.span().start).error(format!(
            "task {name}: timeout_secs {timeout} is out of range (1 to {TIMEOUT_SECS_MAX})"
        )));
    }
    if run.retries > RETRIES_MAX {
        return Err(run_origin.error(format!(
            "task {name}: retries {} is more than {RETRIES_MAX}",
            run.retries
        )));
    }
    Ok(Run {
        worker: run.worker.into_inner(),
        args: run.args.into_iter().map(Spanned::into_inner).collect(),
        effect: match run.effect {
            EffectFile::None => Effect::None,
            EffectFile::Workspace => Effect::Workspace,
            EffectFile::Local => Effect::Local,
            EffectFile::Network => Effect::Network,
            EffectFile::Irreversible => Effect::Irreversible,
        },
        idempotent: run.idempotent,
        timeout_secs: timeout,
        retries: run.retries,
        backoff_ms: run.backoff_ms,
        gate: run.gate,
        paths: run.paths.into_iter().map(Spanned::into_inner).collect(),
    })
}

fn ask_of(
    params: &[String],
    ask: Spanned<AskFile>,
    at: &dyn Fn(usize) -> Origin,
) -> Result<Ask, SourceError> {
    let ask = ask.into_inner();
    check_template(
        &at(ask.question.span().start),
        ask.question.get_ref(),
        params,
    )?;
    Ok(Ask {
        question: ask.question.into_inner(),
        yes_no: ask.yes_no,
    })
}

fn method_of(
    params: &[String],
    file: MethodFile,
    at: &dyn Fn(usize) -> Origin,
) -> Result<(Method, Vec<(String, Origin)>), SourceError> {
    let origin = at(file.name.span().start);
    check_name(&origin, "method", file.name.get_ref())?;
    let name = file.name.into_inner();
    if file.when.len() > CONDITIONS_PER_METHOD_MAX {
        return Err(origin.error(format!(
            "method {name} has more than {CONDITIONS_PER_METHOD_MAX} preconditions"
        )));
    }
    let when = file
        .when
        .into_iter()
        .map(|condition| {
            let origin = at(condition.span().start);
            condition_of(&origin, params, condition.into_inner())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let steps_origin = at(file.steps.span().start);
    let step_files = file.steps.into_inner();
    if step_files.is_empty() || step_files.len() > STEPS_PER_METHOD_MAX {
        return Err(steps_origin.error(format!(
            "method {name} needs 1 to {STEPS_PER_METHOD_MAX} steps"
        )));
    }
    let mut steps: Vec<Step> = Vec::with_capacity(step_files.len());
    let mut origins = Vec::with_capacity(step_files.len());
    let mut after_origins = Vec::new();
    let mut feedback_origins = Vec::new();
    for step_file in step_files {
        let task_origin = at(step_file.task.span().start);
        check_name(&task_origin, "task", step_file.task.get_ref())?;
        let id = match &step_file.id {
            Some(id) => {
                check_name(&at(id.span().start), "step", id.get_ref())?;
                id.get_ref().clone()
            }
            None => step_file.task.get_ref().clone(),
        };
        if steps.iter().any(|s| s.id == id) {
            return Err(task_origin.error(format!(
                "method {name} has two steps with id {id}; give one an `id`"
            )));
        }
        let mut with = BTreeMap::new();
        for (key, value) in step_file.with {
            check_template(&at(value.span().start), value.get_ref(), params)?;
            with.insert(key, value.into_inner());
        }
        let previous = steps.last().map(|s: &Step| s.id.clone());
        let after = match file.order {
            OrderFile::Sequence if !step_file.after.is_empty() => {
                return Err(at(step_file.after[0].span().start).error(format!(
                    "step {id}: `after` needs `order = \"partial\"` on method {name}; in a sequence each step follows the one before"
                )))
            }
            OrderFile::Sequence if file.race => Vec::new(),
            OrderFile::Sequence => previous.into_iter().collect(),
            OrderFile::Partial => step_file
                .after
                .iter()
                .map(|a| a.get_ref().clone())
                .collect(),
        };
        if file.race && !after.is_empty() {
            return Err(task_origin.error(format!(
                "method {name} races its steps, which then run side by side: step {id} may not come after another"
            )));
        }
        after_origins.extend(
            step_file
                .after
                .iter()
                .map(|a| (id.clone(), a.get_ref().clone(), at(a.span().start))),
        );
        origins.push((id.clone(), task_origin));
        let side = |task: Option<Spanned<String>>| {
            task.map(|t| {
                check_name(&at(t.span().start), "task", t.get_ref())?;
                Ok::<_, SourceError>(t.into_inner())
            })
            .transpose()
        };
        let feedback = match (step_file.feedback_from, step_file.rounds) {
            (None, None) => None,
            (None, Some(rounds)) => {
                return Err(at(rounds.span().start).error(format!(
                    "step {id}: `rounds` counts the rounds of a `feedback_from`, which it does not have"
                )))
            }
            (Some(from), rounds) => {
                let rounds_at = rounds.as_ref().map(|r| r.span().start);
                let rounds = rounds.map_or(FEEDBACK_ROUNDS_DEFAULT, Spanned::into_inner);
                if !(1..=FEEDBACK_ROUNDS_MAX).contains(&rounds) {
                    return Err(at(rounds_at.unwrap_or(from.span().start)).error(format!(
                        "step {id}: `rounds` is {rounds}; give 1 to {FEEDBACK_ROUNDS_MAX}"
                    )));
                }
                if file.race {
                    return Err(at(from.span().start).error(format!(
                        "step {id}: method {name} races its steps, which share no workspace, so none can feed another"
                    )));
                }
                feedback_origins.push((id.clone(), from.get_ref().clone(), at(from.span().start)));
                Some(FeedbackFrom {
                    step: from.into_inner(),
                    rounds,
                })
            }
        };
        steps.push(Step {
            id,
            task: step_file.task.into_inner(),
            with,
            after,
            verify: side(step_file.verify)?,
            compensate: side(step_file.compensate)?,
            feedback,
        });
    }
    for (step, after, origin) in after_origins {
        if !steps.iter().any(|s| s.id == after) || after == step {
            return Err(origin.error(format!(
                "step {step} comes after {after:?}, which is no other step of method {name}"
            )));
        }
    }
    check_order_acyclic(&name, &steps, &origin)?;
    // A step is fed back from a gate that comes after it: one whose `after` reaches it.
    for (step, from, origin) in feedback_origins {
        if !comes_after(&steps, &from, &step) {
            return Err(origin.error(format!(
                "step {step} takes feedback from {from:?}, which is no step of method {name} that comes after it"
            )));
        }
    }
    let method = Method {
        name,
        when,
        steps,
        race: file.race,
        on_failure: match file.on_failure {
            OnFailureFile::Next => OnFailure::Next,
            OnFailureFile::Discard => OnFailure::Discard,
            OnFailureFile::Interrupt => OnFailure::Interrupt,
        },
    };
    Ok((method, origins))
}

/// Whether step `later` comes after step `earlier`, directly or through others.
fn comes_after(steps: &[Step], later: &str, earlier: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo = vec![later];
    while let Some(id) = todo.pop() {
        let Some(step) = steps.iter().find(|s| s.id == id) else {
            continue;
        };
        for before in &step.after {
            if before == earlier {
                return true;
            }
            if seen.insert(before.as_str()) {
                todo.push(before);
            }
        }
    }
    false
}

/// The `after` relation of a method's steps must be a partial order.
fn check_order_acyclic(method: &str, steps: &[Step], origin: &Origin) -> Result<(), SourceError> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    while done.len() < steps.len() {
        let ready: Vec<&str> = steps
            .iter()
            .filter(|s| !done.contains(s.id.as_str()))
            .filter(|s| s.after.iter().all(|a| done.contains(a.as_str())))
            .map(|s| s.id.as_str())
            .collect();
        if ready.is_empty() {
            let stuck: Vec<&str> = steps
                .iter()
                .map(|s| s.id.as_str())
                .filter(|id| !done.contains(id))
                .collect();
            return Err(origin.error(format!(
                "the steps of method {method} wait on each other in a cycle: {}",
                stuck.join(", ")
            )));
        }
        done.extend(ready);
    }
    Ok(())
}

fn condition_of(
    origin: &Origin,
    params: &[String],
    file: ConditionFile,
) -> Result<Condition, SourceError> {
    let shape = "a precondition is { param, equals }, { node, exists } or { node, attr, equals }";
    match file {
        ConditionFile {
            param: Some(param),
            node: None,
            attr: None,
            exists: None,
            equals: Some(toml::Value::String(equals)),
        } => {
            if !params.contains(&param) {
                return Err(origin.error(format!("{param:?} is no parameter of this task")));
            }
            check_template(origin, &equals, params)?;
            Ok(Condition::Param { param, equals })
        }
        ConditionFile {
            param: None,
            node: Some(node),
            attr: None,
            exists: Some(exists),
            equals: None,
        } => {
            check_template(origin, &node, params)?;
            Ok(Condition::Node { node, exists })
        }
        ConditionFile {
            param: None,
            node: Some(node),
            attr: Some(attr),
            exists: None,
            equals: Some(equals),
        } => {
            check_template(origin, &node, params)?;
            let equals = match equals {
                toml::Value::String(s) => jitos_warp::Value::Str(s),
                toml::Value::Integer(i) => jitos_warp::Value::Int(i),
                toml::Value::Boolean(b) => jitos_warp::Value::Bool(b),
                other => {
                    return Err(origin.error(format!(
                        "an attribute precondition compares with a string, an integer or a boolean, not {}",
                        other.type_str()
                    )))
                }
            };
            Ok(Condition::Attr { node, attr, equals })
        }
        _ => Err(origin.error(shape)),
    }
}
