//! The crate's error type.

/// What can stop a load run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadgenError {
    /// A socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A template message could not be encoded as HEP.
    #[error("cannot encode a template message")]
    Encode(#[from] callweave_hep::EncodeError),
    /// An ESL event could not be serialized.
    #[error("cannot serialize an esl event")]
    Json(#[from] serde_json::Error),
    /// A template is malformed (a bug in the scenarios).
    #[error("bad template: {0}")]
    Template(&'static str),
    /// The run configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The trace probe's HTTP connection failed.
    #[error("http: {0}")]
    Http(String),
    /// A sender thread panicked.
    #[error("sender thread {0} panicked")]
    ThreadPanicked(usize),
}

impl LoadgenError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
