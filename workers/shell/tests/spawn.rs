//! The real `jitos-worker-shell` binary, spawned with its socket on fd 3 as the daemon
//! does, plain and confined: the rewrite it proposes, its artifacts, its exit status,
//! deadlines, cancellation and refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    fs,
    os::unix::{fs::PermissionsExt, net::UnixStream},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use jitos_sandbox::{
    give_tree, Confinement, LentUid, Process, Profile, Spawn, UidPool, CHANNEL_FD,
};
use jitos_tree::{sync_rewrite, Entry, Tree, TreePath};
use jitos_treefs::{blob_ref, read_tree};
use jitos_warp::Graph;
use jitos_worker::{DaemonEnd, Job, Proposal, WorkerMessage};

const SHELL: &str = env!("CARGO_BIN_EXE_jitos-worker-shell");

/// A worker process and the daemon's end of its socket.
struct Worker {
    child: Process,
    end: DaemonEnd<UnixStream>,
    /// The uid it runs as when the test is root, held while it runs.
    _lent: Option<LentUid>,
}

impl Worker {
    /// Starts the worker with `scratch` as its working directory, confined under the
    /// Shell profile with `scratch` read-write when `confined`.
    fn start(scratch: &Path, confined: bool) -> Worker {
        let mut confinement = Confinement::new(Profile::Shell);
        confinement.read_write.push(scratch.to_owned());
        let (daemon, worker) = UnixStream::pair().unwrap();
        let mut spawn = Spawn::new(SHELL)
            .cwd(scratch)
            .hand(worker.into(), CHANNEL_FD);
        // Never as root: a root caller lends the worker a uid and gives it its scratch,
        // as the daemon does.
        let lent = UidPool::for_caller().unwrap();
        if let Some(lent) = &lent {
            give_tree(scratch, lent.uid()).unwrap();
            spawn = spawn.uid(lent.uid());
        }
        // Unconfined is the degraded start: everything but Landlock and seccomp.
        let child = if confined {
            confinement.spawn(spawn)
        } else {
            confinement.spawn_degraded(spawn)
        }
        .unwrap();
        let end = DaemonEnd::accept(daemon).unwrap();
        assert_eq!(end.hello().name, "shell");
        Worker {
            child,
            end,
            _lent: lent,
        }
    }

    /// Sends a job and returns its terminal message.
    fn run(&mut self, job: Job) -> WorkerMessage {
        self.end.send_job(job).unwrap();
        self.terminal()
    }

    fn terminal(&mut self) -> WorkerMessage {
        loop {
            match self.end.next_message().unwrap() {
                WorkerMessage::Progress(_) | WorkerMessage::Heartbeat | WorkerMessage::Log(_) => {}
                terminal => return terminal,
            }
        }
    }

    /// Closes the socket and expects the worker to exit successfully.
    fn stop(mut self) {
        drop(self.end);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "worker exited with {status}");
    }
}

fn job(job_id: u64, workspace: Option<&Path>, args: &[&str], deadline_ms: u64) -> Job {
    Job {
        job_id,
        attempt: 1,
        deadline_ms,
        input: Vec::new(),
        workspace_dir: workspace.map(|w| w.to_str().unwrap().to_owned()),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
    }
}

