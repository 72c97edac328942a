//! The process benches' workflow: an intent of ten sequential `noop` steps, submitted
//! through a real daemon and followed to its end.

use std::path::{Path, PathBuf};

use jitos_proto::{Client, Request, Response};
use jitos_tasks::Library;

use crate::bench_daemon::connect;

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

/// Submits the ten-noop intent through `client` and waits for its end, following its
/// records as they commit on a connection of its own (a follow stream ends only when its
/// client hangs up). How it ended when that is not done.
pub fn run_ten_noops(client: &mut Client, socket: &Path) -> Result<(), String> {
    let process = match client
        .call(&Request::ProcessSubmit {
            intent: TEN_NOOPS_INTENT.to_owned(),
            path: "bench.toml".to_owned(),
        })
        .map_err(|e| e.to_string())?
    {
        Response::ProcessSubmitted { process, .. } => process,
        other => return Err(format!("submit answered {other:?}")),
    };
    let mut follower = connect(socket);
    follower
        .send(&Request::Follow { from: process })
        .map_err(|e| e.to_string())?;
    let ended = format!("process {process} ");
    loop {
        match follower.receive().map_err(|e| e.to_string())? {
            Response::Records(records) => {
                let end = records
                    .iter()
                    .find(|r| r.kind == "process.end" && r.summary.starts_with(&ended));
                if let Some(end) = end {
                    return match end.summary.ends_with("ended: done") {
                        true => Ok(()),
                        false => Err(end.summary.clone()),
                    };
                }
            }
            other => return Err(format!("follow answered {other:?}")),
        }
    }
}
