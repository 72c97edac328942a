//! Ended workspaces, attempts and processes. The state drops each at the record that ends
//! it ([`crate::Folded::ended`]); the index keeps it, filed under the record that began it
//! (its id) with its final form as the value, so a reader finds one by id, or pages
//! through them in id order, in O(what it reads) however long the history.
//!
//! A reader's own state wins over the index: an entry it sees may have been written after
//! its head (the thing was still live as of the reader's view), and then the view's live
//! copy is the answer.

use jitos_ledger::{codec, IndexEntry, Ledger};
use jitos_sched::Process;
use jitos_sws::{Status, Workspace};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::{index, time_travel, Attempt, Ended, KernelError, Page, State, View};

/// How an ended entry's value starts: the final form follows, or it was too large to keep
/// (then the seq of the record that ended it follows, and the reader folds to it).
const HELD: u8 = 1;
const OMITTED: u8 = 2;

/// Largest final form kept in an entry (the index's bound, less the tag); a larger one is
/// marked omitted, and each read of it folds to its ending record, so it is kept large.
const VALUE_BYTES_MAX: usize = jitos_ledger::INDEX_VALUE_BYTES_MAX - 1;
/// What decoding a kept form may claim (bincode counts memory a value claims, not bytes
/// read); a form whose claim is larger is marked omitted when written, so every kept one
/// reads back.
const DECODE_CLAIM_MAX: usize = 16 * 1024 * 1024;

/// A workspace in a line: what a closed one keeps (its overlay and logs go with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceSummary {
    /// Its id: the seq of the record that created it.
    pub id: u64,
    /// The workspace it sits on, if not the system.
    pub parent: Option<u64>,
    /// The seq its base is read at.
    pub base_seq: u64,
    /// 1 over the system, one more per parent.
    pub depth: u64,
    /// Open, or how it closed.
    pub status: Status,
    /// Entries of its overlay.
    pub overlay_entries: u64,
    /// Keys and nodes it read.
    pub reads: u64,
    /// Keys it wrote.
    pub writes: u64,
}

impl WorkspaceSummary {
    /// The summary of `ws`.
    pub fn of(ws: &Workspace) -> WorkspaceSummary {
        WorkspaceSummary {
            id: ws.id,
            parent: ws.parent,
            base_seq: ws.base_seq,
            depth: ws.depth as u64,
            status: ws.status.clone(),
            overlay_entries: ws.overlay.len() as u64,
            reads: (ws.footprint.reads.len() + ws.footprint.nodes_read.len()) as u64,
            writes: ws.footprint.writes.len() as u64,
        }
    }
}

/// The final form the index keeps of one kind of ended thing.
trait EndedForm: Serialize + DeserializeOwned {
    /// The key its entries are filed under.
    const KEY: &'static [u8];
    /// What it is, for errors.
    const WHAT: &'static str;
    /// Its id and final form, when `ended` is of this kind.
    fn take(ended: &Ended) -> Option<(u64, Self)>;
    /// Whether `state` holds `id` live.
    fn is_live(state: &State, id: u64) -> bool;
}

impl EndedForm for WorkspaceSummary {
    const KEY: &'static [u8] = b"W";
    const WHAT: &'static str = "a closed workspace";
    fn take(ended: &Ended) -> Option<(u64, Self)> {
        match ended {
            Ended::Workspace(ws) => Some((ws.id, WorkspaceSummary::of(ws))),
            _ => None,
        }
    }
    fn is_live(state: &State, id: u64) -> bool {
        state.pool.workspace(id).is_some()
    }
}

impl EndedForm for Attempt {
    const KEY: &'static [u8] = b"A";
    const WHAT: &'static str = "an ended attempt";
    fn take(ended: &Ended) -> Option<(u64, Self)> {
        match ended {
            Ended::Attempt(attempt) => Some((attempt.id, attempt.as_ref().clone())),
            _ => None,
        }
    }
    fn is_live(state: &State, id: u64) -> bool {
        state.jobs.attempt(id).is_some()
    }
}

