//! Correlator throughput: synthetic B2BUA calls shaped like the real set 01 (SIP
//! both legs, the ESL events that carry links, a few log lines), ingested with
//! periodic expiry, so the graph stays at a steady number of active calls.
//! Memory per call is measured by the `call_memory` bench.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use callweave_core::{Config, Correlator};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod common;

fn bench(c: &mut Criterion) {
    let records = common::records(20_000);
    let mut g = c.benchmark_group("correlate");
    g.throughput(Throughput::Elements(records.len() as u64));
    g.sample_size(10);
    g.bench_function("b2bua_20k_calls_500k_records", |bench| {
        bench.iter(|| {
            let mut cor = Correlator::new(Config {
                linger_after_end: Duration::from_secs(5),
                ..Config::default()
            });
            let mut finished = 0usize;
            for (i, r) in records.iter().enumerate() {
                let now = r.ts_micros;
                black_box(cor.ingest(r, now));
                if i % 4096 == 0 {
                    finished += cor.expire(now).len();
                }
            }
            black_box(finished)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
