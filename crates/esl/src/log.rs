//! `log/data` frames: FreeSWITCH log lines delivered over ESL after `log <level>`.

use crate::error::{ErrorKind, EslError};
use crate::event::utf8_lossy;
use crate::framing::{ContentType, Frame};

/// One log line from a `log/data` frame (PROTOCOLS.md §3.2, §4).
///
/// The body is the core log line exactly as `mod_logfile` would write it,
/// *without* the `<uuid> ` prefix: the session UUID is in `User-Data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogData {
    /// `Log-Level`: 0 CONSOLE, 1 ALERT, 2 CRIT, 3 ERR, 4 WARNING, 5 NOTICE,
    /// 6 INFO, 7 DEBUG.
    pub level: u8,
    /// `Text-Channel`: 0 LOG, 1 LOG_CLEAN, 2 EVENT, 3 SESSION (0 if absent).
    pub text_channel: u8,
    /// `Log-File`: the source file basename, e.g. `switch_channel.c`.
    pub file: String,
    /// `Log-Func`: the C function.
    pub func: String,
    /// `Log-Line`: the source line (0 if absent).
    pub line: u32,
    /// `User-Data`: the session (channel) UUID, or `None` for system lines.
    pub user_data: Option<String>,
    /// The formatted line (lossy UTF-8), trailing newline included as sent.
    pub body: String,
}

impl LogData {
    /// Decodes a `log/data` frame. `Log-Level` is required; the other headers
    /// default when absent, because the body alone is still worth keeping.
    pub fn from_frame(frame: &Frame) -> Result<LogData, EslError> {
        if frame.content_type != ContentType::LogData {
            return Err(EslError::decode_detail(
                ErrorKind::WrongContentType,
                0,
                frame.content_type.as_str(),
            ));
        }
        let body = frame
            .body
            .as_deref()
            .map(|b| utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let level = match frame.header("Log-Level") {
            Some(level) => level.trim().parse::<u8>().ok().filter(|l| *l <= 7).ok_or(
                EslError::decode_detail(ErrorKind::BadNumber, 0, "Log-Level"),
            )?,
            // FreeSWITCH before 1.2 sent only Content-Type and Content-Length;
            // the level is then only in the line itself.
            None => level_from_line(&body).ok_or(EslError::decode_detail(
                ErrorKind::MissingHeader,
                0,
                "Log-Level",
            ))?,
        };
        let number = |name: &'static str| -> Result<Option<u32>, EslError> {
            match frame.header(name).map(str::trim) {
                None | Some("") => Ok(None),
                Some(v) => v
                    .parse()
                    .map(Some)
                    .map_err(|_| EslError::decode_detail(ErrorKind::BadNumber, 0, name)),
            }
        };
        let text_channel = number("Text-Channel")?
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(0);
        let line = number("Log-Line")?.unwrap_or(0);
        let text = |name| frame.header(name).unwrap_or_default().to_owned();
        let user_data = frame
            .header("User-Data")
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned);
        Ok(LogData {
            level,
            text_channel,
            file: text("Log-File"),
            func: text("Log-Func"),
            line,
            user_data,
            body,
        })
    }

    /// The level's name as FreeSWITCH prints it (`DEBUG`, `INFO`, …).
    pub fn level_name(&self) -> &'static str {
        LEVELS
            .get(usize::from(self.level))
            .copied()
            .unwrap_or("DEBUG")
    }
}

const LEVELS: [&str; 8] = [
    "CONSOLE", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG",
];

/// The level of a core log line, from its first `[LEVEL]` token (§4 format).
fn level_from_line(line: &str) -> Option<u8> {
    let start = line.find('[')?;
    let rest = line.get(start + 1..)?;
    let name = rest.get(..rest.find(']')?)?;
    LEVELS
        .iter()
        .position(|l| *l == name)
        .and_then(|i| u8::try_from(i).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::Framer;

    fn frame(raw: &[u8]) -> Frame {
        let mut f = Framer::default();
        f.push(raw);
        f.next_frame().unwrap().unwrap()
    }

    #[test]
    fn log_data_frame_as_mod_event_socket_sends_it() {
        // Header layout from mod_event_socket.c's log handler; the line is
        // from testdata/freeswitch-live/01-bridged-callid-random/freeswitch.log
        // with its UUID prefix moved into User-Data.
        let line = "2026-11-26 03:24:30.521047 98.63% [NOTICE] switch_channel.c:1142 New Channel sofia/b2bua/sipp@127.0.0.1:5072 [d9e73608-5048-4523-aded-4dc2c3f91498]\n";
        let raw = format!(
            "Content-Type: log/data\nContent-Length: {}\nLog-Level: 5\nText-Channel: 3\nLog-File: switch_channel.c\nLog-Func: switch_channel_set_name\nLog-Line: 1142\nUser-Data: d9e73608-5048-4523-aded-4dc2c3f91498\n\n{line}",
            line.len()
        );
        let log = LogData::from_frame(&frame(raw.as_bytes())).unwrap();
        assert_eq!(log.level, 5);
        assert_eq!(log.level_name(), "NOTICE");
        assert_eq!(log.text_channel, 3);
        assert_eq!(log.file, "switch_channel.c");
        assert_eq!(log.func, "switch_channel_set_name");
        assert_eq!(log.line, 1142);
        assert_eq!(
            log.user_data.as_deref(),
            Some("d9e73608-5048-4523-aded-4dc2c3f91498")
        );
        assert_eq!(log.body, line);
    }

    #[test]
    fn system_line_and_bad_headers() {
        let raw = b"Content-Type: log/data\nContent-Length: 3\nLog-Level: 6\nUser-Data: \n\nok\n";
        let log = LogData::from_frame(&frame(raw)).unwrap();
        assert_eq!(log.user_data, None);
        assert_eq!(log.line, 0);

        let raw = b"Content-Type: log/data\nContent-Length: 0\nLog-Level: 9\n\n";
        let err = LogData::from_frame(&frame(raw)).unwrap_err();
        assert_eq!(err.kind(), Some(ErrorKind::BadNumber));
        let raw = b"Content-Type: log/data\nContent-Length: 0\n\n";
        let err = LogData::from_frame(&frame(raw)).unwrap_err();
        assert_eq!(err.kind(), Some(ErrorKind::MissingHeader));
        // Pre-1.2 servers: no Log-Level header, the level is in the line.
        let raw = b"Content-Type: log/data\nContent-Length: 48\n\n2009-01-01 10:00:00 [WARNING] mod_x.c:1 careful\n";
        let log = LogData::from_frame(&frame(raw)).unwrap();
        assert_eq!((log.level, log.level_name()), (4, "WARNING"));
        let raw = b"Content-Type: api/response\nContent-Length: 0\n\n";
        let err = LogData::from_frame(&frame(raw)).unwrap_err();
        assert_eq!(err.kind(), Some(ErrorKind::WrongContentType));
    }
}
