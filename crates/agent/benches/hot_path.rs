//! The per-message cost of the agent's hot path, and how much of it is metrics.
//!
//! `ingest`: one real HEP packet (a 1 kB INVITE with SDP from a FreeSWITCH
//! capture) through decode, SIP parse and record building, as the UDP listener
//! does it. `metrics`: the counter updates the listener and pipeline make per
//! message. The ratio of the two is the metrics overhead reported in
//! BENCHMARKS.md (target ≤ 1 %).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use callweave_agent::metrics::{Metrics, SipLabel, SourceLabel, TransportLabel};
use callweave_agent::sip_record::SipConverter;
use callweave_hep::{Bytes, HepBuilder};
use criterion::{Criterion, criterion_group, criterion_main};

fn invite() -> Bytes {
    let sip = "INVITE sip:1000@127.0.0.1:5090 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5072;branch=z9hG4bK-4274-1-0\r\n\
From: sipp <sip:sipp@127.0.0.1:5072>;tag=4274SIPpTag001\r\n\
To: <sip:1000@127.0.0.1:5090>\r\n\
Call-ID: 1-4274@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: sip:sipp@127.0.0.1:5072\r\n\
Max-Forwards: 70\r\n\
Subject: Performance Test\r\n\
User-Agent: SIPp/3.6.1\r\n\
X-CID: 0-4274@127.0.0.1\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 137\r\n\r\n\
v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
t=0 0\r\nm=audio 6200 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n";
    HepBuilder::sip(sip.as_bytes().to_vec())
        .src("127.0.0.1:5072".parse().unwrap())
        .dst("127.0.0.1:5090".parse().unwrap())
        .timestamp(1_795_663_470, 536_275)
        .capture_id(200)
        .build()
        .encode_to_bytes()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let packet = invite();
    let converter = SipConverter::new(&callweave_agent::config::default_correlation_headers());
    let peer = "127.0.0.1:9999".parse().unwrap();
    // A fixed amount of work and nothing else, for instruction counts
    // (`valgrind --tool=callgrind`): `CW_BENCH_INGEST_ROUNDS=N` ingests the
    // packet N times, dropping each record, and exits.
    if let Some(n) = std::env::var("CW_BENCH_INGEST_ROUNDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        for _ in 0..n {
            let hep = callweave_hep::decode(black_box(packet.clone())).unwrap();
            drop(black_box(converter.convert(&hep, peer).unwrap()));
        }
        eprintln!("{n} packets ingested");
        return;
    }
    c.bench_function("ingest_invite_decode_parse_record", |b| {
        b.iter(|| {
            let hep = callweave_hep::decode(black_box(packet.clone())).unwrap();
            black_box(converter.convert(&hep, peer).unwrap())
        })
    });
    let metrics = Metrics::new("bench-node");
    let _registry = metrics.registry();
    c.bench_function("metrics_updates_per_message", |b| {
        b.iter(|| {
            metrics
                .hep_packets
                .get_or_create(&TransportLabel { transport: "udp" })
                .inc();
            metrics
                .sip_messages
                .get_or_create(&SipLabel {
                    method: "INVITE",
                    kind: "request",
                })
                .inc();
            metrics
                .records
                .get_or_create(&SourceLabel { source: "sip" })
                .inc();
            metrics
                .indexed
                .get_or_create(&SourceLabel { source: "sip" })
                .inc();
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
