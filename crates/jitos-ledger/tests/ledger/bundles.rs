//! Bundles: export/import round trip, and refusal of damaged bundles and bad targets,
//! leaving nothing behind.

use std::path::Path;

use jitos_ledger::{BundleError, Ledger, BUNDLE_FORMAT_VERSION};

use crate::common::{create_at, open_options, records, STORE_ID};

/// A ledger of 30 records in `dir`, exported whole to `bundle`.
fn exported(dir: &Path, bundle: &Path) -> Ledger {
    let mut ledger = create_at(dir, 1);
    ledger.append_batch(records(0, 10)).unwrap();
    ledger.append_batch(records(10, 20)).unwrap();
    ledger.export_bundle(bundle, 0, ledger.head().seq).unwrap();
    ledger
}

/// Entries of `dir` other than the ones named, to catch leftover staging files.
fn entries_besides(dir: &Path, known: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !known.contains(&name.as_str()))
        .collect()
}

#[test]
fn export_import_round_trip_keeps_the_head() {
    // Importing an exported bundle yields a store with the same head hash and records.
    let temp = tempfile::tempdir().unwrap();
    let bundle = temp.path().join("ledger.bundle");
    let source = exported(&temp.path().join("source"), &bundle);
    let info = Ledger::read_bundle_info(&bundle).unwrap();
    assert_eq!(info.format_version, BUNDLE_FORMAT_VERSION);
    assert_eq!(info.store_id, STORE_ID);
    assert_eq!((info.from, info.to, info.records), (0, 30, 31));
    assert_eq!(info.head_hash, source.head().hash);
    assert_eq!(info.genesis, Some(*source.genesis()));
    assert_eq!(
        info.genesis_hash,
        Some(source.get(0).unwrap().unwrap().hash)
    );
    assert_eq!(info.bundle_bytes, std::fs::metadata(&bundle).unwrap().len());

    let target = temp.path().join("imported");
    let imported = Ledger::import_bundle(&target, &bundle, open_options(false, 0)).unwrap();
    assert_eq!(imported.head(), source.head());
    assert_eq!(imported.genesis(), source.genesis());
    let left: Vec<_> = source.range(0, 30).map(Result::unwrap).collect();
    let right: Vec<_> = imported.range(0, 30).map(Result::unwrap).collect();
    assert_eq!(left, right);
    assert!(imported.verify(&mut |_| {}).unwrap().is_clean());
    assert!(entries_besides(temp.path(), &["source", "imported", "ledger.bundle"]).is_empty());
}

#[test]
fn import_into_an_existing_empty_dir_works() {
    // An empty target directory is as good as a missing one.
    let temp = tempfile::tempdir().unwrap();
    let bundle = temp.path().join("b");
    let source = exported(&temp.path().join("source"), &bundle);
    let target = temp.path().join("empty");
    std::fs::create_dir(&target).unwrap();
    let imported = Ledger::import_bundle(&target, &bundle, open_options(true, 0)).unwrap();
    assert_eq!(imported.head(), source.head());
}

#[test]
fn truncated_bundle_is_refused_and_leaves_nothing() {
    // A bundle cut anywhere is refused by read and import, and import leaves no directory.
    let temp = tempfile::tempdir().unwrap();
    let bundle = temp.path().join("full.bundle");
    drop(exported(&temp.path().join("source"), &bundle));
    let bytes = std::fs::read(&bundle).unwrap();
    for cut in [
        0,
        5,
        12,
        60,
        bytes.len() / 2,
        bytes.len() - 33,
        bytes.len() - 1,
    ] {
        let short = temp.path().join("short.bundle");
        std::fs::write(&short, &bytes[..cut]).unwrap();
        assert!(Ledger::read_bundle_info(&short).is_err(), "cut at {cut}");
        let target = temp.path().join("target");
        let error = Ledger::import_bundle(&target, &short, open_options(false, 0))
            .err()
            .unwrap();
        assert!(
            matches!(
                error,
                BundleError::Truncated { .. } | BundleError::BadMagic { .. }
            ),
            "cut at {cut}: {error}"
        );
        assert!(!target.exists(), "cut at {cut}");
        assert!(
            entries_besides(temp.path(), &["source", "full.bundle", "short.bundle"]).is_empty()
        );
    }
}

