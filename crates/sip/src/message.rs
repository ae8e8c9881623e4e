//! The message parser: one pass over the head, typed fields for the headers that
//! matter, everything borrowed from the input.

use crate::error::{ErrorKind, ParseError};
use crate::header::{self, Known, NameAddr, Via};
use crate::method::Method;
use crate::scan::{self, StartLine};
use crate::sdp::{self, SdpSummary};

/// Correlation headers looked for by [`parse`] and [`Parser::default`], in order of
/// preference: `X-CID` (Kamailio/heplify convention), `X-Call-ID`, and `XCall-ID`
/// (OpenSIPS/FreeSWITCH B2BUA setups).
pub const DEFAULT_CORRELATION_HEADERS: [&str; 3] = ["X-CID", "X-Call-ID", "XCall-ID"];

/// A parsed SIP message. All strings borrow from the parsed buffer.
///
/// Only Call-ID is mandatory. From, To, CSeq and Via are optional because
/// correlation only needs the Call-ID and real captures contain fragments and
/// odd generators; but a CSeq or Content-Length that is present must be well formed,
/// since a garbled one means the message (or its framing) cannot be trusted.
/// A Call-ID or CSeq that is not UTF-8 counts as missing or malformed. Other typed
/// fields keep what is readable (real captures carry corrupted tags and Latin-1
/// display names): an address in `<...>` is kept whole if it is UTF-8, otherwise
/// values are read up to their first invalid byte. The exact bytes stay reachable
/// through [`SipMessage::headers`] and [`SipMessage::header_bytes`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SipMessage<'a> {
    /// Request or status line.
    pub start: StartLine<'a>,
    /// The Call-ID (first occurrence, trimmed).
    pub call_id: &'a str,
    /// From header.
    pub from: Option<NameAddr<'a>>,
    /// To header.
    pub to: Option<NameAddr<'a>>,
    /// CSeq header.
    pub cseq: Option<CSeq<'a>>,
    /// Top-most Via (first entry of the first Via header).
    pub via: Option<Via<'a>>,
    /// First Contact address.
    pub contact: Option<NameAddr<'a>>,
    /// User-Agent header.
    pub user_agent: Option<&'a str>,
    /// Server header (usually on responses).
    pub server: Option<&'a str>,
    /// Reason header (RFC 3326), raw, e.g. `Q.850;cause=16;text="Normal call clearing"`.
    pub reason: Option<&'a str>,
    /// First P-Asserted-Identity address.
    pub p_asserted_identity: Option<NameAddr<'a>>,
    /// Content-Type, raw (may carry parameters).
    pub content_type: Option<&'a str>,
    /// Content-Length as declared.
    pub content_length: Option<usize>,
    /// Max-Forwards, if present and numeric.
    pub max_forwards: Option<u32>,
    /// Value of the first correlation header found (see [`Parser`]).
    pub correlation_id: Option<&'a str>,
    /// The body: `Content-Length` bytes, or everything after the head if it has no
    /// Content-Length (datagram rules); shorter if the input was truncated.
    pub body: &'a [u8],
    /// Header lines (between the start line and the blank line), for re-scanning.
    headers: &'a [u8],
    /// The whole message without leading keep-alives or trailing bytes.
    raw: &'a [u8],
}

/// The CSeq header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CSeq<'a> {
    /// Sequence number.
    pub seq: u32,
    /// Method the sequence number belongs to (for a response: the request it answers).
    pub method: Method<'a>,
}

/// One header line as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header<'a> {
    /// Header name as written (a token, hence ASCII).
    pub name: &'a str,
    /// Value bytes, trimmed; a folded value keeps its line breaks.
    pub value: &'a [u8],
}

impl<'a> Header<'a> {
    /// The value as text, None if it is not UTF-8.
    #[must_use]
    pub fn value_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.value).ok()
    }

    /// Whether this header is `name` (case-insensitive; compact forms match their
    /// full names, so `i` is `Call-ID`).
    #[must_use]
    pub fn is(&self, name: &str) -> bool {
        header::same_name(self.name.as_bytes(), name.as_bytes())
    }
}

