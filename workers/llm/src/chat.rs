//! The chat-completions protocol: the request body the worker sends, and the reply —
//! whole JSON or an SSE stream — read into one [`Completion`], with every malformed
//! answer a [`ChatError`] that quotes a short, sanitised piece of it.

use serde_json::{json, Value};

use crate::input::Input;
use crate::sse;

/// Longest reply text kept from one completion, in bytes.
pub const CONTENT_BYTES_MAX: usize = 1024 * 1024;
/// Most tool calls read from one completion.
pub const TOOL_CALLS_MAX: usize = 64;
/// Longest arguments of one tool call, in bytes.
pub const ARGUMENTS_BYTES_MAX: usize = 1024 * 1024;
/// Longest piece of a bad reply quoted in an error, in characters.
pub const EXCERPT_CHARS_MAX: usize = 160;

/// One model answer, however it arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completion {
    /// The assistant's text, if any.
    pub content: Option<String>,
    /// The tools it asked for, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Why it stopped (`stop`, `tool_calls`, `length`, …), when said.
    pub finish_reason: Option<String>,
    /// What the endpoint says the call used.
    pub usage: Option<TokenUsage>,
}

/// A tool the model asked to run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCall {
    /// Its id, echoed in the tool's answer (made up when the endpoint gives none).
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// Its arguments: JSON text.
    pub arguments: String,
}

/// Tokens a call used, as the endpoint reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    /// Tokens of the prompt.
    pub prompt_tokens: u64,
    /// Tokens of the reply.
    pub completion_tokens: u64,
}

/// Why a reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// The body is not UTF-8.
    #[error("the model's reply is not UTF-8 text (invalid byte at {at}): {excerpt}")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        at: usize,
        /// What came before and around it.
        excerpt: String,
    },
    /// The body (or a streamed event) is not the JSON expected.
    #[error("the model's reply is not valid JSON ({error}): {excerpt}")]
    Json {
        /// The parser's message.
        error: String,
        /// The start of the text.
        excerpt: String,
    },
    /// The endpoint reported an error object.
    #[error("the model endpoint reported an error: {message}")]
    Endpoint {
        /// Its message, sanitised.
        message: String,
    },
    /// A completion without any choice.
    #[error("the model's reply has no choices: {excerpt}")]
    NoChoices {
        /// The start of the reply.
        excerpt: String,
    },
    /// A field of the wrong shape.
    #[error("the model's reply has {what}: {excerpt}")]
    Shape {
        /// What is wrong.
        what: &'static str,
        /// The start of the reply.
        excerpt: String,
    },
    /// A reply past one of this worker's bounds.
    #[error("the model's reply is too large: {what}")]
    TooLarge {
        /// Which bound, with the numbers.
        what: String,
    },
    /// A stream that ended before the model did.
    #[error("the model's stream ended before the model finished (no [DONE] and no finish_reason)")]
    Unfinished,
}

/// A short, printable piece of `text`, quoted: cut to [`EXCERPT_CHARS_MAX`] characters
/// and escaped as Rust escapes a string (control and invisible characters, quotes), so a
/// reason never carries a terminal escape or a megabyte of garbage.
pub fn excerpt(text: &str) -> String {
    let mut chars = text.char_indices();
    match chars.nth(EXCERPT_CHARS_MAX) {
        Some((at, _)) => format!("{:?}…", &text[..at]),
        None => format!("{text:?}"),
    }
}

/// The body as text, or why not.
pub fn utf8(body: &[u8]) -> Result<&str, ChatError> {
    std::str::from_utf8(body).map_err(|e| {
        let at = e.valid_up_to();
        let from = at.saturating_sub(EXCERPT_CHARS_MAX / 2);
        let to = (at + 16).min(body.len());
        ChatError::NotUtf8 {
            at,
            excerpt: excerpt(&String::from_utf8_lossy(&body[from..to])),
        }
    })
}

