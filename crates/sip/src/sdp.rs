//! A summary of an SDP offer/answer (RFC 8866): connection addresses, media lines,
//! codecs and direction. Enough to show what a call negotiated, not a full SDP model.

use std::fmt;

use smallvec::SmallVec;

/// Formats an `m=` line lists before they spill to the heap (the real
/// captures this crate is tested on list 1–5, a few up to 14).
pub const INLINE_FORMATS: usize = 8;
/// `m=` sections an SDP holds before they spill to the heap (audio, video).
pub const INLINE_MEDIA: usize = 2;

/// Media direction attribute (RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// `a=sendrecv`, also the default when no attribute is given.
    #[default]
    SendRecv,
    /// `a=sendonly`
    SendOnly,
    /// `a=recvonly`
    RecvOnly,
    /// `a=inactive`
    Inactive,
}

impl Direction {
    /// The attribute name: `sendrecv`, `sendonly`, `recvonly` or `inactive`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    fn from_attribute(attr: &str) -> Option<Self> {
        match attr {
            "sendrecv" => Some(Self::SendRecv),
            "sendonly" => Some(Self::SendOnly),
            "recvonly" => Some(Self::RecvOnly),
            "inactive" => Some(Self::Inactive),
            _ => None,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One format of an `m=` line with what `a=rtpmap` (or the RFC 3551 static table)
/// says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Format<'a> {
    /// The format as listed on the `m=` line: an RTP payload type (`0`, `101`) or,
    /// for non-RTP media, a token such as `t38`.
    pub id: &'a str,
    /// Encoding name (`PCMU`, `telephone-event`, ...), from rtpmap or the static table.
    pub encoding: Option<&'a str>,
    /// Clock rate in Hz.
    pub clock_rate: Option<u32>,
}

impl Format<'_> {
    /// The RTP payload type, if the id is a number in 0..=127.
    #[must_use]
    pub fn payload_type(&self) -> Option<u8> {
        self.id.parse().ok().filter(|pt| *pt <= 127)
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Media<'a> {
    /// `audio`, `video`, `image`, `application`, ...
    pub media: &'a str,
    /// Transport port (0 means the stream is rejected or disabled).
    pub port: u16,
    /// `RTP/AVP`, `RTP/SAVP`, `udptl`, ...
    pub proto: &'a str,
    /// Formats in `m=` line order (preference order for an offer).
    pub formats: SmallVec<[Format<'a>; INLINE_FORMATS]>,
    /// Media-level `c=` address, if any.
    pub connection: Option<&'a str>,
    /// Direction attribute at media level, if any.
    pub direction_attr: Option<Direction>,
    /// The effective direction: media level, else session level, else sendrecv.
    pub direction: Direction,
}

impl<'a> Media<'a> {
    /// The address media is sent to: media-level `c=`, else the session `c=`.
    #[must_use]
    pub fn address<'s>(&self, summary: &SdpSummary<'s>) -> Option<&'s str>
    where
        'a: 's,
    {
        self.connection.or(summary.connection)
    }

    /// Encoding names in format order, `None` entries skipped.
    pub fn codecs(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.formats.iter().filter_map(|f| f.encoding)
    }
}

/// What an SDP body says, see [`summarize`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SdpSummary<'a> {
    /// Session-level `c=` address (without `/ttl`).
    pub connection: Option<&'a str>,
    /// Session-level direction attribute, if any.
    pub direction: Option<Direction>,
    /// The `m=` sections in order.
    pub media: SmallVec<[Media<'a>; INLINE_MEDIA]>,
}

/// RFC 3551 static payload types: (pt, encoding, clock rate).
const STATIC_PAYLOAD_TYPES: &[(u8, &str, u32)] = &[
    (0, "PCMU", 8000),
    (3, "GSM", 8000),
    (4, "G723", 8000),
    (5, "DVI4", 8000),
    (6, "DVI4", 16000),
    (7, "LPC", 8000),
    (8, "PCMA", 8000),
    (9, "G722", 8000),
    (10, "L16", 44100),
    (11, "L16", 44100),
    (12, "QCELP", 8000),
    (13, "CN", 8000),
    (14, "MPA", 90000),
    (15, "G728", 8000),
    (16, "DVI4", 11025),
    (17, "DVI4", 22050),
    (18, "G729", 8000),
    (25, "CelB", 90000),
    (26, "JPEG", 90000),
    (28, "nv", 90000),
    (31, "H261", 90000),
    (32, "MPV", 90000),
    (33, "MP2T", 90000),
    (34, "H263", 90000),
];

fn static_format(id: &str) -> Format<'_> {
    let known = id
        .parse::<u8>()
        .ok()
        .and_then(|pt| STATIC_PAYLOAD_TYPES.iter().find(|(p, _, _)| *p == pt));
    Format {
        id,
        encoding: known.map(|(_, name, _)| *name),
        clock_rate: known.map(|(_, _, rate)| *rate),
    }
}

