//! callweave-core: the record types every source produces, typed identifiers, and
//! the deterministic call-graph engine that joins SIP dialogs and FreeSWITCH
//! channels into calls. No I/O, no clock, no async: the caller owns time.
//!
//! # Records
//!
//! A [`Record`] is one observed thing: a SIP message ([`SipRecord`], from HEP or a
//! pcap), a FreeSWITCH ESL event ([`ChannelRecord`]) or a log line ([`LogRecord`]),
//! with `ts_micros` (µs since the Unix epoch, [`TsMicros`] = `i64`) and the `node`
//! that saw it. Large parts (raw SIP, ESL header map, log text, node name) are
//! `Arc`s so records are cheap to clone for the index and for Loki. Identifiers
//! are typed: [`CallId`], [`ChannelUuid`], [`CorrelationId`]; an empty identifier
//! (or FreeSWITCH's literal `(null)`) is treated as absent.
//!
//! # The graph
//!
//! A call is a connected component of identifiers under [`Link`]s, each tagged
//! with the [`Rule`] that made it:
//!
//! | rule | evidence |
//! |---|---|
//! | `channel-sip` | ESL event: `Unique-ID` ↔ `variable_sip_call_id` |
//! | `other-leg` | ESL event: `Unique-ID` ↔ `Other-Leg-Unique-ID`; `Bridge-A-Unique-ID` ↔ `Bridge-B-Unique-ID` |
//! | `call-uuid` | ESL `CHANNEL_CREATE`: `Unique-ID` ↔ `Channel-Call-UUID` |
//! | `uuid-as-callid` | a SIP Call-ID equal to a known channel UUID |
//! | `header` | a correlation header (`X-CID`, …) names another Call-ID |
//! | `hep-correlation` | HEP chunk 0x0011 names another Call-ID |
//! | `log-uuid` | a log line's UUID with its `receiving/sending invite … call-id:` or `Peer UUID:` anchor |
//!
//! Correlation values (header, HEP 0x11) are taken as Call-IDs, so two dialogs
//! carrying the same X-CID meet at that value even if the dialog it names was never
//! seen.
//!
//! **`Channel-Call-UUID` after transfers.** On a B-leg's `CHANNEL_CREATE` it names
//! the originating A-leg (verified in the live captures). Later it moves: in the
//! attended-transfer dump (`testdata/esl/neventsocket_outbound_Example6.txt`) the
//! A-leg's own events carry the B-leg's and then the C-leg's UUID as call UUID
//! after the transfer. Those later values are not evidence of anything the
//! `CHANNEL_BRIDGE` `Bridge-A/B` headers don't already say, and after a blind
//! transfer or `uuid_bridge` they can name a channel of a *different* call. So
//! only `CHANNEL_CREATE` contributes `call-uuid` links; bridges join through
//! `other-leg`. The att_xfer dump correlates to one call with three legs (A
//! inbound, B and C outbound); a channel whose call UUID later points elsewhere
//! stays in its own call (unit test `call_uuid_only_from_channel_create`).
//!
//! # Legs
//!
//! A leg is one SIP dialog and its FreeSWITCH channel: identifiers joined by
//! Call-ID ↔ UUID links (`channel-sip`, `uuid-as-callid`, `log-uuid` with a Call-ID)
//! share a leg. Per leg ([`LegSummary`]): role, numbers, node, first seen, INVITE,
//! ringing (18x or `CHANNEL_PROGRESS*`), answer (2xx to INVITE or
//! `CHANNEL_ANSWER`), end (BYE, CANCEL, `CHANNEL_HANGUP*`, or the final failure when
//! never answered), SIP status, hangup cause, post-dial delay, duration, quality.
//!
//! **Roles.** With ESL, `Call-Direction` decides (inbound = A, outbound = B).
//! Without it: a leg whose dialog carries a correlation header naming another
//! Call-ID is B, a leg named by one is A; if still no A-leg, the leg with the
//! earliest initial INVITE (then first seen) is A; the rest are B.
//!
//! **Outcome** ([`Outcome`]): answered if any leg was; otherwise the first decisive
//! leg, A-legs first: cancelled (CANCEL, 487, `ORIGINATOR_CANCEL`), busy (486, 600,
//! `USER_BUSY`), no-answer (408, 480, `NO_ANSWER`, `NO_USER_RESPONSE`), failed
//! (other 3xx–6xx, other causes); an ended call with nothing decisive is failed,
//! otherwise in progress.
//!
//! # Determinism
//!
//! For the same set of records, in any order and with any duplicates, the graph is
//! the same: components, links, call keys and summaries (a proptest checks this on
//! the real set 01 and on random records). Leg facts are merged as a semilattice
//! (earliest/latest by timestamp with fixed tie-breaks), link orientation is fixed
//! per rule, and the [`CallKey`] is the identifier with the smallest
//! (no-own-leg, Call-ID-before-UUID, first-seen timestamp, text): for a normal call,
//! its earliest Call-ID, i.e. the A-leg's. Only expiry and the caps depend on
//! `now` and arrival order.
//!
//! # Bounds
//!
//! [`Config`] caps calls in memory (eviction of the least recently active, ended
//! calls first) and identifiers per call (links over the cap are refused and
//! counted in [`CorrelatorStats`]). Finished calls linger `linger_after_end`, idle
//! ones leave after `idle_ttl`; [`Correlator::expire`] returns their summaries.
//! A two-leg call with SIP, ESL and log data costs about 1 KiB.
//!
//! # Example
//!
//! ```
//! use callweave_core::*;
//!
//! let mut graph = Correlator::new(Config::default());
//! let now = 1_795_663_470_600_000;
//!
//! // The A-leg INVITE as seen in HEP...
//! let mut invite = SipRecord::new(
//!     "127.0.0.1:5072".parse().unwrap(),
//!     "127.0.0.1:5090".parse().unwrap(),
//!     Transport::Udp,
//!     CallId::from("1-4274@127.0.0.1"),
//! );
//! invite.method = Some("INVITE".into());
//! graph.ingest(&Record::new(1_795_663_470_536_275, "fs-1", RecordKind::Sip(invite)), now);
//!
//! // ...and the B-leg's CHANNEL_CREATE naming the A-leg channel, then the A-leg's
//! // channel naming its Call-ID (late: the order does not matter).
//! let b_leg = ChannelRecord {
//!     event_name: "CHANNEL_CREATE".into(),
//!     unique_id: Some("f059e147-6396-47f7-a85d-5c55f0c977bc".into()),
//!     other_leg_unique_id: Some("d9e73608-5048-4523-aded-4dc2c3f91498".into()),
//!     direction: Some(Direction::Outbound),
//!     ..Default::default()
//! };
//! graph.ingest(&Record::new(1_795_663_470_521_047, "fs-1", RecordKind::Channel(b_leg)), now);
//! let a_leg = ChannelRecord {
//!     event_name: "CHANNEL_CREATE".into(),
//!     unique_id: Some("d9e73608-5048-4523-aded-4dc2c3f91498".into()),
//!     sip_call_id: Some("1-4274@127.0.0.1".into()),
//!     direction: Some(Direction::Inbound),
//!     ..Default::default()
//! };
//! let done = graph.ingest(&Record::new(1_795_663_470_521_047, "fs-1", RecordKind::Channel(a_leg)), now);
//! assert_eq!(done.call.unwrap().as_str(), "1-4274@127.0.0.1");
//!
//! let call = graph
//!     .call_for(&Ident::Channel("f059e147-6396-47f7-a85d-5c55f0c977bc".into()))
//!     .unwrap();
//! assert_eq!(call.legs.len(), 2);
//! assert_eq!(call.legs[0].role, Some(Role::A));
//! assert_eq!(call.legs[0].call_id.as_ref().unwrap().as_str(), "1-4274@127.0.0.1");
//! let rules: Vec<&str> = call.links.iter().map(|l| l.rule.as_str()).collect();
//! assert_eq!(rules, ["channel-sip", "other-leg"]);
//! assert_eq!(call.outcome, Outcome::InProgress);
//! ```
#![forbid(unsafe_code)]

mod exact;
pub mod graph;
pub mod leg;
pub mod link;
pub mod record;
mod sip_fields;

pub use graph::{CallKey, CallState, CallSummary, Config, Correlator, CorrelatorStats, Ingested};
pub use leg::{LegSummary, Outcome, Role};
pub use link::{Link, Rule};
pub use record::*;
pub use sip_fields::{MAX_FIELD, clip};