/// The request body of one call.
pub fn request_body(input: &Input, messages: &[Value], tools: &Value) -> Value {
    let mut body = json!({
        "model": input.model,
        "messages": messages,
        "tools": tools,
        "tool_choice": "auto",
        "temperature": input.temperature,
        "stream": input.stream,
    });
    if input.stream {
        // Without it a streamed reply carries no usage and the daemon can only estimate.
        body["stream_options"] = json!({ "include_usage": true });
    }
    if let Some(n) = input.max_tokens {
        body["max_tokens"] = json!(n);
    }
    if let Some(format) = &input.response_format {
        body["response_format"] = format.clone();
    }
    body
}

/// Reads a reply body: an SSE stream when the endpoint says so (or the body looks like
/// one, since some servers stream under another content type), a JSON completion
/// otherwise.
pub fn parse_reply(content_type: Option<&str>, body: &[u8]) -> Result<Completion, ChatError> {
    let text = utf8(body)?;
    let is_stream = content_type.is_some_and(|t| t.contains("text/event-stream"))
        || text.trim_start().starts_with("data:");
    if is_stream {
        sse::parse_stream(text)
    } else {
        parse_completion(text)
    }
}

/// Reads a whole (non-streamed) JSON completion.
pub fn parse_completion(text: &str) -> Result<Completion, ChatError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ChatError::Json {
        error: e.to_string(),
        excerpt: excerpt(text),
    })?;
    endpoint_error(&value)?;
    let shape = |what| ChatError::Shape {
        what,
        excerpt: excerpt(text),
    };
    let choices = value
        .get("choices")
        .and_then(Value::as_array)
        .ok_or_else(|| ChatError::NoChoices {
            excerpt: excerpt(text),
        })?;
    let choice = choices.first().ok_or_else(|| ChatError::NoChoices {
        excerpt: excerpt(text),
    })?;
    let message = choice
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| shape("a choice without a message"))?;
    let content = match message.get("content") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(shape("a message whose content is not text")),
    };
    if content
        .as_ref()
        .is_some_and(|c| c.len() > CONTENT_BYTES_MAX)
    {
        return Err(ChatError::TooLarge {
            what: format!("its text is longer than {CONTENT_BYTES_MAX} bytes"),
        });
    }
    let mut tool_calls = Vec::new();
    match message.get("tool_calls") {
        None | Some(Value::Null) => {}
        Some(Value::Array(calls)) => {
            if calls.len() > TOOL_CALLS_MAX {
                return Err(ChatError::TooLarge {
                    what: format!("{} tool calls; at most {TOOL_CALLS_MAX}", calls.len()),
                });
            }
            for call in calls {
                let function = call
                    .get("function")
                    .ok_or_else(|| shape("a tool call without a function"))?;
                let name = function
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| shape("a tool call without a name"))?;
                let arguments = arguments_text(function.get("arguments")).ok_or_else(|| {
                    shape("tool call arguments that are neither text nor an object")
                })?;
                tool_calls.push(ToolCall {
                    id: call
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    name: name.to_owned(),
                    arguments,
                });
            }
        }
        Some(_) => return Err(shape("tool_calls that is not a list")),
    }
    check_calls(&tool_calls)?;
    Ok(Completion {
        content,
        tool_calls,
        finish_reason: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_owned),
        usage: usage_of(&value),
    })
}

/// Arguments as JSON text: most servers send a string, some (Ollama) an object.
pub fn arguments_text(arguments: Option<&Value>) -> Option<String> {
    match arguments {
        None | Some(Value::Null) => Some(String::new()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(object @ Value::Object(_)) => Some(object.to_string()),
        Some(_) => None,
    }
}

/// Refuses tool calls past this worker's bounds.
pub fn check_calls(calls: &[ToolCall]) -> Result<(), ChatError> {
    if calls.len() > TOOL_CALLS_MAX {
        return Err(ChatError::TooLarge {
            what: format!("{} tool calls; at most {TOOL_CALLS_MAX}", calls.len()),
        });
    }
    if let Some(call) = calls
        .iter()
        .find(|c| c.arguments.len() > ARGUMENTS_BYTES_MAX)
    {
        return Err(ChatError::TooLarge {
            what: format!(
                "the arguments of a call to {} are {} bytes; at most {ARGUMENTS_BYTES_MAX}",
                excerpt(&call.name),
                call.arguments.len()
            ),
        });
    }
    Ok(())
}

/// An `{"error": …}` document some endpoints answer with, even under status 200.
pub fn endpoint_error(value: &Value) -> Result<(), ChatError> {
    match value.get("error") {
        None | Some(Value::Null) => Ok(()),
        Some(error) => {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| error.to_string());
            Err(ChatError::Endpoint {
                message: excerpt(&message),
            })
        }
    }
}

