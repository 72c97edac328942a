//! `cargo xtask deb`: the Debian package of the daemon, the CLI and the built-in workers,
//! made by cargo-deb from `[package.metadata.deb]` in bins/jitosd/Cargo.toml. That table
//! is the one list of what the package holds: the binaries built here are those its
//! assets name, and the manual pages and completions are made where its assets expect
//! them.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::status;

/// The workspace package whose metadata describes the Debian package.
const PACKAGE: &str = "jitosd";
/// Where the assets expect the generated files, under the release directory.
const GENERATED: &str = "packaging";
/// Each shell, and what its completion file's name puts before and after the program's.
const SHELLS: [(&str, &str, &str); 3] = [("bash", "", ""), ("zsh", "_", ""), ("fish", "", ".fish")];
const PROGRAMS: [&str; 2] = ["jitos", "jitosd"];

/// Builds the release binaries, the manual pages and the completions, then the package,
/// and prints the package's path.
pub fn run(root: &Path) -> Result<()> {
    let metadata = cargo_metadata(root)?;
    let release = metadata["target_directory"]
        .as_str()
        .map(|dir| PathBuf::from(dir).join("release"))
        .context("cargo metadata names no target directory")?;
    let mut build = Command::new("cargo");
    build
        .current_dir(root)
        .args(["build", "--release", "--locked", "--workspace"]);
    for binary in packaged_binaries(&metadata)? {
        build.args(["--bin", &binary]);
    }
    status(&mut build)?;
    generate(&release)?;
    ensure_cargo_deb(root)?;
    let out = Command::new("cargo")
        .current_dir(root)
        // Stripped: with the release profile's line tables the package is 47 MB, not 19.
        .args(["deb", "-p", PACKAGE, "--no-build", "--strip"])
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo deb")?;
    if !out.status.success() {
        bail!("cargo deb failed with {}", out.status);
    }
    // cargo-deb prints the package's path, and nothing else, on standard output.
    let deb = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !Path::new(&deb).is_file() {
        bail!("cargo deb made no package (it printed {deb:?})");
    }
    println!("{deb}");
    Ok(())
}

fn cargo_metadata(root: &Path) -> Result<Value> {
    let out = Command::new("cargo")
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed with {}", out.status);
    }
    serde_json::from_slice(&out.stdout).context("cargo metadata printed no JSON")
}

/// The binaries the package's assets take straight from the release directory
/// (`target/release/NAME`), each checked to be a binary of the workspace.
fn packaged_binaries(metadata: &Value) -> Result<Vec<String>> {
    let packages = metadata["packages"]
        .as_array()
        .context("cargo metadata lists no packages")?;
    let bins: Vec<&str> = packages
        .iter()
        .flat_map(|package| package["targets"].as_array().into_iter().flatten())
        .filter(|target| {
            target["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bin"))
        })
        .filter_map(|target| target["name"].as_str())
        .collect();
    let assets = packages
        .iter()
        .find(|package| package["name"] == PACKAGE)
        .and_then(|package| package["metadata"]["deb"]["assets"].as_array())
        .with_context(|| format!("{PACKAGE} has no [package.metadata.deb] assets"))?;
    let mut binaries = Vec::new();
    for asset in assets {
        let source = asset[0]
            .as_str()
            .or_else(|| asset["source"].as_str())
            .context("an asset of the package names no source")?;
        let Some(name) = source.strip_prefix("target/release/") else {
            continue;
        };
        if name.contains('/') {
            continue;
        }
        if !bins.contains(&name) {
            bail!("the package's asset {source} is no binary of the workspace");
        }
        binaries.push(name.to_owned());
    }
    Ok(binaries)
}

/// Writes the manual pages and each shell's completions of both programs, made by the
/// built `jitos` from the definitions that parse their flags.
fn generate(release: &Path) -> Result<()> {
    let jitos = release.join("jitos");
    let dir = release.join(GENERATED);
    // A page or script of a command since removed must not be packaged.
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    let man = dir.join("man");
    let pages = Command::new(&jitos)
        .arg("man")
        .arg(&man)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", jitos.display()))?;
    if !pages.status.success() {
        bail!("jitos man failed with {}", pages.status);
    }
    // Debian's pages are gzipped; cargo-deb gzips only what it did not find in the
    // release directory. Without names or times inside (-n), the same pages give the same
    // package.
    let mut gzip = Command::new("gzip");
    gzip.args(["-9", "-n", "-f"]);
    for entry in fs::read_dir(&man).with_context(|| format!("cannot list {}", man.display()))? {
        gzip.arg(
            entry
                .with_context(|| format!("cannot list {}", man.display()))?
                .path(),
        );
    }
    status(&mut gzip)?;
    for (shell, before, after) in SHELLS {
        let shell_dir = dir.join("completions").join(shell);
        fs::create_dir_all(&shell_dir)
            .with_context(|| format!("cannot create {}", shell_dir.display()))?;
        for program in PROGRAMS {
            let out = Command::new(&jitos)
                .args(["completions", shell, "--for", program])
                .stderr(Stdio::inherit())
                .output()
                .with_context(|| format!("cannot run {}", jitos.display()))?;
            if !out.status.success() {
                bail!(
                    "jitos completions {shell} --for {program} failed with {}",
                    out.status
                );
            }
            let path = shell_dir.join(format!("{before}{program}{after}"));
            fs::write(&path, out.stdout)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(())
}

fn ensure_cargo_deb(root: &Path) -> Result<()> {
    let present = Command::new("cargo")
        .current_dir(root)
        .args(["deb", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    eprintln!("xtask: cargo-deb is missing; installing it");
    status(
        Command::new("cargo")
            .current_dir(root)
            .args(["install", "cargo-deb", "--locked"]),
    )
}
