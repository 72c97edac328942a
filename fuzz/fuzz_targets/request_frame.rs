//! Fuzzes the client protocol's decoders in `jitos_proto`: arbitrary bytes as a client's
//! (or the daemon's) stream of frames through `read_frame`, each payload, and the whole
//! input as one payload, decoded as `Hello`, `Request`, `Welcome` and `Response`.
//!
//! Checks: no panic, and whatever decodes re-encodes and decodes back to an equal value.
//! It does not demand byte-identical re-encoding: `jitos_proto::decode_message` accepts
//! non-canonical varints (as bincode does), so one value has several encodings; see
//! README.md.
#![no_main]

use std::fmt::Debug;

use jitos_proto::{
    decode_message, encode_message, read_frame, Hello, Request, Response, Welcome, FRAME_BYTES_MAX,
};
use libfuzzer_sys::fuzz_target;
use serde::{de::DeserializeOwned, Serialize};

fuzz_target!(|data: &[u8]| {
    decode_as_everything(data);
    let mut stream = data;
    // Each frame consumes at least its 4-byte prefix, so this ends.
    while let Ok(payload) = read_frame(&mut stream) {
        assert!(payload.len() <= FRAME_BYTES_MAX as usize);
        decode_as_everything(&payload);
    }
});

fn decode_as_everything(payload: &[u8]) {
    round_trip::<Hello>(payload);
    round_trip::<Request>(payload);
    round_trip::<Welcome>(payload);
    round_trip::<Response>(payload);
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(payload: &[u8]) {
    let Ok(value) = decode_message::<T>(payload) else {
        return;
    };
    let bytes = encode_message(&value).expect("a decoded value encodes");
    let back: T = decode_message(&bytes).expect("an encoded value decodes");
    assert_eq!(back, value);
    assert!(
        bytes.len() <= payload.len(),
        "re-encoding never grows a message: the canonical form is the shortest"
    );
}
