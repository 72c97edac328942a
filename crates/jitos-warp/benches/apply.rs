//! Throughput of `Graph::apply` on trivial ops, with the state digest kept current.
//!
//! Targets: at least 5 M ops/s on one core for `set_attr` of an Int on an existing node,
//! and for `add_node` without attributes.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{collections::BTreeMap, time::Duration};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use jitos_warp::{Graph, NodeId, Op, Rewrite, Value};

const NODES: usize = 10_000;
const OPS: usize = 10_000;

fn id(i: usize) -> NodeId {
    NodeId::new(format!("task:{i:05}")).unwrap()
}

/// The ids of a 10k-node graph in a fixed scrambled order, so neither the hash map nor
/// the touched set sees them sorted.
fn scrambled_ids() -> Vec<NodeId> {
    // 7919 is prime and coprime to NODES: i -> i * 7919 mod NODES is a permutation.
    (0..NODES).map(|i| id(i * 7919 % NODES)).collect()
}

fn add_nodes(ids: &[NodeId]) -> Rewrite {
    Rewrite {
        ops: ids
            .iter()
            .map(|id| Op::AddNode {
                id: id.clone(),
                kind: "Task".to_owned(),
                attrs: BTreeMap::new(),
            })
            .collect(),
        expect: Vec::new(),
    }
}

fn set_ints(ids: &[NodeId], value: i64) -> Rewrite {
    Rewrite {
        ops: ids
            .iter()
            .take(OPS)
            .map(|id| Op::SetAttr {
                node: id.clone(),
                key: "state".to_owned(),
                value: Value::Int(value),
            })
            .collect(),
        expect: Vec::new(),
    }
}

fn bench_apply(c: &mut Criterion) {
    let ids = scrambled_ids();
    let mut group = c.benchmark_group("apply");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(OPS as u64));

    // Each iteration sets every node's value to a different one than the last, so no op
    // is a no-op.
    let mut graph = Graph::new();
    graph.apply(&add_nodes(&ids)).unwrap();
    let rewrites = [set_ints(&ids, 1), set_ints(&ids, 2)];
    let mut turn = 0usize;
    group.bench_function("set_attr_int_10k_over_10k_nodes", |b| {
        b.iter(|| {
            turn += 1;
            graph.apply(&rewrites[turn % 2]).unwrap()
        })
    });

    let adds = add_nodes(&ids[..OPS]);
    group.bench_function("add_node_10k_into_empty", |b| {
        b.iter_batched(
            Graph::new,
            |mut graph| {
                let applied = graph.apply(&adds).unwrap();
                (graph, applied)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_apply);
criterion_main!(benches);
