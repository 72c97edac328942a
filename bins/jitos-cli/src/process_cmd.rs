//! `jitos submit`, `wait`, `plan`, `ps`, `inspect`, `cancel`, `resume`, `approve`,
//! `reject` and `log --process`: processes as an operator sees them.

use std::{fmt::Write as _, path::Path, process::ExitCode, time::Instant};

use anyhow::{bail, Context, Result};
use jitos_proto::{
    AnswerView, Client, PageRequest, ProcessDetail, ProcessStatus, ProcessSummary, RecordView,
    Request, Response,
};

use crate::{
    cli::PageArgs,
    commands::{emit_json, print},
    render,
};

/// Exit status of `submit --wait` when the process waits for a person.
const EXIT_WAITING: u8 = 3;

/// The text of an intent file, and its name for messages.
fn read_intent(file: &Path) -> Result<(String, String)> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the intent {}", file.display()))?;
    Ok((text, file.display().to_string()))
}

/// `jitos submit FILE [--wait]`.
pub fn submit(
    client: &mut Client,
    json: bool,
    file: &Path,
    wait: bool,
    writ: Option<u64>,
) -> Result<ExitCode> {
    let (intent, path) = read_intent(file)?;
    let request = Request::ProcessSubmit { intent, path, writ };
    let (process, plans, writ) = match client.call(&request)? {
        Response::ProcessSubmitted {
            process,
            plans,
            writ,
        } => (process, plans, writ),
        other => return print(json, other, |_| None),
    };
    if !wait {
        if json {
            emit_json(&serde_json::json!({ "process": process, "plans": plans, "writ": writ }))?;
        } else {
            println!(
                "process {process} submitted with {plans} plan{}{}; `jitos inspect {process}` shows it",
                if plans == 1 { "" } else { "s" },
                writ.map(|w| format!(" under writ {w}")).unwrap_or_default()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    follow(client, json, process)
}

/// `jitos wait PID`, and `submit --wait`: prints the process's records as they commit
/// until it ends or waits for a person. The daemon streams its changes, so nothing here
/// polls.
pub fn follow(client: &mut Client, json: bool, process: u64) -> Result<ExitCode> {
    let started = Instant::now();
    client.send(&Request::ProcessFollow(process))?;
    loop {
        let detail = match client.receive()? {
            Response::ProcessProgress { records, .. } => {
                if !json {
                    for record in &records {
                        println!("{}", render::record_line(record));
                    }
                }
                continue;
            }
            Response::Process(detail) => detail,
            other => return print(json, other, |_| None),
        };
        let status = detail.summary.status;
        if json {
            emit_json(&detail)?;
        } else {
            println!(
                "process {process} is {status} after {:.1} s{}",
                started.elapsed().as_secs_f64(),
                detail
                    .summary
                    .detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            );
            if let Some((_, wanted)) = &detail.waiting {
                println!(
                    "answer with {}",
                    wanted.replace("PID", &process.to_string())
                );
            }
        }
        return Ok(match status {
            ProcessStatus::Done => ExitCode::SUCCESS,
            ProcessStatus::Waiting => ExitCode::from(EXIT_WAITING),
            ProcessStatus::Running | ProcessStatus::Failed | ProcessStatus::Cancelled => {
                ExitCode::FAILURE
            }
        });
    }
}

/// `jitos plan FILE [--explain]`.
pub fn plan(client: &mut Client, json: bool, file: &Path, explain: bool) -> Result<ExitCode> {
    let (intent, path) = read_intent(file)?;
    let response = client.call(&Request::ProcessPlan { intent, path })?;
    print(json, response, |r| match r {
        Response::ProcessPlan { explain: text, .. } if explain => Some(text.clone()),
        Response::ProcessPlan {
            explain: text,
            plans,
        } => {
            let first = text.lines().next().unwrap_or_default();
            Some(format!(
                "{first}\n{plans} plan{} in all; --explain shows the decomposition and the jobs\n",
                if *plans == 1 { "" } else { "s" }
            ))
        }
        _ => None,
    })
}

/// `jitos ps [--all | --waiting-for-me]`.
pub fn ps(
    client: &mut Client,
    json: bool,
    all: bool,
    waiting_for_me: bool,
    page: &PageArgs,
) -> Result<ExitCode> {
    let response = client.call(&Request::ProcessList {
        all,
        waiting_for_me,
        page: page.request(),
    })?;
    let command = match (all, waiting_for_me) {
        (_, true) => "ps --waiting-for-me",
        (true, false) => "ps --all",
        (false, false) => "ps",
    };
    if waiting_for_me {
        return print(json, response, |r| match r {
            Response::Processes(list) if list.items.is_empty() => {
                Some("nothing waits for your approval\n".to_owned())
            }
            Response::Processes(list) => Some(
                ps_text(&list.items, false)
                    + &list
                        .next
                        .map(|next| render::more(command, page.limit, &next))
                        .unwrap_or_default(),
            ),
            _ => None,
        });
    }
    print(json, response, |r| match r {
        Response::Processes(list) => Some(
            ps_text(&list.items, all)
                + &list
                    .next
                    .map(|next| render::more(command, page.limit, &next))
                    .unwrap_or_default(),
        ),
        _ => None,
    })
}

fn ps_text(list: &[ProcessSummary], all: bool) -> String {
    if list.is_empty() {
        return if all {
            "no processes yet; `jitos submit FILE` starts one\n".to_owned()
        } else {
            "no live processes; `jitos ps --all` shows the ended ones\n".to_owned()
        };
    }
    let mut out = format!(
        "{:>6}  {:<20}  {:<9}  {:>5}  {:>7}  {:>8}  DETAIL\n",
        "PID", "GOAL", "STATUS", "PLAN", "JOBS", "ATTEMPTS"
    );
    for p in list {
        let _ = writeln!(
            out,
            "{:>6}  {:<20}  {:<9}  {:>5}  {:>7}  {:>8}  {}",
            p.id,
            p.goal,
            p.status,
            format!("{}/{}", p.plan, p.plans),
            format!("{}/{}", p.jobs_done, p.jobs),
            p.attempts,
            p.detail.as_deref().unwrap_or("")
        );
    }
    out
}

/// `jitos inspect PID`.
pub fn inspect(client: &mut Client, json: bool, process: u64) -> Result<ExitCode> {
    let response = client.call(&Request::ProcessShow(process))?;
    print(json, response, |r| match r {
        Response::Process(detail) => Some(inspect_text(detail)),
        _ => None,
    })
}

fn inspect_text(d: &ProcessDetail) -> String {
    let s = &d.summary;
    let mut out = format!(
        "process {}  goal {}  {}  plan {} of {}  {} attempts\n",
        s.id, s.goal, s.status, s.plan, s.plans, s.attempts
    );
    let _ = writeln!(out, "submitted {}", render::timestamp(s.submitted_ms));
    for (k, v) in &d.params {
        let _ = writeln!(out, "param {k} = {v:?}");
    }
    if let Some((question, wanted)) = &d.waiting {
        let _ = writeln!(out, "WAITING: {question}");
        let _ = writeln!(
            out,
            "  answer with {}",
            wanted.replace("PID", &s.id.to_string())
        );
        if d.waiting_files.is_empty() {
            let _ = writeln!(out, "  its workspace has changed no file");
        }
        for file in &d.waiting_files {
            let _ = writeln!(out, "  its workspace has {file}");
        }
    } else if let Some(detail) = &s.detail {
        let _ = writeln!(out, "{detail}");
    }
    let _ = writeln!(out, "workspaces:");
    for lane in &d.lanes {
        let sws = lane.sws.map(|s| format!("sws {s}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  w{}  {:<10} {:<9} {}",
            lane.lane, lane.state, sws, lane.path
        );
    }
    let _ = writeln!(out, "jobs:");
    for (index, job) in d.jobs.iter().enumerate() {
        let _ = writeln!(
            out,
            "  #{:<3} w{}  {:<10} {}  — {}",
            index + 1,
            job.lane,
            job.kind,
            job.id,
            job.state
        );
        if let Some(ruling) = &job.ruling {
            let _ = writeln!(out, "        ruled: {ruling}");
        }
    }
    match &d.environment {
        Some(entries) => {
            let _ = writeln!(out, "environment:");
            for (name, value) in entries {
                let _ = writeln!(out, "  {name}: {value}");
            }
        }
        None => {
            let _ = writeln!(
                out,
                "environment: not recorded (submitted before environments were)"
            );
        }
    }
    out.push('\n');
    out.push_str(&d.explain);
    out
}

/// `jitos cancel PID`, `resume`, `approve`, `reject`: one recorded request.
pub fn act(client: &mut Client, json: bool, request: Request, what: &str) -> Result<ExitCode> {
    let process = match &request {
        Request::ProcessCancel(p)
        | Request::ProcessAnswer { process: p, .. }
        | Request::ProcessVote { process: p, .. } => *p,
        _ => 0,
    };
    let response = client.call(&request)?;
    print(json, response, |r| match r {
        Response::ProcessRecorded { seq } => Some(format!(
            "process {process} {what} (record {seq}); `jitos inspect {process}` follows it\n"
        )),
        _ => None,
    })
}

/// The answer `jitos resume --value JSON` gives: `"retry"`, `"skip"` and `"fail"` answer a
/// failure or crash question; any other JSON is the value of an ask.
pub fn answer_of(value: &str) -> Result<AnswerView> {
    let parsed: serde_json::Value = serde_json::from_str(value).with_context(|| {
        format!("--value {value:?} is not JSON; quote a string, e.g. --value '\"yes\"'")
    })?;
    Ok(match parsed.as_str() {
        Some("retry") => AnswerView::Retry,
        Some("skip") => AnswerView::Skip,
        Some("fail") => AnswerView::Fail,
        _ => AnswerView::Value(value.to_owned()),
    })
}

/// `jitos log --process PID`, a page at a time.
pub fn log(client: &mut Client, json: bool, process: u64, page: PageRequest) -> Result<ExitCode> {
    let limit = page.limit;
    let response = client.call(&Request::ProcessLog { process, page })?;
    print(json, response, |r| match r {
        Response::ProcessLog(records) => Some(
            records_text(&records.items)
                + &records
                    .next
                    .map(|next| render::more(&format!("log --process {process}"), limit, &next))
                    .unwrap_or_default(),
        ),
        _ => None,
    })
}

/// Every record of a process, read a page at a time.
pub fn all_records(client: &mut Client, process: u64) -> Result<Vec<RecordView>> {
    let mut records = Vec::new();
    let mut page = PageRequest::first();
    loop {
        match client.call(&Request::ProcessLog {
            process,
            page: page.clone(),
        })? {
            Response::ProcessLog(got) => {
                records.extend(got.items);
                match got.next {
                    Some(next) => page.after = Some(next),
                    None => return Ok(records),
                }
            }
            Response::Error(e) => bail!("{}", e.message),
            other => bail!("jitosd sent an unexpected answer: {other:?}"),
        }
    }
}

fn records_text(records: &[RecordView]) -> String {
    records
        .iter()
        .map(|record| render::record_line(record) + "\n")
        .collect()
}
