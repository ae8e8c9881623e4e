//! Records: one observed thing (a SIP message, an ESL event, a log line) with the
//! time it was seen and the node that saw it.
//!
//! Design choices, so producers (hep/sip, esl, fslog) and consumers (store, loki,
//! agent) agree:
//!
//! - **Time** is [`TsMicros`], a plain `i64` of microseconds since the Unix epoch
//!   (UTC). FreeSWITCH's `Event-Date-Timestamp` is already in µs; HEP gives
//!   seconds + microseconds. A plain integer keeps arithmetic and serialisation
//!   trivial; the field name (`ts_micros`) carries the unit.
//! - **Shape**: [`Record`] is a common header (`ts_micros`, `node`) plus a
//!   [`RecordKind`] enum with one variant per source. Consumers that only need
//!   time, node and identifiers never match on the kind.
//! - **Cheap clones**: the big parts (raw SIP text, the ESL header map, log text,
//!   the node name) are `Arc`s, so cloning a record for the index and for Loki
//!   copies a few small strings, not the message.
//! - **Identifiers** are typed ([`CallId`], [`ChannelUuid`], [`CorrelationId`]);
//!   they serialise as plain strings (`serde(transparent)`).
//! - An empty identifier string means "absent"; the correlator ignores it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// Microseconds since the Unix epoch (UTC).
pub type TsMicros = i64;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub CompactString);

        impl $name {
            /// Wraps a string (kept inline up to 24 bytes).
            pub fn new(s: impl Into<CompactString>) -> Self {
                Self(s.into())
            }

            /// The identifier as written on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// True for the empty string, which the correlator treats as "absent".
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.into())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s.into())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A SIP dialog's Call-ID, exactly as in the `Call-ID`/`i` header.
    CallId
);
string_id!(
    /// A FreeSWITCH channel UUID (`Unique-ID`), e.g. `d9e73608-5048-4523-aded-4dc2c3f91498`.
    ChannelUuid
);
string_id!(
    /// An opaque correlation value, e.g. the HEP chunk 0x0011. By convention
    /// (Kamailio siptrace, HEPGEN, heplify) it names another dialog's Call-ID, and
    /// the correlator treats it as one.
    CorrelationId
);

/// One observed thing: when, where, and what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// When it was seen, µs since the Unix epoch. For SIP the capture time, for ESL
    /// `Event-Date-Timestamp`, for logs the line's timestamp (or the previous
    /// line's, for lines without one).
    pub ts_micros: TsMicros,
    /// The node that saw it (agent `node.name`).
    pub node: Arc<str>,
    /// The source-specific content.
    pub kind: RecordKind,
}

/// The source-specific part of a [`Record`].
///
/// Serialised internally tagged: `{"source": "sip", …the record's fields}`.
/// Deserialising expects `source` first, which is how it is serialised: the
/// record then streams into its type. (serde's derived form for internally
/// tagged enums buffers every value first, whatever the order, which made
/// reading records back from the index twice as slow.)
///
/// The SIP variant is the largest (its SDP summary is held inline) and the
/// commonest: boxing it would cost an allocation per message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "source", rename_all = "lowercase")]
#[allow(clippy::large_enum_variant)]
pub enum RecordKind {
    /// A SIP message (from HEP or pcap replay).
    Sip(SipRecord),
    /// A FreeSWITCH ESL event.
    Channel(ChannelRecord),
    /// A FreeSWITCH log line (with its continuation lines).
    Log(LogRecord),
}

impl<'de> Deserialize<'de> for RecordKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RecordKindVisitor)
    }
}

struct RecordKindVisitor;

impl<'de> serde::de::Visitor<'de> for RecordKindVisitor {
    type Value = RecordKind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record kind: a map whose first entry is \"source\"")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RecordKind, A::Error> {
        use serde::de::Error as _;
        use serde::de::value::MapAccessDeserializer;
        const SOURCES: &[&str] = &["sip", "channel", "log"];
        let key: Option<std::borrow::Cow<'de, str>> = map.next_key()?;
        if key.as_deref() != Some("source") {
            return Err(A::Error::custom(
                "a record kind must start with its \"source\" tag",
            ));
        }
        let source: std::borrow::Cow<'de, str> = map.next_value()?;
        let rest = MapAccessDeserializer::new(map);
        match &*source {
            "sip" => SipRecord::deserialize(rest).map(RecordKind::Sip),
            "channel" => ChannelRecord::deserialize(rest).map(RecordKind::Channel),
            "log" => LogRecord::deserialize(rest).map(RecordKind::Log),
            other => Err(A::Error::unknown_variant(other, SOURCES)),
        }
    }
}

