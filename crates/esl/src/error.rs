//! The crate's one error type, [`EslError`], and its [`ErrorKind`].

use std::fmt;

/// Why a byte stream could not be framed, or a frame could not be decoded.
///
/// [`ErrorKind::as_str`] gives a short, stable snake_case reason from a fixed
/// set, meant for metric labels (`callweave_esl_errors_total{reason=…}`);
/// [`ErrorKind::ALL`] lists every kind so a caller can pre-register labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No empty line within [`FramerConfig::max_header_bytes`](crate::FramerConfig::max_header_bytes):
    /// the peer is not speaking ESL, or a header block never ends.
    HeaderTooLarge,
    /// A `Content-Length` above [`FramerConfig::max_body_bytes`](crate::FramerConfig::max_body_bytes)
    /// (or, for an inner event body, above what `u32` spans can address).
    BodyTooLarge,
    /// A `Content-Length` that is not a decimal number.
    BadContentLength,
    /// A header line without a `:` (or with an empty name).
    MalformedHeader,
    /// A plain event body that ends before its header block's empty line.
    Truncated,
    /// A plain event whose inner `Content-Length` runs past the end of the frame body.
    BodyTruncated,
    /// Bytes after the end of a plain event, or after the JSON object; the
    /// usual sign of a lying outer `Content-Length`.
    TrailingData,
    /// A JSON event body that is not valid JSON, or not an object.
    InvalidJson,
    /// A JSON event value that is an object (values must be strings, arrays of
    /// strings, or at least scalars).
    UnsupportedJsonValue,
    /// The frame's content type is not the one the decoder handles (for
    /// example `text/event-xml` given to the event decoder).
    WrongContentType,
    /// A required header is missing (for example `Log-Level` on `log/data`).
    MissingHeader,
    /// A numeric header (for example `Log-Level`) does not parse.
    BadNumber,
}

impl ErrorKind {
    /// Every kind, in declaration order, for pre-registering metric labels.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::HeaderTooLarge,
        ErrorKind::BodyTooLarge,
        ErrorKind::BadContentLength,
        ErrorKind::MalformedHeader,
        ErrorKind::Truncated,
        ErrorKind::BodyTruncated,
        ErrorKind::TrailingData,
        ErrorKind::InvalidJson,
        ErrorKind::UnsupportedJsonValue,
        ErrorKind::WrongContentType,
        ErrorKind::MissingHeader,
        ErrorKind::BadNumber,
    ];

    /// A short, stable snake_case reason; safe to use as a metric label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::HeaderTooLarge => "header_too_large",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::BadContentLength => "bad_content_length",
            ErrorKind::MalformedHeader => "malformed_header",
            ErrorKind::Truncated => "truncated",
            ErrorKind::BodyTruncated => "body_truncated",
            ErrorKind::TrailingData => "trailing_data",
            ErrorKind::InvalidJson => "invalid_json",
            ErrorKind::UnsupportedJsonValue => "unsupported_json_value",
            ErrorKind::WrongContentType => "wrong_content_type",
            ErrorKind::MissingHeader => "missing_header",
            ErrorKind::BadNumber => "bad_number",
        }
    }

    fn message(self) -> &'static str {
        match self {
            ErrorKind::HeaderTooLarge => "header block exceeds the limit",
            ErrorKind::BodyTooLarge => "content-length exceeds the limit",
            ErrorKind::BadContentLength => "content-length is not a number",
            ErrorKind::MalformedHeader => "malformed header line",
            ErrorKind::Truncated => "event ends before its empty line",
            ErrorKind::BodyTruncated => "event body shorter than its content-length",
            ErrorKind::TrailingData => "trailing data after the event",
            ErrorKind::InvalidJson => "invalid json event",
            ErrorKind::UnsupportedJsonValue => "unsupported json value",
            ErrorKind::WrongContentType => "wrong content type for this decoder",
            ErrorKind::MissingHeader => "missing header",
            ErrorKind::BadNumber => "bad number",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EslError {
    /// The byte stream cannot be framed. Fatal for the connection: the stream
    /// is out of sync, so the caller must drop it and reconnect.
    #[error("esl framing: {kind} at stream offset {offset}")]
    Framing {
        /// What went wrong.
        kind: ErrorKind,
        /// Offset in the stream (bytes since the framer was created or reset)
        /// of the frame that failed.
        offset: u64,
    },
    /// One frame's body cannot be decoded. Not fatal: skip and count the frame.
    #[error("esl decode: {kind} at byte {offset}{}", detail_suffix(.detail))]
    Decode {
        /// What went wrong.
        kind: ErrorKind,
        /// Offset in the frame body.
        offset: usize,
        /// A detail, such as the JSON parser's message or the header name.
        detail: Option<String>,
    },
    /// A [`ClientConfig`](crate::ClientConfig) value is invalid.
    #[error("invalid esl client config: `{key}`: {reason}")]
    Config {
        /// The config key, as named in the agent's `[[esl]]` table.
        key: &'static str,
        /// Why it is invalid.
        reason: String,
    },
}

fn detail_suffix(detail: &Option<String>) -> String {
    match detail {
        Some(d) => format!(" ({d})"),
        None => String::new(),
    }
}

impl EslError {
    /// The error kind, or `None` for a config error.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            EslError::Framing { kind, .. } | EslError::Decode { kind, .. } => Some(*kind),
            EslError::Config { .. } => None,
        }
    }

    pub(crate) fn decode(kind: ErrorKind, offset: usize) -> Self {
        EslError::Decode {
            kind,
            offset,
            detail: None,
        }
    }

    pub(crate) fn decode_detail(kind: ErrorKind, offset: usize, detail: impl Into<String>) -> Self {
        EslError::Decode {
            kind,
            offset,
            detail: Some(detail.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique_and_messages_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            assert!(seen.insert(kind.as_str()));
            let msg = kind.to_string();
            assert_eq!(msg, msg.to_lowercase(), "{msg}");
        }
        let e = EslError::decode_detail(ErrorKind::MissingHeader, 0, "Log-Level");
        assert_eq!(
            e.to_string(),
            "esl decode: missing header at byte 0 (Log-Level)"
        );
    }
}
