//! A second local user for the tests: `nobody`, granted roles by an access file, running
//! the CLI under its own uid.

use std::{
    fs,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::PathBuf,
    process::Output,
    time::Duration,
};

use crate::{run_bounded, Sandbox};

/// The uid (and gid) of `nobody`.
pub const NOBODY: u32 = 65534;

/// Writes an access file granting `nobody` `roles`, with the socket opened to its group
/// (`nogroup`), and lets it pass through the sandbox's root to reach the socket. The flags
/// that give the file to `jitosd`.
pub fn grant_nobody(sandbox: &Sandbox, roles: &[&str]) -> Vec<String> {
    let roles: Vec<String> = roles.iter().map(|role| format!("{role:?}")).collect();
    let path: PathBuf = sandbox.path().join("access.toml");
    fs::write(
        &path,
        format!(
            "[socket]\ngroup = \"nogroup\"\n\n[users]\nnobody = [{}]\n",
            roles.join(", ")
        ),
    )
    .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    fs::set_permissions(sandbox.path(), fs::Permissions::from_mode(0o711))
        .unwrap_or_else(|e| panic!("cannot open {} to others: {e}", sandbox.path().display()));
    vec!["--access".to_owned(), path.display().to_string()]
}

/// `jitos ARGS` run as `uid` (with gid `nogroup`), to completion.
pub fn jitos_as(sandbox: &Sandbox, uid: u32, args: &[&str]) -> Output {
    let mut command = sandbox.jitos_command(args);
    command.uid(uid).gid(NOBODY);
    run_bounded(&mut command, &[], Duration::from_secs(60))
}
