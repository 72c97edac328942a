//! The command line: every command, flag and help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `jitos`: talk to the JITOS daemon.
///
/// Every change to the state graph (the WARP) is a rewrite recorded in a durable,
/// hash-chained ledger; the graph is a fold of that ledger. `jitos` submits intents and
/// follows the processes that run them, runs jobs on sandboxed workers in speculative
/// workspaces, applies rewrites, shows the graph at any point in its history, and
/// verifies the chain.
///
/// Start here: `jitos demo` makes a sample project's failing test pass on a throw-away
/// store, and shows every step it recorded.
#[derive(Parser, Debug)]
#[command(name = "jitos", version, about, long_about, propagate_version = true)]
pub struct Cli {
    /// Socket of the daemon [default: $XDG_RUNTIME_DIR/jitos/jitosd.sock]
    #[arg(long, global = true, env = "JITOS_SOCKET")]
    pub socket: Option<PathBuf>,
    /// Data directory, for commands that also work without a daemon [default: $XDG_DATA_HOME/jitos]
    #[arg(long, global = true, env = "JITOS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print machine-readable JSON instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show the head, the state digest and the size of the graph
    Status,
    /// Show who the daemon takes you for: your user and the roles its access file grants
    /// you (admin, operator, approver, viewer)
    Whoami,
    /// Apply rewrites to the system graph
    #[command(subcommand)]
    Rewrite(RewriteCommand),
    /// Show the graph
    #[command(subcommand)]
    Graph(GraphCommand),
    /// List every record that changed a node, with the node after each
    History {
        /// The node id, e.g. `task:1`
        node: String,
    },
    /// List records (works without a daemon)
    Log(LogArgs),
    /// Walk the whole hash chain and every snapshot; exits non-zero on the first bad record (works without a daemon)
    Verify,
    /// Fold the ledger from genesis in a fresh state and compare with the live state
    Replay {
        /// Compare the replayed digest with the live one (the only mode for now)
        #[arg(long, required = true)]
        verify: bool,
    },
    /// Write records to a portable bundle file (works without a daemon)
    Export {
        /// Bundle file to write
        file: PathBuf,
        /// First sequence number
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Last sequence number [default: the head]
        #[arg(long)]
        to: Option<u64>,
    },
    /// Create a store in the data directory from a bundle, verifying every record first
    ///
    /// The data directory must hold no store and no daemon may be serving it. The bundle
    /// must start at genesis (sequence number 0).
    Import {
        /// Bundle file to read
        file: PathBuf,
    },
    /// Take a snapshot of the folded state now
    Snapshot,
    /// Speculative workspaces: change a copy, then collapse it into the system or discard it
    #[command(subcommand)]
    Sws(SwsCommand),
    /// Record directories as file trees in the graph, check them out, diff them
    #[command(subcommand)]
    Tree(TreeCommand),
    /// Manage stored blobs (file contents)
    #[command(subcommand)]
    Blob(BlobCommand),
    /// Run work on sandboxed workers: each job is recorded, its worker runs confined, and
    /// only its validated proposal reaches the job's workspace.
    ///
    /// A job names a worker and an open workspace. The daemon records the dispatch,
    /// writes the workspace's files into the worker's private scratch directory (for
    /// workers that change files), starts the worker confined (a read-only view of the
    /// file system but for its scratch, Landlock, seccomp, no capabilities) under its own
    /// uid, and records exactly one end: `done` (the proposal was applied
    /// to the workspace), `refused` (the proposal left the job's scope) or `failed`
    /// (the worker failed, crashed, hung past its deadline or broke the protocol).
    /// Nothing reaches the system until `jitos sws collapse`.
    ///
    /// Example: run a command in a fresh workspace and look at what it changed:
    ///   jitos job run shell --new-sws -- sh -c 'echo hi > hello.txt'
    ///   jitos sws diff ID
    #[command(subcommand)]
    Job(JobCommand),
    /// Worker binaries: list, install, scaffold a new one, validate a manifest
    #[command(subcommand)]
    Worker(WorkerCommand),
    /// Record an intent (a TOML file) as a process: it is planned with the daemon's method
    /// library and runs on at once; prints its id
    ///
    /// The intent names a goal task of the library, its parameters, the workers and paths
    /// its jobs may use, and its limits (see docs/PROCESSES.md). With --wait, the process's
    /// records are printed as they commit until it ends (exit 0 when done, 1 when it
    /// failed) or waits for a person (exit 3, with the command that answers).
    ///
    /// A process runs under a writ: with --writ, one delegated from that writ and cut to
    /// the intent (the intent must fit it); without, one derived from your roles and the
    /// intent's limits. Either is recorded with the process.
    Submit {
        /// The intent file
        file: PathBuf,
        /// Follow the process to its end
        #[arg(long)]
        wait: bool,
        /// Run under (a writ delegated from) this writ, granted to you
        #[arg(long, value_name = "ID")]
        writ: Option<u64>,
    },
    /// The daemon's writ-signing key
    #[command(subcommand)]
    Key(KeyCommand),
    /// Secrets: values kept by the daemon outside the ledger, given to the jobs of
    /// processes whose writ names them, and replaced by `[secret:NAME]` in everything a
    /// worker returns before it is recorded
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Bearer tokens for the HTTP API (`jitosd --http`; docs/API.md): each stands for
    /// you, with your roles as they are at each request
    #[command(subcommand)]
    Token(TokenCommand),
    /// Writs: signed, recorded grants of what a process may do (workers, paths, effect
    /// ceiling, budgets, secrets, expiry, delegation depth)
    ///
    /// An admin issues writs; whoever holds one may delegate a narrower one (`--from`),
    /// or run processes under it (`jitos submit --writ ID`). Revoking a writ revokes
    /// every writ delegated from it and stops their processes. See docs/WRITS.md.
    #[command(subcommand)]
    Writ(WritCommand),
    /// Plan an intent without running anything: the candidates in the order they would be
    /// tried
    Plan {
        /// The intent file
        file: PathBuf,
        /// Show each task's decomposition (the method chosen and why others did not
        /// apply) and the jobs with what each waits for
        #[arg(long)]
        explain: bool,
    },
    /// List processes, newest first: the live ones, or all with --all; a page at a time
    Ps {
        /// Include ended processes
        #[arg(long, conflicts_with = "waiting_for_me")]
        all: bool,
        /// Only those waiting for an approval you may give and have not
        #[arg(long)]
        waiting_for_me: bool,
        /// Which page
        #[command(flatten)]
        page: PageArgs,
    },
    /// Follow a process until it ends or waits for a person, printing its records as they
    /// commit; exits as `submit --wait` does (0 done, 1 failed or cancelled, 3 waiting)
    Wait {
        /// The process id
        pid: u64,
    },
    /// Show one process: where it stands, what it waits for, its workspaces and jobs
    Inspect {
        /// The process id (the seq of its submit record)
        pid: u64,
    },
    /// Compare two processes: their plans, each job's outcome, attempts and time, the
    /// files each changed in the system, and the environment each ran in (the daemon's
    /// version and settings, the method library, the policy, the workers' binaries, the
    /// kernel's confinement), marking what differs
    Diff {
        /// The first process id
        a: u64,
        /// The second process id
        b: u64,
    },
    /// End a process as cancelled: its workers are stopped, its workspaces discarded
    Cancel {
        /// The process id
        pid: u64,
    },
    /// Answer a process that waits: a JSON value for an `ask` step, or "retry", "skip" or
    /// "fail" for a job that failed or was cut off by a crash
    Resume {
        /// The process id
        pid: u64,
        /// The answer, as JSON, e.g. '"use the event"' or '"retry"'
        #[arg(long)]
        value: String,
    },
    /// Approve the job a process holds for approvals (a yes/no step, or a job the policy
    /// holds before it runs)
    ///
    /// Each approval names you and is recorded; you count once however often you approve;
    /// you may not approve a process you submitted; you need the role the approval asks
    /// for (`approver`, unless the policy names another). The job goes on once it has as
    /// many approvals as it needs (`jitos inspect PID` shows how many).
    Approve {
        /// The process id
        pid: u64,
        /// A comment, kept with your approval
        #[arg(long)]
        comment: Option<String>,
    },
    /// Reject the job a process holds for approvals: one rejection vetoes it (it fails)
    Reject {
        /// The process id
        pid: u64,
        /// Why, kept with your rejection
        #[arg(long)]
        reason: String,
    },
    /// The policy: check a file, show the one in force, simulate one on recorded decisions
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Print records as they commit, one readable line each, until interrupted
    Watch,
    /// Run commands under exactly the confinement a worker gets
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// Report what confinement this kernel offers (Landlock, seccomp, namespaces, cgroups)
    /// and what is enforced; exits non-zero when workers cannot be confined
    Doctor,
    /// Serve JITOS to a coding agent as a Model Context Protocol (MCP) tool server on
    /// standard input and output
    ///
    /// The agent opens a workspace, reads and writes files in it, runs sandboxed jobs
    /// there (its tests), reads the diff, and collapses or discards it. Every tool call
    /// is a request to jitosd as the user who runs `jitos mcp`: the daemon authorises it
    /// against that user's roles and records it in its ledger (`jitos log` shows each act
    /// with this server's uid and pid). Changes reach the system only by a collapse.
    /// Refuses to start when no daemon answers on the socket.
    ///
    /// Register it with an agent that speaks MCP (Claude Code, Claude Desktop, any
    /// client's `mcpServers` JSON):
    ///
    /// {"mcpServers": {"jitos": {"command": "jitos", "args": ["mcp"]}}}
    ///
    /// With a daemon on another socket, name it (agents often start servers with a bare
    /// environment): "args": ["--socket", "/run/jitos/jitosd.sock", "mcp"].
    ///
    /// With a policy in force, each job is ruled on before it runs and each collapse
    /// before it lands (rules `at = "dispatch"` and `at = "collapse"`): a collapse may be
    /// denied or held until others approve it (`jitos sws approve ID`), and the agent sees
    /// where it stands. The tools and how calls are governed are in docs/MCP.md.
    ///
    /// Claude Code: `claude mcp add jitos -- jitos mcp`.
    Mcp {
        /// Run jobs and ask collapses under this writ of yours: jobs must lie within its
        /// scope, and the policy's rulings see its user and what is left of its budgets
        #[arg(long)]
        writ: Option<u64>,
    },
    /// Print the completion script of `jitos` (or `jitosd`) for a shell
    ///
    /// Bash: `source <(jitos completions bash)`, or save it as
    /// /usr/share/bash-completion/completions/jitos. Zsh: save it as `_jitos` in a
    /// directory of $fpath. Fish: `jitos completions fish > ~/.config/fish/completions/jitos.fish`.
    Completions {
        /// The shell
        shell: clap_complete::Shell,
        /// Which program's flags
        #[arg(long = "for", value_enum, default_value = "jitos")]
        program: crate::manual::Program,
    },
    /// Write the manual pages of `jitos`, each of its commands, and `jitosd` into DIR
    ///
    /// One roff page per command (`jitos.1`, `jitos-sws.1`, `jitos-sws-collapse.1`, …,
    /// `jitosd.1`), made from the same definitions as `--help`. Read one with `man -l
    /// DIR/jitos-sws.1`, or install them under /usr/share/man/man1.
    Man {
        /// The directory to write them into (created if missing)
        dir: PathBuf,
    },
    /// The main job: an embedded daemon makes a bundled project's failing test pass (a race of candidate patches in sandboxed workspaces), then verifies the ledger
    ///
    /// Without --model it is offline and deterministic: the candidate patches are bundled.
    /// With --model a real model writes them: the `llm` worker asks it through the
    /// daemon's fetch, under a writ whose egress names the endpoint, and a failed test is
    /// fed back to it once. Try it with any OpenAI-compatible server, e.g. llama.cpp's:
    /// `llama-server -m model.gguf --port 8080` then `jitos demo --model
    /// http://127.0.0.1:8080/v1`.
    Demo {
        /// Keep the demo's store here instead of a new temporary directory
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Have the model at this OpenAI-compatible endpoint write the candidate patches:
        /// the base URL its `/chat/completions` is under, e.g. http://127.0.0.1:8080/v1
        #[arg(long, value_name = "URL")]
        model: Option<String>,
        /// The model's name, as the endpoint knows it
        #[arg(
            long,
            value_name = "NAME",
            default_value = "default",
            requires = "model"
        )]
        model_name: String,
    },
}

