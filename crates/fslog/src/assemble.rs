//! Multi-line assembly: lines → [`Entry`] values.

use crate::anchor::{Anchor, parse_anchor};
use crate::clock::LogClock;
use crate::line::{IdleCpu, Level, Line, LogTime, Shape, parse_line};

/// One log message: its first line's fields (owned) and the continuation
/// lines that belong to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Shape of the first line.
    pub shape: Shape,
    /// Channel UUID (line prefix, or `User-Data` for ESL `log/data`).
    pub uuid: Option<String>,
    /// Civil timestamp as written; for lines without one, the previous
    /// entry's (see `time_inherited`).
    pub time: Option<LogTime>,
    /// `time` was taken from the previous entry, not from this line.
    pub time_inherited: bool,
    /// `time` as Unix epoch microseconds in the configured zone; `None` if
    /// there is no time or it does not exist in that zone's calendar.
    pub ts_micros: Option<i64>,
    /// Core idle CPU.
    pub idle_cpu: Option<IdleCpu>,
    /// Level.
    pub level: Option<Level>,
    /// Source file basename.
    pub file: Option<String>,
    /// Source line.
    pub line: Option<u32>,
    /// Function name (`SWITCH_FUNC_IN_LOG` builds).
    pub func: Option<String>,
    /// Message text of the first line (after the header).
    pub message: String,
    /// Continuation lines, UUID prefix and line ending removed.
    pub continuation: Vec<String>,
    /// Continuation lines dropped because the entry hit a limit.
    pub dropped_lines: u32,
    /// Bytes dropped by the limits (message or continuation).
    pub dropped_bytes: u64,
}

impl Entry {
    /// Anchor fact found in the first line's message.
    pub fn anchor(&self) -> Option<Anchor<'_>> {
        parse_anchor(&self.message)
    }

    /// Number of input lines this entry took (first + continuation, kept or
    /// dropped).
    pub fn line_count(&self) -> usize {
        1 + self.continuation.len() + self.dropped_lines as usize
    }

    /// The message with its continuation lines, joined by `\n`.
    pub fn text(&self) -> String {
        let len = self.message.len() + self.continuation.iter().map(|c| c.len() + 1).sum::<usize>();
        let mut s = String::with_capacity(len);
        s.push_str(&self.message);
        for c in &self.continuation {
            s.push('\n');
            s.push_str(c);
        }
        s
    }

    /// The entry's lines as `mod_logfile` (`uuid=true`) writes them, joined by
    /// `\n`: UUID prefix on every line of a session entry, the header
    /// rebuilt from the parsed fields (`%0.2f%%` idle CPU). The same text
    /// comes from a file entry and from the ESL `log/data` frame of the same
    /// message, so it is what gets shipped as "the line as written". Not
    /// restored: a syslog wrapper, CRs before line ends, and unusual
    /// spacing in a damaged header.
    pub fn to_log_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::with_capacity(self.size() + 96 + 40 * self.continuation.len());
        if let Some(u) = &self.uuid {
            s.push_str(u);
            s.push(' ');
        }
        if self.shape == Shape::Full {
            // Writing to a String cannot fail.
            if let Some(t) = self.time {
                let _ = write!(s, "{t} ");
            }
            if let Some(IdleCpu(v)) = self.idle_cpu {
                let _ = write!(s, "{}.{:02}% ", v / 100, v % 100);
            }
            if let Some(l) = self.level {
                let _ = write!(s, "[{l}] ");
            }
            if let (Some(f), Some(n)) = (&self.file, self.line) {
                let _ = write!(s, "{f}:{n} ");
                if let Some(func) = &self.func {
                    let _ = write!(s, "{func}() ");
                }
            }
        }
        s.push_str(&self.message);
        for c in &self.continuation {
            s.push('\n');
            if let Some(u) = &self.uuid {
                s.push_str(u);
                s.push(' ');
            }
            s.push_str(c);
        }
        s
    }

    fn size(&self) -> usize {
        self.message.len() + self.continuation.iter().map(String::len).sum::<usize>()
    }
}

/// Bounds on one entry, so a runaway message (a CHANNEL_DATA dump, binary
/// garbage without timestamps) cannot grow memory without limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssemblerLimits {
    /// Continuation lines kept per entry; more are counted and dropped.
    pub max_continuation_lines: usize,
    /// Bytes of text (message + continuation) kept per entry.
    pub max_entry_bytes: usize,
}

impl Default for AssemblerLimits {
    fn default() -> Self {
        // A CHANNEL_DATA dump is a few hundred lines; a sofia trace block of an
        // INVITE with SDP about 60.
        AssemblerLimits {
            max_continuation_lines: 1000,
            max_entry_bytes: 256 * 1024,
        }
    }
}

