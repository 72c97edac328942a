//! The kernel proper: the one writer. It opens and recovers a store, then executes groups
//! of commands: each is decided against the working state (the committed state plus what
//! the group recorded before it), its records are folded into that working state with
//! `State::fold` (which is what checks them), the group is appended in one synced write,
//! and only then does the working state become the committed one and the answers go out.
//! A failed write leaves the committed state untouched: nothing was applied to it.

use std::{
    collections::BTreeSet,
    ops::Deref,
    panic::{catch_unwind, AssertUnwindSafe},
    path::Path,
    sync::Arc,
};

use jitos_ledger::{
    Actor, Clock, CreateOptions, Hash, IndexEntry, Ledger, NewRecord, OpenOptions, Record,
};
use jitos_warp::{BlobRef, Rewrite, StateDigest};

use crate::{
    decide::{blob_ref, decide, Answer, Decided, Working},
    follow_on::FOLLOW_ONS_PER_GROUP_MAX,
    index,
    past_graphs::PastGraphs,
    payload, recovery, verify,
    view::{StoreFacts, View},
    Command, Commit, CommitError, FollowOn, KernelError, Outcome, Request, State,
};

/// Snapshot interval used when the operator does not choose one.
pub const SNAPSHOT_EVERY_DEFAULT: u64 = 10_000;

/// Most payload and blob bytes one group appends in its synced write; a group that
/// would grow past it is cut, and the rest goes into the next write.
pub const GROUP_BYTES_MAX: usize = 32 * 1024 * 1024;

/// How to open a store.
#[derive(Clone)]
pub struct KernelOptions {
    /// Where recorded time comes from.
    pub clock: Arc<dyn Clock>,
    /// Take a snapshot every this many records (0 = only on request).
    pub snapshot_every: u64,
    /// Open for inspection only: no writes, and a broken chain is tolerated.
    pub read_only: bool,
    /// Create a store with this identity when the directory holds none.
    pub create_with_id: Option<[u8; 16]>,
    /// Walk the whole chain before serving (a broken chain then refuses to open).
    pub verify_on_open: bool,
}

/// The single writer: the ledger and the committed view of the state folded from it.
/// Reads go through the view (`Deref`), which the writer replaces after every group.
pub struct Kernel {
    ledger: Ledger,
    view: View,
    /// Whether due snapshots are left to the caller (a service taking them in the
    /// background) rather than taken in the write path.
    snapshots_elsewhere: bool,
    /// The records the last [`Kernel::execute_following`] made durable, in order: what a
    /// service announces to followers without reading them back.
    committed: Vec<Record>,
}

impl Deref for Kernel {
    type Target = View;

    fn deref(&self) -> &View {
        &self.view
    }
}

/// One command of a group, decided and folded into the working state, waiting for the
/// group's write.
struct Staged {
    /// Where its answer goes among the group's.
    slot: usize,
    /// How many records it made, at the end of the group's records so far.
    records: usize,
    answer: Answer,
    /// The state digest after its records.
    digest: StateDigest,
}

impl Kernel {
    /// Opens (or creates) the store in `dir`, verifies it if asked, and recovers the state.
    pub fn open(dir: &Path, options: KernelOptions) -> Result<Kernel, KernelError> {
        let open_options = OpenOptions {
            read_only: options.read_only,
            clock: options.clock.clone(),
        };
        let mut ledger = match options.create_with_id {
            Some(store_id) if !Ledger::exists(dir) && !options.read_only => Ledger::create(
                dir,
                CreateOptions {
                    store_id,
                    clock: options.clock.clone(),
                },
            )?,
            _ => Ledger::open(dir, open_options)?,
        };
        let dir_name = dir.display().to_string();
        let mut broken_at = None;
        if options.verify_on_open {
            let outcome = verify::verify(&ledger, &mut |_| {})?;
            if let Some((seq, reason)) = outcome.first_bad {
                if !options.read_only {
                    return Err(KernelError::BrokenChain {
                        dir: dir_name,
                        seq,
                        reason,
                    });
                }
                broken_at = Some((seq, reason));
            }
        }
        // A read-only inspection of a broken store folds only the intact prefix.
        let target = match &broken_at {
            Some((seq, _)) => seq.saturating_sub(1),
            None => ledger.head().seq,
        };
        let (state, recovery) = recovery::rebuild(&ledger, target)?;
        if !options.read_only {
            index::build(&mut ledger);
        }
        tracing::info!(
            head = ledger.head().seq,
            snapshot = ?recovery.snapshot_seq,
            replayed = recovery.replayed_records,
            "recovered"
        );
        // The newest snapshot recovery could trust; an ignored one does not delay the next.
        let last_snapshot_seq = recovery.snapshot_seq;
        let view = View {
            state,
            ledger: Arc::new(ledger.reader_at(ledger.head())),
            facts: Arc::new(StoreFacts {
                options,
                dir: dir_name,
                recovery,
                broken_at,
                past: PastGraphs::default(),
            }),
            last_snapshot_seq,
        };
        Ok(Kernel {
            ledger,
            view,
            snapshots_elsewhere: false,
            committed: Vec::new(),
        })
    }

