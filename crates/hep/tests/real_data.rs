//! Decoding the real HEP captures in testdata/hep (origins in testdata/SOURCES.md).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use callweave_hep::{HepBuilder, HepPacket, HepVersion, chunk, decode, ip_proto, proto_type};
use common::{chunk_order, read, spec_example, udp_datagrams};

fn v4(a: u8, b: u8, c: u8, d: u8) -> Option<IpAddr> {
    Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
}

/// The payload is a view into the datagram, not a copy.
fn assert_shares_buffer(packet: &HepPacket, wire: &Bytes) {
    let range = wire.as_ptr_range();
    assert!(
        range.contains(&packet.payload.as_ptr()),
        "payload was copied"
    );
}

/// Decode, encode as HEPv3, decode again: every field survives.
fn assert_reencodes(packet: &HepPacket) {
    let again = decode(packet.encode_to_bytes().unwrap()).unwrap();
    let mut expected = packet.clone();
    expected.version = HepVersion::V3;
    assert_eq!(again, expected);
}

#[test]
fn hep1_heplify_server_sample() {
    let raw = read("hep/heplifyserver_hep1_sip200ok_options.bin");
    assert_eq!(raw.len(), 535);
    let wire = Bytes::from(raw.clone());
    let p = decode(wire.clone()).unwrap();

    assert_eq!(p.version, HepVersion::V1);
    assert_eq!(p.ip_family, Some(2));
    assert_eq!(p.ip_proto, Some(ip_proto::UDP));
    assert_eq!(p.src_ip, v4(10, 0, 1, 100));
    assert_eq!(p.dst_ip, v4(192, 168, 0, 254));
    assert_eq!((p.src_port, p.dst_port), (5060, 5060));
    assert_eq!(p.src_addr().unwrap().to_string(), "10.0.1.100:5060");
    // v1 has no time header and no capture id.
    assert_eq!((p.ts_sec, p.ts_usec, p.capture_id), (0, 0, None));
    assert_eq!(p.proto_type, None);
    assert!(p.is_sip());
    // Payload starts right after 8 + 8 bytes, whatever hdr_len (0x10) says.
    assert_eq!(&p.payload[..], &raw[16..]);
    assert_eq!(p.payload.len(), 519);
    assert!(
        p.payload
            .starts_with(b"SIP/2.0 200 OK\r\nFrom: <sip:mod_sofia@44.122.111.112:5060>")
    );
    assert!(p.payload.ends_with(b"Content-Length: 0\r\n\r\n"));
    assert_shares_buffer(&p, &wire);
    assert_reencodes(&p);
}

#[test]
fn hep3_heplify_server_sample() {
    let raw = read("hep/heplifyserver_hep3_sip200ok_options.bin");
    assert_eq!(raw.len(), 778);
    let wire = Bytes::from(raw);
    let p = decode(wire.clone()).unwrap();

    assert_eq!(p.version, HepVersion::V3);
    assert_eq!(p.ip_family, Some(2));
    assert_eq!(p.ip_proto, Some(ip_proto::UDP));
    assert_eq!(p.src_ip, v4(192, 168, 247, 250));
    assert_eq!(p.dst_ip, v4(192, 168, 245, 250));
    assert_eq!((p.src_port, p.dst_port), (5060, 5060));
    assert_eq!((p.ts_sec, p.ts_usec), (1_520_606_104, 119_540));
    assert_eq!(p.timestamp_micros(), 1_520_606_104_119_540);
    assert_eq!(p.proto_type, Some(proto_type::SIP));
    assert_eq!(p.capture_id, Some(0));
    // Chunk 0x0e with length 6: present, empty.
    assert_eq!(p.auth_key, Some(Bytes::new()));
    assert_eq!(p.node_name, None);
    assert_eq!(p.correlation_id, None);
    assert!(!p.compressed);
    assert!(p.extra_chunks.is_empty());
    assert_eq!(p.payload.len(), 673);
    assert!(p.payload.starts_with(
        b"SIP/2.0 200 OK\r\nCall-ID: BC099884@6dfcffe8\r\nCSeq: 215834489 OPTIONS\r\n"
    ));
    assert!(p.payload.ends_with(b"m=audio 0 RTP/AVP 8"));
    assert_shares_buffer(&p, &wire);
    assert_reencodes(&p);
}

