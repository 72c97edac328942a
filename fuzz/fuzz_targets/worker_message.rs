//! Fuzzes the worker protocol's decoders: arbitrary bytes as one payload for
//! `decode_worker_message` and `decode_daemon_message`, and as a whole worker's stream
//! for a `DaemonEnd`.
//!
//! Besides "no panic", it checks that decoding is canonical: whatever a decoder accepts
//! re-encodes to exactly the bytes it came from, so every message has one wire form and
//! nothing the daemon accepts is something its own SDK could not have sent.
#![no_main]

use std::{
    cell::Cell,
    io::{self, Read, Write},
};

use jitos_worker::{
    decode_daemon_message, decode_worker_message, encode_daemon_message, encode_worker_message,
    DaemonEnd, Job, WorkerMessage,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = decode_worker_message(data) {
        let again = encode_worker_message(&message)
            .expect("a decoded worker message is within its limits, so it encodes");
        assert_eq!(
            again, data,
            "worker message {message:?} has another encoding"
        );
    }
    if let Ok(message) = decode_daemon_message(data) {
        let again = encode_daemon_message(&message)
            .expect("a decoded daemon message is within its limits, so it encodes");
        assert_eq!(
            again, data,
            "daemon message {message:?} has another encoding"
        );
    }
    converse(data);
});

/// The worker's side of the socket: reads come from the fuzz input, writes (the daemon's
/// Accept, jobs and cancels) are dropped. `read` counts the bytes consumed so each
/// message can be compared with the frame it came from.
struct Wire<'a> {
    input: &'a [u8],
    consumed: &'a Cell<usize>,
}

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        self.consumed.set(self.consumed.get() + n);
        Ok(n)
    }
}

impl Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn job(job_id: u64) -> Job {
    Job {
        job_id,
        attempt: 1,
        deadline_ms: 1000,
        input: Vec::new(),
        workspace_dir: None,
        args: Vec::new(),
    }
}

/// Runs `data` as a worker's whole stream through a `DaemonEnd`: after the handshake,
/// jobs 1, 2, … are sent one at a time and the first progress of each is answered with a
/// cancel. Every message read is checked against the frame it came from and against the
/// end's bookkeeping of the job in flight. Each message consumes at least one frame of
/// input, so the loop ends.
fn converse(data: &[u8]) {
    let consumed = Cell::new(0);
    let wire = Wire {
        input: data,
        consumed: &consumed,
    };
    let Ok(mut end) = DaemonEnd::accept(wire) else {
        return;
    };
    let mut job_id = 1;
    let mut cancelled = false;
    end.send_job(job(job_id))
        .expect("no job is in flight after the handshake");
    loop {
        let before = consumed.get();
        let message = match end.next_message() {
            Ok(message) => message,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                return;
            }
        };
        let frame = &data[before..consumed.get()];
        let payload = encode_worker_message(&message).expect("an accepted message encodes");
        assert_eq!(&frame[4..], payload.as_slice(), "{message:?}");
        match message {
            WorkerMessage::Proposal(_) | WorkerMessage::Failure(_) => {
                assert_eq!(end.in_flight(), None);
                job_id += 1;
                cancelled = false;
                end.send_job(job(job_id)).expect("the last job ended");
            }
            WorkerMessage::Progress(_) if !cancelled => {
                end.send_cancel(job_id).expect("the job is in flight");
                cancelled = true;
            }
            WorkerMessage::Hello(_) => panic!("a second hello was accepted"),
            _ => assert_eq!(end.in_flight(), Some(job_id)),
        }
    }
}
