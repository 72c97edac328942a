//! The user-facing JSON form of a rewrite (see `docs/REWRITE_JSON.md`).

use crate::{limits::REWRITE_JSON_BYTES_MAX, Rewrite};

/// Why a text is not a rewrite in JSON form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewriteJsonError {
    /// The text is longer than `REWRITE_JSON_BYTES_MAX`.
    #[error("rewrite JSON is {bytes} bytes; at most {max} are accepted")]
    TooLarge {
        /// Its length.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The text is not valid JSON, or not a rewrite.
    #[error("invalid rewrite JSON at line {line}, column {column}: {message}")]
    Invalid {
        /// Line of the problem, from 1.
        line: usize,
        /// Column of the problem, from 1.
        column: usize,
        /// What is wrong there.
        message: String,
    },
}

impl Rewrite {
    /// Parses a rewrite from its JSON form. This checks the shape and each node id; run
    /// `validate` (or `Graph::apply`) for the limits.
    pub fn from_json(text: &str) -> Result<Rewrite, RewriteJsonError> {
        if text.len() > REWRITE_JSON_BYTES_MAX {
            return Err(RewriteJsonError::TooLarge {
                bytes: text.len(),
                max: REWRITE_JSON_BYTES_MAX,
            });
        }
        serde_json::from_str(text).map_err(|e| {
            let (line, column) = (e.line(), e.column());
            // serde_json appends the position to its message; it is carried apart here.
            let full = e.to_string();
            let message = full
                .strip_suffix(&format!(" at line {line} column {column}"))
                .unwrap_or(&full)
                .to_owned();
            RewriteJsonError::Invalid {
                line,
                column,
                message,
            }
        })
    }

    /// The rewrite as pretty-printed JSON; `from_json` reads it back to an equal rewrite.
    pub fn to_json_pretty(&self) -> String {
        // Serializing cannot fail: every map key is a string and no impl here returns an
        // error, so the error arm is unreachable.
        #[allow(clippy::expect_used)]
        serde_json::to_string_pretty(self).expect("a rewrite always serializes to JSON")
    }
}