/// Iterator over the header lines of a message, see [`SipMessage::headers`].
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        loop {
            let (end, mut next) = scan::next_line(self.buf, self.pos)?;
            let line = self.buf.get(self.pos..end)?;
            let line_start = self.pos;
            self.pos = next;
            // Continuations were attached to their header below; also skips any
            // line the parser would have rejected (cannot happen after `parse`).
            let Some((name, value_at)) = scan::split_header(line) else {
                continue;
            };
            let mut value_end = end;
            while let Some((cont_end, cont_next)) = scan::next_line(self.buf, next) {
                if !matches!(self.buf.get(next), Some(b' ' | b'\t')) {
                    break;
                }
                value_end = cont_end;
                next = cont_next;
            }
            self.pos = next;
            let value = self
                .buf
                .get(line_start + value_at..value_end)
                .unwrap_or_default();
            return Some(Header {
                name: std::str::from_utf8(name).unwrap_or_default(),
                value: header::trim_value(value),
            });
        }
    }
}

impl<'a> SipMessage<'a> {
    /// Whether this is a request.
    #[must_use]
    pub const fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method, None for a response.
    #[must_use]
    pub const fn method(&self) -> Option<Method<'a>> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI, None for a response.
    #[must_use]
    pub const fn request_uri(&self) -> Option<&'a str> {
        match self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code, None for a request.
    #[must_use]
    pub const fn status_code(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The method of the transaction: the request method, or for a response the
    /// CSeq method.
    #[must_use]
    pub fn transaction_method(&self) -> Option<Method<'a>> {
        self.method().or(self.cseq.map(|c| c.method))
    }

    /// The message as received, without leading keep-alives and without bytes after
    /// the declared body.
    #[must_use]
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// All header lines in order, folded lines joined, values trimmed.
    #[must_use]
    pub fn headers(&self) -> Headers<'a> {
        Headers {
            buf: self.headers,
            pos: 0,
        }
    }

    /// Raw value of the first header called `name` (case-insensitive, compact forms
    /// equal full names).
    #[must_use]
    pub fn header_bytes(&self, name: &str) -> Option<&'a [u8]> {
        self.headers().find(|h| h.is(name)).map(|h| h.value)
    }

    /// Value of the first header called `name` (case-insensitive, compact forms equal
    /// full names); None if absent or not UTF-8.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.header_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Whether the body is SDP (`application/sdp`, parameters ignored).
    #[must_use]
    pub fn has_sdp(&self) -> bool {
        self.content_type.is_some_and(sdp::is_sdp_content_type)
    }

    /// Summary of the SDP body: the body itself for `application/sdp`, or the first
    /// `application/sdp` part of a `multipart/*` body. None otherwise.
    #[must_use]
    pub fn sdp(&self) -> Option<SdpSummary<'a>> {
        sdp::find_sdp(self.content_type?, self.body).map(sdp::summarize)
    }
}

/// Parses one SIP message with the default correlation headers
/// ([`DEFAULT_CORRELATION_HEADERS`]).
///
/// `buf` is one datagram or one frame cut by [`stream::message_len`](crate::stream::message_len).
/// Leading CR/LF are ignored; lines may end in CRLF or LF.
///
/// # Errors
///
/// A [`ParseError`] whose [`kind`](ParseError::kind) says what is wrong and whose
/// [`offset`](ParseError::offset) says where.
pub fn parse(buf: &[u8]) -> Result<SipMessage<'_>, ParseError> {
    parse_with(buf, &DEFAULT_CORRELATION_HEADERS)
}

/// A parser configured with the correlation headers to look for.
///
/// ```
/// let parser = callweave_sip::Parser::new(["X-Leg-Link"]);
/// let msg = parser.parse(b"BYE sip:a@b SIP/2.0\r\nCall-ID: c1\r\nx-leg-link: c0\r\n\r\n")?;
/// assert_eq!(msg.correlation_id, Some("c0"));
/// # Ok::<(), callweave_sip::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parser {
    correlation: Vec<Box<str>>,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new(DEFAULT_CORRELATION_HEADERS)
    }
}

impl Parser {
    /// A parser that reports the value of the first of `correlation_headers` found
    /// (names compared case-insensitively; earlier names win when several are
    /// present).
    pub fn new<I, S>(correlation_headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self {
            correlation: correlation_headers
                .into_iter()
                .map(|s| Box::from(s.as_ref()))
                .collect(),
        }
    }

    /// The configured correlation header names.
    pub fn correlation_headers(&self) -> impl Iterator<Item = &str> {
        self.correlation.iter().map(AsRef::as_ref)
    }

    /// Parses one SIP message, see [`parse`].
    ///
    /// # Errors
    ///
    /// As [`parse`].
    pub fn parse<'a>(&self, buf: &'a [u8]) -> Result<SipMessage<'a>, ParseError> {
        parse_with(buf, &self.correlation)
    }
}