/// A scratch directory holding `workspace/` with four files, one executable.
fn prepare() -> (tempfile::TempDir, PathBuf) {
    let scratch = tempfile::tempdir().unwrap();
    let workspace = scratch.path().join("workspace");
    fs::create_dir_all(workspace.join("keep")).unwrap();
    fs::write(workspace.join("a.txt"), "old\n").unwrap();
    fs::write(workspace.join("b.txt"), "gone\n").unwrap();
    fs::write(workspace.join("keep/c.txt"), "same\n").unwrap();
    fs::write(workspace.join("run.sh"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(workspace.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    (scratch, workspace)
}

fn file(bytes: &str, executable: bool) -> Entry {
    Entry::File {
        blob: blob_ref(bytes.as_bytes()),
        size: bytes.len() as u64,
        executable,
    }
}

fn tree_of(entries: &[(&str, Entry)]) -> Tree {
    let mut tree = Tree::new();
    tree.insert(TreePath::root(), Entry::Dir);
    for (path, entry) in entries {
        tree.insert(TreePath::new(path).unwrap(), entry.clone());
    }
    tree
}

fn proposal(message: WorkerMessage) -> Proposal {
    match message {
        WorkerMessage::Proposal(p) => p,
        other => panic!("expected a proposal, got {other:?}"),
    }
}

fn failure_reason(message: WorkerMessage) -> String {
    match message {
        WorkerMessage::Failure(f) => f.reason,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Runs the changing command and checks everything the proposal carries.
fn changes_become_one_rewrite(confined: bool) {
    let (scratch, workspace) = prepare();
    let before = read_tree(&workspace).unwrap();
    let mut worker = Worker::start(scratch.path(), confined);
    let script =
        "echo hi > new.txt; echo changed > a.txt; rm b.txt; echo out; echo err >&2; exit 3";
    let p = proposal(worker.run(job(7, Some(&workspace), &["sh", "-c", script], 10_000)));
    assert_eq!(p.job_id, 7);
    assert_eq!(p.exit_status, 3);

    // The rewrite, applied to the graph recording `before`, records exactly the files left.
    let expected = tree_of(&[
        ("a.txt", file("changed\n", false)),
        ("keep", Entry::Dir),
        ("keep/c.txt", file("same\n", false)),
        ("new.txt", file("hi\n", false)),
        ("run.sh", file("#!/bin/sh\n", true)),
    ]);
    let mut graph = Graph::new();
    graph
        .apply(&sync_rewrite(&Tree::new(), &before).unwrap())
        .unwrap();
    let [rewrite] = p.rewrites.as_slice() else {
        panic!("expected one rewrite, got {:?}", p.rewrites)
    };
    graph.apply(rewrite).unwrap();
    assert_eq!(Tree::from_nodes(graph.nodes()).unwrap(), expected);

    let artifacts: Vec<(&str, &[u8])> = p
        .artifacts
        .iter()
        .map(|a| (a.name.as_str(), a.bytes.as_slice()))
        .collect();
    assert_eq!(
        artifacts,
        vec![
            ("stdout", &b"out\n"[..]),
            ("stderr", &b"err\n"[..]),
            ("files/a.txt", &b"changed\n"[..]),
            ("files/new.txt", &b"hi\n"[..]),
        ]
    );
    worker.stop();
}

// Goal: a command's file changes come back as the one rewrite that makes the recorded
// tree match the workspace, with output and new contents as artifacts and a non-zero
// exit as data. Method: run a command that adds, changes and removes files, apply the
// rewrite to a graph recording the tree before, and compare with the tree expected.
#[test]
fn changes_become_one_rewrite_unconfined() {
    changes_become_one_rewrite(false);
}

// Goal: the same under the Shell confinement the daemon uses, with only the scratch
// directory writable (it fails on a kernel that cannot confine, naming what is missing).
#[test]
fn changes_become_one_rewrite_confined() {
    let status = jitos_sandbox::status();
    assert!(
        status.supported,
        "this kernel cannot confine workers: {status:?}"
    );
    changes_become_one_rewrite(true);
}

/// The processes whose command line is exactly `words`.
fn processes_running(words: &[&str]) -> Vec<String> {
    let wanted: Vec<u8> = words
        .iter()
        .flat_map(|w| [w.as_bytes(), b"\0"].concat())
        .collect();
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let cmdline = fs::read(entry.path().join("cmdline")).ok()?;
            (cmdline == wanted).then(|| entry.file_name().to_string_lossy().into_owned())
        })
        .collect()
}

/// Runs a command that outlives its deadline, with a second process in the background.
fn deadline_kills_the_whole_group(confined: bool) {
    let (scratch, workspace) = prepare();
    // Durations unique to this run, so other tests' sleeps are never counted.
    let unique = format!("{}{}", std::process::id(), u8::from(confined));
    let (front, back) = (format!("30.{unique}"), format!("31.{unique}"));
    let script = format!("sleep {back} & sleep {front}");
    let left = |d: &str| processes_running(&["sleep", d]);
    let mut worker = Worker::start(scratch.path(), confined);
    let started = Instant::now();
    worker
        .end
        .send_job(job(8, Some(&workspace), &["sh", "-c", &script], 500))
        .unwrap();
    // Positive control: both sleeps do run before the deadline.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(left(&front).len(), 1, "sleep {front} never ran");
    assert_eq!(left(&back).len(), 1, "sleep {back} never ran");
    let reason = failure_reason(worker.terminal());
    let elapsed = started.elapsed();
    assert!(reason.contains("deadline"), "{reason}");
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    // Reparented processes may take a moment to be reaped; killed ones never run again.
    let until = Instant::now() + Duration::from_secs(2);
    while (!left(&front).is_empty() || !left(&back).is_empty()) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(left(&front).is_empty(), "sleep {front} survived");
    assert!(left(&back).is_empty(), "sleep {back} survived");
    // The worker is still usable after a deadline.
    let p = proposal(worker.run(job(9, Some(&workspace), &["true"], 5_000)));
    assert_eq!(p.exit_status, 0);
    worker.stop();
}

// Goal: a command past the job's deadline is killed with everything it started, and the
// job fails fast, naming the deadline. Method: `sleep` in the foreground and background
// with a 500 ms deadline; then look for either sleep in /proc.
#[test]
fn deadline_kills_the_whole_group_unconfined() {
    deadline_kills_the_whole_group(false);
}

// Goal: the same kill works inside the confinement (signals within the worker's own
// sandbox domain).
#[test]
fn deadline_kills_the_whole_group_confined() {
    let status = jitos_sandbox::status();
    assert!(
        status.supported,
        "this kernel cannot confine workers: {status:?}"
    );
    deadline_kills_the_whole_group(true);
}

// Goal: a Cancel stops a running command promptly with a `cancelled` failure. Method:
// start a long sleep, cancel it after 200 ms, time the answer.
#[test]
fn cancel_stops_the_command() {
    let (scratch, workspace) = prepare();
    let mut worker = Worker::start(scratch.path(), false);
    worker
        .end
        .send_job(job(10, Some(&workspace), &["sleep", "30"], 60_000))
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    worker.end.send_cancel(10).unwrap();
    let reason = failure_reason(worker.terminal());
    assert!(reason.starts_with("cancelled"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(2));
    worker.stop();
}

// Goal: without a workspace or a command the worker refuses with a reason saying which,
// and a command that changes nothing proposes no rewrite. Method: three jobs on one
// worker; the last is the positive control.
#[test]
fn refusals_and_no_change() {
    let (scratch, workspace) = prepare();
    let mut worker = Worker::start(scratch.path(), false);
    let reason = failure_reason(worker.run(job(1, None, &["true"], 5_000)));
    assert!(reason.contains("workspace"), "{reason}");
    let reason = failure_reason(worker.run(job(2, Some(&workspace), &[], 5_000)));
    assert!(reason.contains("command"), "{reason}");
    let reason =
        failure_reason(worker.run(job(3, Some(&workspace), &["no-such-program-x"], 5_000)));
    assert!(reason.contains("cannot start"), "{reason}");
    let p = proposal(worker.run(job(4, Some(&workspace), &["cat", "a.txt"], 5_000)));
    assert!(p.rewrites.is_empty(), "{:?}", p.rewrites);
    assert_eq!(p.exit_status, 0);
    assert_eq!(p.artifacts.len(), 2);
    assert_eq!(p.artifacts[0].bytes, b"old\n");
    worker.stop();
}

// Goal: output beyond the capture limit keeps its head, says it was cut, and a command
// killed by a signal reports 128 + the signal. Method: 2 MB of zeros on stdout, then
// the shell kills itself with SIGTERM.
#[test]
fn long_output_is_cut_and_signals_are_reported() {
    let (scratch, workspace) = prepare();
    let mut worker = Worker::start(scratch.path(), false);
    let script = "head -c 2000000 /dev/zero; kill -TERM $$";
    let p = proposal(worker.run(job(5, Some(&workspace), &["sh", "-c", script], 10_000)));
    assert_eq!(p.exit_status, 128 + 15);
    let stdout = &p.artifacts[0].bytes;
    let limit = 1024 * 1024;
    assert!(stdout[..limit].iter().all(|b| *b == 0));
    let note = String::from_utf8_lossy(&stdout[limit..]);
    assert!(
        note.contains("truncated") && note.contains("2000000"),
        "{note}"
    );
    worker.stop();
}