/// Address of a `c=IN IP4 addr[/ttl[/n]]` value.
fn connection_address(value: &str) -> Option<&str> {
    let addr = value.split_ascii_whitespace().nth(2)?;
    addr.split('/').next().filter(|a| !a.is_empty())
}

/// Summarises an SDP body. Never fails: lines that are not UTF-8 or not understood
/// are skipped, and attributes after a malformed `m=` line are ignored rather than
/// attached to the wrong section.
#[must_use]
pub fn summarize(body: &[u8]) -> SdpSummary<'_> {
    let mut summary = SdpSummary::default();
    // Whether lines currently belong to a well-formed m= section (the last in
    // `summary.media`), to the session, or to a skipped section.
    #[derive(PartialEq)]
    enum Section {
        Session,
        Media,
        Skipped,
    }
    let mut section = Section::Session;
    for line in body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let Some((kind, value)) = line.split_once('=') else {
            continue;
        };
        match (kind, &section) {
            ("m", _) => match parse_media_line(value) {
                Some(media) => {
                    summary.media.push(media);
                    section = Section::Media;
                }
                None => section = Section::Skipped,
            },
            (_, Section::Skipped) => {}
            ("c", Section::Session) => summary.connection = connection_address(value),
            ("c", Section::Media) => {
                if let Some(m) = summary.media.last_mut() {
                    m.connection = connection_address(value);
                }
            }
            ("a", Section::Session) => {
                if let Some(d) = Direction::from_attribute(value.trim()) {
                    summary.direction = Some(d);
                }
            }
            ("a", Section::Media) => {
                if let Some(m) = summary.media.last_mut() {
                    media_attribute(m, value);
                }
            }
            _ => {}
        }
    }
    let session_dir = summary.direction.unwrap_or_default();
    for m in &mut summary.media {
        m.direction = m.direction_attr.unwrap_or(session_dir);
    }
    summary
}

fn parse_media_line(value: &str) -> Option<Media<'_>> {
    let mut fields = value.split_ascii_whitespace();
    let media = fields.next()?;
    let port = fields.next()?.split('/').next()?.parse().ok()?;
    let proto = fields.next()?;
    Some(Media {
        media,
        port,
        proto,
        formats: fields.map(static_format).collect(),
        connection: None,
        direction_attr: None,
        direction: Direction::SendRecv,
    })
}

fn media_attribute<'a>(m: &mut Media<'a>, value: &'a str) {
    let value = value.trim();
    if let Some(d) = Direction::from_attribute(value) {
        m.direction_attr = Some(d);
        return;
    }
    let Some(rtpmap) = value.strip_prefix("rtpmap:") else {
        return;
    };
    let mut parts = rtpmap.split_ascii_whitespace();
    let (Some(pt), Some(encoding)) = (parts.next(), parts.next()) else {
        return;
    };
    let mut enc = encoding.split('/');
    let name = enc.next().filter(|n| !n.is_empty());
    let rate = enc.next().and_then(|r| r.parse().ok());
    if let Some(format) = m.formats.iter_mut().find(|f| f.id == pt) {
        format.encoding = name;
        format.clock_rate = rate;
    }
}

/// Whether a Content-Type value is `application/sdp` (case-insensitive, parameters
/// ignored).
#[must_use]
pub fn is_sdp_content_type(content_type: &str) -> bool {
    media_type(content_type).eq_ignore_ascii_case("application/sdp")
}

fn media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or_default().trim()
}

/// The SDP in a body: the body itself for `application/sdp`, or the first
/// `application/sdp` part of a `multipart/*` body.
#[must_use]
pub fn find_sdp<'a>(content_type: &str, body: &'a [u8]) -> Option<&'a [u8]> {
    if is_sdp_content_type(content_type) {
        return Some(body);
    }
    let kind = media_type(content_type);
    if !kind
        .get(..10)
        .is_some_and(|p| p.eq_ignore_ascii_case("multipart/"))
    {
        return None;
    }
    let boundary = crate::header::param(content_type, "boundary").filter(|b| !b.is_empty())?;
    multipart_parts(body, boundary.as_bytes()).find_map(|part| {
        let (head, content) = split_part(part)?;
        let is_sdp = head.split(|&b| b == b'\n').any(|line| {
            let Ok(line) = std::str::from_utf8(line) else {
                return false;
            };
            line.split_once(':').is_some_and(|(name, value)| {
                crate::header::same_name(name.trim().as_bytes(), b"Content-Type")
                    && is_sdp_content_type(value)
            })
        });
        is_sdp.then_some(content)
    })
}