    /// Takes the records the last [`Kernel::execute_following`] made durable, in order.
    pub fn take_committed(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.committed)
    }

    /// The committed view, for readers elsewhere.
    pub fn view(&self) -> View {
        self.view.clone()
    }

    /// Leaves due snapshots to the caller ([`Kernel::snapshot_due`], then
    /// [`Kernel::store_snapshot`] with a state encoded off the write path).
    pub fn take_snapshots_elsewhere(&mut self) {
        self.snapshots_elsewhere = true;
    }

    /// Executes one command by `actor`.
    pub fn execute_one(&mut self, actor: Actor, command: Command) -> Result<Outcome, KernelError> {
        self.execute(vec![Request { actor, command }])
            .pop()
            .unwrap_or_else(|| Err(KernelError::Payload("no answer to a command".to_owned())))
    }

    /// Commits system rewrites in one group: each is checked against the state the ones
    /// before it left.
    pub fn commit(&mut self, batch: Vec<(Actor, Rewrite)>) -> Vec<Result<Commit, CommitError>> {
        let requests = batch
            .into_iter()
            .map(|(actor, rewrite)| Request {
                actor,
                command: Command::Rewrite(rewrite),
            })
            .collect();
        self.execute(requests)
            .into_iter()
            .map(|answer| answer?.into_commit())
            .collect()
    }

    /// Decides, records and folds `requests` in order, each against the state the ones
    /// before it left; answers each once its records are durable, or with why it was
    /// refused (a refused command records nothing and changes nothing). Groups are cut
    /// at [`GROUP_BYTES_MAX`] bytes; each is one synced write.
    pub fn execute(&mut self, requests: Vec<Request>) -> Vec<Result<Outcome, KernelError>> {
        self.execute_following(requests, None).0
    }

    /// [`Kernel::execute`], then, in the last group, what `follow_on` says is due after
    /// it; also says whether more is due than one group took.
    pub fn execute_following(
        &mut self,
        requests: Vec<Request>,
        mut follow_on: Option<&mut dyn FollowOn>,
    ) -> (Vec<Result<Outcome, KernelError>>, bool) {
        if self.view.facts.options.read_only || self.view.facts.broken_at.is_some() {
            return (
                requests
                    .iter()
                    .map(|_| Err(KernelError::ReadOnly))
                    .collect(),
                false,
            );
        }
        self.committed.clear();
        let asked = requests.len();
        let mut answers: Vec<Option<Result<Outcome, KernelError>>> =
            requests.iter().map(|_| None).collect();
        let mut requests = requests.into_iter().enumerate();
        // A command decided for a group it did not fit in: decided against the state that
        // group leaves and at the seq that follows it, so it is still right for the next.
        let mut carried: Option<(usize, Decided)> = None;
        let mut more_due = false;
        loop {
            let mut group = Group::new(self.view.state.clone());
            let now_ms = self.view.facts.options.clock.now_ms();
            if let Some((slot, decided)) = carried.take() {
                let seq = self.ledger.head().seq + 1;
                group.stage(slot, seq, now_ms, decided, &mut answers);
            }
            for (slot, request) in requests.by_ref() {
                match self.decide_for(&group, now_ms, request) {
                    Err(refused) => answers[slot] = Some(Err(refused)),
                    Ok(decided) if group.fits(&decided) => {
                        let seq = self.next_seq(&group);
                        group.stage(slot, seq, now_ms, decided, &mut answers);
                    }
                    Ok(decided) => {
                        carried = Some((slot, decided));
                        break;
                    }
                }
            }
            if carried.is_none() {
                if let Some(follow_on) = follow_on.as_deref_mut() {
                    more_due = self.follow(&mut group, now_ms, follow_on, &mut answers);
                }
            }
            self.append_group(group, &mut answers);
            if carried.is_none() {
                break;
            }
        }
        let mut answers = answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(KernelError::Payload("no answer".to_owned()))));
        let asked_answers = answers.by_ref().take(asked).collect();
        if let Some(follow_on) = follow_on {
            for outcome in answers {
                follow_on.settled(outcome);
            }
        }
        (asked_answers, more_due)
    }

    /// Stages what `follow_on` says is due after the group's commands; whether more is
    /// due than fits this group.
    fn follow(
        &self,
        group: &mut Group,
        now_ms: u64,
        follow_on: &mut dyn FollowOn,
        answers: &mut Vec<Option<Result<Outcome, KernelError>>>,
    ) -> bool {
        for _ in 0..FOLLOW_ONS_PER_GROUP_MAX {
            let Some(request) =
                contained(|| Ok(follow_on.next(&group.working, now_ms))).unwrap_or(None)
            else {
                return false;
            };
            let slot = answers.len();
            answers.push(None);
            match self.decide_for(group, now_ms, request) {
                Ok(decided) if group.fits(&decided) => {
                    let seq = self.next_seq(group);
                    group.stage(slot, seq, now_ms, decided, answers);
                    if answers[slot].is_some() {
                        // Refused by its fold: asking again would only repeat it.
                        return false;
                    }
                }
                Ok(decided) => {
                    answers[slot] = Some(Err(KernelError::TooLarge {
                        bytes: decided.bytes(),
                        max: GROUP_BYTES_MAX,
                    }));
                    // It fits an empty group: the next one takes it.
                    return !group.staged.is_empty() && decided.bytes() <= GROUP_BYTES_MAX;
                }
                Err(refused) => {
                    tracing::error!(error = %refused, "a command the writer found due was refused");
                    answers[slot] = Some(Err(refused));
                    return false;
                }
            }
        }
        true
    }

    /// The seq the next record staged in `group` gets.
    fn next_seq(&self, group: &Group) -> u64 {
        self.ledger.head().seq + group.records.len() as u64 + 1
    }

    /// Decides `request` against the state `group` leaves; a command larger than any
    /// group is refused.
    fn decide_for(
        &self,
        group: &Group,
        now_ms: u64,
        request: Request,
    ) -> Result<Decided, KernelError> {
        let working = Working {
            state: &group.working,
            ledger: &self.ledger,
            staged_blobs: &group.staged_blobs,
            seq: self.next_seq(group),
            now_ms,
        };
        let decided = contained(|| decide(&working, request.actor, request.command))?;
        let bytes = decided.bytes();
        if bytes > GROUP_BYTES_MAX {
            return Err(KernelError::TooLarge {
                bytes,
                max: GROUP_BYTES_MAX,
            });
        }
        Ok(decided)
    }

    /// Appends a group's records and blobs in one synced write; on success the working
    /// state becomes the committed one and each staged command gets its answer, on
    /// failure each gets the error and nothing changes.
    fn append_group(&mut self, group: Group, answers: &mut [Option<Result<Outcome, KernelError>>]) {
        let Group {
            working,
            records,
            blobs,
            index,
            staged,
            ..
        } = group;
        if staged.is_empty() {
            return;
        }
        let slices: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
        let started = std::time::Instant::now();
        let sealed = match self.ledger.append_indexed(records, &slices, Some(&index)) {
            Ok((sealed, _)) => sealed,
            Err(error) => {
                let reason = error.to_string();
                tracing::error!(%reason, "durable write failed; nothing of the group applies");
                for one in staged {
                    answers[one.slot] = Some(Err(KernelError::OpWrite(reason.clone())));
                }
                return;
            }
        };
        tracing::debug!(
            first_seq = sealed.first().map_or(0, |record| record.seq),
            last_seq = sealed.last().map_or(0, |record| record.seq),
            records = sealed.len(),
            commands = staged.len(),
            "group committed"
        );
        record_metrics(started.elapsed(), &sealed, staged.len());
        self.view = View {
            state: working,
            ledger: Arc::new(self.ledger.reader_at(self.ledger.head())),
            facts: Arc::clone(&self.view.facts),
            last_snapshot_seq: self.view.last_snapshot_seq,
        };
        let mut rest = sealed.as_slice();
        for one in staged {
            let (mine, later) = rest.split_at(one.records.min(rest.len()));
            rest = later;
            answers[one.slot] = Some(answer_of(one.answer, mine, one.digest));
        }
        self.committed.extend(sealed);
        if !self.snapshots_elsewhere && self.snapshot_due() {
            // A failed periodic snapshot costs only recovery time; the records are durable.
            if let Err(e) = self.snapshot() {
                tracing::warn!(error = %e, "periodic snapshot failed");
            }
        }
    }

    /// Whether a periodic snapshot is due.
    pub fn snapshot_due(&self) -> bool {
        let every = self.view.facts.options.snapshot_every;
        every != 0 && self.head().seq >= self.view.last_snapshot_seq.unwrap_or(0) + every
    }

    /// Takes a snapshot of the committed state now.
    pub fn snapshot(&mut self) -> Result<jitos_ledger::SnapshotMeta, KernelError> {
        if self.view.facts.options.read_only {
            return Err(KernelError::ReadOnly);
        }
        let seq = self.head().seq;
        let bytes = self.view.state.encode_snapshot()?;
        self.store_snapshot(seq, self.view.state.graph.digest(), &bytes)
    }

    /// Stores a snapshot of the state as of `seq` (encoded by the caller, off the write
    /// path, from a view of that seq).
    pub fn store_snapshot(
        &mut self,
        seq: u64,
        digest: StateDigest,
        bytes: &[u8],
    ) -> Result<jitos_ledger::SnapshotMeta, KernelError> {
        self.ledger
            .put_snapshot(seq, digest.0, bytes)
            .map_err(KernelError::SnapshotWrite)?;
        self.view.last_snapshot_seq = Some(self.view.last_snapshot_seq.unwrap_or(0).max(seq));
        self.view.ledger = Arc::new(self.ledger.reader_at(self.ledger.head()));
        let meta = self
            .ledger
            .snapshots()?
            .into_iter()
            .find(|meta| meta.seq == seq);
        meta.ok_or_else(|| KernelError::Payload(format!("snapshot at {seq} vanished after write")))
    }

    /// Deletes every stored blob no record names.
    pub fn blob_gc(&mut self) -> Result<crate::BlobGcOutcome, KernelError> {
        let unreferenced = self.view.unreferenced_blobs()?;
        let deleted = self.delete_blobs(&unreferenced.refs(), unreferenced.scanned)?;
        Ok(unreferenced.outcome(&deleted))
    }

    /// Deletes `blobs`, which the caller found no record naming up to `scanned`, unless
    /// a record appended since names one of them (those are kept). Returns those deleted.
    pub fn delete_blobs(
        &mut self,
        blobs: &[BlobRef],
        scanned: u64,
    ) -> Result<Vec<BlobRef>, KernelError> {
        if self.view.facts.options.read_only {
            return Err(KernelError::ReadOnly);
        }
        let mut named = BTreeSet::new();
        for record in self.ledger.range(scanned + 1, self.ledger.head().seq) {
            named.extend(payload::blobs_named_by(&record?)?);
        }
        let doomed: Vec<BlobRef> = blobs
            .iter()
            .filter(|blob| !named.contains(blob))
            .copied()
            .collect();
        if !doomed.is_empty() {
            let hashes: Vec<Hash> = doomed.iter().map(|blob| Hash(blob.0)).collect();
            self.ledger
                .delete_blobs(&hashes)
                .map_err(KernelError::BlobWrite)?;
        }
        Ok(doomed)
    }
}

