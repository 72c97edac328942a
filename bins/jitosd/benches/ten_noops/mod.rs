//! The process benches' workflow: an intent of ten sequential `noop` steps, submitted
//! through a real daemon and followed to its end.

use std::path::PathBuf;

use jitos_proto::{Client, Request, Response};
use jitos_tasks::Library;

/// Steps of the benches' intent.
pub const STEPS: usize = 10;

/// The method library of the benches' intent: ten sequential noop steps.
pub fn ten_noops_library() -> Library {
    let steps: Vec<String> = (0..STEPS)
        .map(|i| format!("{{ task = \"noop_step\", id = \"s{i}\" }}"))
        .collect();
    let text = format!(
        "[task.ten_noops]\n[[task.ten_noops.method]]\nname = \"in_order\"\nsteps = [{}]\n\
         [task.noop_step]\nrun = {{ worker = \"noop\", effect = \"none\", timeout_secs = 30 }}\n",
        steps.join(", ")
    );
    jitosd::processes::load_library_with(&[(PathBuf::from("bench.toml"), text)]).unwrap()
}

const TEN_NOOPS_INTENT: &str = "goal = \"ten_noops\"\n[allow]\nworkers = [\"noop\"]\n";

/// Submits the ten-noop intent through `client` and follows it to its end on the same
/// connection, as `jitos submit --wait` does: the daemon streams the process's progress
/// and ends with its detail. How it ended when that is not done.
pub fn run_ten_noops(client: &mut Client) -> Result<(), String> {
    let process = match client
        .call(&Request::ProcessSubmit {
            intent: TEN_NOOPS_INTENT.to_owned(),
            path: "bench.toml".to_owned(),
            writ: None,
        })
        .map_err(|e| e.to_string())?
    {
        Response::ProcessSubmitted { process, .. } => process,
        other => return Err(format!("submit answered {other:?}")),
    };
    client
        .send(&Request::ProcessFollow(process))
        .map_err(|e| e.to_string())?;
    loop {
        match client.receive().map_err(|e| e.to_string())? {
            Response::ProcessProgress { .. } => {}
            Response::Process(detail) => {
                return match detail.summary.status {
                    jitos_proto::ProcessStatus::Done => Ok(()),
                    status => Err(format!(
                        "process {process} is {status}: {}",
                        detail.summary.detail.unwrap_or_default()
                    )),
                };
            }
            other => return Err(format!("follow answered {other:?}")),
        }
    }
}
