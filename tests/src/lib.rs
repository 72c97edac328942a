//! Harness for the system tests: finds the built `jitosd` and `jitos`, runs them on
//! throw-away directories, and talks to the daemon over its socket.
//!
//! A harness failure is a test failure, so helpers panic with a message that says what
//! was being done and what the daemon or CLI printed, rather than returning errors.

mod bins;
mod chat_server;
mod daemon;
mod jobs;
mod mcp_client;
mod output;
mod ports;
mod process;
mod processes;
mod root;
mod sandbox;
mod search;
mod store;
mod users;
mod wire;

pub use bins::bin_path;
pub use chat_server::{
    ChatServer, RecordedRequest, Reply, USAGE_COMPLETION_TOKENS, USAGE_PROMPT_TOKENS,
};
pub use daemon::Daemon;
pub use jobs::{
    children_running, create_sws, install_misbehave, is_alive, job_spec, misbehave_manifest,
    processes_running, run_job, terminal_records, wait_until, worker_children,
};
pub use mcp_client::McpClient;
pub use output::{assert_failure, assert_success, stderr_text, stdout_text};
pub use ports::free_port;
pub use process::run_bounded;
pub use processes::{process_summary, wait_for_process};
pub use root::{present_or_skip, root_or_skip, running_as_root};
pub use sandbox::Sandbox;
pub use search::files_holding;
pub use store::flip_stored_byte;
pub use users::{grant_nobody, jitos_as, NOBODY};
pub use wire::{
    add_node, all_records, apply, call, connect, graph, process_records, rewrite, status, sws_graph,
};
