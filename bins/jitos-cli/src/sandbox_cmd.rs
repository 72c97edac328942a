//! `jitos sandbox exec` and `jitos doctor`: run any command under a worker's confinement,
//! and report what confinement this kernel can enforce.

use std::{
    ffi::OsString,
    os::unix::process::ExitStatusExt,
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{bail, Context, Result};
use jitos_sandbox::{Confinement, Profile, Spawn};

use crate::commands::emit_json;

/// `jitos sandbox exec [--profile P] [--rw DIR]... [--ro DIR]... -- CMD ARGS`.
pub fn exec(
    profile: Profile,
    rw: &[PathBuf],
    ro: &[PathBuf],
    command: &[OsString],
) -> Result<ExitCode> {
    let Some((program, args)) = command.split_first() else {
        bail!("name the command to run after `--`, e.g. `jitos sandbox exec -- /bin/ls /`");
    };
    let program = resolve(Path::new(program))?;
    let confinement = Confinement {
        profile,
        read_only: absolute_all(ro)?,
        read_write: absolute_all(rw)?,
        limits: Default::default(),
    };
    let status = confinement
        .spawn(Spawn::new(&program).args(args))?
        .wait()
        .with_context(|| format!("cannot wait for {}", program.display()))?;
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
    let user_namespaces = std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .is_some_and(|max| max > 0);
    let cgroup_v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    if json {
        emit_json(&serde_json::json!({
            "landlock_abi": status.landlock_abi,
            "seccomp": status.seccomp,
            "user_namespaces": user_namespaces,
            "cgroup_v2": cgroup_v2,
            "workers_confined": status.supported,
        }))?;
    } else {
        let yes = |b: bool| if b { "yes" } else { "no" };
        println!("landlock ABI      {}", status.landlock_abi);
        println!("seccomp filters   {}", yes(status.seccomp));
        println!("user namespaces   {} (not used)", yes(user_namespaces));
        println!("cgroup v2         {} (not used)", yes(cgroup_v2));
        if status.supported {
            println!(
                "enforced          Landlock paths and TCP, seccomp syscall filter, rlimits, \
                 no_new_privs, new session, parent-death signal; under a root jitosd each \
                 worker also runs as its own unprivileged uid"
            );
        } else {
            println!(
                "enforced          nothing: workers need Landlock ABI 4 or later and seccomp, \
                 and are refused here unless jitosd runs with --allow-unconfined-workers \
                 (degraded mode, shown by `jitos status`)"
            );
        }
    }
    Ok(if status.supported {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
