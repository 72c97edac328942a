//! The job's parameters: a JSON document in `Job.input`, flags in `Job.args`, or both
//! (flags win), checked once so the loop never meets a value out of range.
//!
//! Both forms exist because a method library's `run` step can only give a worker args
//! (templates over the task's parameters), while a client submitting a job directly can
//! give a whole JSON input. A process step's input is `{"answers": {...}}` (what people
//! answered earlier in the process) or empty; the answers reach the model as context.

use serde::Deserialize;
use serde_json::Value;

/// Turns a job may ask for when it names none.
pub const MAX_TURNS_DEFAULT: u32 = 8;
/// Most turns any job may ask for: each turn is a model call the budget pays for.
pub const MAX_TURNS_MAX: u32 = 32;
/// Most tokens per call a job may ask for.
pub const MAX_TOKENS_MAX: u32 = 1_000_000;
/// Longest task text, in bytes.
pub const TASK_BYTES_MAX: usize = 64 * 1024;
/// Most feedback kept, in bytes; a longer one keeps its end, where a failed test's
/// output usually says what went wrong.
pub const FEEDBACK_BYTES_MAX: usize = 32 * 1024;
/// Longest endpoint URL, in bytes (the request URL must stay within the fetch limit).
pub const ENDPOINT_BYTES_MAX: usize = 2048;
/// Longest model name, in bytes.
pub const MODEL_BYTES_MAX: usize = 256;
/// Longest secret name, in bytes.
pub const SECRET_NAME_BYTES_MAX: usize = 64;
/// Most path prefixes in scope.
pub const PATHS_MAX: usize = 256;
/// Largest `response_format` or `answers` document, in bytes once encoded.
pub const DOCUMENT_BYTES_MAX: usize = 64 * 1024;

/// The job's parameters, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// The base URL, without a trailing `/`; the worker POSTs to `{endpoint}/chat/completions`.
    pub endpoint: String,
    /// The model, as the endpoint names it.
    pub model: String,
    /// The registered secret sent as `Authorization: Bearer ${secret:NAME}`.
    pub key_secret: Option<String>,
    /// What to do.
    pub task: String,
    /// Path prefixes in scope; empty for the whole workspace.
    pub paths: Vec<String>,
    /// Text such as a failed test's output, cut to its last [`FEEDBACK_BYTES_MAX`] bytes.
    pub feedback: Option<String>,
    /// A workspace file whose content is more feedback (e.g. a test log an earlier step
    /// wrote).
    pub feedback_file: Option<String>,
    /// Ask for a streamed (SSE) response.
    pub stream: bool,
    /// Model calls at most.
    pub max_turns: u32,
    /// `max_tokens` of each call, if bounded.
    pub max_tokens: Option<u32>,
    /// Sampling temperature, 0 by default so runs repeat as far as the model allows.
    pub temperature: f64,
    /// Passed through as the request's `response_format` (JSON output mode).
    pub response_format: Option<Value>,
    /// Answers given earlier in the process (from the daemon), as JSON.
    pub answers: Option<Value>,
}

/// The JSON form, every field optional so args can complete it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    endpoint: Option<String>,
    model: Option<String>,
    key_secret: Option<String>,
    task: Option<String>,
    paths: Option<Vec<String>>,
    feedback: Option<FeedbackRaw>,
    feedback_file: Option<String>,
    stream: Option<bool>,
    max_turns: Option<u32>,
    max_tokens: Option<u32>,
    temperature: Option<f64>,
    response_format: Option<Value>,
    answers: Option<Value>,
    /// `--feedback`, kept apart from the input's so a round's output adds to it.
    #[serde(skip)]
    feedback_flag: Option<String>,
}

/// Feedback as the JSON input gives it: text, or a feedback round's (a method library's
/// `feedback_from`), which the daemon fills in with the failed gate's output.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FeedbackRaw {
    /// Text.
    Text(String),
    /// A feedback round: the gate's attempt, the round, and what the gate said.
    Round {
        attempt: u64,
        round: u32,
        #[serde(default)]
        output: Option<String>,
    },
}

