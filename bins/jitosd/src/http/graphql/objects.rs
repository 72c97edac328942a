//! The API's types: the socket's views, with the fields a client selects typed and the
//! deeper parts (a rewrite, a node's attributes, a ruling's votes) as JSON.

use async_graphql::{Enum, Json, SimpleObject};
use jitos_proto::{
    ActorView, AttemptState, AttemptView, HistoryEntry, ProcessDetail, ProcessJobView,
    ProcessLaneView, ProcessSummary, RecordView, SwsDetail, SwsState, SwsSummary,
};

use super::plan_states::{JobKind, JobStatus, LaneState, ProcessStatus};

/// Who made a request: the user and roles the daemon knows them by.
#[derive(SimpleObject)]
pub struct Me {
    /// The user id.
    pub uid: u32,
    /// The user's name.
    pub user: String,
    /// Their roles (`viewer`, `operator`, `approver`, `admin`).
    pub roles: Vec<String>,
}

/// Who caused a record.
#[derive(SimpleObject)]
pub struct Actor {
    /// `system`, `peer` or `named`.
    pub kind: ActorKind,
    /// The user id, for a peer.
    pub uid: Option<u32>,
    /// The process id, for a peer (0 when it came over HTTP with a token).
    pub pid: Option<u32>,
    /// The name, for a named actor.
    pub name: Option<String>,
}

/// The kinds of actor.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ActorKind {
    /// The daemon itself.
    System,
    /// A local user's process, by its credentials.
    Peer,
    /// A named actor (tests, imports).
    Named,
}

impl From<ActorView> for Actor {
    fn from(actor: ActorView) -> Actor {
        match actor {
            ActorView::System => Actor {
                kind: ActorKind::System,
                uid: None,
                pid: None,
                name: None,
            },
            ActorView::Peer { uid, pid } => Actor {
                kind: ActorKind::Peer,
                uid: Some(uid),
                pid: Some(pid),
                name: None,
            },
            ActorView::Named(name) => Actor {
                kind: ActorKind::Named,
                uid: None,
                pid: None,
                name: Some(name),
            },
        }
    }
}

/// One record of the ledger.
#[derive(SimpleObject)]
pub struct Record {
    /// Its sequence number.
    pub seq: u64,
    /// Its kind (`rewrite`, `job.dispatched`, `process.decided`, …).
    pub kind: String,
    /// Who caused it.
    pub actor: Actor,
    /// When it was recorded, ms since the Unix epoch.
    pub time_ms: u64,
    /// Its hash (hex).
    pub hash: String,
    /// Its parent's hash (hex): the chain.
    pub parent: String,
    /// One line saying what it did.
    pub summary: String,
    /// The rewrite, for a rewrite record.
    pub rewrite: Option<Json<jitos_warp::Rewrite>>,
}

impl From<RecordView> for Record {
    fn from(view: RecordView) -> Record {
        Record {
            seq: view.seq,
            kind: view.kind,
            actor: view.actor.into(),
            time_ms: view.time_ms,
            hash: view.hash,
            parent: view.parent,
            summary: view.summary,
            rewrite: view.rewrite.map(Json),
        }
    }
}

/// A page of records.
#[derive(SimpleObject)]
pub struct RecordPage {
    /// The records, oldest first.
    pub records: Vec<Record>,
    /// Where the next page starts (`from`), when more follow.
    pub next: Option<u64>,
}

/// One record that changed a node, and the node after it.
#[derive(SimpleObject)]
pub struct NodeChange {
    /// The record.
    pub record: Record,
    /// The node after it; null once removed.
    pub node_after: Option<Node>,
}

impl From<HistoryEntry> for NodeChange {
    fn from(entry: HistoryEntry) -> NodeChange {
        NodeChange {
            record: entry.record.into(),
            node_after: entry.node_after.map(Node::from),
        }
    }
}

/// One node of the graph.
#[derive(SimpleObject)]
pub struct Node {
    /// Its id.
    pub id: String,
    /// Its kind (`Task`, `File`, …).
    pub kind: String,
    /// Changes to it since it was added, plus one.
    pub version: u64,
    /// Its attributes by key.
    pub attrs: Json<std::collections::BTreeMap<String, jitos_warp::Value>>,
}

