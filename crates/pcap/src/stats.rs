//! What happened to every frame of a capture.

/// Why a frame produced no SIP message or HEP packet. A fixed set, so the
/// names can be metric label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SkipReason {
    /// The capture's link type is not one this crate decodes.
    UnsupportedLink,
    /// A link-layer frame that does not carry IP (ARP, LLDP, STP...).
    NotIp,
    /// IP carrying a protocol other than UDP, TCP, SCTP or a tunnel (ICMP, ESP...).
    UnsupportedTransport,
    /// Headers cut short by the snap length or a broken length field.
    Truncated,
    /// Headers with impossible values, or tunnels nested too deep.
    Malformed,
    /// An IP fragment whose datagram never completed (timed out, evicted by
    /// the pending limit, overlapping, or still pending at end of capture).
    FragmentIncomplete,
    /// A UDP datagram that is neither SIP nor HEP (RTP, RTCP, DNS, T.38...).
    NonSipUdp,
    /// TCP or SCTP data that is not SIP (TLS, HTTP, ...), or SIP framing that
    /// broke mid-stream.
    NotSip,
    /// A TCP segment without payload (SYN, ACK, FIN).
    TcpControl,
    /// A TCP segment whose bytes were all seen before.
    TcpRetransmission,
    /// TCP data lost because the capture missed bytes before it.
    TcpGap,
    /// TCP data of a message that was never completed (still buffered at end
    /// of capture, flow reset or evicted).
    TcpIncomplete,
    /// A SIP or WebSocket message above the size limit.
    TooLarge,
    /// A WebSocket upgrade handshake, or WebSocket control frames only.
    WebSocketControl,
    /// Only CRLF keep-alives (RFC 5626).
    Keepalive,
    /// A fragment of an SCTP user message that could not be rebuilt (out of
    /// TSN order, too large, I-DATA, or never completed).
    SctpFragment,
}

impl SkipReason {
    /// Every reason, in declaration order.
    pub const ALL: [Self; 16] = [
        Self::UnsupportedLink,
        Self::NotIp,
        Self::UnsupportedTransport,
        Self::Truncated,
        Self::Malformed,
        Self::FragmentIncomplete,
        Self::NonSipUdp,
        Self::NotSip,
        Self::TcpControl,
        Self::TcpRetransmission,
        Self::TcpGap,
        Self::TcpIncomplete,
        Self::TooLarge,
        Self::WebSocketControl,
        Self::Keepalive,
        Self::SctpFragment,
    ];

    /// snake_case name for logs and metric labels.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UnsupportedLink => "unsupported_link",
            Self::NotIp => "not_ip",
            Self::UnsupportedTransport => "unsupported_transport",
            Self::Truncated => "truncated",
            Self::Malformed => "malformed",
            Self::FragmentIncomplete => "fragment_incomplete",
            Self::NonSipUdp => "non_sip_udp",
            Self::NotSip => "not_sip",
            Self::TcpControl => "tcp_control",
            Self::TcpRetransmission => "tcp_retransmission",
            Self::TcpGap => "tcp_gap",
            Self::TcpIncomplete => "tcp_incomplete",
            Self::TooLarge => "too_large",
            Self::WebSocketControl => "websocket_control",
            Self::Keepalive => "keepalive",
            Self::SctpFragment => "sctp_fragment",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Skipped-frame counters, one per [`SkipReason`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipCounts([u64; SkipReason::ALL.len()]);

impl SkipCounts {
    /// Frames skipped for `reason`.
    #[must_use]
    pub fn get(&self, reason: SkipReason) -> u64 {
        self.0.get(reason.index()).copied().unwrap_or(0)
    }

    /// All skipped frames.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// `(reason, count)` for every reason with a non-zero count.
    pub fn iter(&self) -> impl Iterator<Item = (SkipReason, u64)> + '_ {
        SkipReason::ALL
            .iter()
            .map(|&r| (r, self.get(r)))
            .filter(|&(_, n)| n > 0)
    }

    pub(crate) fn add(&mut self, reason: SkipReason, n: u64) {
        if let Some(c) = self.0.get_mut(reason.index()) {
            *c += n;
        }
    }
}

/// Counters for one capture.
///
/// Every frame ends up in exactly one bucket, so after the reader is exhausted
/// `frames == frames_emitted + frames_reassembled + skipped.total()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Packet records read (pcap records, pcapng enhanced/simple packet blocks).
    pub frames: u64,
    /// Captured bytes in those frames.
    pub bytes: u64,
    /// Frames that completed at least one SIP message or HEP packet.
    pub frames_emitted: u64,
    /// Frames whose payload went into a reassembly buffer (IP fragments, TCP
    /// segments, WebSocket pieces) that a later frame completed. While the
    /// reader runs this also holds frames still waiting in a buffer.
    pub frames_reassembled: u64,
    /// SIP messages produced.
    pub sip_messages: u64,
    /// HEP packets produced.
    pub hep_packets: u64,
    /// IP datagrams rebuilt from fragments.
    pub ip_reassembled: u64,
    /// Times a TCP flow lost bytes and had to resynchronise.
    pub tcp_gaps: u64,
    /// The file ended inside a record (a capture cut short); what came before
    /// was read normally.
    pub truncated_file: bool,
    /// Frames that produced nothing, by reason.
    pub skipped: SkipCounts,
}

impl Stats {
    pub(crate) fn skip(&mut self, reason: SkipReason) {
        self.skipped.add(reason, 1);
    }

    /// Frames first counted as buffered whose data was then thrown away.
    pub(crate) fn unbuffer(&mut self, frames: u64, reason: SkipReason) {
        let n = frames.min(self.frames_reassembled);
        self.frames_reassembled -= n;
        self.skipped.add(reason, n);
    }
}
