//! Heap held by the correlator per call, measured with dhat's heap accounting
//! (the bytes the correlator's allocations asked for; the allocator's own
//! rounding comes on top), beside the correlator's estimate that the agent
//! exports as `callweave_correlator_memory_bytes`.
//!
//! Two shapes of the same synthetic B2BUA call (see `common`): in progress
//! (both legs answered, 18 records) and finished (hung up, 25 records, lingering
//! until expiry). All calls are held at once: nothing expires during the run.
#![allow(clippy::unwrap_used, missing_docs)]

use callweave_core::{Config, Correlator};

mod common;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const CALLS: u64 = 100_000;

fn measure(label: &str, upto: usize) {
    let records = common::records_upto(CALLS, upto);
    let before = dhat::HeapStats::get().curr_bytes;
    let mut cor = Correlator::new(Config {
        max_active_calls: CALLS as usize * 2,
        ..Config::default()
    });
    for r in &records {
        cor.ingest(r, r.ts_micros);
    }
    let live = dhat::HeapStats::get().curr_bytes - before;
    let n = cor.active_calls();
    assert_eq!(n as u64, CALLS, "every call is held");
    println!(
        "call_memory/{label}: {n} calls, {} bytes per call on the heap ({} bytes estimated)",
        live / n,
        cor.memory_bytes() / n,
    );
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    measure("in_progress", 18);
    measure("finished", 25);
}
