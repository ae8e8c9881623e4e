//! TCP stream reassembly and message framing: SIP (by Content-Length, through
//! `callweave_sip::stream::message_len`), HEP3 (by its length field) and
//! WebSocket after an HTTP Upgrade (RFC 7118).
//!
//! Each direction of a connection is its own flow. Bytes are taken in sequence
//! order: a segment whose bytes were all seen is a retransmission and skipped,
//! a partial overlap is trimmed, a segment ahead of the expected sequence waits
//! in a small out-of-order store. When a hole never fills (the capture missed
//! the bytes) the partial message is dropped and the flow restarts at the next
//! segment, which is where a sender usually starts a new message.
//!
//! A message gets the timestamp and frame number of the segment that
//! completed it, as Wireshark shows a reassembled PDU in its last frame.

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::Bytes;
use callweave_sip::stream::{message_len, skip_keepalives};

use crate::extract::{Disposition, FrameCtx};
use crate::stats::{SkipReason, Stats};
use crate::{HepDatagram, Item, Limits, SipMessage, Transport, detect, ws};

/// Longest HTTP Upgrade head we wait for.
const MAX_HTTP_HEAD: usize = 16 * 1024;

pub(crate) struct Segment<'a> {
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    pub(crate) seq: u32,
    pub(crate) syn: bool,
    pub(crate) rst: bool,
    pub(crate) payload: &'a [u8],
}

type FlowKey = (SocketAddr, SocketAddr);

#[derive(Debug, Default)]
struct Flow {
    next_seq: Option<u32>,
    /// In-order bytes not yet framed into a message.
    buf: Vec<u8>,
    /// Frames counted as reassembled whose bytes still sit in `buf` or
    /// `ws_message`, so they can be re-counted as skipped if thrown away.
    buf_frames: u64,
    /// Segments ahead of `next_seq`, by sequence number.
    ooo: Vec<(u32, Vec<u8>)>,
    ooo_bytes: usize,
    ooo_frames: u64,
    /// This direction switched to WebSocket framing after an HTTP Upgrade.
    websocket: bool,
    /// A fragmented WebSocket message being collected.
    ws_message: Option<Vec<u8>>,
    last_seen: i64,
}

impl Flow {
    fn pending_frames(&self) -> u64 {
        self.buf_frames + self.ooo_frames
    }

    /// Forgets buffered bytes but keeps the framing mode: after a gap a
    /// WebSocket connection is still a WebSocket connection.
    fn reset_stream(&mut self) {
        self.buf.clear();
        self.buf_frames = 0;
        self.ooo.clear();
        self.ooo_bytes = 0;
        self.ooo_frames = 0;
        self.ws_message = None;
    }

    /// Moves out-of-order segments that now fit onto the end of `buf`.
    fn drain_ooo(&mut self) {
        while let Some(next) = self.next_seq {
            let Some(idx) = self.ooo.iter().position(|(s, _)| !is_ahead(*s, next)) else {
                break;
            };
            let (seq, data) = self.ooo.swap_remove(idx);
            self.ooo_bytes = self.ooo_bytes.saturating_sub(data.len());
            self.ooo_frames = self.ooo_frames.saturating_sub(1);
            self.buf_frames += 1;
            let dup = usize::try_from(next.wrapping_sub(seq)).unwrap_or(usize::MAX);
            if let Some(tail) = data.get(dup..).filter(|t| !t.is_empty()) {
                self.buf.extend_from_slice(tail);
                self.next_seq = Some(seq.wrapping_add(len_u32(&data)));
            }
        }
    }
}

/// Whether sequence number `seq` is after `next`, modulo 2^32.
fn is_ahead(seq: u32, next: u32) -> bool {
    (seq.wrapping_sub(next) as i32) > 0
}

fn len_u32(data: &[u8]) -> u32 {
    u32::try_from(data.len()).unwrap_or(u32::MAX)
}

/// What framing found in a flow's buffer during one segment.
#[derive(Debug, Default)]
struct Parsed {
    /// Bytes that cannot be framed were thrown away, for this reason.
    discarded: Option<SkipReason>,
    /// WebSocket handshake or control frames were consumed.
    control: bool,
    /// CRLF keep-alives were consumed.
    keepalive: bool,
    /// A complete WebSocket message that is not SIP.
    non_sip_message: bool,
}

