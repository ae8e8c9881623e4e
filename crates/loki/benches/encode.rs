//! Push encoding throughput: records → entries → batch → protobuf → snappy.
//!
//! The lines are real: SIP messages from the FreeSWITCH B2BUA capture's SIPp log
//! and ESL events from its JSON event dump, mixed the way a node produces them.
//! Throughput is per core (criterion runs single-threaded); the fraction of a core
//! needed for 50k lines/s is 50_000 / (lines/s).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use callweave_core::record::{CallId, ChannelRecord, Record, RecordKind, SipRecord, Transport};
use callweave_loki::{Batcher, Pushed, encode_push_body, entry_for};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/freeswitch-live/01-bridged-callid-random"
);

fn sip_messages() -> Vec<String> {
    let text = std::fs::read_to_string(format!("{DIR}/sipp_uac_messages.log")).unwrap();
    text.split("-----------------------------------------------")
        .filter_map(|chunk| {
            let body = chunk.split_once("\n\n")?.1.trim_start();
            (!body.is_empty()).then(|| body.replace("\r\n", "\n").replace('\n', "\r\n"))
        })
        .collect()
}

fn esl_events() -> Vec<Vec<(String, String)>> {
    let raw = std::fs::read(format!("{DIR}/esl_json.raw")).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let mut out = Vec::new();
    let mut rest = text.as_ref();
    while let Some(i) = rest.find("{\"Event-Name\"") {
        rest = &rest[i..];
        let mut de = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
        let Some(Ok(serde_json::Value::Object(m))) = de.next() else {
            break;
        };
        let used = de.byte_offset();
        out.push(
            m.into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
                .collect(),
        );
        rest = &rest[used..];
    }
    out
}

fn records() -> Vec<(Record, Option<Arc<str>>)> {
    let sips = sip_messages();
    let events = esl_events();
    assert!(sips.len() > 20 && events.len() > 100);
    let mut out = Vec::new();
    let mut ts = 1_795_663_470_000_000i64;
    for (i, raw) in sips.iter().enumerate() {
        let mut s = SipRecord::new(
            "127.0.0.1:5072".parse().unwrap(),
            "127.0.0.1:5090".parse().unwrap(),
            Transport::Udp,
            CallId::from(format!("{}-4274@127.0.0.1", i % 5 + 1)),
        );
        s.method = raw.split(' ').next().map(Into::into);
        s.raw = Arc::from(raw.as_str());
        ts += 137;
        out.push((
            Record::new(ts, "fs-1", RecordKind::Sip(s)),
            Some(Arc::from(format!("call-{}", i % 5))),
        ));
    }
    for h in &events {
        let get = |n: &str| h.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let c = ChannelRecord {
            event_name: get("Event-Name").unwrap_or_default(),
            unique_id: get("Unique-ID").map(Into::into),
            other_leg_unique_id: get("Other-Leg-Unique-ID").map(Into::into),
            sip_call_id: get("variable_sip_call_id").map(Into::into),
            headers: h.clone().into(),
            ..Default::default()
        };
        ts += 211;
        out.push((Record::new(ts, "fs-1", RecordKind::Channel(c)), None));
    }
    out
}

fn encode_all(recs: &[(Record, Option<Arc<str>>)]) -> usize {
    let mut batcher = Batcher::new(1 << 20);
    let now = Instant::now();
    let mut bytes = 0usize;
    for (r, k) in recs {
        let (key, e) = entry_for(r, k.as_deref());
        if let Pushed::Flushed(batch) = batcher.push(key, e, now) {
            bytes += encode_push_body(&batch.request).unwrap().0.len();
        }
    }
    if let Some(batch) = batcher.take() {
        bytes += encode_push_body(&batch.request).unwrap().0.len();
    }
    bytes
}

fn bench(c: &mut Criterion) {
    let recs = records();
    let (sip, esl): (Vec<_>, Vec<_>) = recs
        .iter()
        .cloned()
        .partition(|(r, _)| matches!(r.kind, RecordKind::Sip(_)));
    // A fixed amount of work and nothing else, for instruction counts
    // (`valgrind --tool=callgrind`), which do not vary with the machine:
    // `CW_BENCH_ENCODE_ROUNDS=N` encodes a set N times and exits
    // (`CW_BENCH_ENCODE_SET`: `mixed`, the default, `sip` or `esl`).
    if let Some(n) = std::env::var("CW_BENCH_ENCODE_ROUNDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let set = match std::env::var("CW_BENCH_ENCODE_SET").as_deref() {
            Ok("sip") => &sip,
            Ok("esl") => &esl,
            _ => &recs,
        };
        let bytes: usize = (0..n).map(|_| encode_all(set)).sum();
        eprintln!("{n} rounds of {} records: {bytes} bytes", set.len());
        return;
    }
    let mut g = c.benchmark_group("push_encode");
    for (name, set) in [("mixed", &recs), ("sip", &sip), ("esl", &esl)] {
        let avg_line: usize = set
            .iter()
            .map(|(r, k)| entry_for(r, k.as_deref()).1.line.len())
            .sum::<usize>()
            / set.len();
        eprintln!(
            "{name}: {} records, average line {avg_line} bytes",
            set.len()
        );
        g.throughput(Throughput::Elements(set.len() as u64));
        g.bench_function(format!("{name}_records_to_snappy_protobuf"), |b| {
            b.iter(|| encode_all(set))
        });
    }
    // Where the time goes, on the mixed set.
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.bench_function("mixed_entry_for_only", |b| {
        b.iter(|| {
            recs.iter()
                .map(|(r, k)| entry_for(r, k.as_deref()).1.line.len())
                .sum::<usize>()
        })
    });
    let mut batcher = Batcher::new(8 << 20);
    for (r, k) in &recs {
        let (key, e) = entry_for(r, k.as_deref());
        let _ = batcher.push(key, e, Instant::now());
    }
    let request = batcher.take().unwrap().request;
    g.bench_function("mixed_protobuf_and_snappy_only", |b| {
        b.iter(|| encode_push_body(&request).unwrap().0.len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