/// `jitos policy …`
#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Check a policy file: every problem at its line and column; prints its hash and rules
    Check {
        /// The policy file
        file: PathBuf,
    },
    /// Show the policy in force: its hash, the record that brought it in, its rules
    Show,
    /// Replay every recorded ruling under a candidate policy, read-only, and list each one
    /// it would change and why (works without a daemon)
    Simulate {
        /// The candidate policy file
        file: PathBuf,
        /// Only rulings at or after this sequence number
        #[arg(long, default_value_t = 0)]
        from: u64,
    },
}

/// `jitos secret …`
#[derive(Subcommand, Debug)]
pub enum SecretCommand {
    /// Store a secret (admin), its value read from standard input (one trailing newline
    /// dropped); replaces a secret of the same name
    ///
    /// A job gets it as the environment variable `JITOS_SECRET_NAME` (NAME in capitals, `.` and
    /// `-` as `_`) when its process's writ names it (`writ issue --secrets NAME`).
    ///
    /// Example: printf %s "$TOKEN" | jitos secret add deploy-token
    Add {
        /// Its name: letters, digits, `_`, `-`, `.`
        name: String,
    },
    /// List the secrets' names
    List,
    /// Remove a secret (admin)
    Remove {
        /// Its name
        name: String,
    },
}

