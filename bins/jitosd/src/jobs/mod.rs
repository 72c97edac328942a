//! Jobs on the daemon: a request becomes a recorded dispatch, a thread runs the attempt's
//! worker (a process of its own, or a warm instance of a reusable worker), and the
//! attempt ends in exactly one terminal record.
//!
//! The kernel decides (validation, recording); this module only moves bytes between the
//! kernel, the scratch directory and the worker process.

mod builtin;
mod catalog;
mod checkout;
mod drive;
mod feedback;
mod launch;
mod network;
mod policy;
mod runtime_dirs;
mod scratch;
mod store;
pub mod views;
mod warm;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, OnceLock,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use jitos_gov::{
    writ::{PATHS_MAX, PATH_BYTES_MAX},
    Principal,
};
use jitos_kernel::{
    Command, Dispatch, Effect, FailureCause, JobRuling, Kernel, KernelHandle, Outcome, Proposed,
    Request, Requester, KIND_JOB_RULING,
};
use jitos_ledger::Actor;
use jitos_proto::{ErrorCode, ErrorInfo, JobSpec, LimitsHeld, Response, SandboxView, WorkerView};
use jitos_sandbox::{CgroupRoot, UidPool};
use jitos_worker::{DaemonMessage, EffectClass, Job, SandboxProfile};
use tokio::sync::oneshot;

pub(crate) use builtin::BuiltinPlan;
use catalog::CatalogError;
pub use catalog::{builtins, resolve as catalog_resolve, ResolvedWorker, WorkerConfig};
use drive::AttemptEnd;
pub(crate) use drive::CANCEL_GRACE;
use launch::Enforcement;
pub use policy::{PolicyError, WorkerPolicy};
pub use runtime_dirs::RunnerDirs;
use scratch::Scratch;
use store::WorkerStore;
pub use warm::WarmConfig;
use warm::{Assignment, Class, WarmPool};

use crate::{
    fetch::Fetcher,
    reply::{error, info, lock},
    secrets::{self, SecretStore},
};

/// Longest deadline a job may ask for: one day.
const DEADLINE_MS_MAX: u64 = 24 * 60 * 60 * 1000;

/// Runs jobs for every connection of one daemon.
pub struct JobRunner {
    kernel: KernelHandle,
    config: WorkerConfig,
    scratch_root: PathBuf,
    /// The uids workers run under, one each, when the daemon is root; otherwise they run
    /// as the daemon's own uid.
    uids: Option<UidPool>,
    /// Where a control group per worker is made, when the daemon can make them; taken
    /// (and removed) at shutdown.
    cgroups: Mutex<Option<CgroupRoot>>,
    /// The copies of worker binaries that are executed.
    store: WorkerStore,
    /// Held while this daemon runs, so no other start sweeps its directories.
    _held: nix::fcntl::Flock<std::fs::File>,
    /// How workers start here, or why they may not.
    enforcement: Result<Enforcement, String>,
    sandbox: SandboxView,
    cancels: Mutex<HashMap<u64, Arc<Cancel>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Set once the daemon stops: attempts cut off then end as interrupted.
    stopping: AtomicBool,
    /// The warm instances of reusable workers.
    warm: WarmPool,
    /// The secrets jobs may be given, and whose values are replaced in what they return.
    secrets: Arc<SecretStore>,
    /// Makes the HTTP requests workers ask for.
    fetcher: Fetcher,
    /// The daemon's runtime, where a `network` attempt's proxy runs.
    runtime: tokio::runtime::Handle,
}

/// The cancellation of one running attempt, and who asked for it.
#[derive(Debug, Default)]
struct Cancel {
    asked: AtomicBool,
    /// The first to ask: the actor of the attempt's `cancelled` record.
    by: OnceLock<Actor>,
}

/// The environment variable that holds an effect's idempotency key for its worker.
pub const EFFECT_KEY_ENV: &str = "JITOS_EFFECT_KEY";

/// Whether a worker runs in warm instances here, as far as can be told without copying its
/// binary.
enum WarmClass {
    /// It does not: it runs in a process of its own.
    Not,
    /// It does, in instances of this class.
    Ready(Arc<Class>),
    /// It does, once its binary's copy is in the worker store.
    Unadmitted,
}

/// A recorded attempt, ready to run.
pub(crate) struct AttemptPlan {
    /// The attempt (its dispatch record's seq).
    pub attempt: u64,
    /// The worker.
    pub worker: ResolvedWorker,
    /// The workspace its proposal goes into.
    pub sws: u64,
    /// The worker's arguments.
    pub args: Vec<String>,
    /// The job's input.
    pub input: Vec<u8>,
    /// Milliseconds before the worker is killed.
    pub deadline_ms: u64,
    /// Whether the workspace's files are written into its scratch.
    pub files: bool,
    /// The process whose job this is, if a process's scheduler dispatched it.
    pub process: Option<ProcessJob>,
    /// The uid of the local user who submitted the job's process or ran the job: whose
    /// warm instances may serve it (none: it runs in a process of its own).
    pub submitter: Option<u32>,
    /// The secrets its process's writ names, by name, with their values (filled in at
    /// launch; a job given secrets runs in a process of its own).
    pub secrets: Vec<(String, String)>,
    /// The idempotency key of the effect it makes (a step whose effect leaves its
    /// workspace) or checks or undoes (that step's verify or compensate job): given to the
    /// worker as `JITOS_EFFECT_KEY`, in a process of its own.
    pub effect_key: Option<String>,
}

