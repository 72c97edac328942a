//! A control group per confined program, where the caller can make one: a pids limit and
//! a memory limit that hold for every uid and count the program's whole tree, whatever
//! it does to its rlimits or its uid.
//!
//! Both layouts the kernel offers are used: cgroup v2 (one hierarchy, both controllers in
//! one directory) and v1 (a hierarchy per controller, as on hosts that still mount
//! them). Children are made under the caller's own cgroup, in a group named by the
//! caller; v1 allows that anywhere root may write. v2 allows controllers in children only
//! when their parent holds no process, so there the caller's cgroup is used only when it
//! is the root cgroup (a container's own namespace) or holds the caller alone (a service
//! whose cgroup was delegated to it): the caller then moves itself into a leaf of its own
//! and enables `pids` and `memory` below.
//!
//! Where no group can be made, [`CgroupRoot::create`] says why and the caller relies on
//! rlimits (`RLIMIT_NPROC`, which binds every uid a confined program can have, and
//! `RLIMIT_AS`).

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Limits;

/// Which layout a hierarchy has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// One hierarchy per controller.
    V1,
    /// The unified hierarchy.
    V2,
}

impl CgroupVersion {
    /// 1 or 2.
    pub fn number(self) -> u8 {
        match self {
            CgroupVersion::V1 => 1,
            CgroupVersion::V2 => 2,
        }
    }
}

/// Where the groups of one caller are made, one directory per controller (the same one
/// under v2).
#[derive(Debug)]
pub struct CgroupRoot {
    version: CgroupVersion,
    /// The caller's group under the pids controller, and under the memory controller.
    pids: PathBuf,
    memory: PathBuf,
}

/// Why no group can be made here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CgroupUnavailable(pub String);

/// The group of one running program: made with its limits, emptied and removed when
/// dropped.
#[derive(Debug)]
pub struct CgroupLease {
    version: CgroupVersion,
    /// Its directories, one per hierarchy (one under v2).
    dirs: Vec<PathBuf>,
    /// `cgroup.procs` of each, open for writing: the child joins by writing `0`.
    procs: Vec<OwnedFd>,
}

/// How long dropping a lease waits for the kernel to let go of exited processes.
const EMPTY_WAIT: Duration = Duration::from_secs(2);

impl CgroupRoot {
    /// Whether this process could make groups, and of which version, without making
    /// any (for `jitos doctor`).
    pub fn available() -> Result<CgroupVersion, CgroupUnavailable> {
        match Layout::of_self().map_err(CgroupUnavailable)? {
            Layout::V1 { pids, memory } => {
                for dir in [&pids, &memory] {
                    writable(dir).map_err(CgroupUnavailable)?;
                }
                Ok(CgroupVersion::V1)
            }
            Layout::V2 { own } => {
                v2_may_delegate(&own).map_err(CgroupUnavailable)?;
                writable(&own).map_err(CgroupUnavailable)?;
                Ok(CgroupVersion::V2)
            }
        }
    }

