//! Writing a workspace's files into an attempt's scratch, so a worker sees exactly the
//! tree its proposal will be applied to.

use std::path::Path;

use jitos_kernel::KernelHandle;
use jitos_treefs::{write_tree, FetchError};

/// Writes the file tree of workspace `sws` into `dir` (created here), fetching contents
/// from the store in batches so the kernel thread is never held for a whole tree.
pub fn workspace_files(kernel: &KernelHandle, sws: u64, dir: &Path) -> Result<(), String> {
    std::fs::create_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let tree = kernel
        .query_blocking(move |k| k.sws_tree(sws))
        .ok_or("jitosd is shutting down")?
        .map_err(|e| e.to_string())?;
    write_tree(dir, &tree, |refs| {
        let refs = refs.to_vec();
        kernel
            .query_blocking(move |k| k.get_blobs(&refs))
            .ok_or_else(|| FetchError::from("jitosd is shutting down"))?
            .map_err(FetchError::from)
    })
    .map_err(|e| e.to_string())
}
