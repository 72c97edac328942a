//! The tool loop: one chat-completions call per turn through the daemon's `fetch`,
//! the tools the model asks for run against the workspace copy, until the model calls
//! `finish` or answers without tools — or the turn bound, a budget, the deadline or a
//! bad reply ends the job as failed with a reason that says which.
//!
//! The loop talks to the world only through [`Env`], so tests drive it with scripted
//! replies and a virtual clock.

use std::time::Duration;

use jitos_worker::{FetchOutcome, FetchRequest, HttpResponse, Method};
use serde_json::{json, Value};

use crate::chat::{self, excerpt, Completion};
use crate::input::{keep_tail, Input, FEEDBACK_BYTES_MAX};
use crate::tools::{self, ToolOutcome, Workspace};
use jitos_worker::limits::FETCH_BODY_BYTES_MAX;

/// Tries of one turn's call: the first and up to this many retries after a 429 or 5xx.
pub const RETRIES_MAX: u32 = 3;
/// Longest wait a `Retry-After` may ask for.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(60);
/// First wait after a 5xx (or a 429 without `Retry-After`); each further one doubles.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);
/// Most tool calls run in one turn.
pub const TOOL_CALLS_PER_TURN_MAX: usize = 32;
/// Most files named in the first message; the model can list the rest.
const FILES_NAMED_MAX: usize = 200;

/// What the loop needs from outside.
pub trait Env {
    /// Has the daemon make `request`; `Err` only when the conversation with it broke.
    fn fetch(&mut self, request: FetchRequest) -> Result<FetchOutcome, String>;
    /// Waits `duration`, or fails (cancelled, or the daemon is gone).
    fn sleep(&mut self, duration: Duration) -> Result<(), String>;
    /// Time since the job was received.
    fn elapsed(&self) -> Duration;
    /// Whether the daemon asked to cancel the job.
    fn cancelled(&self) -> bool;
    /// A line for the job's log.
    fn log(&mut self, line: &str);
}

/// Which job attempt this is, for idempotency keys, and when it must end.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    /// The job.
    pub job_id: u64,
    /// Its attempt.
    pub attempt: u32,
    /// The time the worker has, less a margin to report the outcome.
    pub deadline: Duration,
}

/// How the loop ended well.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The model's summary (its `finish` argument, or its last text).
    pub summary: String,
    /// The conversation and the usage of each call, as JSON.
    pub transcript: Value,
}

/// Runs the loop for `input` over `ws`.
pub fn run(
    input: &Input,
    ids: Ids,
    ws: &mut Workspace,
    env: &mut dyn Env,
) -> Result<Finished, String> {
    let tool_defs = tools::definitions();
    let mut messages = vec![
        json!({ "role": "system", "content": SYSTEM_PROMPT }),
        json!({ "role": "user", "content": first_message(input, ws)? }),
    ];
    let mut turns = Vec::new();
    for turn in 1..=input.max_turns {
        if env.cancelled() {
            return Err("cancelled".to_owned());
        }
        let body = serde_json::to_vec(&chat::request_body(input, &messages, &tool_defs))
            .map_err(|e| format!("cannot encode the model request: {e}"))?;
        if body.len() > FETCH_BODY_BYTES_MAX {
            return Err(format!(
                "the conversation grew to {} bytes at turn {turn}; a model call carries at most \
                 {FETCH_BODY_BYTES_MAX}",
                body.len()
            ));
        }
        let completion = call(input, ids, turn, &body, env)?;
        let usage = completion.usage.unwrap_or_default();
        env.log(&format!(
            "turn {turn}: {} tool calls, {} prompt + {} completion tokens{}",
            completion.tool_calls.len(),
            usage.prompt_tokens,
            usage.completion_tokens,
            if completion.usage.is_none() {
                " (not reported)"
            } else {
                ""
            }
        ));
        turns.push(json!({
            "turn": turn,
            "finish_reason": completion.finish_reason,
            "usage": completion.usage.map(|u| json!({
                "prompt_tokens": u.prompt_tokens,
                "completion_tokens": u.completion_tokens,
            })),
        }));
        let transcript = |messages: &[Value], turns: &[Value]| {
            json!({
                "endpoint": input.endpoint,
                "model": input.model,
                "turns": turns,
                "messages": messages,
            })
        };
        if completion.tool_calls.is_empty() {
            if completion.finish_reason.as_deref() == Some("length") {
                return Err(format!(
                    "the model's reply at turn {turn} was cut off at its token limit \
                     (finish_reason length) before it called finish"
                ));
            }
            let content = completion.content.clone().unwrap_or_default();
            messages.push(json!({ "role": "assistant", "content": content }));
            return Ok(Finished {
                summary: content,
                transcript: transcript(&messages, &turns),
            });
        }
        if completion.tool_calls.len() > TOOL_CALLS_PER_TURN_MAX {
            return Err(format!(
                "the model asked for {} tool calls at turn {turn}; at most {TOOL_CALLS_PER_TURN_MAX}",
                completion.tool_calls.len()
            ));
        }
        let calls = with_ids(&completion, turn);
        messages.push(json!({
            "role": "assistant",
            "content": completion.content,
            "tool_calls": calls.iter().map(|(id, call)| json!({
                "id": id,
                "type": "function",
                "function": { "name": call.name, "arguments": call.arguments },
            })).collect::<Vec<_>>(),
        }));
        for (id, call) in &calls {
            match ws.run(&call.name, &call.arguments) {
                ToolOutcome::Reply(text) => {
                    messages.push(json!({ "role": "tool", "tool_call_id": id, "content": text }));
                }
                ToolOutcome::Finish(summary) => {
                    messages
                        .push(json!({ "role": "tool", "tool_call_id": id, "content": "finished" }));
                    return Ok(Finished {
                        summary,
                        transcript: transcript(&messages, &turns),
                    });
                }
            }
        }
    }
    Err(format!(
        "the model did not finish within {} turns",
        input.max_turns
    ))
}

