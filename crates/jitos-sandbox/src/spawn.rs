//! Starting a confined program the way `posix_spawn` starts an unconfined one: a child
//! that shares the parent's memory (`CLONE_VM | CLONE_VFORK`) on a stack of its own, so
//! no page table is copied and the parent waits only until the `execve`. `fork` would copy
//! the daemon's whole address space for every worker; that alone costs a confined spawn
//! more than the confinement does.
//!
//! The child runs only raw system calls on data the parent prepared (C strings, the
//! Landlock ruleset, the seccomp programs): it shares the parent's heap, locks and libc
//! state, so it must not allocate, and calls the kernel directly where a libc wrapper
//! would act for the whole (parent's) process, as glibc's `setuid` does. Every signal an
//! application may block is blocked across `clone` (glibc keeps its two internal ones
//! open, and sends them only to threads it knows, which the child is not); the child
//! starts with that mask, sets every handler to the default, and restores the caller's
//! mask with the raw call just before `execve`, so no handler of the parent's runs in it.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::cgroup::{self, CgroupLease};
use crate::confine::Prepared;
use crate::netns::NetNamespace;
use crate::SandboxError;

/// The variable every confined program's environment holds; the caller may add others
/// ([`Spawn::env`]).
const ENV_PATH: &str = "PATH=/usr/bin:/bin";
/// The child's stack. It runs a few dozen system calls and no allocator.
const CHILD_STACK_BYTES: usize = 256 * 1024;
/// Descriptors the parent hands over are first moved at or above this, so that putting
/// one on its target number never closes another still to be placed.
const FD_STAGING_MIN: RawFd = 64;
/// Highest number a handed-over descriptor may be placed on.
pub const HANDED_FD_MAX: RawFd = FD_STAGING_MIN - 1;
/// Highest signal number the child resets.
const SIGNAL_MAX: libc::c_int = 64;
/// The kernel's signal set: 64 bits.
const SIGSET_BYTES: usize = 8;
/// Starts tried while the program is busy being written (`ETXTBSY`), and the pause
/// between them.
const EXEC_BUSY_TRIES: u32 = 20;
const EXEC_BUSY_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);
/// A page, kept inaccessible below the child's stack so an overflow faults.
const GUARD_BYTES: usize = 4096;

/// Where one of a spawned program's standard streams goes.
#[derive(Debug)]
pub enum Stdio {
    /// `/dev/null`.
    Null,
    /// The caller's own stream.
    Inherit,
    /// This descriptor.
    Fd(OwnedFd),
}

/// What to start, besides its confinement: the program, its arguments, where and as whom
/// it runs, its standard streams, and descriptors handed over at fixed numbers.
pub struct Spawn {
    program: PathBuf,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    uid: Option<u32>,
    stdio: [Stdio; 3],
    handed: Vec<(OwnedFd, RawFd)>,
    /// `cgroup.procs` of the groups the child joins.
    cgroups: Vec<OwnedFd>,
    /// Variables added to its environment, as `NAME=VALUE`.
    env: Vec<OsString>,
    /// The network namespace it joins, when it may reach its caller's proxy.
    net: Option<NetNamespace>,
}

/// Its environment's values are left out: they may be secrets.
impl std::fmt::Debug for Spawn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: Vec<String> = self
            .env
            .iter()
            .map(|pair| {
                let pair = pair.to_string_lossy();
                pair.split('=').next().unwrap_or_default().to_owned()
            })
            .collect();
        f.debug_struct("Spawn")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("cwd", &self.cwd)
            .field("uid", &self.uid)
            .field("stdio", &self.stdio)
            .field("handed", &self.handed)
            .field("env", &env)
            .field("net", &self.net)
            .finish_non_exhaustive()
    }
}

impl Spawn {
    /// Starts `program` (an absolute path) with no arguments, stdin `/dev/null`, stdout and
    /// stderr inherited, in the caller's directory and as the caller's uid.
    pub fn new(program: impl Into<PathBuf>) -> Spawn {
        Spawn {
            program: program.into(),
            args: Vec::new(),
            cwd: None,
            uid: None,
            stdio: [Stdio::Null, Stdio::Inherit, Stdio::Inherit],
            handed: Vec::new(),
            cgroups: Vec::new(),
            env: Vec::new(),
            net: None,
        }
    }

