//! `jitos-script`: applies a JSON-lines script of rewrites to a fresh store through the
//! kernel, with a fixed clock, store id and actor, and prints every record hash, the head
//! hash and the state digest as JSON, so two runs can be compared byte for byte.
//!
//! Usage: `jitos-script SCRIPT.jsonl DATA_DIR` (the store is created in `DATA_DIR/store`,
//! which must not hold one yet; blank lines in the script are skipped).

use std::{
    fs::File,
    io::{Read, Write},
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
};

use anyhow::{bail, Context, Result};
use jitos_kernel::{Kernel, KernelOptions};
use jitos_ledger::{Actor, FixedClock, Ledger};
use jitos_warp::Rewrite;
use serde::Serialize;

/// The recorded time of every record: a fixed instant, so hashes do not depend on when
/// the script runs.
const CLOCK_MS: u64 = 1_700_000_000_000;
/// The store identity every run uses.
const STORE_ID: [u8; 16] = *b"jitos-script-id!";
/// Who every scripted record is attributed to.
const ACTOR_NAME: &str = "script";
/// Largest script accepted, read no further than this.
const SCRIPT_BYTES_MAX: u64 = 16 * 1024 * 1024;
/// Most rewrites one script may hold.
const SCRIPT_REWRITES_MAX: usize = 100_000;

#[derive(Serialize)]
struct RecordHash {
    seq: u64,
    hash: String,
}

#[derive(Serialize)]
struct Outcome {
    records: Vec<RecordHash>,
    head_seq: u64,
    head_hash: String,
    digest: String,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jitos-script: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [script, data_dir] = args.as_slice() else {
        bail!("usage: jitos-script SCRIPT.jsonl DATA_DIR");
    };
    let rewrites = read_script(Path::new(script))?;
    let store = PathBuf::from(data_dir).join("store");
    if Ledger::exists(&store) {
        bail!(
            "{} already holds a store; give a fresh directory",
            store.display()
        );
    }
    let mut kernel = Kernel::open(
        &store,
        KernelOptions {
            clock: Arc::new(FixedClock(CLOCK_MS)),
            snapshot_every: 0,
            read_only: false,
            create_with_id: Some(STORE_ID),
            verify_on_open: true,
        },
    )
    .with_context(|| format!("cannot create a store in {}", store.display()))?;
    for (line, rewrite) in rewrites {
        // One rewrite per commit, so the record boundaries follow the script's lines.
        for result in kernel.commit(vec![(Actor::Named(ACTOR_NAME.to_owned()), rewrite)]) {
            result.with_context(|| format!("{script} line {line} was not committed"))?;
        }
    }
    let head = kernel.head();
    let records = kernel
        .records(0, head.seq.saturating_add(1))
        .context("cannot read the records back")?
        .into_iter()
        .map(|record| RecordHash {
            seq: record.seq,
            hash: record.hash.to_string(),
        })
        .collect();
    let outcome = Outcome {
        records,
        head_seq: head.seq,
        head_hash: head.hash.to_string(),
        digest: kernel.graph().digest().to_string(),
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &outcome)?;
    writeln!(out)?;
    Ok(())
}

/// The script's rewrites with their line numbers (from 1).
fn read_script(path: &Path) -> Result<Vec<(usize, Rewrite)>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut text = String::new();
    file.take(SCRIPT_BYTES_MAX + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {} as UTF-8 text", path.display()))?;
    if text.len() as u64 > SCRIPT_BYTES_MAX {
        bail!("{} is larger than {SCRIPT_BYTES_MAX} bytes", path.display());
    }
    let mut rewrites = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if rewrites.len() == SCRIPT_REWRITES_MAX {
            bail!(
                "{} holds more than {SCRIPT_REWRITES_MAX} rewrites",
                path.display()
            );
        }
        let rewrite = Rewrite::from_json(line)
            .with_context(|| format!("{} line {} is not a rewrite", path.display(), index + 1))?;
        rewrites.push((index + 1, rewrite));
    }
    Ok(rewrites)
}
