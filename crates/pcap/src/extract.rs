//! Frame → items: link layer, VLAN/MPLS, IP (with tunnels and
//! defragmentation), then UDP / TCP / SCTP. Sans-IO: [`Extractor`] takes one
//! frame at a time, so a live capture or a test can feed it directly.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use etherparse::{
    EtherType, IpFragOffset, IpSlice, Ipv6ExtensionSlice, LinuxSllProtocolType, LinuxSllSlice,
    SingleVlanSlice, TcpSlice, UdpSlice, err,
};

use crate::defrag::{Defrag, FragKey, FragOutcome};
use crate::stats::{SkipReason, Stats};
use crate::tcp::{Segment, TcpTable};
use crate::{HepDatagram, Item, SipMessage, Transport, detect, sctp};

/// Tunnels (IP-in-IP, GRE, ERSPAN, VLAN stacks) nested deeper than this are
/// treated as malformed: real networks stop at two or three.
const MAX_DEPTH: u8 = 8;

/// How often (in capture time) expired fragments and idle TCP flows are swept.
const SWEEP_INTERVAL_MICROS: i64 = 1_000_000;

/// The link layer of a frame (the pcap `LINKTYPE_*` of its interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Link {
    /// `LINKTYPE_ETHERNET` (1), with any 802.1Q / 802.1ad tags.
    Ethernet,
    /// `LINKTYPE_LINUX_SLL` (113), Linux "any" device captures.
    LinuxSll,
    /// `LINKTYPE_LINUX_SLL2` (276).
    LinuxSll2,
    /// Raw IPv4 or IPv6, version from the first nibble: `LINKTYPE_RAW` (101),
    /// `DLT_RAW` (12, and 14 on OpenBSD), `LINKTYPE_IPV4` (228), `LINKTYPE_IPV6` (229).
    RawIp,
    /// BSD loopback (`LINKTYPE_NULL` 0 in host order, `LINKTYPE_LOOP` 108 in
    /// network order): a 4-byte address family, then IP.
    Loopback,
    /// Any other link type: its frames are counted as `unsupported_link`.
    Unsupported(u32),
}

impl Link {
    /// Maps a pcap/pcapng link type number.
    #[must_use]
    pub const fn from_linktype(linktype: u32) -> Self {
        match linktype {
            1 => Self::Ethernet,
            113 => Self::LinuxSll,
            276 => Self::LinuxSll2,
            12 | 14 | 101 | 228 | 229 => Self::RawIp,
            0 | 108 => Self::Loopback,
            other => Self::Unsupported(other),
        }
    }
}

/// Memory bounds of the reassembly state. Every buffer is capped; timeouts
/// are in capture time, so the result does not depend on how fast the file
/// is read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// IP datagrams being rebuilt at once; the oldest is dropped beyond this.
    pub max_pending_fragments: usize,
    /// A datagram whose fragments span more than this is dropped (Linux's
    /// `ipfrag_time` default is 30 s).
    pub fragment_timeout_micros: i64,
    /// TCP flows (one per direction) tracked at once; idle ones go first,
    /// then the least recently seen.
    pub tcp_max_flows: usize,
    /// A flow without segments for this long is forgotten.
    pub tcp_idle_timeout_micros: i64,
    /// How far ahead of the expected sequence number a TCP segment may be
    /// held (also the cap on held bytes); beyond it the hole is taken as lost.
    pub tcp_window: usize,
    /// Out-of-order segments held per flow.
    pub tcp_max_out_of_order: usize,
    /// Largest SIP message (or WebSocket message) buffered on a stream.
    pub max_message_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pending_fragments: 256,
            fragment_timeout_micros: 30_000_000,
            tcp_max_flows: 4096,
            tcp_idle_timeout_micros: 600_000_000,
            tcp_window: 256 * 1024,
            tcp_max_out_of_order: 64,
            max_message_len: 256 * 1024,
        }
    }
}

/// One captured frame, as handed to [`Extractor::push_frame`].
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based frame number in the capture (as Wireshark numbers them).
    pub number: u64,
    /// Capture time, microseconds since the Unix epoch.
    pub ts_micros: i64,
    /// Link layer of `data`.
    pub link: Link,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// Per-frame context carried down the layers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameCtx {
    pub(crate) frame: u64,
    pub(crate) ts: i64,
    /// Innermost 802.1Q tag of the Ethernet header that carried the IP packet.
    pub(crate) vlan: Option<u16>,
}

/// What one frame amounted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    Emitted,
    Reassembled,
    Skip(SkipReason),
}