/// Running totals of an [`Assembler`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssemblerStats {
    /// Lines pushed.
    pub lines: u64,
    /// Lines that started an entry (every entry is counted once).
    pub entries: u64,
    /// Lines attached to an entry as continuation, including dropped ones.
    pub continuation_lines: u64,
    /// Continuation lines dropped by the limits.
    pub dropped_lines: u64,
    /// Bytes dropped by the limits.
    pub dropped_bytes: u64,
    /// Timestamps that could not be converted in the configured zone.
    pub bad_timestamps: u64,
}

/// Groups lines into entries.
///
/// Rules (FreeSWITCH writes each message's lines contiguously, from a single
/// logger thread, so only the most recent entry can receive continuations):
///
/// - a timestamped line (shape A/B) always starts an entry;
/// - a UUID-only line (shape C) continues the pending entry when the UUIDs
///   match, unless it is a known LOG_CLEAN opener (`EXECUTE [depth=…`,
///   `Dialplan: …`, `Local SDP…`, `Remote SDP…`), which starts its own entry;
///   with another UUID or nothing pending it starts an entry;
/// - a bare line (shape D) continues the pending entry, except a sofia trace
///   header (`send 1429 bytes to udp/[…]:5060 at …:`, `recv … bytes from …`),
///   which starts one; with nothing pending it starts an entry.
///
/// Entries without a timestamp of their own take the previous entry's.
///
/// An entry is returned when the line after it starts a new one, or by
/// [`flush`](Assembler::flush) (call it when the input goes quiet).
#[derive(Debug)]
pub struct Assembler {
    clock: LogClock,
    limits: AssemblerLimits,
    pending: Option<Entry>,
    last_time: Option<(LogTime, Option<i64>)>,
    cache: Option<(u64, i64)>,
    stats: AssemblerStats,
}

impl Assembler {
    /// An assembler with default limits.
    pub fn new(clock: LogClock) -> Assembler {
        Assembler::with_limits(clock, AssemblerLimits::default())
    }

    /// An assembler with the given limits.
    pub fn with_limits(clock: LogClock, limits: AssemblerLimits) -> Assembler {
        Assembler {
            clock,
            limits,
            pending: None,
            last_time: None,
            cache: None,
            stats: AssemblerStats::default(),
        }
    }

    /// Totals so far.
    pub fn stats(&self) -> AssemblerStats {
        self.stats
    }

    /// An entry is waiting for more continuation lines.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Adds one line (with or without its line ending). Returns the previous
    /// entry when this line starts a new one.
    pub fn push(&mut self, raw: &str) -> Option<Entry> {
        self.stats.lines += 1;
        let line = parse_line(raw);
        if let Some(pending) = self.pending.as_mut()
            && continues(pending, &line)
        {
            self.stats.continuation_lines += 1;
            add_continuation(pending, line.message, &self.limits, &mut self.stats);
            return None;
        }
        let entry = self.start(&line, None);
        self.pending.replace(entry)
    }

    /// Returns the pending entry, if any.
    pub fn flush(&mut self) -> Option<Entry> {
        self.pending.take()
    }

    /// Builds the entry of an ESL `log/data` frame: `body` is the formatted
    /// line(s) without UUID prefix, `user_data` the `User-Data` header (the
    /// session UUID, or empty). Lines after the first are continuation, so a
    /// frame gives the same [`Entry`] as the same message read from a log
    /// file. Does not touch the pending file entry. `None` for an empty body.
    pub fn push_log_data(&mut self, body: &str, user_data: Option<&str>) -> Option<Entry> {
        let mut lines = body.lines();
        let first = lines.next()?;
        self.stats.lines += 1;
        let user_data = user_data.map(str::trim).filter(|u| !u.is_empty());
        let mut entry = self.start(&parse_line(first), user_data);
        for l in lines {
            self.stats.lines += 1;
            self.stats.continuation_lines += 1;
            add_continuation(&mut entry, l, &self.limits, &mut self.stats);
        }
        Some(entry)
    }

