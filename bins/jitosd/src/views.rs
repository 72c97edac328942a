//! Conversions from kernel values to the wire's views.

use jitos_kernel::{
    AccessRefused, Body, CollapseRecord, Commit, ConnectEnd, ConnectRecord, EffectRecord, FetchEnd,
    FetchRecord, Grant, HistoryStep, JobRecord, JobRuling, KnownBy, PolicyRecord, ProcessRecord,
    RefusedOp, ReplayOutcome, SwsRecord, VerifyOutcome, View, WorkspaceSummary, WritRecord,
    KIND_ACCESS_REFUSED, KIND_GENESIS, KIND_JOB_CONNECT, KIND_JOB_FETCH, KIND_JOB_RULING,
    KIND_REWRITE,
};
use jitos_ledger::{Actor, Record};
use jitos_proto::{
    ActorView, ConflictEntry, ConflictView, GraphView, HistoryEntry, RecordView, ReplayReport,
    Response, StatusInfo, SwsState, SwsSummary, VerifyView,
};
use jitos_sched::EffectEnd;
use jitos_sws::{ConflictReport, Over, Status};
use jitos_warp::{Graph, Op};

/// How many ops a record summary names before it says "and N more".
const SUMMARY_OPS_MAX: usize = 3;

/// The wire form of an actor.
pub fn actor_view(actor: &Actor) -> ActorView {
    match actor {
        Actor::System => ActorView::System,
        Actor::Peer { uid, pid } => ActorView::Peer {
            uid: *uid,
            pid: *pid,
        },
        Actor::Named(name) => ActorView::Named(name.clone()),
    }
}

/// What an `access.refused` record says, in a line.
fn summarize_refused(refused: &AccessRefused) -> String {
    match refused.count {
        1 => format!("refused: {}", refused.message),
        count => format!("refused {count} times, the first: {}", refused.message),
    }
}

/// What a policy record says, in a line.
fn summarize_policy(op: &PolicyRecord) -> String {
    match op {
        PolicyRecord::Load(policy) => format!(
            "policy {} in force ({} rules, default {})",
            policy.hash().short(),
            policy.rules().len(),
            policy.default_verdict()
        ),
        PolicyRecord::Decision(d) => format!(
            "process {}: job #{} ruled on ({}) by policy {}: {}",
            d.process,
            d.job + 1,
            d.facts.point.name(),
            d.policy.short(),
            d.ruling.explain()
        ),
        PolicyRecord::Vote(vote) => format!(
            "process {}: {} {} job #{}{}",
            vote.process,
            vote.user,
            if vote.approve { "approved" } else { "rejected" },
            vote.job + 1,
            match vote.note.is_empty() {
                true => String::new(),
                false => format!(": {}", vote.note),
            }
        ),
    }
}

/// What a ruling on a workspace's collapse, or a vote on one, says in a line.
fn summarize_collapse_governance(op: &CollapseRecord) -> String {
    match op {
        CollapseRecord::Ruling(ruling) => format!(
            "workspace {}: collapse ruled on by policy {}: {}",
            ruling.sws,
            ruling.policy.short(),
            ruling.ruling.explain()
        ),
        CollapseRecord::Vote(vote) => format!(
            "workspace {}: {} {} its collapse{}",
            vote.sws,
            vote.user,
            if vote.approve { "approved" } else { "rejected" },
            match vote.note.is_empty() {
                true => String::new(),
                false => format!(": {}", vote.note),
            }
        ),
    }
}

/// What a writ record says, in a line.
fn summarize_writ(seq: u64, op: &WritRecord) -> String {
    match op {
        WritRecord::Key(key) => format!("the daemon's writ key is now {key}"),
        WritRecord::Issue(issue) => {
            let w = &issue.writ;
            let how = match (&issue.grant, issue.for_process, w.parent) {
                (Grant::Derived { .. }, Some(process), _) => {
                    format!(
                        "derived from {}'s roles for process {process}",
                        w.subject.user
                    )
                }
                (_, Some(process), Some(parent)) => {
                    format!("delegated from writ {parent} for process {process}")
                }
                (_, _, Some(parent)) => {
                    format!("delegated from writ {parent} to {}", w.subject.user)
                }
                _ => format!("issued to {}", w.subject.user),
            };
            format!(
                "writ {seq} {how}: effect up to {}, {} jobs",
                w.effect, w.budget.jobs
            )
        }
        WritRecord::Raise(raise) => format!(
            "writ {}'s budget raised by {} jobs, {} wall seconds{}: {}",
            raise.writ,
            raise.more.jobs,
            raise.more.wall_secs,
            raise
                .more
                .counters
                .iter()
                .map(|(name, n)| format!(", {n} {name}"))
                .collect::<String>(),
            raise.reason
        ),
        WritRecord::Revoke(revoke) => format!(
            "writ {} revoked, with every writ delegated from it: {}",
            revoke.writ, revoke.reason
        ),
    }
}

