//! `jitos-worker-llm`: asks an OpenAI-compatible chat-completions endpoint (OpenAI,
//! vLLM, llama.cpp's server, Ollama, LM Studio, …), through the daemon's `fetch`, to carry
//! out a task on the job's workspace with a bounded tool loop, and proposes the files it
//! wrote as one tree rewrite (`docs/LLM_WORKER.md`).
//!
//! The worker has no network: every model call is a `Fetch` the daemon checks against the
//! job's writ, records with its token usage and charges to the writ's budget. A spent
//! budget, a refused call, a bad reply or the turn bound ends the job as failed.

mod agent;
mod chat;
mod input;
mod proposal;
mod sse;
mod tools;

use std::{
    path::Path,
    process::ExitCode,
    time::{Duration, Instant},
};

use jitos_worker::{Context, FetchOutcome, FetchRequest, Handler, Job, Outcome};

/// Most time kept back before the job's deadline to report the outcome; a tenth of short
/// deadlines.
const DEADLINE_MARGIN_MS_MAX: u64 = 1000;
/// How often the worker tells the daemon it is alive while it waits.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Longest slice of a wait between looks at the cancel flag.
const SLEEP_SLICE: Duration = Duration::from_millis(100);

/// The handler: one tool loop per job.
struct Llm;

impl Handler for Llm {
    fn handle(&mut self, job: &Job, ctx: &mut Context<'_>) -> Result<Outcome, String> {
        let started = Instant::now();
        // Capped so nothing overflows; 49 days is no deadline at all.
        let deadline_ms = job.deadline_ms.min(u64::from(u32::MAX));
        let margin_ms = (deadline_ms / 10).min(DEADLINE_MARGIN_MS_MAX);
        let input = input::parse(&job.input, &job.args)?;
        let dir = job.workspace_dir.as_deref().ok_or_else(|| {
            "the llm worker needs a workspace: the job has no workspace_dir (its writ grants \
             none)"
                .to_owned()
        })?;
        if !Path::new(dir).is_absolute() {
            return Err(format!("the workspace_dir {dir:?} is not an absolute path"));
        }
        let mut ws = tools::Workspace::read(Path::new(dir), input.paths.clone())?;
        let ids = agent::Ids {
            job_id: job.job_id,
            attempt: job.attempt,
            deadline: Duration::from_millis(deadline_ms - margin_ms),
        };
        let mut env = SdkEnv {
            ctx,
            started,
            last_beat: started,
        };
        let finished = agent::run(&input, ids, &mut ws, &mut env)?;
        proposal::build(&ws, &finished.summary, finished.transcript)
    }
}

/// The loop's world: the SDK's context and the real clock.
struct SdkEnv<'c, 'a> {
    ctx: &'c mut Context<'a>,
    started: Instant,
    last_beat: Instant,
}

impl agent::Env for SdkEnv<'_, '_> {
    fn fetch(&mut self, request: FetchRequest) -> Result<FetchOutcome, String> {
        self.ctx
            .fetch(request)
            .map_err(|e| format!("lost the daemon during a model call: {e}"))
    }

    fn sleep(&mut self, duration: Duration) -> Result<(), String> {
        let until = Instant::now() + duration;
        loop {
            if self.ctx.is_cancelled() {
                return Err("cancelled".to_owned());
            }
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            if self.last_beat.elapsed() >= HEARTBEAT_INTERVAL {
                self.ctx
                    .heartbeat()
                    .map_err(|e| format!("lost the daemon while waiting to retry: {e}"))?;
                self.last_beat = Instant::now();
            }
            std::thread::sleep(SLEEP_SLICE.min(until - now));
        }
    }

    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn cancelled(&self) -> bool {
        self.ctx.is_cancelled()
    }

    fn log(&mut self, line: &str) {
        // A log line is not worth failing the job over; a lost daemon shows at the next call.
        let _ = self.ctx.log(line);
    }
}

fn main() -> ExitCode {
    jitos_worker::run("llm", env!("CARGO_PKG_VERSION"), Llm)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use jitos_worker::{EffectClass, InputKind, Manifest, SandboxProfile};

    // Goal: the manifest the daemon compiles in parses and asks for what the worker needs:
    // fetch, the Pure profile, workspace effects, JSON input.
    #[test]
    fn the_manifest_is_valid() {
        let manifest = Manifest::parse(
            include_str!("../worker.toml"),
            std::path::Path::new("worker.toml"),
        )
        .unwrap();
        assert_eq!(manifest.name, "llm");
        assert_eq!(manifest.binary, "jitos-worker-llm");
        assert!(manifest.fetch);
        assert_eq!(manifest.sandbox_profile, SandboxProfile::Pure);
        assert_eq!(manifest.effect_class, EffectClass::Workspace);
        assert_eq!(manifest.input_schema.kind, InputKind::Json);
    }
}
