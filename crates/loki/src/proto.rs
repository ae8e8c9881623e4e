//! The push wire format: `logproto.PushRequest` (grafana/loki `pkg/push/push.proto`)
//! as prost messages, snappy **block** compressed.
//!
//! The messages are written by hand with `#[derive(prost::Message)]` rather than
//! generated: the `loki-api` crate lacks structured metadata (field 3 of the entry)
//! and pins an old prost, and a build script with protoc would be a heavy price for
//! four small messages. Field numbers are the upstream ones; the unit tests pin the
//! exact bytes.
//!
//! An entry's line and its metadata are `bytes::Bytes` where upstream says
//! `string` (the two are the same on the wire: length-delimited): a SIP line is
//! the record's own message, shared rather than copied; metadata names are
//! static; an entry's values share one buffer. With `String` fields every
//! entry cost about twenty allocations and a copy of the message. Lines and
//! values are always UTF-8 when callweave writes them; [`EntryAdapter::line_str`]
//! reads one back.

use prost::Message;

use crate::error::{Error, WireErrorKind};

/// Largest decompressed push body [`decode_push_body`] accepts. Loki itself answers
/// 500 above 4 MiB (its internal gRPC limit); 64 MiB only guards the decoder.
pub const MAX_DECODED_BODY: usize = 64 * 1024 * 1024;

/// `logproto.PushRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct PushRequest {
    /// One entry per stream (label set).
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
    /// Empty for normal pushes; Loki uses `loki`/`otlp` internally.
    #[prost(string, tag = "2")]
    pub format: String,
}

/// `logproto.StreamAdapter`: a label set and its entries.
#[derive(Clone, PartialEq, Message)]
pub struct StreamAdapter {
    /// The stream selector, e.g. `{job="callweave", node="fs-1", source="sip"}`.
    #[prost(string, tag = "1")]
    pub labels: String,
    /// The entries, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    /// Left 0 by clients; Loki computes it.
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

/// `logproto.EntryAdapter`: one log line.
#[derive(Clone, PartialEq, Message)]
pub struct EntryAdapter {
    /// When it happened.
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    /// The line (UTF-8; `string` upstream).
    #[prost(bytes = "bytes", tag = "2")]
    pub line: bytes::Bytes,
    /// Structured metadata: high-cardinality key/values stored beside the line.
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPairAdapter>,
    /// Filled by Loki at query time; clients leave it empty.
    #[prost(message, repeated, tag = "4")]
    pub parsed: Vec<LabelPairAdapter>,
}

/// `logproto.LabelPairAdapter`.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct LabelPairAdapter {
    /// Name (`[a-zA-Z_][a-zA-Z0-9_]*`; `string` upstream).
    #[prost(bytes = "bytes", tag = "1")]
    pub name: bytes::Bytes,
    /// Value (UTF-8; `string` upstream).
    #[prost(bytes = "bytes", tag = "2")]
    pub value: bytes::Bytes,
}

impl LabelPairAdapter {
    /// A pair from text.
    pub fn new(name: &str, value: &str) -> Self {
        Self {
            name: bytes::Bytes::copy_from_slice(name.as_bytes()),
            value: bytes::Bytes::copy_from_slice(value.as_bytes()),
        }
    }

    /// The name as text (empty if it is not UTF-8).
    pub fn name_str(&self) -> &str {
        std::str::from_utf8(&self.name).unwrap_or_default()
    }

    /// The value as text (empty if it is not UTF-8).
    pub fn value_str(&self) -> &str {
        std::str::from_utf8(&self.value).unwrap_or_default()
    }
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Message)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl Timestamp {
    /// From microseconds since the epoch (the unit of `callweave_core::record`).
    pub fn from_micros(ts: i64) -> Self {
        Self {
            seconds: ts.div_euclid(1_000_000),
            // rem_euclid keeps this in 0..1_000_000, so the cast cannot truncate.
            nanos: (ts.rem_euclid(1_000_000) * 1000) as i32,
        }
    }

    /// Nanoseconds since the epoch, saturating.
    pub fn as_nanos(self) -> i64 {
        self.seconds
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(self.nanos))
    }
}

impl EntryAdapter {
    /// The timestamp in nanoseconds (0 when absent).
    pub fn ts_nanos(&self) -> i64 {
        self.timestamp.map_or(0, Timestamp::as_nanos)
    }

    /// The line as text (empty if it is not UTF-8, which callweave never writes).
    pub fn line_str(&self) -> &str {
        std::str::from_utf8(&self.line).unwrap_or_default()
    }

    /// A structured-metadata value by name.
    pub fn metadata(&self, name: &str) -> Option<&str> {
        self.structured_metadata
            .iter()
            .find(|p| p.name == name.as_bytes())
            .map(LabelPairAdapter::value_str)
    }
}

/// Encodes a request as Loki wants it: protobuf, then snappy block format.
///
/// Returns the compressed body and the uncompressed protobuf length.
pub fn encode_push_body(req: &PushRequest) -> Result<(Vec<u8>, usize), Error> {
    let raw = req.encode_to_vec();
    let body = snap::raw::Encoder::new()
        .compress_vec(&raw)
        .map_err(|e| Error::Wire {
            kind: WireErrorKind::Snappy,
            offset: 0,
            reason: e.to_string(),
        })?;
    Ok((body, raw.len()))
}

