//! Length-prefixed frames: a little-endian `u32` length, then that many bytes of payload.
//!
//! The length is checked against [`FRAME_BYTES_MAX`] before anything is allocated, so a
//! peer cannot make the reader reserve memory it never sends.

use std::io::{self, Read, Write};

use serde::{de::DeserializeOwned, Serialize};

/// The largest payload a frame may carry. Requests and responses are small; bulk data
/// (bundles, large graphs) travels in several frames.
pub const FRAME_BYTES_MAX: u32 = 16 * 1024 * 1024;

/// Why a frame could not be read, written or decoded.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer closed the stream cleanly between frames.
    #[error("the peer closed the connection")]
    Closed,
    /// The stream ended in the middle of a frame.
    #[error("the connection ended in the middle of a frame")]
    Truncated,
    /// A length prefix beyond [`FRAME_BYTES_MAX`].
    #[error("frame of {len} bytes exceeds the maximum of {FRAME_BYTES_MAX} bytes")]
    TooLarge {
        /// The announced length.
        len: u64,
    },
    /// The payload is not a well-formed message.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The underlying stream failed.
    #[error("i/o error on the connection: {0}")]
    Io(#[from] io::Error),
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ FRAME_BYTES_MAX as usize }>()
}

/// Encodes a message into a frame payload.
pub fn encode_message<T: Serialize>(message: &T) -> Result<Vec<u8>, FrameError> {
    let bytes = bincode::serde::encode_to_vec(message, config())
        .map_err(|e| FrameError::Malformed(e.to_string()))?;
    if bytes.len() > FRAME_BYTES_MAX as usize {
        return Err(FrameError::TooLarge {
            len: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

/// How many bytes `message` encodes to, without keeping them.
pub(crate) fn encoded_len<T: Serialize>(message: &T) -> Result<usize, FrameError> {
    bincode::serde::encode_into_std_write(message, &mut io::sink(), config())
        .map_err(|e| FrameError::Malformed(e.to_string()))
}

/// Decodes a frame payload strictly: trailing bytes are an error.
pub fn decode_message<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    let (message, used) = bincode::serde::decode_from_slice(payload, config())
        .map_err(|e| FrameError::Malformed(e.to_string()))?;
    if used != payload.len() {
        return Err(FrameError::Malformed(format!(
            "{} trailing bytes after the message",
            payload.len() - used
        )));
    }
    Ok(message)
}

/// Writes one frame holding `payload`.
pub fn write_frame(stream: &mut impl Write, payload: &[u8]) -> Result<(), FrameError> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|len| *len <= FRAME_BYTES_MAX)
        .ok_or(FrameError::TooLarge {
            len: payload.len() as u64,
        })?;
    match small_frame(payload) {
        Some(frame) => stream.write_all(&frame)?,
        None => {
            stream.write_all(&len.to_le_bytes())?;
            stream.write_all(payload)?;
        }
    }
    stream.flush()?;
    Ok(())
}

/// The largest payload [`small_frame`] copies behind its length.
const SMALL_FRAME_BYTES_MAX: usize = 64 * 1024;

/// A small payload (up to 64 KiB) behind its length in one buffer, to be written in one
/// call, so that its reader wakes once, to the whole frame; none for a larger one, which
/// is written as length, then payload, rather than copied.
pub fn small_frame(payload: &[u8]) -> Option<Vec<u8>> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|_| payload.len() <= SMALL_FRAME_BYTES_MAX)?;
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(payload);
    Some(frame)
}

/// Reads one frame, refusing oversized lengths before allocating.
pub fn read_frame(stream: &mut impl Read) -> Result<Vec<u8>, FrameError> {
    let mut prefix = [0u8; 4];
    let mut filled = 0;
    while filled < prefix.len() {
        match stream.read(&mut prefix[filled..]) {
            Ok(0) if filled == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = u32::from_le_bytes(prefix);
    check_frame_len(len)?;
    let mut payload = vec![0u8; len as usize];
    stream
        .read_exact(&mut payload)
        .map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => FrameError::Truncated,
            _ => FrameError::Io(e),
        })?;
    Ok(payload)
}

/// Checks an announced frame length before anything is allocated for it; async readers call it too.
pub fn check_frame_len(len: u32) -> Result<(), FrameError> {
    if len > FRAME_BYTES_MAX {
        return Err(FrameError::TooLarge { len: len.into() });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // A frame written and read back yields the same payload.
    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"hello").unwrap();
        assert_eq!(read_frame(&mut buf.as_slice()).unwrap(), b"hello");
    }

    // A small frame is one write of length and payload; one past the bound is two, and
    // both read back the same.
    #[test]
    fn small_frames_are_written_at_once() {
        /// Counts the writes it is given.
        struct Writes(Vec<u8>, usize);
        impl Write for Writes {
            fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
                self.0.extend_from_slice(bytes);
                self.1 += 1;
                Ok(bytes.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        for (len, writes) in [(SMALL_FRAME_BYTES_MAX, 1), (SMALL_FRAME_BYTES_MAX + 1, 2)] {
            let payload = vec![7u8; len];
            let mut out = Writes(Vec::new(), 0);
            write_frame(&mut out, &payload).unwrap();
            assert_eq!(out.1, writes, "a payload of {len} bytes");
            assert_eq!(read_frame(&mut out.0.as_slice()).unwrap(), payload);
        }
    }

    // An oversized length is refused from its prefix alone, before any payload arrives.
    #[test]
    fn oversized_prefix_refused() {
        let prefix = (FRAME_BYTES_MAX + 1).to_le_bytes();
        let err = read_frame(&mut prefix.as_slice()).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
    }

    // A stream cut inside a frame is reported as truncated, not as a clean close.
    #[test]
    fn truncated_frame() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"hello").unwrap();
        buf.truncate(6);
        assert!(matches!(
            read_frame(&mut buf.as_slice()).unwrap_err(),
            FrameError::Truncated
        ));
        assert!(matches!(
            read_frame(&mut [1u8, 0].as_slice()).unwrap_err(),
            FrameError::Truncated
        ));
        assert!(matches!(
            read_frame(&mut [].as_slice()).unwrap_err(),
            FrameError::Closed
        ));
    }

    // Trailing bytes after a well-formed message are an error, not ignored.
    #[test]
    fn trailing_bytes_refused() {
        let mut bytes = encode_message(&7u32).unwrap();
        bytes.push(0);
        assert!(matches!(
            decode_message::<u32>(&bytes).unwrap_err(),
            FrameError::Malformed(_)
        ));
    }
}
