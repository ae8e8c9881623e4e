//! Property: any packet the encoder accepts decodes back to itself, alone or
//! framed on a TCP stream cut at arbitrary points.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use bytes::Bytes;
use callweave_hep::{HepExtras, HepPacket, RawChunk, TcpFramer, chunk, decode};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

fn octets(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn extra_chunk() -> impl Strategy<Value = RawChunk> {
    (any::<u16>(), any::<u16>(), octets(40))
        .prop_filter(
            "must not be a generic chunk the decoder reads",
            |(v, t, _)| *v != 0 || !chunk::is_known(*t),
        )
        .prop_map(|(vendor, type_id, value)| RawChunk {
            vendor,
            type_id,
            value,
        })
}

prop_compose! {
    fn addressing()(
        ip_family in option::of(any::<u8>()),
        ip_proto in option::of(any::<u8>()),
        src_ip in option::of(any::<IpAddr>()),
        dst_ip in option::of(any::<IpAddr>()),
        src_port in any::<u16>(),
        dst_port in any::<u16>(),
        vlan_id in option::of(any::<u16>()),
        src_mac in option::of(any::<u64>()),
        dst_mac in option::of(any::<u64>()),
        eth_type in option::of(any::<u16>()),
        tcp_flags in option::of(any::<u8>()),
        ip_tos in option::of(any::<u8>()),
    ) -> HepPacket {
        let mut p = HepPacket::default();
        p.ip_family = ip_family;
        p.ip_proto = ip_proto;
        p.src_ip = src_ip;
        p.dst_ip = dst_ip;
        p.src_port = src_port;
        p.dst_port = dst_port;
        let x = p.extras_mut();
        x.vlan_id = vlan_id;
        x.src_mac = src_mac;
        x.dst_mac = dst_mac;
        x.eth_type = eth_type;
        x.tcp_flags = tcp_flags;
        x.ip_tos = ip_tos;
        p
    }
}

prop_compose! {
    fn packet()(
        mut p in addressing(),
        ts in (any::<u32>(), any::<u32>()),
        proto_type in option::of(any::<u8>()),
        capture_id in option::of(any::<u32>()),
        keep_alive in option::of(any::<u16>()),
        strings in (
            option::of(octets(32)),
            option::of(octets(64)),
            option::of(octets(32)),
            option::of(octets(16)),
            option::of(octets(16)),
            option::of(octets(16)),
            option::of(octets(16)),
            option::of(octets(16)),
        ),
        qos in (
            option::of(any::<u16>()),
            option::of(any::<u16>()),
            option::of(any::<u32>()),
            option::of(any::<u16>()),
            option::of(any::<u16>()),
        ),
        payload in vec(any::<u8>(), 1..3000),
        compressed in any::<bool>(),
        extra_chunks in vec(extra_chunk(), 0..4),
    ) -> HepPacket {
        (p.ts_sec, p.ts_usec) = ts;
        p.proto_type = proto_type;
        p.capture_id = capture_id;
        let (auth, corr, node, geo, transaction, json_keys, tag_values, group) = strings;
        (p.auth_key, p.correlation_id, p.node_name) = (auth, corr, node);
        let x = p.extras_mut();
        x.keep_alive = keep_alive;
        (x.geo_location, x.transaction_type, x.payload_json_keys, x.tag_values, x.group_id) =
            (geo, transaction, json_keys, tag_values, group);
        (x.mos, x.r_factor, x.jitter, x.tag_type, x.event_type) = qos;
        // Nothing rare set: the decoder reports no extras at all.
        if p.extras.as_deref() == Some(&HepExtras::default()) {
            p.extras = None;
        }
        p.payload = Bytes::from(payload);
        p.compressed = compressed;
        p.extra_chunks = extra_chunks;
        p
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_decode_is_identity(p in packet()) {
        let wire = p.encode_to_bytes().unwrap();
        prop_assert_eq!(usize::from(u16::from_be_bytes([wire[4], wire[5]])), wire.len());
        let decoded = decode(wire).unwrap();
        prop_assert_eq!(decoded, p);
    }

    #[test]
    fn framing_any_split_gives_the_same_packets(
        packets in vec(packet(), 1..5),
        cuts in vec(1usize..700, 1..40),
    ) {
        let wires: Vec<Bytes> = packets.iter().map(|p| p.encode_to_bytes().unwrap()).collect();
        let stream: Vec<u8> = wires.iter().flat_map(|w| w.iter().copied()).collect();
        let mut framer = TcpFramer::new();
        let mut got = Vec::new();
        let mut rest = &stream[..];
        let mut cut = cuts.iter().cycle();
        while !rest.is_empty() {
            let n = (*cut.next().unwrap()).min(rest.len());
            framer.push(&rest[..n]);
            rest = &rest[n..];
            while let Some(frame) = framer.next_packet().unwrap() {
                got.push(frame);
            }
        }
        prop_assert_eq!(&got, &wires);
        prop_assert_eq!(framer.buffered(), 0);
        for (frame, p) in got.into_iter().zip(&packets) {
            prop_assert_eq!(&decode(frame).unwrap(), p);
        }
    }
}
