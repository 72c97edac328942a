//! Warm workers: confined instances of a reusable worker kept alive between jobs, each
//! serving the attempts of one scope (one local user), one at a time (`docs/SANDBOX.md`,
//! *Warm workers*).
//!
//! An instance is started as a one-shot worker is (its own lent uid and control group,
//! the same confinement), with a home of its own as its one writable path. A thread owns
//! each instance for its whole life: the thread started the process, so the parent-death
//! signal ties the process to it, and it runs every job handed to the instance. Each job
//! gets a fresh directory in the home, prepared where the worker cannot reach it and
//! moved in whole, removed after the job's terminal record once the instance is idle.
//!
//! Jobs of a scope go to an idle instance bound to that scope; failing that to a spare (a
//! never-used instance, started ahead so spawning stays off the critical path, which
//! holds nothing of anyone and is bound at its first job); failing that to a new one. An
//! instance is retired after `jobs_max` jobs, after any job that did not end `job.done`,
//! after `idle` without a job, once it has used half its CPU-time limit, and when the
//! daemon stops.

use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    fs::File,
    os::{
        fd::AsFd,
        unix::{
            ffi::OsStrExt,
            fs::{DirBuilderExt, FileExt},
            net::UnixStream,
        },
    },
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc, Arc, Mutex,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use jitos_kernel::FailureCause;
use jitos_sandbox::{CgroupLease, LentUid, Process, UidPool};
use jitos_worker::{Job, SandboxProfile};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use tokio::sync::oneshot;

use super::{
    catalog::ResolvedWorker,
    checkout,
    drive::{self, AttemptEnd, Talk, WorkerLog},
    launch::{self, Enforcement, Launched},
    scratch::Scratch,
    AttemptPlan, Cancel, JobRunner,
};
use crate::reply::lock;

/// How the daemon keeps warm instances: the operator's choice (`jitosd --warm-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmConfig {
    /// Jobs one instance serves before it is retired.
    pub jobs_max: u32,
    /// How long an instance waits for its next job before it is retired.
    pub idle: Duration,
    /// Instances alive at once, over every worker and scope (each holds a process, a lent
    /// uid and a control group); 0 runs every worker one process per job.
    pub instances_max: usize,
}

impl WarmConfig {
    /// Default jobs per instance.
    pub const JOBS_MAX_DEFAULT: u32 = 256;
    /// Default idle time before retirement.
    pub const IDLE_DEFAULT: Duration = Duration::from_secs(10);
    /// Default instances alive at once: the scheduler's slots many times over, far below
    /// the host's lent uids (`jitos_sandbox::LENT_UIDS_MAX`).
    pub const INSTANCES_MAX_DEFAULT: usize = 64;
}

impl Default for WarmConfig {
    fn default() -> WarmConfig {
        WarmConfig {
            jobs_max: WarmConfig::JOBS_MAX_DEFAULT,
            idle: WarmConfig::IDLE_DEFAULT,
            instances_max: WarmConfig::INSTANCES_MAX_DEFAULT,
        }
    }
}

/// Never-used instances kept ready per class: enough that processes starting together
/// rarely wait for a spawn, few enough that an idle daemon holds little.
const SPARES_PER_CLASS: usize = 4;
/// How long a spare may take from its spawn to its hello.
const SPARE_HANDSHAKE_WAIT: Duration = Duration::from_secs(10);
/// The name of the directory a job's workspace files are written to, in its directory.
const WORKSPACE_DIR: &str = "ws";

/// Whose jobs one instance may serve: the local user (uid) who submitted the jobs'
/// processes or ran them. What a job leaves in an instance is seen only by later jobs of
/// the same user, who could read what those jobs are given anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Scope {
    uid: u32,
}

impl Scope {
    /// The scope of `plan`; none when no local user asked for it, and then it runs in a
    /// process of its own.
    fn of(plan: &AttemptPlan) -> Option<Scope> {
        plan.submitter.map(|uid| Scope { uid })
    }
}

