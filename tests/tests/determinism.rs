//! Determinism: the same script of rewrites gives the same ledger, byte for byte, in fresh
//! processes, whatever order its JSON spells keys in, and its head hash and state digest
//! are pinned so an accidental format change fails here.

use std::{path::Path, process::Command, time::Duration};

use jitos_system_tests::Sandbox;

/// Longest one scripted run may take.
const SCRIPT_WAIT: Duration = Duration::from_secs(60);

/// Every op and expect kind, attribute values of every JSON shape, a cascade.
const SCRIPT: &str = r#"{"ops": [{"add_node": {"id": "task:1", "kind": "Task", "attrs": {"title": "fix the build", "state": "open", "priority": 2}}}]}
{"ops": [{"add_node": {"id": "file:a", "kind": "File", "attrs": {"path": "src/a.rs", "tags": ["rust", "core"], "meta": {"lines": 120, "generated": false}}}}, {"add_edge": {"from": "task:1", "to": "file:a", "label": "touches"}}]}
{"ops": [{"set_attr": {"node": "task:1", "key": "state", "value": "in_progress"}}], "expect": [{"attr_equals": {"node": "task:1", "key": "state", "value": "open"}}]}
{"ops": [{"add_node": {"id": "file:b", "kind": "File", "attrs": {"digest": {"$bytes": "00ff10"}}}}, {"add_edge": {"from": "task:1", "to": "file:b", "label": "touches"}}, {"remove_attr": {"node": "task:1", "key": "priority"}}]}
{"ops": [{"remove_edge": {"from": "task:1", "to": "file:a", "label": "touches"}}], "expect": [{"edge_exists": {"from": "task:1", "to": "file:a", "label": "touches"}}, {"node_version": {"node": "task:1", "version": 5}}]}

{"ops": [{"remove_node": {"id": "file:b", "cascade": true}}, {"set_attr": {"node": "task:1", "key": "state", "value": "done"}}], "expect": [{"node_exists": {"node": "file:b"}}, {"attr_absent": {"node": "task:1", "key": "priority"}}, {"edge_absent": {"from": "file:a", "to": "task:1", "label": "touches"}}, {"node_absent": {"node": "file:c"}}]}
"#;

/// The same script with the keys of every object spelled in another order.
const SCRIPT_REORDERED: &str = r#"{"ops": [{"add_node": {"attrs": {"priority": 2, "state": "open", "title": "fix the build"}, "kind": "Task", "id": "task:1"}}]}
{"ops": [{"add_node": {"attrs": {"meta": {"generated": false, "lines": 120}, "tags": ["rust", "core"], "path": "src/a.rs"}, "kind": "File", "id": "file:a"}}, {"add_edge": {"label": "touches", "to": "file:a", "from": "task:1"}}]}
{"expect": [{"attr_equals": {"value": "open", "key": "state", "node": "task:1"}}], "ops": [{"set_attr": {"value": "in_progress", "key": "state", "node": "task:1"}}]}
{"ops": [{"add_node": {"attrs": {"digest": {"$bytes": "00ff10"}}, "kind": "File", "id": "file:b"}}, {"add_edge": {"label": "touches", "to": "file:b", "from": "task:1"}}, {"remove_attr": {"key": "priority", "node": "task:1"}}]}
{"expect": [{"edge_exists": {"label": "touches", "to": "file:a", "from": "task:1"}}, {"node_version": {"version": 5, "node": "task:1"}}], "ops": [{"remove_edge": {"label": "touches", "to": "file:a", "from": "task:1"}}]}
{"expect": [{"node_exists": {"node": "file:b"}}, {"attr_absent": {"key": "priority", "node": "task:1"}}, {"edge_absent": {"label": "touches", "to": "task:1", "from": "file:a"}}, {"node_absent": {"node": "file:c"}}], "ops": [{"remove_node": {"cascade": true, "id": "file:b"}}, {"set_attr": {"value": "done", "key": "state", "node": "task:1"}}]}
"#;

/// Rewrites in `SCRIPT` (its blank line is skipped).
const SCRIPT_REWRITES: u64 = 6;

