//! Requests a client may send after the handshake, and the daemon's responses.

use jitos_gov::Role;
use jitos_tree::{Tree, TreeChange};
use jitos_warp::{BlobRef, Edge, Node, Rewrite};
use serde::{Deserialize, Serialize};

use crate::{
    AnswerView, AttemptView, GraphEnd, GraphPart, JobSpec, KeyView, PageRequest, PageView,
    PolicyView, ProcessDetail, ProcessSummary, SandboxView, SimulationView, Welcome, WorkerView,
    WritSpec, WritView,
};

/// One request. Each gets exactly one [`Response`], except [`Request::Follow`],
/// [`Request::Export`], [`Request::GraphShow`] and [`Request::ProcessFollow`], which
/// stream until done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Head, digest, sizes and configuration of the store.
    Status,
    /// Validate, record durably and apply one rewrite.
    ApplyRewrite(Rewrite),
    /// The graph, or one node of it, at a sequence number (default: head), or as a
    /// workspace sees it; answered with [`Response::GraphPart`]s then a
    /// [`Response::GraphEnd`], or an error.
    GraphShow {
        /// Sequence number to travel to; `None` for the head.
        at: Option<u64>,
        /// Restrict the view to this node and its edges.
        node: Option<String>,
        /// Show this workspace's view instead of the system's.
        sws: Option<u64>,
    },
    /// The records that changed one node.
    History {
        /// The node id.
        node: String,
    },
    /// A page of records.
    Log {
        /// First sequence number.
        from: u64,
        /// Maximum number of records, from 1 to [`crate::PAGE_ITEMS_MAX`].
        limit: u32,
    },
    /// Records from `from` on, then every new record as it commits, until the client hangs up.
    Follow {
        /// First sequence number.
        from: u64,
    },
    /// Walk the chain and every snapshot.
    Verify,
    /// Fold the whole ledger from genesis in a fresh state and compare with the live state.
    ReplayVerify,
    /// Stream a bundle of records `from..=to` (default: the whole ledger).
    Export {
        /// First sequence number.
        from: u64,
        /// Last sequence number, `None` for the head.
        to: Option<u64>,
    },
    /// Take a snapshot of the folded state now.
    Snapshot,
    /// Store blobs (file contents) durably; answered with their references in order.
    PutBlobs(Vec<Vec<u8>>),
    /// Read blobs by reference, each verified against its hash.
    GetBlobs(Vec<BlobRef>),
    /// Record `tree` as the file tree of the system (or of a workspace): one rewrite that
    /// adds, updates and removes File/Dir nodes until the recorded tree equals it. Every
    /// blob it names must be stored first.
    TreeImport {
        /// The workspace to import into; `None` for the system.
        sws: Option<u64>,
        /// The wanted tree.
        tree: Tree,
    },
    /// The file tree recorded in the system (at a sequence number) or in a workspace.
    TreeShow {
        /// The workspace to read; `None` for the system.
        sws: Option<u64>,
        /// Sequence number to travel to (system only); `None` for the head.
        at: Option<u64>,
    },
    /// Delete every stored blob that no record of the ledger refers to.
    BlobGc,
    /// Create a workspace over the system (at a sequence number, default the head) or
    /// over an open workspace.
    SwsCreate {
        /// Base sequence number of the system; `None` for the head.
        at: Option<u64>,
        /// Nest it in this open workspace instead.
        parent: Option<u64>,
    },
    /// Workspaces, open and closed, in id order: those after the cursor.
    SwsList(PageRequest),
    /// One workspace: where it sits, its footprint, and its changes.
    SwsShow(u64),
    /// Apply a rewrite in a workspace; the system is untouched.
    SwsApply {
        /// The workspace.
        sws: u64,
        /// The rewrite.
        rewrite: Rewrite,
    },
    /// Commit a workspace's changes into its target, unless they conflict; with a policy
    /// in force, a collapse into the system is ruled on first (`at = "collapse"`), and
    /// may be denied or held for approvals ([`Response::SwsHeld`]).
    SwsCollapse {
        /// The workspace.
        sws: u64,
        /// The writ to ask under (one granted to the asking user); `None` for their roles.
        writ: Option<u64>,
    },
    /// Move a workspace's base to the head of its target, unless that conflicts.
    SwsRebase(u64),
    /// End a workspace without applying it.
    SwsDiscard {
        /// The workspace.
        sws: u64,
        /// Why, kept in history.
        reason: String,
    },
    /// Dispatch a job to a worker; answered with [`Response::JobStarted`], or with
    /// [`Response::Job`] once it ended when the spec asks to wait.
    JobRun(JobSpec),
    /// One attempt.
    JobShow(u64),
    /// Attempts, newest first: the running ones, or all; those older than the cursor.
    JobList {
        /// Include ended attempts.
        all: bool,
        /// Which page.
        page: PageRequest,
    },
    /// Ask the worker running an attempt to stop; it ends as cancelled.
    JobCancel(u64),
    /// The workers the daemon can run, built-ins first, then installed ones by name;
    /// those after the named one.
    WorkerList(PageRequest<String>),
    /// Register the worker a manifest on the daemon's host describes.
    WorkerInstall {
        /// Absolute path of its `worker.toml`.
        manifest: String,
    },
    /// Plan an intent (TOML text) and record it as a process; answered with
    /// [`Response::ProcessSubmitted`] once recorded.
    ProcessSubmit {
        /// The intent file's text.
        intent: String,
        /// The file's name, for messages.
        path: String,
        /// The writ it runs under (a writ for the process is delegated from it); none
        /// derives one from the submitter's roles.
        writ: Option<u64>,
    },
    /// Plan an intent without recording anything; answered with [`Response::ProcessPlan`].
    ProcessPlan {
        /// The intent file's text.
        intent: String,
        /// The file's name, for messages.
        path: String,
    },
    /// Processes, newest first: the live ones, or all; those older than the cursor.
    ProcessList {
        /// Include ended processes.
        all: bool,
        /// Only those waiting for an approval the asking user may give and has not.
        waiting_for_me: bool,
        /// Which page.
        page: PageRequest,
    },
    /// One process.
    ProcessShow(u64),
    /// The records of one process, oldest first: those after the cursor (a seq).
    ProcessLog {
        /// The process.
        process: u64,
        /// Which page.
        page: PageRequest,
    },
    /// Follow one process: a [`Response::ProcessProgress`] whenever it has new records
    /// or a new status (gathered over at most 20 ms while it runs), ending with
    /// [`Response::Process`] as soon as it no longer runs (it ended, or waits for a
    /// person).
    ProcessFollow(u64),
    /// End a process as cancelled.
    ProcessCancel(u64),
    /// Answer a waiting process.
    ProcessAnswer {
        /// The process.
        process: u64,
        /// The answer.
        answer: AnswerView,
    },
    /// Approve or reject the job a process holds for approvals; answered with
    /// [`Response::ProcessRecorded`].
    ProcessVote {
        /// The process.
        process: u64,
        /// Approve, or reject (which vetoes).
        approve: bool,
        /// A comment, or the reason for a rejection.
        note: String,
    },
    /// The policy in force; answered with [`Response::Policy`].
    PolicyShow,
    /// Store a secret (replacing one of the name); answered with [`Response::Secrets`].
    SecretAdd {
        /// Its name.
        name: String,
        /// Its value. Never recorded, logged or answered.
        value: SecretValue,
    },
    /// Remove a secret; answered with [`Response::Secrets`].
    SecretRemove {
        /// Its name.
        name: String,
    },
    /// The names of the stored secrets; answered with [`Response::Secrets`].
    SecretList,
    /// Rule again on every recorded ruling from `from` under a candidate policy, read-only;
    /// answered with [`Response::PolicySimulation`].
    PolicySimulate {
        /// The candidate policy's text.
        text: String,
        /// Its file's name, for messages.
        path: String,
        /// The first sequence number to look at.
        from: u64,
    },
    /// The daemon's writ-signing public key; answered with [`Response::Key`].
    KeyShow,
    /// Issue (or delegate) a writ; answered with [`Response::Writ`] once recorded.
    WritIssue(WritSpec),
    /// The writs the daemon holds (in force, or ended with a process still under them).
    WritList(PageRequest),
    /// One writ, held or ended.
    WritShow(u64),
    /// Revoke a writ and every writ delegated from it; the processes under them stop.
    WritRevoke {
        /// The writ.
        writ: u64,
        /// Why, kept with the record.
        reason: String,
    },
    /// Raise a writ's budgets (admin only); answered with [`Response::WritRaised`].
    WritRaise {
        /// The writ.
        writ: u64,
        /// Jobs to add.
        jobs: u64,
        /// Wall-clock seconds to add.
        wall_secs: u64,
        /// Named budgets to add to (each one the writ bounds).
        counters: std::collections::BTreeMap<String, u64>,
        /// Why, kept with the record.
        reason: String,
    },
    /// Approve or reject a workspace's collapse held for approvals; the approval that
    /// completes them collapses it (answered as a collapse), any other vote is answered
    /// with [`Response::SwsHeld`].
    SwsVote {
        /// The workspace.
        sws: u64,
        /// Approve, or reject (which vetoes).
        approve: bool,
        /// A comment, or the reason for a rejection.
        note: String,
    },
    /// Create a bearer token for the HTTP API that stands for the asker; answered with
    /// [`Response::TokenCreated`], the only time its secret is shown.
    TokenCreate {
        /// A name to tell it by.
        name: String,
    },
    /// The asker's tokens (an admin's: everyone's); answered with [`Response::Tokens`].
    TokenList,
    /// Revoke a token by its id (the asker's own, or any for an admin); answered with
    /// [`Response::Tokens`].
    TokenRevoke {
        /// Its id, as listed.
        id: String,
    },
    /// Compare two processes; answered with [`Response::ProcessComparison`].
    ProcessDiff {
        /// The first.
        a: u64,
        /// The second.
        b: u64,
    },
}