/// The flag's text (the step's own words, e.g. which test failed) before the input's
/// (a round's failed output), when both are given.
fn feedback_text(flag: Option<String>, input: Option<FeedbackRaw>) -> Option<String> {
    let input = input.map(|feedback| match feedback {
        FeedbackRaw::Text(text) => text,
        FeedbackRaw::Round {
            attempt,
            round,
            output,
        } => format!(
            "Round {round}: your last change did not pass; the check (attempt {attempt}) said:\n{}",
            output.unwrap_or_default()
        ),
    });
    match (flag, input) {
        (Some(flag), Some(input)) => Some(format!("{flag}\n\n{input}")),
        (flag, input) => flag.or(input),
    }
}

/// Reads the job's input and args into checked parameters.
pub fn parse(input: &[u8], args: &[String]) -> Result<Input, String> {
    let mut raw = if input.iter().all(u8::is_ascii_whitespace) {
        Raw::default()
    } else {
        serde_json::from_slice::<Raw>(input)
            .map_err(|e| format!("the job's input is not the llm worker's JSON input: {e}"))?
    };
    apply_args(&mut raw, args)?;
    check(raw)
}

/// Applies `--name VALUE` / `--name=VALUE` flags over the JSON input.
fn apply_args(raw: &mut Raw, args: &[String]) -> Result<(), String> {
    let mut paths_from_args: Vec<String> = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(format!(
                "unexpected argument {arg:?}: the llm worker takes flags such as --task TEXT \
                 (docs/LLM_WORKER.md)"
            ));
        };
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (flag, None),
        };
        if name == "stream" {
            raw.stream = Some(match inline.as_deref() {
                None | Some("true") => true,
                Some("false") => false,
                Some(other) => return Err(format!("--stream={other:?}: say true or false")),
            });
            continue;
        }
        let value = match inline {
            Some(value) => value,
            None => rest
                .next()
                .cloned()
                .ok_or_else(|| format!("--{name} needs a value"))?,
        };
        let number = |what: &str| {
            value
                .parse::<u32>()
                .map_err(|_| format!("--{what} {value:?} is not a whole number"))
        };
        match name {
            "endpoint" => raw.endpoint = Some(value),
            "model" => raw.model = Some(value),
            "key-secret" => raw.key_secret = Some(value),
            "task" => raw.task = Some(value),
            "path" => paths_from_args.push(value),
            "feedback" => raw.feedback_flag = Some(value),
            "feedback-file" => raw.feedback_file = Some(value),
            "max-turns" => raw.max_turns = Some(number(name)?),
            "max-tokens" => raw.max_tokens = Some(number(name)?),
            "temperature" => {
                raw.temperature = Some(
                    value
                        .parse::<f64>()
                        .map_err(|_| format!("--temperature {value:?} is not a number"))?,
                )
            }
            "response-format" => {
                raw.response_format = Some(
                    serde_json::from_str(&value)
                        .map_err(|e| format!("--response-format is not a JSON document: {e}"))?,
                )
            }
            other => {
                return Err(format!(
                    "unknown flag --{other}; the llm worker takes --endpoint, --model, \
                     --key-secret, --task, --path, --feedback, --feedback-file, --stream, \
                     --max-turns, --max-tokens, --temperature and --response-format"
                ))
            }
        }
    }
    if !paths_from_args.is_empty() {
        raw.paths = Some(paths_from_args);
    }
    Ok(())
}