enum Step {
    Consumed(usize),
    Upgrade(usize),
    NeedMore,
    Discard(SkipReason),
}

#[derive(Debug)]
pub(crate) struct TcpTable {
    flows: HashMap<FlowKey, Flow>,
    limits: Limits,
}

impl TcpTable {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            flows: HashMap::new(),
            limits,
        }
    }

    pub(crate) fn segment(
        &mut self,
        seg: &Segment<'_>,
        ctx: &FrameCtx,
        stats: &mut Stats,
        out: &mut Vec<Item>,
    ) -> Disposition {
        let key = (seg.src, seg.dst);
        if seg.rst {
            if let Some(flow) = self.flows.remove(&key) {
                stats.unbuffer(flow.pending_frames(), SkipReason::TcpIncomplete);
            }
            return Disposition::Skip(SkipReason::TcpControl);
        }
        if !self.flows.contains_key(&key) {
            self.make_room(ctx.ts, stats);
        }
        let limits = &self.limits;
        let flow = self.flows.entry(key).or_default();
        flow.last_seen = ctx.ts;

        let mut seq = seg.seq;
        if seg.syn {
            stats.unbuffer(flow.pending_frames(), SkipReason::TcpIncomplete);
            *flow = Flow {
                last_seen: ctx.ts,
                ..Flow::default()
            };
            seq = seq.wrapping_add(1);
            flow.next_seq = Some(seq);
        }
        if seg.payload.is_empty() {
            return Disposition::Skip(SkipReason::TcpControl);
        }
        let end = seq.wrapping_add(len_u32(seg.payload));
        let expected = *flow.next_seq.get_or_insert(seq);
        let mut data = seg.payload;
        if is_ahead(expected, seq) {
            let dup = usize::try_from(expected.wrapping_sub(seq)).unwrap_or(usize::MAX);
            match data.get(dup..).filter(|d| !d.is_empty()) {
                Some(fresh) => data = fresh,
                None => return Disposition::Skip(SkipReason::TcpRetransmission),
            }
        } else if is_ahead(seq, expected) {
            if flow
                .ooo
                .iter()
                .any(|(s, d)| *s == seq && d.len() >= data.len())
            {
                return Disposition::Skip(SkipReason::TcpRetransmission);
            }
            let distance = usize::try_from(seq.wrapping_sub(expected)).unwrap_or(usize::MAX);
            if distance <= limits.tcp_window
                && flow.ooo.len() < limits.tcp_max_out_of_order
                && flow.ooo_bytes + data.len() <= limits.tcp_window
            {
                flow.ooo.push((seq, data.to_vec()));
                flow.ooo_bytes += data.len();
                flow.ooo_frames += 1;
                return Disposition::Reassembled;
            }
            // The bytes between `expected` and `seq` are not in the capture.
            stats.tcp_gaps += 1;
            stats.unbuffer(flow.pending_frames(), SkipReason::TcpGap);
            flow.reset_stream();
        }
        flow.buf.extend_from_slice(data);
        flow.next_seq = Some(end);
        flow.drain_ooo();

        let before = out.len();
        let parsed = parse_flow(flow, key, ctx, limits, out);
        if out.len() > before {
            flow.buf_frames = 0;
            return Disposition::Emitted;
        }
        if !flow.buf.is_empty() || flow.ws_message.is_some() {
            if let Some(reason) = parsed.discarded {
                stats.unbuffer(flow.buf_frames, reason);
                flow.buf_frames = 0;
            }
            flow.buf_frames += 1;
            return Disposition::Reassembled;
        }
        let reason = parsed.discarded.unwrap_or(if parsed.control {
            SkipReason::WebSocketControl
        } else if parsed.non_sip_message {
            SkipReason::NotSip
        } else if parsed.keepalive {
            SkipReason::Keepalive
        } else {
            SkipReason::NotSip
        });
        stats.unbuffer(flow.buf_frames, reason);
        flow.buf_frames = 0;
        Disposition::Skip(reason)
    }

    /// Drops flows idle for longer than the limit (in capture time).
    pub(crate) fn expire(&mut self, now: i64, stats: &mut Stats) {
        let idle = self.limits.tcp_idle_timeout_micros;
        self.flows.retain(|_, f| {
            let keep = now.saturating_sub(f.last_seen) <= idle;
            if !keep {
                stats.unbuffer(f.pending_frames(), SkipReason::TcpIncomplete);
            }
            keep
        });
    }

    /// End of capture: whatever is still buffered never completed.
    pub(crate) fn finish(&mut self, stats: &mut Stats) {
        for (_, f) in self.flows.drain() {
            stats.unbuffer(f.pending_frames(), SkipReason::TcpIncomplete);
        }
    }

    fn make_room(&mut self, now: i64, stats: &mut Stats) {
        if self.flows.len() < self.limits.tcp_max_flows {
            return;
        }
        self.expire(now, stats);
        if self.flows.len() < self.limits.tcp_max_flows {
            return;
        }
        let oldest = self
            .flows
            .iter()
            .min_by_key(|(_, f)| f.last_seen)
            .map(|(k, _)| *k);
        if let Some(f) = oldest.and_then(|k| self.flows.remove(&k)) {
            stats.unbuffer(f.pending_frames(), SkipReason::TcpIncomplete);
        }
    }
}

