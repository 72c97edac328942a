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

#[test]
fn cgroup_limits_bind_whatever_the_rlimits_allow() {
    // Goal: where a control group can be made, its pids and memory limits stop a bomb
    // even when the rlimits would not; method: a fork bomb of 200 under a group of 16
    // processes, and 256 MiB touched under a group of 64 MiB, both with loose rlimits,
    // beside the same runs under loose groups. (The suite's root run covers this: only
    // root can make groups here.)
    if !crate::harness::is_root() {
        return;
    }
    let root =
        match jitos_sandbox::CgroupRoot::create(&format!("jitos-escape-{}", std::process::id())) {
            Ok(root) => root,
            Err(why) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI must offer cgroups to root: {why}"
                );
                eprintln!("skipped: {why}");
                return;
            }
        };
    let runner = Runner::new();
    let mut loose = Confinement::new(Profile::Shell);
    loose.limits.processes = 1000;
    let mut tight = loose.limits;
    tight.processes = 16;
    tight.address_space_bytes = 64 << 20;
    let run = |name: &str, limits: &jitos_sandbox::Limits, args: &[&str]| {
        let lease = root.lease(name, limits).unwrap();
        let (mut reader, writer) = std::io::pipe().unwrap();
        let mut spawn = jitos_sandbox::Spawn::new(crate::harness::PROBE)
            .args(args)
            .stdio(
                jitos_sandbox::Stdio::Null,
                jitos_sandbox::Stdio::Fd(writer.try_clone().unwrap().into()),
                jitos_sandbox::Stdio::Fd(writer.into()),
            )
            .cgroup(&lease)
            .unwrap();
        if let Some(uid) = runner.uid() {
            spawn = spawn.uid(uid);
        }
        let mut process = loose.spawn(spawn).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut reader, &mut text).unwrap();
        (process.wait().unwrap(), text)
    };
    let (status, text) = run("bomb", &tight, &["fork-bomb", "200"]);
    assert_eq!(
        status.code(),
        Some(1),
        "fork bomb under a 16-process group: {text}"
    );
    let (status, text) = run("bomb-control", &loose.limits, &["fork-bomb", "200"]);
    assert_eq!(status.code(), Some(0), "control: {text}");
    let (status, text) = run("touch", &tight, &["mem-touch", "256"]);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL),
        "256 MiB under a 64 MiB group: {text}"
    );
    let (status, text) = run("touch-control", &loose.limits, &["mem-touch", "256"]);
    assert_eq!(status.code(), Some(0), "control: {text}");
}
