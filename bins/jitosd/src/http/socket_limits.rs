//! What one WebSocket of the API may hold: at most [`SUBSCRIPTIONS_MAX`] subscriptions at
//! once, and [`INIT_WAIT`] to say who it is (`connection_init`) before it is closed, so
//! an idle or greedy client cannot keep the daemon's work or connection slots.

use std::{sync::Arc, time::Duration};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Subscriptions one WebSocket runs at once.
pub const SUBSCRIPTIONS_MAX: usize = 64;

/// How long a new WebSocket has to send `connection_init`.
pub const INIT_WAIT: Duration = Duration::from_secs(10);

/// The subscription slots of one WebSocket, in its GraphQL context.
#[derive(Clone)]
pub struct SubscriptionSlots(Arc<Semaphore>);

impl SubscriptionSlots {
    /// The slots of a new WebSocket.
    pub fn new() -> SubscriptionSlots {
        SubscriptionSlots(Arc::new(Semaphore::new(SUBSCRIPTIONS_MAX)))
    }

    /// A slot held for as long as one subscription runs; `None` when all are taken.
    pub fn take(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.0).try_acquire_owned().ok()
    }
}

/// Says when a WebSocket's `connection_init` was accepted.
#[derive(Clone, Default)]
pub struct Initialised(Arc<Notify>);

impl Initialised {
    /// Marks the WebSocket initialised.
    pub fn done(&self) {
        self.0.notify_one();
    }

    /// Returns if the WebSocket is not initialised within [`INIT_WAIT`]; never otherwise.
    pub async fn or_give_up(self) {
        if tokio::time::timeout(INIT_WAIT, self.0.notified())
            .await
            .is_ok()
        {
            std::future::pending::<()>().await;
        }
    }
}
