//! The TOML shape of a method library file, before it is checked. Names and references
//! keep their spans, so a problem found later points at its line.
//!
//! ```toml
//! [task.run_tests]
//! params = ["command"]
//! run = { worker = "shell", args = ["sh", "-c", "{command}"], effect = "workspace",
//!         timeout_secs = 60, gate = true, idempotent = true }
//!
//! [task.fix]
//! params = ["command"]
//! [[task.fix.method]]
//! name = "patch_then_test"
//! when = [{ param = "command", equals = "make test" }]
//! steps = [{ task = "apply_patch", with = { patch = "a.diff" } }, { task = "run_tests" }]
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A whole file: tasks by name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LibraryFile {
    #[serde(default)]
    pub task: BTreeMap<Spanned<String>, TaskFile>,
}

/// One task as written: methods, or a run, or an ask.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaskFile {
    #[serde(default)]
    pub params: Vec<Spanned<String>>,
    #[serde(default)]
    pub method: Vec<MethodFile>,
    pub run: Option<Spanned<RunFile>>,
    pub ask: Option<Spanned<AskFile>>,
}

/// How a method's steps are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OrderFile {
    /// Each step after the one before it.
    #[default]
    Sequence,
    /// Only the order the steps' `after` lists give.
    Partial,
}

/// What a method's failure leads to, as written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OnFailureFile {
    #[default]
    Next,
    Discard,
    Interrupt,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MethodFile {
    pub name: Spanned<String>,
    #[serde(default)]
    pub when: Vec<Spanned<ConditionFile>>,
    pub steps: Spanned<Vec<StepFile>>,
    #[serde(default)]
    pub order: OrderFile,
    #[serde(default)]
    pub race: bool,
    #[serde(default)]
    pub on_failure: OnFailureFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepFile {
    pub task: Spanned<String>,
    pub id: Option<Spanned<String>>,
    #[serde(default)]
    pub with: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub after: Vec<Spanned<String>>,
    pub verify: Option<Spanned<String>>,
    pub compensate: Option<Spanned<String>>,
    pub feedback_from: Option<Spanned<String>>,
    pub rounds: Option<Spanned<u32>>,
}

/// What a primitive task's proposal may change, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EffectFile {
    None,
    Workspace,
    Local,
    Network,
    Irreversible,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunFile {
    pub worker: Spanned<String>,
    #[serde(default)]
    pub args: Vec<Spanned<String>>,
    pub effect: EffectFile,
    #[serde(default)]
    pub idempotent: bool,
    pub timeout_secs: Spanned<u64>,
    #[serde(default)]
    pub retries: u32,
    #[serde(default)]
    pub backoff_ms: u64,
    #[serde(default)]
    pub gate: bool,
    #[serde(default)]
    pub paths: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AskFile {
    pub question: Spanned<String>,
    #[serde(default)]
    pub yes_no: bool,
}

/// A precondition as written: `{ param, equals }`, `{ node, exists }` or
/// `{ node, attr, equals }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConditionFile {
    pub param: Option<String>,
    pub node: Option<String>,
    pub attr: Option<String>,
    pub exists: Option<bool>,
    pub equals: Option<toml::Value>,
}
