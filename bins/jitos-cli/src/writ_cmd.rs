//! `jitos key show`, `jitos writ issue|list|show|revoke` and `jitos secret
//! add|list|remove`: the grants processes run under, and what they may be given.

use std::{fmt::Write as _, io::Read as _, process::ExitCode};

use anyhow::{Context, Result};
use jitos_gov::writ::{Budget, Scope, Spent};
use jitos_proto::{
    Client, GrantView, Request, Response, SecretValue, WritSpec, WritState, WritView,
};

use crate::{
    cli::{SecretCommand, WritCommand, WritIssueArgs},
    commands::print,
    render,
    target::Location,
};

/// `jitos key show`.
pub fn key_show(client: &mut Client, json: bool) -> Result<ExitCode> {
    let response = client.call(&Request::KeyShow)?;
    print(json, response, |response| match response {
        Response::Key(key) => Some(format!("{}\n(secret half in {})\n", key.public, key.path)),
        _ => None,
    })
}

/// `jitos secret …`.
pub fn secret(client: &mut Client, json: bool, command: SecretCommand) -> Result<ExitCode> {
    let request = match command {
        SecretCommand::Add { name } => {
            let mut value = String::new();
            std::io::stdin()
                .read_to_string(&mut value)
                .context("cannot read the secret's value from standard input")?;
            if value.ends_with('\n') {
                value.pop();
            }
            Request::SecretAdd {
                name,
                value: SecretValue(value),
            }
        }
        SecretCommand::List => Request::SecretList,
        SecretCommand::Remove { name } => Request::SecretRemove { name },
    };
    let response = client.call(&request)?;
    print(json, response, |r| match r {
        Response::Secrets(names) if names.is_empty() => Some("no secrets are stored\n".to_owned()),
        Response::Secrets(names) => Some(names.iter().map(|n| format!("{n}\n")).collect()),
        _ => None,
    })
}

/// `jitos writ …`.
pub fn run(location: Location, json: bool, command: WritCommand) -> Result<ExitCode> {
    match command {
        WritCommand::Issue(args) => {
            let response = location
                .daemon()?
                .call(&Request::WritIssue(spec_of(args)))?;
            print(json, response, |response| match response {
                Response::Writ(writ) => Some(format!(
                    "writ {} issued to {}\n{}",
                    writ.id,
                    writ.writ.subject,
                    detail(writ)
                )),
                _ => None,
            })
        }
        WritCommand::List { page } => {
            let response = location
                .daemon_or_offline()?
                .query(&Request::WritList(page.request()))?;
            print(json, response, |response| match response {
                Response::Writs(page) => {
                    let mut text = String::new();
                    if page.items.is_empty() {
                        text.push_str("no writ is in force\n");
                    }
                    for writ in &page.items {
                        let _ = writeln!(text, "{}", line(writ));
                    }
                    if let Some(next) = page.next {
                        let _ = writeln!(text, "more: --after {next}");
                    }
                    Some(text)
                }
                _ => None,
            })
        }
        WritCommand::Show { id } => {
            let response = location
                .daemon_or_offline()?
                .query(&Request::WritShow(id))?;
            print(json, response, |response| match response {
                Response::Writ(writ) => Some(format!("writ {}\n{}", writ.id, detail(writ))),
                _ => None,
            })
        }
        WritCommand::Raise {
            id,
            jobs,
            wall_secs,
            budgets,
            reason,
        } => {
            let response = location.daemon()?.call(&Request::WritRaise {
                writ: id,
                jobs,
                wall_secs,
                counters: budgets.into_iter().collect(),
                reason,
            })?;
            print(json, response, |response| match response {
                Response::WritRaised { seq } => Some(format!(
                    "writ {id}'s budgets raised (record {seq}); `jitos writ show {id}` shows them\n"
                )),
                _ => None,
            })
        }
        WritCommand::Revoke { id, reason } => {
            let response = location
                .daemon()?
                .call(&Request::WritRevoke { writ: id, reason })?;
            print(json, response, |response| {
                match response {
                Response::WritRevoked { seq } => Some(format!(
                    "writ {id} and every writ delegated from it revoked (record {seq}); processes under them stop\n"
                )),
                _ => None,
            }
            })
        }
    }
}

fn spec_of(args: WritIssueArgs) -> WritSpec {
    WritSpec {
        to: args.to,
        from: args.from,
        workers: args.workers,
        paths: args.paths,
        effect: args.effect,
        jobs: args.jobs,
        wall_secs: args.wall_secs,
        counters: args.budgets,
        // `--secrets ''` grants none.
        secrets: args
            .secrets
            .map(|names| names.into_iter().filter(|name| !name.is_empty()).collect()),
        egress: args.egress.map(|entries| {
            entries
                .into_iter()
                .filter(|e| !e.trim().is_empty())
                .collect()
        }),
        expires_secs: args.expires,
        depth: args.depth,
    }
}

