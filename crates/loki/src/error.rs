//! The crate's error type.

use std::path::PathBuf;

/// What part of a wire format was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireErrorKind {
    /// Snappy block decompression failed.
    Snappy,
    /// Protobuf decoding failed.
    Protobuf,
    /// A length over the decoder's bound.
    TooLarge,
    /// A spool file header is malformed (magic, version or length).
    SpoolHeader,
    /// A query response is not the JSON Loki sends.
    Json,
    /// A query response is JSON but not the expected shape.
    Shape,
}

/// Everything this crate can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is unusable; `key` names it.
    #[error("invalid loki config `{key}`: {reason}")]
    Config {
        /// The config key, e.g. `url`.
        key: &'static str,
        /// Why.
        reason: String,
    },
    /// The spool directory could not be created or read.
    #[error("loki spool directory {path}: {source}")]
    Spool {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client failed (connect, timeout, TLS, body).
    #[error("loki request failed: {0}")]
    Http(#[source] reqwest::Error),
    /// Loki answered with a non-success status.
    #[error("loki answered {status}: {body}")]
    Status {
        /// HTTP status code.
        status: u16,
        /// The start of the response body (Loki's error text).
        body: String,
    },
    /// Bytes that do not decode: a push body, a spool file, a query response.
    #[error("{kind:?} error at byte {offset}: {reason}")]
    Wire {
        /// What was wrong.
        kind: WireErrorKind,
        /// Byte offset into the input where it went wrong (0 when unknown).
        offset: usize,
        /// Details.
        reason: String,
    },
}

impl Error {
    /// Wraps a reqwest error, dropping the URL: it may carry credentials.
    pub(crate) fn http(e: reqwest::Error) -> Self {
        Error::Http(e.without_url())
    }
}
