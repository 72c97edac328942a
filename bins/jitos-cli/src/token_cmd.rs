//! `jitos token …`: bearer tokens for the HTTP API.

use std::process::ExitCode;

use anyhow::Result;
use jitos_proto::{Request, Response, TokenView};

use crate::{cli::TokenCommand, commands::print, render::timestamp, target::Location};

/// `jitos token …`.
pub fn run(location: Location, json: bool, command: TokenCommand) -> Result<ExitCode> {
    let request = match command {
        TokenCommand::Create { name } => Request::TokenCreate { name },
        TokenCommand::List => Request::TokenList,
        TokenCommand::Revoke { id } => Request::TokenRevoke { id },
    };
    let response = location.daemon()?.call(&request)?;
    print(json, response, |response| match response {
        Response::TokenCreated(created) => Some(format!(
            "{}\n\ntoken {} ({}) stands for {}; it is shown this once: keep it where only you \
             can read it, and send it as `Authorization: Bearer TOKEN`\n",
            created.token, created.view.id, created.view.name, created.view.user
        )),
        Response::Tokens(tokens) if tokens.is_empty() => Some("no tokens\n".to_owned()),
        Response::Tokens(tokens) => Some(tokens.iter().map(line).collect()),
        _ => None,
    })
}

fn line(token: &TokenView) -> String {
    format!(
        "{}  {:<12} {}  {}\n",
        token.id,
        token.user,
        timestamp(token.created_ms),
        token.name
    )
}
