//! `jitos demo`, the main job: an embedded daemon on a throw-away store imports a small
//! project whose test fails and is asked to make the tests pass. Its method library races
//! three candidate patches in sibling workspaces, each tested by the sandboxed `shell`
//! worker; the one that goes green collapses, the others are discarded. The demo prints
//! the causal story. Then the fixed project is shipped: the built-in `materialize` writes
//! it into an output directory outside every workspace, an effect the demo's policy holds
//! for an approver, whom the demo plays as a second user (`nobody`, when it runs as root).
//! Last it checks the fixed project out and verifies the ledger.
//!
//! With `--model URL` the candidate patches are written by a real model instead: the `llm`
//! worker asks it through the daemon's fetch, under a writ the demo issues whose egress
//! names the endpoint, and each lane's failed test is fed back to its model once.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{mpsc, Arc},
    thread,
    time::Duration,
};

use anyhow::{anyhow, bail, Context, Result};
use jitos_proto::{Client, ProcessDetail, ProcessStatus, Request, Response};
use jitos_tree::{Entry, Tree, TreePath};
use jitosd::{Daemon, DaemonConfig};
use tokio::sync::oneshot;

use crate::{process_cmd, render, tree_cmd};

/// The bundled project: a calculator whose `add` subtracts, and its test.
const PROJECT: [(&str, &str, bool); 2] = [
    ("calc.sh", include_str!("../demo/project/calc.sh"), false),
    ("test.sh", include_str!("../demo/project/test.sh"), true),
];
/// The demo's method library, added to the daemon's built-in one.
const METHODS: &str = include_str!("../demo/methods.toml");
/// The intent: make the tests pass and ship the project.
const INTENT: &str = include_str!("../demo/intent.toml");
/// The method library's model tasks, loaded beside `METHODS` with `--model`.
const METHODS_MODEL: &str = include_str!("../demo/methods-model.toml");
/// The intent with `--model`: the model writes the candidate patches.
const INTENT_MODEL: &str = include_str!("../demo/intent-model.toml");
/// Tokens the demo's writ lets the model spend in all.
const MODEL_TOKENS: u64 = 500_000;

/// The model of `jitos demo --model`.
#[derive(Debug, Clone)]
pub struct Model {
    /// The endpoint's base URL (its `/chat/completions` is under it).
    pub url: String,
    /// The model's name, as the endpoint knows it.
    pub name: String,
}
/// The policy when the demo can play a second user: effects beyond a workspace wait for an
/// approver.
const POLICY: &str = include_str!("../demo/policy.toml");
/// The second user the demo approves as, when it runs as root: `nobody` (and its group).
const APPROVER_UID: u32 = 65534;
/// How long the demo waits for its process to show progress.
const PROCESS_WAIT: Duration = Duration::from_secs(120);

/// Runs the demo; the store and the fixed project stay behind for the user to explore.
pub fn run(dir: Option<PathBuf>, model: Option<Model>) -> Result<ExitCode> {
    let sandbox = jitos_sandbox::status();
    if !sandbox.supported {
        bail!(
            "this kernel cannot confine workers (Landlock ABI {}, seccomp {}), and the demo runs \
             its jobs confined; `jitos doctor` says what is missing",
            sandbox.landlock_abi,
            if sandbox.seccomp { "yes" } else { "no" }
        );
    }
    let data_dir = match dir {
        Some(dir) => dir,
        None => tempfile::Builder::new()
            .prefix("jitos-demo-")
            .tempdir()
            .context("cannot create a temporary directory")?
            .keep(),
    };
    let mut sources = vec![(PathBuf::from("<demo>/methods.toml"), METHODS.to_owned())];
    let models = match &model {
        Some(model) => {
            sources.push((
                PathBuf::from("<demo>/methods-model.toml"),
                METHODS_MODEL.to_owned(),
            ));
            jitosd::fetch::Models::parse(&format!(
                "[[endpoint]]\nurl = {}\n",
                serde_json::to_string(model.url.trim_end_matches('/'))?
            ))
            .map_err(|e| anyhow!("--model {}: {e}", model.url))?
        }
        None => jitosd::fetch::Models::default(),
    };
    let library = jitosd::processes::load_library_with(&sources)
        .map_err(|e| anyhow!("the demo's method library does not load: {e}"))?;
    let socket = data_dir.join("run/jitosd.sock");
    let out_root = data_dir.join("out");
    std::fs::create_dir_all(&out_root)
        .with_context(|| format!("cannot create {}", out_root.display()))?;
    // Only root can be a second user; without one no approval can be given, so no policy
    // holds the shipping for one.
    let approver = nix::unistd::Uid::current().is_root();
    let (access, policy) = if approver {
        // Kept beside the store, so a jitosd started on it later rules as this one did.
        let policy_file = data_dir.join("policy.toml");
        std::fs::write(&policy_file, POLICY)
            .with_context(|| format!("cannot write {}", policy_file.display()))?;
        (approver_access(&data_dir)?, Some(demo_policy()?))
    } else {
        (jitosd::Access::daemon_only(), None)
    };
    let daemon = EmbeddedDaemon::start(DaemonConfig {
        data_dir: data_dir.clone(),
        socket: socket.clone(),
        snapshot_every: 16,
        read_only: false,
        clock: Arc::new(jitos_ledger::SystemClock),
        workers: jitosd::WorkerConfig {
            bin_dir: jitosd::paths::default_worker_dir().map_err(|e| anyhow!(e))?,
            allow_unconfined: false,
            policy: jitosd::WorkerPolicy::default(),
            deadline_default_ms: 60_000,
            warm: jitosd::WarmConfig::default(),
            output_roots: vec![out_root.clone()],
            models,
        },
        library: Arc::new(library),
        worker_slots: 4,
        access,
        policy,
        http: jitosd::http::HttpConfig::default(),
    })?;
    let shipped = out_root.join("calc");
    let result = story(&socket, &data_dir, &shipped, approver, model.as_ref());
    daemon.stop();
    result?;
    Ok(ExitCode::SUCCESS)
}

