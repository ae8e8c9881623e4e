//! Decoding HEPv1/v2/v3 datagrams.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::{Buf, Bytes};

use crate::consts::chunk;
use crate::error::{DecodeError, ErrorKind};
use crate::packet::{HepPacket, HepVersion, RawChunk};

/// The size of a HEPv3 packet header and of a chunk header.
pub(crate) const HEADER_LEN: usize = 6;

/// Limits applied while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeOptions {
    /// Largest payload a compressed chunk (0x10) may inflate to; more is
    /// [`ErrorKind::PayloadTooLarge`]. Bounds memory against zip bombs.
    /// Default 64 KiB.
    pub max_inflated_payload: usize,
}

impl DecodeOptions {
    /// The default inflate limit, 64 KiB.
    pub const DEFAULT_MAX_INFLATED_PAYLOAD: usize = 64 * 1024;

    /// Options with the defaults.
    pub const fn new() -> Self {
        Self {
            max_inflated_payload: Self::DEFAULT_MAX_INFLATED_PAYLOAD,
        }
    }

    /// Sets [`DecodeOptions::max_inflated_payload`].
    pub const fn with_max_inflated_payload(mut self, max: usize) -> Self {
        self.max_inflated_payload = max;
        self
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// Decodes one HEP datagram (v1, v2 or v3) with the default options.
///
/// Octet-string fields of the result share `buf`'s memory. See
/// [`decode_with`] for the rules.
pub fn decode(buf: Bytes) -> Result<HepPacket, DecodeError> {
    decode_with(buf, &DecodeOptions::new())
}

/// Decodes one HEP datagram (v1, v2 or v3).
///
/// - HEPv1/v2 (first byte 1 or 2): the payload starts at 8 + 8 (IPv4) or 32
///   (IPv6) + 12 (v2 time header, read little-endian) and runs to the end of
///   the buffer; the header's `hdr_len` byte is ignored because senders
///   disagree on it.
/// - HEPv3 (`HEP3` or `EEP3`): the declared total length must equal the
///   buffer length; chunks may come in any order; fixed-size chunks must have
///   their exact size; vendor and unknown chunks are kept in
///   [`HepPacket::extra_chunks`]; chunk 0x10 is inflated (zlib or gzip) up to
///   [`DecodeOptions::max_inflated_payload`].
///
/// The only mandatory part is a non-empty payload: everything downstream is
/// about the captured message, so a packet without one is
/// [`ErrorKind::MissingPayload`]. Addresses, ports, time and types are
/// optional (absent = `None` or 0).
pub fn decode_with(buf: Bytes, options: &DecodeOptions) -> Result<HepPacket, DecodeError> {
    match buf.first() {
        None => Err(DecodeError::new(ErrorKind::Truncated, 0)),
        Some(1) => decode_legacy(buf, HepVersion::V1),
        Some(2) => decode_legacy(buf, HepVersion::V2),
        Some(_) => {
            check_magic(&buf)?;
            decode_v3(buf, options)
        }
    }
}

/// Checks the HEPv3 magic; shared with the TCP framer.
pub(crate) fn check_magic(data: &[u8]) -> Result<(), DecodeError> {
    match data {
        [b'H' | b'E', b'E', b'P', b'3', ..] => Ok(()),
        [b'H' | b'E', b'E', b'P', _, ..] => Err(DecodeError::new(ErrorKind::UnsupportedVersion, 3)),
        // A prefix of a valid magic is only short, not wrong.
        [] | [b'H' | b'E'] | [b'H' | b'E', b'E'] | [b'H' | b'E', b'E', b'P'] => {
            Err(DecodeError::new(ErrorKind::Truncated, data.len()))
        }
        _ => Err(DecodeError::new(ErrorKind::BadMagic, 0)),
    }
}

fn decode_legacy(buf: Bytes, version: HepVersion) -> Result<HepPacket, DecodeError> {
    const FIXED: usize = 8;
    const TIME_HDR: usize = 12;
    let data: &[u8] = &buf;
    let Some(&[_, _, family, proto, sp0, sp1, dp0, dp1]) = data.first_chunk::<FIXED>() else {
        return Err(DecodeError::new(ErrorKind::Truncated, data.len()));
    };
    let addr_len = match family {
        crate::consts::family::INET => 8,
        // AF_INET6 differs per OS (Linux 10, Windows 23, OpenBSD 24, FreeBSD 28,
        // macOS 30) and v1/v2 senders write their host's value.
        10 | 23 | 24 | 28 | 30 => 32,
        _ => return Err(DecodeError::new(ErrorKind::UnsupportedFamily, 2)),
    };
    let truncated = || DecodeError::new(ErrorKind::Truncated, data.len());
    let addrs = data.get(FIXED..FIXED + addr_len).ok_or_else(truncated)?;
    let (src_ip, dst_ip) = match addrs.split_at(addr_len / 2) {
        (s, d) if addr_len == 8 => (ipv4(s), ipv4(d)),
        (s, d) => (ipv6(s), ipv6(d)),
    };
    let mut packet = HepPacket {
        version,
        ip_family: Some(family),
        ip_proto: Some(proto),
        src_ip,
        dst_ip,
        src_port: u16::from_be_bytes([sp0, sp1]),
        dst_port: u16::from_be_bytes([dp0, dp1]),
        ..HepPacket::default()
    };
    let mut offset = FIXED + addr_len;
    if version == HepVersion::V2 {
        let time = data.get(offset..offset + TIME_HDR).ok_or_else(truncated)?;
        // Host (little-endian) order in practice: Kamailio to_le(), sofia no htonl.
        if let [s0, s1, s2, s3, u0, u1, u2, u3, c0, c1, _, _] = *time {
            packet.ts_sec = u32::from_le_bytes([s0, s1, s2, s3]);
            packet.ts_usec = u32::from_le_bytes([u0, u1, u2, u3]);
            packet.capture_id = Some(u32::from(u16::from_le_bytes([c0, c1])));
        }
        offset += TIME_HDR;
    }
    let data_len = data.len();
    if data_len <= offset {
        return Err(DecodeError::new(ErrorKind::MissingPayload, offset));
    }
    packet.payload = into_subslice(buf, offset, data_len);
    Ok(packet)
}

fn ipv4(b: &[u8]) -> Option<IpAddr> {
    let octets: [u8; 4] = b.try_into().ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(octets)))
}