fn parse_flow(
    flow: &mut Flow,
    key: FlowKey,
    ctx: &FrameCtx,
    limits: &Limits,
    out: &mut Vec<Item>,
) -> Parsed {
    let mut parsed = Parsed::default();
    let mut pos = 0;
    loop {
        let rest = flow.buf.get(pos..).unwrap_or_default();
        if rest.is_empty() {
            break;
        }
        let step = if flow.websocket {
            ws_step(
                rest,
                &mut flow.ws_message,
                key,
                ctx,
                limits,
                out,
                &mut parsed,
            )
        } else {
            sip_step(rest, key, ctx, out, &mut parsed)
        };
        match step {
            Step::Consumed(n) => pos += n.max(1),
            Step::Upgrade(n) => {
                flow.websocket = true;
                pos += n.max(1);
            }
            Step::NeedMore => {
                if rest.len() > limits.max_message_len {
                    parsed.discarded = Some(SkipReason::TooLarge);
                    pos = flow.buf.len();
                }
                break;
            }
            Step::Discard(reason) => {
                // Framing is lost; the next segment may start a new message.
                parsed.discarded = Some(reason);
                pos = flow.buf.len();
                break;
            }
        }
    }
    flow.buf.drain(..pos.min(flow.buf.len()));
    parsed
}

fn sip_step(
    rest: &[u8],
    key: FlowKey,
    ctx: &FrameCtx,
    out: &mut Vec<Item>,
    parsed: &mut Parsed,
) -> Step {
    let keepalive = skip_keepalives(rest);
    if keepalive > 0 {
        parsed.keepalive = true;
        return Step::Consumed(keepalive);
    }
    if rest.starts_with(b"HEP3") || rest.starts_with(b"EEP3") {
        let Some(&[hi, lo]) = rest.get(4..6) else {
            return Step::NeedMore;
        };
        let total = usize::from(u16::from_be_bytes([hi, lo]));
        if total < 6 {
            return Step::Discard(SkipReason::NotSip);
        }
        let Some(packet) = rest.get(..total) else {
            return Step::NeedMore;
        };
        out.push(Item::Hep(HepDatagram {
            frame: ctx.frame,
            ts_micros: ctx.ts,
            src: key.0,
            dst: key.1,
            transport: Transport::Tcp,
            payload: Bytes::copy_from_slice(packet),
        }));
        return Step::Consumed(total);
    }
    if rest.starts_with(b"GET ") || rest.starts_with(b"HTTP/") {
        let Some(head_end) = memchr::memmem::find(rest, b"\r\n\r\n") else {
            return if rest.len() > MAX_HTTP_HEAD {
                Step::Discard(SkipReason::NotSip)
            } else {
                Step::NeedMore
            };
        };
        let head = rest.get(..head_end).unwrap_or_default();
        if is_websocket_handshake(head) {
            parsed.control = true;
            return Step::Upgrade(head_end + 4);
        }
        return Step::Discard(SkipReason::NotSip);
    }
    match message_len(rest) {
        Ok(Some(n)) if n > 0 => {
            let msg = rest.get(..n).unwrap_or(rest);
            out.push(sip_item(
                key,
                ctx,
                Transport::Tcp,
                Bytes::copy_from_slice(msg),
            ));
            Step::Consumed(msg.len())
        }
        Ok(Some(_)) => Step::Discard(SkipReason::NotSip),
        Ok(None) => Step::NeedMore,
        Err(e) if e.kind() == callweave_sip::ErrorKind::TooLarge => {
            Step::Discard(SkipReason::TooLarge)
        }
        Err(_) => Step::Discard(SkipReason::NotSip),
    }
}

