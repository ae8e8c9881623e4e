//! Throughput of the line parser and the assembler over the real logs in
//! `testdata/` (about 5 000 lines, all shapes).
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

use callweave_fslog::{Assembler, LogClock, parse_line};

const FILES: &[&str] = &[
    "fslog/fs1.10_uuidprefix_idlecpu_trick12138.log",
    "fslog/fs1.6.14_uuidprefix_siptrace_seanherbert.log",
    "fslog/fail2ban_freeswitch_formats.log",
    "freeswitch-live/freeswitch-startup.log",
    "freeswitch-live/01-bridged-callid-random/freeswitch.log",
    "freeswitch-live/03-bleg-busy-486/freeswitch.log",
];

fn corpus() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/");
    FILES
        .iter()
        .map(|f| String::from_utf8_lossy(&std::fs::read(format!("{dir}{f}")).unwrap()).into_owned())
        .collect()
}

fn bench(c: &mut Criterion) {
    let text = corpus();
    let lines: Vec<&str> = text.lines().collect();
    let mut g = c.benchmark_group("fslog");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("parse_line", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for l in &lines {
                n += black_box(parse_line(l)).message.len();
            }
            n
        })
    });
    g.bench_function("parse_line+anchor", |b| {
        b.iter(|| {
            lines
                .iter()
                .filter(|l| black_box(parse_line(l)).anchor().is_some())
                .count()
        })
    });
    g.bench_function("assembler", |b| {
        b.iter(|| {
            let mut asm = Assembler::new(LogClock::utc());
            let mut n = 0usize;
            for l in &lines {
                if let Some(e) = asm.push(l) {
                    n += black_box(e).continuation.len();
                }
            }
            n + asm.flush().map_or(0, |e| e.continuation.len())
        })
    });
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("parse_line_bytes", |b| {
        b.iter(|| {
            lines
                .iter()
                .map(|l| black_box(parse_line(l)).message.len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
