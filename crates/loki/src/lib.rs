//! Ship callweave records to Grafana Loki, and read a call back from it.
//!
//! Loki is callweave's shared, distributed store: every agent pushes what its node
//! saw, and `callweave trace --loki URL` follows a call across all nodes. This
//! crate is both ends of that.
//!
//! # Pushing
//!
//! [`LokiPusher`] is a sink task: batches of `(Record, Option<call key>)`
//! ([`Records`]) in through a bounded channel, `POST /loki/api/v1/push` out.
//!
//! - **Wire format** ([`proto`]): `logproto.PushRequest` with structured metadata,
//!   as prost messages with the upstream field numbers, snappy **block** compressed,
//!   `Content-Type: application/x-protobuf`, optional `X-Scope-OrgID` and basic or
//!   bearer auth.
//! - **Mapping** ([`entry_for`]): labels stay low-cardinality — `job="callweave"`,
//!   `node`, `source` (`sip` | `esl` | `log`). Identifiers (`call_id`, `uuid`,
//!   `other_leg_uuid`, `call`, `correlation`) and details (`method`, `status`,
//!   `src`, `dst`, `cseq`, `transport`, `event`, `level`) go to structured
//!   metadata. The line is the raw SIP message, the ESL event's headers as a JSON
//!   object, or the log text — so a trace can be rebuilt from Loki alone.
//! - **Batching** ([`Batcher`]): by size (default 1 MiB of protobuf, never above
//!   [`HARD_MAX_BATCH_BYTES`]: Loki answers 500 past 4 MiB) and age (default 1 s);
//!   entries sorted by time within each stream.
//! - **Retries**: 429, 5xx, 408, connection errors and timeouts are retried with
//!   exponential backoff and jitter, honouring `Retry-After` (seconds or an HTTP
//!   date). 400 is **never** retried: Loki stores the good lines of a request and
//!   answers 400 for the bad ones, so a retry would duplicate the good ones. 413
//!   and other 4xx are not retried either. All are counted by status and logged
//!   (rate-limited) with Loki's message.
//! - **Disk spool**: a batch that fails `attempts_before_spool` times is written
//!   to the spool directory, and so is everything after it until Loki answers
//!   again; the spool then replays in order. It survives a restart (the directory
//!   is scanned at start) and is capped: past `spool_max_bytes` the oldest batches
//!   are dropped and counted. Memory holds at most one batch being built, a few
//!   waiting and one in flight.
//! - **Metrics** ([`LokiMetrics`]): `callweave_loki_{entries,bytes,batches}_sent_total`,
//!   `_retries_total`, `_failures_total{status}`, `_spool_bytes`,
//!   `_spool_dropped_total`, `_send_duration_seconds`, `_dropped_total`.
//!
//! # Querying
//!
//! [`QueryClient::trace`] / [`fetch_trace`] run `query_range` with
//! `{job="callweave"} | call_id="ID" or uuid="ID" or …` (structured metadata is
//! matched by a filter stage, never a selector), ask for the
//! `categorize-labels` encoding (and accept the flattened one), page forward from
//! the last timestamp when a page is full, and expand every identifier found until
//! no new one appears (bounded). [`LokiEntry::to_record`] turns entries back into
//! records where the line allows.
//!
//! # Example
//!
//! Map a record, batch it and encode the body exactly as it goes on the wire:
//!
//! ```
//! use std::time::Instant;
//! use callweave_core::record::{CallId, Record, RecordKind, SipRecord, Transport};
//! use callweave_loki::{Batcher, Pushed, decode_push_body, encode_push_body, entry_for};
//!
//! let mut sip = SipRecord::new(
//!     "127.0.0.1:5072".parse()?,
//!     "127.0.0.1:5090".parse()?,
//!     Transport::Udp,
//!     CallId::from("1-4274@127.0.0.1"),
//! );
//! sip.method = Some("INVITE".into());
//! sip.raw = "INVITE sip:1000@127.0.0.1:5090 SIP/2.0\r\n\r\n".into();
//! let record = Record::new(1_795_663_470_536_204, "fs-1", RecordKind::Sip(sip));
//!
//! let (stream, entry) = entry_for(&record, Some("call-1"));
//! assert_eq!(stream.selector(), r#"{job="callweave", node="fs-1", source="sip"}"#);
//! assert_eq!(entry.metadata("call_id"), Some("1-4274@127.0.0.1"));
//!
//! let mut batcher = Batcher::new(1 << 20);
//! assert!(matches!(batcher.push(stream, entry, Instant::now()), Pushed::Added));
//! let batch = batcher.take().expect("one entry waits");
//! let (body, raw_len) = encode_push_body(&batch.request)?;
//! assert!(raw_len > body.len() / 2);
//! let back = decode_push_body(&body)?;
//! assert_eq!(back.streams[0].entries[0].line, "INVITE sip:1000@127.0.0.1:5090 SIP/2.0\r\n\r\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Running the sink (needs a Loki, so not run here):
//!
//! ```no_run
//! use callweave_loki::{LokiConfig, LokiMetrics, LokiPusher};
//! # async fn demo() -> Result<(), callweave_loki::Error> {
//! let mut registry = prometheus_client::registry::Registry::default();
//! let metrics = LokiMetrics::new(&mut registry);
//! let config = LokiConfig::new("http://127.0.0.1:3100", "./callweave-data/spool");
//! let pusher = LokiPusher::new(config, metrics)?;
//! let (tx, rx) = tokio::sync::mpsc::channel(10_000);
//! let (stop, stopped) = tokio::sync::watch::channel(false);
//! let task = tokio::spawn(pusher.run(rx, stopped));
//! // … tx.send(vec![(record, Some(call_key))]).await …
//! # drop(tx);
//! let _ = stop.send(true);
//! let _ = task.await;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod batch;
pub mod entry;
mod error;
mod http;
mod metrics;
pub mod proto;
mod push;
mod query;
pub mod spool;

pub use batch::{Batcher, DEFAULT_BATCH_MAX_BYTES, HARD_MAX_BATCH_BYTES, Pushed, ReadyBatch};
pub use entry::{Entry, StreamKey, entry_for};
pub use error::{Error, WireErrorKind};
pub use http::{Auth, PUSH_PATH, QUERY_RANGE_PATH};
pub use metrics::{FailureStatus, LokiMetrics};
pub use proto::{PushRequest, decode_push_body, encode_push_body};
pub use push::{LokiConfig, LokiPusher, MAX_RETRY_AFTER, Records, backoff, parse_retry_after};
pub use query::{
    ENCODING_FLAGS_HEADER, LokiEntry, LokiTrace, QueryClient, QueryConfig, fetch_trace,
    parse_query_response, trace_query,
};
