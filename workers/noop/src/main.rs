//! `jitos-worker-noop`: proposes one node, `noop:{job_id}`, per job and nothing else.
//!
//! It is the smallest real worker, so the daemon's dispatch path and the sandbox can be
//! tested end to end without any worker logic in the way.

use std::process::ExitCode;

use jitos_warp::{NodeId, Op, Rewrite};
use jitos_worker::{Context, Handler, Job, Outcome};

/// The handler: one rewrite adding a `noop` node named after the job.
struct Noop;

impl Handler for Noop {
    fn handle(&mut self, job: &Job, ctx: &mut Context<'_>) -> Result<Outcome, String> {
        let id = NodeId::new(format!("noop:{}", job.job_id)).map_err(|e| e.to_string())?;
        ctx.progress(1000, "done").map_err(|e| e.to_string())?;
        Ok(Outcome {
            rewrites: vec![Rewrite {
                ops: vec![Op::AddNode {
                    id,
                    kind: "noop".to_owned(),
                    attrs: Default::default(),
                }],
                expect: Vec::new(),
            }],
            artifacts: Vec::new(),
            exit_status: 0,
        })
    }
}

fn main() -> ExitCode {
    jitos_worker::run("noop", env!("CARGO_PKG_VERSION"), Noop)
}
