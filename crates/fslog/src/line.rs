//! Zero-copy classification of one FreeSWITCH log line.
//!
//! Every input yields a [`Line`]: parsing never fails, it only decides how much
//! of the line is header and how much is text. The shapes are those of
//! PROTOCOLS.md §4 (A–D), plus the syslog wrapper and fs_cli colour codes.

use std::fmt;

use crate::anchor::{Anchor, parse_anchor};

/// FreeSWITCH log level, with the numeric value FreeSWITCH uses (`Log-Level`
/// header of ESL `log/data`). `DEBUG1`..`DEBUG10` are printed as `DEBUG`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// `CONSOLE` (0).
    Console = 0,
    /// `ALERT` (1).
    Alert = 1,
    /// `CRIT` (2).
    Crit = 2,
    /// `ERR` (3).
    Err = 3,
    /// `WARNING` (4).
    Warning = 4,
    /// `NOTICE` (5).
    Notice = 5,
    /// `INFO` (6).
    Info = 6,
    /// `DEBUG` (7).
    Debug = 7,
}

impl Level {
    /// The numeric level, 0 (`CONSOLE`) to 7 (`DEBUG`).
    pub fn value(self) -> u8 {
        self as u8
    }

    /// The level from its numeric value (0..=7); larger values are the
    /// DEBUG1..DEBUG10 levels, which FreeSWITCH prints as `DEBUG`.
    pub fn from_value(value: u8) -> Level {
        match value {
            0 => Level::Console,
            1 => Level::Alert,
            2 => Level::Crit,
            3 => Level::Err,
            4 => Level::Warning,
            5 => Level::Notice,
            6 => Level::Info,
            _ => Level::Debug,
        }
    }

    /// The name as FreeSWITCH prints it between brackets.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Console => "CONSOLE",
            Level::Alert => "ALERT",
            Level::Crit => "CRIT",
            Level::Err => "ERR",
            Level::Warning => "WARNING",
            Level::Notice => "NOTICE",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }

    /// Parses the bracketed name (`WARNING`, not `[WARNING]`).
    pub fn from_name(name: &str) -> Option<Level> {
        Some(match name {
            "CONSOLE" => Level::Console,
            "ALERT" => Level::Alert,
            "CRIT" => Level::Crit,
            "ERR" => Level::Err,
            "WARNING" => Level::Warning,
            "NOTICE" => Level::Notice,
            "INFO" => Level::Info,
            "DEBUG" => Level::Debug,
            _ => return None,
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A civil (wall-clock) date-time exactly as written in the log, with
/// microseconds. FreeSWITCH writes local time without a zone; see
/// [`LogClock`](crate::LogClock) for the conversion to an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogTime {
    /// Year, e.g. 2026.
    pub year: u16,
    /// Month 1..=12.
    pub month: u8,
    /// Day of month 1..=31 (not checked against the month).
    pub day: u8,
    /// Hour 0..=23.
    pub hour: u8,
    /// Minute 0..=59.
    pub minute: u8,
    /// Second 0..=60.
    pub second: u8,
    /// Microseconds 0..=999_999.
    pub micros: u32,
}

impl LogTime {
    /// Length of `YYYY-MM-DD HH:MM:SS.uuuuuu`.
    pub const LEN: usize = 26;

    /// Parses `YYYY-MM-DD HH:MM:SS.uuuuuu` at the start of `b`. Ranges are
    /// checked field by field; whether the day exists in that month is left to
    /// the clock conversion.
    pub fn parse_prefix(b: &[u8]) -> Option<LogTime> {
        let b = b.get(..Self::LEN)?;
        if b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b' '
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'.'
        {
            return None;
        }
        let t = LogTime {
            year: digits(&b[0..4])? as u16,
            month: digits(&b[5..7])? as u8,
            day: digits(&b[8..10])? as u8,
            hour: digits(&b[11..13])? as u8,
            minute: digits(&b[14..16])? as u8,
            second: digits(&b[17..19])? as u8,
            micros: digits(&b[20..26])?,
        };
        let ok = (1..=12).contains(&t.month)
            && (1..=31).contains(&t.day)
            && t.hour < 24
            && t.minute < 60
            && t.second <= 60;
        ok.then_some(t)
    }

    /// Seconds-resolution key, used to cache zone conversions.
    pub(crate) fn second_key(&self) -> u64 {
        ((((u64::from(self.year) * 13 + u64::from(self.month)) * 32 + u64::from(self.day)) * 24
            + u64::from(self.hour))
            * 60
            + u64::from(self.minute))
            * 61
            + u64::from(self.second)
    }
}

impl fmt::Display for LogTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.micros
        )
    }
}

