//! `jitos-worker-leftover`: a worker, written with the SDK, that tries to leave something
//! for the jobs after it and reports what earlier jobs left, so the system tests can show
//! what crosses between the jobs of one warm instance and what never crosses scopes.
//!
//! The tests run it as the built-in `noop` or `scaffold` (a copy under that name in the
//! daemon's worker directory), so it is reusable, without files or with them. `Job.args[0]` picks what it does:
//! `plant TOKEN` keeps TOKEN in memory and writes it to `planted` in the job's directory
//! and to `planted-TOKEN` in the instance's home; `crash` aborts; `hang` never answers;
//! `refuse [TOKEN]` keeps TOKEN in memory and proposes, beside its node, the removal of
//! a node no graph has, which the daemon refuses; anything else plants nothing. Every job it answers proposes one node `probe:<job>` with
//! what it found: its pid, the jobs this process has served, the tokens in its memory,
//! the entries of its home (but its job's own directory), of its job's directory and,
//! when the job has files, of the directory they were written to.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use jitos_warp::{NodeId, Op, Rewrite, Value};
use jitos_worker::{Context, Handler, Job, Outcome};

/// What this process keeps between jobs.
struct Leftover {
    /// The instance's home: the directory the worker started in.
    home: PathBuf,
    /// Tokens planted by earlier jobs of this process.
    memory: Vec<String>,
    jobs: i64,
}

/// The sorted names in `dir` but `except`, joined by commas; empty when it cannot be read.
fn entries(dir: &Path, except: Option<&std::ffi::OsStr>) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name())
        .filter(|name| Some(name.as_os_str()) != except)
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.join(",")
}

impl Handler for Leftover {
    fn handle(&mut self, job: &Job, _ctx: &mut Context<'_>) -> Result<Outcome, String> {
        self.jobs += 1;
        let mut args = job.args.iter().map(String::as_str);
        let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
        // Read before this job plants anything, so it reports what earlier jobs left.
        let mut attrs = BTreeMap::new();
        attrs.insert("pid".to_owned(), Value::Int(i64::from(std::process::id())));
        attrs.insert("jobs".to_owned(), Value::Int(self.jobs));
        attrs.insert("memory".to_owned(), Value::Str(self.memory.join(",")));
        // The home holds this job's own directory, which is not a leftover.
        let home = entries(&self.home, cwd.file_name().filter(|_| cwd != self.home));
        attrs.insert("home".to_owned(), Value::Str(home));
        attrs.insert("job_dir".to_owned(), Value::Str(entries(&cwd, None)));
        if let Some(workspace) = &job.workspace_dir {
            let files = entries(Path::new(workspace), None);
            attrs.insert("workspace".to_owned(), Value::Str(files));
        }
        attrs.insert(
            "cwd".to_owned(),
            Value::Str(cwd.to_string_lossy().into_owned()),
        );
        let mut refuse = false;
        match args.next() {
            Some("refuse") => {
                refuse = true;
                if let Some(token) = args.next() {
                    self.memory.push(token.to_owned());
                }
            }
            Some("plant") => {
                let token = args.next().ok_or("plant needs a token")?;
                self.memory.push(token.to_owned());
                std::fs::write("planted", token)
                    .map_err(|e| format!("cannot write in the job's directory: {e}"))?;
                std::fs::write(self.home.join(format!("planted-{token}")), token)
                    .map_err(|e| format!("cannot write in the home: {e}"))?;
            }
            Some("crash") => std::process::abort(),
            Some("hang") => loop {
                std::thread::sleep(Duration::from_secs(60));
            },
            _ => {}
        }
        let id = NodeId::new(format!("probe:{}", job.job_id)).map_err(|e| e.to_string())?;
        let mut ops = vec![Op::AddNode {
            id,
            kind: "probe".to_owned(),
            attrs,
        }];
        if refuse {
            // A node no graph has: the daemon refuses the proposal.
            ops.push(Op::RemoveNode {
                id: NodeId::new("missing:node").map_err(|e| e.to_string())?,
                cascade: false,
            });
        }
        Ok(Outcome {
            rewrites: vec![Rewrite {
                ops,
                expect: Vec::new(),
            }],
            artifacts: Vec::new(),
            exit_status: 0,
        })
    }
}

fn main() -> ExitCode {
    let home = match std::env::current_dir() {
        Ok(home) => home,
        Err(e) => {
            eprintln!("leftover: cannot read its directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let handler = Leftover {
        home,
        memory: Vec::new(),
        jobs: 0,
    };
    jitos_worker::run("leftover", "0.1.0", handler)
}