#[test]
fn hep3_spec_example_113_bytes() {
    let raw = spec_example();
    assert_eq!(raw.len(), 113);
    let p = decode(Bytes::from(raw)).unwrap();
    assert_eq!(p.ip_family, Some(2));
    assert_eq!(p.ip_proto, Some(ip_proto::UDP));
    assert_eq!(p.src_ip, v4(212, 202, 0, 1));
    assert_eq!(p.dst_ip, v4(82, 116, 0, 211));
    assert_eq!((p.src_port, p.dst_port), (12010, 5060));
    assert_eq!((p.ts_sec, p.ts_usec), (1_313_440_459, 120_000));
    assert_eq!(p.proto_type, Some(1));
    assert_eq!(p.capture_id, Some(228));
    assert_eq!(&p.payload[..], b"INVITE sip:bob");
    assert_reencodes(&p);
}

#[test]
fn hep3_zlib_compressed_payloads_inflate_to_sip() {
    let datagrams = udp_datagrams("hep/hepwireshark_hep3_compressed_zlib.pcapng");
    assert_eq!(datagrams.len(), 21);
    // Each packet was captured three times (broadcast + two docker-bridge copies).
    let unique: Vec<_> = datagrams.chunks(3).map(|c| &c[0]).collect();
    for triple in datagrams.chunks(3) {
        assert!(triple.iter().all(|d| d.payload == triple[0].payload));
    }
    // Inflated sizes and start lines, checked independently with Python's zlib.
    let expected = [
        (1112, "REGISTER sip:rcs.st SIP/2.0"),
        (1339, "REGISTER sip:rcs.st SIP/2.0"),
        (592, "SIP/2.0 401 Unauthorized"),
        (488, "SIP/2.0 401 Unauthorized"),
        (1253, "REGISTER sip:rcs.st SIP/2.0"),
        (1480, "REGISTER sip:rcs.st SIP/2.0"),
        (1190, "SIP/2.0 200 OK"),
    ];
    assert_eq!(unique.len(), expected.len());
    for (d, (len, start_line)) in unique.iter().zip(expected) {
        assert_eq!(d.dport, 9060);
        // sofia's order: IP chunks after 0x0c, payload compressed in 0x10.
        assert_eq!(
            chunk_order(&d.payload),
            [1, 2, 7, 8, 9, 10, 11, 12, 3, 4, 14, 16]
        );
        let p = decode(Bytes::from(d.payload.clone())).unwrap();
        assert!(p.compressed);
        assert_eq!(p.payload.len(), len);
        assert!(
            p.payload
                .starts_with(format!("{start_line}\r\n").as_bytes())
        );
        let text = std::str::from_utf8(&p.payload).unwrap();
        assert!(text.contains("\r\nCall-ID: 8fc0ff7e-9f0feb00-6245ba21@192.168.137.1\r\n"));
        assert_eq!(p.ip_proto, Some(ip_proto::TCP));
        assert_eq!(p.proto_type, Some(proto_type::SIP));
        assert_eq!(p.capture_id, Some(228));
        assert_eq!(p.auth_key.as_deref(), Some(&b"myHep"[..]));
        assert_eq!(p.correlation_id, None);
        assert_reencodes(&p);
    }
    let first = decode(Bytes::from(unique[0].payload.clone())).unwrap();
    assert_eq!(first.src_addr().unwrap().to_string(), "192.168.137.1:54345");
    assert_eq!(
        first.dst_addr().unwrap().to_string(),
        "192.168.137.247:5060"
    );
    assert_eq!((first.ts_sec, first.ts_usec), (1_502_941_090, 307_169));
}