fn ipv6(b: &[u8]) -> Option<IpAddr> {
    let octets: [u8; 16] = b.try_into().ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(octets)))
}

/// Narrows `buf` to `start..end` in place. Cheaper than `slice` when the
/// range reaches the end (the usual place of the payload chunk): no
/// refcount change at all.
fn into_subslice(mut buf: Bytes, start: usize, end: usize) -> Bytes {
    if start > end || end > buf.len() {
        return Bytes::new();
    }
    buf.truncate(end);
    buf.advance(start);
    buf
}

/// Slices an octet-string value without touching the refcount when empty.
fn octets(buf: &Bytes, start: usize, end: usize) -> Bytes {
    if start >= end {
        Bytes::new()
    } else {
        buf.slice(start..end)
    }
}

fn fixed<const N: usize>(value: &[u8], at: usize) -> Result<[u8; N], DecodeError> {
    value
        .try_into()
        .map_err(|_| DecodeError::new(ErrorKind::BadChunkSize, at))
}

fn val_u8(value: &[u8], at: usize) -> Result<u8, DecodeError> {
    fixed::<1>(value, at).map(|[b]| b)
}

fn val_u16(value: &[u8], at: usize) -> Result<u16, DecodeError> {
    fixed(value, at).map(u16::from_be_bytes)
}

fn val_u32(value: &[u8], at: usize) -> Result<u32, DecodeError> {
    fixed(value, at).map(u32::from_be_bytes)
}

fn val_u64(value: &[u8], at: usize) -> Result<u64, DecodeError> {
    fixed(value, at).map(u64::from_be_bytes)
}

fn val_ipv4(value: &[u8], at: usize) -> Result<IpAddr, DecodeError> {
    fixed::<4>(value, at).map(|o| IpAddr::V4(Ipv4Addr::from(o)))
}

fn val_ipv6(value: &[u8], at: usize) -> Result<IpAddr, DecodeError> {
    fixed::<16>(value, at).map(|o| IpAddr::V6(Ipv6Addr::from(o)))
}

