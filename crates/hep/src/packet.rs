//! The decoded packet and its builder.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;

use crate::consts::{family, proto_type};

/// Which HEP version a packet was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HepVersion {
    /// Legacy v1: fixed header, no timestamp.
    V1,
    /// Legacy v2: v1 plus a little-endian time header with a u16 capture id.
    V2,
    /// Chunked v3 (`HEP3` or `EEP3`). [`HepPacket::encode`] always writes v3.
    #[default]
    V3,
}

/// A chunk the decoder does not interpret: a non-zero vendor id, or a generic
/// type that is reserved or unknown. Kept verbatim so a forwarder loses nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawChunk {
    /// Vendor id (0 = generic).
    pub vendor: u16,
    /// Chunk type id.
    pub type_id: u16,
    /// The value, without the 6-byte chunk header.
    pub value: Bytes,
}

/// One HEP packet, whatever version it came in.
///
/// Octet strings are [`Bytes`] slices of the received buffer (no copy), except
/// an inflated compressed payload, which is a fresh buffer. A field that the
/// packet did not carry is `None`; `ts_sec`, `ts_usec` and the ports read 0
/// when absent. When a chunk type appears twice, the last one wins (as in
/// heplify-server).
///
/// HEPv1/v2 packets carry SIP by convention and have no protocol type field:
/// their `proto_type` is `None`; [`HepPacket::is_sip`] accounts for that.
///
/// The struct is `#[non_exhaustive]`: build one with [`HepBuilder`] or
/// [`HepPacket::default`] and set fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HepPacket {
    /// Wire version the packet was decoded from.
    pub version: HepVersion,
    /// Chunk 0x01 / v1-v2 header: address family (2 = IPv4, 10 = IPv6).
    pub ip_family: Option<u8>,
    /// Chunk 0x02 / v1-v2 header: IP protocol id (see [`ip_proto`](crate::ip_proto)).
    pub ip_proto: Option<u8>,
    /// Chunk 0x03 or 0x05: source address.
    pub src_ip: Option<IpAddr>,
    /// Chunk 0x04 or 0x06: destination address.
    pub dst_ip: Option<IpAddr>,
    /// Chunk 0x07: source port (0 when absent; HEPGEN sends 0 for logs and RTCP).
    pub src_port: u16,
    /// Chunk 0x08: destination port.
    pub dst_port: u16,
    /// Chunk 0x09: capture time, seconds since the epoch.
    pub ts_sec: u32,
    /// Chunk 0x0a: capture time, microseconds part.
    pub ts_usec: u32,
    /// Chunk 0x0b: protocol (payload) type, see [`proto_type`](crate::proto_type).
    pub proto_type: Option<u8>,
    /// Chunk 0x0c (u32) or the v2 time header (u16): capture agent id.
    pub capture_id: Option<u32>,
    /// Chunk 0x0e: authentication key. May be present and empty.
    pub auth_key: Option<Bytes>,
    /// Chunk 0x0f, or 0x10 inflated: the captured message. Never empty after decode.
    pub payload: Bytes,
    /// Whether the payload came from (decode) or goes to (encode) the
    /// compressed chunk 0x10 instead of 0x0f.
    pub compressed: bool,
    /// Chunk 0x11: correlation id, usually the Call-ID of the related dialog.
    pub correlation_id: Option<Bytes>,
    /// Chunk 0x13: capture node name.
    pub node_name: Option<Bytes>,
    /// Chunks that SIP capture agents rarely send (keep-alive, VLAN, MACs,
    /// QoS, tags), boxed so the common packet stays small and cheap to move.
    /// `None` when the packet carried none of them.
    pub extras: Option<Box<HepExtras>>,
    /// Vendor and unknown generic chunks, in wire order.
    pub extra_chunks: Vec<RawChunk>,
}

/// The rarely sent generic chunks of a [`HepPacket`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HepExtras {
    /// Chunk 0x0d: keep-alive timer in seconds.
    pub keep_alive: Option<u16>,
    /// Chunk 0x12: VLAN id.
    pub vlan_id: Option<u16>,
    /// Chunk 0x14: source MAC as a u64.
    pub src_mac: Option<u64>,
    /// Chunk 0x15: destination MAC as a u64.
    pub dst_mac: Option<u64>,
    /// Chunk 0x16: Ethernet type.
    pub eth_type: Option<u16>,
    /// Chunk 0x17: TCP flags.
    pub tcp_flags: Option<u8>,
    /// Chunk 0x18: IP TOS.
    pub ip_tos: Option<u8>,
    /// Chunk 0x20: MOS value.
    pub mos: Option<u16>,
    /// Chunk 0x21: R-factor.
    pub r_factor: Option<u16>,
    /// Chunk 0x22: geo location.
    pub geo_location: Option<Bytes>,
    /// Chunk 0x23: jitter.
    pub jitter: Option<u32>,
    /// Chunk 0x24: transaction type ("call", "registration").
    pub transaction_type: Option<Bytes>,
    /// Chunk 0x25: payload JSON keys.
    pub payload_json_keys: Option<Bytes>,
    /// Chunk 0x26: tag values.
    pub tag_values: Option<Bytes>,
    /// Chunk 0x27: tag type.
    pub tag_type: Option<u16>,
    /// Chunk 0x28: event type.
    pub event_type: Option<u16>,
    /// Chunk 0x29: group id.
    pub group_id: Option<Bytes>,
}

