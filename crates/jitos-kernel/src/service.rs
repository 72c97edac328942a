//! The kernel's writer thread: one owner of the [`Kernel`], fed by a bounded queue of
//! typed commands, executing them in groups; and the published view readers use.
//!
//! Group commit falls out of the queue: while one synced write is in flight, new
//! commands wait in the channel, and the next turn of the loop takes all of them (up to
//! [`COMMIT_BATCH_MAX`]) into one group; when the last group was larger than what is
//! queued, it waits up to `GATHER_WAIT_MAX` for the rest. After every group the writer
//! publishes its new view; readers take the latest view and never wait on the writer.
//! Snapshots are encoded from a view on a thread of their own; only the write of the
//! encoded bytes comes back to the writer.

use std::{
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, PoisonError, RwLock,
    },
    thread,
    time::{Duration, Instant},
};

use jitos_ledger::{Actor, Record, SnapshotMeta};
use jitos_warp::{BlobRef, Rewrite, StateDigest};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::{
    files::BlobGcOutcome, Command, Commit, CommitError, FollowOn, Kernel, KernelError, Outcome,
    Request, State, View,
};

/// The most commands one group carries.
pub const COMMIT_BATCH_MAX: usize = 1024;

/// Commands waiting for the writer at most; more wait to be queued.
const QUEUE_MAX: usize = 4096;

/// Longest a group waits for the commands its predecessor's size says are coming. Well
/// under one fsync, so a lone writer never waits (its groups hold one command) and a
/// crowd fills each synced write instead of splitting across several.
const GATHER_WAIT_MAX: Duration = Duration::from_micros(100);
/// The longest a stopping writer waits for a snapshot being encoded, to store it.
const SNAPSHOT_FINISH_WAIT: Duration = Duration::from_secs(10);

/// Committed records kept for followers that fall behind before they must re-read the
/// ledger.
const FOLLOW_BUFFER_RECORDS_MAX: usize = 4096;

type Reply = oneshot::Sender<Result<Outcome, KernelError>>;

enum Job {
    Execute(Request, Reply),
    /// A snapshot encoded off the writer, to store.
    StoreSnapshot {
        seq: u64,
        digest: StateDigest,
        bytes: Vec<u8>,
        reply: Option<oneshot::Sender<Result<SnapshotMeta, KernelError>>>,
    },
    DeleteBlobs {
        blobs: Vec<BlobRef>,
        scanned: u64,
        reply: oneshot::Sender<Result<Vec<BlobRef>, KernelError>>,
    },
    /// Run the follow-on alone: time has made something due.
    Turn,
    Stop,
}

/// A cheap, cloneable way to reach the kernel: commands to its writer, reads from its
/// latest view.
#[derive(Clone)]
pub struct KernelHandle {
    jobs: mpsc::Sender<Job>,
    published: Arc<RwLock<Arc<View>>>,
    committed: broadcast::Sender<Arc<Record>>,
    closed: watch::Receiver<bool>,
}

