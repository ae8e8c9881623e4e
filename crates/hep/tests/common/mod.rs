//! Helpers shared by the integration tests: fixture paths and UDP payload
//! extraction from the real pcap/pcapng captures.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::IpAddr;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_parser::pcapng::Block;
use pcap_parser::{Linktype, PcapCapture, PcapNGCapture};

pub const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata");

pub fn read(rel: &str) -> Vec<u8> {
    let path = format!("{TESTDATA}/{rel}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// One UDP datagram out of a capture.
#[derive(Debug, Clone)]
pub struct Udp {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub payload: Vec<u8>,
}

fn slice_frame(linktype: Linktype, frame: &[u8]) -> Option<Udp> {
    let sliced = match linktype {
        Linktype::ETHERNET => SlicedPacket::from_ethernet(frame),
        Linktype::LINUX_SLL => SlicedPacket::from_linux_sll(frame),
        other => panic!("unexpected link type {other:?}"),
    }
    .unwrap();
    let (src, dst) = match sliced.net? {
        NetSlice::Ipv4(ip) => (
            IpAddr::V4(ip.header().source_addr()),
            IpAddr::V4(ip.header().destination_addr()),
        ),
        NetSlice::Ipv6(ip) => (
            IpAddr::V6(ip.header().source_addr()),
            IpAddr::V6(ip.header().destination_addr()),
        ),
        _ => return None,
    };
    match sliced.transport? {
        TransportSlice::Udp(udp) => Some(Udp {
            src,
            dst,
            sport: udp.source_port(),
            dport: udp.destination_port(),
            payload: udp.payload().to_vec(),
        }),
        _ => None,
    }
}

/// Every UDP datagram of a pcap or pcapng file under testdata/, in file order.
pub fn udp_datagrams(rel: &str) -> Vec<Udp> {
    let data = read(rel);
    let mut out = Vec::new();
    if rel.ends_with(".pcapng") {
        let cap = PcapNGCapture::from_file(&data).unwrap();
        for section in &cap.sections {
            let mut linktypes = Vec::new();
            for block in &section.blocks {
                match block {
                    Block::InterfaceDescription(idb) => linktypes.push(idb.linktype),
                    Block::EnhancedPacket(epb) => {
                        let frame = &epb.data[..epb.caplen as usize];
                        let lt = linktypes[epb.if_id as usize];
                        out.extend(slice_frame(lt, frame));
                    }
                    _ => {}
                }
            }
        }
    } else {
        let cap = PcapCapture::from_file(&data).unwrap();
        for block in &cap.blocks {
            out.extend(slice_frame(cap.header.network, block.data));
        }
    }
    out
}

/// Generic chunk type ids of a HEPv3 packet in wire order, walked here
/// independently of the crate's decoder.
pub fn chunk_order(packet: &[u8]) -> Vec<u16> {
    let mut types = Vec::new();
    let mut pos = 6;
    while pos + 6 <= packet.len() {
        types.push(u16::from_be_bytes([packet[pos + 2], packet[pos + 3]]));
        pos += usize::from(u16::from_be_bytes([packet[pos + 4], packet[pos + 5]]));
    }
    types
}

/// The 113-byte example packet of the HEP3 spec (PROTOCOLS.md §1.6).
pub fn spec_example() -> Vec<u8> {
    let hex = "48455033 0071 0000 0001 0007 02 0000 0002 0007 11 0000 0003 000a d4ca0001 \
               0000 0004 000a 527400d3 0000 0007 0008 2eea 0000 0008 0008 13c4 \
               0000 0009 000a 4e4982cb 0000 000a 000a 0001d4c0 0000 000b 0007 01 \
               0000 000c 000a 000000e4 0000 000f 0014";
    let mut v = hex_decode(hex);
    v.extend_from_slice(b"INVITE sip:bob");
    v
}

pub fn hex_decode(hex: &str) -> Vec<u8> {
    let digits: Vec<u8> = hex.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}
