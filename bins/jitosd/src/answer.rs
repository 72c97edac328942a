//! Answers to the requests about the store: reads answered from a view, and changes made
//! into kernel commands whose outcomes become responses. One module for the daemon and
//! for the CLI's offline mode, so both say the same thing.

use jitos_gov::Principal;
use jitos_kernel::{
    BlobGcOutcome, Command, CommitError, KernelError, Outcome, PolicyRecord, View,
    KIND_POLICY_DECISION,
};
use jitos_ledger::{Record, SnapshotMeta};
use jitos_proto::{
    AttemptView, BlobGcReport, ChangeView, ErrorCode, ErrorInfo, GraphView, KeyChangeView,
    PageRequest, PageView, PolicyView, ProcessSummary, RecordView, Request, Response,
    SimulationView, SnapshotView, SwsDetail, SwsSummary, WorkerView,
};
use jitos_sws::{Over, Status, SwsError};
use jitos_tree::diff_trees;

use crate::{jobs, views};

/// Most records one `log` page returns.
pub const LOG_PAGE_RECORDS_MAX: u32 = 10_000;

/// How a request about the store is answered.
pub enum Answering {
    /// From the view alone.
    Read(Response),
    /// By the writer: this command, whose outcome [`executed`] turns into the response.
    Execute(Command),
    /// By a snapshot of the latest state ([`snapshot_taken`]).
    Snapshot,
    /// By a blob collection ([`blobs_collected`]).
    BlobGc,
}

/// How `request` is answered, as of `view`: reads are answered here (some read the
/// whole ledger, so call it off the async threads). Requests that stream, run jobs or
/// plan are the caller's own; they answer as bad requests here.
pub fn answering(view: &View, request: &Request) -> Answering {
    match read_or_command(view, request) {
        Ok(answering) => answering,
        Err(e) => Answering::Read(Response::Error(kernel_error_info(&e))),
    }
}

/// The answer offline, where the store is open read-only: reads, or why the request
/// needs a daemon.
pub fn offline(view: &View, request: &Request) -> Response {
    match answering(view, request) {
        Answering::Read(response) => response,
        Answering::Execute(_) | Answering::Snapshot | Answering::BlobGc => {
            Response::Error(kernel_error_info(&KernelError::ReadOnly))
        }
    }
}

