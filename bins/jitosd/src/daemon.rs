//! Start-up and the accept loop: lock the data dir, open and verify the store, recover,
//! bind the private socket, serve until asked to stop, then shut down in order.

use std::{
    future::Future,
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use jitos_kernel::{Command, FollowOn, Kernel, KernelError, KernelOptions, KernelService};
use jitos_ledger::Clock;
use jitos_tasks::Library;
use tokio::{net::UnixListener, sync::watch, task::JoinSet};

use crate::{
    access::{groups_of, Access, Audit},
    connection::{self, Shared},
    jobs::{self, JobRunner, RunnerDirs, WorkerConfig},
    lock::{DataDirLock, LockError},
    processes::{self, ProcessService, Scheduler},
    reload::{AccessCell, GovernanceFiles, Reloader},
    run_environment::HostProbe,
    secrets::SecretStore,
    socket::{self, SocketError},
    writs::{self, WritService},
};

/// Most connections served at once; more wait in the listen backlog.
const CONNECTIONS_MAX: usize = 512;

/// How long open connections get to finish after a shutdown signal: longer than a
/// stopped worker gets to end its job, so a client waiting on one hears how it ended.
const SHUTDOWN_GRACE: Duration = crate::jobs::CANCEL_GRACE.saturating_add(Duration::from_secs(1));

/// Everything `jitosd` needs to run.
#[derive(Clone)]
pub struct DaemonConfig {
    /// The store's directory.
    pub data_dir: PathBuf,
    /// The socket's path.
    pub socket: PathBuf,
    /// Take a snapshot every this many records.
    pub snapshot_every: u64,
    /// Serve for inspection only, even a broken chain.
    pub read_only: bool,
    /// Where recorded time comes from.
    pub clock: Arc<dyn Clock>,
    /// How workers are found, confined and bounded.
    pub workers: WorkerConfig,
    /// The method library processes are planned with.
    pub library: Arc<Library>,
    /// Workers that may run at once for processes.
    pub worker_slots: usize,
    /// Who may connect, and as what.
    pub access: Access,
    /// The policy to rule with; none for no rules (every job allowed).
    pub policy: Option<jitos_gov::policy::Policy>,
    /// Where the HTTP API listens, if anywhere.
    pub http: crate::http::HttpConfig,
}

/// Why the daemon could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The data directory is held by another daemon.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The store could not be opened or recovered.
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// The socket could not be set up.
    #[error(transparent)]
    Socket(#[from] SocketError),
    /// The secrets could not be read.
    #[error("the secrets: {0}")]
    Secrets(#[source] crate::secrets::SecretError),
    /// The writ-signing key could not be read or made.
    #[error("the writ key: {0}")]
    Key(#[source] writs::KeyError),
    /// Workers cannot be run from here: their scratch, store or uids.
    #[error("{0}")]
    Workers(String),
    /// The HTTP API could not listen.
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
    /// The HTTP API's tokens could not be read.
    #[error("the tokens: {0}")]
    Tokens(#[source] crate::tokens::TokenError),
    /// The kernel's writer stopped on its own (a failure it could not contain); the
    /// daemon stopped with it so that a restart recovers the state from the ledger.
    #[error("the kernel's writer stopped unexpectedly; restart jitosd to recover from the ledger (the log says why)")]
    WriterStopped,
    /// A process-level failure (threads).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// A daemon that has opened its store and bound its socket.
pub struct Daemon {
    service: KernelService,
    /// Runs processes; none for a read-only daemon.
    scheduler: Option<Scheduler>,
    /// Serving for inspection only: nothing is recorded.
    read_only: bool,
    /// Set as the daemon stops: the scheduler's decider makes no decision after.
    decider_stopping: Arc<AtomicBool>,
    listener: UnixListener,
    shared: Arc<Shared>,
    /// The HTTP API's listeners, if it serves one.
    http: crate::http::HttpListeners,
    socket: PathBuf,
    /// Whether the daemon bound the socket itself (and removes it when it stops), rather
    /// than being passed it by the service manager.
    bound: bool,
    stopping: watch::Sender<bool>,
    _lock: DataDirLock,
}

impl Daemon {
    /// Locks, opens, verifies, recovers and binds. Must run inside a tokio runtime.
    pub fn start(config: DaemonConfig) -> Result<Daemon, DaemonError> {
        Daemon::start_listening(config, None)
    }

    /// As [`Daemon::start`], serving on `passed`, the socket the service manager passed
    /// (`socket::inherited`), as it is: its path, mode and group are the service
    /// manager's, and it is left in place when the daemon stops.
    pub fn start_on(
        config: DaemonConfig,
        passed: std::os::unix::net::UnixListener,
    ) -> Result<Daemon, DaemonError> {
        Daemon::start_listening(config, Some(passed))
    }

    fn start_listening(
        mut config: DaemonConfig,
        passed: Option<std::os::unix::net::UnixListener>,
    ) -> Result<Daemon, DaemonError> {
        let lock = DataDirLock::acquire(&config.data_dir)?;
        // Counted from the start, so the first scrape sees everything since.
        crate::metrics::handle();
        let store_dir = config.data_dir.join("store");
        let scratch_dir = config.data_dir.join("tmp");
        std::fs::create_dir_all(&scratch_dir).map_err(|source| DaemonError::Io {
            context: format!("cannot create {}", scratch_dir.display()),
            source,
        })?;
        let mut kernel = Kernel::open(
            &store_dir,
            KernelOptions {
                clock: config.clock.clone(),
                snapshot_every: config.snapshot_every,
                read_only: config.read_only,
                create_with_id: Some(rand::random()),
                verify_on_open: true,
            },
        )?;
        if !config.read_only {
            let interrupted = jobs::end_interrupted(&mut kernel)?;
            if interrupted > 0 {
                tracing::warn!(
                    interrupted,
                    "attempts left running by the previous jitosd ended as interrupted"
                );
            }
        }
        if !config.read_only {
            record_policy(&mut kernel, config.policy.clone())?;
        }
        let key_path = config.data_dir.join(writs::KEY_FILE);
        let key = match writs::load_or_create(&config.data_dir, !config.read_only) {
            Ok(key) => Some(key),
            Err(writs::KeyError::Missing { .. }) => None,
            Err(e) => return Err(DaemonError::Key(e)),
        };
        let store_id = kernel.store_id_hex();
        let head = kernel.head();
        // Processes run only on a store that records; a read-only one decides nothing.
        let decider_stopping = Arc::new(AtomicBool::new(false));
        let (decider, scheduler) = processes::scheduler(
            config.workers.clone(),
            config.worker_slots.max(1),
            Arc::clone(&decider_stopping),
        );
        let follow_on: Option<Box<dyn FollowOn>> =
            (!config.read_only).then(|| Box::new(decider) as Box<dyn FollowOn>);
        let service = KernelService::start_following(kernel, follow_on).map_err(|source| {
            DaemonError::Io {
                context: "cannot start the kernel thread".to_owned(),
                source,
            }
        })?;
        // Outside the data directory, which only the daemon's uid may enter: workers run
        // under their own uids and must reach their scratch and their binaries.
        // Named after the data directory, not the store: an imported copy of a store
        // has the same identity, and its daemon must not share these.
        let data_dir = config
            .data_dir
            .canonicalize()
            .unwrap_or_else(|_| config.data_dir.clone());
        let tag = blake3::hash(data_dir.as_os_str().as_encoded_bytes()).to_hex();
        let dirs = RunnerDirs::in_tmp(&std::env::temp_dir(), &tag[..16]);
        let secrets = Arc::new(
            SecretStore::open(&config.data_dir, config.read_only).map_err(DaemonError::Secrets)?,
        );
        let jobs = JobRunner::new(
            service.handle(),
            config.workers.clone(),
            dirs,
            Arc::clone(&secrets),
        )
        .map_err(DaemonError::Workers)?;
        warn_of_unreachable_users(&config.access);
        // A socket the service manager passed is its to set up and remove.
        let listening = match passed {
            Some(passed) => socket::adopt(passed, &config.socket).map(|(listener, path)| {
                config.socket = path;
                (listener, false)
            }),
            None => socket::bind(&config.socket, config.access.socket_group())
                .map(|listener| (listener, true)),
        };
        let (listener, bound) = match listening {
            Ok(listening) => listening,
            Err(e) => {
                // What was made for workers goes with the refused start.
                jobs.shutdown();
                return Err(e.into());
            }
        };
        let tokens = crate::tokens::TokenStore::open(&config.data_dir, config.read_only)
            .map_err(DaemonError::Tokens);
        let http = tokens.and_then(|tokens| {
            let http =
                crate::http::HttpListeners::bind(&config.http, config.access.socket_group())?;
            Ok((tokens, http))
        });
        let (tokens, http) = match http {
            Ok(both) => both,
            Err(e) => {
                jobs.shutdown();
                if bound {
                    let _ = std::fs::remove_file(&config.socket);
                }
                return Err(e);
            }
        };
        let (stopping, stopping_rx) = watch::channel(false);
        tracing::info!(
            data_dir = %config.data_dir.display(),
            socket = %config.socket.display(),
            socket_activated = !bound,
            http = ?http.tcp_addr(),
            http_socket = ?config.http.socket,
            head = head.seq,
            read_only = config.read_only,
            "jitosd ready"
        );
        let jobs = Arc::new(jobs);
        let writs = Arc::new(WritService::new(
            service.handle(),
            key,
            key_path,
            config.access.daemon_subject(),
            config.clock.clone(),
        ));
        let host = HostProbe::new(
            &config.workers,
            config.worker_slots,
            config.library.digest(),
        );
        let processes = ProcessService::new(
            service.handle(),
            Arc::clone(&config.library),
            Arc::clone(&jobs),
            Arc::clone(&writs),
            host,
        );
        let scheduler = scheduler(service.handle(), Arc::clone(&jobs));
        let access = Arc::new(AccessCell::new(config.access));
        Ok(Daemon {
            shared: Arc::new(Shared {
                kernel: service.handle(),
                store_id,
                access: Arc::clone(&access),
                audit: Audit::new(service.handle()),
                scratch_dir,
                stopping: stopping_rx,
                jobs,
                processes,
                writs,
                secrets,
                tokens: Arc::new(tokens),
            }),
            http,
            scheduler: (!config.read_only).then_some(scheduler),
            read_only: config.read_only,
            decider_stopping,
            service,
            listener,
            socket: config.socket,
            bound,
            stopping,
            _lock: lock,
        })
    }

    /// What reloads this daemon's access file and policy (from `files`) while it serves.
    pub fn reloader(&self, files: GovernanceFiles) -> Reloader {
        Reloader {
            kernel: self.shared.kernel.clone(),
            access: Arc::clone(&self.shared.access),
            files,
            read_only: self.read_only,
            stopping: self.shared.stopping.clone(),
        }
    }

    /// The socket clients connect to.
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// The address the HTTP API listens on over TCP, if it does (its port, when 0 was
    /// asked).
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.http.tcp_addr()
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets open connections
    /// finish briefly, drains the kernel's queue and closes the store. Errs if it
    /// stopped because the kernel's writer did.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
        let Daemon {
            service,
            scheduler,
            read_only: _,
            listener,
            shared,
            http,
            socket,
            bound,
            stopping,
            decider_stopping,
            _lock,
        } = self;
        let upkept = tokio::spawn(crate::metrics::upkeep(stopping.subscribe()));
        let http_socket = http.socket_path();
        let api = tokio::spawn(http.serve(Arc::clone(&shared), stopping.subscribe()));
        let scheduled = scheduler.map(|s| tokio::spawn(s.run(stopping.subscribe())));
        let audited = tokio::spawn(Arc::clone(&shared.audit).run(stopping.subscribe()));
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        let mut outcome = Ok(());
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                () = shared.kernel.closed() => {
                    tracing::error!("the kernel's writer stopped; jitosd stops with it");
                    outcome = Err(DaemonError::WriterStopped);
                    break;
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) if connections.len() < CONNECTIONS_MAX => {
                        connections.spawn(connection::serve(stream, shared.clone()));
                    }
                    Ok(_) => tracing::warn!("connection limit reached; refusing a client"),
                    Err(e) => tracing::warn!(error = %e, "accept failed"),
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        tracing::info!("shutting down");
        // Receivers live in `shared`, so the send cannot fail while connections exist.
        let _ = stopping.send(true);
        drop(listener);
        if bound {
            if let Err(e) = std::fs::remove_file(&socket) {
                tracing::warn!(socket = %socket.display(), error = %e, "cannot remove socket");
            }
        }
        // First, so a client waiting on a job gets its (interrupted) end within the grace.
        decider_stopping.store(true, Ordering::Relaxed);
        shared.jobs.stop_all();
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            connections.abort_all();
        }
        if let Some(scheduled) = scheduled {
            if let Err(e) = scheduled.await {
                tracing::error!(error = %e, "the scheduler stopped abnormally");
            }
        }
        // The API's connections end with the daemon's stopping, as the socket's do; one
        // that holds on past the grace period is cut.
        let api_abort = api.abort_handle();
        if tokio::time::timeout(SHUTDOWN_GRACE, api).await.is_err() {
            tracing::warn!("the HTTP API did not stop within the grace period; it stops accepting");
            api_abort.abort();
        }
        if let Some(path) = http_socket {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(socket = %path.display(), error = %e, "cannot remove the HTTP socket");
            }
        }
        if let Err(e) = upkept.await {
            tracing::error!(error = %e, "the metrics' upkeep stopped abnormally");
        }
        // The counted refusals are recorded while the kernel still runs.
        if let Err(e) = audited.await {
            tracing::error!(error = %e, "the audit of refusals stopped abnormally");
        }
        shared.audit.flush_all().await;
        let jobs = shared.jobs.clone();
        drop(shared);
        // Running attempts end (cancelled) and record so while the kernel still runs.
        if let Err(e) = tokio::task::spawn_blocking(move || jobs.shutdown()).await {
            tracing::error!(error = %e, "stopping the running jobs failed");
        }
        if let Err(e) = tokio::task::spawn_blocking(move || service.stop()).await {
            tracing::error!(error = %e, "kernel shutdown failed");
        }
        tracing::info!("stopped");
        outcome
    }
}

/// Warns of each user the access file names who is not in the socket's group: the file
/// grants them a role they cannot use.
pub(crate) fn warn_of_unreachable_users(access: &Access) {
    let Some((group, gid)) = access.socket_group() else {
        return;
    };
    for uid in access.named_users() {
        let Ok(Some(user)) = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) else {
            continue;
        };
        if !groups_of(&user).iter().any(|g| g.as_raw() == gid) {
            tracing::warn!(
                user = %user.name,
                group,
                "the access file grants this user a role, but they are not in the socket's group and cannot connect; add them (usermod -aG) or grant their group"
            );
        }
    }
}

/// Records `policy` as the policy in force, unless it already is.
fn record_policy(
    kernel: &mut Kernel,
    policy: Option<jitos_gov::policy::Policy>,
) -> Result<(), KernelError> {
    let Some(wanted) = policy_change(&kernel.view(), policy) else {
        return Ok(());
    };
    let hash = wanted.hash();
    let request = jitos_kernel::Request {
        actor: jitos_ledger::Actor::System,
        command: Command::PolicyLoad(Arc::new(wanted)),
    };
    for answer in kernel.execute(vec![request]) {
        answer?;
    }
    log_policy_in_force(&hash);
    Ok(())
}

/// Says in the log that the policy with `hash` is now in force.
pub(crate) fn log_policy_in_force(hash: &jitos_gov::policy::PolicyHash) {
    tracing::info!(policy = %hash.short(), "the policy in force changed");
}

/// The policy to record so that `policy` is in force as of `view`, if one must be: none
/// when it already is. No policy, when one was in force, is the policy that allows
/// everything, so the change is in the ledger.
pub(crate) fn policy_change(
    view: &jitos_kernel::View,
    policy: Option<jitos_gov::policy::Policy>,
) -> Option<jitos_gov::policy::Policy> {
    let in_force = view.state().policy.as_ref().map(|p| p.policy.hash());
    let wanted = match (policy, in_force) {
        (None, None) => return None,
        (None, Some(_)) => {
            tracing::warn!(
                "no policy is given, but one was in force: every job is allowed from now on (give --policy to keep one)"
            );
            jitos_gov::policy::Policy::allow_all()
        }
        (Some(policy), _) => policy,
    };
    if in_force == Some(wanted.hash()) {
        return None;
    }
    Some(wanted)
}
