//! FreeSWITCH event socket (ESL) for callweave: sans-IO framing, event
//! decoding, and an async inbound client.
//!
//! FreeSWITCH's `mod_event_socket` streams channel events (CHANNEL_CREATE,
//! CHANNEL_BRIDGE, CHANNEL_HANGUP_COMPLETE, …) and, on request, log lines.
//! Those events are where callweave learns how SIP Call-IDs, channel UUIDs and
//! the two legs of a call belong together. This crate turns the socket's bytes
//! into typed values; it knows nothing of callweave's pipeline (the agent maps
//! [`Event`] and [`LogData`] to its records).
//!
//! Three layers, usable on their own:
//!
//! - [`framing`]: a sans-IO [`Framer`]. Push bytes, pop [`Frame`]s (header
//!   block, optional `Content-Length` body) for every frame type of the
//!   protocol. Memory is bounded by [`FramerConfig`]; a stream that breaks the
//!   limits is a fatal [`EslError::Framing`].
//! - [`event`]: [`Event::from_plain`] / [`Event::from_json`] decode event
//!   bodies into one ordered header map with typed accessors for everything
//!   call correlation needs ([`Event::unique_id`], [`Event::sip_call_id`],
//!   [`Event::other_leg_unique_id`], [`Event::audio_quality`], …) and
//!   [`Event::to_json`] for shipping the event as a log line. Plain and JSON
//!   forms of the same event decode to equal values. [`LogData`] decodes
//!   `log/data` frames.
//! - [`client`]: [`EslClient`], a tokio task that connects, authenticates,
//!   subscribes, delivers [`ClientOutput`]s to a bounded channel and
//!   reconnects forever with backoff.
//!
//! `text/event-xml` frames are framed but not decoded: callweave subscribes in
//! JSON or plain only, and the client reports stray XML events as skipped.
//!
//! Nothing here panics on any input; the fuzz targets in `fuzz/` check that.
//!
//! # Example
//!
//! Framing a byte stream (here in two arbitrary pieces) and decoding its event:
//!
//! ```
//! use callweave_esl::{ContentType, Event, Framer};
//!
//! let body = "Event-Name: CHANNEL_BRIDGE\n\
//!             Unique-ID: d9e73608-5048-4523-aded-4dc2c3f91498\n\
//!             Bridge-A-Unique-ID: d9e73608-5048-4523-aded-4dc2c3f91498\n\
//!             Bridge-B-Unique-ID: f059e147-6396-47f7-a85d-5c55f0c977bc\n\
//!             Channel-Name: sofia/b2bua/sipp%40127.0.0.1%3A5072\n\
//!             variable_sip_call_id: 1-4274%40127.0.0.1\n\n";
//! let wire = format!(
//!     "Content-Type: command/reply\nReply-Text: +OK accepted\n\n\
//!      Content-Length: {}\nContent-Type: text/event-plain\n\n{body}",
//!     body.len()
//! );
//!
//! let mut framer = Framer::default();
//! let (a, b) = wire.as_bytes().split_at(70);
//! framer.push(a);
//! let reply = framer.next_frame()?.expect("the reply is complete");
//! assert!(reply.is_ok_reply());
//! assert!(framer.next_frame()?.is_none()); // the event is not complete yet
//! framer.push(b);
//! let frame = framer.next_frame()?.expect("now it is");
//! assert_eq!(frame.content_type, ContentType::EventPlain);
//! assert_eq!(framer.buffered(), 0);
//!
//! let event = Event::from_frame(&frame)?;
//! assert_eq!(event.name(), Some("CHANNEL_BRIDGE"));
//! assert_eq!(event.bridge_b_unique_id(), Some("f059e147-6396-47f7-a85d-5c55f0c977bc"));
//! assert_eq!(event.sip_call_id(), Some("1-4274@127.0.0.1"));
//! assert_eq!(event.channel_name(), Some("sofia/b2bua/sipp@127.0.0.1:5072"));
//! assert!(event.to_json().starts_with(r#"{"Event-Name":"CHANNEL_BRIDGE","#));
//! # Ok::<(), callweave_esl::EslError>(())
//! ```
//!
//! Running the client (not run here: it needs a FreeSWITCH):
//!
//! ```no_run
//! use callweave_esl::{ClientConfig, ClientOutput, EslClient, StateChange};
//!
//! # async fn demo() -> Result<(), callweave_esl::EslError> {
//! let mut config = ClientConfig::new("127.0.0.1:8021", "ClueCon");
//! config.name = "fs-1".into();
//! let client = EslClient::new(config)?;
//! let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
//! let (_stop, shutdown) = tokio::sync::watch::channel(false);
//! tokio::spawn(client.run(tx, shutdown));
//! while let Some(output) = rx.recv().await {
//!     match output {
//!         ClientOutput::Event(e) => println!("{:?} {:?}", e.name(), e.unique_id()),
//!         ClientOutput::State(StateChange::Disconnected { reason }) => eprintln!("down: {reason}"),
//!         _ => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod client;
mod error;
pub mod event;
pub mod framing;
mod log;

pub use client::{
    Backoff, ClientConfig, ClientOutput, DEFAULT_EVENTS, DisconnectReason, EslClient, SkipReason,
    SkippedFrame, StateChange,
};
pub use error::{ErrorKind, EslError};
pub use event::{AudioQuality, CallDirection, Event, EventFormat, HeaderValue, Values};
pub use framing::{ContentType, Frame, Framer, FramerConfig};
pub use log::LogData;
