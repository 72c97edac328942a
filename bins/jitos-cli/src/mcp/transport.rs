//! The stdio transport: newline-delimited JSON-RPC messages, each line bounded in bytes
//! and each message in nesting before it is parsed, so no input can make the server
//! allocate without limit or overflow its stack.

use std::io::{self, BufRead, Write};

use serde_json::Value;

/// Bytes in one message line, newline excluded. A `file_write` of the largest file the
/// server takes (`FILE_BYTES_MAX`) fits, escaped, with room to spare.
pub const LINE_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Nesting of arrays and objects in one message. MCP messages nest a handful of levels;
/// serde_json's own limit (128) would also hold, but this one fails with our message.
pub const DEPTH_MAX: usize = 64;

/// Why one line did not yield a message. The server answers each with a JSON-RPC parse
/// error and reads on.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The line is longer than [`LINE_BYTES_MAX`]; it was read to its end and dropped.
    #[error("the message is over {LINE_BYTES_MAX} bytes; it was dropped (send one JSON-RPC message per line, each under the limit)")]
    TooLong,
    /// The line is not UTF-8.
    #[error("the message is not UTF-8 at byte {0}; JSON-RPC messages are UTF-8 text")]
    NotUtf8(usize),
    /// The line nests arrays and objects too deeply.
    #[error("the message nests arrays and objects more than {DEPTH_MAX} deep")]
    TooDeep,
    /// The line is not JSON.
    #[error("the message is not JSON: {0}")]
    NotJson(String),
}

/// What reading one line gave.
pub enum Incoming {
    /// A parsed JSON value.
    Message(Value),
    /// A line that is not a message, and why.
    Bad(LineError),
    /// The client closed standard input.
    End,
}

/// Reads newline-delimited messages from `input`.
pub struct Reader<R> {
    input: R,
    line: Vec<u8>,
}

impl<R: BufRead> Reader<R> {
    /// A reader over `input`.
    pub fn new(input: R) -> Reader<R> {
        Reader {
            input,
            line: Vec::new(),
        }
    }

    /// The next non-empty line as a message; blank lines are skipped.
    pub fn next(&mut self) -> io::Result<Incoming> {
        loop {
            let Some(too_long) = self.read_line()? else {
                return Ok(Incoming::End);
            };
            if too_long {
                return Ok(Incoming::Bad(LineError::TooLong));
            }
            let mut bytes = self.line.as_slice();
            if let Some(stripped) = bytes.strip_suffix(b"\r") {
                bytes = stripped;
            }
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(match parse(bytes) {
                Ok(value) => Incoming::Message(value),
                Err(e) => Incoming::Bad(e),
            });
        }
    }

    /// Reads one line into `self.line` without its newline, keeping at most
    /// [`LINE_BYTES_MAX`] bytes; `Some(true)` when more were dropped, `None` at the end
    /// of input with nothing read.
    fn read_line(&mut self) -> io::Result<Option<bool>> {
        self.line.clear();
        let mut too_long = false;
        let mut read_any = false;
        loop {
            let buffer = match self.input.fill_buf() {
                Ok(buffer) => buffer,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buffer.is_empty() {
                return Ok(read_any.then_some(too_long));
            }
            read_any = true;
            let (chunk, done) = match buffer.iter().position(|b| *b == b'\n') {
                Some(at) => (&buffer[..at], Some(at + 1)),
                None => (buffer, None),
            };
            if !too_long {
                if self.line.len() + chunk.len() > LINE_BYTES_MAX {
                    too_long = true;
                    self.line = Vec::new();
                } else {
                    self.line.extend_from_slice(chunk);
                }
            }
            let used = done.unwrap_or(buffer.len());
            self.input.consume(used);
            if done.is_some() {
                return Ok(Some(too_long));
            }
        }
    }
}

/// Checks and parses one line.
fn parse(bytes: &[u8]) -> Result<Value, LineError> {
    let text = std::str::from_utf8(bytes).map_err(|e| LineError::NotUtf8(e.valid_up_to()))?;
    if nesting(text) > DEPTH_MAX {
        return Err(LineError::TooDeep);
    }
    serde_json::from_str(text).map_err(|e| LineError::NotJson(e.to_string()))
}

/// The deepest nesting of arrays and objects in `text`, brackets inside strings not
/// counted. Malformed JSON gets some number; the parser then says what is wrong with it.
fn nesting(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Writes one message as one line and flushes it, so the client sees it at once.
pub fn write(output: &mut impl Write, message: &Value) -> io::Result<()> {
    let mut line = serde_json::to_vec(message).map_err(io::Error::other)?;
    line.push(b'\n');
    output.write_all(&line)?;
    output.flush()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn read_all(input: &[u8]) -> Vec<String> {
        let mut reader = Reader::new(input);
        let mut seen = Vec::new();
        loop {
            match reader.next().unwrap() {
                Incoming::Message(value) => seen.push(value.to_string()),
                Incoming::Bad(e) => seen.push(format!("bad: {e}")),
                Incoming::End => return seen,
            }
        }
    }

    // Goal: every kind of bad line is reported alone and the next line still parses.
    #[test]
    fn bad_lines_are_reported_and_reading_goes_on() {
        let mut input = b"{\"a\":1}\r\n\n  \nnot json\n\xff\xfe\n".to_vec();
        input.extend(std::iter::repeat_n(b'[', DEPTH_MAX + 1));
        input.extend(b"\n\"[[[[\"\n{\"b\":2}");
        let seen = read_all(&input);
        assert_eq!(seen[0], "{\"a\":1}");
        assert!(
            seen[1].starts_with("bad: the message is not JSON"),
            "{seen:?}"
        );
        assert!(
            seen[2].starts_with("bad: the message is not UTF-8 at byte 0"),
            "{seen:?}"
        );
        assert!(seen[3].contains("more than 64 deep"), "{seen:?}");
        assert_eq!(seen[4], "\"[[[[\"");
        assert_eq!(seen[5], "{\"b\":2}");
        assert_eq!(seen.len(), 6);
    }

    // Goal: a line over the limit is dropped whole, not cut into messages.
    #[test]
    fn a_line_over_the_limit_is_dropped_whole() {
        let mut input = vec![b' '; LINE_BYTES_MAX + 10];
        input.extend(b"{}\n1\n");
        let seen = read_all(&input);
        assert!(seen[0].starts_with("bad: the message is over"), "{seen:?}");
        assert_eq!(seen[1], "1");
        assert_eq!(seen.len(), 2);
    }
}
