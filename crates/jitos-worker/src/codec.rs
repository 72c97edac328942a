//! Encoding and decoding of whole messages: `jitos_proto::frame` for the bytes, then the
//! limit checks, so no message beyond a limit crosses this boundary in either direction.

use std::io::{Read, Write};

use jitos_proto::{decode_message, encode_message, read_frame, write_frame};

use crate::{DaemonMessage, ProtocolError, WorkerMessage};

/// Checks a worker message's limits, then encodes it as a frame payload.
pub fn encode_worker_message(message: &WorkerMessage) -> Result<Vec<u8>, ProtocolError> {
    message.check_limits()?;
    Ok(encode_message(message)?)
}

/// Decodes a frame payload strictly (unknown tags and trailing bytes are errors), then
/// checks the message's limits.
pub fn decode_worker_message(payload: &[u8]) -> Result<WorkerMessage, ProtocolError> {
    let message: WorkerMessage = decode_message(payload)?;
    message.check_limits()?;
    Ok(message)
}

/// Checks a daemon message's limits, then encodes it as a frame payload.
pub fn encode_daemon_message(message: &DaemonMessage) -> Result<Vec<u8>, ProtocolError> {
    message.check_limits()?;
    Ok(encode_message(message)?)
}

/// Decodes a frame payload strictly, then checks the message's limits.
pub fn decode_daemon_message(payload: &[u8]) -> Result<DaemonMessage, ProtocolError> {
    let message: DaemonMessage = decode_message(payload)?;
    message.check_limits()?;
    Ok(message)
}

pub(crate) fn send_worker(stream: &mut impl Write, m: &WorkerMessage) -> Result<(), ProtocolError> {
    Ok(write_frame(stream, &encode_worker_message(m)?)?)
}

pub(crate) fn recv_worker(stream: &mut impl Read) -> Result<WorkerMessage, ProtocolError> {
    decode_worker_message(&read_frame(stream)?)
}

pub(crate) fn send_daemon(stream: &mut impl Write, m: &DaemonMessage) -> Result<(), ProtocolError> {
    Ok(write_frame(stream, &encode_daemon_message(m)?)?)
}

pub(crate) fn recv_daemon(stream: &mut impl Read) -> Result<DaemonMessage, ProtocolError> {
    decode_daemon_message(&read_frame(stream)?)
}
