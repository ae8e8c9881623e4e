//! The one error type of this crate.

use std::fmt;

/// What was wrong with the input. Stable snake_case names via [`ErrorKind::as_str`],
/// suitable as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is empty (or only CR/LF keep-alives).
    Empty,
    /// The first line is neither `METHOD URI SIP/2.0` nor `SIP/2.0 CODE REASON`.
    BadStartLine,
    /// A status line whose code is not three digits in 100..=699.
    BadStatusCode,
    /// The blank line that ends the head was not found.
    TruncatedHead,
    /// A header line without a colon, with a non-token name, or a continuation
    /// line before the first header.
    BadHeader,
    /// No Call-ID header (or an empty / non-UTF-8 one).
    MissingCallId,
    /// A CSeq header that is not `NUMBER METHOD`.
    BadCseq,
    /// A Content-Length header that is not a decimal number.
    BadContentLength,
    /// The head or the declared body is larger than this crate accepts on a stream.
    TooLarge,
}

impl ErrorKind {
    /// Stable snake_case name, from a fixed set.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::BadStartLine => "bad_start_line",
            Self::BadStatusCode => "bad_status_code",
            Self::TruncatedHead => "truncated_head",
            Self::BadHeader => "bad_header",
            Self::MissingCallId => "missing_call_id",
            Self::BadCseq => "bad_cseq",
            Self::BadContentLength => "bad_content_length",
            Self::TooLarge => "too_large",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Empty => "empty input",
            Self::BadStartLine => "start line is neither a sip request line nor a status line",
            Self::BadStatusCode => "status code is not a three-digit number in 100..=699",
            Self::TruncatedHead => "no blank line ends the message head",
            Self::BadHeader => "malformed header line",
            Self::MissingCallId => "no usable call-id header",
            Self::BadCseq => "cseq is not `number method`",
            Self::BadContentLength => "content-length is not a decimal number",
            Self::TooLarge => "message is larger than the accepted maximum",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A SIP parse or framing failure: what was wrong and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct ParseError {
    kind: ErrorKind,
    offset: usize,
}

impl ParseError {
    pub(crate) const fn new(kind: ErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }

    /// What was wrong.
    #[must_use]
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Byte offset into the input where the problem was detected (the start of the
    /// offending line or token).
    #[must_use]
    pub const fn offset(&self) -> usize {
        self.offset
    }
}
