//! The confined program's private view of the file system: mount and IPC namespaces of
//! its own, in which every mount is read-only except its writable paths.
//!
//! Landlock decides which files a program may open, create or remove, but has no right
//! for changing a file's metadata: mode, owner, times and extended attributes. A
//! read-only mount refuses all four (`EROFS`) for every file on it, whoever asks, so the
//! metadata of everything outside the writable paths stays as it is. Device nodes keep
//! working on a read-only mount, so `/dev/null` is still writable. The IPC namespace
//! keeps the program from the System V shared memory, queues and semaphores of everyone
//! else (and of programs that had its uid before), which no other layer covers.
//!
//! A caller that is root makes the namespaces with its own privilege; any other caller
//! first makes a user namespace of its own that maps only its uid and gid, which gives it
//! the privilege over those namespaces and nothing outside them.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use crate::privileges::Identity;
use crate::sys::{check, last_errno};
use crate::SandboxError;

/// A writable path, opened once in the parent: Landlock's rule and the view's bind both
/// come from this one lookup, so no change of the path between them can make them
/// differ.
#[derive(Debug)]
pub(crate) struct WritablePath {
    /// The path, canonical.
    path: CString,
    /// An `O_PATH` descriptor of it, opened without following any symlink.
    fd: OwnedFd,
    /// What it is, to check the child's own lookup against.
    dev: libc::dev_t,
    ino: libc::ino_t,
    /// Whether it is a directory.
    is_dir: bool,
}

impl WritablePath {
    /// Opens each path of `paths`, canonical, refusing a symlink anywhere on the way.
    pub(crate) fn open_all(paths: &[PathBuf]) -> Result<Vec<WritablePath>, SandboxError> {
        paths.iter().map(|path| WritablePath::open(path)).collect()
    }

    fn open(path: &Path) -> Result<WritablePath, SandboxError> {
        let unusable = |error| SandboxError::Path {
            path: path.to_owned(),
            error,
        };
        let canonical = path.canonicalize().map_err(unusable)?;
        let c_path = c_string(canonical.as_os_str().as_bytes())?;
        let fd = open_no_symlinks(&c_path)
            .map_err(|errno| unusable(std::io::Error::from_raw_os_error(errno)))?;
        // SAFETY: `fd` is a descriptor just opened, owned from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let stat = stat_of(fd.as_raw_fd())
            .map_err(|errno| unusable(std::io::Error::from_raw_os_error(errno)))?;
        Ok(WritablePath {
            path: c_path,
            fd,
            dev: stat.st_dev,
            ino: stat.st_ino,
            is_dir: stat.st_mode & libc::S_IFMT == libc::S_IFDIR,
        })
    }

    /// The descriptor, for Landlock's rule.
    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Whether it is a directory.
    pub(crate) fn is_dir(&self) -> bool {
        self.is_dir
    }
}

/// What the child sets up, prepared in the parent.
#[derive(Debug)]
pub(crate) struct MountView {
    /// For a caller that is not root, the user namespace's maps.
    id_maps: Option<IdMaps>,
    /// The writable paths, as the parent saw them.
    writable: Vec<(CString, libc::dev_t, libc::ino_t)>,
    /// For each writable path, the child's descriptor of it and of its detached copy,
    /// written by the child between its steps (it may not allocate).
    opened: Vec<[AtomicI32; 2]>,
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

/// The namespaces every confined program gets.
const NAMESPACES: libc::c_int = libc::CLONE_NEWNS | libc::CLONE_NEWIPC;

impl MountView {
    /// The view for a program run as `identity` that may write `writable`.
    pub(crate) fn new(
        identity: Identity,
        writable: &[WritablePath],
    ) -> Result<MountView, SandboxError> {
        let id_maps = match identity {
            Identity::Become(_) => None,
            Identity::Keep { uid, gid } => Some(IdMaps {
                uid_map: c_string(format!("{uid} {uid} 1\n").as_bytes())?,
                gid_map: c_string(format!("{gid} {gid} 1\n").as_bytes())?,
            }),
        };
        Ok(MountView {
            id_maps,
            writable: writable
                .iter()
                .map(|w| (w.path.clone(), w.dev, w.ino))
                .collect(),
            opened: writable
                .iter()
                .map(|_| [AtomicI32::new(-1), AtomicI32::new(-1)])
                .collect(),
        })
    }

