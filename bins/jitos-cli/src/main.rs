//! `jitos`: the operator CLI for the JITOS daemon.

mod cli;
mod commands;
mod demo;
mod diff_cmd;
mod job_cmd;
mod manual;
mod mcp;
mod policy_cmd;
mod process_cmd;
mod relay;
mod render;
mod sandbox_cmd;
mod sws_cmd;
mod target;
mod token_cmd;
mod tree_cmd;
mod writ_cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // The demo embeds a daemon, which must outlive a worker or client that hangs up.
    if !matches!(cli.command, cli::Command::Demo { .. }) {
        die_quietly_on_closed_stdout();
    }
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("jitos: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `jitos log | head` closes the pipe early: end as a Unix tool does, by SIGPIPE, rather
/// than with a panic message from `print!`. Rust starts programs with SIGPIPE ignored.
#[allow(unsafe_code)]
fn die_quietly_on_closed_stdout() {
    // SAFETY: setting a signal's disposition to its default installs no handler code, and
    // runs before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
