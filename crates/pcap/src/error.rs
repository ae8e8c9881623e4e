//! The crate's error type: only what makes a capture unreadable as a whole.
//!
//! A bad *frame* is never an error: it is counted in [`Stats`](crate::Stats)
//! under a [`SkipReason`](crate::SkipReason) and skipped.

use std::io;

/// What is wrong with a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The first bytes are neither a pcap nor a pcapng magic number.
    UnknownFormat,
    /// The file ends inside its header.
    TruncatedHeader,
    /// The file header is present but invalid.
    BadHeader,
    /// A block or record in the middle of the file cannot be parsed; the rest
    /// of the file cannot be resynchronised.
    CorruptBlock,
    /// A block declares a size above the reader's limit.
    BlockTooLarge,
    /// The underlying reader failed.
    Io,
}

impl ErrorKind {
    /// A short lowercase name, stable for logs and metrics.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UnknownFormat => "unknown format",
            Self::TruncatedHeader => "truncated header",
            Self::BadHeader => "bad header",
            Self::CorruptBlock => "corrupt block",
            Self::BlockTooLarge => "block too large",
            Self::Io => "i/o error",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reading a capture failed; `offset` is the byte offset in the file where the
/// problem was found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The capture is not readable: see [`ErrorKind`].
    #[error("{kind} at byte offset {offset} of the capture")]
    Capture {
        /// What went wrong.
        kind: ErrorKind,
        /// Byte offset in the capture file.
        offset: u64,
    },
    /// Reading from the underlying reader failed.
    #[error("cannot read the capture at byte offset {offset}")]
    Io {
        /// Byte offset in the capture file.
        offset: u64,
        /// The reader's error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub(crate) const fn capture(kind: ErrorKind, offset: u64) -> Self {
        Self::Capture { kind, offset }
    }

    /// What went wrong, as a closed set.
    #[must_use]
    pub const fn kind(&self) -> ErrorKind {
        match self {
            Self::Capture { kind, .. } => *kind,
            Self::Io { .. } => ErrorKind::Io,
        }
    }

    /// Byte offset in the capture file.
    #[must_use]
    pub const fn offset(&self) -> u64 {
        match self {
            Self::Capture { offset, .. } | Self::Io { offset, .. } => *offset,
        }
    }
}
