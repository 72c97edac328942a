//! Text for people; `--json` output bypasses this module.

use std::fmt::Write as _;

use jitos_proto::{
    ActorView, GraphView, HistoryEntry, LimitsHeld, PrincipalView, RecordView, ReplayReport,
    SandboxView, StatusInfo, VerifyView,
};
use jitos_warp::Node;

/// `status` as aligned key/value lines.
pub fn status(info: &StatusInfo) -> String {
    let mut out = String::new();
    let snapshot = info
        .last_snapshot_seq
        .map_or("none".to_owned(), |seq| seq.to_string());
    let _ = writeln!(
        out,
        "store      {} (format v{})",
        info.store_id, info.format_version
    );
    let _ = writeln!(out, "store dir  {}", info.store_dir);
    let _ = writeln!(
        out,
        "head       seq {}  hash {}",
        info.head_seq, info.head_hash
    );
    let _ = writeln!(out, "digest     {}", info.digest);
    let _ = writeln!(out, "graph      {} nodes, {} edges", info.nodes, info.edges);
    let _ = writeln!(
        out,
        "snapshot   {snapshot} (every {} records)",
        info.snapshot_every
    );
    if info.read_only {
        let _ = writeln!(out, "mode       read-only");
    }
    let _ = writeln!(out, "jobs       {} running", info.jobs_running);
    if let Some(sandbox) = &info.sandbox {
        let _ = writeln!(out, "workers    {}", sandbox_line(sandbox));
    }
    for warning in &info.ignored_snapshots {
        let _ = writeln!(out, "warning    {warning}");
    }
    out
}

/// How workers are confined, in one line.
fn sandbox_line(sandbox: &SandboxView) -> String {
    let uids = if sandbox.separate_uids {
        ", each under its own unprivileged uid"
    } else {
        ", as jitosd's uid"
    };
    let limits = match &sandbox.limits {
        LimitsHeld::Cgroup { version } => format!("limits by cgroup v{version}"),
        LimitsHeld::Rlimits { why } => format!("limits by rlimits ({why})"),
    };
    match (sandbox.enforced, sandbox.degraded_allowed) {
        (true, _) => format!(
            "confined (read-only view, Landlock ABI {}, seccomp, no capabilities){uids}; {limits}",
            sandbox.landlock_abi
        ),
        (false, true) => format!(
            "DEGRADED: run without their read-only view, Landlock and seccomp (mount namespaces {}, Landlock ABI {}, seccomp {}){uids}; {limits}",
            sandbox.mount_namespace, sandbox.landlock_abi, sandbox.seccomp
        ),
        (false, false) => format!(
            "refused: this kernel cannot confine them (mount namespaces {}, Landlock ABI {}, seccomp {})",
            sandbox.mount_namespace, sandbox.landlock_abi, sandbox.seccomp
        ),
    }
}

/// A graph view: nodes with their attributes, then edges.
pub fn graph(view: &GraphView) -> String {
    let mut out = format!(
        "at seq {}  digest {}\n{} nodes, {} edges\n",
        view.at_seq,
        view.digest,
        view.nodes.len(),
        view.edges.len()
    );
    for node in &view.nodes {
        let _ = writeln!(out, "  {}", node_line(node));
    }
    for edge in &view.edges {
        let _ = writeln!(out, "  {} -{}-> {}", edge.from, edge.label, edge.to);
    }
    out
}

fn node_line(node: &Node) -> String {
    let attrs = serde_json::to_string(&node.attrs).unwrap_or_else(|e| format!("<{e}>"));
    format!("{}  [{}]  v{}  {attrs}", node.id, node.kind, node.version)
}

/// One record on one line.
pub fn record_line(record: &RecordView) -> String {
    format!(
        "{:>6}  {}  {:<18} {:<14} {}",
        record.seq,
        timestamp(record.time_ms),
        actor(&record.actor),
        record.kind,
        record.summary
    )
}

/// A node's history: each record, then the node as it stood after it.
pub fn history(node: &str, entries: &[HistoryEntry]) -> String {
    if entries.is_empty() {
        return format!("no record ever changed {node}\n");
    }
    let mut out = String::new();
    for entry in entries {
        let _ = writeln!(out, "{}", record_line(&entry.record));
        match &entry.node_after {
            Some(after) => {
                let _ = writeln!(out, "        after: {}", node_line(after));
            }
            None => {
                let _ = writeln!(out, "        after: (removed)");
            }
        }
    }
    out
}

