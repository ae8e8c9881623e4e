//! Event decode throughput on the real recorded events of set 01
//! (232 events, ~4.9 KB each), plain and JSON, plus framing of the whole dump.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use bytes::Bytes;
use callweave_esl::{Event, Framer};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const LIVE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/freeswitch-live/01-bridged-callid-random"
);

fn bodies(format: &str) -> (Vec<u8>, Vec<Bytes>) {
    let raw = std::fs::read(format!("{LIVE}/esl_{format}.raw")).unwrap();
    let mut framer = Framer::default();
    framer.push(&raw);
    let mut out = Vec::new();
    while let Some(frame) = framer.next_frame().unwrap() {
        if frame.content_type.as_str().starts_with("text/event-") {
            out.push(frame.body.unwrap());
        }
    }
    (raw, out)
}

fn bench(c: &mut Criterion) {
    let (plain_raw, plain) = bodies("plain");
    let (json_raw, json) = bodies("json");

    let mut g = c.benchmark_group("esl_event_decode");
    g.throughput(Throughput::Elements(plain.len() as u64));
    g.bench_function("plain", |b| {
        b.iter(|| {
            for body in &plain {
                black_box(Event::from_plain(black_box(body)).unwrap());
            }
        })
    });
    g.throughput(Throughput::Elements(json.len() as u64));
    g.bench_function("json", |b| {
        b.iter(|| {
            for body in &json {
                black_box(Event::from_json(black_box(body)).unwrap());
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("esl_framing");
    for (name, raw) in [("plain", &plain_raw), ("json", &json_raw)] {
        g.throughput(Throughput::Bytes(raw.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut framer = Framer::default();
                // 16 KiB reads, as from a socket.
                for chunk in raw.chunks(16 * 1024) {
                    framer.push(chunk);
                    while let Some(frame) = framer.next_frame().unwrap() {
                        black_box(frame);
                    }
                }
            })
        });
    }
    g.finish();

    // What the correlator does per event after decoding.
    let events: Vec<Event> = json.iter().map(|b| Event::from_json(b).unwrap()).collect();
    let mut g = c.benchmark_group("esl_event_accessors");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("correlation_fields", |b| {
        b.iter(|| {
            for e in &events {
                black_box((
                    e.name(),
                    e.unique_id(),
                    e.other_leg_unique_id(),
                    e.channel_call_uuid(),
                    e.bridge_a_unique_id(),
                    e.bridge_b_unique_id(),
                    e.sip_call_id(),
                    e.call_direction(),
                    e.hangup_cause(),
                    e.timestamp_micros(),
                ));
            }
        })
    });
    g.bench_function("to_json", |b| {
        b.iter(|| {
            for e in &events {
                black_box(e.to_json());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
