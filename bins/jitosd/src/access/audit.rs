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
use jitos_kernel::{
    bounded_text, AccessRefused, Command, KernelHandle, REFUSAL_MESSAGE_BYTES_MAX,
    REFUSAL_USER_BYTES_MAX,
};
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
    /// The refusals counted since, as the record that will say so, by the connection of
    /// the first of them.
    counted: Option<(Actor, AccessRefused)>,
}

impl Audit {
    /// An audit recording through `kernel`.
    pub fn new(kernel: KernelHandle) -> Arc<Audit> {
        Arc::new(Audit {
            kernel,
            windows: Mutex::new(HashMap::new()),
        })
    }

    /// Notes that `principal` (connected as `actor`) was refused; a record it makes is
    /// durable before this returns, so the refusal is answered after it.
    pub async fn refused(&self, actor: &Actor, principal: &Principal, refusal: &Refusal) {
        let now = Instant::now();
        let record = AccessRefused {
            uid: principal.uid,
            user: bounded_text(&principal.user, REFUSAL_USER_BYTES_MAX),
            needed: refusal.needed,
            message: bounded_text(&refusal.message, REFUSAL_MESSAGE_BYTES_MAX),
            count: 1,
        };
        let due = {
            let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
            note(&mut windows, now, actor, principal.uid, record)
        };
        for (actor, refused) in due {
            record_with(&self.kernel, actor, refused).await;
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
                    due.extend(window.counted.take());
                }
                !closed
            });
            due
        };
        for (actor, refused) in due {
            record_with(&self.kernel, actor, refused).await;
        }
    }
}

/// Counts `record` in its user's window, or opens a new one; what must be recorded now.
fn note(
    windows: &mut HashMap<u32, Window>,
    now: Instant,
    actor: &Actor,
    uid: u32,
    record: AccessRefused,
) -> Vec<(Actor, AccessRefused)> {
    match windows.get_mut(&uid) {
        Some(window) if now.duration_since(window.opened) < AUDIT_WINDOW => {
            match &mut window.counted {
                Some((_, counted)) => counted.count = counted.count.saturating_add(1),
                None => window.counted = Some((actor.clone(), record)),
            }
            Vec::new()
        }
        _ => {
            // A window closed but not yet flushed gives its count up here.
            let closed = windows.insert(
                uid,
                Window {
                    opened: now,
                    counted: None,
                },
            );
            let mut due: Vec<_> = closed.and_then(|w| w.counted).into_iter().collect();
            due.push((actor.clone(), record));
            due
        }
    }
}

async fn record_with(kernel: &KernelHandle, actor: Actor, refused: AccessRefused) {
    let uid = refused.uid;
    if let Err(error) = kernel.execute(actor, Command::AccessRefused(refused)).await {
        // A read-only or stopping daemon records nothing; the log keeps the refusal.
        tracing::info!(uid, %error, "a refusal could not be recorded");
    }
}

#[cfg(test)]
mod tests {
    use jitos_gov::Role;

    use super::*;

    fn refused(message: &str) -> AccessRefused {
        AccessRefused {
            uid: 1001,
            user: "alice".to_owned(),
            needed: Role::Admin,
            message: message.to_owned(),
            count: 1,
        }
    }

    // Goal: a user's first refusal is recorded at once, those in the next 60 s are counted
    // into one record that carries the first of them, and the first refusal after the
    // window gives that record up and opens a new window. Method: `note` with instants.
    #[test]
    fn a_window_counts_its_refusals_and_gives_them_up_when_it_rolls_over() {
        let actor = Actor::Peer { uid: 1001, pid: 7 };
        let mut windows = HashMap::new();
        let start = Instant::now();
        let first = note(&mut windows, start, &actor, 1001, refused("a"));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].1.message, "a");
        for (secs, message) in [(1, "b"), (2, "c"), (59, "d")] {
            let at = start + Duration::from_secs(secs);
            let due = note(&mut windows, at, &actor, 1001, refused(message));
            assert!(
                due.is_empty(),
                "{message} is counted, not recorded: {due:?}"
            );
        }
        let rolled = note(
            &mut windows,
            start + AUDIT_WINDOW + Duration::from_secs(1),
            &actor,
            1001,
            refused("e"),
        );
        let summary: Vec<(&str, u64)> = rolled
            .iter()
            .map(|(_, r)| (r.message.as_str(), r.count))
            .collect();
        assert_eq!(summary, vec![("b", 3), ("e", 1)]);
        // Another user's window is their own.
        let other = note(&mut windows, start, &actor, 1002, refused("x"));
        assert_eq!(other.len(), 1);
    }
}