/// One writ in a line, for `writ list`.
fn line(writ: &WritView) -> String {
    let w = &writ.writ;
    format!(
        "{:>6}  {:<10}  {:<12}  to {}  workers {}  jobs {}  expires {}{}",
        writ.id,
        state_name(&writ.state),
        w.effect.name(),
        w.subject.user,
        scope(&w.workers),
        left(&writ.budget, writ.spent.as_ref(), |b| b.jobs, |s| s.jobs),
        render::timestamp(w.expires_ms),
        writ.for_process
            .map(|p| format!("  process {p}"))
            .unwrap_or_default()
    )
}

/// Everything about one writ, for `writ show` and `writ issue`.
fn detail(writ: &WritView) -> String {
    let w = &writ.writ;
    let mut text = String::new();
    let mut field = |name: &str, value: String| {
        let _ = writeln!(text, "  {name:<10} {value}");
    };
    field("state", state_text(&writ.state));
    field("subject", w.subject.to_string());
    field("issuer", w.issuer.to_string());
    field(
        "grant",
        match &writ.grant {
            GrantView::Issued => "issued".to_owned(),
            GrantView::Derived { roles } => format!("derived from the roles {}", names(roles)),
            GrantView::Delegated { roles } => {
                format!("delegated for a process submitted as {}", names(roles))
            }
        },
    );
    if let Some(parent) = w.parent {
        field("parent", format!("writ {parent}"));
    }
    if let Some(process) = writ.for_process {
        field("process", process.to_string());
    }
    field("workers", scope(&w.workers));
    field("paths", scope(&w.paths));
    field("effect", format!("up to {}", w.effect));
    field(
        "egress",
        match &w.egress {
            jitos_gov::writ::Scope::All => "any host".to_owned(),
            jitos_gov::writ::Scope::Only(entries) if entries.is_empty() => "none".to_owned(),
            jitos_gov::writ::Scope::Only(entries) => {
                entries.iter().cloned().collect::<Vec<_>>().join("; ")
            }
        },
    );
    let spent = writ.spent.as_ref();
    field("jobs", left(&writ.budget, spent, |b| b.jobs, |s| s.jobs));
    field(
        "wall secs",
        left(&writ.budget, spent, |b| b.wall_secs, |s| s.wall_secs),
    );
    for (name, limit) in &writ.budget.counters {
        let used = spent.map(|s| s.counter(name));
        field(
            name,
            match used {
                Some(used) => format!("{used} of {limit} spent"),
                None => format!("{limit}"),
            },
        );
    }
    // What was spent of counters the writ does not bound (a model call's tokens and
    // cost are charged whether or not they are bounded).
    for (name, used) in spent.map(|s| &s.counters).into_iter().flatten() {
        if !writ.budget.counters.contains_key(name) {
            field(name, format!("{used} spent (unbounded)"));
        }
    }
    if !w.secrets.is_empty() {
        field(
            "secrets",
            w.secrets.iter().cloned().collect::<Vec<_>>().join(", "),
        );
    }
    field("issued", render::timestamp(w.issued_ms));
    field("expires", render::timestamp(w.expires_ms));
    field("depth", format!("{} further delegation(s)", w.depth));
    field("signature", writ.signature.clone());
    text
}

fn names(roles: &[jitos_gov::Role]) -> String {
    let names: Vec<&str> = roles.iter().map(|r| r.name()).collect();
    names.join(", ")
}

fn left(
    budget: &Budget,
    spent: Option<&Spent>,
    limit: impl Fn(&Budget) -> u64,
    used: impl Fn(&Spent) -> u64,
) -> String {
    match spent {
        Some(spent) => format!("{} of {} spent", used(spent), limit(budget)),
        None => limit(budget).to_string(),
    }
}

fn scope(scope: &Scope) -> String {
    match scope {
        Scope::All => "all".to_owned(),
        Scope::Only(names) if names.is_empty() => "none".to_owned(),
        Scope::Only(names) => names.iter().cloned().collect::<Vec<_>>().join(","),
    }
}

fn state_name(state: &WritState) -> &'static str {
    match state {
        WritState::InForce => "in force",
        WritState::Revoked { .. } => "revoked",
        WritState::Expired => "expired",
        WritState::Ended => "ended",
    }
}

fn state_text(state: &WritState) -> String {
    match state {
        WritState::Revoked { seq, writ, reason } => {
            format!("revoked by record {seq} (writ {writ}): {reason}")
        }
        other => state_name(other).to_owned(),
    }
}