fn summarize_effect(op: &EffectRecord) -> String {
    match op {
        EffectRecord::Begin(begin) => format!(
            "process {}: job #{} begins a {} effect (attempt {}, idempotency key {})",
            begin.process,
            begin.job + 1,
            begin.class.name(),
            begin.attempt,
            begin.key
        ),
        EffectRecord::End(end) => {
            let what = match end.end {
                EffectEnd::Happened => "took place",
                EffectEnd::NotHappened => "did not take place",
                EffectEnd::Unknown => "is unknown: the process ended first",
            };
            let by = match end.by {
                KnownBy::Attempt => "its attempt said so",
                KnownBy::Verify => "its verify job said so",
                KnownBy::Person => "a person said so",
                KnownBy::ProcessEnd => "no one could say",
            };
            format!(
                "process {}: job #{}'s effect (key {}) {what} ({by})",
                end.process,
                end.job + 1,
                end.key
            )
        }
        EffectRecord::Unwind(unwind) => format!(
            "process {} unwinds, compensating its effects newest first: {}",
            unwind.process, unwind.why
        ),
    }
}

/// `job.fetch` in a line: who asked, what, what came of it, and a model call's charge.
fn summarize_fetch(op: &FetchRecord) -> String {
    let end = match &op.end {
        FetchEnd::Response { status, body, .. } => {
            let size = match body {
                Body::Inline(bytes) => format!("{} bytes", bytes.len()),
                Body::Blob(blob) => format!("blob {blob}"),
            };
            format!("{status}, {size}")
        }
        FetchEnd::Refused { reason } => format!("refused: {reason}"),
        FetchEnd::Failed { reason } => format!("failed: {reason}"),
    };
    let charge = match &op.usage {
        Some(usage) => format!(
            "; {} tokens{} ({} prompt, {} completion), {} millicents, model {:?}",
            usage.tokens(),
            if usage.estimated { " estimated" } else { "" },
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cost_millicents,
            usage.model
        ),
        None => String::new(),
    };
    format!(
        "attempt {} fetched {} {} → {end} in {} ms{charge}",
        op.attempt, op.method, op.url, op.duration_ms
    )
}

/// `job.connect` in a line: where to, how it ended, the bytes each way.
fn summarize_connect(op: &ConnectRecord) -> String {
    let end = match &op.end {
        ConnectEnd::Relayed => format!("relayed {} bytes up, {} down", op.bytes_up, op.bytes_down),
        ConnectEnd::Failed { reason } => format!("failed: {reason}"),
        ConnectEnd::Refused { reason } => format!("refused: {reason}"),
    };
    format!(
        "attempt {} connected through its proxy: {} {}:{} → {end} in {} ms",
        op.attempt, op.method, op.host, op.port, op.duration_ms
    )
}

