//! Decoded FreeSWITCH events: [`Event`], from `text/event-plain` or
//! `text/event-json` bodies (PROTOCOLS.md §3.3, §3.4).
//!
//! Both formats decode to the same thing: an ordered list of headers (name →
//! one value, or a list for multi-valued headers) and an optional body.
//!
//! - Plain values are URL-decoded leniently: an invalid `%` sequence is kept
//!   literally, and invalid UTF-8 after decoding is replaced with U+FFFD.
//!   FreeSWITCH does not re-encode an existing `%XX` in a value, so a value
//!   that really contained `%41` comes back as `A`; the JSON form keeps it.
//! - `_undef_` is how the plain serializer writes an *empty* value; it
//!   decodes to a present, empty header, which is what the JSON form carries
//!   for the same header (`""`).
//! - `ARRAY::a|:b` (after URL-decoding) becomes the list `[a, b]`, like a
//!   JSON array.
//! - The event body (BACKGROUND_JOB output, MESSAGE text) is the part after
//!   the inner `Content-Length` in plain form and the `_body` key in JSON.
//!   `Content-Length` itself stays a header in both forms.
//!
//! All names and values of one event live in one `String`; headers are spans
//! into it. Decoding therefore costs three allocations per event whatever the
//! header count, and lookups are a linear scan (an event has ~50–250 headers,
//! and names differ early, so a scan is as fast as hashing them all would be).

use std::borrow::Cow;
use std::fmt;

use percent_encoding::percent_decode;
use serde::de::{self, DeserializeSeed, Deserializer as _, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};

use crate::error::{ErrorKind, EslError};
use crate::framing::{ContentType, Frame, parse_content_length};

/// The serialization FreeSWITCH used for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum EventFormat {
    /// `event json …`: one JSON object per event. The default: no URL-decoding
    /// ambiguity and cheaper to decode.
    #[default]
    Json,
    /// `event plain …`: URL-encoded `Name: value` lines.
    Plain,
}

impl EventFormat {
    /// The word used in the `event` command (`json` / `plain`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventFormat::Json => "json",
            EventFormat::Plain => "plain",
        }
    }
}

