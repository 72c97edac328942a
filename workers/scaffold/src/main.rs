//! `jitos-worker-scaffold`: the worker that builds a worker. Given a name and the path of
//! the JITOS `crates/` directory, it proposes, as one rewrite of the job's workspace, a
//! new directory `NAME/` holding a worker crate that builds and passes its own test.
//!
//! Like every worker it only proposes: the files travel as a tree rewrite plus one
//! `files/<path>` artifact per file, and the kernel decides whether they are written.

mod template;

use std::{path::Path, process::ExitCode};

use jitos_tree::{sync_rewrite, Entry, TreePath};
use jitos_worker::{Artifact, Context, Handler, Job, Manifest, Outcome, MANIFEST_NAME_BYTES_MAX};

/// Prefix of the artifact holding a file's content; the rest is its tree path.
const FILE_ARTIFACT_PREFIX: &str = "files/";

/// The handler: one new crate per job.
struct Scaffold;

impl Handler for Scaffold {
    fn handle(&mut self, job: &Job, _ctx: &mut Context<'_>) -> Result<Outcome, String> {
        let [name, sdk] = job.args.as_slice() else {
            return Err(format!(
                "the scaffold worker takes two args, NAME and SDK_DIR (the absolute path of \
                 the JITOS crates/ directory); it got {}",
                job.args.len()
            ));
        };
        check_name(name)?;
        check_sdk(sdk)?;
        let workspace = job.workspace_dir.as_deref().ok_or_else(|| {
            "the scaffold worker needs a workspace: the job has no workspace_dir".to_owned()
        })?;
        let before = jitos_treefs::read_tree(Path::new(workspace))
            .map_err(|e| format!("cannot read the workspace: {e}"))?;
        let root = TreePath::new(name).map_err(|e| e.to_string())?;
        if before.entries.contains_key(&root) {
            return Err(format!(
                "{name}/ already exists in the workspace; choose another name or remove it first"
            ));
        }

        let files = template::render(name, sdk);
        let mut after = before.clone();
        let mut artifacts = Vec::new();
        for (relative, text) in files {
            let path = root.join(relative).map_err(|e| e.to_string())?;
            if relative == template::MANIFEST_PATH {
                // The generated manifest must load in the daemon; check it with the same parser.
                Manifest::parse(&text, Path::new(path.as_str()))
                    .map_err(|e| format!("the generated manifest is not valid: {e}"))?;
            }
            let bytes = text.into_bytes();
            after.insert(
                path.clone(),
                Entry::File {
                    blob: jitos_treefs::blob_ref(&bytes),
                    size: bytes.len() as u64,
                    executable: false,
                },
            );
            artifacts.push(Artifact {
                name: format!("{FILE_ARTIFACT_PREFIX}{}", path.as_str()),
                bytes,
            });
        }
        let rewrite = sync_rewrite(&before, &after)
            .map_err(|e| format!("cannot propose the new crate: {e}"))?;
        Ok(Outcome {
            rewrites: vec![rewrite],
            artifacts,
            exit_status: 0,
        })
    }
}

/// The manifest's rule for names: 1 to 64 lowercase letters, digits or `-`.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MANIFEST_NAME_BYTES_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the worker name {name:?} is not allowed; use 1 to {MANIFEST_NAME_BYTES_MAX} \
             lowercase letters, digits or `-`"
        ))
    }
}

/// The SDK directory is pasted into a TOML string: it must be absolute and need no
/// escaping.
fn check_sdk(sdk: &str) -> Result<(), String> {
    if !Path::new(sdk).is_absolute() {
        return Err(format!(
            "SDK_DIR {sdk:?} is not an absolute path; give the absolute path of the JITOS \
             crates/ directory"
        ));
    }
    if sdk.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return Err(format!(
            "SDK_DIR {sdk:?} holds a quote, a backslash or a control character, which the \
             generated Cargo.toml cannot hold"
        ));
    }
    Ok(())
}

fn main() -> ExitCode {
    jitos_worker::run("scaffold", env!("CARGO_PKG_VERSION"), Scaffold)
}