fn decode_v3(buf: Bytes, options: &DecodeOptions) -> Result<HepPacket, DecodeError> {
    let data: &[u8] = &buf;
    let len = data.len();
    let Some(&[_, _, _, _, l0, l1]) = data.first_chunk::<HEADER_LEN>() else {
        return Err(DecodeError::new(ErrorKind::Truncated, len));
    };
    let total = usize::from(u16::from_be_bytes([l0, l1]));
    if total < HEADER_LEN || total < len {
        return Err(DecodeError::new(ErrorKind::BadLength, 4));
    }
    if total > len {
        return Err(DecodeError::new(ErrorKind::Truncated, len));
    }

    let mut packet = HepPacket {
        version: HepVersion::V3,
        ..HepPacket::default()
    };
    // The raw payload is cut out of `buf` itself once the loop no longer
    // borrows it: that hands buf's reference over without touching the
    // refcount: two atomic refcount updates fewer per packet.
    let mut raw_payload = None;
    let mut pos = HEADER_LEN;
    while pos < len {
        let Some(&[v0, v1, t0, t1, c0, c1]) = data.get(pos..).and_then(|r| r.first_chunk()) else {
            // Fewer than 6 bytes left: not even a chunk header.
            return Err(DecodeError::new(ErrorKind::BadChunkLength, pos));
        };
        let chunk_len = usize::from(u16::from_be_bytes([c0, c1]));
        if chunk_len < HEADER_LEN || chunk_len > len - pos {
            return Err(DecodeError::new(ErrorKind::BadChunkLength, pos));
        }
        let vendor = u16::from_be_bytes([v0, v1]);
        let type_id = u16::from_be_bytes([t0, t1]);
        let start = pos + HEADER_LEN;
        let end = pos + chunk_len;
        let at = pos;
        pos = end;
        let value = data.get(start..end).unwrap_or_default();
        if vendor != 0 {
            packet.extra_chunks.push(RawChunk {
                vendor,
                type_id,
                value: octets(&buf, start, end),
            });
            continue;
        }
        match type_id {
            chunk::IP_FAMILY => packet.ip_family = Some(val_u8(value, at)?),
            chunk::IP_PROTO => packet.ip_proto = Some(val_u8(value, at)?),
            chunk::SRC_IPV4 => packet.src_ip = Some(val_ipv4(value, at)?),
            chunk::DST_IPV4 => packet.dst_ip = Some(val_ipv4(value, at)?),
            chunk::SRC_IPV6 => packet.src_ip = Some(val_ipv6(value, at)?),
            chunk::DST_IPV6 => packet.dst_ip = Some(val_ipv6(value, at)?),
            chunk::SRC_PORT => packet.src_port = val_u16(value, at)?,
            chunk::DST_PORT => packet.dst_port = val_u16(value, at)?,
            chunk::TS_SEC => packet.ts_sec = val_u32(value, at)?,
            chunk::TS_USEC => packet.ts_usec = val_u32(value, at)?,
            chunk::PROTO_TYPE => packet.proto_type = Some(val_u8(value, at)?),
            chunk::CAPTURE_ID => packet.capture_id = Some(val_u32(value, at)?),
            chunk::KEEP_ALIVE => packet.extras_mut().keep_alive = Some(val_u16(value, at)?),
            chunk::AUTH_KEY => packet.auth_key = Some(octets(&buf, start, end)),
            chunk::PAYLOAD => raw_payload = Some((start, end)),
            chunk::COMPRESSED_PAYLOAD => {
                let inflated = inflate(value, options.max_inflated_payload)
                    .map_err(|kind| DecodeError::new(kind, at))?;
                packet.payload = Bytes::from(inflated);
                packet.compressed = true;
                raw_payload = None;
            }
            chunk::CORRELATION_ID => packet.correlation_id = Some(octets(&buf, start, end)),
            chunk::VLAN_ID => packet.extras_mut().vlan_id = Some(val_u16(value, at)?),
            chunk::NODE_NAME => packet.node_name = Some(octets(&buf, start, end)),
            chunk::SRC_MAC => packet.extras_mut().src_mac = Some(val_u64(value, at)?),
            chunk::DST_MAC => packet.extras_mut().dst_mac = Some(val_u64(value, at)?),
            chunk::ETH_TYPE => packet.extras_mut().eth_type = Some(val_u16(value, at)?),
            chunk::TCP_FLAGS => packet.extras_mut().tcp_flags = Some(val_u8(value, at)?),
            chunk::IP_TOS => packet.extras_mut().ip_tos = Some(val_u8(value, at)?),
            chunk::MOS => packet.extras_mut().mos = Some(val_u16(value, at)?),
            chunk::R_FACTOR => packet.extras_mut().r_factor = Some(val_u16(value, at)?),
            chunk::GEO_LOCATION => {
                packet.extras_mut().geo_location = Some(octets(&buf, start, end))
            }
            chunk::JITTER => packet.extras_mut().jitter = Some(val_u32(value, at)?),
            chunk::TRANSACTION_TYPE => {
                packet.extras_mut().transaction_type = Some(octets(&buf, start, end));
            }
            chunk::PAYLOAD_JSON_KEYS => {
                packet.extras_mut().payload_json_keys = Some(octets(&buf, start, end));
            }
            chunk::TAG_VALUES => packet.extras_mut().tag_values = Some(octets(&buf, start, end)),
            chunk::TAG_TYPE => packet.extras_mut().tag_type = Some(val_u16(value, at)?),
            chunk::EVENT_TYPE => packet.extras_mut().event_type = Some(val_u16(value, at)?),
            chunk::GROUP_ID => packet.extras_mut().group_id = Some(octets(&buf, start, end)),
            // Type 0, reserved 0x19..=0x1f and future types: keep, don't guess.
            _ => packet.extra_chunks.push(RawChunk {
                vendor,
                type_id,
                value: octets(&buf, start, end),
            }),
        }
    }
    if let Some((start, end)) = raw_payload {
        packet.payload = into_subslice(buf, start, end);
    }
    // An empty 0x0f chunk counts as no payload, so emptiness is the one test.
    if packet.payload.is_empty() {
        return Err(DecodeError::new(ErrorKind::MissingPayload, len));
    }
    Ok(packet)
}