/// `jitos token …`
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a token that stands for you; it is printed this once (only its hash is kept)
    ///
    /// Example: jitos token create laptop, then
    /// curl -H "Authorization: Bearer $TOKEN" -d '{"query":"{ me { user roles } }"}'
    /// -H 'content-type: application/json' http://127.0.0.1:7780/graphql
    Create {
        /// A name to tell it by
        name: String,
    },
    /// List your tokens (an admin: everyone's): id, user, when made, name
    List,
    /// Revoke a token; requests that carry it are refused from now on
    Revoke {
        /// Its id, as listed
        id: String,
    },
}

/// `jitos key …`
#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Print the daemon's ed25519 public key (hex), which every writ it issues verifies
    /// with, and where the secret half is kept
    Show,
}

/// `jitos writ …`
#[derive(Subcommand, Debug)]
pub enum WritCommand {
    /// Issue a writ to a user (admin), or delegate one from a writ you hold (--from)
    ///
    /// Unset fields take the parent's value when delegating; otherwise every worker,
    /// the whole tree, effect `workspace`, 1024 jobs, 86400 s of job deadlines, no named
    /// budget limits, 7 days, and depth 1 (a process may run under it). A delegated writ
    /// must be narrower than or equal to its parent on every field, and allows one
    /// delegation fewer.
    ///
    /// Example: jitos writ issue --to alice --workers shell --paths src --jobs 20 --expires 2h
    Issue(WritIssueArgs),
    /// List the writs in force (and those ended with a process still under them), newest
    /// first
    List {
        /// Which page
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one writ: what it grants, what has been spent, where it stands
    Show {
        /// The writ's id (the seq of the record that issued it)
        id: u64,
    },
    /// Revoke a writ and every writ delegated from it; processes under them stop and their
    /// running jobs are killed
    Revoke {
        /// The writ's id
        id: u64,
        /// Why, kept in the ledger
        #[arg(long)]
        reason: String,
    },
    /// Raise a writ's budgets (admin only): what is given is added to what it grants. A
    /// process that waits because its budget is spent then goes on once someone answers
    /// `jitos resume PID --value '"retry"'`
    Raise {
        /// The writ's id
        id: u64,
        /// Jobs to add
        #[arg(long, default_value_t = 0)]
        jobs: u64,
        /// Wall-clock seconds to add
        #[arg(long, default_value_t = 0)]
        wall_secs: u64,
        /// A named budget to add to, e.g. `--budget tokens=5000` (one the writ bounds;
        /// repeatable)
        #[arg(long = "budget", value_name = "NAME=N", value_parser = parse_budget)]
        budgets: Vec<(String, u64)>,
        /// Why, kept in the ledger
        #[arg(long)]
        reason: String,
    },
}

/// What `jitos writ issue` grants.
#[derive(Args, Debug)]
pub struct WritIssueArgs {
    /// The user it is for: a name or a uid
    #[arg(long)]
    pub to: String,
    /// Delegate from this writ (which must be granted to you)
    #[arg(long, value_name = "ID")]
    pub from: Option<u64>,
    /// Workers its jobs may run, comma-separated
    #[arg(long, value_delimiter = ',')]
    pub workers: Option<Vec<String>>,
    /// Tree path prefixes its jobs may change, comma-separated
    #[arg(long, value_delimiter = ',')]
    pub paths: Option<Vec<String>>,
    /// Highest effect class: none, workspace, local, network or irreversible
    #[arg(long, value_parser = parse_effect)]
    pub effect: Option<jitos_gov::Effect>,
    /// Jobs it may dispatch in all
    #[arg(long)]
    pub jobs: Option<u64>,
    /// Seconds of job deadlines it may spend in all
    #[arg(long)]
    pub wall_secs: Option<u64>,
    /// A named budget and its limit, e.g. tokens=100000 (repeatable)
    #[arg(long = "budget", value_name = "NAME=N", value_parser = parse_budget)]
    pub budgets: Vec<(String, u64)>,
    /// Secrets its jobs may receive, comma-separated (an empty value for none)
    #[arg(long, value_delimiter = ',')]
    pub secrets: Option<Vec<String>>,
    /// An origin its jobs may reach, optionally after the methods allowed there, e.g.
    /// `--egress https://api.openai.com` or `--egress 'GET,HEAD https://pypi.org'`
    /// (repeatable; `--egress ''` for none). Without it, the parent's, or none
    #[arg(long, value_name = "[METHODS ]ORIGIN")]
    pub egress: Option<Vec<String>>,
    /// How long it lasts: seconds, or with a unit (90s, 30m, 2h, 7d)
    #[arg(long, value_parser = parse_duration_secs)]
    pub expires: Option<u64>,
    /// Further delegations it allows (a process under it takes one)
    #[arg(long)]
    pub depth: Option<u32>,
}

fn parse_effect(text: &str) -> Result<jitos_gov::Effect, String> {
    jitos_gov::Effect::from_name(text).ok_or_else(|| {
        format!("{text:?} is not an effect class: none, workspace, local, network or irreversible")
    })
}

fn parse_budget(text: &str) -> Result<(String, u64), String> {
    let (name, limit) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=N, e.g. tokens=100000"))?;
    let limit = limit
        .parse()
        .map_err(|e| format!("the limit of {name} is not a whole number: {e}"))?;
    Ok((name.to_owned(), limit))
}

fn parse_duration_secs(text: &str) -> Result<u64, String> {
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let count: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: seconds, or 90s, 30m, 2h, 7d"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?} has an unknown unit: use s, m, h or d")),
    };
    count
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// `jitos rewrite …`
#[derive(Subcommand, Debug)]
pub enum RewriteCommand {
    /// Apply one rewrite given as JSON; prints its sequence number once it is durable
    ///
    /// The JSON form is documented in docs/REWRITE_JSON.md, e.g.
    /// {"ops": [{"add_node": {"id": "task:1", "kind": "Task", "attrs": {"title": "fix"}}}],
    ///  "expect": [{"node_absent": {"node": "task:1"}}]}
    Apply {
        /// File holding the rewrite, or `-` for standard input
        file: PathBuf,
    },
}