fn check(raw: Raw) -> Result<Input, String> {
    let required = |value: Option<String>, what: &str| {
        value
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| format!("the llm worker needs {what} (docs/LLM_WORKER.md)"))
    };
    let endpoint = required(raw.endpoint, "an endpoint (--endpoint URL)")?;
    let endpoint = endpoint.trim_end_matches('/').to_owned();
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(format!(
            "the endpoint {endpoint:?} is not an http or https URL"
        ));
    }
    if endpoint.len() > ENDPOINT_BYTES_MAX || endpoint.chars().any(char::is_whitespace) {
        return Err(format!(
            "the endpoint must be one URL of at most {ENDPOINT_BYTES_MAX} bytes without spaces"
        ));
    }
    let model = required(raw.model, "a model (--model NAME)")?;
    if model.len() > MODEL_BYTES_MAX {
        return Err(format!(
            "the model name is longer than {MODEL_BYTES_MAX} bytes"
        ));
    }
    if let Some(name) = &raw.key_secret {
        let fine = !name.is_empty()
            && name.len() <= SECRET_NAME_BYTES_MAX
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        if !fine {
            return Err(format!(
                "the key secret {name:?} is not a secret's name (letters, digits, `_`, `-`, \
                 `.`; at most {SECRET_NAME_BYTES_MAX} bytes)"
            ));
        }
    }
    let task = required(raw.task, "a task (--task TEXT)")?;
    if task.len() > TASK_BYTES_MAX {
        return Err(format!(
            "the task is {} bytes; at most {TASK_BYTES_MAX}",
            task.len()
        ));
    }
    let paths = raw.paths.unwrap_or_default();
    if paths.len() > PATHS_MAX {
        return Err(format!(
            "{} paths in scope; at most {PATHS_MAX}",
            paths.len()
        ));
    }
    let paths = paths
        .into_iter()
        .map(|p| {
            let p = p.trim_start_matches("./").trim_end_matches('/');
            let p = if p.is_empty() { "." } else { p };
            if p != "." {
                jitos_tree::TreePath::new(p)
                    .map_err(|e| format!("the path in scope {p:?} is not usable: {e}"))?;
            }
            Ok(p.to_owned())
        })
        .collect::<Result<Vec<_>, String>>()?;
    let max_turns = raw.max_turns.unwrap_or(MAX_TURNS_DEFAULT);
    if max_turns == 0 || max_turns > MAX_TURNS_MAX {
        return Err(format!(
            "max_turns {max_turns} is out of range (1 to {MAX_TURNS_MAX})"
        ));
    }
    if let Some(n) = raw.max_tokens {
        if n == 0 || n > MAX_TOKENS_MAX {
            return Err(format!(
                "max_tokens {n} is out of range (1 to {MAX_TOKENS_MAX})"
            ));
        }
    }
    let temperature = raw.temperature.unwrap_or(0.0);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(format!(
            "temperature {temperature} is out of range (0 to 2)"
        ));
    }
    for (what, doc) in [
        ("response_format", &raw.response_format),
        ("answers", &raw.answers),
    ] {
        if let Some(doc) = doc {
            let bytes = serde_json::to_vec(doc)
                .map(|v| v.len())
                .unwrap_or(usize::MAX);
            if bytes > DOCUMENT_BYTES_MAX {
                return Err(format!(
                    "{what} is {bytes} bytes; at most {DOCUMENT_BYTES_MAX}"
                ));
            }
        }
    }
    if let Some(format) = &raw.response_format {
        if !format.is_object() {
            return Err(
                "response_format must be a JSON object, e.g. {\"type\": \"json_object\"}"
                    .to_owned(),
            );
        }
    }
    Ok(Input {
        endpoint,
        model,
        key_secret: raw.key_secret,
        task,
        paths,
        feedback: feedback_text(raw.feedback_flag, raw.feedback)
            .map(|f| keep_tail(&f, FEEDBACK_BYTES_MAX)),
        feedback_file: raw.feedback_file,
        stream: raw.stream.unwrap_or(false),
        max_turns,
        max_tokens: raw.max_tokens,
        temperature,
        response_format: raw.response_format,
        answers: raw.answers,
    })
}

