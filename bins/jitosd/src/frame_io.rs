//! Frames over tokio streams, with the same limits as `jitos_proto`'s blocking functions.

use jitos_proto::{check_frame_len, decode_message, encode_message, FrameError};
use serde::{de::DeserializeOwned, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Reads one frame; the length is checked before the payload buffer is allocated.
pub async fn read_frame(stream: &mut (impl AsyncRead + Unpin)) -> Result<Vec<u8>, FrameError> {
    let mut prefix = [0u8; 4];
    let first = stream.read(&mut prefix).await?;
    if first == 0 {
        return Err(FrameError::Closed);
    }
    if first < prefix.len() {
        stream
            .read_exact(&mut prefix[first..])
            .await
            .map_err(eof_is_truncation)?;
    }
    let len = u32::from_le_bytes(prefix);
    check_frame_len(len)?;
    let mut payload = vec![0u8; len as usize];
    stream
        .read_exact(&mut payload)
        .await
        .map_err(eof_is_truncation)?;
    Ok(payload)
}

/// Reads and strictly decodes one message.
pub async fn read_message<T: DeserializeOwned>(
    stream: &mut (impl AsyncRead + Unpin),
) -> Result<T, FrameError> {
    decode_message(&read_frame(stream).await?)
}

/// Encodes and writes one message as a frame.
pub async fn write_message<T: Serialize>(
    stream: &mut (impl AsyncWrite + Unpin),
    message: &T,
) -> Result<(), FrameError> {
    let payload = encode_message(message)?;
    let len = u32::try_from(payload.len()).map_err(|_| FrameError::TooLarge {
        len: payload.len() as u64,
    })?;
    stream.write_all(&len.to_le_bytes()).await?;
    stream.write_all(&payload).await?;
    stream.flush().await?;
    Ok(())
}

fn eof_is_truncation(e: std::io::Error) -> FrameError {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => FrameError::Truncated,
        _ => FrameError::Io(e),
    }
}