/// Each call with its id; a server that gives none gets one made up, since the answer
/// must name the call it answers.
fn with_ids(completion: &Completion, turn: u32) -> Vec<(String, chat::ToolCall)> {
    completion
        .tool_calls
        .iter()
        .enumerate()
        .map(|(i, call)| {
            let id = if call.id.is_empty() {
                format!("call_{turn}_{i}")
            } else {
                call.id.clone()
            };
            (id, call.clone())
        })
        .collect()
}

/// One turn's model call, with bounded retries on 429 and 5xx.
fn call(
    input: &Input,
    ids: Ids,
    turn: u32,
    body: &[u8],
    env: &mut dyn Env,
) -> Result<Completion, String> {
    let url = format!("{}/chat/completions", input.endpoint);
    for attempt in 0..=RETRIES_MAX {
        let mut request = FetchRequest::new(Method::Post, url.clone())
            .header("Content-Type", "application/json")
            .header(
                "Accept",
                if input.stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            )
            .body(body.to_vec())
            .idempotency_key(idempotency_key(ids, turn, attempt));
        if let Some(name) = &input.key_secret {
            request = request.header("Authorization", format!("Bearer ${{secret:{name}}}"));
        }
        let response = match env.fetch(request)? {
            // The daemon's reason names the budget or the writ; it is the job's reason.
            FetchOutcome::Refused { reason } => return Err(reason),
            FetchOutcome::Failed { reason } => {
                return Err(format!("the model call failed: {reason}"))
            }
            FetchOutcome::Response(response) => response,
        };
        let wait = match response.status {
            200..=299 => {
                return chat::parse_reply(response.header("content-type"), &response.body)
                    .map_err(|e| e.to_string())
            }
            429 => retry_after(&response).unwrap_or(backoff(attempt)),
            500..=599 => backoff(attempt),
            status => {
                return Err(format!(
                    "the model endpoint answered {status}: {}",
                    excerpt(&String::from_utf8_lossy(&response.body))
                ))
            }
        };
        let status = response.status;
        if attempt == RETRIES_MAX {
            return Err(format!(
                "the model endpoint answered {status} {} times in a row at turn {turn}",
                RETRIES_MAX + 1
            ));
        }
        if env.elapsed() + wait >= ids.deadline {
            return Err(format!(
                "the model endpoint answered {status} and asked to wait {} s, which would pass \
                 the job's deadline",
                wait.as_secs_f64()
            ));
        }
        env.log(&format!(
            "turn {turn}: the endpoint answered {status}; retrying in {} ms",
            wait.as_millis()
        ));
        env.sleep(wait)?;
    }
    // The loop returns on its last try; this is for the compiler.
    Err(format!("the model call at turn {turn} was not made"))
}

