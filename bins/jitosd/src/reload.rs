//! Reading the access file and the policy again while the daemon runs (`SIGHUP`, as
//! `systemctl reload jitosd` sends it), so an operator changes who may do what without a
//! restart that would interrupt running jobs.
//!
//! Both files are read and checked before anything changes: a reload whose files do not
//! load changes nothing, and the daemon goes on under what it had. The new access applies
//! from the next connection and the next HTTP request (a connection already open keeps
//! the principal it was greeted as); the new policy is recorded in the ledger, as at
//! start, and rules from the next decision on. A read-only daemon records nothing, so it
//! reloads the access file alone.

use std::{
    path::PathBuf,
    sync::{Arc, PoisonError, RwLock},
};

use jitos_kernel::{Command, KernelError, KernelHandle};
use jitos_ledger::Actor;
use tokio::sync::watch;

use crate::{
    access::Access,
    daemon::{log_policy_in_force, policy_change, warn_of_unreachable_users},
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
    /// The daemon is stopping.
    #[error("jitosd is stopping")]
    Stopping,
}

/// What a reload put in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reloaded {
    /// The access file and the policy.
    AccessAndPolicy {
        /// Whether the policy was recorded (not when it was the one in force already).
        policy_recorded: bool,
    },
    /// The access file alone: a read-only daemon records no policy, so it reads none.
    AccessOnly,
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
    /// Turns true when the daemon stops; nothing is reloaded after.
    pub(crate) stopping: watch::Receiver<bool>,
}

impl Reloader {
    /// Reads both files again and, if both load, puts them in force.
    pub async fn reload(&self) -> Result<Reloaded, ReloadError> {
        if *self.stopping.borrow() {
            return Err(ReloadError::Stopping);
        }
        let files = self.files.clone();
        let read_policy = !self.read_only;
        // Off the async threads: the files, and the user database the access file's
        // names are looked up in, may be slow to answer.
        let (access, policy) = tokio::task::spawn_blocking(move || {
            let access = Access::load(files.access.as_deref());
            if let Ok(access) = &access {
                warn_of_unreachable_users(access);
            }
            let policy = read_policy.then(|| crate::policy_file::load(files.policy.as_deref()));
            (access, policy)
        })
        .await
        .map_err(ReloadError::Read)?;
        let access = access.map_err(ReloadError::Access)?;
        let reloaded = match policy {
            None => Reloaded::AccessOnly,
            Some(policy) => {
                let policy = policy.map_err(ReloadError::Policy)?;
                if *self.stopping.borrow() {
                    return Err(ReloadError::Stopping);
                }
                let wanted = policy_change(&self.kernel.view(), policy);
                let policy_recorded = wanted.is_some();
                if let Some(wanted) = wanted {
                    let hash = wanted.hash();
                    self.kernel
                        .execute(Actor::System, Command::PolicyLoad(Arc::new(wanted)))
                        .await
                        .map_err(ReloadError::Record)?;
                    log_policy_in_force(&hash);
                }
                Reloaded::AccessAndPolicy { policy_recorded }
            }
        };
        if access.socket_group() != self.access.current().socket_group() {
            tracing::warn!(
                "the access file names another socket group; the socket keeps the one it was opened to until jitosd restarts"
            );
        }
        self.access.replace(access);
        Ok(reloaded)
    }

    /// Resolves when the daemon stops.
    pub async fn stopped(&mut self) {
        // An error is a dropped sender: the daemon is gone, which is stopped too.
        let _ = self.stopping.wait_for(|stopping| *stopping).await;
    }
}