impl Record {
    /// Builds a record.
    pub fn new(ts_micros: TsMicros, node: impl Into<Arc<str>>, kind: RecordKind) -> Self {
        Self {
            ts_micros,
            node: node.into(),
            kind,
        }
    }

    /// The short source name used in labels: `sip`, `esl` or `log`.
    pub fn source(&self) -> &'static str {
        match self.kind {
            RecordKind::Sip(_) => "sip",
            RecordKind::Channel(_) => "esl",
            RecordKind::Log(_) => "log",
        }
    }

    /// Every non-empty identifier this record carries, each once per mention
    /// (duplicates possible). Useful for indexing.
    pub fn identifiers(&self) -> Vec<Ident> {
        let mut out = Vec::new();
        self.for_each_identifier(|kind, id| {
            out.push(match kind {
                IdentKind::Call => Ident::Call(CallId::from(id)),
                IdentKind::Channel => Ident::Channel(ChannelUuid::from(id)),
            });
        });
        out
    }

    /// Calls `f` with every non-empty identifier this record carries, borrowed,
    /// in the order of [`Record::identifiers`] (duplicates possible): the index
    /// writes them into a document without an owned copy of each.
    pub fn for_each_identifier<'a>(&'a self, mut f: impl FnMut(IdentKind, &'a str)) {
        let mut call = |c: &'a str| {
            if !c.is_empty() {
                f(IdentKind::Call, c);
            }
        };
        match &self.kind {
            RecordKind::Sip(s) => {
                call(s.call_id.as_str());
                if let Some(c) = &s.correlation {
                    call(c.as_str());
                }
                if let Some(c) = &s.hep_correlation {
                    call(c.as_str());
                }
            }
            RecordKind::Channel(c) => {
                if let Some(id) = &c.sip_call_id {
                    call(id.as_str());
                }
                for u in [
                    &c.unique_id,
                    &c.other_leg_unique_id,
                    &c.channel_call_uuid,
                    &c.bridge_a,
                    &c.bridge_b,
                ]
                .into_iter()
                .flatten()
                {
                    if !u.is_empty() {
                        f(IdentKind::Channel, u.as_str());
                    }
                }
            }
            RecordKind::Log(l) => {
                if let Some(id) = &l.call_id_hint {
                    call(id.as_str());
                }
                for u in [&l.uuid, &l.peer_uuid].into_iter().flatten() {
                    if !u.is_empty() {
                        f(IdentKind::Channel, u.as_str());
                    }
                }
            }
        }
    }
}

/// Which kind of identifier a borrowed one is ([`Record::for_each_identifier`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentKind {
    /// A SIP Call-ID (or a correlation value naming one).
    Call,
    /// A FreeSWITCH channel UUID.
    Channel,
}

/// Any identifier a call can be found by.
///
/// Correlation values (X-CID header, HEP 0x11) name Call-IDs, so they are
/// [`Ident::Call`] too: looking up a correlation id is looking up a Call-ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "lowercase")]
pub enum Ident {
    /// A SIP Call-ID.
    Call(CallId),
    /// A FreeSWITCH channel UUID.
    Channel(ChannelUuid),
}

impl Ident {
    /// Which kind of identifier this is.
    pub fn kind(&self) -> IdentKind {
        match self {
            Ident::Call(_) => IdentKind::Call,
            Ident::Channel(_) => IdentKind::Channel,
        }
    }

    /// The identifier's text.
    pub fn as_str(&self) -> &str {
        match self {
            Ident::Call(c) => c.as_str(),
            Ident::Channel(u) => u.as_str(),
        }
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ident::Call(c) => write!(f, "call-id:{c}"),
            Ident::Channel(u) => write!(f, "uuid:{u}"),
        }
    }
}