/// A client's `GET` asking for `Upgrade: websocket`, or a server's `101`.
fn is_websocket_handshake(head: &[u8]) -> bool {
    if head.starts_with(b"HTTP/1.1 101") || head.starts_with(b"HTTP/1.0 101") {
        return true;
    }
    let lower = head.to_ascii_lowercase();
    head.starts_with(b"GET ")
        && memchr::memmem::find(&lower, b"\nupgrade:").is_some()
        && memchr::memmem::find(&lower, b"websocket").is_some()
}

fn ws_step(
    rest: &[u8],
    message: &mut Option<Vec<u8>>,
    key: FlowKey,
    ctx: &FrameCtx,
    limits: &Limits,
    out: &mut Vec<Item>,
    parsed: &mut Parsed,
) -> Step {
    let Some(header) = ws::parse_header(rest) else {
        return Step::NeedMore;
    };
    let Some(len) = usize::try_from(header.payload_len)
        .ok()
        .filter(|&l| l <= limits.max_message_len)
    else {
        return Step::Discard(SkipReason::TooLarge);
    };
    let total = header.header_len + len;
    let Some(raw) = rest.get(header.header_len..total) else {
        return Step::NeedMore;
    };
    let mut payload = raw.to_vec();
    if let Some(mask) = header.mask {
        ws::unmask(&mut payload, mask);
    }
    let whole = match header.opcode {
        ws::OP_TEXT | ws::OP_BINARY if header.fin => Some(payload),
        ws::OP_TEXT | ws::OP_BINARY => {
            *message = Some(payload);
            None
        }
        ws::OP_CONTINUATION => match message.as_mut() {
            Some(m) if m.len() + payload.len() > limits.max_message_len => {
                *message = None;
                return Step::Discard(SkipReason::TooLarge);
            }
            Some(m) => {
                m.extend_from_slice(&payload);
                if header.fin { message.take() } else { None }
            }
            None => {
                parsed.control = true;
                None
            }
        },
        0x8..=0xf => {
            parsed.control = true;
            None
        }
        _ => return Step::Discard(SkipReason::NotSip),
    };
    if let Some(whole) = whole {
        // permessage-deflate payloads are not inflated here.
        if !header.compressed && detect::is_sip_start(&whole) {
            out.push(sip_item(key, ctx, Transport::Ws, Bytes::from(whole)));
        } else {
            parsed.non_sip_message = true;
        }
    }
    Step::Consumed(total)
}

