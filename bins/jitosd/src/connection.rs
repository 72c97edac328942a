//! One client connection: handshake, then requests until the client hangs up.
//!
//! Anything malformed ends this connection with an error frame; the daemon and every
//! other connection carry on. An answer too large for a frame is an error frame too
//! (`frame_io::write_response`), and the connection carries on.

use std::{path::PathBuf, sync::Arc, time::Duration};

use jitos_gov::{Principal, Refusal, Role};
use jitos_kernel::KernelHandle;
use jitos_ledger::{Actor, Record};
use jitos_proto::{
    graph_parts, ErrorCode, ErrorInfo, FrameError, Hello, PrincipalView, ProcessSummary,
    RecordView, Request, Response, Welcome,
};
use jitos_sched::Process;
use tokio::{
    io::AsyncReadExt,
    net::UnixStream,
    sync::{broadcast, watch},
};
use tracing::Instrument as _;

use crate::{
    access::{Access, Audit},
    answer, asking, frame_io,
    jobs::JobRunner,
    processes::ProcessService,
    reading,
    reload::AccessCell,
    secrets::SecretStore,
    tokens::TokenStore,
    views,
    writs::WritService,
};

/// How long a client may take to say hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes of an exported bundle per frame.
const EXPORT_CHUNK_BYTES: usize = 1024 * 1024;

/// Records per page while a follower catches up from the ledger.
const FOLLOW_PAGE_RECORDS: u32 = 1024;
/// Record payload bytes per frame of a followed stream: well under the frame limit even
/// as decoded (a rewrite's view decodes to a few times its bytes).
const RECORDS_FRAME_PAYLOAD_BYTES: usize = 1024 * 1024;

/// Records read per page while a followed process's log is caught up.
const PROCESS_STEP_RECORDS: usize = 256;

/// How long a followed process's progress may be held to go out with later progress: its
/// records reach the follower within this, a busy process costs each follower one look
/// per interval rather than one per commit, and its end goes out at once.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(20);

/// What a refusal for size tells a client of a request that takes no narrowing flag.
const NOTHING_NARROWS: &str = "this request has no flag that narrows it";

/// A graph streams in parts, so only a single node too large for a frame is refused.
const GRAPH_NARROWS: &str = "one node alone exceeds a frame; no flag narrows it";

/// What every connection shares.
pub struct Shared {
    /// The kernel thread.
    pub kernel: KernelHandle,
    /// The identity of the store, for the handshake's answer.
    pub store_id: String,
    /// Who may connect, and as what; a reload swaps it.
    pub access: Arc<AccessCell>,
    /// Records refused requests.
    pub audit: Arc<Audit>,
    /// Where exports are staged before they are streamed.
    pub scratch_dir: PathBuf,
    /// Turns true when the daemon stops, so long-lived streams end promptly.
    pub stopping: watch::Receiver<bool>,
    /// Runs jobs on workers.
    pub jobs: Arc<JobRunner>,
    /// Submits, answers and cancels processes.
    pub processes: ProcessService,
    /// Issues, signs and revokes writs.
    pub writs: Arc<WritService>,
    /// The secrets jobs may be given.
    pub secrets: Arc<SecretStore>,
    /// The HTTP API's bearer tokens.
    pub tokens: Arc<TokenStore>,
}

/// Serves one connection to its end.
pub async fn serve(stream: UnixStream, shared: Arc<Shared>) {
    let cred = match stream.peer_cred() {
        Ok(cred) => cred,
        Err(e) => {
            tracing::warn!(error = %e, "no peer credentials; closing");
            return;
        }
    };
    let pid = cred
        .pid()
        .and_then(|pid| u32::try_from(pid).ok())
        .unwrap_or(0);
    let actor = Actor::Peer {
        uid: cred.uid(),
        pid,
    };
    // Every line logged for the connection names who is on it.
    let span = tracing::info_span!("connection", uid = cred.uid(), pid);
    serve_as(stream, shared, cred, actor).instrument(span).await
}

