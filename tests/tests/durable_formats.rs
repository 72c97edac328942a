//! Durable formats at the system's edges: records crafted to break the decoders (deep
//! nesting, huge lengths, unknown kinds and versions, records that do not fold) are refused
//! with a clear error by `jitosd` at start and by `jitos import`, without a crash; and a
//! bundle carries the blobs its records name, so an imported store checks out its trees.
#![allow(clippy::unwrap_used)]

use std::{collections::BTreeSet, fs, os::unix::process::ExitStatusExt, path::Path, sync::Arc};

use jitos_ledger::{Actor, CreateOptions, Hash, Ledger, NewRecord, SystemClock};
use jitos_system_tests::{assert_failure, assert_success, stderr_text, Sandbox};

/// A `warp.rewrite` payload whose one op sets a value nested `levels` lists deep, written
/// by hand: no encoder would make it.
fn deep_value_rewrite(levels: usize) -> Vec<u8> {
    // One op, SetAttr (variant 2) of node "n" key "k", then the value, then no expects.
    let mut bytes = vec![1, 2, 1, b'n', 1, b'k'];
    bytes.extend_from_slice(&[5, 1].repeat(levels)); // Value::List of one item
    bytes.extend_from_slice(&[1, 2]); // Value::Int(1)
    bytes.push(0);
    bytes
}

/// A `process.submit` payload whose plan nests `levels` methods deep, written by hand.
fn deep_plan_submit(levels: usize) -> Vec<u8> {
    let mut bytes = vec![0, 0]; // decided_ms 0, Event::Submitted
    bytes.extend_from_slice(&[1, b'g', 0, 0, 0, 1, 1, 1]); // the intent
    bytes.extend_from_slice(&[1, 0]); // one plan, index 0
    bytes.extend_from_slice(&[1, b't', 0, 2, 1, b'm', 0, 0, 1, 1, b's', 0].repeat(levels));
    bytes.extend_from_slice(&[1, b't', 0, 1, 1, b'q', 0]); // the innermost task asks
    bytes.extend_from_slice(&vec![0; levels]); // each method's empty `skipped`
    bytes.extend_from_slice(&[0, 0, 0, 0, 0]); // the dag, no sws ops, rewrite or context
    bytes
}

/// A `sws.discard` payload whose reason claims 2^40 bytes.
fn huge_length_discard() -> Vec<u8> {
    let mut bytes = vec![5, 1, 0xfd];
    bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
    bytes
}

/// A `worker.install` payload of version 1, as pinned by the kernel's golden tests.
fn version_1_install() -> Vec<u8> {
    let golden = include_str!("../../crates/jitos-kernel/src/durable/golden-v1.txt");
    let line = golden
        .lines()
        .find_map(|line| line.strip_prefix("worker.install "))
        .unwrap();
    hex::decode(line).unwrap()
}

/// Each crafted record: what it is, its kind and payload, and words the refusal must hold.
fn crafted() -> Vec<(&'static str, &'static str, Vec<u8>, &'static str)> {
    vec![
        (
            "a plan nested a million levels",
            "process.submit",
            deep_plan_submit(1_000_000),
            "nests deeper than",
        ),
        (
            "a value nested a million levels",
            "warp.rewrite",
            deep_value_rewrite(1_000_000),
            "nests deeper than",
        ),
        (
            "a length of 2^40 bytes",
            "sws.discard",
            huge_length_discard(),
            "cannot decode",
        ),
        (
            "a payload version this build does not know",
            "worker.install@9",
            vec![0],
            "unknown kind \"worker.install@9\"",
        ),
        (
            "a kind this build does not know",
            "job.teleport",
            vec![0],
            "unknown kind \"job.teleport\"",
        ),
        (
            "a version 1 payload under the version 2 kind",
            "worker.install@2",
            version_1_install(),
            "trailing bytes after the payload",
        ),
        (
            "a rewrite into a workspace that does not exist",
            "sws.apply",
            vec![1, 99, 0, 0],
            "does not replay",
        ),
    ]
}