#[test]
fn hep3_hepgen_sip_log_rtcp_with_correlation_id() {
    let datagrams = udp_datagrams("hep/hepwireshark_hep3_hepgen_sip_log_rtcp.pcap");
    assert_eq!(datagrams.len(), 8);
    let packets: Vec<HepPacket> = datagrams
        .iter()
        .map(|d| {
            assert_eq!(
                (d.src, d.dst, d.dport),
                (v4(127, 0, 0, 1).unwrap(), v4(127, 0, 0, 1).unwrap(), 9060)
            );
            // HEPGEN's order: IP chunks right after 0x02, unlike sofia's.
            assert_eq!(
                chunk_order(&d.payload),
                [1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 14, 17, 15]
            );
            decode(Bytes::from(d.payload.clone())).unwrap()
        })
        .collect();

    let types: Vec<_> = packets.iter().map(|p| p.proto_type.unwrap()).collect();
    assert_eq!(
        types,
        [1, 1, 1, 1, proto_type::LOG, 1, 1, proto_type::RTCP_JSON]
    );
    for p in &packets {
        assert_eq!(
            p.correlation_id.as_deref(),
            Some(&b"qgf3dm9rudi@127.0.0.1"[..])
        );
        assert_eq!(p.auth_key.as_deref(), Some(&b"myHep"[..]));
        assert_eq!(p.capture_id, Some(2001));
        assert_eq!(p.ip_proto, Some(ip_proto::UDP));
        assert_reencodes(p);
    }
    let starts = [
        &b"INVITE sip:nodejs@127.0.0.1 SIP/2.0\n"[..],
        b"SIP/2.0 100 Trying\n",
        b"SIP/2.0 407 Proxy Authentication Required\n",
        b"OPTIONS sip:127.0.0.1 SIP/2.0\n",
        b"SYSLOG: Processing OPTIONS request from nodejs using Call-Id: qgf3dm9rudi@127.0.",
        b"SIP/2.0 200 Alive\n",
        b"PUBLISH sip:nodejs@127.0.0.1:5999;transport=udp SIP/2.0\n",
        b"{\"sender_information\":{\"ntp_timestamp_sec\":3650797214,\"packets\":106,",
    ];
    for (p, start) in packets.iter().zip(starts) {
        assert!(p.payload.starts_with(start), "{:?}", p.payload);
    }
    assert_eq!(packets[0].payload.len(), 638);
    assert_eq!(
        packets[0].src_addr().unwrap().to_string(),
        "192.168.1.1:5060"
    );
    assert_eq!(
        packets[1].src_addr().unwrap().to_string(),
        "192.168.1.2:5060"
    );
    assert_eq!(
        (packets[0].ts_sec, packets[0].ts_usec),
        (1_481_455_196, 100)
    );
    // Log and RTCP packets have port 0.
    for i in [4, 7] {
        assert_eq!((packets[i].src_port, packets[i].dst_port), (0, 0));
        assert!(!packets[i].is_sip());
    }
}

#[test]
fn ipv6_from_real_sip_capture_roundtrips() {
    let datagrams = udp_datagrams("pcap/heplify_sip_ipv6_udp.pcap");
    assert_eq!(datagrams.len(), 6);
    let caller: Ipv6Addr = "fe80::21a:a0ff:fe07:32e0".parse().unwrap();
    let callee: Ipv6Addr = "fec0::216:d3ff:fe0d:22c".parse().unwrap();
    for (i, d) in datagrams.iter().enumerate() {
        let wire = HepBuilder::sip(d.payload.clone())
            .src((d.src, d.sport).into())
            .dst((d.dst, d.dport).into())
            .timestamp(1_000 + i as u32, 5)
            .capture_id(200)
            .node_name("v6-node")
            .build()
            .encode_to_bytes()
            .unwrap();
        let order = chunk_order(&wire);
        assert!(order.contains(&chunk::SRC_IPV6) && order.contains(&chunk::DST_IPV6));
        let p = decode(wire).unwrap();
        assert_eq!(p.ip_family, Some(10));
        assert!([IpAddr::V6(caller), IpAddr::V6(callee)].contains(&p.src_ip.unwrap()));
        assert_eq!(p.src_ip, Some(d.src));
        assert_eq!(p.dst_ip, Some(d.dst));
        assert_eq!(
            p.dst_addr().unwrap().to_string(),
            format!("[{}]:5060", d.dst)
        );
        assert_eq!(&p.payload[..], &d.payload[..]);
        assert!(
            std::str::from_utf8(&p.payload)
                .unwrap()
                .contains("c3eF6f58-363323Cd-8058EB88-10300252@")
        );
    }
}

