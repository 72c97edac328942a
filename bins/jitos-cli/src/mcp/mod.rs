//! `jitos mcp`: JITOS as a Model Context Protocol tool server on standard input and
//! output, so a coding agent works *through* the daemon — opens a workspace, reads and
//! writes files in it, runs sandboxed jobs there, reads the diff, collapses or discards
//! it — and every call is a request `jitosd` authorises against the roles of the user
//! who runs the server and records in its ledger with this process as the actor
//! (`docs/MCP.md`).
//!
//! Why no SDK: the official Rust SDK (`rmcp`) is async on tokio and brings its own
//! transport, which on a malformed line closes the stream instead of answering a parse
//! error (modelcontextprotocol/rust-sdk#825) and reads a line without a length bound; the
//! issue asks for exactly those inputs to get an error and the session to go on. The
//! server needs five JSON-RPC methods over newline-delimited stdio and the daemon's
//! client is blocking, so it is written here: `transport.rs` (bounded lines, nesting,
//! UTF-8), `protocol.rs` (JSON-RPC and the MCP methods), `tools.rs` (schemas, strict
//! arguments, results), one file per tool family, and `daemon.rs` (the connection).
//!
//! One request at a time: a call runs to its end before the next line is read, which
//! keeps the order of acts in the ledger the order the agent asked for them.

mod daemon;
mod file_tools;
mod job_tools;
mod protocol;
mod tools;
mod transport;
mod workspace_tools;

use std::{io, path::PathBuf, process::ExitCode};

use anyhow::{Context, Result};

/// Bytes of one file `file_read` returns and `file_write` takes.
const FILE_BYTES_MAX: usize = 1024 * 1024;

/// Bytes of text one result carries (a diff; a job's stdout and stderr together).
const OUTPUT_BYTES_MAX: usize = 1024 * 1024;

/// Serves MCP on stdin/stdout until the client closes stdin, running jobs and asking
/// collapses under `writ` if given. Refuses to start when no daemon answers on `socket`, so a
/// misconfigured agent sees why at once.
pub fn serve(socket: PathBuf, writ: Option<u64>) -> Result<ExitCode> {
    let session = daemon::Session::connect(socket, writ)?;
    let principal = session.principal();
    eprintln!(
        "jitos mcp: serving MCP on stdio as {} (uid {}){} through jitosd at {}",
        principal.user,
        principal.uid,
        writ.map(|writ| format!(" under writ {writ}"))
            .unwrap_or_default(),
        session.socket().display()
    );
    let mut server = protocol::Server::new(session);
    let mut reader = transport::Reader::new(io::stdin().lock());
    let mut output = io::stdout().lock();
    loop {
        let reply = match reader.next().context("cannot read standard input")? {
            transport::Incoming::Message(message) => server.handle(message),
            transport::Incoming::Bad(error) => Some(protocol::Server::bad_line(&error)),
            transport::Incoming::End => return Ok(ExitCode::SUCCESS),
        };
        if let Some(reply) = reply {
            transport::write(&mut output, &reply).context("cannot write to standard output")?;
        }
    }
}
