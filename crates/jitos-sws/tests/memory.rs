//! Memory per empty workspace and per changed node, measured with a counting global
//! allocator, held to bounds that keep creation O(1) in graph size.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::alloc::System;

use common::*;
use jitos_sws::{Over, Pool};
use jitos_warp::Graph;
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Heap bytes allocated and not yet freed.
fn live() -> isize {
    let stats = ALLOCATOR.stats();
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize + stats.bytes_reallocated
}

#[test]
fn workspaces_cost_little_and_grow_with_their_changes() {
    // Goal: an empty workspace costs a small constant and each changed node a bounded
    // amount, whatever the graph's size. Method: count live heap bytes around creating
    // 1,000 workspaces, then around 1,000 single-attribute changes in one of them.
    let mut system = Graph::new();
    let ops = (0..10_000)
        .map(|i| add(&format!("node:{i:05}"), "File"))
        .collect();
    system.apply(&rw(ops)).unwrap();
    let mut pool = Pool::new();
    let start = live();
    for ws in 1..=1_000u64 {
        pool.create(ws, Over::System { at_seq: 0 }, ws).unwrap();
    }
    let per_workspace = (live() - start) / 1_000;
    let start = live();
    for i in 0..1_000u64 {
        let node = format!("node:{i:05}");
        pool.apply(&system, 1, &rw(vec![set(&node, "state", 1)]), 1_001 + i)
            .unwrap();
    }
    let per_change = (live() - start) / 1_000;
    println!("heap bytes per empty workspace: {per_workspace}; per changed node: {per_change}");
    assert!(
        per_workspace < 1_024,
        "empty workspace: {per_workspace} bytes"
    );
    assert!(per_change < 2_048, "changed node: {per_change} bytes");
}
