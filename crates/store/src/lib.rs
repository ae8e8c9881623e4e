//! callweave-store: the agent's local index of everything it saw.
//!
//! One [tantivy](https://docs.rs/tantivy) index per time partition (a day by
//! default, one directory named `YYYY-MM-DD` under the data directory), deleted
//! whole once older than the retention period. Three kinds of documents live in it:
//!
//! - **records** ([`Record`]: SIP messages, ESL events, log lines), with every
//!   identifier they carry, the call key, kind, method/status, from/to user, node, a
//!   one-line summary and the full text indexed (for SIP, the head without the
//!   boilerplate headers every message carries, plus the SDP summary), and the
//!   record itself stored as JSON so a trace rebuilds it exactly;
//! - **link edges** (`a` ↔ `b` because of a rule such as `channel-sip` or
//!   `other-leg`), so a trace can walk the call graph with term look-ups;
//! - **call summaries** ([`CallDoc`]) for the calls search, replaced by call key.
//!
//! The write side, [`Store`], is blocking and owned by one thread: add documents
//! (or build them on another thread with a [`DocBuilder`] and add them in
//! batches with [`Store::add_prepared_batch`]), call [`Store::maybe_commit`] often (it commits about every `commit_interval`,
//! never per record) and [`Store::apply_retention`] now and then. The read side,
//! [`StoreReader`], is `Clone + Send + Sync`, keeps one cached `IndexReader` per
//! partition (reloaded on commit) and answers:
//!
//! - [`StoreReader::trace`]: from any Call-ID, channel UUID, correlation id or call
//!   key, the whole connected component of identifiers, its links, and a page of
//!   its records in time order with the total count;
//! - [`StoreReader::calls`]: call summaries by number, time, outcome and node,
//!   newest first.
//!
//! Everything committed survives a restart: [`Store::open`] reopens the partitions
//! it finds.
//!
//! # Example
//!
//! ```
//! use callweave_core::record::{CallId, ChannelRecord, ChannelUuid, Ident, Record, RecordKind, SipRecord, Transport};
//! use callweave_store::{Store, StoreOptions, TraceOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let mut store = Store::open(dir.path(), StoreOptions::default())?;
//! let now = 1_795_663_470_536_275; // 2026-11-26T03:24:30Z, in µs
//! store.set_now(now);
//!
//! // The A-leg INVITE as captured over HEP…
//! let mut sip = SipRecord::new(
//!     "127.0.0.1:5072".parse()?,
//!     "127.0.0.1:5090".parse()?,
//!     Transport::Udp,
//!     CallId::from("1-4274@127.0.0.1"),
//! );
//! sip.method = Some("INVITE".into());
//! sip.request_uri = Some("sip:1000@127.0.0.1:5090".into());
//! store.add_record(&Record::new(now, "fs-1", RecordKind::Sip(sip)), None)?;
//!
//! // …and FreeSWITCH's answer event for the channel that handles it.
//! let answer = ChannelRecord {
//!     event_name: "CHANNEL_ANSWER".into(),
//!     unique_id: Some(ChannelUuid::from("d9e73608-5048-4523-aded-4dc2c3f91498")),
//!     ..Default::default()
//! };
//! store.add_record(&Record::new(now + 25_000, "fs-1", RecordKind::Channel(answer)), None)?;
//! // The correlator found that the channel carries this dialog.
//! store.add_link(
//!     &Ident::Channel("d9e73608-5048-4523-aded-4dc2c3f91498".into()),
//!     &Ident::Call("1-4274@127.0.0.1".into()),
//!     "channel-sip",
//!     now,
//! )?;
//! store.commit()?;
//!
//! let reader = store.reader();
//! let trace = reader.trace("1-4274@127.0.0.1", TraceOptions::default())?.expect("known id");
//! assert_eq!(trace.total_records, 2);
//! assert_eq!(trace.ids.len(), 2);
//! assert_eq!(trace.links[0].rule, "channel-sip");
//! assert!(matches!(trace.records[1].kind, RecordKind::Channel(_)));
//! assert!(reader.trace("no-such-call", TraceOptions::default())?.is_none());
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod error;
mod model;
mod partition;
mod reader;
mod schema;
mod store;
mod tokenize;

pub use callweave_core::record::Record;
pub use error::{Result, StoreError};
pub use model::{
    CallDoc, CallFilter, LinkDoc, RecordSearch, SearchHits, StoreOptions, StoreStats, Trace,
    TraceOptions,
};
pub use partition::{parse_partition_name, partition_name};
pub use reader::StoreReader;
pub use store::{DocBuilder, PendingReload, PreparedDoc, Store};
