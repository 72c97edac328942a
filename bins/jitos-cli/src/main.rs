//! `jitos`: the operator CLI for the JITOS daemon.

mod cli;
mod commands;
mod demo;
mod job_cmd;
mod render;
mod sandbox_cmd;
mod sws_cmd;
mod target;
mod tree_cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("jitos: {e:#}");
            ExitCode::FAILURE
        }
    }
}
