//! The Landlock ruleset of a confinement, built in the parent before fork.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, PathFd,
    Ruleset, RulesetAttr, RulesetCreatedAttr, Scope, ABI,
};

use crate::mount_view::WritablePath;
use crate::{Profile, SandboxError};

/// What a `Pure` program reads besides its own binary: the shared libraries and the
/// dynamic linker's cache. Nothing of `/etc` but that cache, and no other program.
pub const PURE_READS: &[&str] = &[
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/lib64",
    "/etc/ld.so.cache",
];

/// What a `Shell` program reads and executes: the system's programs and libraries.
pub const SHELL_READS_AND_EXECUTES: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib64"];

/// The files of `/etc` that ordinary commands read (the dynamic linker, names of users and
/// groups, name-service configuration, time zone, locale aliases, Debian's alternatives,
/// MIME types and file magic, and git's, Python's and Perl's system configuration); a
/// `Shell` program reads these and no other part of `/etc`. More can be granted as a
/// need or `--ro`.
pub const SHELL_ETC_READS: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/locale.alias",
    "/etc/mime.types",
    "/etc/magic",
    "/etc/gitconfig",
    "/etc/perl",
    "/etc/python3",
];

/// What a program that may reach the network through its proxy reads besides its
/// profile's: the certificate authorities a TLS client checks a server against, and the
/// host table. (It resolves no name: the proxy does.)
pub const NETWORK_ETC_READS: &[&str] = &[
    "/etc/ssl",
    "/etc/pki",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
    "/etc/hosts",
];

/// Directories of `/etc` whose names start with one of these are read under `Shell` too:
/// a versioned runtime's configuration (`/etc/python3.11`).
const SHELL_ETC_PREFIXES: &[&str] = &["python3."];

/// Device files every worker may read.
const SYSTEM_DEVICES: &[&str] = &["/dev/null", "/dev/urandom", "/dev/zero"];

/// ELF interpreters a program needs Execute on: the kernel opens the
/// interpreter with exec intent, and Landlock checks that open.
const ELF_INTERPRETERS: &[&str] = &[
    "/lib64/ld-linux-x86-64.so.2",
    "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
];

/// Returns the running kernel's Landlock ABI version, or 0 when Landlock is absent.
pub(crate) fn abi_version() -> i64 {
    // SAFETY: landlock_create_ruleset with a null attribute, size 0 and the VERSION
    // flag only queries the ABI version; it touches no memory.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    version.max(0)
}

/// The Landlock ABI a caller needs: 4 (file system and TCP rules) for root, whose
/// programs each run under a uid of their own; 6 for anyone else, whose programs keep its
/// uid and so need Landlock's signal scoping to be kept from signalling it.
pub(crate) fn abi_required() -> i64 {
    // SAFETY: geteuid takes no arguments.
    if unsafe { libc::geteuid() } == 0 {
        4
    } else {
        6
    }
}

/// Builds the ruleset and returns its file descriptor, ready for `landlock_restrict_self`.
pub(crate) fn build(
    profile: Profile,
    program: &Path,
    read_only: &[PathBuf],
    read_write: &[WritablePath],
    proxy_port: Option<u16>,
) -> Result<OwnedFd, SandboxError> {
    let version = abi_version();
    let required = abi_required();
    if version < required {
        return Err(SandboxError::Unsupported {
            feature: if required == 4 {
                "Landlock ABI 4"
            } else {
                "Landlock ABI 6 (signal scoping, for a caller that is not root: its programs share its uid)"
            },
            detail: format!("kernel reports Landlock ABI {version}"),
        });
    }
    // ABI 4 is the floor (filesystem plus TCP rules); every right asked for below is a
    // hard requirement so that nothing is silently dropped.
    let abi = ABI::V4;
    let fs_all = AccessFs::from_all(abi);
    let read = AccessFs::from_read(abi) & !AccessFs::Execute;
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(fs_all)?
        .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)?;
    if version >= 6 {
        ruleset = ruleset.scope(Scope::AbstractUnixSocket | Scope::Signal)?;
    }
    let mut created = ruleset.create()?;
    for (path, access) in system_reads(profile) {
        created = created.add_rule(beneath(path, read | *access)?)?;
    }
    if let Some(port) = proxy_port {
        // The one TCP port it may connect to, on whatever address: in its namespace the
        // proxy's listener on 127.0.0.1 is the only one there is. No bind, anywhere.
        created = created.add_rule(NetPort::new(port, AccessNet::ConnectTcp))?;
        for path in network_reads() {
            created = created.add_rule(beneath(path, read)?)?;
        }
    }
    for path in SYSTEM_DEVICES.iter().map(Path::new).filter(|p| p.exists()) {
        created = created.add_rule(beneath(path, file_rights(read | AccessFs::WriteFile))?)?;
    }
    // The program's own execve happens after the ruleset is in force, so the program
    // file and its ELF interpreter need Execute (and ReadFile: the kernel opens them
    // for reading with exec intent); under `Pure` they are the only executables.
    let exec = file_rights(AccessFs::Execute | AccessFs::ReadFile);
    created = created.add_rule(beneath(program, exec)?)?;
    for path in ELF_INTERPRETERS
        .iter()
        .map(Path::new)
        .filter(|p| p.exists())
    {
        created = created.add_rule(beneath(path, exec)?)?;
    }
    for path in read_only {
        created = created.add_rule(beneath(path, read)?)?;
    }
    // Device nodes are never created: a worker running as root could otherwise make a
    // node for a disk inside read_write and read or write it raw.
    let rw_all = fs_all & !(AccessFs::MakeBlock | AccessFs::MakeChar);
    for path in read_write {
        let rights = match profile {
            Profile::Pure => rw_all & !AccessFs::Execute,
            Profile::Shell => rw_all,
        };
        // The descriptor the view binds too, so both name the same file.
        let rights = if path.is_dir() {
            rights
        } else {
            file_rights(rights)
        };
        created = created.add_rule(PathBeneath::new(path.fd(), rights))?;
    }
    let fd: Option<OwnedFd> = created.into();
    fd.ok_or(SandboxError::Unsupported {
        feature: "Landlock ruleset",
        detail: "the ruleset was not created".to_owned(),
    })
}

