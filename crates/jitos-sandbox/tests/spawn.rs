//! `Confinement::spawn` as an API: streams, directory, handed descriptors, failures named
//! by their step, and a parent whose threads keep their credentials when the child takes
//! another uid.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
#![allow(unsafe_code)]

// The escape suite's runner: a lent uid when root, the caller's own otherwise.
#[allow(dead_code)]
#[path = "escape/harness.rs"]
mod harness;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use harness::Runner;
use jitos_sandbox::{Confinement, Profile, SandboxError, Spawn, Stdio, HANDED_FD_MAX};

/// `spawn` as the runner's uid.
fn as_runner(runner: &Runner, spawn: Spawn) -> Spawn {
    match runner.uid() {
        Some(uid) => spawn.uid(uid),
        None => spawn,
    }
}

/// Runs `sh -c script` under the Shell profile with its output captured.
fn shell(conf: &Confinement, spawn: impl FnOnce(Spawn) -> Spawn, script: &str) -> (i32, String) {
    let (mut reader, writer) = std::io::pipe().unwrap();
    let base = Spawn::new("/bin/sh").args(["-c", script]).stdio(
        Stdio::Null,
        Stdio::Fd(writer.try_clone().unwrap().into()),
        Stdio::Fd(writer.into()),
    );
    let mut process = conf.spawn(spawn(base)).unwrap();
    let mut out = String::new();
    reader.read_to_string(&mut out).unwrap();
    let status = process.wait().unwrap();
    (status.code().unwrap_or(-1), out)
}

// Goal: what the caller sets reaches the program: directory, arguments, a handed
// descriptor, a clean environment and stdin from /dev/null. Method: a script that reports
// each one.
#[test]
fn the_program_gets_its_directory_streams_and_handed_descriptor() {
    let runner = Runner::new();
    let dir = runner.tempdir();
    let handed = std::fs::File::open("/dev/null").unwrap();
    let mut conf = Confinement::new(Profile::Shell);
    conf.read_write.push(dir.path().to_owned());
    let (code, out) = shell(
        &conf,
        |s| as_runner(&runner, s.cwd(dir.path()).hand(handed.into(), 7)),
        "pwd; env | wc -l; (exec 3<&7) 2>/dev/null && echo fd7; read line || echo stdin-empty",
    );
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        dir.path().canonicalize().unwrap().to_str().unwrap()
    );
    // PATH, and the PWD and SHLVL the shell sets itself.
    assert!(lines[1].trim().parse::<u32>().unwrap() <= 3, "{out}");
    assert!(out.contains("fd7"), "{out}");
    assert!(out.contains("stdin-empty"), "{out}");
}

// Goal: a failure in the child is reported with its step, not as a silent exit 127.
// Method: a program that is not executable, and a directory that does not exist.
#[test]
fn failures_name_their_step() {
    let runner = Runner::new();
    let dir = runner.tempdir();
    let script = dir.path().join("not-executable");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut conf = Confinement::new(Profile::Shell);
    conf.read_write.push(dir.path().to_owned());
    match conf.spawn(as_runner(&runner, Spawn::new(&script))) {
        Err(SandboxError::Spawn { stage, error, .. }) => {
            assert_eq!(stage, "executing it");
            assert_eq!(error.raw_os_error(), Some(libc::EACCES), "{error}");
        }
        other => panic!("a non-executable program spawned: {other:?}"),
    }
    match conf.spawn(as_runner(
        &runner,
        Spawn::new("/bin/true").cwd(dir.path().join("missing")),
    )) {
        Err(SandboxError::Spawn { stage, .. }) => assert_eq!(stage, "changing to its directory"),
        other => panic!("a missing directory spawned: {other:?}"),
    }
    let handed = std::fs::File::open("/dev/null").unwrap();
    let too_high =
        as_runner(&runner, Spawn::new("/bin/true")).hand(handed.into(), HANDED_FD_MAX + 1);
    assert!(matches!(
        conf.spawn(too_high),
        Err(SandboxError::Spawn { .. })
    ));
}

// Goal: the child shares the parent's memory until exec, so taking another uid must not
// change the parent's credentials (glibc's setuid would change every thread's). Method: as
// root, spawn as uid 65534 while another thread of this process waits; afterwards both
// threads still run as root. Skipped unless root.
#[test]
fn taking_a_uid_leaves_the_parents_threads_alone() {
    if !thread_uids().starts_with("0\t") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root: this test must run there"
        );
        eprintln!("skipped: needs root");
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        rx.recv().unwrap();
        thread_uids()
    });
    let (code, out) = shell(&Confinement::new(Profile::Shell), |s| s.uid(65534), "id -u");
    assert_eq!((code, out.trim()), (0, "65534"));
    tx.send(()).unwrap();
    assert_eq!(other.join().unwrap(), "0\t0\t0\t0");
    assert_eq!(thread_uids(), "0\t0\t0\t0");
}

/// The calling thread's real, effective, saved and file-system uids, as /proc shows them.
fn thread_uids() -> String {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .unwrap()
        .trim()
        .to_owned()
}