/// Core idle-CPU percentage (`NN.NN%`, FreeSWITCH ≥ 1.10.7), kept in
/// hundredths of a percent so lines stay `Eq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdleCpu(pub u32);

impl IdleCpu {
    /// The percentage as a float, e.g. `98.63`.
    pub fn percent(self) -> f64 {
        f64::from(self.0) / 100.0
    }
}

/// Which of the log line shapes a line has (PROTOCOLS.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// A (with UUID) or B (without): a timestamped core line.
    Full,
    /// C: UUID prefix, no timestamp. A LOG_CLEAN line or a continuation line
    /// of a session's multi-line message.
    Clean,
    /// D: neither UUID nor timestamp.
    Bare,
}

/// `… freeswitch[pid]: ` wrapper added by syslog/journald.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Syslog<'a> {
    /// Everything before `freeswitch[`, trimmed (syslog time and host).
    pub prefix: &'a str,
    /// The process id between the brackets.
    pub pid: u32,
}

/// One classified log line, borrowing from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The shape (A/B = `Full`, C = `Clean`, D = `Bare`).
    pub shape: Shape,
    /// The channel UUID prefix (`mod_logfile uuid=true`, `fs_cli -U`).
    pub uuid: Option<&'a str>,
    /// The timestamp as written.
    pub time: Option<LogTime>,
    /// Core idle CPU, when the build writes it.
    pub idle_cpu: Option<IdleCpu>,
    /// The level between brackets.
    pub level: Option<Level>,
    /// Source file basename, e.g. `sofia.c`.
    pub file: Option<&'a str>,
    /// Source line number.
    pub line: Option<u32>,
    /// Function name (builds with `SWITCH_FUNC_IN_LOG`), without `()`.
    pub func: Option<&'a str>,
    /// The message text after the header (for `Clean`, after the UUID; for
    /// `Bare`, the whole line). Trailing CR/LF removed.
    pub message: &'a str,
    /// The syslog wrapper, if any.
    pub syslog: Option<Syslog<'a>>,
}

impl<'a> Line<'a> {
    /// Anchor facts (channel creation, Call-ID links, answer, hangup) found in
    /// the message text.
    pub fn anchor(&self) -> Option<Anchor<'a>> {
        parse_anchor(self.message)
    }
}

/// Classifies one log line. The line may still carry its `\n`/`\r\n`; leading
/// and trailing ANSI colour sequences (fs_cli console) are skipped. Never
/// fails and never panics: anything unrecognised is a [`Shape::Bare`] line
/// whose message is the whole text.
pub fn parse_line(raw: &str) -> Line<'_> {
    let s = strip_ansi(strip_eol(raw));
    let core = parse_core(s);
    // A syslog line may itself start with a timestamp (`2021-10-29 21:05:58.894719
    // host freeswitch[pid]: …`), so a header without a level is checked for
    // the wrapper before it is accepted.
    if let Some(line) = core
        && (line.level.is_some() || line.shape == Shape::Clean)
    {
        return line;
    }
    if let Some(line) = parse_syslog(s) {
        return line;
    }
    if let Some(line) = core {
        return line;
    }
    Line {
        shape: Shape::Bare,
        uuid: None,
        time: None,
        idle_cpu: None,
        level: None,
        file: None,
        line: None,
        func: None,
        message: s,
        syslog: None,
    }
}

