//! The HTTP API (`jitosd --http ADDR`, `--http-socket PATH`): GraphQL at `/graphql`,
//! queries and mutations by POST, subscriptions by WebSocket (graphql-transport-ws) on
//! the same path; the viewer, a page over that API, at `/`.
//!
//! Over TCP a request carries a bearer token (`jitos token create`); on the unix socket
//! the peer's credentials say who it is. Either way it becomes the same principal the
//! socket would see, and every field is authorised as the socket's request is
//! (`graphql::ask`).

mod bounded_answer;
mod caller;
pub mod graphql;
mod limited;
mod serve;
mod socket_limits;
mod viewer;

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{ConnectInfo, DefaultBodyLimit, FromRequest as _, State, WebSocketUpgrade},
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::{get, post},
    Extension,
};
use tokio::{
    net::{TcpListener, UnixListener},
    sync::watch,
    task::JoinSet,
};

use self::{
    caller::{Denied, Peer},
    graphql::{ApiSchema, Caller},
    limited::{Limited, LimitedIo},
    socket_limits::{Initialised, SubscriptionSlots},
};
use crate::connection::Shared;

/// Connections each door holds at once.
const CONNECTIONS_MAX: usize = 256;
/// The largest request body read: a query, or an intent to submit.
const BODY_BYTES_MAX: usize = 1024 * 1024;
/// The largest WebSocket message read.
const MESSAGE_BYTES_MAX: usize = 1024 * 1024;

/// Where the API listens.
#[derive(Clone, Debug, Default)]
pub struct HttpConfig {
    /// A TCP address (bearer tokens).
    pub tcp: Option<SocketAddr>,
    /// A unix socket (peer credentials).
    pub socket: Option<PathBuf>,
}

/// The API's listeners, bound before the daemon says it is ready.
pub(crate) struct HttpListeners {
    tcp: Option<TcpListener>,
    unix: Option<(UnixListener, PathBuf)>,
}