    /// Whether the child makes a user namespace of its own.
    pub(crate) fn own_user_namespace(&self) -> bool {
        self.id_maps.is_some()
    }

    /// Enters the new namespaces and makes the view; in the child, raw system calls
    /// only. The error is the errno of the call that failed.
    ///
    /// The writable paths are copied (each with the mounts below it, which keep their
    /// own flags) before the whole tree is made read-only, then attached back over
    /// themselves with only their top mount made writable: a read-only mount below a
    /// writable path stays read-only.
    pub(crate) fn enter(&self) -> Result<(), i32> {
        match &self.id_maps {
            Some(maps) => {
                // SAFETY: unshare takes flags only.
                check(unsafe { libc::unshare(libc::CLONE_NEWUSER | NAMESPACES) }.into())?;
                write_file(c"/proc/self/setgroups", SETGROUPS_DENY)?;
                write_file(c"/proc/self/uid_map", maps.uid_map.as_bytes())?;
                write_file(c"/proc/self/gid_map", maps.gid_map.as_bytes())?;
            }
            // SAFETY: unshare takes flags only.
            None => check(unsafe { libc::unshare(NAMESPACES) }.into())?,
        }
        for ((path, dev, ino), [target, copy]) in self.writable.iter().zip(&self.opened) {
            let fd = open_no_symlinks(path)?;
            target.store(fd, Ordering::Relaxed);
            let stat = stat_of(fd)?;
            if (stat.st_dev, stat.st_ino) != (*dev, *ino) {
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
            copy.store(tree as libc::c_int, Ordering::Relaxed);
        }
        // Private first and in the same call: nothing done here may propagate back to the
        // namespace the caller lives in.
        set_attributes(
            libc::AT_FDCWD,
            c"/",
            libc::AT_RECURSIVE,
            libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID,
            0,
            libc::MS_PRIVATE,
        )?;
        for [target, copy] in &self.opened {
            let (target, copy) = (target.load(Ordering::Relaxed), copy.load(Ordering::Relaxed));
            set_attributes(
                copy,
                c"",
                libc::AT_EMPTY_PATH,
                0,
                libc::MOUNT_ATTR_RDONLY,
                0,
            )?;
            // SAFETY: both descriptors are open (close-on-exec); the empty paths are live
            // literals.
            check(unsafe {
                libc::syscall(
                    libc::SYS_move_mount,
                    copy,
                    c"".as_ptr(),
                    target,
                    c"".as_ptr(),
                    libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
                )
            })?;
        }
        Ok(())
    }
}

/// Whether this kernel lets the caller make the view: mount and IPC namespaces (with a
/// user namespace unless root) whose root can be made read-only. Asked in a short-lived
/// child, so the caller's own namespaces are untouched.
pub(crate) fn available() -> bool {
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid takes no arguments.
    let flags = if unsafe { libc::geteuid() } == 0 {
        NAMESPACES
    } else {
        libc::CLONE_NEWUSER | NAMESPACES
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
                && set_attributes(
                    libc::AT_FDCWD,
                    c"/",
                    libc::AT_RECURSIVE,
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

/// `openat2(AT_FDCWD, path, O_PATH | O_CLOEXEC, RESOLVE_NO_SYMLINKS)`: the path exactly
/// as written, or an error if any part of it is a symlink.
fn open_no_symlinks(path: &std::ffi::CStr) -> Result<libc::c_int, i32> {
    // SAFETY: an all-zero open_how asks for nothing; the fields are set below.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_NO_SYMLINKS;
    // SAFETY: the path is a live NUL-terminated string and `how` a live open_how of the
    // size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    check(fd)?;
    Ok(fd as libc::c_int)
}

/// What `fd` refers to, by raw `fstat`.
fn stat_of(fd: libc::c_int) -> Result<libc::stat, i32> {
    // SAFETY: an all-zero stat is a valid buffer for fstat to fill.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `stat` is a live buffer; a closed `fd` gives EBADF.
    check(unsafe { libc::fstat(fd, &mut stat) }.into())?;
    Ok(stat)
}

/// `mount_setattr(dir, path, flags, …)`: sets and clears attributes and sets the
/// propagation of the mount at `path` (from `dir`), and with `AT_RECURSIVE` of every mount
/// below it.
fn set_attributes(
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
            flags as libc::c_uint,
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
