//! Escape tests: each probe runs confined under both profiles (must be refused) beside an
//! unconfined control (must succeed), so no refusal can pass because the action was
//! impossible anyway.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// The controls hand descriptors to the probe with dup2 in `pre_exec`, as a leaking parent
// would, and the tests open a pty with libc.
#![allow(unsafe_code)]

use std::io::Read;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use jitos_sandbox::{status, Confinement, Profile, SandboxError, Spawn, Stdio};

const PROBE: &str = env!("CARGO_BIN_EXE_jitos-sandbox-probe");

/// Both profiles: every probe that `Shell` refuses, `Pure` must refuse too.
const PROFILES: [Profile; 2] = [Profile::Pure, Profile::Shell];

/// The descriptor number a test hands an open file to the probe on.
const HANDED_FD: i32 = 10;

/// Fails loudly when the kernel cannot confine, so no test passes vacuously.
fn require_support() {
    let s = status();
    assert!(
        s.supported,
        "Landlock ABI ≥ 4 and seccomp are required for these tests; found {s:?}"
    );
}

/// A confinement of `profile` with `rw` as its only writable directories.
fn confinement(profile: Profile, rw: &[&Path]) -> Confinement {
    let mut c = Confinement::new(profile);
    c.read_write = rw.iter().map(|p| p.to_path_buf()).collect();
    c
}

/// How a probe run ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// Exit 0: the action worked.
    Succeeded,
    /// Exit 1: the action was refused.
    Refused,
    /// Killed by this signal.
    Killed(i32),
}

/// What a probe run gets besides its arguments: a uid to run as, and a descriptor of the
/// test's to find on [`HANDED_FD`] (as a leaking parent would pass one).
#[derive(Clone, Copy)]
struct Setup {
    uid: Option<u32>,
    handed: Option<RawFd>,
}

const PLAIN: Setup = Setup {
    uid: None,
    handed: None,
};

