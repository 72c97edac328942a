//! Property tests: the decoders never panic on arbitrary or corrupted input.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use jitos_proto::{read_frame, FrameError};
use jitos_warp::{NodeId, Op, Rewrite};
use jitos_worker::{
    decode_daemon_message, decode_worker_message, encode_daemon_message, encode_worker_message,
    Artifact, DaemonMessage, Job, LogLine, Progress, Proposal, ProtocolError, Usage, WorkerHello,
    WorkerMessage, MAGIC,
};
use proptest::prelude::*;

/// A few valid messages of every kind, to corrupt.
fn samples() -> Vec<Vec<u8>> {
    let rewrite = Rewrite {
        ops: vec![Op::AddNode {
            id: NodeId::new("n:1").unwrap(),
            kind: "k".to_owned(),
            attrs: [("a".to_owned(), "v".into())].into_iter().collect(),
        }],
        expect: Vec::new(),
    };
    let worker = [
        WorkerMessage::Hello(WorkerHello {
            magic: MAGIC,
            protocol_version: 1,
            name: "n".to_owned(),
            version: "1".to_owned(),
        }),
        WorkerMessage::Progress(Progress {
            job_id: 1,
            fraction_permille: 10,
            message: "m".to_owned(),
        }),
        WorkerMessage::Log(LogLine {
            job_id: 300,
            line: "line".to_owned(),
        }),
        WorkerMessage::Heartbeat,
        WorkerMessage::Proposal(Proposal {
            job_id: 1 << 40,
            rewrites: vec![rewrite],
            artifacts: vec![Artifact {
                name: "out".to_owned(),
                bytes: vec![1, 2, 3],
            }],
            exit_status: -1,
            usage: Usage {
                cpu_ms: 5,
                max_rss_kib: 1000,
            },
        }),
    ];
    let daemon = [
        DaemonMessage::Accept,
        DaemonMessage::Job(Job {
            job_id: 2,
            attempt: 1,
            deadline_ms: 1000,
            input: b"{\"a\":1}".to_vec(),
            workspace_dir: Some("/tmp/w".to_owned()),
            args: vec!["x".to_owned()],
        }),
        DaemonMessage::Cancel { job_id: 2 },
    ];
    worker
        .iter()
        .map(|m| encode_worker_message(m).unwrap())
        .chain(daemon.iter().map(|m| encode_daemon_message(m).unwrap()))
        .collect()
}

/// Decodes `bytes` both ways and as a frame; any outcome but a panic is acceptable, an
/// error must be one of the typed ones, and whatever decodes re-encodes to exactly
/// `bytes` (decoding is canonical).
fn decode_all(bytes: &[u8]) {
    match decode_worker_message(bytes) {
        Ok(m) => assert_eq!(encode_worker_message(&m).unwrap(), bytes, "{m:?}"),
        Err(e) => assert_typed(&e),
    }
    match decode_daemon_message(bytes) {
        Ok(m) => assert_eq!(encode_daemon_message(&m).unwrap(), bytes, "{m:?}"),
        Err(e) => assert_typed(&e),
    }
    let _ = read_frame(&mut &bytes[..]);
}

fn assert_typed(e: &ProtocolError) {
    assert!(!e.to_string().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    // Goal: random bytes never panic a decoder. Method: feed them to both decoders and
    // to the frame reader.
    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_all(&bytes);
    }

    // Goal: corrupted valid messages never panic a decoder. Method: take a valid
    // encoding, overwrite some bytes, truncate or extend it, and decode it.
    #[test]
    fn mutated_valid_messages(
        which in 0usize..8,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in any::<prop::sample::Index>(),
        tail in proptest::collection::vec(any::<u8>(), 0..4),
    ) {
        let samples = samples();
        let mut bytes = samples[which % samples.len()].clone();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        bytes.extend(tail);
        decode_all(&bytes);
    }
}

// Goal: every sample decodes back to itself, so the mutation test starts from valid input.
// Method: decode each sample with the matching decoder.
#[test]
fn samples_round_trip() {
    for (i, bytes) in samples().iter().enumerate() {
        let ok = if i < 5 {
            decode_worker_message(bytes).is_ok()
        } else {
            decode_daemon_message(bytes).is_ok()
        };
        assert!(ok, "sample {i}");
    }
}

// Goal: a message has one wire form: encodings that bincode would accept but the SDK never
// produces are refused. Method: a varint longer than needed (found by cargo-fuzz: an
// artifact count of 0 written as `fb 00 00`), and attribute keys out of order, each next to
// the canonical bytes it differs from, which decode.
#[test]
fn non_canonical_encodings_are_refused() {
    assert!(decode_daemon_message(&[0x03, 0x05]).is_ok());
    let err = decode_daemon_message(&[0x03, 0xfb, 0x05, 0x00]).unwrap_err();
    assert!(
        matches!(err, ProtocolError::Frame(FrameError::Malformed(ref m)) if m.contains("canonical")),
        "{err}"
    );
    let canonical = [4, 50, 0, 0, 2, 2, 1];
    assert!(decode_worker_message(&canonical).is_ok());
    assert!(decode_worker_message(&[4, 50, 0, 251, 0, 0, 2, 2, 1]).is_err());

    let proposal = WorkerMessage::Proposal(Proposal {
        job_id: 1,
        rewrites: vec![Rewrite {
            ops: vec![Op::AddNode {
                id: NodeId::new("n:1").unwrap(),
                kind: "k".to_owned(),
                attrs: [("a".to_owned(), "1".into()), ("b".to_owned(), "2".into())]
                    .into_iter()
                    .collect(),
            }],
            expect: Vec::new(),
        }],
        artifacts: Vec::new(),
        exit_status: 0,
        usage: Usage::default(),
    });
    let sorted = encode_worker_message(&proposal).unwrap();
    assert!(decode_worker_message(&sorted).is_ok());
    // Each entry is key (length 1, the letter), then Value::Str (tag 0, length 1, digit).
    let (a, b) = ([1, b'a', 0, 1, b'1'], [1, b'b', 0, 1, b'2']);
    let at = sorted
        .windows(10)
        .position(|w| w[..5] == a && w[5..] == b)
        .expect("the two entries, in key order");
    let mut swapped = sorted.clone();
    swapped[at..at + 5].copy_from_slice(&b);
    swapped[at + 5..at + 10].copy_from_slice(&a);
    assert!(
        matches!(
            decode_worker_message(&swapped),
            Err(ProtocolError::Frame(FrameError::Malformed(ref m))) if m.contains("canonical")
        ),
        "keys out of order are refused"
    );
}