/// The system paths `profile` reads, each with the rights beyond reading it has there,
/// found once per process (listing `/etc` at every spawn would cost more than the rest of
/// the ruleset).
fn system_reads(profile: Profile) -> &'static [(PathBuf, BitFlags<AccessFs>)] {
    static PURE: OnceLock<Vec<(PathBuf, BitFlags<AccessFs>)>> = OnceLock::new();
    static SHELL: OnceLock<Vec<(PathBuf, BitFlags<AccessFs>)>> = OnceLock::new();
    let cell = match profile {
        Profile::Pure => &PURE,
        Profile::Shell => &SHELL,
    };
    cell.get_or_init(|| find_system_reads(profile))
}

/// [`NETWORK_ETC_READS`] this host has, found once per process.
fn network_reads() -> &'static [PathBuf] {
    static READS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    READS.get_or_init(|| {
        NETWORK_ETC_READS
            .iter()
            .map(PathBuf::from)
            .filter(|path| path.exists())
            .collect()
    })
}

/// [`system_reads`], looked up: paths this host lacks are left out.
fn find_system_reads(profile: Profile) -> Vec<(PathBuf, BitFlags<AccessFs>)> {
    let none = BitFlags::empty();
    let mut reads: Vec<(PathBuf, BitFlags<AccessFs>)> = match profile {
        Profile::Pure => PURE_READS.iter().map(|p| (p.into(), none)).collect(),
        Profile::Shell => SHELL_READS_AND_EXECUTES
            .iter()
            .map(|p| (p.into(), BitFlags::from(AccessFs::Execute)))
            .chain(SHELL_ETC_READS.iter().map(|p| (p.into(), none)))
            .collect(),
    };
    if profile == Profile::Shell {
        let versioned = std::fs::read_dir("/etc").into_iter().flatten().flatten();
        reads.extend(
            versioned
                .map(|entry| entry.path())
                .filter(|path| {
                    path.file_name()
                        .and_then(|name| name.to_str())
                        .is_some_and(|name| SHELL_ETC_PREFIXES.iter().any(|p| name.starts_with(p)))
                })
                .map(|path| (path, none)),
        );
    }
    reads.retain(|(path, _)| path.exists());
    reads
}

/// Restricts rights to those Landlock accepts on a regular file.
fn file_rights(access: BitFlags<AccessFs>) -> BitFlags<AccessFs> {
    access & AccessFs::from_file(ABI::V4)
}

/// Opens `path` and pairs it with `access`, trimmed to file rights when it is a file.
fn beneath(path: &Path, access: BitFlags<AccessFs>) -> Result<PathBeneath<PathFd>, SandboxError> {
    let fd = PathFd::new(path).map_err(|e| SandboxError::Path {
        path: path.to_owned(),
        error: std::io::Error::other(e.to_string()),
    })?;
    let access = if path.is_dir() {
        access
    } else {
        file_rights(access)
    };
    Ok(PathBeneath::new(fd, access))
}