impl From<jitos_warp::Node> for Node {
    fn from(node: jitos_warp::Node) -> Node {
        Node {
            id: node.id.to_string(),
            kind: node.kind,
            version: node.version,
            attrs: Json(node.attrs),
        }
    }
}

/// One edge of the graph.
#[derive(SimpleObject)]
pub struct Edge {
    /// The source node.
    pub from: String,
    /// The label.
    pub label: String,
    /// The target node.
    pub to: String,
}

/// A page of the graph as of a sequence number (or as a workspace sees it).
#[derive(SimpleObject)]
pub struct GraphPage {
    /// The sequence number it reflects.
    pub at_seq: u64,
    /// The state digest of the whole graph there (hex).
    pub digest: String,
    /// Nodes in the whole graph.
    pub node_count: u64,
    /// This page's nodes, in id order.
    pub nodes: Vec<Node>,
    /// The edges from this page's nodes.
    pub edges: Vec<Edge>,
    /// The id to pass as `after` for the next page, when more follow.
    pub next: Option<String>,
}

/// One process, in a line.
#[derive(SimpleObject)]
pub struct Process {
    /// Its id: the seq of its submit record.
    pub id: u64,
    /// Its goal task.
    pub goal: String,
    /// Where it stands.
    pub status: ProcessStatus,
    /// Why it failed, or what it waits for.
    pub detail: Option<String>,
    /// The plan candidate being run (from 1).
    pub plan: u64,
    /// How many candidates it has.
    pub plans: u64,
    /// Jobs of the current plan that are done.
    pub jobs_done: u64,
    /// Jobs of the current plan.
    pub jobs: u64,
    /// Attempts dispatched, over every plan.
    pub attempts: u64,
    /// When it was submitted, ms since the Unix epoch.
    pub submitted_ms: u64,
}

impl From<ProcessSummary> for Process {
    fn from(p: ProcessSummary) -> Process {
        Process {
            id: p.id,
            goal: p.goal,
            status: p.status.into(),
            detail: p.detail,
            plan: p.plan as u64,
            plans: p.plans as u64,
            jobs_done: p.jobs_done as u64,
            jobs: p.jobs as u64,
            attempts: p.attempts as u64,
            submitted_ms: p.submitted_ms,
        }
    }
}

/// A page of processes, newest first.
#[derive(SimpleObject)]
pub struct ProcessPage {
    /// The processes.
    pub items: Vec<Process>,
    /// What to pass as `after` for the next page, when more follow.
    pub next: Option<u64>,
}

/// One job of a process's current plan.
#[derive(SimpleObject)]
pub struct PlanJob {
    /// Its path in the decomposition.
    pub id: String,
    /// The lane (workspace) it runs in.
    pub lane: u64,
    /// What it does.
    pub kind: JobKind,
    /// The worker a `RUN` job runs.
    pub worker: Option<String>,
    /// Where it stands.
    pub status: JobStatus,
    /// Where it stands, in words, with its attempt, reason or answer.
    pub state: String,
    /// The jobs it waits for, by index.
    pub after: Vec<u64>,
    /// The policy's ruling on it, once ruled on.
    pub ruling: Option<String>,
}

impl From<ProcessJobView> for PlanJob {
    fn from(job: ProcessJobView) -> PlanJob {
        let (kind, worker) = JobKind::of(job.kind);
        PlanJob {
            id: job.id,
            lane: job.lane as u64,
            kind,
            worker,
            status: JobStatus::from(&job.state),
            state: job.state.to_string(),
            after: job.after.into_iter().map(|i| i as u64).collect(),
            ruling: job.ruling,
        }
    }
}

/// One lane of a process's current plan.
#[derive(SimpleObject)]
pub struct Lane {
    /// Its index.
    pub lane: u64,
    /// The alternative it runs.
    pub path: String,
    /// Where its workspace stands.
    pub state: LaneState,
    /// Its workspace, once made.
    pub sws: Option<u64>,
}

impl From<ProcessLaneView> for Lane {
    fn from(lane: ProcessLaneView) -> Lane {
        Lane {
            lane: lane.lane as u64,
            path: lane.path,
            state: lane.state.into(),
            sws: lane.sws,
        }
    }
}

