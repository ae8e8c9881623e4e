//! Record → Loki entry mapping: which values become labels (few, bounded), which
//! become structured metadata (the identifiers), and what the line is.

use std::fmt::Write as _;
use std::sync::Arc;

use callweave_core::record::{
    AddrText, ChannelRecord, LogRecord, Record, RecordKind, SipRecord, Transport,
};

use bytes::{Bytes, BytesMut};
use serde::Serialize;
use serde::ser::SerializeMap;
use smallvec::SmallVec;

use crate::proto::{EntryAdapter, LabelPairAdapter, Timestamp};

/// The entry type pushed to Loki (the wire message itself).
pub type Entry = EntryAdapter;

/// The `job` label value of every stream callweave writes.
pub const JOB: &str = "callweave";

/// Structured-metadata names. The identifier ones are what `trace --loki` follows.
pub mod meta {
    /// SIP Call-ID (SIP message, ESL `variable_sip_call_id`, log call-id hint).
    pub const CALL_ID: &str = "call_id";
    /// FreeSWITCH channel UUID.
    pub const UUID: &str = "uuid";
    /// The other leg's channel UUID (Other-Leg-Unique-ID, bridge peer, Channel-Call-UUID).
    pub const OTHER_LEG_UUID: &str = "other_leg_uuid";
    /// The correlator's call key.
    pub const CALL: &str = "call";
    /// A correlation value (X-CID header, HEP 0x11): another dialog's Call-ID.
    pub const CORRELATION: &str = "correlation";
    /// SIP method (for responses, the CSeq method).
    pub const METHOD: &str = "method";
    /// SIP response status code.
    pub const STATUS: &str = "status";
    /// Sender `ip:port`.
    pub const SRC: &str = "src";
    /// Receiver `ip:port`.
    pub const DST: &str = "dst";
    /// CSeq, e.g. `1 INVITE`.
    pub const CSEQ: &str = "cseq";
    /// SIP transport (`udp`, `tcp`, `tls`, …).
    pub const TRANSPORT: &str = "transport";
    /// ESL event name.
    pub const EVENT: &str = "event";
    /// Log level.
    pub const LEVEL: &str = "level";

    /// The metadata names that hold identifiers a trace expands on.
    pub const IDENTIFIERS: [&str; 5] = [CALL_ID, UUID, OTHER_LEG_UUID, CALL, CORRELATION];

    /// Every name callweave writes, plus the one Loki adds (`detected_level`).
    pub const ALL: [&str; 14] = [
        CALL_ID,
        UUID,
        OTHER_LEG_UUID,
        CALL,
        CORRELATION,
        METHOD,
        STATUS,
        SRC,
        DST,
        CSEQ,
        TRANSPORT,
        EVENT,
        LEVEL,
        "detected_level",
    ];
}

/// Longest structured-metadata value kept. Loki caps metadata at 64 KiB per line; a
/// hostile Call-ID must not get a whole line rejected.
pub const MAX_METADATA_VALUE: usize = 1024;

/// A stream: the label set, low-cardinality by construction (node × source).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    /// The `node` label (agent node name).
    pub node: Arc<str>,
    /// The `source` label: `sip`, `esl` or `log`.
    pub source: &'static str,
}

impl StreamKey {
    /// The LogQL stream selector Loki parses: `{job="callweave", node="…", source="…"}`.
    pub fn selector(&self) -> String {
        let node = if self.node.is_empty() {
            "unknown"
        } else {
            &self.node
        };
        let mut s = String::with_capacity(40 + node.len());
        s.push_str("{job=\"");
        s.push_str(JOB);
        s.push_str("\", node=");
        push_quoted(&mut s, node);
        s.push_str(", source=");
        push_quoted(&mut s, self.source);
        s.push('}');
        s
    }
}

/// Appends `value` as a Go/LogQL double-quoted string (what Loki's parser unquotes).
pub fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `value` quoted for a selector or a LogQL label filter.
pub fn quote(value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 2);
    push_quoted(&mut s, value);
    s
}

/// Maps a record (and the correlator's call key, if known) to its stream and entry.
pub fn entry_for(record: &Record, call_key: Option<&str>) -> (StreamKey, Entry) {
    let key = StreamKey {
        node: record.node.clone(),
        source: record.source(),
    };
    let mut md = Metadata::default();
    let line = match &record.kind {
        RecordKind::Sip(s) => sip_entry(s, &mut md),
        RecordKind::Channel(c) => channel_entry(c, &mut md),
        RecordKind::Log(l) => log_entry(l, &mut md),
    };
    if let Some(k) = call_key {
        md.push(meta::CALL, k);
    }
    let entry = EntryAdapter {
        timestamp: Some(Timestamp::from_micros(record.ts_micros)),
        line,
        structured_metadata: md.finish(),
        parsed: Vec::new(),
    };
    (key, entry)
}

