//! Decode cost per packet: the real heplify-server HEP3 sample and a 1 kB
//! INVITE with SDP as sofia would send it; encode and inflate for scale.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use callweave_hep::{HepBuilder, TcpFramer, decode, ip_proto};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata");

fn invite_1k() -> String {
    let sdp = "v=0\r\n\
o=FreeSWITCH 1700000000 1700000001 IN IP4 10.0.0.2\r\n\
s=FreeSWITCH\r\n\
c=IN IP4 10.0.0.2\r\n\
t=0 0\r\n\
m=audio 24816 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";
    let mut msg = format!(
        "INVITE sip:1002@10.0.0.3:5060;transport=udp SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.2:5060;rport;branch=z9hG4bKp5S6g0yBH8NSc\r\n\
Max-Forwards: 69\r\n\
From: \"Alice\" <sip:1001@10.0.0.2>;tag=Q8g2a1FH5yQ4j\r\n\
To: <sip:1002@10.0.0.3:5060>\r\n\
Call-ID: 926ffd16-6154-1237-09ba-0270b3230128\r\n\
CSeq: 104923881 INVITE\r\n\
Contact: <sip:mod_sofia@10.0.0.2:5060>\r\n\
User-Agent: FreeSWITCH-mod_sofia/1.10.11-release~64bit\r\n\
Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY\r\n\
Supported: timer, path, replaces\r\n\
Allow-Events: talk, hold, conference, refer\r\n\
XCall-ID: kovfhoptshgn59q712sr\r\n\
Content-Type: application/sdp\r\n\
Content-Disposition: session\r\n\
Content-Length: {}\r\n\
X-FS-Support: update_display,send_info\r\n\
Remote-Party-ID: \"Alice\" <sip:1001@10.0.0.2>;party=calling;screen=yes;privacy=off\r\n\r\n",
        sdp.len()
    );
    msg.push_str(sdp);
    msg
}

fn benches(c: &mut Criterion) {
    let sample = Bytes::from(
        std::fs::read(format!(
            "{TESTDATA}/hep/heplifyserver_hep3_sip200ok_options.bin"
        ))
        .unwrap(),
    );
    let invite = HepBuilder::sip(invite_1k())
        .src("10.0.0.2:5060".parse().unwrap())
        .dst("10.0.0.3:5060".parse().unwrap())
        .ip_proto(ip_proto::UDP)
        .timestamp(1_700_000_000, 123_456)
        .capture_id(200)
        .build();
    let invite_wire = invite.encode_to_bytes().unwrap();
    assert!(
        (1000..1200).contains(&invite_wire.len()),
        "{}",
        invite_wire.len()
    );
    let mut compressed = invite.clone();
    compressed.compressed = true;
    let compressed_wire = compressed.encode_to_bytes().unwrap();

    let mut g = c.benchmark_group("hep");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_heplify_sample_778B", |b| {
        b.iter(|| decode(black_box(sample.clone())).unwrap())
    });
    g.bench_function(format!("decode_invite_sdp_{}B", invite_wire.len()), |b| {
        b.iter(|| decode(black_box(invite_wire.clone())).unwrap())
    });
    g.bench_function("decode_invite_sdp_zlib", |b| {
        b.iter(|| decode(black_box(compressed_wire.clone())).unwrap())
    });
    let mut out = BytesMut::with_capacity(4096);
    g.bench_function("encode_invite_sdp", |b| {
        b.iter(|| {
            out.clear();
            black_box(&invite).encode(&mut out).unwrap();
        })
    });
    let stream: Vec<u8> = std::iter::repeat_n(&invite_wire[..], 16)
        .flatten()
        .copied()
        .collect();
    g.throughput(Throughput::Elements(16));
    g.bench_function("tcp_frame_and_decode_16_invites", |b| {
        b.iter(|| {
            let mut framer = TcpFramer::new();
            for read in black_box(&stream).chunks(4096) {
                framer.push(read);
                while let Some(frame) = framer.next_packet().unwrap() {
                    black_box(decode(frame).unwrap());
                }
            }
        })
    });
    g.finish();
}

criterion_group!(hep, benches);
criterion_main!(hep);