/// Parses shapes A, B and C; `None` means bare.
fn parse_core(s: &str) -> Option<Line<'_>> {
    let (uuid, rest) = match split_uuid(s) {
        Some((u, r)) => (Some(u), r),
        None => (None, s),
    };
    match parse_header(rest) {
        Some(mut line) => {
            line.uuid = uuid;
            Some(line)
        }
        None => uuid.map(|uuid| Line {
            shape: Shape::Clean,
            uuid: Some(uuid),
            time: None,
            idle_cpu: None,
            level: None,
            file: None,
            line: None,
            func: None,
            message: rest,
            syslog: None,
        }),
    }
}

/// Parses `TIMESTAMP [NN.NN% ][LEVEL] file:line[ func()] message`. Requires the
/// timestamp; later parts are optional so a damaged header still keeps its
/// time.
fn parse_header(s: &str) -> Option<Line<'_>> {
    let b = s.as_bytes();
    let time = LogTime::parse_prefix(b)?;
    let mut line = Line {
        shape: Shape::Full,
        uuid: None,
        time: Some(time),
        idle_cpu: None,
        level: None,
        file: None,
        line: None,
        func: None,
        message: "",
        syslog: None,
    };
    let mut pos = LogTime::LEN;
    match b.get(pos) {
        None => return Some(line),
        Some(b' ') => pos += 1,
        Some(_) => return None,
    }
    if let Some((idle, used)) = parse_idle(&b[pos..]) {
        line.idle_cpu = Some(idle);
        pos += used;
    }
    if let Some((level, used)) = parse_level(&b[pos..]) {
        line.level = Some(level);
        pos += used;
        if let Some((file, no, used)) = parse_file_line(&s[pos..]) {
            line.file = Some(file);
            line.line = Some(no);
            pos += used;
            if let Some((func, used)) = parse_func(&s[pos..]) {
                line.func = Some(func);
                pos += used;
            }
        }
    }
    line.message = s.get(pos..).unwrap_or("");
    Some(line)
}

/// `NN.NN% ` → (hundredths, bytes used).
fn parse_idle(b: &[u8]) -> Option<(IdleCpu, usize)> {
    let dot = b.iter().take(5).position(|&c| c == b'.')?;
    if dot == 0 {
        return None;
    }
    let whole = digits(&b[..dot])?;
    let frac = digits(b.get(dot + 1..dot + 3)?)?;
    if b.get(dot + 3) != Some(&b'%') {
        return None;
    }
    let mut used = dot + 4;
    match b.get(used) {
        Some(b' ') => used += 1,
        None => {}
        Some(_) => return None,
    }
    Some((IdleCpu(whole * 100 + frac), used))
}

/// `[LEVEL] ` → (level, bytes used).
fn parse_level(b: &[u8]) -> Option<(Level, usize)> {
    if b.first() != Some(&b'[') {
        return None;
    }
    let close = b.iter().take(10).position(|&c| c == b']')?;
    let name = std::str::from_utf8(&b[1..close]).ok()?;
    let level = Level::from_name(name)?;
    let mut used = close + 1;
    match b.get(used) {
        Some(b' ') => used += 1,
        None => {}
        Some(_) => return None,
    }
    Some((level, used))
}

/// `file.c:123 ` → (file, line, bytes used).
fn parse_file_line(s: &str) -> Option<(&str, u32, usize)> {
    let b = s.as_bytes();
    let end = memchr::memchr(b' ', b).unwrap_or(b.len());
    let token = &s[..end];
    let colon = token.rfind(':')?;
    if colon == 0 {
        return None;
    }
    let no = digits(token.as_bytes().get(colon + 1..)?)?;
    let used = if end < b.len() { end + 1 } else { end };
    Some((&token[..colon], no, used))
}

/// ` func() ` right after file:line (builds with `SWITCH_FUNC_IN_LOG`).
fn parse_func(s: &str) -> Option<(&str, usize)> {
    let b = s.as_bytes();
    let end = memchr::memchr(b' ', b).unwrap_or(b.len());
    let name = s[..end].strip_suffix("()")?;
    if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        return None;
    }
    let used = if end < b.len() { end + 1 } else { end };
    Some((name, used))
}