fn read_or_command(view: &View, request: &Request) -> Result<Answering, KernelError> {
    let execute = |command| Ok(Answering::Execute(command));
    let response = match request {
        Request::Status => Response::Status(views::status_info(view)),
        Request::History { node } => Response::History(views::history_entries(view.history(node)?)),
        Request::Log { from, limit } => {
            if *limit == 0 || *limit > LOG_PAGE_RECORDS_MAX {
                // A short page would pass for the end of the log.
                return Ok(Answering::Read(Response::Error(ErrorInfo {
                    code: ErrorCode::BadRequest,
                    message: format!(
                        "--limit {limit} is out of range: a page holds 1 to \
                         {LOG_PAGE_RECORDS_MAX} records; page on with --from"
                    ),
                })));
            }
            let records = view.records(*from, (*limit).into())?;
            Response::Records(records.iter().map(views::record_view).collect())
        }
        Request::Verify => Response::Verify(views::verify_view(view.verify(&mut |_| {})?)),
        Request::ReplayVerify => Response::Replay(views::replay_report(view.replay_verify()?)),
        Request::Snapshot => return Ok(Answering::Snapshot),
        Request::BlobGc => return Ok(Answering::BlobGc),
        Request::PutBlobs(blobs) => return execute(Command::PutBlobs(blobs.clone())),
        Request::GetBlobs(refs) => Response::Blobs(view.get_blobs(refs)?),
        Request::TreeShow { sws: None, at } => {
            Response::Tree(view.tree_at(at.unwrap_or(view.head().seq))?)
        }
        Request::TreeShow { sws: Some(sws), .. } => Response::Tree(view.sws_tree(*sws)?),
        Request::TreeImport { sws: None, tree } => return execute(Command::ImportTree(tree.clone())),
        Request::TreeImport {
            sws: Some(sws),
            tree,
        } => {
            return execute(Command::SwsImportTree {
                sws: *sws,
                tree: tree.clone(),
            })
        }
        Request::SwsCreate { at, parent } => {
            let over = match (parent, at) {
                (Some(id), _) => Over::Workspace { id: *id },
                (None, at) => Over::System {
                    at_seq: at.unwrap_or(view.head().seq),
                },
            };
            return execute(Command::SwsCreate(over));
        }
        Request::SwsApply { sws, rewrite } => {
            return execute(Command::SwsApply {
                sws: *sws,
                rewrite: rewrite.clone(),
            })
        }
        Request::SwsRebase(sws) => return execute(Command::SwsRebase(*sws)),
        Request::SwsDiscard { sws, reason } => {
            return execute(Command::SwsDiscard {
                sws: *sws,
                reason: reason.clone(),
            })
        }
        Request::SwsList(page) => match sws_page(view, page) {
            Ok(page) => Response::SwsList(page),
            Err(refused) => Response::Error(refused),
        },
        Request::SwsShow(sws) => sws_detail(view, *sws)?,
        Request::JobShow(attempt) => job_show(view, *attempt)?,
        Request::JobList { all, page } => match job_page(view, *all, page) {
            Ok(page) => Response::Jobs(page),
            Err(refused) => Response::Error(refused),
        },
        Request::ProcessList {
            waiting_for_me: true,
            ..
        } => Response::Error(ErrorInfo {
            code: ErrorCode::BadRequest,
            message: "--waiting-for-me needs a running jitosd, which knows who you are".to_owned(),
        }),
        Request::ProcessList { all, page, .. } => match process_page(view, *all, page) {
            Ok(page) => Response::Processes(page),
            Err(refused) => Response::Error(refused),
        },
        Request::PolicyShow => Response::Policy(policy_view(view)),
        Request::PolicySimulate { text, path, from } => match simulate(view, text, path, *from) {
            Ok(simulation) => Response::PolicySimulation(simulation),
            Err(refused) => Response::Error(refused),
        },
        Request::ProcessShow(id) => match view.process(*id)? {
            Some(p) => Response::Process(crate::processes::views::detail(view, &p)),
            None => no_process(*id),
        },
        Request::ProcessDiff { a, b } => match crate::processes::compare::compare(view, *a, *b)? {
            Ok(comparison) => Response::ProcessComparison(Box::new(comparison)),
            Err(missing) => no_process(missing),
        },
        Request::ProcessLog { process, page } => match view.process(*process)? {
            Some(_) => match process_log_page(view, *process, page) {
                Ok(page) => Response::ProcessLog(page),
                Err(refused) => Response::Error(refused),
            },
            None => no_process(*process),
        },
        // Whether a writ has expired is said by this host's clock.
        Request::WritList(page) => {
            let now_ms = jitos_ledger::Clock::now_ms(&jitos_ledger::SystemClock);
            match crate::writs::writ_page(view, page, now_ms) {
                Ok(page) => Response::Writs(page),
                Err(refused) => Response::Error(refused),
            }
        }
        Request::WritShow(id) => {
            let now_ms = jitos_ledger::Clock::now_ms(&jitos_ledger::SystemClock);
            match crate::writs::writ_view(view, *id, now_ms) {
                Ok(writ) => Response::Writ(Box::new(writ)),
                Err(refused) => Response::Error(refused),
            }
        }
        Request::JobRun(_)
        | Request::JobCancel(_)
        | Request::KeyShow
        | Request::SecretAdd { .. }
        | Request::SecretRemove { .. }
        | Request::SecretList
        | Request::WritIssue(_)
        | Request::WritRevoke { .. }
        | Request::WritRaise { .. }
        | Request::WorkerList(_)
        | Request::WorkerInstall { .. }
        | Request::ProcessFollow(_)
        | Request::ProcessSubmit { .. }
        | Request::ProcessPlan { .. }
        | Request::ProcessCancel(_)
        | Request::ProcessAnswer { .. }
        | Request::ProcessVote { .. }
        | Request::SwsCollapse { .. }
        | Request::SwsVote { .. }
        | Request::TokenCreate { .. }
        | Request::TokenList
        | Request::TokenRevoke { .. } => Response::Error(ErrorInfo {
            code: ErrorCode::BadRequest,
            message: "jobs, workers, processes, writs, collapses and tokens need a running jitosd; start it, or leave out --data-dir"
                .to_owned(),
        }),
        Request::ApplyRewrite(_)
        | Request::Follow { .. }
        | Request::Export { .. }
        | Request::GraphShow { .. } => {
            Response::Error(ErrorInfo {
                code: ErrorCode::BadRequest,
                message: "this request is not a query".to_owned(),
            })
        }
    };
    Ok(Answering::Read(response))
}

