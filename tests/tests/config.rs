//! `jitosd`'s configuration file: a daemon started from the file alone serves on the socket
//! it names; the command line wins over the environment, which wins over the file, which
//! wins over the default, and `--print-config` says which gave each setting; a key that is
//! no flag, a value its flag refuses and a file the settings name that does not load are
//! refused with what is wrong, and `--check-config` says so before anything is opened.
#![allow(clippy::unwrap_used)]

use std::{fs, path::Path};

use jitos_system_tests::{assert_failure, assert_success, Sandbox};

/// A configuration file naming the sandbox's store and socket, and a few settings.
fn write_config(sandbox: &Sandbox, extra: &str) -> std::path::PathBuf {
    let path = sandbox.path().join("jitosd.toml");
    let text = format!(
        "data-dir = {:?}\nsocket = {:?}\nsnapshot-every = 500\nlog = \"warn\"\n{extra}",
        sandbox.data_dir().display().to_string(),
        sandbox.socket().display().to_string(),
    );
    fs::write(&path, text).unwrap();
    path
}

/// The line of `--print-config` output for `key`.
fn line_of<'a>(printed: &'a str, key: &str) -> &'a str {
    printed
        .lines()
        .find(|line| line.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in:\n{printed}"))
}

// Goal: a daemon configured by its file alone serves, on the file's socket, the store in
// the file's data directory. Method: start jitosd with only --config, ask for status, and
// find the store where the file put it.
#[test]
fn a_daemon_started_from_its_file_alone_serves_where_the_file_says() {
    let sandbox = Sandbox::new();
    let config = write_config(&sandbox, "");
    let _daemon = sandbox.start_bare(&["--config", config.to_str().unwrap()]);
    let status = sandbox.jitos_json(&["status"]);
    assert_eq!(status["head_seq"], 0, "{status:#}");
    assert!(
        sandbox.store_dir().is_dir(),
        "no store under the file's data-dir"
    );
}

// Goal: the command line beats the environment, which beats the file, which beats the
// default; `--print-config` names the source of each, and its output reads back as a
// configuration file giving the same settings. Method: one setting from each source.
#[test]
fn each_setting_comes_from_the_strongest_source_and_says_which() {
    let sandbox = Sandbox::new();
    let config = write_config(
        &sandbox,
        "worker-slots = 3\noutput-root = [\"/srv/a\", \"/srv/b\"]\n",
    );
    let out = sandbox.jitosd_bare(
        &[
            "--config",
            config.to_str().unwrap(),
            "--worker-slots",
            "5",
            "--print-config",
        ],
        &[("JITOS_SNAPSHOT_EVERY", "7"), ("JITOS_WORKER_SLOTS", "4")],
    );
    let printed = assert_success("--print-config", &out);
    assert!(
        printed.contains(&format!("# configuration file: {}", config.display())),
        "{printed}"
    );
    assert_eq!(
        line_of(&printed, "worker-slots"),
        "worker-slots = 5  # command line"
    );
    assert_eq!(
        line_of(&printed, "snapshot-every"),
        "snapshot-every = 7  # environment"
    );
    assert_eq!(
        line_of(&printed, "log"),
        "log = \"warn\"  # configuration file"
    );
    assert_eq!(
        line_of(&printed, "output-root"),
        "output-root = [\"/srv/a\", \"/srv/b\"]  # configuration file"
    );
    assert_eq!(
        line_of(&printed, "job-deadline-secs"),
        "job-deadline-secs = 600  # default"
    );
    assert!(printed.contains("# access: not set"), "{printed}");

    // JITOS_CONFIG names the file as --config does; a switch the file sets false is off,
    // and one it sets true is on.
    let switches = write_config(
        &sandbox,
        "read-only = true\nallow-unconfined-workers = false\n",
    );
    let out = sandbox.jitosd_bare(
        &["--print-config"],
        &[("JITOS_CONFIG", switches.to_str().unwrap())],
    );
    let printed_switches = assert_success("--print-config under JITOS_CONFIG", &out);
    assert_eq!(
        line_of(&printed_switches, "read-only"),
        "read-only = true  # configuration file"
    );
    assert_eq!(
        line_of(&printed_switches, "allow-unconfined-workers"),
        "allow-unconfined-workers = false  # configuration file"
    );

    // The printed settings, read back as the only source, give the same values.
    let again = sandbox.path().join("printed.toml");
    fs::write(&again, &printed).unwrap();
    let out = sandbox.jitosd_bare(
        &["--config", again.to_str().unwrap(), "--print-config"],
        &[],
    );
    let reprinted = assert_success("--print-config of the printed file", &out);
    for key in [
        "worker-slots",
        "snapshot-every",
        "log",
        "output-root",
        "data-dir",
    ] {
        let value = |text: &str| line_of(text, key).split("  #").next().unwrap().to_owned();
        assert_eq!(value(&reprinted), value(&printed), "{key}");
    }
}