/// Writes a store of genesis and `record` into `sandbox`'s store directory, through the
/// ledger alone: its chain is sound, only the payload is hostile.
fn store_with(sandbox: &Sandbox, kind: &str, payload: Vec<u8>) -> Ledger {
    let mut ledger = Ledger::create(
        &sandbox.store_dir(),
        CreateOptions {
            store_id: *b"crafted-store-01",
            clock: Arc::new(SystemClock),
        },
    )
    .unwrap();
    ledger
        .append_batch(vec![NewRecord {
            kind: kind.to_owned(),
            actor: Actor::System,
            payload,
        }])
        .unwrap();
    ledger
}

// Goal: a store holding a hostile record makes jitosd refuse to start with a sentence that
// names the record and what is wrong, never crash; importing a bundle of it is refused the
// same way and leaves nothing. Method: for each crafted record, a store written through the
// ledger (so its chain verifies), jitosd started on it, then a bundle of it (exported by the
// ledger alone, since the kernel cannot read it) imported into a fresh data directory.
#[test]
fn crafted_records_are_refused_at_start_and_at_import() {
    for (what, kind, payload, why) in crafted() {
        let source = Sandbox::new();
        let ledger = store_with(&source, kind, payload);
        let bundle = source.path().join("crafted.bundle");
        let mut no_blobs = |_: &jitos_ledger::Record| Ok(BTreeSet::<Hash>::new());
        ledger.export_bundle(&bundle, 0, 1, &mut no_blobs).unwrap();
        drop(ledger);

        let refused = source.jitosd_until_exit(&[]);
        assert_eq!(
            refused.status.signal(),
            None,
            "{what}: jitosd died of a signal"
        );
        let text = assert_failure(&format!("jitosd on {what}"), &refused);
        assert!(
            text.contains("record 1") && text.contains(why),
            "{what}: jitosd's refusal does not name record 1 and {why:?}:\n{}",
            stderr_text(&refused)
        );

        let target = Sandbox::new();
        let output = target.jitos(&["import", bundle.to_str().unwrap()]);
        assert_eq!(
            output.status.signal(),
            None,
            "{what}: import died of a signal"
        );
        let text = assert_failure(&format!("importing {what}"), &output);
        assert!(
            text.contains("nothing was written") && text.contains("record 1") && text.contains(why),
            "{what}: the import's refusal is unclear:\n{text}"
        );
        assert!(!target.store_dir().exists(), "{what}: a store was created");
    }
}

fn write_project(root: &Path) {
    fs::create_dir_all(root.join("src")).unwrap();
    fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
    fs::write(root.join("data.bin"), vec![0xa5u8; 300_000]).unwrap();
}

// Goal: a bundle carries the blobs its records name, so the store imported from it checks
// out the tree it recorded, byte for byte. Method: import a project's files into a store,
// export it, import the bundle into a fresh data directory, start jitosd there and check
// the tree out.
#[test]
fn an_imported_store_checks_out_the_trees_it_recorded() {
    let source = Sandbox::new();
    let daemon = source.start();
    let project = source.path().join("project");
    write_project(&project);
    assert_success(
        "jitos tree import",
        &source.jitos(&["tree", "import", project.to_str().unwrap()]),
    );
    let bundle = source.path().join("files.bundle");
    let out = assert_success(
        "jitos export",
        &source.jitos(&["export", bundle.to_str().unwrap()]),
    );
    assert!(out.contains("2 blobs, every one its records name"), "{out}");
    daemon.terminate();

    let target = Sandbox::new();
    let out = assert_success(
        "jitos import",
        &target.jitos(&["import", bundle.to_str().unwrap()]),
    );
    assert!(out.contains("2 blobs"), "{out}");
    let _copy = target.start();
    let checkout = target.path().join("checkout");
    assert_success(
        "jitos tree checkout on the imported store",
        &target.jitos(&["tree", "checkout", checkout.to_str().unwrap()]),
    );
    for file in ["src/main.rs", "data.bin"] {
        assert_eq!(
            fs::read(checkout.join(file)).unwrap(),
            fs::read(project.join(file)).unwrap(),
            "{file}"
        );
    }
}