/// Fields collected while scanning; turned into a `SipMessage` at the end.
#[derive(Default)]
struct Fields<'a> {
    call_id: Option<&'a str>,
    from: Option<NameAddr<'a>>,
    to: Option<NameAddr<'a>>,
    cseq: Option<CSeq<'a>>,
    via: Option<Via<'a>>,
    contact: Option<NameAddr<'a>>,
    user_agent: Option<&'a str>,
    server: Option<&'a str>,
    reason: Option<&'a str>,
    pai: Option<NameAddr<'a>>,
    content_type: Option<&'a str>,
    content_length: Option<usize>,
    max_forwards: Option<u32>,
    /// (index into the correlation list, value): lower index wins.
    correlation: Option<(usize, &'a str)>,
}

fn parse_with<'a, S: AsRef<str>>(
    input: &'a [u8],
    correlation: &[S],
) -> Result<SipMessage<'a>, ParseError> {
    let skip = scan::leading_crlf(input);
    let buf = input.get(skip..).unwrap_or_default();
    if buf.is_empty() {
        return Err(ParseError::new(ErrorKind::Empty, input.len()));
    }
    let (first_end, headers_start) = scan::next_line(buf, 0)
        .ok_or_else(|| ParseError::new(ErrorKind::TruncatedHead, input.len()))?;
    let start = scan::parse_start_line(buf.get(..first_end).unwrap_or_default(), skip)?;

    let mut f = Fields::default();
    // The header being read: (name, offset of its line, offset of its value); it is
    // handled once its continuation lines (if any) are known.
    let mut pending: Option<(&'a [u8], usize, usize)> = None;
    let mut value_end = 0;
    let mut pos = headers_start;
    let (headers_end, body_start) = loop {
        let Some((end, next)) = scan::next_line(buf, pos) else {
            return Err(ParseError::new(ErrorKind::TruncatedHead, input.len()));
        };
        let line = buf.get(pos..end).unwrap_or_default();
        if line.is_empty() {
            break (pos, next);
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if pending.is_none() {
                return Err(ParseError::new(ErrorKind::BadHeader, skip + pos));
            }
            value_end = end;
        } else {
            let (name, value_at) = scan::split_header(line)
                .ok_or_else(|| ParseError::new(ErrorKind::BadHeader, skip + pos))?;
            if let Some((name, at, value_start)) = pending {
                let raw = buf.get(value_start..value_end).unwrap_or_default();
                on_header(&mut f, name, raw, skip + at, correlation)?;
            }
            pending = Some((name, pos, pos + value_at));
            value_end = end;
        }
        pos = next;
    };
    if let Some((name, at, value_start)) = pending {
        let raw = buf.get(value_start..value_end).unwrap_or_default();
        on_header(&mut f, name, raw, skip + at, correlation)?;
    }

    let call_id = f
        .call_id
        .ok_or_else(|| ParseError::new(ErrorKind::MissingCallId, skip + headers_start))?;
    let rest = buf.get(body_start..).unwrap_or_default();
    let body = match f.content_length {
        Some(n) => rest.get(..n).unwrap_or(rest),
        None => rest,
    };
    Ok(SipMessage {
        start,
        call_id,
        from: f.from,
        to: f.to,
        cseq: f.cseq,
        via: f.via,
        contact: f.contact,
        user_agent: f.user_agent,
        server: f.server,
        reason: f.reason,
        p_asserted_identity: f.pai,
        content_type: f.content_type,
        content_length: f.content_length,
        max_forwards: f.max_forwards,
        correlation_id: f.correlation.map(|(_, v)| v),
        body,
        headers: buf.get(headers_start..headers_end).unwrap_or_default(),
        raw: buf.get(..body_start + body.len()).unwrap_or(buf),
    })
}

