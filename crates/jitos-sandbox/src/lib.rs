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
//! Note for callers: the kernel never applies `RLIMIT_NPROC` to uid 0, so a worker
//! started as root is bounded in processes only by its seccomp profile. Run workers
//! under an unprivileged uid ([`Spawn::uid`]) to make the process limit bite.

// Starting a confined child and confining it take raw system calls on shared memory.
// This crate is the one place that needs `unsafe`; each block says why it is sound.
#![allow(unsafe_code)]

mod confine;
mod error;
mod kill_uid;
mod landlock_rules;
mod number_filter;
mod seccomp;
mod spawn;

pub use confine::{status, Confinement, Limits, Profile, SandboxStatus};
pub use error::SandboxError;
pub use kill_uid::kill_uid;
pub use spawn::{Process, Spawn, Stdio, HANDED_FD_MAX};

/// The descriptor a worker finds its channel on.
pub const CHANNEL_FD: i32 = 3;