    /// Finds where this process may make groups with both controllers and makes its own
    /// group `name` there, emptied of what a killed caller of the same name left.
    pub fn create(name: &str) -> Result<CgroupRoot, CgroupUnavailable> {
        let unavailable = |why: String| CgroupUnavailable(why);
        let layout = Layout::of_self().map_err(unavailable)?;
        let (pids_own, memory_own) = match &layout {
            Layout::V1 { pids, memory } => (pids.clone(), memory.clone()),
            Layout::V2 { own } => {
                let own = delegate_v2(own).map_err(unavailable)?;
                (own.clone(), own)
            }
        };
        let version = match layout {
            Layout::V1 { .. } => CgroupVersion::V1,
            Layout::V2 { .. } => CgroupVersion::V2,
        };
        let root = CgroupRoot {
            version,
            pids: pids_own.join(name),
            memory: memory_own.join(name),
        };
        for dir in root.dirs() {
            empty_and_remove_children(dir);
            match std::fs::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(unavailable(format!("cannot make {}: {e}", dir.display()))),
            }
        }
        if version == CgroupVersion::V2 {
            write(&root.pids.join("cgroup.subtree_control"), "+pids +memory").map_err(|e| {
                unavailable(format!(
                    "cannot enable pids and memory below {}: {e}",
                    root.pids.display()
                ))
            })?;
        }
        Ok(root)
    }

    /// Makes the group `<prefix><pid of this process>`, and first removes every other
    /// `<prefix><pid>` whose process is gone (what callers that were killed left), with
    /// what still runs in them. For callers that make one group each, like
    /// `jitos sandbox exec`.
    pub fn create_for_this_process(prefix: &str) -> Result<CgroupRoot, CgroupUnavailable> {
        let root = CgroupRoot::create(&format!("{prefix}{}", std::process::id()))?;
        let mut gone = std::collections::BTreeSet::new();
        for dir in root.dirs() {
            let Some(parent) = dir.parent() else { continue };
            let Ok(siblings) = std::fs::read_dir(parent) else {
                continue;
            };
            for sibling in siblings.flatten() {
                let name = sibling.file_name().to_string_lossy().into_owned();
                let pid = name
                    .strip_prefix(prefix)
                    .and_then(|p| p.parse::<libc::pid_t>().ok());
                let dead = pid.is_some_and(|pid| {
                    // SAFETY: kill with signal 0 only asks whether the process exists.
                    let asked = unsafe { libc::kill(pid, 0) };
                    asked < 0 && crate::sys::last_errno() == libc::ESRCH
                });
                if dead {
                    gone.insert(name);
                }
            }
        }
        for name in gone {
            root.remove_sibling(&name);
        }
        Ok(root)
    }

    /// Removes the group `name` beside this one (another caller's, left behind), with
    /// what still runs in it.
    pub fn remove_sibling(&self, name: &str) {
        for dir in self.dirs() {
            let Some(sibling) = dir.parent().map(|parent| parent.join(name)) else {
                continue;
            };
            if sibling.is_dir() && sibling != dir {
                empty_and_remove_children(&sibling);
                kill_members(&sibling, self.version);
                remove_when_empty(&sibling);
            }
        }
    }

    /// Its layout.
    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    fn dirs(&self) -> Vec<&Path> {
        let mut dirs = vec![self.pids.as_path()];
        if self.memory != self.pids {
            dirs.push(&self.memory);
        }
        dirs
    }

    /// Makes the group `child` with `limits` (processes, and address space as memory).
    pub fn lease(&self, child: &str, limits: &Limits) -> std::io::Result<CgroupLease> {
        let mut lease = CgroupLease {
            version: self.version,
            dirs: Vec::new(),
            procs: Vec::new(),
        };
        for parent in self.dirs() {
            let dir = parent.join(child);
            std::fs::create_dir(&dir)?;
            lease.dirs.push(dir);
        }
        let memory_file = match self.version {
            CgroupVersion::V1 => "memory.limit_in_bytes",
            CgroupVersion::V2 => "memory.max",
        };
        write(
            &self.pids.join(child).join("pids.max"),
            &limits.processes.to_string(),
        )?;
        write(
            &self.memory.join(child).join(memory_file),
            &limits.address_space_bytes.to_string(),
        )?;
        for dir in &lease.dirs {
            let procs = File::options().write(true).open(dir.join("cgroup.procs"))?;
            lease.procs.push(procs.into());
        }
        Ok(lease)
    }
}