fn sip_item(key: FlowKey, ctx: &FrameCtx, transport: Transport, payload: Bytes) -> Item {
    Item::Sip(SipMessage {
        frame: ctx.frame,
        ts_micros: ctx.ts,
        src: key.0,
        dst: key.1,
        transport,
        vlan: ctx.vlan,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4};

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nContent-Length: 4\r\n\r\nbody";

    fn addr(port: u16) -> SocketAddr {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into()
    }

    struct Harness {
        table: TcpTable,
        stats: Stats,
        out: Vec<Item>,
        frame: u64,
    }

    impl Harness {
        fn new() -> Self {
            Self {
                table: TcpTable::new(Limits::default()),
                stats: Stats::default(),
                out: Vec::new(),
                frame: 0,
            }
        }

        fn send(&mut self, seq: u32, payload: &[u8]) -> Disposition {
            self.frame += 1;
            let seg = Segment {
                src: addr(1),
                dst: addr(2),
                seq,
                syn: false,
                rst: false,
                payload,
            };
            let ctx = FrameCtx {
                frame: self.frame,
                ts: i64::try_from(self.frame).unwrap(),
                vlan: None,
            };
            let d = self
                .table
                .segment(&seg, &ctx, &mut self.stats, &mut self.out);
            if d == Disposition::Reassembled {
                self.stats.frames_reassembled += 1;
            }
            d
        }

        fn payloads(&self) -> Vec<Vec<u8>> {
            self.out
                .iter()
                .map(|i| match i {
                    Item::Sip(m) => m.payload.to_vec(),
                    Item::Hep(h) => h.payload.to_vec(),
                })
                .collect()
        }
    }

    #[test]
    fn split_and_coalesced_messages() {
        let mut h = Harness::new();
        let two = [MSG, MSG].concat();
        let (a, b) = two.split_at(30);
        assert_eq!(h.send(1000, a), Disposition::Reassembled);
        assert_eq!(h.send(1030, b), Disposition::Emitted);
        assert_eq!(h.payloads(), vec![MSG.to_vec(), MSG.to_vec()]);
        assert_eq!(
            h.out.last().map(|i| match i {
                Item::Sip(m) => m.frame,
                Item::Hep(_) => 0,
            }),
            Some(2),
            "the completing frame"
        );
    }

    #[test]
    fn retransmission_and_out_of_order() {
        let mut h = Harness::new();
        let (a, rest) = MSG.split_at(10);
        let (b, c) = rest.split_at(20);
        assert_eq!(h.send(0, a), Disposition::Reassembled);
        assert_eq!(
            h.send(0, a),
            Disposition::Skip(SkipReason::TcpRetransmission)
        );
        assert_eq!(h.send(30, c), Disposition::Reassembled, "ahead: held back");
        assert_eq!(
            h.send(30, c),
            Disposition::Skip(SkipReason::TcpRetransmission)
        );
        // Overlapping retransmission that also carries the missing bytes.
        let ab = [a, b].concat();
        assert_eq!(h.send(0, &ab), Disposition::Emitted);
        assert_eq!(h.payloads(), vec![MSG.to_vec()]);
    }

    #[test]
    fn gap_drops_partial_message_and_resyncs() {
        let mut h = Harness::new();
        h.send(0, &MSG[..10]);
        // Far ahead: beyond the window, so the hole is declared lost.
        let far = 10 + u32::try_from(Limits::default().tcp_window).unwrap() + 1;
        assert_eq!(h.send(far, MSG), Disposition::Emitted);
        assert_eq!(h.stats.tcp_gaps, 1);
        assert_eq!(h.stats.skipped.get(SkipReason::TcpGap), 1);
        assert_eq!(h.payloads(), vec![MSG.to_vec()]);
    }

    #[test]
    fn garbage_then_sip_at_next_segment() {
        let mut h = Harness::new();
        assert_eq!(
            h.send(0, b"\x16\x03\x01\x00\x05hello"),
            Disposition::Skip(SkipReason::NotSip)
        );
        assert_eq!(
            h.send(10, b"\r\n\r\n"),
            Disposition::Skip(SkipReason::Keepalive)
        );
        assert_eq!(h.send(14, MSG), Disposition::Emitted);
    }

    #[test]
    fn websocket_after_upgrade() {
        let mut h = Harness::new();
        let get = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        assert_eq!(
            h.send(0, get),
            Disposition::Skip(SkipReason::WebSocketControl)
        );
        let key = [0x11, 0x22, 0x33, 0x44];
        let mut masked = MSG.to_vec();
        ws::unmask(&mut masked, key);
        let first = &masked[..20];
        // Fragmented WebSocket message: text (no FIN) + continuation (FIN).
        let mut frames = vec![0x01, 0x80 | u8::try_from(first.len()).unwrap()];
        frames.extend_from_slice(&key);
        frames.extend_from_slice(first);
        // The continuation is masked with its own key, restarting at 0.
        let mut second_plain = MSG[20..].to_vec();
        ws::unmask(&mut second_plain, key);
        frames.extend_from_slice(&[0x80, 0x80 | u8::try_from(second_plain.len()).unwrap()]);
        frames.extend_from_slice(&key);
        frames.extend_from_slice(&second_plain);
        frames.extend_from_slice(&[0x89, 0x00]); // ping
        let seq = u32::try_from(get.len()).unwrap();
        assert_eq!(h.send(seq, &frames), Disposition::Emitted);
        assert_eq!(h.payloads(), vec![MSG.to_vec()]);
        assert!(matches!(&h.out[0], Item::Sip(m) if m.transport == Transport::Ws));
    }

    #[test]
    fn hep_over_tcp() {
        let mut h = Harness::new();
        let hep = b"HEP3\x00\x0a\x00\x00\x00\x06";
        let both = [&hep[..], MSG].concat();
        assert_eq!(h.send(5, &both), Disposition::Emitted);
        assert_eq!(h.payloads(), vec![hep.to_vec(), MSG.to_vec()]);
    }
}
