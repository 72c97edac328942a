//! The proxy's loop: accept on one listener, serve each connection on a task of its own
//! (at most [`CONNECTIONS_MAX`] at once), report each as it ends, and stop when told,
//! reporting the connections still open.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::allow::EgressAllow;
use super::head::{self, Ask, Unserved, HEAD_READ_TIMEOUT};
use super::{ConnectionEnd, ConnectionReport, Destination, Reporter};

/// Most connections one proxy serves at once; more wait to be accepted.
pub const CONNECTIONS_MAX: usize = 64;
/// Longest the proxy takes to resolve and connect to a destination.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest it spends writing its own answer to a client.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// The buffer of each direction of a relay.
const RELAY_BUFFER_BYTES: usize = 16 * 1024;
/// The pause after a failed accept (out of descriptors, say), so it does not spin.
const ACCEPT_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// A running proxy. Dropping it stops it; [`Proxy::stop`] also waits for its reports.
pub struct Proxy {
    stop: watch::Sender<bool>,
    done: std::sync::mpsc::Receiver<()>,
}

impl Proxy {
    /// Serves `listener` on `runtime`, letting through what `allow` allows and reporting
    /// every connection to `reporter`.
    pub fn start(
        runtime: &tokio::runtime::Handle,
        listener: std::net::TcpListener,
        allow: EgressAllow,
        reporter: Reporter,
    ) -> std::io::Result<Proxy> {
        Proxy::start_with_head_timeout(runtime, listener, allow, reporter, HEAD_READ_TIMEOUT)
    }

    /// [`Proxy::start`] with another bound on the time a request head may take (tests
    /// use a short one).
    pub fn start_with_head_timeout(
        runtime: &tokio::runtime::Handle,
        listener: std::net::TcpListener,
        allow: EgressAllow,
        reporter: Reporter,
        head_read_timeout: Duration,
    ) -> std::io::Result<Proxy> {
        listener.set_nonblocking(true)?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(listener)?
        };
        let (stop, stopping) = watch::channel(false);
        let (finished, done) = std::sync::mpsc::channel();
        let served = Served {
            allow: Arc::new(allow),
            reporter,
            head_read_timeout,
        };
        runtime.spawn(async move {
            serve(listener, served, stopping).await;
            let _ = finished.send(());
        });
        Ok(Proxy { stop, done })
    }

    /// Stops accepting, ends every open connection and waits (up to `wait`; not on the
    /// runtime's own threads) until each has been reported. False if `wait` ran out.
    pub fn stop(self, wait: Duration) -> bool {
        let _ = self.stop.send(true);
        self.done.recv_timeout(wait).is_ok()
    }
}

/// What every connection of one proxy shares.
#[derive(Clone)]
struct Served {
    allow: Arc<EgressAllow>,
    reporter: Reporter,
    head_read_timeout: Duration,
}

/// Resolves once the proxy is told to stop, or its [`Proxy`] is gone.
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