/// `jitos graph …`
#[derive(Subcommand, Debug)]
pub enum GraphCommand {
    /// Show the nodes and edges, now, as of a sequence number, or as a workspace sees them
    /// (works without a daemon)
    Show {
        /// Travel to this sequence number
        #[arg(long, conflicts_with = "sws")]
        at: Option<u64>,
        /// Show only this node and its edges
        #[arg(long)]
        node: Option<String>,
        /// Show this workspace's view: its changes over its base
        #[arg(long)]
        sws: Option<u64>,
    },
}

/// `jitos log …`
#[derive(Args, Debug)]
pub struct LogArgs {
    /// First sequence number
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Most records to show
    #[arg(long, default_value_t = jitos_proto::PAGE_ITEMS_DEFAULT)]
    pub limit: u32,
    /// Keep printing records as they commit (needs a daemon)
    #[arg(long, conflicts_with = "limit")]
    pub follow: bool,
    /// Only the records of this process, a page at a time: its decisions, dispatches and
    /// their ends
    #[arg(long, value_name = "PID", conflicts_with_all = ["follow", "from"])]
    pub process: Option<u64>,
    /// With --process: the records after this seq (the cursor a page ended with)
    #[arg(long, value_name = "SEQ", requires = "process")]
    pub after: Option<u64>,
}