// Goal: a file with a key that is no flag, or a value its flag refuses, is refused naming
// the file and what is wrong, and the daemon does not start. Method: both files, through
// --check-config and a plain start.
#[test]
fn a_bad_key_or_value_is_refused_naming_it() {
    let sandbox = Sandbox::new();
    // A file that names the sandbox's store, so a start that went ahead would open it.
    let unknown = write_config(&sandbox, "data = 1\nsnapshot-evry = 3\n");
    for args in [&["--check-config"][..], &[]] {
        let mut all = vec!["--config", unknown.to_str().unwrap()];
        all.extend_from_slice(args);
        let refused = assert_failure("an unknown key", &sandbox.jitosd_bare(&all, &[]));
        assert!(
            refused.contains(&format!(
                "{}:6:1: unknown key `snapshot-evry`",
                unknown.display()
            )),
            "{refused}"
        );
        assert!(
            refused.contains("snapshot-every"),
            "lists the keys: {refused}"
        );
    }
    assert!(
        !sandbox.data_dir().exists(),
        "a refused start opened a store"
    );

    let wrong = sandbox.path().join("wrong.toml");
    fs::write(&wrong, "worker-slots = \"many\"\n").unwrap();
    let refused = assert_failure(
        "a value its flag refuses",
        &sandbox.jitosd_bare(
            &["--config", wrong.to_str().unwrap(), "--check-config"],
            &[],
        ),
    );
    assert!(refused.contains("invalid value 'many'"), "{refused}");
    assert!(refused.contains("--worker-slots"), "{refused}");

    let flag = sandbox.path().join("flag.toml");
    fs::write(&flag, "read-only = \"yes\"\n").unwrap();
    let refused = assert_failure(
        "a flag given a string",
        &sandbox.jitosd_bare(&["--config", flag.to_str().unwrap(), "--check-config"], &[]),
    );
    assert!(
        refused.contains("`read-only` must be true or false"),
        "{refused}"
    );

    let missing = sandbox.path().join("missing.toml");
    let refused = assert_failure(
        "a file that is not there",
        &sandbox.jitosd_bare(&["--config", missing.to_str().unwrap()], &[]),
    );
    assert!(
        refused.contains("cannot read the configuration file"),
        "{refused}"
    );
}

// Goal: --check-config loads everything the settings name and says what does not load,
// without opening a store; a sound configuration exits 0. Method: a policy path that does
// not exist, then one that parses.
#[test]
fn check_config_loads_what_the_settings_name_and_opens_nothing() {
    let sandbox = Sandbox::new();
    let policy = sandbox.path().join("policy.toml");
    let config = write_config(&sandbox, &format!("policy = {:?}\n", path_text(&policy)));
    let refused = assert_failure(
        "a policy that is not there",
        &sandbox.jitosd_bare(
            &["--config", config.to_str().unwrap(), "--check-config"],
            &[],
        ),
    );
    assert!(refused.contains("the policy does not load"), "{refused}");
    assert!(refused.contains(&path_text(&policy)), "{refused}");

    fs::write(&policy, "default = \"allow\"\n").unwrap();
    let sound = assert_success(
        "a sound configuration",
        &sandbox.jitosd_bare(
            &["--config", config.to_str().unwrap(), "--check-config"],
            &[],
        ),
    );
    assert!(sound.contains("the configuration is sound"), "{sound}");
    assert!(sound.contains(&path_text(sandbox.data_dir())), "{sound}");
    assert!(
        !sandbox.data_dir().exists(),
        "--check-config opened a store"
    );
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}
