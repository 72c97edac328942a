//! Files in the graph: blobs in, blobs out, file trees recorded as one rewrite, and the
//! explicit collection of blobs no record refers to.

use std::collections::BTreeSet;

use jitos_ledger::{Actor, Hash};
use jitos_tree::{sync_rewrite, Entry, Tree};
use jitos_warp::{BlobRef, Expect, Graph, Op, Rewrite, Value};

use crate::{payload, Commit, Kernel, KernelError};

/// What a blob collection did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobGcOutcome {
    /// Blobs some record refers to.
    pub kept: u64,
    /// Blobs deleted.
    pub removed: u64,
    /// Bytes deleted.
    pub removed_bytes: u64,
}

impl Kernel {
    /// Stores blobs with one synced write; their references, in order.
    pub fn put_blobs(&mut self, blobs: &[Vec<u8>]) -> Result<Vec<BlobRef>, KernelError> {
        if self.options().read_only {
            return Err(KernelError::ReadOnly);
        }
        let slices: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
        let hashes = self
            .ledger_mut()
            .put_blobs(&slices)
            .map_err(KernelError::BlobWrite)?;
        Ok(hashes.into_iter().map(|hash| BlobRef(hash.0)).collect())
    }

    /// Reads blobs, each checked against its hash; a missing one is an error.
    pub fn get_blobs(&self, refs: &[BlobRef]) -> Result<Vec<Vec<u8>>, KernelError> {
        refs.iter()
            .map(|blob| {
                self.ledger()
                    .get_blob(&Hash(blob.0))?
                    .ok_or(KernelError::BlobMissing { blob: *blob })
            })
            .collect()
    }

    /// The file tree recorded in the system graph as of `seq`.
    pub fn tree_at(&self, seq: u64) -> Result<Tree, KernelError> {
        tree_of(&self.graph_at(seq)?)
    }

    /// Records `wanted` as the system's file tree: one rewrite from the recorded tree to
    /// it, after checking every blob it names is stored.
    pub fn import_tree(&mut self, actor: Actor, wanted: &Tree) -> Result<Commit, KernelError> {
        self.check_blobs_stored(wanted)?;
        let rewrite = sync_rewrite(&tree_of(self.graph())?, wanted)?;
        let mut results = self.commit(vec![(actor, rewrite)]);
        match results.pop() {
            Some(Ok(commit)) => Ok(commit),
            Some(Err(error)) => Err(KernelError::Commit(Box::new(error))),
            None => Err(KernelError::Payload("commit returned no result".to_owned())),
        }
    }

    /// Checks that every file of `tree` has its blob stored.
    pub(crate) fn check_blobs_stored(&self, tree: &Tree) -> Result<(), KernelError> {
        for entry in tree.entries.values() {
            if let Entry::File { blob, .. } = entry {
                if !self.ledger().has_blob(&Hash(blob.0))? {
                    return Err(KernelError::BlobMissing { blob: *blob });
                }
            }
        }
        Ok(())
    }

    /// Deletes every stored blob that no record of the ledger refers to. Blobs referred to
    /// by any record are kept, so every past state can still be checked out.
    pub fn blob_gc(&mut self) -> Result<BlobGcOutcome, KernelError> {
        if self.options().read_only {
            return Err(KernelError::ReadOnly);
        }
        let mut referenced = BTreeSet::new();
        for record in self.ledger().range(0, self.head().seq) {
            referenced.extend(payload::blobs_named_by(&record?)?);
        }
        let mut outcome = BlobGcOutcome {
            kept: 0,
            removed: 0,
            removed_bytes: 0,
        };
        let mut doomed = Vec::new();
        for (hash, bytes) in self.ledger().blob_list()? {
            if referenced.contains(&BlobRef(hash.0)) {
                outcome.kept += 1;
            } else {
                outcome.removed += 1;
                outcome.removed_bytes += bytes;
                doomed.push(hash);
            }
        }
        if !doomed.is_empty() {
            self.ledger_mut()
                .delete_blobs(&doomed)
                .map_err(KernelError::BlobWrite)?;
        }
        Ok(outcome)
    }
}

/// The file tree recorded in `graph`.
pub(crate) fn tree_of(graph: &Graph) -> Result<Tree, KernelError> {
    Ok(Tree::from_nodes(graph.nodes())?)
}

/// Every blob a rewrite refers to.
pub(crate) fn blobs_of(rewrite: &Rewrite) -> BTreeSet<BlobRef> {
    let mut blobs = BTreeSet::new();
    for value in values_of(rewrite) {
        collect_blobs(value, &mut blobs);
    }
    blobs
}

/// Every value a rewrite carries, in its ops and its expects.
fn values_of(rewrite: &Rewrite) -> impl Iterator<Item = &Value> {
    let from_ops = rewrite
        .ops
        .iter()
        .flat_map(|op| -> Box<dyn Iterator<Item = &Value> + '_> {
            match op {
                Op::AddNode { attrs, .. } => Box::new(attrs.values()),
                Op::SetAttr { value, .. } => Box::new(std::iter::once(value)),
                _ => Box::new(std::iter::empty()),
            }
        });
    let from_expects = rewrite.expect.iter().filter_map(|expect| match expect {
        Expect::AttrEquals { value, .. } => Some(value),
        _ => None,
    });
    from_ops.chain(from_expects)
}

fn collect_blobs(value: &Value, into: &mut BTreeSet<BlobRef>) {
    match value {
        Value::Blob(blob) => {
            into.insert(*blob);
        }
        Value::List(items) => items.iter().for_each(|v| collect_blobs(v, into)),
        Value::Map(entries) => entries.values().for_each(|v| collect_blobs(v, into)),
        Value::Str(_) | Value::Int(_) | Value::Bool(_) | Value::Bytes(_) => {}
    }
}
