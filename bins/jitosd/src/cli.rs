//! `jitosd`'s command line: its flags (`DaemonArgs`, whose help `jitosd --help` prints and
//! from which `jitos man` and `jitos completions` make the daemon's manual page and shell
//! completions), and the daemon's configuration they make, every file they name loaded.

use std::{path::PathBuf, sync::Arc, time::Duration};

use clap::Parser;

use crate::{paths, Access, DaemonConfig, WarmConfig, WorkerConfig, WorkerPolicy};

/// The JITOS daemon: records every change to the state graph in a durable, hash-chained
/// ledger and serves it to `jitos` over a unix socket, to the local users its access file
/// names (see docs/ACCESS.md).
///
/// It runs in the foreground and stops cleanly on SIGTERM or SIGINT; SIGHUP reads the
/// access file and the policy again. On start it verifies the whole chain and refuses a
/// broken one (use --read-only to inspect it).
#[derive(Parser, Debug)]
#[command(name = "jitosd", version, about, long_about)]
pub struct DaemonArgs {
    /// Directory holding the store [default: $XDG_DATA_HOME/jitos]
    #[arg(long, env = "JITOS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Unix socket to listen on [default: $XDG_RUNTIME_DIR/jitos/jitosd.sock]
    #[arg(long, env = "JITOS_SOCKET")]
    pub socket: Option<PathBuf>,
    /// Take a snapshot of the folded state every this many records (0: only on request)
    #[arg(long, env = "JITOS_SNAPSHOT_EVERY", default_value_t = jitos_kernel::SNAPSHOT_EVERY_DEFAULT)]
    pub snapshot_every: u64,
    /// Serve the store for inspection only; refuses writes but opens a broken chain
    #[arg(long, env = "JITOS_READ_ONLY")]
    pub read_only: bool,
    /// Directory of the built-in worker binaries [default: ../lib/jitos/workers from
    /// jitosd's own directory if it exists, as a package installs them, else jitosd's own
    /// directory]
    #[arg(long, env = "JITOS_WORKER_DIR")]
    pub worker_dir: Option<PathBuf>,
    /// Run workers without their read-only view of the file system, Landlock and seccomp
    /// when this kernel lacks one of them (degraded mode, shown by `jitos status`; still
    /// never root, no capabilities, rlimits); without it, such a kernel runs no workers
    #[arg(long, env = "JITOS_ALLOW_UNCONFINED_WORKERS")]
    pub allow_unconfined_workers: bool,
    /// The operator's policy for installed workers: which profiles, needed paths and
    /// resource limits their manifests may ask for, by default and per worker (a TOML
    /// file; see docs/JOBS.md). Without it, installed workers may use either profile, need
    /// no paths, and ask only for limits at or below the defaults
    #[arg(long, env = "JITOS_WORKER_POLICY", value_name = "FILE")]
    pub worker_policy: Option<PathBuf>,
    /// Directory of method library files (`*.toml`), added to the built-in library
    /// [default: $XDG_CONFIG_HOME/jitos/methods, if it exists]
    #[arg(long, env = "JITOS_METHODS_DIR", value_name = "DIR")]
    pub methods_dir: Option<PathBuf>,
    /// Workers that may run at once for processes
    #[arg(long, env = "JITOS_WORKER_SLOTS", default_value_t = 8)]
    pub worker_slots: usize,
    /// Deadline, in seconds, of jobs that do not set their own
    #[arg(long, env = "JITOS_JOB_DEADLINE_SECS", default_value_t = 600)]
    pub job_deadline_secs: u64,
    /// Warm instances of reusable workers alive at once, each serving the jobs of one
    /// user (see docs/SANDBOX.md); 0 runs every job in a process of its own
    #[arg(long, env = "JITOS_WARM_INSTANCES_MAX", default_value_t = WarmConfig::INSTANCES_MAX_DEFAULT)]
    pub warm_instances_max: usize,
    /// Jobs one warm instance serves before it is retired
    #[arg(long, env = "JITOS_WARM_JOBS_MAX", default_value_t = WarmConfig::JOBS_MAX_DEFAULT, value_parser = clap::value_parser!(u32).range(1..))]
    pub warm_jobs_max: u32,
    /// Milliseconds a warm instance waits for its next job before it is retired
    #[arg(long, env = "JITOS_WARM_IDLE_MS", default_value_t = WarmConfig::IDLE_DEFAULT.as_millis() as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub warm_idle_ms: u64,
    /// Who may use this daemon, and as what: a TOML file mapping local users and groups to
    /// the roles admin, operator, approver and viewer, and naming the group the socket is
    /// opened to (see docs/ACCESS.md). Without it, /etc/jitos/access.toml if it exists;
    /// without either, only the daemon's own user may connect (as admin)
    #[arg(long, env = "JITOS_ACCESS", value_name = "FILE")]
    pub access: Option<PathBuf>,
    /// The policy that rules on every job before it runs, on who must approve each yes/no
    /// step, and on each collapse of a workspace into the system: ordered rules deciding
    /// allow, deny or require N approvals from a role
    /// (see docs/POLICY.md; check one with `jitos policy check FILE`). Without it,
    /// /etc/jitos/policy.toml if it exists; without either, everything is allowed. A policy
    /// other than the one in force is recorded when the daemon starts, or at SIGHUP
    #[arg(long, env = "JITOS_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// A host directory under which the built-in `materialize` job may write a
    /// workspace's files (repeat for several; see docs/EFFECTS.md). Give an absolute path
    /// of a directory that exists; it is never written itself, only directories under it.
    /// Without any, materialize may write nowhere
    #[arg(
        long = "output-root",
        env = "JITOS_OUTPUT_ROOTS",
        value_name = "DIR",
        value_delimiter = ':'
    )]
    pub output_roots: Vec<PathBuf>,
    /// The model table: which URLs are model endpoints (their calls metered in the writ's
    /// `tokens` and `cost_millicents`, and allowed to POST from a job that stays in its
    /// workspace) and each model's price (see docs/FETCH.md). Without it, no call is a
    /// model call.
    #[arg(long, env = "JITOS_MODELS", value_name = "FILE")]
    pub models: Option<PathBuf>,
    /// Serve the HTTP API (GraphQL at /graphql; docs/API.md) on this address, e.g.
    /// 127.0.0.1:7780. Requests carry a bearer token from `jitos token create`. Off by
    /// default; a loopback address only, unless --http-allow-remote
    #[arg(long, env = "JITOS_HTTP", value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
    /// Let --http listen on an address other hosts can reach. Tokens then cross the
    /// network in the clear: put a TLS proxy in front
    #[arg(long, env = "JITOS_HTTP_ALLOW_REMOTE", requires = "http")]
    pub http_allow_remote: bool,
    /// Serve the same HTTP API on this unix socket, where the peer's credentials say who
    /// asks (no token), e.g. /run/jitos/http.sock
    #[arg(long, env = "JITOS_HTTP_SOCKET", value_name = "PATH")]
    pub http_socket: Option<PathBuf>,
    /// Print the HTTP API's GraphQL schema (SDL) and exit
    #[arg(long, conflicts_with_all = ["check_config", "print_config"])]
    pub print_schema: bool,
    /// Log filter, e.g. `info` or `jitosd=debug`
    #[arg(long, env = "JITOS_LOG", default_value = "info")]
    pub log: String,
    /// How log lines are written to standard error: `json` (one object per line, with the
    /// span each is in: the connection's uid and pid, the attempt, its worker and
    /// process), `text`, or `auto`: text for a person at a terminal, JSON otherwise (a
    /// journal, a file, a pipe)
    #[arg(long, env = "JITOS_LOG_FORMAT", value_enum, default_value = "auto")]
    pub log_format: LogFormat,
    /// Send the spans of processes and of their jobs' attempts to an OpenTelemetry
    /// collector as OTLP/HTTP protobuf, to this base URL's /v1/traces, e.g.
    /// http://127.0.0.1:4318 (see docs/SERVICE.md). Off by default. A collector that does
    /// not answer loses spans; it never holds up the daemon
    #[arg(long, env = "JITOS_OTLP", value_name = "URL", value_parser = crate::otlp::parse_collector)]
    pub otlp: Option<reqwest::Url>,
    /// The configuration file: TOML whose keys are these long flags (`data-dir =
    /// "/var/lib/jitos"`, `output-root = ["/srv/out"]`). Without it,
    /// $XDG_CONFIG_HOME/jitos/jitosd.toml or /etc/jitos/jitosd.toml, the first that
    /// exists. A flag on the command line wins over its environment variable (JITOS_*),
    /// which wins over the file, which wins over the default
    #[arg(long, env = "JITOS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the settings in force, each with where it came from, as a configuration file,
    /// and exit
    #[arg(long, conflicts_with = "check_config")]
    pub print_config: bool,
    /// Load everything the settings name (the configuration file, the access file, the
    /// policy, the worker policy, the method library, the model table) and exit: 0 when
    /// they all load, 1 saying what does not (2 for a bad flag or configuration file).
    /// Opens no store
    #[arg(long)]
    pub check_config: bool,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Text at a terminal, JSON otherwise.
    Auto,
    /// Lines for people.
    Text,
    /// One JSON object per line.
    Json,
}

