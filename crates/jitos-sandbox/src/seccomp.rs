//! The seccomp BPF programs of a confinement, compiled in the parent before fork.

use std::{collections::BTreeMap, sync::OnceLock};

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::{number_filter, Profile, SandboxError};

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
    // The machine itself, refused here rather than left to capabilities: clocks, names,
    // swap, accounting, quotas, the kernel log, terminals, I/O ports, and obsolete calls
    // that only ever served the administrator.
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_acct,
    libc::SYS_syslog,
    libc::SYS_quotactl,
    libc::SYS_quotactl_fd,
    libc::SYS_iopl,
    libc::SYS_ioperm,
    libc::SYS_fanotify_init,
    libc::SYS_vhangup,
    libc::SYS_nfsservctl,
    libc::SYS__sysctl,
    libc::SYS_uselib,
    libc::SYS_ustat,
    libc::SYS_sysfs,
    libc::SYS_lookup_dcookie,
];

/// The refused calls that act on the whole machine, by name: refused by the filter
/// whoever runs the program, not left to the capabilities it lacks.
pub const MACHINE_WIDE_CALLS: &[(&str, libc::c_long)] = &[
    ("settimeofday", libc::SYS_settimeofday),
    ("clock_settime", libc::SYS_clock_settime),
    ("clock_adjtime", libc::SYS_clock_adjtime),
    ("adjtimex", libc::SYS_adjtimex),
    ("sethostname", libc::SYS_sethostname),
    ("setdomainname", libc::SYS_setdomainname),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("reboot", libc::SYS_reboot),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("acct", libc::SYS_acct),
    ("syslog", libc::SYS_syslog),
    ("quotactl", libc::SYS_quotactl),
    ("quotactl_fd", libc::SYS_quotactl_fd),
    ("iopl", libc::SYS_iopl),
    ("ioperm", libc::SYS_ioperm),
    ("vhangup", libc::SYS_vhangup),
    ("nfsservctl", libc::SYS_nfsservctl),
    ("_sysctl", libc::SYS__sysctl),
    ("uselib", libc::SYS_uselib),
    ("ustat", libc::SYS_ustat),
    ("sysfs", libc::SYS_sysfs),
    ("lookup_dcookie", libc::SYS_lookup_dcookie),
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

/// The socket types a unix socket may have: stream and seqpacket, whose ends reach only a
/// peer they were connected to. (`SOCK_RAW` on a unix socket is a datagram socket.)
const SOCKET_TYPES_ALLOWED: [u64; 2] = [libc::SOCK_STREAM as u64, libc::SOCK_SEQPACKET as u64];

/// The socket types an IP socket of a networked program may have: TCP's and UDP's.
const NET_SOCKET_TYPES_ALLOWED: [u64; 2] = [libc::SOCK_STREAM as u64, libc::SOCK_DGRAM as u64];

/// The protocols an IP socket of a networked program may name: the type's default, TCP
/// and UDP (no ICMP "ping" sockets, SCTP, MPTCP or UDP-Lite).
const NET_PROTOCOLS_ALLOWED: [u64; 3] = [0, libc::IPPROTO_TCP as u64, libc::IPPROTO_UDP as u64];

/// `clone` flags that make a namespace: in a new user namespace a child would hold every
/// capability again. (`unshare` and `setns` are refused by number.)
const CLONE_NAMESPACE_FLAGS: [libc::c_int; 7] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWCGROUP,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
];

/// The bits of `socket`'s type argument that hold the type; the rest are flags such as
/// `SOCK_CLOEXEC`.
const SOCKET_TYPE_MASK: u64 = 0xf;

/// Each profile's filters, with and without the network, compiled once: they depend on
/// nothing else.
static PURE_FILTERS: OnceLock<Vec<BpfProgram>> = OnceLock::new();
static SHELL_FILTERS: OnceLock<Vec<BpfProgram>> = OnceLock::new();
static PURE_NET_FILTERS: OnceLock<Vec<BpfProgram>> = OnceLock::new();
static SHELL_NET_FILTERS: OnceLock<Vec<BpfProgram>> = OnceLock::new();