/// Handles one complete header. `at` is the input offset of its line.
#[inline]
fn on_header<'a, S: AsRef<str>>(
    f: &mut Fields<'a>,
    name: &[u8],
    raw: &'a [u8],
    at: usize,
    correlation: &[S],
) -> Result<(), ParseError> {
    let raw = header::trim_value(raw);
    let Some(known) = header::classify(name) else {
        // Only look at correlation names while a better (earlier) one may follow.
        let limit = f.correlation.map_or(correlation.len(), |(i, _)| i);
        if let Some(i) = correlation
            .get(..limit)
            .unwrap_or_default()
            .iter()
            .position(|c| c.as_ref().as_bytes().eq_ignore_ascii_case(name))
            && let Ok(v) = std::str::from_utf8(raw)
            && !v.is_empty()
        {
            f.correlation = Some((i, v));
        }
        return Ok(());
    };
    match known {
        Known::CallId => {
            if f.call_id.is_none() {
                f.call_id = std::str::from_utf8(raw).ok().filter(|t| !t.is_empty());
            }
            return Ok(());
        }
        Known::CSeq => {
            if f.cseq.is_none() {
                f.cseq = Some(
                    std::str::from_utf8(raw)
                        .ok()
                        .and_then(parse_cseq)
                        .ok_or_else(|| ParseError::new(ErrorKind::BadCseq, at))?,
                );
            }
            return Ok(());
        }
        _ => {}
    }
    // Real captures carry stray bytes (a corrupted tag, a Latin-1 display name):
    // keep what is readable instead of dropping the whole field.
    let text = Some(header::utf8_prefix(raw));
    match known {
        Known::CallId | Known::CSeq => {}
        Known::ContentLength => {
            if f.content_length.is_none() {
                f.content_length = Some(scan::parse_content_length(raw, at)?);
            }
        }
        Known::From => set_once(&mut f.from, Some(header::name_addr_from_bytes(raw))),
        Known::To => set_once(&mut f.to, Some(header::name_addr_from_bytes(raw))),
        Known::Via => set_once(&mut f.via, text.and_then(Via::parse)),
        Known::Contact => set_once(&mut f.contact, Some(header::name_addr_from_bytes(raw))),
        Known::PAssertedIdentity => {
            set_once(&mut f.pai, Some(header::name_addr_from_bytes(raw)));
        }
        Known::UserAgent => set_once(&mut f.user_agent, text),
        Known::Server => set_once(&mut f.server, text),
        Known::Reason => set_once(&mut f.reason, text),
        Known::ContentType => set_once(&mut f.content_type, text),
        Known::MaxForwards => set_once(&mut f.max_forwards, text.and_then(|t| t.parse().ok())),
    }
    Ok(())
}

fn set_once<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