/// What the instances of one pool share: the worker, the copy of its binary that runs,
/// and everything its confinement is made of (profile, limits, needed paths). Instances
/// of one class differ only in their scope.
pub(super) struct Class {
    key: ClassKey,
    worker: ResolvedWorker,
    program: PathBuf,
}

/// A class's identity: a digest of all it is made of.
type ClassKey = [u8; 32];

impl Class {
    /// The class of `worker` running `program` (its copy in the worker store, named by
    /// the binary's digest).
    pub(super) fn new(worker: ResolvedWorker, program: PathBuf) -> Class {
        let mut hasher = blake3::Hasher::new_derive_key("jitosd warm worker class v1");
        let mut field = |bytes: &[u8]| {
            hasher.update(&(bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        };
        let manifest = &worker.manifest;
        field(manifest.name.as_bytes());
        field(program.as_os_str().as_bytes());
        field(manifest.sandbox_profile.as_str().as_bytes());
        let limits = worker.limits;
        for limit in [
            limits.cpu_seconds,
            limits.address_space_bytes,
            limits.open_files,
            limits.processes,
            limits.file_size_bytes,
        ] {
            field(&limit.to_le_bytes());
        }
        field(&(manifest.needs.len() as u64).to_le_bytes());
        for need in &manifest.needs {
            field(need.path.as_os_str().as_bytes());
            field(need.access.as_str().as_bytes());
        }
        Class {
            key: *hasher.finalize().as_bytes(),
            worker,
            program,
        }
    }
}

/// A recorded attempt handed to an instance, with what its one-shot thread would hold.
pub(super) struct Assignment {
    pub plan: AttemptPlan,
    pub deadline: Instant,
    pub cancel: Arc<Cancel>,
    /// Told once the attempt's terminal record is written.
    pub ended: oneshot::Sender<()>,
}

/// The warm instances of one daemon.
pub(super) struct WarmPool {
    config: WarmConfig,
    state: Mutex<PoolState>,
    /// Set once the daemon stops: no instance takes another job, and spares stop waiting
    /// for their hello.
    closing: AtomicBool,
}

#[derive(Default)]
struct PoolState {
    /// Instances started and not yet told to retire, by id: what `instances_max` bounds.
    live: BTreeSet<u64>,
    /// Idle instances by class and scope (none: a spare), oldest first.
    idle: BTreeMap<(ClassKey, Option<Scope>), VecDeque<Idle>>,
    /// Spares started and not yet idle, by class.
    starting: BTreeMap<ClassKey, usize>,
    /// Every instance's thread, joined when the daemon stops.
    threads: Vec<JoinHandle<()>>,
    next_id: u64,
}

/// An idle instance, as the pool holds it. Dropping it tells the instance to retire.
struct Idle {
    id: u64,
    /// Where its next job goes.
    inbox: mpsc::Sender<Box<Assignment>>,
    /// Its channel, to see whether it spoke or hung up while idle.
    watch: Arc<UnixStream>,
    since: Instant,
}

impl Idle {
    /// Whether the instance said nothing and is still there: an idle worker has nothing to
    /// say (the SDK never speaks between jobs), so bytes or a hang-up mean it is broken.
    fn is_quiet(&self) -> bool {
        let mut fds = [PollFd::new(self.watch.as_fd(), PollFlags::POLLIN)];
        matches!(poll(&mut fds, PollTimeout::ZERO), Ok(0))
    }
}

impl PoolState {
    fn pop_idle(&mut self, key: &(ClassKey, Option<Scope>)) -> Option<Idle> {
        let queue = self.idle.get_mut(key)?;
        let idle = queue.pop_front();
        if queue.is_empty() {
            self.idle.remove(key);
        }
        idle
    }

    /// Tells the instance idle longest, of any class and scope, to retire; whether there
    /// was one.
    fn evict_oldest(&mut self) -> bool {
        let oldest = self
            .idle
            .iter()
            .filter_map(|(key, queue)| queue.front().map(|idle| (idle.since, *key)))
            .min();
        let Some((_, key)) = oldest else {
            return false;
        };
        if let Some(idle) = self.pop_idle(&key) {
            self.live.remove(&idle.id);
        }
        true
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.live.insert(self.next_id);
        self.next_id
    }
}

impl WarmPool {
    pub(super) fn new(config: WarmConfig) -> WarmPool {
        WarmPool {
            config,
            state: Mutex::default(),
            closing: AtomicBool::new(false),
        }
    }

    /// Whether `worker` runs in warm instances here: it says it is reusable, it is `pure`
    /// (it starts no process that could outlive a job), workers are fully confined, and
    /// the operator allows instances.
    pub(super) fn serves(&self, worker: &ResolvedWorker, enforcement: Enforcement) -> bool {
        worker.manifest.reusable
            && worker.manifest.sandbox_profile == SandboxProfile::Pure
            && enforcement == Enforcement::Confined
            && self.config.instances_max > 0
    }

    /// Hands `work` to an instance of `class` for its scope: an idle one bound to the
    /// scope, else a spare (bound now), else a new one started for it. Gives the work back
    /// when it has no scope, the daemon is stopping or every instance allowed is busy: it
    /// then runs in a process of its own.
    pub(super) fn assign(
        &self,
        runner: &Arc<JobRunner>,
        class: Arc<Class>,
        mut work: Box<Assignment>,
    ) -> Result<(), Box<Assignment>> {
        let Some(scope) = Scope::of(&work.plan) else {
            return Err(work);
        };
        let mut state = lock(&self.state);
        if self.closing.load(Ordering::Relaxed) {
            return Err(work);
        }
        for key in [(class.key, Some(scope)), (class.key, None)] {
            while let Some(idle) = state.pop_idle(&key) {
                if !idle.is_quiet() {
                    state.live.remove(&idle.id);
                    continue;
                }
                match idle.inbox.send(work) {
                    Ok(()) => {
                        metrics::counter!(crate::metrics::WARM_POOL, "outcome" => "hit")
                            .increment(1);
                        if key.1.is_none() {
                            self.start_spares(runner, &mut state, &class);
                        }
                        return Ok(());
                    }
                    // Its thread is gone (it panicked); the work comes back unchanged.
                    Err(mpsc::SendError(back)) => {
                        state.live.remove(&idle.id);
                        work = back;
                    }
                }
            }
        }
        metrics::counter!(crate::metrics::WARM_POOL, "outcome" => "miss").increment(1);
        if state.live.len() >= self.config.instances_max && !state.evict_oldest() {
            return Err(work);
        }
        let id = state.new_id();
        let work = match self.start(runner, &mut state, &class, id, Some(work)) {
            Ok(()) => None,
            Err(back) => back,
        };
        self.start_spares(runner, &mut state, &class);
        work.map_or(Ok(()), Err)
    }

    /// Stops handing out jobs and tells every idle instance to retire; busy ones retire
    /// after their job. Returns at once; [`WarmPool::join`] waits.
    pub(super) fn close(&self) {
        let mut state = lock(&self.state);
        self.closing.store(true, Ordering::Relaxed);
        let idle = std::mem::take(&mut state.idle);
        for idle in idle.into_values().flatten() {
            state.live.remove(&idle.id);
        }
    }

    /// Waits until every instance is retired (after [`WarmPool::close`]).
    pub(super) fn join(&self) {
        let threads = std::mem::take(&mut lock(&self.state).threads);
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("a warm worker thread panicked");
            }
        }
    }

