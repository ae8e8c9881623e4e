//! Framing SIP messages on a byte stream (SIP over TCP, TLS, or a reassembled capture).
//!
//! A stream carries messages back to back; each one is a head ended by an empty line
//! plus exactly `Content-Length` body bytes (RFC 3261 §18.3). Between messages a peer
//! may send CRLF keep-alives (RFC 5626 §3.5.1: `CRLFCRLF` ping, `CRLF` pong).
//!
//! # Keep-alives
//!
//! [`message_len`] tolerates leading CR/LF bytes and counts them as part of the
//! message it returns, so a caller that only uses `message_len` still consumes the
//! stream correctly ([`parse`](crate::parse) ignores them as well). A caller that
//! wants the message bytes without keep-alives (to log the raw message, or to count
//! pings) calls [`skip_keepalives`] first and drops that many bytes:
//!
//! ```
//! use callweave_sip::stream::{message_len, skip_keepalives};
//!
//! let mut buf: &[u8] = b"\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\nBYE";
//! let ka = skip_keepalives(buf);
//! assert_eq!(ka, 4);
//! buf = &buf[ka..];
//! let n = message_len(buf)?.expect("complete");
//! assert!(buf[..n].starts_with(b"OPTIONS"));
//! // The rest ("BYE") is the start of the next message: more bytes needed.
//! assert_eq!(message_len(&buf[n..])?, None);
//! # Ok::<(), callweave_sip::ParseError>(())
//! ```

use crate::error::{ErrorKind, ParseError};
use crate::scan;

/// Largest head (start line + headers) accepted on a stream before giving up.
pub const MAX_HEAD_LEN: usize = 64 * 1024;
/// Largest declared body accepted on a stream.
pub const MAX_BODY_LEN: usize = 16 * 1024 * 1024;

/// Number of leading CR/LF keep-alive bytes at the start of `buf` (0 if none).
#[must_use]
pub fn skip_keepalives(buf: &[u8]) -> usize {
    scan::leading_crlf(buf)
}

/// Length of the complete SIP message at the start of `buf` (head + Content-Length body),
/// Ok(None) if more bytes are needed, Err if `buf` does not start like a SIP message.
///
/// Leading CR/LF keep-alives are included in the returned length (see the
/// [module docs](self)); a buffer of only keep-alives needs more bytes. Header names
/// are matched case-insensitively, `l` is Content-Length, lines may end in CRLF or a
/// bare LF, and a missing Content-Length means an empty body (on a stream it is
/// mandatory, so this is the only safe reading). The returned length is never more
/// than `buf.len()`.
///
/// # Errors
///
/// [`ErrorKind::BadStartLine`] / [`ErrorKind::BadStatusCode`] if the first line cannot
/// be a SIP start line, [`ErrorKind::BadHeader`] for a header line without a colon,
/// [`ErrorKind::BadContentLength`] for a non-numeric Content-Length, and
/// [`ErrorKind::TooLarge`] when the head exceeds [`MAX_HEAD_LEN`] or the body
/// [`MAX_BODY_LEN`]. After an error the stream cannot be resynchronised reliably.
pub fn message_len(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    let skip = scan::leading_crlf(buf);
    let msg = buf.get(skip..).unwrap_or_default();
    if msg.is_empty() {
        return Ok(None);
    }
    let Some((first_end, mut pos)) = scan::next_line(msg, 0) else {
        if !scan::plausible_start_prefix(msg) {
            return Err(ParseError::new(ErrorKind::BadStartLine, skip));
        }
        return too_large_or_more(msg.len(), skip);
    };
    scan::parse_start_line(msg.get(..first_end).unwrap_or_default(), skip)?;

    let mut content_length = None;
    // The Content-Length header being read: (offset of its line, value start, value
    // end), finished once its continuation lines (if any) are known.
    let mut pending: Option<(usize, usize, usize)> = None;
    let head_len = loop {
        let Some((end, next)) = scan::next_line(msg, pos) else {
            return too_large_or_more(msg.len(), skip);
        };
        let line = msg.get(pos..end).unwrap_or_default();
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if let Some((at, start, value_end)) = pending {
            if continuation {
                pending = Some((at, start, end));
            } else {
                let value = scan::trim(msg.get(start..value_end).unwrap_or_default());
                content_length = Some(scan::parse_content_length(value, skip + at)?);
                pending = None;
            }
        }
        if line.is_empty() {
            break next;
        }
        if !continuation {
            let (name, value_at) = scan::split_header(line)
                .ok_or_else(|| ParseError::new(ErrorKind::BadHeader, skip + pos))?;
            if content_length.is_none() && scan::is_content_length(name) {
                pending = Some((pos, pos + value_at, end));
            }
        }
        pos = next;
        if pos > MAX_HEAD_LEN {
            return Err(ParseError::new(ErrorKind::TooLarge, skip));
        }
    };
    let body_len = content_length.unwrap_or(0);
    if body_len > MAX_BODY_LEN {
        return Err(ParseError::new(ErrorKind::TooLarge, skip + head_len));
    }
    let total = skip + head_len + body_len;
    Ok((total <= buf.len()).then_some(total))
}

