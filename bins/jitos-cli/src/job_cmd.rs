//! `jitos job ...` and the daemon-side `jitos worker ...` commands.

use std::{
    io::{IsTerminal, Read},
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use jitos_proto::{AttemptState, AttemptView, Client, JobSpec, Request, Response, WorkerView};
use jitos_tree::{Entry, Tree, TreePath};
use jitos_warp::BlobRef;

use crate::{
    cli::{JobCommand, JobRunArgs},
    commands::{emit_json, print},
    render, tree_cmd,
};

/// How often the waiting spinner moves.
const SPINNER_TICK: Duration = Duration::from_millis(120);

/// Name of the artifacts that hold a command's captured output.
const OUTPUT_ARTIFACTS: [&str; 2] = ["stdout", "stderr"];

/// Runs a `jitos job` command.
pub fn run(client: &mut Client, json: bool, command: JobCommand) -> Result<ExitCode> {
    match command {
        JobCommand::Run(args) => run_job(client, json, args),
        JobCommand::Show { id } => {
            let response = client.call(&Request::JobShow(id))?;
            let ended_well = matches!(&response, Response::Job(view) if succeeded(view));
            let code = print(json, response, |r| match r {
                Response::Job(view) => Some(attempt_text(view)),
                _ => None,
            })?;
            Ok(if ended_well { code } else { ExitCode::FAILURE })
        }
        JobCommand::List { all, page } => {
            let response = client.call(&Request::JobList {
                all,
                page: page.request(),
            })?;
            let command = if all { "job list --all" } else { "job list" };
            print(json, response, |r| match r {
                Response::Jobs(list) => Some(
                    list_text(&list.items, all)
                        + &list
                            .next
                            .map(|next| render::more(command, page.limit, &next))
                            .unwrap_or_default(),
                ),
                _ => None,
            })
        }
        JobCommand::Cancel { id } => {
            let response = client.call(&Request::JobCancel(id))?;
            print(json, response, |r| {
                match r {
                Response::Cancelling { attempt } => Some(format!(
                    "attempt {attempt}: the worker was asked to stop; `jitos job show {attempt}` shows its end\n"
                )),
                _ => None,
            }
            })
        }
    }
}

fn run_job(client: &mut Client, json: bool, args: JobRunArgs) -> Result<ExitCode> {
    let input = match &args.input {
        None => Vec::new(),
        Some(path) if path == Path::new("-") => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read the job's input from stdin")?;
            bytes
        }
        Some(path) => std::fs::read(path)
            .with_context(|| format!("cannot read the job's input {}", path.display()))?,
    };
    let deadline_ms = match args.deadline {
        Some(secs) if secs.is_finite() && secs > 0.0 => Some((secs * 1000.0).ceil() as u64),
        Some(secs) => bail!("--deadline {secs} is not a positive number of seconds"),
        None => None,
    };
    let (sws, created) = match args.sws {
        Some(sws) => (sws, false),
        None => {
            let sws = create_workspace(client)?;
            if !json {
                eprintln!("created workspace {sws} for the job");
            }
            (sws, true)
        }
    };
    let spinner = waiting(json || args.detach, &args.worker);
    let spec = JobSpec {
        worker: args.worker,
        sws,
        args: args.args,
        input,
        deadline_ms,
        paths: args.paths,
        wait: !args.detach,
        writ: args.writ,
    };
    let response = client.call(&Request::JobRun(spec));
    spinner.finish_and_clear();
    let response = response?;
    if let Response::JobStarted { attempt } = response {
        if json {
            emit_json(&serde_json::json!({ "attempt": attempt, "sws": sws }))?;
        } else {
            println!("attempt {attempt} dispatched into workspace {sws}; `jitos job show {attempt}` follows it");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let view = match response {
        Response::Job(view) => view,
        Response::Error(refusal) if created => {
            // The workspace was made for this job alone; end it rather than leave it open.
            let reason = format!("its job was refused: {}", refusal.message);
            client.call(&Request::SwsDiscard { sws, reason })?;
            return print(json, Response::Error(refusal), |_| None);
        }
        other => return print(json, other, |_| None),
    };
    if json {
        emit_json(&view)?;
    } else {
        print!("{}", attempt_text(&view));
        print_output(client, &view)?;
    }
    Ok(if succeeded(&view) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A spinner with the time spent on stderr while a waited job runs; hidden for scripts
/// (`quiet`) and when stderr is not a terminal.
fn waiting(quiet: bool, worker: &str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_message(format!("worker {worker} running"));
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(SPINNER_TICK);
    bar
}

/// Creates a workspace over the system's head; its id.
pub fn create_workspace(client: &mut Client) -> Result<u64> {
    match client.call(&Request::SwsCreate {
        at: None,
        parent: None,
    })? {
        Response::SwsRecorded { sws, .. } => Ok(sws),
        Response::Error(e) => bail!("cannot create a workspace for the job: {}", e.message),
        other => bail!("jitosd sent an unexpected answer: {other:?}"),
    }
}

/// Whether an attempt's proposal was applied and the worker's own status is 0.
fn succeeded(view: &AttemptView) -> bool {
    matches!(view.state, AttemptState::Done { exit_status: 0, .. })
}

/// Prints the captured output artifacts of a done attempt, each under a heading.
fn print_output(client: &mut Client, view: &AttemptView) -> Result<()> {
    let AttemptState::Done { artifacts, .. } = &view.state else {
        return Ok(());
    };
    for wanted in OUTPUT_ARTIFACTS {
        let Some((_, blob)) = artifacts.iter().find(|(name, _)| name == wanted) else {
            continue;
        };
        let blob: BlobRef = blob
            .parse()
            .map_err(|e| anyhow::anyhow!("jitosd named an unreadable blob {blob}: {e}"))?;
        let bytes = tree_cmd::fetch_blobs(client, vec![blob])?
            .into_iter()
            .next()
            .unwrap_or_default();
        if bytes.is_empty() {
            continue;
        }
        println!("--- {wanted} ---");
        print!("{}", String::from_utf8_lossy(&bytes));
        if !bytes.ends_with(b"\n") {
            println!();
        }
    }
    Ok(())
}

fn attempt_text(view: &AttemptView) -> String {
    let mut text = format!(
        "attempt {}  worker {} {}  workspace {}\n  {}\n",
        view.id, view.worker, view.worker_version, view.sws, view.state
    );
    if !view.args.is_empty() {
        text.push_str(&format!("  args: {}\n", view.args.join(" ")));
    }
    if !view.paths.is_empty() {
        text.push_str(&format!("  may touch: {}\n", view.paths.join(", ")));
    }
    if let AttemptState::Done { artifacts, .. } = &view.state {
        for (name, blob) in artifacts {
            text.push_str(&format!("  artifact {name}  {blob}\n"));
        }
    }
    text
}

fn list_text(list: &[AttemptView], all: bool) -> String {
    if list.is_empty() {
        return if all {
            "no attempts yet; `jitos job run` starts one\n".to_owned()
        } else {
            "no attempts running; `jitos job list --all` shows the ended ones\n".to_owned()
        };
    }
    let mut text = format!("{:>8}  {:<12}  {:>6}  STATE\n", "ATTEMPT", "WORKER", "SWS");
    for view in list {
        text.push_str(&format!(
            "{:>8}  {:<12}  {:>6}  {}\n",
            view.id, view.worker, view.sws, view.state
        ));
    }
    text
}

/// `jitos worker list`.
pub fn list_workers(
    client: &mut Client,
    json: bool,
    page: jitos_proto::PageRequest<String>,
) -> Result<ExitCode> {
    let limit = page.limit;
    let response = client.call(&Request::WorkerList(page))?;
    print(json, response, |r| match r {
        Response::Workers(workers) => Some(
            workers_text(&workers.items)
                + &workers
                    .next
                    .as_ref()
                    .map(|next| render::more("worker list", limit, next))
                    .unwrap_or_default(),
        ),
        _ => None,
    })
}

fn workers_text(workers: &[WorkerView]) -> String {
    let mut text = format!(
        "{:<16}  {:<10}  {:<9}  {:<7}  {:<9}  BINARY\n",
        "NAME", "VERSION", "ORIGIN", "PROFILE", "EFFECTS"
    );
    for w in workers {
        text.push_str(&format!(
            "{:<16}  {:<10}  {:<9}  {:<7}  {:<9}  {}\n",
            w.name, w.version, w.origin, w.profile, w.effect_class, w.binary
        ));
        for (path, access) in &w.needs {
            text.push_str(&format!("{:<16}  needs {access} {path}\n", ""));
        }
        let l = &w.limits;
        text.push_str(&format!(
            "{:<16}  limits: {} s CPU, {} MiB memory, {} files open, {} processes, {} MiB per file\n",
            "", l.cpu_seconds, l.address_space_mib, l.open_files, l.processes, l.file_size_mib
        ));
        if let Some(refusal) = &w.policy_refusal {
            text.push_str(&format!("{:<16}  NOT RUNNABLE: {refusal}\n", ""));
        }
    }
    text
}

/// `jitos worker install FILE`.
pub fn install_worker(client: &mut Client, json: bool, file: &Path) -> Result<ExitCode> {
    let manifest = std::fs::canonicalize(file)
        .with_context(|| format!("cannot find the manifest {}", file.display()))?;
    // Checked here too, so a bad manifest is reported with its line before any request.
    jitos_worker::Manifest::load(&manifest)?;
    let response = client.call(&Request::WorkerInstall {
        manifest: manifest.to_string_lossy().into_owned(),
    })?;
    print(json, response, |r| match r {
        Response::WorkerInstalled(w) => Some(format!(
            "installed worker {} {} (record {}); binary {}\n",
            w.name,
            w.version,
            w.installed_seq.unwrap_or_default(),
            w.binary
        )),
        _ => None,
    })
}

/// `jitos worker scaffold NAME`: runs the `scaffold` worker in a fresh workspace, checks
/// the generated crate out, and discards the workspace (its history stays).
pub fn scaffold(
    client: &mut Client,
    json: bool,
    name: &str,
    into: Option<PathBuf>,
    sdk: Option<PathBuf>,
) -> Result<ExitCode> {
    let into = into.unwrap_or_else(|| PathBuf::from(name));
    if into.exists() {
        bail!(
            "{} already exists; choose another place with --into",
            into.display()
        );
    }
    let sdk = match sdk {
        Some(sdk) => sdk,
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates"),
    };
    let sdk = std::fs::canonicalize(&sdk).with_context(|| {
        format!(
            "cannot find the JITOS crates at {}; give their directory with --sdk",
            sdk.display()
        )
    })?;
    let sws = create_workspace(client)?;
    let spec = JobSpec {
        worker: "scaffold".to_owned(),
        sws,
        args: vec![name.to_owned(), sdk.to_string_lossy().into_owned()],
        input: Vec::new(),
        deadline_ms: None,
        paths: vec![name.to_owned()],
        wait: true,
        writ: None,
    };
    let view = match client.call(&Request::JobRun(spec))? {
        Response::Job(view) => view,
        Response::Error(e) => bail!("{}", e.message),
        other => bail!("jitosd sent an unexpected answer: {other:?}"),
    };
    if !succeeded(&view) {
        bail!("the scaffold job did not succeed: {}", view.state);
    }
    let tree = tree_cmd::fetch_tree(
        client,
        tree_cmd::TreeSource {
            sws: Some(sws),
            at: None,
        },
    )?;
    let crate_tree = subtree(&tree, name)?;
    std::fs::create_dir_all(&into).with_context(|| format!("cannot create {}", into.display()))?;
    tree_cmd::write_tree(client, json, &into, &crate_tree)?;
    let reason = format!(
        "scaffold of worker {name} checked out to {}",
        into.display()
    );
    match client.call(&Request::SwsDiscard { sws, reason })? {
        Response::SwsRecorded { .. } => {}
        Response::Error(e) => bail!("cannot discard workspace {sws}: {}", e.message),
        other => bail!("jitosd sent an unexpected answer: {other:?}"),
    }
    if json {
        emit_json(&serde_json::json!({
            "attempt": view.id,
            "sws": sws,
            "dir": into,
            "files": crate_tree.file_count(),
        }))?;
    } else {
        println!(
            "worker {name} scaffolded by attempt {} in workspace {sws}, checked out to {dir}\n\
             next:\n  cd {dir} && cargo test && cargo build --release\n  \
             cp target/release/jitos-worker-{name} . && jitos worker install worker.toml\n  \
             jitos job run {name} --new-sws",
            view.id,
            dir = into.display(),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The entries under directory `name`, re-rooted.
fn subtree(tree: &Tree, name: &str) -> Result<Tree> {
    let prefix = format!("{name}/");
    let mut sub = Tree::new();
    sub.insert(TreePath::root(), Entry::Dir);
    for (path, entry) in &tree.entries {
        if let Some(rest) = path.as_str().strip_prefix(&prefix) {
            sub.insert(TreePath::new(rest)?, entry.clone());
        }
    }
    if sub.len() <= 1 {
        bail!("the scaffold job proposed no files under {name}/");
    }
    Ok(sub)
}