/// The daemon's answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// The handshake succeeded.
    Welcome(Welcome),
    /// Answer to [`Request::Status`].
    Status(StatusInfo),
    /// A rewrite was recorded and fsynced.
    Committed {
        /// Its sequence number.
        seq: u64,
        /// Its record hash (hex).
        hash: String,
        /// The state digest after it (hex).
        digest: String,
    },
    /// Part of the answer to [`Request::GraphShow`].
    GraphPart(GraphPart),
    /// The last frame of the answer to [`Request::GraphShow`].
    GraphEnd(GraphEnd),
    /// Answer to [`Request::History`].
    History(Vec<HistoryEntry>),
    /// A page of records ([`Request::Log`], and each step of [`Request::Follow`]).
    Records(Vec<RecordView>),
    /// Answer to [`Request::ProcessLog`].
    ProcessLog(PageView<RecordView>),
    /// Answer to [`Request::Verify`].
    Verify(VerifyView),
    /// Answer to [`Request::ReplayVerify`].
    Replay(ReplayReport),
    /// A piece of an exported bundle; `last` marks the final piece.
    ExportChunk {
        /// Bundle bytes.
        bytes: Vec<u8>,
        /// Whether this is the final piece.
        last: bool,
    },
    /// Answer to [`Request::Snapshot`].
    Snapshot(SnapshotView),
    /// The request failed; nothing was recorded.
    Error(ErrorInfo),
    /// Answer to [`Request::PutBlobs`]: the references, in request order.
    BlobsStored(Vec<BlobRef>),
    /// Answer to [`Request::GetBlobs`]: the contents, in request order.
    Blobs(Vec<Vec<u8>>),
    /// Answer to [`Request::TreeShow`].
    Tree(Tree),
    /// Answer to [`Request::BlobGc`].
    BlobGc(BlobGcReport),
    /// A workspace operation was recorded and fsynced.
    SwsRecorded {
        /// The workspace.
        sws: u64,
        /// The record's sequence number (a new workspace's id).
        seq: u64,
        /// The record's hash (hex).
        hash: String,
    },
    /// A collapse or rebase was refused for conflicts; the refusal was recorded.
    SwsConflicts(ConflictView),
    /// Answer to [`Request::SwsList`].
    SwsList(PageView<SwsSummary>),
    /// Answer to [`Request::SwsShow`].
    Sws(SwsDetail),
    /// A job was dispatched (recorded and fsynced); it runs on.
    JobStarted {
        /// The attempt's id.
        attempt: u64,
    },
    /// One attempt.
    Job(AttemptView),
    /// Answer to [`Request::JobList`].
    Jobs(PageView<AttemptView>),
    /// Answer to [`Request::JobCancel`]: the worker was asked to stop.
    Cancelling {
        /// The attempt.
        attempt: u64,
    },
    /// Answer to [`Request::WorkerList`]; the cursor is a worker's name.
    Workers(PageView<WorkerView, String>),
    /// A worker was registered; the record is fsynced.
    WorkerInstalled(WorkerView),
    /// A process was recorded (fsynced); it runs on.
    ProcessSubmitted {
        /// Its id.
        process: u64,
        /// Its plan candidates.
        plans: usize,
        /// The writ it runs under.
        writ: Option<u64>,
    },
    /// Answer to [`Request::ProcessPlan`]: the plans as a person reads them.
    ProcessPlan {
        /// The explanation.
        explain: String,
        /// How many candidates.
        plans: usize,
    },
    /// Answer to [`Request::ProcessList`].
    Processes(PageView<ProcessSummary>),
    /// Answer to [`Request::ProcessShow`], and the last frame of [`Request::ProcessFollow`].
    Process(ProcessDetail),
    /// A step of [`Request::ProcessFollow`]: the process now, and its records since the
    /// last step, oldest first.
    ProcessProgress {
        /// The process as it stands.
        summary: ProcessSummary,
        /// Its new records.
        records: Vec<RecordView>,
    },
    /// A cancel or an answer was recorded (fsynced).
    ProcessRecorded {
        /// The record.
        seq: u64,
    },
    /// Answer to [`Request::KeyShow`].
    Key(KeyView),
    /// Answer to [`Request::PolicyShow`].
    Policy(PolicyView),
    /// The names of the stored secrets (after the change asked, if any).
    Secrets(Vec<String>),
    /// Answer to [`Request::PolicySimulate`].
    PolicySimulation(SimulationView),
    /// Answer to [`Request::WritIssue`] and [`Request::WritShow`].
    Writ(Box<WritView>),
    /// Answer to [`Request::WritList`].
    Writs(PageView<WritView>),
    /// A revocation was recorded (fsynced).
    WritRevoked {
        /// The record.
        seq: u64,
    },
    /// A raise of a writ's budgets was recorded (fsynced).
    WritRaised {
        /// The record.
        seq: u64,
    },
    /// A workspace's collapse waits for approvals (or, answering a vote, where it stands).
    SwsHeld(SwsHold),
    /// Answer to [`Request::TokenCreate`].
    TokenCreated(crate::TokenCreated),
    /// The asker's tokens after a list or a revocation.
    Tokens(Vec<crate::TokenView>),
    /// Answer to [`Request::ProcessDiff`].
    ProcessComparison(Box<crate::RunComparison>),
}