/// The graph, or one node of it, at a sequence number (default: the head), or as a
/// workspace sees it; the daemon streams it in parts, the CLI's offline mode prints it
/// whole.
pub fn graph_show(
    view: &View,
    at: Option<u64>,
    node: Option<&str>,
    sws: Option<u64>,
) -> Result<GraphView, ErrorInfo> {
    let at_seq = at.unwrap_or(view.head().seq);
    let graph = match sws {
        Some(sws) => view.sws_graph(sws),
        None => view.graph_at(at_seq),
    }
    .map_err(|e| kernel_error_info(&e))?;
    views::graph_view(&graph, at_seq, node).ok_or_else(|| ErrorInfo {
        code: ErrorCode::NotFound,
        message: format!(
            "no node {:?} at sequence number {at_seq}; `jitos graph show` lists the nodes",
            node.unwrap_or_default()
        ),
    })
}

/// Up to `limit` items, in order, and the cursor of the last one when more follow.
fn page_of<T, C>(items: impl Iterator<Item = (C, T)>, limit: usize) -> PageView<T, C> {
    let mut page = Vec::new();
    let mut last = None;
    for (cursor, item) in items {
        if page.len() == limit {
            return PageView {
                items: page,
                next: last,
            };
        }
        last = Some(cursor);
        page.push(item);
    }
    PageView {
        items: page,
        next: None,
    }
}

/// The limit a page asks for, or why it is refused.
fn limit_of<C>(page: &PageRequest<C>) -> Result<usize, ErrorInfo> {
    page.checked_limit().map_err(|message| ErrorInfo {
        code: ErrorCode::BadRequest,
        message,
    })
}

/// A page of `jitos sws list`, open and closed, in id order, from the cursor.
pub fn sws_page(view: &View, page: &PageRequest) -> Result<PageView<SwsSummary>, ErrorInfo> {
    let limit = limit_of(page)?;
    let found = view
        .workspace_page(page.after, limit)
        .map_err(|e| kernel_error_info(&e))?;
    Ok(PageView {
        items: found
            .items
            .iter()
            .map(|ws| views::sws_summary(view, ws))
            .collect(),
        next: found.next,
    })
}

/// A page of `jitos job list [--all]`, newest first: attempts older than the cursor, the
/// running ones or (with `all`) every one.
pub fn job_page(
    view: &View,
    all: bool,
    page: &PageRequest,
) -> Result<PageView<AttemptView>, ErrorInfo> {
    let limit = limit_of(page)?;
    let before = page.after.unwrap_or(u64::MAX);
    if !all {
        let running = view
            .jobs()
            .attempts_before(before)
            .map(|a| (a.id, jobs::views::attempt_view(a)));
        return Ok(page_of(running, limit));
    }
    let found = view
        .attempt_page(page.after, limit)
        .map_err(|e| kernel_error_info(&e))?;
    Ok(PageView {
        items: found.items.iter().map(jobs::views::attempt_view).collect(),
        next: found.next,
    })
}

/// A page of `jitos ps [--all]`, newest first: processes older than the cursor, the live
/// ones or (with `all`) every one.
pub fn process_page(
    view: &View,
    all: bool,
    page: &PageRequest,
) -> Result<PageView<ProcessSummary>, ErrorInfo> {
    let limit = limit_of(page)?;
    if !all {
        let live = view
            .processes()
            .before(page.after.unwrap_or(u64::MAX))
            .map(|p| (p.id, crate::processes::views::summary(p)));
        return Ok(page_of(live, limit));
    }
    let found = view
        .process_page(page.after, limit)
        .map_err(|e| kernel_error_info(&e))?;
    Ok(PageView {
        items: found
            .items
            .iter()
            .map(crate::processes::views::summary)
            .collect(),
        next: found.next,
    })
}

