//! Deciding a command: against the working state (the committed state plus what the
//! commands before it in its group recorded), what records it makes, or why it is
//! refused. Nothing here changes any state: the writer folds the records it returns
//! with `State::fold`, the one function recovery and replay use, which is what checks
//! them.

mod effects;
mod jobs;
mod processes;
mod sws;
mod writs;

use std::collections::BTreeSet;

use jitos_ledger::{Actor, Hash, Ledger, NewRecord};
use jitos_tree::{sync_rewrite, Entry, Tree};
use jitos_warp::{BlobRef, Rewrite};

use crate::{
    files::tree_of, payload, policy_record::PolicyRecord, Command, KernelError, State,
    KIND_ACCESS_REFUSED, KIND_REWRITE,
};

/// What a command is decided against.
pub(crate) struct Working<'a> {
    /// The state after the commands before it in the group.
    pub(crate) state: &'a State,
    /// The ledger, to look blobs up.
    pub(crate) ledger: &'a Ledger,
    /// Blobs stored by the commands before it in the group.
    pub(crate) staged_blobs: &'a BTreeSet<BlobRef>,
    /// The seq its first record gets.
    pub(crate) seq: u64,
    /// The time it is decided at, from the ledger's clock.
    pub(crate) now_ms: u64,
}

/// What a command records, and what its answer will say once they are durable.
#[derive(Debug)]
pub(crate) struct Decided {
    /// Its records, in order.
    pub(crate) records: Vec<NewRecord>,
    /// Blobs stored with them.
    pub(crate) blobs: Vec<Vec<u8>>,
    /// How the answer is made from the sealed records.
    pub(crate) answer: Answer,
}

/// How a command's answer is made from its sealed records (and the state after them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The last record, with the state digest after it.
    Commit,
    /// The last record.
    Record,
    /// The blobs' references.
    Blobs(Vec<BlobRef>),
    /// A collapse or rebase: conflicts if a report is given.
    Sws(Option<jitos_sws::ConflictReport>),
    /// A proposal: refused with this reason, if given.
    Proposal(Option<String>),
    /// A process decision, and the attempts it leaves running for nothing.
    Executed(Vec<u64>),
    /// A submit: its first record is the process's, its last (when it has several) the
    /// writ issued for it.
    Submitted,
}

impl Decided {
    /// The payload and blob bytes it writes.
    pub(crate) fn bytes(&self) -> usize {
        self.records.iter().map(|r| r.payload.len()).sum::<usize>()
            + self.blobs.iter().map(Vec::len).sum::<usize>()
    }

    pub(crate) fn one(actor: Actor, kind: &str, payload: Vec<u8>, answer: Answer) -> Decided {
        Decided {
            records: vec![NewRecord {
                kind: kind.to_owned(),
                actor,
                payload,
            }],
            blobs: Vec::new(),
            answer,
        }
    }
}