    /// Starts spares of `class` until it has [`SPARES_PER_CLASS`] idle or starting,
    /// within `instances_max`.
    fn start_spares(&self, runner: &Arc<JobRunner>, state: &mut PoolState, class: &Arc<Class>) {
        let idle = state.idle.get(&(class.key, None)).map_or(0, VecDeque::len);
        let starting = state.starting.get(&class.key).copied().unwrap_or(0);
        for _ in idle + starting..SPARES_PER_CLASS {
            if state.live.len() >= self.config.instances_max {
                return;
            }
            let id = state.new_id();
            *state.starting.entry(class.key).or_default() += 1;
            if self.start(runner, state, class, id, None).is_err() {
                return;
            }
        }
    }

    /// Starts the thread of instance `id`, which spawns the instance and then runs
    /// `first`, if any. Started under the pool's lock, so none starts after `close` and
    /// every one is joined. On failure the instance is forgotten and `first` given back.
    fn start(
        &self,
        runner: &Arc<JobRunner>,
        state: &mut PoolState,
        class: &Arc<Class>,
        id: u64,
        first: Option<Box<Assignment>>,
    ) -> Result<(), Option<Box<Assignment>>> {
        // A thread that fails to start drops its closure; the work is kept here for that.
        let slot = Arc::new(Mutex::new(first));
        let taken = Arc::clone(&slot);
        let runner_for_thread = Arc::clone(runner);
        let class_for_thread = Arc::clone(class);
        let started = std::thread::Builder::new()
            .name(format!("jitos-warm-{id}"))
            .spawn(move || {
                let first = lock(&taken).take();
                instance_main(&runner_for_thread, &class_for_thread, id, first);
            });
        match started {
            Ok(thread) => {
                state.threads.retain(|t| !t.is_finished());
                state.threads.push(thread);
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot start a thread for a warm worker instance");
                state.live.remove(&id);
                let first = lock(&slot).take();
                if first.is_none() {
                    spare_done(state, class.key);
                }
                Err(first)
            }
        }
    }