impl EndedForm for Process {
    const KEY: &'static [u8] = b"P";
    const WHAT: &'static str = "an ended process";
    fn take(ended: &Ended) -> Option<(u64, Self)> {
        match ended {
            Ended::Process(process) => Some((process.id, process.as_ref().clone())),
            _ => None,
        }
    }
    fn is_live(state: &State, id: u64) -> bool {
        state.processes.get(id).is_some()
    }
}

/// The index entry of `ended`, which the record at `end_seq` ended.
pub(crate) fn entry(end_seq: u64, ended: &Ended) -> IndexEntry {
    let (key, id, kept) = match ended {
        Ended::Workspace(ws) => (
            WorkspaceSummary::KEY,
            ws.id,
            keep(&WorkspaceSummary::of(ws)),
        ),
        Ended::Attempt(attempt) => (Attempt::KEY, attempt.id, keep(attempt.as_ref())),
        Ended::Process(process) => (Process::KEY, process.id, keep(process.as_ref())),
    };
    let value = match kept {
        Some(bytes) => [&[HELD][..], &bytes].concat(),
        None => [&[OMITTED][..], &end_seq.to_be_bytes()].concat(),
    };
    IndexEntry {
        key: key.to_vec(),
        seq: id,
        value,
    }
}

/// `form`'s bytes, if they are small enough to keep and read back within the claim limit.
fn keep<T: EndedForm>(form: &T) -> Option<Vec<u8>> {
    codec::encode::<VALUE_BYTES_MAX>(form, T::WHAT)
        .ok()
        .filter(|bytes| codec::decode::<T, DECODE_CLAIM_MAX>(bytes, T::WHAT).is_ok())
}

impl View {
    /// Workspace `id`, open or closed.
    pub fn workspace_summary(&self, id: u64) -> Result<Option<WorkspaceSummary>, KernelError> {
        match self.state.pool.workspace(id) {
            Some(ws) => Ok(Some(WorkspaceSummary::of(ws))),
            None => self.ended_one(id),
        }
    }

    /// Attempt `id`, running or ended.
    pub fn attempt(&self, id: u64) -> Result<Option<Attempt>, KernelError> {
        match self.state.jobs.attempt(id) {
            Some(attempt) => Ok(Some(attempt.clone())),
            None => self.ended_one(id),
        }
    }

    /// Process `id`, live or ended.
    pub fn process(&self, id: u64) -> Result<Option<Process>, KernelError> {
        match self.state.processes.get(id) {
            Some(process) => Ok(Some(process.clone())),
            None => self.ended_one(id),
        }
    }

