//! HEP (Homer Encapsulation Protocol) codec for callweave.
//!
//! SIP proxies and switches mirror every SIP message they send or receive to
//! a capture server as HEP: FreeSWITCH's sofia (`capture-server`, HEPv3 by
//! default, v1/v2 on request), Kamailio's `siptrace` (HEPv3, with log and
//! correlation chunks), heplify, HEPGEN. This crate turns those datagrams and
//! TCP streams into [`HepPacket`]s and back. It is sans-IO: no sockets, no
//! clock, no async; the agent owns the sockets.
//!
//! - [`decode`] / [`decode_with`] take one datagram as [`Bytes`] and detect
//!   the version: HEPv1/v2 (first byte 1 or 2, fixed header; the v2 time
//!   header is read little-endian, as sofia and Kamailio write it) or HEPv3
//!   (`HEP3`/`EEP3`, chunks in any order). Octet strings and the payload are
//!   slices of the input buffer: no copy, except when a compressed payload
//!   (chunk 0x10, zlib or gzip) is inflated, which is capped by
//!   [`DecodeOptions::max_inflated_payload`].
//! - [`HepPacket`] has pub fields for what SIP capture agents send
//!   (addresses, ports, time, types, capture id, auth key, correlation id,
//!   node name, payload); the rare QoS/tag/MAC chunks sit in a boxed
//!   [`HepExtras`], and vendor or unknown chunks are kept as [`RawChunk`]s.
//! - [`HepPacket::encode`] writes HEPv3; [`HepBuilder`] makes the packet for
//!   a captured SIP message (replay tool, tests, forwarding).
//! - [`TcpFramer`] splits a TCP stream of concatenated HEPv3 packets.
//! - Errors are a [`DecodeError`] with an [`ErrorKind`] and a byte offset;
//!   [`ErrorKind::as_str`] is a stable snake_case reason for metric labels.
//!
//! What a packet must carry: only a non-empty payload (chunk 0x0f or 0x10);
//! without one it is [`ErrorKind::MissingPayload`]. Everything else is
//! optional because real senders differ: sofia never sends auth key,
//! correlation id or node name, HEPGEN sends ports 0 for logs.
//!
//! Nothing here panics on any input: every decoder entry point is fuzzed.
//!
//! # Example
//!
//! ```
//! use callweave_hep::{HepBuilder, HepVersion, decode, ip_proto, proto_type};
//!
//! // What the replay tool does: wrap a captured SIP message in HEPv3.
//! let sip = "OPTIONS sip:fs@10.0.0.2 SIP/2.0\r\nCall-ID: abc@10.0.0.1\r\n\r\n";
//! let wire = HepBuilder::sip(sip)
//!     .src("10.0.0.1:5060".parse().unwrap())
//!     .dst("10.0.0.2:5060".parse().unwrap())
//!     .ip_proto(ip_proto::UDP)
//!     .timestamp(1_700_000_000, 123_456)
//!     .capture_id(200)
//!     .node_name("fs-1")
//!     .correlation_id("abc@10.0.0.1")
//!     .build()
//!     .encode_to_bytes()
//!     .unwrap();
//!
//! // What the agent does with each datagram.
//! let packet = decode(wire).unwrap();
//! assert_eq!(packet.version, HepVersion::V3);
//! assert_eq!(packet.proto_type, Some(proto_type::SIP));
//! assert_eq!(packet.src_addr().unwrap().to_string(), "10.0.0.1:5060");
//! assert_eq!(packet.timestamp_micros(), 1_700_000_000_123_456);
//! assert_eq!(packet.node_name.as_deref(), Some(&b"fs-1"[..]));
//! assert!(packet.payload.starts_with(b"OPTIONS "));
//!
//! // Garbage gives a kind and an offset, never a panic.
//! let err = decode(bytes::Bytes::from_static(b"HEP3\x00\x09xyz")).unwrap_err();
//! assert_eq!(err.kind.as_str(), "bad_chunk_length");
//! assert_eq!(err.offset, 6);
//! ```

mod consts;
mod decode;
mod encode;
mod error;
mod framing;
mod packet;

pub use bytes::Bytes;
pub use consts::{chunk, family, ip_proto, proto_type};
pub use decode::{DecodeOptions, decode, decode_with};
pub use error::{DecodeError, EncodeError, ErrorKind};
pub use framing::TcpFramer;
pub use packet::{HepBuilder, HepExtras, HepPacket, HepVersion, RawChunk};
