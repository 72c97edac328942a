//! Bundles as the kernel sees them: export carries the blobs each record names, and import
//! takes in a record only after folding it, so a bundle that verifies by hash but would not
//! fold is refused at import instead of stopping jitosd at its next start.

use std::collections::BTreeSet;
use std::path::Path;

use jitos_ledger::{BoxError, BundleInfo, Hash, Ledger, OpenOptions, Record};
use jitos_warp::StateDigest;

use crate::{payload, KernelError, State};

/// What an import took in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// What the bundle held.
    pub bundle: BundleInfo,
    /// The state digest the records fold to: what `jitosd` will report after starting.
    pub digest: StateDigest,
}

/// The blobs `record` names, as the ledger's bundle code asks for them.
fn named(record: &Record) -> Result<BTreeSet<Hash>, BoxError> {
    Ok(payload::blobs_named_by(record)?
        .into_iter()
        .map(|blob| Hash(blob.0))
        .collect())
}

/// Writes records `from..=to` of `ledger` to a bundle at `path` with the blobs they name.
pub(crate) fn export(
    ledger: &Ledger,
    path: &Path,
    from: u64,
    to: u64,
) -> Result<BundleInfo, KernelError> {
    Ok(ledger.export_bundle(path, from, to, &mut named)?)
}

/// Creates a store in `dir` (missing or empty) from the bundle at `bundle`, folding every
/// record from genesis as recovery would before taking it in, and checking the bundle
/// carries every blob the records name that its source held. Nothing is left behind when
/// it is refused.
pub fn import_bundle(
    dir: &Path,
    bundle: &Path,
    options: OpenOptions,
) -> Result<(Ledger, Imported), KernelError> {
    let mut state = State::default();
    let mut fold = |record: &Record| -> Result<BTreeSet<Hash>, BoxError> {
        // The ledger's error names the record; the fold's says what is wrong with it.
        state.fold(record)?;
        named(record)
    };
    let (ledger, info) = Ledger::import_bundle(dir, bundle, options, &mut fold)?;
    Ok((
        ledger,
        Imported {
            bundle: info,
            digest: state.graph.digest(),
        },
    ))
}
