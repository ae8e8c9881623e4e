//! FreeSWITCH log lines for callweave: a zero-copy line parser, a multi-line
//! assembler and a rotation-safe file tailer with a positions file.
//!
//! FreeSWITCH's log is the one source that ties a channel UUID to a SIP
//! Call-ID without ESL: `mod_logfile` with `uuid=true` prefixes every line of
//! a session with its channel UUID, and since 1.10.6 the inbound INVITE line
//! names the Call-ID. This crate turns the log into [`Entry`] values that the
//! agent maps to its `Log` records, and recognises those linking lines as
//! [`Anchor`]s.
//!
//! Three layers, each usable alone:
//!
//! - [`parse_line`] (sans-IO, zero-copy) classifies one line into a [`Line`]:
//!   shape A/B (`[uuid ]YYYY-MM-DD HH:MM:SS.uuuuuu [NN.NN% ][LEVEL] file.c:LINE[ func()] msg`),
//!   shape C (UUID prefix only: LOG_CLEAN output such as `EXECUTE [depth=0] …`
//!   and continuation lines of a session's multi-line message), shape D
//!   (bare), the syslog wrapper `… freeswitch[pid]: …`, and fs_cli colour
//!   codes. It never fails and never panics.
//! - [`Assembler`] groups lines into entries: SDP bodies after
//!   `Remote SDP:`, sofia trace blocks, SQL text after `SQL ERR` become the
//!   continuation of the message that started them. The same [`Entry`] comes
//!   from an ESL `log/data` frame through [`Assembler::push_log_data`].
//!   [`LogClock`] turns the zone-less civil timestamps into epoch
//!   microseconds in a configured zone.
//! - [`Tailer`] (tokio) follows a file across rename and copytruncate
//!   rotation and resumes after a restart from a positions file, without gap
//!   or duplicate.
//!
//! Every line is accounted for: it either starts an entry or is a
//! continuation of one (kept, or dropped and counted when an entry exceeds
//! its [`AssemblerLimits`]).
//!
//! # Example
//!
//! ```
//! use callweave_fslog::{Anchor, Assembler, Level, LogClock, parse_line};
//!
//! let log = "\
//! d9e73608-5048-4523-aded-4dc2c3f91498 2026-11-26 03:24:30.521047 98.63% [INFO] sofia.c:10460 sofia/b2bua/sipp@127.0.0.1:5072 receiving invite from 127.0.0.1:5072 version: 1.10.12-release  64bit call-id: 1-4274@127.0.0.1
//! d9e73608-5048-4523-aded-4dc2c3f91498 2026-11-26 03:24:30.521047 98.63% [DEBUG] sofia.c:7503 Remote SDP:
//! d9e73608-5048-4523-aded-4dc2c3f91498 v=0
//! d9e73608-5048-4523-aded-4dc2c3f91498 m=audio 6200 RTP/AVP 0
//! d9e73608-5048-4523-aded-4dc2c3f91498 EXECUTE [depth=0] sofia/b2bua/sipp@127.0.0.1:5072 set(hangup_after_bridge=true)
//! ";
//!
//! // One line, zero-copy.
//! let line = parse_line(log.lines().next().unwrap());
//! assert_eq!(line.level, Some(Level::Info));
//! assert_eq!((line.file, line.line), (Some("sofia.c"), Some(10460)));
//! assert!(matches!(
//!     line.anchor(),
//!     Some(Anchor::ReceivingInvite { call_id: Some("1-4274@127.0.0.1"), .. })
//! ));
//!
//! // Whole entries.
//! let mut asm = Assembler::new(LogClock::utc());
//! let mut entries: Vec<_> = log.lines().filter_map(|l| asm.push(l)).collect();
//! entries.extend(asm.flush());
//! assert_eq!(entries.len(), 3);
//! assert_eq!(entries[1].message, "Remote SDP:");
//! assert_eq!(entries[1].continuation, ["v=0", "m=audio 6200 RTP/AVP 0"]);
//! assert_eq!(entries[1].ts_micros, Some(1_795_663_470_521_047));
//! // The LOG_CLEAN line has no time of its own: it takes the previous one.
//! assert!(entries[2].time_inherited);
//! assert_eq!(entries[2].uuid.as_deref(), Some("d9e73608-5048-4523-aded-4dc2c3f91498"));
//! ```
//!
//! Following a file (the agent wires the channel to its pipeline):
//!
//! ```no_run
//! # async fn demo() -> Result<(), callweave_fslog::Error> {
//! use callweave_fslog::{TailConfig, Tailer};
//!
//! let mut config = TailConfig::new("/var/log/freeswitch/freeswitch.log");
//! config.positions_file = Some("/var/lib/callweave/fslog.pos".into());
//! let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
//! let tailer = Tailer::new(config);
//! let task = tokio::spawn(tailer.run(tx, async { let _ = tokio::signal::ctrl_c().await; }));
//! while let Some(entry) = rx.recv().await {
//!     println!("{:?} {}", entry.uuid, entry.text());
//! }
//! let _stats = task.await;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod anchor;
mod assemble;
mod clock;
mod error;
mod line;
mod tail;

pub use anchor::{Anchor, parse_anchor};
pub use assemble::{Assembler, AssemblerLimits, AssemblerStats, Entry};
pub use clock::LogClock;
pub use error::{Error, ErrorKind};
pub use line::{IdleCpu, Level, Line, LogTime, Shape, Syslog, parse_line};
pub use tail::{TailConfig, TailCounters, TailStats, Tailer};
