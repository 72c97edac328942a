//! Frames over tokio streams, with the same limits as `jitos_proto`'s blocking functions.
//!
//! Every response leaves through [`write_response`], which is where an answer too large
//! for a frame becomes an error frame instead of a closed connection.

use jitos_proto::{
    check_frame_len, decode_message, encode_message, ErrorCode, ErrorInfo, FrameError, Response,
    FRAME_BYTES_MAX,
};
use serde::de::DeserializeOwned;
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

/// Payloads above this size are decoded once before they are sent: bincode's decoder
/// allows for the memory a message reserves, not its bytes, so a frame within the limit
/// can still be one the client refuses.
const DECODE_CHECK_BYTES: usize = 1024 * 1024;

/// Encodes and writes one response. A response the client could not take (over the
/// frame limit, or over what its decoder allows) is replaced by a [`ErrorCode::TooLarge`]
/// error ending in `narrow`, which says how to ask for less.
pub async fn write_response(
    stream: &mut (impl AsyncWrite + Unpin),
    response: &Response,
    narrow: &str,
) -> Result<(), FrameError> {
    write_or_refuse(stream, response, narrow).await.map(|_| ())
}

/// [`write_response`] for one item of a stream: a refused item ends the stream, after its
/// error frame, since the client cannot tell what it missed.
pub async fn write_stream_item(
    stream: &mut (impl AsyncWrite + Unpin),
    response: &Response,
    narrow: &str,
) -> Result<(), FrameError> {
    match write_or_refuse(stream, response, narrow).await? {
        Sent::Whole => Ok(()),
        Sent::Refused => Err(FrameError::Malformed(
            "a streamed answer was too large to send; the stream ended with an error frame"
                .to_owned(),
        )),
    }
}

/// What [`write_or_refuse`] wrote.
enum Sent {
    Whole,
    Refused,
}

async fn write_or_refuse(
    stream: &mut (impl AsyncWrite + Unpin),
    response: &Response,
    narrow: &str,
) -> Result<Sent, FrameError> {
    let refused = |why: String| {
        encode_message(&Response::Error(ErrorInfo {
            code: ErrorCode::TooLarge,
            message: format!("the answer is too large to send ({why}); {narrow}"),
        }))
    };
    let (payload, sent) = match encode_message(response) {
        Ok(payload)
            if payload.len() > DECODE_CHECK_BYTES
                && decode_message::<Response>(&payload).is_err() =>
        {
            let why = format!(
                "{} bytes that decode to more than a frame allows",
                payload.len()
            );
            (refused(why)?, Sent::Refused)
        }
        Ok(payload) => (payload, Sent::Whole),
        Err(FrameError::TooLarge { len }) => (
            refused(format!(
                "{len} bytes; a frame holds at most {FRAME_BYTES_MAX}"
            ))?,
            Sent::Refused,
        ),
        Err(e) => return Err(e),
    };
    write_payload(stream, &payload).await?;
    Ok(sent)
}

async fn write_payload(
    stream: &mut (impl AsyncWrite + Unpin),
    payload: &[u8],
) -> Result<(), FrameError> {
    let len = u32::try_from(payload.len()).map_err(|_| FrameError::TooLarge {
        len: payload.len() as u64,
    })?;
    match jitos_proto::small_frame(payload) {
        Some(frame) => stream.write_all(&frame).await?,
        None => {
            stream.write_all(&len.to_le_bytes()).await?;
            stream.write_all(payload).await?;
        }
    }
    stream.flush().await?;
    Ok(())
}

fn eof_is_truncation(e: std::io::Error) -> FrameError {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => FrameError::Truncated,
        _ => FrameError::Io(e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn written(response: &Response) -> Response {
        let mut wire = Vec::new();
        write_response(&mut wire, response, "use --narrow")
            .await
            .unwrap();
        let mut reader = wire.as_slice();
        let answer = read_message(&mut reader).await.unwrap();
        assert!(reader.is_empty(), "one frame per response");
        answer
    }

    // Goal: a response over the frame limit goes out as a TooLarge error naming the flag
    // that narrows it, not as a frame the client refuses. Method: 17 MiB of blobs.
    #[tokio::test]
    async fn oversized_response_becomes_an_error_frame() {
        let big = Response::Blobs(vec![vec![7u8; FRAME_BYTES_MAX as usize + 1024]]);
        match written(&big).await {
            Response::Error(e) => {
                assert_eq!(e.code, ErrorCode::TooLarge);
                assert!(e.message.ends_with("use --narrow"), "{}", e.message);
            }
            other => panic!("{other:?}"),
        }
    }

    // Goal: a response within the frame limit that the client's decoder would refuse
    // (it reserves memory per item, beyond what a frame may claim) is refused here too.
    // Method: three million empty blobs, 3 MB on the wire, far more in memory.
    #[tokio::test]
    async fn response_the_decoder_would_refuse_becomes_an_error_frame() {
        let wide = Response::Blobs(vec![Vec::new(); 3_000_000]);
        assert!(encode_message(&wide).unwrap().len() < FRAME_BYTES_MAX as usize);
        match written(&wide).await {
            Response::Error(e) => assert_eq!(e.code, ErrorCode::TooLarge, "{}", e.message),
            other => panic!("{other:?}"),
        }
    }

    // Goal: an ordinary response goes out as it is. Method: write and read a small one.
    #[tokio::test]
    async fn small_response_passes() {
        let small = Response::Blobs(vec![b"x".to_vec(); 3]);
        assert_eq!(written(&small).await, small);
    }
}
