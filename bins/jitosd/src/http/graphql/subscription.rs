//! Subscriptions (graphql-transport-ws): new records, a process's state, an attempt's
//! state, each pushed as the writer publishes it.
//!
//! Each takes the writer's announcements before its first look, so nothing committed in
//! between is missed; one that falls behind the announcements reads the ledger (records)
//! or the latest view (a process, an attempt), which covers everything announced so far.

use std::sync::Arc;

use async_graphql::futures_util::Stream;
use async_graphql::{Context, Result, Subscription};
use jitos_proto::{ErrorCode, ErrorInfo, Request};
use tokio::sync::broadcast::{self, error::RecvError};

use super::{
    authorised,
    objects::{Attempt, Process, Record},
    refused, revoked,
};
use crate::{
    connection::Shared,
    http::socket_limits::{SubscriptionSlots, SUBSCRIPTIONS_MAX},
    reading, views,
};

/// Records read per page while a subscriber catches up from the ledger.
const CATCH_UP_RECORDS: u64 = 1024;

/// The API's subscriptions.
pub struct SubscriptionRoot;

/// A slot of the WebSocket's subscriptions, held for as long as the subscription runs.
fn slot(ctx: &Context<'_>) -> Result<Option<tokio::sync::OwnedSemaphorePermit>> {
    let Some(slots) = ctx.data_opt::<SubscriptionSlots>() else {
        return Ok(None);
    };
    match slots.take() {
        Some(slot) => Ok(Some(slot)),
        None => Err(refused(ErrorInfo {
            code: ErrorCode::TooLarge,
            message: format!(
                "this connection already runs {SUBSCRIPTIONS_MAX} subscriptions; complete one, or open another connection"
            ),
        })),
    }
}

/// What ends a stream early: the daemon stopping, or the kernel going away.
fn stopped() -> async_graphql::Error {
    refused(ErrorInfo {
        code: ErrorCode::ShuttingDown,
        message: "jitosd is shutting down".to_owned(),
    })
}

/// Waits for the next announcement; `false` once there will be none (or the daemon
/// stops). All that is queued is taken at once: one look covers it.
async fn woken(live: &mut broadcast::Receiver<Arc<jitos_ledger::Record>>, shared: &Shared) -> bool {
    let mut stopping = shared.stopping.clone();
    if *stopping.borrow() {
        return false;
    }
    tokio::select! {
        received = live.recv() => match received {
            Ok(_) | Err(RecvError::Lagged(_)) => {
                while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = live.try_recv() {}
                true
            }
            Err(RecvError::Closed) => false,
        },
        _ = stopping.changed() => false,
    }
}

/// Waits for the next commit that may change what is followed; the error that ends the
/// stream when there will be none, or the caller's token was revoked.
async fn next_change(
    live: &mut broadcast::Receiver<Arc<jitos_ledger::Record>>,
    shared: &Shared,
    caller: &super::Caller,
) -> Result<(), async_graphql::Error> {
    if !woken(live, shared).await {
        return Err(stopped());
    }
    if !caller.stands(shared) {
        return Err(revoked());
    }
    Ok(())
}

/// What a subscription reads of something no longer live (from the store's index), or
/// the error that ends the stream: there is none such, the read failed, or the daemon
/// stops.
async fn read_ended<T: Send + 'static>(
    shared: &Shared,
    read: impl FnOnce(&jitos_kernel::View) -> Result<Option<T>, jitos_kernel::KernelError>
        + Send
        + 'static,
    missing: impl FnOnce() -> String,
) -> Result<T, async_graphql::Error> {
    match reading::on_view(&shared.kernel, read).await {
        Ok(Ok(Some(found))) => Ok(found),
        Ok(Ok(None)) => Err(refused(ErrorInfo {
            code: ErrorCode::NotFound,
            message: missing(),
        })),
        Ok(Err(e)) => Err(refused(crate::answer::kernel_error_info(&e))),
        Err(_) => Err(stopped()),
    }
}