/// Who caused a record, as shown to people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActorView {
    /// The daemon itself.
    System,
    /// A local process, identified by the kernel's peer credentials.
    Peer {
        /// User id.
        uid: u32,
        /// Process id.
        pid: u32,
    },
    /// A named actor (tests, imports).
    Named(String),
}

/// Head, digest and sizes of a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusInfo {
    /// Store identity (hex).
    pub store_id: String,
    /// Store format version.
    pub format_version: u32,
    /// Sequence number of the newest record.
    pub head_seq: u64,
    /// Hash of the newest record (hex).
    pub head_hash: String,
    /// State digest of the folded graph (hex).
    pub digest: String,
    /// Number of nodes.
    pub nodes: u64,
    /// Number of edges.
    pub edges: u64,
    /// Sequence number of the newest snapshot.
    pub last_snapshot_seq: Option<u64>,
    /// A snapshot is taken every this many records.
    pub snapshot_every: u64,
    /// Whether the store was opened read-only.
    pub read_only: bool,
    /// Snapshots ignored at recovery, with why.
    pub ignored_snapshots: Vec<String>,
    /// The store's directory (inside the daemon's data directory).
    pub store_dir: String,
    /// How workers are confined; `None` from an offline store.
    pub sandbox: Option<SandboxView>,
    /// Attempts dispatched and not ended.
    pub jobs_running: u64,
}

