//! Privileges: never root, no capability, and the calls that act on the whole machine.

use std::io::Read;

use jitos_sandbox::{Confinement, Profile, SandboxError, Spawn, Stdio};

use crate::harness::{is_root, Control, Runner, PROBE, PROFILES};

#[test]
fn a_confined_program_holds_no_capability() {
    // Goal: empty effective, permitted, inheritable, ambient and bounding sets, whoever
    // starts the sandbox; method: the probe asks the kernel for each set (a control as
    // this process holds some: root all, anyone else a full bounding set).
    Runner::new().refused_beside(Confinement::new, Control::Caller, None, &["caps-held"]);
}

#[test]
fn the_status_of_a_confined_process_shows_no_capability() {
    // Goal: what /proc/<pid>/status shows of a running confined process: every capability
    // set zero, no_new_privs, seccomp filtering, and its uid; method: read it from outside
    // while the probe pauses.
    let runner = Runner::new();
    for profile in PROFILES {
        let (mut reader, writer) = std::io::pipe().unwrap();
        let mut spawn = Spawn::new(PROBE).args(["pause", "30"]).stdio(
            Stdio::Null,
            Stdio::Fd(writer.into()),
            Stdio::Null,
        );
        if let Some(uid) = runner.uid() {
            spawn = spawn.uid(uid);
        }
        let mut process = Confinement::new(profile).spawn(spawn).unwrap();
        let status = std::fs::read_to_string(format!("/proc/{}/status", process.id())).unwrap();
        // SAFETY: kill takes a pid of our own child and a signal.
        unsafe { libc::kill(process.id() as libc::pid_t, libc::SIGKILL) };
        process.wait().unwrap();
        let mut rest = String::new();
        reader.read_to_string(&mut rest).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .map(str::trim)
                .unwrap_or_else(|| panic!("no {name} in {status}"))
                .to_owned()
        };
        for set in ["CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"] {
            assert_eq!(field(set), "0000000000000000", "{set} under {profile:?}");
        }
        assert_eq!(field("NoNewPrivs:"), "1");
        assert_eq!(field("Seccomp:"), "2");
        let uid = runner.effective_uid().to_string();
        assert!(
            field("Uid:").split_whitespace().all(|u| u == uid),
            "{}",
            field("Uid:")
        );
    }
}

#[test]
fn machine_wide_calls_are_refused() {
    // Goal: the clock and the host name cannot be set, whoever starts the sandbox;
    // method: sethostname to the name it has and settimeofday with neither time nor zone
    // (a permitted call changes nothing), beside a privileged control. A program with
    // no capability is refused these by the kernel too: that seccomp refuses them first
    // is shown by `seccomp::tests::machine_wide_calls_are_refused_by_number`.
    let runner = Runner::new();
    for action in ["sethostname", "settimeofday"] {
        runner.refused_beside(Confinement::new, Control::Privileged, None, &[action]);
    }
}

#[test]
fn a_confined_program_never_runs_as_root() {
    // Goal: root cannot start a confined program as root, and no caller as another user;
    // method: ask for each and read the refusal.
    let conf = Confinement::new(Profile::Pure);
    if is_root() {
        for spawn in [Spawn::new(PROBE), Spawn::new(PROBE).uid(0)] {
            match conf.spawn(spawn) {
                Err(SandboxError::Root) => {}
                other => panic!("root started a confined program: {other:?}"),
            }
        }
    } else {
        match conf.spawn(Spawn::new(PROBE).uid(0)) {
            Err(SandboxError::OtherUid { asked: 0, .. }) => {}
            other => panic!("a confined program was started as root: {other:?}"),
        }
    }
}