/// The sans-IO extraction engine behind [`CaptureReader`](crate::CaptureReader):
/// feed it frames in capture order, collect items, call
/// [`finish`](Self::finish) at the end.
#[derive(Debug)]
pub struct Extractor {
    defrag: Defrag,
    sctp: sctp::Reassembly,
    fragment_timeout: i64,
    tcp: TcpTable,
    stats: Stats,
    last_sweep: Option<i64>,
}

impl Default for Extractor {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl Extractor {
    /// An extractor with the given memory bounds.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self {
            defrag: Defrag::new(limits.max_pending_fragments, limits.fragment_timeout_micros),
            sctp: sctp::Reassembly::new(limits.max_pending_fragments, limits.max_message_len),
            fragment_timeout: limits.fragment_timeout_micros,
            tcp: TcpTable::new(limits),
            stats: Stats::default(),
            last_sweep: None,
        }
    }

    /// Decodes one frame and appends the SIP messages / HEP packets it
    /// completes to `out` (several for a TCP segment holding several
    /// messages, none for a fragment or a partial segment).
    pub fn push_frame(&mut self, frame: &Frame<'_>, out: &mut Vec<Item>) {
        self.stats.frames += 1;
        self.stats.bytes += frame.data.len() as u64;
        self.sweep(frame.ts_micros);
        let mut ctx = FrameCtx {
            frame: frame.number,
            ts: frame.ts_micros,
            vlan: None,
        };
        let before = out.len();
        let disposition = self.decode_link(frame.link, frame.data, &mut ctx, out);
        let new = out.get(before..).unwrap_or_default();
        for item in new {
            match item {
                Item::Sip(_) => self.stats.sip_messages += 1,
                Item::Hep(_) => self.stats.hep_packets += 1,
            }
        }
        match disposition {
            _ if !new.is_empty() => self.stats.frames_emitted += 1,
            Disposition::Emitted => self.stats.frames_emitted += 1,
            Disposition::Reassembled => self.stats.frames_reassembled += 1,
            Disposition::Skip(reason) => self.stats.skip(reason),
        }
    }

    /// Counts a frame that could not be handed over (e.g. a pcapng packet
    /// naming an interface that was never described).
    pub fn skip_frame(&mut self, bytes: usize, reason: SkipReason) {
        self.stats.frames += 1;
        self.stats.bytes += bytes as u64;
        self.stats.skip(reason);
    }

    /// End of capture: whatever is still waiting for fragments or TCP bytes
    /// is counted as skipped.
    pub fn finish(&mut self) {
        let frames = self.defrag.clear();
        self.stats.unbuffer(frames, SkipReason::FragmentIncomplete);
        let frames = self.sctp.clear();
        self.stats.unbuffer(frames, SkipReason::SctpFragment);
        self.tcp.finish(&mut self.stats);
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub(crate) fn stats_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }

    fn sweep(&mut self, now: i64) {
        let last = *self.last_sweep.get_or_insert(now);
        if now.saturating_sub(last) < SWEEP_INTERVAL_MICROS {
            return;
        }
        self.last_sweep = Some(now);
        if !self.defrag.is_empty() {
            let frames = self.defrag.expire(now);
            self.stats.unbuffer(frames, SkipReason::FragmentIncomplete);
        }
        let frames = self.sctp.expire(now, self.fragment_timeout);
        self.stats.unbuffer(frames, SkipReason::SctpFragment);
        self.tcp.expire(now, &mut self.stats);
    }

    fn decode_link(
        &mut self,
        link: Link,
        data: &[u8],
        ctx: &mut FrameCtx,
        out: &mut Vec<Item>,
    ) -> Disposition {
        match link {
            Link::Ethernet => self.decode_ethernet(data, ctx, 0, out),
            Link::LinuxSll => match LinuxSllSlice::from_slice(data) {
                Ok(sll) => match sll.protocol_type() {
                    LinuxSllProtocolType::EtherType(et) => {
                        self.decode_ethertype(et, sll.payload_slice(), ctx, 0, out)
                    }
                    // ARPHRD_IPGRE: the GRE header is gone, its protocol type remains.
                    LinuxSllProtocolType::GenericRoutingEncapsulationProtocolType(p) => {
                        self.decode_ethertype(EtherType(p), sll.payload_slice(), ctx, 0, out)
                    }
                    _ => Disposition::Skip(SkipReason::NotIp),
                },
                Err(err::linux_sll::HeaderSliceError::Len(_)) => {
                    Disposition::Skip(SkipReason::Truncated)
                }
                Err(_) => Disposition::Skip(SkipReason::NotIp),
            },
            Link::LinuxSll2 => {
                // SLL2: protocol (2), reserved (2), ifindex (4), ARPHRD (2),
                // packet type (1), address length (1), address (8).
                match (data.get(0..2), data.get(20..)) {
                    (Some(&[hi, lo]), Some(payload)) => self.decode_ethertype(
                        EtherType(u16::from_be_bytes([hi, lo])),
                        payload,
                        ctx,
                        0,
                        out,
                    ),
                    _ => Disposition::Skip(SkipReason::Truncated),
                }
            }
            Link::RawIp => self.decode_ip(data, ctx, 0, out),
            Link::Loopback => match data.get(4..) {
                // The address family is in the capturing host's byte order and
                // its IPv6 value differs between BSDs; the IP version nibble is
                // what every reader ends up trusting.
                Some(ip) => self.decode_ip(ip, ctx, 0, out),
                None => Disposition::Skip(SkipReason::Truncated),
            },
            Link::Unsupported(_) => Disposition::Skip(SkipReason::UnsupportedLink),
        }
    }

    fn decode_ethernet(
        &mut self,
        data: &[u8],
        ctx: &mut FrameCtx,
        depth: u8,
        out: &mut Vec<Item>,
    ) -> Disposition {
        match etherparse::Ethernet2Slice::from_slice_without_fcs(data) {
            Ok(eth) => {
                self.decode_ethertype(eth.ether_type(), eth.payload_slice(), ctx, depth, out)
            }
            Err(_) => Disposition::Skip(SkipReason::Truncated),
        }
    }

    fn decode_ethertype(
        &mut self,
        mut ether_type: EtherType,
        mut payload: &[u8],
        ctx: &mut FrameCtx,
        depth: u8,
        out: &mut Vec<Item>,
    ) -> Disposition {
        let mut tags = 0;
        loop {
            match ether_type {
                EtherType::IPV4 | EtherType::IPV6 => {
                    return self.decode_ip(payload, ctx, depth, out);
                }
                EtherType::VLAN_TAGGED_FRAME
                | EtherType::PROVIDER_BRIDGING
                | EtherType::VLAN_DOUBLE_TAGGED_FRAME => {
                    tags += 1;
                    if tags > MAX_DEPTH {
                        return Disposition::Skip(SkipReason::Malformed);
                    }
                    let Ok(vlan) = SingleVlanSlice::from_slice(payload) else {
                        return Disposition::Skip(SkipReason::Truncated);
                    };
                    ctx.vlan = Some(vlan.vlan_identifier().value());
                    ether_type = vlan.ether_type();
                    payload = vlan.payload_slice();
                }
                EtherType(0x8847 | 0x8848) => {
                    // MPLS: pop labels to the bottom of the stack, then IP.
                    let mut rest = payload;
                    loop {
                        let Some((label, tail)) = rest.split_first_chunk::<4>() else {
                            return Disposition::Skip(SkipReason::Truncated);
                        };
                        rest = tail;
                        if label[2] & 0x01 != 0 {
                            break;
                        }
                    }
                    return self.decode_ip(rest, ctx, depth, out);
                }
                _ => return Disposition::Skip(SkipReason::NotIp),
            }
        }
    }

    fn decode_ip(
        &mut self,
        data: &[u8],
        ctx: &mut FrameCtx,
        depth: u8,
        out: &mut Vec<Item>,
    ) -> Disposition {
        if depth > MAX_DEPTH {
            return Disposition::Skip(SkipReason::Malformed);
        }
        let ip = match IpSlice::from_slice(data) {
            Ok(ip) => ip,
            Err(err::ip::SliceError::Len(_)) => return Disposition::Skip(SkipReason::Truncated),
            Err(_) => return Disposition::Skip(SkipReason::Malformed),
        };
        let (src, dst) = (ip.source_addr(), ip.destination_addr());
        let payload = ip.payload();
        let proto = payload.ip_number.0;
        if !payload.fragmented {
            return self.decode_transport(proto, src, dst, payload.payload, ctx, depth, out);
        }
        let (id, offset, more) = match &ip {
            IpSlice::Ipv4(v4) => {
                let h = v4.header();
                (
                    u32::from(h.identification()),
                    h.fragments_offset(),
                    h.more_fragments(),
                )
            }
            IpSlice::Ipv6(v6) => {
                let frag = v6
                    .extensions()
                    .clone()
                    .into_iter()
                    .find_map(|ext| match ext {
                        Ipv6ExtensionSlice::Fragment(f) => Some(f),
                        _ => None,
                    });
                match frag {
                    Some(f) => (f.identification(), f.fragment_offset(), f.more_fragments()),
                    None => return Disposition::Skip(SkipReason::Malformed),
                }
            }
        };
        self.reassemble(
            FragKey {
                src,
                dst,
                id,
                proto,
            },
            offset,
            more,
            payload.payload,
            ctx,
            depth,
            out,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn reassemble(
        &mut self,
        key: FragKey,
        offset: IpFragOffset,
        more: bool,
        payload: &[u8],
        ctx: &mut FrameCtx,
        depth: u8,
        out: &mut Vec<Item>,
    ) -> Disposition {
        let mut evicted = 0;
        let outcome = self
            .defrag
            .add(key, offset, more, payload, ctx.ts, &mut evicted);
        self.stats.unbuffer(evicted, SkipReason::FragmentIncomplete);
        match outcome {
            FragOutcome::Buffered => Disposition::Reassembled,
            FragOutcome::Dropped { earlier_frames } => {
                self.stats
                    .unbuffer(earlier_frames, SkipReason::FragmentIncomplete);
                Disposition::Skip(SkipReason::FragmentIncomplete)
            }
            FragOutcome::Complete(datagram) => {
                self.stats.ip_reassembled += 1;
                self.decode_transport(key.proto, key.src, key.dst, &datagram, ctx, depth, out)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn decode_transport(
        &mut self,
        proto: u8,
        src: IpAddr,
        dst: IpAddr,
        data: &[u8],
        ctx: &mut FrameCtx,
        depth: u8,
        out: &mut Vec<Item>,
    ) -> Disposition {
        match proto {
            17 => decode_udp(src, dst, data, ctx, out),
            6 => match TcpSlice::from_slice(data) {
                Ok(tcp) => {
                    let seg = Segment {
                        src: SocketAddr::new(src, tcp.source_port()),
                        dst: SocketAddr::new(dst, tcp.destination_port()),
                        seq: tcp.sequence_number(),
                        syn: tcp.syn(),
                        rst: tcp.rst(),
                        payload: tcp.payload(),
                    };
                    self.tcp.segment(&seg, ctx, &mut self.stats, out)
                }
                Err(err::tcp::HeaderSliceError::Len(_)) => Disposition::Skip(SkipReason::Truncated),
                Err(_) => Disposition::Skip(SkipReason::Malformed),
            },
            132 => self.decode_sctp(src, dst, data, ctx, out),
            // IP-in-IP (4) and IPv6-in-IP (41).
            4 | 41 => self.decode_ip(data, ctx, depth + 1, out),
            47 => self.decode_gre(data, ctx, depth + 1, out),
            _ => Disposition::Skip(SkipReason::UnsupportedTransport),
        }
    }

    fn decode_sctp(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        data: &[u8],
        ctx: &FrameCtx,
        out: &mut Vec<Item>,
    ) -> Disposition {
        let Some((sport, dport, chunks)) = sctp::parse(data) else {
            return Disposition::Skip(SkipReason::Truncated);
        };
        let (src, dst) = (SocketAddr::new(src, sport), SocketAddr::new(dst, dport));
        let before = out.len();
        let mut buffered = false;
        let mut fragment = false;
        let mut dropped = 0;
        for chunk in chunks {
            let message = match chunk {
                sctp::Chunk::Message(msg) => Some(msg.to_vec()),
                sctp::Chunk::Fragment { stream, piece } => {
                    match self
                        .sctp
                        .add((src, dst, stream), piece, ctx.ts, &mut dropped)
                    {
                        sctp::FragmentOutcome::Complete(msg) => Some(msg),
                        sctp::FragmentOutcome::Buffered => {
                            buffered = true;
                            None
                        }
                        sctp::FragmentOutcome::Dropped => {
                            fragment = true;
                            None
                        }
                    }
                }
                sctp::Chunk::Unsupported => {
                    fragment = true;
                    None
                }
            };
            if let Some(msg) = message.filter(|m| detect::is_sip_start(m)) {
                out.push(Item::Sip(SipMessage {
                    frame: ctx.frame,
                    ts_micros: ctx.ts,
                    src,
                    dst,
                    transport: Transport::Sctp,
                    vlan: ctx.vlan,
                    payload: Bytes::from(msg),
                }));
            }
        }
        self.stats.unbuffer(dropped, SkipReason::SctpFragment);
        if out.len() > before {
            Disposition::Emitted
        } else if buffered {
            Disposition::Reassembled
        } else if fragment {
            Disposition::Skip(SkipReason::SctpFragment)
        } else {
            Disposition::Skip(SkipReason::NotSip)
        }
    }

    /// GRE (RFC 2784/2890) carrying IP, Ethernet (0x6558) or ERSPAN.
    fn decode_gre(
        &mut self,
        data: &[u8],
        ctx: &mut FrameCtx,
        depth: u8,
        out: &mut Vec<Item>,
    ) -> Disposition {
        let Some(&[f0, f1, p0, p1]) = data.get(..4) else {
            return Disposition::Skip(SkipReason::Truncated);
        };
        let (checksum, routing, key, sequence) = (
            f0 & 0x80 != 0,
            f0 & 0x40 != 0,
            f0 & 0x20 != 0,
            f0 & 0x10 != 0,
        );
        // Version 1 is PPTP's enhanced GRE (PPP inside), and source routing
        // (RFC 1701) is obsolete.
        if f1 & 0x07 != 0 || routing {
            return Disposition::Skip(SkipReason::UnsupportedTransport);
        }
        let header_len = 4 + 4 * (usize::from(checksum) + usize::from(key) + usize::from(sequence));
        let Some(inner) = data.get(header_len..) else {
            return Disposition::Skip(SkipReason::Truncated);
        };
        match u16::from_be_bytes([p0, p1]) {
            0x0800 | 0x86dd => self.decode_ip(inner, ctx, depth, out),
            0x6558 => {
                ctx.vlan = None;
                self.decode_ethernet(inner, ctx, depth, out)
            }
            // ERSPAN type II has an 8-byte header (and GRE sequence numbers);
            // type I has none.
            0x88be => {
                let erspan_len = if sequence { 8 } else { 0 };
                self.decode_erspan(inner, erspan_len, ctx, depth, out)
            }
            // ERSPAN type III: 12 bytes, plus an 8-byte platform sub-header
            // when the O flag (last bit of the third word) is set.
            0x22eb => {
                let erspan_len = match inner.get(11) {
                    Some(b) if b & 0x01 != 0 => 20,
                    Some(_) => 12,
                    None => return Disposition::Skip(SkipReason::Truncated),
                };
                self.decode_erspan(inner, erspan_len, ctx, depth, out)
            }
            _ => Disposition::Skip(SkipReason::UnsupportedTransport),
        }
    }

    fn decode_erspan(
        &mut self,
        data: &[u8],
        header_len: usize,
        ctx: &mut FrameCtx,
        depth: u8,
        out: &mut Vec<Item>,
    ) -> Disposition {
        let Some(frame) = data.get(header_len..) else {
            return Disposition::Skip(SkipReason::Truncated);
        };
        // The mirrored frame's VLAN travels in the ERSPAN header (12 bits
        // after the 4-bit version) when the switch stripped the tag.
        ctx.vlan = match data.get(..2) {
            Some(&[hi, lo]) if header_len > 0 => {
                Some(u16::from_be_bytes([hi, lo]) & 0x0fff).filter(|&v| v != 0)
            }
            _ => None,
        };
        self.decode_ethernet(frame, ctx, depth, out)
    }
}

fn decode_udp(
    src: IpAddr,
    dst: IpAddr,
    data: &[u8],
    ctx: &FrameCtx,
    out: &mut Vec<Item>,
) -> Disposition {
    let udp = match UdpSlice::from_slice(data) {
        Ok(udp) => udp,
        Err(_) => return Disposition::Skip(SkipReason::Truncated),
    };
    let payload = udp.payload();
    let src = SocketAddr::new(src, udp.source_port());
    let dst = SocketAddr::new(dst, udp.destination_port());
    if detect::is_hep(payload) {
        out.push(Item::Hep(HepDatagram {
            frame: ctx.frame,
            ts_micros: ctx.ts,
            src,
            dst,
            transport: Transport::Udp,
            payload: Bytes::copy_from_slice(payload),
        }));
        return Disposition::Emitted;
    }
    if detect::is_sip_start(payload) {
        out.push(Item::Sip(SipMessage {
            frame: ctx.frame,
            ts_micros: ctx.ts,
            src,
            dst,
            transport: Transport::Udp,
            vlan: ctx.vlan,
            payload: Bytes::copy_from_slice(payload),
        }));
        return Disposition::Emitted;
    }
    Disposition::Skip(SkipReason::NonSipUdp)
}
