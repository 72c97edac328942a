//! One request of a principal, whichever door it came in by (the unix socket or the HTTP
//! API): authorised exactly as on the socket, then answered with one response.
//!
//! Requests that stream (follow, graph, process follow, export) are served by each door
//! in its own way; everything else is answered here, so both doors do the same.

use std::sync::Arc;

use jitos_gov::{authorize, Principal, Refusal};
use jitos_ledger::Actor;
use jitos_proto::{ErrorCode, ErrorInfo, Request, Response};

use crate::{
    access,
    answer::{self, Answering},
    connection::Shared,
    reading,
    secrets::SecretStore,
    views,
};

/// Whether `principal` may make `request`; a refusal is logged and audited
/// (`access.refused`).
pub(crate) async fn authorised(
    shared: &Shared,
    actor: &Actor,
    principal: &Principal,
    request: &Request,
) -> Result<(), Refusal> {
    let (act, what) = access::act_of(request, &shared.kernel).await;
    if let Err(refusal) = authorize(principal, act, &what) {
        tracing::info!(?actor, %refusal, "request refused");
        shared.audit.refused(actor, principal, &refusal).await;
        return Err(refusal);
    }
    Ok(())
}

/// Authorises `request`, then answers it: a refusal is answered as
/// [`ErrorCode::Forbidden`].
pub(crate) async fn ask(
    shared: &Shared,
    actor: &Actor,
    principal: &Principal,
    request: Request,
) -> Response {
    if let Err(refusal) = authorised(shared, actor, principal, &request).await {
        return Response::Error(ErrorInfo {
            code: ErrorCode::Forbidden,
            message: refusal.message,
        });
    }
    answer(shared, actor, principal, request).await
}

/// Answers an authorised request that does not stream.
pub(crate) async fn answer(
    shared: &Shared,
    actor: &Actor,
    principal: &Principal,
    request: Request,
) -> Response {
    match request {
        Request::Follow { .. }
        | Request::GraphShow { .. }
        | Request::ProcessFollow(_)
        | Request::Export { .. } => Response::Error(ErrorInfo {
            code: ErrorCode::BadRequest,
            message: "this request streams; its door serves it".to_owned(),
        }),
        Request::ApplyRewrite(rewrite) => {
            match shared.kernel.commit(actor.clone(), rewrite).await {
                Ok(commit) => views::committed(&commit),
                Err(e) => Response::Error(answer::commit_error_info(&e)),
            }
        }
        Request::JobRun(spec) => shared.jobs.run(actor.clone(), principal, spec).await,
        Request::JobCancel(attempt) => shared.jobs.cancel(actor.clone(), attempt),
        Request::WorkerList(page) => {
            match shared
                .jobs
                .list_workers()
                .await
                .and_then(|workers| answer::worker_page(workers, &page))
            {
                Ok(page) => Response::Workers(page),
                Err(refused) => Response::Error(refused),
            }
        }
        Request::WorkerInstall { manifest } => shared.jobs.install(actor.clone(), manifest).await,
        Request::ProcessSubmit { intent, path, writ } => {
            shared
                .processes
                .submit(actor.clone(), principal, intent, path, writ)
                .await
        }
        Request::KeyShow => shared.writs.key_view(),
        Request::SecretAdd { name, value } => {
            let secrets = Arc::clone(&shared.secrets);
            secret_change(move || secrets.add(&name, &value.0).map(|()| secrets)).await
        }
        Request::SecretRemove { name } => {
            let secrets = Arc::clone(&shared.secrets);
            secret_change(move || secrets.remove(&name).map(|()| secrets)).await
        }
        Request::SecretList => Response::Secrets(shared.secrets.values().keys().cloned().collect()),
        Request::TokenCreate { name } => {
            let tokens = Arc::clone(&shared.tokens);
            let principal = principal.clone();
            reading::blocking(move || tokens.create(&principal, &name))
                .await
                .unwrap_or_else(|stopped| stopped)
        }
        Request::TokenList => {
            // Each token's user is named from the user database, off the async threads.
            let tokens = Arc::clone(&shared.tokens);
            let principal = principal.clone();
            reading::blocking(move || Response::Tokens(tokens.list(&principal)))
                .await
                .unwrap_or_else(|stopped| stopped)
        }
        Request::TokenRevoke { id } => {
            let tokens = Arc::clone(&shared.tokens);
            let principal = principal.clone();
            reading::blocking(move || tokens.revoke(&principal, &id))
                .await
                .unwrap_or_else(|stopped| stopped)
        }
        Request::SwsCollapse { sws, writ } => {
            crate::collapse::collapse(&shared.kernel, actor.clone(), principal, sws, writ).await
        }
        Request::SwsVote { sws, approve, note } => {
            crate::collapse::vote(&shared.kernel, actor.clone(), principal, sws, approve, note)
                .await
        }
        Request::ProcessVote {
            process,
            approve,
            note,
        } => {
            shared
                .processes
                .vote(actor.clone(), principal, process, approve, note)
                .await
        }
        Request::ProcessList {
            waiting_for_me: true,
            page,
            ..
        } => {
            let principal = principal.clone();
            match reading::on_view(&shared.kernel, move |view| {
                answer::waiting_for(view, &principal, &page)
            })
            .await
            {
                Ok(Ok(page)) => Response::Processes(page),
                Ok(Err(refused)) => Response::Error(refused),
                Err(stopped) => stopped,
            }
        }
        Request::WritIssue(spec) => shared.writs.issue(actor.clone(), principal, spec).await,
        Request::WritRevoke { writ, reason } => {
            shared.writs.revoke(actor.clone(), writ, reason).await
        }
        Request::WritRaise {
            writ,
            jobs,
            wall_secs,
            counters,
            reason,
        } => {
            let more = jitos_gov::writ::Spent {
                jobs,
                wall_secs,
                counters,
            };
            shared.writs.raise(actor.clone(), writ, more, reason).await
        }
        Request::ProcessPlan { intent, path } => shared.processes.plan(intent, path).await,
        Request::ProcessCancel(process) => shared.processes.cancel(actor.clone(), process).await,
        Request::ProcessAnswer { process, answer } => {
            shared
                .processes
                .answer(actor.clone(), process, answer)
                .await
        }
        request => {
            let mut response = store_request(shared, actor, request).await;
            if let Response::Status(info) = &mut response {
                info.sandbox = Some(shared.jobs.sandbox().clone());
            }
            response
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

/// A change to the secrets, off the async threads (it syncs files); answered with the
/// names stored after it.
async fn secret_change(
    change: impl FnOnce() -> Result<Arc<SecretStore>, crate::secrets::SecretError> + Send + 'static,
) -> Response {
    match reading::blocking(change).await {
        Ok(Ok(secrets)) => Response::Secrets(secrets.values().keys().cloned().collect()),
        Ok(Err(e @ crate::secrets::SecretError::Io { .. })) => Response::Error(ErrorInfo {
            code: ErrorCode::Storage,
            message: e.to_string(),
        }),
        Ok(Err(e)) => Response::Error(ErrorInfo {
            code: ErrorCode::BadRequest,
            message: e.to_string(),
        }),
        Err(stopped) => stopped,
    }
}
