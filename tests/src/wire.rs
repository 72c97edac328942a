//! Requests over the daemon's socket, through the shared blocking client.

use std::path::Path;

use jitos_proto::{Client, GraphView, RecordView, Request, Response, StatusInfo};
use jitos_warp::{NodeId, Op, Rewrite};

/// Records asked for per `Log` page when reading a whole ledger; well under the daemon's
/// own page cap, so long ledgers take several pages and paging itself is exercised.
const LOG_PAGE_RECORDS: u32 = 1000;

/// A handshaken connection to the daemon on `socket`.
pub fn connect(socket: &Path) -> Client {
    match Client::connect(socket, "systest") {
        Ok(Some(client)) => client,
        Ok(None) => panic!("nothing listens on {}", socket.display()),
        Err(e) => panic!("cannot connect to {}: {e}", socket.display()),
    }
}

/// Sends `request` and returns the response; a broken connection fails the test.
pub fn call(client: &mut Client, request: &Request) -> Response {
    client
        .call(request)
        .unwrap_or_else(|e| panic!("{request:?} failed on the wire: {e}"))
}

/// The daemon's status.
pub fn status(client: &mut Client) -> StatusInfo {
    match call(client, &Request::Status) {
        Response::Status(info) => info,
        other => panic!("status answered {other:?}"),
    }
}

/// A rewrite from its JSON form.
pub fn rewrite(json: &str) -> Rewrite {
    Rewrite::from_json(json).unwrap_or_else(|e| panic!("test rewrite {json} does not parse: {e}"))
}

/// A rewrite that adds one node with no attributes.
pub fn add_node(id: &str, kind: &str) -> Rewrite {
    Rewrite {
        ops: vec![Op::AddNode {
            id: NodeId::new(id).unwrap_or_else(|e| panic!("bad test node id {id:?}: {e}")),
            kind: kind.to_owned(),
            attrs: Default::default(),
        }],
        expect: Vec::new(),
    }
}

/// Applies `rewrite` and returns its sequence number and record hash; a refusal fails the test.
pub fn apply(client: &mut Client, rewrite: Rewrite) -> (u64, String) {
    match call(client, &Request::ApplyRewrite(rewrite)) {
        Response::Committed { seq, hash, .. } => (seq, hash),
        other => panic!("a rewrite was not committed: {other:?}"),
    }
}

/// The whole graph at `at` (the head when `None`).
pub fn graph(client: &mut Client, at: Option<u64>) -> GraphView {
    match call(
        client,
        &Request::GraphShow {
            at,
            node: None,
            sws: None,
        },
    ) {
        Response::Graph(view) => view,
        other => panic!("graph show at {at:?} answered {other:?}"),
    }
}

/// Every record from genesis to the head, read in `Log` pages.
pub fn all_records(client: &mut Client) -> Vec<RecordView> {
    let mut records: Vec<RecordView> = Vec::new();
    loop {
        // Paging follows the sequence numbers the daemon returned, so a hole or a
        // repeat shows up in the result instead of being papered over here.
        let from = records.last().map_or(0, |last| last.seq + 1);
        let page = match call(
            client,
            &Request::Log {
                from,
                limit: LOG_PAGE_RECORDS,
            },
        ) {
            Response::Records(page) => page,
            other => panic!("log from {from} answered {other:?}"),
        };
        let full = page.len() == LOG_PAGE_RECORDS as usize;
        records.extend(page);
        if !full {
            return records;
        }
    }
}
