//! Verification: the chain and every snapshot, and a full replay against the live state.

use jitos_ledger::{Ledger, Record, VerifyEvent};
use jitos_warp::StateDigest;

use jitos_sched::{Capacity, Event};

use crate::{
    policy_record::{PolicyRecord, KIND_POLICY_DECISION},
    process_record::ProcessRecord,
    recovery, snapshot, KernelError, State,
};

/// The outcome of [`crate::View::verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOutcome {
    /// Records whose hash and link were checked.
    pub records_checked: u64,
    /// The newest sequence number.
    pub head_seq: u64,
    /// The first bad sequence number, and why.
    pub first_bad: Option<(u64, String)>,
    /// Snapshots checked.
    pub snapshots_checked: u64,
    /// Snapshots that failed, and why.
    pub bad_snapshots: Vec<(u64, String)>,
    /// Snapshots of a state layout this build does not read (not damage: recovery folds
    /// the records instead), and why.
    pub unread_snapshots: Vec<(u64, String)>,
}

impl VerifyOutcome {
    /// Whether everything checked out.
    pub fn ok(&self) -> bool {
        self.first_bad.is_none() && self.bad_snapshots.is_empty()
    }
}

/// The outcome of [`crate::View::replay_verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayOutcome {
    /// Records folded from genesis.
    pub records: u64,
    /// Digest of the fresh fold.
    pub replayed: StateDigest,
    /// Digest of the live state.
    pub live: StateDigest,
    /// Whether the replayed workspaces equal the live ones, overlays, footprints and
    /// change logs included.
    pub workspaces_match: bool,
    /// Whether the replayed job attempts and worker registry equal the live ones.
    pub jobs_match: bool,
    /// Whether the replayed processes equal the live ones.
    pub processes_match: bool,
    /// Whether the replayed writs (and what each spent), policy and rulings on collapses
    /// (with their votes) equal the live ones.
    pub governance_match: bool,
    /// The first scheduler decision in the ledger that the state at its time did not call
    /// for, if any.
    pub decision_mismatch: Option<u64>,
}

/// Walks the chain, then proves each snapshot's state against its digests.
pub(crate) fn verify(
    ledger: &Ledger,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyOutcome, KernelError> {
    let mut digest_failures = Vec::new();
    let mut unread_snapshots = Vec::new();
    let report = ledger.verify(&mut |event| match event {
        VerifyEvent::Progress { seq } => progress(seq),
        VerifyEvent::Snapshot { meta, state } => match snapshot::prove(state, &meta.digest) {
            Ok(_) => {}
            Err(snapshot::Refusal::Bad(why)) => digest_failures.push((meta.seq, why)),
            Err(snapshot::Refusal::Unread(why)) => unread_snapshots.push((meta.seq, why)),
        },
    })?;
    let mut bad_snapshots = report.bad_snapshots.clone();
    bad_snapshots.extend(digest_failures);
    bad_snapshots.sort();
    unread_snapshots.sort();
    Ok(VerifyOutcome {
        records_checked: report.records_checked,
        head_seq: report.head.seq,
        first_bad: report.first_bad.clone(),
        snapshots_checked: report.snapshots_checked,
        bad_snapshots,
        unread_snapshots,
    })
}

/// Folds the whole ledger from genesis into a fresh state, ignoring every snapshot, and
/// checks each scheduler decision against the one the state called for at its time; the
/// seq of the first that differs, if one does.
pub(crate) fn replay_from_genesis(
    ledger: &Ledger,
) -> Result<(State, u64, Option<u64>), KernelError> {
    let mut state = State::default();
    let mut records = 0;
    let mut first_undecided = None;
    for record in ledger.range(0, ledger.head().seq) {
        let record = record?;
        if first_undecided.is_none() {
            if let Some((decided_ms, event)) = decision_of(&record)? {
                // No slots: a dispatch is a job record, and slots change no other decision.
                let none = Capacity {
                    slots_free: 0,
                    per_process: 0,
                };
                let called_for = state.processes.decide(decided_ms, none, &state);
                if !called_for.is_some_and(|d| d.explains(&event)) {
                    first_undecided = Some(record.seq);
                }
            }
        }
        recovery::fold_named(&mut state, &record)?;
        records += 1;
    }
    Ok((state, records, first_undecided))
}

/// The scheduler decision `record` records, with the time it was made at: a process
/// record's decision event, or a policy's ruling on a job.
fn decision_of(record: &Record) -> Result<Option<(u64, Event)>, KernelError> {
    if ProcessRecord::is_kind(&record.kind) {
        let op = ProcessRecord::decode(&record.kind, &record.payload)?;
        return Ok(op.event.is_decision().then_some((op.decided_ms, op.event)));
    }
    if record.kind == crate::KIND_PROCESS_UNWIND {
        if let crate::EffectRecord::Unwind(unwind) =
            crate::EffectRecord::decode(&record.kind, &record.payload)?
        {
            let event = crate::EffectRecord::Unwind(unwind.clone()).event();
            return Ok(event.is_decision().then_some((unwind.decided_ms, event)));
        }
    }
    if record.kind == KIND_POLICY_DECISION {
        if let PolicyRecord::Decision(d) = PolicyRecord::decode(&record.kind, &record.payload)? {
            return Ok(Some((d.decided_ms, d.event())));
        }
    }
    Ok(None)
}
