//! Error types: [`DecodeError`] (decode and TCP framing) and [`EncodeError`].

use std::fmt;

/// Why a packet could not be decoded or a TCP stream could not be framed.
///
/// [`ErrorKind::as_str`] gives a short, stable snake_case reason from a fixed
/// set, meant for metric labels (`callweave_hep_decode_errors_total{reason=…}`);
/// [`ErrorKind::ALL`] lists every kind so a caller can pre-register labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The buffer ends before the structure it started (header, address block,
    /// declared HEPv3 length) is complete.
    Truncated,
    /// The first bytes are neither HEPv1/v2 (`0x01`/`0x02`) nor `HEP3`/`EEP3`.
    BadMagic,
    /// A `HEP`/`EEP` magic with a version other than 3 (e.g. the 2013 `EEP1` draft).
    UnsupportedVersion,
    /// HEPv1/v2 address family is neither IPv4 nor IPv6.
    UnsupportedFamily,
    /// The HEPv3 total length is below 6 or differs from the datagram length.
    BadLength,
    /// A chunk header is cut short, declares less than 6 bytes, or runs past
    /// the end of the packet.
    BadChunkLength,
    /// A fixed-size chunk (u8, u16, u32, u64, IPv4, IPv6) has the wrong size.
    BadChunkSize,
    /// The compressed payload chunk (0x10) is not valid zlib/gzip/deflate.
    InflateFailed,
    /// The compressed payload inflates beyond
    /// [`DecodeOptions::max_inflated_payload`](crate::DecodeOptions::max_inflated_payload).
    PayloadTooLarge,
    /// No captured payload (chunk 0x0f or 0x10), or an empty one.
    MissingPayload,
}

impl ErrorKind {
    /// Every kind, in declaration order, for pre-registering metric labels.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Truncated,
        ErrorKind::BadMagic,
        ErrorKind::UnsupportedVersion,
        ErrorKind::UnsupportedFamily,
        ErrorKind::BadLength,
        ErrorKind::BadChunkLength,
        ErrorKind::BadChunkSize,
        ErrorKind::InflateFailed,
        ErrorKind::PayloadTooLarge,
        ErrorKind::MissingPayload,
    ];

    /// A short, stable snake_case reason; safe to use as a metric label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Truncated => "truncated",
            ErrorKind::BadMagic => "bad_magic",
            ErrorKind::UnsupportedVersion => "unsupported_version",
            ErrorKind::UnsupportedFamily => "unsupported_family",
            ErrorKind::BadLength => "bad_length",
            ErrorKind::BadChunkLength => "bad_chunk_length",
            ErrorKind::BadChunkSize => "bad_chunk_size",
            ErrorKind::InflateFailed => "inflate_failed",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::MissingPayload => "missing_payload",
        }
    }

    fn message(self) -> &'static str {
        match self {
            ErrorKind::Truncated => "truncated packet",
            ErrorKind::BadMagic => "not a hep packet",
            ErrorKind::UnsupportedVersion => "unsupported hep version",
            ErrorKind::UnsupportedFamily => "unsupported address family",
            ErrorKind::BadLength => "hep3 total length does not match",
            ErrorKind::BadChunkLength => "bad chunk length",
            ErrorKind::BadChunkSize => "wrong size for a fixed-size chunk",
            ErrorKind::InflateFailed => "compressed payload does not inflate",
            ErrorKind::PayloadTooLarge => "inflated payload exceeds the limit",
            ErrorKind::MissingPayload => "no payload",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// A decode or framing failure: what went wrong and where.
///
/// `offset` is the byte offset in the packet (for [`decode`](crate::decode))
/// or in the whole TCP stream (for [`TcpFramer`](crate::TcpFramer)) of the
/// structure that failed: the chunk header for chunk errors, the length field
/// for length errors, the end of the data for truncation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct DecodeError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Where it went wrong.
    pub offset: usize,
}

impl DecodeError {
    pub(crate) const fn new(kind: ErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }

    /// The error kind.
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The byte offset of the failing structure.
    pub const fn offset(&self) -> usize {
        self.offset
    }
}

/// Why a packet could not be encoded as HEPv3.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The whole packet would exceed the u16 total length of HEPv3.
    #[error("encoded packet is {len} bytes, hep3 allows at most 65535")]
    PacketTooLarge {
        /// The length the packet would have had.
        len: usize,
    },
    /// One chunk's value would exceed the u16 chunk length.
    #[error("chunk 0x{chunk_type:04x} value is {len} bytes, at most 65529 fit")]
    ChunkTooLarge {
        /// The chunk type id.
        chunk_type: u16,
        /// The value length.
        len: usize,
    },
    /// Compressing the payload for chunk 0x10 failed.
    #[error("compressing the payload failed")]
    Compress(#[source] std::io::Error),
}