/// The access file of a demo run as root: `nobody` may connect, as an approver.
fn approver_access(data_dir: &Path) -> Result<jitosd::Access> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = data_dir.join("access.toml");
    std::fs::write(
        &path,
        "[socket]\ngroup = \"nogroup\"\n\n[users]\nnobody = [\"approver\"]\n",
    )
    .with_context(|| format!("cannot write {}", path.display()))?;
    // The approver reaches the socket through the store's directory.
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o711))
        .with_context(|| format!("cannot open {} to the approver", data_dir.display()))?;
    jitosd::Access::load(Some(&path)).map_err(|e| anyhow!("the demo's access file: {e}"))
}

fn demo_policy() -> Result<jitos_gov::policy::Policy> {
    jitos_gov::policy::Policy::parse(POLICY, Path::new("<demo>/policy.toml"))
        .map_err(|e| anyhow!("the demo's policy does not load: {e}"))
}

/// `jitos approve PROCESS` as the second user, over `socket`.
fn approve_as_second_user(socket: &Path, process: u64) -> Result<String> {
    use std::os::unix::process::CommandExt as _;
    let jitos = std::env::current_exe().context("cannot find the jitos binary")?;
    let reach = format!(
        "the second user, nobody, must be able to run {} and reach {} (keep both out of \
         directories only root may enter, such as /root)",
        jitos.display(),
        socket.display()
    );
    let output = std::process::Command::new(&jitos)
        .args([
            "approve",
            &process.to_string(),
            "--comment",
            "the tests pass; ship it",
        ])
        .env("JITOS_SOCKET", socket)
        .uid(APPROVER_UID)
        .gid(APPROVER_UID)
        .output()
        .with_context(|| format!("cannot run jitos approve as the second user; {reach}"))?;
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("the second user's approval was refused: {said}; {reach}");
    }
    Ok(said)
}

