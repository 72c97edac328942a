//! Confinement for JITOS worker processes: Landlock, seccomp and resource limits.
//!
//! [`Confinement::spawn`] starts a program (a [`Spawn`]) already confined. Everything that
//! allocates (the Landlock ruleset, the seccomp BPF programs, the C strings) is prepared
//! in the parent; the child, which shares the parent's memory until it executes the
//! program, only makes raw system calls.
//!
//! Architecture Invariant: this crate knows nothing of jobs, writs or the ledger; it
//! only turns a description of allowed paths and limits into kernel-enforced rules.
//!
//! Architecture Invariant: there is no silent degraded mode. When Landlock (ABI ≥ 4) or
//! seccomp is missing, [`Confinement::spawn`] fails with [`SandboxError::Unsupported`];
//! only a caller that asks for [`Confinement::spawn_degraded`] runs a program without
//! them, and must say so to the operator.
//!
//! Architecture Invariant: a confined program never runs as root and never holds a
//! capability. A root caller must name an unprivileged uid ([`Spawn::uid`]; [`UidPool`]
//! lends host-wide unique ones); every path, degraded mode included, empties the
//! capability sets before `execve`.
//!
//! Architecture Invariant: outside its writable paths, nothing a confined program does
//! changes a file, its metadata included: Landlock governs opening, creating and
//! removing, and a private mount namespace in which everything else is mounted read-only
//! governs mode, owner, times and extended attributes, which Landlock does not cover.

// Starting a confined child and confining it take raw system calls on shared memory.
// This crate is the one place that needs `unsafe`; each block says why it is sound.
#![allow(unsafe_code)]

mod cgroup;
mod confine;
mod error;
mod kill_uid;
mod landlock_rules;
mod mount_view;
mod netns;
mod number_filter;
mod privileges;
mod reach;
mod seccomp;
mod spawn;
mod sys;
mod uid_pool;

pub use cgroup::{CgroupLease, CgroupRoot, CgroupUnavailable, CgroupVersion};
pub use confine::{status, Confinement, Limits, Profile, SandboxStatus};
pub use error::SandboxError;
pub use kill_uid::kill_uid;
pub use landlock_rules::{
    NETWORK_ETC_READS, PURE_READS, SHELL_ETC_READS, SHELL_READS_AND_EXECUTES,
};
pub use netns::{NetNamespace, NetNamespaceError};
pub use reach::{others_may, Unreachable, Use};
pub use seccomp::MACHINE_WIDE_CALLS;
pub use spawn::{Process, Spawn, Stdio, HANDED_FD_MAX};
pub use uid_pool::{give_tree, own_directory, LentUid, UidPool, LENT_UIDS_MAX, LENT_UID_BASE};

/// The descriptor a worker finds its channel on.
pub const CHANNEL_FD: i32 = 3;
