//! Bundles: export/import round trip, and refusal of damaged bundles and bad targets,
//! leaving nothing behind.

use std::collections::BTreeSet;
use std::path::Path;

use jitos_ledger::{
    Actor, BoxError, BundleError, Hash, Ledger, NewRecord, Record, BUNDLE_FORMAT_VERSION,
};

use crate::common::{create_at, no_blobs, open_options, records, STORE_ID};

/// A ledger of 30 records in `dir`, exported whole to `bundle`.
fn exported(dir: &Path, bundle: &Path) -> Ledger {
    let mut ledger = create_at(dir, 1);
    ledger.append_batch(records(0, 10)).unwrap();
    ledger.append_batch(records(10, 20)).unwrap();
    ledger
        .export_bundle(bundle, 0, ledger.head().seq, &mut no_blobs)
        .unwrap();
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
    let (imported, _) =
        Ledger::import_bundle(&target, &bundle, open_options(false, 0), &mut no_blobs).unwrap();
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
    let (imported, _) =
        Ledger::import_bundle(&target, &bundle, open_options(true, 0), &mut no_blobs).unwrap();
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
        let error = Ledger::import_bundle(&target, &short, open_options(false, 0), &mut no_blobs)
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
            Ledger::import_bundle(&target, &bad, open_options(false, 0), &mut no_blobs).is_err(),
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
    let error = Ledger::import_bundle(&source_dir, &bundle, open_options(false, 0), &mut no_blobs)
        .err()
        .unwrap();
    assert!(matches!(error, BundleError::BadTarget { .. }), "{error}");
    drop(source);
    let busy = temp.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("file"), b"x").unwrap();
    let error = Ledger::import_bundle(&busy, &bundle, open_options(false, 0), &mut no_blobs)
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
    let exported = ledger.export_bundle(&bundle, 5, 10, &mut no_blobs).unwrap();
    let info = Ledger::read_bundle_info(&bundle).unwrap();
    assert_eq!(info, exported);
    assert_eq!((info.from, info.to, info.records), (5, 10, 6));
    assert_eq!(info.genesis, None);
    assert_eq!(info.head_hash, ledger.get(10).unwrap().unwrap().hash);
    let target = temp.path().join("target");
    let error = Ledger::import_bundle(&target, &bundle, open_options(false, 0), &mut no_blobs)
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
        let error = ledger
            .export_bundle(&bundle, from, to, &mut no_blobs)
            .err()
            .unwrap();
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

/// Record kind of the blob tests: its payload is the hex hashes of the blobs it names,
/// separated by commas.
const NAMING: &str = "test.names";

/// The blobs a `NAMING` record names; records of other kinds name none.
fn named_in_payload(record: &Record) -> Result<BTreeSet<Hash>, BoxError> {
    if record.kind != NAMING {
        return Ok(BTreeSet::new());
    }
    let text = String::from_utf8(record.payload.clone())?;
    Ok(text
        .split(',')
        .map(|hex| hex.parse::<Hash>())
        .collect::<Result<_, _>>()?)
}

fn naming(hashes: &[Hash]) -> NewRecord {
    NewRecord {
        kind: NAMING.into(),
        actor: Actor::System,
        payload: hashes
            .iter()
            .map(Hash::to_string)
            .collect::<Vec<_>>()
            .join(",")
            .into_bytes(),
    }
}

/// A ledger in `dir` holding blobs A and B, whose records name A; A and B; and C, which it
/// does not hold. Returns it with the three hashes.
fn ledger_naming_blobs(dir: &Path) -> (Ledger, [Hash; 3]) {
    let mut ledger = create_at(dir, 1);
    let a = ledger.put_blob(b"blob a").unwrap();
    let b = ledger.put_blob(&vec![7u8; 100_000]).unwrap();
    let c = Hash(*blake3::hash(b"never stored").as_bytes());
    ledger
        .append_batch(vec![
            naming(&[a]),
            records(1, 1).remove(0),
            naming(&[a, b]),
            naming(&[c]),
        ])
        .unwrap();
    (ledger, [a, b, c])
}

// Goal: a bundle carries every blob its records name, once each, and marks the one its
// source did not hold; the imported store holds exactly those blobs. Method: a store whose
// records name two stored blobs (one twice) and one missing blob, exported and imported.
#[test]
fn bundles_carry_the_blobs_their_records_name() {
    let temp = tempfile::tempdir().unwrap();
    let bundle = temp.path().join("b");
    let (source, [a, b, c]) = ledger_naming_blobs(&temp.path().join("source"));
    let exported = source
        .export_bundle(&bundle, 0, source.head().seq, &mut named_in_payload)
        .unwrap();
    assert_eq!((exported.blobs, exported.blobs_absent), (2, 1));
    assert!(exported.carries_blobs());
    assert_eq!(Ledger::read_bundle_info(&bundle).unwrap(), exported);

    let target = temp.path().join("imported");
    let (imported, info) = Ledger::import_bundle(
        &target,
        &bundle,
        open_options(false, 0),
        &mut named_in_payload,
    )
    .unwrap();
    assert_eq!(info, exported);
    assert_eq!(imported.get_blob(&a).unwrap().unwrap(), b"blob a");
    assert_eq!(imported.get_blob(&b).unwrap().unwrap(), vec![7u8; 100_000]);
    assert_eq!(imported.get_blob(&c).unwrap(), None);
    assert_eq!(imported.head(), source.head());
}