    /// Adds the variable `name` with `value` to the program's environment (which holds
    /// only `PATH` otherwise). A name that is empty or holds `=` or NUL, or a value that
    /// holds NUL, fails the spawn.
    pub fn env(mut self, name: &str, value: impl AsRef<OsStr>) -> Spawn {
        let mut pair = OsString::from(name);
        // A bad name is kept bad, so that starting fails rather than running with less.
        if name.is_empty() || name.contains('=') {
            pair.push("\0");
        }
        pair.push("=");
        pair.push(value);
        self.env.push(pair);
        self
    }

    /// Adds arguments.
    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Spawn {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Runs the program in `dir`.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Spawn {
        self.cwd = Some(dir.into());
        self
    }

    /// Runs the program as `uid` (and gid `uid`, no supplementary groups). A root caller
    /// must give an unprivileged uid, since a confined program never runs as root; any
    /// other caller may give only its own.
    pub fn uid(mut self, uid: u32) -> Spawn {
        self.uid = Some(uid);
        self
    }

    /// Where stdin, stdout and stderr go.
    pub fn stdio(mut self, stdin: Stdio, stdout: Stdio, stderr: Stdio) -> Spawn {
        self.stdio = [stdin, stdout, stderr];
        self
    }

    /// Hands `fd` to the program as descriptor `target` (3 to [`HANDED_FD_MAX`]). It is
    /// placed after confinement marked every other descriptor close-on-exec, so it is one
    /// of the few the program inherits.
    pub fn hand(mut self, fd: OwnedFd, target: RawFd) -> Spawn {
        self.handed.push((fd, target));
        self
    }

    /// Starts the program in the control group of `lease`, so its limits bind the
    /// program and everything it starts.
    pub fn cgroup(mut self, lease: &CgroupLease) -> std::io::Result<Spawn> {
        for procs in lease.procs() {
            self.cgroups.push(procs?);
        }
        Ok(self)
    }

    /// Runs the program in `namespace` (root callers only: joining one takes
    /// `CAP_SYS_ADMIN`, which the child holds until it drops every capability). Its
    /// confinement then lets it make TCP and UDP sockets, and connect by TCP only to the
    /// namespace's proxy port; without one it makes no IP socket at all.
    pub fn net_namespace(mut self, namespace: NetNamespace) -> Spawn {
        self.net = Some(namespace);
        self
    }

    /// The program's path.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The uid asked for with [`Spawn::uid`].
    pub(crate) fn uid_asked(&self) -> Option<u32> {
        self.uid
    }

    /// The proxy port of the network namespace it joins, if any.
    pub(crate) fn proxy_port(&self) -> Option<u16> {
        self.net.as_ref().map(NetNamespace::proxy_port)
    }
}

/// A started program. Wait for it: like `std::process::Child`, dropping it does not reap.
#[derive(Debug)]
pub struct Process {
    pid: libc::pid_t,
}

impl Process {
    /// Its process id.
    pub fn id(&self) -> u32 {
        self.pid as u32
    }