fn story(
    socket: &Path,
    data_dir: &Path,
    shipped: &Path,
    approver: bool,
    model: Option<&Model>,
) -> Result<()> {
    let mut client = Client::connect(socket, "jitos")?.ok_or_else(|| {
        anyhow!(
            "the embedded daemon is not listening on {}",
            socket.display()
        )
    })?;
    println!(
        "== jitos demo: an embedded jitosd on {}",
        data_dir.display()
    );

    println!("\n== 1. A project whose test fails, recorded in the system");
    let imported = import_project(&mut client)?;
    for (name, text, _) in PROJECT {
        println!("   {name}:");
        for line in text.lines() {
            println!("   │ {line}");
        }
    }
    println!("   recorded at seq {imported}");
    let (process, said) = run_test(&mut client)?;
    println!(
        "   process {process} ran `sh test.sh` on the sandboxed shell worker, in a workspace of its own:"
    );
    for line in said.lines() {
        println!("   │ {line}");
    }
    println!("   its gate failed, so the process failed and its workspace was discarded");

    println!("\n== 2. The intent says what should become true; the method library says how");
    let quoted = |text: &str| serde_json::to_string(text);
    let intent = match model {
        None => INTENT.to_owned(),
        Some(model) => INTENT_MODEL
            .replace(
                "\"MODEL_ENDPOINT\"",
                &quoted(model.url.trim_end_matches('/'))?,
            )
            .replace("\"MODEL_NAME\"", &quoted(&model.name)?),
    }
    .replace("\"OUTPUT_DIR\"", &quoted(&shipped.to_string_lossy())?);
    for line in intent
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        println!("   │ {line}");
    }
    let intent_path = "<demo>/intent.toml".to_owned();
    let explain = match client.call(&Request::ProcessPlan {
        intent: intent.clone(),
        path: intent_path.clone(),
    })? {
        Response::ProcessPlan { explain, .. } => explain,
        other => return Err(unexpected("the demo's intent does not plan", other)),
    };
    print!("{}", indent(&explain));

    println!("\n== 3. The process runs: every decision and every job is a record");
    let writ = match model {
        Some(model) => Some(model_writ(&mut client, model)?),
        None => None,
    };
    let process = match client.call(&Request::ProcessSubmit {
        intent,
        path: intent_path,
        writ,
    })? {
        Response::ProcessSubmitted { process, .. } => process,
        other => return Err(unexpected("the demo's intent was not submitted", other)),
    };
    let mut detail = wait_for(&mut client, process)?;
    if detail.summary.status == ProcessStatus::Waiting && approver {
        println!(
            "   process {process} waits: {}",
            detail.summary.detail.clone().unwrap_or_default()
        );
        println!(
            "   shipping writes outside every workspace, and the policy says an approver must agree;"
        );
        println!("   the demo approves as a second user, nobody (uid {APPROVER_UID}), who holds that role:");
        let said = approve_as_second_user(socket, process)?;
        for line in said.lines() {
            println!("   │ {line}");
        }
        detail = wait_for(&mut client, process)?;
    } else if !approver {
        println!(
            "   (not run as root: no second user can approve, so no policy holds the shipping)"
        );
    }
    for record in &process_cmd::all_records(&mut client, process)
        .context("cannot read the process's records")?
    {
        println!("   {}", render::record_line(record));
    }
    if detail.summary.status != ProcessStatus::Done {
        bail!(
            "the demo's process ended {}: {}",
            detail.summary.status,
            detail.summary.detail.unwrap_or_default()
        );
    }

    println!("\n== 4. The gates decided: one candidate went green and collapsed");
    for lane in detail.lanes.iter().skip(1) {
        let verdict = detail
            .jobs
            .iter()
            .filter(|job| job.lane == lane.lane && job.id.ends_with("run_tests"))
            .map(|job| job.state.to_string())
            .next()
            .unwrap_or_default();
        let name = lane.path.rsplit('/').next().unwrap_or(&lane.path);
        println!(
            "   {name:<15} workspace {:<4} {:<10} its test: {verdict}",
            lane.sws.map(|s| s.to_string()).unwrap_or_default(),
            lane.state
        );
    }
    println!("   the losers' workspaces are discarded, and their histories kept");
    let after = match client.call(&Request::Status)? {
        Response::Status(info) => info.head_seq,
        other => return Err(unexpected("status failed", other)),
    };
    println!("   the system's files, from seq {imported} to seq {after}:");
    let diff = file_diff(&mut client, imported)?;
    print!("{}", indent(&diff));

    println!("\n== 5. Shipped: the fixed project, materialized outside every workspace");
    let mut names: Vec<String> = std::fs::read_dir(shipped)
        .with_context(|| format!("cannot read {}", shipped.display()))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    println!("   {}: {}", shipped.display(), names.join(", "));
    println!("   (effect.begin and effect.end above record it, with its idempotency key)");

    println!("\n== 6. The fixed project, checked out");
    let fixed = data_dir.join("fixed");
    if fixed.exists() {
        std::fs::remove_dir_all(&fixed)
            .with_context(|| format!("cannot clear {}", fixed.display()))?;
    }
    std::fs::create_dir_all(&fixed)
        .with_context(|| format!("cannot create {}", fixed.display()))?;
    let tree = tree_cmd::fetch_tree(
        &mut client,
        tree_cmd::TreeSource {
            sws: None,
            at: None,
        },
    )?;
    tree_cmd::write_tree(&mut client, true, &fixed, &tree)?;
    println!(
        "   {}  (try: cd {} && sh test.sh)",
        fixed.display(),
        fixed.display()
    );

    println!("\n== 7. Verification: the chain, and a replay from genesis");
    match client.call(&Request::Verify)? {
        Response::Verify(view) if view.ok() => print!("{}", indent(&render::verify(&view))),
        other => return Err(unexpected("verification failed", other)),
    }
    match client.call(&Request::ReplayVerify)? {
        Response::Replay(report) if report.matches() => {
            print!("{}", indent(&render::replay(&report)));
            println!("   and every scheduler decision is the one its state called for");
        }
        other => return Err(unexpected("replay did not reproduce the live state", other)),
    }

    let data = data_dir.display();
    println!("\n== Try next (the store is kept in {data}):");
    if let Ok(bins) = jitosd::paths::own_dir() {
        println!(
            "   export PATH={}:$PATH    # jitos and jitosd, as built",
            bins.display()
        );
    }
    // As root the demo let a second user in and ruled with its policy: a jitosd started
    // on the store does the same (its socket's directory is shared with that user).
    let governance = match approver {
        true => format!(" --access {data}/access.toml --policy {data}/policy.toml"),
        false => String::new(),
    };
    println!("   jitosd --data-dir {data} --socket {data}/run/jitosd.sock{governance} &");
    println!("   export JITOS_SOCKET={data}/run/jitosd.sock");
    println!(
        "   jitos inspect {process}                      # the process, its workspaces and jobs"
    );
    println!("   jitos log --process {process}                # its records");
    println!("   jitos tree diff {imported} head               # what it changed");
    println!("   jitos ps --all; jitos job list --all");
    Ok(())
}

