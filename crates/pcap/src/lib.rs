//! Extract SIP messages, and HEP packets that are already encapsulated, from
//! pcap and pcapng captures.
//!
//! This is the capture side of `callweave replay`: the CLI reads a file with
//! [`CaptureReader`], encodes each [`SipMessage`] as HEP (or forwards each
//! [`HepDatagram`] unchanged) and sends it to an agent. Tests use it to turn
//! real captures into records. The crate does no I/O of its own beyond the
//! `std::io::Read` it is given, and knows nothing of HEP encoding or sockets.
//!
//! # What it decodes
//!
//! - **Containers**: pcap (µs and ns, both byte orders) and pcapng, including
//!   several interfaces with different link types and `if_tsresol` /
//!   `if_tsoffset` (parsed by [`pcap_parser`]).
//! - **Link layers** ([`Link`]): Ethernet with 802.1Q / QinQ tags and MPLS,
//!   Linux cooked v1 and v2, raw IP, BSD loopback.
//! - **Network**: IPv4 and IPv6 (with extension headers, via [`etherparse`]),
//!   fragment reassembly, IP-in-IP (4, 41), GRE (IP or Ethernet inside) and
//!   ERSPAN types I, II and III.
//! - **SIP over UDP**: a datagram whose first line is a SIP request or status
//!   line, on any port.
//! - **SIP over TCP**: per-direction stream reassembly (retransmissions and
//!   overlaps dropped by sequence number, out-of-order segments held in a
//!   bounded window), several messages per segment and messages spread over
//!   segments, framed by `Content-Length` with
//!   [`callweave_sip::stream::message_len`]. HEP3 over TCP is framed by its
//!   length field.
//! - **SIP over WebSocket** (RFC 7118) after an HTTP Upgrade on any TCP port:
//!   frames unmasked, fragmented messages joined. Wireshark shows these as SIP
//!   too.
//! - **SIP over SCTP**: each unfragmented DATA / I-DATA chunk.
//! - **HEP passthrough**: a UDP payload that is HEPv3 (`HEP3`/`EEP3` with a
//!   matching length) or a plausible HEPv1/v2 header becomes [`Item::Hep`].
//!
//! # Timestamps and frames
//!
//! `ts_micros` is microseconds since the Unix epoch. A message reassembled from
//! several TCP segments or IP fragments takes the timestamp and frame number of
//! the **frame that completed it**, which is where Wireshark shows it.
//!
//! # Bad input
//!
//! Nothing panics on any input. A frame that cannot be decoded, or carries no
//! SIP, is counted in [`Stats::skipped`] under a [`SkipReason`] and skipped; an
//! unreadable file header is an [`Error`]. A corrupt block in the middle of the
//! file ends the iteration with one `Err` (pcap has no resync marker), keeping
//! what was extracted before it. Every reassembly buffer is bounded
//! ([`Limits`]) and timed out in capture time.
//!
//! # Example
//!
//! ```
//! use callweave_pcap::{CaptureReader, Item, SkipReason, Transport};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/pcap/heplify_sip_ipv4_tcp.pcap");
//! let file = std::io::BufReader::new(std::fs::File::open(path)?);
//! let mut reader = CaptureReader::new(file)?;
//! let mut methods = Vec::new();
//! for item in reader.by_ref() {
//!     if let Item::Sip(msg) = item? {
//!         assert_eq!(msg.transport, Transport::Tcp);
//!         let start = msg.payload.split(|&b| b == b' ').next().unwrap_or_default();
//!         methods.push(String::from_utf8_lossy(start).into_owned());
//!     }
//! }
//! assert_eq!(methods, ["INVITE", "SIP/2.0", "SIP/2.0", "SIP/2.0", "ACK", "BYE", "SIP/2.0"]);
//! let stats = reader.stats();
//! assert_eq!(stats.sip_messages, 7);
//! assert_eq!(stats.skipped.get(SkipReason::NonSipUdp), 68); // the call's RTP and RTCP
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! To decode frames that do not come from a file (a live capture, a fuzzer),
//! use [`Extractor`] directly.

#![forbid(unsafe_code)]

mod defrag;
mod detect;
mod error;
mod extract;
mod reader;
mod sctp;
mod stats;
mod tcp;
mod ws;

use std::net::SocketAddr;

use bytes::Bytes;

pub use error::{Error, ErrorKind};
pub use extract::{Extractor, Frame, Limits, Link};
pub use reader::{CaptureReader, Format};
pub use stats::{SkipCounts, SkipReason, Stats};

/// How a SIP message travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// SCTP.
    Sctp,
    /// WebSocket over TCP (RFC 7118).
    Ws,
}

impl Transport {
    /// The IP protocol number for HEP chunk 0x02 (WebSocket is TCP, as
    /// FreeSWITCH and Kamailio send it).
    #[must_use]
    pub const fn ip_protocol(self) -> u8 {
        match self {
            Self::Udp => 17,
            Self::Tcp | Self::Ws => 6,
            Self::Sctp => 132,
        }
    }

    /// Lowercase name, as in a Via header's transport.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Sctp => "sctp",
            Self::Ws => "ws",
        }
    }
}

/// One SIP message found in the capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipMessage {
    /// Frame number (1-based) of the frame that completed the message.
    pub frame: u64,
    /// Capture time of that frame, microseconds since the Unix epoch.
    pub ts_micros: i64,
    /// Sender address and port (innermost IP header for tunnelled traffic).
    pub src: SocketAddr,
    /// Receiver address and port.
    pub dst: SocketAddr,
    /// Transport the message used.
    pub transport: Transport,
    /// Innermost 802.1Q VLAN id of the Ethernet header that carried the
    /// packet (for QinQ, the customer tag; for ERSPAN, the mirrored VLAN).
    pub vlan: Option<u16>,
    /// The message bytes: start line, headers and body, with no keep-alives.
    pub payload: Bytes,
}

/// A packet that was already HEP on the wire, to be forwarded unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HepDatagram {
    /// Frame number (1-based) of the frame that completed it.
    pub frame: u64,
    /// Capture time of that frame, microseconds since the Unix epoch.
    pub ts_micros: i64,
    /// Sender of the HEP packet (the capture agent).
    pub src: SocketAddr,
    /// Receiver of the HEP packet (the collector).
    pub dst: SocketAddr,
    /// UDP, or TCP for HEP3 framed on a stream.
    pub transport: Transport,
    /// The whole HEP packet.
    pub payload: Bytes,
}

/// What a capture yields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Item {
    /// A SIP message.
    Sip(SipMessage),
    /// A HEP packet captured on its way to a collector.
    Hep(HepDatagram),
}

impl Item {
    /// Frame number of the frame that completed the item.
    #[must_use]
    pub fn frame(&self) -> u64 {
        match self {
            Self::Sip(m) => m.frame,
            Self::Hep(h) => h.frame,
        }
    }

    /// Capture time in microseconds since the Unix epoch.
    #[must_use]
    pub fn ts_micros(&self) -> i64 {
        match self {
            Self::Sip(m) => m.ts_micros,
            Self::Hep(h) => h.ts_micros,
        }
    }
}