impl KernelHandle {
    /// Executes `command` by `actor`; resolves only after its records are durable (or
    /// with why it was refused).
    pub async fn execute(&self, actor: Actor, command: Command) -> Result<Outcome, KernelError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Execute(Request { actor, command }, reply))
            .await
            .map_err(|_| KernelError::ShuttingDown)?;
        answer.await.map_err(|_| KernelError::ShuttingDown)?
    }

    /// Blocking form of [`KernelHandle::execute`], for threads outside an async runtime.
    pub fn execute_blocking(&self, actor: Actor, command: Command) -> Result<Outcome, KernelError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .blocking_send(Job::Execute(Request { actor, command }, reply))
            .map_err(|_| KernelError::ShuttingDown)?;
        answer
            .blocking_recv()
            .map_err(|_| KernelError::ShuttingDown)?
    }

    /// Commits one rewrite of the system graph.
    pub async fn commit(&self, actor: Actor, rewrite: Rewrite) -> Result<Commit, CommitError> {
        self.execute(actor, Command::Rewrite(rewrite))
            .await?
            .into_commit()
    }

    /// Blocking form of [`KernelHandle::commit`].
    pub fn commit_blocking(&self, actor: Actor, rewrite: Rewrite) -> Result<Commit, CommitError> {
        self.execute_blocking(actor, Command::Rewrite(rewrite))?
            .into_commit()
    }

    /// Asks the writer to run its follow-on (time may have made something due); returns
    /// once asked, not once done.
    pub async fn turn(&self) -> Result<(), KernelError> {
        self.jobs
            .send(Job::Turn)
            .await
            .map_err(|_| KernelError::ShuttingDown)
    }

    /// The latest committed view. Taking it never waits for the writer.
    pub fn view(&self) -> Arc<View> {
        Arc::clone(
            &self
                .published
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Every record committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Record>> {
        self.committed.subscribe()
    }

    /// Resolves once the writer has stopped (on request, or because it failed).
    pub async fn closed(&self) {
        let mut closed = self.closed.clone();
        while !*closed.borrow_and_update() {
            if closed.changed().await.is_err() {
                return;
            }
        }
    }

    /// Takes a snapshot of the latest view: encoded here (call it off the async threads),
    /// stored by the writer.
    pub fn snapshot_blocking(&self) -> Result<SnapshotMeta, KernelError> {
        let view = self.view();
        let bytes = view.state.encode_snapshot()?;
        let (reply, answer) = oneshot::channel();
        self.jobs
            .blocking_send(Job::StoreSnapshot {
                seq: view.head().seq,
                digest: view.state.graph.digest(),
                bytes,
                reply: Some(reply),
            })
            .map_err(|_| KernelError::ShuttingDown)?;
        answer
            .blocking_recv()
            .map_err(|_| KernelError::ShuttingDown)?
    }

    /// Deletes every stored blob no record names: the records are read from the latest
    /// view here (call it off the async threads); the writer checks what was appended
    /// since and deletes the rest.
    pub fn blob_gc_blocking(&self) -> Result<BlobGcOutcome, KernelError> {
        let unreferenced = self.view().unreferenced_blobs()?;
        let (reply, answer) = oneshot::channel();
        self.jobs
            .blocking_send(Job::DeleteBlobs {
                blobs: unreferenced.refs(),
                scanned: unreferenced.scanned,
                reply,
            })
            .map_err(|_| KernelError::ShuttingDown)?;
        let deleted = answer
            .blocking_recv()
            .map_err(|_| KernelError::ShuttingDown)??;
        Ok(unreferenced.outcome(&deleted))
    }
}

/// The running writer thread.
pub struct KernelService {
    handle: KernelHandle,
    thread: Option<thread::JoinHandle<()>>,
}

impl KernelService {
    /// Moves `kernel` onto its own thread; snapshots it then takes in the background.
    pub fn start(kernel: Kernel) -> std::io::Result<KernelService> {
        Self::start_following(kernel, None)
    }

    /// [`KernelService::start`], with `follow_on` asked after every group what is due.
    pub fn start_following(
        mut kernel: Kernel,
        follow_on: Option<Box<dyn FollowOn>>,
    ) -> std::io::Result<KernelService> {
        kernel.take_snapshots_elsewhere();
        let (jobs, queue) = mpsc::channel(QUEUE_MAX);
        let (committed, _) = broadcast::channel(FOLLOW_BUFFER_RECORDS_MAX);
        let (closing, closed) = watch::channel(false);
        let published = Arc::new(RwLock::new(Arc::new(kernel.view())));
        let writer = Writer {
            kernel,
            follow_on,
            queue,
            jobs: jobs.clone(),
            published: Arc::clone(&published),
            committed: committed.clone(),
            snapshotting: Arc::new(AtomicBool::new(false)),
        };
        let thread = thread::Builder::new()
            .name("jitos-kernel".into())
            .spawn(move || {
                writer.run();
                let _ = closing.send(true);
            })?;
        Ok(KernelService {
            handle: KernelHandle {
                jobs,
                published,
                committed,
                closed,
            },
            thread: Some(thread),
        })
    }

    /// A handle for submitting work.
    pub fn handle(&self) -> KernelHandle {
        self.handle.clone()
    }

    /// Finishes the work already queued, then stops the thread and closes the store.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        // Queued behind what is already asked. A full queue is waited on from a thread of
        // its own: this may run on an async runtime's thread, which must not block on a
        // channel.
        if let Err(mpsc::error::TrySendError::Full(stop)) = self.handle.jobs.try_send(Job::Stop) {
            let jobs = self.handle.jobs.clone();
            let sent = thread::Builder::new()
                .name("jitos-kernel-stop".into())
                .spawn(move || jobs.blocking_send(stop).is_ok());
            if !sent.is_ok_and(|waiter| waiter.join().unwrap_or(false)) {
                tracing::error!("cannot ask the kernel's writer to stop");
            }
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the kernel thread panicked");
            }
        }
    }
}