/// Parts between `--boundary` delimiter lines (RFC 2046 §5.1.1), CRLF before each
/// delimiter removed.
fn multipart_parts<'a, 'b>(
    body: &'a [u8],
    boundary: &'b [u8],
) -> impl Iterator<Item = &'a [u8]> + use<'a, 'b> {
    let mut rest = body;
    let mut started = false;
    std::iter::from_fn(move || {
        loop {
            // A body cut short (snaplen, lost segment) has no closing delimiter: its
            // last part is still worth reading.
            let Some(at) = find_delimiter(rest, boundary) else {
                let last = std::mem::take(&mut rest);
                return (started && !last.is_empty()).then_some(last);
            };
            let part = rest.get(..at).unwrap_or_default();
            let after = rest.get(at + 2 + boundary.len()..).unwrap_or_default();
            if after.starts_with(b"--") {
                rest = &[];
            } else {
                // Skip the rest of the delimiter line.
                let nl = memchr::memchr(b'\n', after).map_or(after.len(), |i| i + 1);
                rest = after.get(nl..).unwrap_or_default();
            }
            let was_started = std::mem::replace(&mut started, true);
            if was_started {
                let part = part.strip_suffix(b"\n").unwrap_or(part);
                return Some(part.strip_suffix(b"\r").unwrap_or(part));
            }
        }
    })
}

/// Offset of the next `--boundary` that starts a line.
fn find_delimiter(buf: &[u8], boundary: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let rel = memchr::memmem::find(buf.get(from..)?, b"--")?;
        let at = from + rel;
        let line_start = at == 0 || buf.get(at - 1) == Some(&b'\n');
        if line_start && buf.get(at + 2..)?.starts_with(boundary) {
            return Some(at);
        }
        from = at + 1;
    }
}

/// Splits a MIME part into its header block and content.
fn split_part(part: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut pos = 0;
    loop {
        let (end, next) = crate::scan::next_line(part, pos)?;
        if end == pos {
            return Some((part.get(..pos)?, part.get(next..)?));
        }
        pos = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_an_offer() {
        let sdp = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendonly\r\n\
m=audio 4000 RTP/AVP 0 8 9 18 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n\
m=video 0 RTP/AVP 96\r\nc=IN IP4 224.2.1.1/127\r\na=rtpmap:96 H264/90000\r\na=inactive\r\n\
m=image 5000/2 udptl t38\r\n";
        let s = summarize(sdp);
        assert_eq!(s.connection, Some("10.0.0.1"));
        assert_eq!(s.direction, Some(Direction::SendOnly));
        assert_eq!(s.media.len(), 3);
        let a = &s.media[0];
        assert_eq!((a.media, a.port, a.proto), ("audio", 4000, "RTP/AVP"));
        assert_eq!(
            a.codecs().collect::<Vec<_>>(),
            ["PCMU", "PCMA", "G722", "G729", "telephone-event"]
        );
        assert_eq!(a.formats[4].clock_rate, Some(8000));
        assert_eq!(a.formats[4].payload_type(), Some(101));
        assert_eq!((a.direction_attr, a.direction), (None, Direction::SendOnly));
        assert_eq!(a.address(&s), Some("10.0.0.1"));
        let v = &s.media[1];
        assert_eq!(
            (v.port, v.connection, v.direction),
            (0, Some("224.2.1.1"), Direction::Inactive)
        );
        assert_eq!(v.formats[0].encoding, Some("H264"));
        let i = &s.media[2];
        assert_eq!(
            (i.media, i.port, i.proto, i.formats[0].id),
            ("image", 5000, "udptl", "t38")
        );
        assert_eq!(
            (i.formats[0].encoding, i.formats[0].payload_type()),
            (None, None)
        );
    }

    #[test]
    fn malformed_media_line_swallows_its_attributes() {
        let s = summarize(b"m=audio x RTP/AVP 0\na=recvonly\nm=audio 1 RTP/AVP 8\n\xff\xfe\n");
        assert_eq!(s.media.len(), 1);
        assert_eq!(s.media[0].direction, Direction::SendRecv);
        assert_eq!(s.media[0].formats[0].encoding, Some("PCMA"));
        assert_eq!(summarize(b""), SdpSummary::default());
    }

    #[test]
    fn multipart_finds_the_sdp_part() {
        let body = b"--unique\r\nContent-Type: application/isup\r\n\r\n\x01\x02--x\r\n--unique\r\n\
content-type: Application/SDP\r\n\r\nv=0\r\nm=audio 1 RTP/AVP 0\r\n\r\n--unique--\r\n";
        let ct = "multipart/mixed;boundary=unique";
        let sdp = find_sdp(ct, body).unwrap();
        assert_eq!(sdp, b"v=0\r\nm=audio 1 RTP/AVP 0\r\n");
        assert_eq!(
            find_sdp("application/sdp; charset=x", b"v=0"),
            Some(&b"v=0"[..])
        );
        assert_eq!(find_sdp("text/plain", b"v=0"), None);
        assert_eq!(find_sdp("multipart/mixed; boundary=\"nope\"", body), None);
    }
}
