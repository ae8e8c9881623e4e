//! Encoding HEPv3.

use std::io::Write;
use std::net::IpAddr;

use bytes::{BufMut, Bytes, BytesMut};

use crate::consts::chunk;
use crate::decode::HEADER_LEN;
use crate::error::EncodeError;
use crate::packet::{HepExtras, HepPacket};

const MAX_LEN: usize = u16::MAX as usize;

impl HepPacket {
    /// Appends this packet to `out` as one HEPv3 datagram, whatever version it
    /// was decoded from. On error `out` is left as it was.
    ///
    /// Chunks go in sofia's order (family, proto, ports, time, type, capture
    /// id, addresses), then the optional chunks, then
    /// [`extra_chunks`](HepPacket::extra_chunks) verbatim, then the payload
    /// (0x0f, or zlib in 0x10 when [`compressed`](HepPacket::compressed)).
    /// Ports and time are always written (Kamailio wants most of chunks 1..12);
    /// every other field only when set, so an [`extras`](HepPacket::extras)
    /// with every field `None` writes nothing and decodes back as `None`.
    ///
    /// An extra chunk with vendor 0 and a type the decoder knows is written
    /// as given and will decode into that field, not back into `extra_chunks`.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let start = out.len();
        let result = self.encode_inner(out, start);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Encodes into a new buffer; see [`HepPacket::encode`].
    pub fn encode_to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut out = BytesMut::with_capacity(self.encoded_len_hint());
        self.encode(&mut out)?;
        Ok(out.freeze())
    }

    /// Encodes into a new `Vec`; see [`HepPacket::encode`].
    pub fn encode_to_vec(&self) -> Result<Vec<u8>, EncodeError> {
        self.encode_to_bytes().map(Vec::from)
    }

    fn encoded_len_hint(&self) -> usize {
        let strings: usize = [&self.auth_key, &self.correlation_id, &self.node_name]
            .iter()
            .flat_map(|o| o.as_ref())
            .map(|b| b.len() + HEADER_LEN)
            .sum();
        let extra: usize = self
            .extra_chunks
            .iter()
            .map(|c| c.value.len() + HEADER_LEN)
            .sum();
        // Fixed chunks take at most ~250 bytes; rare strings are left to growth.
        256 + strings + extra + self.payload.len()
    }

    fn encode_inner(&self, out: &mut BytesMut, start: usize) -> Result<(), EncodeError> {
        out.reserve(self.encoded_len_hint());
        out.put_slice(b"HEP3");
        out.put_u16(0); // patched below
        let mut w = ChunkWriter { out };

        if let Some(v) = self.ip_family {
            w.u8(chunk::IP_FAMILY, v);
        }
        if let Some(v) = self.ip_proto {
            w.u8(chunk::IP_PROTO, v);
        }
        w.u16(chunk::SRC_PORT, self.src_port);
        w.u16(chunk::DST_PORT, self.dst_port);
        w.u32(chunk::TS_SEC, self.ts_sec);
        w.u32(chunk::TS_USEC, self.ts_usec);
        if let Some(v) = self.proto_type {
            w.u8(chunk::PROTO_TYPE, v);
        }
        if let Some(v) = self.capture_id {
            w.u32(chunk::CAPTURE_ID, v);
        }
        if let Some(ip) = self.src_ip {
            w.ip(chunk::SRC_IPV4, chunk::SRC_IPV6, ip);
        }
        if let Some(ip) = self.dst_ip {
            w.ip(chunk::DST_IPV4, chunk::DST_IPV6, ip);
        }
        for (type_id, value) in [
            (chunk::AUTH_KEY, &self.auth_key),
            (chunk::CORRELATION_ID, &self.correlation_id),
            (chunk::NODE_NAME, &self.node_name),
        ] {
            if let Some(v) = value {
                w.octets(0, type_id, v)?;
            }
        }
        if let Some(x) = self.extras.as_deref() {
            write_extras(&mut w, x)?;
        }
        for extra in &self.extra_chunks {
            w.octets(extra.vendor, extra.type_id, &extra.value)?;
        }
        if self.compressed {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            z.write_all(&self.payload).map_err(EncodeError::Compress)?;
            let compressed = z.finish().map_err(EncodeError::Compress)?;
            w.octets(0, chunk::COMPRESSED_PAYLOAD, &compressed)?;
        } else {
            w.octets(0, chunk::PAYLOAD, &self.payload)?;
        }

        let len = out.len() - start;
        let total = u16::try_from(len).map_err(|_| EncodeError::PacketTooLarge { len })?;
        if let Some(field) = out.get_mut(start + 4..start + HEADER_LEN) {
            field.copy_from_slice(&total.to_be_bytes());
        }
        Ok(())
    }
}