/// Serves one connection of `actor`, whose credentials are `cred`.
async fn serve_as(
    mut stream: UnixStream,
    shared: Arc<Shared>,
    cred: tokio::net::unix::UCred,
    actor: Actor,
) {
    // The user database may be slow to answer (NSS), so it is asked off the async threads.
    // One access for the whole greeting, even if a reload swaps it meanwhile.
    let access = shared.access.current();
    let looked_up = Arc::clone(&access);
    let principal = match tokio::task::spawn_blocking(move || {
        looked_up.principal(cred.uid(), cred.gid())
    })
    .await
    {
        Ok(principal) => principal,
        Err(e) => {
            tracing::warn!(?actor, error = %e, "cannot look the peer up; closing");
            return;
        }
    };
    let greeting = handshake(&mut stream, &shared, &access, &actor, &principal);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, greeting).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::info!(?actor, error = %e, "handshake refused");
            return;
        }
        Err(_) => {
            tracing::info!(?actor, "handshake timed out");
            return;
        }
    }
    loop {
        let request = match frame_io::read_message::<Request>(&mut stream).await {
            Ok(request) => request,
            Err(FrameError::Closed) => return,
            Err(e) => {
                tracing::info!(?actor, error = %e, "bad frame; closing the connection");
                let _ = reply_error(&mut stream, ErrorCode::BadRequest, e.to_string()).await;
                return;
            }
        };
        if let Err(refusal) = asking::authorised(&shared, &actor, &principal, &request).await {
            let refused = reply_error(&mut stream, ErrorCode::Forbidden, refusal.message).await;
            if let Err(e) = refused {
                tracing::debug!(?actor, error = %e, "connection ended");
                return;
            }
            continue;
        }
        if let Err(e) = dispatch(&mut stream, &shared, &actor, &principal, request).await {
            tracing::debug!(?actor, error = %e, "connection ended");
            return;
        }
    }
}

async fn handshake(
    stream: &mut UnixStream,
    shared: &Shared,
    access: &Access,
    actor: &Actor,
    principal: &Principal,
) -> Result<(), FrameError> {
    let hello: Hello = match frame_io::read_message(stream).await {
        Ok(hello) => hello,
        Err(e) => {
            let _ = reply_error(stream, ErrorCode::BadRequest, format!("bad hello: {e}")).await;
            return Err(e);
        }
    };
    let refusal = if hello.magic != jitos_proto::PROTOCOL_MAGIC {
        Some("this socket speaks the jitos protocol; the hello had the wrong magic".to_owned())
    } else if hello.protocol_version != jitos_proto::PROTOCOL_VERSION {
        Some(format!(
            "protocol version {} is not supported (this jitosd speaks {}); use a jitos of the same release",
            hello.protocol_version,
            jitos_proto::PROTOCOL_VERSION
        ))
    } else {
        None
    };
    if let Some(message) = refusal {
        reply_error(stream, ErrorCode::BadRequest, message.clone()).await?;
        return Err(FrameError::Malformed(message));
    }
    if principal.roles.is_empty() {
        let refusal = Refusal {
            needed: Role::Viewer,
            message: access.no_role_message(principal),
        };
        shared.audit.refused(actor, principal, &refusal).await;
        reply_error(stream, ErrorCode::Forbidden, refusal.message.clone()).await?;
        return Err(FrameError::Malformed(refusal.message));
    }
    let welcome = Welcome {
        protocol_version: jitos_proto::PROTOCOL_VERSION,
        daemon_version: env!("CARGO_PKG_VERSION").to_owned(),
        store_id: shared.store_id.clone(),
        principal: PrincipalView {
            uid: principal.uid,
            user: principal.user.clone(),
            roles: principal.roles.iter().collect(),
        },
    };
    frame_io::write_response(stream, &Response::Welcome(welcome), NOTHING_NARROWS).await
}

/// How a client asks for less of what `request` answers, for a refusal for size.
fn narrowing(request: &Request) -> &'static str {
    match request {
        Request::SwsList(_)
        | Request::JobList { .. }
        | Request::ProcessList { .. }
        | Request::WorkerList(_)
        | Request::ProcessLog { .. } => "ask for fewer with --limit and page on with --after",
        Request::Log { .. } | Request::Follow { .. } => "ask for fewer records with --limit",
        Request::GraphShow { .. } => GRAPH_NARROWS,
        Request::GetBlobs(_) => "ask for fewer blobs at a time",
        _ => NOTHING_NARROWS,
    }
}

async fn dispatch(
    stream: &mut UnixStream,
    shared: &Shared,
    actor: &Actor,
    principal: &Principal,
    request: Request,
) -> Result<(), FrameError> {
    let narrow = narrowing(&request);
    let response = match request {
        Request::Follow { from } => return follow(stream, shared, from).await,
        Request::GraphShow { at, node, sws } => {
            return graph_show(stream, shared, at, node, sws).await
        }
        Request::ProcessFollow(process) => return follow_process(stream, shared, process).await,
        Request::Export { from, to } => return export(stream, shared, from, to).await,
        request => asking::answer(shared, actor, principal, request).await,
    };
    frame_io::write_response(stream, &response, narrow).await
}

