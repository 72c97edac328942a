//! `cargo xtask tree-bench`: files per second for `jitos tree import` and `checkout` of a
//! generated tree, through release builds of the real daemon and CLI.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use std::os::unix::fs::PermissionsExt;

use anyhow::{bail, Context, Result};

use crate::status;

/// Files in the generated tree when no count is given.
const FILES_DEFAULT: usize = 10_000;
/// Files per generated directory.
const FILES_PER_DIR: usize = 100;
/// Bytes per generated file (source-file sized).
const FILE_BYTES: usize = 2_048;
/// Longest wait for the daemon's socket to appear.
const DAEMON_START_WAIT: Duration = Duration::from_secs(30);

/// Builds the binaries in release, generates the tree, and times import and checkout.
pub fn run(root: &Path, files: Option<&str>) -> Result<()> {
    let files = match files {
        Some(text) => text.parse().context("the file count must be a number")?,
        None => FILES_DEFAULT,
    };
    status(Command::new("cargo").current_dir(root).args([
        "build",
        "--release",
        "-p",
        "jitosd",
        "-p",
        "jitos-cli",
    ]))?;
    let bins = target_dir(root).join("release");
    let scratch = std::env::temp_dir().join(format!("jitos-tree-bench-{}", std::process::id()));
    fs::create_dir_all(&scratch)?;
    let result = measure(&bins, &scratch, files);
    let _ = fs::remove_dir_all(&scratch);
    result
}

fn measure(bins: &Path, scratch: &Path, files: usize) -> Result<()> {
    let project = scratch.join("project");
    generate(&project, files)?;
    let run_dir = scratch.join("run");
    fs::create_dir_all(&run_dir)?;
    fs::set_permissions(&run_dir, fs::Permissions::from_mode(0o700))?;
    let socket = run_dir.join("jitosd.sock");
    let data = scratch.join("data");
    let mut daemon = Daemon(
        Command::new(bins.join("jitosd"))
            .arg("--data-dir")
            .arg(&data)
            .arg("--socket")
            .arg(&socket)
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start jitosd")?,
    );
    let started = Instant::now();
    while !socket.exists() {
        if started.elapsed() > DAEMON_START_WAIT {
            bail!("jitosd did not open {} in time", socket.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let jitos = |args: &[&Path]| -> Result<Duration> {
        let mut cmd = Command::new(bins.join("jitos"));
        cmd.arg("--socket")
            .arg(&socket)
            .arg("--data-dir")
            .arg(&data);
        cmd.args(args).stdout(Stdio::null());
        let start = Instant::now();
        status(&mut cmd)?;
        Ok(start.elapsed())
    };
    let import = jitos(&[Path::new("tree"), Path::new("import"), &project])?;
    let checkout = jitos(&[
        Path::new("tree"),
        Path::new("checkout"),
        &scratch.join("out"),
    ])?;
    daemon.stop();
    let rate = |d: Duration| files as f64 / d.as_secs_f64();
    println!(
        "tree of {files} files of {FILE_BYTES} bytes\n  import:   {:>8.1} ms  {:>9.0} files/s\n  checkout: {:>8.1} ms  {:>9.0} files/s",
        import.as_secs_f64() * 1e3,
        rate(import),
        checkout.as_secs_f64() * 1e3,
        rate(checkout)
    );
    Ok(())
}

/// Writes `files` files of distinct content, `FILES_PER_DIR` to a directory.
fn generate(project: &Path, files: usize) -> Result<()> {
    for index in 0..files {
        let dir = project.join(format!("d{:04}", index / FILES_PER_DIR));
        if index % FILES_PER_DIR == 0 {
            fs::create_dir_all(&dir)?;
        }
        let mut content = format!("// file {index}\n").into_bytes();
        content.resize(FILE_BYTES, b'x');
        fs::write(dir.join(format!("f{index:05}.rs")), content)?;
    }
    Ok(())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Kills the daemon however `measure` ends.
struct Daemon(Child);

impl Daemon {
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}
