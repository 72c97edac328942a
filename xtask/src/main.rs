//! `cargo xtask`: the project's automation, in Rust so it needs nothing but cargo.

mod bench;
mod deb;
mod tree_bench;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci                     run the README's test command (scripts/test.sh)
  bench [NAME...]        run the criterion benches (all, or those named: append, apply,
                         snapshot, group_commit, recovery, sws, spawn, jobs, processes) and print the ratios the
                         targets use
  bench w10 [--json FILE]
                         the peers' W10 workload through jitosd (10 sequential durable noop
                         steps; 200 one at a time, 2000 with 32 in flight), and one noop
                         job warm and one-shot; FILE gets the result in the peers' shape
  bench fetch            a fetch through jitosd (checked, recorded, answered) beside the
                         same request made directly, and a network job's proxy's
                         throughput beside a direct connection; their ratios
  tree-bench [FILES]     files per second of `jitos tree import` and `checkout` of a
                         generated tree (default 10000 files), release binaries
  crash [CYCLES] [SEED]  run the crash harnesses (appends, and processes) with more kill
                         cycles (default 200 and 50)
  deb                    the Debian package (release binaries, manual pages, completions;
                         cargo-deb, installed if missing) and print its path";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root()?;
    match args.first().map(String::as_str) {
        Some("ci") => status(Command::new(root.join("scripts/test.sh")).current_dir(&root)),
        Some("bench") => bench::run(&root, &args[1..]),
        Some("deb") => deb::run(&root),
        Some("tree-bench") => tree_bench::run(&root, args.get(1).map(String::as_str)),
        Some("crash") => {
            let cycles = args.get(1).map_or("200", String::as_str);
            let mut cmd = Command::new("cargo");
            cmd.current_dir(&root)
                .args([
                    "test",
                    "-p",
                    "jitos-system-tests",
                    "--test",
                    "crash",
                    "--test",
                    "process_crash",
                    "--",
                    "--nocapture",
                ])
                .env("JITOS_CRASH_CYCLES", cycles)
                .env(
                    "JITOS_PROCESS_CRASH_CYCLES",
                    args.get(1).map_or("50", String::as_str),
                );
            if let Some(seed) = args.get(2) {
                cmd.env("JITOS_CRASH_SEED", seed);
            }
            status(Command::new("cargo").current_dir(&root).args([
                "build",
                "--workspace",
                "--bins",
            ]))?;
            status(&mut cmd)
        }
        Some("-h" | "--help" | "help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

fn workspace_root() -> Result<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .context("xtask is not inside the workspace")
}

/// Runs a command, failing if it fails.
pub(crate) fn status(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}