/// Issues the writ the demo's process runs under with a model: its workers, shipping's
/// `local` effect, a budget of tokens, and egress to the model's endpoint (POST only).
fn model_writ(client: &mut Client, model: &Model) -> Result<u64> {
    let url = origin_of(&model.url)?;
    let me = nix::unistd::User::from_uid(nix::unistd::Uid::current())
        .ok()
        .flatten()
        .map(|user| user.name)
        .unwrap_or_else(|| nix::unistd::Uid::current().to_string());
    let spec = jitos_proto::WritSpec {
        to: me,
        workers: Some(vec![
            "llm".to_owned(),
            "shell".to_owned(),
            "materialize".to_owned(),
        ]),
        effect: Some(jitos_gov::Effect::Local),
        counters: vec![("tokens".to_owned(), MODEL_TOKENS)],
        egress: Some(vec![format!("POST {url}")]),
        expires_secs: Some(3600),
        depth: Some(1),
        ..Default::default()
    };
    match client.call(&Request::WritIssue(spec))? {
        Response::Writ(writ) => {
            let id = writ.id;
            println!(
                "   writ {id}: the model may be asked (POST {url}), up to {MODEL_TOKENS} tokens; \
                 every call is recorded as job.fetch"
            );
            Ok(id)
        }
        other => Err(unexpected("the demo's writ was not issued", other)),
    }
}

/// The origin (`scheme://host[:port]`) of a model's base URL.
fn origin_of(url: &str) -> Result<String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow!("--model {url:?} is not a URL: write http://host:port/v1"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let origin = format!("{scheme}://{authority}");
    jitos_gov::writ::canonical_entry(&origin).map_err(|e| anyhow!("--model {url:?}: {e}"))
}

/// Stores the bundled project's files and records them as the system's tree; the seq.
fn import_project(client: &mut Client) -> Result<u64> {
    let contents: Vec<Vec<u8>> = PROJECT
        .iter()
        .map(|(_, text, _)| text.as_bytes().to_vec())
        .collect();
    let refs = match client.call(&Request::PutBlobs(contents.clone()))? {
        Response::BlobsStored(refs) if refs.len() == PROJECT.len() => refs,
        other => return Err(unexpected("cannot store the project's files", other)),
    };
    let mut tree = Tree::new();
    tree.insert(TreePath::root(), Entry::Dir);
    for ((name, _, executable), (blob, bytes)) in
        PROJECT.iter().zip(refs.into_iter().zip(&contents))
    {
        tree.insert(
            TreePath::new(name)?,
            Entry::File {
                blob,
                size: bytes.len() as u64,
                executable: *executable,
            },
        );
    }
    match client.call(&Request::TreeImport { sws: None, tree })? {
        Response::Committed { seq, .. } => Ok(seq),
        other => Err(unexpected("cannot record the project", other)),
    }
}