/// Why the API could not listen.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The TCP address could not be bound.
    #[error("cannot listen for HTTP on {addr}: {source}")]
    Tcp {
        /// The address.
        addr: SocketAddr,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The unix socket could not be bound.
    #[error("the HTTP socket: {0}")]
    Socket(#[from] crate::socket::SocketError),
}

impl HttpListeners {
    /// Binds what `config` names; the unix socket as the daemon's own (private
    /// directory, or shared with the access file's group).
    pub(crate) fn bind(
        config: &HttpConfig,
        group: Option<(&str, u32)>,
    ) -> Result<HttpListeners, HttpError> {
        let tcp = match config.tcp {
            Some(addr) => {
                let bound = std::net::TcpListener::bind(addr)
                    .and_then(|l| l.set_nonblocking(true).map(|()| l))
                    .and_then(TcpListener::from_std)
                    .map_err(|source| HttpError::Tcp { addr, source })?;
                Some(bound)
            }
            None => None,
        };
        let unix = match &config.socket {
            Some(path) => Some((crate::socket::bind(path, group)?, path.clone())),
            None => None,
        };
        Ok(HttpListeners { tcp, unix })
    }

    /// The TCP address bound, if any (its port, when 0 was asked).
    pub(crate) fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The unix socket's path, if it serves one: the daemon removes it when it stops.
    pub(crate) fn socket_path(&self) -> Option<PathBuf> {
        self.unix.as_ref().map(|(_, path)| path.clone())
    }

    /// Serves until `stopping` turns true.
    pub(crate) async fn serve(self, shared: Arc<Shared>, stopping: watch::Receiver<bool>) {
        let schema = graphql::schema(Some(Arc::clone(&shared)));
        let mut doors = JoinSet::new();
        if let Some(tcp) = self.tcp {
            let app = viewer::routes()
                .route("/graphql", post(tcp_query).get(tcp_subscribe))
                .route("/metrics", get(tcp_metrics))
                .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
                .with_state(Door {
                    schema: schema.clone(),
                    shared: Arc::clone(&shared),
                });
            let listener = Limited::new(tcp, CONNECTIONS_MAX);
            doors.spawn(serve::serve(
                listener,
                move |_| app.clone(),
                stopping.clone(),
            ));
        }
        if let Some((unix, _)) = self.unix {
            let app = viewer::routes()
                .route("/graphql", post(unix_query).get(unix_subscribe))
                .route("/metrics", get(unix_metrics))
                .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
                .with_state(Door {
                    schema,
                    shared: Arc::clone(&shared),
                });
            let listener = Limited::new(unix, CONNECTIONS_MAX);
            // Each connection's requests carry who is at its other end.
            let app_for = move |io: &LimitedIo<tokio::net::UnixStream>| {
                app.clone().layer(Extension(ConnectInfo(Peer::of(&io.io))))
            };
            doors.spawn(serve::serve(listener, app_for, stopping));
        }
        while doors.join_next().await.is_some() {}
    }
}

async fn until_stopping(mut stopping: watch::Receiver<bool>) {
    while !*stopping.borrow() {
        if stopping.changed().await.is_err() {
            return;
        }
    }
}

/// What each request of a door needs.
#[derive(Clone)]
struct Door {
    schema: ApiSchema,
    shared: Arc<Shared>,
}

async fn tcp_query(State(door): State<Door>, request: axum::extract::Request) -> Response {
    let caller = caller::of_bearer(&door.shared, request.headers(), "this API").await;
    execute(&door, caller, request).await
}

async fn unix_query(
    State(door): State<Door>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    request: axum::extract::Request,
) -> Response {
    let caller = caller::of_peer(&door.shared, peer).await;
    execute(&door, caller, request).await
}

/// Runs the query `request` carries for `caller`. Its body is read only once the caller
/// is known: a stranger's megabyte is never parsed.
async fn execute(
    door: &Door,
    caller: Result<Caller, Denied>,
    request: axum::extract::Request,
) -> Response {
    let caller = match caller {
        Ok(caller) => caller,
        Err(denied) => return denied.into_response(),
    };
    let query = match axum::Json::<async_graphql::Request>::from_request(request, &()).await {
        Ok(axum::Json(query)) => query.data(caller),
        Err(rejected) => return rejected.into_response(),
    };
    bounded_answer::bounded(
        door.schema.execute(query).await,
        bounded_answer::ANSWER_BYTES_MAX,
    )
}

async fn tcp_metrics(State(door): State<Door>, headers: HeaderMap) -> Response {
    // A scraper gives its token in its `authorization` setting.
    let caller = caller::of_bearer(&door.shared, &headers, "/metrics").await;
    metrics_of(&door, caller).await
}

async fn unix_metrics(State(door): State<Door>, ConnectInfo(peer): ConnectInfo<Peer>) -> Response {
    let caller = caller::of_peer(&door.shared, peer).await;
    metrics_of(&door, caller).await
}

/// The metrics, for a caller who may read the status.
async fn metrics_of(door: &Door, caller: Result<Caller, Denied>) -> Response {
    let caller = match caller {
        Ok(caller) => caller,
        Err(denied) => return denied.into_response(),
    };
    let shared = &door.shared;
    let asked = jitos_proto::Request::Status;
    if let Err(refusal) =
        crate::asking::authorised(shared, &caller.actor, &caller.principal, &asked).await
    {
        return (axum::http::StatusCode::FORBIDDEN, refusal.message).into_response();
    }
    let view = shared.kernel.view();
    match tokio::task::spawn_blocking(move || crate::metrics::render(&view)).await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A WebSocket of the API: its GraphQL subprotocols, each message and frame at most
/// [`MESSAGE_BYTES_MAX`].
fn bounded(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade
        .max_message_size(MESSAGE_BYTES_MAX)
        .max_frame_size(MESSAGE_BYTES_MAX)
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
}

/// A subscription over TCP: the token comes in the upgrade's `Authorization` header, or,
/// from a browser (which cannot set one), as `token` in `connection_init`'s payload.
async fn tcp_subscribe(
    State(door): State<Door>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let from_header = match caller::bearer(&headers) {
        Ok(Some(token)) => match caller::of_token(&door.shared, &token).await {
            Ok(caller) => Some(caller),
            Err(denied) => return denied.into_response(),
        },
        Ok(None) => None,
        Err(denied) => return denied.into_response(),
    };
    let shared = Arc::clone(&door.shared);
    let stopping = door.shared.stopping.clone();
    let initialised = Initialised::default();
    let init_done = initialised.clone();
    bounded(upgrade).on_upgrade(move |socket| async move {
        let served = GraphQLWebSocket::new(socket, door.schema, protocol)
            .on_connection_init(move |payload| async move {
                let caller = match from_header {
                    Some(caller) => caller,
                    None => {
                        let token = payload
                            .get("token")
                            .and_then(|token| token.as_str())
                            .unwrap_or_default();
                        caller::of_token(&shared, token)
                            .await
                            .map_err(|denied| async_graphql::Error::new(denied.to_string()))?
                    }
                };
                let mut data = Data::default();
                data.insert(caller);
                data.insert(SubscriptionSlots::new());
                init_done.done();
                Ok(data)
            })
            .serve();
        // A WebSocket ends with the daemon, as the socket's streams do.
        tokio::select! {
            () = served => {}
            () = until_stopping(stopping) => {}
            () = initialised.or_give_up() => {}
        }
    })
}

async fn unix_subscribe(
    State(door): State<Door>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let caller = match caller::of_peer(&door.shared, peer).await {
        Ok(caller) => caller,
        Err(denied) => return denied.into_response(),
    };
    let stopping = door.shared.stopping.clone();
    let initialised = Initialised::default();
    let init_done = initialised.clone();
    bounded(upgrade).on_upgrade(move |socket| async move {
        let mut data = Data::default();
        data.insert(caller);
        data.insert(SubscriptionSlots::new());
        let served = GraphQLWebSocket::new(socket, door.schema, protocol)
            .with_data(data)
            .on_connection_init(move |_| async move {
                init_done.done();
                Ok(Data::default())
            })
            .serve();
        // A WebSocket ends with the daemon, as the socket's streams do.
        tokio::select! {
            () = served => {}
            () = until_stopping(stopping) => {}
            () = initialised.or_give_up() => {}
        }
    })
}
