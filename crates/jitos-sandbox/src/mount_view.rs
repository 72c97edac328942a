//! The confined program's private view of the file system: a mount namespace of its own
//! in which every mount is read-only except bind mounts of its writable paths.
//!
//! Landlock decides which files a program may open, create or remove, but has no right
//! for changing a file's metadata: mode, owner, times and extended attributes. A
//! read-only mount refuses all four (`EROFS`) for every file on it, whoever asks, so the
//! metadata of everything outside the writable paths stays as it is. Device nodes keep
//! working on a read-only mount, so `/dev/null` is still writable.
//!
//! A caller that is root makes the namespace with its own privilege; any other caller
//! first makes a user namespace of its own that maps only its uid and gid, which gives it
//! the privilege over that mount namespace and nothing outside it.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::privileges::Identity;
use crate::sys::{check, last_errno};
use crate::SandboxError;

/// What the child sets up, prepared in the parent.
#[derive(Debug)]
pub(crate) struct MountView {
    /// For a caller that is not root, the user namespace's maps.
    id_maps: Option<IdMaps>,
    /// The paths bound writable again.
    writable: Vec<Writable>,
}

/// A path bound writable again: canonical, with the identity of what it named when the
/// parent looked, so the child binds exactly that even if the path was changed since.
#[derive(Debug)]
struct Writable {
    path: CString,
    dev: libc::dev_t,
    ino: libc::ino_t,
}

/// The contents of `/proc/self/{setgroups,uid_map,gid_map}` for a user namespace that
/// maps only the caller's own ids.
#[derive(Debug)]
struct IdMaps {
    uid_map: CString,
    gid_map: CString,
}

/// `/proc/self/setgroups` must say `deny` before an unprivileged process may write its
/// gid map; the program then cannot drop groups to get past a group's denial either.
const SETGROUPS_DENY: &[u8] = b"deny";

impl MountView {
    /// The view for a program run as `identity` that may write `writable`.
    pub(crate) fn new(identity: Identity, writable: &[PathBuf]) -> Result<MountView, SandboxError> {
        let id_maps = match identity {
            Identity::Become(_) => None,
            Identity::Keep { uid, gid } => Some(IdMaps {
                uid_map: c_string(format!("{uid} {uid} 1\n").as_bytes())?,
                gid_map: c_string(format!("{gid} {gid} 1\n").as_bytes())?,
            }),
        };
        let writable = writable
            .iter()
            .map(|path| {
                let unusable = |error| SandboxError::Path {
                    path: path.clone(),
                    error,
                };
                let canonical = path.canonicalize().map_err(unusable)?;
                let meta = std::fs::metadata(&canonical).map_err(unusable)?;
                Ok(Writable {
                    path: c_string(canonical.as_os_str().as_bytes())?,
                    dev: std::os::unix::fs::MetadataExt::dev(&meta),
                    ino: std::os::unix::fs::MetadataExt::ino(&meta),
                })
            })
            .collect::<Result<_, SandboxError>>()?;
        Ok(MountView { id_maps, writable })
    }

    /// Whether the child makes a user namespace of its own.
    pub(crate) fn own_user_namespace(&self) -> bool {
        self.id_maps.is_some()
    }

    /// Enters the new namespaces and makes the view; in the child, raw system calls
    /// only. The error is the errno of the call that failed.
    pub(crate) fn enter(&self) -> Result<(), i32> {
        match &self.id_maps {
            Some(maps) => {
                // SAFETY: unshare takes flags only.
                check(unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) }.into())?;
                write_file(c"/proc/self/setgroups", SETGROUPS_DENY)?;
                write_file(c"/proc/self/uid_map", maps.uid_map.as_bytes())?;
                write_file(c"/proc/self/gid_map", maps.gid_map.as_bytes())?;
            }
            // SAFETY: unshare takes flags only.
            None => check(unsafe { libc::unshare(libc::CLONE_NEWNS) }.into())?,
        }
        // Private first and in the same call: nothing done here may propagate back to the
        // namespace the daemon lives in.
        set_attributes_at(
            libc::AT_FDCWD,
            c"/",
            0,
            libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID,
            0,
            libc::MS_PRIVATE,
        )?;
        for writable in &self.writable {
            writable.bind()?;
        }
        Ok(())
    }
}

impl Writable {
    /// Binds the path writable again over itself, in the child: opened without
    /// following any symlink and checked to be what the parent saw, then cloned as a
    /// detached tree (recursive, so mounts below it stay visible and, in a user
    /// namespace, no mount hiding something comes off it), made writable, and attached
    /// through descriptors only, so nothing is looked up by name twice.
    fn bind(&self) -> Result<(), i32> {
        // SAFETY: an all-zero open_how asks for nothing; the fields are set below.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
        how.resolve = libc::RESOLVE_NO_SYMLINKS;
        // SAFETY: the path is a live NUL-terminated string and `how` a live open_how of
        // the size passed.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                libc::AT_FDCWD,
                self.path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        check(fd)?;
        let fd = fd as libc::c_int;
        let bound = self.bind_at(fd);
        // SAFETY: `fd` was opened above and is not used again.
        unsafe { libc::close(fd) };
        bound
    }