impl HepPacket {
    /// The rare chunks, allocating an empty set on first use.
    pub fn extras_mut(&mut self) -> &mut HepExtras {
        self.extras.get_or_insert_default()
    }

    /// Capture time in microseconds since the epoch.
    pub fn timestamp_micros(&self) -> i64 {
        i64::from(self.ts_sec) * 1_000_000 + i64::from(self.ts_usec)
    }

    /// Source address and port, if the source address is known.
    pub fn src_addr(&self) -> Option<SocketAddr> {
        self.src_ip.map(|ip| SocketAddr::new(ip, self.src_port))
    }

    /// Destination address and port, if the destination address is known.
    pub fn dst_addr(&self) -> Option<SocketAddr> {
        self.dst_ip.map(|ip| SocketAddr::new(ip, self.dst_port))
    }

    /// Whether the payload is a SIP message: protocol type 1, or a HEPv1/v2
    /// packet, which only ever carries SIP.
    pub fn is_sip(&self) -> bool {
        match self.proto_type {
            Some(t) => t == proto_type::SIP,
            None => self.version != HepVersion::V3,
        }
    }
}

/// Builds a [`HepPacket`] for encoding: a captured message with its endpoints,
/// time and capture metadata.
///
/// ```
/// use callweave_hep::{HepBuilder, ip_proto};
///
/// let packet = HepBuilder::sip("OPTIONS sip:a@b SIP/2.0\r\n\r\n")
///     .src("10.0.0.1:5060".parse().unwrap())
///     .dst("[2001:db8::2]:5080".parse().unwrap())
///     .ip_proto(ip_proto::UDP)
///     .timestamp(1_700_000_000, 250_000)
///     .capture_id(200)
///     .auth_key("myHep")
///     .build();
/// assert_eq!(packet.timestamp_micros(), 1_700_000_000_250_000);
/// assert_eq!(packet.ip_family, Some(2));
/// ```
#[derive(Debug, Clone)]
pub struct HepBuilder {
    packet: HepPacket,
}

impl HepBuilder {
    /// A packet of the given protocol type (see [`proto_type`](crate::proto_type))
    /// carrying `payload`, sent over UDP, time 0, no addresses yet.
    pub fn new(proto_type: u8, payload: impl Into<Bytes>) -> Self {
        Self {
            packet: HepPacket {
                version: HepVersion::V3,
                ip_proto: Some(crate::ip_proto::UDP),
                proto_type: Some(proto_type),
                payload: payload.into(),
                ..HepPacket::default()
            },
        }
    }

    /// A SIP message (protocol type 1).
    pub fn sip(payload: impl Into<Bytes>) -> Self {
        Self::new(proto_type::SIP, payload)
    }

    /// Source address and port. Also sets the address family from the source
    /// address unless it was set already.
    pub fn src(mut self, addr: SocketAddr) -> Self {
        self.packet.src_ip = Some(addr.ip());
        self.packet.src_port = addr.port();
        self.packet.ip_family.get_or_insert(family_of(addr.ip()));
        self
    }

    /// Destination address and port. Sets the address family if still unset.
    pub fn dst(mut self, addr: SocketAddr) -> Self {
        self.packet.dst_ip = Some(addr.ip());
        self.packet.dst_port = addr.port();
        self.packet.ip_family.get_or_insert(family_of(addr.ip()));
        self
    }

    /// Transport protocol id (see [`ip_proto`](crate::ip_proto)); UDP by default.
    pub fn ip_proto(mut self, proto: u8) -> Self {
        self.packet.ip_proto = Some(proto);
        self
    }

    /// Capture time as seconds and microseconds since the epoch.
    pub fn timestamp(mut self, sec: u32, usec: u32) -> Self {
        self.packet.ts_sec = sec;
        self.packet.ts_usec = usec;
        self
    }

    /// Capture time in microseconds since the epoch; clamped to what u32
    /// seconds can hold.
    pub fn timestamp_micros(self, micros: i64) -> Self {
        let clamped = micros.clamp(0, i64::from(u32::MAX) * 1_000_000 + 999_999);
        let sec = u32::try_from(clamped / 1_000_000).unwrap_or(u32::MAX);
        let usec = u32::try_from(clamped % 1_000_000).unwrap_or(0);
        self.timestamp(sec, usec)
    }

    /// Capture agent id (FreeSWITCH's default is 200).
    pub fn capture_id(mut self, id: u32) -> Self {
        self.packet.capture_id = Some(id);
        self
    }

    /// Authentication key (chunk 0x0e).
    pub fn auth_key(mut self, key: impl Into<Bytes>) -> Self {
        self.packet.auth_key = Some(key.into());
        self
    }

    /// Capture node name (chunk 0x13).
    pub fn node_name(mut self, name: impl Into<Bytes>) -> Self {
        self.packet.node_name = Some(name.into());
        self
    }

    /// Correlation id (chunk 0x11), usually the Call-ID of the related dialog.
    pub fn correlation_id(mut self, id: impl Into<Bytes>) -> Self {
        self.packet.correlation_id = Some(id.into());
        self
    }

    /// Send the payload zlib-compressed in chunk 0x10.
    pub fn compressed(mut self, compressed: bool) -> Self {
        self.packet.compressed = compressed;
        self
    }

    /// The finished packet; set any other field on it directly.
    pub fn build(self) -> HepPacket {
        self.packet
    }
}

fn family_of(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => family::INET,
        IpAddr::V6(_) => family::INET6,
    }
}