async fn reply_error(
    stream: &mut UnixStream,
    code: ErrorCode,
    message: String,
) -> Result<(), FrameError> {
    frame_io::write_response(
        stream,
        &Response::Error(ErrorInfo { code, message }),
        NOTHING_NARROWS,
    )
    .await
}

/// The daemon is stopping: a stream ends with a frame that says so.
async fn reply_stopping(stream: &mut UnixStream) -> Result<(), FrameError> {
    reply_error(
        stream,
        ErrorCode::ShuttingDown,
        "jitosd is shutting down".to_owned(),
    )
    .await
}

/// Streams records from `from`, then each new one as it commits, until the client leaves.
///
/// The subscription is taken before catching up, so nothing committed in between is
/// missed; a follower that falls behind the broadcast buffer re-reads the ledger.
async fn follow(stream: &mut UnixStream, shared: &Shared, from: u64) -> Result<(), FrameError> {
    let mut live = shared.kernel.subscribe();
    let mut stopping = shared.stopping.clone();
    let mut next = from;
    next = catch_up(stream, shared, next).await?;
    let mut probe = [0u8; 1];
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(record) if record.seq < next => {}
                Ok(record) if record.seq == next => {
                    send_records(stream, std::slice::from_ref(&record)).await?;
                    next += 1;
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    next = catch_up(stream, shared, next).await?;
                }
                Err(broadcast::error::RecvError::Closed) => return reply_stopping(stream).await,
            },
            // A follower sends nothing; any byte or a hang-up ends the stream.
            // What it read belongs to a frame no longer whole: the connection ends too.
            _ = stream.read(&mut probe) => return Err(FrameError::Closed),
            _ = stopping.changed() => return reply_stopping(stream).await,
        }
    }
}

async fn catch_up(
    stream: &mut UnixStream,
    shared: &Shared,
    mut next: u64,
) -> Result<u64, FrameError> {
    loop {
        let page = reading::on_view(&shared.kernel, move |view| {
            view.records(next, FOLLOW_PAGE_RECORDS.into())
        })
        .await;
        let records = match page {
            Ok(Ok(records)) => records,
            Ok(Err(e)) => {
                reply_error(stream, ErrorCode::Storage, e.to_string()).await?;
                return Err(FrameError::Malformed(e.to_string()));
            }
            Err(stopped) => {
                frame_io::write_response(stream, &stopped, NOTHING_NARROWS).await?;
                return Err(FrameError::Closed);
            }
        };
        let Some(last) = records.last() else {
            return Ok(next);
        };
        next = last.seq + 1;
        send_records(stream, &records).await?;
    }
}

/// `items` cut into runs of at most `budget` by `size`, each run at least one item.
fn runs<T>(items: &[T], budget: usize, size: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut runs = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let mut used = 0usize;
        let take = rest
            .iter()
            .take_while(|item| {
                used = used.saturating_add(size(item));
                used <= budget
            })
            .count()
            .max(1);
        let (run, later) = rest.split_at(take);
        runs.push(run);
        rest = later;
    }
    runs
}

/// Sends `records` as a stream's items, as many to a frame as keep well under its limit;
/// a record too large for any frame ends the stream with an error frame.
async fn send_records<R: std::borrow::Borrow<Record>>(
    stream: &mut UnixStream,
    records: &[R],
) -> Result<(), FrameError> {
    for run in runs(records, RECORDS_FRAME_PAYLOAD_BYTES, |r| {
        r.borrow().payload.len()
    }) {
        let views = run.iter().map(|r| views::record_view(r.borrow())).collect();
        let first = run.first().map_or(0, |r| r.borrow().seq);
        frame_io::write_stream_item(
            stream,
            &Response::Records(views),
            &format!(
                "record {first} is too large to send whole; follow on from the next with \
                 jitos log --follow --from {}",
                first + 1
            ),
        )
        .await?;
    }
    Ok(())
}

