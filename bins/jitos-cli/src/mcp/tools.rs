//! The tools: their names, descriptions and JSON input schemas (`tools/list`), reading
//! their arguments strictly, and running one (`tools/call`) into an MCP tool result.

use serde_json::{json, Map, Value};

use super::{daemon::Session, file_tools, job_tools, workspace_tools};

/// Why a tool call failed. Each becomes a tool result with `isError: true` and this
/// message, so the agent reads it and can correct itself; the server goes on.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// An argument is missing, of the wrong type or out of range.
    #[error("{0}")]
    BadArgument(String),
    /// The daemon refused the request; its message says why. Nothing was recorded but
    /// the refusal (`access.refused`, when it was one of authority).
    #[error("jitosd refused: {0}")]
    Refused(String),
    /// The daemon could not be reached or answered out of turn.
    #[error("{0}")]
    Daemon(String),
}

/// One tool as `tools/list` shows it.
struct Tool {
    name: &'static str,
    description: &'static str,
    schema: Value,
}

/// The workspace argument every workspace tool takes.
fn workspace_arg(what: &str) -> Value {
    json!({ "type": "integer", "minimum": 1, "description": what })
}

fn tools() -> Vec<Tool> {
    vec![
        Tool {
            name: "workspace_open",
            description: "Open a speculative workspace over the system's files (copy-on-write; \
                nothing reaches the system until collapse). Returns its id, which the other \
                tools take. Recorded in the JITOS ledger as your user's act.",
            schema: json!({ "type": "object", "properties": {}, "additionalProperties": false }),
        },
        Tool {
            name: "files_list",
            description: "List the files and directories of a workspace (or, without one, \
                of the system), optionally only those under a path prefix.",
            schema: json!({
                "type": "object",
                "properties": {
                    "workspace": workspace_arg("The workspace; omit for the system's files."),
                    "prefix": { "type": "string", "description": "Only paths under this relative path, e.g. `src`." }
                },
                "additionalProperties": false
            }),
        },
        Tool {
            name: "file_read",
            description: "Read one UTF-8 text file of a workspace (or of the system). \
                Paths are relative to the tree's root, `/`-separated, with no `.` or `..`.",
            schema: json!({
                "type": "object",
                "properties": {
                    "workspace": workspace_arg("The workspace; omit for the system's files."),
                    "path": { "type": "string", "description": "e.g. `src/main.rs`" }
                },
                "required": ["path"],
                "additionalProperties": false
            }),
        },
        Tool {
            name: "file_write",
            description: "Create or replace one file in a workspace this session opened \
                (never the system): one recorded rewrite of the workspace. Missing parent \
                directories are created.",
            schema: json!({
                "type": "object",
                "properties": {
                    "workspace": workspace_arg("A workspace opened by this session."),
                    "path": { "type": "string", "description": "Relative path, e.g. `src/lib.rs`." },
                    "content": { "type": "string", "description": "The whole new content (UTF-8 text)." },
                    "executable": { "type": "boolean", "description": "Set the execute bit (default false)." }
                },
                "required": ["workspace", "path", "content"],
                "additionalProperties": false
            }),
        },
        Tool {
            name: "job_run",
            description: "Run a command in a workspace this session opened, on a sandboxed \
                worker (default `shell`: the command runs confined, with no network, in a \
                private copy of the workspace's files). Waits for its end and returns the \
                exit status, its stdout and stderr, and the files it changed in the workspace. \
                Its changes land in the workspace only.",
            schema: json!({
                "type": "object",
                "properties": {
                    "workspace": workspace_arg("A workspace opened by this session."),
                    "command": {
                        "type": "array", "items": { "type": "string" }, "minItems": 1,
                        "description": "The argv, e.g. [\"sh\", \"-c\", \"cargo test\"]."
                    },
                    "worker": { "type": "string", "description": "The worker (default `shell`)." },
                    "paths": {
                        "type": "array", "items": { "type": "string" },
                        "description": "Paths the job may change; omit for the whole tree."
                    },
                    "timeout_secs": { "type": "number", "exclusiveMinimum": 0, "description": "Kill it after this long (default: the daemon's)." }
                },
                "required": ["workspace", "command"],
                "additionalProperties": false
            }),
        },
        Tool {
            name: "diff",
            description: "Show a workspace's changes against its base: the files added, \
                removed and modified, and a unified diff.",
            schema: json!({
                "type": "object",
                "properties": { "workspace": workspace_arg("The workspace.") },
                "required": ["workspace"],
                "additionalProperties": false
            }),
        },
        Tool {
            name: "collapse",
            description: "Ask for the workspace's changes to be committed into the system, \
                in one recorded act, under the daemon's rules. The policy in force rules on \
                it first: allowed, it commits; denied, it is refused saying by which rule; \
                held, it waits for people to approve (`held: true`, with how many approvals \
                it needs) and commits itself when the last one is given — call collapse \
                again later to see where it stands, and do not change the workspace \
                meanwhile (a change needs a new ruling, and approvals given before no \
                longer count). Refused with each conflict named when the system changed \
                underneath what the workspace read or wrote; nothing is applied then.",
            schema: json!({
                "type": "object",
                "properties": { "workspace": workspace_arg("A workspace opened by this session.") },
                "required": ["workspace"],
                "additionalProperties": false
            }),
        },
        Tool {
            name: "workspace_discard",
            description: "End a workspace without applying it; the reason is recorded and \
                its history stays in the ledger.",
            schema: json!({
                "type": "object",
                "properties": {
                    "workspace": workspace_arg("A workspace opened by this session."),
                    "reason": { "type": "string", "minLength": 1, "description": "Why, kept in the ledger." }
                },
                "required": ["workspace", "reason"],
                "additionalProperties": false
            }),
        },
    ]
}

