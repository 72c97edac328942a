//! Property tests: the decoders never panic on arbitrary or corrupted input.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use jitos_proto::read_frame;
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

/// Decodes `bytes` both ways and as a frame; any outcome but a panic is acceptable, and
/// an error must be one of the typed ones.
fn decode_all(bytes: &[u8]) {
    for result in [
        decode_worker_message(bytes).map(drop),
        decode_daemon_message(bytes).map(drop),
    ] {
        if let Err(e) = result {
            assert!(!e.to_string().is_empty());
            let _: &ProtocolError = &e;
        }
    }
    let _ = read_frame(&mut &bytes[..]);
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
