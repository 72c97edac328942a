//! Version 1 of every payload: the layouts written before payloads had versions, when each
//! record held bincode of the kernel's in-memory types. They are frozen copies of those
//! types as they were then; `tests.rs` checks them against the bytes the old types wrote.
//!
//! Every kind but `worker.install` is still written at version 1. A kind added since has
//! its first version here too (`access.refused`, `writ.*`, `policy.*`, `process.vote`).

pub(crate) mod access;
pub(crate) mod connect;
pub(crate) mod effect;
pub(crate) mod fetch;

pub(crate) mod job;
pub(crate) mod policy;
pub(crate) mod process;
pub(crate) mod sws;
pub(crate) mod warp;
pub(crate) mod writ;