/// A page of `jitos ps --waiting-for-me`: the live processes, newest first, waiting for an
/// approval `principal` may give (they hold the role it asks for), has not given, and is
/// not barred from giving (they did not submit the process).
pub fn waiting_for(
    view: &View,
    principal: &Principal,
    page: &PageRequest,
) -> Result<PageView<ProcessSummary>, ErrorInfo> {
    let limit = limit_of(page)?;
    let mine = view
        .processes()
        .before(page.after.unwrap_or(u64::MAX))
        .filter(|p| {
            view.approval_wait(p.id).is_some_and(|wait| {
                (principal.roles.has(wait.need.from) || principal.roles.has(jitos_gov::Role::Admin))
                    && !wait.approvals.contains(&principal.uid)
                    && crate::jobs::user_of_record(view, p.id).ok().flatten() != Some(principal.uid)
            })
        })
        .map(|p| (p.id, crate::processes::views::summary(p)));
    Ok(page_of(mine, limit))
}

/// The policy in force, as `jitos policy show` prints it.
pub fn policy_view(view: &View) -> PolicyView {
    let recorded = view.state().policy.as_ref();
    let allow_all;
    let policy = match recorded {
        Some(recorded) => &recorded.policy,
        None => {
            allow_all = std::sync::Arc::new(jitos_gov::policy::Policy::allow_all());
            &allow_all
        }
    };
    PolicyView {
        hash: policy.hash().to_hex(),
        seq: recorded.map(|r| r.seq),
        default: policy.default_verdict().to_string(),
        rules: policy.rules().iter().map(ToString::to_string).collect(),
        text: policy.text().to_owned(),
    }
}

/// `jitos policy simulate`: every `policy.decision` record from `from` ruled on again under
/// the candidate policy `text`; nothing is recorded.
pub fn simulate(
    view: &View,
    text: &str,
    path: &str,
    from: u64,
) -> Result<SimulationView, ErrorInfo> {
    let candidate = jitos_gov::policy::Policy::parse(text, path.as_ref())
        .map_err(|e| e.to_string())
        .and_then(|policy| {
            crate::policy_file::check(policy, path.as_ref()).map_err(|e| e.to_string())
        })
        .map_err(|message| ErrorInfo {
            code: ErrorCode::BadRequest,
            message,
        })?;
    let mut recorded = Vec::new();
    let head = view.head().seq;
    let mut next = from;
    while next <= head {
        let records = view
            .records(next, u64::from(LOG_PAGE_RECORDS_MAX))
            .map_err(|e| kernel_error_info(&e))?;
        let Some(last) = records.last() else {
            break;
        };
        next = last.seq + 1;
        for record in records {
            if record.kind != KIND_POLICY_DECISION {
                continue;
            }
            if let Ok(PolicyRecord::Decision(d)) =
                PolicyRecord::decode(&record.kind, &record.payload)
            {
                recorded.push((record.seq, d));
            }
        }
    }
    let changes = jitos_gov::policy::simulate(
        &candidate,
        recorded
            .iter()
            .map(|(seq, d)| (*seq, &d.facts, &d.ruling.verdict)),
    );
    let by_seq: std::collections::BTreeMap<u64, &jitos_kernel::PolicyDecision> =
        recorded.iter().map(|(seq, d)| (*seq, d)).collect();
    let of_seq = |seq: u64| by_seq.get(&seq).copied();
    Ok(SimulationView {
        hash: candidate.hash().to_hex(),
        rulings: recorded.len() as u64,
        changes: changes
            .into_iter()
            .filter_map(|change| {
                let d = of_seq(change.seq)?;
                Some(ChangeView {
                    seq: change.seq,
                    process: d.process,
                    job: d.job as u64,
                    was: d.ruling.explain(),
                    now: change.now.explain(),
                })
            })
            .collect(),
    })
}

/// A page of `jitos log --process PID`: its records after the cursor (a seq).
pub fn process_log_page(
    view: &View,
    process: u64,
    page: &PageRequest,
) -> Result<PageView<RecordView>, ErrorInfo> {
    let limit = limit_of(page)?;
    let records = view
        .process_log(process, page.after, limit)
        .map_err(|e| kernel_error_info(&e))?;
    Ok(PageView {
        items: records.items.iter().map(views::record_view).collect(),
        next: records.next,
    })
}