/// The process a dispatched job is part of, and which job it is.
pub(crate) struct ProcessJob {
    /// The process.
    pub id: u64,
    /// The job's id in the process's plan.
    pub job: String,
    /// The process's span: its attempts' spans are within it.
    pub span: tracing::Span,
}

impl AttemptPlan {
    /// The span the attempt's log lines are in.
    pub(crate) fn span(&self) -> tracing::Span {
        attempt_span(
            self.attempt,
            &self.worker.manifest.name,
            self.sws,
            self.process.as_ref(),
        )
    }
}

/// The span an attempt's log lines are in: its attempt, worker and workspace, so a line
/// about a worker names the job it ran; for a process's job, its process and job too,
/// within the process's span.
pub(crate) fn attempt_span(
    attempt: u64,
    worker: &str,
    sws: u64,
    process: Option<&ProcessJob>,
) -> tracing::Span {
    match process {
        Some(owner) => tracing::info_span!(
            parent: &owner.span,
            "attempt",
            attempt,
            worker,
            sws,
            process = owner.id,
            job = %owner.job,
            outcome = tracing::field::Empty,
            cause = tracing::field::Empty,
            ended_seq = tracing::field::Empty,
        ),
        None => tracing::info_span!(
            "attempt",
            attempt,
            worker,
            sws,
            outcome = tracing::field::Empty,
            cause = tracing::field::Empty,
            ended_seq = tracing::field::Empty,
        ),
    }
}