/// `… freeswitch[pid]: <core line>`.
fn parse_syslog(s: &str) -> Option<Line<'_>> {
    const TAG: &[u8] = b"freeswitch[";
    // The tag sits after a syslog time and host; bounding the search keeps
    // bare lines (SIP traces, SQL) cheap.
    let head = &s.as_bytes()[..s.len().min(160)];
    let at = memchr::memmem::find(head, TAG)?;
    let after = at + TAG.len();
    let close = after + memchr::memchr(b']', s.as_bytes().get(after..)?)?;
    let pid = digits(s.as_bytes().get(after..close)?)?;
    let core = s.get(close + 1..)?.strip_prefix(": ")?;
    let mut line = parse_core(core)?;
    line.syslog = Some(Syslog {
        prefix: s[..at].trim_end(),
        pid,
    });
    Some(line)
}

/// Splits a leading `8-4-4-4-12` hex UUID followed by a space (or the end).
fn split_uuid(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    if b.len() < 36 || !is_uuid(&b[..36]) {
        return None;
    }
    match b.get(36) {
        None => Some((&s[..36], "")),
        Some(b' ') => Some((&s[..36], &s[37..])),
        Some(_) => None,
    }
}

/// True for a canonical textual UUID (either case).
pub(crate) fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Parses an all-digit field (at most 9 digits, so no overflow).
fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut n = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    Some(n)
}

fn strip_eol(s: &str) -> &str {
    let s = s.strip_suffix('\n').unwrap_or(s);
    s.strip_suffix('\r').unwrap_or(s)
}

