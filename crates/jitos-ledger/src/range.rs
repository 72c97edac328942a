//! The iterator behind `Ledger::range`: records in seq order, each checked as it is read.

use rocksdb::{DBRawIterator, ReadOptions};

use crate::error::ReadError;
use crate::limits::SCAN_READAHEAD_BYTES;
use crate::record::Record;
use crate::store::{key_seq, seq_key, Store, CF_RECORDS};

/// Records `next_seq..=last_seq`; stops after the first error.
pub(crate) struct RecordRange<'a> {
    store: &'a Store,
    state: State<'a>,
    next_seq: u64,
    last_seq: u64,
}

enum State<'a> {
    Scanning(DBRawIterator<'a>),
    Failed(ReadError),
    Done,
}

impl<'a> RecordRange<'a> {
    /// Records `from..=last`; the caller cuts `last` at the head.
    pub(crate) fn new(store: &'a Store, from: u64, last: u64) -> RecordRange<'a> {
        let state = if from > last {
            State::Done
        } else {
            match store.cf(CF_RECORDS) {
                Ok(cf) => {
                    let mut options = ReadOptions::default();
                    options.set_readahead_size(SCAN_READAHEAD_BYTES);
                    if let Some(end) = last.checked_add(1) {
                        options.set_iterate_upper_bound(seq_key(end));
                    }
                    let mut iter = store.db.raw_iterator_cf_opt(cf, options);
                    iter.seek(seq_key(from));
                    State::Scanning(iter)
                }
                Err(error) => State::Failed(error.into()),
            }
        };
        RecordRange {
            store,
            state,
            next_seq: from,
            last_seq: last,
        }
    }

    /// The record under the iterator, which must be `seq`.
    fn read(&self, iter: &DBRawIterator<'a>, seq: u64) -> Result<Record, ReadError> {
        let Some((key, value)) = iter.item() else {
            iter.status().map_err(self.store.err("read records"))?;
            return Err(ReadError::MissingRecord { seq });
        };
        if key_seq(CF_RECORDS, key)? != seq {
            return Err(ReadError::MissingRecord { seq });
        }
        Record::decode_checked(seq, value)
            .map_err(|reason| ReadError::CorruptRecord { seq, reason })
    }
}

impl Iterator for RecordRange<'_> {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Done => None,
            State::Failed(error) => Some(Err(error)),
            State::Scanning(mut iter) => {
                let item = self.read(&iter, self.next_seq);
                if item.is_ok() && self.next_seq < self.last_seq {
                    self.next_seq += 1;
                    iter.next();
                    self.state = State::Scanning(iter);
                }
                Some(item)
            }
        }
    }
}
