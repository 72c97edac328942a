//! What each request asks to do, as far as authority goes, and how a refusal says it.

use jitos_gov::{Act, Role};
use jitos_kernel::{KernelHandle, View};
use jitos_proto::Request;

use crate::{jobs::user_of_record, reading};

/// The act `request` asks for, and the words a refusal uses for it ("cancel process 12").
/// Cancelling or answering something live looks up who owns it on the latest view.
pub(crate) async fn act_of(request: &Request, kernel: &KernelHandle) -> (Act, String) {
    let read = |what: &str| (Act::Read, what.to_owned());
    let operate = |what: String| (Act::Operate, what);
    let administer = |what: &str| (Act::Administer, what.to_owned());
    match request {
        Request::Status => read("read the status"),
        Request::GraphShow { .. } => read("read the graph"),
        Request::History { .. } => read("read a node's history"),
        Request::Log { .. } | Request::Follow { .. } => read("read the records"),
        Request::Verify | Request::ReplayVerify => read("verify the store"),
        Request::Export { .. } => read("export records"),
        Request::GetBlobs(_) => read("read blobs"),
        Request::TreeShow { .. } => read("read a file tree"),
        Request::SwsList(_) | Request::SwsShow(_) => read("read workspaces"),
        Request::JobShow(_) | Request::JobList { .. } => read("read jobs"),
        Request::WorkerList(_) => read("list workers"),
        Request::ProcessPlan { .. } => read("plan an intent"),
        Request::ProcessList { .. }
        | Request::ProcessShow(_)
        | Request::ProcessLog { .. }
        | Request::ProcessDiff { .. }
        | Request::ProcessFollow(_) => read("read processes"),
        Request::PutBlobs(_) => operate("store blobs".to_owned()),
        Request::SwsCreate { .. } => operate("create a workspace".to_owned()),
        Request::SwsApply { sws, .. } => operate(format!("change workspace {sws}")),
        Request::TreeImport { sws: Some(sws), .. } => {
            operate(format!("import a tree into workspace {sws}"))
        }
        // The policy rules on the asker: only the workspace's creator (or an admin) asks,
        // so no one has someone else's changes ruled on as their own.
        Request::SwsCollapse { sws, .. } => {
            steer(
                kernel,
                format!("collapse workspace {sws}"),
                *sws,
                workspace_creator,
            )
            .await
        }
        Request::SwsVote { sws, approve, .. } => {
            let verb = if *approve { "approve" } else { "reject" };
            let sws = *sws;
            let from = reading::on_view(kernel, move |view| crate::collapse::vote_role(view, sws))
                .await
                .unwrap_or(Role::Approver);
            (
                Act::Approve { from },
                format!("{verb} the collapse of workspace {sws}"),
            )
        }
        Request::SwsRebase(sws) => operate(format!("rebase workspace {sws}")),
        Request::SwsDiscard { sws, .. } => operate(format!("discard workspace {sws}")),
        Request::JobRun(spec) => operate(format!("run a {} job", spec.worker)),
        Request::ProcessSubmit { writ: None, .. } => operate("submit a process".to_owned()),
        Request::ProcessSubmit {
            writ: Some(writ), ..
        } => {
            steer(
                kernel,
                format!("submit a process under writ {writ}"),
                *writ,
                writ_subject,
            )
            .await
        }
        Request::KeyShow => read("read the daemon's key"),
        Request::SecretList => read("list the secrets' names"),
        Request::SecretAdd { name, .. } => (Act::Administer, format!("store secret {name}")),
        Request::SecretRemove { name } => (Act::Administer, format!("remove secret {name}")),
        Request::WritList(_) | Request::WritShow(_) => read("read writs"),
        // A token stands for its creator with their own roles, so any user may hold one;
        // whose tokens one may list or revoke is the token store's to say.
        Request::TokenCreate { .. } => read("create a token"),
        Request::TokenList => read("list tokens"),
        Request::TokenRevoke { .. } => read("revoke a token"),
        Request::WritIssue(spec) => match spec.from {
            None => administer("issue a writ"),
            Some(from) => steer(kernel, format!("delegate writ {from}"), from, writ_subject).await,
        },
        Request::WritRevoke { writ, .. } => {
            steer(kernel, format!("revoke writ {writ}"), *writ, writ_issuer).await
        }
        // More authority than was signed: only an admin grants it.
        Request::WritRaise { writ, .. } => administer(&format!("raise writ {writ}'s budgets")),
        Request::ApplyRewrite(_) => administer("rewrite the system graph"),
        Request::TreeImport { sws: None, .. } => administer("import a tree into the system"),
        Request::Snapshot => administer("take a snapshot"),
        Request::BlobGc => administer("collect unreferenced blobs"),
        Request::WorkerInstall { .. } => administer("install a worker"),
        Request::ProcessAnswer { process, .. } => {
            steer(
                kernel,
                format!("answer process {process}"),
                *process,
                process_owner,
            )
            .await
        }
        Request::ProcessVote {
            process, approve, ..
        } => {
            let verb = if *approve { "approve" } else { "reject" };
            let process = *process;
            // The role the waiting gate asks for; a process that waits for none is
            // refused for that once authorised as an approver.
            let from = reading::on_view(kernel, move |view| {
                view.approval_wait(process).map(|wait| wait.need.from)
            })
            .await
            .ok()
            .flatten()
            .unwrap_or(Role::Approver);
            (Act::Approve { from }, format!("{verb} process {process}"))
        }
        Request::PolicyShow | Request::PolicySimulate { .. } => read("read the policy"),
        Request::ProcessCancel(process) => {
            steer(
                kernel,
                format!("cancel process {process}"),
                *process,
                process_owner,
            )
            .await
        }
        Request::JobCancel(attempt) => {
            steer(
                kernel,
                format!("cancel job {attempt}"),
                *attempt,
                attempt_owner,
            )
            .await
        }
    }
}