impl From<CallId> for Ident {
    fn from(c: CallId) -> Self {
        Ident::Call(c)
    }
}

impl From<ChannelUuid> for Ident {
    fn from(u: ChannelUuid) -> Self {
        Ident::Channel(u)
    }
}

/// SIP transport, as far as the capture tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// UDP (IP proto 17).
    Udp,
    /// TCP (IP proto 6).
    Tcp,
    /// TLS (sofia reports IP proto 22 for it).
    Tls,
    /// SCTP (IP proto 132).
    Sctp,
    /// WebSocket.
    Ws,
    /// Secure WebSocket.
    Wss,
    /// Anything else: the IP protocol number as captured.
    Other(u8),
}

impl Transport {
    /// Maps a HEP `ip proto` chunk value (sofia uses 22 for TLS).
    pub fn from_ip_proto(p: u8) -> Self {
        match p {
            17 => Transport::Udp,
            6 => Transport::Tcp,
            22 => Transport::Tls,
            132 => Transport::Sctp,
            other => Transport::Other(other),
        }
    }
}

/// A socket address as text, built on the stack: the `Display` form
/// (`10.0.0.5:5060`, `[2001:db8::1]:5060`), with an IPv4 address written
/// without `core::fmt`, which cost about 1,500 instructions an address (two
/// per SIP record for the index, two more for its Loki entry).
#[derive(Debug, Clone, Copy)]
pub struct AddrText {
    buf: [u8; AddrText::MAX],
    len: usize,
}

impl AddrText {
    /// The longest `Display` form of a socket address:
    /// `[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535`.
    const MAX: usize = 58;

    /// The text of `addr`.
    pub fn new(addr: &SocketAddr) -> Self {
        use std::io::Write as _;
        let mut buf = [0u8; Self::MAX];
        let mut w = &mut buf[..];
        // Writing into the buffer cannot fail: it holds the longest address.
        let _ = match addr {
            SocketAddr::V4(v4) => (|| -> std::io::Result<()> {
                let mut num = itoa::Buffer::new();
                for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                    if i > 0 {
                        w.write_all(b".")?;
                    }
                    w.write_all(num.format(octet).as_bytes())?;
                }
                w.write_all(b":")?;
                w.write_all(num.format(v4.port()).as_bytes())
            })(),
            SocketAddr::V6(_) => write!(w, "{addr}"),
        };
        let len = Self::MAX - w.len();
        Self { buf, len }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written.
        self.buf
            .get(..self.len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

/// Serialises a socket address as its `Display` form, which is what serde
/// writes for human-readable formats, through [`AddrText`].
fn serialize_addr<S: serde::Serializer>(addr: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
    if !s.is_human_readable() {
        return addr.serialize(s);
    }
    s.serialize_str(AddrText::new(addr).as_str())
}

/// A From/To header value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameAddr {
    /// Display name, unquoted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<CompactString>,
    /// The URI's user part (the number, usually).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<CompactString>,
    /// The full URI, e.g. `sip:1000@127.0.0.1:5090`.
    pub uri: CompactString,
    /// The `tag` parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<CompactString>,
}

/// A CSeq header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CSeq {
    /// Sequence number.
    pub seq: u32,
    /// Method, e.g. `INVITE` (as written).
    pub method: CompactString,
}

/// A short summary of an SDP body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdpSummary {
    /// Session-level `c=` address (as written: IP or host).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<CompactString>,
    /// One entry per `m=` line (one held inline: most offers are audio only).
    pub media: SmallVec<[SdpMedia; 1]>,
}

/// One SDP `m=` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdpMedia {
    /// `audio`, `video`, `image`, …
    pub kind: CompactString,
    /// Media port (0 = disabled stream).
    pub port: u16,
    /// Codec names from `a=rtpmap` (or the payload numbers when unmapped), e.g.
    /// `PCMU/8000`; three held inline, what nine `m=` lines in ten list in the
    /// real captures the tests use.
    pub codecs: SmallVec<[CompactString; 3]>,
}

