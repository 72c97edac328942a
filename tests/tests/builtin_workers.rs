//! The built-in `shell` and `scaffold` workers through the real daemon and CLI: a command's
//! file changes land in its workspace only, the command runs confined under its own uid,
//! nothing it starts outlives its job, and `jitos worker scaffold` checks a new worker out.
#![allow(clippy::unwrap_used)]

use std::{fs, path::Path, process::Command, time::Duration};

use jitos_proto::{AttemptState, Request, Response};
use jitos_system_tests::{
    assert_failure, assert_success, bin_path, call, create_sws, job_spec, processes_running,
    root_or_skip, run_job, running_as_root, wait_until, worker_children, Sandbox,
};

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn sws_arg(sandbox: &Sandbox) -> String {
    let out = assert_success("sws create", &sandbox.jitos(&["--json", "sws", "create"]));
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    created["sws"].as_u64().unwrap().to_string()
}

// Goal: the end-to-end case — the `shell` worker changes files in a workspace; the
// change is visible in the workspace and not in the system until collapse. Method: import
// a project, run a command that edits, adds and removes files in a new workspace, check
// both trees out, collapse, and check the system out again.
#[test]
fn a_shell_job_changes_its_workspace_and_the_system_only_at_collapse() {
    let sandbox = Sandbox::new();
    let _daemon = sandbox.start();
    let project = sandbox.path().join("project");
    fs::create_dir_all(project.join("src")).unwrap();
    fs::write(project.join("greeting.txt"), "hello\n").unwrap();
    fs::write(project.join("src/old.txt"), "old\n").unwrap();
    assert_success(
        "tree import",
        &sandbox.jitos(&["tree", "import", project.to_str().unwrap()]),
    );
    let sws = sws_arg(&sandbox);
    let script = "echo changed > greeting.txt && echo new > src/new.txt && rm src/old.txt";
    let out = assert_success(
        "job run shell",
        &sandbox.jitos(&[
            "job", "run", "shell", "--sws", &sws, "--", "sh", "-c", script,
        ]),
    );
    assert!(out.contains("proposal applied, exit status 0"), "{out}");

    let in_sws = sandbox.path().join("in-sws");
    assert_success(
        "checkout --sws",
        &sandbox.jitos(&["tree", "checkout", in_sws.to_str().unwrap(), "--sws", &sws]),
    );
    assert_eq!(read(&in_sws.join("greeting.txt")), "changed\n");
    assert_eq!(read(&in_sws.join("src/new.txt")), "new\n");
    assert!(!in_sws.join("src/old.txt").exists());

    let system = sandbox.path().join("system");
    assert_success(
        "checkout",
        &sandbox.jitos(&["tree", "checkout", system.to_str().unwrap()]),
    );
    assert_eq!(read(&system.join("greeting.txt")), "hello\n");
    assert_eq!(read(&system.join("src/old.txt")), "old\n");
    assert!(!system.join("src/new.txt").exists());

    assert_success("collapse", &sandbox.jitos(&["sws", "collapse", &sws]));
    let after = sandbox.path().join("after");
    assert_success(
        "checkout after collapse",
        &sandbox.jitos(&["tree", "checkout", after.to_str().unwrap()]),
    );
    assert_eq!(read(&after.join("greeting.txt")), "changed\n");
    assert_eq!(read(&after.join("src/new.txt")), "new\n");
    assert!(!after.join("src/old.txt").exists());
}

// Goal: the daemon really confines what a shell job runs. Method: one script tries, beside
// a positive control (writing in its workspace), to write in the test's directory, read
// the daemon's /proc entry, signal the daemon and exec a binary outside the system paths;
// each attempt prints a marker only if it worked. As root, the command's uid must be a
// worker uid.
#[test]
fn a_shell_job_runs_confined_under_its_own_uid() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let mut client = daemon.client();
    let sws = create_sws(&mut client);
    let outside = sandbox.path().join("outside.txt");
    let pid = daemon.pid();
    let probe = bin_path("jitos-sandbox-probe");
    let script = format!(
        "id -u; \
         echo ok > inside.txt && echo CONTROL_WRITE_INSIDE; \
         echo x > {outside} 2>/dev/null && echo ESCAPED_WRITE; \
         cat /proc/{pid}/environ > /dev/null 2>&1 && echo ESCAPED_PROC; \
         kill -0 {pid} 2>/dev/null && echo ESCAPED_SIGNAL; \
         {probe} socketpair > /dev/null 2>&1 && echo ESCAPED_EXEC; \
         true",
        outside = outside.display(),
        probe = probe.display(),
    );
    let view = run_job(&mut client, job_spec("shell", sws, &["sh", "-c", &script]));
    let AttemptState::Done { artifacts, .. } = &view.state else {
        panic!("the script's job ended {view:?}");
    };
    let stdout_blob = artifacts
        .iter()
        .find(|(name, _)| name == "stdout")
        .map(|(_, blob)| blob.parse().unwrap())
        .unwrap();
    let stdout = match call(&mut client, &Request::GetBlobs(vec![stdout_blob])) {
        Response::Blobs(mut blobs) => String::from_utf8(blobs.remove(0)).unwrap(),
        other => panic!("get blobs answered {other:?}"),
    };
    assert!(stdout.contains("CONTROL_WRITE_INSIDE"), "{stdout}");
    assert!(!stdout.contains("ESCAPED"), "{stdout}");
    assert!(!outside.exists());
    let uid: u32 = stdout.lines().next().unwrap().trim().parse().unwrap();
    if running_as_root() {
        assert!(
            uid >= jitos_sandbox::LENT_UID_BASE,
            "the command ran as uid {uid}"
        );
    }
}