/// Inflates a compressed payload: zlib (RFC 1950, what senders use) or gzip
/// (RFC 1952, what the spec names). Produces at most `max + 1` bytes so a
/// zip bomb costs no more than the limit.
fn inflate(data: &[u8], max: usize) -> Result<Vec<u8>, ErrorKind> {
    match data {
        [cmf, flg, ..] if cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0 => {
            inflate_zlib(data, max)
        }
        [0x1f, 0x8b, ..] => {
            let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
            let mut out = Vec::new();
            flate2::bufread::GzDecoder::new(data)
                .take(limit)
                .read_to_end(&mut out)
                .map_err(|_| ErrorKind::InflateFailed)?;
            if out.len() > max {
                return Err(ErrorKind::PayloadTooLarge);
            }
            Ok(out)
        }
        _ => Err(ErrorKind::InflateFailed),
    }
}

/// zlib straight into the output `Vec`. With `Finish`, miniz_oxide inflates
/// without its own window (faster than going through `Read`, which copies
/// out of one) but needs room for the whole result, so too small a buffer
/// is retried four times larger, up to `max + 1`.
fn inflate_zlib(data: &[u8], max: usize) -> Result<Vec<u8>, ErrorKind> {
    let cap = max.saturating_add(1);
    // SIP compresses about 2-3x.
    let mut size = data.len().saturating_mul(4).max(1024).min(cap);
    let mut inflater = flate2::Decompress::new(true);
    let mut out = Vec::new();
    loop {
        out.clear();
        out.reserve_exact(size);
        inflater.reset(true);
        let result = inflater.decompress_vec(data, &mut out, flate2::FlushDecompress::Finish);
        if out.len() > max {
            return Err(ErrorKind::PayloadTooLarge);
        }
        match result {
            Ok(flate2::Status::StreamEnd) => return Ok(out),
            // Out of room (it fills the buffer first): retry bigger.
            _ if out.len() == out.capacity() && size < cap => {
                size = size.saturating_mul(4).min(cap)
            }
            // Room left but no end: corrupt or cut short.
            _ => return Err(ErrorKind::InflateFailed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn inflate_accepts_zlib_and_gzip() {
        let plain = b"INVITE sip:bob@example.com SIP/2.0\r\n\r\n".repeat(10);
        assert_eq!(inflate(&zlib(&plain), 1 << 16).unwrap(), plain);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        assert_eq!(inflate(&gz.finish().unwrap(), 1 << 16).unwrap(), plain);
    }

    #[test]
    fn inflate_limit_is_exact() {
        let plain = vec![b'a'; 1000];
        let z = zlib(&plain);
        assert_eq!(inflate(&z, 1000).unwrap().len(), 1000);
        assert_eq!(inflate(&z, 999), Err(ErrorKind::PayloadTooLarge));
    }

    #[test]
    fn inflate_rejects_truncated_and_headerless_streams() {
        let z = zlib(&b"REGISTER sip:rcs.st SIP/2.0\r\n".repeat(20));
        assert_eq!(
            inflate(&z[..z.len() / 2], 1 << 16),
            Err(ErrorKind::InflateFailed)
        );
        assert_eq!(inflate(b"", 1 << 16), Err(ErrorKind::InflateFailed));
        assert_eq!(
            inflate(b"plain text", 1 << 16),
            Err(ErrorKind::InflateFailed)
        );
        assert_eq!(
            inflate(&[0x78, 0x9c], 1 << 16),
            Err(ErrorKind::InflateFailed)
        );
    }

    #[test]
    fn magic_prefixes_are_truncated_not_bad() {
        assert_eq!(check_magic(b"HE").unwrap_err().kind, ErrorKind::Truncated);
        assert_eq!(check_magic(b"EEP").unwrap_err().kind, ErrorKind::Truncated);
        assert_eq!(
            check_magic(b"EEP1").unwrap_err().kind,
            ErrorKind::UnsupportedVersion
        );
        assert_eq!(check_magic(b"HTTP").unwrap_err().kind, ErrorKind::BadMagic);
        assert!(check_magic(b"EEP3").is_ok());
    }

    #[test]
    fn known_generic_types() {
        assert!(chunk::is_known(chunk::PAYLOAD));
        assert!(chunk::is_known(chunk::GROUP_ID));
        assert!(!chunk::is_known(0));
        assert!(!chunk::is_known(0x19));
        assert!(!chunk::is_known(0x2a));
    }
}
