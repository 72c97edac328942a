//! Server-sent events: an incremental decoder of `data:` lines that takes bytes split
//! anywhere, and the assembly of a streamed chat completion (content and tool-call deltas
//! joined by index) into one [`Completion`].

use std::collections::BTreeMap;

use serde_json::Value;

use crate::chat::{
    self, check_calls, endpoint_error, excerpt, usage_of, ChatError, Completion, ToolCall,
    ARGUMENTS_BYTES_MAX, CONTENT_BYTES_MAX, TOOL_CALLS_MAX,
};

/// Longest line of a stream, in bytes; a longer one is a reply gone wrong.
pub const LINE_BYTES_MAX: usize = 2 * 1024 * 1024;
/// Most events in one stream.
pub const EVENTS_MAX: usize = 200_000;

/// Decodes SSE into the `data` of each event. Lines end in `\n`, `\r\n` or `\r`; an
/// event ends at a blank line; several `data:` lines of one event join with `\n`;
/// comments (`:`) and other fields are skipped.
#[derive(Debug, Default)]
pub struct Decoder {
    line: Vec<u8>,
    data: Option<Vec<u8>>,
    /// The last byte was a `\r`, so a `\n` right after it ends nothing.
    after_cr: bool,
    events: usize,
}

impl Decoder {
    /// Takes the next bytes, appending each event they complete to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Vec<u8>>) -> Result<(), ChatError> {
        for &b in bytes {
            if self.after_cr && b == b'\n' {
                self.after_cr = false;
                continue;
            }
            self.after_cr = b == b'\r';
            if b == b'\n' || b == b'\r' {
                self.end_line(out)?;
            } else {
                if self.line.len() >= LINE_BYTES_MAX {
                    return Err(ChatError::TooLarge {
                        what: format!("a line of its stream is longer than {LINE_BYTES_MAX} bytes"),
                    });
                }
                self.line.push(b);
            }
        }
        Ok(())
    }

    /// Ends the stream: a last event without its blank line still counts.
    pub fn finish(mut self, out: &mut Vec<Vec<u8>>) -> Result<(), ChatError> {
        if !self.line.is_empty() {
            self.end_line(out)?;
        }
        self.dispatch(out)
    }

    fn end_line(&mut self, out: &mut Vec<Vec<u8>>) -> Result<(), ChatError> {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            return self.dispatch(out);
        }
        if line.starts_with(b":") {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(at) => {
                let value = &line[at + 1..];
                (&line[..at], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (&line[..], &[][..]),
        };
        if field == b"data" {
            // A second `data:` line of the same event joins the first with a newline.
            let data = match self.data.as_mut() {
                Some(data) => {
                    data.push(b'\n');
                    data
                }
                None => self.data.insert(Vec::new()),
            };
            if data.len() + value.len() > LINE_BYTES_MAX {
                return Err(ChatError::TooLarge {
                    what: format!("an event of its stream is longer than {LINE_BYTES_MAX} bytes"),
                });
            }
            data.extend_from_slice(value);
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<Vec<u8>>) -> Result<(), ChatError> {
        if let Some(data) = self.data.take() {
            self.events += 1;
            if self.events > EVENTS_MAX {
                return Err(ChatError::TooLarge {
                    what: format!("its stream has more than {EVENTS_MAX} events"),
                });
            }
            out.push(data);
        }
        Ok(())
    }
}

/// Reads a whole streamed reply: each event's data is a JSON chunk, or `[DONE]`.
pub fn parse_stream(text: &str) -> Result<Completion, ChatError> {
    let mut events = Vec::new();
    let mut decoder = Decoder::default();
    decoder.feed(text.as_bytes(), &mut events)?;
    decoder.finish(&mut events)?;
    let mut assembler = Assembler::default();
    for data in events {
        let data = chat::utf8(&data)?;
        assembler.push(data)?;
    }
    assembler.finish()
}

/// Joins a stream's chunks into one completion.
#[derive(Debug, Default)]
pub struct Assembler {
    content: String,
    has_content: bool,
    calls: BTreeMap<u64, ToolCall>,
    finish_reason: Option<String>,
    usage: Option<chat::TokenUsage>,
    done: bool,
}

impl Assembler {
    /// Takes one event's data.
    pub fn push(&mut self, data: &str) -> Result<(), ChatError> {
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        if data.is_empty() {
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(data).map_err(|e| ChatError::Json {
            error: format!("in a streamed event: {e}"),
            excerpt: excerpt(data),
        })?;
        endpoint_error(&chunk)?;
        if let Some(usage) = usage_of(&chunk) {
            self.usage = Some(usage);
        }
        let shape = |what| ChatError::Shape {
            what,
            excerpt: excerpt(data),
        };
        let Some(choices) = chunk.get("choices") else {
            return Ok(());
        };
        let choices = choices
            .as_array()
            .ok_or_else(|| shape("streamed choices that are not a list"))?;
        // The usage chunk has no choices; only the first choice is ever asked for.
        let Some(choice) = choices.first() else {
            return Ok(());
        };
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_owned());
        }
        let Some(delta) = choice.get("delta").filter(|d| !d.is_null()) else {
            return Ok(());
        };
        match delta.get("content") {
            None | Some(Value::Null) => {}
            Some(Value::String(piece)) => {
                self.has_content = true;
                if self.content.len() + piece.len() > CONTENT_BYTES_MAX {
                    return Err(ChatError::TooLarge {
                        what: format!("its streamed text passes {CONTENT_BYTES_MAX} bytes"),
                    });
                }
                self.content.push_str(piece);
            }
            Some(_) => return Err(shape("a streamed content that is not text")),
        }
        match delta.get("tool_calls") {
            None | Some(Value::Null) => {}
            Some(Value::Array(deltas)) => {
                for (position, call) in deltas.iter().enumerate() {
                    self.push_call(call, position as u64, data)?;
                }
            }
            Some(_) => return Err(shape("streamed tool_calls that is not a list")),
        }
        Ok(())
    }

    fn push_call(&mut self, call: &Value, position: u64, data: &str) -> Result<(), ChatError> {
        let index = call
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(position);
        if !self.calls.contains_key(&index) && self.calls.len() >= TOOL_CALLS_MAX {
            return Err(ChatError::TooLarge {
                what: format!("more than {TOOL_CALLS_MAX} streamed tool calls"),
            });
        }
        let entry = self.calls.entry(index).or_default();
        if let Some(id) = call.get("id").and_then(Value::as_str) {
            if !id.is_empty() {
                entry.id = id.to_owned();
            }
        }
        let Some(function) = call.get("function") else {
            return Ok(());
        };
        // The name comes once in the first delta; servers that repeat it send it whole.
        if let Some(name) = function.get("name").and_then(Value::as_str) {
            if entry.name.is_empty() {
                entry.name = name.to_owned();
            } else if entry.name != name {
                entry.name.push_str(name);
            }
        }
        let piece =
            chat::arguments_text(function.get("arguments")).ok_or_else(|| ChatError::Shape {
                what: "streamed arguments that are neither text nor an object",
                excerpt: excerpt(data),
            })?;
        if entry.arguments.len() + piece.len() > ARGUMENTS_BYTES_MAX {
            return Err(ChatError::TooLarge {
                what: format!("streamed arguments past {ARGUMENTS_BYTES_MAX} bytes"),
            });
        }
        entry.arguments.push_str(&piece);
        Ok(())
    }

    /// The completion, once the stream said it is over (`[DONE]` or a finish reason).
    pub fn finish(self) -> Result<Completion, ChatError> {
        if !self.done && self.finish_reason.is_none() {
            return Err(ChatError::Unfinished);
        }
        let tool_calls: Vec<ToolCall> = self.calls.into_values().collect();
        check_calls(&tool_calls)?;
        if !self.has_content && tool_calls.is_empty() && self.finish_reason.is_none() {
            return Err(ChatError::NoChoices {
                excerpt: "\"a stream of no choices\"".to_owned(),
            });
        }
        Ok(Completion {
            content: self.has_content.then_some(self.content),
            tool_calls,
            finish_reason: self.finish_reason,
            usage: self.usage,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A stream as OpenAI and vLLM send it: role, content pieces, two tool calls whose
    /// arguments arrive in pieces by index, a finish reason, a usage chunk, `[DONE]`.
    const STREAM: &str = concat!(
        ": keep-alive comment\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Let me \"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"look.\"}}]}\r\n\r\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"read_file\",\"arguments\":\"\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"apply_patch\",\"arguments\":\"{\\\"path\\\":\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"path\\\": \\\"a.txt\\\"}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"\\\"b\\\",\\\"old\\\":\\\"x\\\",\\\"new\\\":\\\"é\\\"}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":40,\"completion_tokens\":9,\"total_tokens\":49}}\n\n",
        "data: [DONE]\n\n",
    );

    fn check_stream(c: &Completion) {
        assert_eq!(c.content.as_deref(), Some("Let me look."));
        assert_eq!(c.tool_calls.len(), 2);
        assert_eq!(c.tool_calls[0].id, "call_a");
        assert_eq!(c.tool_calls[0].name, "read_file");
        assert_eq!(c.tool_calls[0].arguments, r#"{"path": "a.txt"}"#);
        assert_eq!(c.tool_calls[1].name, "apply_patch");
        assert_eq!(
            c.tool_calls[1].arguments,
            r#"{"path":"b","old":"x","new":"é"}"#
        );
        assert_eq!(c.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(c.usage.unwrap().prompt_tokens, 40);
        assert_eq!(c.usage.unwrap().completion_tokens, 9);
    }

    // Goal: a whole stream assembles content and tool-call deltas by index, with usage.
    #[test]
    fn a_stream_assembles_content_and_tool_calls() {
        check_stream(&parse_stream(STREAM).unwrap());
    }

    // Goal: the decoder gives the same events however the bytes are split (inside a
    // `\r\n`, inside a multi-byte character, inside `data:`). Method: split at every
    // position, and also feed one byte at a time.
    #[test]
    fn split_chunks_decode_the_same() {
        let bytes = STREAM.as_bytes();
        let whole = {
            let mut out = Vec::new();
            let mut d = Decoder::default();
            d.feed(bytes, &mut out).unwrap();
            d.finish(&mut out).unwrap();
            out
        };
        assert_eq!(whole.len(), 9);
        for at in 0..bytes.len() {
            let mut out = Vec::new();
            let mut d = Decoder::default();
            d.feed(&bytes[..at], &mut out).unwrap();
            d.feed(&bytes[at..], &mut out).unwrap();
            d.finish(&mut out).unwrap();
            assert_eq!(out, whole, "split at {at}");
        }
        let mut out = Vec::new();
        let mut d = Decoder::default();
        for b in bytes {
            d.feed(std::slice::from_ref(b), &mut out).unwrap();
        }
        d.finish(&mut out).unwrap();
        assert_eq!(out, whole);
        let mut assembler = Assembler::default();
        for data in &out {
            assembler.push(std::str::from_utf8(data).unwrap()).unwrap();
        }
        check_stream(&assembler.finish().unwrap());
    }

    // Goal: two `data:` lines of one event join with a newline, and a last event without
    // its blank line still counts.
    #[test]
    fn multi_line_data_and_a_missing_final_blank_line() {
        let mut out = Vec::new();
        let mut d = Decoder::default();
        d.feed(b"event: x\ndata: a\ndata:b\n\ndata: [DONE]", &mut out)
            .unwrap();
        d.finish(&mut out).unwrap();
        assert_eq!(out, vec![b"a\nb".to_vec(), b"[DONE]".to_vec()]);
    }

    // Goal: malformed and unfinished streams fail with their own reasons.
    #[test]
    fn bad_streams_fail_clearly() {
        let e = parse_stream("data: {\"choices\": [\n\n").unwrap_err();
        assert!(matches!(e, ChatError::Json { .. }), "{e}");
        assert!(e.to_string().contains("streamed event"), "{e}");
        let e = parse_stream("data: {\"choices\":[{\"delta\":{\"content\":\"half\"}}]}\n\n")
            .unwrap_err();
        assert_eq!(e, ChatError::Unfinished);
        let e = parse_stream("data: {\"error\":{\"message\":\"overloaded\"}}\n\n").unwrap_err();
        assert!(e.to_string().contains("overloaded"), "{e}");
        let e = parse_stream("data: [DONE]\n\n").unwrap_err();
        assert!(matches!(e, ChatError::NoChoices { .. }), "{e}");
        let long = format!("data: {}", "x".repeat(LINE_BYTES_MAX + 1));
        let e = parse_stream(&long).unwrap_err();
        assert!(matches!(e, ChatError::TooLarge { .. }), "{e}");
    }

    // Goal: a stream with invalid UTF-8 inside an event fails as not UTF-8 (the body
    // check catches it first in `parse_reply`).
    #[test]
    fn invalid_utf8_in_a_stream_fails() {
        let mut body = b"data: {\"choices\":[{\"delta\":{\"content\":\"".to_vec();
        body.extend([0xc3, 0x28]);
        body.extend(b"\"}}]}\n\ndata: [DONE]\n\n");
        let e = chat::parse_reply(Some("text/event-stream"), &body).unwrap_err();
        assert!(matches!(e, ChatError::NotUtf8 { .. }), "{e}");
    }
}
