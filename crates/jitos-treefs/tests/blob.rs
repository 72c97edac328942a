//! `blob_ref` names content exactly as the ledger's blob store does: plain BLAKE3.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use jitos_treefs::blob_ref;

// Goal: blob names agree with the ledger's, whose store keys blobs by plain BLAKE3 so
// `b3sum` can check them. Method: the official BLAKE3 test vectors for "" and "abc",
// which pin the function without linking the ledger (and RocksDB) into this crate.
#[test]
fn blob_ref_is_plain_blake3() {
    for (bytes, hex) in [
        (
            &b""[..],
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
        ),
        (
            &b"abc"[..],
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85",
        ),
    ] {
        assert_eq!(blob_ref(bytes).to_string(), hex);
    }
}
