//! One client connection: handshake, then requests until the client hangs up.
//!
//! Anything malformed ends this connection with an error frame; the daemon and every
//! other connection carry on.

use std::{path::PathBuf, sync::Arc, time::Duration};

use jitos_kernel::KernelHandle;
use jitos_ledger::{Actor, Record};
use jitos_proto::{ErrorCode, ErrorInfo, FrameError, Hello, Request, Response, Welcome};
use tokio::{
    io::AsyncReadExt,
    net::UnixStream,
    sync::{broadcast, watch},
};

use crate::{
    answer::{self, Answering},
    frame_io,
    jobs::JobRunner,
    processes::ProcessService,
    reading, views,
};

/// How long a client may take to say hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes of an exported bundle per frame.
const EXPORT_CHUNK_BYTES: usize = 1024 * 1024;

/// Records per page while a follower catches up from the ledger.
const FOLLOW_PAGE_RECORDS: u32 = 1024;

/// What every connection shares.
pub struct Shared {
    /// The kernel thread.
    pub kernel: KernelHandle,
    /// The handshake answer.
    pub welcome: Welcome,
    /// Where exports are staged before they are streamed.
    pub scratch_dir: PathBuf,
    /// Turns true when the daemon stops, so long-lived streams end promptly.
    pub stopping: watch::Receiver<bool>,
    /// Runs jobs on workers.
    pub jobs: Arc<JobRunner>,
    /// Submits, answers and cancels processes.
    pub processes: ProcessService,
}

/// Serves one connection to its end.
pub async fn serve(mut stream: UnixStream, shared: Arc<Shared>) {
    let actor = match stream.peer_cred() {
        Ok(cred) => Actor::Peer {
            uid: cred.uid(),
            pid: cred
                .pid()
                .and_then(|pid| u32::try_from(pid).ok())
                .unwrap_or(0),
        },
        Err(e) => {
            tracing::warn!(error = %e, "no peer credentials; closing");
            return;
        }
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut stream, &shared)).await {
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
        if let Err(e) = dispatch(&mut stream, &shared, &actor, request).await {
            tracing::debug!(?actor, error = %e, "connection ended");
            return;
        }
    }
}

async fn handshake(stream: &mut UnixStream, shared: &Shared) -> Result<(), FrameError> {
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
    frame_io::write_message(stream, &Response::Welcome(shared.welcome.clone())).await
}

async fn dispatch(
    stream: &mut UnixStream,
    shared: &Shared,
    actor: &Actor,
    request: Request,
) -> Result<(), FrameError> {
    match request {
        Request::ApplyRewrite(rewrite) => {
            let response = match shared.kernel.commit(actor.clone(), rewrite).await {
                Ok(commit) => views::committed(&commit),
                Err(e) => Response::Error(answer::commit_error_info(&e)),
            };
            frame_io::write_message(stream, &response).await
        }
        Request::Follow { from } => follow(stream, shared, from).await,
        Request::JobRun(spec) => {
            let response = shared.jobs.run(actor.clone(), spec).await;
            frame_io::write_message(stream, &response).await
        }
        Request::JobCancel(attempt) => {
            frame_io::write_message(stream, &shared.jobs.cancel(actor.clone(), attempt)).await
        }
        Request::WorkerList => {
            frame_io::write_message(stream, &shared.jobs.list_workers().await).await
        }
        Request::WorkerInstall { manifest } => {
            let response = shared.jobs.install(actor.clone(), manifest).await;
            frame_io::write_message(stream, &response).await
        }
        Request::ProcessSubmit { intent, path } => {
            let response = shared.processes.submit(actor.clone(), intent, path).await;
            frame_io::write_message(stream, &response).await
        }
        Request::ProcessPlan { intent, path } => {
            let response = shared.processes.plan(intent, path).await;
            frame_io::write_message(stream, &response).await
        }
        Request::ProcessCancel(process) => {
            let response = shared.processes.cancel(actor.clone(), process).await;
            frame_io::write_message(stream, &response).await
        }
        Request::ProcessAnswer { process, answer } => {
            let response = shared
                .processes
                .answer(actor.clone(), process, answer)
                .await;
            frame_io::write_message(stream, &response).await
        }
        Request::Export { from, to } => export(stream, shared, from, to).await,
        request => {
            let mut response = store_request(shared, actor, request).await;
            if let Response::Status(info) = &mut response {
                info.sandbox = Some(shared.jobs.sandbox().clone());
            }
            frame_io::write_message(stream, &response).await
        }
    }
}

/// Answers a request about the store: a read from the latest view, or a command for the
/// writer.
async fn store_request(shared: &Shared, actor: &Actor, request: Request) -> Response {
    let request = Arc::new(request);
    let asked = Arc::clone(&request);
    let answering =
        match reading::on_view(&shared.kernel, move |view| answer::answering(view, &asked)).await {
            Ok(answering) => answering,
            Err(stopped) => return stopped,
        };
    let kernel = shared.kernel.clone();
    let done = match answering {
        Answering::Read(response) => return response,
        Answering::Execute(command) => {
            let outcome = shared.kernel.execute(actor.clone(), command).await;
            return answer::executed(&request, outcome);
        }
        Answering::Snapshot => {
            reading::blocking(move || answer::snapshot_taken(kernel.snapshot_blocking())).await
        }
        Answering::BlobGc => {
            reading::blocking(move || answer::blobs_collected(kernel.blob_gc_blocking())).await
        }
    };
    done.unwrap_or_else(|stopped| stopped)
}

async fn reply_error(
    stream: &mut UnixStream,
    code: ErrorCode,
    message: String,
) -> Result<(), FrameError> {
    frame_io::write_message(stream, &Response::Error(ErrorInfo { code, message })).await
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
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            // A follower sends nothing; any byte or a hang-up ends the stream.
            _ = stream.read(&mut probe) => return Ok(()),
            _ = stopping.changed() => return Ok(()),
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
            Err(_) => return Err(FrameError::Closed),
        };
        let Some(last) = records.last() else {
            return Ok(next);
        };
        next = last.seq + 1;
        send_records(stream, &records).await?;
    }
}

async fn send_records<R: std::borrow::Borrow<Record>>(
    stream: &mut UnixStream,
    records: &[R],
) -> Result<(), FrameError> {
    let views = records
        .iter()
        .map(|r| views::record_view(r.borrow()))
        .collect();
    frame_io::write_message(stream, &Response::Records(views)).await
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
            return frame_io::write_message(stream, &Response::Error(answer::kernel_error_info(&e)))
                .await
        }
        Err(stopped) => return frame_io::write_message(stream, &stopped).await,
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
        frame_io::write_message(stream, &Response::ExportChunk { bytes: chunk, last }).await?;
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

fn next_export_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
