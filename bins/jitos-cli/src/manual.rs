//! `jitos completions` and `jitos man`: shell completions and manual pages for `jitos` and
//! `jitosd`, made from the same definitions that parse their command lines, so they never
//! drift from the flags.

use std::{
    fs,
    io::Write as _,
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context, Result};
use clap::{Command, CommandFactory, ValueEnum};
use clap_complete::Shell;

use crate::cli::Cli;

/// Which program a completion script or manual page is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Program {
    /// The command-line client.
    Jitos,
    /// The daemon.
    Jitosd,
}

fn command_of(program: Program) -> Command {
    match program {
        Program::Jitos => Cli::command(),
        Program::Jitosd => jitosd::cli::DaemonArgs::command(),
    }
}

/// Prints the completion script of `program` for `shell`.
pub fn completions(shell: Shell, program: Program) -> Result<ExitCode> {
    let mut command = command_of(program);
    let name = command.get_name().to_owned();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut out);
    std::io::stdout()
        .write_all(&out)
        .context("cannot write the completions to standard output")?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the manual pages of `jitos`, each of its subcommands, and `jitosd` into `dir`,
/// and lists them.
pub fn pages(dir: &Path) -> Result<ExitCode> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    for program in [Program::Jitos, Program::Jitosd] {
        write_pages(&command_of(program), dir, &mut written)?;
    }
    for path in &written {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `command`'s page (`NAME.1`, the subcommand's names joined by `-`), then its
/// subcommands' pages.
fn write_pages(command: &Command, dir: &Path, written: &mut Vec<PathBuf>) -> Result<()> {
    let command = command.clone();
    let path = dir.join(format!("{}.1", command.get_name()));
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .with_context(|| format!("cannot render the page of {}", command.get_name()))?;
    fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path);
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let named = sub
            .clone()
            .name(format!("{}-{}", command.get_name(), sub.get_name()));
        write_pages(&named, dir, written)?;
    }
    Ok(())
}
