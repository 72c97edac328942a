//! Answers to the requests that read or snapshot the store: one function for the daemon's
//! kernel thread and for the CLI's offline mode, so both say the same thing.

use jitos_kernel::{CommitError, Kernel, KernelError, SwsOutcome};
use jitos_ledger::{Actor, Record};
use jitos_proto::{
    BlobGcReport, ErrorCode, ErrorInfo, KeyChangeView, Request, Response, SnapshotView, SwsDetail,
};
use jitos_sws::{Over, SwsError};
use jitos_tree::diff_trees;

use crate::{jobs, views};

/// Most records one `log` page returns.
pub const LOG_PAGE_RECORDS_MAX: u32 = 10_000;

/// Answers a request on the kernel thread, on behalf of `actor`. Requests that stream
/// ([`Request::Follow`], [`Request::Export`]) and group-committed rewrites
/// ([`Request::ApplyRewrite`]) are the caller's to handle.
pub fn answer(kernel: &mut Kernel, actor: &Actor, request: &Request) -> Response {
    match answer_inner(kernel, actor, request) {
        Ok(response) => response,
        Err(e) => Response::Error(kernel_error_info(&e)),
    }
}

fn answer_inner(
    kernel: &mut Kernel,
    actor: &Actor,
    request: &Request,
) -> Result<Response, KernelError> {
    Ok(match request {
        Request::Status => Response::Status(views::status_info(kernel)),
        Request::GraphShow { at, node, sws } => {
            let at_seq = at.unwrap_or(kernel.head().seq);
            let graph = match sws {
                Some(sws) => kernel.sws_graph(*sws)?,
                None => kernel.graph_at(at_seq)?,
            };
            match views::graph_view(&graph, at_seq, node.as_deref()) {
                Some(view) => Response::Graph(view),
                None => Response::Error(ErrorInfo {
                    code: ErrorCode::NotFound,
                    message: format!(
                        "no node {:?} at sequence number {at_seq}; `jitos graph show` lists the nodes",
                        node.as_deref().unwrap_or_default()
                    ),
                }),
            }
        }
        Request::History { node } => {
            Response::History(views::history_entries(kernel.history(node)?))
        }
        Request::Log { from, limit } => {
            let limit = (*limit).min(LOG_PAGE_RECORDS_MAX);
            let records = kernel.records(*from, limit.into())?;
            Response::Records(records.iter().map(views::record_view).collect())
        }
        Request::Verify => Response::Verify(views::verify_view(kernel.verify(&mut |_| {})?)),
        Request::ReplayVerify => Response::Replay(views::replay_report(kernel.replay_verify()?)),
        Request::Snapshot => {
            let meta = kernel.snapshot()?;
            Response::Snapshot(SnapshotView {
                seq: meta.seq,
                digest: jitos_warp::StateDigest(meta.digest).to_string(),
                stored_bytes: meta.stored_bytes,
            })
        }
        Request::PutBlobs(blobs) => Response::BlobsStored(kernel.put_blobs(blobs)?),
        Request::GetBlobs(refs) => Response::Blobs(kernel.get_blobs(refs)?),
        Request::TreeShow { sws: None, at } => {
            Response::Tree(kernel.tree_at(at.unwrap_or(kernel.head().seq))?)
        }
        Request::TreeImport { sws: None, tree } => {
            views::committed(&kernel.import_tree(actor.clone(), tree)?)
        }
        Request::TreeShow { sws: Some(sws), .. } => Response::Tree(kernel.sws_tree(*sws)?),
        Request::TreeImport {
            sws: Some(sws),
            tree,
        } => sws_recorded(*sws, &kernel.sws_import_tree(actor.clone(), *sws, tree)?),
        Request::SwsCreate { at, parent } => {
            let over = match (parent, at) {
                (Some(id), _) => Over::Workspace { id: *id },
                (None, at) => Over::System {
                    at_seq: at.unwrap_or(kernel.head().seq),
                },
            };
            let record = kernel.sws_create(actor.clone(), over)?;
            sws_recorded(record.seq, &record)
        }
        Request::SwsList => {
            Response::SwsList(kernel.pool().workspaces().map(views::sws_summary).collect())
        }
        Request::SwsShow(sws) => {
            let workspace = kernel.pool().workspace(*sws).ok_or(KernelError::Workspace(
                SwsError::UnknownWorkspace { id: *sws },
            ))?;
            let summary = views::sws_summary(workspace);
            let (changes, files) = if workspace.is_open() {
                let changes = kernel
                    .sws_diff(*sws)?
                    .into_iter()
                    .map(|diff| KeyChangeView {
                        key: diff.key.to_string(),
                        base: diff.base.to_string(),
                        now: diff.now.to_string(),
                    })
                    .collect();
                let files = diff_trees(&kernel.sws_base_tree(*sws)?, &kernel.sws_tree(*sws)?);
                (changes, files)
            } else {
                (Vec::new(), Vec::new())
            };
            Response::Sws(SwsDetail {
                summary,
                changes,
                files,
            })
        }
        Request::SwsApply { sws, rewrite } => sws_recorded(
            *sws,
            &kernel.sws_apply(actor.clone(), *sws, rewrite.clone())?,
        ),
        Request::SwsCollapse(sws) => sws_outcome(*sws, kernel.sws_collapse(actor.clone(), *sws)?),
        Request::SwsRebase(sws) => sws_outcome(*sws, kernel.sws_rebase(actor.clone(), *sws)?),
        Request::SwsDiscard { sws, reason } => sws_recorded(
            *sws,
            &kernel.sws_discard(actor.clone(), *sws, reason.clone())?,
        ),
        Request::BlobGc => {
            let outcome = kernel.blob_gc()?;
            Response::BlobGc(BlobGcReport {
                kept: outcome.kept,
                removed: outcome.removed,
                removed_bytes: outcome.removed_bytes,
            })
        }
        Request::JobShow(attempt) => match kernel.jobs().attempt(*attempt) {
            Some(a) => Response::Job(jobs::views::attempt_view(a)),
            None => Response::Error(ErrorInfo {
                code: ErrorCode::NotFound,
                message: format!("no attempt {attempt}; `jitos job list --all` lists them"),
            }),
        },
        Request::JobList { all } => Response::Jobs(
            kernel
                .jobs()
                .attempts()
                .rev()
                .filter(|a| *all || a.status == jitos_kernel::AttemptStatus::Running)
                .map(jobs::views::attempt_view)
                .collect(),
        ),
        Request::ProcessList { all } => Response::Processes(
            kernel
                .processes()
                .all()
                .rev()
                .filter(|p| *all || !p.status.is_over())
                .map(crate::processes::views::summary)
                .collect(),
        ),
        Request::ProcessShow(id) => match kernel.processes().get(*id) {
            Some(p) => Response::Process(crate::processes::views::detail(kernel, p)),
            None => Response::Error(ErrorInfo {
                code: ErrorCode::NotFound,
                message: format!("no process {id}; `jitos ps --all` lists them"),
            }),
        },
        Request::ProcessLog(id) => match kernel.processes().get(*id) {
            Some(_) => Response::Records(
                crate::processes::views::process_records(kernel, *id)?
                    .iter()
                    .map(views::record_view)
                    .collect(),
            ),
            None => Response::Error(ErrorInfo {
                code: ErrorCode::NotFound,
                message: format!("no process {id}; `jitos ps --all` lists them"),
            }),
        },
        Request::JobRun(_)
        | Request::JobCancel(_)
        | Request::WorkerList
        | Request::WorkerInstall { .. }
        | Request::ProcessSubmit { .. }
        | Request::ProcessPlan { .. }
        | Request::ProcessCancel(_)
        | Request::ProcessAnswer { .. } => Response::Error(ErrorInfo {
            code: ErrorCode::BadRequest,
            message: "jobs, workers and processes need a running jitosd; start it, or leave out --data-dir"
                .to_owned(),
        }),
        Request::ApplyRewrite(_) | Request::Follow { .. } | Request::Export { .. } => {
            Response::Error(ErrorInfo {
                code: ErrorCode::BadRequest,
                message: "this request is not a query".to_owned(),
            })
        }
    })
}