/// One SIP message.
///
/// A request has `method` and `request_uri`; a response has `status` and `reason`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SipRecord {
    /// Sender address.
    #[serde(serialize_with = "serialize_addr")]
    pub src: SocketAddr,
    /// Receiver address.
    #[serde(serialize_with = "serialize_addr")]
    pub dst: SocketAddr,
    /// Transport.
    pub transport: Transport,
    /// Request method (`INVITE`, …); `None` for responses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<CompactString>,
    /// Request-URI; `None` for responses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_uri: Option<CompactString>,
    /// Response status code; `None` for requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Response reason phrase; `None` for requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<CompactString>,
    /// The Call-ID (empty when the message had none).
    pub call_id: CallId,
    /// From header.
    pub from: NameAddr,
    /// To header.
    pub to: NameAddr,
    /// CSeq header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cseq: Option<CSeq>,
    /// Branch parameter of the top Via.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via_branch: Option<CompactString>,
    /// User-Agent (or Server, for responses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<CompactString>,
    /// Reason header (e.g. `Q.850;cause=16;text="NORMAL_CLEARING"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_header: Option<CompactString>,
    /// P-Asserted-Identity header value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pai: Option<CompactString>,
    /// Value of the first configured correlation header present (`X-CID`, …):
    /// the Call-ID of a related dialog, usually the A-leg.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation: Option<CallId>,
    /// HEP chunk 0x0011, when the capture agent sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hep_correlation: Option<CorrelationId>,
    /// HEP capture agent id (chunk 0x000c).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_agent_id: Option<u32>,
    /// SDP summary when the message had an SDP body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sdp: Option<SdpSummary>,
    /// The whole SIP message, lossy UTF-8. Left out of the JSON when empty (the
    /// index stores a message beside its record's JSON, not in it).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub raw: Arc<str>,
    /// True when the header fields above are exactly what
    /// [`SipRecord::apply_message`] derives from `raw` (the listeners' records,
    /// when the message is valid UTF-8). The index then stores the message and
    /// only what it cannot say (addresses, transport, the correlation value,
    /// HEP chunks), and derives the rest again when it reads the record. Not
    /// serialised.
    #[serde(skip)]
    pub fields_from_raw: bool,
}

impl SipRecord {
    /// A minimal record: addresses, transport and Call-ID set, everything else empty.
    /// Producers fill in the rest; tests use it to stay short.
    pub fn new(src: SocketAddr, dst: SocketAddr, transport: Transport, call_id: CallId) -> Self {
        Self {
            src,
            dst,
            transport,
            method: None,
            request_uri: None,
            status: None,
            reason: None,
            call_id,
            from: NameAddr::default(),
            to: NameAddr::default(),
            cseq: None,
            via_branch: None,
            user_agent: None,
            reason_header: None,
            pai: None,
            correlation: None,
            hep_correlation: None,
            capture_agent_id: None,
            sdp: None,
            raw: Arc::default(),
            fields_from_raw: false,
        }
    }

    /// True for requests.
    pub fn is_request(&self) -> bool {
        self.method.is_some()
    }

    /// The method this message is about: the request method, or for a response
    /// the CSeq method.
    pub fn cseq_method(&self) -> Option<&str> {
        self.cseq
            .as_ref()
            .map(|c| c.method.as_str())
            .or(self.method.as_deref())
    }
}

/// Channel direction as FreeSWITCH reports it (`Call-Direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Into the switch (the A-leg of a B2BUA call).
    Inbound,
    /// Out of the switch (a B-leg).
    Outbound,
}

impl Direction {
    /// Parses `inbound` / `outbound` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("inbound") {
            Some(Direction::Inbound)
        } else if s.eq_ignore_ascii_case("outbound") {
            Some(Direction::Outbound)
        } else {
            None
        }
    }
}

/// Media quality from FreeSWITCH's `variable_rtp_audio_in_*` variables (present from
/// CHANNEL_HANGUP_COMPLETE on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// `rtp_audio_in_mos`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mos: Option<f64>,
    /// `rtp_audio_in_jitter_min_variance`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_min_variance: Option<f64>,
    /// `rtp_audio_in_jitter_max_variance`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_max_variance: Option<f64>,
    /// `rtp_audio_in_jitter_loss_rate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_rate: Option<f64>,
    /// `rtp_audio_in_quality_percentage` (R-factor, %).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r_factor: Option<f64>,
}