/// Whether a program may make IP sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Net {
    /// Only local sockets, and no `connect`: a program with no network at all.
    None,
    /// TCP and UDP sockets and `connect`, and no unix socket but pairs: a program in a
    /// network namespace of its own, which holds nothing but its caller's proxy.
    Namespaced,
}

/// The filters to install for `profile` and `net`, in order; the kernel applies the
/// strictest verdict of all.
pub(crate) fn filters(profile: Profile, net: Net) -> Result<&'static [BpfProgram], SandboxError> {
    let cell = match (profile, net) {
        (Profile::Pure, Net::None) => &PURE_FILTERS,
        (Profile::Shell, Net::None) => &SHELL_FILTERS,
        (Profile::Pure, Net::Namespaced) => &PURE_NET_FILTERS,
        (Profile::Shell, Net::Namespaced) => &SHELL_NET_FILTERS,
    };
    if let Some(compiled) = cell.get() {
        return Ok(compiled);
    }
    let compiled = build(profile, net)?;
    Ok(cell.get_or_init(|| compiled))
}

/// A rule matching `socket`'s (or `socketpair`'s) type argument `t`, flags aside.
fn type_is(t: u64) -> Result<SeccompRule, seccompiler::BackendError> {
    SeccompRule::new(vec![SeccompCondition::new(
        1,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::MaskedEq(SOCKET_TYPE_MASK),
        t,
    )?])
}

/// Rules matching every socket type but `allowed`.
fn types_but(allowed: &[u64]) -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    (0..=SOCKET_TYPE_MASK)
        .filter(|t| !allowed.contains(t))
        .map(type_is)
        .collect()
}

/// A condition that argument `arg` (32 bits) is not `value`.
fn arg_ne(arg: u8, value: u64) -> Result<SeccompCondition, seccompiler::BackendError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, value)
}

/// The rules `socket` is refused by (any rule matching refuses it).
fn socket_rules(net: Net) -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    let mut rules = Vec::new();
    match net {
        // Only local sockets, and only ones that reach nothing outside: no AF_INET,
        // AF_NETLINK, AF_PACKET and the rest; only stream and seqpacket unix sockets (a
        // datagram one, or a "raw" one, which is a datagram one, reaches any bound path
        // with sendto, even one end of a pair); and `connect` is refused by number, so a
        // unix stream socket reaches no listener. Landlock does not govern connecting to
        // a socket file, so this is what keeps a worker from the daemon's socket.
        Net::None => {
            rules.push(SeccompRule::new(vec![arg_ne(0, libc::AF_UNIX as u64)?])?);
            rules.extend(types_but(&SOCKET_TYPES_ALLOWED)?);
        }
        // `connect` is allowed, so no unix socket may be made (one could connect to the
        // daemon's socket file): only AF_INET and AF_INET6, of TCP's and UDP's types and
        // protocols (no SOCK_RAW, no ICMP). What those reach is the namespace's: its `lo`
        // and the proxy listening there; Landlock lets TCP connect only to the proxy's
        // port. Socket pairs (rules of their own below) still work.
        Net::Namespaced => {
            rules.push(SeccompRule::new(vec![
                arg_ne(0, libc::AF_INET as u64)?,
                arg_ne(0, libc::AF_INET6 as u64)?,
            ])?);
            rules.extend(types_but(&NET_SOCKET_TYPES_ALLOWED)?);
            rules.push(SeccompRule::new(
                NET_PROTOCOLS_ALLOWED
                    .iter()
                    .map(|&p| arg_ne(2, p))
                    .collect::<Result<_, _>>()?,
            )?);
        }
    }
    Ok(rules)
}

