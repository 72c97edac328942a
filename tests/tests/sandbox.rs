//! `jitos sandbox exec` and `jitos doctor` through the real CLI: the confinement a worker
//! gets, seen from the command line, each refusal beside a positive control.
#![allow(clippy::unwrap_used)]

use std::{
    fs,
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::Path,
    process::Command,
};

use jitos_system_tests::{
    assert_failure, assert_success, bin_path, root_or_skip, running_as_root, Sandbox,
};

/// The uid `jitos sandbox exec --uid` runs as in these tests, and `setpriv` the CLI as.
const NOBODY: u32 = 65534;

/// Makes the sandbox's directories `NOBODY`'s (and enterable), for the runs as it.
fn give_to_nobody(sandbox: &Sandbox, paths: &[&Path]) {
    fs::set_permissions(sandbox.path(), fs::Permissions::from_mode(0o755)).unwrap();
    for path in paths {
        std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
    }
}

// Goal: doctor says workers can be confined on this machine. Method: read its JSON.
#[test]
fn doctor_reports_landlock_and_seccomp() {
    let sandbox = Sandbox::new();
    let output = sandbox.jitos(&["--json", "doctor"]);
    assert_success("jitos doctor", &output);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["landlock_abi"].as_i64().unwrap_or(0) >= 4,
        "{report:#}"
    );
    assert_eq!(report["seccomp"].as_bool(), Some(true), "{report:#}");
    assert_eq!(
        report["mount_namespace"].as_bool(),
        Some(true),
        "{report:#}"
    );
    let refused = report["machine_wide_calls_refused"].to_string();
    assert!(
        refused.contains("sethostname") && refused.contains("settimeofday"),
        "{report:#}"
    );
    assert_eq!(
        report["workers_confined"].as_bool(),
        Some(true),
        "{report:#}"
    );
}

// Goal: only --rw directories are writable. Method: write inside and outside the granted
// directory under `sandbox exec`; control: the same outside write unconfined succeeds.
#[test]
fn exec_writes_only_under_rw() {
    let sandbox = Sandbox::new();
    let granted = sandbox.path().join("granted");
    let other = sandbox.path().join("other");
    fs::create_dir_all(&granted).unwrap();
    fs::create_dir_all(&other).unwrap();
    let inside = granted.join("x");
    let outside = other.join("x");
    let write = |target: &std::path::Path| format!("echo hi > {}", target.display());

    // As root the command runs as another uid: give it what it is to write.
    let uid = NOBODY.to_string();
    let as_uid: &[&str] = if running_as_root() {
        give_to_nobody(&sandbox, &[&granted, &other]);
        &["--uid", &uid]
    } else {
        &[]
    };
    let rw = granted.to_str().unwrap();
    let exec = |rest: &[&str]| {
        let mut args = vec!["sandbox", "exec"];
        args.extend(as_uid);
        args.extend(rest);
        sandbox.jitos(&args)
    };
    assert_success(
        "write inside --rw",
        &exec(&["--rw", rw, "--", "/bin/sh", "-c", &write(&inside)]),
    );
    assert_eq!(fs::read_to_string(&inside).unwrap(), "hi\n");

    let refused = exec(&["--rw", rw, "--", "/bin/sh", "-c", &write(&outside)]);
    assert_failure("write outside --rw", &refused);
    assert!(!outside.exists(), "the confined write landed");

    let control = Command::new("/bin/sh")
        .args(["-c", &write(&outside)])
        .status()
        .unwrap();
    assert!(
        control.success() && outside.exists(),
        "control: unconfined write failed"
    );
}

// Goal: the pure profile starts no processes. Method: a shell that must fork to run `true`,
// under pure (refused) and under shell (control, succeeds).
#[test]
fn pure_profile_cannot_start_processes() {
    let sandbox = Sandbox::new();
    let script = ["--", "/bin/sh", "-c", "/bin/true && echo forked"];
    let mut pure = vec!["sandbox", "exec", "--profile", "pure"];
    pure.extend(script);
    assert_failure("fork under pure", &sandbox.jitos(&pure));
    let mut shell = vec!["sandbox", "exec", "--profile", "shell"];
    shell.extend(script);
    let text = assert_success("fork under shell", &sandbox.jitos(&shell));
    assert!(text.contains("forked"), "{text}");
}