    fn start(&mut self, line: &Line<'_>, fallback_uuid: Option<&str>) -> Entry {
        self.stats.entries += 1;
        let (time, time_inherited, ts_micros) = match line.time {
            Some(t) => {
                let ts = self.convert(&t);
                self.last_time = Some((t, ts));
                (Some(t), false, ts)
            }
            None => match self.last_time {
                Some((t, ts)) => (Some(t), true, ts),
                None => (None, false, None),
            },
        };
        // An ESL frame has no UUID prefix; with `User-Data` it is what the file
        // would show as a UUID-prefixed (shape C) line.
        let shape = match (line.shape, line.uuid.or(fallback_uuid)) {
            (Shape::Bare, Some(_)) => Shape::Clean,
            (shape, _) => shape,
        };
        let mut entry = Entry {
            shape,
            uuid: line.uuid.or(fallback_uuid).map(str::to_owned),
            time,
            time_inherited,
            ts_micros,
            idle_cpu: line.idle_cpu,
            level: line.level,
            file: line.file.map(str::to_owned),
            line: line.line,
            func: line.func.map(str::to_owned),
            message: String::new(),
            continuation: Vec::new(),
            dropped_lines: 0,
            dropped_bytes: 0,
        };
        let keep = floor_char_boundary(line.message, self.limits.max_entry_bytes);
        entry.message.push_str(&line.message[..keep]);
        let dropped = (line.message.len() - keep) as u64;
        entry.dropped_bytes += dropped;
        self.stats.dropped_bytes += dropped;
        entry
    }

    fn convert(&mut self, t: &LogTime) -> Option<i64> {
        let key = t.second_key();
        if let Some((k, start)) = self.cache
            && k == key
        {
            return Some(start + i64::from(t.micros));
        }
        match self.clock.second_start(t) {
            Ok(start) => {
                self.cache = Some((key, start));
                Some(start + i64::from(t.micros))
            }
            Err(_) => {
                self.stats.bad_timestamps += 1;
                None
            }
        }
    }
}

/// Does `line` continue `pending`? See the rules on [`Assembler`].
fn continues(pending: &Entry, line: &Line<'_>) -> bool {
    match line.shape {
        Shape::Full => false,
        Shape::Clean => pending.uuid.as_deref() == line.uuid && !opens_clean_entry(line.message),
        Shape::Bare => !is_sofia_trace_header(line.message),
    }
}

/// LOG_CLEAN messages that FreeSWITCH writes as their own message with only
/// the UUID prefix (mod_dialplan_xml, switch_core_session, sofia_glue).
fn opens_clean_entry(msg: &str) -> bool {
    msg.starts_with("EXECUTE [depth=")
        || msg.starts_with("Dialplan: ")
        || msg.starts_with("Local SDP")
        || msg.starts_with("Remote SDP")
}