impl fmt::Display for EventFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Call-Direction` of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallDirection {
    /// The channel was created by an incoming call (an A-leg on a B2BUA).
    Inbound,
    /// The channel was originated by FreeSWITCH (a B-leg).
    Outbound,
}

/// RTP inbound-audio quality variables, set on CHANNEL_HANGUP_COMPLETE and later
/// (`variable_rtp_audio_in_*`, PROTOCOLS.md §3.6). Each field is `None` when
/// the variable is absent or does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AudioQuality {
    /// `rtp_audio_in_mos`: estimated MOS, 1.0–4.5.
    pub mos: Option<f64>,
    /// `rtp_audio_in_quality_percentage`: R-factor as a percentage.
    pub quality_percentage: Option<f64>,
    /// `rtp_audio_in_jitter_min_variance`.
    pub jitter_min_variance: Option<f64>,
    /// `rtp_audio_in_jitter_max_variance`.
    pub jitter_max_variance: Option<f64>,
    /// `rtp_audio_in_jitter_loss_rate`.
    pub jitter_loss_rate: Option<f64>,
    /// `rtp_audio_in_jitter_burst_rate`.
    pub jitter_burst_rate: Option<f64>,
    /// `rtp_audio_in_mean_interval`.
    pub mean_interval: Option<f64>,
    /// `rtp_audio_in_flaw_total`.
    pub flaw_total: Option<u64>,
    /// `rtp_audio_in_packet_count`.
    pub packet_count: Option<u64>,
    /// `rtp_audio_in_media_packet_count`.
    pub media_packet_count: Option<u64>,
    /// `rtp_audio_in_skip_packet_count`: packets lost or skipped.
    pub skip_packet_count: Option<u64>,
    /// `rtp_audio_in_jitter_packet_count`.
    pub jitter_packet_count: Option<u64>,
    /// `rtp_audio_in_cng_packet_count`.
    pub cng_packet_count: Option<u64>,
    /// `rtp_audio_in_dtmf_packet_count`.
    pub dtmf_packet_count: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    One(Span),
    /// `multi[first..first + len]`.
    Many {
        first: u32,
        len: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    name: Span,
    value: Slot,
}

/// A decoded FreeSWITCH event. See the [module docs](self) for the decoding rules.
///
/// Typed accessors cover what call correlation needs; [`Event::header`] and
/// [`Event::headers`] reach everything else.
#[derive(Clone)]
pub struct Event {
    text: String,
    entries: Vec<Entry>,
    multi: Vec<Span>,
    body: Option<String>,
}

/// A header value: one string, or the elements of a multi-valued header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderValue<'a> {
    /// A single value.
    Single(&'a str),
    /// A multi-valued header (`ARRAY::…` in plain form, a JSON array).
    Multi(Values<'a>),
}

impl<'a> HeaderValue<'a> {
    /// The value, or the first element of a list (`""` for an empty list).
    pub fn first(&self) -> &'a str {
        match self {
            HeaderValue::Single(s) => s,
            HeaderValue::Multi(v) => v.clone().next().unwrap_or(""),
        }
    }

    /// Every element: one for a single value.
    pub fn iter(&self) -> Values<'a> {
        match *self {
            HeaderValue::Single(s) => Values {
                text: s,
                spans: &[],
                single: Some(s),
            },
            HeaderValue::Multi(v) => v,
        }
    }
}

/// Iterator over the elements of a header value. Two `Values` are equal when
/// they yield the same strings.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    text: &'a str,
    spans: &'a [Span],
    single: Option<&'a str>,
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if let Some(s) = self.single.take() {
            return Some(s);
        }
        let (first, rest) = self.spans.split_first()?;
        self.spans = rest;
        Some(span_str(self.text, *first))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.spans.len() + usize::from(self.single.is_some());
        (n, Some(n))
    }
}

impl ExactSizeIterator for Values<'_> {}

impl PartialEq for Values<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && Iterator::eq(*self, *other)
    }
}

impl Eq for Values<'_> {}

/// Events are equal when they have the same headers, in the same order, and
/// the same body, however they were serialized.
impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.entries.len() == other.entries.len()
            && self.body == other.body
            && self.headers().eq(other.headers())
    }
}

impl Eq for Event {}

fn span_str(text: &str, span: Span) -> &str {
    text.get(span.start as usize..span.end as usize)
        .unwrap_or_default()
}

impl Event {
    /// Decodes the body of a `text/event-plain` or `text/event-json` frame.
    pub fn from_frame(frame: &Frame) -> Result<Event, EslError> {
        let body = frame.body.as_deref().unwrap_or_default();
        match frame.content_type {
            ContentType::EventPlain => Event::from_plain(body),
            ContentType::EventJson => Event::from_json(body),
            _ => Err(EslError::decode_detail(
                ErrorKind::WrongContentType,
                0,
                frame.content_type.as_str(),
            )),
        }
    }

    /// Decodes a `text/event-plain` body.
    pub fn from_plain(body: &[u8]) -> Result<Event, EslError> {
        // One UTF-8 check for the whole body; names and unencoded values are
        // then sliced without re-validation. FreeSWITCH encodes every byte
        // above 0x7E, so the lossy path (whose offsets count in the repaired
        // text) is for broken input only.
        let text = utf8_lossy(body);
        let body = text.as_bytes();
        let mut b = Builder::with_source(&text);
        let mut inner_len = None;
        let mut scratch = Vec::new();
        let mut pos = 0;
        let block_end = loop {
            let rest = body.get(pos..).unwrap_or_default();
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                return Err(EslError::decode(ErrorKind::Truncated, body.len()));
            };
            let start = pos;
            pos += nl + 1;
            let line = text.get(start..start + nl).unwrap_or_default();
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                break pos;
            }
            // memchr rather than `str::split_once`/`contains`: std's char
            // search was a fifth of the decode time.
            let colon = memchr::memchr(b':', line.as_bytes())
                .filter(|c| *c > 0)
                .ok_or(EslError::decode(ErrorKind::MalformedHeader, start))?;
            let name = line.get(..colon).unwrap_or_default();
            let value = line.get(colon + 1..).unwrap_or_default();
            let value = value.trim_start_matches(' ');
            let value = if memchr::memchr(b'%', value.as_bytes()).is_some() {
                url_decode_with(value.as_bytes(), &mut scratch)
            } else {
                Cow::Borrowed(value)
            };
            let value: &str = if value == "_undef_" { "" } else { &value };
            if name == "Content-Length" && inner_len.is_none() {
                let n = parse_content_length(value)
                    .ok_or(EslError::decode(ErrorKind::BadContentLength, start))?;
                inner_len = Some(n);
            }
            b.push_header(name, value, start)?;
        };
        let rest = body.get(block_end..).unwrap_or_default();
        match inner_len {
            Some(n) => {
                let inner = rest.get(..n).ok_or(EslError::decode_detail(
                    ErrorKind::BodyTruncated,
                    body.len(),
                    format!("content-length {n}, {} bytes left", rest.len()),
                ))?;
                if rest.len() > n {
                    return Err(EslError::decode(ErrorKind::TrailingData, block_end + n));
                }
                b.body = Some(utf8_lossy(inner).into_owned());
            }
            None if !rest.is_empty() => {
                return Err(EslError::decode(ErrorKind::TrailingData, block_end));
            }
            None => {}
        }
        Ok(b.finish())
    }

    /// Decodes a `text/event-json` body: one flat object whose values are
    /// strings or arrays of strings (numbers and booleans are taken as their
    /// text, `null` as empty; nested objects are rejected).
    ///
    /// cJSON does not validate UTF-8, so a channel variable holding raw
    /// Latin-1 bytes yields invalid UTF-8: such bytes become U+FFFD rather
    /// than failing the event (error offsets then count in the repaired text).
    pub fn from_json(body: &[u8]) -> Result<Event, EslError> {
        // Validating once up front lets serde_json skip per-string UTF-8
        // checks (~15% of decode time).
        let text = utf8_lossy(body);
        let mut b = Builder::with_source(&text);
        let mut de = serde_json::Deserializer::from_str(&text);
        let result = de
            .deserialize_map(EventVisitor { b: &mut b })
            .and_then(|()| de.end());
        match result {
            Ok(()) => Ok(b.finish()),
            Err(e) => Err(json_error(&e, text.as_bytes())),
        }
    }

    /// The first header with this exact (case-sensitive) name. For a
    /// multi-valued header, its first element; see [`Event::header_value`].
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_value(name).map(|v| v.first())
    }

    /// The first header with this exact name, with all its elements.
    pub fn header_value(&self, name: &str) -> Option<HeaderValue<'_>> {
        self.entries
            .iter()
            .find(|e| span_str(&self.text, e.name) == name)
            .map(|e| self.value_of(e.value))
    }

    /// Every header in order (duplicates included, which FreeSWITCH never sends).
    pub fn headers(&self) -> impl ExactSizeIterator<Item = (&str, HeaderValue<'_>)> + '_ {
        self.entries
            .iter()
            .map(|e| (span_str(&self.text, e.name), self.value_of(e.value)))
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the event has no headers at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The event body (plain: after the inner `Content-Length`; JSON: `_body`).
    pub fn body(&self) -> Option<&str> {
        self.body.as_deref()
    }

    fn value_of(&self, slot: Slot) -> HeaderValue<'_> {
        match slot {
            Slot::One(span) => HeaderValue::Single(span_str(&self.text, span)),
            Slot::Many { first, len } => {
                let spans = self
                    .multi
                    .get(first as usize..(first as usize).saturating_add(len as usize))
                    .unwrap_or_default();
                HeaderValue::Multi(Values {
                    text: &self.text,
                    spans,
                    single: None,
                })
            }
        }
    }

    fn non_empty(&self, name: &str) -> Option<&str> {
        self.header(name).filter(|v| !v.is_empty())
    }

    /// `Event-Name`, e.g. `CHANNEL_CREATE`, or `CUSTOM` (see [`Event::subclass`]).
    pub fn name(&self) -> Option<&str> {
        self.non_empty("Event-Name")
    }

    /// `Event-Subclass` of a CUSTOM event, e.g. `sofia::register`.
    pub fn subclass(&self) -> Option<&str> {
        self.non_empty("Event-Subclass")
    }

    /// `Event-Sequence`: FreeSWITCH's per-process event counter.
    pub fn sequence(&self) -> Option<u64> {
        self.parse("Event-Sequence")
    }

    /// The channel UUID: `Unique-ID`, else `Caller-Unique-ID`.
    pub fn unique_id(&self) -> Option<&str> {
        self.non_empty("Unique-ID")
            .or_else(|| self.non_empty("Caller-Unique-ID"))
    }

    /// `Other-Leg-Unique-ID`: the peer channel (originator or originatee).
    pub fn other_leg_unique_id(&self) -> Option<&str> {
        self.non_empty("Other-Leg-Unique-ID")
    }

    /// `Channel-Call-UUID`: the call uuid; on a bridged B-leg, the A-leg UUID.
    pub fn channel_call_uuid(&self) -> Option<&str> {
        self.non_empty("Channel-Call-UUID")
    }

    /// `Bridge-A-Unique-ID` (CHANNEL_BRIDGE / CHANNEL_UNBRIDGE).
    pub fn bridge_a_unique_id(&self) -> Option<&str> {
        self.non_empty("Bridge-A-Unique-ID")
    }

    /// `Bridge-B-Unique-ID` (CHANNEL_BRIDGE / CHANNEL_UNBRIDGE).
    pub fn bridge_b_unique_id(&self) -> Option<&str> {
        self.non_empty("Bridge-B-Unique-ID")
    }

    /// `variable_sip_call_id`: the SIP Call-ID of this leg. Absent on
    /// CHANNEL_STATE / CHANNEL_CALLSTATE unless verbose events are on.
    pub fn sip_call_id(&self) -> Option<&str> {
        self.non_empty("variable_sip_call_id")
    }

    /// `Call-Direction`, else `Caller-Direction`.
    pub fn call_direction(&self) -> Option<CallDirection> {
        let d = self
            .non_empty("Call-Direction")
            .or_else(|| self.non_empty("Caller-Direction"))?;
        match d {
            "inbound" => Some(CallDirection::Inbound),
            "outbound" => Some(CallDirection::Outbound),
            _ => None,
        }
    }

    /// `Caller-Caller-ID-Number`.
    pub fn caller_id_number(&self) -> Option<&str> {
        self.non_empty("Caller-Caller-ID-Number")
    }

    /// `Caller-Destination-Number`.
    pub fn destination_number(&self) -> Option<&str> {
        self.non_empty("Caller-Destination-Number")
    }

    /// `Channel-Name`, e.g. `sofia/internal/1001@host`.
    pub fn channel_name(&self) -> Option<&str> {
        self.non_empty("Channel-Name")
    }

    /// `Channel-Call-State`, e.g. `RINGING`, `ACTIVE`, `HANGUP`.
    pub fn channel_call_state(&self) -> Option<&str> {
        self.non_empty("Channel-Call-State")
    }

    /// `Hangup-Cause`, else `variable_hangup_cause`, e.g. `NORMAL_CLEARING`.
    pub fn hangup_cause(&self) -> Option<&str> {
        self.non_empty("Hangup-Cause")
            .or_else(|| self.non_empty("variable_hangup_cause"))
    }

    /// `variable_sip_term_status`: the final SIP status of the leg, e.g. 486.
    pub fn sip_term_status(&self) -> Option<u16> {
        self.parse("variable_sip_term_status")
    }

    /// `Answer-State`: `ringing`, `early`, `answered` or `hangup`.
    pub fn answer_state(&self) -> Option<&str> {
        self.non_empty("Answer-State")
    }

    /// `Core-UUID`: the FreeSWITCH process (changes on restart).
    pub fn core_uuid(&self) -> Option<&str> {
        self.non_empty("Core-UUID")
    }

    /// `FreeSWITCH-Hostname`.
    pub fn hostname(&self) -> Option<&str> {
        self.non_empty("FreeSWITCH-Hostname")
    }

    /// `Event-Date-Timestamp`: microseconds since the Unix epoch.
    pub fn timestamp_micros(&self) -> Option<i64> {
        self.parse("Event-Date-Timestamp")
    }

    /// `variable_billsec`: answered seconds.
    pub fn billsec(&self) -> Option<u64> {
        self.parse("variable_billsec")
    }

    /// `variable_rtp_audio_in_mos`.
    pub fn mos(&self) -> Option<f64> {
        self.parse("variable_rtp_audio_in_mos")
    }

    /// Every `variable_rtp_audio_in_*` quality figure; `None` when the event
    /// carries none of them (events before CHANNEL_HANGUP_COMPLETE).
    pub fn audio_quality(&self) -> Option<AudioQuality> {
        let f = |s: &str| self.parse::<f64>(&format!("variable_rtp_audio_in_{s}"));
        let n = |s: &str| self.parse::<u64>(&format!("variable_rtp_audio_in_{s}"));
        let q = AudioQuality {
            mos: self.mos(),
            quality_percentage: f("quality_percentage"),
            jitter_min_variance: f("jitter_min_variance"),
            jitter_max_variance: f("jitter_max_variance"),
            jitter_loss_rate: f("jitter_loss_rate"),
            jitter_burst_rate: f("jitter_burst_rate"),
            mean_interval: f("mean_interval"),
            flaw_total: n("flaw_total"),
            packet_count: n("packet_count"),
            media_packet_count: n("media_packet_count"),
            skip_packet_count: n("skip_packet_count"),
            jitter_packet_count: n("jitter_packet_count"),
            cng_packet_count: n("cng_packet_count"),
            dtmf_packet_count: n("dtmf_packet_count"),
        };
        (q != AudioQuality::default()).then_some(q)
    }

    fn parse<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.header(name)?.trim().parse().ok()
    }

    /// The event as one JSON object in FreeSWITCH's own `text/event-json`
    /// shape (header order kept, lists as arrays, body as `_body`), for
    /// shipping as a log line.
    pub fn to_json(&self) -> String {
        // Serializing strings into a Vec cannot fail; keep a fallback anyway
        // rather than a panic path.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

impl serde::Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer
            .serialize_map(Some(self.entries.len() + usize::from(self.body.is_some())))?;
        for (name, value) in self.headers() {
            match value {
                HeaderValue::Single(v) => map.serialize_entry(name, v)?,
                HeaderValue::Multi(v) => map.serialize_entry(name, &ValuesSer(v))?,
            }
        }
        if let Some(body) = &self.body {
            map.serialize_entry("_body", body)?;
        }
        map.end()
    }
}

struct ValuesSer<'a>(Values<'a>);

impl serde::Serialize for ValuesSer<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for v in self.0 {
            seq.serialize_element(v)?;
        }
        seq.end()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("name", &self.name())
            .field("unique_id", &self.unique_id())
            .field("headers", &self.entries.len())
            .field("body", &self.body.as_ref().map(String::len))
            .finish()
    }
}

/// `String::from_utf8_lossy` with a fast path: the std version walks
/// `Utf8Chunks` byte by byte even for valid input, which made it a third of
/// the JSON decode time.
pub(crate) fn utf8_lossy(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Lenient percent-decoding, as FreeSWITCH's `switch_url_decode`: `%XX` is
/// decoded, anything else (including `+` and a bad `%`) is kept. Invalid
/// UTF-8 becomes U+FFFD. Borrows when there is nothing to decode.
pub(crate) fn url_decode_lossy(value: &[u8]) -> Cow<'_, str> {
    if memchr::memchr(b'%', value).is_none() {
        return utf8_lossy(value);
    }
    percent_decode(value).decode_utf8_lossy()
}

/// [`url_decode_lossy`] into a reused buffer: a plain event has ~100 encoded
/// values, and one allocation per value was the decoder's main cost.
fn url_decode_with<'a>(value: &'a [u8], scratch: &'a mut Vec<u8>) -> Cow<'a, str> {
    let Some(first) = memchr::memchr(b'%', value) else {
        return utf8_lossy(value);
    };
    scratch.clear();
    scratch.extend_from_slice(value.get(..first).unwrap_or_default());
    let mut rest = value.get(first..).unwrap_or_default();
    while !rest.is_empty() {
        match rest {
            [b'%', hi, lo, tail @ ..] if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                scratch.push(hex_value(*hi) << 4 | hex_value(*lo));
                rest = tail;
            }
            [b, tail @ ..] => {
                scratch.push(*b);
                rest = tail;
            }
            [] => break,
        }
        // Copy the run up to the next `%` in one go.
        let next = memchr::memchr(b'%', rest).unwrap_or(rest.len());
        scratch.extend_from_slice(rest.get(..next).unwrap_or_default());
        rest = rest.get(next..).unwrap_or_default();
    }
    utf8_lossy(scratch)
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

/// Collects an event. `text` starts as a copy of the decoded body, so a name
/// or value that is a slice of that body (most of them: anything not
/// URL-encoded or JSON-escaped) becomes a span into the copy instead of being
/// copied again; only decoded values are appended.
#[derive(Default)]
struct Builder {
    text: String,
    entries: Vec<Entry>,
    multi: Vec<Span>,
    body: Option<String>,
    /// Address and length of the source `text` is a copy of.
    src_addr: usize,
    src_len: usize,
}

impl Builder {
    fn with_source(src: &str) -> Self {
        let mut text = String::with_capacity(src.len() + src.len() / 8 + 16);
        text.push_str(src);
        Builder {
            text,
            // ~40 bytes per header in real events.
            entries: Vec::with_capacity(src.len() / 40 + 1),
            multi: Vec::new(),
            body: None,
            src_addr: src.as_ptr() as usize,
            src_len: src.len(),
        }
    }

    fn finish(self) -> Event {
        Event {
            text: self.text,
            entries: self.entries,
            multi: self.multi,
            body: self.body,
        }
    }

    /// The span of `s`: its place in the copied source if it is a slice of
    /// the source (distinct live allocations never overlap, so the address
    /// test is exact), else a fresh copy at the end.
    fn span_of(&mut self, s: &str) -> Option<Span> {
        if let Some(off) = (s.as_ptr() as usize).checked_sub(self.src_addr)
            && off <= self.src_len
            && s.len() <= self.src_len - off
        {
            let start = u32::try_from(off).ok()?;
            let end = u32::try_from(off + s.len()).ok()?;
            return Some(Span { start, end });
        }
        self.push_str(s)
    }

    fn push_str(&mut self, s: &str) -> Option<Span> {
        let start = u32::try_from(self.text.len()).ok()?;
        self.text.push_str(s);
        let end = u32::try_from(self.text.len()).ok()?;
        Some(Span { start, end })
    }

    fn too_large(offset: usize) -> EslError {
        EslError::decode(ErrorKind::BodyTooLarge, offset)
    }

    /// A plain header: `ARRAY::a|:b` becomes a list.
    fn push_header(&mut self, name: &str, value: &str, offset: usize) -> Result<(), EslError> {
        let name = self.span_of(name).ok_or(Self::too_large(offset))?;
        let value = match value.strip_prefix("ARRAY::") {
            Some(list) => {
                let first = u32::try_from(self.multi.len()).map_err(|_| Self::too_large(offset))?;
                let mut len = 0u32;
                for item in list.split("|:") {
                    let span = self.span_of(item).ok_or(Self::too_large(offset))?;
                    self.multi.push(span);
                    len = len.saturating_add(1);
                }
                Slot::Many { first, len }
            }
            None => Slot::One(self.span_of(value).ok_or(Self::too_large(offset))?),
        };
        self.entries.push(Entry { name, value });
        Ok(())
    }
}

fn json_error(e: &serde_json::Error, body: &[u8]) -> EslError {
    let offset = line_col_to_offset(body, e.line(), e.column());
    let kind = if e.to_string().contains(UNSUPPORTED_VALUE) {
        ErrorKind::UnsupportedJsonValue
    } else if e.is_eof() {
        ErrorKind::Truncated
    } else if e.to_string().starts_with("trailing characters") {
        ErrorKind::TrailingData
    } else {
        ErrorKind::InvalidJson
    };
    EslError::decode_detail(kind, offset, e.to_string())
}

fn line_col_to_offset(body: &[u8], line: usize, column: usize) -> usize {
    if line <= 1 {
        return column.saturating_sub(1).min(body.len());
    }
    let mut seen = 1;
    for (i, b) in body.iter().enumerate() {
        if *b == b'\n' {
            seen += 1;
            if seen == line {
                return (i + column).min(body.len());
            }
        }
    }
    body.len()
}

const UNSUPPORTED_VALUE: &str = "a string or an array of strings";

struct EventVisitor<'b> {
    b: &'b mut Builder,
}

impl<'de> Visitor<'de> for EventVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a FreeSWITCH event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let b = self.b;
        loop {
            let mark = b.text.len();
            let Some(name) = map.next_key_seed(StrSeed { b: &mut *b })? else {
                return Ok(());
            };
            let name = name.ok_or_else(|| de::Error::custom("event too large"))?;
            if span_str(&b.text, name) == "_body" {
                b.text.truncate(mark);
                b.body = Some(map.next_value::<String>()?);
                continue;
            }
            let value = map.next_value_seed(ValueSeed { b: &mut *b })?;
            b.entries.push(Entry { name, value });
        }
    }
}

/// A string (or a scalar's text) as a span of the event text (`None` past
/// the `u32` span limit). Unescaped JSON strings are borrowed from the source,
/// so [`Builder::span_of`] finds them in its copy without copying again.
struct StrSeed<'b> {
    b: &'b mut Builder,
}

impl StrSeed<'_> {
    fn push(self, s: &str) -> Option<Span> {
        self.b.span_of(s)
    }
}

impl<'de> DeserializeSeed<'de> for StrSeed<'_> {
    type Value = Option<Span>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<Span>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrSeed<'_> {
    type Value = Option<Span>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(UNSUPPORTED_VALUE)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<Span>, E> {
        Ok(self.push(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<Span>, E> {
        Ok(self.push(if v { "true" } else { "false" }))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<Span>, E> {
        Ok(self.push(&v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<Span>, E> {
        Ok(self.push(&v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<Span>, E> {
        Ok(self.push(&v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<Span>, E> {
        Ok(self.push(""))
    }
}

/// A header value: a scalar or an array of scalars.
struct ValueSeed<'b> {
    b: &'b mut Builder,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Slot;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Slot, D::Error> {
        d.deserialize_any(self)
    }
}

impl ValueSeed<'_> {
    fn one<E: de::Error>(self, f: impl FnOnce(StrSeed<'_>) -> Option<Span>) -> Result<Slot, E> {
        f(StrSeed { b: self.b })
            .map(Slot::One)
            .ok_or_else(|| E::custom("event too large"))
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Slot;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(UNSUPPORTED_VALUE)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Slot, E> {
        self.one(|s| s.push(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Slot, E> {
        self.one(|s| s.push(if v { "true" } else { "false" }))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Slot, E> {
        self.one(|s| s.push(&v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Slot, E> {
        self.one(|s| s.push(&v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Slot, E> {
        self.one(|s| s.push(&v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Slot, E> {
        self.one(|s| s.push(""))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Slot, A::Error> {
        let b = self.b;
        let too_large = || de::Error::custom("event too large");
        let first = u32::try_from(b.multi.len()).map_err(|_| too_large())?;
        let mut len = 0u32;
        while let Some(span) = seq.next_element_seed(StrSeed { b: &mut *b })? {
            b.multi.push(span.ok_or_else(too_large)?);
            len = len.saturating_add(1);
        }
        Ok(Slot::Many { first, len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decoding_rules() {
        let body = b"Event-Name: BACKGROUND_JOB\nJob-Command: status\nEmpty: _undef_\n\
Name%20Odd: fd00%3A%3A2%ZZ%4\nvariable_DP_MATCH: ARRAY%3A%3A3%7C%3A4\n\
Content-Length: 12\n\n+OK up 1 day";
        let e = Event::from_plain(body).unwrap();
        assert_eq!(e.name(), Some("BACKGROUND_JOB"));
        assert_eq!(e.header("Empty"), Some(""));
        // Names are not URL-decoded (FreeSWITCH does not encode them).
        assert_eq!(e.header("Name%20Odd"), Some("fd00::2%ZZ%4"));
        let v: Vec<_> = e
            .header_value("variable_DP_MATCH")
            .unwrap()
            .iter()
            .collect();
        assert_eq!(v, ["3", "4"]);
        assert_eq!(e.header("variable_DP_MATCH"), Some("3"));
        assert_eq!(e.body(), Some("+OK up 1 day"));
        assert_eq!(e.header("Content-Length"), Some("12"));
        assert_eq!(e.len(), 6);
    }

    #[test]
    fn url_decoders_agree() {
        let mut scratch = Vec::new();
        for v in [
            &b"plain"[..],
            b"fd00%3A%3A2",
            b"%",
            b"%4",
            b"%%41",
            b"a%ZZb%41",
            b"%E2%82%AC%20euro",
            b"%FF%FE",
            b"tail%2",
            b"100%",
        ] {
            assert_eq!(
                url_decode_with(v, &mut scratch),
                url_decode_lossy(v),
                "{v:?}"
            );
        }
        assert_eq!(url_decode_lossy(b"%E2%82%AC%20%ZZ+"), "\u{20ac} %ZZ+");
    }

    #[test]
    fn plain_rejects_broken_bodies() {
        let kind = |b: &[u8]| Event::from_plain(b).unwrap_err().kind();
        assert_eq!(kind(b"A: b\n"), Some(ErrorKind::Truncated));
        assert_eq!(
            kind(b"A: b\nno colon\n\n"),
            Some(ErrorKind::MalformedHeader)
        );
        assert_eq!(kind(b"A: b\n\nextra"), Some(ErrorKind::TrailingData));
        assert_eq!(
            kind(b"Content-Length: 10\n\nshort"),
            Some(ErrorKind::BodyTruncated)
        );
        assert_eq!(
            kind(b"Content-Length: x\n\n"),
            Some(ErrorKind::BadContentLength)
        );
        assert_eq!(
            kind(b"Content-Length: 2\n\nabc"),
            Some(ErrorKind::TrailingData)
        );
    }

    #[test]
    fn json_decoding_rules() {
        let body = br#"{"Event-Name":"BACKGROUND_JOB","N":5,"B":true,"Z":null,"L":["a","b\"c"],"Content-Length":"3","_body":"x\ny"}"#;
        let e = Event::from_json(body).unwrap();
        assert_eq!(e.name(), Some("BACKGROUND_JOB"));
        assert_eq!(e.header("N"), Some("5"));
        assert_eq!(e.header("B"), Some("true"));
        assert_eq!(e.header("Z"), Some(""));
        let l: Vec<_> = e.header_value("L").unwrap().iter().collect();
        assert_eq!(l, ["a", "b\"c"]);
        assert_eq!(e.body(), Some("x\ny"));
        assert_eq!(e.header("_body"), None);
        // to_json gives back an equivalent event.
        let again = Event::from_json(e.to_json().as_bytes()).unwrap();
        assert_eq!(again, e);
    }

    #[test]
    fn json_rejects_broken_bodies() {
        let kind = |b: &[u8]| Event::from_json(b).unwrap_err().kind();
        assert_eq!(kind(br#"{"A":"b"} x"#), Some(ErrorKind::TrailingData));
        assert_eq!(kind(br#"{"A":"b""#), Some(ErrorKind::Truncated));
        assert_eq!(
            kind(br#"{"A":{"b":1}}"#),
            Some(ErrorKind::UnsupportedJsonValue)
        );
        assert_eq!(kind(br#"["A"]"#), Some(ErrorKind::InvalidJson));
        assert_eq!(kind(b"\xff"), Some(ErrorKind::InvalidJson));
        // Raw Latin-1 in a value (cJSON passes it through) is repaired.
        let e = Event::from_json(b"{\"Caller-Caller-ID-Name\":\"Jos\xe9\"}").unwrap();
        assert_eq!(e.header("Caller-Caller-ID-Name"), Some("Jos\u{fffd}"));
        let e = Event::from_json(b"{\n\"A\": 1,\n x}").unwrap_err();
        assert!(matches!(e, EslError::Decode { offset: 11, .. }), "{e:?}");
    }

    #[test]
    fn plain_and_json_agree_and_round_trip() {
        let plain =
            b"Event-Name: CUSTOM\nEvent-Subclass: sofia%3A%3Aregister\nx: ARRAY%3A%3Aa%7C%3Ab\n\n";
        let json = br#"{"Event-Name":"CUSTOM","Event-Subclass":"sofia::register","x":["a","b"]}"#;
        let p = Event::from_plain(plain).unwrap();
        let j = Event::from_json(json).unwrap();
        assert_eq!(p, j);
        assert_eq!(p.subclass(), Some("sofia::register"));
        assert_eq!(p.to_json().as_bytes(), &json[..]);
    }
}
