//! The crate's one error type.

use std::io;
use std::path::PathBuf;

/// Why a store operation failed.
///
/// Every variant names the partition or path involved, so a log line says where to
/// look. Query misses are not errors: an unknown identifier is `Ok(None)`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A filesystem operation on the data directory failed.
    #[error("i/o error on {path}")]
    Io {
        /// The path being created, listed or removed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// tantivy failed while opening, writing, committing or searching a partition.
    #[error("index error in partition {partition}")]
    Index {
        /// Partition directory name (e.g. `2026-11-26`).
        partition: String,
        /// The underlying error.
        #[source]
        source: tantivy::TantivyError,
    },
    /// A partition on disk was written with a different schema (another version of
    /// callweave). It is left untouched.
    #[error("partition {partition} has an incompatible schema")]
    Schema {
        /// Partition directory name.
        partition: String,
    },
    /// A search query that does not parse (or names a field that cannot be
    /// searched).
    #[error("bad query: {reason}")]
    Query {
        /// What the query parser objected to.
        reason: String,
    },
    /// A stored document could not be decoded back into a record or call summary.
    #[error("stored document in partition {partition} is not valid json")]
    Decode {
        /// Partition directory name.
        partition: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A document could not be encoded (should not happen for well-formed records).
    #[error("cannot encode document as json")]
    Encode(#[source] serde_json::Error),
    /// A [`StoreOptions`](crate::StoreOptions) value is out of range.
    #[error("invalid store option {name}: {reason}")]
    Options {
        /// The option's field name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl StoreError {
    pub(crate) fn index(partition: &str, source: tantivy::TantivyError) -> Self {
        StoreError::Index {
            partition: partition.to_owned(),
            source,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
