//! JSON-RPC 2.0 as MCP uses it: `initialize`, `notifications/initialized`, `ping`,
//! `tools/list` and `tools/call`. Every message gets its answer or, for a notification,
//! none; nothing a client sends ends the server.

use std::panic::{catch_unwind, AssertUnwindSafe};

use serde_json::{json, Map, Value};

use super::{daemon::Session, tools, transport::LineError};

/// The MCP revisions this server speaks, newest first. A client asking for another one
/// is answered with the newest, as the specification says, and decides whether to go on.
const PROTOCOL_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// JSON-RPC's error codes, and the one MCP servers use for a request before `initialize`.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const NOT_INITIALIZED: i64 = -32002;

/// One session's protocol state over its connection to the daemon.
pub struct Server {
    session: Session,
    initialized: bool,
}

impl Server {
    /// A server that has not been initialized yet.
    pub fn new(session: Session) -> Server {
        Server {
            session,
            initialized: false,
        }
    }

    /// The answer to a line that held no message.
    pub fn bad_line(error: &LineError) -> Value {
        error_reply(&Value::Null, PARSE_ERROR, &format!("Parse error: {error}"))
    }

    /// The answer to one message, or `None` for a notification or a response.
    pub fn handle(&mut self, message: Value) -> Option<Value> {
        let object = match message {
            Value::Object(object) => object,
            Value::Array(_) => {
                return Some(error_reply(
                    &Value::Null,
                    INVALID_REQUEST,
                    "Invalid Request: batches are not supported; send one message per line",
                ))
            }
            _ => {
                return Some(error_reply(
                    &Value::Null,
                    INVALID_REQUEST,
                    "Invalid Request: a JSON-RPC message is an object",
                ))
            }
        };
        let id = match object.get("id") {
            None => None,
            Some(id @ (Value::String(_) | Value::Number(_))) => Some(id.clone()),
            Some(_) => {
                return Some(error_reply(
                    &Value::Null,
                    INVALID_REQUEST,
                    "Invalid Request: `id` must be a string or a number",
                ))
            }
        };
        let reply_id = id.clone().unwrap_or(Value::Null);
        if object.get("jsonrpc") != Some(&json!("2.0")) {
            return Some(error_reply(
                &reply_id,
                INVALID_REQUEST,
                "Invalid Request: `jsonrpc` must be \"2.0\"",
            ));
        }
        let method = match object.get("method") {
            Some(Value::String(method)) => method.as_str(),
            // A response to a request of ours; this server sends none, so it is dropped.
            None if object.contains_key("result") || object.contains_key("error") => return None,
            _ => {
                return Some(error_reply(
                    &reply_id,
                    INVALID_REQUEST,
                    "Invalid Request: `method` must be a string",
                ))
            }
        };
        // Notifications (`notifications/initialized`, `notifications/cancelled`, …) get no
        // answer; calls run to their end, so there is nothing to cancel.
        let id = id?;
        let params = match object.get("params") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(params)) => params.clone(),
            Some(_) => {
                return Some(error_reply(
                    &id,
                    INVALID_PARAMS,
                    "Invalid params: `params` must be an object",
                ))
            }
        };
        Some(match self.call(method, &params) {
            Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
            Err((code, message)) => error_reply(&id, code, &message),
        })
    }

    fn call(&mut self, method: &str, params: &Map<String, Value>) -> Result<Value, (i64, String)> {
        match method {
            "initialize" => {
                self.initialized = true;
                Ok(self.initialize(params))
            }
            "ping" => Ok(json!({})),
            _ if !self.initialized => Err((
                NOT_INITIALIZED,
                format!("the session is not initialized: send `initialize` before `{method}`"),
            )),
            "tools/list" => Ok(tools::list()),
            "tools/call" => self.tools_call(params),
            other => Err((
                METHOD_NOT_FOUND,
                format!(
                    "Method not found: {other:?}; this server answers initialize, ping, tools/list and tools/call"
                ),
            )),
        }
    }

    fn initialize(&self, params: &Map<String, Value>) -> Value {
        let asked = params.get("protocolVersion").and_then(Value::as_str);
        let version = asked
            .filter(|asked| PROTOCOL_VERSIONS.contains(asked))
            .unwrap_or(PROTOCOL_VERSIONS[0]);
        let principal = self.session.principal();
        let roles: Vec<String> = principal.roles.iter().map(|r| r.to_string()).collect();
        json!({
            "protocolVersion": version,
            "capabilities": { "tools": { "listChanged": false } },
            "serverInfo": { "name": "jitos", "version": env!("CARGO_PKG_VERSION") },
            "instructions": format!(
                "JITOS runs your work in speculative workspaces: open one (workspace_open), \
                 change files (file_write), run tests in a sandbox (job_run), review (diff), \
                 then collapse it into the system or discard it. Every call is a request to \
                 jitosd at {} as user {} (uid {}, roles: {}), which authorises it and records \
                 it in its ledger.",
                self.session.socket().display(),
                principal.user,
                principal.uid,
                if roles.is_empty() { "none".to_owned() } else { roles.join(", ") }
            ),
        })
    }

    fn tools_call(&mut self, params: &Map<String, Value>) -> Result<Value, (i64, String)> {
        let name = match params.get("name") {
            Some(Value::String(name)) => name.as_str(),
            _ => {
                return Err((
                    INVALID_PARAMS,
                    "Invalid params: `name` must be a tool's name (tools/list names them)"
                        .to_owned(),
                ))
            }
        };
        if !tools::exists(name) {
            return Err((
                INVALID_PARAMS,
                format!("Unknown tool: {name:?}; tools/list names the tools"),
            ));
        }
        let empty = Map::new();
        let arguments = match params.get("arguments") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(arguments)) => arguments,
            Some(_) => {
                return Err((
                    INVALID_PARAMS,
                    "Invalid params: `arguments` must be an object".to_owned(),
                ))
            }
        };
        let session = &mut self.session;
        // A bug in a tool answers that call with an error instead of ending the session;
        // the connection, perhaps cut mid-frame, is made again at the next call.
        catch_unwind(AssertUnwindSafe(|| tools::call(session, name, arguments))).or_else(|_| {
            self.session.reset();
            Ok(json!({
                "content": [{ "type": "text", "text": format!("jitos mcp failed inside {name}; the call may or may not have been recorded: `jitos log` shows what was") }],
                "isError": true,
            }))
        })
    }
}

fn error_reply(id: &Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}