/// A graph, or one node of it, at a sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphView {
    /// The sequence number the view reflects.
    pub at_seq: u64,
    /// State digest of the whole graph at that point (hex).
    pub digest: String,
    /// Nodes in id order.
    pub nodes: Vec<Node>,
    /// Edges in (from, label, to) order.
    pub edges: Vec<Edge>,
}

/// One record as shown to people and scripts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordView {
    /// Sequence number.
    pub seq: u64,
    /// Record kind.
    pub kind: String,
    /// Who caused it.
    pub actor: ActorView,
    /// Recorded time, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Record hash (hex).
    pub hash: String,
    /// Parent hash (hex).
    pub parent: String,
    /// A one-line description.
    pub summary: String,
    /// The rewrite, for rewrite records.
    pub rewrite: Option<Rewrite>,
}

/// One record that changed a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The record.
    pub record: RecordView,
    /// The node after that record, or `None` if it was removed.
    pub node_after: Option<Node>,
}

/// The outcome of a chain verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyView {
    /// Records whose hash and link were checked.
    pub records_checked: u64,
    /// Sequence number of the newest record.
    pub head_seq: u64,
    /// The first bad record and why.
    pub first_bad: Option<(u64, String)>,
    /// Snapshots checked.
    pub snapshots_checked: u64,
    /// Snapshots that failed, with why.
    pub bad_snapshots: Vec<(u64, String)>,
    /// Snapshots of a state layout this build does not read (not damage), with why.
    pub unread_snapshots: Vec<(u64, String)>,
}

