//! `jitos sandbox exec` and `jitos doctor`: run any command under a worker's confinement,
//! and report what confinement this kernel can enforce.

use std::{
    ffi::OsString,
    os::unix::process::ExitStatusExt,
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{anyhow, bail, Context, Result};
use jitos_sandbox::{
    others_may, CgroupRoot, Confinement, LentUid, Profile, Spawn, Stdio, UidPool, Use,
    LENT_UIDS_MAX, LENT_UID_BASE, MACHINE_WIDE_CALLS, PURE_READS, SHELL_ETC_READS,
    SHELL_READS_AND_EXECUTES,
};

use crate::{commands::emit_json, relay::Relay};

/// How long the command's output may stay quiet, once the command has ended, before it is
/// no longer waited for.
const OUTPUT_QUIET: std::time::Duration = std::time::Duration::from_millis(500);

/// How `jitos sandbox exec` runs its command.
pub struct ExecArgs<'a> {
    /// The profile.
    pub profile: Profile,
    /// Paths it may write under.
    pub rw: &'a [PathBuf],
    /// Paths it may read.
    pub ro: &'a [PathBuf],
    /// The uid to run as (root only).
    pub uid: Option<u32>,
}

/// Who runs the command: a uid lent from the pool, one named, or the caller.
enum RunAs {
    Lent(LentUid),
    Named(u32),
    Caller,
}

impl RunAs {
    fn uid(&self) -> Option<u32> {
        match self {
            RunAs::Lent(lent) => Some(lent.uid()),
            RunAs::Named(uid) => Some(*uid),
            RunAs::Caller => None,
        }
    }
}

/// `jitos sandbox exec [--profile P] [--rw DIR]... [--ro DIR]... [--uid UID] -- CMD ARGS`.
pub fn exec(args: &ExecArgs<'_>, command: &[OsString]) -> Result<ExitCode> {
    let Some((program, program_args)) = command.split_first() else {
        bail!("name the command to run after `--`, e.g. `jitos sandbox exec -- /bin/ls /`");
    };
    let program = resolve(Path::new(program))?;
    let confinement = Confinement {
        profile: args.profile,
        read_only: absolute_all(args.ro)?,
        read_write: absolute_all(args.rw)?,
        limits: Default::default(),
    };
    let root = nix::unistd::Uid::effective().is_root();
    let run_as = match (root, args.uid) {
        (true, Some(uid)) if (LENT_UID_BASE..LENT_UID_BASE + LENT_UIDS_MAX).contains(&uid) => {
            bail!(
                "--uid {uid} is in the range lent to jitosd's workers ({LENT_UID_BASE} to {}); \
                 leave --uid out to borrow one, or name another",
                LENT_UID_BASE + LENT_UIDS_MAX - 1
            )
        }
        (true, Some(uid)) => RunAs::Named(uid),
        (true, None) => RunAs::Lent(
            UidPool::host()
                .context("cannot open the worker uid pool")?
                .lend()
                .context("every uid of the worker uid pool is in use; give --uid")?,
        ),
        (false, None) => RunAs::Caller,
        (false, Some(_)) => bail!("only root can run a command as another uid; drop --uid"),
    };
    if let RunAs::Lent(lent) = &run_as {
        eprintln!(
            "jitos: running {} as uid {}, lent for it (a confined command never runs as root)",
            program.display(),
            lent.uid()
        );
        // A lent uid owns nothing, so only what others may do counts.
        let uses = std::iter::once((program.as_path(), Use::Execute))
            .chain(
                confinement
                    .read_write
                    .iter()
                    .map(|p| (p.as_path(), Use::Write)),
            )
            .chain(
                confinement
                    .read_only
                    .iter()
                    .map(|p| (p.as_path(), Use::Read)),
            );
        for (path, use_) in uses {
            others_may(path, use_).map_err(|e| {
                anyhow!(
                    "uid {} could not use what it is given: {e}; open it up, give it to a \
                     uid with `chown` and pass that uid as --uid, or copy it where others may",
                    lent.uid()
                )
            })?;
        }
    }
    // Root can hold the command's whole tree in a control group; without one the
    // rlimits still bind it, as they bind every uid it can run as.
    let cgroups = root
        .then(|| CgroupRoot::create_for_this_process("jitos-exec-").ok())
        .flatten();
    let lease = match &cgroups {
        Some(cgroups) => Some(
            cgroups
                .lease("command", &confinement.limits)
                .context("cannot make the command's control group")?,
        ),
        None => None,
    };
    // The command's output reaches ours through pipes: a descriptor of a file or
    // terminal would let it change that file's mode or owner, which its view otherwise
    // keeps it from.
    let (stdout_reader, stdout_writer) = std::io::pipe().context("cannot make a pipe")?;
    let (stderr_reader, stderr_writer) = std::io::pipe().context("cannot make a pipe")?;
    // In the caller's directory, as a shell would run it (a relative path in a --rw
    // directory then reaches its writable view); a lent uid that cannot enter it runs in
    // the root directory instead.
    let mut cwd = std::env::current_dir().context("cannot read the current directory")?;
    if let RunAs::Lent(lent) = &run_as {
        if others_may(&cwd, Use::Enter).is_err() {
            eprintln!(
                "jitos: uid {} cannot enter {}; the command runs in /",
                lent.uid(),
                cwd.display()
            );
            cwd = PathBuf::from("/");
        }
    }
    let mut spawn = Spawn::new(&program).args(program_args).cwd(cwd).stdio(
        Stdio::Null,
        Stdio::Fd(stdout_writer.into()),
        Stdio::Fd(stderr_writer.into()),
    );
    if let Some(uid) = run_as.uid() {
        spawn = spawn.uid(uid);
    }
    if let Some(lease) = &lease {
        spawn = spawn.cgroup(lease)?;
    }
    let mut process = confinement.spawn(spawn)?;
    let relays = [
        Relay::start(stdout_reader, std::io::stdout()),
        Relay::start(stderr_reader, std::io::stderr()),
    ];
    let status = process
        .wait()
        .with_context(|| format!("cannot wait for {}", program.display()))?;
    // What the command left running ends with it: its group, and every process of a
    // lent uid (which nothing else runs under); then its output is complete.
    drop(lease);
    if let RunAs::Lent(lent) = &run_as {
        jitos_sandbox::kill_uid(lent.uid()).context("cannot kill what the command left running")?;
    }
    // Something it started in the background may still hold its output open (nothing
    // ends it when the caller is not root): once quiet, its output is not waited for.
    for relay in relays {
        relay.finish(OUTPUT_QUIET);
    }
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX)),
        (None, Some(signal)) => {
            eprintln!("jitos: {} was killed by signal {signal}", program.display());
            ExitCode::from(u8::try_from(128 + signal).unwrap_or(u8::MAX))
        }
        (None, None) => ExitCode::FAILURE,
    })
}