/// A group being gathered: the working state and what its commands recorded.
struct Group {
    working: State,
    records: Vec<NewRecord>,
    /// The index entries of `records`.
    index: Vec<IndexEntry>,
    blobs: Vec<Vec<u8>>,
    staged_blobs: BTreeSet<BlobRef>,
    staged: Vec<Staged>,
    bytes: usize,
}

impl Group {
    /// Whether `decided` may join: an empty group takes anything a group may hold.
    fn fits(&self, decided: &Decided) -> bool {
        self.staged.is_empty() || self.bytes + decided.bytes() <= GROUP_BYTES_MAX
    }

    fn new(working: State) -> Group {
        Group {
            working,
            records: Vec::new(),
            index: Vec::new(),
            blobs: Vec::new(),
            staged_blobs: BTreeSet::new(),
            staged: Vec::new(),
            bytes: 0,
        }
    }

    /// Folds a decided command's records into the working state, the first at `seq`; a
    /// command whose records do not fold is refused and leaves the working state as it
    /// was.
    fn stage(
        &mut self,
        slot: usize,
        seq: u64,
        now_ms: u64,
        decided: Decided,
        answers: &mut [Option<Result<Outcome, KernelError>>],
    ) {
        match contained(|| fold_into(&self.working, seq, now_ms, &decided)) {
            Ok((folded, index)) => {
                self.working = folded;
                self.index.extend(index);
                self.bytes += decided.bytes();
                self.staged_blobs
                    .extend(decided.blobs.iter().map(|b| blob_ref(b)));
                self.staged.push(Staged {
                    slot,
                    records: decided.records.len(),
                    answer: decided.answer,
                    digest: self.working.graph.digest(),
                });
                self.records.extend(decided.records);
                self.blobs.extend(decided.blobs);
            }
            Err(refused) => answers[slot] = Some(Err(refused.into_refusal())),
        }
    }
}

