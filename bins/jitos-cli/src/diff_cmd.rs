//! `jitos diff A B`: two processes side by side — their plans, how each job went, the
//! files each changed in the system, and the environments they ran in.

use std::{fmt::Write as _, process::ExitCode};

use anyhow::Result;
use jitos_proto::{Client, Compared, JobRun, Request, Response, RunComparison, RunSide};

use crate::commands::print;

/// `jitos diff A B`.
pub fn diff(client: &mut Client, json: bool, a: u64, b: u64) -> Result<ExitCode> {
    let response = client.call(&Request::ProcessDiff { a, b })?;
    print(json, response, |r| match r {
        Response::ProcessComparison(comparison) => Some(comparison_text(comparison)),
        _ => None,
    })
}

fn comparison_text(c: &RunComparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "A: {}", side_line(&c.a));
    let _ = writeln!(out, "B: {}", side_line(&c.b));
    if c.a.params != c.b.params {
        let params = |side: &RunSide| {
            side.params
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let _ = writeln!(
            out,
            "params differ:\n  A: {}\n  B: {}",
            params(&c.a),
            params(&c.b)
        );
    }
    if c.plans_diff.is_empty() {
        out.push_str("plans: the same\n");
    } else {
        out.push_str("plans differ (- A, + B):\n");
        for line in &c.plans_diff {
            let _ = writeln!(out, "  {line}");
        }
    }
    out.push_str("jobs:\n");
    let width = c.jobs.iter().map(|j| j.id.len()).max().unwrap_or(0);
    let kind_width = c
        .jobs
        .iter()
        .map(|j| j.kind.to_string().len())
        .max()
        .unwrap_or(0);
    for job in &c.jobs {
        let mark = if job.differs() { '*' } else { ' ' };
        let _ = writeln!(
            out,
            "{mark} {:width$}  {:kind_width$}  A: {:30}  B: {}",
            job.id,
            job.kind,
            job_text(job.a.as_ref()),
            job_text(job.b.as_ref()),
        );
    }
    compared_section(
        &mut out,
        "files changed in the system",
        &c.files,
        "unchanged",
    );
    if !c.a.environment_recorded || !c.b.environment_recorded {
        let which: Vec<&str> = [("A", &c.a), ("B", &c.b)]
            .into_iter()
            .filter(|(_, side)| !side.environment_recorded)
            .map(|(name, _)| name)
            .collect();
        let _ = writeln!(
            out,
            "environment: not recorded for {} (submitted before environments were)",
            which.join(" and ")
        );
    }
    if c.a.environment_recorded && c.b.environment_recorded {
        compared_section(&mut out, "environment", &c.environment, "absent");
    }
    for (name, side) in [("A", &c.a), ("B", &c.b)] {
        if side.partial {
            let _ = writeln!(
                out,
                "{name} was compared on part of itself: its log or its collapses are longer than a comparison reads"
            );
        }
    }
    out
}

fn side_line(side: &RunSide) -> String {
    let s = &side.summary;
    format!(
        "process {}  goal {}  {}  plan {} of {}  {} attempts  {:.2} s",
        s.id,
        s.goal,
        s.status,
        s.plan,
        s.plans,
        s.attempts,
        side.took_ms as f64 / 1000.0
    )
}

fn job_text(run: Option<&JobRun>) -> String {
    match run {
        None => "(not in its plan)".to_owned(),
        Some(run) => format!(
            "{} ({} attempt{}, {:.2} s)",
            run.state,
            run.attempts,
            if run.attempts == 1 { "" } else { "s" },
            run.took_ms as f64 / 1000.0
        ),
    }
}

/// A section of named values: how many are the same, then each that differs.
fn compared_section(out: &mut String, title: &str, items: &[Compared], missing: &str) {
    let same = items.iter().filter(|item| !item.differs()).count();
    let _ = writeln!(
        out,
        "{title}: {same} the same, {} differ",
        items.len() - same
    );
    for item in items.iter().filter(|item| item.differs()) {
        let value = |v: &Option<String>| v.clone().unwrap_or_else(|| format!("({missing})"));
        let _ = writeln!(
            out,
            "* {}\n    A: {}\n    B: {}",
            item.name,
            value(&item.a),
            value(&item.b)
        );
    }
}