/// Steering something live that `owner_of` finds, as its owner. Something that has
/// ended (its id is at or below the head, so it can never become live) needs only
/// `operator`, and the request is then refused for what it names; an id above the head
/// may become someone's before the request is decided, so it needs an `admin`, as does
/// anything when the read fails.
async fn steer(
    kernel: &KernelHandle,
    what: String,
    id: u64,
    owner_of: fn(&View, u64) -> Option<Option<u32>>,
) -> (Act, String) {
    let looked = reading::on_view(kernel, move |view| match owner_of(view, id) {
        Some(owner) => Act::Steer { owner },
        None if id <= view.head().seq => Act::Operate,
        None => Act::Steer { owner: None },
    })
    .await;
    (looked.unwrap_or(Act::Steer { owner: None }), what)
}

/// For a live process, the uid of the local user who submitted it (`Some(None)` when no
/// local user did); `None` when it is not live.
fn process_owner(view: &View, process: u64) -> Option<Option<u32>> {
    view.processes().get(process)?;
    Some(submitter(view, process))
}

/// For a running attempt, its process's submitter if a process runs it, else who ran it;
/// `None` when it is not running.
fn attempt_owner(view: &View, attempt: u64) -> Option<Option<u32>> {
    let running = view.jobs().attempt(attempt)?;
    Some(match &running.dispatch.owner {
        Some(owner) => submitter(view, owner.process),
        None => submitter(view, attempt),
    })
}

/// For an open workspace, the uid of the local user who created it (`Some(None)` when no
/// local user did); `None` when it is not open.
fn workspace_creator(view: &View, sws: u64) -> Option<Option<u32>> {
    view.state().pool.workspace(sws).filter(|ws| ws.is_open())?;
    Some(submitter(view, sws))
}

/// For a writ the daemon holds, the uid of the user it was granted to.
fn writ_subject(view: &View, writ: u64) -> Option<Option<u32>> {
    let held = view.state().writs.get(writ)?;
    Some(Some(held.writ.subject.uid))
}

/// For a writ the daemon holds, the uid of the user who issued it.
fn writ_issuer(view: &View, writ: u64) -> Option<Option<u32>> {
    let held = view.state().writs.get(writ)?;
    Some(Some(held.writ.issuer.uid))
}

/// Who made the record at `seq`; a read that fails owns nothing, so only an admin may.
fn submitter(view: &View, seq: u64) -> Option<u32> {
    user_of_record(view, seq).ok().flatten()
}