impl Quality {
    /// True when no value is known.
    pub fn is_empty(&self) -> bool {
        self.mos.is_none()
            && self.jitter_min_variance.is_none()
            && self.jitter_max_variance.is_none()
            && self.loss_rate.is_none()
            && self.r_factor.is_none()
    }
}

/// One FreeSWITCH ESL event.
///
/// The typed fields are the ones correlation and summaries need; `headers` keeps
/// every header (decoded, in wire order) for shipping.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelRecord {
    /// `Event-Name`, e.g. `CHANNEL_ANSWER`.
    pub event_name: String,
    /// `Event-Subclass` for CUSTOM events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_subclass: Option<String>,
    /// `Event-Sequence`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// `Unique-ID`: this channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<ChannelUuid>,
    /// `Other-Leg-Unique-ID`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_leg_unique_id: Option<ChannelUuid>,
    /// `Channel-Call-UUID`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_call_uuid: Option<ChannelUuid>,
    /// `Bridge-A-Unique-ID` (CHANNEL_BRIDGE / UNBRIDGE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridge_a: Option<ChannelUuid>,
    /// `Bridge-B-Unique-ID` (CHANNEL_BRIDGE / UNBRIDGE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridge_b: Option<ChannelUuid>,
    /// `variable_sip_call_id`: this channel's SIP dialog.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip_call_id: Option<CallId>,
    /// `Call-Direction`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// `Channel-Name`, e.g. `sofia/b2bua/sipp@127.0.0.1:5072`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_name: Option<String>,
    /// `Caller-Caller-ID-Number`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_number: Option<String>,
    /// `Caller-Destination-Number`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_number: Option<String>,
    /// `Answer-State`: `ringing`, `early`, `answered`, `hangup`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_state: Option<String>,
    /// `Hangup-Cause` (or `variable_hangup_cause`), e.g. `USER_BUSY`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hangup_cause: Option<String>,
    /// `variable_sip_term_status`, e.g. 486.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip_term_status: Option<u16>,
    /// RTP quality variables (left out of the JSON when none is known).
    #[serde(default, skip_serializing_if = "Quality::is_empty")]
    pub quality: Quality,
    /// `Core-UUID`: the FreeSWITCH process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core_uuid: Option<String>,
    /// `FreeSWITCH-Hostname`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Every header, decoded, in wire order. Multi-valued headers are joined
    /// by the producer.
    pub headers: Arc<[(String, String)]>,
}

impl ChannelRecord {
    /// A header's value by exact name (linear scan; for occasional use).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// FreeSWITCH log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    /// 0
    Console,
    /// 1
    Alert,
    /// 2
    Crit,
    /// 3
    Err,
    /// 4
    Warning,
    /// 5
    Notice,
    /// 6
    Info,
    /// 7 (DEBUG1–10 print as DEBUG)
    Debug,
}

impl LogLevel {
    /// Parses the bracketed name (`ERR`, `WARNING`, …, case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        const ALL: [(&str, LogLevel); 8] = [
            ("CONSOLE", LogLevel::Console),
            ("ALERT", LogLevel::Alert),
            ("CRIT", LogLevel::Crit),
            ("ERR", LogLevel::Err),
            ("WARNING", LogLevel::Warning),
            ("NOTICE", LogLevel::Notice),
            ("INFO", LogLevel::Info),
            ("DEBUG", LogLevel::Debug),
        ];
        ALL.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, l)| *l)
    }

    /// The name as FreeSWITCH prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Console => "CONSOLE",
            LogLevel::Alert => "ALERT",
            LogLevel::Crit => "CRIT",
            LogLevel::Err => "ERR",
            LogLevel::Warning => "WARNING",
            LogLevel::Notice => "NOTICE",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
        }
    }
}