/// A named value: a parameter of a process, or an entry of its environment.
#[derive(SimpleObject)]
pub struct Param {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// One process in full.
#[derive(SimpleObject)]
pub struct ProcessFull {
    /// The line.
    pub summary: Process,
    /// Its parameters.
    pub params: Vec<Param>,
    /// What it waits for, if it waits: the question.
    pub question: Option<String>,
    /// The kind of answer wanted.
    pub wanted: Option<String>,
    /// While it waits: the files its workspace changed (`added PATH`, …).
    pub waiting_files: Vec<String>,
    /// The plans and the decomposition, as `jitos plan --explain` shows them.
    pub explain: String,
    /// The current plan's jobs.
    pub jobs: Vec<PlanJob>,
    /// The current plan's lanes.
    pub lanes: Vec<Lane>,
    /// The environment it was submitted into, as named values; null for a process
    /// submitted before environments were recorded.
    pub environment: Option<Vec<Param>>,
}

impl Param {
    /// Each `(name, value)` as a `Param`.
    pub fn all(pairs: Vec<(String, String)>) -> Vec<Param> {
        pairs
            .into_iter()
            .map(|(name, value)| Param { name, value })
            .collect()
    }
}

impl From<ProcessDetail> for ProcessFull {
    fn from(p: ProcessDetail) -> ProcessFull {
        let (question, wanted) = p.waiting.unzip();
        ProcessFull {
            summary: p.summary.into(),
            params: Param::all(p.params),
            question,
            wanted,
            waiting_files: p.waiting_files,
            explain: p.explain,
            jobs: p.jobs.into_iter().map(PlanJob::from).collect(),
            lanes: p.lanes.into_iter().map(Lane::from).collect(),
            environment: p.environment.map(Param::all),
        }
    }
}

/// Where an attempt stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum AttemptStatus {
    /// Dispatched, not ended.
    Running,
    /// Its proposal was applied to the workspace.
    Done,
    /// It failed.
    Failed,
    /// Its proposal was refused.
    Refused,
}

/// How far a job's work may reach, lowest first.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum EffectClass {
    /// The graph of its workspace only.
    None,
    /// Its workspace's files too.
    Workspace,
    /// Files on this host outside any workspace.
    Local,
    /// Other hosts, over the network.
    Network,
    /// What cannot be taken back.
    Irreversible,
}

impl From<jitos_gov::Effect> for EffectClass {
    fn from(effect: jitos_gov::Effect) -> EffectClass {
        use jitos_gov::Effect;
        match effect {
            Effect::None => EffectClass::None,
            Effect::Workspace => EffectClass::Workspace,
            Effect::Local => EffectClass::Local,
            Effect::Network => EffectClass::Network,
            Effect::Irreversible => EffectClass::Irreversible,
        }
    }
}

/// One attempt of a job.
#[derive(SimpleObject)]
pub struct Attempt {
    /// Its id: the seq of its dispatch record.
    pub id: u64,
    /// The worker.
    pub worker: String,
    /// The worker's version.
    pub worker_version: String,
    /// The workspace it ran in.
    pub sws: u64,
    /// The worker's arguments.
    pub args: Vec<String>,
    /// Its deadline, ms.
    pub deadline_ms: u64,
    /// What its proposal may change: `NONE` (the workspace's graph) or `WORKSPACE` (its
    /// files too).
    pub effect: EffectClass,
    /// The tree paths its proposal may touch; empty for all.
    pub paths: Vec<String>,
    /// Where it stands.
    pub status: AttemptStatus,
    /// The record that ended it.
    pub ended_seq: Option<u64>,
    /// Where it stands, in words.
    pub state: String,
    /// The ending in full (exit status, artifacts, cause, reason).
    pub end: Json<AttemptState>,
}

