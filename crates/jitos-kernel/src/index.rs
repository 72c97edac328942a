//! What the kernel indexes, so a history or a log reads O(its own records), not the
//! ledger: each node of the system graph, to the records that changed it (with the node as
//! it stood after each), and each process, to its records (its process records, its jobs'
//! dispatches and those attempts' ends). Entries are computed while a record is folded and
//! written in the record's own synced batch; a store written without them is indexed once
//! when it is opened writable ([`build`]).

use jitos_ledger::{codec, IndexEntry, Ledger, Record, INDEX_VALUE_BYTES_MAX};
use jitos_warp::{Applied, Node};

use crate::{JobRecord, KernelError, ProcessRecord, State};

/// Tag of a node's key.
const TAG_NODE: u8 = b'n';
/// Tag of a process's key.
const TAG_PROCESS: u8 = b'p';

/// How a node-after value starts: the node was removed, here it is, or it was too large
/// to keep in the index (then the reader folds to that record).
const NODE_GONE: u8 = 0;
const NODE_HELD: u8 = 1;
const NODE_OMITTED: u8 = 2;

/// Records indexed per synced write while building the index of an older store.
const BUILD_ENTRIES_PER_WRITE: usize = 64 * 1024;

/// The key of `node`'s entries.
pub(crate) fn node_key(node: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + node.len());
    key.push(TAG_NODE);
    key.extend_from_slice(node.as_bytes());
    key
}

/// The key of process `id`'s entries.
pub(crate) fn process_key(id: u64) -> Vec<u8> {
    let mut key = vec![TAG_PROCESS];
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// What a node entry's value says of the node after its record.
#[derive(Debug)]
pub(crate) enum NodeAfter {
    /// The record removed it.
    Gone,
    /// Its state after the record.
    Held(Node),
    /// Too large for the index: fold to the record to see it.
    Omitted,
}

/// The value of a node entry.
fn node_value(node: Option<&Node>) -> Result<Vec<u8>, KernelError> {
    let Some(node) = node else {
        return Ok(vec![NODE_GONE]);
    };
    let mut value = vec![NODE_HELD];
    match codec::encode::<INDEX_VALUE_BYTES_MAX>(node, "an indexed node") {
        Ok(bytes) if bytes.len() < INDEX_VALUE_BYTES_MAX => value.extend_from_slice(&bytes),
        _ => value = vec![NODE_OMITTED],
    }
    Ok(value)
}

/// Reads a node entry's value.
pub(crate) fn read_node_value(seq: u64, value: &[u8]) -> Result<NodeAfter, KernelError> {
    match value.split_first() {
        Some((&NODE_GONE, [])) => Ok(NodeAfter::Gone),
        Some((&NODE_OMITTED, [])) => Ok(NodeAfter::Omitted),
        Some((&NODE_HELD, bytes)) => {
            codec::decode::<Node, INDEX_VALUE_BYTES_MAX>(bytes, "an indexed node")
                .map(NodeAfter::Held)
                .map_err(|e| KernelError::Payload(format!("the index entry of record {seq}: {e}")))
        }
        _ => Err(KernelError::Payload(format!(
            "the index entry of record {seq} holds no node state the kernel writes"
        ))),
    }
}

/// The entries of `record`, just folded into `after` with `applied` its graph changes.
pub(crate) fn entries(
    after: &State,
    record: &Record,
    applied: &[Applied],
) -> Result<Vec<IndexEntry>, KernelError> {
    let seq = record.seq;
    let mut entries = Vec::new();
    for one in applied {
        for node in one.touched() {
            entries.push(IndexEntry {
                key: node_key(node.as_str()),
                seq,
                value: node_value(after.graph.node(node.as_str()))?,
            });
        }
    }
    if let Some(process) = process_of(after, record)? {
        entries.push(IndexEntry {
            key: process_key(process),
            seq,
            value: Vec::new(),
        });
    }
    Ok(entries)
}

/// The process `record` belongs to, if any.
fn process_of(after: &State, record: &Record) -> Result<Option<u64>, KernelError> {
    if ProcessRecord::is_kind(&record.kind) {
        let op = ProcessRecord::decode(&record.kind, &record.payload)?;
        return Ok(Some(op.event.process().unwrap_or(record.seq)));
    }
    if !JobRecord::is_kind(&record.kind) {
        return Ok(None);
    }
    let attempt = match JobRecord::decode(&record.kind, &record.payload)? {
        JobRecord::Dispatch(dispatch) => return Ok(dispatch.owner.map(|o| o.process)),
        JobRecord::Done { attempt, .. }
        | JobRecord::Failed { attempt, .. }
        | JobRecord::Refused { attempt, .. } => attempt,
        JobRecord::Install(_) => return Ok(None),
    };
    Ok(after
        .jobs
        .attempt(attempt)
        .and_then(|a| a.dispatch.owner.as_ref())
        .map(|owner| owner.process))
}

/// Indexes the records of `ledger` it has not indexed yet, folding from genesis (the
/// values need the state each record leaves). Run at a writable open of a store written
/// without the index; takes as long as a replay, once.
pub(crate) fn build(ledger: &mut Ledger) -> Result<(), KernelError> {
    if ledger.indexed() {
        return Ok(());
    }
    let head = ledger.head().seq;
    tracing::info!(
        head,
        "indexing the records of a store written without the index"
    );
    let mut state = State::default();
    let mut pending = Vec::new();
    let reader = ledger.reader_at(ledger.head());
    for record in reader.range(0, head) {
        let record = record?;
        let applied = state.fold(&record)?;
        pending.extend(entries(&state, &record, &applied)?);
        if pending.len() >= BUILD_ENTRIES_PER_WRITE {
            // Marked complete only at the end: a crash before it means indexing again,
            // and writing an entry twice writes the same bytes.
            ledger
                .put_index(&std::mem::take(&mut pending), 0)
                .map_err(|e| KernelError::OpWrite(e.to_string()))?;
        }
    }
    ledger
        .put_index(&pending, head)
        .map_err(|e| KernelError::OpWrite(e.to_string()))?;
    tracing::info!(head, "index built");
    Ok(())
}