/// The daemon's configuration from `args`, with every file they name loaded and checked;
/// nothing is opened or bound.
pub fn daemon_config(args: DaemonArgs) -> Result<DaemonConfig, String> {
    let policy = match &args.worker_policy {
        Some(path) => WorkerPolicy::load(path).map_err(|e| e.to_string())?,
        None => WorkerPolicy::default(),
    };
    let access = Access::load(args.access.as_deref())
        .map_err(|e| format!("the access file does not load: {e}"))?;
    let rules = crate::policy_file::load(args.policy.as_deref())
        .map_err(|e| format!("the policy does not load: {e}"))?;
    let methods_dir = args
        .methods_dir
        .clone()
        .or_else(|| Some(paths::default_methods_dir()).filter(|dir| dir.is_dir()));
    let library = crate::processes::load_library(methods_dir.as_deref())
        .map(Arc::new)
        .map_err(|e| format!("the method library does not load: {e}"))?;
    let models = match &args.models {
        None => crate::fetch::Models::default(),
        Some(path) => crate::fetch::Models::load(path).map_err(|e| e.to_string())?,
    };
    if let Some(addr) = args.http {
        if !addr.ip().is_loopback() && !args.http_allow_remote {
            return Err(format!(
                "--http {addr} is not a loopback address: other hosts could reach the API, \
                 and its tokens would cross the network in the clear; use 127.0.0.1 (or ::1), \
                 or add --http-allow-remote behind a TLS proxy"
            ));
        }
    }
    let bin_dir = match args.worker_dir {
        Some(dir) => dir,
        None => paths::default_worker_dir().map_err(|e| format!("{e}; give --worker-dir"))?,
    };
    Ok(DaemonConfig {
        data_dir: args.data_dir.unwrap_or_else(paths::default_data_dir),
        socket: args.socket.unwrap_or_else(paths::default_socket),
        snapshot_every: args.snapshot_every,
        read_only: args.read_only,
        clock: Arc::new(jitos_ledger::SystemClock),
        workers: WorkerConfig {
            bin_dir,
            allow_unconfined: args.allow_unconfined_workers,
            output_roots: args.output_roots,
            models,
            policy,
            deadline_default_ms: args.job_deadline_secs.saturating_mul(1000),
            warm: WarmConfig {
                jobs_max: args.warm_jobs_max,
                idle: Duration::from_millis(args.warm_idle_ms),
                instances_max: args.warm_instances_max,
            },
        },
        library,
        worker_slots: args.worker_slots,
        access,
        policy: rules,
        http: crate::http::HttpConfig {
            tcp: args.http,
            socket: args.http_socket,
        },
    })
}