/// The working state with `decided`'s records folded in, the first at `seq`, and their
/// index entries; or why they do not fold (then `working` is as it was).
fn fold_into(
    working: &State,
    seq: u64,
    now_ms: u64,
    decided: &Decided,
) -> Result<(State, Vec<IndexEntry>), KernelError> {
    let mut folded = working.clone();
    let mut entries = Vec::new();
    for (offset, new) in decided.records.iter().enumerate() {
        #[cfg(feature = "fault-injection")]
        crate::decide::fold_fault(new);
        let record = Record {
            seq: seq + offset as u64,
            parent: Hash::ZERO,
            kind: new.kind.clone(),
            actor: new.actor.clone(),
            time_ms: now_ms,
            payload: new.payload.clone(),
            hash: Hash::ZERO,
        };
        let done = folded.fold(&record)?;
        entries.extend(index::entries(&folded, record.seq, &done));
    }
    Ok((folded, entries))
}

/// Runs `f`, turning a panic into an internal-error refusal of the one command it served:
/// the command's work was on a copy, so the committed state is untouched.
fn contained<T>(f: impl FnOnce() -> Result<T, KernelError>) -> Result<T, KernelError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            tracing::error!(%what, "a command panicked; it is refused and nothing changed");
            Err(KernelError::Internal(what))
        }
    }
}