    /// Puts instance `id` back among the idle ones for `scope` (none: as a spare);
    /// its inbox, or none when the daemon is stopping or the instance was meanwhile
    /// told to retire.
    fn put_idle(
        &self,
        class: &Class,
        scope: Option<Scope>,
        id: u64,
        watch: &Arc<UnixStream>,
    ) -> Option<mpsc::Receiver<Box<Assignment>>> {
        let mut state = lock(&self.state);
        if scope.is_none() {
            spare_done(&mut state, class.key);
        }
        if self.closing.load(Ordering::Relaxed) || !state.live.contains(&id) {
            return None;
        }
        let (inbox, jobs) = mpsc::channel();
        state
            .idle
            .entry((class.key, scope))
            .or_default()
            .push_back(Idle {
                id,
                inbox,
                watch: Arc::clone(watch),
                since: Instant::now(),
            });
        Some(jobs)
    }

    /// Takes instance `id` out of the idle ones, if it is still there (not handed a job
    /// meanwhile): whether it was.
    fn leave_idle(&self, class: &Class, scope: Option<Scope>, id: u64) -> bool {
        let mut state = lock(&self.state);
        let key = (class.key, scope);
        let Some(queue) = state.idle.get_mut(&key) else {
            return false;
        };
        let before = queue.len();
        queue.retain(|idle| idle.id != id);
        let left = queue.len() < before;
        if queue.is_empty() {
            state.idle.remove(&key);
        }
        left
    }

    /// Forgets instance `id`: it is retired, or never started.
    fn gone(&self, id: u64, spare: bool, class: &Class) {
        let mut state = lock(&self.state);
        state.live.remove(&id);
        if spare {
            spare_done(&mut state, class.key);
        }
    }
}

/// One spare of the class is no longer starting.
fn spare_done(state: &mut PoolState, key: ClassKey) {
    if let Some(starting) = state.starting.get_mut(&key) {
        *starting = starting.saturating_sub(1);
        if *starting == 0 {
            state.starting.remove(&key);
        }
    }
}

