//! WebSocket frame headers (RFC 6455 §5.2), enough to pull SIP (RFC 7118) out
//! of a reassembled TCP stream.
//!
//! Hand-written on purpose: the WebSocket crates are I/O clients (tungstenite
//! pulls http, sha1 and rand) and the header is a dozen lines.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    pub(crate) fin: bool,
    /// RSV1: permessage-deflate compressed payload.
    pub(crate) compressed: bool,
    pub(crate) opcode: u8,
    pub(crate) mask: Option<[u8; 4]>,
    pub(crate) header_len: usize,
    pub(crate) payload_len: u64,
}

pub(crate) const OP_CONTINUATION: u8 = 0x0;
pub(crate) const OP_TEXT: u8 = 0x1;
pub(crate) const OP_BINARY: u8 = 0x2;

/// Parses the frame header at the start of `buf`; `None` if more bytes are needed.
pub(crate) fn parse_header(buf: &[u8]) -> Option<FrameHeader> {
    let (&b0, rest) = buf.split_first()?;
    let (&b1, rest) = rest.split_first()?;
    let (payload_len, ext) = match b1 & 0x7f {
        126 => (u64::from(u16::from_be_bytes(take(rest)?)), 2),
        127 => (u64::from_be_bytes(take(rest)?), 8),
        n => (u64::from(n), 0),
    };
    let masked = b1 & 0x80 != 0;
    let mask = if masked {
        Some(take::<4>(rest.get(ext..)?)?)
    } else {
        None
    };
    Some(FrameHeader {
        fin: b0 & 0x80 != 0,
        compressed: b0 & 0x40 != 0,
        opcode: b0 & 0x0f,
        mask,
        header_len: 2 + ext + if masked { 4 } else { 0 },
        payload_len,
    })
}

fn take<const N: usize>(buf: &[u8]) -> Option<[u8; N]> {
    buf.get(..N)?.try_into().ok()
}

/// Client-to-server frames are XOR-masked with a 4-byte key.
pub(crate) fn unmask(payload: &mut [u8], key: [u8; 4]) {
    for (b, k) in payload.iter_mut().zip(key.iter().cycle()) {
        *b ^= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(parse_header(&[0x81]), None);
        let h = parse_header(&[0x81, 0x05]).unwrap();
        assert_eq!(
            (h.fin, h.opcode, h.header_len, h.payload_len),
            (true, 1, 2, 5)
        );
        let h = parse_header(&[0x01, 0xfe, 0x01, 0x00, 1, 2, 3, 4]).unwrap();
        assert_eq!(
            (h.fin, h.mask, h.header_len, h.payload_len),
            (false, Some([1, 2, 3, 4]), 8, 256)
        );
        assert_eq!(parse_header(&[0x82, 0x7f, 0, 0, 0, 0]), None);
        let mut p = *b"SIP/";
        unmask(&mut p, [1, 2, 3, 4]);
        unmask(&mut p, [1, 2, 3, 4]);
        assert_eq!(&p, b"SIP/");
    }
}