/// `send 1429 bytes to udp/[65.254.44.194]:5060 at 04:01:36.470708:` and the
/// `recv … bytes from …` twin (sofia `tport_log_msg`).
fn is_sofia_trace_header(msg: &str) -> bool {
    let rest = match msg
        .strip_prefix("send ")
        .or_else(|| msg.strip_prefix("recv "))
    {
        Some(r) => r,
        None => return false,
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0
        && (rest[digits..].starts_with(" bytes to ") || rest[digits..].starts_with(" bytes from "))
}

fn add_continuation(
    entry: &mut Entry,
    text: &str,
    limits: &AssemblerLimits,
    stats: &mut AssemblerStats,
) {
    let text = text.strip_suffix('\r').unwrap_or(text);
    if entry.continuation.len() >= limits.max_continuation_lines
        || entry.size() + text.len() > limits.max_entry_bytes
    {
        entry.dropped_lines += 1;
        entry.dropped_bytes += text.len() as u64;
        stats.dropped_lines += 1;
        stats.dropped_bytes += text.len() as u64;
        return;
    }
    entry.continuation.push(text.to_owned());
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: &str = "d9e73608-5048-4523-aded-4dc2c3f91498";

    fn asm() -> Assembler {
        Assembler::new(LogClock::utc())
    }

    #[test]
    fn sdp_after_remote_sdp_is_continuation() {
        let mut a = asm();
        assert!(
            a.push(&format!(
                "{U} 2026-11-26 03:24:30.521047 98.63% [DEBUG] sofia.c:7503 Remote SDP:\n"
            ))
            .is_none()
        );
        assert!(a.push(&format!("{U} v=0\r\n")).is_none());
        assert!(a.push(&format!("{U} \n")).is_none());
        let e = a
            .push(&format!(
                "{U} 2026-11-26 03:24:30.521047 98.63% [DEBUG] a.c:1 next"
            ))
            .unwrap();
        assert_eq!(e.message, "Remote SDP:");
        assert_eq!(e.continuation, vec!["v=0".to_owned(), String::new()]);
        assert_eq!(e.ts_micros, Some(1_795_663_470_521_047));
        assert_eq!(e.text(), "Remote SDP:\nv=0\n");
        let next = a.flush().unwrap();
        assert_eq!(next.message, "next");
        assert!(a.flush().is_none());
        assert_eq!(a.stats().lines, 4);
        assert_eq!(a.stats().entries, 2);
        assert_eq!(a.stats().continuation_lines, 2);
    }

    #[test]
    fn clean_openers_and_other_uuids_start_entries() {
        let mut a = asm();
        a.push(&format!("{U} 2026-11-26 03:24:30.000001 [INFO] a.c:1 x"));
        let e = a
            .push(&format!("{U} EXECUTE [depth=0] sofia/x set(a=b)"))
            .unwrap();
        assert_eq!(e.message, "x");
        let other = "f059e147-6396-47f7-a85d-5c55f0c977bc";
        let e = a.push(&format!("{other} v=0")).unwrap();
        assert_eq!(e.message, "EXECUTE [depth=0] sofia/x set(a=b)");
        assert!(e.time_inherited);
        assert_eq!(e.shape, Shape::Clean);
        assert_eq!(e.ts_micros, Some(1_795_663_470_000_001));
        let e = a.flush().unwrap();
        assert_eq!(e.uuid.as_deref(), Some(other));
    }

    #[test]
    fn sofia_trace_block() {
        let mut a = asm();
        a.push("2019-12-28 04:01:36.445691 [DEBUG] a.c:1 x");
        let e = a.push("send 1429 bytes to udp/[65.254.44.194]:5060 at 04:01:36.470708:");
        assert_eq!(e.unwrap().message, "x");
        a.push("   ------------------------------------------------------------------------");
        a.push("   INVITE sip:@gw.sip.us SIP/2.0");
        let e = a
            .push("recv 1 bytes from udp/[1.2.3.4]:5060 at 04:01:36.470708:")
            .unwrap();
        assert_eq!(e.shape, Shape::Bare);
        assert_eq!(e.continuation.len(), 2);
        assert!(is_sofia_trace_header("recv 12 bytes from x"));
        assert!(!is_sofia_trace_header("send bytes to x"));
        assert!(!is_sofia_trace_header("send 12 bytes at x"));
    }

    #[test]
    fn limits_drop_and_count() {
        let mut a = Assembler::with_limits(
            LogClock::utc(),
            AssemblerLimits {
                max_continuation_lines: 2,
                max_entry_bytes: 10,
            },
        );
        a.push("2019-12-28 04:01:36.445691 [DEBUG] a.c:1 héllo wörld!!");
        for _ in 0..4 {
            a.push("ab");
        }
        let e = a.flush().unwrap();
        assert_eq!(e.message, "héllo wö");
        assert_eq!(e.continuation.len(), 0);
        assert_eq!(e.dropped_lines, 4);
        assert_eq!(e.line_count(), 5);
        let mut a = Assembler::with_limits(
            LogClock::utc(),
            AssemblerLimits {
                max_continuation_lines: 2,
                max_entry_bytes: 100,
            },
        );
        a.push("x");
        for _ in 0..4 {
            a.push("ab");
        }
        let e = a.flush().unwrap();
        assert_eq!(
            (e.continuation.len(), e.dropped_lines, e.dropped_bytes),
            (2, 2, 4)
        );
        assert_eq!(a.stats().dropped_lines, 2);
    }

    #[test]
    fn log_data_matches_file_entry() {
        let mut file = asm();
        file.push(&format!(
            "{U} 2026-11-26 03:24:30.521047 98.63% [DEBUG] sofia.c:7503 Remote SDP:"
        ));
        file.push(&format!("{U} v=0\r"));
        file.push(&format!("{U} "));
        let from_file = file.flush().unwrap();
        let mut esl = asm();
        let from_esl = esl
            .push_log_data(
                "2026-11-26 03:24:30.521047 98.63% [DEBUG] sofia.c:7503 Remote SDP:\nv=0\r\n\n",
                Some(U),
            )
            .unwrap();
        assert_eq!(from_file, from_esl);
        assert!(esl.push_log_data("", Some(U)).is_none());
        let e = esl.push_log_data("EXECUTE [depth=0] x", Some("")).unwrap();
        assert_eq!(
            (e.uuid, e.time_inherited, e.shape),
            (None, true, Shape::Bare)
        );
        let e = esl.push_log_data("EXECUTE [depth=0] x", Some(U)).unwrap();
        assert_eq!(e.shape, Shape::Clean);
    }

    #[test]
    fn bad_timestamp_is_counted() {
        let mut a = asm();
        a.push("2023-02-30 04:01:36.445691 [DEBUG] a.c:1 x");
        let e = a.flush().unwrap();
        assert_eq!(e.ts_micros, None);
        assert!(e.time.is_some());
        assert_eq!(a.stats().bad_timestamps, 1);
    }
}
