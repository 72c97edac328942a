//! Reads of the kernel's state from async code: on the latest published view, on a
//! blocking thread, since a read may walk the whole ledger. No read waits for the writer.

use std::sync::Arc;

use jitos_kernel::{KernelHandle, View};
use jitos_proto::{ErrorCode, Response};

use crate::reply::error;

/// Runs `read` on the latest view off the async threads.
pub(crate) async fn on_view<T: Send + 'static>(
    kernel: &KernelHandle,
    read: impl FnOnce(&View) -> T + Send + 'static,
) -> Result<T, Response> {
    let view: Arc<View> = kernel.view();
    tokio::task::spawn_blocking(move || read(&view))
        .await
        .map_err(|e| error(ErrorCode::Storage, format!("the read stopped: {e}")))
}

/// Runs `work` (which may wait on the kernel's writer) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| error(ErrorCode::Storage, format!("the work stopped: {e}")))
}
