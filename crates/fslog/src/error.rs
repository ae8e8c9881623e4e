//! The crate's error type.

use std::path::PathBuf;

/// What went wrong when reading a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The civil date-time does not exist (e.g. 30 February) or is out of range.
    InvalidDateTime,
    /// A time zone name or offset could not be understood.
    InvalidTimeZone,
    /// A positions file line is malformed.
    MalformedPositions,
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorKind::InvalidDateTime => "invalid date-time",
            ErrorKind::InvalidTimeZone => "invalid time zone",
            ErrorKind::MalformedPositions => "malformed positions file",
        })
    }
}

/// Errors of this crate. Parsing log lines never fails; errors come from
/// time conversion, configuration and the tailer's file I/O.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value could not be parsed; `offset` is the byte offset in the input.
    #[error("{kind} at byte {offset}: {input:?}")]
    Parse {
        /// What was wrong.
        kind: ErrorKind,
        /// Byte offset in `input` where the problem is.
        offset: usize,
        /// The offending input (truncated to 64 bytes).
        input: String,
    },
    /// A jiff operation failed (zone lookup, civil → instant).
    #[error("{kind}: {source}")]
    Time {
        /// What was being converted.
        kind: ErrorKind,
        /// The jiff error.
        #[source]
        source: jiff::Error,
    },
    /// An I/O error on a log or positions file.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn parse(kind: ErrorKind, offset: usize, input: &str) -> Error {
        let mut end = input.len().min(64);
        while !input.is_char_boundary(end) {
            end -= 1;
        }
        Error::Parse {
            kind,
            offset,
            input: input[..end].to_owned(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The kind of a parse or time error; `None` for I/O errors.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Error::Parse { kind, .. } | Error::Time { kind, .. } => Some(*kind),
            Error::Io { .. } => None,
        }
    }
}