impl VerifyView {
    /// Whether everything checked out.
    pub fn ok(&self) -> bool {
        self.first_bad.is_none() && self.bad_snapshots.is_empty()
    }
}

/// The outcome of a full replay from genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayReport {
    /// Records folded.
    pub records: u64,
    /// Digest of the replayed state (hex).
    pub replayed_digest: String,
    /// Digest of the live state (hex).
    pub live_digest: String,
    /// Whether the replayed workspaces (overlays, footprints, logs) equal the live ones.
    pub workspaces_match: bool,
    /// Whether the replayed job attempts and worker registry equal the live ones.
    pub jobs_match: bool,
    /// Whether the replayed processes equal the live ones.
    pub processes_match: bool,
    /// Whether the replayed writs and policy equal the live ones.
    pub governance_match: bool,
    /// The first scheduler decision the state at its time did not call for, if any.
    pub decision_mismatch: Option<u64>,
}

impl ReplayReport {
    /// Whether replay reproduced the live state (workspaces, jobs, processes, writs and
    /// policy included)
    /// and every scheduler decision.
    pub fn matches(&self) -> bool {
        self.workspaces_match
            && self.jobs_match
            && self.processes_match
            && self.governance_match
            && self.decision_mismatch.is_none()
            && self.replayed_digest == self.live_digest
    }
}

/// A snapshot that was just taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotView {
    /// The sequence number it reflects.
    pub seq: u64,
    /// State digest (hex).
    pub digest: String,
    /// Compressed size on disk.
    pub stored_bytes: u64,
}

/// Where a workspace stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwsState {
    /// It takes rewrites.
    Open,
    /// Collapsed into its target.
    Collapsed {
        /// The record of the collapse.
        seq: u64,
    },
    /// Discarded.
    Discarded {
        /// The record of the discard.
        seq: u64,
        /// Why.
        reason: String,
    },
}

/// One workspace in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwsSummary {
    /// Its id (the seq of its creation).
    pub id: u64,
    /// The workspace it is nested in, if any.
    pub parent: Option<u64>,
    /// The seq of its target its base reflects.
    pub base_seq: u64,
    /// 1 over the system, one more per nesting level.
    pub depth: u64,
    /// Open or how it ended.
    pub state: SwsState,
    /// Entries in its overlay.
    pub overlay_entries: u64,
    /// Keys it read.
    pub reads: u64,
    /// Keys it wrote.
    pub writes: u64,
    /// Where the latest ruling on its collapse stands (allowed, denied, waiting, approved
    /// or rejected), while that ruling still stands for the workspace as it is.
    pub held: Option<HoldStanding>,
}