impl Drop for CgroupRoot {
    fn drop(&mut self) {
        for dir in self.dirs() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

impl CgroupLease {
    /// The `cgroup.procs` descriptors a child writes `0` to, to join.
    pub(crate) fn procs(&self) -> Vec<std::io::Result<OwnedFd>> {
        self.procs.iter().map(OwnedFd::try_clone).collect()
    }

    /// Kills every process in the group.
    pub fn kill_all(&self) {
        for dir in &self.dirs {
            kill_members(dir, self.version);
        }
    }
}

impl Drop for CgroupLease {
    fn drop(&mut self) {
        self.kill_all();
        for dir in &self.dirs {
            remove_when_empty(dir);
        }
    }
}

/// Where the controllers are, read from `/proc/self/cgroup` and `/proc/self/mountinfo`.
#[derive(Debug, PartialEq, Eq)]
enum Layout {
    /// v1: the caller's group in the pids hierarchy and in the memory hierarchy.
    V1 { pids: PathBuf, memory: PathBuf },
    /// v2: the caller's group in the unified hierarchy (which holds both controllers).
    V2 { own: PathBuf },
}

impl Layout {
    /// The layout this process sees.
    fn of_self() -> Result<Layout, String> {
        let membership = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
        let mounts = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
        Layout::find(&membership, &mounts)
    }

    /// v1 when both controllers have v1 hierarchies, else v2 when the unified hierarchy
    /// offers both, else why neither serves.
    fn find(membership: &str, mountinfo: &str) -> Result<Layout, String> {
        let v1 = |controller: &str| -> Option<PathBuf> {
            let path = membership.lines().find_map(|line| {
                let mut fields = line.splitn(3, ':');
                let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
                controllers
                    .split(',')
                    .any(|c| c == controller)
                    .then_some(path)
            })?;
            let mount = mountinfo.lines().find_map(|line| {
                let mount = Mount::parse(line)?;
                (mount.fstype == "cgroup"
                    && mount.super_options.split(',').any(|o| o == controller))
                .then_some(mount)
            })?;
            mount.place(path)
        };
        if let (Some(pids), Some(memory)) = (v1("pids"), v1("memory")) {
            return Ok(Layout::V1 { pids, memory });
        }
        let path = membership
            .lines()
            .find_map(|line| line.strip_prefix("0::"))
            .ok_or("neither cgroup v1 hierarchies for pids and memory nor cgroup v2 are in use")?;
        let own = mountinfo
            .lines()
            .filter_map(Mount::parse)
            .find(|mount| mount.fstype == "cgroup2")
            .and_then(|mount| mount.place(path))
            .ok_or("cgroup v2 is not mounted where this process can see its own group")?;
        Ok(Layout::V2 { own })
    }
}

/// One line of `/proc/self/mountinfo`, the fields used here.
struct Mount<'a> {
    root: &'a str,
    point: &'a str,
    fstype: &'a str,
    super_options: &'a str,
}

impl<'a> Mount<'a> {
    fn parse(line: &'a str) -> Option<Mount<'a>> {
        let (before, after) = line.split_once(" - ")?;
        let before: Vec<&str> = before.split(' ').collect();
        let mut after = after.split(' ');
        Some(Mount {
            root: before.get(3)?,
            point: before.get(4)?,
            fstype: after.next()?,
            super_options: after.nth(1)?,
        })
    }

    /// The directory of the group `path` (as `/proc/self/cgroup` names it) under this
    /// mount, if the mount shows it.
    fn place(&self, path: &str) -> Option<PathBuf> {
        let below = if self.root == "/" {
            path
        } else {
            path.strip_prefix(self.root)?
        };
        Some(Path::new(self.point).join(below.trim_start_matches('/')))
    }
}

/// Whether `dir` is a directory this process may make groups in.
fn writable(dir: &Path) -> Result<(), String> {
    let path = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(dir.as_os_str()))
        .map_err(|_| format!("{} is not a path", dir.display()))?;
    // SAFETY: access reads a live NUL-terminated string.
    if unsafe { libc::access(path.as_ptr(), libc::W_OK) } == 0 {
        Ok(())
    } else {
        Err(format!(
            "cannot make control groups in {}: {}",
            dir.display(),
            std::io::Error::last_os_error()
        ))
    }
}

/// Under v2, whether `own` can become a group whose children have pids and memory: it
/// offers both, and is the root group or holds this process alone. Returns whether it is
/// the root group.
fn v2_may_delegate(own: &Path) -> Result<bool, String> {
    let controllers = std::fs::read_to_string(own.join("cgroup.controllers")).unwrap_or_default();
    let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
    if !(has("pids") && has("memory")) {
        return Err(format!(
            "cgroup v2 at {} does not offer the pids and memory controllers (offered: {})",
            own.display(),
            controllers.trim()
        ));
    }
    let is_root = !own.join("cgroup.type").exists();
    let members = std::fs::read_to_string(own.join("cgroup.procs")).unwrap_or_default();
    let me = std::process::id().to_string();
    if !is_root && members.lines().any(|pid| pid != me) {
        return Err(format!(
            "this process shares its cgroup {} with others, and cgroup v2 gives limits to child \
             groups only of a group that holds no process: run it in a cgroup of its own (a \
             systemd service with Delegate=yes)",
            own.display()
        ));
    }
    Ok(is_root)
}

/// Under v2, makes `own` a group whose children may have pids and memory: the root group
/// as it is, or a group holding this process alone, which then moves into a leaf of its
/// own (`own/jitosd`) so that `own` holds no process.
fn delegate_v2(own: &Path) -> Result<PathBuf, String> {
    let is_root = v2_may_delegate(own)?;
    if !is_root {
        let me = std::process::id().to_string();
        let leaf = own.join("jitosd");
        match std::fs::create_dir(&leaf) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot make {}: {e}", leaf.display())),
        }
        write(&leaf.join("cgroup.procs"), &me)
            .map_err(|e| format!("cannot move into {}: {e}", leaf.display()))?;
    }
    write(&own.join("cgroup.subtree_control"), "+pids +memory")
        .map_err(|e| format!("cannot enable pids and memory below {}: {e}", own.display()))?;
    Ok(own.to_owned())
}

