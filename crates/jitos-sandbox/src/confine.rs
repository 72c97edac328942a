//! The public confinement description and the sequence the child applies between `clone`
//! and `execve`.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::mount_view::{MountView, WritablePath};
use crate::privileges::{Identity, Privileges};
use crate::spawn::{self, Process, Spawn};
use crate::sys::check;
use crate::{landlock_rules, mount_view, seccomp, SandboxError};

/// What kind of program a worker is allowed to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Computes only: no new processes (threads only). Execute is granted only on the
    /// program file itself and its ELF interpreter; the interpreter can load any file the
    /// program may read, so it can replace itself with another program, which stays the
    /// same process under the same confinement.
    Pure,
    /// May fork (within [`Limits::processes`]) and exec the read-only system binaries
    /// under `/usr`, `/bin`, `/lib` and `/lib64`, plus anything under `read_write`.
    Shell,
}

/// Resource limits applied with `setrlimit` in the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// CPU time before SIGXCPU/SIGKILL (`RLIMIT_CPU`).
    pub cpu_seconds: u64,
    /// Virtual address space (`RLIMIT_AS`).
    pub address_space_bytes: u64,
    /// Open file descriptors (`RLIMIT_NOFILE`).
    pub open_files: u64,
    /// Processes of the worker's uid (`RLIMIT_NPROC`; the kernel exempts uid 0).
    pub processes: u64,
    /// Largest file the worker may write (`RLIMIT_FSIZE`).
    pub file_size_bytes: u64,
}

impl Limits {
    /// Default CPU time: five minutes.
    pub const CPU_SECONDS_DEFAULT: u64 = 300;
    /// Default address space: 4 GiB.
    pub const ADDRESS_SPACE_BYTES_DEFAULT: u64 = 4 << 30;
    /// Default open files.
    pub const OPEN_FILES_DEFAULT: u64 = 256;
    /// Default process count.
    pub const PROCESSES_DEFAULT: u64 = 64;
    /// Default file size: 1 GiB.
    pub const FILE_SIZE_BYTES_DEFAULT: u64 = 1 << 30;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            cpu_seconds: Self::CPU_SECONDS_DEFAULT,
            address_space_bytes: Self::ADDRESS_SPACE_BYTES_DEFAULT,
            open_files: Self::OPEN_FILES_DEFAULT,
            processes: Self::PROCESSES_DEFAULT,
            file_size_bytes: Self::FILE_SIZE_BYTES_DEFAULT,
        }
    }
}

/// Everything a confined worker may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confinement {
    /// Whether the worker may start processes and exec programs.
    pub profile: Profile,
    /// Paths the worker may read (beyond the system directories).
    pub read_only: Vec<PathBuf>,
    /// Paths the worker may read, write, create and remove under.
    pub read_write: Vec<PathBuf>,
    /// Resource limits.
    pub limits: Limits,
}

/// The confinement features of the running kernel, for `jitos doctor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxStatus {
    /// The Landlock ABI version, 0 when Landlock is unavailable.
    pub landlock_abi: i64,
    /// Whether seccomp filters can be installed.
    pub seccomp: bool,
    /// Whether the caller can give a program a private, read-only view of the file
    /// system (a mount namespace, in a user namespace of its own unless root).
    pub mount_namespace: bool,
    /// Whether [`Confinement::spawn`] can work here for this caller (Landlock ABI ≥ 4
    /// for root, ≥ 6 for anyone else; seccomp; the private view).
    pub supported: bool,
}

/// Reports which confinement features the running kernel offers to this caller (it
/// starts a short-lived child to try the mount namespace).
pub fn status() -> SandboxStatus {
    let landlock_abi = landlock_rules::abi_version();
    let seccomp = seccomp_available();
    let mount_namespace = mount_view::available();
    SandboxStatus {
        landlock_abi,
        seccomp,
        mount_namespace,
        supported: landlock_abi >= landlock_rules::abi_required() && seccomp && mount_namespace,
    }
}

/// Whether seccomp filter mode exists, asked without installing anything.
fn seccomp_available() -> bool {
    // SAFETY: PR_GET_SECCOMP only reads the calling thread's seccomp mode.
    let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    // With filter support compiled in, SECCOMP_GET_ACTION_AVAIL answers for a known action.
    let allow = libc::SECCOMP_RET_ALLOW;
    // SAFETY: the pointer refers to a live u32 for the duration of the call.
    let avail = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &allow as *const u32,
        )
    };
    mode >= 0 && avail == 0
}