/// One key whose value differs between a workspace and its base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChangeView {
    /// The node, attribute or edge.
    pub key: String,
    /// Its value in the base.
    pub base: String,
    /// Its value in the workspace.
    pub now: String,
}

/// One workspace in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwsDetail {
    /// The summary.
    pub summary: SwsSummary,
    /// Graph-level changes against the base (open workspaces only).
    pub changes: Vec<KeyChangeView>,
    /// File-level changes against the base (open workspaces only).
    pub files: Vec<TreeChange>,
    /// The latest ruling on its collapse and the votes since (open workspaces only).
    pub hold: Option<SwsHold>,
}

/// The policy's latest ruling on a workspace's collapse, and the votes cast on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwsHold {
    /// The workspace.
    pub sws: u64,
    /// The `sws.ruling` record.
    pub ruling_seq: u64,
    /// Who asked for the collapse (uid).
    pub requester_uid: u32,
    /// The writ it was asked under, if any.
    pub writ: Option<u64>,
    /// The ruling in words, with the rule and the policy.
    pub why: String,
    /// The paths the ruling saw changed (empty: no file; `.`: more than could be listed).
    pub paths: Vec<String>,
    /// Whether the ruling still stands for the workspace as it is now (its changes and
    /// the policy in force are the ones ruled on).
    pub current: bool,
    /// Where it stands.
    pub standing: HoldStanding,
    /// The votes, in order.
    pub votes: Vec<HoldVoteView>,
}

/// Where a ruled collapse stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldStanding {
    /// The policy allows it.
    Allowed,
    /// The policy denies it.
    Denied,
    /// It waits for approvals.
    Waiting {
        /// How many it needs.
        count: u32,
        /// The role each approver must hold.
        from: Role,
        /// How many it has.
        approvals: u32,
    },
    /// Its approvals are all given.
    Approved,
    /// A voter rejected it.
    Vetoed {
        /// Who.
        user: String,
        /// Their reason.
        note: String,
    },
}

/// One vote on a held collapse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldVoteView {
    /// The `sws.vote` record.
    pub seq: u64,
    /// Who (uid).
    pub uid: u32,
    /// Who (name).
    pub user: String,
    /// Approve, or reject.
    pub approve: bool,
    /// Their comment or reason.
    pub note: String,
}

/// One clash of a conflict report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictEntry {
    /// The node, attribute or edge.
    pub key: String,
    /// What the workspace did to it ("wrote VALUE", "read it", "read its node").
    pub workspace_did: String,
    /// Its value at the workspace's base.
    pub base: String,
    /// The record that changed it in the target.
    pub changed_at: u64,
}

/// Why a collapse or rebase was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictView {
    /// The workspace.
    pub sws: u64,
    /// Where it would have gone ("the system", "workspace N").
    pub target: String,
    /// Its base seq.
    pub base_seq: u64,
    /// The `sws.conflict` record.
    pub seq: u64,
    /// Every clash, in key order.
    pub conflicts: Vec<ConflictEntry>,
}

/// What a blob garbage collection did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobGcReport {
    /// Blobs some record refers to, kept.
    pub kept: u64,
    /// Blobs no record refers to, deleted.
    pub removed: u64,
    /// Bytes freed.
    pub removed_bytes: u64,
}

/// Broad classes of failure, so scripts can branch without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The request was malformed or violated the protocol.
    BadRequest,
    /// The rewrite was refused by validation; nothing was recorded.
    RewriteRefused,
    /// The thing asked for does not exist.
    NotFound,
    /// The daemon serves a read-only store.
    ReadOnly,
    /// The store could not complete the operation (disk, corruption).
    Storage,
    /// The daemon is shutting down.
    ShuttingDown,
    /// The answer would not fit in one frame; the message names the flag that pages or
    /// narrows it.
    TooLarge,
    /// The client's user lacks the authority the request needs; the message says which.
    Forbidden,
}

/// A failure a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// The class of failure.
    pub code: ErrorCode,
    /// What went wrong and what to do.
    pub message: String,
}

/// A secret's value on its way to the daemon: its `Debug` prints no byte of it, so no log
/// of a request shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretValue(pub String);

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretValue({} bytes)", self.0.len())
    }
}