    fn bind_at(&self, fd: libc::c_int) -> Result<(), i32> {
        // SAFETY: an all-zero stat is a valid buffer for fstat to fill.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `fd` is open and `stat` a live buffer.
        check(unsafe { libc::fstat(fd, &mut stat) }.into())?;
        if (stat.st_dev, stat.st_ino) != (self.dev, self.ino) {
            return Err(libc::ESTALE);
        }
        // SAFETY: `fd` is open; the empty path is a live string literal.
        let tree = unsafe {
            libc::syscall(
                libc::SYS_open_tree,
                fd,
                c"".as_ptr(),
                libc::OPEN_TREE_CLONE
                    | libc::OPEN_TREE_CLOEXEC as libc::c_uint
                    | libc::AT_EMPTY_PATH as libc::c_uint
                    | libc::AT_RECURSIVE as libc::c_uint,
            )
        };
        check(tree)?;
        let tree = tree as libc::c_int;
        let attached = set_attributes_at(
            tree,
            c"",
            libc::AT_EMPTY_PATH,
            0,
            libc::MOUNT_ATTR_RDONLY,
            0,
        )
        .and_then(|()| {
            // SAFETY: both descriptors are open; the empty paths are live literals.
            check(unsafe {
                libc::syscall(
                    libc::SYS_move_mount,
                    tree,
                    c"".as_ptr(),
                    fd,
                    c"".as_ptr(),
                    libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
                )
            })
        });
        // SAFETY: `tree` was opened above and is not used again.
        unsafe { libc::close(tree) };
        attached
    }
}

/// Whether this kernel lets the caller make the view: a mount namespace (with a user
/// namespace unless root) whose root can be made read-only. Asked in a short-lived child,
/// so the caller's own namespaces are untouched.
pub(crate) fn available() -> bool {
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid takes no arguments.
    let flags = if unsafe { libc::geteuid() } == 0 {
        libc::CLONE_NEWNS
    } else {
        libc::CLONE_NEWUSER | libc::CLONE_NEWNS
    };
    // The program is never executed: the child exits inside `pre_exec`.
    let mut command = std::process::Command::new("/");
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: the closure makes raw system calls (unshare, mount_setattr, _exit), each
    // async-signal-safe, on a string literal.
    unsafe {
        command.pre_exec(move || {
            let made = libc::unshare(flags) == 0
                && set_attributes_at(
                    libc::AT_FDCWD,
                    c"/",
                    0,
                    libc::MOUNT_ATTR_RDONLY,
                    0,
                    libc::MS_PRIVATE,
                )
                .is_ok();
            libc::_exit(if made { 0 } else { 1 })
        });
    }
    command.status().is_ok_and(|status| status.success())
}

/// `mount_setattr(dir, path, AT_RECURSIVE | flags, …)`: sets and clears attributes and
/// sets the propagation of the mount at `path` (from `dir`) and every mount below it.
fn set_attributes_at(
    dir: libc::c_int,
    path: &std::ffi::CStr,
    flags: libc::c_int,
    set: u64,
    clear: u64,
    propagation: libc::c_ulong,
) -> Result<(), i32> {
    let attributes = libc::mount_attr {
        attr_set: set,
        attr_clr: clear,
        propagation,
        userns_fd: 0,
    };
    // SAFETY: the path is a live NUL-terminated string and `attributes` a live
    // mount_attr of the size passed.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dir,
            path.as_ptr(),
            (libc::AT_RECURSIVE | flags) as libc::c_uint,
            &attributes as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    })
}

/// Writes `bytes` to the file at `path` in one call, with raw system calls.
fn write_file(path: &std::ffi::CStr, bytes: &[u8]) -> Result<(), i32> {
    // SAFETY: the path is a live NUL-terminated string.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    check(fd.into())?;
    // SAFETY: `bytes` is a live buffer of the length passed; `fd` was opened above.
    let written = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    let result = match written {
        n if n < 0 => Err(last_errno()),
        n if n as usize != bytes.len() => Err(libc::EIO),
        _ => Ok(()),
    };
    // SAFETY: `fd` was opened above and is not used again.
    unsafe { libc::close(fd) };
    result
}

fn c_string(bytes: &[u8]) -> Result<CString, SandboxError> {
    CString::new(bytes).map_err(|_| SandboxError::Path {
        path: Path::new(std::ffi::OsStr::from_bytes(bytes)).to_owned(),
        error: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    })
}