/// Decodes a push body (snappy block → protobuf), as Loki's distributor does.
pub fn decode_push_body(body: &[u8]) -> Result<PushRequest, Error> {
    let len = snap::raw::decompress_len(body).map_err(|e| Error::Wire {
        kind: WireErrorKind::Snappy,
        offset: 0,
        reason: e.to_string(),
    })?;
    if len > MAX_DECODED_BODY {
        return Err(Error::Wire {
            kind: WireErrorKind::TooLarge,
            offset: 0,
            reason: format!("decompressed length {len} over {MAX_DECODED_BODY}"),
        });
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| Error::Wire {
            kind: WireErrorKind::Snappy,
            offset: 0,
            reason: e.to_string(),
        })?;
    let req = PushRequest::decode(raw.as_slice()).map_err(|e| Error::Wire {
        kind: WireErrorKind::Protobuf,
        offset: 0,
        reason: e.to_string(),
    })?;
    // Upstream's fields are `string`: text that is not UTF-8 is refused, as a
    // decoder generated from push.proto would.
    for entry in req.streams.iter().flat_map(|s| &s.entries) {
        let texts = std::iter::once(("line", &entry.line)).chain(
            entry
                .structured_metadata
                .iter()
                .chain(&entry.parsed)
                .flat_map(|p| [("label name", &p.name), ("label value", &p.value)]),
        );
        for (what, text) in texts {
            if let Err(e) = std::str::from_utf8(text) {
                return Err(Error::Wire {
                    kind: WireErrorKind::Protobuf,
                    offset: 0,
                    reason: format!("{what} is not UTF-8: {e}"),
                });
            }
        }
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_numbers_match_upstream_bytes() {
        let req = PushRequest {
            streams: vec![StreamAdapter {
                labels: "{a=\"b\"}".into(),
                entries: vec![EntryAdapter {
                    timestamp: Some(Timestamp {
                        seconds: 1,
                        nanos: 2,
                    }),
                    line: "x".into(),
                    structured_metadata: vec![LabelPairAdapter::new("k", "v")],
                    parsed: vec![],
                }],
                hash: 0,
            }],
            format: String::new(),
        };
        // Hand-assembled from push.proto: tag = field << 3 | wire type 2 (len) / 0 (varint).
        let ts = [0x08, 0x01, 0x10, 0x02]; // seconds=1, nanos=2
        let pair = [0x0a, 0x01, b'k', 0x12, 0x01, b'v'];
        let mut entry = vec![0x0a, ts.len() as u8];
        entry.extend_from_slice(&ts);
        entry.extend_from_slice(&[0x12, 0x01, b'x']);
        entry.extend_from_slice(&[0x1a, pair.len() as u8]);
        entry.extend_from_slice(&pair);
        let mut stream = vec![0x0a, 7];
        stream.extend_from_slice(b"{a=\"b\"}");
        stream.extend_from_slice(&[0x12, entry.len() as u8]);
        stream.extend_from_slice(&entry);
        let mut want = vec![0x0a, stream.len() as u8];
        want.extend_from_slice(&stream);
        assert_eq!(req.encode_to_vec(), want);

        let (body, raw_len) = encode_push_body(&req).unwrap();
        assert_eq!(raw_len, want.len());
        // Block format has no stream identifier chunk (0xff "sNaPpY").
        assert_ne!(body.first(), Some(&0xff));
        assert_eq!(
            snap::raw::Decoder::new().decompress_vec(&body).unwrap(),
            want
        );
        assert_eq!(decode_push_body(&body).unwrap(), req);
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_as_upstream_strings_are() {
        let entry = |line: &'static [u8], value: &'static [u8]| PushRequest {
            streams: vec![StreamAdapter {
                labels: "{a=\"b\"}".into(),
                entries: vec![EntryAdapter {
                    timestamp: None,
                    line: bytes::Bytes::from_static(line),
                    structured_metadata: vec![LabelPairAdapter {
                        name: bytes::Bytes::from_static(b"k"),
                        value: bytes::Bytes::from_static(value),
                    }],
                    parsed: vec![],
                }],
                hash: 0,
            }],
            format: String::new(),
        };
        let decode = |req: &PushRequest| decode_push_body(&encode_push_body(req).unwrap().0);
        assert!(decode(&entry("é".as_bytes(), b"v")).is_ok());
        for (req, what) in [
            (entry(b"\xe9t\xe9", b"v"), "line"),
            (entry(b"x", b"\xff"), "label value"),
        ] {
            let err = decode(&req).unwrap_err().to_string();
            assert!(err.contains(&format!("{what} is not UTF-8")), "{err}");
        }
    }

    #[test]
    fn timestamps_split_and_join() {
        let t = Timestamp::from_micros(1_795_663_470_521_047);
        assert_eq!(t.seconds, 1_795_663_470);
        assert_eq!(t.nanos, 521_047_000);
        assert_eq!(t.as_nanos(), 1_795_663_470_521_047_000);
        let neg = Timestamp::from_micros(-1);
        assert_eq!((neg.seconds, neg.nanos), (-1, 999_999_000));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode_push_body(b"").is_err());
        assert!(decode_push_body(b"\x0a\x05hello").is_err());
        // Uncompressed protobuf is what Loki rejects with "snappy: corrupt input".
        let raw = PushRequest::default().encode_to_vec();
        let _ = decode_push_body(&raw);
    }
}
