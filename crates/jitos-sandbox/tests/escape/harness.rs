//! How an escape is tried: the probe runs confined, under each profile, beside an
//! unconfined control of the same action that must succeed, so no refusal passes because
//! the action was impossible anyway.
//!
//! A confined program never runs as root. When this suite runs as root, each test lends
//! an unprivileged uid from the host's pool (the runner), makes its files that uid's, and
//! runs both the confined probe and its control as that uid. The suite also runs whole as
//! an unprivileged caller (`an_unprivileged_caller_is_confined_alike`), where the runner
//! is the caller itself.

use std::io::Read;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use jitos_sandbox::{status, Confinement, LentUid, NetNamespace, Profile, Spawn, Stdio, UidPool};

pub const PROBE: &str = env!("CARGO_BIN_EXE_jitos-sandbox-probe");

/// Both profiles: every probe that `Shell` refuses, `Pure` must refuse too.
pub const PROFILES: [Profile; 2] = [Profile::Pure, Profile::Shell];

/// The descriptor number a test hands an open file to the probe on.
pub const HANDED_FD: i32 = 10;

/// How a probe run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// Exit 0: the action worked.
    Succeeded,
    /// Exit 1: the action was refused.
    Refused,
    /// Killed by this signal.
    Killed(i32),
}

/// Who runs an action's unconfined control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// The runner, as the confined probe: the usual case.
    Runner,
    /// This test process's own uid: for actions on this process, which stands for the
    /// daemon (under a root daemon, the uid boundary refuses them first; the confined
    /// runs show the sandbox refuses them too when it is the only boundary).
    Caller,
    /// Only a caller with privileges can do it at all (mount, mknod, setns, a packet
    /// socket): the control runs as the caller, and only when it is root.
    Privileged,
}

/// Whose uid runs the probes of one test.
pub struct Runner {
    /// The uid lent when this process is root; `None` runs as this process's own uid.
    lent: Option<LentUid>,
}

/// Whether this process is root.
pub fn is_root() -> bool {
    // SAFETY: geteuid takes no arguments.
    unsafe { libc::geteuid() == 0 }
}

impl Runner {
    /// A runner: a lent uid when root, this process's own otherwise. Fails loudly when
    /// the kernel cannot confine or the probe cannot be executed by the runner.
    pub fn new() -> Runner {
        let s = status();
        assert!(
            s.supported,
            "Landlock ABI ≥ 4, seccomp and mount namespaces are required for these tests; found {s:?}"
        );
        let lent = is_root().then(|| {
            UidPool::host()
                .unwrap()
                .lend()
                .expect("every lendable uid is held")
        });
        let runner = Runner { lent };
        runner.check_reachable(Path::new(PROBE));
        runner
    }

    /// The uid confined probes and controls run as, when not this process's own.
    pub fn uid(&self) -> Option<u32> {
        self.lent.as_ref().map(LentUid::uid)
    }

    /// The uid probes run as.
    pub fn effective_uid(&self) -> u32 {
        // SAFETY: geteuid takes no arguments.
        self.uid().unwrap_or_else(|| unsafe { libc::geteuid() })
    }

    fn check_reachable(&self, program: &Path) {
        let Some(uid) = self.uid() else { return };
        for dir in program.ancestors().skip(1) {
            let mode = std::os::unix::fs::MetadataExt::mode(&std::fs::metadata(dir).unwrap());
            assert!(
                mode & 0o001 != 0,
                "uid {uid} cannot reach the probe {program:?}: {dir:?} has mode {mode:o}; \
                 build into a target directory every user may enter (the default \
                 CARGO_TARGET_DIR, /var/tmp/jitos-target, is one)"
            );
        }
    }

    /// A temporary directory the runner owns.
    pub fn tempdir(&self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        self.give(dir.path());
        dir
    }

    /// Makes `path` the runner's.
    pub fn give(&self, path: &Path) {
        if let Some(uid) = self.uid() {
            std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
        }
    }

    /// A file of the runner's holding `secret`, in `dir`.
    pub fn secret_in(&self, dir: &Path) -> PathBuf {
        let secret = dir.join("secret");
        std::fs::write(&secret, b"secret").unwrap();
        self.give(&secret);
        secret
    }

    /// Runs the probe confined as the runner, with `handed` on [`HANDED_FD`].
    pub fn confined(
        &self,
        conf: &Confinement,
        handed: Option<RawFd>,
        args: &[&str],
    ) -> (Ended, String) {
        self.confined_in(conf, handed, None, &[], args)
    }

