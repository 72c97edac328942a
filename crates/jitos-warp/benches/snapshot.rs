//! Cost of encoding and decoding a snapshot of a large graph (recovery starts with a
//! decode, and must finish well under a second for ~1 M nodes).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{collections::BTreeMap, time::Duration};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jitos_warp::{Graph, NodeId, Op, Rewrite, Value};

const NODES: usize = 1_000_000;
const OPS_PER_REWRITE: usize = 50_000;

/// A million nodes, each with two attributes, and an edge from each to its successor.
fn big_graph() -> Graph {
    let mut graph = Graph::new();
    let id = |i: usize| NodeId::new(format!("node:{i:07}")).unwrap();
    for chunk in (0..NODES).collect::<Vec<_>>().chunks(OPS_PER_REWRITE) {
        let ops = chunk
            .iter()
            .map(|&i| Op::AddNode {
                id: id(i),
                kind: "Task".to_owned(),
                attrs: BTreeMap::from([
                    ("state".to_owned(), Value::from("open")),
                    ("n".to_owned(), Value::Int(i as i64)),
                ]),
            })
            .collect();
        graph
            .apply(&Rewrite {
                ops,
                expect: Vec::new(),
            })
            .unwrap();
    }
    for chunk in (1..NODES).collect::<Vec<_>>().chunks(OPS_PER_REWRITE) {
        let ops = chunk
            .iter()
            .map(|&i| Op::AddEdge {
                from: id(i - 1),
                to: id(i),
                label: "next".to_owned(),
            })
            .collect();
        graph
            .apply(&Rewrite {
                ops,
                expect: Vec::new(),
            })
            .unwrap();
    }
    graph
}

fn bench_snapshot(c: &mut Criterion) {
    let graph = big_graph();
    let bytes = graph.encode_snapshot();
    let mut group = c.benchmark_group("snapshot_1m_nodes");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(NODES as u64));
    group.bench_function("encode", |b| b.iter(|| graph.encode_snapshot()));
    // Dropping a million-node graph is timed on its own: recovery keeps the graph.
    group.bench_function("decode", |b| {
        b.iter_with_large_drop(|| Graph::decode_snapshot(&bytes).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_snapshot);
criterion_main!(benches);