/// A page of `jitos worker list`: the workers after the one the cursor names. The list is
/// a handful of built-ins and what was installed, so it is made whole and cut.
pub fn worker_page(
    workers: Vec<WorkerView>,
    page: &PageRequest<String>,
) -> Result<PageView<WorkerView, String>, ErrorInfo> {
    let limit = limit_of(page)?;
    let start = match &page.after {
        None => 0,
        Some(name) => match workers.iter().position(|w| &w.name == name) {
            Some(index) => index + 1,
            None => {
                return Err(ErrorInfo {
                    code: ErrorCode::NotFound,
                    message: format!(
                        "no worker {name:?} to page on from; `jitos worker list` lists them"
                    ),
                })
            }
        },
    };
    let rest = workers.into_iter().skip(start).map(|w| (w.name.clone(), w));
    Ok(page_of(rest, limit))
}

/// A workspace with what it changes, in keys and in files (a closed one changes nothing
/// any more: its summary says how it closed).
fn sws_detail(view: &View, sws: u64) -> Result<Response, KernelError> {
    let summary =
        view.workspace_summary(sws)?
            .ok_or(KernelError::Workspace(SwsError::UnknownWorkspace {
                id: sws,
            }))?;
    let (changes, files) = if summary.status == Status::Open {
        let changes = view
            .sws_diff(sws)?
            .into_iter()
            .map(|diff| KeyChangeView {
                key: diff.key.to_string(),
                base: diff.base.to_string(),
                now: diff.now.to_string(),
            })
            .collect();
        let files = diff_trees(&view.sws_base_tree(sws)?, &view.sws_tree(sws)?);
        (changes, files)
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Response::Sws(SwsDetail {
        summary: views::sws_summary(view, &summary),
        changes,
        files,
        hold: crate::collapse::hold_view(view, sws),
    }))
}

/// One attempt, running or ended, as `jitos job show` prints it.
pub fn job_show(view: &View, attempt: u64) -> Result<Response, KernelError> {
    Ok(match view.attempt(attempt)? {
        Some(a) => Response::Job(jobs::views::attempt_view(&a)),
        None => Response::Error(ErrorInfo {
            code: ErrorCode::NotFound,
            message: format!("no attempt {attempt}; `jitos job list --all` lists them"),
        }),
    })
}

fn no_process(id: u64) -> Response {
    Response::Error(ErrorInfo {
        code: ErrorCode::NotFound,
        message: format!("no process {id}; `jitos ps --all` lists them"),
    })
}

/// The response to a request [`answering`] made into a command, from what the command
/// came to.
pub fn executed(request: &Request, outcome: Result<Outcome, KernelError>) -> Response {
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => return Response::Error(kernel_error_info(&e)),
    };
    let sws = match request {
        Request::TreeImport { sws: Some(sws), .. }
        | Request::SwsApply { sws, .. }
        | Request::SwsRebase(sws)
        | Request::SwsDiscard { sws, .. } => Some(*sws),
        _ => None,
    };
    match (outcome, sws) {
        (Outcome::Committed(commit), _) => views::committed(&commit),
        (Outcome::Blobs(refs), _) => Response::BlobsStored(refs),
        // A new workspace's id is its record's seq.
        (Outcome::Recorded(record) | Outcome::SwsDone(record), sws) => {
            sws_recorded(sws.unwrap_or(record.seq), &record)
        }
        (Outcome::SwsConflicts { record, report }, _) => {
            Response::SwsConflicts(views::conflict_view(&report, record.seq))
        }
        (other, _) => Response::Error(ErrorInfo {
            code: ErrorCode::Storage,
            message: format!("the kernel answered {other:?} to {}", request_name(request)),
        }),
    }
}

fn request_name(request: &Request) -> &'static str {
    match request {
        Request::PutBlobs(_) => "a blob upload",
        Request::TreeImport { .. } => "a tree import",
        _ => "a workspace request",
    }
}

/// The response to a snapshot request.
pub fn snapshot_taken(taken: Result<SnapshotMeta, KernelError>) -> Response {
    match taken {
        Ok(meta) => Response::Snapshot(SnapshotView {
            seq: meta.seq,
            digest: jitos_warp::StateDigest(meta.digest).to_string(),
            stored_bytes: meta.stored_bytes,
        }),
        Err(e) => Response::Error(kernel_error_info(&e)),
    }
}

/// The response to a blob collection.
pub fn blobs_collected(collected: Result<BlobGcOutcome, KernelError>) -> Response {
    match collected {
        Ok(outcome) => Response::BlobGc(BlobGcReport {
            kept: outcome.kept,
            removed: outcome.removed,
            removed_bytes: outcome.removed_bytes,
        }),
        Err(e) => Response::Error(kernel_error_info(&e)),
    }
}