fn parse_cseq(v: &str) -> Option<CSeq<'_>> {
    let mut parts = v.split_ascii_whitespace();
    let (Some(seq), Some(method), None) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    if !seq.bytes().all(|b| b.is_ascii_digit()) || !method.bytes().all(scan::is_token_byte) {
        return None;
    }
    Some(CSeq {
        seq: seq.parse().ok()?,
        method: Method::from_token(method),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(buf: &[u8]) -> (ErrorKind, usize) {
        let e = parse(buf).unwrap_err();
        (e.kind(), e.offset())
    }

    #[test]
    fn compact_forms_folding_bare_lf_and_case() {
        let msg = b"\r\nINVITE sip:bob@b.example SIP/2.0\n\
v: SIP/2.0/UDP pc33.example;branch=z9hG4bK776\n\
f: \"Alice\" <sip:alice@a.example>;tag=1928\n\
t: <sip:bob@b.example>\n\
I: a84b4c76e66710\n\
cseq: 314159\n  INVITE\n\
m: <sip:alice@pc33.example>\n\
C: application/sdp\n\
X-CALL-ID:   linked-1  \n\
Subject: folded\n\tover\n two lines\n\
k: timer, 100rel\n\
l: 13\n\
\n\
v=0\r\nm=x 1 y\r\ntrailing";
        let m = parse(msg).unwrap();
        assert_eq!(m.method(), Some(Method::Invite));
        assert_eq!(m.request_uri(), Some("sip:bob@b.example"));
        assert_eq!(m.call_id, "a84b4c76e66710");
        let cseq = m.cseq.unwrap();
        assert_eq!((cseq.seq, cseq.method), (314_159, Method::Invite));
        assert_eq!(m.from.unwrap().display_name, Some("Alice"));
        assert_eq!(m.from.unwrap().tag, Some("1928"));
        assert_eq!(m.to.unwrap().user, Some("bob"));
        assert_eq!(m.via.unwrap().branch, Some("z9hG4bK776"));
        assert_eq!(m.contact.unwrap().uri, "sip:alice@pc33.example");
        assert_eq!(m.content_type, Some("application/sdp"));
        assert_eq!(m.correlation_id, Some("linked-1"));
        assert_eq!(m.content_length, Some(13));
        assert_eq!(m.body, b"v=0\r\nm=x 1 y\r");
        assert_eq!(m.sdp().unwrap().media.len(), 1);
        assert_eq!(m.header("subject"), Some("folded\n\tover\n two lines"));
        assert_eq!(m.header("Call-ID"), Some("a84b4c76e66710"));
        assert_eq!(m.header("content-length"), Some("13"));
        assert_eq!(m.header("X-Missing"), None);
        assert_eq!(m.header("Supported"), Some("timer, 100rel"));
        assert_eq!(m.header("K"), Some("timer, 100rel"));
        let names: Vec<&str> = m.headers().map(|h| h.name).collect();
        assert_eq!(
            names,
            [
                "v",
                "f",
                "t",
                "I",
                "cseq",
                "m",
                "C",
                "X-CALL-ID",
                "Subject",
                "k",
                "l"
            ]
        );
        assert!(m.as_bytes().starts_with(b"INVITE") && m.as_bytes().ends_with(b"\r"));
    }

    #[test]
    fn response_fields() {
        let m = parse(
            b"SIP/2.0 486 Busy Here\r\nCall-ID: x\r\nCSeq: 2 INVITE\r\nServer: FS\r\n\
Reason: Q.850;cause=17;text=\"USER_BUSY\"\r\nP-Asserted-Identity: <tel:+15551234>\r\n\
Max-Forwards: 69\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            m.start,
            StartLine::Response {
                code: 486,
                reason: "Busy Here"
            }
        );
        assert_eq!(m.transaction_method(), Some(Method::Invite));
        assert_eq!(m.server, Some("FS"));
        assert_eq!(m.reason, Some("Q.850;cause=17;text=\"USER_BUSY\""));
        assert_eq!(m.p_asserted_identity.unwrap().user, Some("+15551234"));
        assert_eq!(m.max_forwards, Some(69));
        assert_eq!(
            (m.body, m.method(), m.request_uri()),
            (&b""[..], None, None)
        );
        // No reason phrase at all is tolerated.
        let m = parse(b"SIP/2.0 200\r\ni: y\r\n\r\n").unwrap();
        assert_eq!(
            m.start,
            StartLine::Response {
                code: 200,
                reason: ""
            }
        );
    }

    #[test]
    fn correlation_list_order_wins_and_custom_lists_work() {
        let msg = b"BYE sip:a SIP/2.0\r\ni: c\r\nXCall-ID: third\r\nx-cid: first\r\nX-Call-ID: second\r\n\r\n";
        assert_eq!(parse(msg).unwrap().correlation_id, Some("first"));
        let p = Parser::new(["X-Call-ID", "XCall-ID"]);
        assert_eq!(p.parse(msg).unwrap().correlation_id, Some("second"));
        let none: [&str; 0] = [];
        assert_eq!(Parser::new(none).parse(msg).unwrap().correlation_id, None);
        assert_eq!(
            Parser::default().correlation_headers().collect::<Vec<_>>(),
            DEFAULT_CORRELATION_HEADERS
        );
    }

    #[test]
    fn missing_optional_headers_and_datagram_body() {
        let m = parse(b"MESSAGE sip:a SIP/2.0\r\nCall-ID: c\r\n\r\nhello").unwrap();
        assert_eq!(
            (m.from, m.to, m.cseq, m.via, m.content_length),
            (None, None, None, None, None)
        );
        assert_eq!(m.body, b"hello");
        // A declared length larger than what arrived: the body is what is there.
        let m = parse(b"MESSAGE sip:a SIP/2.0\r\nCall-ID: c\r\nl: 99\r\n\r\nhello").unwrap();
        assert_eq!((m.body, m.content_length), (&b"hello"[..], Some(99)));
        assert_eq!(
            parse(b"FOO sip:a SIP/2.0\r\ni: c\r\n\r\n")
                .unwrap()
                .method(),
            Some(Method::Other("FOO"))
        );
        // Max-Forwards is optional and a bad one is ignored.
        assert_eq!(
            parse(b"ACK sip:a SIP/2.0\r\ni: c\r\nMax-Forwards: x\r\n\r\n")
                .unwrap()
                .max_forwards,
            None
        );
    }

    #[test]
    fn non_utf8_bytes_do_not_panic() {
        let msg = b"INVITE sip:a SIP/2.0\r\nCall-ID: c\r\nFrom: \"Jos\xe9\" <sip:jose@x>;tag=1\r\nX-Bin: \xff\xfe\r\n\r\n";
        let m = parse(msg).unwrap();
        let from = m.from.unwrap();
        assert_eq!(
            (from.display_name, from.uri, from.tag),
            (Some("Jos"), "sip:jose@x", Some("1"))
        );
        assert_eq!(m.header("X-Bin"), None);
        assert_eq!(m.header_bytes("x-bin"), Some(&b"\xff\xfe"[..]));
        assert_eq!(
            kind(b"INVITE sip:a SIP/2.0\r\nCall-ID: \xff\r\n\r\n").0,
            ErrorKind::MissingCallId
        );
        assert_eq!(
            kind(b"INVITE sip:\xff SIP/2.0\r\ni: c\r\n\r\n").0,
            ErrorKind::BadStartLine
        );
    }

    #[test]
    fn every_error_kind() {
        assert_eq!(kind(b""), (ErrorKind::Empty, 0));
        assert_eq!(kind(b"\r\n\r\n"), (ErrorKind::Empty, 4));
        assert_eq!(kind(b"HELLO\r\n\r\n"), (ErrorKind::BadStartLine, 0));
        assert_eq!(
            kind(b"\r\nINVITE sip:a HTTP/1.1\r\n\r\n"),
            (ErrorKind::BadStartLine, 2)
        );
        assert_eq!(
            kind(b"INVITE  SIP/2.0\r\n\r\n"),
            (ErrorKind::BadStartLine, 0)
        );
        assert_eq!(
            kind(b"INV(TE sip:a SIP/2.0\r\n\r\n"),
            (ErrorKind::BadStartLine, 0)
        );
        assert_eq!(
            kind(b"SIP/2.0 99 Low\r\n\r\n"),
            (ErrorKind::BadStatusCode, 8)
        );
        assert_eq!(
            kind(b"SIP/2.0 700 High\r\n\r\n"),
            (ErrorKind::BadStatusCode, 8)
        );
        assert_eq!(kind(b"SIP/2.0 2000\r\n\r\n"), (ErrorKind::BadStatusCode, 8));
        assert_eq!(
            kind(b"SIP/2.0 20x OK\r\n\r\n"),
            (ErrorKind::BadStatusCode, 8)
        );
        assert_eq!(kind(b"SIP/2.0 200 OK"), (ErrorKind::TruncatedHead, 14));
        assert_eq!(
            kind(b"SIP/2.0 200 OK\r\ni: c\r\n"),
            (ErrorKind::TruncatedHead, 22)
        );
        assert_eq!(
            kind(b"SIP/2.0 200 OK\r\ni: c\r\nno colon\r\n\r\n"),
            (ErrorKind::BadHeader, 22)
        );
        assert_eq!(
            kind(b"SIP/2.0 200 OK\r\n folded first\r\n\r\n"),
            (ErrorKind::BadHeader, 16)
        );
        assert_eq!(
            kind(b"SIP/2.0 200 OK\r\nBad Name: x\r\n\r\n"),
            (ErrorKind::BadHeader, 16)
        );
        assert_eq!(
            kind(b"SIP/2.0 200 OK\r\nTo: x\r\n\r\n"),
            (ErrorKind::MissingCallId, 16)
        );
        assert_eq!(
            kind(b"SIP/2.0 200 OK\r\nCall-ID:  \r\n\r\n"),
            (ErrorKind::MissingCallId, 16)
        );
        assert_eq!(
            kind(b"SIP/2.0 200 OK\r\ni: c\r\nCSeq: INVITE\r\n\r\n"),
            (ErrorKind::BadCseq, 22)
        );
        assert_eq!(
            kind(b"SIP/2.0 200 OK\r\ni: c\r\nCSeq: 1 INVITE x\r\n\r\n"),
            (ErrorKind::BadCseq, 22)
        );
        assert_eq!(
            kind(b"SIP/2.0 200 OK\r\ni: c\r\nCSeq: 99999999999 BYE\r\n\r\n"),
            (ErrorKind::BadCseq, 22)
        );
        assert_eq!(
            kind(b"SIP/2.0 200 OK\r\ni: c\r\nl: -1\r\n\r\n"),
            (ErrorKind::BadContentLength, 22)
        );

        let e = parse(b"SIP/2.0 200 OK\r\nTo: x\r\n\r\n").unwrap_err();
        assert_eq!(e.to_string(), "no usable call-id header at byte 16");
        assert_eq!(e.kind().as_str(), "missing_call_id");
    }
}
