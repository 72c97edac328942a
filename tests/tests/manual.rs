//! Shell completions and manual pages made from the command lines' own definitions: they
//! name the commands and flags the binaries take, for `jitos` and `jitosd` alike.
#![allow(clippy::unwrap_used)]

use std::fs;

use jitos_system_tests::{assert_failure, Sandbox};

// Goal: the completion scripts name the commands and flags the binaries parse. Method: the
// bash script of jitos and the zsh script of jitosd, searched for a nested command and a
// flag added with this change; an unknown shell is refused.
#[test]
fn completions_name_the_commands_and_flags_the_binaries_take() {
    let sandbox = Sandbox::new();
    let bash = sandbox.jitos_ok(&["completions", "bash"]);
    assert!(
        bash.starts_with("_jitos()"),
        "{}",
        &bash[..bash.len().min(200)]
    );
    for word in ["collapse", "approve", "--writ", "completions"] {
        assert!(bash.contains(word), "bash completions lack {word}");
    }
    let zsh = sandbox.jitos_ok(&["completions", "zsh", "--for", "jitosd"]);
    assert!(
        zsh.starts_with("#compdef jitosd"),
        "{}",
        &zsh[..zsh.len().min(200)]
    );
    for flag in ["--check-config", "--print-config", "--config", "--policy"] {
        assert!(zsh.contains(flag), "jitosd's zsh completions lack {flag}");
    }
    let refused = assert_failure("an unknown shell", &sandbox.jitos(&["completions", "tcsh"]));
    assert!(refused.contains("bash"), "lists the shells: {refused}");
}

// Goal: `jitos man DIR` writes one roff page per command of jitos, and jitosd's, each
// with its name, its help and its flags. Method: write them into a fresh directory and
// read three.
#[test]
fn man_writes_a_page_per_command_with_its_flags() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("man");
    let listed = sandbox.jitos_ok(&["man", dir.to_str().unwrap()]);
    let pages: Vec<&str> = listed.lines().collect();
    assert!(pages.len() > 40, "only {} pages", pages.len());
    for page in &pages {
        assert!(fs::metadata(page).unwrap().len() > 0, "{page} is empty");
    }
    let collapse = fs::read_to_string(dir.join("jitos-sws-collapse.1")).unwrap();
    assert!(collapse.contains(".TH jitos-sws-collapse 1"), "{collapse}");
    assert!(collapse.contains("\\-\\-writ"), "{collapse}");
    assert!(collapse.contains("held"), "the long help: {collapse}");
    let daemon = fs::read_to_string(dir.join("jitosd.1")).unwrap();
    assert!(daemon.contains(".TH jitosd 1"), "{daemon}");
    assert!(daemon.contains("\\-\\-check\\-config"), "{daemon}");
    assert!(
        daemon.contains("JITOS_CONFIG"),
        "the environment variables: {daemon}"
    );
    assert!(dir.join("jitos.1").is_file());
    assert!(
        !dir.join("jitos-help.1").exists(),
        "a page for the generated help command"
    );
}