/// `llm-<job>-<attempt>-<turn>-<try>`: the same call retried after a crash has the same
/// key, a retry of the call (after a 429 or 5xx) another. At most 4 numbers of at most 20
/// digits, far below the 128 bytes allowed.
pub fn idempotency_key(ids: Ids, turn: u32, attempt: u32) -> String {
    format!("llm-{}-{}-{turn}-{attempt}", ids.job_id, ids.attempt)
}

/// The `Retry-After` seconds, bounded; an HTTP date or garbage counts as absent.
fn retry_after(response: &HttpResponse) -> Option<Duration> {
    let seconds: u64 = response.header("retry-after")?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(RETRY_AFTER_MAX))
}

fn backoff(attempt: u32) -> Duration {
    (BACKOFF_FIRST * 2u32.saturating_pow(attempt)).min(RETRY_AFTER_MAX)
}

const SYSTEM_PROMPT: &str = "You are a careful software engineer working on the files of one \
workspace. You can only act through the tools: list_files, read_file, write_file, apply_patch \
and finish. Paths are relative to the workspace root. Read a file before you change it. \
Prefer apply_patch for small edits: `old` must be copied exactly and occur exactly once. \
When the task is done, call finish with a short summary of what you changed and why. \
Your changes are a proposal that is tested before it is accepted.";

