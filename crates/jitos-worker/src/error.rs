//! `ProtocolError`: every way a worker conversation can go wrong, for either end.

use jitos_proto::FrameError;

/// Why a worker-protocol message could not be sent, received or accepted.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// Framing or decoding failed: the peer closed the socket, cut a frame short, sent an
    /// oversized frame, an unknown message tag or trailing bytes.
    #[error("worker socket: {0}")]
    Frame(#[from] FrameError),
    /// A field is beyond its named limit in `jitos_worker::limits`.
    #[error("{what} is {actual}; at most {max} is allowed: the peer must split or shorten it")]
    Limit {
        /// The field, e.g. "log line bytes".
        what: &'static str,
        /// Its size.
        actual: usize,
        /// The limit.
        max: usize,
    },
    /// The hello did not start with the protocol magic: the peer is not a JITOS worker.
    #[error("the worker's hello has magic {found:?}, not \"JITOSWK\\0\": is this binary a JITOS worker?")]
    BadMagic {
        /// The magic received.
        found: [u8; 8],
    },
    /// The worker speaks a protocol version this daemon does not.
    #[error("the worker speaks protocol version {found}; this side speaks {supported}: rebuild the worker against this jitos-worker")]
    UnsupportedVersion {
        /// The version received.
        found: u32,
        /// The version spoken here.
        supported: u32,
    },
    /// The daemon refused the worker's hello.
    #[error("the daemon refused this worker: {reason}")]
    Refused {
        /// The daemon's reason.
        reason: String,
    },
    /// A message arrived out of order (e.g. a second hello, or progress with no job running).
    #[error("protocol order violated: got {got} while {state}")]
    Unexpected {
        /// The message received.
        got: &'static str,
        /// What the receiver was doing.
        state: &'static str,
    },
    /// A message names a job other than the one in flight.
    #[error("message for job {got} while job {expected} is in flight")]
    WrongJob {
        /// The job in flight.
        expected: u64,
        /// The job the message named.
        got: u64,
    },
    /// The daemon tried to send a job while another is in flight on this worker.
    #[error(
        "job {in_flight} is still in flight on this worker: wait for its proposal or failure first"
    )]
    JobInFlight {
        /// The job in flight.
        in_flight: u64,
    },
    /// fd 3 is not an open unix socket: the worker was not started by the daemon.
    #[error(
        "fd 3 is not the daemon's socket ({0}): worker binaries are started by jitosd, not by hand"
    )]
    NoSocket(std::io::Error),
    /// The worker sent ancillary data (file descriptors, `SCM_RIGHTS`) over its socket.
    /// The protocol carries bytes only; the daemon closed every descriptor at once and
    /// ends the conversation, since the bytes that came with them were dropped.
    #[error(
        "the worker passed {count} file descriptor(s){} over its socket; the daemon closed them unread. \
         The worker protocol carries bytes only: the worker must not send ancillary data (SCM_RIGHTS)",
        truncated_note(*.truncated)
    )]
    PassedDescriptors {
        /// Descriptors received and closed (0 if only other ancillary data came).
        count: usize,
        /// More ancillary data came than the daemon had room for (`MSG_CTRUNC`); the
        /// kernel discarded the rest.
        truncated: bool,
    },
}

fn truncated_note(truncated: bool) -> &'static str {
    if truncated {
        " and more that the kernel discarded"
    } else {
        ""
    }
}