/// Decides `command` by `actor` against `working`.
pub(crate) fn decide(
    working: &Working<'_>,
    actor: Actor,
    command: Command,
) -> Result<Decided, KernelError> {
    match command {
        Command::Rewrite(rewrite) => rewrite_system(actor, &rewrite),
        Command::ImportTree(tree) => {
            working.check_blobs_stored(&tree)?;
            let rewrite = sync_rewrite(&tree_of(&working.state.graph)?, &tree)?;
            rewrite_system(actor, &rewrite)
        }
        Command::PutBlobs(blobs) => {
            let refs = blobs.iter().map(|b| blob_ref(b)).collect();
            Ok(Decided {
                records: Vec::new(),
                blobs,
                answer: Answer::Blobs(refs),
            })
        }
        Command::SwsCreate(over) => sws::create(working, actor, over),
        Command::SwsApply { sws, rewrite } => sws::apply_user(working, actor, sws, rewrite),
        Command::SwsImportTree { sws, tree } => sws::import_tree(working, actor, sws, &tree),
        Command::SwsCollapse { sws, by, writ } => sws::collapse(working, actor, sws, &by, writ),
        Command::SwsVote(vote) => sws::vote(working, actor, vote),
        Command::SwsRebase(sws) => sws::rebase(working, actor, sws),
        Command::SwsDiscard { sws, reason } => sws::discard(working, actor, sws, reason),
        Command::JobDispatch(dispatch) => jobs::dispatch(working, actor, dispatch),
        Command::JobRun {
            dispatch,
            effect,
            by,
            writ,
        } => jobs::run_public(working, actor, dispatch, effect, &by, writ),
        Command::JobUnstartable { dispatch, detail } => {
            jobs::unstartable(working, actor, dispatch, detail)
        }
        Command::JobPropose { attempt, proposed } => {
            jobs::propose(working, actor, attempt, proposed)
        }
        Command::JobFail {
            attempt,
            cause,
            detail,
        } => jobs::fail(working, actor, attempt, cause, detail),
        Command::JobFetch { record, blobs } => jobs::fetch(working, actor, *record, blobs),
        Command::JobConnect(record) => jobs::connect(working, actor, &record),
        Command::WorkerInstall(install) => jobs::install(actor, install),
        Command::ProcessSubmit {
            intent,
            slaps,
            writ,
            host,
        } => processes::submit(working, actor, intent, slaps, writ, *host),
        Command::ProcessAnswer { process, answer } => {
            processes::answer(working, actor, process, answer)
        }
        Command::ProcessCancel(process) => processes::cancel(working, actor, process),
        Command::ProcessVote(vote) => processes::vote(working, actor, vote),
        Command::PolicyLoad(policy) => {
            let record = PolicyRecord::Load(policy);
            Ok(Decided::one(
                actor,
                record.kind(),
                record.encode()?,
                Answer::Record,
            ))
        }
        Command::ProcessExecute { now_ms, decision } => {
            processes::execute(working, actor, now_ms, decision)
        }
        Command::WritIssue(signed) => writs::issue(working, actor, *signed),
        Command::WritRevoke(revoke) => writs::revoke(actor, revoke),
        Command::WritRaise(raise) => writs::raise(actor, raise),
        Command::AccessRefused(refused) => Ok(Decided::one(
            actor,
            KIND_ACCESS_REFUSED,
            refused.encode()?,
            Answer::Record,
        )),
        #[cfg(feature = "fault-injection")]
        Command::Fault(fault) => decide_fault(actor, fault),
    }
}

/// The kind of the record a [`crate::Fault::PanicInFold`] makes; no fold ever meets it
/// in a ledger, since folding it panics and its command is refused.
#[cfg(feature = "fault-injection")]
const KIND_FAULT_PANIC_IN_FOLD: &str = "fault.panic_in_fold";

#[cfg(feature = "fault-injection")]
fn decide_fault(actor: Actor, fault: crate::Fault) -> Result<Decided, KernelError> {
    match fault {
        crate::Fault::PanicInDecide => panic!("fault injected in decide"),
        crate::Fault::PanicInFold { before } => {
            let mut decided = rewrite_system(actor.clone(), &before)?;
            decided.records.push(NewRecord {
                kind: KIND_FAULT_PANIC_IN_FOLD.to_owned(),
                actor,
                payload: Vec::new(),
            });
            Ok(decided)
        }
    }
}

/// Panics on the record of a [`crate::Fault::PanicInFold`]; the writer calls it on each
/// record it folds into the working state.
#[cfg(feature = "fault-injection")]
pub(crate) fn fold_fault(record: &NewRecord) {
    if record.kind == KIND_FAULT_PANIC_IN_FOLD {
        panic!("fault injected in fold");
    }
}

fn rewrite_system(actor: Actor, rewrite: &Rewrite) -> Result<Decided, KernelError> {
    Ok(Decided::one(
        actor,
        KIND_REWRITE,
        payload::encode_rewrite(rewrite)?,
        Answer::Commit,
    ))
}

/// The reference of a blob's bytes, as the ledger stores it.
pub(crate) fn blob_ref(bytes: &[u8]) -> BlobRef {
    BlobRef(jitos_ledger::blob_hash(bytes).0)
}

impl Working<'_> {
    /// Whether a blob is stored, or stored by an earlier command of the group.
    pub(crate) fn has_blob(&self, blob: &BlobRef) -> Result<bool, KernelError> {
        Ok(self.staged_blobs.contains(blob) || self.ledger.has_blob(&Hash(blob.0))?)
    }

    /// Checks that every file of `tree` has its blob stored.
    pub(crate) fn check_blobs_stored(&self, tree: &Tree) -> Result<(), KernelError> {
        for entry in tree.entries.values() {
            if let Entry::File { blob, .. } = entry {
                if !self.has_blob(blob)? {
                    return Err(KernelError::BlobMissing { blob: *blob });
                }
            }
        }
        Ok(())
    }

    /// Refuses a workspace a live process works in: only the process may change or end
    /// it, or it would decide on a workspace that is no longer what it left.
    pub(crate) fn check_not_a_lane(&self, sws: u64) -> Result<(), KernelError> {
        match self.state.processes.lane_owner(sws) {
            Some(process) => Err(KernelError::ProcessWorkspace { sws, process }),
            None => Ok(()),
        }
    }
}