// Goal: the reported failure of a root daemon whose workers were built under a private
// home (every job failed with "Permission denied" executing the binary) is gone: built-in
// workers run from the daemon's worker store. Method: copy the built-in worker binaries
// into a 0700 directory, start jitosd with --worker-dir there, run a shell job.
#[test]
fn built_in_workers_built_under_a_private_home_run() {
    if !root_or_skip("only a root jitosd runs workers under uids of their own") {
        return;
    }
    let sandbox = Sandbox::new();
    let home = sandbox.path().join("home");
    fs::create_dir(&home).unwrap();
    for worker in [
        "jitos-worker-noop",
        "jitos-worker-shell",
        "jitos-worker-scaffold",
    ] {
        fs::copy(bin_path(worker), home.join(worker)).unwrap();
    }
    fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let daemon = sandbox.start_with(&["--worker-dir", home.to_str().unwrap()]);
    let mut client = daemon.client();
    let sws = create_sws(&mut client);
    let view = run_job(&mut client, job_spec("shell", sws, &["sh", "-c", "id -u"]));
    assert!(
        matches!(view.state, AttemptState::Done { exit_status: 0, .. }),
        "the job ended {}",
        view.state
    );
}

// Goal: a root jitosd whose workers could not reach their scratch or their binaries
// refuses to start and says what to do, instead of failing every job. Method: TMPDIR in a
// 0700 directory.
#[test]
fn a_root_daemon_whose_workers_cannot_reach_tmpdir_refuses_to_start() {
    if !root_or_skip("only a root jitosd runs workers under uids of their own") {
        return;
    }
    let sandbox = Sandbox::new();
    let private = sandbox.path().join("private-tmp");
    fs::create_dir(&private).unwrap();
    fs::set_permissions(
        &private,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let mut jitosd = sandbox.jitosd_command(&[]);
    jitosd.env("TMPDIR", &private);
    let out = jitos_system_tests::run_bounded(&mut jitosd, &[], Duration::from_secs(60));
    let text = assert_failure("a start with an unreachable TMPDIR", &out);
    assert!(
        text.contains(private.to_str().unwrap()) && text.contains("TMPDIR"),
        "{text}"
    );
}

/// Starts `sleep SECONDS` in a session of its own and returns once it is there (the
/// `ready` file is written after `setsid`), so the escape is real when the script exits.
fn escape_script(seconds: &str) -> String {
    format!(
        "setsid sh -c 'touch ready; exec sleep {seconds}' > /dev/null 2>&1 < /dev/null & \
         while [ ! -e ready ]; do sleep 0.01; done; rm ready; echo started"
    )
}

// Goal: nothing a shell job starts outlives it, even a process that left the command's
// process group and session. Method: the command starts `sleep` in a session of its own
// and exits; after the job the sleeper must be gone. The positive control runs the same
// script unconfined and sees its sleeper survive, so the check can see a survivor.
#[test]
fn what_a_shell_job_leaves_running_ends_with_it() {
    if !root_or_skip("only a root jitosd runs workers under uids it can sweep") {
        return;
    }
    let control_dir = tempfile::tempdir().unwrap();
    let status = Command::new("sh")
        .args(["-c", &escape_script("31416")])
        .current_dir(control_dir.path())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let survivors = processes_running("sleep 31416");
    assert!(
        !survivors.is_empty(),
        "the control's sleeper did not survive"
    );
    for pid in survivors {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }

    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let mut client = daemon.client();
    let sws = create_sws(&mut client);
    let script = escape_script("31415");
    let view = run_job(&mut client, job_spec("shell", sws, &["sh", "-c", &script]));
    assert!(
        matches!(view.state, AttemptState::Done { exit_status: 0, .. }),
        "{view:?}"
    );
    wait_until("the escaped sleeper's end", Duration::from_secs(5), || {
        processes_running("sleep 31415").is_empty()
    });
    assert!(worker_children(&daemon).is_empty());
}

// Goal: a failing command is still a proposal: its status and output are recorded and
// shown, and `jitos job run` exits non-zero. Method: a command that prints to both streams
// and exits 3.
#[test]
fn a_failing_command_reports_its_status_and_output() {
    let sandbox = Sandbox::new();
    let _daemon = sandbox.start();
    let out = assert_failure(
        "job run of a failing command",
        &sandbox.jitos(&[
            "job",
            "run",
            "shell",
            "--new-sws",
            "--",
            "sh",
            "-c",
            "echo to-out; echo to-err >&2; exit 3",
        ]),
    );
    assert!(out.contains("exit status 3"), "{out}");
    assert!(out.contains("--- stdout ---\nto-out"), "{out}");
    assert!(out.contains("--- stderr ---\nto-err"), "{out}");
}

// Goal: a command that runs past its job's deadline is stopped and the attempt fails, with
// no process left. Method: `sleep 30` with a 1 s deadline.
#[test]
fn a_shell_job_past_its_deadline_is_stopped() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let mut client = daemon.client();
    let sws = create_sws(&mut client);
    let mut spec = job_spec("shell", sws, &["sleep", "27182"]);
    spec.deadline_ms = Some(1_000);
    let started = std::time::Instant::now();
    let view = run_job(&mut client, spec);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    match &view.state {
        AttemptState::Failed { detail, .. } => assert!(detail.contains("deadline"), "{detail}"),
        other => panic!("the sleeping job ended {other:?}"),
    }
    assert!(processes_running("sleep 27182").is_empty());
    assert!(worker_children(&daemon).is_empty());
}

