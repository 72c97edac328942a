//! Writing a workspace's files into an attempt's scratch, so a worker sees exactly the
//! tree its proposal will be applied to.

use std::path::Path;

use jitos_kernel::KernelHandle;
use jitos_treefs::{write_tree, FetchError};

/// Writes the file tree of workspace `sws`, as of the latest view, into `dir` (created
/// here).
pub fn workspace_files(kernel: &KernelHandle, sws: u64, dir: &Path) -> Result<(), String> {
    std::fs::create_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let view = kernel.view();
    let tree = view.sws_tree(sws).map_err(|e| e.to_string())?;
    write_tree(dir, &tree, |refs| {
        view.get_blobs(refs).map_err(FetchError::from)
    })
    .map_err(|e| e.to_string())
}