    /// Waits for it to exit and reaps it.
    pub fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let mut status = 0;
        loop {
            // SAFETY: waitpid writes the status into a live local.
            let ret = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if ret == self.pid {
                return Ok(ExitStatus::from_raw(status));
            }
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}

/// The step of the child that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
enum Stage {
    Stdio = 1,
    Cgroup,
    Network,
    View,
    Privileges,
    Cwd,
    Confine,
    Hand,
    Exec,
}

impl Stage {
    fn from_code(code: i32) -> &'static str {
        match code {
            1 => "setting up its standard streams",
            2 => "joining its control group",
            3 => "joining its network namespace (root callers only)",
            4 => "making its private read-only view of the file system (a mount namespace; `jitos doctor` says whether this kernel offers one)",
            5 => "dropping its capabilities and taking its uid",
            6 => "changing to its directory",
            7 => "applying its confinement",
            8 => "handing it its descriptors",
            _ => "executing it",
        }
    }
}

/// Everything the child reads, prepared by the parent; the child writes only `failed_*`.
struct Plan<'a> {
    program: &'a CString,
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
    /// Sources of fds 0, 1, 2; `None` keeps the caller's.
    stdio: [Option<RawFd>; 3],
    cwd: Option<&'a CString>,
    cgroups: &'a [OwnedFd],
    /// The network namespace to join.
    netns: Option<RawFd>,
    prepared: &'a Prepared,
    handed: &'a [(RawFd, RawFd)],
    mask: libc::sigset_t,
    /// The caller's pid: the child's parent, unless the caller died meanwhile.
    parent: libc::pid_t,
    failed_stage: AtomicI32,
    failed_errno: AtomicI32,
}

/// Starts `spawn` with `prepared` applied in the child.
pub(crate) fn launch(spawn: Spawn, prepared: &Prepared) -> Result<Process, SandboxError> {
    let fail = |stage: &'static str, error: std::io::Error| SandboxError::Spawn {
        program: spawn.program.clone(),
        stage,
        error,
    };
    let nul = |_| {
        fail(
            "preparing it",
            std::io::Error::from(std::io::ErrorKind::InvalidInput),
        )
    };
    let program = CString::new(spawn.program.as_os_str().as_bytes()).map_err(nul)?;
    let mut arg_strings = vec![program.clone()];
    for arg in &spawn.args {
        arg_strings.push(CString::new(arg.as_bytes()).map_err(nul)?);
    }
    let mut env_strings = vec![CString::new(ENV_PATH).map_err(nul)?];
    for pair in &spawn.env {
        env_strings.push(CString::new(pair.as_bytes()).map_err(nul)?);
    }
    let argv = null_terminated(&arg_strings);
    let envp = null_terminated(&env_strings);
    let cwd = match &spawn.cwd {
        Some(dir) => Some(CString::new(dir.as_os_str().as_bytes()).map_err(nul)?),
        None => None,
    };

    // Staged copies of every descriptor the child places, above every target number;
    // close-on-exec, and closed here once the child has exec'ed.
    let null = std::fs::File::open("/dev/null").map_err(|e| fail("opening /dev/null", e))?;
    let stage = |fd: RawFd| -> Result<OwnedFd, SandboxError> {
        // SAFETY: F_DUPFD_CLOEXEC duplicates a descriptor the caller keeps open.
        let staged = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, FD_STAGING_MIN) };
        if staged < 0 {
            return Err(fail(
                "staging its descriptors",
                std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: `staged` is a new descriptor this function owns.
        Ok(unsafe { OwnedFd::from_raw_fd(staged) })
    };
    let mut staged = Vec::new();
    let mut stdio = [None; 3];
    for (slot, how) in stdio.iter_mut().zip(&spawn.stdio) {
        let source = match how {
            Stdio::Inherit => continue,
            Stdio::Null => null.as_raw_fd(),
            Stdio::Fd(fd) => fd.as_raw_fd(),
        };
        let copy = stage(source)?;
        *slot = Some(copy.as_raw_fd());
        staged.push(copy);
    }
    let mut handed = Vec::with_capacity(spawn.handed.len());
    for (fd, target) in &spawn.handed {
        if !(3..=HANDED_FD_MAX).contains(target) {
            return Err(fail(
                "handing it its descriptors",
                std::io::Error::from(std::io::ErrorKind::InvalidInput),
            ));
        }
        let copy = stage(fd.as_raw_fd())?;
        handed.push((copy.as_raw_fd(), *target));
        staged.push(copy);
    }

    let mut plan = Plan {
        program: &program,
        argv: &argv,
        envp: &envp,
        stdio,
        cwd: cwd.as_ref(),
        cgroups: &spawn.cgroups,
        netns: spawn.net.as_ref().map(NetNamespace::raw_fd),
        prepared,
        handed: &handed,
        // SAFETY: an all-zero sigset_t is a valid (empty) set, overwritten below.
        mask: unsafe { std::mem::zeroed() },
        // SAFETY: getpid takes no arguments.
        parent: unsafe { libc::getpid() },
        failed_stage: AtomicI32::new(0),
        failed_errno: AtomicI32::new(0),
    };
    let stack = Stack::new().map_err(|e| fail("allocating its stack", e))?;
    let dumpable = dumpable_before_any_spawn();
    let mut tried = 0;
    loop {
        tried += 1;
        plan.failed_stage.store(0, Ordering::Relaxed);
        plan.failed_errno.store(0, Ordering::Relaxed);
        // SAFETY: `all` is initialised by sigfillset before use; pthread_sigmask stores
        // the thread's current mask in `plan.mask`.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut plan.mask);
        }
        // SAFETY: the child runs `child_main` on its own stack with `plan` and the staged
        // descriptors alive: CLONE_VFORK suspends this thread until the child has exec'ed
        // or exited, and everything the child reads outlives this call.
        let pid = unsafe {
            libc::clone(
                child_main,
                stack.top(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                (&mut plan as *mut Plan).cast(),
            )
        };
        let clone_error = std::io::Error::last_os_error();
        // SAFETY: restores the mask saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &plan.mask, std::ptr::null_mut()) };
        // The child's uid change marks the memory it shares with this process as not
        // dumpable; this process's own credentials did not change, so it is put back.
        if dumpable == 1 {
            // SAFETY: PR_SET_DUMPABLE takes an integer.
            unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) };
        }
        if pid < 0 {
            return Err(fail("creating its process", clone_error));
        }
        let mut process = Process { pid };
        let stage_code = plan.failed_stage.load(Ordering::Acquire);
        if stage_code == 0 {
            return Ok(process);
        }
        let errno = plan.failed_errno.load(Ordering::Acquire);
        // The child exited without exec; reap it so it leaves no zombie.
        let _ = process.wait();
        // A program written a moment ago may still be open for writing in a child of
        // another thread that has not executed its own program yet.
        if stage_code == Stage::Exec as i32 && errno == libc::ETXTBSY && tried < EXEC_BUSY_TRIES {
            std::thread::sleep(EXEC_BUSY_PAUSE);
            continue;
        }
        return Err(fail(
            Stage::from_code(stage_code),
            std::io::Error::from_raw_os_error(errno),
        ));
    }
}

