//! Extraction throughput on the largest fixture (1.6 MB, 7217 frames, mostly
//! RTP and T.38 that must be decoded and rejected) and on the TCP-heavy one.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use callweave_pcap::CaptureReader;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../testdata/pcap/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(path).unwrap()
}

fn count(data: &[u8]) -> (u64, u64) {
    let mut reader = CaptureReader::new(data).unwrap();
    let items = reader.by_ref().filter(Result::is_ok).count() as u64;
    (items, reader.stats().frames)
}

fn bench(c: &mut Criterion) {
    for (name, frames) in [
        ("heplify_fax_t38_b2bua_reinvite.pcap", 7217),
        ("heplify_sip_ipv4_tcp_fragmented_fs_sbc_port6060.pcap", 1542),
    ] {
        let data = fixture(name);
        assert_eq!(count(&data).1, frames);
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_function("bytes", |b| b.iter(|| count(black_box(&data))));
        group.throughput(Throughput::Elements(frames));
        group.bench_function("frames", |b| b.iter(|| count(black_box(&data))));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