impl JobRunner {
    /// A runner whose attempts use `dirs`, which it creates (emptied of what a killed
    /// daemon left there) and removes at [`JobRunner::shutdown`].
    pub fn new(
        kernel: KernelHandle,
        config: WorkerConfig,
        dirs: RunnerDirs,
        secrets: Arc<SecretStore>,
    ) -> Result<JobRunner, String> {
        let status = jitos_sandbox::status();
        let enforcement = match (status.supported, config.allow_unconfined) {
            (true, _) => Ok(Enforcement::Confined),
            (false, true) => {
                tracing::warn!(?status, "workers run WITHOUT their read-only view, Landlock and seccomp (degraded mode)");
                Ok(Enforcement::Unconfined)
            }
            (false, false) => Err(format!(
                "this kernel cannot confine workers (Landlock ABI {}, seccomp {}, mount namespaces {}); jitosd refuses to run them unconfined unless started with --allow-unconfined-workers",
                status.landlock_abi, status.seccomp, status.mount_namespace
            )),
        };
        let held = dirs
            .hold()
            .map_err(|e| format!("cannot lock this jitosd's worker directories: {e}"))?;
        let root = nix::unistd::Uid::effective().is_root();
        if root {
            // Before anything is made there: refused, a start leaves nothing behind.
            for dir in [&dirs.scratch_root, &dirs.store] {
                store::check_reachable(dir)?;
            }
        }
        let uids = if root {
            // Host-wide, not per store: every jitosd on the host lends from the same uids.
            let uids =
                UidPool::host().map_err(|e| format!("cannot open the worker uid pool: {e}"))?;
            let (strays, failed) = uids.kill_strays();
            if strays > 0 {
                tracing::warn!(
                    strays,
                    "killed processes left under worker uids by a jitosd that died"
                );
            }
            for (uid, error) in failed {
                tracing::warn!(uid, %error, "cannot kill a stray worker uid");
            }
            Some(uids)
        } else {
            None
        };
        // Made (and emptied of what a killed daemon left running) before the scratch is
        // cleared, so nothing still writes into it.
        let (cgroups, limits) = match CgroupRoot::create(&dirs.cgroup_name) {
            Ok(cgroups) => {
                let version = cgroups.version().number();
                (Some(cgroups), LimitsHeld::Cgroup { version })
            }
            Err(why) => (
                None,
                LimitsHeld::Rlimits {
                    why: format!(
                        "{why}; run jitosd as root, or in a cgroup of its own (systemd: \
                         Delegate=yes), to have each worker's limits held by a control group"
                    ),
                },
            ),
        };
        let swept = dirs.sweep_others(cgroups.as_ref());
        if swept > 0 {
            tracing::info!(swept, "removed what killed jitosds left for their workers");
        }
        scratch::create_root(&dirs.scratch_root).map_err(|e| {
            format!(
                "cannot create the worker scratch directory {}: {e}",
                dirs.scratch_root.display()
            )
        })?;
        let store = WorkerStore::create(&dirs.store).map_err(|e| {
            format!(
                "cannot create the worker store {}: {e}",
                dirs.store.display()
            )
        })?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| format!("the job runner needs the daemon's async runtime: {e}"))?;
        let fetcher = Fetcher::new(
            runtime.clone(),
            kernel.clone(),
            Arc::clone(&secrets),
            config.models.clone(),
        )?;
        let sandbox = SandboxView {
            landlock_abi: status.landlock_abi,
            seccomp: status.seccomp,
            mount_namespace: status.mount_namespace,
            enforced: status.supported,
            degraded_allowed: config.allow_unconfined,
            separate_uids: uids.is_some(),
            limits,
        };
        Ok(JobRunner {
            kernel,
            scratch_root: dirs.scratch_root,
            uids,
            cgroups: Mutex::new(cgroups),
            _held: held,
            store,
            enforcement,
            sandbox,
            cancels: Mutex::default(),
            threads: Mutex::default(),
            stopping: AtomicBool::new(false),
            warm: WarmPool::new(config.warm),
            fetcher,
            runtime,
            config,
            secrets,
        })
    }

    /// How workers are confined here.
    pub fn sandbox(&self) -> &SandboxView {
        &self.sandbox
    }

    /// Dispatches a job: records it, starts its worker on a thread of its own, and
    /// answers at once or, when `spec.wait`, once the attempt has ended.
    pub async fn run(
        self: &Arc<Self>,
        actor: Actor,
        principal: &Principal,
        spec: JobSpec,
    ) -> Response {
        match self.start(actor, principal, spec.clone()).await {
            Ok((attempt, ended)) if spec.wait => match ended.await {
                Ok(()) => crate::answer::job_show(&self.kernel.view(), attempt)
                    .unwrap_or_else(|e| Response::Error(crate::answer::kernel_error_info(&e))),
                Err(_) => error(
                    ErrorCode::ShuttingDown,
                    "jitosd stopped before the job ended",
                ),
            },
            Ok((attempt, _)) => Response::JobStarted { attempt },
            Err(info) => Response::Error(info),
        }
    }

    /// Asks the worker running `attempt` to stop, for `by`; whether one ran it.
    pub fn cancel_attempt(&self, attempt: u64, by: Actor) -> bool {
        match lock(&self.cancels).get(&attempt) {
            Some(cancel) => {
                let _ = cancel.by.set(by);
                cancel.asked.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Attempts running now.
    pub fn running(&self) -> usize {
        lock(&self.cancels).len()
    }

    /// Asks the worker running `attempt` to stop, for `by`.
    pub fn cancel(&self, by: Actor, attempt: u64) -> Response {
        match self.cancel_attempt(attempt, by) {
            true => Response::Cancelling { attempt },
            false => error(
                ErrorCode::NotFound,
                format!("attempt {attempt} is not running here; `jitos job show {attempt}` says how it ended"),
            ),
        }
    }

    /// Every worker this daemon can run, or why not.
    pub async fn list_workers(&self) -> Result<Vec<WorkerView>, ErrorInfo> {
        match catalog::list(&self.config, self.kernel.view().jobs()) {
            Ok(workers) => Ok(workers
                .into_iter()
                .map(|(worker, refusal)| views::worker_view(&worker, refusal))
                .collect()),
            Err(e) => Err(crate::reply::info(ErrorCode::Storage, e.to_string())),
        }
    }

    /// Registers the worker a manifest on this host describes.
    pub async fn install(self: &Arc<Self>, actor: Actor, manifest: String) -> Response {
        let path = PathBuf::from(&manifest);
        if !path.is_absolute() {
            return error(
                ErrorCode::BadRequest,
                format!("the manifest path {manifest} must be absolute"),
            );
        }
        let runner = Arc::clone(self);
        // Reading, copying and hashing the binary is file I/O: off the async threads.
        let prepared = tokio::task::spawn_blocking(move || {
            catalog::prepare_install(&runner.config, &runner.store, &path)
        })
        .await;
        let (install, limits) = match prepared {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(e)) => return error(catalog_error_code(&e), e.to_string()),
            Err(e) => return error(ErrorCode::Storage, format!("the install stopped: {e}")),
        };
        let command = Command::WorkerInstall(install.clone());
        match self.kernel.execute(actor, command).await {
            Ok(Outcome::Recorded(record)) => {
                let worker = catalog::installed(record.seq, &install, limits);
                Response::WorkerInstalled(views::worker_view(&worker, None))
            }
            Ok(other) => error(
                ErrorCode::Storage,
                format!("the kernel answered {other:?} to an install"),
            ),
            Err(e) => Response::Error(crate::answer::kernel_error_info(&e)),
        }
    }

    /// The kernel the runner records attempts in.
    pub(crate) fn kernel(&self) -> &KernelHandle {
        &self.kernel
    }

    /// Asks every running attempt to stop, as the daemon stops: each ends as interrupted.
    /// Returns at once; `shutdown` waits for them.
    pub fn stop_all(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        for cancel in lock(&self.cancels).values() {
            cancel.asked.store(true, Ordering::Relaxed);
        }
        self.warm.close();
    }

    /// Stops every running attempt and waits for their threads, so each records its
    /// terminal record while the kernel still runs.
    pub fn shutdown(&self) {
        self.stop_all();
        let threads: Vec<_> = lock(&self.threads).drain(..).collect();
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("an attempt thread panicked");
            }
        }
        self.warm.join();
        // Nothing runs any more: what was made for workers goes.
        drop(lock(&self.cgroups).take());
        for dir in [self.scratch_root.as_path(), self.store.dir()] {
            if let Err(e) = std::fs::remove_dir_all(dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot remove what workers were given");
            }
        }
    }

    async fn start(
        self: &Arc<Self>,
        actor: Actor,
        principal: &Principal,
        spec: JobSpec,
    ) -> Result<(u64, oneshot::Receiver<()>), ErrorInfo> {
        if let Err(why) = &self.enforcement {
            return Err(info(ErrorCode::BadRequest, why.clone()));
        }
        let deadline_ms = spec.deadline_ms.unwrap_or(self.config.deadline_default_ms);
        if deadline_ms == 0 || deadline_ms > DEADLINE_MS_MAX {
            return Err(info(
                ErrorCode::BadRequest,
                format!(
                    "a deadline of {deadline_ms} ms is out of range (1 ms to {DEADLINE_MS_MAX} ms)"
                ),
            ));
        }
        // The paths go into the policy's facts, which a writ's bounds limit.
        if spec.paths.len() > PATHS_MAX || spec.paths.iter().any(|path| path.len() > PATH_BYTES_MAX)
        {
            return Err(info(
                ErrorCode::BadRequest,
                format!(
                    "a job takes at most {PATHS_MAX} paths of at most {PATH_BYTES_MAX} bytes each; name their common directories instead"
                ),
            ));
        }
        let probe = DaemonMessage::Job(Job {
            job_id: 0,
            attempt: 1,
            deadline_ms,
            input: spec.input.clone(),
            workspace_dir: None,
            args: spec.args.clone(),
        });
        probe
            .check_limits()
            .map_err(|e| info(ErrorCode::BadRequest, e.to_string()))?;
        let worker = catalog::resolve(&self.config, self.kernel.view().jobs(), &spec.worker)
            .map_err(|e| info(catalog_error_code(&e), e.to_string()))?;
        // Outside a process no effect is recorded, verified or compensated.
        if worker.manifest.effect_class > EffectClass::Workspace {
            return Err(info(
                ErrorCode::Forbidden,
                format!(
                    "worker {} reaches beyond its workspace ({}): it runs only as a step of a process, where its effect is recorded, verified and compensated",
                    worker.manifest.name,
                    worker.manifest.effect_class.as_str()
                ),
            ));
        }
        // Copying a new or changed binary into the store is file I/O: off the async threads.
        let runner = Arc::clone(self);
        let worker = tokio::task::spawn_blocking(move || {
            catalog::executable(&runner.store, &worker).map(|_| worker)
        })
        .await
        .map_err(|e| info(ErrorCode::Storage, format!("the binary check stopped: {e}")))?
        .map_err(|e| info(catalog_error_code(&e), e.to_string()))?;
        let dispatch = Dispatch {
            worker: worker.manifest.name.clone(),
            worker_version: worker.manifest.version.clone(),
            sws: spec.sws,
            args: spec.args.clone(),
            input: spec.input.clone(),
            deadline_ms,
            effect: match worker.manifest.effect_class {
                EffectClass::None => Effect::GraphOnly,
                _ => Effect::Files,
            },
            paths: spec.paths.clone(),
            owner: None,
        };
        let submitter = user_of(&actor);
        let command = Command::JobRun {
            dispatch,
            effect: public_effect(worker.manifest.effect_class),
            by: Requester {
                uid: principal.uid,
                user: principal.user.clone(),
                roles: principal.roles.iter().collect(),
            },
            writ: spec.writ,
        };
        let attempt = match self.kernel.execute(actor, command).await {
            Ok(Outcome::Recorded(record)) if record.kind == KIND_JOB_RULING => {
                return Err(not_allowed(&record))
            }
            Ok(Outcome::Recorded(record)) => record.seq,
            Ok(other) => {
                return Err(info(
                    ErrorCode::Storage,
                    format!("the kernel answered {other:?} to a dispatch"),
                ))
            }
            Err(e) => return Err(crate::answer::kernel_error_info(&e)),
        };
        let plan = AttemptPlan {
            attempt,
            files: worker.manifest.effect_class >= EffectClass::Workspace,
            worker,
            sws: spec.sws,
            args: spec.args,
            input: spec.input,
            deadline_ms,
            process: None,
            submitter,
            secrets: Vec::new(),
            effect_key: None,
        };
        let ended = self.launch(plan).await?;
        Ok((attempt, ended))
    }

    /// Starts the worker of a recorded attempt: hands it to a warm instance when the
    /// worker is reusable, else starts a process for it on a thread of its own. The
    /// receiver hears when the attempt's terminal record is written.
    pub(crate) async fn launch(
        self: &Arc<Self>,
        mut plan: AttemptPlan,
    ) -> Result<oneshot::Receiver<()>, ErrorInfo> {
        let attempt = plan.attempt;
        plan.secrets = self.env_secrets_of(&plan);
        let enforcement = match self.enforcement.clone() {
            Ok(enforcement) => enforcement,
            Err(why) => {
                self.fail_unlaunched(attempt, why.clone()).await;
                return Err(info(ErrorCode::BadRequest, why));
            }
        };
        let cancel = self.cancel_of(attempt);
        let (ended_tx, ended_rx) = oneshot::channel();
        let deadline = Instant::now() + Duration::from_millis(plan.deadline_ms);
        let work = Box::new(Assignment {
            plan,
            deadline,
            cancel,
            ended: ended_tx,
        });
        // A warm instance's environment was set when it started: secrets and an effect's
        // key need their own.
        let warm = match work.plan.secrets.is_empty() && work.plan.effect_key.is_none() {
            true => self.warm_class(&work.plan.worker, enforcement).await,
            false => None,
        };
        let work = match warm {
            Some(class) => match self.warm.assign(self, class, work) {
                Ok(()) => return Ok(ended_rx),
                Err(back) => back,
            },
            None => work,
        };
        match self.start_one_shot(work, enforcement) {
            Ok(()) => Ok(ended_rx),
            Err(e) => {
                lock(&self.cancels).remove(&attempt);
                let detail = format!("cannot start a thread for the attempt: {e}");
                self.fail_unlaunched(attempt, detail).await;
                Err(info(
                    ErrorCode::Storage,
                    format!("cannot start the attempt: {e}"),
                ))
            }
        }
    }

    /// Runs a recorded attempt in a process of its own, started on a thread of its own;
    /// the error when the thread cannot start (the attempt is then not run).
    fn start_one_shot(
        self: &Arc<Self>,
        work: Box<Assignment>,
        enforcement: Enforcement,
    ) -> std::io::Result<()> {
        let Assignment {
            plan,
            deadline,
            cancel,
            ended,
        } = *work;
        let attempt = plan.attempt;
        let runner = self.clone();
        let handle = std::thread::Builder::new()
            .name(format!("jitos-attempt-{attempt}"))
            .spawn(move || {
                let _in_attempt = plan.span().entered();
                // PR_SET_PDEATHSIG ties the worker to this thread: it lives until the
                // worker is reaped, so the worker dies exactly when the daemon does.
                let end = runner.run_worker(&plan, deadline, enforcement, &cancel.asked);
                runner.record_end(&plan, end, &cancel);
                runner.attempt_ended(attempt, ended);
            })?;
        let mut threads = lock(&self.threads);
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
        Ok(())
    }

    /// Runs an attempt handed to a warm instance that retired before it could start it
    /// (its last job did not end `job.done` while this one was handed over): in a process
    /// of its own, or, failing that, recorded as unstarted.
    fn run_handed_back(self: &Arc<Self>, work: Box<Assignment>) {
        if self.stopping.load(Ordering::Relaxed) {
            // The shutdown may have joined the attempt threads already: none starts now.
            let Assignment {
                plan,
                cancel,
                ended,
                ..
            } = *work;
            let end = AttemptEnd::Failed {
                cause: FailureCause::Interrupted,
                detail: "jitosd stopped before this attempt started".to_owned(),
            };
            self.record_end(&plan, end, &cancel);
            self.attempt_ended(plan.attempt, ended);
            return;
        }
        let attempt = work.plan.attempt;
        let started = match self.enforcement.clone() {
            Ok(enforcement) => self
                .start_one_shot(work, enforcement)
                .map_err(|e| format!("cannot start a thread for the attempt: {e}")),
            Err(why) => Err(why),
        };
        if let Err(detail) = started {
            let failed = Command::JobFail {
                attempt,
                cause: FailureCause::Spawn,
                detail,
            };
            report_end(attempt, self.kernel.execute_blocking(Actor::System, failed));
            lock(&self.cancels).remove(&attempt);
        }
    }

    /// Hands a recorded attempt to a warm instance at once, waiting on nothing: for the
    /// scheduler's decider, which runs on the kernel's writer once the dispatch is durable,
    /// so a step's next job starts without a trip through the async threads. Gives the
    /// plan back when that cannot be done so directly (the worker is not warm here, its
    /// binary's copy is not admitted yet, no instance may take it): [`JobRunner::launch`]
    /// does the rest.
    pub(crate) fn launch_warm_now(
        self: &Arc<Self>,
        plan: Box<AttemptPlan>,
    ) -> Result<(), Box<AttemptPlan>> {
        let Ok(enforcement) = self.enforcement.clone() else {
            return Err(plan);
        };
        if !self.env_secrets_of(&plan).is_empty() || plan.effect_key.is_some() {
            return Err(plan);
        }
        let WarmClass::Ready(class) = self.warm_class_now(&plan.worker, enforcement) else {
            return Err(plan);
        };
        let cancel = self.cancel_of(plan.attempt);
        // No one waits for this attempt's end but its records' followers.
        let (ended, _) = oneshot::channel();
        let work = Box::new(Assignment {
            deadline: Instant::now() + Duration::from_millis(plan.deadline_ms),
            plan: *plan,
            cancel,
            ended,
        });
        // The cancellation stays for `launch`, which takes the attempt over.
        self.warm
            .assign(self, class, work)
            .map_err(|back| Box::new(back.plan))
    }

    /// The secrets `plan`'s worker is given in its environment: those its process's writ
    /// names that are stored, by name; none for a worker that asks for `fetch`, which
    /// names a secret in a request's header and has the daemon fill it in, so it never
    /// holds one.
    fn env_secrets_of(&self, plan: &AttemptPlan) -> Vec<(String, String)> {
        let Some(process) = plan
            .process
            .as_ref()
            .map(|owner| owner.id)
            .filter(|_| !plan.worker.manifest.fetch)
        else {
            return Vec::new();
        };
        let view = self.kernel.view();
        let Some(writ) = view.state().writs.of_process(process) else {
            return Vec::new();
        };
        // Most writs name none: the store is not asked.
        if writ.writ.secrets.is_empty() {
            return Vec::new();
        }
        let values = self.secrets.values();
        writ.writ
            .secrets
            .iter()
            .filter_map(|name| values.get(name).map(|value| (name.clone(), value.clone())))
            .collect()
    }

    /// The cancellation of `attempt`, made the first time it is asked for: a cancel that
    /// came while its launch went from the writer to the async threads is kept. Asked
    /// already when the daemon is stopping, since `stop_all` may have passed it by.
    fn cancel_of(&self, attempt: u64) -> Arc<Cancel> {
        let cancel = Arc::clone(lock(&self.cancels).entry(attempt).or_default());
        if self.stopping.load(Ordering::Relaxed) {
            cancel.asked.store(true, Ordering::Relaxed);
        }
        cancel
    }

    /// Whether `worker` runs in warm instances here, and their class if its binary's copy
    /// is already in the store.
    fn warm_class_now(&self, worker: &ResolvedWorker, enforcement: Enforcement) -> WarmClass {
        if !self.warm.serves(worker, enforcement) {
            return WarmClass::Not;
        }
        match catalog::admitted(&self.store, worker) {
            Some(program) => WarmClass::Ready(Arc::new(Class::new(worker.clone(), program))),
            None => WarmClass::Unadmitted,
        }
    }

    /// The class of warm instances that runs `worker`, when it runs in warm instances
    /// here. Finding its binary's copy is file I/O: off the async threads unless the copy
    /// is already in the store.
    async fn warm_class(
        self: &Arc<Self>,
        worker: &ResolvedWorker,
        enforcement: Enforcement,
    ) -> Option<Arc<Class>> {
        let program = match self.warm_class_now(worker, enforcement) {
            WarmClass::Not => return None,
            WarmClass::Ready(class) => return Some(class),
            WarmClass::Unadmitted => {
                let runner = Arc::clone(self);
                let copied = worker.clone();
                // A binary that cannot be admitted runs (and fails) on the one-shot path,
                // whose spawn failure says why.
                tokio::task::spawn_blocking(move || catalog::executable(&runner.store, &copied))
                    .await
                    .ok()?
                    .ok()?
            }
        };
        Some(Arc::new(Class::new(worker.clone(), program)))
    }

    /// Forgets an attempt's cancellation and tells whoever waits that its terminal record
    /// is written.
    fn attempt_ended(&self, attempt: u64, ended: oneshot::Sender<()>) {
        lock(&self.cancels).remove(&attempt);
        let _ = ended.send(());
    }

    /// Ends an attempt whose worker never started, as a spawn failure (the daemon's).
    async fn fail_unlaunched(&self, attempt: u64, detail: String) {
        let failed = Command::JobFail {
            attempt,
            cause: FailureCause::Spawn,
            detail,
        };
        let recorded = self.kernel.execute(Actor::System, failed).await;
        report_end(attempt, recorded);
    }

    /// Records the attempt's one terminal record for `end`; whether it is `job.done`.
    fn record_end(&self, plan: &AttemptPlan, end: AttemptEnd, cancel: &Cancel) -> bool {
        let attempt = plan.attempt;
        let name = &plan.worker.manifest.name;
        let end = match end {
            // A stopping daemon cancels what runs; that is an interruption, which a
            // restart reconciles, not a cancellation someone asked for.
            AttemptEnd::Failed {
                cause: FailureCause::Cancelled,
                ..
            } if self.stopping.load(Ordering::Relaxed) => AttemptEnd::Failed {
                cause: FailureCause::Interrupted,
                detail: "jitosd stopped while this attempt ran".to_owned(),
            },
            end => end,
        };
        // Nothing a worker returns is recorded before the secrets' values are replaced.
        let redactor = self.secrets.redactor(&plan.secrets);
        match end {
            AttemptEnd::Proposal(proposal) => {
                let mut proposed = Proposed {
                    rewrites: proposal.rewrites,
                    artifacts: proposal
                        .artifacts
                        .into_iter()
                        .map(|a| (a.name, a.bytes))
                        .collect(),
                    exit_status: proposal.exit_status,
                    cpu_ms: proposal.usage.cpu_ms,
                    max_rss_kib: proposal.usage.max_rss_kib,
                };
                let actor = worker_actor(name);
                if let Err(why) = redactor.proposal(&mut proposed) {
                    self.record_failure(actor, attempt, FailureCause::Worker, why);
                    return false;
                }
                let recorded = self
                    .kernel
                    .execute_blocking(actor, Command::JobPropose { attempt, proposed });
                let done = matches!(recorded, Ok(Outcome::ProposalDone(_)));
                tracing::debug!(done, "the attempt proposed");
                report_end(attempt, recorded);
                done
            }
            AttemptEnd::Failed { cause, detail } => {
                tracing::debug!(?cause, "the attempt failed");
                // Whoever ended it: the worker its own failures, the one who asked a
                // cancellation, the daemon the rest.
                let actor = match cause {
                    FailureCause::Worker | FailureCause::Protocol | FailureCause::Crashed => {
                        worker_actor(name)
                    }
                    FailureCause::Cancelled => cancel.by.get().cloned().unwrap_or(Actor::System),
                    FailureCause::Spawn
                    | FailureCause::Deadline
                    | FailureCause::Interrupted
                    | FailureCause::Budget => Actor::System,
                };
                self.record_failure(actor, attempt, cause, redactor.text(&detail));
                false
            }
        }
    }

    fn run_worker(
        &self,
        plan: &AttemptPlan,
        deadline: Instant,
        enforcement: Enforcement,
        cancel: &AtomicBool,
    ) -> AttemptEnd {
        let (attempt, worker) = (plan.attempt, &plan.worker);
        let spawn_failed = |detail: String| AttemptEnd::Failed {
            cause: FailureCause::Spawn,
            detail,
        };
        let program = match catalog::executable(&self.store, worker) {
            Ok(program) => program,
            Err(e) => return spawn_failed(e.to_string()),
        };
        // Before anything is lent or made for the attempt, so a refusal leaves nothing.
        let effect = self.kernel.view().state().attempt_effect(attempt);
        let networked = match network::needs_proxy(effect, worker.manifest.fetch) {
            false => None,
            true => match network::open(&self.kernel, &self.runtime, attempt) {
                Ok(networked) => Some(networked),
                Err(detail) => return spawn_failed(detail),
            },
        };
        let uid = match self.uids.as_ref().map(UidPool::lend) {
            None => None,
            Some(Some(uid)) => Some(uid),
            Some(None) => {
                return spawn_failed(
                    "every worker uid is in use; too many workers run at once".to_owned(),
                )
            }
        };
        let uid_number = uid.as_ref().map(|u| u.uid());
        let leased = lock(&self.cgroups)
            .as_ref()
            .map(|root| root.lease(&attempt.to_string(), &worker.limits));
        let cgroup = match leased {
            None => None,
            Some(Ok(lease)) => Some(lease),
            Some(Err(e)) => {
                return spawn_failed(format!("cannot make the worker's control group: {e}"))
            }
        };
        let scratch = match Scratch::create(&self.scratch_root, attempt) {
            Ok(scratch) => scratch,
            Err(e) => {
                return spawn_failed(format!(
                    "cannot create the attempt's scratch directory: {e}"
                ))
            }
        };
        let end = (|| {
            let workspace_dir = if plan.files {
                checkout::workspace_files(&self.kernel, plan.sws, &scratch.workspace_dir).map_err(
                    |e| format!("cannot write the workspace's files for the worker: {e}"),
                )?;
                Some(scratch.workspace_dir.to_string_lossy().into_owned())
            } else {
                None
            };
            if let Some(uid) = uid_number {
                scratch
                    .give_to(uid)
                    .map_err(|e| format!("cannot hand the scratch directory to uid {uid}: {e}"))?;
            }
            let env: Vec<(String, String)> = plan
                .secrets
                .iter()
                .map(|(name, value)| (secrets::env_name(name), value.clone()))
                .chain(
                    plan.effect_key
                        .iter()
                        .map(|key| (EFFECT_KEY_ENV.to_owned(), key.clone())),
                )
                .collect();
            let launched = launch::launch_networked(
                worker,
                launch::Start {
                    program: &program,
                    dir: &scratch.dir,
                    stderr_dir: &scratch.root,
                    uid: uid_number,
                    cgroup: cgroup.as_ref(),
                    env: &env,
                },
                enforcement,
                networked.as_ref().map(network::Networked::egress),
            )
            .map_err(|e| e.to_string())?;
            let job = Job {
                job_id: attempt,
                attempt: 1,
                deadline_ms: deadline_ms_left(deadline),
                input: feedback::expand(&self.kernel, &plan.input),
                workspace_dir,
                args: plan.args.clone(),
            };
            let redactor = self.secrets.redactor(&plan.secrets);
            let fetching = drive::Fetching {
                fetcher: &self.fetcher,
                worker: &worker.manifest.name,
                manifest_fetch: worker.manifest.fetch,
            };
            Ok(drive::drive(
                launched, job, deadline, cancel, &redactor, &fetching,
            ))
        })();
        // A confined `pure` worker cannot start processes; any other may have started
        // some outside its process group, and they end with it.
        let may_fork = worker.manifest.sandbox_profile != SandboxProfile::Pure
            || enforcement == Enforcement::Unconfined;
        if let Some(uid) = uid_number.filter(|_| may_fork) {
            if let Err(e) = jitos_sandbox::kill_uid(uid) {
                tracing::error!(attempt, uid, error = %e, "cannot kill what the worker left running");
            }
        }
        // The group's members are killed and the group removed before its uid is lent again.
        drop(cgroup);
        drop(uid);
        let unrecorded = networked
            .map(|networked| networked.close(&self.kernel, attempt, &worker.manifest.name))
            .and_then(Result::err);
        scratch.remove();
        match (end, unrecorded) {
            (_, Some(detail)) => AttemptEnd::Failed {
                cause: FailureCause::Protocol,
                detail,
            },
            (end, None) => end.unwrap_or_else(spawn_failed),
        }
    }

    fn record_failure(&self, actor: Actor, attempt: u64, cause: FailureCause, detail: String) {
        let failed = Command::JobFail {
            attempt,
            cause,
            detail,
        };
        tracing::Span::current().record("cause", cause.as_str());
        let recorded = self.kernel.execute_blocking(actor, failed);
        report_end(attempt, recorded);
    }
}

