//! Sans-IO ESL framing: push bytes in, pop [`Frame`]s out.
//!
//! A frame is a header block ending with an empty line; if the block has a
//! `Content-Length: N` header, exactly `N` body bytes follow, with no
//! terminator (PROTOCOLS.md §3.2). Like FreeSWITCH's own reader, the framer
//! counts `\n` and ignores `\r`, so `\r\n` line ends work too. Empty lines
//! *between* frames are skipped.
//!
//! Memory is bounded: a header block longer than
//! [`FramerConfig::max_header_bytes`] or a `Content-Length` above
//! [`FramerConfig::max_body_bytes`] is a fatal [`EslError::Framing`] error.
//! The framer then discards its buffer; the caller should drop the connection,
//! because the stream is out of sync. If the caller pops frames after every
//! [`Framer::push`], the buffer never holds more than one header block, one
//! body and one pushed chunk.
//!
//! A lying `Content-Length` cannot be detected here: the framer simply takes
//! the next `N` bytes, and the event decoder then rejects that body
//! ([`ErrorKind::TrailingData`] or [`ErrorKind::Truncated`]). The frame after
//! it usually has no `Content-Type` ([`ContentType::Missing`]), the client's
//! cue that the stream is out of sync.

use bytes::{Buf, Bytes, BytesMut};
use memchr::memchr;

use crate::error::{ErrorKind, EslError};
use crate::event::{url_decode_lossy, utf8_lossy};

/// Limits that keep a hostile or broken peer from growing memory without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramerConfig {
    /// Largest header block, including its empty line. Default 64 KiB; real
    /// frames have a few hundred bytes (an outbound `connect` reply, with every
    /// channel variable as a header, is the largest at ~10 KiB).
    pub max_header_bytes: usize,
    /// Largest `Content-Length`. Default 4 MiB; real events are 1–20 KiB.
    pub max_body_bytes: usize,
}

impl Default for FramerConfig {
    fn default() -> Self {
        FramerConfig {
            max_header_bytes: 64 * 1024,
            max_body_bytes: 4 * 1024 * 1024,
        }
    }
}

/// The `Content-Type` of a frame (PROTOCOLS.md §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentType {
    /// `auth/request`: the server's greeting.
    AuthRequest,
    /// `command/reply`: the answer to a command, in `Reply-Text`.
    CommandReply,
    /// `api/response`: the output of an `api` command, in the body.
    ApiResponse,
    /// `text/event-plain`: a URL-encoded `Name: value` event.
    EventPlain,
    /// `text/event-json`: a JSON event.
    EventJson,
    /// `text/event-xml`: an XML event. Framed, but not decoded by this crate.
    EventXml,
    /// `log/data`: one log line (see [`LogData`](crate::LogData)).
    LogData,
    /// `text/disconnect-notice`: the server is closing (or lingering).
    DisconnectNotice,
    /// `text/rude-rejection`: the ACL rejected us; the server closes.
    RudeRejection,
    /// Any other content type, kept verbatim so the caller can count it.
    Unknown(String),
    /// No `Content-Type` header at all. FreeSWITCH always sends one, so this
    /// means the stream is out of sync (for example after a lying
    /// `Content-Length`).
    Missing,
}

impl ContentType {
    /// Maps a header value to a content type.
    pub fn parse(value: &str) -> ContentType {
        match value.trim() {
            "auth/request" => ContentType::AuthRequest,
            "command/reply" => ContentType::CommandReply,
            "api/response" => ContentType::ApiResponse,
            "text/event-plain" => ContentType::EventPlain,
            "text/event-json" => ContentType::EventJson,
            "text/event-xml" => ContentType::EventXml,
            "log/data" => ContentType::LogData,
            "text/disconnect-notice" => ContentType::DisconnectNotice,
            "text/rude-rejection" => ContentType::RudeRejection,
            other => ContentType::Unknown(other.to_owned()),
        }
    }

    /// The wire form (`""` for [`ContentType::Missing`]).
    pub fn as_str(&self) -> &str {
        match self {
            ContentType::AuthRequest => "auth/request",
            ContentType::CommandReply => "command/reply",
            ContentType::ApiResponse => "api/response",
            ContentType::EventPlain => "text/event-plain",
            ContentType::EventJson => "text/event-json",
            ContentType::EventXml => "text/event-xml",
            ContentType::LogData => "log/data",
            ContentType::DisconnectNotice => "text/disconnect-notice",
            ContentType::RudeRejection => "text/rude-rejection",
            ContentType::Unknown(s) => s,
            ContentType::Missing => "",
        }
    }
}

