//! Arbitrary bytes as frames through the decapsulation and reassembly path.
//!
//! Byte 0 picks the link layer; then each frame is a 2-byte little-endian
//! length and that many bytes (cut at the end of input), up to 16 frames, so
//! the IP fragments, TCP segments and SCTP pieces of one input meet in the
//! reassembly state. Tight limits make eviction paths run too.
#![no_main]

use callweave_pcap::{Extractor, Frame, Limits, Link};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let link = match selector % 5 {
        0 => Link::Ethernet,
        1 => Link::RawIp,
        2 => Link::LinuxSll,
        3 => Link::LinuxSll2,
        _ => Link::Loopback,
    };
    let mut limits = Limits::default();
    limits.max_pending_fragments = 4;
    limits.tcp_max_flows = 4;
    limits.tcp_max_out_of_order = 4;
    limits.max_message_len = 4096;
    let mut ex = Extractor::new(limits);
    let mut out = Vec::new();
    for number in 1..=16u64 {
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            break;
        };
        let len = usize::from(u16::from_le_bytes(*len)).min(tail.len());
        let (frame, tail) = tail.split_at(len);
        rest = tail;
        // Time jumps by selector-scaled seconds so timeouts fire sometimes.
        let ts = i64::from(selector >> 3) * 1_000_000 * number as i64;
        ex.push_frame(&Frame { number, ts_micros: ts, link, data: frame }, &mut out);
    }
    ex.finish();
    let s = ex.stats();
    assert_eq!(s.frames, s.frames_emitted + s.frames_reassembled + s.skipped.total());
    assert_eq!(s.sip_messages + s.hep_packets, out.len() as u64);
});
