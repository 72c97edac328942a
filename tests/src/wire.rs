//! Requests over the daemon's socket, through the shared blocking client.

use std::path::Path;

use jitos_proto::{Client, GraphView, PageRequest, RecordView, Request, Response, StatusInfo};
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
    match client.graph_show(at, None, None) {
        Ok(Ok(view)) => view,
        Ok(Err(refused)) => panic!("graph show at {at:?} was refused: {refused:?}"),
        Err(e) => panic!("graph show at {at:?} failed on the wire: {e}"),
    }
}

/// The whole graph as workspace `sws` sees it (the system's head when `None`).
pub fn sws_graph(client: &mut Client, sws: Option<u64>) -> GraphView {
    match client.graph_show(None, None, sws) {
        Ok(Ok(view)) => view,
        Ok(Err(refused)) => panic!("graph show of workspace {sws:?} was refused: {refused:?}"),
        Err(e) => panic!("graph show of workspace {sws:?} failed on the wire: {e}"),
    }
}

/// Every record of process `process`, read a page at a time; `Err` with the response
/// (as text) when the daemon refuses.
pub fn process_records(client: &mut Client, process: u64) -> Result<Vec<RecordView>, String> {
    let mut records = Vec::new();
    let mut page = PageRequest::first();
    loop {
        let request = Request::ProcessLog {
            process,
            page: page.clone(),
        };
        match call(client, &request) {
            Response::ProcessLog(got) => {
                records.extend(got.items);
                match got.next {
                    Some(next) => page.after = Some(next),
                    None => return Ok(records),
                }
            }
            other => return Err(format!("{other:?}")),
        }
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