/// One ESL frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The `Content-Type` header, parsed.
    pub content_type: ContentType,
    /// Every header of the block in wire order, values URL-decoded leniently
    /// (as libesl does: the outbound `connect` reply sends `Reply-Text: %2BOK%0A`).
    /// `Content-Type` and `Content-Length` are included.
    pub headers: Vec<(String, String)>,
    /// The body when the block had a `Content-Length` (possibly empty), else `None`.
    pub body: Option<Bytes>,
}

impl Frame {
    /// The first header with this name, compared ASCII case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Reply-Text` of a `command/reply`, trimmed (the outbound `connect`
    /// reply ends it with a newline).
    pub fn reply_text(&self) -> Option<&str> {
        self.header("Reply-Text").map(str::trim)
    }

    /// Whether this is a reply (`command/reply` `Reply-Text` or `api/response`
    /// body) that starts with `+OK`.
    pub fn is_ok_reply(&self) -> bool {
        match self.content_type {
            ContentType::CommandReply => self.reply_text().is_some_and(|t| t.starts_with("+OK")),
            ContentType::ApiResponse => self.body.as_ref().is_some_and(|b| b.starts_with(b"+OK")),
            _ => false,
        }
    }
}

/// A header block parsed, waiting for its body.
#[derive(Debug)]
struct Pending {
    content_type: ContentType,
    headers: Vec<(String, String)>,
    body_len: Option<usize>,
}

/// Incremental ESL framer. See the [module docs](self).
#[derive(Debug, Default)]
pub struct Framer {
    config: FramerConfig,
    buf: BytesMut,
    /// Where to resume the search for the end of the header block, so a block
    /// that arrives in many small reads is scanned once, not once per read.
    scan_from: usize,
    pending: Option<Pending>,
    /// Stream offset of `buf[0]`.
    offset: u64,
}

enum BlockEnd {
    /// The block is `buf[..end]`, empty line included.
    Found(usize),
    NeedMore,
}