/// The `tools/list` result.
pub fn list() -> Value {
    let tools: Vec<Value> = tools()
        .into_iter()
        .map(|tool| {
            json!({
                "name": tool.name,
                "description": tool.description,
                "inputSchema": tool.schema,
            })
        })
        .collect();
    json!({ "tools": tools })
}

/// Whether `name` is one of the tools.
pub fn exists(name: &str) -> bool {
    tools().iter().any(|tool| tool.name == name)
}

/// Runs the tool `name` (which [`exists`]) and turns its outcome into a tool result.
pub fn call(session: &mut Session, name: &str, arguments: &Map<String, Value>) -> Value {
    let args = Args(arguments);
    let outcome = match name {
        "workspace_open" => args.only(&[]).and_then(|()| workspace_tools::open(session)),
        "files_list" => file_tools::list(session, &args),
        "file_read" => file_tools::read(session, &args),
        "file_write" => file_tools::write(session, &args),
        "job_run" => job_tools::run(session, &args),
        "diff" => workspace_tools::diff(session, &args),
        "collapse" => workspace_tools::collapse(session, &args),
        "workspace_discard" => workspace_tools::discard(session, &args),
        other => Err(ToolError::BadArgument(format!(
            "no tool is named {other:?}"
        ))),
    };
    match outcome {
        Ok(value) => {
            let text = text_of(name, &value);
            json!({
                "content": [{ "type": "text", "text": text }],
                "structuredContent": value,
                "isError": false,
            })
        }
        Err(e) => json!({
            "content": [{ "type": "text", "text": e.to_string() }],
            "isError": true,
        }),
    }
}

