//! Jobs and their workers as the system tests see them: dispatching over the wire, the
//! terminal records in the ledger, and the worker processes in `/proc`.

use std::{
    collections::BTreeMap,
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use jitos_proto::{AttemptView, Client, JobSpec, Request, Response};

use crate::{all_records, assert_success, bin_path, call, Daemon, Sandbox};

/// Writes a worker directory `name` holding the misbehaving test worker's binary and a
/// `pure` manifest for it, with `extra` TOML lines (its effect class at least); returns
/// the manifest's path. The sandbox is opened up so any worker uid can read the binary.
pub fn misbehave_manifest(sandbox: &Sandbox, name: &str, extra: &str) -> PathBuf {
    fs::set_permissions(sandbox.path(), fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("cannot open up the sandbox: {e}"));
    let dir = sandbox.path().join(name);
    fs::create_dir(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    fs::copy(bin_path("jitos-worker-misbehave"), dir.join("misbehave"))
        .unwrap_or_else(|e| panic!("cannot copy the misbehaving worker: {e}"));
    let manifest = dir.join("worker.toml");
    let text = format!(
        "name = \"{name}\"\nversion = \"0.1.0\"\nbinary = \"misbehave\"\n\
         sandbox_profile = \"pure\"\ninput_schema = {{ type = \"bytes\" }}\n{extra}\n"
    );
    fs::write(&manifest, text).unwrap_or_else(|e| panic!("cannot write the manifest: {e}"));
    manifest
}

/// Installs the misbehaving test worker under `name` with `effect_class`; returns the
/// directory of its binary and manifest.
pub fn install_misbehave(sandbox: &Sandbox, name: &str, effect_class: &str) -> PathBuf {
    let manifest = misbehave_manifest(sandbox, name, &format!("effect_class = \"{effect_class}\""));
    let path = manifest.to_string_lossy().into_owned();
    assert_success(
        "worker install",
        &sandbox.jitos(&["worker", "install", &path]),
    );
    manifest
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{} has no directory", manifest.display()))
}

/// Creates a workspace over the system's head; its id.
pub fn create_sws(client: &mut Client) -> u64 {
    match call(
        client,
        &Request::SwsCreate {
            at: None,
            parent: None,
        },
    ) {
        Response::SwsRecorded { sws, .. } => sws,
        other => panic!("create answered {other:?}"),
    }
}

/// A waited job of `worker` in `sws` with `args`, a 20 s deadline and no path limits.
pub fn job_spec(worker: &str, sws: u64, args: &[&str]) -> JobSpec {
    JobSpec {
        worker: worker.to_owned(),
        sws,
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        input: Vec::new(),
        deadline_ms: Some(20_000),
        paths: Vec::new(),
        wait: true,
        writ: None,
    }
}

/// Runs a waited job and returns the ended attempt.
pub fn run_job(client: &mut Client, spec: JobSpec) -> AttemptView {
    match call(client, &Request::JobRun(spec)) {
        Response::Job(view) => view,
        other => panic!("job run answered {other:?}"),
    }
}

/// Every attempt's terminal record kinds, by attempt; each must have exactly one.
pub fn terminal_records(client: &mut Client) -> BTreeMap<u64, Vec<String>> {
    let mut ends: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for record in all_records(client) {
        if record.kind == "job.dispatch" {
            ends.entry(record.seq).or_default();
        }
        if ["job.done", "job.failed", "job.refused"].contains(&record.kind.as_str()) {
            let attempt: u64 = record
                .summary
                .strip_prefix("attempt ")
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unreadable summary {:?}", record.summary));
            ends.entry(attempt).or_default().push(record.kind.clone());
        }
    }
    ends
}

/// The daemon's live child processes (its workers), from /proc.
pub fn worker_children(daemon: &Daemon) -> Vec<u32> {
    let mut pids = Vec::new();
    let tasks = PathBuf::from(format!("/proc/{}/task", daemon.pid()));
    for task in fs::read_dir(tasks).into_iter().flatten().flatten() {
        let listed = fs::read_to_string(task.path().join("children")).unwrap_or_default();
        pids.extend(
            listed
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    pids
}

/// The daemon's live children that run a copy of `binary`: the worker store names each
/// copy it executes by the BLAKE3 digest of its bytes, which is the worker's `argv[0]`.
pub fn children_running(daemon: &Daemon, binary: &Path) -> Vec<u32> {
    let bytes =
        fs::read(binary).unwrap_or_else(|e| panic!("cannot read {}: {e}", binary.display()));
    let digest = blake3::hash(&bytes).to_hex();
    worker_children(daemon)
        .into_iter()
        .filter(|pid| is_alive(*pid))
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
                argv0.ends_with(digest.as_bytes())
            })
        })
        .collect()
}

/// Live processes whose command line contains `needle` (NUL-separated argv), from /proc.
pub fn processes_running(needle: &str) -> Vec<u32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| is_alive(*pid))
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .map(|cmdline| {
                    String::from_utf8_lossy(&cmdline)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// Polls `done` until it holds, failing the test after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `pid` is a live process (a zombie still has a /proc entry; its state is Z).
pub fn is_alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}
