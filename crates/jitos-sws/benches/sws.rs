//! Workspace costs: creation (with a first read) against system graph size, which should
//! be flat, and collapse against the number of changes, which should be linear.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{collections::BTreeMap, hint::black_box};

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use jitos_sws::{Over, Pool, View};
use jitos_warp::{Graph, NodeId, Op, Rewrite, Value, OPS_PER_REWRITE_MAX};

fn node_id(i: usize) -> NodeId {
    NodeId::new(format!("node:{i:07}")).unwrap()
}

/// A system graph of `nodes` nodes, built in rewrites within the op limit.
fn system(nodes: usize) -> Graph {
    let mut graph = Graph::new();
    let ids: Vec<usize> = (0..nodes).collect();
    for chunk in ids.chunks(OPS_PER_REWRITE_MAX) {
        let ops = chunk
            .iter()
            .map(|i| Op::AddNode {
                id: node_id(*i),
                kind: "File".to_owned(),
                attrs: BTreeMap::new(),
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

fn create(c: &mut Criterion) {
    let mut group = c.benchmark_group("create");
    for nodes in [1_000, 100_000, 1_000_000] {
        let graph = system(nodes);
        let probe = node_id(nodes / 2);
        group.bench_with_input(BenchmarkId::from_parameter(nodes), &graph, |b, graph| {
            b.iter_batched(
                Pool::new,
                |mut pool| {
                    pool.create(1, Over::System { at_seq: 0 }, 1).unwrap();
                    // A first read through the new workspace, to show it needs no copy.
                    black_box(pool.view(graph, 1).unwrap().node(&probe));
                    pool
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn collapse(c: &mut Criterion) {
    let mut group = c.benchmark_group("collapse_100k_nodes");
    group.sample_size(10);
    let graph = system(100_000);
    for changes in [10usize, 1_000, 100_000] {
        let mut pool = Pool::new();
        pool.create(1, Over::System { at_seq: 0 }, 1).unwrap();
        let ids: Vec<usize> = (0..changes).collect();
        let mut seq = 1;
        for chunk in ids.chunks(10_000) {
            seq += 1;
            let ops = chunk
                .iter()
                .map(|i| Op::SetAttr {
                    node: node_id(*i),
                    key: "state".to_owned(),
                    value: Value::Int(1),
                })
                .collect();
            let rewrite = Rewrite {
                ops,
                expect: Vec::new(),
            };
            pool.apply(&graph, 1, &rewrite, seq).unwrap();
        }
        group.bench_with_input(BenchmarkId::from_parameter(changes), &pool, |b, pool| {
            b.iter_batched(
                || pool.clone(),
                |mut pool| {
                    let collapse = pool.collapse(&graph, 1, seq + 1).unwrap();
                    (pool, collapse)
                },
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, create, collapse);
criterion_main!(benches);