/// The program as an absolute path: as given when it has a `/`, else found on `PATH`.
fn resolve(program: &Path) -> Result<PathBuf> {
    if program.components().count() > 1 || program.is_absolute() {
        return program
            .canonicalize()
            .with_context(|| format!("cannot find {}", program.display()));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .with_context(|| format!("{} is not on PATH; give its full path", program.display()))
}

fn absolute_all(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    paths
        .iter()
        .map(|path| {
            path.canonicalize()
                .with_context(|| format!("cannot grant {}: it does not exist", path.display()))
        })
        .collect()
}

/// `jitos doctor`: what this kernel offers and what JITOS enforces with it.
pub fn doctor(json: bool) -> Result<ExitCode> {
    let status = jitos_sandbox::status();
    let root = nix::unistd::Uid::effective().is_root();
    let cgroups = CgroupRoot::available();
    let runs_as = if root {
        format!(
            "an unprivileged uid of its own, lent from {LENT_UID_BASE} up (jitosd's workers and \
             `jitos sandbox exec`, which also takes --uid)"
        )
    } else {
        format!(
            "your uid {} (only root can give each worker a uid of its own)",
            nix::unistd::Uid::effective()
        )
    };
    let machine_calls: Vec<&str> = MACHINE_WIDE_CALLS.iter().map(|(name, _)| *name).collect();
    let shell_reads: Vec<&str> = SHELL_READS_AND_EXECUTES
        .iter()
        .chain(SHELL_ETC_READS)
        .copied()
        .collect();
    if json {
        emit_json(&serde_json::json!({
            "landlock_abi": status.landlock_abi,
            "seccomp": status.seccomp,
            "mount_namespace": status.mount_namespace,
            "cgroup_version": cgroups.as_ref().ok().map(|v| v.number()),
            "cgroup_unavailable": cgroups.as_ref().err().map(ToString::to_string),
            "runs_as": runs_as,
            "pure_reads": PURE_READS,
            "shell_reads": shell_reads,
            "machine_wide_calls_refused": machine_calls,
            "workers_confined": status.supported,
        }))?;
    } else {
        let yes = |b: bool| if b { "yes" } else { "no" };
        println!("landlock ABI      {}", status.landlock_abi);
        println!("seccomp filters   {}", yes(status.seccomp));
        println!(
            "mount namespaces  {} (each worker's private view: read-only outside its writable paths)",
            yes(status.mount_namespace)
        );
        match &cgroups {
            Ok(version) => println!(
                "cgroups           v{} for this caller (a group per program holds its process \
                 and memory limits; `jitos status` says what jitosd uses)",
                version.number()
            ),
            Err(why) => println!(
                "cgroups           not for this caller: {why}; rlimits hold the limits (`jitos \
                 status` says what jitosd uses)"
            ),
        }
        println!("runs as           {runs_as}");
        println!("pure reads        {}", PURE_READS.join(" "));
        println!("shell reads       {}", shell_reads.join(" "));
        println!("refused calls     {}", machine_calls.join(" "));
        if status.supported {
            println!(
                "enforced          a read-only view of the file system, Landlock paths and \
                 TCP, a seccomp filter, no capabilities, never root, rlimits, no_new_privs, new \
                 session, parent-death signal"
            );
        } else {
            println!(
                "enforced          nothing: workers need mount namespaces, Landlock ABI 4 or \
                 later (6 for a caller that is not root) and seccomp, and are refused here unless jitosd runs with \
                 --allow-unconfined-workers (degraded mode, shown by `jitos status`)"
            );
        }
    }
    Ok(if status.supported {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
