//! `jitos sandbox exec` and `jitos doctor` through the real CLI: the confinement a worker
//! gets, seen from the command line, each refusal beside a positive control.
#![allow(clippy::unwrap_used)]

use std::{fs, process::Command};

use jitos_system_tests::{assert_failure, assert_success, Sandbox};

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

    let rw = granted.to_str().unwrap();
    assert_success(
        "write inside --rw",
        &sandbox.jitos(&[
            "sandbox",
            "exec",
            "--rw",
            rw,
            "--",
            "/bin/sh",
            "-c",
            &write(&inside),
        ]),
    );
    assert_eq!(fs::read_to_string(&inside).unwrap(), "hi\n");

    let refused = sandbox.jitos(&[
        "sandbox",
        "exec",
        "--rw",
        rw,
        "--",
        "/bin/sh",
        "-c",
        &write(&outside),
    ]);
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

// Goal: `jitos worker validate` accepts the shipped manifest and names the line of a bad
// value. Method: validate the noop manifest, then a copy with an unknown profile.
#[test]
fn worker_validate_accepts_good_and_points_at_bad_manifests() {
    let sandbox = Sandbox::new();
    let good = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../workers/noop/worker.toml");
    let text = assert_success(
        "validate the noop manifest",
        &sandbox.jitos(&["worker", "validate", good.to_str().unwrap()]),
    );
    assert!(text.contains("valid manifest of worker noop"), "{text}");
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
