//! Files in the graph: the file tree a graph records, the blobs a rewrite names, and
//! which stored blobs no record refers to.

use std::collections::BTreeSet;

use jitos_tree::Tree;
use jitos_warp::{BlobRef, Expect, Graph, Op, Rewrite, Value};

use crate::{payload, KernelError, View};

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

/// Stored blobs no record of a view names, found off the writer; the writer deletes them
/// after checking the records appended since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreferenced {
    /// Each blob with its size.
    pub blobs: Vec<(BlobRef, u64)>,
    /// How many blobs are stored in all.
    pub stored: u64,
    /// The head they were found at.
    pub scanned: u64,
}

impl Unreferenced {
    /// What a collection that deleted `deleted` (some of these) did.
    pub fn outcome(&self, deleted: &[BlobRef]) -> BlobGcOutcome {
        let removed_bytes = self
            .blobs
            .iter()
            .filter(|(blob, _)| deleted.contains(blob))
            .map(|(_, bytes)| bytes)
            .sum();
        BlobGcOutcome {
            kept: self.stored - deleted.len() as u64,
            removed: deleted.len() as u64,
            removed_bytes,
        }
    }

    /// The blobs alone.
    pub fn refs(&self) -> Vec<BlobRef> {
        self.blobs.iter().map(|(blob, _)| *blob).collect()
    }
}

impl View {
    /// Every stored blob no record of this view names. Blobs any record names are kept,
    /// so every past state can still be checked out.
    pub fn unreferenced_blobs(&self) -> Result<Unreferenced, KernelError> {
        let mut referenced = BTreeSet::new();
        for record in self.ledger.range(0, self.head().seq) {
            referenced.extend(payload::blobs_named_by(&record?)?);
        }
        let stored = self.ledger.blob_list()?;
        let total = stored.len() as u64;
        let blobs = stored
            .into_iter()
            .map(|(hash, bytes)| (BlobRef(hash.0), bytes))
            .filter(|(blob, _)| !referenced.contains(blob))
            .collect();
        Ok(Unreferenced {
            blobs,
            stored: total,
            scanned: self.head().seq,
        })
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
