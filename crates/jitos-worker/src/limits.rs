//! Named limits on every variable-sized field of the worker protocol.
//!
//! Both ends check them: the sender before encoding (so a well-behaved peer never sends
//! what the other refuses) and the receiver after decoding. The frame maximum,
//! `jitos_proto::FRAME_BYTES_MAX`, bounds every allocation before decoding starts.

/// Bytes in a worker's name or version string.
pub const WORKER_NAME_BYTES_MAX: usize = 128;
/// Bytes in one log line.
pub const LOG_LINE_BYTES_MAX: usize = 4 * 1024;
/// Bytes in a progress message.
pub const PROGRESS_MESSAGE_BYTES_MAX: usize = 256;
/// The largest `fraction_permille` (1000 means done).
pub const PROGRESS_PERMILLE_MAX: u16 = 1000;
/// Bytes in a refusal or failure reason.
pub const REASON_BYTES_MAX: usize = 4 * 1024;
/// Rewrites in one proposal.
pub const REWRITES_PER_PROPOSAL_MAX: usize = 1024;
/// Artifacts in one proposal.
pub const ARTIFACTS_PER_PROPOSAL_MAX: usize = 64;
/// Bytes in an artifact's name.
pub const ARTIFACT_NAME_BYTES_MAX: usize = 255;
/// Bytes across all artifacts of one proposal; kept well under the frame maximum so the
/// rewrites still fit beside them.
pub const ARTIFACT_BYTES_TOTAL_MAX: usize = 8 * 1024 * 1024;
/// Bytes of job input.
pub const JOB_INPUT_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Arguments in one job.
pub const JOB_ARGS_MAX: usize = 256;
/// Bytes in one job argument, and in the workspace path.
pub const JOB_ARG_BYTES_MAX: usize = 4 * 1024;
/// Bytes in a fetch's URL.
pub const FETCH_URL_BYTES_MAX: usize = 8 * 1024;
/// Headers in a fetch's request or response.
pub const FETCH_HEADERS_MAX: usize = 128;
/// Bytes in one header, name and value together.
pub const FETCH_HEADER_BYTES_MAX: usize = 8 * 1024;
/// Bytes in a fetch's request body or response body. A response past it is not read on:
/// the fetch fails, so no body of any size can fill the daemon's memory or the ledger.
pub const FETCH_BODY_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Bytes in a fetch's idempotency key.
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 128;