/// Compiles the filters for `profile` and `net`: one by number alone (a tree, see
/// `number_filter`), one for the calls whose arguments decide (seccompiler).
fn build(profile: Profile, net: Net) -> Result<Vec<BpfProgram>, SandboxError> {
    if !cfg!(target_arch = "x86_64") {
        return Err(SandboxError::UnsupportedArch);
    }
    let eperm = number_filter::errno(libc::EPERM);
    let mut by_number: Vec<(u32, u32)> = DENIED.iter().map(|&nr| (nr as u32, eperm)).collect();
    // clone3 passes its flags in memory, which BPF cannot inspect; ENOSYS makes libc
    // fall back to clone, whose flags the argument filter can check.
    by_number.push((libc::SYS_clone3 as u32, number_filter::errno(libc::ENOSYS)));
    if profile == Profile::Pure {
        by_number.extend(DENIED_PURE.iter().map(|&nr| (nr as u32, eperm)));
    }
    if net == Net::None {
        // Connecting is what reaches a listening socket; see `socket_rules`.
        by_number.push((libc::SYS_connect as u32, eperm));
    }

    let mut by_arguments: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    by_arguments.insert(libc::SYS_socket, socket_rules(net)?);
    by_arguments.insert(libc::SYS_socketpair, types_but(&SOCKET_TYPES_ALLOWED)?);
    // The kernel reads an ioctl request as 32 bits, so the low half decides.
    by_arguments.insert(
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
    let mut clone_rules = CLONE_NAMESPACE_FLAGS
        .iter()
        .map(|&flag| {
            SeccompRule::new(vec![SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(flag as u64),
                flag as u64,
            )?])
        })
        .collect::<Result<Vec<_>, _>>()?;
    if profile == Profile::Pure {
        // clone is how both threads and processes start; only threads are allowed.
        clone_rules.push(SeccompRule::new(vec![SeccompCondition::new(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64),
            0,
        )?])?);
    }
    by_arguments.insert(libc::SYS_clone, clone_rules);
    let by_arguments: BpfProgram = SeccompFilter::new(
        by_arguments,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        TargetArch::x86_64,
    )?
    .try_into()?;

    Ok(vec![number_filter::compile(&by_number), by_arguments])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number_filter::emulator::native_verdict;

    // Goal: the calls that act on the whole machine are refused by the filter itself,
    // not left to the capabilities a worker lacks. Method: run each profile's number
    // filter, as the kernel would, for every one of them.
    #[test]
    fn machine_wide_calls_are_refused_by_number() {
        for profile in [Profile::Pure, Profile::Shell] {
            let filters = filters(profile, Net::None).unwrap_or_else(|e| panic!("{e}"));
            for &(name, nr) in MACHINE_WIDE_CALLS {
                assert_eq!(
                    native_verdict(&filters[0], nr as u32),
                    number_filter::errno(libc::EPERM),
                    "{name} under {profile:?}"
                );
            }
            assert_eq!(
                native_verdict(&filters[0], libc::SYS_getpid as u32),
                libc::SECCOMP_RET_ALLOW
            );
        }
    }

    // Goal: `connect` is refused by number to a program without the network and left to
    // the argument rules (it makes no unix socket) and Landlock to a networked one, while
    // every other refusal by number stays; method: run both filters for connect, unshare
    // and setns.
    #[test]
    fn only_a_networked_program_may_connect() {
        for profile in [Profile::Pure, Profile::Shell] {
            let none = filters(profile, Net::None).unwrap_or_else(|e| panic!("{e}"));
            let net = filters(profile, Net::Namespaced).unwrap_or_else(|e| panic!("{e}"));
            let connect = libc::SYS_connect as u32;
            assert_eq!(
                native_verdict(&none[0], connect),
                number_filter::errno(libc::EPERM)
            );
            assert_eq!(native_verdict(&net[0], connect), libc::SECCOMP_RET_ALLOW);
            for nr in [libc::SYS_unshare, libc::SYS_setns, libc::SYS_bpf] {
                assert_eq!(
                    native_verdict(&net[0], nr as u32),
                    number_filter::errno(libc::EPERM),
                    "{nr} under {profile:?}"
                );
            }
        }
    }
}