/// The answer of a staged command from its sealed records (most answers name the last
/// but for the effect beginnings and ends that go with it: a dispatch is answered by its
/// own record, whose seq is the attempt's id, not by the `effect.begin` after it).
fn answer_of(
    answer: Answer,
    sealed: &[Record],
    digest: StateDigest,
) -> Result<Outcome, KernelError> {
    let record = || {
        sealed
            .iter()
            .rev()
            .find(|r| r.kind != crate::KIND_EFFECT_BEGIN && r.kind != crate::KIND_EFFECT_END)
            .or(sealed.last())
            .cloned()
            .ok_or_else(|| KernelError::Payload("a command recorded nothing".to_owned()))
    };
    Ok(match answer {
        Answer::Commit => Outcome::Committed(Commit {
            record: record()?,
            digest,
        }),
        Answer::Record => Outcome::Recorded(record()?),
        Answer::Blobs(refs) => Outcome::Blobs(refs),
        Answer::Sws(None) => Outcome::SwsDone(record()?),
        Answer::Sws(Some(report)) => Outcome::SwsConflicts {
            record: record()?,
            report,
        },
        Answer::Proposal(None) => Outcome::ProposalDone(record()?),
        Answer::Proposal(Some(reason)) => Outcome::ProposalRefused {
            record: record()?,
            reason,
        },
        Answer::Executed(cancel) => Outcome::Executed {
            record: record()?,
            cancel,
        },
        Answer::Submitted => Outcome::Submitted {
            record: sealed
                .first()
                .cloned()
                .ok_or_else(|| KernelError::Payload("a submit recorded nothing".to_owned()))?,
            writ: sealed
                .last()
                .filter(|_| sealed.len() > 1)
                .map(|issued| issued.seq),
        },
    })
}

/// Counts a committed group: its synced append's time (records, blobs and index in one
/// synced write: what a commit waits for), its size, and its records by kind (one count
/// per kind, so the writer spends one lookup per kind, not per record).
fn record_metrics(took: std::time::Duration, sealed: &[Record], commands: usize) {
    use crate::metric_names::{COMMIT_SECONDS, GROUP_COMMANDS, GROUP_RECORDS, RECORDS};
    metrics::histogram!(COMMIT_SECONDS).record(took.as_secs_f64());
    metrics::histogram!(GROUP_RECORDS).record(sealed.len() as f64);
    metrics::histogram!(GROUP_COMMANDS).record(commands as f64);
    let mut kinds: Vec<(&str, u64)> = Vec::new();
    for record in sealed {
        match kinds.iter_mut().find(|(kind, _)| *kind == record.kind) {
            Some((_, count)) => *count += 1,
            None => kinds.push((&record.kind, 1)),
        }
    }
    for (kind, count) in kinds {
        metrics::counter!(RECORDS, "kind" => kind.to_owned()).increment(count);
    }
}
