//! `jitos policy check|show|simulate`: the rules every job is ruled by, as a person reads
//! them.

use std::{fmt::Write as _, path::Path, process::ExitCode};

use anyhow::{Context, Result};
use jitos_proto::{Request, Response};

use crate::{
    cli::PolicyCommand,
    commands::{emit_json, print},
    target::Location,
};

/// `jitos policy …`.
pub fn run(location: Location, json: bool, command: PolicyCommand) -> Result<ExitCode> {
    match command {
        PolicyCommand::Check { file } => check(json, &file),
        PolicyCommand::Show => {
            let response = location.daemon_or_offline()?.query(&Request::PolicyShow)?;
            print(json, response, |r| match r {
                Response::Policy(policy) => {
                    let mut text = match policy.seq {
                        Some(seq) => format!("policy {} in force since record {seq}\n", policy.hash),
                        None => "no policy was ever recorded: every job is allowed and none is ruled on\n".to_owned(),
                    };
                    let _ = writeln!(text, "default: {}", policy.default);
                    for rule in &policy.rules {
                        let _ = writeln!(text, "{rule}");
                    }
                    Some(text)
                }
                _ => None,
            })
        }
        PolicyCommand::Simulate { file, from } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read the policy {}", file.display()))?;
            let request = Request::PolicySimulate {
                text,
                path: file.display().to_string(),
                from,
            };
            let response = location.daemon_or_offline()?.query(&request)?;
            print(json, response, |r| match r {
                Response::PolicySimulation(simulation) => {
                    let mut text = format!(
                        "{} recorded ruling{} ruled on again under {}: {} would change\n",
                        simulation.rulings,
                        if simulation.rulings == 1 { "" } else { "s" },
                        simulation.hash.get(..12).unwrap_or(&simulation.hash),
                        simulation.changes.len()
                    );
                    for change in &simulation.changes {
                        let _ = writeln!(
                            text,
                            "seq {}: process {} job #{}: was {}; now {}",
                            change.seq,
                            change.process,
                            change.job + 1,
                            change.was,
                            change.now
                        );
                    }
                    Some(text)
                }
                _ => None,
            })
        }
    }
}

/// `jitos policy check FILE`: parsed here, as the daemon would.
fn check(json: bool, file: &Path) -> Result<ExitCode> {
    let policy = jitos_gov::policy::Policy::load(file)
        .map_err(anyhow::Error::from)
        .and_then(|policy| jitosd::policy_file::check(policy, file).map_err(anyhow::Error::from))?;
    if json {
        emit_json(&serde_json::json!({
            "hash": policy.hash().to_hex(),
            "default": policy.default_verdict().to_string(),
            "rules": policy.rules().iter().map(ToString::to_string).collect::<Vec<_>>(),
        }))?;
    } else {
        println!(
            "{}: ok, policy {} with {} rule{}, default {}",
            file.display(),
            policy.hash().short(),
            policy.rules().len(),
            if policy.rules().len() == 1 { "" } else { "s" },
            policy.default_verdict()
        );
        for rule in policy.rules() {
            println!("{rule}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
