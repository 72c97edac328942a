//! The kernel thread: one owner of the [`Kernel`], fed by a queue, committing in groups.
//!
//! Group commit falls out of the queue: while one synced write is in flight, new rewrites
//! wait in the channel, and the next turn of the loop takes all of them (up to
//! [`COMMIT_BATCH_MAX`]) into one write; when the last group was larger than what is
//! queued, it waits up to `GATHER_WAIT_MAX` for the rest. Queries run on the same thread
//! between writes, so they only ever see acknowledged state.

use std::{
    sync::{mpsc, Arc},
    thread,
    time::{Duration, Instant},
};

use jitos_ledger::{Actor, Record};
use jitos_warp::Rewrite;
use tokio::sync::{broadcast, oneshot};

use crate::{Commit, CommitError, Kernel};

/// The most rewrites one synced write carries.
pub const COMMIT_BATCH_MAX: usize = 1024;

/// Longest a group waits for the commits its predecessor's size says are coming. Well
/// under one fsync, so a lone appender never waits (its groups hold one commit) and a
/// crowd fills each synced write instead of splitting across several.
const GATHER_WAIT_MAX: Duration = Duration::from_micros(100);

/// Committed records kept for followers that fall behind before they must re-read the ledger.
const FOLLOW_BUFFER_RECORDS_MAX: usize = 4096;

type Query = Box<dyn FnOnce(&mut Kernel) + Send>;

enum Job {
    Commit {
        actor: Actor,
        rewrite: Rewrite,
        reply: oneshot::Sender<Result<Commit, CommitError>>,
    },
    Query(Query),
    Stop,
}

/// A cheap, cloneable way to reach the kernel thread.
#[derive(Clone)]
pub struct KernelHandle {
    jobs: mpsc::Sender<Job>,
    committed: broadcast::Sender<Arc<Record>>,
}

impl KernelHandle {
    /// Commits one rewrite; resolves only after its record is durable (or with why not).
    pub async fn commit(&self, actor: Actor, rewrite: Rewrite) -> Result<Commit, CommitError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Commit {
                actor,
                rewrite,
                reply,
            })
            .map_err(|_| CommitError::ShuttingDown)?;
        answer.await.map_err(|_| CommitError::ShuttingDown)?
    }

    /// Blocking form of [`KernelHandle::commit`], for threads outside an async runtime.
    pub fn commit_blocking(&self, actor: Actor, rewrite: Rewrite) -> Result<Commit, CommitError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Commit {
                actor,
                rewrite,
                reply,
            })
            .map_err(|_| CommitError::ShuttingDown)?;
        answer
            .blocking_recv()
            .map_err(|_| CommitError::ShuttingDown)?
    }

    /// Runs `f` on the kernel thread and returns its result; `None` if the kernel stopped.
    pub async fn query<T, F>(&self, f: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Kernel) -> T + Send + 'static,
    {
        self.send_query(f)?.await.ok()
    }

    /// Blocking form of [`KernelHandle::query`], for threads outside an async runtime.
    pub fn query_blocking<T, F>(&self, f: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Kernel) -> T + Send + 'static,
    {
        self.send_query(f)?.blocking_recv().ok()
    }

    /// Queues `f` for the kernel thread; its result arrives on the receiver.
    fn send_query<T, F>(&self, f: F) -> Option<oneshot::Receiver<T>>
    where
        T: Send + 'static,
        F: FnOnce(&mut Kernel) -> T + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Job::Query(Box::new(move |kernel| {
            // The asker may have gone away; the answer is then simply dropped.
            let _ = reply.send(f(kernel));
        }));
        self.jobs.send(job).ok()?;
        Some(answer)
    }

    /// Every record committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Record>> {
        self.committed.subscribe()
    }
}

/// The running kernel thread.
pub struct KernelService {
    handle: KernelHandle,
    thread: Option<thread::JoinHandle<()>>,
}

impl KernelService {
    /// Moves `kernel` onto its own thread.
    pub fn start(kernel: Kernel) -> std::io::Result<KernelService> {
        let (jobs, queue) = mpsc::channel();
        let (committed, _) = broadcast::channel(FOLLOW_BUFFER_RECORDS_MAX);
        let publisher = committed.clone();
        let thread = thread::Builder::new()
            .name("jitos-kernel".into())
            .spawn(move || run(kernel, queue, publisher))?;
        Ok(KernelService {
            handle: KernelHandle { jobs, committed },
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
        let _ = self.handle.jobs.send(Job::Stop);
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

fn run(mut kernel: Kernel, queue: mpsc::Receiver<Job>, publisher: broadcast::Sender<Arc<Record>>) {
    let mut commits = Vec::new();
    let mut queries: Vec<Query> = Vec::new();
    // As many commits as the last group carried: the appenders just answered are about to
    // send their next ones, and waiting a moment for them saves whole fsyncs.
    let mut expected = 1usize;
    while let Ok(first) = queue.recv() {
        let mut stop = false;
        let mut next = Some(first);
        let gather_until = Instant::now() + GATHER_WAIT_MAX;
        while let Some(job) = next.take() {
            match job {
                Job::Commit {
                    actor,
                    rewrite,
                    reply,
                } => commits.push((actor, rewrite, reply)),
                Job::Query(query) => queries.push(query),
                Job::Stop => stop = true,
            }
            if stop || commits.len() >= COMMIT_BATCH_MAX {
                break;
            }
            next = match queue.try_recv() {
                Ok(job) => Some(job),
                Err(_) if commits.len() < expected => {
                    let wait = gather_until.saturating_duration_since(Instant::now());
                    queue.recv_timeout(wait).ok()
                }
                Err(_) => None,
            };
        }
        if !commits.is_empty() {
            expected = commits.len();
        }
        if !commits.is_empty() {
            let (batch, replies): (Vec<_>, Vec<_>) = commits
                .drain(..)
                .map(|(actor, rewrite, reply)| ((actor, rewrite), reply))
                .unzip();
            for (result, reply) in kernel.commit(batch).into_iter().zip(replies) {
                if let Ok(commit) = &result {
                    // No follower listening is not an error.
                    let _ = publisher.send(Arc::new(commit.record.clone()));
                }
                let _ = reply.send(result);
            }
        }
        for query in queries.drain(..) {
            let head_before = kernel.head().seq;
            query(&mut kernel);
            publish_since(&kernel, head_before, &publisher);
        }
        if stop {
            break;
        }
    }
}

/// Publishes the records a query appended (workspace operations, tree imports), so
/// followers see every record whichever path wrote it.
fn publish_since(kernel: &Kernel, head_before: u64, publisher: &broadcast::Sender<Arc<Record>>) {
    let head = kernel.head().seq;
    if head == head_before {
        return;
    }
    match kernel.records(head_before + 1, head - head_before) {
        Ok(records) => {
            for record in records {
                let _ = publisher.send(Arc::new(record));
            }
        }
        // Followers that miss the broadcast catch up from the ledger on their next record.
        Err(error) => tracing::warn!(%error, "cannot read back records to publish"),
    }
}