/// Skips `ESC [ … m` sequences at both ends; fs_cli wraps each line in a
/// colour and a reset, and never colours inside the text.
fn strip_ansi(mut s: &str) -> &str {
    while let Some(rest) = s.strip_prefix("\x1b[") {
        match rest.find('m') {
            Some(m) if rest[..m].bytes().all(|c| c.is_ascii_digit() || c == b';') => {
                s = &rest[m + 1..];
            }
            _ => break,
        }
    }
    while s.ends_with('m') {
        let Some(esc) = s.rfind("\x1b[") else { break };
        let inner = &s[esc + 2..s.len() - 1];
        if !inner.bytes().all(|c| c.is_ascii_digit() || c == b';') {
            break;
        }
        s = &s[..esc];
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_a_with_idle_cpu() {
        let l = parse_line(
            "d9e73608-5048-4523-aded-4dc2c3f91498 2026-11-26 03:24:30.521047 98.63% [INFO] sofia.c:10460 sofia/b2bua/sipp@127.0.0.1:5072 receiving invite\n",
        );
        assert_eq!(l.shape, Shape::Full);
        assert_eq!(l.uuid, Some("d9e73608-5048-4523-aded-4dc2c3f91498"));
        assert_eq!(
            l.time.map(|t| t.to_string()).as_deref(),
            Some("2026-11-26 03:24:30.521047")
        );
        assert_eq!(l.idle_cpu, Some(IdleCpu(9863)));
        assert_eq!(l.level, Some(Level::Info));
        assert_eq!(l.file, Some("sofia.c"));
        assert_eq!(l.line, Some(10460));
        assert_eq!(l.func, None);
        assert_eq!(
            l.message,
            "sofia/b2bua/sipp@127.0.0.1:5072 receiving invite"
        );
    }

    #[test]
    fn shape_b_without_idle_cpu() {
        let l = parse_line(
            "2019-12-28 04:01:36.445691 [DEBUG] switch_ivr_originate.c:2138 Parsing global variables",
        );
        assert_eq!(l.shape, Shape::Full);
        assert_eq!(l.uuid, None);
        assert_eq!(l.idle_cpu, None);
        assert_eq!(l.level, Some(Level::Debug));
        assert_eq!(l.file, Some("switch_ivr_originate.c"));
        assert_eq!(l.line, Some(2138));
        assert_eq!(l.message, "Parsing global variables");
    }

    #[test]
    fn func_in_log() {
        let l = parse_line(
            "2024-01-02 03:04:05.000006 12.50% [ERR] switch_core.c:99 switch_core_init() boom here",
        );
        assert_eq!(l.func, Some("switch_core_init"));
        assert_eq!(l.message, "boom here");
        assert_eq!(l.idle_cpu, Some(IdleCpu(1250)));
    }

    #[test]
    fn clean_and_bare() {
        let l = parse_line(
            "2b0a7a63-0177-4d46-bf19-7b2982294fec EXECUTE [depth=0] sofia/internal/1000@mcyhzc.top set(open=true)",
        );
        assert_eq!(l.shape, Shape::Clean);
        assert_eq!(l.uuid, Some("2b0a7a63-0177-4d46-bf19-7b2982294fec"));
        assert!(l.message.starts_with("EXECUTE [depth=0]"));
        let l = parse_line("2b0a7a63-0177-4d46-bf19-7b2982294fec \r\n");
        assert_eq!((l.shape, l.message), (Shape::Clean, ""));
        let l = parse_line("   Via: SIP/2.0/UDP 172.31.40.118:5080");
        assert_eq!(l.shape, Shape::Bare);
        assert_eq!(l.message, "   Via: SIP/2.0/UDP 172.31.40.118:5080");
    }

    #[test]
    fn syslog_wrapped() {
        let l = parse_line(
            "2021-10-29 21:05:58.894719 www.srv.tld freeswitch[123456]: 2021-10-29 14:13:24.894719 82.43% [WARNING] sofia_reg.c:2889 Can't find user [201@::1] from 192.0.2.5",
        );
        assert_eq!(l.shape, Shape::Full);
        let sys = l.syslog.unwrap();
        assert_eq!(sys.pid, 123456);
        assert_eq!(sys.prefix, "2021-10-29 21:05:58.894719 www.srv.tld");
        assert_eq!(l.time.unwrap().hour, 14);
        assert_eq!(l.level, Some(Level::Warning));
        assert_eq!(l.line, Some(2889));
    }

    #[test]
    fn fs_cli_colours_are_stripped() {
        let l = parse_line(
            "\x1b[0;36m2024-01-02 03:04:05.000006 99.00% [DEBUG] sofia.c:1 hello\x1b[0m\n",
        );
        assert_eq!(l.level, Some(Level::Debug));
        assert_eq!(l.message, "hello");
    }

    #[test]
    fn damaged_headers_never_panic() {
        for s in [
            "",
            "2024-01-02 03:04:05.000006",
            "2024-01-02 03:04:05.000006 ",
            "2024-01-02 03:04:05.000006 1",
            "2024-01-02 03:04:05.000006 1.0",
            "2024-01-02 03:04:05.000006 99.99%",
            "2024-01-02 03:04:05.000006 [DEBU",
            "2024-01-02 03:04:05.000006 [DEBUG]",
            "2024-01-02 03:04:05.000006 [DEBUG] :12 x",
            "2024-13-02 03:04:05.000006 [DEBUG] a.c:1 x",
            "x freeswitch[",
            "x freeswitch[1]",
            "x freeswitch[1]: ",
            "\x1b[",
            "\x1b[m\x1b[",
            "d9e73608-5048-4523-aded-4dc2c3f91498",
            "é2024-01-02 03:04:05.000006 [DEBUG] a.c:1 x",
        ] {
            let _ = parse_line(s);
        }
        let l = parse_line("2024-13-02 03:04:05.000006 [DEBUG] a.c:1 x");
        assert_eq!(l.shape, Shape::Bare);
        let l = parse_line("2024-01-02 03:04:05.000006 [DEBUG] :12 x");
        assert_eq!(
            (l.level, l.file, l.message),
            (Some(Level::Debug), None, ":12 x")
        );
    }

    #[test]
    fn level_values() {
        assert_eq!(Level::Console.value(), 0);
        assert_eq!(Level::Debug.value(), 7);
        for v in 0..8 {
            assert_eq!(Level::from_value(v).value(), v);
            assert_eq!(
                Level::from_name(Level::from_value(v).as_str()),
                Some(Level::from_value(v))
            );
        }
        assert_eq!(Level::from_value(9), Level::Debug);
    }
}
