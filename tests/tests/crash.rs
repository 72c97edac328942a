//! The crash harness: SIGKILL (and, in a short variant, SIGTERM) a real `jitosd` while four
//! clients append, restart it on the same data directory, and check that nothing
//! acknowledged was lost, nothing that was never sent appeared, and the chain still
//! verifies and replays.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use jitos_proto::{Client, ErrorCode, Request, Response};
use jitos_system_tests::{add_node, all_records, call, graph, status, Daemon, Sandbox};
use jitos_warp::Op;
use rand::{rngs::StdRng, Rng, SeedableRng};

/// Kill cycles when `JITOS_CRASH_CYCLES` is not set.
const CYCLES_DEFAULT: u64 = 50;
/// Seed of the kill delays when `JITOS_CRASH_SEED` is not set.
const SEED_DEFAULT: u64 = 0x4a17_05c4_a5e0;
/// Clients appending at once.
const CLIENT_THREADS: usize = 4;
/// Range of the delay between the cycle's first acknowledged append and the SIGKILL.
/// Counting from the first acknowledgement, not from the clients' start, keeps a slow
/// fsync on a busy machine from leaving a cycle with nothing acknowledged.
const KILL_DELAY_MS_MIN: u64 = 30;
const KILL_DELAY_MS_MAX: u64 = 250;
/// Longest a cycle may wait for its first acknowledged append.
const FIRST_ACK_WAIT: Duration = Duration::from_secs(10);
/// A client stops after this many appends even if the daemon is somehow never killed.
const APPENDS_PER_CLIENT_MAX: u64 = 100_000;
/// Cycles of the SIGTERM variant; each stop waits out the daemon's shutdown grace.
const TERMINATE_CYCLES: u64 = 3;
/// Small, so kills also land while periodic snapshots are written.
const SNAPSHOT_EVERY: &str = "50";
/// The node kind every crash rewrite adds.
const NODE_KIND: &str = "Crash";

/// What one client did in one cycle.
#[derive(Default)]
struct ClientLog {
    /// Node ids sent, in order; the last may or may not have been committed.
    attempted: Vec<String>,
    /// Node ids acknowledged as committed, with the sequence number the daemon gave.
    acknowledged: Vec<(u64, String)>,
    /// Answers other than a commit, a shutdown notice or a broken connection.
    unexpected: Vec<String>,
}

/// How a cycle stops the daemon.
#[derive(Clone, Copy)]
enum Stop {
    /// SIGKILL, as a power cut would.
    Kill,
    /// SIGTERM, which must also exit 0.
    Terminate,
}

/// Everything the clients were told, over all cycles, and the totals for the summary.
#[derive(Default)]
struct Tally {
    attempted: BTreeSet<String>,
    acknowledged: BTreeMap<String, u64>,
    attempted_count: u64,
    acknowledged_count: u64,
    unacknowledged_present: u64,
    unacknowledged_absent: u64,
}

/// Runs one cycle on a serving daemon: clients append, the daemon is stopped `delay` after
/// the first acknowledgement, restarted, and its store checked. Returns the new daemon.
fn cycle(
    sandbox: &Sandbox,
    daemon: Daemon,
    cycle: u64,
    delay: Duration,
    stop: Stop,
    tally: &mut Tally,
) -> Daemon {
    let acks = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..CLIENT_THREADS)
        .map(|client| {
            let socket = sandbox.socket().to_path_buf();
            let acks = acks.clone();
            thread::spawn(move || append_until_stopped(&socket, cycle, client, &acks))
        })
        .collect();
    let waited = Instant::now();
    while acks.load(Ordering::SeqCst) == 0 {
        assert!(
            waited.elapsed() < FIRST_ACK_WAIT,
            "cycle {cycle}: no append was acknowledged within {FIRST_ACK_WAIT:?}\n\
             daemon stderr:\n{}",
            daemon.stderr()
        );
        thread::sleep(Duration::from_millis(1));
    }
    thread::sleep(delay);
    match stop {
        Stop::Kill => daemon.kill9(),
        Stop::Terminate => {
            daemon.terminate();
        }
    }
    let logs: Vec<ClientLog> = clients
        .into_iter()
        .map(|client| {
            client
                .join()
                .unwrap_or_else(|_| panic!("a client thread panicked"))
        })
        .collect();
    let daemon = start(sandbox);

    let mut cycle_attempted = BTreeSet::new();
    let mut cycle_acknowledged = 0u64;
    for log in &logs {
        assert!(
            log.unexpected.is_empty(),
            "cycle {cycle}: unexpected answers: {:?}",
            log.unexpected
        );
        cycle_attempted.extend(log.attempted.iter().cloned());
        for (seq, id) in &log.acknowledged {
            tally.acknowledged.insert(id.clone(), *seq);
            cycle_acknowledged += 1;
        }
    }
    assert!(
        cycle_acknowledged > 0,
        "cycle {cycle}: the clients report no acknowledged append; the harness proved nothing"
    );
    tally.attempted.extend(cycle_attempted.iter().cloned());

    let present = check_store(&daemon, cycle, &tally.attempted, &tally.acknowledged);
    let unacknowledged_present = cycle_attempted
        .iter()
        .filter(|id| present.contains(*id) && !tally.acknowledged.contains_key(*id))
        .count() as u64;
    tally.attempted_count += cycle_attempted.len() as u64;
    tally.acknowledged_count += cycle_acknowledged;
    tally.unacknowledged_present += unacknowledged_present;
    tally.unacknowledged_absent +=
        cycle_attempted.len() as u64 - cycle_acknowledged - unacknowledged_present;
    daemon
}

