//! What the real captures decode to, beyond the counts: addresses, tunnels,
//! reassembly, transports, HEP passthrough, timestamps and bad files.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;

use callweave_pcap::{CaptureReader, ErrorKind, Format, Item, SkipReason, Transport};
use support::{call_id, extract, sip, testdata};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn start_line(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(payload);
    text.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn ipv6_udp_addresses_and_timestamps() {
    let (items, _) = extract("pcap/heplify_sip_ipv6_udp.pcap");
    let msgs = sip(&items);
    assert_eq!(msgs.len(), 6);
    let first = msgs[0];
    assert_eq!(first.src, addr("[fe80::21a:a0ff:fe07:32e0]:5060"));
    assert_eq!(first.dst, addr("[fec0::216:d3ff:fe0d:22c]:5060"));
    assert_eq!(first.transport, Transport::Udp);
    assert!(start_line(&first.payload).starts_with("INVITE "));
    // tshark frame.time_epoch 1328589362.251758000
    assert_eq!(first.ts_micros, 1_328_589_362_251_758);
    assert_eq!(msgs[1].src, addr("[fec0::216:d3ff:fe0d:22c]:5060"));
}

#[test]
fn ipv6_fragments_are_reassembled() {
    let (items, stats) = extract("pcap/sngrep_ipv6frag_proxy_prack_update.pcap");
    let msgs = sip(&items);
    assert_eq!(msgs.len(), 32);
    // Frames 2 and 5 are INVITEs sent as two IPv6 fragments each (tshark:
    // ipv6.fragment.count 2, udp.length 1699 and 1879).
    let invite = msgs.iter().find(|m| m.frame == 2).unwrap();
    assert_eq!(invite.payload.len(), 1699 - 8);
    assert!(start_line(&invite.payload).starts_with("INVITE "));
    assert_eq!(
        invite.src,
        addr("[fd17:625c:f037:2:a00:27ff:feb9:1521]:15060")
    );
    assert_eq!(
        invite.dst,
        addr("[fd17:625c:f037:2:a00:27ff:feb9:3519]:5062")
    );
    let forwarded = msgs.iter().find(|m| m.frame == 5).unwrap();
    assert_eq!(forwarded.payload.len(), 1879 - 8);
    assert_eq!(
        forwarded.dst,
        addr("[fd17:625c:f037:2:a00:27ff:feb9:4222]:25060")
    );
    // The whole SDP made it: the body ends the message exactly.
    assert_eq!(
        callweave_sip::stream::message_len(&invite.payload).unwrap(),
        Some(invite.payload.len())
    );
    assert_eq!(stats.ip_reassembled, 2);
    assert_eq!(stats.frames_reassembled, 2, "the two first fragments");
    assert_eq!(stats.skipped.get(SkipReason::FragmentIncomplete), 0);
    let ids: Vec<_> = msgs.iter().filter_map(|m| call_id(&m.payload)).collect();
    assert!(
        ids.iter()
            .all(|id| id == "71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521")
    );
}

#[test]
fn gre_ethernet_tunnel_yields_inner_addresses() {
    let (items, stats) = extract("pcap/heplify_erspan_sip_ipv4_udp.pcapng");
    let msgs = sip(&items);
    assert_eq!(msgs.len(), 140);
    // Outer 192.168.1.213 → 192.168.8.68 (GRE); inner UDP below.
    let first = msgs[0];
    assert_eq!(first.frame, 1);
    assert_eq!(first.src, addr("180.173.83.248:53221"));
    assert_eq!(first.dst, addr("101.231.48.19:5260"));
    assert!(start_line(&first.payload).starts_with("SUBSCRIBE sip:20008909@101.231.48.19:5260"));
    // pcapng, if_tsresol 6: tshark frame.time_epoch 1526006114.962510000
    assert_eq!(first.ts_micros, 1_526_006_114_962_510);
    assert_eq!(msgs[1].src, addr("192.168.1.222:5260"));
    assert!(
        msgs.iter()
            .all(|m| !m.src.ip().to_string().starts_with("192.168.1.213"))
    );
    assert_eq!(stats.frames, 140);
}

#[test]
fn ip_in_ip_mixed_with_plain_tcp() {
    let (items, _) = extract("pcap/sngrep_ipip_sip_tcp.pcap");
    let msgs = sip(&items);
    let got: Vec<_> = msgs
        .iter()
        .map(|m| (m.frame, m.src, m.dst, m.transport))
        .collect();
    assert_eq!(
        got,
        [
            (
                1,
                addr("10.15.197.103:5090"),
                addr("10.15.193.31:33093"),
                Transport::Tcp
            ),
            // IP-in-IP: outer 10.15.196.229 → 10.15.194.19.
            (
                2,
                addr("10.15.193.31:33093"),
                addr("10.15.197.103:5090"),
                Transport::Tcp
            ),
            (
                3,
                addr("10.15.193.31:33093"),
                addr("10.15.197.103:5090"),
                Transport::Tcp
            ),
            (
                4,
                addr("10.15.197.103:5090"),
                addr("10.15.193.31:33093"),
                Transport::Tcp
            ),
        ]
    );
    assert!(start_line(&msgs[0].payload).starts_with("INVITE "));
}

#[test]
fn raw_ip_link_type() {
    let (items, _) = extract("pcap/heplify_ipip0_register_invite403.pcap");
    let msgs = sip(&items);
    assert_eq!(msgs[0].src, addr("179.43.150.26:33489"));
    assert_eq!(msgs[0].dst, addr("157.161.10.72:5060"));
    assert!(start_line(&msgs[0].payload).starts_with("INVITE "));
    assert_eq!(start_line(&msgs[1].payload), "SIP/2.0 403 Forbidden");
}

#[test]
fn tcp_segments_retransmissions_and_split_messages() {
    let (items, stats) = extract("pcap/heplify_sip_ipv4_tcp_retrans_register.pcap");
    let msgs = sip(&items);
    let frames: Vec<_> = msgs.iter().map(|m| (m.frame, m.transport)).collect();
    assert_eq!(frames[0], (28, Transport::Tcp));
    assert_eq!(frames[1], (30, Transport::Udp));
    // Frame 38 repeats frame 36's 200 OK (tshark: TCP Retransmission).
    assert!(!frames.iter().any(|&(f, _)| f == 38));
    assert!(stats.skipped.get(SkipReason::TcpRetransmission) >= 1);

    let (items, stats) = extract("pcap/heplify_sip_ipv4_tcp_fragmented_fs_sbc_port6060.pcap");
    let msgs = sip(&items);
    assert_eq!(msgs.len(), 406);
    assert!(msgs.iter().all(|m| m.transport == Transport::Tcp));
    assert!(
        msgs.iter()
            .all(|m| m.src.port() == 6060 || m.dst.port() == 6060)
    );
    // Each payload is exactly one framed message.
    for m in &msgs {
        assert_eq!(
            callweave_sip::stream::message_len(&m.payload).unwrap(),
            Some(m.payload.len()),
            "frame {}",
            m.frame
        );
    }
    // tshark reports 234 messages reassembled from several segments; the
    // segments before the completing one are counted as reassembled frames.
    assert!(stats.frames_reassembled >= 234, "{stats:?}");
    assert!(
        msgs.iter()
            .any(|m| start_line(&m.payload) == "SIP/2.0 486 Busy Here")
    );
}

#[test]
fn websocket_messages_after_upgrade() {
    let (items, stats) = extract("pcap/heplify_sip_tcp_websocket_freeswitch_b2bua.pcap");
    let msgs = sip(&items);
    let ws: Vec<_> = msgs
        .iter()
        .filter(|m| m.transport == Transport::Ws)
        .collect();
    assert_eq!(ws.len(), 11, "tshark: 11 frames with websocket:sip");
    assert_eq!(msgs.len() - ws.len(), 28);
    let invite = ws.iter().find(|m| m.frame == 11).unwrap();
    assert!(
        start_line(&invite.payload)
            .starts_with("INVITE sip:+12263382742@dev-mike.tncp.textnow.com")
    );
    assert_eq!(invite.dst.port(), 8080);
    assert_eq!(
        call_id(&invite.payload).as_deref(),
        Some("kovfhoptshgn59q712sr")
    );
    assert_eq!(Transport::Ws.ip_protocol(), 6);
    assert_eq!(
        stats.skipped.get(SkipReason::WebSocketControl),
        2,
        "GET and 101"
    );
}

#[test]
fn sctp_fragmented_user_message() {
    let (items, _) = extract("pcap/heplify_sip_sctp_isup_403.pcap");
    let msgs = sip(&items);
    let got: Vec<_> = msgs
        .iter()
        .map(|m| (m.frame, start_line(&m.payload)))
        .collect();
    assert_eq!(got[0].0, 2);
    assert!(got[0].1.starts_with("INVITE "));
    assert_eq!(got[2], (4, "SIP/2.0 403 The reason is nocallee".to_owned()));
    // tshark: "Reassembled SCTP Fragments (1764 bytes, 2 fragments)".
    assert_eq!(msgs[0].payload.len(), 1764);
    assert_eq!(msgs[0].transport, Transport::Sctp);
    assert_eq!(msgs[0].src, addr("10.249.30.11:57098"));
    assert_eq!(Transport::Sctp.ip_protocol(), 132);
}

#[test]
fn hep_captures_pass_through() {
    // The zlib capture is pcapng with a Linux SLL link; the others Ethernet pcap.
    for (file, expected) in [
        ("hep/hepwireshark_hep3_hepgen_sip_log_rtcp.pcap", 8),
        ("hep/hepwireshark_hep3_compressed_zlib.pcapng", 21),
        ("freeswitch-live/01-bridged-callid-random/hep.pcap", 65),
        ("freeswitch-live/03-bleg-busy-486/hep.pcap", 24),
    ] {
        let (items, stats) = extract(file);
        assert_eq!(items.len(), expected, "{file}");
        assert_eq!(stats.hep_packets, expected as u64, "{file}");
        assert_eq!(stats.sip_messages, 0, "{file}");
        for item in &items {
            let Item::Hep(hep) = item else {
                panic!("{file}: {item:?}")
            };
            assert_eq!(&hep.payload[..4], b"HEP3");
            let declared = usize::from(u16::from_be_bytes([hep.payload[4], hep.payload[5]]));
            assert_eq!(declared, hep.payload.len(), "{file} frame {}", hep.frame);
            assert_eq!(hep.transport, Transport::Udp);
            assert!(matches!(hep.dst.port(), 9060 | 9064), "{file}");
        }
    }
    let (items, _) = extract("hep/hepwireshark_hep3_hepgen_sip_log_rtcp.pcap");
    let Item::Hep(first) = &items[0] else {
        panic!()
    };
    assert_eq!(first.src, addr("127.0.0.1:51160"));
    assert_eq!(first.dst, addr("127.0.0.1:9060"));
}

#[test]
fn skipped_frames_are_counted_by_reason() {
    let (_, stats) = extract("pcap/heplify_fax_t38_b2bua_reinvite.pcap");
    assert_eq!(stats.frames, 7217);
    assert_eq!(stats.sip_messages, 92);
    // 4985 RTP + 2010 T.38 (udptl) frames, and other UDP noise.
    assert!(
        stats.skipped.get(SkipReason::NonSipUdp) >= 4985 + 2010,
        "{stats:?}"
    );
    let (_, stats) = extract("pcap/heplify_sip_ipv4_tcp.pcap");
    assert_eq!(
        stats.skipped.get(SkipReason::NonSipUdp),
        68,
        "66 RTP + 2 RTCP"
    );
    assert!(stats.skipped.get(SkipReason::TcpControl) > 0);
}

#[test]
fn truncated_file_keeps_what_came_before() {
    let full = std::fs::read(testdata("pcap/sngrep_aaa_register_invite_cancel.pcap")).unwrap();
    let cut = &full[..full.len() / 2];
    let mut reader = CaptureReader::new(cut).unwrap();
    assert_eq!(reader.format(), Format::Pcap);
    let items: Vec<_> = reader.by_ref().collect::<Result<_, _>>().unwrap();
    assert!(reader.stats().truncated_file);
    assert!(!items.is_empty() && items.len() < 81, "{}", items.len());
}

#[test]
fn bad_files_are_errors_not_panics() {
    let err = CaptureReader::new(&b"not a capture at all"[..]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownFormat);
    assert_eq!(
        err.to_string(),
        "unknown format at byte offset 0 of the capture"
    );

    // Corrupt the second pcapng block's length: the file cannot resync.
    let mut ng = std::fs::read(testdata("pcap/heplify_erspan_sip_ipv4_udp.pcapng")).unwrap();
    let shb_len = u32::from_le_bytes(ng[4..8].try_into().unwrap()) as usize;
    let idb_len = u32::from_le_bytes(ng[shb_len + 4..shb_len + 8].try_into().unwrap()) as usize;
    let third = shb_len + idb_len;
    ng[third + 4..third + 8].copy_from_slice(&7u32.to_le_bytes());
    let mut reader = CaptureReader::new(ng.as_slice()).unwrap();
    let results: Vec<_> = reader.by_ref().collect();
    let err = results.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CorruptBlock);
    assert_eq!(err.offset(), third as u64);
    assert_eq!(results.len(), 1, "nothing before the first packet block");
}
