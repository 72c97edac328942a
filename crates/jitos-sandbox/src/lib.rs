//! Confinement for JITOS worker processes: Landlock, seccomp and resource limits.
//!
//! A [`Confinement`] turns a program and its arguments into a [`std::process::Command`]
//! that starts the program already confined. Everything that allocates (the Landlock
//! ruleset, the seccomp BPF programs) is prepared in the parent before `fork`; the
//! child only makes async-signal-safe system calls between `fork` and `execve`.
//!
//! Architecture Invariant: this crate knows nothing of jobs, writs or the ledger; it
//! only turns a description of allowed paths and limits into kernel-enforced rules.
//!
//! Architecture Invariant: there is no silent degraded mode. When Landlock (ABI ≥ 4) or
//! seccomp is missing, [`Confinement::command`] fails with [`SandboxError::Unsupported`];
//! only a caller that asks for [`Confinement::command_degraded`] runs a program without
//! them, and must say so to the operator.
//!
//! Note for callers: the kernel never applies `RLIMIT_NPROC` to uid 0, so a worker
//! started as root is bounded in processes only by its seccomp profile. Run workers
//! under an unprivileged uid (`CommandExt::uid`) to make the process limit bite.

// `pre_exec` is unsafe by nature: the closure runs in the forked child, where only
// async-signal-safe calls are sound. This crate is the one place that needs it; each
// unsafe block says why it is sound.
#![allow(unsafe_code)]

mod channel;
mod confine;
mod error;
mod kill_uid;
mod landlock_rules;
mod seccomp;

pub use channel::{pass_channel, CHANNEL_FD};
pub use confine::{status, Confinement, Limits, Profile, SandboxStatus};
pub use error::SandboxError;
pub use kill_uid::kill_uid;