/// The life of one instance, on its own thread: spawn it, serve jobs until it is retired,
/// retire it.
fn instance_main(runner: &Arc<JobRunner>, class: &Class, id: u64, first: Option<Box<Assignment>>) {
    let pool = &runner.warm;
    let spare = first.is_none();
    let (deadline, cancel) = match &first {
        Some(work) => (work.deadline, &work.cancel.asked),
        None => (Instant::now() + SPARE_HANDSHAKE_WAIT, &pool.closing),
    };
    let mut instance = match Instance::start(runner, class, id, deadline, cancel) {
        Ok(instance) => instance,
        Err(end) => {
            pool.gone(id, spare, class);
            match first {
                Some(work) => {
                    runner.record_end(&work.plan, end, &work.cancel);
                    runner.attempt_ended(work.plan.attempt, work.ended);
                }
                None => {
                    tracing::warn!(worker = %class.worker.manifest.name, ?end, "a spare warm worker did not start")
                }
            }
            return;
        }
    };
    let mut next = first;
    if spare {
        instance.prepare_next(runner);
        instance.inbox = pool.put_idle(class, None, id, &instance.watch);
    }
    loop {
        let work = match next.take() {
            Some(work) => work,
            None => match instance.wait(runner, class) {
                Some(work) => work,
                None => break,
            },
        };
        if !instance.serve(runner, class, work) {
            break;
        }
    }
    let handed_back = instance.handed_back.take();
    instance.retire(runner, class);
    if let Some(work) = handed_back {
        runner.run_handed_back(work);
    }
}

/// A running instance, owned by its thread.
struct Instance {
    id: u64,
    child: Process,
    /// Whether `child` was killed and reaped already (its pid may be reused since).
    reaped: bool,
    talk: Talk,
    /// A second handle on its channel, for the pool to look at while it is idle.
    watch: Arc<UnixStream>,
    stderr: File,
    /// Its one writable path, kept across its jobs.
    home: PathBuf,
    /// Held for the instance's life; given back only after it is killed and its group
    /// removed.
    uid: Option<LentUid>,
    cgroup: Option<CgroupLease>,
    /// The scope it serves, from its first job on.
    scope: Option<Scope>,
    jobs: u32,
    /// Where its next job comes from while it is idle.
    inbox: Option<mpsc::Receiver<Box<Assignment>>>,
    /// Its next job's directory, made ahead (see [`Instance::prepare_next`]).
    next_dir: Option<PathBuf>,
    /// The directories of jobs that have ended, removed the next time it is idle.
    spent_dirs: Vec<PathBuf>,
    /// A job handed to it while its last one was being recorded, when that one did not
    /// end `job.done`: it is not run here, since the instance retires.
    handed_back: Option<Box<Assignment>>,
    /// Its `/proc/<pid>/stat`, open for its life, for the CPU time it has used; none if
    /// it could not be opened, and then it serves one job.
    stat: Option<File>,
}

