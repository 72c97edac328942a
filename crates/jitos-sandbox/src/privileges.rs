//! Who a confined program runs as, and the capabilities it gives up: the identity rules
//! decided in the parent, and the raw system calls the child makes to leave every
//! capability behind before it executes the program.

use crate::sys::{check, last_errno};
use crate::SandboxError;

/// The securebits a confined program is locked into, as long as it has capabilities to set
/// them: a uid 0 (in any namespace) gains nothing at exec, a uid change is no reason to
/// keep or restore capabilities, and no ambient capability can be raised again.
const SECUREBITS: libc::c_int = libc::SECBIT_NOROOT
    | libc::SECBIT_NOROOT_LOCKED
    | libc::SECBIT_NO_SETUID_FIXUP
    | libc::SECBIT_NO_SETUID_FIXUP_LOCKED
    | libc::SECBIT_KEEP_CAPS_LOCKED
    | libc::SECBIT_NO_CAP_AMBIENT_RAISE
    | libc::SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit capability sets in two 32-bit words.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Capability numbers fit in the 64-bit sets; the kernel answers EINVAL past its last one.
const CAP_NUMBERS: std::ops::Range<libc::c_ulong> = 0..64;

/// Who the program runs as, decided before the child starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Identity {
    /// The caller is root: the child takes this unprivileged uid (and the gid of the same
    /// number, no supplementary groups) after everything that needs root is done.
    Become(libc::uid_t),
    /// The caller is not root: the program keeps the caller's uid and gid.
    Keep {
        /// The caller's effective uid.
        uid: libc::uid_t,
        /// The caller's effective gid.
        gid: libc::gid_t,
    },
}

impl Identity {
    /// The identity for a program asked to run as `asked`: never root. Root must name an
    /// unprivileged uid; anyone else runs it as themself.
    pub(crate) fn decide(asked: Option<u32>) -> Result<Identity, SandboxError> {
        // SAFETY: geteuid and getegid take no arguments and cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        match (uid, asked) {
            (0, Some(asked)) if asked != 0 => Ok(Identity::Become(asked)),
            (0, _) => Err(SandboxError::Root),
            (_, None) => Ok(Identity::Keep { uid, gid }),
            (_, Some(asked)) if asked == uid => Ok(Identity::Keep { uid, gid }),
            (_, Some(asked)) => Err(SandboxError::OtherUid { asked, caller: uid }),
        }
    }
}

/// What the child does to its credentials, prepared in the parent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Privileges {
    /// Its identity.
    pub(crate) identity: Identity,
    /// Whether the child will hold `CAP_SETPCAP` when it drops (as root, or in a user
    /// namespace of its own), and so can empty its bounding set and lock its securebits.
    pub(crate) holds_setpcap: bool,
}

impl Privileges {
    /// What the child gives up to run as `identity`; `own_user_namespace` when the child makes one.
    pub(crate) fn new(identity: Identity, own_user_namespace: bool) -> Privileges {
        Privileges {
            identity,
            holds_setpcap: matches!(identity, Identity::Become(_)) || own_user_namespace,
        }
    }

    /// Leaves every capability behind and takes the identity; in the child, raw system
    /// calls only. The error is the errno of the call that failed.
    ///
    /// Order matters: the bounding set and the securebits need `CAP_SETPCAP`, so they go
    /// first; the uid change comes next (securebits keep it from restoring anything); the
    /// last step empties the effective, permitted and inheritable sets, which a uid change
    /// leaves alone under `SECBIT_NO_SETUID_FIXUP`, and the ambient set.
    pub(crate) fn apply(&self) -> Result<(), i32> {
        if self.holds_setpcap {
            for cap in CAP_NUMBERS {
                // SAFETY: PR_CAPBSET_DROP takes a capability number.
                if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } < 0 {
                    match last_errno() {
                        // Past the last capability this kernel knows.
                        libc::EINVAL if cap > 0 => break,
                        errno => return Err(errno),
                    }
                }
            }
            // SAFETY: PR_SET_SECUREBITS takes a bit mask.
            check(unsafe { libc::prctl(libc::PR_SET_SECUREBITS, SECUREBITS, 0, 0, 0) }.into())?;
        }
        if let Identity::Become(uid) = self.identity {
            // Raw calls, not libc's wrappers: glibc's setuid would ask every thread of
            // what it takes for this process (the parent, whose memory this is) to change
            // its credentials too.
            // SAFETY: setgroups with a zero count reads no memory; setgid and setuid take
            // integers.
            unsafe {
                check(libc::syscall(
                    libc::SYS_setgroups,
                    0usize,
                    std::ptr::null::<libc::gid_t>(),
                ))?;
                check(libc::syscall(libc::SYS_setgid, uid))?;
                check(libc::syscall(libc::SYS_setuid, uid))?;
            }
        }
        let header = CapHeader {
            version: CAPABILITY_VERSION_3,
            pid: 0,
        };
        let empty = [CapData::default(); 2];
        // SAFETY: both pointers refer to live values laid out as the kernel's
        // cap_user_header_t and two cap_user_data_t.
        check(unsafe {
            libc::syscall(
                libc::SYS_capset,
                &header as *const CapHeader,
                empty.as_ptr(),
            )
        })?;
        // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL takes integer arguments only.
        check(
            unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_CLEAR_ALL,
                    0,
                    0,
                    0,
                )
            }
            .into(),
        )
    }
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}