/// One FreeSWITCH log line, with its continuation lines folded into `text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Level; `None` for lines without one (LOG_CLEAN output).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<LogLevel>,
    /// Source file basename, e.g. `sofia.c`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Source line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The channel UUID prefix (or ESL `User-Data`), when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<ChannelUuid>,
    /// The message, continuation lines joined with `\n` (without UUID prefixes).
    pub text: Arc<str>,
    /// Call-ID named by `receiving invite from … call-id: X` or
    /// `sending invite call-id: X`: this line's channel uses SIP dialog X.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id_hint: Option<CallId>,
    /// `Originate Resulted in Success: [...] Peer UUID: U`: the channel bridged to U.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_uuid: Option<ChannelUuid>,
    /// The channel's direction when the line tells it: `receiving invite` is an
    /// inbound channel, `sending invite` an outbound one. Lets a log alone give
    /// legs their A/B roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
}

impl LogRecord {
    /// A record with just the text; the producer fills in the rest.
    pub fn new(text: impl Into<Arc<str>>) -> Self {
        Self {
            level: None,
            file: None,
            line: None,
            uuid: None,
            text: text.into(),
            call_id_hint: None,
            peer_uuid: None,
            direction: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialise_as_plain_strings() {
        let c = CallId::from("1-4274@127.0.0.1");
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"1-4274@127.0.0.1\"");
        assert_eq!(c.to_string(), "1-4274@127.0.0.1");
        let back: CallId = serde_json::from_str("\"x\"").unwrap();
        assert_eq!(back, CallId::from("x"));
    }

    #[test]
    fn record_round_trips_through_json() {
        let mut sip = SipRecord::new(
            "127.0.0.1:5072".parse().unwrap(),
            "127.0.0.1:5090".parse().unwrap(),
            Transport::Udp,
            CallId::from("1-4274@127.0.0.1"),
        );
        sip.method = Some("INVITE".into());
        sip.raw = Arc::from("INVITE sip:1000@127.0.0.1:5090 SIP/2.0\r\n");
        let rec = Record::new(1_795_663_470_536_275, "fs-1", RecordKind::Sip(sip));
        let json = serde_json::to_string(&rec).unwrap();
        let back: Record = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rec);
        assert_eq!(rec.source(), "sip");

        let ch = ChannelRecord {
            event_name: "CHANNEL_CREATE".into(),
            unique_id: Some("d9e73608-5048-4523-aded-4dc2c3f91498".into()),
            headers: vec![("Event-Name".to_owned(), "CHANNEL_CREATE".to_owned())].into(),
            ..Default::default()
        };
        let rec = Record::new(1, "fs-1", RecordKind::Channel(ch));
        let json = serde_json::to_string(&rec).unwrap();
        assert!(json.contains(r#""kind":{"source":"channel","#), "{json}");
        let back: Record = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rec);

        let mut log = LogRecord::new("New Channel sofia/internal/1000@127.0.0.1");
        log.uuid = Some("d9e73608-5048-4523-aded-4dc2c3f91498".into());
        let rec = Record::new(2, "fs-1", RecordKind::Log(log));
        let back: Record = serde_json::from_str(&serde_json::to_string(&rec).unwrap()).unwrap();
        assert_eq!(back, rec);
    }

    #[test]
    fn absent_values_are_left_out_and_read_back() {
        let mut sip = SipRecord::new(
            "10.0.0.5:5060".parse().unwrap(),
            "[2001:db8::1]:5080".parse().unwrap(),
            Transport::Tcp,
            CallId::from("a@b"),
        );
        sip.status = Some(486);
        let rec = Record::new(7, "fs-1", RecordKind::Sip(sip));
        let json = serde_json::to_string(&rec).unwrap();
        assert_eq!(
            json,
            r#"{"ts_micros":7,"node":"fs-1","kind":{"source":"sip","src":"10.0.0.5:5060","dst":"[2001:db8::1]:5080","transport":"tcp","status":486,"call_id":"a@b","from":{"uri":""},"to":{"uri":""}}}"#
        );
        let back: Record = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rec);

        // As records were written before: every absent value a `null`, an empty
        // message, an empty quality.
        let before = r#"{"ts_micros":7,"node":"fs-1","kind":{"source":"sip","src":"10.0.0.5:5060","dst":"[2001:db8::1]:5080","transport":"tcp","method":null,"request_uri":null,"status":486,"reason":null,"call_id":"a@b","from":{"display":null,"user":null,"uri":"","tag":null},"to":{"display":null,"user":null,"uri":"","tag":null},"cseq":null,"via_branch":null,"user_agent":null,"reason_header":null,"pai":null,"correlation":null,"hep_correlation":null,"capture_agent_id":null,"sdp":null,"raw":""}}"#;
        assert_eq!(serde_json::from_str::<Record>(before).unwrap(), rec);
        let before = r#"{"ts_micros":1,"node":"n","kind":{"source":"channel","event_name":"CHANNEL_CREATE","event_subclass":null,"sequence":null,"unique_id":null,"other_leg_unique_id":null,"channel_call_uuid":null,"bridge_a":null,"bridge_b":null,"sip_call_id":null,"direction":null,"channel_name":null,"caller_number":null,"destination_number":null,"answer_state":null,"hangup_cause":null,"sip_term_status":null,"quality":{"mos":null,"jitter_min_variance":null,"jitter_max_variance":null,"loss_rate":null,"r_factor":null},"core_uuid":null,"hostname":null,"headers":[]}}"#;
        let ch = ChannelRecord {
            event_name: "CHANNEL_CREATE".into(),
            ..Default::default()
        };
        let rec = Record::new(1, "n", RecordKind::Channel(ch));
        assert_eq!(serde_json::from_str::<Record>(before).unwrap(), rec);
        assert_eq!(
            serde_json::to_string(&rec).unwrap(),
            r#"{"ts_micros":1,"node":"n","kind":{"source":"channel","event_name":"CHANNEL_CREATE","headers":[]}}"#
        );
    }

