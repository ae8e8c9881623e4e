//! Options, inputs and query results.

use std::time::Duration;

use callweave_core::record::{Ident, Record, TsMicros};
use serde::{Deserialize, Serialize};

/// How the store partitions, keeps and commits data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// How long data is kept. A partition is deleted by
    /// [`Store::apply_retention`](crate::Store::apply_retention) once its whole
    /// time span is older than this. Default 7 days.
    pub retention: Duration,
    /// The time span of one partition (one tantivy index, one directory).
    /// Default 1 day; must be a whole number of seconds, at least 1 minute.
    pub partition: Duration,
    /// How often [`Store::maybe_commit`](crate::Store::maybe_commit) commits: new
    /// data becomes searchable after at most about this long. Default 1 s.
    pub commit_interval: Duration,
    /// Indexing memory budget of one partition writer, in bytes, shared by its
    /// indexing threads (at least 15 MB per thread; raised to that if lower).
    /// Default 64 MiB.
    pub writer_memory: usize,
    /// Indexing threads per partition writer. Default: 2, or 1 on a single core.
    pub indexing_threads: usize,
    /// At most this many partition writers are open at once (normally today and
    /// yesterday). Writing to another partition closes the least recently used
    /// writer after committing it. Default 2.
    pub max_open_writers: usize,
    /// Index the words of each record (the SIP head without boilerplate
    /// headers plus the SDP summary, event headers, log text) for full-text
    /// search. Off, records are still found by every identifier, number, method,
    /// status and node, and stored whole; indexing takes about a third less CPU.
    /// Default: on.
    pub full_text: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(7 * 86_400),
            partition: Duration::from_secs(86_400),
            commit_interval: Duration::from_secs(1),
            writer_memory: 64 << 20,
            indexing_threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(2)),
            max_open_writers: 2,
            full_text: true,
        }
    }
}

/// A call summary as the calls search stores and returns it.
///
/// The agent maps the correlator's summaries into this; `json` carries the full
/// summary (every leg) opaquely, the other fields are what the search filters on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallDoc {
    /// The call key (unique per call); a later summary with the same key replaces
    /// the earlier one.
    pub call_key: String,
    /// First record of the call, µs since the epoch.
    pub start_micros: TsMicros,
    /// End of the call, when it has ended.
    pub end_micros: Option<TsMicros>,
    /// Calling number (A-leg From user / caller id number).
    pub from: Option<String>,
    /// Called number (A-leg To user / destination number).
    pub to: Option<String>,
    /// Outcome: `answered`, `busy`, `no-answer`, `cancelled`, `failed`,
    /// `in-progress`… (matched exactly by [`CallFilter::outcome`]).
    pub outcome: String,
    /// Every node that saw the call.
    pub nodes: Vec<String>,
    /// Number of legs.
    pub legs: u32,
    /// The full summary as JSON, stored verbatim.
    pub json: String,
}

/// Filter for [`StoreReader::calls`](crate::StoreReader::calls). Every set field
/// must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFilter {
    /// Matches the `from` or the `to` number exactly.
    pub number: Option<String>,
    /// Calls that started at or after this time (µs).
    pub since: Option<TsMicros>,
    /// Calls that started at or before this time (µs).
    pub until: Option<TsMicros>,
    /// Exact outcome.
    pub outcome: Option<String>,
    /// One of the call's nodes.
    pub node: Option<String>,
    /// At most this many calls (capped at 10 000).
    pub limit: usize,
}

impl Default for CallFilter {
    fn default() -> Self {
        Self {
            number: None,
            since: None,
            until: None,
            outcome: None,
            node: None,
            limit: 100,
        }
    }
}

/// Options of [`StoreReader::trace`](crate::StoreReader::trace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceOptions {
    /// Records per page (capped at 10 000).
    pub limit: usize,
    /// Records to skip (in time order) before the page.
    pub offset: usize,
    /// Stop expanding the component after this many identifiers (and call keys);
    /// [`Trace::truncated`] tells when it happened.
    pub max_ids: usize,
}

impl Default for TraceOptions {
    fn default() -> Self {
        Self {
            limit: 1000,
            offset: 0,
            max_ids: 256,
        }
    }
}

/// A link edge as stored: `a` and `b` belong to one call because of `rule`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LinkDoc {
    /// One end.
    pub a: Ident,
    /// The other end.
    pub b: Ident,
    /// The rule that made the link (`channel-sip`, `other-leg`, `header`, …).
    pub rule: String,
    /// When the link was first seen (the earliest of its copies).
    pub ts_micros: TsMicros,
}

/// The answer to a trace: one connected component of identifiers and a page of its
/// records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Every identifier of the component, sorted.
    pub ids: Vec<Ident>,
    /// Call keys found on the component's records, sorted.
    pub call_keys: Vec<String>,
    /// Every distinct link edge inside the component, by time.
    pub links: Vec<LinkDoc>,
    /// One page of the component's records, by time (then insertion order).
    pub records: Vec<Record>,
    /// How many records the component has in all.
    pub total_records: u64,
    /// True when expansion stopped at [`TraceOptions::max_ids`].
    pub truncated: bool,
}

/// Counters since the store was opened (for metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Records added.
    pub records: u64,
    /// Link edges added.
    pub links: u64,
    /// Call summaries added (including replacements).
    pub calls: u64,
    /// Documents timed before retention, written to the current partition instead.
    pub clamped_past: u64,
    /// Documents timed more than one partition in the future, written to the
    /// current partition instead.
    pub clamped_future: u64,
    /// Commits that wrote something.
    pub commits: u64,
    /// Partitions deleted by retention.
    pub partitions_deleted: u64,
    /// Writers closed to stay under `max_open_writers`.
    pub writers_evicted: u64,
}

/// A search over records ([`StoreReader::search`](crate::StoreReader::search)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSearch {
    /// tantivy query syntax. Bare words search the records' text (a SIP
    /// message's start line, header values and SDP summary, an event's header
    /// values, a log line), case-insensitively; every word must match unless
    /// `OR` says otherwise; `-word` excludes. A quoted value stays one term in an
    /// exact field (`id:"a1b2@10.0.0.1"`); a quoted phrase of the text is refused
    /// (word positions are not indexed). Fields: `id:` (Call-ID, UUID,
    /// correlation id or call key, exact), `kind:` (`sip`, `esl`, `log`),
    /// `method:` (`INVITE`, exact case), `status:` (SIP status or a channel's
    /// final SIP status), `from_user:`, `to_user:`, `node:`.
    pub query: String,
    /// Records at or after this time (µs).
    pub since: Option<TsMicros>,
    /// Records at or before this time (µs).
    pub until: Option<TsMicros>,
    /// At most this many records, newest first (capped at 10 000).
    pub limit: usize,
}

/// What a record search found.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHits {
    /// The newest matching records, newest first.
    pub records: Vec<Record>,
    /// Every matching record, beyond the ones returned.
    pub total: u64,
}
