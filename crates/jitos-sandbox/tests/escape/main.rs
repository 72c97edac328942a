//! Escape tests: each probe runs confined under both profiles (must be refused) beside an
//! unconfined control (must succeed), so no refusal can pass because the action was
//! impossible anyway. `harness.rs` says how; the other modules group the escapes.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// The controls hand descriptors to the probe with dup2 in `pre_exec`, as a leaking parent
// would, and the tests open a pty and read capability sets with libc.
#![allow(unsafe_code)]

mod files;
mod harness;
mod kernel;
mod metadata;
mod network;
mod privileges;
mod processes;
mod sockets;

use std::process::Command;

use jitos_sandbox::{status, Confinement, Profile, SandboxError, Spawn, UidPool};

use harness::is_root;

/// Set in the run of the whole suite as an unprivileged caller.
pub const UNPRIVILEGED_RUN: &str = "JITOS_ESCAPE_UNPRIVILEGED_RUN";

#[test]
fn an_unprivileged_caller_is_confined_alike() {
    // Goal: every escape is refused when the sandbox is started by an ordinary user too
    // (the daemon not root: a user namespace of its own makes the read-only view, and its
    // programs keep the user's uid); method: run this whole suite again under a real
    // second uid, lent from the host's pool, with setpriv.
    if !is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root: this test must run there"
        );
        eprintln!("skipped: only root can start the suite under a second uid");
        return;
    }
    let lent = UidPool::host().unwrap().lend().unwrap();
    let uid = lent.uid().to_string();
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid", &uid, "--regid", &uid, "--clear-groups", "--"])
        .arg(&exe)
        .args(["--skip", "an_unprivileged_caller_is_confined_alike"])
        .env(UNPRIVILEGED_RUN, "1")
        .output()
        .expect("setpriv (util-linux) runs the suite as another uid");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the suite as uid {uid} failed:\n{text}"
    );
    assert!(text.contains("test result: ok"), "{text}");
}

#[test]
fn relative_program_is_rejected() {
    // Goal: the program path is unambiguous; method: ask for a relative program.
    let err = Confinement::new(Profile::Pure)
        .spawn(Spawn::new("probe").args(["x"]))
        .unwrap_err();
    assert!(matches!(err, SandboxError::RelativeProgram(_)), "{err}");
}

#[test]
fn status_reports_every_feature_confinement_needs() {
    // Goal: `jitos doctor` can rely on status(); method: this machine has all of them.
    let s = status();
    assert!(
        s.landlock_abi >= 4,
        "Landlock ABI ≥ 4 required, found {s:?}"
    );
    assert!(s.seccomp, "seccomp required, found {s:?}");
    assert!(s.mount_namespace, "mount namespaces required, found {s:?}");
    assert!(s.supported, "{s:?}");
}