    #[test]
    fn addresses_serialise_as_displayed() {
        for text in [
            "0.0.0.0:0",
            "1.2.3.4:5",
            "10.0.0.5:5060",
            "127.0.0.1:65535",
            "255.255.255.255:65535",
            "192.168.100.200:10000",
            "[::1]:5060",
            "[2001:db8::1]:5080",
            "[::ffff:10.0.0.5]:5060",
            "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535",
        ] {
            let addr: SocketAddr = text.parse().unwrap();
            assert_eq!(addr.to_string(), text);
            assert_eq!(AddrText::new(&addr).as_str(), text);
            let mut sip = SipRecord::new(addr, addr, Transport::Udp, CallId::from("x"));
            sip.raw = Arc::from("OPTIONS sip:x SIP/2.0\r\n");
            let json = serde_json::to_string(&sip).unwrap();
            assert!(
                json.starts_with(&format!(r#"{{"src":"{text}","dst":"{text}","#)),
                "{json}"
            );
            let back: SipRecord = serde_json::from_str(&json).unwrap();
            assert_eq!(back, sip);
        }
    }

    #[test]
    fn record_kind_json_errors_are_errors() {
        let ok = r#"{"source":"log","text":"x"}"#;
        assert!(matches!(
            serde_json::from_str::<RecordKind>(ok),
            Ok(RecordKind::Log(_))
        ));
        for (bad, says) in [
            (r#"{"text":"x","source":"log"}"#, "must start with"),
            (r#"{"source":"fax","text":"x"}"#, "unknown variant"),
            (r#"{"source":"log"}"#, "missing field"),
            (r#"{"source":7}"#, "expected a string"),
            (r#"[]"#, "a record kind"),
            (r#"{}"#, "must start with"),
        ] {
            let err = serde_json::from_str::<RecordKind>(bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn level_parse_and_transport_map() {
        assert_eq!(LogLevel::parse("warning"), Some(LogLevel::Warning));
        assert_eq!(LogLevel::parse("DEBUG"), Some(LogLevel::Debug));
        assert_eq!(LogLevel::parse("DEBUG1"), None);
        assert_eq!(Transport::from_ip_proto(22), Transport::Tls);
        assert_eq!(Transport::from_ip_proto(99), Transport::Other(99));
        assert_eq!(Direction::parse("Outbound"), Some(Direction::Outbound));
    }
}
