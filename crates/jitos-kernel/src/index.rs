//! What the kernel indexes, so a history or a log reads O(its own records), not the
//! ledger: each node of the system graph, to the records that changed it (with the node as
//! it stood after each), each process, to its records (its process records, its jobs'
//! dispatches and those attempts' ends), and each closed workspace, ended attempt and ended
//! process, to its final form (`ended.rs`). Entries are computed while a record is folded and
//! written in the record's own synced batch; a store written without them is indexed once
//! when it is opened writable ([`build`]).

use jitos_ledger::{codec, IndexEntry, Ledger};
use jitos_warp::Node;

use crate::{Folded, KernelError, State};

/// Tag of a node's key.
const TAG_NODE: u8 = b'n';
/// Tag of a process's key.
const TAG_PROCESS: u8 = b'p';

/// How a node-after value starts: the node was removed, here it is, or it was too large
/// to keep in the index (then the reader folds to that record).
const NODE_GONE: u8 = 0;
const NODE_HELD: u8 = 1;
const NODE_OMITTED: u8 = 2;

/// The layout of the keys and values below and in `ended.rs`; a change to either (or to
/// the serde shape of `Node` or `WorkspaceSummary`, each pinned by a golden test) bumps it,
/// and a store indexed in another layout is indexed again at open. Layout 1 had no ended
/// forms.
pub(crate) const INDEX_LAYOUT: u32 = 2;

/// The layout a store's index is kept in: `INDEX_LAYOUT` and the snapshot's
/// `STATE_LAYOUT` together, since ended entries hold `Attempt` and `Process` as serde
/// writes them and the snapshot's golden test pins those shapes to `STATE_LAYOUT`; a
/// change there indexes every store again.
pub(crate) const STORED_LAYOUT: u32 = INDEX_LAYOUT << 16 | crate::STATE_LAYOUT;

/// Largest node state kept in an entry: the index grows by this at most per node a record
/// touches, whatever the node's size; a larger node is marked omitted.
const NODE_VALUE_BYTES_MAX: usize = 1024;
/// What decoding a kept node state may claim: bincode counts memory a value claims (a
/// one-byte integer claims eight), not bytes read; a node whose claim is larger is marked
/// omitted when written, so every kept one reads back.
const NODE_DECODE_CLAIM_MAX: usize = 64 * 1024;

/// Entry bytes per synced write while building the index of an older store.
const BUILD_BYTES_PER_WRITE: usize = 16 * 1024 * 1024;

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
fn node_value(node: Option<&Node>) -> Vec<u8> {
    let Some(node) = node else {
        return vec![NODE_GONE];
    };
    let kept = codec::encode::<NODE_VALUE_BYTES_MAX>(node, "an indexed node")
        .ok()
        .filter(|bytes| {
            codec::decode::<Node, NODE_DECODE_CLAIM_MAX>(bytes, "an indexed node").is_ok()
        });
    match kept {
        Some(bytes) => [&[NODE_HELD][..], &bytes].concat(),
        None => vec![NODE_OMITTED],
    }
}

/// Reads a node entry's value.
pub(crate) fn read_node_value(seq: u64, value: &[u8]) -> Result<NodeAfter, KernelError> {
    match value.split_first() {
        Some((&NODE_GONE, [])) => Ok(NodeAfter::Gone),
        Some((&NODE_OMITTED, [])) => Ok(NodeAfter::Omitted),
        Some((&NODE_HELD, bytes)) => {
            codec::decode::<Node, NODE_DECODE_CLAIM_MAX>(bytes, "an indexed node")
                .map(NodeAfter::Held)
                .map_err(|e| KernelError::Payload(format!("the index entry of record {seq}: {e}")))
        }
        _ => Err(KernelError::Payload(format!(
            "the index entry of record {seq} holds no node state the kernel writes"
        ))),
    }
}

/// The entries of the record at `seq`, just folded into `after` as `folded` says.
pub(crate) fn entries(after: &State, seq: u64, folded: &Folded) -> Vec<IndexEntry> {
    let mut entries = Vec::new();
    for one in &folded.applied {
        for node in one.touched() {
            entries.push(IndexEntry {
                key: node_key(node.as_str()),
                seq,
                value: node_value(after.graph.node(node.as_str())),
            });
        }
    }
    if let Some(process) = folded.process {
        entries.push(IndexEntry {
            key: process_key(process),
            seq,
            value: Vec::new(),
        });
    }
    entries.extend(
        folded
            .ended
            .iter()
            .map(|ended| crate::ended::entry(seq, ended)),
    );
    entries
}

/// Whether `ledger`'s index answers in full in this build's layout.
pub(crate) fn usable(ledger: &Ledger) -> bool {
    ledger.indexed() && ledger.index_layout() == STORED_LAYOUT
}

/// Indexes what `ledger` has not indexed in this layout, at a writable open. The index is
/// derived data: when it cannot be built the store still opens, and history and process
/// logs are answered by folding the ledger instead.
pub(crate) fn build(ledger: &mut Ledger) {
    if usable(ledger) {
        return;
    }
    if let Err(error) = build_from_genesis(ledger) {
        tracing::warn!(%error, "cannot index the store; history and process logs are read by folding the ledger until a later start indexes it");
    }
}

/// Folds from genesis (entries need the state each record leaves), writing entries in
/// byte-bounded synced writes and marking the index complete only at the end: a crash
/// before it means indexing again, and writing an entry twice writes the same bytes.
fn build_from_genesis(ledger: &mut Ledger) -> Result<(), KernelError> {
    if ledger.index_layout() != STORED_LAYOUT {
        ledger
            .reset_index(STORED_LAYOUT)
            .map_err(|e| KernelError::OpWrite(e.to_string()))?;
    }
    let head = ledger.head().seq;
    tracing::info!(
        head,
        "indexing the records of a store written without the index"
    );
    let mut state = State::default();
    let mut pending = Vec::new();
    let mut pending_bytes = 0usize;
    let reader = ledger.reader_at(ledger.head());
    for record in reader.range(0, head) {
        let record = record?;
        let folded = crate::recovery::fold_named(&mut state, &record)?;
        for entry in entries(&state, record.seq, &folded) {
            pending_bytes += entry.key.len() + entry.value.len();
            pending.push(entry);
        }
        if pending_bytes >= BUILD_BYTES_PER_WRITE {
            ledger
                .put_index(&std::mem::take(&mut pending), 0)
                .map_err(|e| KernelError::OpWrite(e.to_string()))?;
            pending_bytes = 0;
        }
    }
    ledger
        .put_index(&pending, head)
        .map_err(|e| KernelError::OpWrite(e.to_string()))?;
    tracing::info!(head, "index built");
    Ok(())
}
