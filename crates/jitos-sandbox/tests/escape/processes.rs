//! Processes: starting them, bombs of every kind, and reaching the daemon or others.

use std::os::unix::process::CommandExt;
use std::process::Command;

use jitos_sandbox::{Confinement, Profile};

use crate::harness::{Control, Ended, Runner, PROFILES};

#[test]
fn fork_under_pure_is_refused_but_shell_may() {
    // Goal: Pure starts no processes; method: fork once under Pure, then Shell.
    let runner = Runner::new();
    assert_eq!(
        runner.probe(&Confinement::new(Profile::Pure), &["fork"]),
        Ended::Refused
    );
    assert_eq!(
        runner.probe(&Confinement::new(Profile::Shell), &["fork"]),
        Ended::Succeeded
    );
}

#[test]
fn fork_bomb_is_bounded_by_process_limit() {
    // Goal: forks stop at the process limit whoever starts the sandbox, root included
    // (the program never runs as root, which RLIMIT_NPROC would exempt); method: fork
    // 200 children under a limit of 16 (Pure refuses the first fork), then under Shell
    // with 1000, the control.
    let runner = Runner::new();
    for profile in PROFILES {
        let mut tight = Confinement::new(profile);
        tight.limits.processes = 16;
        let (ended, text) = runner.confined(&tight, None, &["fork-bomb", "200"]);
        assert_eq!(ended, Ended::Refused, "{profile:?}: {text}");
    }
    let mut loose = Confinement::new(Profile::Shell);
    loose.limits.processes = 1000;
    let (ended, text) = runner.confined(&loose, None, &["fork-bomb", "200"]);
    assert_eq!(ended, Ended::Succeeded, "{text}");
}

#[test]
fn memory_bomb_is_bounded_by_address_space() {
    // Goal: allocation fails past the limit; method: reserve 2 GiB under a 512 MiB limit.
    let runner = Runner::new();
    runner.refused_beside(
        |p| {
            let mut conf = Confinement::new(p);
            conf.limits.address_space_bytes = 512 << 20;
            conf
        },
        Control::Runner,
        None,
        &["mem-bomb"],
    );
}

#[test]
fn cpu_spin_is_killed_at_the_cpu_limit() {
    // Goal: a spinning worker is stopped by its CPU limit; method: spin for 3 s of CPU
    // under a 1 s limit (killed by SIGXCPU or SIGKILL), and unconfined (finishes).
    let runner = Runner::new();
    for profile in PROFILES {
        let mut conf = Confinement::new(profile);
        conf.limits.cpu_seconds = 1;
        let (ended, text) = runner.confined(&conf, None, &["cpu-spin", "3"]);
        assert!(
            matches!(ended, Ended::Killed(libc::SIGXCPU | libc::SIGKILL)),
            "{profile:?} spin ended {ended:?}: {text}"
        );
    }
    let (ended, text) = runner.unconfined(Control::Runner, None, &["cpu-spin", "3"]);
    assert_eq!(ended, Ended::Succeeded, "{text}");
}

#[test]
fn no_new_privs_is_set() {
    // Goal: setuid binaries cannot grant privileges; method: read PR_GET_NO_NEW_PRIVS.
    Runner::new().refused(&["nnp-clear"]);
}

#[test]
fn changing_uid_is_refused() {
    // Goal: a worker keeps the identity it was started with; method: setuid to the uid it
    // already has, which any process may do unconfined.
    let runner = Runner::new();
    runner.refused(&["setuid", &runner.effective_uid().to_string()]);
}

#[test]
fn the_daemons_proc_entries_are_unreadable() {
    // Goal: a worker cannot read its supervisor's environment or memory map; method: read
    // /proc/<this test's pid>/environ and /maps (this process stands for the daemon).
    let runner = Runner::new();
    let pid = std::process::id();
    for entry in ["environ", "maps"] {
        runner.refused_beside(
            Confinement::new,
            Control::Caller,
            None,
            &["read", &format!("/proc/{pid}/{entry}")],
        );
    }
}

#[test]
fn signalling_the_daemon_is_refused() {
    // Goal: a worker cannot signal its supervisor (Landlock's signal scope); method:
    // SIGCONT to the parent, which is this test process.
    Runner::new().refused_beside(Confinement::new, Control::Caller, None, &["signal-parent"]);
}

#[test]
fn ptracing_the_daemon_or_another_process_is_refused() {
    // Goal: a worker cannot trace others; method: PTRACE_SEIZE the parent (this test
    // process), then a sleeping process of the worker's own uid.
    let runner = Runner::new();
    runner.refused_beside(Confinement::new, Control::Caller, None, &["ptrace-parent"]);
    let mut sleeper = Command::new("/bin/sleep");
    sleeper.arg("30");
    if let Some(uid) = runner.uid() {
        sleeper.uid(uid).gid(uid);
    }
    let mut target = sleeper.spawn().unwrap();
    let pid = target.id().to_string();
    let confined: Vec<Ended> = PROFILES
        .iter()
        .map(|p| runner.probe(&Confinement::new(*p), &["ptrace", &pid]))
        .collect();
    let (control, text) = runner.unconfined(Control::Runner, None, &["ptrace", &pid]);
    target.kill().unwrap();
    target.wait().unwrap();
    assert_eq!(confined, vec![Ended::Refused, Ended::Refused]);
    assert_eq!(control, Ended::Succeeded, "{text}");
}

/// Memory the probe tries to read out of this process.
static DAEMON_SECRET: [u8; 8] = *b"secret!!";

#[test]
fn reading_the_daemons_memory_is_refused() {
    // Goal: no process_vm_readv into the supervisor; method: read DAEMON_SECRET out of
    // this test process by its address.
    let pid = std::process::id().to_string();
    let addr = format!(
        "{:x}",
        std::hint::black_box(&DAEMON_SECRET).as_ptr() as usize
    );
    Runner::new().refused_beside(
        Confinement::new,
        Control::Caller,
        None,
        &["process-vm-readv", &pid, &addr],
    );
}
