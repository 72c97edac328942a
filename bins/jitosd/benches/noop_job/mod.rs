//! One `noop` job run directly in a workspace, for the benches that time it.

use jitos_proto::{AttemptState, Client, JobSpec, Request, Response};

/// A fresh workspace over the system's head.
pub fn create_sws(client: &mut Client) -> u64 {
    match client
        .call(&Request::SwsCreate {
            at: None,
            parent: None,
        })
        .unwrap()
    {
        Response::SwsRecorded { sws, .. } => sws,
        other => panic!("{other:?}"),
    }
}

/// Runs one `noop` job in `sws` and waits for it to end `job.done`.
pub fn run_noop(client: &mut Client, sws: u64) {
    let spec = JobSpec {
        worker: "noop".to_owned(),
        sws,
        args: Vec::new(),
        input: Vec::new(),
        deadline_ms: Some(30_000),
        paths: Vec::new(),
        wait: true,
        writ: None,
    };
    match client.call(&Request::JobRun(spec)).unwrap() {
        Response::Job(view) => assert!(matches!(view.state, AttemptState::Done { .. }), "{view:?}"),
        other => panic!("{other:?}"),
    }
}