/// The wire form of a kernel error.
pub fn kernel_error_info(error: &KernelError) -> ErrorInfo {
    let code = match error {
        KernelError::BeyondHead { .. } | KernelError::BlobMissing { .. } => ErrorCode::NotFound,
        KernelError::ReadOnly => ErrorCode::ReadOnly,
        KernelError::Tree(_) => ErrorCode::BadRequest,
        KernelError::Workspace(SwsError::UnknownWorkspace { id }) => {
            return ErrorInfo {
                code: ErrorCode::NotFound,
                message: format!(
                    "workspace {id} is not open: it has closed or never existed; `jitos sws list` lists them"
                ),
            }
        }
        KernelError::Workspace(SwsError::Rewrite(_)) => ErrorCode::RewriteRefused,
        KernelError::Workspace(_) => ErrorCode::BadRequest,
        KernelError::JobRefused(jitos_kernel::JobsError::UnknownAttempt { .. }) => {
            ErrorCode::NotFound
        }
        KernelError::JobRefused(_) => ErrorCode::BadRequest,
        KernelError::ProcessWorkspace { .. } | KernelError::TooLarge { .. } => {
            ErrorCode::BadRequest
        }
        KernelError::ShuttingDown => ErrorCode::ShuttingDown,
        KernelError::WritRefused(jitos_kernel::WritRefusal::Unknown { .. }) => ErrorCode::NotFound,
        KernelError::WritRefused(_) => ErrorCode::BadRequest,
        KernelError::GovernanceRefused(
            jitos_kernel::GovernanceRefusal::OwnProcess { .. }
            | jitos_kernel::GovernanceRefusal::OwnCollapse { .. }
            | jitos_kernel::GovernanceRefusal::NotEligible { .. }
            | jitos_kernel::GovernanceRefusal::NotYourWrit { .. }
            | jitos_kernel::GovernanceRefusal::CollapseDenied { .. }
            | jitos_kernel::GovernanceRefusal::CollapseVetoed { .. },
        ) => ErrorCode::Forbidden,
        KernelError::GovernanceRefused(_) => ErrorCode::BadRequest,
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use jitos_proto::{WorkerLimitsView, WorkerOrigin, WorkerProfile};

    use super::*;

    fn worker(name: &str) -> WorkerView {
        WorkerView {
            name: name.to_owned(),
            version: "1".to_owned(),
            origin: WorkerOrigin::Builtin,
            binary: format!("/bin/{name}"),
            profile: WorkerProfile::Pure,
            effect_class: jitos_gov::Effect::None,
            needs: Vec::new(),
            limits: WorkerLimitsView {
                cpu_seconds: 1,
                address_space_mib: 1,
                open_files: 1,
                processes: 1,
                file_size_mib: 1,
            },
            installed_seq: None,
            policy_refusal: None,
        }
    }

    // Goal: a page names a next cursor exactly when more items follow it: a list that
    // fills its page exactly has no next. Method: page 4 items by 2, and 2 items by 2.
    #[test]
    fn next_only_when_more_follow() {
        let items = |n: u64| (1..=n).map(|i| (i, i * 10));
        let page = page_of(items(4), 2);
        assert_eq!((page.items, page.next), (vec![10, 20], Some(2)));
        let page = page_of(items(2), 2);
        assert_eq!((page.items, page.next), (vec![10, 20], None));
    }

    // Goal: workers page on from the one the cursor names, each once, and a cursor that
    // names no worker is refused. Method: page three workers by two; ask after a stranger.
    #[test]
    fn workers_page_by_name() {
        let all = || vec![worker("noop"), worker("shell"), worker("scaffold")];
        let page = |after: Option<&str>| PageRequest {
            after: after.map(str::to_owned),
            limit: 2,
        };
        let first = worker_page(all(), &page(None)).unwrap();
        assert_eq!(first.items.len(), 2);
        assert_eq!(first.next.as_deref(), Some("shell"));
        let second = worker_page(all(), &page(first.next.as_deref())).unwrap();
        assert_eq!(second.items, vec![worker("scaffold")]);
        assert_eq!(second.next, None);
        let refused = worker_page(all(), &page(Some("nobody"))).unwrap_err();
        assert_eq!(refused.code, ErrorCode::NotFound);
    }
}