/// The wire form of a record, with a one-line summary and, for rewrites, the rewrite.
pub fn record_view(record: &Record) -> RecordView {
    let rewrite = match record.kind.as_str() {
        KIND_REWRITE => jitos_kernel::decode_rewrite(&record.payload).ok(),
        _ => None,
    };
    let summary = match (&rewrite, record.kind.as_str()) {
        (Some(rewrite), _) => summarize_ops(&rewrite.ops),
        (None, KIND_GENESIS) => "genesis".to_owned(),
        (None, KIND_REWRITE) => "undecodable rewrite".to_owned(),
        (None, kind) if SwsRecord::is_kind(kind) => {
            match SwsRecord::decode(kind, &record.payload) {
                Ok(op) => summarize_sws(record.seq, &op),
                Err(_) => "undecodable workspace record".to_owned(),
            }
        }
        (None, kind) if CollapseRecord::is_kind(kind) => {
            match CollapseRecord::decode(kind, &record.payload) {
                Ok(op) => summarize_collapse_governance(&op),
                Err(_) => "undecodable collapse ruling or vote".to_owned(),
            }
        }
        (None, kind) if ProcessRecord::is_kind(kind) => {
            match ProcessRecord::decode(kind, &record.payload) {
                Ok(op) => crate::processes::views::summarize(record.seq, &op),
                Err(_) => "undecodable process record".to_owned(),
            }
        }
        (None, kind) if JobRecord::is_kind(kind) => {
            match JobRecord::decode(kind, &record.payload) {
                Ok(op) => crate::jobs::views::summarize_job(record.seq, &op),
                Err(_) => "undecodable job record".to_owned(),
            }
        }
        (None, KIND_ACCESS_REFUSED) => match AccessRefused::decode(&record.payload) {
            Ok(refused) => summarize_refused(&refused),
            Err(_) => "undecodable refusal record".to_owned(),
        },
        (None, kind) if PolicyRecord::is_kind(kind) => {
            match PolicyRecord::decode(kind, &record.payload) {
                Ok(op) => summarize_policy(&op),
                Err(_) => "undecodable policy record".to_owned(),
            }
        }
        (None, kind) if WritRecord::is_kind(kind) => {
            match WritRecord::decode(kind, &record.payload) {
                Ok(op) => summarize_writ(record.seq, &op),
                Err(_) => "undecodable writ record".to_owned(),
            }
        }
        (None, kind) if EffectRecord::is_kind(kind) => {
            match EffectRecord::decode(kind, &record.payload) {
                Ok(op) => summarize_effect(&op),
                Err(_) => "undecodable effect record".to_owned(),
            }
        }
        (None, KIND_JOB_RULING) => match JobRuling::decode(&record.payload) {
            Ok(ruling) => format!(
                "a {} job in workspace {} ruled on by policy {}: {}",
                ruling.facts.worker.as_deref().unwrap_or("?"),
                ruling.sws,
                ruling.policy.short(),
                ruling.ruling.explain()
            ),
            Err(_) => "undecodable job ruling".to_owned(),
        },
        (None, KIND_JOB_CONNECT) => match ConnectRecord::decode(&record.payload) {
            Ok(op) => summarize_connect(&op),
            Err(_) => "undecodable connection record".to_owned(),
        },
        (None, KIND_JOB_FETCH) => match FetchRecord::decode(&record.payload) {
            Ok(op) => summarize_fetch(&op),
            Err(_) => "undecodable fetch record".to_owned(),
        },
        (None, kind) => format!("{kind} record"),
    };
    RecordView {
        seq: record.seq,
        kind: record.kind.clone(),
        actor: actor_view(&record.actor),
        time_ms: record.time_ms,
        hash: record.hash.to_string(),
        parent: record.parent.to_string(),
        summary,
        rewrite,
    }
}

fn summarize_sws(seq: u64, op: &SwsRecord) -> String {
    match op {
        SwsRecord::Create {
            over: Over::System { at_seq },
        } => format!("workspace {seq} created over the system at seq {at_seq}"),
        SwsRecord::Create {
            over: Over::Workspace { id },
        } => format!("workspace {seq} created over workspace {id}"),
        SwsRecord::Apply { sws, rewrite } => {
            format!("in workspace {sws}: {}", summarize_ops(&rewrite.ops))
        }
        SwsRecord::Collapse { sws, rewrites } => format!(
            "workspace {sws} collapsed ({} ops)",
            rewrites.iter().map(|r| r.ops.len()).sum::<usize>()
        ),
        SwsRecord::Conflict { sws, op, report } => format!(
            "workspace {sws}: {} refused, {} conflict(s)",
            match op {
                RefusedOp::Collapse => "collapse",
                RefusedOp::Rebase => "rebase",
            },
            report.conflicts.len()
        ),
        SwsRecord::Rebase { sws } => format!("workspace {sws} rebased onto the head"),
        SwsRecord::Discard { sws, reason } => format!("workspace {sws} discarded: {reason}"),
    }
}

/// The wire form of a workspace's summary, with where its collapse's ruling stands.
pub fn sws_summary(view: &View, ws: &WorkspaceSummary) -> SwsSummary {
    SwsSummary {
        held: crate::collapse::held_standing(view, ws.id),
        id: ws.id,
        parent: ws.parent,
        base_seq: ws.base_seq,
        depth: ws.depth,
        state: match &ws.status {
            Status::Open => SwsState::Open,
            Status::Collapsed { seq } => SwsState::Collapsed { seq: *seq },
            Status::Discarded { seq, reason } => SwsState::Discarded {
                seq: *seq,
                reason: reason.clone(),
            },
        },
        overlay_entries: ws.overlay_entries,
        reads: ws.reads,
        writes: ws.writes,
    }
}