impl Confinement {
    /// A confinement with no extra paths and default limits.
    pub fn new(profile: Profile) -> Self {
        Self {
            profile,
            read_only: Vec::new(),
            read_write: Vec::new(),
            limits: Limits::default(),
        }
    }

    /// Starts `spawn` under this confinement.
    ///
    /// The program must be an absolute path. Its environment is `PATH=/usr/bin:/bin` only.
    /// It never runs as root: a root caller must give it an unprivileged uid
    /// ([`Spawn::uid`]); anyone else runs it as themself. The child takes the spawn's
    /// streams, makes its private view of the file system, drops every capability and
    /// takes its uid, changes to its directory, applies the confinement, then places the
    /// handed descriptors and executes the program.
    pub fn spawn(&self, spawn: Spawn) -> Result<Process, SandboxError> {
        if !seccomp_available() {
            return Err(SandboxError::Unsupported {
                feature: "seccomp filters",
                detail: "SECCOMP_GET_ACTION_AVAIL failed".to_owned(),
            });
        }
        let program = absolute(spawn.program())?;
        let identity = Identity::decide(spawn.uid_asked())?;
        let writable = WritablePath::open_all(&self.read_write)?;
        let proxy_port = spawn.proxy_port();
        let ruleset = landlock_rules::build(
            self.profile,
            &program,
            &self.read_only,
            &writable,
            proxy_port,
        )?;
        let net = match proxy_port {
            Some(_) => seccomp::Net::Namespaced,
            None => seccomp::Net::None,
        };
        let view = MountView::new(identity, &writable)?;
        let prepared = Prepared {
            privileges: Privileges::new(identity, view.own_user_namespace()),
            view: Some(view),
            ruleset: Some(ruleset),
            filters: seccomp::filters(self.profile, net)?,
            limits: self.limits,
        };
        spawn::launch(spawn, &prepared)
    }

    /// Degraded mode, for kernels without Landlock, seccomp or mount namespaces when the
    /// operator allows it: [`Confinement::spawn`] without the private view of the file
    /// system, the Landlock ruleset and the seccomp filter (still a clean environment, new
    /// session, parent-death signal, rlimits, no_new_privs, never root, no capabilities),
    /// so the program can reach anything its uid can (but for the network, when it joins a
    /// namespace of its own: [`Spawn::net_namespace`]).
    pub fn spawn_degraded(&self, spawn: Spawn) -> Result<Process, SandboxError> {
        absolute(spawn.program())?;
        let identity = Identity::decide(spawn.uid_asked())?;
        let prepared = Prepared {
            privileges: Privileges::new(identity, false),
            view: None,
            ruleset: None,
            filters: &[],
            limits: self.limits,
        };
        spawn::launch(spawn, &prepared)
    }
}

fn absolute(program: &Path) -> Result<PathBuf, SandboxError> {
    if program.is_absolute() {
        Ok(program.to_owned())
    } else {
        Err(SandboxError::RelativeProgram(program.to_owned()))
    }
}

/// What the child applies, prepared in the parent.
pub(crate) struct Prepared {
    /// The capabilities it gives up and the identity it takes.
    pub(crate) privileges: Privileges,
    /// Its private view of the file system (none in degraded mode).
    pub(crate) view: Option<MountView>,
    /// The Landlock ruleset (none in degraded mode); close-on-exec.
    ruleset: Option<OwnedFd>,
    /// The seccomp programs, installed in order.
    filters: &'static [seccompiler::BpfProgram],
    /// The resource limits.
    limits: Limits,
}