/// Ends every attempt a previous daemon left running: its worker died with that daemon.
pub fn end_interrupted(kernel: &mut Kernel) -> Result<usize, jitos_kernel::KernelError> {
    let ends: Vec<Request> = kernel
        .jobs()
        .running()
        .map(|a| Request {
            actor: Actor::System,
            command: Command::JobFail {
                attempt: a.id,
                cause: FailureCause::Interrupted,
                detail: "jitosd stopped while this attempt ran; its worker was killed with it"
                    .to_owned(),
            },
        })
        .collect();
    let ended = ends.len();
    // One synced write for all of them.
    for answer in kernel.execute(ends) {
        answer?;
    }
    Ok(ended)
}

/// How a client hears a worker that cannot be used: not found, its own bad request, or
/// the daemon's failure to copy the binary into its store.
fn catalog_error_code(error: &CatalogError) -> ErrorCode {
    match error {
        CatalogError::Unknown { .. } => ErrorCode::NotFound,
        CatalogError::Store(store::StoreError::Copy { .. }) => ErrorCode::Storage,
        _ => ErrorCode::BadRequest,
    }
}

fn deadline_ms_left(deadline: Instant) -> u64 {
    u64::try_from(
        deadline
            .saturating_duration_since(Instant::now())
            .as_millis(),
    )
    .unwrap_or(u64::MAX)
}

