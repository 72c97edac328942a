//! The seccomp BPF programs of a confinement, compiled in the parent before fork.

use std::collections::BTreeMap;

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

use crate::{Profile, SandboxError};

/// System calls no worker needs and that widen the attack surface or escape confinement.
const DENIED: &[libc::c_long] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_bpf,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    // The new mount API reaches what mount(2) does.
    libc::SYS_open_tree,
    libc::SYS_move_mount,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    // File handles open files by inode, past any path rule.
    libc::SYS_name_to_handle_at,
    libc::SYS_open_by_handle_at,
    // Another process's descriptors and memory layout.
    libc::SYS_pidfd_getfd,
    libc::SYS_kcmp,
    libc::SYS_process_madvise,
    // Credentials: a worker keeps the identity it was started with.
    libc::SYS_setuid,
    libc::SYS_setgid,
    libc::SYS_setreuid,
    libc::SYS_setregid,
    libc::SYS_setresuid,
    libc::SYS_setresgid,
    libc::SYS_setfsuid,
    libc::SYS_setfsgid,
    libc::SYS_setgroups,
    libc::SYS_capset,
    // The machine itself: clocks, swap, accounting, the kernel log, I/O ports.
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_acct,
    libc::SYS_syslog,
    libc::SYS_quotactl,
    libc::SYS_iopl,
    libc::SYS_ioperm,
    libc::SYS_fanotify_init,
    libc::SYS_vhangup,
];

/// `ioctl` requests refused: pushing input into a terminal (`TIOCSTI`) and the console's
/// `TIOCLINUX`, both ways to make another program run commands.
const DENIED_IOCTLS: &[u64] = &[libc::TIOCSTI, libc::TIOCLINUX];

/// System calls a `Pure` worker may not make: it starts no processes.
///
/// `execve` stays allowed here because the filter is installed before the program's own
/// `execve`; Landlock is what refuses any later exec (Execute is granted only on the
/// program file and the ELF interpreter).
const DENIED_PURE: &[libc::c_long] = &[libc::SYS_fork, libc::SYS_vfork, libc::SYS_execveat];

/// The bits of `socket`'s type argument that hold the type; the rest are flags such as
/// `SOCK_CLOEXEC`.
const SOCKET_TYPE_MASK: u64 = 0xf;

/// Bit that marks x32 system call numbers on x86_64.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// BPF opcodes used by the hand-written x32 guard.
const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_JMP_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// The filters to install, in order; the kernel applies the strictest verdict.
pub(crate) struct Filters {
    /// Each program is a separate filter.
    pub(crate) programs: Vec<BpfProgram>,
}

/// Compiles the filters for `profile`.
pub(crate) fn build(profile: Profile) -> Result<Filters, SandboxError> {
    if !cfg!(target_arch = "x86_64") {
        return Err(SandboxError::UnsupportedArch);
    }
    let arch = TargetArch::x86_64;
    let eperm = SeccompAction::Errno(libc::EPERM as u32);

    let mut denied: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &nr in DENIED {
        denied.insert(nr, vec![]);
    }
    // Only local sockets, and only ones that reach nothing outside: no AF_INET,
    // AF_NETLINK, AF_PACKET and the rest; no unix datagram sockets (which reach any bound
    // path with sendto); no connect, so a unix stream socket reaches no listener. Landlock
    // does not govern connecting to a socket file, so this is what keeps a worker from
    // the daemon's socket. socketpair stays allowed: its two ends reach only each other.
    denied.insert(
        libc::SYS_socket,
        vec![
            SeccompRule::new(vec![SeccompCondition::new(
                0,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Ne,
                libc::AF_UNIX as u64,
            )?])?,
            SeccompRule::new(vec![SeccompCondition::new(
                1,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::MaskedEq(SOCKET_TYPE_MASK),
                libc::SOCK_DGRAM as u64,
            )?])?,
        ],
    );
    denied.insert(libc::SYS_connect, vec![]);
    denied.insert(
        libc::SYS_ioctl,
        DENIED_IOCTLS
            .iter()
            .map(|&request| {
                SeccompRule::new(vec![SeccompCondition::new(
                    1,
                    SeccompCmpArgLen::Dword,
                    SeccompCmpOp::Eq,
                    request,
                )?])
            })
            .collect::<Result<_, _>>()?,
    );
    if profile == Profile::Pure {
        for &nr in DENIED_PURE {
            denied.insert(nr, vec![]);
        }
        // clone is how both threads and processes start; only threads are allowed.
        denied.insert(
            libc::SYS_clone,
            vec![SeccompRule::new(vec![SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64),
                0,
            )?])?],
        );
    }
    let deny: BpfProgram =
        SeccompFilter::new(denied, SeccompAction::Allow, eperm, arch)?.try_into()?;

    // clone3 passes its flags in memory, which BPF cannot inspect; ENOSYS makes libc
    // fall back to clone, whose flags the filter above can check.
    let mut clone3: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    clone3.insert(libc::SYS_clone3, vec![]);
    let clone3: BpfProgram = SeccompFilter::new(
        clone3,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )?
    .try_into()?;

    Ok(Filters {
        programs: vec![x32_guard(), clone3, deny],
    })
}

/// A filter refusing x32 system calls, which would otherwise bypass a deny list keyed
/// on native numbers. (seccompiler's own arch check already kills i386 and others.)
fn x32_guard() -> BpfProgram {
    let errno = libc::SECCOMP_RET_ERRNO | (libc::EPERM as u32);
    vec![
        // offsetof(struct seccomp_data, nr) == 0
        sock_filter {
            code: BPF_LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0,
        },
        sock_filter {
            code: BPF_JMP_JGE_K,
            jt: 0,
            jf: 1,
            k: X32_SYSCALL_BIT,
        },
        sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: errno,
        },
        sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ]
}