#[Subscription]
impl SubscriptionRoot {
    /// Every record from `from` on (default: the next one committed), as it commits.
    async fn records(
        &self,
        ctx: &Context<'_>,
        from: Option<u64>,
    ) -> Result<impl Stream<Item = Result<Record>>> {
        let asked = Request::Follow {
            from: from.unwrap_or(0),
        };
        let (shared, caller) = authorised(ctx, &asked).await?;
        let (shared, caller) = (Arc::clone(shared), caller.clone());
        let slot = slot(ctx)?;
        let mut live = shared.kernel.subscribe();
        let mut next = from.unwrap_or_else(|| shared.kernel.view().head().seq + 1);
        Ok(async_stream::stream! {
            let _slot = slot;
            loop {
                // What the ledger holds from `next` on: everything announced so far.
                loop {
                    let page = reading::on_view(&shared.kernel, move |view| {
                        view.records(next, CATCH_UP_RECORDS)
                    })
                    .await;
                    let records = match page {
                        Ok(Ok(records)) => records,
                        Ok(Err(e)) => {
                            yield Err(refused(crate::answer::kernel_error_info(&e)));
                            return;
                        }
                        Err(_) => {
                            yield Err(stopped());
                            return;
                        }
                    };
                    let Some(last) = records.last() else { break };
                    next = last.seq + 1;
                    for record in &records {
                        if !caller.stands(&shared) {
                            yield Err(revoked());
                            return;
                        }
                        yield Ok(Record::from(views::record_view(record)));
                    }
                }
                // Then each announcement in order, until one is missed.
                loop {
                    let mut stopping = shared.stopping.clone();
                    if *stopping.borrow() {
                        yield Err(stopped());
                        return;
                    }
                    let received = tokio::select! {
                        received = live.recv() => received,
                        _ = stopping.changed() => Err(RecvError::Closed),
                    };
                    match received {
                        Ok(record) if record.seq < next => {}
                        Ok(record) if record.seq == next => {
                            next += 1;
                            if !caller.stands(&shared) {
                                yield Err(revoked());
                                return;
                            }
                            yield Ok(Record::from(views::record_view(&record)));
                        }
                        Ok(_) | Err(RecvError::Lagged(_)) => break,
                        Err(RecvError::Closed) => {
                            yield Err(stopped());
                            return;
                        }
                    }
                }
            }
        })
    }

    /// A process's state: now, then each time it changes, ending once it no longer runs
    /// (it ended, or waits for a person).
    async fn process(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> Result<impl Stream<Item = Result<Process>>> {
        let (shared, caller) = authorised(ctx, &Request::ProcessFollow(id)).await?;
        let (shared, caller) = (Arc::clone(shared), caller.clone());
        let slot = slot(ctx)?;
        let mut live = shared.kernel.subscribe();
        Ok(async_stream::stream! {
            let _slot = slot;
            let mut seen: Option<Arc<jitos_sched::Process>> = None;
            loop {
                let now = shared.kernel.view().processes().shared(id);
                let unchanged = seen.as_ref().zip(now.as_ref()).is_some_and(|(a, b)| Arc::ptr_eq(a, b));
                if !unchanged {
                    let current = match now {
                        Some(now) => now,
                        // A process leaves the live state with its last record.
                        None => match read_ended(&shared, move |view| view.process(id), || {
                            format!("no process {id}; `jitos ps --all` lists them")
                        }).await {
                            Ok(ended) => Arc::new(ended),
                            Err(e) => {
                                yield Err(e);
                                return;
                            }
                        },
                    };
                    let running = current.status == jitos_sched::Status::Running;
                    if seen.as_ref().is_none_or(|seen| **seen != *current) {
                        yield Ok(Process::from(crate::processes::views::summary(&current)));
                    }
                    seen = Some(current);
                    if !running {
                        return;
                    }
                }
                if let Err(e) = next_change(&mut live, &shared, &caller).await {
                    yield Err(e);
                    return;
                }
            }
        })
    }

    /// An attempt's state: now, then each time it changes, ending once it ended.
    async fn job(&self, ctx: &Context<'_>, id: u64) -> Result<impl Stream<Item = Result<Attempt>>> {
        let (shared, caller) = authorised(ctx, &Request::JobShow(id)).await?;
        let (shared, caller) = (Arc::clone(shared), caller.clone());
        let slot = slot(ctx)?;
        let mut live = shared.kernel.subscribe();
        Ok(async_stream::stream! {
            let _slot = slot;
            let mut seen: Option<jitos_proto::AttemptView> = None;
            loop {
                let running = shared
                    .kernel
                    .view()
                    .jobs()
                    .attempt(id)
                    .map(crate::jobs::views::attempt_view);
                let current = match running {
                    Some(running) => running,
                    // An attempt leaves the live state with its terminal record.
                    None => match read_ended(&shared, move |view| view.attempt(id), || {
                        format!("no attempt {id}; `jitos job list --all` lists them")
                    }).await {
                        Ok(ended) => crate::jobs::views::attempt_view(&ended),
                        Err(e) => {
                            yield Err(e);
                            return;
                        }
                    },
                };
                let ended = current.state != jitos_proto::AttemptState::Running;
                if seen.as_ref() != Some(&current) {
                    seen = Some(current.clone());
                    yield Ok(Attempt::from(current));
                }
                if ended {
                    return;
                }
                if let Err(e) = next_change(&mut live, &shared, &caller).await {
                    yield Err(e);
                    return;
                }
            }
        })
    }
}