impl Instance {
    /// Spawns an instance of `class` with its home, and waits for its hello until
    /// `deadline` or `cancel`. Anything made for it is removed again on failure.
    fn start(
        runner: &JobRunner,
        class: &Class,
        id: u64,
        deadline: Instant,
        cancel: &AtomicBool,
    ) -> Result<Instance, AttemptEnd> {
        let spawn_failed = |detail: String| AttemptEnd::Failed {
            cause: FailureCause::Spawn,
            detail,
        };
        let uid = match runner.uids.as_ref().map(UidPool::lend) {
            None => None,
            Some(Some(uid)) => Some(uid),
            Some(None) => {
                return Err(spawn_failed(
                    "every worker uid is in use; too many workers run at once".to_owned(),
                ))
            }
        };
        let uid_number = uid.as_ref().map(LentUid::uid);
        let leased = lock(&runner.cgroups)
            .as_ref()
            .map(|root| root.lease(&format!("warm-{id}"), &class.worker.limits));
        let cgroup = match leased {
            None => None,
            Some(Ok(lease)) => Some(lease),
            Some(Err(e)) => {
                return Err(spawn_failed(format!(
                    "cannot make the worker's control group: {e}"
                )))
            }
        };
        let home = runner.scratch_root.join(format!("warm-{id}"));
        let launched = std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&home)
            .map_err(|e| format!("cannot create the instance's home {}: {e}", home.display()))
            .and_then(|()| match uid_number {
                Some(uid) => jitos_sandbox::give_tree(&home, uid)
                    .map_err(|e| format!("cannot hand the instance's home to uid {uid}: {e}")),
                None => Ok(()),
            })
            .and_then(|()| {
                let start = launch::Start {
                    program: &class.program,
                    dir: &home,
                    stderr_dir: &runner.scratch_root,
                    uid: uid_number,
                    cgroup: cgroup.as_ref(),
                    // An instance serves jobs given no secret.
                    env: &[],
                };
                launch::launch(&class.worker, start, Enforcement::Confined)
                    .map_err(|e| e.to_string())
            });
        let Launched {
            mut child,
            channel,
            stderr,
        } = match launched {
            Ok(launched) => launched,
            Err(detail) => {
                remove_dir(&home);
                return Err(spawn_failed(detail));
            }
        };
        let talk = drive::handshake(channel, deadline, cancel).and_then(|talk| {
            let watch = talk.watch().try_clone().map_err(|e| {
                (
                    FailureCause::Spawn,
                    format!("cannot watch the worker's channel: {e}"),
                )
            })?;
            Ok((talk, watch))
        });
        match talk {
            Ok((talk, watch)) => Ok(Instance {
                id,
                stat: File::open(format!("/proc/{}/stat", child.id())).ok(),
                child,
                reaped: false,
                talk,
                watch: Arc::new(watch),
                stderr,
                home,
                uid,
                cgroup,
                scope: None,
                jobs: 0,
                inbox: None,
                next_dir: None,
                spent_dirs: Vec::new(),
                handed_back: None,
            }),
            Err(ended) => {
                let crashed = ended.0 == FailureCause::Crashed;
                let status = drive::kill_and_reap(&mut child, crashed);
                let end = drive::attempt_end(
                    Err(ended),
                    WorkerLog::default(),
                    status,
                    &stderr,
                    0,
                    &runner.secrets.redactor(&[]),
                );
                // The process is gone; its group and uid go with these drops, then its home.
                drop((cgroup, uid));
                remove_dir(&home);
                Err(end)
            }
        }
    }

    /// Waits while idle for the next job; none when the instance is to retire (told to,
    /// or idle too long). A job handed over while the last one was being recorded starts
    /// at once; otherwise the ended jobs' directories are removed and the next one
    /// prepared before it waits.
    fn wait(&mut self, runner: &JobRunner, class: &Class) -> Option<Box<Assignment>> {
        let pool = &runner.warm;
        let inbox = self.inbox.take()?;
        match inbox.try_recv() {
            Ok(work) => return Some(work),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) => {}
        }
        for dir in self.spent_dirs.drain(..) {
            remove_dir(&dir);
        }
        if self.next_dir.is_none() {
            self.prepare_next(runner);
        }
        loop {
            match inbox.recv_timeout(pool.config.idle) {
                Ok(work) => return Some(work),
                // A job handed over while the timeout fired is already in the inbox.
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if pool.leave_idle(class, self.scope, self.id) {
                        return None;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Runs one job to its terminal record; whether the instance may serve another.
    /// When it may, it is back among the idle ones before the attempt's end is recorded:
    /// that record makes the scope's next step due, and the writer hands it to an idle
    /// instance as soon as the record is durable, which is then this one. The job's
    /// directory is removed when the instance is next idle (see [`Instance::wait`]).
    fn serve(&mut self, runner: &JobRunner, class: &Class, work: Box<Assignment>) -> bool {
        let Assignment {
            plan,
            deadline,
            cancel,
            ended,
        } = *work;
        let _in_attempt = plan.span().entered();
        let scope = Scope::of(&plan);
        let bound = scope.map(|scope| *self.scope.get_or_insert(scope));
        let stderr_from = self.stderr.metadata().map_or(0, |m| m.len());
        let mut log = WorkerLog::default();
        let mut job_dir = None;
        let end = if bound.is_none() || bound != scope {
            // The pool hands out instances by scope; this would be its bug, and the
            // instance is retired rather than let one scope's job see another's.
            tracing::error!(
                attempt = plan.attempt,
                ?bound,
                ?scope,
                "a warm worker instance was handed a job of another scope"
            );
            Err((
                FailureCause::Spawn,
                "jitosd handed the job to a worker instance of another scope; it was not run"
                    .to_owned(),
            ))
        } else {
            match self.stage(runner, &plan) {
                Err(detail) => Err((FailureCause::Spawn, detail)),
                Ok(dir) => {
                    let job = Job {
                        job_id: plan.attempt,
                        attempt: 1,
                        deadline_ms: super::deadline_ms_left(deadline),
                        input: super::feedback::expand(runner.kernel(), &plan.input),
                        workspace_dir: plan
                            .files
                            .then(|| dir.join(WORKSPACE_DIR).to_string_lossy().into_owned()),
                        args: plan.args.clone(),
                    };
                    job_dir = Some(dir);
                    let fetching = drive::Fetching {
                        fetcher: &runner.fetcher,
                        worker: &class.worker.manifest.name,
                        manifest_fetch: class.worker.manifest.fetch,
                    };
                    drive::run_job(
                        &mut self.talk,
                        job,
                        deadline,
                        &cancel.asked,
                        &mut log,
                        &fetching,
                    )
                }
            }
        };
        self.jobs += 1;
        // A failed instance stops before its attempt's end is recorded, as a one-shot
        // worker does, and its exit status goes into the record.
        let status = match &end {
            Ok(_) => None,
            Err((cause, _)) => {
                self.reaped = true;
                drive::kill_and_reap(&mut self.child, *cause == FailureCause::Crashed)
            }
        };
        // An instance's jobs are given no secret; the stored ones are still replaced.
        let redactor = runner.secrets.redactor(&[]);
        let end = drive::attempt_end(end, log, status, &self.stderr, stderr_from, &redactor);
        let pool = &runner.warm;
        let reusable = bound.is_some()
            && bound == scope
            && !self.reaped
            && self.jobs < pool.config.jobs_max
            && self.cpu_budget_left(&class.worker);
        if reusable {
            self.inbox = pool.put_idle(class, bound, self.id, &self.watch);
        }
        let done = runner.record_end(&plan, end, &cancel);
        // A job that did not end `job.done` retires the instance all the same; a job
        // handed to it meanwhile goes to a process of its own instead.
        if !done {
            if let Some(inbox) = self.inbox.take() {
                if !pool.leave_idle(class, bound, self.id) {
                    self.handed_back = inbox.try_recv().ok();
                }
            }
        }
        runner.attempt_ended(plan.attempt, ended);
        // What the job left there may stay until the instance retires (its home goes
        // then): only later jobs of its scope could see it.
        self.spent_dirs.extend(job_dir);
        self.inbox.is_some()
    }

    /// Makes the next job's directory ahead of its job, where the worker cannot reach it
    /// (the scratch root), empty and given to the instance's uid, so a job that needs
    /// nothing written into it only has to move it in.
    fn prepare_next(&mut self, runner: &JobRunner) {
        let dir = runner.scratch_root.join(format!("warm-{}-next", self.id));
        let made = std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .and_then(|()| match self.uid.as_ref().map(LentUid::uid) {
                Some(uid) => jitos_sandbox::give_tree(&dir, uid),
                None => Ok(()),
            });
        match made {
            Ok(()) => self.next_dir = Some(dir),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot prepare a warm worker's next job directory");
                remove_dir(&dir);
            }
        }
    }

    /// The job's fresh directory in the home: made where the worker cannot reach it (the
    /// scratch root; ahead of the job when it needs no files), filled with the
    /// workspace's files when the job has them, given to the instance's uid, then moved
    /// into the home in one rename, which replaces whatever the worker put at that name
    /// without following it.
    fn stage(&mut self, runner: &JobRunner, plan: &AttemptPlan) -> Result<PathBuf, String> {
        let job_dir = self.home.join(plan.attempt.to_string());
        let into_home = |dir: &Path| {
            std::fs::rename(dir, &job_dir).map_err(|e| {
                format!(
                    "cannot move the job's directory into the worker instance's home {}: {e}",
                    self.home.display()
                )
            })
        };
        if let Some(ready) = self.next_dir.take_if(|_| !plan.files) {
            return match into_home(&ready) {
                Ok(()) => Ok(job_dir),
                Err(detail) => {
                    remove_dir(&ready);
                    Err(detail)
                }
            };
        }
        let scratch = Scratch::create(&runner.scratch_root, plan.attempt)
            .map_err(|e| format!("cannot create the job's directory: {e}"))?;
        let staged = (|| {
            if plan.files {
                checkout::workspace_files(&runner.kernel, plan.sws, &scratch.workspace_dir)
                    .map_err(|e| {
                        format!("cannot write the workspace's files for the worker: {e}")
                    })?;
            }
            if let Some(uid) = self.uid.as_ref().map(LentUid::uid) {
                scratch
                    .give_to(uid)
                    .map_err(|e| format!("cannot hand the job's directory to uid {uid}: {e}"))?;
            }
            into_home(&scratch.dir)
        })();
        match staged {
            Ok(()) => Ok(job_dir),
            Err(detail) => {
                scratch.remove();
                Err(detail)
            }
        }
    }

    /// Whether the instance has used less than half its CPU-time limit, which binds its
    /// whole life: past that, the next job might be killed for what earlier ones used.
    fn cpu_budget_left(&self, worker: &ResolvedWorker) -> bool {
        match self.stat.as_ref().and_then(cpu_seconds_used) {
            Some(used) => used.saturating_mul(2) < worker.limits.cpu_seconds,
            None => false,
        }
    }

    /// Kills and reaps the instance, then removes its control group, gives its uid back
    /// and removes its home.
    fn retire(mut self, runner: &JobRunner, class: &Class) {
        if !self.reaped {
            drive::kill_and_reap(&mut self.child, false);
        }
        let Instance {
            id,
            uid,
            cgroup,
            home,
            next_dir,
            ..
        } = self;
        // The group's members are killed and the group removed before its uid is lent again.
        drop(cgroup);
        drop(uid);
        remove_dir(&home);
        if let Some(dir) = next_dir {
            remove_dir(&dir);
        }
        runner.warm.gone(id, false, class);
    }
}

/// CPU seconds (user and system) process `pid` has used, from `/proc/<pid>/stat`.
fn cpu_seconds_used(stat: &File) -> Option<u64> {
    // Read again from the start of the one open file: no path to look up per job.
    let mut bytes = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        let read = stat.read_at(&mut chunk, bytes.len() as u64).ok()?;
        if read == 0 || bytes.len() > 4096 {
            break;
        }
        bytes.extend_from_slice(chunk.get(..read)?);
    }
    let stat = String::from_utf8_lossy(&bytes);
    // The command name, in parentheses, may hold spaces; fields are counted after it.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12th and 13th after the name.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|hz| u64::try_from(hz).ok())
        .filter(|&hz| hz > 0)?;
    Some(ticks / per_second)
}

/// Removes a directory made for a warm instance and everything in it (without following
/// symlinks the worker made there), if it is there.
fn remove_dir(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot remove a warm worker's directory");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_again_from_one_open_stat_file() {
        // Goal: the seconds counted go up as this process burns CPU, read through the same
        // open file each time (what an instance does after every job). Method: read, then
        // burn CPU until the count goes up, which takes at most a second of it; a count
        // that never moves fails after 20 s.
        let stat = File::open("/proc/self/stat").unwrap();
        let before = cpu_seconds_used(&stat).unwrap();
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while cpu_seconds_used(&stat).unwrap() == before {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the CPU time read stayed at {before} s"
            );
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
    }

    #[test]
    fn a_stat_line_without_its_fields_counts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stat");
        std::fs::write(&path, "12 (name with ) spaces) S 1").unwrap();
        assert_eq!(cpu_seconds_used(&File::open(&path).unwrap()), None);
    }
}
