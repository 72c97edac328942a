//! One door's connections, served by hyper as `axum::serve` would serve them, with what
//! that lacks: a deadline for each request's head, so a client that opens connections and
//! sends nothing, or a byte now and then, cannot keep the door's connection slots.

use std::time::Duration;

use axum::{serve::Listener, Router};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{sync::watch, task::JoinSet};

use super::until_stopping;

/// How long a client has to send a request's head, from when the connection is ready
/// for one (a new connection, or one kept alive after an answer).
pub(super) const HEAD_WAIT: Duration = Duration::from_secs(10);

/// Serves `listener`'s connections with `app` until `stopping` turns true, then lets each
/// connection finish the request it is answering; `app_for` makes each connection's app
/// (with what it knows of its peer).
pub(super) async fn serve<L>(
    mut listener: L,
    app_for: impl Fn(&L::Io) -> Router,
    stopping: watch::Receiver<bool>,
) where
    L: Listener,
{
    let mut connections = JoinSet::new();
    loop {
        let (io, _) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = until_stopping(stopping.clone()) => break,
        };
        let service = TowerToHyperService::new(app_for(&io));
        let stopping = stopping.clone();
        connections.spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_WAIT);
            let connection = builder
                .serve_connection(TokioIo::new(io), service)
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(error = %e, "an HTTP connection ended");
                    }
                    return;
                }
                () = until_stopping(stopping) => connection.as_mut().graceful_shutdown(),
            }
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "an HTTP connection ended");
            }
        });
        // Ended connections are reaped as they go, so the set stays as large as what runs.
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
}
