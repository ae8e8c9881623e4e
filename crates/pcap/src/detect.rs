//! Content sniffing: is this payload SIP, HEP or neither?
//!
//! SIP is recognised by its start line on any port, the way Wireshark's SIP
//! heuristic does it: a capture of a carrier trunk on port 5080 or a WebSocket
//! on 8080 must still yield SIP.

/// Longest first line we look at before deciding a payload is not SIP.
const MAX_START_LINE: usize = 8 * 1024;

/// Whether `payload` begins with a SIP request or status line.
///
/// Requests: `token SP uri SP SIP/2.0`; responses: `SIP/2.0 SP 3DIGIT (SP reason)`.
/// The line may end in CRLF or a bare LF (some generators), or the payload may
/// end right after it.
pub(crate) fn is_sip_start(payload: &[u8]) -> bool {
    let window = payload.get(..MAX_START_LINE).unwrap_or(payload);
    let line = match memchr::memchr(b'\n', window) {
        Some(end) => window.get(..end).unwrap_or_default(),
        None if payload.len() > MAX_START_LINE => return false,
        None => window,
    };
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    is_status_line(line) || is_request_line(line)
}

fn is_status_line(line: &[u8]) -> bool {
    let Some(rest) = strip_prefix_ignore_case(line, b"SIP/2.0 ") else {
        return false;
    };
    match rest {
        [a, b, c] => a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit(),
        [a, b, c, b' ', ..] => a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit(),
        _ => false,
    }
}

fn is_request_line(line: &[u8]) -> bool {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    !method.is_empty()
        && method.iter().all(|&b| is_token_byte(b))
        && !uri.is_empty()
        && uri.iter().all(|&b| b.is_ascii_graphic())
        // A URI always has a scheme: `sip:`, `sips:`, `tel:`, `urn:`.
        && uri.contains(&b':')
        && version.eq_ignore_ascii_case(b"SIP/2.0")
}

/// RFC 3261 `token` characters.
const fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

fn strip_prefix_ignore_case<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// Whether a UDP payload is already a HEP packet (v3 with a matching length,
/// or a plausible legacy v1/v2 header), so replay can forward it unchanged.
pub(crate) fn is_hep(payload: &[u8]) -> bool {
    match payload {
        [b'H' | b'E', b'E', b'P', b'3', hi, lo, ..] => {
            let declared = usize::from(u16::from_be_bytes([*hi, *lo]));
            // heplify-server insists on an exact match; a capture may carry
            // Ethernet padding after a short datagram, but UDP's own length
            // already removed that, so exact is right here too.
            declared >= 6 && declared == payload.len()
        }
        [version @ (1 | 2), hdr_len, family, proto, ..] => {
            // struct hep_hdr (8 bytes) + addresses: 8 for IPv4, 32 for IPv6.
            let addr_ok = matches!((*hdr_len, *family), (16, 2) | (40, 10 | 24 | 28 | 30));
            let proto_ok = matches!(*proto, 6 | 17 | 22 | 132);
            // v2 adds a 12-byte time header (unpacked C struct) after the addresses.
            let time_hdr = if *version == 2 { 12 } else { 0 };
            addr_ok && proto_ok && payload.len() > usize::from(*hdr_len) + time_hdr
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_lines() {
        assert!(is_sip_start(b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n"));
        assert!(is_sip_start(b"SIP/2.0 200 OK\r\n"));
        assert!(is_sip_start(b"SIP/2.0 180\r\n"));
        assert!(is_sip_start(b"OPTIONS sip:x SIP/2.0\nVia: x\n"));
        assert!(is_sip_start(b"SIP/2.0 200 OK"));
        assert!(!is_sip_start(b"GET / HTTP/1.1\r\n"));
        assert!(!is_sip_start(b"HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(!is_sip_start(b"SIP/2.0 2000 OK\r\n"));
        assert!(!is_sip_start(b"INVITE  sip:a@b SIP/2.0\r\n"));
        assert!(!is_sip_start(b"\x80\x00\x01\x02"));
        assert!(!is_sip_start(b"\r\n\r\n"));
        assert!(!is_sip_start(b""));
        assert!(!is_sip_start(&vec![b'A'; 10_000]));
    }

    #[test]
    fn hep_headers() {
        let mut v3 = b"HEP3\x00\x0a\x00\x00\x00\x00".to_vec();
        assert!(is_hep(&v3));
        v3.push(0);
        assert!(!is_hep(&v3), "length must match the datagram");
        assert!(!is_hep(b"HEP3\x00\x03"));
        let v1 = [&[1u8, 16, 2, 17][..], &[0; 12], b"SIP/2.0 200 OK"].concat();
        assert!(is_hep(&v1));
        assert!(
            !is_hep(&[1, 16, 2, 17, 0, 0]),
            "header longer than the datagram"
        );
        assert!(!is_hep(&[
            2, 16, 2, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        ]));
    }
}