    /// Up to `limit` workspaces, open and closed, with an id above `after`, in id order.
    pub fn workspace_page(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page<WorkspaceSummary>, KernelError> {
        let pool = &self.state.pool;
        let live: Box<dyn Iterator<Item = &Workspace>> = match after {
            Some(after) => Box::new(pool.workspaces_after(after)),
            None => Box::new(pool.workspaces()),
        };
        let live = live.map(|ws| (ws.id, WorkspaceSummary::of(ws)));
        let ended = self.ended_page::<WorkspaceSummary>(Order::Up(after), limit)?;
        Ok(merge(live, ended, Order::Up(after), limit))
    }

    /// Up to `limit` attempts, running and ended, with an id below `before`, newest first.
    pub fn attempt_page(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Page<Attempt>, KernelError> {
        let live = self
            .state
            .jobs
            .attempts_before(before.unwrap_or(u64::MAX))
            .map(|a| (a.id, a.clone()));
        let ended = self.ended_page::<Attempt>(Order::Down(before), limit)?;
        Ok(merge(live, ended, Order::Down(before), limit))
    }

    /// Up to `limit` processes, live and ended, with an id below `before`, newest first.
    pub fn process_page(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Page<Process>, KernelError> {
        let live = self
            .state
            .processes
            .before(before.unwrap_or(u64::MAX))
            .map(|p| (p.id, p.clone()));
        let ended = self.ended_page::<Process>(Order::Down(before), limit)?;
        Ok(merge(live, ended, Order::Down(before), limit))
    }

    /// The last record this view's state folded: the head, or the record before the
    /// first bad one of a broken store opened read-only.
    fn folded_through(&self) -> u64 {
        match &self.facts.broken_at {
            Some((bad, _)) => bad.saturating_sub(1),
            None => self.head().seq,
        }
    }

    /// Ended thing `id` of kind `T`, if the index (or, without one, the ledger) has it.
    fn ended_one<T: EndedForm>(&self, id: u64) -> Result<Option<T>, KernelError> {
        if id > self.folded_through() {
            return Ok(None);
        }
        if !index::usable(&self.ledger) {
            return Ok(self
                .ended_by_fold::<T>()?
                .into_iter()
                .find(|(ended, _)| *ended == id)
                .map(|(_, form)| form));
        }
        match self
            .ledger
            .index_scan(T::KEY, id.checked_sub(1), 1)?
            .first()
        {
            Some((seq, value)) if *seq == id => read_value::<T>(&self.ledger, id, value).map(Some),
            _ => Ok(None),
        }
    }

    /// Up to `limit` ended things of kind `T` past the cursor in `order`, with one more
    /// when more follow, none that this view holds live.
    fn ended_page<T: EndedForm>(
        &self,
        order: Order,
        limit: usize,
    ) -> Result<Vec<(u64, T)>, KernelError> {
        let wanted = limit.saturating_add(1);
        if !index::usable(&self.ledger) {
            let mut all = self.ended_by_fold::<T>()?;
            all.retain(|(id, _)| order.admits(*id));
            if let Order::Down(_) = order {
                all.reverse();
            }
            all.truncate(wanted);
            return Ok(all);
        }
        let mut found = Vec::new();
        let mut cursor = order;
        loop {
            let entries = match cursor {
                Order::Up(after) => self.ledger.index_scan(T::KEY, after, wanted)?,
                Order::Down(before) => self.ledger.index_scan_back(T::KEY, before, wanted)?,
            };
            let exhausted = entries.len() < wanted;
            for (id, value) in &entries {
                cursor = cursor.past(*id);
                if *id > self.folded_through() {
                    continue;
                }
                // Ended after this view's head: the view's live copy answers for it.
                if !T::is_live(&self.state, *id) {
                    found.push((*id, read_value::<T>(&self.ledger, *id, value)?));
                }
            }
            if exhausted || found.len() >= wanted {
                found.truncate(wanted);
                return Ok(found);
            }
        }
    }

    /// Every ended thing of kind `T` up to this view's state, in id order, by folding the
    /// ledger from genesis: for a store opened read-only before it was indexed.
    fn ended_by_fold<T: EndedForm>(&self) -> Result<Vec<(u64, T)>, KernelError> {
        let mut state = State::default();
        let mut found = Vec::new();
        for record in self.ledger.range(0, self.folded_through()) {
            let folded = state.fold(&record?)?;
            found.extend(folded.ended.iter().filter_map(T::take));
        }
        found.sort_by_key(|(id, _)| *id);
        Ok(found)
    }
}

/// Reads the value of ended thing `id`'s entry.
fn read_value<T: EndedForm>(ledger: &Ledger, id: u64, value: &[u8]) -> Result<T, KernelError> {
    let malformed =
        |why: String| KernelError::Payload(format!("the index entry of {} {id}: {why}", T::WHAT));
    match value.split_first() {
        Some((&HELD, bytes)) => codec::decode::<T, DECODE_CLAIM_MAX>(bytes, T::WHAT)
            .map_err(|e| malformed(e.to_string())),
        Some((&OMITTED, seq)) => {
            let end = <[u8; 8]>::try_from(seq)
                .map(u64::from_be_bytes)
                .map_err(|_| malformed("its ending record's seq is cut short".to_owned()))?;
            refold::<T>(ledger, id, end)
        }
        _ => Err(malformed("it holds nothing the kernel writes".to_owned())),
    }
}

/// Ended thing `id` as the record at `end` left it, by folding to that record: for one too
/// large to keep in the index.
fn refold<T: EndedForm>(ledger: &Ledger, id: u64, end: u64) -> Result<T, KernelError> {
    let mut state = time_travel::state_at(ledger, end.saturating_sub(1))?;
    let record = ledger
        .get(end)?
        .ok_or(jitos_ledger::ReadError::MissingRecord { seq: end })?;
    state
        .fold(&record)?
        .ended
        .iter()
        .filter_map(T::take)
        .find(|(ended, _)| *ended == id)
        .map(|(_, form)| form)
        .ok_or_else(|| {
            KernelError::Payload(format!(
                "the index says record {end} ended {} {id}, and it did not",
                T::WHAT
            ))
        })
}

/// Which way a page runs, from which cursor (exclusive).
#[derive(Debug, Clone, Copy)]
enum Order {
    /// Ids above the cursor, ascending.
    Up(Option<u64>),
    /// Ids below the cursor, descending.
    Down(Option<u64>),
}

impl Order {
    /// Whether `id` lies past the cursor.
    fn admits(self, id: u64) -> bool {
        match self {
            Order::Up(after) => after.is_none_or(|after| id > after),
            Order::Down(before) => before.is_none_or(|before| id < before),
        }
    }

    /// The same order with its cursor at `id`.
    fn past(self, id: u64) -> Order {
        match self {
            Order::Up(_) => Order::Up(Some(id)),
            Order::Down(_) => Order::Down(Some(id)),
        }
    }
}

/// The first `limit` of `live` and `ended` (each already in `order`, disjoint), merged in
/// `order`, and the cursor of the last when more follow.
fn merge<T>(
    live: impl Iterator<Item = (u64, T)>,
    ended: Vec<(u64, T)>,
    order: Order,
    limit: usize,
) -> Page<T> {
    let mut live = live.peekable();
    let mut ended = ended.into_iter().peekable();
    let first = |a: u64, b: u64| match order {
        Order::Up(_) => a < b,
        Order::Down(_) => a > b,
    };
    let mut items = Vec::new();
    let mut last = None;
    loop {
        let take_live = match (live.peek(), ended.peek()) {
            (None, None) => return Page { items, next: None },
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((a, _)), Some((b, _))) => first(*a, *b),
        };
        if items.len() == limit {
            return Page { items, next: last };
        }
        let next = if take_live { live.next() } else { ended.next() };
        if let Some((id, item)) = next {
            last = Some(id);
            items.push(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the bytes an ended workspace is kept in are pinned: a change to
    // `WorkspaceSummary` or `jitos_sws::Status` changes this digest and must come with a
    // new `INDEX_LAYOUT`, so no build misreads another's entries. Method: the BLAKE3 of a
    // fixed summary's entry value, against the value it has for layout 2.
    #[test]
    fn the_ended_workspace_layout_is_pinned() {
        let summary = WorkspaceSummary {
            id: 7,
            parent: Some(3),
            base_seq: 5,
            depth: 2,
            status: Status::Discarded {
                seq: 9,
                reason: "not needed".to_owned(),
            },
            overlay_entries: 4,
            reads: 3,
            writes: 2,
        };
        let bytes = keep(&summary).unwrap_or_default();
        assert_eq!(
            (
                index::INDEX_LAYOUT,
                blake3::hash(&bytes).to_hex().to_string()
            ),
            (
                2,
                "3ff817750fab1ff0fc9ff39c4851445f7c97c8c5544e838e2b17857d4e68024b".to_owned()
            ),
            "the ended workspace's bytes changed: bump INDEX_LAYOUT, then pin the new digest"
        );
    }
}