/// Runs the project's test as a process of the built-in `run` task; the process and what
/// the test printed.
fn run_test(client: &mut Client) -> Result<(u64, String)> {
    let intent =
        "goal = \"run\"\n[params]\ncommand = \"sh test.sh\"\n[allow]\nworkers = [\"shell\"]\n";
    let process = match client.call(&Request::ProcessSubmit {
        intent: intent.to_owned(),
        path: "<demo>/run-the-test.toml".to_owned(),
        writ: None,
    })? {
        Response::ProcessSubmitted { process, .. } => process,
        other => return Err(unexpected("the test run was not submitted", other)),
    };
    let detail = wait_for(client, process)?;
    if detail.summary.status != ProcessStatus::Failed {
        bail!(
            "the project's test should fail before the fix, but its process is {}",
            detail.summary.status
        );
    }
    let attempts: Vec<u64> = process_cmd::all_records(client, process)
        .context("cannot read the test run's records")?
        .iter()
        .filter(|r| r.kind == "job.dispatch")
        .map(|r| r.seq)
        .collect();
    let Some(&attempt) = attempts.first() else {
        bail!("the test run dispatched no job");
    };
    let artifacts = match client.call(&Request::JobShow(attempt))? {
        Response::Job(view) => match view.state {
            jitos_proto::AttemptState::Done { artifacts, .. } => artifacts,
            other => bail!("the test's attempt ended {other}"),
        },
        other => return Err(unexpected(&format!("cannot read attempt {attempt}"), other)),
    };
    let stdout = artifacts
        .iter()
        .find(|(name, _)| name == "stdout")
        .ok_or_else(|| anyhow!("the test's attempt kept no stdout"))?;
    let blob = stdout
        .1
        .parse()
        .map_err(|e| anyhow!("jitosd named an unreadable blob: {e}"))?;
    let bytes = tree_cmd::fetch_blobs(client, vec![blob])?.concat();
    Ok((process, String::from_utf8_lossy(&bytes).into_owned()))
}

/// What went wrong when jitosd answered `response` instead: its message for an error,
/// the kind of answer otherwise.
fn unexpected(what: &str, response: Response) -> anyhow::Error {
    match response {
        Response::Error(error) => anyhow!("{what}: {}", error.message),
        other => anyhow!("{what}: jitosd sent an unexpected answer: {other:?}"),
    }
}

/// Follows the process until it ends or waits for a person; gives up when it shows no
/// progress for `PROCESS_WAIT`.
fn wait_for(client: &mut Client, process: u64) -> Result<ProcessDetail> {
    client.set_read_timeout(Some(PROCESS_WAIT))?;
    client.send(&Request::ProcessFollow(process))?;
    let detail = loop {
        match client.receive() {
            Ok(Response::ProcessProgress { .. }) => {}
            Ok(Response::Process(detail)) => break detail,
            Ok(other) => {
                return Err(unexpected(
                    &format!("cannot follow process {process}"),
                    other,
                ))
            }
            Err(e) => {
                return Err(anyhow!(
                    "process {process} showed no progress within {PROCESS_WAIT:?}, or the \
                     daemon went away: {e}"
                ))
            }
        }
    };
    client.set_read_timeout(None)?;
    Ok(detail)
}

/// The unified diff of the system's files from seq `from` to the head.
fn file_diff(client: &mut Client, from: u64) -> Result<String> {
    let source = |at| tree_cmd::TreeSource { sws: None, at };
    let old = tree_cmd::fetch_tree(client, source(Some(from)))?;
    let new = tree_cmd::fetch_tree(client, source(None))?;
    tree_cmd::file_diffs_text(client, &jitos_tree::diff_trees(&old, &new))
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("   {line}\n")).collect()
}

/// A daemon on its own thread and runtime, inside this process.
struct EmbeddedDaemon {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EmbeddedDaemon {
    fn start(config: DaemonConfig) -> Result<EmbeddedDaemon> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("jitosd-embedded".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Runtime::new() {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow!("cannot start a runtime: {e}")));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match Daemon::start(config) {
                        Ok(daemon) => {
                            let _ = ready_tx.send(Ok(()));
                            let served = daemon
                                .serve(async {
                                    let _ = stopped.await;
                                })
                                .await;
                            if let Err(e) = served {
                                eprintln!("jitos demo: the embedded jitosd: {e}");
                            }
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(anyhow!(e)));
                        }
                    }
                });
            })
            .context("cannot start the embedded daemon's thread")?;
        ready_rx
            .recv()
            .map_err(|_| anyhow!("the embedded daemon stopped during start-up"))??;
        Ok(EmbeddedDaemon {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
