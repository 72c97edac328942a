//! A scripted MCP client for the system tests: it spawns `jitos mcp`, writes
//! newline-delimited JSON-RPC to its stdin and reads its stdout lines as they come, so a
//! test does what an agent would and checks each answer.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc::{self, Receiver},
    thread,
    time::Duration,
};

use serde_json::{json, Value};

use crate::{Sandbox, NOBODY};

/// Longest one answer may take; a job in the sandbox takes well under a second.
const ANSWER_WAIT: Duration = Duration::from_secs(60);

/// A scripted MCP client: the server's stdin, and its stdout lines as they come.
pub struct McpClient {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    next_id: u64,
}

impl McpClient {
    /// Starts `jitos --socket S mcp EXTRA…`, as `uid` when given; send `initialize`
    /// next.
    pub fn start(sandbox: &Sandbox, uid: Option<u32>, extra: &[&str]) -> McpClient {
        let mut args = vec!["mcp"];
        args.extend_from_slice(extra);
        let mut command: Command = sandbox.jitos_command(&args);
        if let Some(uid) = uid {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(NOBODY);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start jitos mcp: {e}"));
        let stdin = child
            .stdin
            .take()
            .unwrap_or_else(|| panic!("jitos mcp has no stdin"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("jitos mcp has no stdout"));
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        McpClient {
            child,
            stdin,
            lines,
            next_id: 1,
        }
    }

    /// The server's pid, which the daemon records as the actor of its acts.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes raw bytes (a line or a piece of one).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stdin
            .write_all(bytes)
            .and_then(|()| self.stdin.flush())
            .unwrap_or_else(|e| panic!("cannot write to jitos mcp: {e}"));
    }

    /// The next line the server writes, parsed.
    pub fn receive(&mut self) -> Value {
        let line = self
            .lines
            .recv_timeout(ANSWER_WAIT)
            .unwrap_or_else(|e| panic!("jitos mcp did not answer within {ANSWER_WAIT:?}: {e}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Sends a request and returns the whole response, checking it answers this id.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.send_raw(format!("{message}\n").as_bytes());
        let reply = self.receive();
        assert_eq!(reply["id"], json!(id), "{reply}");
        assert_eq!(reply["jsonrpc"], "2.0", "{reply}");
        reply
    }

    /// A request that must succeed; its result.
    pub fn ok(&mut self, method: &str, params: Value) -> Value {
        let reply = self.request(method, params);
        assert!(reply.get("error").is_none(), "{method} failed: {reply}");
        reply["result"].clone()
    }

    /// A request that must fail with `code`; the error's message.
    pub fn error(&mut self, method: &str, params: Value, code: i64) -> String {
        let reply = self.request(method, params);
        assert_eq!(reply["error"]["code"], json!(code), "{reply}");
        text_of(&reply["error"]["message"])
    }

    /// A tool call that must succeed; its structured result.
    pub fn tool(&mut self, name: &str, arguments: Value) -> Value {
        let result = self.ok(
            "tools/call",
            json!({ "name": name, "arguments": arguments }),
        );
        assert_eq!(result["isError"], json!(false), "{name} failed: {result}");
        assert!(result["content"][0]["text"].is_string(), "{result}");
        result["structuredContent"].clone()
    }

    /// A tool call that must succeed; its text content, what a model reads.
    pub fn tool_text(&mut self, name: &str, arguments: Value) -> String {
        let result = self.ok(
            "tools/call",
            json!({ "name": name, "arguments": arguments }),
        );
        assert_eq!(result["isError"], json!(false), "{name} failed: {result}");
        text_of(&result["content"][0]["text"])
    }

    /// A tool call that must end as a tool error; its message.
    pub fn tool_error(&mut self, name: &str, arguments: Value) -> String {
        let result = self.ok(
            "tools/call",
            json!({ "name": name, "arguments": arguments }),
        );
        assert_eq!(
            result["isError"],
            json!(true),
            "{name} should have failed: {result}"
        );
        text_of(&result["content"][0]["text"])
    }

    /// `ping` is answered: the server is alive and in step.
    pub fn assert_alive(&mut self) {
        assert_eq!(self.ok("ping", json!({})), json!({}));
    }

    /// `initialize`, then `notifications/initialized`; the result.
    pub fn initialize(&mut self) -> Value {
        let result = self.ok(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": { "name": "systest", "version": "0" }
            }),
        );
        self.send_raw(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
        result
    }
}

impl Drop for McpClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A string field of an answer, or a panic naming what it was instead.
fn text_of(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}
