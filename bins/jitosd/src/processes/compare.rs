//! Two processes compared (`jitos diff A B`, the viewer's comparison): their plans, how
//! each job went, the files each changed in the system, and the environments they ran in.

use std::collections::BTreeMap;

use jitos_kernel::{JobRecord, KernelError, ProcessRecord, View};
use jitos_ledger::Record;
use jitos_proto::{
    Compared, JobComparison, JobRun, PlanJobState, ProcessDetail, RunComparison, RunSide,
};
use jitos_sched::Event;
use jitos_tree::{diff_trees, Entry, TreeChange};

/// Most records of one process read to compare it; a longer log is compared on its
/// first records (its jobs' times and attempts then count only those, and its side says
/// it is partial).
const LOG_RECORDS_MAX: usize = 100_000;

/// Records read per page of a process's log.
const LOG_PAGE: usize = 1_000;

/// Most collapses of one process whose files are compared: each reads the file tree
/// before and after it, which rebuilds the graph as of those seqs.
const COLLAPSES_MAX: usize = 4;

/// What one process is compared by.
struct Run {
    detail: ProcessDetail,
    took_ms: u64,
    /// Per job index of the current plan: attempts and time spent.
    jobs: BTreeMap<usize, (u32, u64)>,
    /// Each file the process changed in the system, with what it did to it.
    files: BTreeMap<String, String>,
    environment: Option<Vec<(String, String)>>,
    /// Whether its log or its collapses were more than were read.
    partial: bool,
}

/// `a` and `b` compared, or the one of them that is no process.
pub fn compare(view: &View, a: u64, b: u64) -> Result<Result<RunComparison, u64>, KernelError> {
    let Some(run_a) = run_of(view, a)? else {
        return Ok(Err(a));
    };
    let Some(run_b) = run_of(view, b)? else {
        return Ok(Err(b));
    };
    Ok(Ok(RunComparison {
        a: side(&run_a),
        b: side(&run_b),
        plans_diff: plans_diff(&run_a.detail.explain, &run_b.detail.explain),
        jobs: jobs_compared(&run_a, &run_b),
        // Against an environment not recorded, every entry would differ: none is shown.
        environment: match (run_a.environment, run_b.environment) {
            (Some(a), Some(b)) => by_name(a, b),
            _ => Vec::new(),
        },
        files: by_name(
            run_a.files.into_iter().collect(),
            run_b.files.into_iter().collect(),
        ),
    }))
}

fn side(run: &Run) -> RunSide {
    RunSide {
        params: run.detail.params.clone(),
        summary: run.detail.summary.clone(),
        took_ms: run.took_ms,
        environment_recorded: run.environment.is_some(),
        partial: run.partial,
    }
}

/// Process `id` read for comparing, if there is one.
fn run_of(view: &View, id: u64) -> Result<Option<Run>, KernelError> {
    let Some(process) = view.process(id)? else {
        return Ok(None);
    };
    let detail = super::views::detail(view, &process);
    let mut run = Run {
        detail,
        took_ms: 0,
        jobs: BTreeMap::new(),
        files: BTreeMap::new(),
        environment: view
            .run_environment(id)?
            .map(|environment| environment.entries()),
        partial: false,
    };
    let mut collapses = Vec::new();
    let (mut first_ms, mut last_ms) = (None, 0);
    // Each attempt's dispatch: its job and when it started.
    let mut dispatched: BTreeMap<u64, (usize, u64)> = BTreeMap::new();
    let mut after = None;
    let mut read = 0;
    loop {
        let page = view.process_log(id, after, LOG_PAGE)?;
        for record in &page.items {
            first_ms.get_or_insert(record.time_ms);
            last_ms = record.time_ms;
            note(record, &mut run, &mut dispatched, &mut collapses)?;
        }
        read += page.items.len();
        match page.next {
            Some(next) if read < LOG_RECORDS_MAX => after = Some(next),
            Some(_) => {
                run.partial = true;
                break;
            }
            None => break,
        }
    }
    run.took_ms = last_ms.saturating_sub(first_ms.unwrap_or(last_ms));
    if collapses.len() > COLLAPSES_MAX {
        collapses.truncate(COLLAPSES_MAX);
        run.partial = true;
    }
    for seq in collapses {
        let before = view.tree_at(seq - 1)?;
        let after = view.tree_at(seq)?;
        for change in diff_trees(&before, &after) {
            if let Some((path, what)) = described(&change) {
                run.files.insert(path, what);
            }
        }
    }
    Ok(Some(run))
}