/// The text content of a result, for clients and models that read only text: what a
/// person would want to see (a file's content, a diff, a job's output), else the
/// structured result as JSON.
fn text_of(name: &str, value: &Value) -> String {
    let str_of = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
    let changes = |key: &str| -> String {
        value[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                format!(
                    "{} {}\n",
                    str_of_change(c, "change"),
                    str_of_change(c, "path")
                )
            })
            .collect()
    };
    match name {
        "file_read" => str_of("content"),
        "diff" => {
            let files = changes("files");
            if files.is_empty() {
                return format!(
                    "workspace {} has no file changes against its base\n",
                    value["workspace"]
                );
            }
            let mut text = files + "\n" + &str_of("unified_diff");
            if value["truncated"] == json!(true) {
                text.push_str("\n[… cut: the diff is longer]\n");
            }
            text
        }
        "job_run" => {
            let mut text = format!(
                "attempt {} in workspace {}: {}\n",
                value["attempt"],
                value["workspace"],
                str_of("state")
            );
            let files = changes("files_changed");
            if !files.is_empty() {
                text.push_str("files changed in the workspace:\n");
                text.push_str(&files);
            }
            for stream in ["stdout", "stderr", "detail", "reason"] {
                let shown = str_of(stream);
                if !shown.is_empty() {
                    text.push_str(&format!("--- {stream} ---\n{shown}"));
                    if !shown.ends_with('\n') {
                        text.push('\n');
                    }
                }
            }
            text
        }
        _ => serde_json::to_string_pretty(value).unwrap_or_else(|e| e.to_string()),
    }
}

fn str_of_change<'a>(change: &'a Value, key: &str) -> &'a str {
    change[key].as_str().unwrap_or_default()
}

/// A tool's arguments, read strictly: a wrong type, a missing required one or an unknown
/// name is a [`ToolError::BadArgument`] that names the argument.
pub struct Args<'a>(&'a Map<String, Value>);

impl Args<'_> {
    /// Refuses any argument not in `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), ToolError> {
        match self.0.keys().find(|key| !known.contains(&key.as_str())) {
            None => Ok(()),
            Some(key) if known.is_empty() => Err(ToolError::BadArgument(format!(
                "unknown argument `{key}`: this tool takes none"
            ))),
            Some(key) => Err(ToolError::BadArgument(format!(
                "unknown argument `{key}`: this tool takes {}",
                known.join(", ")
            ))),
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|value| !value.is_null())
    }

    fn missing(name: &str) -> ToolError {
        ToolError::BadArgument(format!("argument `{name}` is required"))
    }

    fn wrong(name: &str, wanted: &str, got: &Value) -> ToolError {
        let kind = match got {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        ToolError::BadArgument(format!("argument `{name}` must be {wanted}, not {kind}"))
    }

    /// An optional positive whole number.
    pub fn opt_id(&self, name: &str) -> Result<Option<u64>, ToolError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => match value.as_u64() {
                Some(n) if n > 0 => Ok(Some(n)),
                _ => Err(Self::wrong(name, "a positive whole number", value)),
            },
        }
    }

    /// A required positive whole number.
    pub fn id(&self, name: &str) -> Result<u64, ToolError> {
        self.opt_id(name)?.ok_or_else(|| Self::missing(name))
    }

    /// An optional string.
    pub fn opt_str(&self, name: &str) -> Result<Option<&str>, ToolError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(value) => Err(Self::wrong(name, "a string", value)),
        }
    }

    /// A required string.
    pub fn str(&self, name: &str) -> Result<&str, ToolError> {
        self.opt_str(name)?.ok_or_else(|| Self::missing(name))
    }

    /// An optional boolean.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, ToolError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(value) => Err(Self::wrong(name, "a boolean", value)),
        }
    }

    /// An optional positive number.
    pub fn opt_positive(&self, name: &str) -> Result<Option<f64>, ToolError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => match value.as_f64() {
                Some(n) if n.is_finite() && n > 0.0 => Ok(Some(n)),
                _ => Err(Self::wrong(name, "a positive number", value)),
            },
        }
    }

    /// An optional array of strings.
    pub fn opt_strings(&self, name: &str) -> Result<Option<Vec<String>>, ToolError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let wrong = || Self::wrong(name, "an array of strings", value);
        let items = value.as_array().ok_or_else(wrong)?;
        items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(wrong))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// The answer was not one the request has; the daemon and this `jitos` disagree.
pub fn unexpected(what: &str, response: &jitos_proto::Response) -> ToolError {
    let shown: String = format!("{response:?}").chars().take(200).collect();
    ToolError::Daemon(format!("jitosd answered {what} out of turn: {shown}"))
}