    /// Runs the probe confined as the runner, with `handed` on [`HANDED_FD`], in `net`
    /// (a network namespace of its own) and with `env` added to its environment.
    pub fn confined_in(
        &self,
        conf: &Confinement,
        handed: Option<RawFd>,
        net: Option<&NetNamespace>,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> (Ended, String) {
        let (mut reader, writer) = std::io::pipe().unwrap();
        let mut spawn = Spawn::new(PROBE).args(args).stdio(
            Stdio::Null,
            Stdio::Fd(writer.try_clone().unwrap().into()),
            Stdio::Fd(writer.into()),
        );
        if let Some(uid) = self.uid() {
            spawn = spawn.uid(uid);
        }
        if let Some(fd) = handed {
            spawn = spawn.hand(owned_copy(fd), HANDED_FD);
        }
        if let Some(net) = net {
            spawn = spawn.net_namespace(net.try_clone().unwrap());
        }
        for (name, value) in env {
            spawn = spawn.env(name, value);
        }
        let mut process = conf.spawn(spawn).unwrap();
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        let status = process.wait().unwrap();
        let how = match net {
            Some(net) => format!(
                "confined {:?}, proxy port {}",
                conf.profile,
                net.proxy_port()
            ),
            None => format!("confined {:?}", conf.profile),
        };
        ended(args, &how, status, text)
    }

    /// Runs the probe unconfined, as `who` says, with `handed` on [`HANDED_FD`].
    pub fn unconfined(
        &self,
        who: Control,
        handed: Option<RawFd>,
        args: &[&str],
    ) -> (Ended, String) {
        let mut cmd = Command::new(PROBE);
        cmd.args(args);
        if let (Control::Runner, Some(uid)) = (who, self.uid()) {
            cmd.uid(uid).gid(uid);
        }
        if let Some(fd) = handed {
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
        ended(args, &format!("unconfined {who:?}"), out.status, text)
    }

    /// Asserts the action is refused under each profile's confinement (built by `conf`)
    /// and that its control, run as `who` says, succeeds.
    pub fn refused_beside(
        &self,
        conf: impl Fn(Profile) -> Confinement,
        who: Control,
        handed: Option<RawFd>,
        args: &[&str],
    ) {
        for profile in PROFILES {
            let (ended, text) = self.confined(&conf(profile), handed, args);
            assert_eq!(
                ended,
                Ended::Refused,
                "confined probe {args:?} under {profile:?} must be refused: {text}"
            );
        }
        if who == Control::Privileged && !is_root() {
            return;
        }
        let (ended, text) = self.unconfined(who, handed, args);
        assert_eq!(
            ended,
            Ended::Succeeded,
            "unconfined control {args:?} must succeed: {text}"
        );
    }

    /// [`Runner::refused_beside`] with `rw` the only writable path, nothing handed over
    /// and the runner's control.
    pub fn refused_writing_only(&self, rw: &Path, args: &[&str]) {
        self.refused_beside(|p| confinement(p, &[rw]), Control::Runner, None, args);
    }

    /// [`Runner::refused_beside`] with no paths granted, nothing handed over and the
    /// runner's control.
    pub fn refused(&self, args: &[&str]) {
        self.refused_beside(Confinement::new, Control::Runner, None, args);
    }

    /// How the probe ends under `conf`, nothing handed over.
    pub fn probe(&self, conf: &Confinement, args: &[&str]) -> Ended {
        self.confined(conf, None, args).0
    }
}

/// A confinement of `profile` with `rw` as its only writable paths.
pub fn confinement(profile: Profile, rw: &[&Path]) -> Confinement {
    let mut c = Confinement::new(profile);
    c.read_write = rw.iter().map(|p| p.to_path_buf()).collect();
    c
}

fn ended(
    args: &[&str],
    how: &str,
    status: std::process::ExitStatus,
    text: String,
) -> (Ended, String) {
    eprintln!("probe {args:?} {how}: {status:?} {text}");
    let ended = match (status.code(), status.signal()) {
        (Some(0), _) => Ended::Succeeded,
        (Some(1), _) => Ended::Refused,
        (None, Some(signal)) => Ended::Killed(signal),
        _ => panic!("probe {args:?} ended abnormally: {status:?} {text}"),
    };
    (ended, text)
}

/// An owned duplicate of a descriptor the test keeps open, for a [`Spawn`] to hand over.
pub fn owned_copy(fd: RawFd) -> OwnedFd {
    // SAFETY: the test keeps `fd` open for the duration of this call.
    unsafe { BorrowedFd::borrow_raw(fd) }
        .try_clone_to_owned()
        .unwrap()
}

/// A path as the probe's argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