impl Framer {
    /// A framer with the given limits.
    pub fn new(config: FramerConfig) -> Self {
        Framer {
            config,
            ..Framer::default()
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &FramerConfig {
        &self.config
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered and not yet returned as part of a frame (a partial
    /// frame). After the last frame of a complete dump this is 0.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes consumed since creation or the last [`reset`](Self::reset).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Drops all buffered bytes and any partial frame, for a new connection.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.scan_from = 0;
        self.pending = None;
        self.offset = 0;
    }

    /// Pops the next complete frame, or `Ok(None)` if more bytes are needed.
    ///
    /// An error is fatal for the stream: the framer has discarded its buffer,
    /// so the caller should drop the connection (and may keep using the framer
    /// after [`reset`](Self::reset) for the next one).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, EslError> {
        let result = self.next_frame_inner();
        if result.is_err() {
            let offset = self.offset;
            self.reset();
            self.offset = offset;
        }
        result
    }

    fn next_frame_inner(&mut self) -> Result<Option<Frame>, EslError> {
        if self.pending.is_none() {
            self.skip_blank_lines();
            let end = match self.find_block_end() {
                BlockEnd::NeedMore => {
                    if self.buf.len() > self.config.max_header_bytes {
                        return Err(self.framing_error(ErrorKind::HeaderTooLarge));
                    }
                    return Ok(None);
                }
                BlockEnd::Found(end) => end,
            };
            if end > self.config.max_header_bytes {
                return Err(self.framing_error(ErrorKind::HeaderTooLarge));
            }
            let pending = self.parse_block(end)?;
            self.advance(end);
            self.pending = Some(pending);
        }

        let Some(pending) = self.pending.as_ref() else {
            return Ok(None);
        };
        let body = match pending.body_len {
            None => None,
            Some(len) if self.buf.len() >= len => Some(self.buf.split_to(len).freeze()),
            Some(_) => return Ok(None),
        };
        let Some(pending) = self.pending.take() else {
            return Ok(None);
        };
        if let Some(body) = &body {
            self.offset += body.len() as u64;
        }
        Ok(Some(Frame {
            content_type: pending.content_type,
            headers: pending.headers,
            body,
        }))
    }

    fn advance(&mut self, n: usize) {
        self.buf.advance(n);
        self.offset += n as u64;
        self.scan_from = 0;
    }

    fn framing_error(&self, kind: ErrorKind) -> EslError {
        EslError::Framing {
            kind,
            offset: self.offset,
        }
    }

    /// Drops `\n` / `\r\n` lines before a header block. A lone trailing `\r`
    /// stays until we know what follows it.
    fn skip_blank_lines(&mut self) {
        let mut n = 0;
        loop {
            match self.buf.get(n..) {
                Some([b'\n', ..]) => n += 1,
                Some([b'\r', b'\n', ..]) => n += 2,
                _ => break,
            }
        }
        if n > 0 {
            self.advance(n);
        }
    }

    fn find_block_end(&mut self) -> BlockEnd {
        let mut pos = self.scan_from;
        loop {
            let Some(rel) = self.buf.get(pos..).and_then(|rest| memchr(b'\n', rest)) else {
                self.scan_from = self.buf.len();
                return BlockEnd::NeedMore;
            };
            let nl = pos + rel;
            match self.buf.get(nl + 1..) {
                Some([b'\n', ..]) => return BlockEnd::Found(nl + 2),
                Some([b'\r', b'\n', ..]) => return BlockEnd::Found(nl + 3),
                Some([]) | Some([b'\r']) | None => {
                    // The next line has not arrived yet: rescan from this newline.
                    self.scan_from = nl;
                    return BlockEnd::NeedMore;
                }
                Some(_) => pos = nl + 1,
            }
        }
    }

    fn parse_block(&self, end: usize) -> Result<Pending, EslError> {
        let block = self.buf.get(..end).unwrap_or_default();
        let mut headers = Vec::new();
        let mut content_type = ContentType::Missing;
        let mut body_len = None;
        for (line_start, line) in lines(block) {
            if line.is_empty() {
                continue;
            }
            let Some((name, value)) = split_header(line) else {
                return Err(EslError::Framing {
                    kind: ErrorKind::MalformedHeader,
                    offset: self.offset + line_start as u64,
                });
            };
            let name = utf8_lossy(name).into_owned();
            let value = url_decode_lossy(value).into_owned();
            if name.eq_ignore_ascii_case("Content-Type") && content_type == ContentType::Missing {
                content_type = ContentType::parse(&value);
            } else if name.eq_ignore_ascii_case("Content-Length") && body_len.is_none() {
                let len = parse_content_length(&value).ok_or(EslError::Framing {
                    kind: ErrorKind::BadContentLength,
                    offset: self.offset + line_start as u64,
                })?;
                if len > self.config.max_body_bytes {
                    return Err(EslError::Framing {
                        kind: ErrorKind::BodyTooLarge,
                        offset: self.offset + line_start as u64,
                    });
                }
                body_len = Some(len);
            }
            headers.push((name, value));
        }
        Ok(Pending {
            content_type,
            headers,
            body_len,
        })
    }
}

/// Lines of `block` with their start offsets, `\n` removed and one trailing
/// `\r` stripped.
fn lines(block: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let rest = block.get(pos..).filter(|r| !r.is_empty())?;
        let start = pos;
        let (line, next) = match memchr(b'\n', rest) {
            Some(i) => (rest.get(..i).unwrap_or_default(), pos + i + 1),
            None => (rest, block.len()),
        };
        pos = next;
        Some((start, line.strip_suffix(b"\r").unwrap_or(line)))
    })
}

/// Splits `Name: value`; the name must be non-empty. Spaces after the colon
/// are skipped (FreeSWITCH writes one; a leading space in a value is URL-encoded).
fn split_header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = memchr(b':', line)?;
    let name = line.get(..colon).filter(|n| !n.is_empty())?;
    let mut value = line.get(colon + 1..).unwrap_or_default();
    while let [b' ', rest @ ..] = value {
        value = rest;
    }
    Some((name, value))
}

