//! The daemon's error replies, and the one way it takes its own mutexes.

use std::sync::{Mutex, MutexGuard};

use jitos_proto::{ErrorCode, ErrorInfo, Response};

/// An error a person can act on.
pub(crate) fn info(code: ErrorCode, message: impl Into<String>) -> ErrorInfo {
    ErrorInfo {
        code,
        message: message.into(),
    }
}

/// The same, as a response.
pub(crate) fn error(code: ErrorCode, message: impl Into<String>) -> Response {
    Response::Error(info(code, message))
}

/// Takes `mutex` even if a thread panicked while holding it: every mutex here guards
/// flags, handles, sets of integers or cached digests, which a panic cannot leave
/// half-changed.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