// Goal: durability and integrity survive SIGKILL at arbitrary moments. Method: per cycle,
// four clients append uniquely named nodes, the daemon is SIGKILLed a seeded random delay
// after the first acknowledgement and restarted, and the log, graph, verify and replay
// are checked against what the clients sent and what they were told.
#[test]
fn acknowledged_rewrites_survive_sigkill() {
    let cycles = env_u64("JITOS_CRASH_CYCLES", CYCLES_DEFAULT);
    let seed = env_u64("JITOS_CRASH_SEED", SEED_DEFAULT);
    println!("crash harness: {cycles} cycles, seed {seed} (replay with JITOS_CRASH_SEED={seed})");
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let sandbox = Sandbox::new();
    let mut daemon = start(&sandbox);
    let mut tally = Tally::default();
    for n in 0..cycles {
        let delay = Duration::from_millis(rng.random_range(KILL_DELAY_MS_MIN..=KILL_DELAY_MS_MAX));
        println!("cycle {n}: SIGKILL {delay:?} after the first acknowledgement");
        daemon = cycle(&sandbox, daemon, n, delay, Stop::Kill, &mut tally);
    }
    let last = status(&mut daemon.client());
    assert_eq!(
        last.head_seq,
        tally.acknowledged_count + tally.unacknowledged_present,
        "the ledger holds records no client accounts for"
    );
    println!(
        "crash summary: cycles={cycles} seed={seed} attempted={} acknowledged={} \
         unacknowledged_but_present={} unacknowledged_and_absent={} head_seq={} \
         last_snapshot_seq={:?} elapsed={:.1}s",
        tally.attempted_count,
        tally.acknowledged_count,
        tally.unacknowledged_present,
        tally.unacknowledged_absent,
        last.head_seq,
        last.last_snapshot_seq,
        started.elapsed().as_secs_f64()
    );
    daemon.terminate();
}

// Goal: a clean stop under load loses nothing either, and exits 0. Method: the same
// cycles as the SIGKILL harness, fewer of them, stopping the daemon with SIGTERM while the
// clients are still appending.
#[test]
fn acknowledged_rewrites_survive_sigterm_under_load() {
    let sandbox = Sandbox::new();
    let mut daemon = start(&sandbox);
    let mut tally = Tally::default();
    for n in 0..TERMINATE_CYCLES {
        let delay = Duration::from_millis(KILL_DELAY_MS_MIN);
        daemon = cycle(&sandbox, daemon, n, delay, Stop::Terminate, &mut tally);
    }
    let head = status(&mut daemon.client()).head_seq;
    assert_eq!(
        head,
        tally.acknowledged_count + tally.unacknowledged_present,
        "the ledger holds records no client accounts for"
    );
    daemon.terminate();
}

fn start(sandbox: &Sandbox) -> Daemon {
    sandbox.start_with(&["--snapshot-every", SNAPSHOT_EVERY])
}

