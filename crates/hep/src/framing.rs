//! Sans-IO framing of HEPv3 packets on a TCP (or TLS) byte stream.

use bytes::{Bytes, BytesMut};

use crate::decode::{HEADER_LEN, check_magic};
use crate::error::{DecodeError, ErrorKind};

/// Splits a TCP byte stream into HEPv3 packets.
///
/// On TCP, HEPv3 packets are simply concatenated; each one is delimited by
/// its u16 total length at offset 4 (PROTOCOLS.md §1.6). HEPv1/v2 have no
/// length and cannot be framed, so only `HEP3`/`EEP3` is accepted.
///
/// Feed whatever the socket returned to [`push`](TcpFramer::push), then call
/// [`next_packet`](TcpFramer::next_packet) until it returns `Ok(None)`
/// (a partial packet waits for more data). Each frame is a [`Bytes`] ready
/// for [`decode`](crate::decode); a frame that fails to decode is the
/// caller's to count and skip, the stream stays in sync.
///
/// A bad magic or a total length below 6 means the stream is out of sync and
/// cannot recover: `next_packet` returns that error (with the stream offset)
/// and keeps returning it, and `push` ignores further data. The caller closes
/// that connection only; packets already returned stay valid. Lengths above
/// 65507 are accepted (heplify-server closes the connection on them) since
/// nothing on the wire forbids them.
///
/// Memory stays bounded as long as the caller drains after each push: at
/// most one partial packet (< 64 KiB) plus the last pushed read is buffered.
/// Frames share the framer's buffer; copy what you keep for long.
///
/// ```
/// use callweave_hep::{HepBuilder, TcpFramer, decode};
///
/// let packet = HepBuilder::sip("OPTIONS sip:a@b SIP/2.0\r\n\r\n").build();
/// let wire = packet.encode_to_vec().unwrap();
/// let stream = [wire.clone(), wire].concat();
///
/// let mut framer = TcpFramer::new();
/// framer.push(&stream[..10]);
/// assert_eq!(framer.next_packet().unwrap(), None); // partial: wait
/// framer.push(&stream[10..]);
/// let mut count = 0;
/// while let Some(frame) = framer.next_packet().unwrap() {
///     assert_eq!(decode(frame).unwrap().payload, packet.payload);
///     count += 1;
/// }
/// assert_eq!(count, 2);
/// ```
#[derive(Debug, Default)]
pub struct TcpFramer {
    buf: BytesMut,
    /// Stream offset of `buf[0]`, for error offsets.
    consumed: usize,
    failed: Option<DecodeError>,
}

impl TcpFramer {
    /// An empty framer for a new connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the connection. Ignored after a framing error.
    pub fn push(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// The next complete packet, `Ok(None)` if more data is needed, or the
    /// fatal framing error ([`ErrorKind::BadMagic`],
    /// [`ErrorKind::UnsupportedVersion`] or [`ErrorKind::BadLength`]) whose
    /// offset counts from the start of the stream.
    pub fn next_packet(&mut self) -> Result<Option<Bytes>, DecodeError> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        match check_magic(&self.buf) {
            Ok(()) => {}
            Err(err) if err.kind == ErrorKind::Truncated => return Ok(None),
            Err(err) => return Err(self.fail(err.kind, err.offset)),
        }
        let Some(&[_, _, _, _, l0, l1]) = self.buf.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let total = usize::from(u16::from_be_bytes([l0, l1]));
        if total < HEADER_LEN {
            return Err(self.fail(ErrorKind::BadLength, 4));
        }
        if self.buf.len() < total {
            // Grow once for the whole packet rather than per read.
            self.buf.reserve(total - self.buf.len());
            return Ok(None);
        }
        self.consumed += total;
        Ok(Some(self.buf.split_to(total).freeze()))
    }

    /// Bytes buffered and not yet returned as a packet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Stream offset of the first byte not yet returned as a packet.
    pub fn stream_offset(&self) -> usize {
        self.consumed
    }

    /// The framing error, once the stream has failed.
    pub fn error(&self) -> Option<DecodeError> {
        self.failed
    }

    fn fail(&mut self, kind: ErrorKind, offset_in_frame: usize) -> DecodeError {
        let err = DecodeError::new(kind, self.consumed + offset_in_frame);
        self.failed = Some(err);
        // Nothing after a desync can be framed; free the memory now.
        self.buf = BytesMut::new();
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: u16) -> Vec<u8> {
        let mut v = b"HEP3".to_vec();
        v.extend_from_slice(&len.to_be_bytes());
        v.resize(usize::from(len), 0xaa);
        v
    }

    #[test]
    fn splits_byte_by_byte() {
        let stream = [frame(6), frame(40), frame(7)].concat();
        let mut f = TcpFramer::new();
        let mut lens = Vec::new();
        for b in &stream {
            f.push(std::slice::from_ref(b));
            while let Some(p) = f.next_packet().unwrap() {
                lens.push(p.len());
            }
        }
        assert_eq!(lens, [6, 40, 7]);
        assert_eq!(f.buffered(), 0);
        assert_eq!(f.stream_offset(), 53);
    }

    #[test]
    fn bad_length_is_sticky_and_keeps_earlier_packets() {
        let mut stream = frame(10);
        stream.extend_from_slice(b"HEP3\x00\x05more");
        let mut f = TcpFramer::new();
        f.push(&stream);
        assert_eq!(f.next_packet().unwrap().unwrap().len(), 10);
        let err = f.next_packet().unwrap_err();
        assert_eq!((err.kind, err.offset), (ErrorKind::BadLength, 14));
        f.push(&frame(6));
        assert_eq!(f.next_packet().unwrap_err(), err);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn bad_magic_fails_as_soon_as_seen() {
        let mut f = TcpFramer::new();
        f.push(b"G");
        let err = f.next_packet().unwrap_err();
        assert_eq!((err.kind, err.offset), (ErrorKind::BadMagic, 0));
        let mut f = TcpFramer::new();
        f.push(b"HEP");
        assert_eq!(f.next_packet(), Ok(None));
        f.push(b"2\x00\x06");
        assert_eq!(
            f.next_packet().unwrap_err().kind,
            ErrorKind::UnsupportedVersion
        );
    }

    #[test]
    fn accepts_max_length_and_eep3() {
        let mut big = frame(u16::MAX);
        big[0] = b'E';
        let mut f = TcpFramer::new();
        f.push(&big[..65534]);
        assert_eq!(f.next_packet(), Ok(None));
        f.push(&big[65534..]);
        assert_eq!(f.next_packet().unwrap().unwrap().len(), 65535);
    }
}