/// Whether this process was dumpable before its first spawn. Read once: a child's uid
/// change clears the flag of the memory it shares with this process, so another thread's
/// spawn may have cleared it by the time a later spawn reads it.
fn dumpable_before_any_spawn() -> libc::c_int {
    static DUMPABLE: std::sync::OnceLock<libc::c_int> = std::sync::OnceLock::new();
    // SAFETY: PR_GET_DUMPABLE takes no pointer.
    *DUMPABLE.get_or_init(|| unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) })
}

/// A NULL-terminated array of pointers into `strings`.
fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// The child's stack: an anonymous mapping with an inaccessible guard page below it,
/// unmapped when dropped (after the child has exec'ed or exited, since the parent is
/// suspended until then).
struct Stack {
    base: *mut libc::c_void,
}

impl Stack {
    const MAPPED_BYTES: usize = GUARD_BYTES + CHILD_STACK_BYTES;

    fn new() -> std::io::Result<Stack> {
        // SAFETY: an anonymous private mapping touches no existing memory.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                Self::MAPPED_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let stack = Stack { base };
        // SAFETY: the first page of the mapping just made.
        if unsafe { libc::mprotect(base, GUARD_BYTES, libc::PROT_NONE) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The highest address: stacks grow down. Page-aligned, so 16-byte aligned.
    fn top(&self) -> *mut libc::c_void {
        // SAFETY: one past the end of the mapping, which clone uses as the initial sp.
        unsafe { self.base.cast::<u8>().add(Self::MAPPED_BYTES).cast() }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: `base` is the mapping made in `new`, no longer in use.
        unsafe { libc::munmap(self.base, Self::MAPPED_BYTES) };
    }
}

/// The child: every step a raw system call, on the parent's prepared data. On failure it
/// records the stage and errno in the plan (shared memory) and exits 127.
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the parent's `Plan`, alive until this child execs or exits.
    let plan = unsafe { &*(arg as *const Plan) };
    let failed = |stage: Stage, errno: i32| -> libc::c_int {
        plan.failed_errno.store(errno, Ordering::Release);
        plan.failed_stage.store(stage as i32, Ordering::Release);
        // SAFETY: _exit ends this child only; it runs no destructors or atexit handlers.
        unsafe { libc::_exit(127) }
    };
    let errno = || {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EINVAL)
    };
    // SAFETY (for every call below): raw system calls on integers and on pointers into the
    // plan, which the parent keeps alive; none allocates or takes a lock.
    unsafe {
        // A child copies every descriptor of the caller (its data directory's lock
        // among them) until it executes the program: should the caller be killed now,
        // the child dies at once instead of finishing its set-up holding them. A uid
        // change clears this; the confinement sets it again.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() != plan.parent {
            libc::_exit(127);
        }
        reset_signal_handlers();
        for (target, source) in plan.stdio.iter().enumerate() {
            if let Some(source) = source {
                if libc::dup2(*source, target as libc::c_int) < 0 {
                    return failed(Stage::Stdio, errno());
                }
            }
        }
        // First, while the child still has the caller's credentials and before it can
        // start anything, so nothing it does escapes the group's limits.
        if let Err(code) = cgroup::join(plan.cgroups) {
            return failed(Stage::Cgroup, code);
        }
        // Before the view (which, for a caller that is not root, enters a user namespace
        // that holds no right over this one) and while the child still holds
        // CAP_SYS_ADMIN; setns moves this child alone, not the caller sharing its memory.
        if let Some(netns) = plan.netns {
            if libc::setns(netns, libc::CLONE_NEWNET) < 0 {
                return failed(Stage::Network, errno());
            }
        }
        // The view comes before the uid change (as root, it takes root) and before the
        // directory change, so the program's directory is on its writable bind mount.
        if let Some(view) = &plan.prepared.view {
            if let Err(code) = view.enter() {
                return failed(Stage::View, code);
            }
        }
        if let Err(code) = plan.prepared.privileges.apply() {
            return failed(Stage::Privileges, code);
        }
        if let Some(dir) = plan.cwd {
            if libc::chdir(dir.as_ptr()) < 0 {
                return failed(Stage::Cwd, errno());
            }
        }
        if let Err(code) = plan.prepared.apply(plan.parent) {
            return failed(Stage::Confine, code);
        }
        for &(source, target) in plan.handed {
            // dup2 clears close-on-exec on the target.
            if libc::dup2(source, target) < 0 {
                return failed(Stage::Hand, errno());
            }
        }
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &plan.mask as *const libc::sigset_t,
            std::ptr::null_mut::<libc::sigset_t>(),
            SIGSET_BYTES,
        );
        libc::execve(
            plan.program.as_ptr(),
            plan.argv.as_ptr(),
            plan.envp.as_ptr(),
        );
    }
    failed(Stage::Exec, errno())
}

/// Sets every catchable signal's disposition to the default, so no handler of the
/// parent's (which shares this memory) can run in the child, and SIGPIPE, which Rust
/// ignores, behaves normally in the program.
///
/// # Safety
/// Only for the child between `clone` and `execve`.
unsafe fn reset_signal_handlers() {
    // SAFETY: a zeroed sigaction is SIG_DFL with an empty mask and no flags.
    let default: libc::sigaction = unsafe { std::mem::zeroed() };
    for signal in 1..=SIGNAL_MAX {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // Signals libc reserves answer EINVAL; they keep their disposition.
        // SAFETY: sigaction reads `default` and writes nothing back (null old action).
        unsafe { libc::sigaction(signal, &default, std::ptr::null_mut()) };
    }
}