/// Which page of a list.
#[derive(Args, Debug, Clone)]
pub struct PageArgs {
    /// Most items to show, 1 to 10000
    #[arg(long, default_value_t = jitos_proto::PAGE_ITEMS_DEFAULT)]
    pub limit: u32,
    /// Show the items after this one: the cursor the previous page's `more:` line names
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<u64>,
}

impl PageArgs {
    /// The page as the daemon is asked for it.
    pub fn request(&self) -> jitos_proto::PageRequest {
        jitos_proto::PageRequest {
            after: self.after,
            limit: self.limit,
        }
    }
}

/// `jitos tree …`
#[derive(Subcommand, Debug)]
pub enum TreeCommand {
    /// Record a directory as File/Dir nodes whose contents are stored as blobs
    ///
    /// Honours .gitignore and skips .git; keeps the executable bit; refuses symlinks
    /// that point outside the directory and special files. The recorded tree is brought
    /// to exactly the directory's in one rewrite, so importing again records only what
    /// changed.
    Import {
        /// The directory to record
        dir: PathBuf,
        /// Record it in this workspace instead of the system
        #[arg(long)]
        sws: Option<u64>,
    },
    /// Write a recorded tree into a new or empty directory
    Checkout {
        /// Where to write it (must be missing or empty)
        dir: PathBuf,
        /// Read the tree of this workspace instead of the system
        #[arg(long, conflicts_with = "at")]
        sws: Option<u64>,
        /// Read the system's tree as of this sequence number
        #[arg(long)]
        at: Option<u64>,
    },
    /// Show a unified diff of the files that differ between two states
    ///
    /// A state is `head`, a sequence number, or `sws:ID` (a workspace). Example:
    /// `jitos tree diff 12 head`, `jitos tree diff head sws:40`.
    Diff {
        /// The old state
        #[arg(value_parser = crate::tree_cmd::parse_source)]
        from: crate::tree_cmd::TreeSource,
        /// The new state
        #[arg(value_parser = crate::tree_cmd::parse_source, default_value = "head")]
        to: crate::tree_cmd::TreeSource,
    },
}

