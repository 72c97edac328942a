//! Creating and opening stores: round trips, refusals, format versions, locking, read-only mode.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use jitos_ledger::{AppendError, Hash, Ledger, OpenError, FORMAT_VERSION, GENESIS_KIND};

use crate::common::{create_at, open_options, raw_db, records, STORE_ID};

#[test]
fn create_then_open_round_trips_genesis_and_head() {
    // A fresh store holds only genesis; reopening it yields the same genesis and head.
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("store");
    assert!(!Ledger::exists(&dir));
    let ledger = create_at(&dir, 1234);
    assert!(Ledger::exists(&dir));
    let genesis = *ledger.genesis();
    assert_eq!(genesis.store_id, STORE_ID);
    assert_eq!(genesis.format_version, FORMAT_VERSION);
    assert_eq!(genesis.created_ms, 1234);
    let head = ledger.head();
    assert_eq!(head.seq, 0);
    let record = ledger.get(0).unwrap().unwrap();
    assert_eq!(record.kind, GENESIS_KIND);
    assert_eq!(record.parent, Hash::ZERO);
    assert_eq!(record.hash, head.hash);
    drop(ledger);

    let reopened = Ledger::open(&dir, open_options(false, 0)).unwrap();
    assert_eq!(*reopened.genesis(), genesis);
    assert_eq!(reopened.head(), head);
}

#[test]
fn reopen_keeps_head_after_appends() {
    // The head after appends survives closing and reopening the store.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    ledger.append_batch(records(0, 5)).unwrap();
    ledger.append_batch(records(5, 3)).unwrap();
    let head = ledger.head();
    assert_eq!(head.seq, 8);
    drop(ledger);
    let reopened = Ledger::open(temp.path(), open_options(false, 0)).unwrap();
    assert_eq!(reopened.head(), head);
}

#[test]
fn create_refuses_an_existing_store_and_a_non_empty_dir() {
    // Creating over a store or over unrelated files must fail without touching them.
    let temp = tempfile::tempdir().unwrap();
    let store = temp.path().join("store");
    drop(create_at(&store, 1));
    let again = Ledger::create(
        &store,
        jitos_ledger::CreateOptions {
            store_id: [0; 16],
            clock: std::sync::Arc::new(jitos_ledger::FixedClock(2)),
        },
    );
    assert!(matches!(again, Err(OpenError::AlreadyExists { .. })));

    let other = temp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), b"keep me").unwrap();
    let refused = Ledger::create(
        &other,
        jitos_ledger::CreateOptions {
            store_id: [0; 16],
            clock: std::sync::Arc::new(jitos_ledger::FixedClock(2)),
        },
    );
    assert!(matches!(refused, Err(OpenError::NotEmpty { .. })));
    assert_eq!(std::fs::read(other.join("notes.txt")).unwrap(), b"keep me");
}

#[test]
fn open_of_a_missing_store_is_not_found() {
    // Opening a directory with no store says so instead of creating one.
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("nothing");
    let error = Ledger::open(&dir, open_options(false, 0)).err().unwrap();
    assert!(matches!(error, OpenError::NotFound { .. }), "{error}");
    assert!(!dir.exists());
}

#[test]
fn future_format_is_refused_naming_both_versions() {
    // A store whose meta says a newer format must be refused with both versions named.
    let temp = tempfile::tempdir().unwrap();
    drop(create_at(temp.path(), 1));
    {
        let db = raw_db(temp.path());
        let meta = db.cf_handle("meta").unwrap();
        db.put_cf(meta, b"format_version", (FORMAT_VERSION + 1).to_le_bytes())
            .unwrap();
    }
    for read_only in [false, true] {
        let error = Ledger::open(temp.path(), open_options(read_only, 0))
            .err()
            .unwrap();
        match &error {
            OpenError::FutureFormat {
                found, supported, ..
            } => {
                assert_eq!(*found, FORMAT_VERSION + 1);
                assert_eq!(*supported, FORMAT_VERSION);
            }
            other => panic!("expected FutureFormat, got {other}"),
        }
        assert!(error.to_string().contains("upgrade jitos"));
    }
}

