//! Reads real captures for the fixture tests: pcap/pcapng → link layer → IP (also
//! IP-in-IP, GRE/ERSPAN) → UDP, TCP or SCTP payloads.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};

use etherparse::defrag::IpDefragPool;
use etherparse::{IpNumber, NetSlice, SlicedPacket, TransportSlice};
use pcap_parser::{Linktype, PcapBlockOwned, PcapError, pcapng::Block};

pub fn testdata(rel: &str) -> String {
    format!("{}/../../testdata/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// One transport payload with its flow (src, dst as text).
#[derive(Debug, Clone)]
pub struct Payload {
    pub proto: &'static str,
    pub src: String,
    pub dst: String,
    pub tcp_seq: u32,
    pub data: Vec<u8>,
}

/// Frames (link type, bytes) of a pcap or pcapng file.
pub fn frames(path: &str) -> Vec<(Linktype, Vec<u8>)> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut reader = pcap_parser::create_reader(1 << 20, file).unwrap();
    let mut links: Vec<Linktype> = Vec::new();
    let mut legacy = Linktype::ETHERNET;
    let mut out = Vec::new();
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => legacy = h.network,
                    PcapBlockOwned::Legacy(b) => out.push((legacy, b.data.to_vec())),
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => links.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        links.push(idb.linktype)
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let n = (epb.caplen as usize).min(epb.data.len());
                        out.push((links[epb.if_id as usize], epb.data[..n].to_vec()));
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().unwrap(),
            Err(e) => panic!("{path}: {e:?}"),
        }
    }
    out
}

/// Transport payloads of every frame, in capture order. Fragmented UDP is
/// reassembled; the second element counts the datagrams that were reassembled.
pub fn payloads(path: &str) -> (Vec<Payload>, usize) {
    let mut out = Vec::new();
    let mut fragments = Defrag {
        pool: IpDefragPool::new(),
        reassembled: 0,
        sctp_partial: Vec::new(),
    };
    for (link, data) in frames(path) {
        let sliced = match link {
            Linktype::ETHERNET => SlicedPacket::from_ethernet(&data),
            Linktype::LINUX_SLL => SlicedPacket::from_linux_sll(&data),
            Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 => SlicedPacket::from_ip(&data),
            // BSD loopback: 4-byte address family, then IP.
            Linktype::NULL => SlicedPacket::from_ip(&data[4..]),
            other => panic!("{path}: unsupported link type {other:?}"),
        };
        if let Ok(p) = sliced {
            walk(&p, &mut out, &mut fragments, 0);
        }
    }
    (out, fragments.reassembled)
}

struct Defrag {
    pool: IpDefragPool,
    reassembled: usize,
    /// User data of an SCTP message split over DATA chunks (B ... E flags).
    sctp_partial: Vec<u8>,
}

fn walk(p: &SlicedPacket<'_>, out: &mut Vec<Payload>, fragments: &mut Defrag, depth: u8) {
    let Some(net) = &p.net else { return };
    let (src, dst) = match net {
        NetSlice::Ipv4(ip) => (
            ip.header().source_addr().to_string(),
            ip.header().destination_addr().to_string(),
        ),
        NetSlice::Ipv6(ip) => (
            ip.header().source_addr().to_string(),
            ip.header().destination_addr().to_string(),
        ),
        _ => return,
    };
    let Some(ip_payload) = net.ip_payload_ref() else {
        return;
    };
    if ip_payload.fragmented {
        if let Ok(Some(whole)) = fragments.pool.process_sliced_packet(p, (), ())
            && whole.ip_number == IpNumber::UDP
            && whole.payload.len() >= 8
        {
            fragments.reassembled += 1;
            let port = |i: usize| u16::from_be_bytes([whole.payload[i], whole.payload[i + 1]]);
            out.push(Payload {
                proto: "udp",
                src: format!("{src}:{}", port(0)),
                dst: format!("{dst}:{}", port(2)),
                tcp_seq: 0,
                data: whole.payload[8..].to_vec(),
            });
        }
        return;
    }
    match &p.transport {
        Some(TransportSlice::Udp(udp)) => out.push(Payload {
            proto: "udp",
            src: format!("{src}:{}", udp.source_port()),
            dst: format!("{dst}:{}", udp.destination_port()),
            tcp_seq: 0,
            data: udp.payload().to_vec(),
        }),
        Some(TransportSlice::Tcp(tcp)) => out.push(Payload {
            proto: "tcp",
            src: format!("{src}:{}", tcp.source_port()),
            dst: format!("{dst}:{}", tcp.destination_port()),
            tcp_seq: tcp.sequence_number(),
            data: tcp.payload().to_vec(),
        }),
        _ if depth < 3 => {
            let inner = ip_payload.payload;
            match ip_payload.ip_number {
                IpNumber::IPV4 | IpNumber::IPV6 => {
                    if let Ok(p) = SlicedPacket::from_ip(inner) {
                        walk(&p, out, fragments, depth + 1);
                    }
                }
                IpNumber::GRE => {
                    if let Some(eth) = erspan_payload(inner)
                        && let Ok(p) = SlicedPacket::from_ethernet(eth)
                    {
                        walk(&p, out, fragments, depth + 1);
                    }
                }
                IpNumber::SCTP => sctp_data(inner, &src, &dst, out, fragments),
                _ => {}
            }
        }
        _ => {}
    }
}