impl Drop for KernelService {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// The writer's side.
struct Writer {
    kernel: Kernel,
    follow_on: Option<Box<dyn FollowOn>>,
    queue: mpsc::Receiver<Job>,
    /// For the background snapshot thread to hand its bytes back.
    jobs: mpsc::Sender<Job>,
    published: Arc<RwLock<Arc<View>>>,
    committed: broadcast::Sender<Arc<Record>>,
    snapshotting: Arc<AtomicBool>,
}

impl Writer {
    fn run(mut self) {
        // As many commands as the last group carried: the writers just answered are about
        // to send their next ones, and waiting a moment for them saves whole fsyncs.
        let mut expected = 1usize;
        let mut group: Vec<(Request, Reply)> = Vec::new();
        while let Some(first) = self.queue.blocking_recv() {
            let mut other = None;
            let mut turn = false;
            let mut next = Some(first);
            let gather_until = Instant::now() + GATHER_WAIT_MAX;
            while let Some(job) = next.take() {
                match job {
                    Job::Execute(request, reply) => group.push((request, reply)),
                    // The follow-on runs after every group; this one may hold no command.
                    Job::Turn => turn = true,
                    job => {
                        other = Some(job);
                        break;
                    }
                }
                if group.len() >= COMMIT_BATCH_MAX {
                    break;
                }
                next = match self.queue.try_recv() {
                    Ok(job) => Some(job),
                    Err(_) if group.len() < expected => {
                        let wait = gather_until.saturating_duration_since(Instant::now());
                        thread::sleep(wait.min(GATHER_WAIT_MAX));
                        self.queue.try_recv().ok()
                    }
                    Err(_) => None,
                };
            }
            if !group.is_empty() || (turn && self.follow_on.is_some()) {
                expected = group.len().max(1);
                if !self.execute(std::mem::take(&mut group)) {
                    return;
                }
            }
            match other {
                Some(Job::Stop) => {
                    self.finish_snapshot();
                    return;
                }
                Some(Job::StoreSnapshot {
                    seq,
                    digest,
                    bytes,
                    reply,
                }) => self.store_snapshot(seq, digest, &bytes, reply),
                Some(Job::DeleteBlobs {
                    blobs,
                    scanned,
                    reply,
                }) => {
                    let _ = reply.send(self.kernel.delete_blobs(&blobs, scanned));
                }
                Some(Job::Execute(..) | Job::Turn) | None => {}
            }
        }
    }

    /// Executes a group, publishes the new view and the committed records, answers each
    /// command; false if the writer must stop (a panic outside any one command's work,
    /// after which the committed state is not to be trusted).
    fn execute(&mut self, group: Vec<(Request, Reply)>) -> bool {
        let (requests, replies): (Vec<Request>, Vec<Reply>) = group.into_iter().unzip();
        let (kernel, follow_on) = (&mut self.kernel, &mut self.follow_on);
        let mut settled = Vec::new();
        let executed = catch_unwind(AssertUnwindSafe(|| match follow_on {
            Some(follow_on) => {
                let mut deferred = Deferred {
                    inner: follow_on.as_mut(),
                    settled: &mut settled,
                };
                kernel.execute_following(requests, Some(&mut deferred))
            }
            None => kernel.execute_following(requests, None),
        }));
        let answers = match executed {
            Ok((answers, more_due)) => {
                // A full queue runs another group soon anyway, and the follow-on with it.
                if more_due {
                    let _ = self.jobs.try_send(Job::Turn);
                }
                answers
            }
            Err(_) => {
                tracing::error!(
                    "the kernel's writer failed outside any one command; jitosd stops so that \
                     a restart recovers the state from the ledger"
                );
                return false;
            }
        };
        self.publish();
        self.announce();
        for (answer, reply) in answers.into_iter().zip(replies) {
            let _ = reply.send(answer);
        }
        // Only now: what the follow-on does with an outcome (start a worker) reads the
        // published view, which must already hold the records it answers, and comes after
        // those who asked heard their answers.
        if let Some(follow_on) = self.follow_on.as_mut() {
            let told = catch_unwind(AssertUnwindSafe(|| {
                for outcome in settled {
                    follow_on.settled(outcome);
                }
            }));
            if told.is_err() {
                tracing::error!(
                    "the writer's follow-on failed while told what a group did; jitosd stops \
                     so that a restart decides again from the ledger"
                );
                return false;
            }
        }
        self.snapshot_if_due();
        true
    }