#[test]
fn hep1_and_hep2_ipv6_legacy_headers() {
    let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let dst: Ipv6Addr = "2001:db8::2".parse().unwrap();
    let mut v1 = vec![1, 0x28, 10, 17, 0x13, 0xc4, 0x13, 0xc5];
    v1.extend_from_slice(&src.octets());
    v1.extend_from_slice(&dst.octets());
    v1.extend_from_slice(b"BYE sip:x SIP/2.0\r\n\r\n");
    let p = decode(Bytes::from(v1.clone())).unwrap();
    assert_eq!(p.version, HepVersion::V1);
    assert_eq!(p.src_addr().unwrap().to_string(), "[2001:db8::1]:5060");
    assert_eq!(p.dst_addr().unwrap().to_string(), "[2001:db8::2]:5061");
    assert_eq!(&p.payload[..], b"BYE sip:x SIP/2.0\r\n\r\n");

    // v2 as Kamailio/sofia write it: time header in host (little-endian)
    // order, 12 bytes with 2 of padding.
    let mut v2 = v1[..40].to_vec();
    v2[0] = 2;
    v2.extend_from_slice(&1_700_000_000u32.to_le_bytes());
    v2.extend_from_slice(&654_321u32.to_le_bytes());
    v2.extend_from_slice(&200u16.to_le_bytes());
    v2.extend_from_slice(&[0xee, 0xee]);
    v2.extend_from_slice(b"BYE sip:x SIP/2.0\r\n\r\n");
    let p = decode(Bytes::from(v2)).unwrap();
    assert_eq!(p.version, HepVersion::V2);
    assert_eq!(
        (p.ts_sec, p.ts_usec, p.capture_id),
        (1_700_000_000, 654_321, Some(200))
    );
    assert_eq!(&p.payload[..], b"BYE sip:x SIP/2.0\r\n\r\n");
    assert_reencodes(&p);
}

#[test]
fn hep2_from_real_hep1_sample() {
    // The v1 sample with a v2 time header spliced in, as sofia sends with hep=2.
    let raw = read("hep/heplifyserver_hep1_sip200ok_options.bin");
    let mut v2 = raw[..16].to_vec();
    v2[0] = 2;
    v2[1] = 16 + 12; // sofia counts the time header in hdr_len
    v2.extend_from_slice(&[
        0x98, 0x9b, 0xa2, 0x5a, 0xf4, 0xd2, 0x01, 0x00, 0xc8, 0x00, 0, 0,
    ]);
    v2.extend_from_slice(&raw[16..]);
    let p = decode(Bytes::from(v2)).unwrap();
    assert_eq!(
        (p.ts_sec, p.ts_usec, p.capture_id),
        (1_520_606_104, 119_540, Some(200))
    );
    assert!(p.payload.starts_with(b"SIP/2.0 200 OK\r\n"));
    assert_eq!(&p.payload[..], &raw[16..]);
}

#[test]
fn builder_sets_everything_the_replay_tool_needs() {
    let p = HepBuilder::sip("INVITE sip:bob@b SIP/2.0\r\n\r\n")
        .src("192.0.2.1:5062".parse().unwrap())
        .dst("192.0.2.2:5060".parse().unwrap())
        .ip_proto(ip_proto::TLS)
        .timestamp_micros(1_700_000_000_999_999)
        .capture_id(7)
        .auth_key("s3cret")
        .node_name("fs-1")
        .correlation_id("a-leg@192.0.2.1")
        .compressed(true)
        .build();
    let wire = p.encode_to_bytes().unwrap();
    assert_eq!(
        usize::from(u16::from_be_bytes([wire[4], wire[5]])),
        wire.len()
    );
    let order = chunk_order(&wire);
    assert_eq!(order[..10], [1, 2, 7, 8, 9, 10, 11, 12, 3, 4]);
    assert_eq!(order.last(), Some(&chunk::COMPRESSED_PAYLOAD));
    let d = decode(wire).unwrap();
    assert_eq!(d, p);
    assert_eq!((d.ts_sec, d.ts_usec), (1_700_000_000, 999_999));
    assert_eq!(d.ip_proto, Some(22));
    assert_eq!(d.correlation_id.as_deref(), Some(&b"a-leg@192.0.2.1"[..]));
}