// Goal: `jitos worker validate` accepts the shipped manifest, says it is reusable, and
// names the line of a bad value. Method: validate the noop manifest (as text and JSON),
// then a copy with an unknown profile.
#[test]
fn worker_validate_accepts_good_and_points_at_bad_manifests() {
    let sandbox = Sandbox::new();
    let good = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../workers/noop/worker.toml");
    let text = assert_success(
        "validate the noop manifest",
        &sandbox.jitos(&["worker", "validate", good.to_str().unwrap()]),
    );
    assert!(text.contains("valid manifest of worker noop"), "{text}");
    assert!(text.contains("reusable"), "{text}");
    let json = assert_success(
        "validate the noop manifest as JSON",
        &sandbox.jitos(&["--json", "worker", "validate", good.to_str().unwrap()]),
    );
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["reusable"], true, "{json}");
    let bad = sandbox.path().join("worker.toml");
    fs::write(
        &bad,
        fs::read_to_string(&good)
            .unwrap()
            .replace("sandbox_profile = \"pure\"", "sandbox_profile = \"root\""),
    )
    .unwrap();
    let text = assert_failure(
        "validate a bad manifest",
        &sandbox.jitos(&["worker", "validate", bad.to_str().unwrap()]),
    );
    let line = fs::read_to_string(&good)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("sandbox_profile"))
        .unwrap()
        + 1;
    assert!(
        text.contains(&format!("line {line}")) && text.contains("root"),
        "{text}"
    );
}

// Goal: the report's case, through the CLI: `sh -c 'chmod 666 FILE'` under the shell
// profile, run by an ordinary user on their own file outside every granted path, leaves
// the file's mode as it was; run by root, the command runs as a lent uid, never root, and
// cannot set the host name. Method: the user is uid 65534 (setpriv), the file theirs;
// the same chmod unconfined is the control.
#[test]
fn metadata_outside_the_granted_paths_stays_and_root_is_never_kept() {
    if !root_or_skip("setpriv needs root to become another user") {
        return;
    }
    let sandbox = Sandbox::new();
    let readable = sandbox.path().join("readable");
    fs::create_dir(&readable).unwrap();
    let file = readable.join("key");
    fs::write(&file, "secret").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    give_to_nobody(&sandbox, &[&readable, &file]);
    let as_nobody = |program: &Path, args: &[&str]| {
        Command::new("setpriv")
            .args([
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
                "--",
            ])
            .arg(program)
            .args(args)
            .output()
            .unwrap()
    };
    let confined = |script: &str| {
        let readable = readable.to_str().unwrap();
        let args = [
            "sandbox",
            "exec",
            "--profile",
            "shell",
            "--ro",
            readable,
            "--",
        ];
        let mut all = args.to_vec();
        all.extend(["/bin/sh", "-c", script]);
        as_nobody(&bin_path("jitos"), &all)
    };
    let read = format!("cat {}", file.display());
    let text = assert_success(
        "reading the granted file (confined control)",
        &confined(&read),
    );
    assert!(text.contains("secret"), "{text}");
    let chmod = format!("chmod 666 {}", file.display());
    let text = assert_failure("chmod outside --rw as an ordinary user", &confined(&chmod));
    assert!(text.contains("Read-only file system"), "{text}");
    assert_eq!(
        fs::metadata(&file).unwrap().mode() & 0o777,
        0o600,
        "the mode changed"
    );
    let control = as_nobody(Path::new("/bin/sh"), &["-c", &chmod]);
    assert!(
        control.status.success(),
        "control: the owner's own chmod failed"
    );
    assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o666);

    let text = assert_success(
        "id as root",
        &sandbox.jitos(&["sandbox", "exec", "--", "/usr/bin/id", "-u"]),
    );
    let uid: u32 = text.lines().next().unwrap().trim().parse().unwrap();
    assert!(
        uid >= jitos_sandbox::LENT_UID_BASE,
        "sandbox exec as root ran as uid {uid}"
    );
    let hostname = sandbox.jitos(&["sandbox", "exec", "--", "/bin/hostname", "jitos-escaped"]);
    assert_failure("sethostname as root", &hostname);
    assert_ne!(
        fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim(),
        "jitos-escaped"
    );
}