    fn publish(&self) {
        let view = Arc::new(self.kernel.view());
        *self
            .published
            .write()
            .unwrap_or_else(PoisonError::into_inner) = view;
    }

    /// Sends followers every record the last group committed.
    fn announce(&mut self) {
        for record in self.kernel.take_committed() {
            // No follower listening is not an error.
            let _ = self.committed.send(Arc::new(record));
        }
    }

    fn store_snapshot(
        &mut self,
        seq: u64,
        digest: StateDigest,
        bytes: &[u8],
        reply: Option<oneshot::Sender<Result<SnapshotMeta, KernelError>>>,
    ) {
        let stored = self.kernel.store_snapshot(seq, digest, bytes);
        if let Err(error) = &stored {
            tracing::warn!(%error, seq, "a snapshot could not be stored");
        }
        self.snapshotting.store(false, Ordering::Release);
        self.publish();
        if let Some(reply) = reply {
            let _ = reply.send(stored);
        }
    }

    /// Before the writer stops: waits (a bounded time) for a snapshot being encoded in the
    /// background and stores it, so a shutdown right after the records it was due at does
    /// not lose it. Other work that comes meanwhile is dropped, as after a stop.
    fn finish_snapshot(&mut self) {
        let until = Instant::now() + SNAPSHOT_FINISH_WAIT;
        while self.snapshotting.load(Ordering::Acquire) && Instant::now() < until {
            match self.queue.try_recv() {
                Ok(Job::StoreSnapshot {
                    seq,
                    digest,
                    bytes,
                    reply,
                }) => self.store_snapshot(seq, digest, &bytes, reply),
                Ok(_) => {}
                Err(_) => thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    /// Starts encoding a snapshot of the latest view on a thread of its own when one is
    /// due and none is being taken.
    fn snapshot_if_due(&self) {
        if !self.kernel.snapshot_due() || self.snapshotting.swap(true, Ordering::AcqRel) {
            return;
        }
        let view = self.kernel.view();
        let jobs = self.jobs.clone();
        let snapshotting = Arc::clone(&self.snapshotting);
        let started =
            thread::Builder::new()
                .name("jitos-snapshot".into())
                .spawn(move || match view.state.encode_snapshot() {
                    Ok(bytes) => {
                        let job = Job::StoreSnapshot {
                            seq: view.head().seq,
                            digest: view.state.graph.digest(),
                            bytes,
                            reply: None,
                        };
                        if jobs.blocking_send(job).is_err() {
                            snapshotting.store(false, Ordering::Release);
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "a periodic snapshot could not be encoded");
                        snapshotting.store(false, Ordering::Release);
                    }
                });
        if let Err(error) = started {
            tracing::warn!(%error, "cannot start a snapshot thread");
            self.snapshotting.store(false, Ordering::Release);
        }
    }
}

/// The writer's follow-on while a group executes: asked what is due as usual, its
/// outcomes held back until the group's view is published.
struct Deferred<'a> {
    inner: &'a mut dyn FollowOn,
    settled: &'a mut Vec<Result<Outcome, KernelError>>,
}

impl FollowOn for Deferred<'_> {
    fn next(&mut self, state: &State, now_ms: u64) -> Option<Request> {
        self.inner.next(state, now_ms)
    }

    fn settled(&mut self, outcome: Result<Outcome, KernelError>) {
        self.settled.push(outcome);
    }
}