/// Takes one record of the process's log into `run`.
fn note(
    record: &Record,
    run: &mut Run,
    dispatched: &mut BTreeMap<u64, (usize, u64)>,
    collapses: &mut Vec<u64>,
) -> Result<(), KernelError> {
    if ProcessRecord::is_kind(&record.kind) {
        match ProcessRecord::decode(&record.kind, &record.payload)?.event {
            // Job indices name the current plan's jobs: a new plan starts the count again.
            Event::Advanced { .. } => {
                run.jobs.clear();
                dispatched.clear();
            }
            Event::LaneCollapsed { .. } => collapses.push(record.seq),
            _ => {}
        }
    } else if JobRecord::is_kind(&record.kind) {
        match JobRecord::decode(&record.kind, &record.payload)? {
            JobRecord::Dispatch(dispatch) => {
                if let Some(owner) = dispatch.owner {
                    dispatched.insert(record.seq, (owner.job, record.time_ms));
                    run.jobs.entry(owner.job).or_default().0 += 1;
                }
            }
            JobRecord::Done { attempt, .. }
            | JobRecord::Failed { attempt, .. }
            | JobRecord::Refused { attempt, .. } => {
                if let Some((job, started_ms)) = dispatched.get(&attempt) {
                    run.jobs.entry(*job).or_default().1 +=
                        record.time_ms.saturating_sub(*started_ms);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A file's change as compared: its path, and what was done with its content's digest.
fn described(change: &TreeChange) -> Option<(String, String)> {
    let content = |entry: &Entry| match entry {
        Entry::File { blob, size, .. } => Some(format!("{blob} ({size} bytes)")),
        Entry::Symlink { target } => Some(format!("-> {target}")),
        Entry::Dir => None,
    };
    match change {
        TreeChange::Added { path, entry } => Some((
            path.as_str().to_owned(),
            format!("added {}", content(entry)?),
        )),
        TreeChange::Modified { path, new, .. } => Some((
            path.as_str().to_owned(),
            format!("modified {}", content(new)?),
        )),
        TreeChange::Removed { path, entry } => {
            content(entry)?;
            Some((path.as_str().to_owned(), "removed".to_owned()))
        }
    }
}

/// A unified diff of two plans' explanations; empty when they are the same.
fn plans_diff(a: &str, b: &str) -> Vec<String> {
    if a == b {
        return Vec::new();
    }
    similar::TextDiff::from_lines(a, b)
        .iter_all_changes()
        .map(|change| {
            let sign = match change.tag() {
                similar::ChangeTag::Equal => ' ',
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
            };
            format!("{sign}{}", change.value().trim_end_matches('\n'))
        })
        .collect()
}

/// Each job of either current plan, A's in order, then those only B has.
fn jobs_compared(a: &Run, b: &Run) -> Vec<JobComparison> {
    let run_of = |run: &Run, index: usize, state: &PlanJobState| {
        let (attempts, took_ms) = run.jobs.get(&index).copied().unwrap_or_default();
        JobRun {
            state: state.clone(),
            attempts,
            took_ms,
        }
    };
    let in_b = |id: &str| {
        b.detail
            .jobs
            .iter()
            .enumerate()
            .find(|(_, job)| job.id == id)
            .map(|(index, job)| run_of(b, index, &job.state))
    };
    let mut compared: Vec<JobComparison> = a
        .detail
        .jobs
        .iter()
        .enumerate()
        .map(|(index, job)| JobComparison {
            id: job.id.clone(),
            kind: job.kind.clone(),
            a: Some(run_of(a, index, &job.state)),
            b: in_b(&job.id),
        })
        .collect();
    compared.extend(
        b.detail
            .jobs
            .iter()
            .enumerate()
            .filter(|(_, job)| !a.detail.jobs.iter().any(|mine| mine.id == job.id))
            .map(|(index, job)| JobComparison {
                id: job.id.clone(),
                kind: job.kind.clone(),
                a: None,
                b: Some(run_of(b, index, &job.state)),
            }),
    );
    compared
}

/// Named values of A and B side by side: A's names in order, then those only B has.
fn by_name(a: Vec<(String, String)>, b: Vec<(String, String)>) -> Vec<Compared> {
    let mut b_values: BTreeMap<String, String> = BTreeMap::new();
    let mut b_order = Vec::new();
    for (name, value) in b {
        b_order.push(name.clone());
        b_values.insert(name, value);
    }
    let mut compared: Vec<Compared> = a
        .into_iter()
        .map(|(name, value)| Compared {
            b: b_values.remove(&name),
            name,
            a: Some(value),
        })
        .collect();
    compared.extend(b_order.into_iter().filter_map(|name| {
        b_values.remove(&name).map(|value| Compared {
            name,
            a: None,
            b: Some(value),
        })
    }));
    compared
}