fn too_large_or_more(have: usize, skip: usize) -> Result<Option<usize>, ParseError> {
    if have > MAX_HEAD_LEN {
        Err(ParseError::new(ErrorKind::TooLarge, skip))
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] =
        b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nContent-Length: 4\r\n\r\nbody";

    #[test]
    fn complete_message_and_every_prefix_needs_more() {
        assert_eq!(message_len(OPTIONS), Ok(Some(OPTIONS.len())));
        for n in 0..OPTIONS.len() {
            assert_eq!(message_len(&OPTIONS[..n]), Ok(None), "prefix {n}");
        }
        let mut two = OPTIONS.to_vec();
        two.extend_from_slice(OPTIONS);
        assert_eq!(message_len(&two), Ok(Some(OPTIONS.len())));
    }

    #[test]
    fn compact_case_insensitive_bare_lf() {
        let m = b"SIP/2.0 200 OK\nCALL-ID: x\nL :  3\n\nabcSIP/2.0";
        assert_eq!(message_len(m), Ok(Some(m.len() - 7)));
        let m = b"SIP/2.0 200 OK\r\ncontent-LENGTH: 2\r\n\nab";
        assert_eq!(message_len(m), Ok(Some(m.len())));
    }

    #[test]
    fn missing_content_length_is_empty_body() {
        let m = b"BYE sip:x SIP/2.0\r\ni: a\r\n\r\nNOTIFY";
        assert_eq!(message_len(m), Ok(Some(m.len() - 6)));
    }

    #[test]
    fn keepalives_are_counted_in_and_skippable() {
        assert_eq!(message_len(b"\r\n\r\n"), Ok(None));
        assert_eq!(skip_keepalives(b"\r\n\r\nSIP"), 4);
        assert_eq!(skip_keepalives(b"SIP"), 0);
        let mut m = b"\r\n\r\n".to_vec();
        m.extend_from_slice(OPTIONS);
        assert_eq!(message_len(&m), Ok(Some(m.len())));
    }

    #[test]
    fn folded_content_length_value() {
        let m = b"SIP/2.0 200 OK\r\nContent-Length:\r\n  2\r\ni: x\r\n\r\nab";
        assert_eq!(message_len(m), Ok(Some(m.len())));
        assert_eq!(crate::parse(m).unwrap().body, b"ab");
    }

    #[test]
    fn folded_content_length_neighbour_is_ignored() {
        let m = b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/TCP a\r\n ;branch=z9hG4bK1\r\nl: 1\r\n\r\nx";
        assert_eq!(message_len(m), Ok(Some(m.len())));
    }

    #[test]
    fn garbage_is_rejected_early() {
        let err = message_len(b"\x16\x03\x01\x02").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadStartLine);
        let err = message_len(b"GET / HTTP/1.1\r\n").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadStartLine);
        let err = message_len(b"SIP/2.0 2000 OK\r\n").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadStatusCode);
        let err = message_len(b"\r\nSIP/2.0 200 OK\r\nbroken line\r\n").unwrap_err();
        assert_eq!((err.kind(), err.offset()), (ErrorKind::BadHeader, 18));
        let err = message_len(b"SIP/2.0 200 OK\r\nl: 1x\r\n\r\n").unwrap_err();
        assert_eq!(
            (err.kind(), err.offset()),
            (ErrorKind::BadContentLength, 16)
        );
        let err = message_len(b"SIP/2.0 200 OK\r\nl: 99999999999999999999999\r\n\r\n").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadContentLength);
        let err = message_len(b"SIP/2.0 200 OK\r\nl: 999999999\r\n\r\n").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        let long = vec![b'A'; 64];
        assert_eq!(
            message_len(&long).unwrap_err().kind(),
            ErrorKind::BadStartLine
        );
    }

    #[test]
    fn endless_head_is_too_large() {
        let mut m = b"SIP/2.0 200 OK\r\n".to_vec();
        while m.len() <= MAX_HEAD_LEN + 100 {
            m.extend_from_slice(b"X-Pad: 0123456789\r\n");
        }
        assert_eq!(message_len(&m).unwrap_err().kind(), ErrorKind::TooLarge);
    }
}