/// Writes the bundle next to the store, then streams it in chunks and removes it.
async fn export(
    stream: &mut UnixStream,
    shared: &Shared,
    from: u64,
    to: Option<u64>,
) -> Result<(), FrameError> {
    let path = shared.scratch_dir.join(format!(
        "export-{}-{}.bundle",
        std::process::id(),
        next_export_id()
    ));
    let staged = path.clone();
    let written = reading::on_view(&shared.kernel, move |view| {
        let to = to.unwrap_or(view.head().seq);
        view.export(&staged, from, to)
    })
    .await;
    match written {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return reply_error(stream, answer::kernel_error_info(&e).code, e.to_string()).await
        }
        Err(stopped) => return frame_io::write_response(stream, &stopped, NOTHING_NARROWS).await,
    }
    let result = stream_file(stream, &path).await;
    if let Err(e) = tokio::fs::remove_file(&path).await {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove staged export");
    }
    result
}

async fn stream_file(stream: &mut UnixStream, path: &std::path::Path) -> Result<(), FrameError> {
    let mut file = tokio::fs::File::open(path).await?;
    let total = file.metadata().await?.len();
    let mut sent = 0u64;
    loop {
        let mut chunk = vec![0u8; EXPORT_CHUNK_BYTES];
        let n = read_full(&mut file, &mut chunk).await?;
        chunk.truncate(n);
        sent += n as u64;
        let last = sent >= total || n == 0;
        frame_io::write_response(
            stream,
            &Response::ExportChunk { bytes: chunk, last },
            NOTHING_NARROWS,
        )
        .await?;
        if last {
            return Ok(());
        }
    }
}

async fn read_full(file: &mut tokio::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// Streams a graph in parts, then its end.
async fn graph_show(
    stream: &mut UnixStream,
    shared: &Shared,
    at: Option<u64>,
    node: Option<String>,
    sws: Option<u64>,
) -> Result<(), FrameError> {
    let narrow = GRAPH_NARROWS;
    // Splitting measures every node, so it runs with the read, off the async threads.
    let shown = reading::on_view(&shared.kernel, move |view| {
        answer::graph_show(view, at, node.as_deref(), sws).map(graph_parts)
    })
    .await;
    let (parts, end) = match shown {
        Ok(Ok(Ok(split))) => split,
        Ok(Ok(Err(e))) => return reply_error(stream, ErrorCode::Storage, e.to_string()).await,
        Ok(Err(refused)) => {
            return frame_io::write_response(stream, &Response::Error(refused), narrow).await
        }
        Err(stopped) => return frame_io::write_response(stream, &stopped, narrow).await,
    };
    for part in parts {
        frame_io::write_stream_item(stream, &Response::GraphPart(part), narrow).await?;
    }
    frame_io::write_response(stream, &Response::GraphEnd(end), narrow).await
}

/// Where a followed process stands, as of one view.
enum ProcessStep {
    /// No such process.
    Unknown,
    /// Nothing changed since the last step.
    Same,
    /// It changed: what it is now, its new records, and whether it still runs.
    Changed {
        process: Arc<Process>,
        summary: ProcessSummary,
        records: Vec<RecordView>,
        end: Option<Box<jitos_proto::ProcessDetail>>,
    },
}

/// Streams a process's progress: its new records and status as views change it, at most
/// once per `PROGRESS_INTERVAL` while it runs, until it no longer runs; then at once its
/// detail.
///
/// The subscription is taken before the first look, and the writer publishes each view
/// before it announces the records, so every change is seen on the view that woke us.
async fn follow_process(
    stream: &mut UnixStream,
    shared: &Shared,
    process: u64,
) -> Result<(), FrameError> {
    let mut live = shared.kernel.subscribe();
    let mut stopping = shared.stopping.clone();
    let mut seen: Option<Arc<Process>> = None;
    let mut after: Option<u64> = None;
    let mut quiet_until: Option<tokio::time::Instant> = None;
    let mut probe = [0u8; 1];
    loop {
        // Most commits leave a followed process alone, and a running one's progress may
        // wait for the interval to pass: the latest view says so at once, without a trip
        // to a blocking thread.
        let (unchanged, running) = {
            let view = shared.kernel.view();
            let now = view.processes().shared(process);
            (
                seen.as_ref()
                    .zip(now.as_ref())
                    .is_some_and(|(seen, now)| Arc::ptr_eq(seen, now)),
                now.is_some_and(|now| now.status == jitos_sched::Status::Running),
            )
        };
        let held = !unchanged
            && running
            && quiet_until.is_some_and(|until| tokio::time::Instant::now() < until);
        let step = match unchanged || held {
            true => Ok(Ok(ProcessStep::Same)),
            false => {
                let last = seen.clone();
                reading::on_view(&shared.kernel, move |view| {
                    process_step(view, process, last.as_ref(), after)
                })
                .await
            }
        };
        match step {
            Ok(Ok(ProcessStep::Unknown)) => {
                return reply_error(
                    stream,
                    ErrorCode::NotFound,
                    format!("no process {process}; `jitos ps --all` lists them"),
                )
                .await
            }
            Ok(Ok(ProcessStep::Same)) => {}
            Ok(Ok(ProcessStep::Changed {
                process: now,
                summary,
                records,
                end,
            })) => {
                if let Some(newest) = records.last() {
                    after = Some(newest.seq);
                }
                seen = Some(now);
                send_progress(stream, summary, records).await?;
                quiet_until = Some(tokio::time::Instant::now() + PROGRESS_INTERVAL);
                if let Some(detail) = end {
                    return frame_io::write_response(
                        stream,
                        &Response::Process(*detail),
                        NOTHING_NARROWS,
                    )
                    .await;
                }
            }
            Ok(Err(e)) => return reply_error(stream, ErrorCode::Storage, e.to_string()).await,
            Err(stopped) => {
                return frame_io::write_response(stream, &stopped, NOTHING_NARROWS).await
            }
        }
        tokio::select! {
            received = live.recv() => match received {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    // One look at the latest view covers every record announced so far.
                    while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) =
                        live.try_recv()
                    {}
                }
                Err(broadcast::error::RecvError::Closed) => return reply_stopping(stream).await,
            },
            // Progress held back goes out when its interval is over, commits or not.
            () = tokio::time::sleep_until(quiet_until.unwrap_or_else(tokio::time::Instant::now)),
                if held => {}
            // A follower sends nothing; any byte or a hang-up ends the stream.
            // What it read belongs to a frame no longer whole: the connection ends too.
            _ = stream.read(&mut probe) => return Err(FrameError::Closed),
            _ = stopping.changed() => return reply_stopping(stream).await,
        }
    }
}

