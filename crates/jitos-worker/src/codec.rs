//! Encoding and decoding of whole messages: `jitos_proto::frame` for the bytes, then the
//! limit checks, so no message beyond a limit crosses this boundary in either direction,
//! and on decoding a check that the bytes are the message's one canonical encoding.

use std::io::{Read, Write};

use jitos_proto::{decode_message, encode_message, read_frame, write_frame, FrameError};
use serde::Serialize;

use crate::{channel::AncillaryRefused, DaemonMessage, ProtocolError, WorkerMessage};

/// Checks a worker message's limits, then encodes it as a frame payload.
pub fn encode_worker_message(message: &WorkerMessage) -> Result<Vec<u8>, ProtocolError> {
    message.check_limits()?;
    Ok(encode_message(message)?)
}

/// Decodes a frame payload strictly (unknown tags, trailing bytes and non-canonical
/// encodings are errors), then checks the message's limits.
pub fn decode_worker_message(payload: &[u8]) -> Result<WorkerMessage, ProtocolError> {
    let message: WorkerMessage = decode_message(payload)?;
    message.check_limits()?;
    require_canonical(payload, &message)?;
    Ok(message)
}

/// Checks a daemon message's limits, then encodes it as a frame payload.
pub fn encode_daemon_message(message: &DaemonMessage) -> Result<Vec<u8>, ProtocolError> {
    message.check_limits()?;
    Ok(encode_message(message)?)
}

/// Decodes a frame payload strictly (as [`decode_worker_message`] does), then checks the
/// message's limits.
pub fn decode_daemon_message(payload: &[u8]) -> Result<DaemonMessage, ProtocolError> {
    let message: DaemonMessage = decode_message(payload)?;
    message.check_limits()?;
    require_canonical(payload, &message)?;
    Ok(message)
}

/// Refuses a payload that is not the one encoding of the message it decoded to.
///
/// bincode's decoder accepts a varint longer than needed (`fb 05 00` for 5) and map keys
/// in any order, so without this one message would have many wire forms. With it, each
/// message has exactly one, the one the SDK sends; what the daemon accepts is byte for
/// byte what it could have produced itself, and nothing downstream can be confused by two
/// encodings of the same thing. The cost is one encoding of a message already in memory
/// and within its limits.
fn require_canonical(payload: &[u8], message: &impl Serialize) -> Result<(), ProtocolError> {
    if encode_message(message)? != payload {
        return Err(FrameError::Malformed(
            "not the canonical encoding (a varint longer than needed, or map keys out of \
             order): encode with bincode's standard configuration, as jitos-worker does"
                .to_owned(),
        )
        .into());
    }
    Ok(())
}

pub(crate) fn send_worker(stream: &mut impl Write, m: &WorkerMessage) -> Result<(), ProtocolError> {
    Ok(write_frame(stream, &encode_worker_message(m)?)?)
}

pub(crate) fn recv_worker(stream: &mut impl Read) -> Result<WorkerMessage, ProtocolError> {
    decode_worker_message(&read_frame(stream).map_err(read_error)?)
}

pub(crate) fn send_daemon(stream: &mut impl Write, m: &DaemonMessage) -> Result<(), ProtocolError> {
    Ok(write_frame(stream, &encode_daemon_message(m)?)?)
}

pub(crate) fn recv_daemon(stream: &mut impl Read) -> Result<DaemonMessage, ProtocolError> {
    decode_daemon_message(&read_frame(stream).map_err(read_error)?)
}

/// A `WorkerChannel` refuses ancillary data with an `io::Error` (the only error `Read`
/// can return), which `read_frame` wraps as `FrameError::Io`; unwrap it back into its own
/// variant so the daemon can record the reason without inspecting I/O errors.
fn read_error(e: FrameError) -> ProtocolError {
    if let FrameError::Io(io) = &e {
        if let Some(refused) = io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<AncillaryRefused>())
        {
            return ProtocolError::PassedDescriptors {
                count: refused.count,
                truncated: refused.truncated,
            };
        }
    }
    ProtocolError::Frame(e)
}
