//! Byte-level helpers shared by the message parser and the stream framer.

use crate::error::{ErrorKind, ParseError};
use crate::method::Method;

/// `token` characters of RFC 3261 §25.1, as a table: this runs for every byte of
/// every header name.
const TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

/// Whether `b` is a `token` character (RFC 3261 §25.1).
#[inline]
pub(crate) const fn is_token_byte(b: u8) -> bool {
    TOKEN[b as usize]
}

/// Number of leading CR/LF bytes.
pub(crate) fn leading_crlf(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// The line starting at `pos`: returns (end of content without CR/LF, start of the
/// next line), or None if no LF follows. Accepts CRLF and bare LF.
#[inline]
pub(crate) fn next_line(buf: &[u8], pos: usize) -> Option<(usize, usize)> {
    let rest = buf.get(pos..)?;
    let lf = pos + memchr::memchr(b'\n', rest)?;
    let end = if lf > pos && buf.get(lf - 1) == Some(&b'\r') {
        lf - 1
    } else {
        lf
    };
    Some((end, lf + 1))
}

/// Splits a header line into (name, value-start offset within the line). The name
/// is the token before the colon, with whitespace before the colon tolerated.
///
/// One loop finds the colon and validates the name: names are short, so this beats
/// a memchr call plus a second pass.
#[inline]
pub(crate) fn split_header(line: &[u8]) -> Option<(&[u8], usize)> {
    let mut name_end = 0;
    for (i, &b) in line.iter().enumerate() {
        if is_token_byte(b) {
            if name_end != i {
                // Whitespace inside the name: `Bad Name: x`.
                return None;
            }
            name_end = i + 1;
        } else if b == b':' {
            return (name_end > 0).then(|| (line.get(..name_end).unwrap_or_default(), i + 1));
        } else if b != b' ' && b != b'\t' {
            return None;
        }
    }
    None
}

pub(crate) fn trim_end(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    s.get(..n).unwrap_or_default()
}

pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    trim_end(s.get(start..).unwrap_or_default())
}

/// Whether `name` is Content-Length in full or compact form.
#[inline]
pub(crate) fn is_content_length(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")
}

/// Parses a Content-Length value (already trimmed). `offset` is reported on error.
pub(crate) fn parse_content_length(value: &[u8], offset: usize) -> Result<usize, ParseError> {
    let err = || ParseError::new(ErrorKind::BadContentLength, offset);
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(err());
    }
    value.iter().try_fold(0usize, |acc, &d| {
        acc.checked_mul(10)
            .and_then(|a| a.checked_add(usize::from(d - b'0')))
            .ok_or_else(err)
    })
}

/// The parsed first line of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// `METHOD Request-URI SIP/2.0`
    Request {
        /// The request method.
        method: Method<'a>,
        /// The Request-URI, as written.
        uri: &'a str,
    },
    /// `SIP/2.0 CODE Reason-Phrase`
    Response {
        /// Status code, 100..=699.
        code: u16,
        /// Reason phrase (may be empty).
        reason: &'a str,
    },
}

/// Whether `s` is `SIP/<digits>.<digits>` (case-insensitive "SIP", as in the ABNF).
fn is_sip_version(s: &[u8]) -> bool {
    let Some(rest) = s.get(..4).filter(|p| p.eq_ignore_ascii_case(b"SIP/")) else {
        return false;
    };
    let _ = rest;
    let ver = s.get(4..).unwrap_or_default();
    let mut parts = ver.splitn(2, |&b| b == b'.');
    let major = parts.next().unwrap_or_default();
    let minor = parts.next().unwrap_or_default();
    !major.is_empty()
        && !minor.is_empty()
        && major.iter().all(u8::is_ascii_digit)
        && minor.iter().all(u8::is_ascii_digit)
}

/// Parses a complete start line (without its line ending). `base` is the offset of
/// the line in the input, for error reporting.
pub(crate) fn parse_start_line(line: &[u8], base: usize) -> Result<StartLine<'_>, ParseError> {
    let bad = |kind, at: usize| ParseError::new(kind, base + at);
    let line = trim_end(line);
    let text =
        std::str::from_utf8(line).map_err(|e| bad(ErrorKind::BadStartLine, e.valid_up_to()))?;
    if line.len() >= 4
        && line
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
    {
        let sp = memchr::memchr(b' ', line).ok_or_else(|| bad(ErrorKind::BadStartLine, 0))?;
        if !is_sip_version(line.get(..sp).unwrap_or_default()) {
            return Err(bad(ErrorKind::BadStartLine, 0));
        }
        let rest = text.get(sp + 1..).unwrap_or_default();
        let code_str = rest.get(..3).unwrap_or(rest);
        let after = rest.as_bytes().get(3);
        let code = if code_str.len() == 3
            && code_str.bytes().all(|b| b.is_ascii_digit())
            && matches!(after, None | Some(b' ' | b'\t'))
        {
            code_str
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=699).contains(c))
        } else {
            None
        };
        let code = code.ok_or_else(|| bad(ErrorKind::BadStatusCode, sp + 1))?;
        let reason = rest.get(3..).unwrap_or_default().trim_start();
        return Ok(StartLine::Response { code, reason });
    }
    let mut parts = text.split(' ').filter(|p| !p.is_empty());
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(ErrorKind::BadStartLine, 0));
    };
    if !method.bytes().all(is_token_byte) || !is_sip_version(version.as_bytes()) {
        return Err(bad(ErrorKind::BadStartLine, 0));
    }
    Ok(StartLine::Request {
        method: Method::from_token(method),
        uri,
    })
}

/// Checks that a possibly incomplete first line could still become a SIP start line,
/// so a stream of garbage is rejected before a whole line has arrived.
pub(crate) fn plausible_start_prefix(prefix: &[u8]) -> bool {
    const SIP: &[u8] = b"SIP/";
    let n = prefix.len().min(SIP.len());
    if prefix
        .get(..n)
        .is_some_and(|p| p.eq_ignore_ascii_case(SIP.get(..n).unwrap_or_default()))
    {
        return true;
    }
    // A request: the method token, then a space. Methods are short; 32 is generous.
    match memchr::memchr(b' ', prefix) {
        Some(sp) => {
            sp > 0
                && prefix
                    .get(..sp)
                    .is_some_and(|m| m.iter().all(|&b| is_token_byte(b)))
        }
        None => prefix.len() <= 32 && prefix.iter().all(|&b| is_token_byte(b)),
    }
}
