//! Link layers and encapsulations that no fixture covers, built byte by byte
//! from their specs: QinQ, SLL2, BSD loopback, GRE/ERSPAN II/III, IPv4
//! fragments (out of order, timed out), pcapng with mixed interfaces, and
//! nanosecond pcap.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;

use callweave_pcap::{CaptureReader, Extractor, Frame, Item, Limits, Link, SkipReason, Transport};
use etherparse::PacketBuilder;

const SIP: &[u8] =
    b"OPTIONS sip:100@10.0.0.2 SIP/2.0\r\nCall-ID: synth-1\r\nContent-Length: 0\r\n\r\n";

fn udp_v4(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(5060, 5070)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// IPv4 header by hand, for fragments and tunnels (checksum left 0: readers
/// do not validate it).
fn ipv4(
    proto: u8,
    src: [u8; 4],
    dst: [u8; 4],
    id: u16,
    frag_offset: u16,
    more: bool,
    payload: &[u8],
) -> Vec<u8> {
    let total = u16::try_from(20 + payload.len()).unwrap();
    let flags_frag = (u16::from(more) << 13) | (frag_offset / 8);
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(&flags_frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(payload);
    h
}

fn ethernet(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    f.extend_from_slice(&ether_type.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn run(frames: &[(Link, i64, Vec<u8>)]) -> (Vec<Item>, Extractor) {
    let mut ex = Extractor::new(Limits::default());
    let mut out = Vec::new();
    for (i, (link, ts, data)) in frames.iter().enumerate() {
        let frame = Frame {
            number: i as u64 + 1,
            ts_micros: *ts,
            link: *link,
            data,
        };
        ex.push_frame(&frame, &mut out);
    }
    ex.finish();
    let s = ex.stats();
    assert_eq!(
        s.frames,
        s.frames_emitted + s.frames_reassembled + s.skipped.total()
    );
    (out, ex)
}

fn only_sip(items: &[Item]) -> &callweave_pcap::SipMessage {
    assert_eq!(items.len(), 1, "{items:?}");
    match &items[0] {
        Item::Sip(m) => m,
        other => panic!("{other:?}"),
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn qinq_reports_the_inner_tag() {
    let mut inner = vec![0x00, 200];
    inner.extend_from_slice(&0x0800u16.to_be_bytes());
    inner.extend_from_slice(&udp_v4(SIP));
    let mut outer = vec![0x00, 100];
    outer.extend_from_slice(&0x8100u16.to_be_bytes());
    outer.extend_from_slice(&inner);
    let (items, _) = run(&[(Link::Ethernet, 0, ethernet(0x88a8, &outer))]);
    let m = only_sip(&items);
    assert_eq!(m.vlan, Some(200));
    assert_eq!(m.src, addr("10.0.0.1:5060"));
    assert_eq!(&m.payload[..], SIP);
}

#[test]
fn linux_sll2_and_loopback_and_raw_ipv6() {
    let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6];
    sll2.extend_from_slice(&[0; 8]);
    sll2.extend_from_slice(&udp_v4(SIP));
    // BSD null: AF_INET in little-endian host order.
    let mut null = vec![2, 0, 0, 0];
    null.extend_from_slice(&udp_v4(SIP));
    let mut v6 = Vec::new();
    PacketBuilder::ipv6(
        [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        64,
    )
    .udp(5060, 5060)
    .write(&mut v6, SIP)
    .unwrap();
    let mut loop_v6 = vec![0, 0, 0, 30]; // LINKTYPE_LOOP, AF_INET6 on macOS
    loop_v6.extend_from_slice(&v6);
    let (items, ex) = run(&[
        (Link::LinuxSll2, 1, sll2),
        (Link::from_linktype(0), 2, null),
        (Link::from_linktype(101), 3, v6),
        (Link::from_linktype(108), 4, loop_v6),
        (Link::from_linktype(105), 5, vec![0; 40]),
    ]);
    assert_eq!(items.len(), 4);
    let Item::Sip(raw6) = &items[2] else { panic!() };
    assert_eq!(raw6.src, addr("[2001:db8::1]:5060"));
    assert_eq!(ex.stats().skipped.get(SkipReason::UnsupportedLink), 1);
}

fn gre(flags: u16, proto: u16, extra: &[u8], inner: &[u8]) -> Vec<u8> {
    let mut g = flags.to_be_bytes().to_vec();
    g.extend_from_slice(&proto.to_be_bytes());
    g.extend_from_slice(extra);
    g.extend_from_slice(inner);
    ipv4(47, [192, 0, 2, 1], [192, 0, 2, 2], 1, 0, false, &g)
}

#[test]
fn gre_ip_and_erspan_two_and_three() {
    let mirrored = ethernet(0x0800, &udp_v4(SIP));
    // GRE with a key carrying IPv4 directly.
    let plain = gre(0x2000, 0x0800, &[0, 0, 0, 7], &udp_v4(SIP));
    // ERSPAN II: GRE sequence bit, 8-byte header with version 1 and VLAN 42.
    let mut erspan2 = vec![0x10, 42, 0, 5, 0, 0, 0, 0];
    erspan2.extend_from_slice(&mirrored);
    let two = gre(0x1000, 0x88be, &[0, 0, 0, 9], &erspan2);
    // ERSPAN III with the O flag: 12 + 8 bytes of header.
    let mut erspan3 = vec![0x20, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0x01];
    erspan3.extend_from_slice(&[0xee; 8]);
    erspan3.extend_from_slice(&mirrored);
    let three = gre(0x1000, 0x22eb, &[0, 0, 0, 10], &erspan3);
    let frames: Vec<_> = [plain, two, three]
        .into_iter()
        .map(|ip| (Link::Ethernet, 0, ethernet(0x0800, &ip)))
        .collect();
    let (items, _) = run(&frames);
    assert_eq!(items.len(), 3);
    let vlans: Vec<_> = items
        .iter()
        .map(|i| match i {
            Item::Sip(m) => {
                assert_eq!(m.src, addr("10.0.0.1:5060"), "inner source");
                m.vlan
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(vlans, [None, Some(42), None]);
}

#[test]
fn ipv4_fragments_out_of_order_and_timeout() {
    let datagram = udp_v4(SIP);
    let udp = &datagram[20..];
    let (head, tail) = udp.split_at(40);
    let last = ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], 77, 40, false, tail);
    let first = ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], 77, 0, true, head);
    let lonely = ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], 78, 0, true, head);
    let (items, ex) = run(&[
        (Link::RawIp, 0, last),
        (Link::RawIp, 10, lonely),
        (Link::RawIp, 20, first),
        // 31 s later: the lonely fragment is past the 30 s timeout.
        (
            Link::RawIp,
            31_000_100,
            ipv4(1, [1, 1, 1, 1], [2, 2, 2, 2], 1, 0, false, &[8, 0, 0, 0]),
        ),
    ]);
    let m = only_sip(&items);
    assert_eq!(m.frame, 3, "the completing fragment");
    assert_eq!(m.ts_micros, 20);
    assert_eq!(&m.payload[..], SIP);
    let s = ex.stats();
    assert_eq!(s.ip_reassembled, 1);
    assert_eq!(s.frames_reassembled, 1);
    assert_eq!(s.skipped.get(SkipReason::FragmentIncomplete), 1);
    assert_eq!(s.skipped.get(SkipReason::UnsupportedTransport), 1, "ICMP");
}

#[test]
fn hep_v1_and_v3_datagrams_pass_through() {
    for file in [
        "hep/heplifyserver_hep1_sip200ok_options.bin",
        "hep/heplifyserver_hep3_sip200ok_options.bin",
    ] {
        let hep = std::fs::read(support::testdata(file)).unwrap();
        let (items, _) = run(&[(Link::RawIp, 0, udp_v4(&hep))]);
        assert_eq!(items.len(), 1);
        let Item::Hep(h) = &items[0] else {
            panic!("{file}")
        };
        assert_eq!(&h.payload[..], &hep[..], "{file}");
        assert_eq!(h.dst, addr("10.0.0.2:5070"));
    }
}

fn le32(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(12 + body.len()).unwrap();
    let mut b = le32(kind).to_vec();
    b.extend_from_slice(&le32(len));
    b.extend_from_slice(body);
    b.extend_from_slice(&le32(len));
    b
}

fn epb(iface: u32, ticks: u64, data: &[u8]) -> Vec<u8> {
    let mut body = le32(iface).to_vec();
    body.extend_from_slice(&le32(u32::try_from(ticks >> 32).unwrap()));
    body.extend_from_slice(&le32(u32::try_from(ticks & 0xffff_ffff).unwrap()));
    let len = u32::try_from(data.len()).unwrap();
    body.extend_from_slice(&le32(len));
    body.extend_from_slice(&le32(len));
    body.extend_from_slice(data);
    body.resize(body.len().next_multiple_of(4), 0);
    ng_block(6, &body)
}

#[test]
fn pcapng_interfaces_with_their_own_link_and_resolution() {
    let mut file = ng_block(
        0x0a0d_0d0a,
        &[
            0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ],
    );
    // Interface 0: Ethernet, default microseconds.
    file.extend(ng_block(1, &[1, 0, 0, 0, 0xff, 0xff, 0, 0]));
    // Interface 1: raw IP, if_tsresol = 9 (nanoseconds), if_tsoffset = 100 s.
    let mut idb = vec![101, 0, 0, 0, 0xff, 0xff, 0, 0];
    idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0]);
    idb.extend_from_slice(&[14, 0, 8, 0]);
    idb.extend_from_slice(&100u64.to_le_bytes());
    idb.extend_from_slice(&[0, 0, 0, 0]);
    file.extend(ng_block(1, &idb));
    file.extend(epb(
        0,
        1_700_000_000_123_456,
        &ethernet(0x0800, &udp_v4(SIP)),
    ));
    file.extend(epb(1, 1_700_000_000_987_654_321, &udp_v4(SIP)));
    file.extend(epb(7, 0, &udp_v4(SIP))); // no such interface
    let mut reader = CaptureReader::new(file.as_slice()).unwrap();
    let items: Vec<_> = reader.by_ref().collect::<Result<_, _>>().unwrap();
    let ts: Vec<_> = items.iter().map(Item::ts_micros).collect();
    assert_eq!(ts, [1_700_000_000_123_456, 1_700_000_100_987_654]);
    assert_eq!(reader.stats().frames, 3);
    assert_eq!(reader.stats().skipped.get(SkipReason::Malformed), 1);
}

#[test]
fn nanosecond_pcap() {
    let mut file = 0xa1b2_3c4du32.to_le_bytes().to_vec();
    file.extend_from_slice(&[
        2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ]);
    let frame = ethernet(0x0800, &udp_v4(SIP));
    file.extend_from_slice(&le32(1_700_000_000));
    file.extend_from_slice(&le32(123_456_789));
    let len = u32::try_from(frame.len()).unwrap();
    file.extend_from_slice(&le32(len));
    file.extend_from_slice(&le32(len));
    file.extend_from_slice(&frame);
    let items: Vec<_> = CaptureReader::new(file.as_slice())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let m = only_sip(&items);
    assert_eq!(m.ts_micros, 1_700_000_000_123_456);
    assert_eq!(m.transport, Transport::Udp);
}
