//! `explain`: a plan as a person reads it — the decomposition, with the method chosen for
//! each task and why earlier ones did not apply, then the jobs by workspace with what each
//! waits for. The text is a function of the plans only, so it can be golden-tested.

use std::fmt::Write as _;

use crate::{
    dag::Purpose,
    dag::{Dag, JobKind},
    model::Effect,
    plan::{Decomposition, Node, Slap},
};

/// Every candidate: the first in full, the others by the methods they choose.
pub fn explain(slaps: &[Slap]) -> String {
    let mut out = String::new();
    let Some(first) = slaps.first() else {
        return "no plan\n".to_owned();
    };
    let _ = writeln!(
        out,
        "plan 1 of {} for {}{}",
        slaps.len(),
        first.tree.task,
        params_text(&first.tree)
    );
    tree_text(&mut out, &first.tree, 1);
    dag_text(&mut out, &first.dag);
    for slap in &slaps[1..] {
        let _ = writeln!(
            out,
            "plan {}: {}",
            slap.index + 1,
            slap.tree.choices().join(", ")
        );
    }
    out
}

fn params_text(tree: &Decomposition) -> String {
    if tree.params.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = tree
        .params
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    format!(" ({})", pairs.join(", "))
}

fn tree_text(out: &mut String, tree: &Decomposition, depth: usize) {
    let indent = "  ".repeat(depth);
    match &tree.node {
        Node::Run(run) => {
            let _ = writeln!(
                out,
                "{indent}{}: run {} {}{}",
                tree.task,
                run.worker,
                run.args.join(" "),
                if run.gate { "  [gate]" } else { "" }
            );
        }
        Node::Ask(ask) => {
            let _ = writeln!(out, "{indent}{}: ask {:?}", tree.task, ask.question);
        }
        Node::Method {
            method,
            race,
            steps,
            skipped,
            ..
        } => {
            let how = if *race { " (race)" } else { "" };
            let _ = writeln!(out, "{indent}{} by method {method}{how}", tree.task);
            for (name, why) in skipped {
                let _ = writeln!(out, "{indent}  (method {name} does not apply: {why})");
            }
            for step in steps {
                let after = if step.after.is_empty() {
                    String::new()
                } else {
                    format!(" after {}", step.after.join(", "))
                };
                let _ = writeln!(out, "{indent}  step {}{after}:", step.id);
                tree_text(out, &step.sub, depth + 2);
            }
        }
    }
}

fn dag_text(out: &mut String, dag: &Dag) {
    let _ = writeln!(
        out,
        "jobs ({}, in {} workspace{}):",
        dag.jobs.len(),
        dag.lanes.len(),
        if dag.lanes.len() == 1 { "" } else { "s" }
    );
    for (index, job) in dag.jobs.iter().enumerate() {
        let what = match &job.kind {
            JobKind::Run {
                worker,
                effect,
                idempotent,
                timeout_ms,
                retries,
                gate,
                ..
            } => {
                let mut notes = vec![format!("{} s", timeout_ms / 1000)];
                match retries {
                    0 => {}
                    1 => notes.push("1 retry".to_owned()),
                    n => notes.push(format!("{n} retries")),
                }
                if *idempotent {
                    notes.push("idempotent".to_owned());
                }
                if *gate {
                    notes.push("gate".to_owned());
                }
                match effect {
                    Effect::None => {}
                    Effect::Workspace => notes.push("changes files".to_owned()),
                    Effect::Local => notes.push("effect: local".to_owned()),
                    Effect::Network => notes.push("effect: network".to_owned()),
                    Effect::Irreversible => notes.push("effect: irreversible".to_owned()),
                }
                match job.purpose {
                    Purpose::Step => {}
                    Purpose::Verify { of } => notes.push(format!("verifies #{}", of + 1)),
                    Purpose::Compensate { of } => notes.push(format!("undoes #{}", of + 1)),
                }
                format!("run {worker} ({})", notes.join(", "))
            }
            JobKind::Ask { .. } => "ask a person".to_owned(),
            JobKind::Race { lanes } => {
                let lanes: Vec<String> = lanes.iter().map(|l| format!("w{l}")).collect();
                format!("race of {}: the first to pass collapses", lanes.join(", "))
            }
        };
        let after = if job.after.is_empty() {
            String::new()
        } else {
            let after: Vec<String> = job.after.iter().map(|a| format!("#{}", a + 1)).collect();
            format!("  after {}", after.join(" "))
        };
        let _ = writeln!(
            out,
            "  #{:<3} w{}  {}  {what}{after}",
            index + 1,
            job.lane,
            job.id
        );
    }
}