/// The uid of the local user `actor` is, if a user.
pub(crate) fn user_of(actor: &Actor) -> Option<u32> {
    match actor {
        Actor::Peer { uid, .. } => Some(*uid),
        Actor::System | Actor::Named(_) => None,
    }
}

/// The local user who made the record at `seq` (a process's submit record, an attempt's
/// dispatch); none if a user did not, or there is no such record.
pub(crate) fn user_of_record(
    view: &jitos_kernel::View,
    seq: u64,
) -> Result<Option<u32>, jitos_kernel::KernelError> {
    Ok(view
        .records(seq, 1)?
        .first()
        .filter(|record| record.seq == seq)
        .and_then(|record| user_of(&record.actor)))
}

pub(crate) fn worker_actor(name: &str) -> Actor {
    Actor::Named(format!("worker:{name}"))
}

/// Says how attempt `attempt` ended, as `recorded`: on its span, and in the log when its
/// end could not be recorded.
fn report_end(attempt: u64, recorded: Result<Outcome, jitos_kernel::KernelError>) {
    // On the attempt's span, when this runs within it (a trace then says how the attempt
    // ended, as the ledger does); elsewhere the span has no such fields and nothing is
    // recorded.
    let ended = match &recorded {
        Ok(Outcome::ProposalDone(record)) => Some(("done", record.seq)),
        Ok(Outcome::ProposalRefused { record, .. }) => Some(("refused", record.seq)),
        Ok(Outcome::Recorded(record)) => Some(("failed", record.seq)),
        _ => None,
    };
    if let Some((outcome, seq)) = ended {
        let span = tracing::Span::current();
        span.record("outcome", outcome);
        span.record("ended_seq", seq);
    }
    match recorded {
        Ok(_) => {}
        Err(jitos_kernel::KernelError::ShuttingDown) => tracing::error!(
            attempt,
            "the kernel stopped before the attempt's end was recorded; it ends as interrupted at the next start"
        ),
        Err(e) => {
            tracing::error!(attempt, error = %e, "cannot record the attempt's end; it ends as interrupted at the next start")
        }
    }
}