impl From<AttemptView> for Attempt {
    fn from(a: AttemptView) -> Attempt {
        let (status, ended_seq) = match &a.state {
            AttemptState::Running => (AttemptStatus::Running, None),
            AttemptState::Done { seq, .. } => (AttemptStatus::Done, Some(*seq)),
            AttemptState::Failed { seq, .. } => (AttemptStatus::Failed, Some(*seq)),
            AttemptState::Refused { seq, .. } => (AttemptStatus::Refused, Some(*seq)),
        };
        Attempt {
            id: a.id,
            worker: a.worker,
            worker_version: a.worker_version,
            sws: a.sws,
            args: a.args,
            deadline_ms: a.deadline_ms,
            effect: a.effect.into(),
            paths: a.paths,
            status,
            ended_seq,
            state: a.state.to_string(),
            end: Json(a.state),
        }
    }
}

/// A page of attempts, newest first.
#[derive(SimpleObject)]
pub struct AttemptPage {
    /// The attempts.
    pub items: Vec<Attempt>,
    /// What to pass as `after` for the next page, when more follow.
    pub next: Option<u64>,
}

/// Where a workspace stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum WorkspaceState {
    /// It takes rewrites.
    Open,
    /// Collapsed into its target.
    Collapsed,
    /// Ended without applying.
    Discarded,
}

/// One workspace.
#[derive(SimpleObject)]
pub struct Workspace {
    /// Its id (the seq of its creation).
    pub id: u64,
    /// The workspace it is nested in, if any.
    pub parent: Option<u64>,
    /// The seq of its target its base reflects.
    pub base_seq: u64,
    /// 1 over the system, one more per nesting level.
    pub depth: u64,
    /// Where it stands.
    pub state: WorkspaceState,
    /// The record that ended it.
    pub ended_seq: Option<u64>,
    /// Why it was discarded.
    pub discard_reason: Option<String>,
    /// Entries in its overlay.
    pub overlay_entries: u64,
    /// Keys it read.
    pub reads: u64,
    /// Keys it wrote.
    pub writes: u64,
    /// Where the ruling on its collapse stands, while it stands.
    pub held: Option<Json<jitos_proto::HoldStanding>>,
}

impl From<SwsSummary> for Workspace {
    fn from(s: SwsSummary) -> Workspace {
        let (state, ended_seq, discard_reason) = match s.state {
            SwsState::Open => (WorkspaceState::Open, None, None),
            SwsState::Collapsed { seq } => (WorkspaceState::Collapsed, Some(seq), None),
            SwsState::Discarded { seq, reason } => {
                (WorkspaceState::Discarded, Some(seq), Some(reason))
            }
        };
        Workspace {
            id: s.id,
            parent: s.parent,
            base_seq: s.base_seq,
            depth: s.depth,
            state,
            ended_seq,
            discard_reason,
            overlay_entries: s.overlay_entries,
            reads: s.reads,
            writes: s.writes,
            held: s.held.map(Json),
        }
    }
}

/// A page of workspaces, in id order.
#[derive(SimpleObject)]
pub struct WorkspacePage {
    /// The workspaces.
    pub items: Vec<Workspace>,
    /// What to pass as `after` for the next page, when more follow.
    pub next: Option<u64>,
}

/// One graph key a workspace changed.
#[derive(SimpleObject)]
pub struct KeyChange {
    /// The node, attribute or edge.
    pub key: String,
    /// Its value in the base.
    pub base: String,
    /// Its value in the workspace.
    pub now: String,
}

/// One workspace in full: its diffs against its base.
#[derive(SimpleObject)]
pub struct WorkspaceFull {
    /// The summary.
    pub summary: Workspace,
    /// Graph changes against the base (open workspaces only).
    pub changes: Vec<KeyChange>,
    /// File changes against the base (open workspaces only).
    pub files: Json<Vec<jitos_tree::TreeChange>>,
    /// The latest ruling on its collapse and the votes since.
    pub hold: Option<Json<jitos_proto::SwsHold>>,
}

impl From<SwsDetail> for WorkspaceFull {
    fn from(d: SwsDetail) -> WorkspaceFull {
        WorkspaceFull {
            summary: d.summary.into(),
            changes: d
                .changes
                .into_iter()
                .map(|c| KeyChange {
                    key: c.key,
                    base: c.base,
                    now: c.now,
                })
                .collect(),
            files: Json(d.files),
            hold: d.hold.map(Json),
        }
    }
}