#[test]
fn a_second_writer_is_refused_as_locked() {
    // While one writer has the store open, another writable open fails with Locked,
    // and a read-only open still works and sees the same head.
    let temp = tempfile::tempdir().unwrap();
    let mut first = create_at(temp.path(), 1);
    first.append_batch(records(0, 2)).unwrap();
    let error = Ledger::open(temp.path(), open_options(false, 0))
        .err()
        .unwrap();
    assert!(matches!(error, OpenError::Locked { .. }), "{error}");
    assert!(error
        .to_string()
        .contains(&temp.path().display().to_string()));
    let reader = Ledger::open(temp.path(), open_options(true, 0)).unwrap();
    assert_eq!(reader.head(), first.head());
    // The refused open did not disturb the writer.
    first.append_batch(records(2, 1)).unwrap();
    assert_eq!(first.head().seq, 3);
}

/// Tells the helper test which store to hold open.
const HOLD_DIR_VAR: &str = "JITOS_LEDGER_TEST_HOLD_DIR";
/// What the helper prints once it holds the store.
const HOLDING_LINE: &str = "holding the store";

#[test]
#[ignore = "helper run in a child process by a_writer_in_another_process_is_refused_as_locked"]
fn hold_store_open_for_another_process() {
    // Helper: holds the store named in the environment open until stdin closes.
    let Some(dir) = std::env::var_os(HOLD_DIR_VAR) else {
        return;
    };
    let _ledger = Ledger::open(Path::new(&dir), open_options(false, 0)).unwrap();
    println!("{HOLDING_LINE}");
    std::io::stdout().flush().unwrap();
    let _ = std::io::stdin().read_line(&mut String::new());
}

#[test]
fn a_writer_in_another_process_is_refused_as_locked() {
    // A second daemon (another process) opening the same store is refused with Locked, as
    // RocksDB's LOCK file is held by the first; the test binary re-runs itself as that first.
    let temp = tempfile::tempdir().unwrap();
    drop(create_at(temp.path(), 1));
    let mut holder = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "open::hold_store_open_for_another_process"])
        .args(["--ignored", "--nocapture", "--test-threads=1"])
        .env(HOLD_DIR_VAR, temp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    let holding = lines
        .by_ref()
        .map(Result::unwrap)
        .any(|line| line.ends_with(HOLDING_LINE));
    assert!(holding, "the helper process never opened the store");
    let error = Ledger::open(temp.path(), open_options(false, 0))
        .err()
        .unwrap();
    // Closing stdin releases the helper; its remaining output is drained so it can exit.
    drop(holder.stdin.take());
    lines.for_each(drop);
    assert!(holder.wait().unwrap().success());
    assert!(matches!(error, OpenError::Locked { .. }), "{error}");
}

#[test]
fn read_only_refuses_every_write() {
    // A read-only ledger reads but refuses records, snapshots and blobs.
    let temp = tempfile::tempdir().unwrap();
    drop(create_at(temp.path(), 1));
    let mut ledger = Ledger::open(temp.path(), open_options(true, 0)).unwrap();
    assert!(ledger.get(0).unwrap().is_some());
    assert!(matches!(
        ledger.append_batch(records(0, 1)),
        Err(AppendError::ReadOnly { .. })
    ));
    assert!(matches!(
        ledger.put_snapshot(0, [0; 32], b"s"),
        Err(AppendError::ReadOnly { .. })
    ));
    assert!(matches!(
        ledger.put_blob(b"b"),
        Err(AppendError::ReadOnly { .. })
    ));
}

#[test]
fn ledger_can_move_to_another_thread() {
    // The kernel runs the ledger on its own thread, so it must be Send (and Sync for queries).
    fn check<T: Send + Sync>() {}
    check::<Ledger>();
}