/// The effect class the policy rules on for a job outside a process, and a worker is
/// shown with: its manifest's.
fn public_effect(class: EffectClass) -> jitos_gov::Effect {
    match class {
        EffectClass::None => jitos_gov::Effect::None,
        EffectClass::Workspace => jitos_gov::Effect::Workspace,
        EffectClass::Local => jitos_gov::Effect::Local,
        EffectClass::Network => jitos_gov::Effect::Network,
        EffectClass::Irreversible => jitos_gov::Effect::Irreversible,
    }
}

/// The refusal of a job outside a process whose recorded ruling did not allow it.
fn not_allowed(record: &jitos_ledger::Record) -> ErrorInfo {
    let (why, held) = match JobRuling::decode(&record.payload) {
        Ok(ruling) => (
            ruling.why(),
            matches!(
                ruling.ruling.verdict,
                jitos_gov::policy::Verdict::Require { .. }
            ),
        ),
        Err(e) => (format!("an unreadable ruling ({e})"), false),
    };
    let message = match held {
        true => format!(
            "the policy holds this job for approvals ({why}, recorded at seq {}); a job outside a process has nothing to wait in: run it as a step of a process (`jitos submit`), where it waits for approvals",
            record.seq
        ),
        false => format!("the policy denies this job: {why} (recorded at seq {})", record.seq),
    };
    info(ErrorCode::Forbidden, message)
}
