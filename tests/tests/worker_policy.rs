//! The operator's worker policy (`jitosd --worker-policy`) through the real daemon: an
//! installed worker gets a needed path or a higher limit only when its grant allows it,
//! what it was granted works inside the sandbox, and what it was not stays out of reach.
#![allow(clippy::unwrap_used)]

use std::fs;

use jitos_proto::{AttemptState, FailureCause};
use jitos_system_tests::{
    assert_failure, assert_success, create_sws, job_spec, misbehave_manifest, run_job, Sandbox,
};

// Goal: a need is granted only by the policy, and a granted need really is readable while
// a file beside it is not. Method: a worker that needs read access to `data/`; install it
// without a policy (refused, naming the path), then with one granting `data/`; run it on
// a file inside (the control) and on a secret outside.
#[test]
fn a_needed_path_is_granted_only_by_the_policy() {
    let sandbox = Sandbox::new();
    let data = sandbox.path().join("data");
    fs::create_dir(&data).unwrap();
    fs::write(data.join("input.txt"), "twelve bytes").unwrap();
    let secret = sandbox.path().join("secret.txt");
    fs::write(&secret, "secret").unwrap();
    let extra = format!(
        "effect_class = \"none\"\nneeds = [{{ path = \"{}\", access = \"read\" }}]",
        data.display()
    );
    let manifest = misbehave_manifest(&sandbox, "reader", &extra);
    let manifest = manifest.to_str().unwrap();

    let daemon = sandbox.start();
    let refused = assert_failure(
        "install without a grant",
        &sandbox.jitos(&["worker", "install", manifest]),
    );
    assert!(refused.contains(&data.display().to_string()), "{refused}");
    assert!(refused.contains("--worker-policy"), "{refused}");
    daemon.terminate();

    let policy = sandbox.path().join("policy.toml");
    fs::write(
        &policy,
        format!("[workers.reader]\nneeds = [\"{}\"]\n", data.display()),
    )
    .unwrap();
    let daemon = sandbox.start_with(&["--worker-policy", policy.to_str().unwrap()]);
    assert_success(
        "install with a grant",
        &sandbox.jitos(&["worker", "install", manifest]),
    );
    let mut client = daemon.client();
    let sws = create_sws(&mut client);
    let inside = data.join("input.txt");
    let view = run_job(
        &mut client,
        job_spec("reader", sws, &["read-file", inside.to_str().unwrap()]),
    );
    assert!(matches!(view.state, AttemptState::Done { .. }), "{view:?}");
    let view = run_job(
        &mut client,
        job_spec("reader", sws, &["read-file", secret.to_str().unwrap()]),
    );
    match &view.state {
        AttemptState::Failed { cause, detail, .. } => {
            assert_eq!(*cause, FailureCause::Worker);
            assert!(detail.contains("Permission denied"), "{detail}");
        }
        other => panic!("reading outside the grant ended {other:?}"),
    }
}

// Goal: a manifest may lower a limit freely and raise it only within its grant, and the
// limit it runs with is the one shown. Method: ask for 500 processes without a grant
// (refused, naming the limit), then with a grant of 1000 (installed, listed with 500); a
// policy that later shrinks the grant leaves the worker listed as not runnable and its job
// refused.
#[test]
fn a_higher_limit_needs_a_grant_and_a_shrunk_grant_stops_the_worker() {
    let sandbox = Sandbox::new();
    let manifest = misbehave_manifest(
        &sandbox,
        "forker",
        "effect_class = \"none\"\nlimits = { processes = 500 }",
    );
    let manifest = manifest.to_str().unwrap();
    let daemon = sandbox.start();
    let refused = assert_failure(
        "install over the default limit",
        &sandbox.jitos(&["worker", "install", manifest]),
    );
    assert!(refused.contains("processes = 500"), "{refused}");
    daemon.terminate();

    let policy = sandbox.path().join("policy.toml");
    fs::write(
        &policy,
        "[workers.forker]\nlimits_max = { processes = 1000 }\n",
    )
    .unwrap();
    let daemon = sandbox.start_with(&["--worker-policy", policy.to_str().unwrap()]);
    assert_success(
        "install within the grant",
        &sandbox.jitos(&["worker", "install", manifest]),
    );
    let listed = assert_success("worker list", &sandbox.jitos(&["--json", "worker", "list"]));
    let workers: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let forker = workers["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "forker")
        .unwrap();
    assert_eq!(forker["limits"]["processes"], 500, "{forker}");
    assert!(forker["policy_refusal"].is_null(), "{forker}");
    daemon.terminate();

    fs::write(
        &policy,
        "[workers.forker]\nlimits_max = { processes = 100 }\n",
    )
    .unwrap();
    let daemon = sandbox.start_with(&["--worker-policy", policy.to_str().unwrap()]);
    let listed = assert_success("worker list", &sandbox.jitos(&["worker", "list"]));
    assert!(listed.contains("NOT RUNNABLE"), "{listed}");
    let mut client = daemon.client();
    let sws = create_sws(&mut client);
    let out = assert_failure(
        "job of a worker the policy no longer admits",
        &sandbox.jitos(&["job", "run", "forker", "--sws", &sws.to_string()]),
    );
    assert!(out.contains("at most 100"), "{out}");
}

// Goal: a policy file with a mistake stops jitosd with the line named, before it serves.
// Method: a misspelt field.
#[test]
fn a_bad_policy_file_stops_the_daemon_with_its_line() {
    let sandbox = Sandbox::new();
    let policy = sandbox.path().join("policy.toml");
    fs::write(&policy, "[default]\nprofile = [\"pure\"]\n").unwrap();
    let out = sandbox.jitosd_until_exit(&["--worker-policy", policy.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("profiles"),
        "{stderr}"
    );
}