/// The Ethernet frame inside GRE + ERSPAN type II/III.
fn erspan_payload(gre: &[u8]) -> Option<&[u8]> {
    let flags = u16::from_be_bytes([*gre.first()?, *gre.get(1)?]);
    let proto = u16::from_be_bytes([*gre.get(2)?, *gre.get(3)?]);
    let mut len = 4;
    for bit in [0x8000u16, 0x2000, 0x1000] {
        if flags & bit != 0 {
            len += 4;
        }
    }
    let erspan = match proto {
        0x88BE => 8,
        0x22EB => 12,
        0x6558 => 0,
        _ => return None,
    };
    gre.get(len + erspan..)
}

/// User data of SCTP DATA chunks.
fn sctp_data(sctp: &[u8], src: &str, dst: &str, out: &mut Vec<Payload>, state: &mut Defrag) {
    let (Some(sp), Some(dp)) = (sctp.get(0..2), sctp.get(2..4)) else {
        return;
    };
    let sport = u16::from_be_bytes([sp[0], sp[1]]);
    let dport = u16::from_be_bytes([dp[0], dp[1]]);
    let mut pos = 12;
    while let Some(h) = sctp.get(pos..pos + 4) {
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        if len < 4 {
            return;
        }
        if h[0] == 0
            && len > 16
            && let Some(data) = sctp.get(pos + 16..pos + len)
        {
            let (begin, end) = (h[1] & 0x02 != 0, h[1] & 0x01 != 0);
            if begin {
                state.sctp_partial.clear();
            } else {
                state.reassembled += 1;
            }
            state.sctp_partial.extend_from_slice(data);
            if end {
                out.push(Payload {
                    proto: "sctp",
                    src: format!("{src}:{sport}"),
                    dst: format!("{dst}:{dport}"),
                    tcp_seq: 0,
                    data: std::mem::take(&mut state.sctp_partial),
                });
            }
        }
        pos += len.div_ceil(4) * 4;
    }
}

/// Whether a payload looks like SIP by its first line alone (independent of the
/// parser under test).
pub fn looks_like_sip(data: &[u8]) -> bool {
    let line_end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let line = data[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&data[..line_end]);
    line.starts_with(b"SIP/2.0 ") || line.ends_with(b" SIP/2.0")
}

/// TCP byte streams per direction, in sequence order: retransmitted bytes dropped,
/// out-of-order segments placed by sequence number. Key: "src -> dst".
pub fn tcp_streams(payloads: &[Payload]) -> BTreeMap<String, Vec<u8>> {
    let mut segs: HashMap<String, BTreeMap<u32, Vec<u8>>> = HashMap::new();
    for p in payloads
        .iter()
        .filter(|p| p.proto == "tcp" && !p.data.is_empty())
    {
        segs.entry(format!("{} -> {}", p.src, p.dst))
            .or_default()
            .entry(p.tcp_seq)
            .or_insert_with(|| p.data.clone());
    }
    segs.into_iter()
        .map(|(flow, segs)| {
            let mut stream = Vec::new();
            let mut next: Option<u32> = None;
            for (seq, data) in segs {
                let skip = next.map_or(0, |n| n.wrapping_sub(seq) as usize);
                if skip < data.len() {
                    stream.extend_from_slice(&data[skip..]);
                    next = Some(seq.wrapping_add(data.len() as u32));
                }
            }
            (flow, stream)
        })
        .collect()
}
