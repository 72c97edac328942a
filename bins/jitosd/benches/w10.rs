//! W10, the peer workload of the durable-execution engines JITOS is compared with (the
//! peers' harness, `bench-peers`, defines it): one workflow is ten sequential durable
//! trivial steps through the daemon, here a 10-step intent of the reusable `noop`, every
//! record fsynced before it is acknowledged. `W10_WARMUP` (20) untimed workflows before
//! each phase; `W10_SEQ` (200) one at a time (p50, p99, workflows/s, steps/s); `W10_THR`
//! (2000) with `W10_CONC` (32) in flight from as many clients (workflows/s, steps/s, and
//! p50/p99 under load). Then, from the same run, one noop job's latency (dispatch, run,
//! terminal record; `W10_SEQ` of them one at a time) with warm instances and with none,
//! each through a daemon of its own.
//!
//! `--json FILE` writes the result in the peers' shape (`{"peer": "jitos", "seq": {...},
//! "thr": {...}}`), so it drops into their table. The noop worker binary must be built in
//! the same profile first (`cargo xtask bench w10` does).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod bench_daemon;
mod noop_job;
mod ten_noops;

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    time::{Duration, Instant},
};

use jitos_proto::Client;
use jitosd::WarmConfig;
use serde_json::json;

use bench_daemon::{connect, BenchDaemon};
use noop_job::{create_sws, run_noop};
use ten_noops::{run_ten_noops, ten_noops_library, STEPS};

/// The workload's sizes, read from the same variables as the peers' harness.
struct Knobs {
    warmup: usize,
    seq: usize,
    thr: usize,
    concurrency: usize,
}

fn knob(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{name}={text:?} is not a whole number: {e}")),
        Err(_) => default,
    }
}

/// One phase's figures, named as the peers' harness names them.
struct Phase {
    latencies: Vec<Duration>,
    wall: Duration,
    errors: usize,
}

impl Phase {
    /// The nearest-rank percentile `q` (0–100) of the latencies, in ms, as the peers
    /// compute it.
    fn percentile_ms(&self, q: usize) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let rank = (q * sorted.len()).div_ceil(100).clamp(1, sorted.len());
        sorted[rank - 1].as_secs_f64() * 1e3
    }

    fn workflows_per_s(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }

    fn summary(&self) -> serde_json::Value {
        let round = |x: f64, places: i32| (x * 10f64.powi(places)).round() / 10f64.powi(places);
        json!({
            "n": self.latencies.len(),
            "errors": self.errors,
            "wall_s": round(self.wall.as_secs_f64(), 4),
            "p50_ms": round(self.percentile_ms(50), 3),
            "p99_ms": round(self.percentile_ms(99), 3),
            "workflows_per_s": round(self.workflows_per_s(), 2),
            "steps_per_s": round(self.workflows_per_s() * STEPS as f64, 2),
        })
    }
}

/// Runs one workflow; its latency, and whether it ended otherwise than done (the first
/// few are printed).
fn workflow(client: &mut Client, errors: &Mutex<usize>) -> Duration {
    let started = Instant::now();
    let ended = run_ten_noops(client);
    let took = started.elapsed();
    if let Err(end) = ended {
        let mut errors = errors.lock().unwrap();
        *errors += 1;
        if *errors <= 3 {
            eprintln!("w10: a workflow did not end done: {end}");
        }
    }
    took
}

fn sequential(socket: &Path, n: usize) -> Phase {
    let errors = Mutex::new(0);
    let mut client = connect(socket);
    let started = Instant::now();
    let latencies = (0..n).map(|_| workflow(&mut client, &errors)).collect();
    Phase {
        latencies,
        wall: started.elapsed(),
        errors: errors.into_inner().unwrap(),
    }
}

/// `n` workflows, `concurrency` in flight: each client takes the next until none is left.
fn concurrent(socket: &Path, n: usize, concurrency: usize) -> Phase {
    let errors = Mutex::new(0);
    let next = Mutex::new(0usize);
    let latencies = Mutex::new(Vec::with_capacity(n));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..concurrency {
            scope.spawn(|| {
                let mut client = connect(socket);
                loop {
                    {
                        let mut next = next.lock().unwrap();
                        if *next == n {
                            return;
                        }
                        *next += 1;
                    }
                    let took = workflow(&mut client, &errors);
                    latencies.lock().unwrap().push(took);
                }
            });
        }
    });
    Phase {
        latencies: latencies.into_inner().unwrap(),
        wall: started.elapsed(),
        errors: errors.into_inner().unwrap(),
    }
}