/// A decimal `Content-Length`; at most 19 digits so it cannot overflow.
pub(crate) fn parse_content_length(value: &str) -> Option<usize> {
    let v = value.trim();
    if v.is_empty() || v.len() > 19 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u64>().ok().and_then(|n| usize::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], config: FramerConfig) -> (Vec<Frame>, Option<EslError>, usize) {
        let mut f = Framer::new(config);
        f.push(input);
        let mut out = Vec::new();
        loop {
            match f.next_frame() {
                Ok(Some(fr)) => out.push(fr),
                Ok(None) => return (out, None, f.buffered()),
                Err(e) => return (out, Some(e), f.buffered()),
            }
        }
    }

    #[test]
    fn every_frame_type_of_the_protocol() {
        let input = b"Content-Type: auth/request\n\n\
Content-Type: command/reply\nReply-Text: +OK accepted\n\n\
Content-Type: api/response\nContent-Length: 4\n\n+OK\n\
Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n\
Content-Type: text/disconnect-notice\nContent-Length: 14\n\nDisconnected.\n\
Content-Type: log/data\nContent-Length: 3\nLog-Level: 7\n\nabc\
Content-Type: text/event-xml\nContent-Length: 7\n\n<event>\
Content-Type: x/new\n\n\
Reply-Text: orphan\n\n";
        let (frames, err, left) = frames(input, FramerConfig::default());
        assert!(err.is_none());
        assert_eq!(left, 0);
        let types: Vec<_> = frames.iter().map(|f| f.content_type.clone()).collect();
        assert_eq!(
            types,
            vec![
                ContentType::AuthRequest,
                ContentType::CommandReply,
                ContentType::ApiResponse,
                ContentType::RudeRejection,
                ContentType::DisconnectNotice,
                ContentType::LogData,
                ContentType::EventXml,
                ContentType::Unknown("x/new".into()),
                ContentType::Missing,
            ]
        );
        assert!(frames[1].is_ok_reply());
        assert_eq!(frames[1].reply_text(), Some("+OK accepted"));
        assert!(frames[2].is_ok_reply());
        assert_eq!(frames[0].body, None);
        assert_eq!(
            frames[3].body.as_deref(),
            Some(&b"Access Denied, go away.\n"[..])
        );
        assert_eq!(frames[5].header("log-level"), Some("7"));
    }

    #[test]
    fn crlf_and_blank_lines_between_frames() {
        let input = b"\r\n\nContent-Type: api/response\r\nContent-Length: 2\r\n\r\nok\n\nContent-Type: auth/request\r\n\r\n";
        let (frames, err, left) = frames(input, FramerConfig::default());
        assert!(err.is_none());
        assert_eq!(left, 0);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].body.as_deref(), Some(&b"ok"[..]));
        assert_eq!(frames[0].header("Content-Type"), Some("api/response"));
        assert_eq!(frames[1].content_type, ContentType::AuthRequest);
    }

    #[test]
    fn byte_at_a_time_equals_all_at_once() {
        let input: &[u8] = b"Content-Type: command/reply\r\nReply-Text: %2BOK%0A\r\n\r\nContent-Length: 5\nContent-Type: text/event-plain\n\nA: b\n\nContent-Type: auth/request\n\n";
        let (whole, _, _) = frames(input, FramerConfig::default());
        let mut f = Framer::default();
        let mut split = Vec::new();
        for b in input {
            f.push(std::slice::from_ref(b));
            while let Some(fr) = f.next_frame().unwrap() {
                split.push(fr);
            }
        }
        assert_eq!(whole, split);
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[0].reply_text(), Some("+OK"));
        assert_eq!(f.offset(), input.len() as u64);
    }

    #[test]
    fn limits_are_fatal_and_reset_the_buffer() {
        let cfg = FramerConfig {
            max_header_bytes: 64,
            max_body_bytes: 10,
        };
        let (_, err, left) = frames(&[b'a'; 100], cfg);
        assert_eq!(err.and_then(|e| e.kind()), Some(ErrorKind::HeaderTooLarge));
        assert_eq!(left, 0);

        let (_, err, _) = frames(b"Content-Type: x\nContent-Length: 11\n\n", cfg);
        assert_eq!(err.and_then(|e| e.kind()), Some(ErrorKind::BodyTooLarge));

        let (_, err, _) = frames(b"Content-Length: -1\n\n", cfg);
        assert_eq!(
            err.and_then(|e| e.kind()),
            Some(ErrorKind::BadContentLength)
        );

        let (ok, err, _) = frames(b"Content-Type: auth/request\n\n\x00\x01junk\n\n", cfg);
        assert_eq!(ok.len(), 1);
        assert_eq!(
            err,
            Some(EslError::Framing {
                kind: ErrorKind::MalformedHeader,
                offset: 28
            })
        );
    }

    #[test]
    fn content_length_parsing() {
        assert_eq!(parse_content_length(" 42 "), Some(42));
        assert_eq!(parse_content_length("+4"), None);
        assert_eq!(parse_content_length("99999999999999999999"), None);
        assert_eq!(parse_content_length(""), None);
    }
}