#[test]
fn byte_flipped_bundle_is_refused_and_leaves_nothing() {
    // Flipping any single byte of a bundle makes read and import fail, leaving no directory.
    let temp = tempfile::tempdir().unwrap();
    let bundle = temp.path().join("full.bundle");
    drop(exported(&temp.path().join("source"), &bundle));
    let bytes = std::fs::read(&bundle).unwrap();
    let step = (bytes.len() / 97).max(1);
    for index in (0..bytes.len()).step_by(step).chain([bytes.len() - 1]) {
        let mut damaged = bytes.clone();
        damaged[index] ^= 0x04;
        let bad = temp.path().join("bad.bundle");
        std::fs::write(&bad, &damaged).unwrap();
        assert!(Ledger::read_bundle_info(&bad).is_err(), "flip at {index}");
        let target = temp.path().join("target");
        assert!(
            Ledger::import_bundle(&target, &bad, open_options(false, 0)).is_err(),
            "flip at {index}"
        );
        assert!(!target.exists(), "flip at {index}");
    }
    assert!(entries_besides(temp.path(), &["source", "full.bundle", "bad.bundle"]).is_empty());
}

#[test]
fn bytes_after_the_trailer_are_refused() {
    // A bundle with extra bytes appended fails verification.
    let temp = tempfile::tempdir().unwrap();
    let bundle = temp.path().join("b");
    drop(exported(&temp.path().join("source"), &bundle));
    let mut bytes = std::fs::read(&bundle).unwrap();
    bytes.push(0);
    std::fs::write(&bundle, bytes).unwrap();
    let error = Ledger::read_bundle_info(&bundle).err().unwrap();
    assert!(matches!(error, BundleError::Corrupt { .. }), "{error}");
}

#[test]
fn import_into_a_non_empty_dir_is_refused() {
    // Import never mixes a bundle into a directory that holds anything, store or not.
    let temp = tempfile::tempdir().unwrap();
    let bundle = temp.path().join("b");
    let source_dir = temp.path().join("source");
    let source = exported(&source_dir, &bundle);
    let error = Ledger::import_bundle(&source_dir, &bundle, open_options(false, 0))
        .err()
        .unwrap();
    assert!(matches!(error, BundleError::BadTarget { .. }), "{error}");
    drop(source);
    let busy = temp.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("file"), b"x").unwrap();
    let error = Ledger::import_bundle(&busy, &bundle, open_options(false, 0))
        .err()
        .unwrap();
    assert!(error.to_string().contains("not empty"), "{error}");
    assert_eq!(entries_besides(&busy, &[]), vec!["file".to_owned()]);
}

#[test]
fn partial_bundle_reads_but_is_refused_for_import() {
    // A bundle from seq 5 verifies on its own but cannot seed a new store.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(&temp.path().join("source"), 1);
    ledger.append_batch(records(0, 12)).unwrap();
    let bundle = temp.path().join("tail.bundle");
    let exported = ledger.export_bundle(&bundle, 5, 10).unwrap();
    let info = Ledger::read_bundle_info(&bundle).unwrap();
    assert_eq!(info, exported);
    assert_eq!((info.from, info.to, info.records), (5, 10, 6));
    assert_eq!(info.genesis, None);
    assert_eq!(info.head_hash, ledger.get(10).unwrap().unwrap().hash);
    let target = temp.path().join("target");
    let error = Ledger::import_bundle(&target, &bundle, open_options(false, 0))
        .err()
        .unwrap();
    assert!(
        matches!(error, BundleError::NotFromGenesis { from: 5, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("seq 0"));
    assert!(!target.exists());
}

#[test]
fn export_outside_the_ledger_is_refused() {
    // Export ranges past the head or inverted are refused and create no file.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(&temp.path().join("source"), 1);
    ledger.append_batch(records(0, 3)).unwrap();
    let bundle = temp.path().join("b");
    for (from, to) in [(0, 4), (3, 2)] {
        let error = ledger.export_bundle(&bundle, from, to).err().unwrap();
        assert!(
            matches!(error, BundleError::RangeOutOfBounds { .. }),
            "{error}"
        );
    }
    assert!(!bundle.exists());
    assert!(entries_besides(temp.path(), &["source"]).is_empty());
}

#[test]
fn a_file_that_is_not_a_bundle_says_so() {
    // Arbitrary bytes are refused as not a bundle.
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("notes.txt");
    std::fs::write(&path, b"this is not a bundle at all, just text").unwrap();
    let error = Ledger::read_bundle_info(&path).err().unwrap();
    assert!(matches!(error, BundleError::BadMagic { .. }), "{error}");
}