/// `jitos blob …`
#[derive(Subcommand, Debug)]
pub enum BlobCommand {
    /// Delete every stored blob that no record refers to (blobs of past states are kept)
    Gc,
}

/// `jitos sws …`
///
/// A workspace overlays the system graph as of a sequence number. Rewrites applied in it
/// change only the workspace; `collapse` commits them into the system in one record,
/// unless the system changed since the base something the workspace read or wrote, in
/// which case nothing changes and each conflict is named. Every operation is recorded.
#[derive(Subcommand, Debug)]
pub enum SwsCommand {
    /// Create a workspace over the system (at the head, or --at SEQ) or nested in another
    Create {
        /// Base it on the system as of this sequence number
        #[arg(long, conflicts_with = "parent")]
        at: Option<u64>,
        /// Nest it in this open workspace; its collapse goes into that one
        #[arg(long)]
        parent: Option<u64>,
    },
    /// List workspaces, open and closed, in id order; a page at a time
    List {
        /// Which page
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one workspace: base, footprint, and its changes by key and by file
    Show {
        /// The workspace id
        id: u64,
    },
    /// Apply a JSON rewrite (docs/REWRITE_JSON.md) in a workspace; the system is untouched
    Apply {
        /// The workspace id
        id: u64,
        /// File holding the rewrite, or `-` for standard input
        file: PathBuf,
    },
    /// Show a workspace's changes against its base: keys, then a unified diff of files
    Diff {
        /// The workspace id
        id: u64,
    },
    /// Commit a workspace into its target in one record, or report what conflicts
    ///
    /// With a policy in force, a collapse into the system is ruled on first (rules `at =
    /// "collapse"`, docs/POLICY.md): allowed, it commits; denied, it is refused (exit 1);
    /// held, it waits for approvals (exit 3) and commits when the last one is given
    /// (`jitos sws approve ID` by others). A workspace changed since its ruling is ruled
    /// on again, and approvals given before no longer count.
    Collapse {
        /// The workspace id
        id: u64,
        /// Ask under this writ of yours: the ruling sees its user and what is left of its
        /// budgets
        #[arg(long)]
        writ: Option<u64>,
    },
    /// Approve a workspace's collapse held for approvals; the last approval commits it
    ///
    /// You need the role the ruling asks for (`approver`, unless the policy names
    /// another); you count once; you may not approve a collapse you asked for. Read the
    /// changes first: `jitos sws diff ID`.
    Approve {
        /// The workspace id
        id: u64,
        /// A comment, kept with your approval
        #[arg(long)]
        comment: Option<String>,
    },
    /// Reject a workspace's collapse held for approvals: one rejection vetoes it
    Reject {
        /// The workspace id
        id: u64,
        /// Why, kept with your rejection
        #[arg(long)]
        reason: String,
    },
    /// Move a workspace's base to the current head of its target, or report conflicts
    Rebase {
        /// The workspace id
        id: u64,
    },
    /// End a workspace without applying it; it stays in history with the reason
    Discard {
        /// The workspace id
        id: u64,
        /// Why, recorded with the discard
        #[arg(long)]
        reason: String,
    },
}

/// `jitos sandbox …`
#[derive(Subcommand, Debug)]
pub enum SandboxCommand {
    /// Run CMD confined as a worker would be, to see what it can and cannot do
    ///
    /// The environment is cleared (PATH=/usr/bin:/bin), stdin is empty, the file system is
    /// mounted read-only but for the --rw paths (no file outside them changes, nor its
    /// mode, owner, times or extended attributes), only the system's programs and
    /// libraries and the --ro paths can be read, no TCP, no sockets but unix ones, no
    /// ptrace/mount/namespaces/bpf/io_uring/keyctl, no capabilities, no clock or host
    /// name changes, limits on CPU, memory, files and processes. It never runs as root:
    /// run by root, the command takes a uid lent from jitosd's worker uid pool (or
    /// --uid), and can reach only what that uid may; its output comes through pipes.
    /// Example: `jitos sandbox exec --rw /tmp/scratch -- /bin/sh -c 'echo hi >
    /// /tmp/scratch/x'` (as root, /tmp/scratch must be writable by others, or give it to
    /// a uid and pass that as --uid)
    Exec {
        /// `pure` (no new processes, no exec) or `shell` (fork and exec system binaries)
        #[arg(long, value_parser = parse_profile, default_value = "shell")]
        profile: jitos_sandbox::Profile,
        /// A directory the command may write under (repeatable)
        #[arg(long)]
        rw: Vec<PathBuf>,
        /// A directory the command may read (repeatable)
        #[arg(long)]
        ro: Vec<PathBuf>,
        /// Run as this unprivileged uid (root only; by default root lends one from the
        /// worker uid pool, anyone else runs it as themself)
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        uid: Option<u32>,
        /// The command and its arguments, after `--`
        #[arg(last = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
}

fn parse_profile(text: &str) -> Result<jitos_sandbox::Profile, String> {
    match text {
        "pure" => Ok(jitos_sandbox::Profile::Pure),
        "shell" => Ok(jitos_sandbox::Profile::Shell),
        other => Err(format!("{other:?} is not a profile: use `pure` or `shell`")),
    }
}

/// `jitos job …`
#[derive(Subcommand, Debug)]
pub enum JobCommand {
    /// Dispatch a job to a worker and (unless --detach) wait for its end.
    ///
    /// Exits 0 when the proposal was applied and the worker's own exit status is 0;
    /// 1 otherwise. For people it prints the attempt and, for `shell`, the command's
    /// captured stdout and stderr; --json prints the attempt.
    Run(JobRunArgs),
    /// Show one attempt: its worker, workspace, arguments and how it ended.
    Show {
        /// The attempt id (the seq of its dispatch record).
        id: u64,
    },
    /// List attempts, newest first: the running ones, or all with --all; a page at a time.
    List {
        /// Include attempts that ended.
        #[arg(long)]
        all: bool,
        /// Which page.
        #[command(flatten)]
        page: PageArgs,
    },
    /// Ask the worker running an attempt to stop; it ends as `failed (cancelled)`.
    Cancel {
        /// The attempt id.
        id: u64,
    },
}

/// Arguments of `jitos job run`.
#[derive(Args, Debug)]
pub struct JobRunArgs {
    /// The worker: a built-in (`noop`, `shell`, `scaffold`) or an installed one.
    pub worker: String,
    /// The open workspace the proposal goes into.
    #[arg(long, required_unless_present = "new_sws", conflicts_with = "new_sws")]
    pub sws: Option<u64>,
    /// Create a workspace over the system's head for this job first.
    #[arg(long)]
    pub new_sws: bool,
    /// A tree path the proposal may touch (repeatable); without any, the whole tree.
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<String>,
    /// Seconds before the worker is killed [default: the daemon's, 600].
    #[arg(long, value_name = "SECS")]
    pub deadline: Option<f64>,
    /// A file whose bytes are the job's input (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Answer as soon as the job is dispatched; follow it with `jitos job show`.
    #[arg(long)]
    pub detach: bool,
    /// Run it under this writ of yours: it must lie within the writ's workers, effect and
    /// paths, and the policy's ruling sees the writ's user and budgets.
    #[arg(long)]
    pub writ: Option<u64>,
    /// Arguments for the worker; for `shell`, the command and its arguments.
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// `jitos worker …`
#[derive(Subcommand, Debug)]
pub enum WorkerCommand {
    /// List the workers the daemon can run: built-in, then installed by name; a page at a
    /// time.
    List {
        /// Most workers to show, 1 to 10000.
        #[arg(long, default_value_t = jitos_proto::PAGE_ITEMS_DEFAULT)]
        limit: u32,
        /// Show the workers after this one (the name the previous page's `more:` line names).
        #[arg(long, value_name = "NAME")]
        after: Option<String>,
    },
    /// Register a custom worker with the daemon from its manifest; its binary sits beside
    /// the manifest, and is refused later if it changes.
    Install {
        /// The worker's `worker.toml`.
        file: PathBuf,
    },
    /// Generate a new custom worker crate (manifest, main, a test) with the `scaffold`
    /// worker, through the daemon, and check it out into DIR (default: ./NAME).
    Scaffold {
        /// The new worker's name: lowercase letters, digits and `-`.
        name: String,
        /// Where to put the crate; must not exist.
        #[arg(long)]
        into: Option<PathBuf>,
        /// The JITOS `crates/` directory the generated crate depends on by path
        /// [default: the one this jitos was built from].
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Check a worker manifest (worker.toml): fields, values and paths; names the line or
    /// field of the first problem
    Validate {
        /// The manifest file
        file: PathBuf,
    },
}
