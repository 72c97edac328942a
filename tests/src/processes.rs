//! Processes as the CLI shows them: one's summary, and waiting for it to reach a status.

use std::time::Duration;

use crate::{assert_success, wait_until, Sandbox};

/// How long a test waits for a process to reach a status.
const PROCESS_WAIT: Duration = Duration::from_secs(30);

/// The summary `jitos --json inspect PROCESS` prints (`status`, `detail`, …).
pub fn process_summary(sandbox: &Sandbox, process: u64) -> serde_json::Value {
    let out = assert_success(
        "inspect",
        &sandbox.jitos(&["--json", "inspect", &process.to_string()]),
    );
    let shown: serde_json::Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("inspect printed no JSON ({e}): {out}"));
    shown["summary"].clone()
}

/// Waits until `process` is `status` (`running`, `waiting`, `done`, `failed`,
/// `cancelled`); its summary then.
pub fn wait_for_process(sandbox: &Sandbox, process: u64, status: &str) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    wait_until(&format!("process {process} {status}"), PROCESS_WAIT, || {
        last = process_summary(sandbox, process);
        last["status"] == status
    });
    last
}