/// Head hash of `SCRIPT`, recorded when the v1 formats were fixed. Change it only with a
/// deliberate format change (and a new format version).
const GOLDEN_HEAD_HASH: &str = "ed4ab8bd0377f2bd46c30e31530aa2e9326a50da5ee6cfd5268c894a534196d1";
/// State digest after `SCRIPT`.
const GOLDEN_DIGEST: &str = "018b978b4503416be39a085586c2bbe6392676e5d51d6df302b4742d4984f48a";

/// Runs `jitos-script` on `script` in a fresh sandbox and returns its standard output.
fn run_script(script: &str) -> Vec<u8> {
    let sandbox = Sandbox::new();
    let path = sandbox.path().join("script.jsonl");
    std::fs::write(&path, script)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    let output = run_bounded(&path, sandbox.data_dir());
    assert!(
        output.status.success(),
        "jitos-script failed with {}:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn run_bounded(script: &Path, data_dir: &Path) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jitos-script"));
    command.arg(script).arg(data_dir);
    jitos_system_tests::run_bounded(&mut command, &[], SCRIPT_WAIT)
}

fn parse(output: &[u8]) -> serde_json::Value {
    serde_json::from_slice(output).unwrap_or_else(|e| {
        panic!(
            "jitos-script printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(output)
        )
    })
}

// Goal: replaying a script is byte-for-byte reproducible across processes. Method: run
// the script binary twice on two fresh directories and compare the outputs whole.
#[test]
fn same_script_gives_identical_ledgers() {
    let first = run_script(SCRIPT);
    let second = run_script(SCRIPT);
    assert!(
        first == second,
        "two runs differ:\n{}\n---\n{}",
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second)
    );
    let outcome = parse(&first);
    let records = outcome["records"]
        .as_array()
        .unwrap_or_else(|| panic!("no records in {outcome:#}"));
    assert_eq!(records.len() as u64, SCRIPT_REWRITES + 1, "{outcome:#}");
    assert_eq!(
        outcome["head_seq"].as_u64(),
        Some(SCRIPT_REWRITES),
        "{outcome:#}"
    );
    let hashes: std::collections::BTreeSet<&str> = records
        .iter()
        .filter_map(|record| record["hash"].as_str())
        .collect();
    assert_eq!(
        hashes.len(),
        records.len(),
        "record hashes are not all distinct: {outcome:#}"
    );
}

// Goal: nothing hashed depends on how the input spelled its maps. Method: run the script
// with every JSON object's keys reordered and compare with the original run.
#[test]
fn key_order_in_json_does_not_matter() {
    assert_eq!(
        String::from_utf8_lossy(&run_script(SCRIPT)),
        String::from_utf8_lossy(&run_script(SCRIPT_REORDERED))
    );
}

// Goal: an accidental change to any hashed or digested encoding fails loudly. Method: pin
// the head hash and the state digest of the script as golden hex values.
#[test]
fn golden_head_hash_and_digest() {
    let outcome = parse(&run_script(SCRIPT));
    assert_eq!(
        outcome["head_hash"].as_str(),
        Some(GOLDEN_HEAD_HASH),
        "{outcome:#}"
    );
    assert_eq!(
        outcome["digest"].as_str(),
        Some(GOLDEN_DIGEST),
        "{outcome:#}"
    );
}

// Goal: the golden values are sensitive to content, not constant. Method: change one
// attribute value in the script and check the head hash and digest both move.
#[test]
fn one_changed_value_changes_hash_and_digest() {
    let changed = SCRIPT.replacen("\"done\"", "\"Done\"", 1);
    assert_ne!(
        changed, SCRIPT,
        "the script no longer holds the value this test edits"
    );
    let original = parse(&run_script(SCRIPT));
    let other = parse(&run_script(&changed));
    assert_ne!(original["head_hash"], other["head_hash"]);
    assert_ne!(original["digest"], other["digest"]);
    assert_eq!(
        original["records"][4], other["records"][4],
        "records before the change moved"
    );
}