impl Prepared {
    /// Applies the confinement to the calling child (between `clone` and `execve`) of
    /// `parent`, making raw system calls only; the error is the errno of the step that
    /// failed.
    pub(crate) fn apply(&self, parent: libc::pid_t) -> Result<(), i32> {
        // Only stdio and the handed descriptors (placed after this step) may cross exec:
        // every descriptor the parent leaked without close-on-exec is closed at exec.
        cloexec_from(3)?;
        // A new session detaches the worker from the daemon's terminal and signals.
        // SAFETY: setsid takes no arguments.
        check(unsafe { libc::setsid() } as libc::c_long)?;
        // The worker must not outlive the daemon that supervises it. The uid change
        // cleared the signal set at the child's start, so it is set again, and a parent
        // that died meanwhile is noticed.
        // SAFETY: PR_SET_PDEATHSIG takes a signal number.
        check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) }.into())?;
        // SAFETY: getppid takes no arguments.
        if unsafe { libc::getppid() } != parent {
            return Err(libc::ESRCH);
        }
        let l = &self.limits;
        for (resource, value) in [
            (libc::RLIMIT_CPU, l.cpu_seconds),
            (libc::RLIMIT_AS, l.address_space_bytes),
            (libc::RLIMIT_NOFILE, l.open_files),
            (libc::RLIMIT_NPROC, l.processes),
            (libc::RLIMIT_FSIZE, l.file_size_bytes),
            (libc::RLIMIT_CORE, 0),
        ] {
            let limit = libc::rlimit {
                rlim_cur: value,
                rlim_max: value,
            };
            // SAFETY: the pointer refers to a live rlimit on this stack frame.
            check(unsafe { libc::setrlimit(resource, &limit) }.into())?;
        }
        // Required by both Landlock and seccomp for an unprivileged caller, and it stops
        // setuid binaries from granting privileges to the worker.
        // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
        check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }.into())?;
        if let Some(ruleset) = &self.ruleset {
            // SAFETY: the fd is a Landlock ruleset owned by `self`, alive for this call.
            check(unsafe {
                libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0u32)
            })?;
        }
        for program in self.filters {
            let prog = libc::sock_fprog {
                len: u16::try_from(program.len()).map_err(|_| libc::E2BIG)?,
                // seccompiler's sock_filter is repr(C) and laid out as the kernel's.
                filter: program.as_ptr() as *mut libc::sock_filter,
            };
            // SAFETY: `prog` points at a live BPF program; the kernel copies it.
            check(unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    0u32,
                    &prog as *const libc::sock_fprog,
                )
            })?;
        }
        Ok(())
    }
}

/// Marks every descriptor from `first` up close-on-exec, with raw system calls only.
/// `CLOSE_RANGE_CLOEXEC` needs Linux 5.11; the older kernels degraded mode exists for
/// refuse it (EINVAL, or ENOSYS before 5.9), so each descriptor below the open-files
/// limit is marked instead.
fn cloexec_from(first: u32) -> Result<(), i32> {
    // SAFETY: close_range takes integer arguments only.
    let ranged = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    match check(ranged) {
        Err(libc::EINVAL | libc::ENOSYS) => cloexec_each_from(first),
        done => done,
    }
}

/// Marks each descriptor from `first` up to the open-files limit close-on-exec.
fn cloexec_each_from(first: u32) -> Result<(), i32> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: the pointer refers to a live rlimit on this stack frame.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }.into())?;
    let end = i32::try_from(limit.rlim_cur).unwrap_or(i32::MAX);
    let first = i32::try_from(first).unwrap_or(i32::MAX);
    for fd in first..end {
        // SAFETY: F_SETFD takes integers; a descriptor that is not open fails with EBADF,
        // which is what it should do.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::fd::{AsRawFd, OwnedFd};

    use super::{cloexec_each_from, cloexec_from};

    /// The descriptor's close-on-exec flag.
    fn cloexec(fd: &OwnedFd) -> bool {
        // SAFETY: F_GETFD takes a live descriptor.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        flags & libc::FD_CLOEXEC != 0
    }

    // Goal: a descriptor opened without close-on-exec is marked, as the child must before
    // exec. Method: clear the flag on a fresh descriptor, mark from it up, read the flag
    // (it only sets a flag std sets on its own descriptors anyway).
    fn marks_a_leaked_descriptor(mark: fn(u32) -> Result<(), i32>) {
        let fd = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
        // SAFETY: F_SETFD on a live descriptor.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) };
        assert!(!cloexec(&fd));
        mark(u32::try_from(fd.as_raw_fd()).unwrap()).unwrap();
        assert!(cloexec(&fd));
    }

    #[test]
    fn a_leaked_descriptor_is_marked_close_on_exec() {
        marks_a_leaked_descriptor(cloexec_from);
    }

    // The same through the fallback of kernels without CLOSE_RANGE_CLOEXEC, which this
    // kernel never takes by itself.
    #[test]
    fn the_fallback_marks_a_leaked_descriptor_too() {
        marks_a_leaked_descriptor(cloexec_each_from);
    }
}