fn write_extras(w: &mut ChunkWriter<'_>, x: &HepExtras) -> Result<(), EncodeError> {
    if let Some(v) = x.keep_alive {
        w.u16(chunk::KEEP_ALIVE, v);
    }
    if let Some(v) = x.vlan_id {
        w.u16(chunk::VLAN_ID, v);
    }
    if let Some(v) = x.src_mac {
        w.u64(chunk::SRC_MAC, v);
    }
    if let Some(v) = x.dst_mac {
        w.u64(chunk::DST_MAC, v);
    }
    if let Some(v) = x.eth_type {
        w.u16(chunk::ETH_TYPE, v);
    }
    if let Some(v) = x.tcp_flags {
        w.u8(chunk::TCP_FLAGS, v);
    }
    if let Some(v) = x.ip_tos {
        w.u8(chunk::IP_TOS, v);
    }
    if let Some(v) = x.mos {
        w.u16(chunk::MOS, v);
    }
    if let Some(v) = x.r_factor {
        w.u16(chunk::R_FACTOR, v);
    }
    if let Some(v) = x.jitter {
        w.u32(chunk::JITTER, v);
    }
    if let Some(v) = x.tag_type {
        w.u16(chunk::TAG_TYPE, v);
    }
    if let Some(v) = x.event_type {
        w.u16(chunk::EVENT_TYPE, v);
    }
    for (type_id, value) in [
        (chunk::GEO_LOCATION, &x.geo_location),
        (chunk::TRANSACTION_TYPE, &x.transaction_type),
        (chunk::PAYLOAD_JSON_KEYS, &x.payload_json_keys),
        (chunk::TAG_VALUES, &x.tag_values),
        (chunk::GROUP_ID, &x.group_id),
    ] {
        if let Some(v) = value {
            w.octets(0, type_id, v)?;
        }
    }
    Ok(())
}

struct ChunkWriter<'a> {
    out: &'a mut BytesMut,
}

impl ChunkWriter<'_> {
    fn header(&mut self, vendor: u16, type_id: u16, value_len: usize) {
        self.out.put_u16(vendor);
        self.out.put_u16(type_id);
        // Fixed-size values are at most 16 bytes; octets() checks its own bound.
        self.out
            .put_u16(u16::try_from(value_len + HEADER_LEN).unwrap_or(u16::MAX));
    }

    fn fixed(&mut self, type_id: u16, value: &[u8]) {
        self.header(0, type_id, value.len());
        self.out.put_slice(value);
    }

    fn u8(&mut self, type_id: u16, v: u8) {
        self.fixed(type_id, &[v]);
    }

    fn u16(&mut self, type_id: u16, v: u16) {
        self.fixed(type_id, &v.to_be_bytes());
    }

    fn u32(&mut self, type_id: u16, v: u32) {
        self.fixed(type_id, &v.to_be_bytes());
    }

    fn u64(&mut self, type_id: u16, v: u64) {
        self.fixed(type_id, &v.to_be_bytes());
    }

    fn ip(&mut self, v4_type: u16, v6_type: u16, ip: IpAddr) {
        match ip {
            IpAddr::V4(a) => self.fixed(v4_type, &a.octets()),
            IpAddr::V6(a) => self.fixed(v6_type, &a.octets()),
        }
    }

    fn octets(&mut self, vendor: u16, type_id: u16, value: &[u8]) -> Result<(), EncodeError> {
        if value.len() > MAX_LEN - HEADER_LEN {
            return Err(EncodeError::ChunkTooLarge {
                chunk_type: type_id,
                len: value.len(),
            });
        }
        self.header(vendor, type_id, value.len());
        self.out.put_slice(value);
        Ok(())
    }
}