/// The outcome of `verify`.
pub fn verify(view: &VerifyView) -> String {
    let mut out = String::new();
    match &view.first_bad {
        None => {
            let _ = writeln!(
                out,
                "chain ok: {} records verified up to seq {}",
                view.records_checked, view.head_seq
            );
        }
        Some((seq, why)) => {
            let _ = writeln!(out, "chain BROKEN at seq {seq}: {why}");
            let _ = writeln!(
                out,
                "records before {seq} verified; the daemon will refuse to start on this store (jitosd --read-only opens it for inspection)"
            );
        }
    }
    let _ = writeln!(
        out,
        "snapshots: {} checked, {} bad",
        view.snapshots_checked,
        view.bad_snapshots.len()
    );
    for (seq, why) in &view.bad_snapshots {
        let _ = writeln!(out, "  snapshot at seq {seq} ignored: {why}");
    }
    for (seq, why) in &view.unread_snapshots {
        let _ = writeln!(out, "  snapshot at seq {seq} not read by this build: {why}");
    }
    out
}

/// The outcome of `replay --verify`.
pub fn replay(report: &ReplayReport) -> String {
    if report.matches() {
        format!(
            "replayed {} records from genesis: digest {} equals the live state\n",
            report.records, report.replayed_digest
        )
    } else {
        let part = |matched: bool, what: &'static str| if matched { "" } else { what };
        format!(
            "MISMATCH after replaying {} records: replayed {} but live state is {}{}{}{}{}\n",
            report.records,
            report.replayed_digest,
            report.live_digest,
            part(report.workspaces_match, "; the workspaces differ"),
            part(report.jobs_match, "; the jobs differ"),
            part(report.processes_match, "; the processes differ"),
            part(report.governance_match, "; the writs or the policy differ"),
        ) + &match report.decision_mismatch {
            Some(seq) => {
                format!("the scheduler decision at seq {seq} is not the one its state called for\n")
            }
            None => String::new(),
        }
    }
}

fn actor(actor: &ActorView) -> String {
    match actor {
        ActorView::System => "system".to_owned(),
        ActorView::Peer { uid, pid } => format!("uid {uid} pid {pid}"),
        ActorView::Named(name) => name.clone(),
    }
}

/// Milliseconds since the epoch as an RFC 3339 UTC timestamp.
pub fn timestamp(time_ms: u64) -> String {
    let secs = time_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        time_ms % 1000
    )
}

// Howard Hinnant's days-to-civil algorithm, for days since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A git-style unified diff of one tree path; binary contents are named, not shown.
pub fn file_diff(
    path: &str,
    old: Option<&jitos_tree::Entry>,
    new: Option<&jitos_tree::Entry>,
    old_bytes: &[u8],
    new_bytes: &[u8],
) -> String {
    let mut out = format!("diff --jitos a/{path} b/{path}\n");
    let (old_mode, new_mode) = (old.map(mode_of), new.map(mode_of));
    match (old_mode, new_mode) {
        (None, Some(mode)) => out.push_str(&format!("new file mode {mode}\n")),
        (Some(mode), None) => out.push_str(&format!("deleted file mode {mode}\n")),
        (Some(a), Some(b)) if a != b => {
            out.push_str(&format!("old mode {a}\nnew mode {b}\n"));
        }
        _ => {}
    }
    if old_bytes == new_bytes {
        return out;
    }
    let (Ok(old_text), Ok(new_text)) = (
        std::str::from_utf8(old_bytes),
        std::str::from_utf8(new_bytes),
    ) else {
        out.push_str(&format!("Binary files a/{path} and b/{path} differ\n"));
        return out;
    };
    let old_name = if old.is_some() {
        format!("a/{path}")
    } else {
        "/dev/null".to_owned()
    };
    let new_name = if new.is_some() {
        format!("b/{path}")
    } else {
        "/dev/null".to_owned()
    };
    let diff = similar::TextDiff::from_lines(old_text, new_text);
    out.push_str(
        &diff
            .unified_diff()
            .context_radius(3)
            .header(&old_name, &new_name)
            .to_string(),
    );
    out
}

/// The git-style mode of an entry.
fn mode_of(entry: &jitos_tree::Entry) -> &'static str {
    match entry {
        jitos_tree::Entry::Dir => "040000",
        jitos_tree::Entry::File {
            executable: true, ..
        } => "100755",
        jitos_tree::Entry::File { .. } => "100644",
        jitos_tree::Entry::Symlink { .. } => "120000",
    }
}

/// The line that ends a page when more follow: the command that shows the next one.
/// `command` is what follows `jitos`, with the flags that chose the list.
pub fn more(command: &str, limit: u32, next: &impl std::fmt::Display) -> String {
    let limit = if limit == jitos_proto::PAGE_ITEMS_DEFAULT {
        String::new()
    } else {
        format!(" --limit {limit}")
    };
    format!("more: jitos {command}{limit} --after {next}\n")
}

/// Who the daemon takes the client for, in a line.
pub fn principal(principal: &PrincipalView) -> String {
    let roles: Vec<&str> = principal.roles.iter().map(|role| role.name()).collect();
    format!(
        "{} (uid {}): {}\n",
        principal.user,
        principal.uid,
        roles.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known instants format as their calendar dates.
    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(timestamp(1_795_305_600_000), "2026-11-22T00:00:00.000Z");
    }
}