/// Kills what a killed caller's groups under `dir` still hold and removes them.
fn empty_and_remove_children(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for child in entries.flatten().filter(|e| e.path().is_dir()) {
        let version = if child.path().join("cgroup.kill").exists() {
            CgroupVersion::V2
        } else {
            CgroupVersion::V1
        };
        kill_members(&child.path(), version);
        remove_when_empty(&child.path());
    }
}

/// Sends SIGKILL to every process of the group `dir`.
fn kill_members(dir: &Path, version: CgroupVersion) {
    if version == CgroupVersion::V2 && write(&dir.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    // v1 (or a v2 kernel before 5.14): one by one, again until none is left, since a
    // member may fork meanwhile (its pids limit bounds how often).
    let members = || -> Vec<libc::pid_t> {
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    for _ in 0..64 {
        let pids = members();
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            // A pidfd pins the process: once it is known to still be a member, the
            // signal cannot reach another process that took the number meanwhile.
            // SAFETY: pidfd_open takes a pid and flags.
            let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            if pidfd < 0 {
                continue;
            }
            if members().contains(&pid) {
                // SAFETY: a pidfd just opened, a signal, no siginfo.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        pidfd,
                        libc::SIGKILL,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    )
                };
            }
            // SAFETY: the pidfd opened above, not used again.
            unsafe { libc::close(pidfd as libc::c_int) };
        }
    }
}

/// Removes the group `dir` once the kernel has let go of its exited members.
fn remove_when_empty(dir: &Path) {
    let deadline = std::time::Instant::now() + EMPTY_WAIT;
    while let Err(e) = std::fs::remove_dir(dir) {
        if e.kind() == std::io::ErrorKind::NotFound || std::time::Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// Joins the groups whose `cgroup.procs` are `procs`; in the child, raw system calls only.
pub(crate) fn join(procs: &[OwnedFd]) -> Result<(), i32> {
    for fd in procs {
        // SAFETY: a one-byte write from a static buffer to a descriptor the parent opened.
        let written = unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) };
        if written < 0 {
            return Err(crate::sys::last_errno());
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const V1_CGROUP: &str = "9:name=systemd:/\n8:pids:/\n4:memory:/api/6bcc\n0::/\n";
    const V1_MOUNTS: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    // Goal: on a host with v1 hierarchies for both controllers (as this project's CI),
    // the groups are found under each hierarchy's mount at the caller's path. Method:
    // parse a recorded /proc/self/cgroup and mountinfo.
    #[test]
    fn v1_hierarchies_are_found_per_controller() {
        assert_eq!(
            Layout::find(V1_CGROUP, V1_MOUNTS).unwrap(),
            Layout::V1 {
                pids: "/sys/fs/cgroup/pids".into(),
                memory: "/sys/fs/cgroup/memory/api/6bcc".into(),
            }
        );
    }

    // Goal: on a unified host the caller's group is found under the cgroup2 mount, also
    // when the mount shows only a subtree (a container's namespace). Method: parse both.
    #[test]
    fn the_unified_hierarchy_is_found_under_its_mount() {
        let membership = "0::/system.slice/jitosd.service\n";
        let mounts = "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            Layout::find(membership, mounts).unwrap(),
            Layout::V2 {
                own: "/sys/fs/cgroup/system.slice/jitosd.service".into()
            }
        );
        let bound = "30 25 0:26 /system.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let membership = "0::/system.slice/box\n";
        assert_eq!(
            Layout::find(membership, bound).unwrap(),
            Layout::V2 {
                own: "/sys/fs/cgroup/box".into()
            }
        );
    }

    // Goal: a host with neither layout is reported, not guessed at. Method: no cgroup2
    // line and no v1 pids hierarchy.
    #[test]
    fn neither_layout_is_an_explained_refusal() {
        let why = Layout::find("4:memory:/\n", V1_MOUNTS).unwrap_err();
        assert!(why.contains("neither"), "{why}");
    }
}
