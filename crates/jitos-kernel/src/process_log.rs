//! A process's records, a page at a time: its own process records, the dispatches of its
//! jobs and those attempts' terminal records, oldest first.

use std::collections::BTreeSet;

use jitos_ledger::{Ledger, Record};

use crate::{EffectRecord, JobRecord, KernelError, PolicyRecord, ProcessRecord, WritRecord};

/// One page of a longer list, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items of this page, in order.
    pub items: Vec<T>,
    /// The cursor to pass as `after` for the next page; `None` on the last page.
    pub next: Option<u64>,
}

/// Up to `limit` records of process `id` with a seq after `after`, from a ledger whose
/// head is `head`: from the index when the store has one (O(the page)), else by a scan.
pub(crate) fn process_log(
    ledger: &Ledger,
    head: u64,
    id: u64,
    after: Option<u64>,
    limit: usize,
) -> Result<Page<Record>, KernelError> {
    if !crate::index::usable(ledger) {
        return process_log_by_scan(ledger, head, id, after, limit);
    }
    let mut found = ledger.index_scan(
        &crate::index::process_key(id),
        after,
        limit.saturating_add(1),
    )?;
    let more = found.len() > limit;
    found.truncate(limit);
    let items = found
        .into_iter()
        .map(|(seq, _)| {
            ledger
                .get(seq)?
                .ok_or(jitos_ledger::ReadError::MissingRecord { seq })
        })
        .collect::<Result<Vec<Record>, _>>()?;
    let next = if more {
        items.last().map(|last| last.seq)
    } else {
        None
    };
    Ok(Page { items, next })
}

/// [`process_log`] of a store without the index.
fn process_log_by_scan(
    ledger: &Ledger,
    head: u64,
    id: u64,
    after: Option<u64>,
    limit: usize,
) -> Result<Page<Record>, KernelError> {
    let mut items = Vec::new();
    // Its attempts are named by their dispatch, which comes before any page that could
    // hold their ends, so the scan starts at the process's own first record.
    let mut attempts = BTreeSet::new();
    for record in ledger.range(id, head) {
        let record = record?;
        let mine = if ProcessRecord::is_kind(&record.kind) {
            let op = ProcessRecord::decode(&record.kind, &record.payload)?;
            record.seq == id || op.event.process() == Some(id)
        } else if JobRecord::is_kind(&record.kind) {
            match JobRecord::decode(&record.kind, &record.payload)? {
                JobRecord::Dispatch(d) if d.owner.is_some_and(|o| o.process == id) => {
                    attempts.insert(record.seq);
                    true
                }
                JobRecord::Done { attempt, .. }
                | JobRecord::Failed { attempt, .. }
                | JobRecord::Refused { attempt, .. } => attempts.contains(&attempt),
                _ => false,
            }
        } else if EffectRecord::is_kind(&record.kind) {
            EffectRecord::decode(&record.kind, &record.payload)?.process() == id
        } else if WritRecord::is_kind(&record.kind) {
            matches!(
                WritRecord::decode(&record.kind, &record.payload)?,
                WritRecord::Issue(issue) if issue.for_process == Some(id)
            )
        } else if PolicyRecord::is_kind(&record.kind) {
            match PolicyRecord::decode(&record.kind, &record.payload)? {
                PolicyRecord::Decision(decision) => decision.process == id,
                PolicyRecord::Vote(vote) => vote.process == id,
                PolicyRecord::Load(_) => false,
            }
        } else {
            false
        };
        if !mine || after.is_some_and(|after| record.seq <= after) {
            continue;
        }
        if items.len() == limit {
            let next = items.last().map(|last: &Record| last.seq);
            return Ok(Page { items, next });
        }
        items.push(record);
    }
    Ok(Page { items, next: None })
}
