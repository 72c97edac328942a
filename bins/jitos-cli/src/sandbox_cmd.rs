//! `jitos sandbox exec` and `jitos doctor`: run any command under a worker's confinement,
//! and report what confinement this kernel can enforce.

use std::{
    ffi::OsString,
    io::IsTerminal,
    os::unix::process::ExitStatusExt,
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{bail, Context, Result};
use jitos_sandbox::{
    CgroupRoot, CgroupVersion, Confinement, LentUid, Profile, Spawn, UidPool, LENT_UID_BASE,
    MACHINE_WIDE_CALLS, PURE_READS, SHELL_ETC_READS, SHELL_READS_AND_EXECUTES,
};

use crate::commands::emit_json;

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
    if let (Some(uid), true) = (run_as.uid(), std::io::stderr().is_terminal()) {
        eprintln!(
            "jitos: running {} as uid {uid}, never as root: it reaches only what that uid may",
            program.display()
        );
    }
    // Root can hold the command's whole tree in a control group; without one the
    // rlimits still bind it, as they bind every uid it can run as.
    let cgroups = root
        .then(|| CgroupRoot::create(&format!("jitos-exec-{}", std::process::id())).ok())
        .flatten();
    let lease = match &cgroups {
        Some(cgroups) => Some(
            cgroups
                .lease("command", &confinement.limits)
                .context("cannot make the command's control group")?,
        ),
        None => None,
    };
    let mut spawn = Spawn::new(&program).args(program_args);
    if let Some(uid) = run_as.uid() {
        spawn = spawn.uid(uid);
    }
    if let Some(lease) = &lease {
        spawn = spawn.cgroup(lease)?;
    }
    let status = confinement
        .spawn(spawn)?
        .wait()
        .with_context(|| format!("cannot wait for {}", program.display()))?;
    // What the command left running ends with it: its group, and every process of a
    // lent uid (which nothing else runs under).
    drop(lease);
    if let RunAs::Lent(lent) = &run_as {
        jitos_sandbox::kill_uid(lent.uid()).context("cannot kill what the command left running")?;
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
            "cgroup_version": cgroups.as_ref().ok().map(|v| match v {
                CgroupVersion::V1 => 1,
                CgroupVersion::V2 => 2,
            }),
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
                "cgroups           {} (a group per worker holds its process and memory limits)",
                match version {
                    CgroupVersion::V1 => "v1",
                    CgroupVersion::V2 => "v2",
                }
            ),
            Err(why) => println!("cgroups           not used: {why}; rlimits hold the limits"),
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
                 later and seccomp, and are refused here unless jitosd runs with \
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