/// The last `max` bytes of `text` (on a character boundary), with a note when cut.
pub fn keep_tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("[… the first {start} bytes were cut]\n{}", &text[start..])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    // Goal: the JSON form alone is enough, and its defaults are the documented ones.
    #[test]
    fn json_input_with_defaults() {
        let input = parse(
            br#"{"endpoint": "http://127.0.0.1:8080/v1/", "model": "m", "task": "fix it"}"#,
            &[],
        )
        .unwrap();
        assert_eq!(input.endpoint, "http://127.0.0.1:8080/v1");
        assert_eq!(input.max_turns, MAX_TURNS_DEFAULT);
        assert_eq!(input.temperature, 0.0);
        assert!(!input.stream);
        assert!(input.paths.is_empty());
    }

    // Goal: a method library's args alone are enough, and flags win over the JSON input,
    // since the process's input may carry only answers.
    #[test]
    fn args_complete_and_override_the_input() {
        let input = parse(
            br#"{"answers": {"ask": "use a loop"}, "model": "old"}"#,
            &args(&[
                "--endpoint",
                "http://h/v1",
                "--model=new",
                "--task",
                "t",
                "--path",
                "src",
                "--path=./docs/",
                "--stream",
                "--max-turns",
                "3",
                "--key-secret",
                "openai",
            ]),
        )
        .unwrap();
        assert_eq!(input.model, "new");
        assert_eq!(input.paths, vec!["src".to_owned(), "docs".to_owned()]);
        assert!(input.stream);
        assert_eq!(input.max_turns, 3);
        assert_eq!(input.key_secret.as_deref(), Some("openai"));
        assert!(input.answers.is_some());
    }

    // Goal: every bad parameter is refused with a reason naming it.
    #[test]
    fn bad_parameters_are_refused_by_name() {
        let base = ["--endpoint", "http://h/v1", "--model", "m", "--task", "t"];
        let with = |extra: &[&str]| {
            let mut all = args(&base);
            all.extend(args(extra));
            parse(b"", &all).unwrap_err()
        };
        assert!(with(&["--max-turns", "0"]).contains("max_turns"));
        assert!(with(&["--max-turns", "33"]).contains("max_turns"));
        assert!(with(&["--temperature", "9"]).contains("temperature"));
        assert!(with(&["--key-secret", "a}b"]).contains("key secret"));
        assert!(with(&["--path", "../x"]).contains("path"));
        assert!(with(&["--bogus", "1"]).contains("unknown flag --bogus"));
        assert!(with(&["stray"]).contains("unexpected argument"));
        assert!(with(&["--response-format", "[1]"]).contains("response_format"));
        assert!(parse(b"", &args(&["--model", "m", "--task", "t"]))
            .unwrap_err()
            .contains("endpoint"));
        assert!(parse(b"{\"nope\": 1}", &[]).unwrap_err().contains("nope"));
        assert!(parse(
            b"",
            &args(&["--endpoint", "ftp://h", "--model", "m", "--task", "t"])
        )
        .unwrap_err()
        .contains("not an http"));
    }

    // Goal: a feedback round's input (what the daemon fills in for `feedback_from`) reaches
    // the model after the step's own `--feedback` words, and plain text still reads.
    #[test]
    fn a_feedback_round_adds_the_gates_output_to_the_flag() {
        let input =
            br#"{"feedback": {"attempt": 41, "round": 1, "output": "FAIL: add 2 3 gave -1"}}"#;
        let base = args(&["--endpoint", "http://h/v1", "--model", "m", "--task", "t"]);
        let mut with_flag = base.clone();
        with_flag.extend(args(&["--feedback", "the test fails"]));
        let parsed = parse(input, &with_flag).unwrap();
        let text = parsed.feedback.unwrap();
        assert!(text.starts_with("the test fails\n\nRound 1"), "{text}");
        assert!(
            text.contains("attempt 41") && text.contains("FAIL: add 2 3 gave -1"),
            "{text}"
        );
        let plain = parse(br#"{"feedback": "plain words"}"#, &base).unwrap();
        assert_eq!(plain.feedback.as_deref(), Some("plain words"));
        assert!(parse(br#"{"feedback": {"round": 1}}"#, &base).is_err());
    }

    // Goal: long feedback keeps its end, cut on a character boundary.
    #[test]
    fn feedback_keeps_its_tail() {
        let text = format!("{}é-the-end", "x".repeat(100));
        let kept = keep_tail(&text, 9);
        assert!(kept.ends_with("-the-end"));
        assert!(kept.starts_with("[… the first"));
        assert_eq!(keep_tail("short", 9), "short");
    }
}
