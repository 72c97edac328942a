//! The Landlock ruleset of a confinement, built in the parent before fork.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreatedAttr, Scope, ABI,
};

use crate::{Profile, SandboxError};

/// System directories every worker may read (and, under `Shell`, execute from).
const SYSTEM_PATHS: &[&str] = &["/usr", "/bin", "/lib", "/lib64", "/etc"];

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

/// Builds the ruleset and returns its file descriptor, ready for `landlock_restrict_self`.
pub(crate) fn build(
    profile: Profile,
    program: &Path,
    read_only: &[PathBuf],
    read_write: &[PathBuf],
) -> Result<OwnedFd, SandboxError> {
    let version = abi_version();
    if version < 4 {
        return Err(SandboxError::Unsupported {
            feature: "Landlock ABI 4",
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
    let system_access = match profile {
        Profile::Pure => read,
        Profile::Shell => read | AccessFs::Execute,
    };
    for path in SYSTEM_PATHS.iter().map(Path::new).filter(|p| p.exists()) {
        created = created.add_rule(beneath(path, system_access)?)?;
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
        created = created.add_rule(beneath(path, rights)?)?;
    }
    let fd: Option<OwnedFd> = created.into();
    fd.ok_or(SandboxError::Unsupported {
        feature: "Landlock ruleset",
        detail: "the ruleset was not created".to_owned(),
    })
}

/// Restricts rights to those Landlock accepts on a regular file.
fn file_rights(access: BitFlags<AccessFs>) -> BitFlags<AccessFs> {
    access & AccessFs::from_file(ABI::V4)
}

/// Opens `path` and pairs it with `access`, trimmed to file rights when it is a file.
fn beneath(path: &Path, access: BitFlags<AccessFs>) -> Result<PathBeneath<PathFd>, SandboxError> {
    let fd = PathFd::new(path).map_err(|e| SandboxError::Path {
        path: path.to_owned(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let access = if path.is_dir() {
        access
    } else {
        file_rights(access)
    };
    Ok(PathBeneath::new(fd, access))
}