// Goal: a changed blob in a bundle is refused at import, by the hash its record names.
// Method: flip one byte in the middle of blob B's bytes, which the trailer alone would also
// catch; so recompute the trailer, as a forger would, and check the blob check catches it.
#[test]
fn a_changed_blob_is_refused_by_its_hash() {
    let temp = tempfile::tempdir().unwrap();
    let bundle = temp.path().join("b");
    let (source, _) = ledger_naming_blobs(&temp.path().join("source"));
    source
        .export_bundle(&bundle, 0, source.head().seq, &mut named_in_payload)
        .unwrap();
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes
        .windows(1000)
        .position(|w| w.iter().all(|&x| x == 7))
        .unwrap();
    bytes[at + 500] = 8;
    let body = bytes.len() - 32;
    let trailer = blake3::Hasher::new_derive_key("jitos.ledger.bundle.v1")
        .update(&bytes[..body])
        .finalize();
    bytes[body..].copy_from_slice(trailer.as_bytes());
    std::fs::write(&bundle, &bytes).unwrap();
    let target = temp.path().join("imported");
    let error = Ledger::import_bundle(
        &target,
        &bundle,
        open_options(false, 0),
        &mut named_in_payload,
    )
    .err()
    .unwrap();
    assert!(error.to_string().contains("does not name it"), "{error}");
    assert!(!target.exists());
}

// Goal: import refuses a bundle whose records name a blob it neither carries nor marks
// absent, and one that carries a blob the record after it does not name.
#[test]
fn blobs_must_be_exactly_those_the_records_name() {
    let temp = tempfile::tempdir().unwrap();
    let (source, _) = ledger_naming_blobs(&temp.path().join("source"));
    let without = temp.path().join("without");
    source
        .export_bundle(&without, 0, source.head().seq, &mut no_blobs)
        .unwrap();
    let error = Ledger::import_bundle(
        &temp.path().join("t1"),
        &without,
        open_options(false, 0),
        &mut named_in_payload,
    )
    .err()
    .unwrap();
    assert!(
        error.to_string().contains("neither carries nor marks"),
        "{error}"
    );

    let with = temp.path().join("with");
    source
        .export_bundle(&with, 0, source.head().seq, &mut named_in_payload)
        .unwrap();
    let error = Ledger::import_bundle(
        &temp.path().join("t2"),
        &with,
        open_options(false, 0),
        &mut no_blobs,
    )
    .err()
    .unwrap();
    assert!(error.to_string().contains("does not name it"), "{error}");
    assert!(entries_besides(temp.path(), &["source", "without", "with"]).is_empty());
}

// Goal: a record the caller refuses stops the import, naming the record, and leaves
// nothing behind.
#[test]
fn a_refused_record_stops_the_import() {
    let temp = tempfile::tempdir().unwrap();
    let bundle = temp.path().join("b");
    exported(&temp.path().join("source"), &bundle);
    let target = temp.path().join("imported");
    let mut refuse_seven = |record: &Record| -> Result<BTreeSet<Hash>, BoxError> {
        match record.seq {
            7 => Err("it does not fold".into()),
            _ => Ok(BTreeSet::new()),
        }
    };
    let error = Ledger::import_bundle(&target, &bundle, open_options(false, 0), &mut refuse_seven)
        .err()
        .unwrap();
    assert!(
        matches!(error, BundleError::Refused { seq: 7, .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("record 7 cannot be taken in: it does not fold"),
        "{error}"
    );
    assert!(!target.exists());
    assert!(entries_besides(temp.path(), &["source", "b"]).is_empty());
}

/// `bytes` with its trailer recomputed, as a forger would, so only the entry checks stand
/// between the change and the store.
fn resealed(mut bytes: Vec<u8>) -> Vec<u8> {
    let body = bytes.len() - 32;
    let trailer = blake3::Hasher::new_derive_key("jitos.ledger.bundle.v1")
        .update(&bytes[..body])
        .finalize();
    bytes[body..].copy_from_slice(trailer.as_bytes());
    bytes
}

// Goal: a hostile entry — an unknown tag, a blob claiming 2^40 bytes — is refused by name
// before anything is allocated for it, even when the trailer was recomputed to match.
// Method: the first entry of a good bundle (right after the 117-byte preamble) rewritten.
#[test]
fn hostile_entries_are_refused() {
    let temp = tempfile::tempdir().unwrap();
    let bundle = temp.path().join("b");
    let (source, _) = ledger_naming_blobs(&temp.path().join("source"));
    source
        .export_bundle(&bundle, 0, source.head().seq, &mut named_in_payload)
        .unwrap();
    let good = std::fs::read(&bundle).unwrap();
    let first_entry = 8 + 4 + 105;
    assert_eq!(good[first_entry], 1, "the genesis record comes first");

    let mut unknown_tag = good.clone();
    unknown_tag[first_entry] = 9;
    let mut huge_blob = good[..first_entry].to_vec();
    huge_blob.push(2);
    huge_blob.extend_from_slice(&(1u64 << 40).to_le_bytes());
    huge_blob.extend_from_slice(&good[first_entry..]);
    for (what, bytes, why) in [
        ("an unknown tag", unknown_tag, "unknown tag 9"),
        ("a huge blob", huge_blob, "over BLOB_BYTES_MAX"),
    ] {
        let path = temp.path().join("hostile");
        std::fs::write(&path, resealed(bytes)).unwrap();
        let error = Ledger::read_bundle_info(&path).err().unwrap();
        assert!(error.to_string().contains(why), "{what}: {error}");
    }
}
