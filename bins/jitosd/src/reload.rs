//! Reading the access file and the policy again while the daemon runs (`SIGHUP`, as
//! `systemctl reload jitosd` sends it), so an operator changes who may do what without a
//! restart that would interrupt running jobs.
//!
//! Both files are read and checked before anything changes: a reload whose files do not
//! load changes nothing, and the daemon goes on under what it had. The new access applies
//! from the next connection and the next HTTP request (a connection already open keeps
//! the principal it was greeted as); the new policy is recorded in the ledger, as at
//! start, and rules from the next decision on.

use std::{
    path::PathBuf,
    sync::{Arc, PoisonError, RwLock},
};

use jitos_kernel::{Command, KernelError, KernelHandle};
use jitos_ledger::Actor;

use crate::{
    access::Access,
    daemon::{policy_change, warn_of_unreachable_users},
    policy_file::PolicyFileError,
};

/// Where the access file and the policy come from: the paths given at start (`--access`,
/// `--policy`), or none for the default paths, read again if they exist then.
#[derive(Debug, Clone, Default)]
pub struct GovernanceFiles {
    /// The access file given, if any.
    pub access: Option<PathBuf>,
    /// The policy given, if any.
    pub policy: Option<PathBuf>,
}

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The access file does not load.
    #[error("the access file does not load: {0}")]
    Access(#[source] jitos_tasks::SourceError),
    /// The policy does not load.
    #[error("the policy does not load: {0}")]
    Policy(#[source] PolicyFileError),
    /// The files could not be read off the async threads.
    #[error("the files could not be read: {0}")]
    Read(#[source] tokio::task::JoinError),
    /// The new policy could not be recorded; the access file was not applied either.
    #[error("the policy could not be recorded: {0}")]
    Record(#[source] KernelError),
}

/// What a reload changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reloaded {
    /// Whether a new policy was recorded (not when it was the one in force already).
    pub policy_recorded: bool,
}

/// Who may connect, and as what: swapped whole by a reload, read whole by each new
/// connection and request.
#[derive(Debug)]
pub struct AccessCell(RwLock<Arc<Access>>);

impl AccessCell {
    /// A cell holding `access`.
    pub fn new(access: Access) -> AccessCell {
        AccessCell(RwLock::new(Arc::new(access)))
    }

    /// The access in force now.
    pub fn current(&self) -> Arc<Access> {
        // A writer only swaps an `Arc`, so a poisoned lock still holds a whole one.
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn replace(&self, access: Access) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(access);
    }
}

/// Reloads a running daemon's access file and policy.
#[derive(Clone)]
pub struct Reloader {
    pub(crate) kernel: KernelHandle,
    pub(crate) access: Arc<AccessCell>,
    pub(crate) files: GovernanceFiles,
    /// A read-only daemon records nothing, so its policy stays what the ledger says.
    pub(crate) read_only: bool,
}

impl Reloader {
    /// Reads both files again and, if both load, puts them in force.
    pub async fn reload(&self) -> Result<Reloaded, ReloadError> {
        let files = self.files.clone();
        let (access, policy) = tokio::task::spawn_blocking(move || {
            (
                Access::load(files.access.as_deref()),
                crate::policy_file::load(files.policy.as_deref()),
            )
        })
        .await
        .map_err(ReloadError::Read)?;
        let access = access.map_err(ReloadError::Access)?;
        let policy = policy.map_err(ReloadError::Policy)?;
        let mut policy_recorded = false;
        if !self.read_only {
            if let Some(wanted) = policy_change(&self.kernel.view(), policy) {
                self.kernel
                    .execute(Actor::System, Command::PolicyLoad(Arc::new(wanted)))
                    .await
                    .map_err(ReloadError::Record)?;
                policy_recorded = true;
            }
        }
        let before = self.access.current();
        if access.socket_group() != before.socket_group() {
            tracing::warn!(
                "the access file names another socket group; the socket keeps the one it was opened to until jitosd restarts"
            );
        }
        warn_of_unreachable_users(&access);
        self.access.replace(access);
        Ok(Reloaded { policy_recorded })
    }
}
