//! The audit of refused requests, bounded: a user's first refusal is recorded at once,
//! and those that follow within [`AUDIT_WINDOW`] are counted and recorded as one record
//! when the window closes (or the daemon stops). However fast a client is refused, each
//! user adds at most two records a window.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use jitos_gov::{Principal, Refusal};
use jitos_kernel::{bounded_message, AccessRefused, Command, KernelHandle};
use jitos_ledger::Actor;
use tokio::sync::watch;

/// How long a user's refusals after the first are counted before they are recorded.
pub const AUDIT_WINDOW: Duration = Duration::from_secs(60);

/// Records refusals through the kernel.
pub struct Audit {
    kernel: KernelHandle,
    windows: Mutex<HashMap<u32, Window>>,
}

/// One user's refusals since their last record.
struct Window {
    opened: Instant,
    actor: Actor,
    /// The refusals counted since, as the record that will say so.
    counted: Option<AccessRefused>,
}

impl Audit {
    /// An audit recording through `kernel`.
    pub fn new(kernel: KernelHandle) -> Arc<Audit> {
        Arc::new(Audit {
            kernel,
            windows: Mutex::new(HashMap::new()),
        })
    }

    /// Notes that `principal` (connected as `actor`) was refused.
    pub fn refused(&self, actor: &Actor, principal: &Principal, refusal: &Refusal) {
        let now = Instant::now();
        let record = AccessRefused {
            uid: principal.uid,
            user: principal.user.clone(),
            needed: refusal.needed,
            message: bounded_message(&refusal.message),
            count: 1,
        };
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        match windows.get_mut(&principal.uid) {
            Some(window) if now.duration_since(window.opened) < AUDIT_WINDOW => {
                match &mut window.counted {
                    Some(counted) => counted.count = counted.count.saturating_add(1),
                    None => window.counted = Some(record),
                }
            }
            _ => {
                windows.insert(
                    principal.uid,
                    Window {
                        opened: now,
                        actor: actor.clone(),
                        counted: None,
                    },
                );
                drop(windows);
                self.record(actor.clone(), record);
            }
        }
    }

    /// Records the counts of windows that have closed every [`AUDIT_WINDOW`] until the
    /// daemon stops.
    pub async fn run(self: Arc<Audit>, mut stopping: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(AUDIT_WINDOW);
        loop {
            tokio::select! {
                _ = tick.tick() => self.flush(false).await,
                stopped = stopping.changed() => {
                    if stopped.is_err() || *stopping.borrow() {
                        break;
                    }
                }
            }
        }
    }

    /// Records every count held, as the daemon stops (after its connections ended).
    pub async fn flush_all(&self) {
        self.flush(true).await;
    }

    /// Records the counts of closed windows (of all, if `all`) and forgets closed ones.
    async fn flush(&self, all: bool) {
        let now = Instant::now();
        let due: Vec<(Actor, AccessRefused)> = {
            let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
            let mut due = Vec::new();
            windows.retain(|_, window| {
                let closed = all || now.duration_since(window.opened) >= AUDIT_WINDOW;
                if closed {
                    if let Some(counted) = window.counted.take() {
                        due.push((window.actor.clone(), counted));
                    }
                }
                !closed
            });
            due
        };
        for (actor, refused) in due {
            record_with(&self.kernel, actor, refused).await;
        }
    }

    fn record(&self, actor: Actor, refused: AccessRefused) {
        let kernel = self.kernel.clone();
        tokio::spawn(async move { record_with(&kernel, actor, refused).await });
    }
}

async fn record_with(kernel: &KernelHandle, actor: Actor, refused: AccessRefused) {
    let uid = refused.uid;
    if let Err(error) = kernel.execute(actor, Command::AccessRefused(refused)).await {
        // A read-only or stopping daemon records nothing; the log keeps the refusal.
        tracing::info!(uid, %error, "a refusal could not be recorded");
    }
}
