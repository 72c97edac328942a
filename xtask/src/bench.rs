//! `cargo xtask bench`: run the criterion benches, then print each result and the ratios
//! the targets are stated in, all from the one run just made.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// Each bench: (name, package).
const BENCHES: &[(&str, &str)] = &[
    ("append", "jitos-ledger"),
    ("apply", "jitos-warp"),
    ("snapshot", "jitos-warp"),
    ("group_commit", "jitos-kernel"),
    ("recovery", "jitos-kernel"),
    ("bounded_state", "jitos-kernel"),
    ("sws", "jitos-sws"),
    ("spawn", "jitos-sandbox"),
    ("jobs", "jitosd"),
    ("processes", "jitosd"),
    ("reads_during_writes", "jitosd"),
];

/// Ratios to report: (group, measured function, baseline function, target ratio).
const RATIOS: &[(&str, &str, &str, f64)] = &[
    ("group_commit", "kernel", "rocksdb_synced_batch", 2.0),
    ("ledger_group_commit", "ledger", "rocksdb_synced_batch", 2.0),
    ("single_append", "ledger", "write_fdatasync", 2.0),
    ("spawn", "confined_pure", "unconfined", 1.2),
    ("spawn", "confined_shell", "unconfined", 1.2),
];

struct Estimate {
    mean_ns: f64,
    elements: Option<f64>,
}

pub fn run(root: &Path, names: &[String]) -> Result<()> {
    if names.first().map(String::as_str) == Some("w10") {
        return w10(root, &names[1..]);
    }
    if names.first().map(String::as_str) == Some("fetch") {
        return fetch(root);
    }
    for name in names {
        if !BENCHES.iter().any(|(bench, _)| bench == name) {
            bail!(
                "unknown bench {name:?}; known: {:?}",
                BENCHES.iter().map(|b| b.0).collect::<Vec<_>>()
            );
        }
    }
    let selected: Vec<_> = BENCHES
        .iter()
        .filter(|(bench, _)| names.is_empty() || names.iter().any(|n| n == bench))
        .collect();
    let criterion_dir = target_dir(root).join("criterion");
    // Old results would mix with this run's; the ratios must come from one run.
    if criterion_dir.exists() {
        std::fs::remove_dir_all(&criterion_dir)
            .with_context(|| format!("cannot clear {}", criterion_dir.display()))?;
    }
    if selected
        .iter()
        .any(|(bench, _)| *bench == "jobs" || *bench == "processes")
    {
        build_noop(root)?;
    }
    for (bench, package) in &selected {
        crate::status(
            Command::new("cargo")
                .current_dir(root)
                .args(["bench", "-p", package, "--bench", bench]),
        )?;
    }
    let estimates = read_estimates(&criterion_dir)?;
    print_report(&estimates);
    Ok(())
}

/// The daemon's benches run the real noop worker, which `cargo bench` does not build.
fn build_noop(root: &Path) -> Result<()> {
    crate::status(Command::new("cargo").current_dir(root).args([
        "build",
        "--release",
        "-p",
        "jitos-worker-noop",
    ]))
}

/// `cargo xtask bench w10 [--json FILE]`: the peers' workload (`bins/jitosd/benches/w10.rs`),
/// its result also written in their shape to FILE.
fn w10(root: &Path, args: &[String]) -> Result<()> {
    let json = match args {
        [] => None,
        [flag, file] if flag == "--json" => {
            // The bench runs in its package's directory; a relative path means the caller's.
            let file = PathBuf::from(file);
            Some(if file.is_absolute() {
                file
            } else {
                std::env::current_dir()
                    .context("cannot read the current directory")?
                    .join(file)
            })
        }
        _ => bail!("usage: cargo xtask bench w10 [--json FILE]"),
    };
    build_noop(root)?;
    let mut bench = Command::new("cargo");
    bench
        .current_dir(root)
        .args(["bench", "-p", "jitosd", "--bench", "w10"]);
    if let Some(file) = json {
        bench.arg("--").arg("--json").arg(file);
    }
    crate::status(&mut bench)
}

/// `cargo xtask bench fetch`: a fetch through the kernel beside the same request made
/// directly (`bins/jitosd/benches/fetch.rs`), with the test worker that fetches.
fn fetch(root: &Path) -> Result<()> {
    build_noop(root)?;
    crate::status(Command::new("cargo").current_dir(root).args([
        "build",
        "--release",
        "-p",
        "jitos-system-tests",
        "--bin",
        "jitos-worker-fetch",
    ]))?;
    crate::status(
        Command::new("cargo")
            .current_dir(root)
            .args(["bench", "-p", "jitosd", "--bench", "fetch"]),
    )
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// (group, function, parameter) → estimate, from criterion's `new/` directories.
fn read_estimates(dir: &Path) -> Result<BTreeMap<(String, String, String), Estimate>> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.ends_with("new/benchmark.json") {
                let bench = read_json(&path)?;
                let estimates = read_json(&path.with_file_name("estimates.json"))?;
                let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
                let key = (
                    text(&bench["group_id"]),
                    text(&bench["function_id"]),
                    text(&bench["value_str"]),
                );
                found.insert(
                    key,
                    Estimate {
                        mean_ns: estimates["mean"]["point_estimate"]
                            .as_f64()
                            .unwrap_or(f64::NAN),
                        elements: bench["throughput"]["Elements"].as_f64(),
                    },
                );
            }
        }
    }
    Ok(found)
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn print_report(estimates: &BTreeMap<(String, String, String), Estimate>) {
    println!(
        "\n{:<28} {:<28} {:>8} {:>14} {:>16}",
        "group", "function", "param", "mean", "elements/s"
    );
    for ((group, function, param), estimate) in estimates {
        let rate = estimate
            .elements
            .map(|n| format!("{:.0}", n / (estimate.mean_ns / 1e9)))
            .unwrap_or_default();
        println!(
            "{group:<28} {function:<28} {param:>8} {:>14} {rate:>16}",
            human_ns(estimate.mean_ns)
        );
    }
    println!("\nratios (measured / baseline, same run; target in brackets):");
    for (group, measured, baseline, target) in RATIOS {
        for ((g, f, param), m) in estimates {
            if g != group || f != measured {
                continue;
            }
            let Some(b) = estimates.get(&(g.clone(), (*baseline).to_owned(), param.clone())) else {
                continue;
            };
            let ratio = m.mean_ns / b.mean_ns;
            let verdict = if ratio <= *target {
                "ok"
            } else {
                "OVER TARGET"
            };
            println!(
                "  {group}: {measured} / {baseline} [{param}] = {ratio:.2} (≤ {target}) {verdict}"
            );
        }
    }
}

fn human_ns(ns: f64) -> String {
    match ns {
        ns if ns >= 1e9 => format!("{:.2} s", ns / 1e9),
        ns if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.2} µs", ns / 1e3),
        ns => format!("{ns:.0} ns"),
    }
}