/// The `usage` of a completion or stream chunk, when it has one.
pub fn usage_of(value: &Value) -> Option<TokenUsage> {
    let usage = value.get("usage").filter(|u| u.is_object())?;
    let count = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
    Some(TokenUsage {
        prompt_tokens: count("prompt_tokens"),
        completion_tokens: count("completion_tokens"),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // Goal: a completion with tool calls reads into calls with their ids, names and
    // arguments, and its usage; an object as arguments is accepted as its JSON text.
    #[test]
    fn a_completion_with_tool_calls_reads() {
        let text = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":null,
            "tool_calls":[{"id":"c1","type":"function","function":{"name":"read_file","arguments":"{\"path\":\"a\"}"}},
                          {"id":"c2","type":"function","function":{"name":"finish","arguments":{"summary":"ok"}}}]},
            "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}"#;
        let c = parse_completion(text).unwrap();
        assert_eq!(c.content, None);
        assert_eq!(c.tool_calls.len(), 2);
        assert_eq!(c.tool_calls[0].id, "c1");
        assert_eq!(c.tool_calls[0].arguments, r#"{"path":"a"}"#);
        assert_eq!(c.tool_calls[1].arguments, r#"{"summary":"ok"}"#);
        assert_eq!(c.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(
            c.usage,
            Some(TokenUsage {
                prompt_tokens: 12,
                completion_tokens: 5
            })
        );
    }

    // Goal: malformed replies fail with their own reason and a short quoted piece.
    #[test]
    fn malformed_replies_fail_clearly() {
        let e = parse_completion("{\"choices\": [").unwrap_err();
        assert!(matches!(e, ChatError::Json { .. }), "{e}");
        assert!(e.to_string().contains("not valid JSON"));
        let e = parse_completion(r#"{"choices": []}"#).unwrap_err();
        assert!(matches!(e, ChatError::NoChoices { .. }), "{e}");
        let e = parse_completion(r#"{"id": "x"}"#).unwrap_err();
        assert!(matches!(e, ChatError::NoChoices { .. }), "{e}");
        let e = parse_completion(r#"{"error": {"message": "model not found"}}"#).unwrap_err();
        assert!(e.to_string().contains("model not found"), "{e}");
        let long = format!("{{\"x\": \"{}", "y".repeat(10_000));
        let e = parse_completion(&long).unwrap_err().to_string();
        assert!(
            e.len() < 600,
            "the reason quotes too much: {} bytes",
            e.len()
        );
    }

    // Goal: invalid UTF-8 fails naming where, and the excerpt carries no raw control
    // characters.
    #[test]
    fn invalid_utf8_fails_with_its_offset() {
        let mut body = b"{\"choices\": \"\x1b[31m".to_vec();
        body.extend([0xff, 0xfe]);
        let e = parse_reply(Some("application/json"), &body).unwrap_err();
        assert!(matches!(e, ChatError::NotUtf8 { at: 18, .. }), "{e:?}");
        assert!(!e.to_string().contains('\x1b'));
    }

    // Goal: the request asks for usage when streaming and passes response_format through.
    #[test]
    fn the_request_body_carries_the_options() {
        let mut input = crate::input::parse(
            br#"{"endpoint":"http://h/v1","model":"m","task":"t","stream":true,"max_tokens":50,
                "response_format":{"type":"json_object"}}"#,
            &[],
        )
        .unwrap();
        let body = request_body(&input, &[json!({"role":"user","content":"hi"})], &json!([]));
        assert_eq!(body["stream_options"]["include_usage"], json!(true));
        assert_eq!(body["max_tokens"], json!(50));
        assert_eq!(body["response_format"]["type"], json!("json_object"));
        input.stream = false;
        let body = request_body(&input, &[], &json!([]));
        assert!(body.get("stream_options").is_none());
    }
}