/// The wire form of a conflict report and the record that keeps it.
pub fn conflict_view(report: &ConflictReport, seq: u64) -> ConflictView {
    ConflictView {
        sws: report.workspace,
        target: report.target.to_string(),
        base_seq: report.base_seq,
        seq,
        conflicts: report
            .conflicts
            .iter()
            .map(|conflict| ConflictEntry {
                key: conflict.key.to_string(),
                workspace_did: match (&conflict.wrote, conflict.read) {
                    (Some(value), _) => format!("wrote {value}"),
                    (None, true) => "read it".to_owned(),
                    (None, false) => "read its node".to_owned(),
                },
                base: conflict.base.to_string(),
                changed_at: conflict.changed_at,
            })
            .collect(),
    }
}

fn summarize_ops(ops: &[Op]) -> String {
    let mut parts: Vec<String> = ops
        .iter()
        .take(SUMMARY_OPS_MAX)
        .map(|op| match op {
            Op::AddNode { id, kind, .. } => format!("add_node {id} ({kind})"),
            Op::RemoveNode { id, .. } => format!("remove_node {id}"),
            Op::SetAttr { node, key, .. } => format!("set_attr {node}.{key}"),
            Op::RemoveAttr { node, key } => format!("remove_attr {node}.{key}"),
            Op::AddEdge { from, to, label } => format!("add_edge {from} -{label}-> {to}"),
            Op::RemoveEdge { from, to, label } => format!("remove_edge {from} -{label}-> {to}"),
        })
        .collect();
    if ops.len() > SUMMARY_OPS_MAX {
        parts.push(format!("and {} more", ops.len() - SUMMARY_OPS_MAX));
    }
    if parts.is_empty() {
        return "empty rewrite".to_owned();
    }
    parts.join(", ")
}

/// The whole graph, or one node and its edges; `None` when that node does not exist.
pub fn graph_view(graph: &Graph, at_seq: u64, node: Option<&str>) -> Option<GraphView> {
    let (nodes, edges) = match node {
        None => (
            graph.nodes().cloned().collect(),
            graph.edges().cloned().collect(),
        ),
        Some(id) => (vec![graph.node(id)?.clone()], graph.edges_of(id)),
    };
    Some(GraphView {
        at_seq,
        digest: graph.digest().to_string(),
        nodes,
        edges,
    })
}

/// Head, digest, sizes and configuration.
pub fn status_info(kernel: &View) -> StatusInfo {
    let head = kernel.head();
    let graph = kernel.graph();
    let mut ignored: Vec<String> = kernel
        .recovery()
        .ignored_snapshots
        .iter()
        .map(|(_, why)| format!("ignored: {why}"))
        .collect();
    if let Some((seq, why)) = kernel.broken_at() {
        ignored.push(format!("chain broken at {seq}: {why}"));
    }
    StatusInfo {
        store_id: kernel.store_id_hex(),
        format_version: kernel.ledger().genesis().format_version,
        head_seq: head.seq,
        head_hash: head.hash.to_string(),
        digest: graph.digest().to_string(),
        nodes: graph.node_count() as u64,
        edges: graph.edge_count() as u64,
        last_snapshot_seq: kernel.last_snapshot_seq(),
        snapshot_every: kernel.options().snapshot_every,
        read_only: kernel.options().read_only,
        ignored_snapshots: ignored,
        store_dir: kernel.dir().to_owned(),
        sandbox: None,
        jobs_running: kernel.jobs().running().count() as u64,
    }
}

/// The wire form of a verification.
pub fn verify_view(outcome: VerifyOutcome) -> VerifyView {
    VerifyView {
        records_checked: outcome.records_checked,
        head_seq: outcome.head_seq,
        first_bad: outcome.first_bad,
        snapshots_checked: outcome.snapshots_checked,
        bad_snapshots: outcome.bad_snapshots,
        unread_snapshots: outcome.unread_snapshots,
    }
}

/// The wire form of a replay.
pub fn replay_report(outcome: ReplayOutcome) -> ReplayReport {
    ReplayReport {
        records: outcome.records,
        replayed_digest: outcome.replayed.to_string(),
        live_digest: outcome.live.to_string(),
        workspaces_match: outcome.workspaces_match,
        jobs_match: outcome.jobs_match,
        processes_match: outcome.processes_match,
        governance_match: outcome.governance_match,
        decision_mismatch: outcome.decision_mismatch,
    }
}

/// The wire form of a node's history.
pub fn history_entries(steps: Vec<HistoryStep>) -> Vec<HistoryEntry> {
    steps
        .into_iter()
        .map(|step| HistoryEntry {
            record: record_view(&step.record),
            node_after: step.node_after,
        })
        .collect()
}

/// The answer to a durable commit.
pub fn committed(commit: &Commit) -> Response {
    Response::Committed {
        seq: commit.record.seq,
        hash: commit.record.hash.to_string(),
        digest: commit.digest.to_string(),
    }
}