/// An entry's metadata as it is built: the values written one after another
/// into one buffer, which the pairs then share (names are static).
#[derive(Default)]
struct Metadata {
    buf: BytesMut,
    /// Names and where their values start, on the stack: a name is there
    /// once, so at most the number of names there are.
    pairs: SmallVec<[(&'static str, usize); meta::ALL.len()]>,
}

impl Metadata {
    /// Adds `name` = `value` unless the value is empty or the name is already
    /// there.
    fn push(&mut self, name: &'static str, value: &str) {
        self.push_with(name, |buf| buf.extend_from_slice(value.as_bytes()));
    }

    /// Adds `name` with the value `write` appends (nothing written: nothing added).
    fn push_with(&mut self, name: &'static str, write: impl FnOnce(&mut BytesMut)) {
        if self.pairs.iter().any(|&(n, _)| n == name) {
            return;
        }
        if self.pairs.is_empty() {
            self.buf.reserve(160);
        }
        let start = self.buf.len();
        write(&mut self.buf);
        let len = self.buf.len() - start;
        if len == 0 {
            return;
        }
        if len > MAX_METADATA_VALUE {
            let end = start + truncated_len(&self.buf[start..], MAX_METADATA_VALUE);
            self.buf.truncate(end);
        }
        self.pairs.push((name, start));
    }

    fn finish(self) -> Vec<LabelPairAdapter> {
        let buf = self.buf.freeze();
        let mut out = Vec::with_capacity(self.pairs.len());
        for (i, &(name, start)) in self.pairs.iter().enumerate() {
            let end = self.pairs.get(i + 1).map_or(buf.len(), |&(_, s)| s);
            out.push(LabelPairAdapter {
                name: Bytes::from_static(name.as_bytes()),
                value: buf.slice(start..end),
            });
        }
        out
    }
}

/// The length of the longest prefix of `value` (UTF-8) at most `max` bytes that
/// ends on a character boundary.
fn truncated_len(value: &[u8], max: usize) -> usize {
    if value.len() <= max {
        return value.len();
    }
    // A UTF-8 continuation byte is 0b10xx_xxxx: back up over them.
    let mut end = max;
    while end > 0 && value.get(end).is_some_and(|&b| b & 0xc0 == 0x80) {
        end -= 1;
    }
    end
}

/// A record's text as a line, sharing its memory.
fn shared_line(text: &Arc<str>) -> Bytes {
    struct Text(Arc<str>);
    impl AsRef<[u8]> for Text {
        fn as_ref(&self) -> &[u8] {
            self.0.as_bytes()
        }
    }
    Bytes::from_owner(Text(text.clone()))
}

fn transport_name(t: Transport) -> std::borrow::Cow<'static, str> {
    match t {
        Transport::Udp => "udp".into(),
        Transport::Tcp => "tcp".into(),
        Transport::Tls => "tls".into(),
        Transport::Sctp => "sctp".into(),
        Transport::Ws => "ws".into(),
        Transport::Wss => "wss".into(),
        Transport::Other(p) => format!("proto-{p}").into(),
    }
}

/// Writes a number's decimal digits.
fn put_number(buf: &mut BytesMut, n: impl itoa::Integer) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn sip_entry(s: &SipRecord, md: &mut Metadata) -> Bytes {
    md.push(meta::CALL_ID, s.call_id.as_str());
    if let Some(c) = &s.correlation {
        md.push(meta::CORRELATION, c.as_str());
    }
    if let Some(c) = &s.hep_correlation {
        md.push(meta::CORRELATION, c.as_str());
    }
    if let Some(m) = s.cseq_method() {
        md.push(meta::METHOD, m);
    }
    if let Some(code) = s.status {
        md.push_with(meta::STATUS, |b| put_number(b, code));
    }
    md.push(meta::SRC, AddrText::new(&s.src).as_str());
    md.push(meta::DST, AddrText::new(&s.dst).as_str());
    if let Some(c) = &s.cseq {
        md.push_with(meta::CSEQ, |b| {
            put_number(b, c.seq);
            b.extend_from_slice(b" ");
            b.extend_from_slice(c.method.as_bytes());
        });
    }
    md.push(meta::TRANSPORT, &transport_name(s.transport));
    shared_line(&s.raw)
}

fn channel_entry(c: &ChannelRecord, md: &mut Metadata) -> Bytes {
    let uuid = c.unique_id.as_ref().map(|u| u.as_str()).unwrap_or("");
    md.push(meta::UUID, uuid);
    // The best "other side" we know, in order of directness.
    let bridge_peer = match (&c.bridge_a, &c.bridge_b) {
        (Some(a), Some(b)) if a.as_str() == uuid => Some(b),
        (Some(a), Some(_)) => Some(a),
        _ => None,
    };
    let call_uuid = c.channel_call_uuid.as_ref().filter(|u| u.as_str() != uuid);
    if let Some(o) = c
        .other_leg_unique_id
        .as_ref()
        .filter(|u| !u.is_empty())
        .or(bridge_peer)
        .or(call_uuid)
    {
        md.push(meta::OTHER_LEG_UUID, o.as_str());
    }
    if let Some(id) = &c.sip_call_id {
        md.push(meta::CALL_ID, id.as_str());
    }
    md.push(meta::EVENT, &c.event_name);
    if let Some(code) = c.sip_term_status {
        md.push_with(meta::STATUS, |b| put_number(b, code));
    }
    Bytes::from(esl_line(c))
}

fn log_entry(l: &LogRecord, md: &mut Metadata) -> Bytes {
    if let Some(u) = &l.uuid {
        md.push(meta::UUID, u.as_str());
    }
    if let Some(c) = &l.call_id_hint {
        md.push(meta::CALL_ID, c.as_str());
    }
    if let Some(p) = &l.peer_uuid {
        md.push(meta::OTHER_LEG_UUID, p.as_str());
    }
    if let Some(level) = l.level {
        md.push(meta::LEVEL, level.as_str());
    }
    shared_line(&l.text)
}

/// The ESL event as one JSON object of its headers, in wire order.
fn esl_line(c: &ChannelRecord) -> String {
    struct Ordered<'a>(&'a [(String, String)]);
    impl Serialize for Ordered<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(self.0.len()))?;
            for (k, v) in self.0 {
                map.serialize_entry(k, v)?;
            }
            map.end()
        }
    }
    let synthetic;
    let headers: &[(String, String)] = if c.headers.is_empty() {
        // A record built without its header map (tests, synthetic events): keep
        // what identifies it so the line still says what it was.
        let mut h = vec![("Event-Name".to_owned(), c.event_name.clone())];
        if let Some(u) = &c.unique_id {
            h.push(("Unique-ID".to_owned(), u.to_string()));
        }
        synthetic = h;
        &synthetic
    } else {
        &c.headers
    };
    // Events carry ~100 headers (~5 KB): size the buffer once instead of
    // letting it double a dozen times per event.
    let cap = 2 + headers
        .iter()
        .map(|(k, v)| k.len() + v.len() + 6)
        .sum::<usize>();
    let mut buf = Vec::with_capacity(cap + cap / 16);
    // Serialising strings into memory cannot fail, and serde_json writes UTF-8.
    if serde_json::to_writer(&mut buf, &Ordered(headers)).is_err() {
        return String::new();
    }
    String::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use callweave_core::record::{CSeq, CallId, LogLevel};

    #[test]
    fn selector_escapes_quotes_and_backslashes() {
        let k = StreamKey {
            node: Arc::from("fs\"1\\a\nb"),
            source: "sip",
        };
        assert_eq!(
            k.selector(),
            r#"{job="callweave", node="fs\"1\\a\nb", source="sip"}"#
        );
        let empty = StreamKey {
            node: Arc::from(""),
            source: "log",
        };
        assert_eq!(
            empty.selector(),
            r#"{job="callweave", node="unknown", source="log"}"#
        );
        assert_eq!(quote("a\u{1}b"), "\"a\\u0001b\"");
    }

    #[test]
    fn sip_ids_go_to_metadata_not_labels() {
        let mut sip = SipRecord::new(
            "127.0.0.1:5072".parse().unwrap(),
            "127.0.0.1:5090".parse().unwrap(),
            Transport::Udp,
            CallId::from("1-4274@127.0.0.1"),
        );
        sip.status = Some(180);
        sip.cseq = Some(CSeq {
            seq: 1,
            method: "INVITE".into(),
        });
        sip.raw = Arc::from("SIP/2.0 180 Ringing\r\n\r\n");
        let rec = Record::new(1_795_663_470_539_513, "fs-1", RecordKind::Sip(sip));
        let (key, e) = entry_for(&rec, Some("call-7"));
        assert_eq!(
            key.selector(),
            r#"{job="callweave", node="fs-1", source="sip"}"#
        );
        assert!(!key.selector().contains("4274"));
        assert_eq!(e.metadata("call_id"), Some("1-4274@127.0.0.1"));
        assert_eq!(e.metadata("method"), Some("INVITE"));
        assert_eq!(e.metadata("status"), Some("180"));
        assert_eq!(e.metadata("cseq"), Some("1 INVITE"));
        assert_eq!(e.metadata("src"), Some("127.0.0.1:5072"));
        assert_eq!(e.metadata("call"), Some("call-7"));
        assert_eq!(e.metadata("uuid"), None);
        assert_eq!(e.line, "SIP/2.0 180 Ringing\r\n\r\n");
        assert_eq!(e.ts_nanos(), 1_795_663_470_539_513_000);
    }

    #[test]
    fn log_level_and_uuid_empty_values_omitted() {
        let mut l = LogRecord::new("New Channel sofia/b2bua/sipp@127.0.0.1:5072");
        l.level = Some(LogLevel::Notice);
        l.uuid = Some("".into());
        let rec = Record::new(5, "fs-1", RecordKind::Log(l));
        let (key, e) = entry_for(&rec, None);
        assert_eq!(key.source, "log");
        assert_eq!(e.metadata("level"), Some("NOTICE"));
        assert_eq!(e.metadata("uuid"), None);
        assert_eq!(e.structured_metadata.len(), 1);
        assert_eq!(e.line, "New Channel sofia/b2bua/sipp@127.0.0.1:5072");
    }

    #[test]
    fn esl_json_line_matches_serde_json() {
        let headers: Vec<(String, String)> = vec![
            ("Event-Name".into(), "CUSTOM".into()),
            (
                "Weird \"key\"".into(),
                "tab\there\nnew\u{1}line é \\ end".into(),
            ),
            ("Empty".into(), String::new()),
        ];
        let c = ChannelRecord {
            headers: headers.clone().into(),
            ..Default::default()
        };
        let line = esl_line(&c);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        for (k, val) in &headers {
            assert_eq!(v[k.as_str()], val.as_str());
        }
        assert!(line.starts_with("{\"Event-Name\":\"CUSTOM\","), "{line}");
    }

    #[test]
    fn long_values_truncate_on_char_boundary() {
        assert_eq!(truncated_len(b"abc", 2), 2);
        assert_eq!(truncated_len(b"abc", 5), 3);
        let mut md = Metadata::default();
        let even = "é".repeat(600);
        let odd = format!("a{even}");
        md.push(meta::CSEQ, &even);
        md.push(meta::SRC, &odd);
        md.push(meta::DST, "10.0.0.1:5060");
        let pairs = md.finish();
        let values: Vec<(&str, usize)> = pairs
            .iter()
            .map(|p| (p.name_str(), p.value_str().len()))
            .collect();
        assert_eq!(values, [("cseq", 1024), ("src", 1023), ("dst", 13)]);
        assert!(pairs[1].value_str().starts_with("aé"));
        assert_eq!(pairs[2].value_str(), "10.0.0.1:5060");
    }

    #[test]
    fn metadata_pairs_share_one_buffer_and_skip_empty_and_repeated_names() {
        let mut md = Metadata::default();
        md.push(meta::CALL_ID, "a@h");
        md.push(meta::CORRELATION, "");
        md.push(meta::CORRELATION, "b@h");
        md.push(meta::CORRELATION, "c@h");
        md.push_with(meta::STATUS, |_| {});
        md.push_with(meta::STATUS, |b| b.extend_from_slice(b"180"));
        let pairs = md.finish();
        let got: Vec<(&str, &str)> = pairs
            .iter()
            .map(|p| (p.name_str(), p.value_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("call_id", "a@h"),
                ("correlation", "b@h"),
                ("status", "180")
            ]
        );
        // One buffer behind every value.
        let base = pairs[0].value.as_ptr();
        assert_eq!(pairs[1].value.as_ptr(), base.wrapping_add(3));
        assert_eq!(pairs[2].value.as_ptr(), base.wrapping_add(6));
    }
}