async fn serve(listener: TcpListener, served: Served, mut stopping: watch::Receiver<bool>) {
    let permits = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = stopped(&mut stopping) => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut stopping) => break,
        };
        match accepted {
            Ok((client, _)) => {
                let (served, stopping) = (served.clone(), stopping.clone());
                connections.spawn(async move {
                    connection(client, &served, stopping).await;
                    drop(permit);
                });
            }
            Err(error) => {
                tracing::warn!(%error, "the egress proxy could not accept a connection");
                tokio::time::sleep(ACCEPT_RETRY_PAUSE).await;
            }
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// What is known of a connection so far, kept outside its future so a stop that drops
/// the future still reports it.
#[derive(Default)]
struct Progress {
    destination: Mutex<Option<Destination>>,
    method: Mutex<Option<String>>,
    up: AtomicU64,
    down: AtomicU64,
    /// Set once the destination was reached and bytes may flow.
    relaying: AtomicBool,
}

impl Progress {
    fn named(&self, destination: Option<Destination>, method: Option<String>) {
        if let Ok(mut slot) = self.destination.lock() {
            *slot = destination;
        }
        if let Ok(mut slot) = self.method.lock() {
            *slot = method;
        }
    }
}

async fn connection(mut client: TcpStream, served: &Served, mut stopping: watch::Receiver<bool>) {
    let started = Instant::now();
    let progress = Progress::default();
    let end = tokio::select! {
        end = exchange(&mut client, served, &progress) => end,
        () = stopped(&mut stopping) => if progress.relaying.load(Ordering::Relaxed) {
            ConnectionEnd::Relayed
        } else {
            ConnectionEnd::Refused {
                reason: "the attempt ended before the request was served".to_owned(),
            }
        },
    };
    if matches!(end, ConnectionEnd::Refused { .. }) {
        metrics::counter!(crate::metrics::EGRESS_REFUSED, "at" => "proxy").increment(1);
    }
    let report = ConnectionReport {
        destination: progress.destination.lock().ok().and_then(|d| d.clone()),
        method: progress.method.lock().ok().and_then(|m| m.clone()),
        end,
        bytes_up: progress.up.load(Ordering::Relaxed),
        bytes_down: progress.down.load(Ordering::Relaxed),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    (served.reporter)(report);
}

/// Serves one connection to its end.
async fn exchange(client: &mut TcpStream, served: &Served, progress: &Progress) -> ConnectionEnd {
    let head = match head::read(client, served.head_read_timeout).await {
        Ok(head) => head,
        Err(Unserved {
            status,
            reason,
            destination,
            method,
        }) => {
            progress.named(destination, method);
            answer(client, status, &reason).await;
            return ConnectionEnd::Refused { reason };
        }
    };
    progress.named(
        Some(head.destination.clone()),
        Some(head.method().to_owned()),
    );
    let Destination { host, port } = &head.destination;
    if let Err(reason) = served.allow.check(host, *port) {
        answer(client, 403, &reason).await;
        return ConnectionEnd::Refused { reason };
    }
    let mut upstream = match connect(host, *port, &served.allow).await {
        Ok(upstream) => upstream,
        Err(Unreached { status, reason }) if status == 403 => {
            answer(client, status, &reason).await;
            return ConnectionEnd::Refused { reason };
        }
        Err(Unreached { status, reason }) => {
            answer(client, status, &reason).await;
            return ConnectionEnd::Failed { reason };
        }
    };
    progress.relaying.store(true, Ordering::Relaxed);
    let sent = async {
        match &head.ask {
            Ask::Connect => {
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
            }
            Ask::Forward { head, .. } => {
                upstream.write_all(head).await?;
                progress.up.fetch_add(head.len() as u64, Ordering::Relaxed);
                Ok(())
            }
        }?;
        upstream.write_all(&head.rest).await?;
        progress
            .up
            .fetch_add(head.rest.len() as u64, Ordering::Relaxed);
        relay(client, &mut upstream, progress).await
    };
    match sent.await {
        Ok(()) => ConnectionEnd::Relayed,
        // A side that hung up or reset ends the relay as usual; the bytes say how far it got.
        Err(error) => {
            tracing::debug!(%error, "an egress relay ended with an error");
            ConnectionEnd::Relayed
        }
    }
}

/// Copies both ways until the destination has finished (a client's end is passed on as
/// a half-close, and the answer still comes back), or a side fails. Once the destination
/// has closed, the exchange is over: a forwarded request asked it to close after one
/// answer, and a tunnel whose far end is gone carries nothing more.
async fn relay(
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    progress: &Progress,
) -> std::io::Result<()> {
    let (client_in, client_out) = client.split();
    let (upstream_in, upstream_out) = upstream.split();
    let up = pump(client_in, upstream_out, &progress.up);
    let down = pump(upstream_in, client_out, &progress.down);
    tokio::pin!(up, down);
    tokio::select! {
        ended = &mut down => ended,
        ended = &mut up => {
            ended?;
            down.await
        }
    }
}

/// Copies `from` to `to`, counting, and passes the end of `from` on as a half-close.
async fn pump<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    mut from: R,
    mut to: W,
    counted: &AtomicU64,
) -> std::io::Result<()> {
    let mut buffer = vec![0u8; RELAY_BUFFER_BYTES];
    loop {
        let n = from.read(&mut buffer).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        to.write_all(&buffer[..n]).await?;
        counted.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Why a destination was not reached, with the status the client is answered.
struct Unreached {
    status: u16,
    reason: String,
}

/// Resolves `host` and connects to the first of its addresses that answers, within
/// [`CONNECT_TIMEOUT`].
async fn connect(host: &str, port: u16, allow: &EgressAllow) -> Result<TcpStream, Unreached> {
    let reached = tokio::time::timeout(CONNECT_TIMEOUT, connect_untimed(host, port, allow)).await;
    reached.unwrap_or_else(|_| {
        Err(Unreached {
            status: 504,
            reason: format!(
                "{host}:{port} was not reached within {} s",
                CONNECT_TIMEOUT.as_secs()
            ),
        })
    })
}

async fn connect_untimed(
    host: &str,
    port: u16,
    allow: &EgressAllow,
) -> Result<TcpStream, Unreached> {
    let name = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|e| Unreached {
            status: 502,
            reason: format!("cannot resolve {host}: {e}"),
        })?
        .collect();
    let allowed: Vec<SocketAddr> = addresses
        .iter()
        .copied()
        .filter(|a| allow.may_connect_to(host, a.ip()))
        .collect();
    if allowed.is_empty() && !addresses.is_empty() {
        let shown: Vec<IpAddr> = addresses.iter().map(SocketAddr::ip).collect();
        return Err(Unreached {
            status: 403,
            reason: format!(
                "{host} resolves only to addresses of this host or its link ({shown:?}), \
                 which a host name does not reach; name the address itself in the writ's \
                 egress to reach it"
            ),
        });
    }
    let mut last = format!("{host} has no address");
    for address in allowed {
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = format!("cannot connect to {host}:{port} ({address}): {e}"),
        }
    }
    Err(Unreached {
        status: 502,
        reason: last,
    })
}

/// Answers the client with `status` and `reason` as a short text, then closes its side.
async fn answer(client: &mut TcpStream, status: u16, reason: &str) {
    let phrase = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        504 => "Gateway Timeout",
        _ => "Error",
    };
    let body = format!("jitos egress proxy: {reason}\n");
    let text = format!(
        "HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(ANSWER_TIMEOUT, async {
        client.write_all(text.as_bytes()).await?;
        client.shutdown().await
    })
    .await;
}