/// Runs the probe under `conf` (or unconfined, through std's `Command`, when `None`) and
/// returns how it ended and what it printed on stdout and stderr.
fn run_probe(conf: Option<&Confinement>, setup: Setup, args: &[&str]) -> (Ended, String) {
    require_support();
    let (status, text) = match conf {
        Some(conf) => {
            let (mut reader, writer) = std::io::pipe().unwrap();
            let mut spawn = Spawn::new(PROBE).args(args).stdio(
                Stdio::Null,
                Stdio::Fd(writer.try_clone().unwrap().into()),
                Stdio::Fd(writer.into()),
            );
            if let Some(uid) = setup.uid {
                spawn = spawn.uid(uid);
            }
            if let Some(fd) = setup.handed {
                spawn = spawn.hand(owned_copy(fd), HANDED_FD);
            }
            let mut process = conf.spawn(spawn).unwrap();
            let mut text = String::new();
            reader.read_to_string(&mut text).unwrap();
            (process.wait().unwrap(), text)
        }
        None => {
            let mut cmd = Command::new(PROBE);
            cmd.args(args);
            if let Some(uid) = setup.uid {
                cmd.uid(uid).gid(uid);
            }
            if let Some(fd) = setup.handed {
                // SAFETY: dup2 is async-signal-safe; `fd` stays open until spawn ends.
                unsafe {
                    cmd.pre_exec(move || {
                        if libc::dup2(fd, HANDED_FD) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
            }
            let out = cmd
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status, text)
        }
    };
    let profile = conf.map(|c| c.profile);
    eprintln!("probe {args:?} confined={profile:?}: {status:?} {text}");
    let ended = match (status.code(), status.signal()) {
        (Some(0), _) => Ended::Succeeded,
        (Some(1), _) => Ended::Refused,
        (None, Some(signal)) => Ended::Killed(signal),
        _ => panic!("probe {args:?} ended abnormally: {status:?} {text}"),
    };
    (ended, text)
}

/// An owned duplicate of a descriptor the test keeps open, for a [`Spawn`] to hand over.
fn owned_copy(fd: RawFd) -> OwnedFd {
    // SAFETY: the test keeps `fd` open for the duration of this call.
    unsafe { BorrowedFd::borrow_raw(fd) }
        .try_clone_to_owned()
        .unwrap()
}

fn probe(conf: Option<&Confinement>, args: &[&str]) -> Ended {
    run_probe(conf, PLAIN, args).0
}

/// Asserts the action is refused under each profile's confinement (built by `conf`) and
/// succeeds unconfined, with the same `setup` for every run.
fn refused_under_both(conf: impl Fn(Profile) -> Confinement, setup: Setup, args: &[&str]) {
    for profile in PROFILES {
        let (ended, text) = run_probe(Some(&conf(profile)), setup, args);
        assert_eq!(
            ended,
            Ended::Refused,
            "confined probe {args:?} under {profile:?} must be refused: {text}"
        );
    }
    let (ended, text) = run_probe(None, setup, args);
    assert_eq!(
        ended,
        Ended::Succeeded,
        "unconfined control {args:?} must succeed: {text}"
    );
}

/// [`refused_under_both`] with no paths granted and nothing handed over.
fn refused(args: &[&str]) {
    refused_under_both(Confinement::new, PLAIN, args);
}

fn tempdirs() -> (tempfile::TempDir, tempfile::TempDir) {
    (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A secret file in a directory no confinement grants.
fn secret_in(dir: &Path) -> PathBuf {
    let secret = dir.join("secret");
    std::fs::write(&secret, b"secret").unwrap();
    secret
}

// --- Files -----------------------------------------------------------------------------

#[test]
fn write_inside_read_write_succeeds() {
    // Goal: the granted directory is usable; method: write a file there under each profile.
    for profile in PROFILES {
        let (rw, _) = tempdirs();
        let conf = confinement(profile, &[rw.path()]);
        let target = rw.path().join("ok");
        assert_eq!(probe(Some(&conf), &["write", s(&target)]), Ended::Succeeded);
        assert_eq!(std::fs::read(target).unwrap(), b"escaped");
    }
}

#[test]
fn write_outside_read_write_is_refused() {
    // Goal: no writes beyond read_write; method: write into an ungranted temp dir.
    let (rw, outside) = tempdirs();
    let target = outside.path().join("x");
    refused_under_both(
        |p| confinement(p, &[rw.path()]),
        PLAIN,
        &["write", s(&target)],
    );
}

#[test]
fn read_outside_allowed_paths_is_refused_and_read_only_grants_reading() {
    // Goal: no reads beyond granted paths; method: read a secret in an ungranted dir, then
    // grant that dir read-only and read it (the positive control of the grant itself).
    let (rw, outside) = tempdirs();
    let secret = secret_in(outside.path());
    refused_under_both(
        |p| confinement(p, &[rw.path()]),
        PLAIN,
        &["read", s(&secret)],
    );
    for profile in PROFILES {
        let mut ro = confinement(profile, &[rw.path()]);
        ro.read_only.push(outside.path().to_path_buf());
        assert_eq!(probe(Some(&ro), &["read", s(&secret)]), Ended::Succeeded);
        assert_eq!(probe(Some(&ro), &["write", s(&secret)]), Ended::Refused);
    }
}

#[test]
fn symlink_out_of_read_write_is_refused() {
    // Goal: a symlink cannot widen access; method: write through rw/link -> outside dir.
    let (rw, outside) = tempdirs();
    std::os::unix::fs::symlink(outside.path(), rw.path().join("link")).unwrap();
    let target = rw.path().join("link/x");
    refused_under_both(
        |p| confinement(p, &[rw.path()]),
        PLAIN,
        &["write", s(&target)],
    );
}

#[test]
fn dotdot_out_of_read_write_is_refused() {
    // Goal: `..` cannot climb out; method: write to rw/../<outside name>/x.
    let (rw, outside) = tempdirs();
    let name = outside.path().file_name().unwrap().to_str().unwrap();
    let target: PathBuf = rw.path().join("..").join(name).join("x");
    refused_under_both(
        |p| confinement(p, &[rw.path()]),
        PLAIN,
        &["write", s(&target)],
    );
}

#[test]
fn proc_self_root_does_not_reach_outside_files() {
    // Goal: the /proc/self/root magic link is no way around the path rules; method: read
    // the secret as /proc/self/root/<path>.
    let (rw, outside) = tempdirs();
    let secret = secret_in(outside.path());
    refused_under_both(
        |p| confinement(p, &[rw.path()]),
        PLAIN,
        &["read-proc-root", s(&secret)],
    );
}

#[test]
fn the_daemons_proc_entries_are_unreadable() {
    // Goal: a worker cannot read its supervisor's environment or memory map; method: read
    // /proc/<this test's pid>/environ and /maps (this process stands for the daemon).
    let pid = std::process::id();
    for entry in ["environ", "maps"] {
        refused(&["read", &format!("/proc/{pid}/{entry}")]);
    }
}

#[test]
fn device_node_in_read_write_is_refused() {
    // Goal: a root worker cannot reach a raw disk; method: mknod a block device in rw.
    let (rw, outside) = tempdirs();
    for profile in PROFILES {
        let conf = confinement(profile, &[rw.path()]);
        let target = rw.path().join(format!("disk-{profile:?}"));
        assert_eq!(
            probe(Some(&conf), &["mknod-block", s(&target)]),
            Ended::Refused
        );
    }
    let control = outside.path().join("disk");
    assert_eq!(probe(None, &["mknod-block", s(&control)]), Ended::Succeeded);
}

// --- Programs and processes ------------------------------------------------------------

#[test]
fn exec_under_pure_is_refused_but_shell_may() {
    // Goal: Pure runs no other program; method: execv /bin/true under Pure, then Shell.
    assert_eq!(
        probe(
            Some(&Confinement::new(Profile::Pure)),
            &["exec", "/bin/true"]
        ),
        Ended::Refused
    );
    assert_eq!(
        probe(
            Some(&Confinement::new(Profile::Shell)),
            &["exec", "/bin/true"]
        ),
        Ended::Succeeded
    );
}

#[test]
fn exec_of_a_binary_outside_allowed_paths_is_refused() {
    // Goal: even Shell executes only system binaries and its own scratch; method: copy
    // /bin/true into an ungranted dir and exec it.
    let (rw, outside) = tempdirs();
    let copy = outside.path().join("true");
    std::fs::copy("/bin/true", &copy).unwrap();
    refused_under_both(|p| confinement(p, &[rw.path()]), PLAIN, &["exec", s(&copy)]);
}

#[test]
fn fork_under_pure_is_refused_but_shell_may() {
    // Goal: Pure starts no processes; method: fork once under Pure, then Shell.
    assert_eq!(
        probe(Some(&Confinement::new(Profile::Pure)), &["fork"]),
        Ended::Refused
    );
    assert_eq!(
        probe(Some(&Confinement::new(Profile::Shell)), &["fork"]),
        Ended::Succeeded
    );
}

#[test]
fn fork_bomb_is_bounded_by_process_limit() {
    // Goal: forks stop at the process limit; method: as uid 65534 (root is exempt from
    // RLIMIT_NPROC), fork 200 children under a limit of 16 (Pure refuses the first fork),
    // then under Shell with 1000, the control.
    let nobody = Setup {
        uid: Some(65534),
        ..PLAIN
    };
    for profile in PROFILES {
        let mut tight = Confinement::new(profile);
        tight.limits.processes = 16;
        let (ended, text) = run_probe(Some(&tight), nobody, &["fork-bomb", "200"]);
        assert_eq!(ended, Ended::Refused, "{profile:?}: {text}");
    }
    let mut loose = Confinement::new(Profile::Shell);
    loose.limits.processes = 1000;
    let (ended, text) = run_probe(Some(&loose), nobody, &["fork-bomb", "200"]);
    assert_eq!(ended, Ended::Succeeded, "{text}");
}

#[test]
fn memory_bomb_is_bounded_by_address_space() {
    // Goal: allocation fails past the limit; method: reserve 2 GiB under a 512 MiB limit.
    refused_under_both(
        |p| {
            let mut conf = Confinement::new(p);
            conf.limits.address_space_bytes = 512 << 20;
            conf
        },
        PLAIN,
        &["mem-bomb"],
    );
}

#[test]
fn cpu_spin_is_killed_at_the_cpu_limit() {
    // Goal: a spinning worker is stopped by its CPU limit; method: spin for 3 s of CPU
    // under a 1 s limit (killed by SIGXCPU or SIGKILL), and unconfined (finishes).
    for profile in PROFILES {
        let mut conf = Confinement::new(profile);
        conf.limits.cpu_seconds = 1;
        let (ended, text) = run_probe(Some(&conf), PLAIN, &["cpu-spin", "3"]);
        assert!(
            matches!(ended, Ended::Killed(libc::SIGXCPU | libc::SIGKILL)),
            "{profile:?} spin ended {ended:?}: {text}"
        );
    }
    assert_eq!(probe(None, &["cpu-spin", "3"]), Ended::Succeeded);
}

#[test]
fn no_new_privs_is_set() {
    // Goal: setuid binaries cannot grant privileges; method: read PR_GET_NO_NEW_PRIVS.
    refused(&["nnp-clear"]);
}

#[test]
fn changing_uid_is_refused() {
    // Goal: a worker keeps the identity it was started with, even one started as root;
    // method: setuid(65534).
    refused(&["setuid", "65534"]);
}

// --- The daemon and other processes ----------------------------------------------------

#[test]
fn signalling_the_daemon_is_refused() {
    // Goal: a worker cannot signal its supervisor (Landlock's signal scope); method:
    // SIGCONT to the parent, which is this test process.
    refused(&["signal-parent"]);
}

#[test]
fn ptracing_the_daemon_or_another_process_is_refused() {
    // Goal: a worker cannot trace others; method: PTRACE_SEIZE the parent (this test
    // process), then a sleeping process.
    refused(&["ptrace-parent"]);
    let mut target = Command::new("/bin/sleep").arg("30").spawn().unwrap();
    let pid = target.id().to_string();
    let confined: Vec<Ended> = PROFILES
        .iter()
        .map(|p| probe(Some(&Confinement::new(*p)), &["ptrace", &pid]))
        .collect();
    let control = probe(None, &["ptrace", &pid]);
    target.kill().unwrap();
    target.wait().unwrap();
    assert_eq!(confined, vec![Ended::Refused, Ended::Refused]);
    assert_eq!(control, Ended::Succeeded);
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
    refused(&["process-vm-readv", &pid, &addr]);
}

// --- Network and sockets ---------------------------------------------------------------

#[test]
fn ip_and_raw_sockets_are_refused() {
    // Goal: no networking but local sockets; method: create AF_INET, AF_INET6, netlink
    // and packet sockets.
    for kind in [
        "inet-socket",
        "inet6-socket",
        "netlink-socket",
        "packet-socket",
    ] {
        refused(&[kind]);
    }
}

#[test]
fn tcp_connect_is_refused() {
    // Goal: no TCP to local services; method: connect to a listener this test opened.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    refused(&["tcp-connect", &port]);
}

#[test]
fn reaching_a_unix_socket_outside_is_refused() {
    // Goal: a worker cannot reach the daemon's socket or any other bound socket; method:
    // connect to a stream listener and send to a datagram socket, from an unbound
    // datagram socket and from one end of a datagram pair, both bound in an ungranted dir
    // (the daemon's socket is such a file).
    let (rw, outside) = tempdirs();
    let stream = outside.path().join("daemon.sock");
    let _stream = std::os::unix::net::UnixListener::bind(&stream).unwrap();
    let dgram = outside.path().join("log.sock");
    let _dgram = std::os::unix::net::UnixDatagram::bind(&dgram).unwrap();
    for (action, path) in [
        ("unix-connect", &stream),
        ("unix-dgram-send", &dgram),
        ("unix-dgram-pair-send", &dgram),
    ] {
        refused_under_both(|p| confinement(p, &[rw.path()]), PLAIN, &[action, s(path)]);
    }
}

#[test]
fn socket_pairs_still_work() {
    // Goal: the socket rules leave a worker its own local channels (the protocol's fd 3
    // is one); method: create a unix socket pair under each profile.
    for profile in PROFILES {
        assert_eq!(
            probe(Some(&Confinement::new(profile)), &["socketpair"]),
            Ended::Succeeded
        );
    }
}

// --- Kernel interfaces -----------------------------------------------------------------

#[test]
fn mount_pivot_root_and_chroot_are_refused() {
    // Goal: no view of the file system can be rebuilt; method: mount a tmpfs, pivot_root
    // and chroot into a temp dir (the controls undo or confine only themselves).
    let (rw, _) = tempdirs();
    for action in ["mount", "chroot"] {
        refused_under_both(
            |p| confinement(p, &[rw.path()]),
            PLAIN,
            &[action, s(rw.path())],
        );
    }
    // pivot_root needs a mount point as new root, so even the control fails with EINVAL
    // on a plain dir; the confined call must fail earlier, with EPERM from seccomp.
    for profile in PROFILES {
        let conf = confinement(profile, &[rw.path()]);
        let (ended, text) = run_probe(Some(&conf), PLAIN, &["pivot-root", s(rw.path())]);
        assert!(
            ended == Ended::Refused && text.contains("os error 1)"),
            "{text}"
        );
    }
    let (_, text) = run_probe(None, PLAIN, &["pivot-root", s(rw.path())]);
    assert!(!text.contains("os error 1)"), "control: {text}");
}

#[test]
fn unshare_and_setns_are_refused() {
    // Goal: no new or other namespaces; method: unshare(CLONE_NEWUSER), and setns into
    // this process's own UTS namespace through a descriptor handed to the probe.
    refused(&["unshare-user"]);
    let ns = std::fs::File::open("/proc/self/ns/uts").unwrap();
    refused_under_both(
        Confinement::new,
        Setup {
            handed: Some(ns.as_raw_fd()),
            ..PLAIN
        },
        &["setns", &HANDED_FD.to_string()],
    );
}

#[test]
fn io_uring_is_refused() {
    // Goal: io_uring (which bypasses seccomp per-op) is off; method: io_uring_setup.
    refused(&["io-uring"]);
}

#[test]
fn bpf_perf_and_keyctl_are_refused() {
    // Goal: no BPF maps, perf events or kernel keyrings; method: one call of each.
    for action in ["bpf", "perf", "keyctl"] {
        refused(&[action]);
    }
}

#[test]
fn x32_syscalls_are_refused() {
    // Goal: x32 numbers cannot slip past the native deny list; method: call getpid by its
    // x32 number and expect the guard's EPERM (an unguarded kernel answers success, or
    // ENOSYS when built without x32).
    for profile in PROFILES {
        let conf = Confinement::new(profile);
        let (ended, text) = run_probe(Some(&conf), PLAIN, &["x32-getpid"]);
        assert!(
            ended == Ended::Refused && text.contains("os error 1)"),
            "expected EPERM under {profile:?}, got {text}"
        );
    }
    let (ended, text) = run_probe(None, PLAIN, &["x32-getpid"]);
    assert!(
        ended == Ended::Succeeded || !text.contains("os error 1)"),
        "control must not see EPERM: {text}"
    );
}

#[test]
fn tiocsti_is_refused() {
    // Goal: a worker cannot push keystrokes into a terminal; method: TIOCSTI on a pty the
    // test opens and hands over (root may do it to any tty, so the control succeeds).
    // SAFETY: posix_openpt, grantpt, unlockpt and ptsname_r are called on the new master.
    let slave = unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(
            master >= 0,
            "posix_openpt: {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut name = [0 as libc::c_char; 64];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let name = std::ffi::CStr::from_ptr(name.as_ptr()).to_str().unwrap();
        (
            master,
            std::fs::File::options()
                .read(true)
                .write(true)
                .open(name)
                .unwrap(),
        )
    };
    refused_under_both(
        Confinement::new,
        Setup {
            handed: Some(slave.1.as_raw_fd()),
            ..PLAIN
        },
        &["tiocsti", &HANDED_FD.to_string()],
    );
    // SAFETY: the master descriptor was opened above and is not used again.
    unsafe { libc::close(slave.0) };
}

#[test]
fn leaked_descriptors_do_not_reach_the_worker() {
    // Goal: only stdio (and the channel, handed over after confinement) cross into a
    // worker; method: leave a descriptor without close-on-exec in this process, as a
    // careless library would, and look for it from the probe.
    let file = std::fs::File::open("/dev/null").unwrap();
    // SAFETY: dup returns a new descriptor without close-on-exec, closed below.
    let leaked = unsafe { libc::dup(file.as_raw_fd()) };
    assert!(leaked >= 3);
    refused(&["leaked-fds"]);
    // SAFETY: the descriptor was created above and is not used again.
    unsafe { libc::close(leaked) };
}

// --- The API ---------------------------------------------------------------------------

#[test]
fn relative_program_is_rejected() {
    // Goal: the program path is unambiguous; method: ask for a relative program.
    let err = Confinement::new(Profile::Pure)
        .spawn(Spawn::new("probe").args(["x"]))
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
