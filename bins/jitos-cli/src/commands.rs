//! Each command: build the request, get the answer, print it for a person or as JSON.

use std::{
    io::{Read, Write},
    path::Path,
    process::ExitCode,
};

use anyhow::{bail, Context, Result};
use jitos_proto::{Request, Response};
use jitos_warp::Rewrite;
use serde::Serialize;

use crate::{
    cli::{
        BlobCommand, Cli, Command, GraphCommand, KeyCommand, LogArgs, RewriteCommand,
        SandboxCommand, TreeCommand, WorkerCommand,
    },
    demo, diff_cmd, job_cmd, manual, mcp, policy_cmd, process_cmd, render, sandbox_cmd, sws_cmd,
    target::{Location, Target},
    token_cmd,
    tree_cmd::{self, TreeSource},
    writ_cmd,
};

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let location = Location {
        socket: cli.socket.unwrap_or_else(jitosd::paths::default_socket),
        data_dir_named: cli.data_dir.is_some(),
        data_dir: cli.data_dir.unwrap_or_else(jitosd::paths::default_data_dir),
    };
    let json = cli.json;
    match cli.command {
        Command::Status => {
            let response = location.daemon_or_offline()?.query(&Request::Status)?;
            print(json, response, |r| match r {
                Response::Status(info) => Some(render::status(info)),
                _ => None,
            })
        }
        Command::Whoami => {
            let client = location.daemon()?;
            let principal = &client.welcome().principal;
            if json {
                emit_json(principal)?;
            } else {
                print!("{}", render::principal(principal));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rewrite(RewriteCommand::Apply { file }) => {
            let rewrite = read_rewrite(&file)?;
            let response = location.daemon()?.call(&Request::ApplyRewrite(rewrite))?;
            print(json, response, |r| match r {
                Response::Committed { seq, hash, digest } => Some(format!(
                    "committed seq {seq}\nhash   {hash}\ndigest {digest}\n"
                )),
                _ => None,
            })
        }
        Command::Graph(GraphCommand::Show { at, node, sws }) => {
            let shown = match location.daemon_or_offline()? {
                Target::Daemon(mut client) => client.graph_show(at, node, sws)?,
                Target::Offline(view) => {
                    jitosd::answer::graph_show(&view, at, node.as_deref(), sws)
                }
            };
            match shown {
                Ok(graph) if json => emit_json(&graph).map(|()| ExitCode::SUCCESS),
                Ok(graph) => {
                    print!("{}", render::graph(&graph));
                    Ok(ExitCode::SUCCESS)
                }
                Err(refused) => print(json, Response::Error(refused), |_| None),
            }
        }
        Command::History { node } => {
            let response = location
                .daemon()?
                .call(&Request::History { node: node.clone() })?;
            print(json, response, |r| match r {
                Response::History(entries) => Some(render::history(&node, entries)),
                _ => None,
            })
        }
        Command::Log(args) => log(&location, json, args),
        Command::Verify => {
            let response = location.daemon_or_offline()?.query(&Request::Verify)?;
            let ok = matches!(&response, Response::Verify(view) if view.ok());
            let code = print(json, response, |r| match r {
                Response::Verify(view) => Some(render::verify(view)),
                _ => None,
            })?;
            Ok(if ok { code } else { ExitCode::FAILURE })
        }
        Command::Replay { verify: _ } => {
            let response = location.daemon()?.call(&Request::ReplayVerify)?;
            let ok = matches!(&response, Response::Replay(report) if report.matches());
            let code = print(json, response, |r| match r {
                Response::Replay(report) => Some(render::replay(report)),
                _ => None,
            })?;
            Ok(if ok { code } else { ExitCode::FAILURE })
        }
        Command::Export { file, from, to } => export(&location, json, &file, from, to),
        Command::Import { file } => import(&location, json, &file),
        Command::Snapshot => {
            let response = location.daemon()?.call(&Request::Snapshot)?;
            print(json, response, |r| match r {
                Response::Snapshot(view) => Some(format!(
                    "snapshot at seq {}  digest {}  ({} bytes stored)\n",
                    view.seq, view.digest, view.stored_bytes
                )),
                _ => None,
            })
        }
        Command::Sws(command) => sws_cmd::run(&mut location.daemon()?, json, command),
        Command::Tree(TreeCommand::Import { dir, sws }) => {
            tree_cmd::import(&mut location.daemon()?, json, &dir, sws)
        }
        Command::Tree(TreeCommand::Checkout { dir, sws, at }) => {
            tree_cmd::checkout(&mut location.daemon()?, json, &dir, TreeSource { sws, at })
        }
        Command::Tree(TreeCommand::Diff { from, to }) => {
            tree_cmd::diff(&mut location.daemon()?, json, from, to)
        }
        Command::Sandbox(SandboxCommand::Exec {
            profile,
            rw,
            ro,
            uid,
            command,
        }) => sandbox_cmd::exec(
            &sandbox_cmd::ExecArgs {
                profile,
                rw: &rw,
                ro: &ro,
                uid,
            },
            &command,
        ),
        Command::Doctor => sandbox_cmd::doctor(json),
        Command::Worker(WorkerCommand::Validate { file }) => validate_manifest(json, &file),
        Command::Worker(WorkerCommand::List { limit, after }) => job_cmd::list_workers(
            &mut location.daemon()?,
            json,
            jitos_proto::PageRequest { after, limit },
        ),
        Command::Worker(WorkerCommand::Install { file }) => {
            job_cmd::install_worker(&mut location.daemon()?, json, &file)
        }
        Command::Worker(WorkerCommand::Scaffold { name, into, sdk }) => {
            job_cmd::scaffold(&mut location.daemon()?, json, &name, into, sdk)
        }
        Command::Job(command) => job_cmd::run(&mut location.daemon()?, json, command),
        Command::Blob(BlobCommand::Gc) => tree_cmd::blob_gc(&mut location.daemon()?, json),
        Command::Submit { file, wait, writ } => {
            process_cmd::submit(&mut location.daemon()?, json, &file, wait, writ)
        }
        Command::Key(KeyCommand::Show) => writ_cmd::key_show(&mut location.daemon()?, json),
        Command::Writ(command) => writ_cmd::run(location, json, command),
        Command::Secret(command) => writ_cmd::secret(&mut location.daemon()?, json, command),
        Command::Token(command) => token_cmd::run(location, json, command),
        Command::Plan { file, explain } => {
            process_cmd::plan(&mut location.daemon()?, json, &file, explain)
        }
        Command::Ps {
            all,
            waiting_for_me,
            page,
        } => process_cmd::ps(&mut location.daemon()?, json, all, waiting_for_me, &page),
        Command::Wait { pid } => process_cmd::follow(&mut location.daemon()?, json, pid),
        Command::Inspect { pid } => process_cmd::inspect(&mut location.daemon()?, json, pid),
        Command::Diff { a, b } => diff_cmd::diff(&mut location.daemon()?, json, a, b),
        Command::Cancel { pid } => process_cmd::act(
            &mut location.daemon()?,
            json,
            Request::ProcessCancel(pid),
            "cancel recorded: it ends, or first compensates the effects that took place",
        ),
        Command::Resume { pid, value } => {
            let answer = process_cmd::answer_of(&value)?;
            process_cmd::act(
                &mut location.daemon()?,
                json,
                Request::ProcessAnswer {
                    process: pid,
                    answer,
                },
                "resumed",
            )
        }
        Command::Approve { pid, comment } => process_cmd::act(
            &mut location.daemon()?,
            json,
            Request::ProcessVote {
                process: pid,
                approve: true,
                note: comment.unwrap_or_default(),
            },
            "approved",
        ),
        Command::Reject { pid, reason } => process_cmd::act(
            &mut location.daemon()?,
            json,
            Request::ProcessVote {
                process: pid,
                approve: false,
                note: reason,
            },
            "rejected",
        ),
        Command::Policy(command) => policy_cmd::run(location, json, command),
        Command::Watch => {
            // From the record after the head: what commits from now on.
            let head = match location.daemon()?.call(&Request::Status)? {
                Response::Status(info) => info.head_seq,
                Response::Error(e) => bail!("{}", e.message),
                other => bail!("jitosd sent an unexpected answer: {other:?}"),
            };
            let args = LogArgs {
                from: head + 1,
                limit: 0,
                follow: true,
                process: None,
                after: None,
            };
            log(&location, json, args)
        }
        Command::Demo {
            dir,
            model,
            model_name,
        } => demo::run(
            dir,
            model.map(|url| demo::Model {
                url,
                name: model_name,
            }),
        ),
        Command::Mcp { writ } => mcp::serve(location.socket, writ),
        Command::Completions { shell, program } => manual::completions(shell, program),
        Command::Man { dir } => manual::pages(&dir),
    }
}

/// Prints a response: its payload as JSON, or `text` of it; an error response becomes a
/// failure exit with its message.
pub(crate) fn print(
    json: bool,
    response: Response,
    text: impl FnOnce(&Response) -> Option<String>,
) -> Result<ExitCode> {
    if let Response::Error(error) = &response {
        if json {
            emit_json(error)?;
            return Ok(ExitCode::FAILURE);
        }
        bail!("{}", error.message);
    }
    if json {
        emit_json(&payload_json(&response)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    match text(&response) {
        Some(text) => {
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        None => bail!("jitosd sent an unexpected answer: {response:?}"),
    }
}

/// The JSON form of a response is its payload, without the enum wrapper.
fn payload_json(response: &Response) -> Result<serde_json::Value> {
    let value = serde_json::to_value(response)?;
    Ok(match value {
        serde_json::Value::Object(map) if map.len() == 1 => {
            map.into_iter().next().map(|(_, v)| v).unwrap_or_default()
        }
        other => other,
    })
}

pub(crate) fn emit_json(value: &impl Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

pub(crate) fn read_rewrite(file: &Path) -> Result<Rewrite> {
    let mut text = String::new();
    if file.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the rewrite from standard input")?;
    } else {
        text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the rewrite from {}", file.display()))?;
    }
    Rewrite::from_json(&text).with_context(|| {
        format!(
            "{} is not a valid rewrite (the JSON form is in docs/REWRITE_JSON.md); nothing was recorded",
            if file.as_os_str() == "-" { "standard input".to_owned() } else { file.display().to_string() }
        )
    })
}

fn log(location: &Location, json: bool, args: LogArgs) -> Result<ExitCode> {
    if let Some(process) = args.process {
        let page = jitos_proto::PageRequest {
            after: args.after,
            limit: args.limit,
        };
        return process_cmd::log(&mut location.daemon()?, json, process, page);
    }
    if args.follow {
        let mut client = location.daemon()?;
        client.send(&Request::Follow { from: args.from })?;
        loop {
            match client.receive()? {
                Response::Records(records) => {
                    for record in records {
                        if json {
                            let mut out = std::io::stdout().lock();
                            serde_json::to_writer(&mut out, &record)?;
                            writeln!(out)?;
                        } else {
                            println!("{}", render::record_line(&record));
                        }
                    }
                }
                Response::Error(e) => bail!("{}", e.message),
                other => bail!("jitosd sent an unexpected answer: {other:?}"),
            }
        }
    }
    let response = location.daemon_or_offline()?.query(&Request::Log {
        from: args.from,
        limit: args.limit,
    })?;
    print(json, response, |r| match r {
        Response::Records(records) => Some(
            records
                .iter()
                .map(|record| render::record_line(record) + "\n")
                .collect(),
        ),
        _ => None,
    })
}

fn export(
    location: &Location,
    json: bool,
    file: &Path,
    from: u64,
    to: Option<u64>,
) -> Result<ExitCode> {
    let info = match location.daemon_or_offline()? {
        Target::Offline(kernel) => {
            let to = to.unwrap_or(kernel.head().seq);
            kernel.export(file, from, to)?
        }
        Target::Daemon(mut client) => {
            client.send(&Request::Export { from, to })?;
            receive_bundle(&mut client, file)?;
            jitos_ledger::Ledger::read_bundle_info(file).with_context(|| {
                format!("the bundle written to {} does not verify", file.display())
            })?
        }
    };
    let summary = serde_json::json!({
        "file": file.display().to_string(),
        "from": info.from,
        "to": info.to,
        "records": info.records,
        "head_hash": info.head_hash.to_string(),
        "blobs": info.blobs,
        "blobs_absent": info.blobs_absent,
    });
    if json {
        emit_json(&summary)?;
    } else {
        println!(
            "exported records {}..={} ({} records) to {}\nlast hash {}\n{}",
            info.from,
            info.to,
            info.records,
            file.display(),
            info.head_hash,
            blobs_line(&info)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Streams a bundle into a temporary file beside `file`, syncs it, then renames it.
fn receive_bundle(client: &mut jitos_proto::Client, file: &Path) -> Result<()> {
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut staged = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    loop {
        match client.receive()? {
            Response::ExportChunk { bytes, last } => {
                staged.write_all(&bytes)?;
                if last {
                    break;
                }
            }
            Response::Error(e) => bail!("{}", e.message),
            other => bail!("jitosd sent an unexpected answer: {other:?}"),
        }
    }
    staged.as_file().sync_all()?;
    staged
        .persist(file)
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(())
}

fn import(location: &Location, json: bool, file: &Path) -> Result<ExitCode> {
    let _lock = jitosd::DataDirLock::acquire(&location.data_dir)?;
    let store = location.store_dir();
    let (ledger, imported) = jitos_kernel::import_bundle(
        &store,
        file,
        jitos_ledger::OpenOptions {
            read_only: false,
            clock: std::sync::Arc::new(jitos_ledger::SystemClock),
        },
    )
    .with_context(|| format!("cannot import {}; nothing was written", file.display()))?;
    let head = ledger.head();
    let bundle = &imported.bundle;
    if json {
        emit_json(&serde_json::json!({
            "data_dir": location.data_dir.display().to_string(),
            "head_seq": head.seq,
            "head_hash": head.hash.to_string(),
            "digest": imported.digest.to_string(),
            "bundle_format": bundle.format_version,
            "blobs": bundle.blobs,
            "blobs_absent": bundle.blobs_absent,
        }))?;
    } else {
        println!(
            "imported {} records into {}\nhead seq {}  hash {}\nstate digest {}",
            head.seq + 1,
            location.data_dir.display(),
            head.seq,
            head.hash,
            imported.digest,
        );
        println!("{}", blobs_line(bundle));
        println!(
            "start it with: jitosd --data-dir {}",
            location.data_dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What a bundle carries of the blobs its records name, in words.
fn blobs_line(bundle: &jitos_ledger::BundleInfo) -> String {
    if !bundle.carries_blobs() {
        return format!(
            "a version {} bundle carries no blobs: trees it recorded check out only where \
             their blobs are put again",
            bundle.format_version
        );
    }
    match bundle.blobs_absent {
        0 => format!("{} blobs, every one its records name", bundle.blobs),
        absent => format!(
            "{} blobs; {absent} its records name were not held by the store it came from",
            bundle.blobs
        ),
    }
}

/// `jitos worker validate FILE`.
fn validate_manifest(json: bool, file: &Path) -> Result<ExitCode> {
    let manifest = jitos_worker::Manifest::load(file)?;
    if json {
        // `reusable` is kept out of the manifest's serde form (see `Manifest::reusable`).
        let mut value = serde_json::to_value(&manifest)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("reusable".to_owned(), manifest.reusable.into());
        }
        emit_json(&value)?;
    } else {
        println!(
            "{}: valid manifest of worker {} {} (binary {}, profile {}, effects {}, {} needs, {})",
            file.display(),
            manifest.name,
            manifest.version,
            manifest.binary,
            manifest.sandbox_profile.as_str(),
            manifest.effect_class.as_str(),
            manifest.needs.len(),
            if manifest.reusable {
                "reusable: one process serves many jobs of one scope"
            } else {
                "one process per job"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
