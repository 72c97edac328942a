//! Escape tests: each probe runs confined (must be refused) beside a control (must succeed).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use jitos_sandbox::{status, Confinement, Profile, SandboxError};

const PROBE: &str = env!("CARGO_BIN_EXE_jitos-sandbox-probe");

/// Fails loudly when the kernel cannot confine, so no test passes vacuously.
fn require_support() {
    let s = status();
    assert!(
        s.supported,
        "Landlock ABI ≥ 4 and seccomp are required for these tests; found {s:?}"
    );
}

/// A confinement of `profile` with `rw` as its only writable directory.
fn confinement(profile: Profile, rw: &[&Path]) -> Confinement {
    let mut c = Confinement::new(profile);
    c.read_write = rw.iter().map(|p| p.to_path_buf()).collect();
    c
}

/// Runs the probe under `conf` (or unconfined when `None`) and says whether the action succeeded.
fn probe_with(conf: Option<&Confinement>, tweak: impl FnOnce(&mut Command), args: &[&str]) -> bool {
    probe_output(conf, tweak, args).0
}

/// Like [`probe_with`], also returning what the probe printed.
fn probe_output(
    conf: Option<&Confinement>,
    tweak: impl FnOnce(&mut Command),
    args: &[&str],
) -> (bool, String) {
    require_support();
    let mut cmd = match conf {
        Some(c) => c.command(Path::new(PROBE), args).unwrap(),
        None => {
            let mut cmd = Command::new(PROBE);
            cmd.args(args);
            cmd
        }
    };
    tweak(&mut cmd);
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "probe {args:?} confined={}: {:?} {text}",
        conf.is_some(),
        out.status
    );
    match out.status.code() {
        Some(0) => (true, text),
        Some(1) => (false, text),
        _ => panic!("probe {args:?} ended abnormally: {:?} {text}", out.status),
    }
}

fn probe(conf: Option<&Confinement>, args: &[&str]) -> bool {
    probe_with(conf, |_| {}, args)
}

/// Asserts the action is refused under `conf` and succeeds unconfined.
fn refused_but_control_succeeds(conf: &Confinement, args: &[&str]) {
    assert!(
        !probe(Some(conf), args),
        "confined probe {args:?} should be refused"
    );
    assert!(
        probe(None, args),
        "unconfined control {args:?} should succeed"
    );
}