// Goal: `jitos worker scaffold` runs the scaffold worker through the daemon and checks out
// a crate whose manifest validates, leaving the workspace discarded in history. Method:
// scaffold into a new directory, validate its manifest, read the workspace list.
#[test]
fn worker_scaffold_checks_out_a_valid_new_worker() {
    let sandbox = Sandbox::new();
    let _daemon = sandbox.start();
    let into = sandbox.path().join("my-worker");
    let out = assert_success(
        "worker scaffold",
        &sandbox.jitos(&[
            "worker",
            "scaffold",
            "my-worker",
            "--into",
            into.to_str().unwrap(),
        ]),
    );
    assert!(out.contains("checked out to"), "{out}");
    for file in [
        "Cargo.toml",
        "worker.toml",
        "src/main.rs",
        "src/lib.rs",
        "tests/handler.rs",
    ] {
        assert!(into.join(file).is_file(), "{file} is missing: {out}");
    }
    let manifest = into.join("worker.toml");
    let valid = assert_success(
        "worker validate",
        &sandbox.jitos(&["worker", "validate", manifest.to_str().unwrap()]),
    );
    assert!(valid.contains("my-worker"), "{valid}");
    let list = assert_success("sws list", &sandbox.jitos(&["--json", "sws", "list"]));
    assert!(
        list.contains("Discarded") || list.contains("discarded"),
        "{list}"
    );

    let again = assert_failure(
        "scaffold into an existing directory",
        &sandbox.jitos(&[
            "worker",
            "scaffold",
            "my-worker",
            "--into",
            into.to_str().unwrap(),
        ]),
    );
    assert!(again.contains("already exists"), "{again}");
}

// Goal: a daemon installed as the package lays it out (`/usr/bin/jitosd`, its workers in
// `/usr/lib/jitos/workers`) finds its built-in workers without --worker-dir, and it is
// that directory it finds them in. Method: copy jitosd into PREFIX/bin and the shell
// worker into PREFIX/lib/jitos/workers; run a shell job; then move the workers away: the
// daemon looks beside itself instead, and refuses the job naming PREFIX/bin.
#[test]
fn a_daemon_laid_out_as_packaged_finds_its_workers_in_lib_jitos_workers() {
    let sandbox = Sandbox::new();
    let prefix = sandbox.path().join("usr");
    let bin = prefix.join("bin");
    let workers = prefix.join("lib/jitos/workers");
    fs::create_dir_all(&bin).unwrap();
    fs::create_dir_all(&workers).unwrap();
    let jitosd = bin.join("jitosd");
    fs::copy(bin_path("jitosd"), &jitosd).unwrap();
    fs::copy(
        bin_path("jitos-worker-shell"),
        workers.join("jitos-worker-shell"),
    )
    .unwrap();

    let daemon = sandbox.start_binary(&jitosd, &[]);
    let mut client = daemon.client();
    let sws = create_sws(&mut client);
    let view = run_job(&mut client, job_spec("shell", sws, &["true"]));
    assert!(
        matches!(view.state, AttemptState::Done { exit_status: 0, .. }),
        "the job ended {}\nstderr:\n{}",
        view.state,
        daemon.stderr()
    );
    drop(client);
    daemon.terminate();

    fs::rename(&workers, prefix.join("lib/jitos/elsewhere")).unwrap();
    let daemon = sandbox.start_binary(&jitosd, &[]);
    let mut client = daemon.client();
    let sws = create_sws(&mut client);
    let beside = bin.join("jitos-worker-shell");
    match call(
        &mut client,
        &Request::JobRun(job_spec("shell", sws, &["true"])),
    ) {
        Response::Error(e) => assert!(
            e.message.contains(beside.to_str().unwrap()),
            "the refusal does not name {}: {}",
            beside.display(),
            e.message
        ),
        other => panic!("a job ran with no lib/jitos/workers: {other:?}"),
    }
}
