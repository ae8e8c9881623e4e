//! Well-known numbers of the HEP wire format (PROTOCOLS.md §1.2, §1.3).

/// Generic chunk type ids (vendor 0x0000).
pub mod chunk {
    /// Whether a generic (vendor 0) chunk type is one the decoder reads into a
    /// [`HepPacket`](crate::HepPacket) field; others go to `extra_chunks`.
    pub const fn is_known(type_id: u16) -> bool {
        matches!(type_id, 0x01..=0x18 | 0x20..=0x29)
    }

    /// u8 IP family (2 = IPv4, 10 = IPv6).
    pub const IP_FAMILY: u16 = 0x01;
    /// u8 IP protocol id (17 UDP, 6 TCP, 132 SCTP, 22 fake "TLS").
    pub const IP_PROTO: u16 = 0x02;
    /// IPv4 source address.
    pub const SRC_IPV4: u16 = 0x03;
    /// IPv4 destination address.
    pub const DST_IPV4: u16 = 0x04;
    /// IPv6 source address.
    pub const SRC_IPV6: u16 = 0x05;
    /// IPv6 destination address.
    pub const DST_IPV6: u16 = 0x06;
    /// u16 source port.
    pub const SRC_PORT: u16 = 0x07;
    /// u16 destination port.
    pub const DST_PORT: u16 = 0x08;
    /// u32 timestamp, seconds since the epoch.
    pub const TS_SEC: u16 = 0x09;
    /// u32 timestamp, microseconds part.
    pub const TS_USEC: u16 = 0x0a;
    /// u8 protocol (payload) type, see [`proto_type`](super::proto_type).
    pub const PROTO_TYPE: u16 = 0x0b;
    /// u32 capture agent id.
    pub const CAPTURE_ID: u16 = 0x0c;
    /// u16 keep-alive timer in seconds.
    pub const KEEP_ALIVE: u16 = 0x0d;
    /// Octet string: authentication key (plain text).
    pub const AUTH_KEY: u16 = 0x0e;
    /// Octet string: captured payload.
    pub const PAYLOAD: u16 = 0x0f;
    /// Octet string: compressed captured payload (zlib in practice).
    pub const COMPRESSED_PAYLOAD: u16 = 0x10;
    /// Octet string: correlation id, usually the related SIP Call-ID.
    pub const CORRELATION_ID: u16 = 0x11;
    /// u16 VLAN id.
    pub const VLAN_ID: u16 = 0x12;
    /// Octet string: capture node name.
    pub const NODE_NAME: u16 = 0x13;
    /// u64 source MAC.
    pub const SRC_MAC: u16 = 0x14;
    /// u64 destination MAC.
    pub const DST_MAC: u16 = 0x15;
    /// u16 Ethernet type.
    pub const ETH_TYPE: u16 = 0x16;
    /// u8 TCP flags.
    pub const TCP_FLAGS: u16 = 0x17;
    /// u8 IP TOS.
    pub const IP_TOS: u16 = 0x18;
    /// u16 MOS value.
    pub const MOS: u16 = 0x20;
    /// u16 R-factor.
    pub const R_FACTOR: u16 = 0x21;
    /// Octet string: geo location.
    pub const GEO_LOCATION: u16 = 0x22;
    /// u32 jitter.
    pub const JITTER: u16 = 0x23;
    /// Octet string: transaction type ("call", "registration").
    pub const TRANSACTION_TYPE: u16 = 0x24;
    /// Octet string: payload JSON keys.
    pub const PAYLOAD_JSON_KEYS: u16 = 0x25;
    /// Octet string: tag values.
    pub const TAG_VALUES: u16 = 0x26;
    /// u16 tag type.
    pub const TAG_TYPE: u16 = 0x27;
    /// u16 event type (1 = recording, 2 = recording LI).
    pub const EVENT_TYPE: u16 = 0x28;
    /// Octet string: group id.
    pub const GROUP_ID: u16 = 0x29;
}

/// Protocol type codes carried in chunk 0x0b. Unknown codes stay plain numbers.
pub mod proto_type {
    /// SIP.
    pub const SIP: u8 = 0x01;
    /// XMPP.
    pub const XMPP: u8 = 0x02;
    /// SDP.
    pub const SDP: u8 = 0x03;
    /// RTP.
    pub const RTP: u8 = 0x04;
    /// RTCP as JSON.
    pub const RTCP_JSON: u8 = 0x05;
    /// MGCP.
    pub const MGCP: u8 = 0x06;
    /// JSON/webRTC.
    pub const JSON_WEBRTC: u8 = 0x14;
    /// JSON QoS report.
    pub const QOS_REPORT: u8 = 0x20;
    /// MOS full report JSON ("rtpagent").
    pub const MOS_FULL_REPORT: u8 = 0x22;
    /// MOS short report ("rtcpxr").
    pub const MOS_SHORT_REPORT: u8 = 0x23;
    /// SIP as JSON.
    pub const SIP_JSON: u8 = 0x32;
    /// DNS as JSON.
    pub const DNS_JSON: u8 = 0x35;
    /// JSON QoS report (Kamailio `report_capture`).
    pub const QOS_REPORT_99: u8 = 0x63;
    /// Log line, free text or JSON, with chunk 0x11 = Call-ID (Kamailio `hlog()`, HEPGEN).
    pub const LOG: u8 = 0x64;
}

/// IP protocol ids seen in chunk 0x02 and the HEPv1/v2 header.
pub mod ip_proto {
    /// TCP (also WebSocket from sofia).
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPPROTO_IDP, which FreeSWITCH and Kamailio send to mean TLS.
    pub const TLS: u8 = 22;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

/// Address family values of chunk 0x01 and the HEPv1/v2 header.
pub mod family {
    /// AF_INET.
    pub const INET: u8 = 2;
    /// AF_INET6 on Linux.
    pub const INET6: u8 = 10;
}