/// One client: appends `c{cycle}-t{client}-{n}` nodes until the daemon goes away.
/// Counts acknowledgements in `acks` as they arrive.
fn append_until_stopped(socket: &Path, cycle: u64, client: usize, acks: &AtomicU64) -> ClientLog {
    let mut log = ClientLog::default();
    let mut connection = match Client::connect(socket, "crash-client") {
        Ok(Some(connection)) => connection,
        // Killed before this client got in: it attempted nothing, which is still truthful.
        Ok(None) | Err(_) => return log,
    };
    for n in 0..APPENDS_PER_CLIENT_MAX {
        let id = format!("c{cycle}-t{client}-{n}");
        // Recorded before sending: once the bytes may have left, the node may exist.
        log.attempted.push(id.clone());
        match connection.call(&Request::ApplyRewrite(add_node(&id, NODE_KIND))) {
            Ok(Response::Committed { seq, .. }) => {
                log.acknowledged.push((seq, id));
                acks.fetch_add(1, Ordering::SeqCst);
            }
            // A daemon draining for SIGTERM may say so instead of closing.
            Ok(Response::Error(error)) if error.code == ErrorCode::ShuttingDown => break,
            Ok(other) => {
                log.unexpected.push(format!("{id}: {other:?}"));
                break;
            }
            // The daemon died under this client.
            Err(_) => break,
        }
    }
    log
}

/// Checks the restarted daemon's store and returns the ids of the nodes it holds.
fn check_store(
    daemon: &Daemon,
    cycle: u64,
    attempted: &BTreeSet<String>,
    acknowledged: &BTreeMap<String, u64>,
) -> BTreeSet<String> {
    let mut client = daemon.client();
    let head = status(&mut client).head_seq;

    let records = all_records(&mut client);
    let seqs: Vec<u64> = records.iter().map(|record| record.seq).collect();
    let expected: Vec<u64> = (0..=head).collect();
    if seqs != expected {
        let first_off = seqs
            .iter()
            .zip(&expected)
            .position(|(got, want)| got != want);
        panic!(
            "cycle {cycle}: the log is not exactly 0..={head}: {} records, first mismatch at index {first_off:?}",
            seqs.len()
        );
    }

    // Which record added each node, from the log.
    let mut added_at: BTreeMap<String, u64> = BTreeMap::new();
    for record in &records {
        for op in record.rewrite.iter().flat_map(|rewrite| &rewrite.ops) {
            match op {
                Op::AddNode { id, .. } => {
                    let previous = added_at.insert(id.as_str().to_owned(), record.seq);
                    assert!(
                        previous.is_none(),
                        "cycle {cycle}: node {id} added twice (seqs {previous:?} and {})",
                        record.seq
                    );
                }
                other => panic!(
                    "cycle {cycle}: record {} holds an op no client sent: {other:?}",
                    record.seq
                ),
            }
        }
    }
    for (id, seq) in acknowledged {
        assert_eq!(
            added_at.get(id),
            Some(seq),
            "cycle {cycle}: node {id} was acknowledged at seq {seq}, but the log disagrees"
        );
    }
    let never_sent: Vec<&String> = added_at
        .keys()
        .filter(|id| !attempted.contains(*id))
        .collect();
    assert!(
        never_sent.is_empty(),
        "cycle {cycle}: nodes never attempted appear: {never_sent:?}"
    );

    let present: BTreeSet<String> = graph(&mut client, None)
        .nodes
        .iter()
        .map(|node| node.id.as_str().to_owned())
        .collect();
    let logged: BTreeSet<String> = added_at.into_keys().collect();
    assert!(
        present == logged,
        "cycle {cycle}: the live graph ({} nodes) is not the fold of the log ({} added nodes)",
        present.len(),
        logged.len()
    );

    match call(&mut client, &Request::Verify) {
        Response::Verify(view) => assert!(view.ok(), "cycle {cycle}: verify failed: {view:?}"),
        other => panic!("cycle {cycle}: verify answered {other:?}"),
    }
    match call(&mut client, &Request::ReplayVerify) {
        Response::Replay(report) => {
            assert!(
                report.matches(),
                "cycle {cycle}: replay differs: {report:?}"
            );
            assert_eq!(
                report.records,
                head + 1,
                "cycle {cycle}: replay folded the wrong count"
            );
        }
        other => panic!("cycle {cycle}: replay answered {other:?}"),
    }
    present
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{name}={text:?} is not a whole number: {e}")),
        Err(_) => default,
    }
}