/// The p50 of `n` noop jobs run one at a time, after `warmup` untimed ones, through a
/// daemon keeping warm instances as `warm` says.
fn noop_job_p50_ms(warm: WarmConfig, warmup: usize, n: usize) -> f64 {
    let daemon = BenchDaemon::start(jitosd::processes::load_library(None).unwrap(), 8, warm);
    let mut client = connect(daemon.socket());
    let sws = create_sws(&mut client);
    let mut run = || {
        let started = Instant::now();
        run_noop(&mut client, sws);
        started.elapsed()
    };
    for _ in 0..warmup {
        run();
    }
    let phase = Phase {
        latencies: (0..n).map(|_| run()).collect(),
        wall: Duration::ZERO,
        errors: 0,
    };
    phase.percentile_ms(50)
}

/// `--json FILE` among the arguments (cargo adds `--bench`), if given.
fn json_path() -> Option<PathBuf> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == "--json")?;
    Some(PathBuf::from(
        args.get(at + 1)
            .unwrap_or_else(|| panic!("--json needs a file")),
    ))
}

fn main() {
    let knobs = Knobs {
        warmup: knob("W10_WARMUP", 20),
        seq: knob("W10_SEQ", 200),
        thr: knob("W10_THR", 2000),
        concurrency: knob("W10_CONC", 32),
    };
    let json_path = json_path();

    let daemon = BenchDaemon::start(
        ten_noops_library(),
        knobs.concurrency,
        WarmConfig::default(),
    );
    let socket = daemon.socket();
    sequential(socket, knobs.warmup);
    let seq = sequential(socket, knobs.seq);
    sequential(socket, knobs.warmup);
    let thr = concurrent(socket, knobs.thr, knobs.concurrency);
    drop(daemon);

    let warm = noop_job_p50_ms(WarmConfig::default(), knobs.warmup, knobs.seq);
    let one_shot = noop_job_p50_ms(
        WarmConfig {
            instances_max: 0,
            ..WarmConfig::default()
        },
        knobs.warmup,
        knobs.seq,
    );

    println!("W10: {STEPS} sequential durable noop steps per workflow, fsync on");
    println!(
        "  seq: {} workflows one at a time: p50 {:.2} ms, p99 {:.2} ms, {:.1} workflows/s, {:.0} steps/s{}",
        seq.latencies.len(),
        seq.percentile_ms(50),
        seq.percentile_ms(99),
        seq.workflows_per_s(),
        seq.workflows_per_s() * STEPS as f64,
        errors_note(seq.errors)
    );
    println!(
        "  thr: {} workflows, {} in flight: {:.1} workflows/s, {:.0} steps/s (p50 {:.2} ms, p99 {:.2} ms){}",
        thr.latencies.len(),
        knobs.concurrency,
        thr.workflows_per_s(),
        thr.workflows_per_s() * STEPS as f64,
        thr.percentile_ms(50),
        thr.percentile_ms(99),
        errors_note(thr.errors)
    );
    println!(
        "  one noop job (dispatch, run, terminal record), p50 of {}: warm instance {warm:.2} ms, \
         a process of its own {one_shot:.2} ms",
        knobs.seq
    );

    if let Some(path) = json_path {
        let mut thr_summary = thr.summary();
        thr_summary["concurrency"] = json!(knobs.concurrency);
        let result = json!({
            "peer": "jitos",
            "version": format!("jitosd {}", env!("CARGO_PKG_VERSION")),
            "durability": {
                "fsync_per_step_summary": "yes (every record group synced before it is acknowledged)",
                "notes": "A 10-step intent of the reusable noop worker through jitosd: each \
                          step's dispatch and end are ledger records (RocksDB synced write \
                          batches) and each step runs in a confined warm noop instance; the \
                          client submits over the unix socket and follows the process to its end on \
                          the same connection, as `jitos submit --wait` does.",
            },
            "seq": seq.summary(),
            "thr": thr_summary,
            "noop_job_p50_ms": { "warm": warm, "one_shot": one_shot },
        });
        std::fs::write(&path, serde_json::to_vec_pretty(&result).unwrap())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        println!("  written to {}", path.display());
    }
}

fn errors_note(errors: usize) -> String {
    if errors == 0 {
        String::new()
    } else {
        format!(", {errors} ERRORS")
    }
}
