//! Parse cost of real messages: a ~1 kB INVITE with SDP (FreeSWITCH B-leg, from
//! the websocket B2BUA capture), its 200 OK, and an OPTIONS keep-alive.

#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;

use callweave_sip::{Method, SipMessage, parse, sdp, stream};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn pick(msgs: &[Vec<u8>], f: impl Fn(&SipMessage<'_>) -> bool) -> Vec<u8> {
    msgs.iter().find(|m| f(&parse(m).unwrap())).unwrap().clone()
}

fn bench(c: &mut Criterion) {
    let (payloads, _) = support::payloads(&support::testdata(
        "pcap/heplify_sip_tcp_websocket_freeswitch_b2bua.pcap",
    ));
    let msgs: Vec<Vec<u8>> = payloads
        .into_iter()
        .filter(|p| p.proto == "udp" && support::looks_like_sip(&p.data))
        .map(|p| p.data)
        .collect();
    let invite = pick(&msgs, |m| {
        m.method() == Some(Method::Invite) && m.correlation_id.is_some()
    });
    let ok = pick(&msgs, |m| {
        m.status_code() == Some(200) && m.transaction_method() == Some(Method::Invite)
    });
    let options = pick(&msgs, |m| m.method() == Some(Method::Options));

    let mut g = c.benchmark_group("parse");
    for (name, msg) in [("invite", &invite), ("200_ok", &ok), ("options", &options)] {
        g.throughput(Throughput::Bytes(msg.len() as u64));
        g.bench_function(format!("{name}_{}B", msg.len()), |b| {
            b.iter(|| parse(black_box(msg)).unwrap());
        });
    }
    g.throughput(Throughput::Bytes(invite.len() as u64));
    g.bench_function(format!("invite_{}B_with_sdp_summary", invite.len()), |b| {
        b.iter(|| parse(black_box(&invite)).unwrap().sdp().unwrap());
    });
    g.bench_function(format!("invite_{}B_message_len", invite.len()), |b| {
        b.iter(|| stream::message_len(black_box(&invite)).unwrap().unwrap());
    });
    let body = parse(&invite).unwrap().body.to_vec();
    g.bench_function(format!("sdp_summarize_{}B", body.len()), |b| {
        b.iter(|| sdp::summarize(black_box(&body)));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