/// The wire form of a kernel error.
pub fn kernel_error_info(error: &KernelError) -> ErrorInfo {
    let code = match error {
        KernelError::BeyondHead { .. } | KernelError::BlobMissing { .. } => ErrorCode::NotFound,
        KernelError::ReadOnly => ErrorCode::ReadOnly,
        KernelError::Tree(_) => ErrorCode::BadRequest,
        KernelError::Workspace(SwsError::UnknownWorkspace { .. }) => ErrorCode::NotFound,
        KernelError::Workspace(SwsError::Rewrite(_)) => ErrorCode::RewriteRefused,
        KernelError::Workspace(_) => ErrorCode::BadRequest,
        KernelError::JobRefused(jitos_kernel::JobsError::UnknownAttempt { .. }) => {
            ErrorCode::NotFound
        }
        KernelError::JobRefused(_) => ErrorCode::BadRequest,
        KernelError::ProcessWorkspace { .. } => ErrorCode::BadRequest,
        KernelError::Commit(commit) => return commit_error_info(commit),
        _ => ErrorCode::Storage,
    };
    ErrorInfo {
        code,
        message: error.to_string(),
    }
}

fn sws_recorded(sws: u64, record: &Record) -> Response {
    Response::SwsRecorded {
        sws,
        seq: record.seq,
        hash: record.hash.to_string(),
    }
}

fn sws_outcome(sws: u64, outcome: SwsOutcome) -> Response {
    match outcome {
        SwsOutcome::Done(record) => sws_recorded(sws, &record),
        SwsOutcome::Conflicts { record, report } => {
            Response::SwsConflicts(views::conflict_view(&report, record.seq))
        }
    }
}

/// The wire form of a commit error.
pub fn commit_error_info(error: &CommitError) -> ErrorInfo {
    let code = match error {
        CommitError::Refused(_) | CommitError::Payload(_) => ErrorCode::RewriteRefused,
        CommitError::Storage(_) => ErrorCode::Storage,
        CommitError::ReadOnly => ErrorCode::ReadOnly,
        CommitError::ShuttingDown => ErrorCode::ShuttingDown,
    };
    ErrorInfo {
        code,
        message: error.to_string(),
    }
}