fn tempdirs() -> (tempfile::TempDir, tempfile::TempDir) {
    (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn write_inside_read_write_succeeds() {
    // Goal: the granted directory is usable; method: write a file there while confined.
    let (rw, _) = tempdirs();
    let conf = confinement(Profile::Pure, &[rw.path()]);
    assert!(probe(Some(&conf), &["write", s(&rw.path().join("ok"))]));
    assert_eq!(std::fs::read(rw.path().join("ok")).unwrap(), b"escaped");
}

#[test]
fn write_outside_read_write_is_refused() {
    // Goal: no writes beyond read_write; method: write into an ungranted temp dir.
    let (rw, outside) = tempdirs();
    let conf = confinement(Profile::Pure, &[rw.path()]);
    refused_but_control_succeeds(&conf, &["write", s(&outside.path().join("x"))]);
}

#[test]
fn read_outside_allowed_paths_is_refused() {
    // Goal: no reads beyond granted paths; method: read a file in an ungranted temp dir.
    let (rw, outside) = tempdirs();
    let secret = outside.path().join("secret");
    std::fs::write(&secret, b"secret").unwrap();
    let conf = confinement(Profile::Pure, &[rw.path()]);
    refused_but_control_succeeds(&conf, &["read", s(&secret)]);
    let mut ro = conf.clone();
    ro.read_only.push(outside.path().to_path_buf());
    assert!(
        probe(Some(&ro), &["read", s(&secret)]),
        "read_only grant must allow reading"
    );
}

#[test]
fn symlink_out_of_read_write_is_refused() {
    // Goal: a symlink cannot widen access; method: write through rw/link -> outside dir.
    let (rw, outside) = tempdirs();
    std::os::unix::fs::symlink(outside.path(), rw.path().join("link")).unwrap();
    let conf = confinement(Profile::Pure, &[rw.path()]);
    refused_but_control_succeeds(&conf, &["write", s(&rw.path().join("link/x"))]);
}

#[test]
fn dotdot_out_of_read_write_is_refused() {
    // Goal: `..` cannot climb out; method: write to rw/../<outside name>/x.
    let (rw, outside) = tempdirs();
    let name = outside.path().file_name().unwrap().to_str().unwrap();
    let target: PathBuf = rw.path().join("..").join(name).join("x");
    let conf = confinement(Profile::Pure, &[rw.path()]);
    refused_but_control_succeeds(&conf, &["write", s(&target)]);
}

#[test]
fn device_node_in_read_write_is_refused() {
    // Goal: a root worker cannot reach a raw disk; method: mknod a block device in rw.
    let (rw, outside) = tempdirs();
    let conf = confinement(Profile::Shell, &[rw.path()]);
    assert!(!probe(
        Some(&conf),
        &["mknod-block", s(&rw.path().join("disk"))]
    ));
    assert!(probe(
        None,
        &["mknod-block", s(&outside.path().join("disk"))]
    ));
}

#[test]
fn inet_socket_is_refused() {
    // Goal: no IP networking; method: create an AF_INET UDP socket.
    refused_but_control_succeeds(&Confinement::new(Profile::Shell), &["inet-socket"]);
}

#[test]
fn tcp_connect_is_refused() {
    // Goal: no TCP to local services; method: connect to a listener this test opened.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    refused_but_control_succeeds(&Confinement::new(Profile::Shell), &["tcp-connect", &port]);
}

#[test]
fn ptrace_attach_is_refused() {
    // Goal: a worker cannot trace others; method: PTRACE_ATTACH to a sleeping process.
    let mut target = Command::new("/bin/sleep").arg("30").spawn().unwrap();
    let pid = target.id().to_string();
    let conf = Confinement::new(Profile::Shell);
    let confined = probe(Some(&conf), &["ptrace", &pid]);
    let control = probe(None, &["ptrace", &pid]);
    target.kill().unwrap();
    target.wait().unwrap();
    assert!(!confined, "confined ptrace should be refused");
    assert!(control, "unconfined ptrace (as root) should succeed");
}

#[test]
fn mount_is_refused() {
    // Goal: no mounts; method: mount a tmpfs on a temp dir (the control unmounts it).
    let (rw, _) = tempdirs();
    let conf = confinement(Profile::Shell, &[rw.path()]);
    refused_but_control_succeeds(&conf, &["mount", s(rw.path())]);
}

#[test]
fn unshare_user_namespace_is_refused() {
    // Goal: no new namespaces; method: unshare(CLONE_NEWUSER).
    refused_but_control_succeeds(&Confinement::new(Profile::Shell), &["unshare-user"]);
}

#[test]
fn io_uring_is_refused() {
    // Goal: io_uring (which bypasses seccomp per-op) is off; method: io_uring_setup.
    refused_but_control_succeeds(&Confinement::new(Profile::Shell), &["io-uring"]);
}

#[test]
fn bpf_is_refused() {
    // Goal: no BPF; method: create a one-entry array map.
    refused_but_control_succeeds(&Confinement::new(Profile::Shell), &["bpf"]);
}

#[test]
fn keyctl_is_refused() {
    // Goal: no kernel keyring access; method: look up the session keyring.
    refused_but_control_succeeds(&Confinement::new(Profile::Shell), &["keyctl"]);
}

#[test]
fn exec_under_pure_is_refused_but_shell_may() {
    // Goal: Pure runs no other program; method: execv /bin/true under Pure, then Shell.
    assert!(!probe(
        Some(&Confinement::new(Profile::Pure)),
        &["exec", "/bin/true"]
    ));
    assert!(probe(
        Some(&Confinement::new(Profile::Shell)),
        &["exec", "/bin/true"]
    ));
}

#[test]
fn fork_under_pure_is_refused_but_shell_may() {
    // Goal: Pure starts no processes; method: fork once under Pure, then Shell.
    assert!(!probe(Some(&Confinement::new(Profile::Pure)), &["fork"]));
    assert!(probe(Some(&Confinement::new(Profile::Shell)), &["fork"]));
}

#[test]
fn fork_bomb_is_bounded_by_process_limit() {
    // Goal: Shell forks stop at the process limit; method: as uid 65534 (root is exempt
    // from RLIMIT_NPROC), fork 200 children under a limit of 16, then under 1000.
    let nobody = |c: &mut Command| {
        c.uid(65534).gid(65534);
    };
    let mut tight = Confinement::new(Profile::Shell);
    tight.limits.processes = 16;
    assert!(!probe_with(Some(&tight), nobody, &["fork-bomb", "200"]));
    let mut loose = tight.clone();
    loose.limits.processes = 1000;
    assert!(probe_with(Some(&loose), nobody, &["fork-bomb", "200"]));
}

#[test]
fn memory_bomb_is_bounded_by_address_space() {
    // Goal: allocation fails past the limit; method: reserve 2 GiB under a 512 MiB limit.
    let mut conf = Confinement::new(Profile::Pure);
    conf.limits.address_space_bytes = 512 << 20;
    refused_but_control_succeeds(&conf, &["mem-bomb"]);
}

#[test]
fn no_new_privs_is_set() {
    // Goal: setuid binaries cannot grant privileges; method: read PR_GET_NO_NEW_PRIVS.
    refused_but_control_succeeds(&Confinement::new(Profile::Pure), &["nnp-clear"]);
}

#[test]
fn relative_program_is_rejected() {
    // Goal: the program path is unambiguous; method: ask for a relative program.
    let err = Confinement::new(Profile::Pure)
        .command(Path::new("probe"), ["x"])
        .unwrap_err();
    assert!(matches!(err, SandboxError::RelativeProgram(_)), "{err}");
}

#[test]
fn status_reports_landlock_and_seccomp() {
    // Goal: `jitos doctor` can rely on status(); method: this machine has both features.
    let s = status();
    assert!(
        s.landlock_abi >= 4,
        "Landlock ABI ≥ 4 required, found {s:?}"
    );
    assert!(s.seccomp && s.supported, "seccomp required, found {s:?}");
}

#[test]
fn x32_syscalls_are_refused() {
    // Goal: x32 numbers cannot slip past the native deny list; method: call getpid by its
    // x32 number and expect the guard's EPERM (an unguarded kernel answers success, or
    // ENOSYS when built without x32).
    let (ok, text) = probe_output(
        Some(&Confinement::new(Profile::Pure)),
        |_| {},
        &["x32-getpid"],
    );
    assert!(
        !ok && text.contains("os error 1)"),
        "expected EPERM, got {text}"
    );
    let (ok, text) = probe_output(None, |_| {}, &["x32-getpid"]);
    assert!(
        ok || !text.contains("os error 1)"),
        "control must not see EPERM: {text}"
    );
}