/// The task, the files in scope, the feedback and any earlier answers.
fn first_message(input: &Input, ws: &Workspace) -> Result<String, String> {
    let mut text = format!("Task:\n{}\n", input.task);
    let files = ws.files_in_scope();
    text.push_str(&format!("\nFiles in scope ({}):\n", files.len()));
    for (path, size) in files.iter().take(FILES_NAMED_MAX) {
        text.push_str(&format!("- {path} ({size} bytes)\n"));
    }
    if files.len() > FILES_NAMED_MAX {
        text.push_str(&format!(
            "… and {} more; call list_files to see them all\n",
            files.len() - FILES_NAMED_MAX
        ));
    }
    if let Some(feedback) = &input.feedback {
        text.push_str(&format!("\nFeedback from the last try:\n{feedback}\n"));
    }
    if let Some(file) = &input.feedback_file {
        let path = jitos_tree::TreePath::new(file)
            .map_err(|e| format!("the feedback file {file:?} is not usable: {e}"))?;
        let bytes = ws
            .content(&path)
            .map_err(|e| format!("cannot read the feedback file: {e}"))?;
        let feedback = keep_tail(&String::from_utf8_lossy(&bytes), FEEDBACK_BYTES_MAX);
        text.push_str(&format!("\nFeedback from {path}:\n{feedback}\n"));
    }
    if let Some(answers) = &input.answers {
        text.push_str(&format!(
            "\nAnswers given earlier in this process:\n{answers}\n"
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jitos_worker::Header;
    use std::collections::VecDeque;

    /// Scripted outcomes, the requests made, and a clock that moves only when slept.
    struct Fake {
        replies: VecDeque<FetchOutcome>,
        requests: Vec<FetchRequest>,
        now: Duration,
        slept: Vec<Duration>,
        logged: Vec<String>,
    }

    impl Fake {
        fn new(replies: Vec<FetchOutcome>) -> Fake {
            Fake {
                replies: replies.into(),
                requests: Vec::new(),
                now: Duration::ZERO,
                slept: Vec::new(),
                logged: Vec::new(),
            }
        }

        fn keys(&self) -> Vec<String> {
            self.requests
                .iter()
                .map(|r| r.idempotency_key.clone().unwrap())
                .collect()
        }
    }

    impl Env for Fake {
        fn fetch(&mut self, request: FetchRequest) -> Result<FetchOutcome, String> {
            self.requests.push(request);
            self.replies
                .pop_front()
                .ok_or_else(|| "the script ran out".to_owned())
        }
        fn sleep(&mut self, duration: Duration) -> Result<(), String> {
            self.now += duration;
            self.slept.push(duration);
            Ok(())
        }
        fn elapsed(&self) -> Duration {
            self.now
        }
        fn cancelled(&self) -> bool {
            false
        }
        fn log(&mut self, line: &str) {
            self.logged.push(line.to_owned());
        }
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> FetchOutcome {
        FetchOutcome::Response(HttpResponse {
            status,
            headers: headers.iter().map(|(n, v)| Header::new(*n, *v)).collect(),
            body: body.as_bytes().to_vec(),
        })
    }

    fn calls(calls: &[(&str, Value)]) -> FetchOutcome {
        let calls: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (name, args))| {
                json!({"id": format!("c{i}"), "type": "function",
                       "function": {"name": name, "arguments": args.to_string()}})
            })
            .collect();
        let body = json!({"choices": [{"message": {"role": "assistant", "content": null,
            "tool_calls": calls}, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2}});
        response(
            200,
            &[("Content-Type", "application/json")],
            &body.to_string(),
        )
    }

    fn text(content: &str) -> FetchOutcome {
        let body = json!({"choices": [{"message": {"role": "assistant", "content": content},
            "finish_reason": "stop"}]});
        response(200, &[], &body.to_string())
    }

    fn input(max_turns: u32) -> Input {
        crate::input::parse(
            json!({"endpoint": "http://127.0.0.1:9/v1", "model": "m", "task": "fix f.txt",
                   "key_secret": "openai", "max_turns": max_turns, "feedback": "test failed"})
            .to_string()
            .as_bytes(),
            &[],
        )
        .unwrap()
    }

    const IDS: Ids = Ids {
        job_id: 7,
        attempt: 2,
        deadline: Duration::from_secs(30),
    };

    fn run_script(
        max_turns: u32,
        replies: Vec<FetchOutcome>,
    ) -> (Result<Finished, String>, Fake, Workspace) {
        let mut ws = crate::tools::tests::workspace(&[("f.txt", "a = 1 - 2\n")], &[]);
        let mut env = Fake::new(replies);
        let result = run(&input(max_turns), IDS, &mut ws, &mut env);
        (result, env, ws)
    }

    // Goal: a model that reads, patches and finishes ends the loop with its summary and
    // the edit in the copy; each call is a POST to {endpoint}/chat/completions with the
    // secret named (never its value), JSON, and a key per job, attempt, turn and try.
    #[test]
    fn read_patch_finish() {
        let (result, env, ws) = run_script(
            8,
            vec![
                calls(&[("read_file", json!({"path": "f.txt"}))]),
                calls(&[
                    (
                        "apply_patch",
                        json!({"path": "f.txt", "old": "1 - 2", "new": "2 - 1"}),
                    ),
                    ("finish", json!({"summary": "swapped"})),
                ]),
            ],
        );
        let finished = result.unwrap();
        assert_eq!(finished.summary, "swapped");
        assert_eq!(ws.written.values().next().unwrap(), b"a = 2 - 1\n",);
        assert_eq!(env.keys(), ["llm-7-2-1-0", "llm-7-2-2-0"]);
        let first = &env.requests[0];
        assert_eq!(first.method, Method::Post);
        assert_eq!(first.url, "http://127.0.0.1:9/v1/chat/completions");
        assert!(first
            .headers
            .iter()
            .any(|h| h.name == "Authorization" && h.value == "Bearer ${secret:openai}"));
        let body: Value = serde_json::from_slice(&first.body).unwrap();
        assert_eq!(body["model"], json!("m"));
        assert_eq!(body["tools"].as_array().unwrap().len(), 5);
        let user = body["messages"][1]["content"].as_str().unwrap();
        assert!(
            user.contains("fix f.txt")
                && user.contains("f.txt (10 bytes)")
                && user.contains("test failed"),
            "{user}"
        );
        // The second call carries the first's tool answer, naming its call.
        let second: Value = serde_json::from_slice(&env.requests[1].body).unwrap();
        assert_eq!(second["messages"][3]["role"], json!("tool"));
        assert_eq!(second["messages"][3]["tool_call_id"], json!("c0"));
        assert_eq!(second["messages"][3]["content"], json!("a = 1 - 2\n"));
        assert_eq!(finished.transcript["turns"].as_array().unwrap().len(), 2);
        assert!(
            env.logged[0].contains("10 prompt + 2 completion tokens"),
            "{:?}",
            env.logged
        );
    }

    // Goal: a reply without tool calls ends the loop, its text the summary.
    #[test]
    fn a_reply_without_tools_stops() {
        let (result, env, ws) = run_script(8, vec![text("nothing to do")]);
        assert_eq!(result.unwrap().summary, "nothing to do");
        assert_eq!(env.requests.len(), 1);
        assert!(ws.written.is_empty());
    }

    // Goal: a model that never finishes fails at the turn bound, after exactly that many
    // calls.
    #[test]
    fn the_turn_bound_ends_the_loop() {
        let replies = (0..5)
            .map(|_| calls(&[("list_files", json!({}))]))
            .collect();
        let (result, env, _) = run_script(3, replies);
        assert_eq!(
            result.unwrap_err(),
            "the model did not finish within 3 turns"
        );
        assert_eq!(env.requests.len(), 3);
    }

    // Goal: a 429 waits its Retry-After and retries under a new key; a 5xx backs off.
    #[test]
    fn rate_limits_and_server_errors_are_retried() {
        let (result, env, _) = run_script(
            8,
            vec![
                response(429, &[("Retry-After", "2")], "slow down"),
                response(503, &[], "busy"),
                text("ok"),
            ],
        );
        assert_eq!(result.unwrap().summary, "ok");
        assert_eq!(env.keys(), ["llm-7-2-1-0", "llm-7-2-1-1", "llm-7-2-1-2"]);
        assert_eq!(env.slept, [Duration::from_secs(2), Duration::from_secs(2)]);
    }

    // Goal: retries are bounded, and the failure names the status.
    #[test]
    fn server_errors_fail_after_the_retries() {
        let replies = (0..6).map(|_| response(500, &[], "boom")).collect();
        let (result, env, _) = run_script(8, replies);
        let reason = result.unwrap_err();
        assert!(reason.contains("answered 500 4 times"), "{reason}");
        assert_eq!(env.requests.len(), 4);
    }

    // Goal: a Retry-After that would pass the deadline fails at once, without waiting.
    #[test]
    fn a_wait_past_the_deadline_fails() {
        let (result, env, _) = run_script(8, vec![response(429, &[("Retry-After", "45")], "")]);
        let reason = result.unwrap_err();
        assert!(reason.contains("deadline"), "{reason}");
        assert!(env.slept.is_empty());
    }

    // Goal: a refusal is the job's reason verbatim; a failure is quoted; another status,
    // malformed JSON and no choices fail clearly.
    #[test]
    fn refusals_failures_and_bad_replies() {
        let refused = "the writ's token budget is spent (1000 of 1000 tokens)";
        let (result, _, _) = run_script(
            8,
            vec![FetchOutcome::Refused {
                reason: refused.to_owned(),
            }],
        );
        assert_eq!(result.unwrap_err(), refused);
        let (result, _, _) = run_script(
            8,
            vec![FetchOutcome::Failed {
                reason: "the body passed 4 MiB".to_owned(),
            }],
        );
        assert_eq!(
            result.unwrap_err(),
            "the model call failed: the body passed 4 MiB"
        );
        let (result, _, _) = run_script(8, vec![response(401, &[], "{\"error\":\"bad key\"}")]);
        assert!(result.unwrap_err().contains("answered 401"));
        let (result, _, _) = run_script(8, vec![response(200, &[], "{\"choices\": [")]);
        assert!(result.unwrap_err().contains("not valid JSON"));
        let (result, _, _) = run_script(8, vec![response(200, &[], "{\"choices\": []}")]);
        assert!(result.unwrap_err().contains("no choices"));
    }

    // Goal: the key stays within the protocol's 128 bytes at the largest numbers.
    #[test]
    fn the_idempotency_key_is_bounded() {
        let ids = Ids {
            job_id: u64::MAX,
            attempt: u32::MAX,
            deadline: Duration::ZERO,
        };
        let key = idempotency_key(ids, u32::MAX, RETRIES_MAX);
        assert!(
            key.len() <= jitos_worker::limits::IDEMPOTENCY_KEY_BYTES_MAX,
            "{key}"
        );
        assert!(key.starts_with("llm-18446744073709551615-"));
    }
}