/// Process `id` as of `view`, against how it was last seen; its records after `after`.
fn process_step(
    view: &jitos_kernel::View,
    id: u64,
    seen: Option<&Arc<Process>>,
    after: Option<u64>,
) -> Result<ProcessStep, jitos_kernel::KernelError> {
    // A process leaves the live state with its last record; then the index has it.
    let shared = match view.processes().shared(id) {
        Some(live) => live,
        None => match view.process(id)? {
            Some(ended) => Arc::new(ended),
            None => return Ok(ProcessStep::Unknown),
        },
    };
    // Most commits leave a followed process alone, and then it is the same allocation.
    if seen.is_some_and(|seen| Arc::ptr_eq(seen, &shared) || **seen == *shared) {
        return Ok(ProcessStep::Same);
    }
    let process = shared.as_ref();
    let mut records = Vec::new();
    let mut cursor = after;
    loop {
        let page = view.process_log(id, cursor, PROCESS_STEP_RECORDS)?;
        records.extend(page.items.iter().map(views::record_view));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let end = (process.status != jitos_sched::Status::Running)
        .then(|| Box::new(crate::processes::views::detail(view, process)));
    Ok(ProcessStep::Changed {
        process: Arc::clone(&shared),
        summary: crate::processes::views::summary(process),
        records,
        end,
    })
}

/// One progress step, its records spread over frames of a bounded size.
async fn send_progress(
    stream: &mut UnixStream,
    summary: ProcessSummary,
    records: Vec<RecordView>,
) -> Result<(), FrameError> {
    // Sized as they go on the wire, since a step may carry a process's whole log.
    let size = |view: &RecordView| {
        jitos_proto::encode_message(view).map_or(RECORDS_FRAME_PAYLOAD_BYTES, |b| b.len())
    };
    let mut chunks = runs(&records, RECORDS_FRAME_PAYLOAD_BYTES, size)
        .into_iter()
        .peekable();
    if chunks.peek().is_none() {
        return frame_io::write_response(
            stream,
            &Response::ProcessProgress {
                summary,
                records: Vec::new(),
            },
            NOTHING_NARROWS,
        )
        .await;
    }
    for chunk in chunks {
        frame_io::write_stream_item(
            stream,
            &Response::ProcessProgress {
                summary: summary.clone(),
                records: chunk.to_vec(),
            },
            "read this process's records with jitos log --process PID instead",
        )
        .await?;
    }
    Ok(())
}

fn next_export_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
