//! Civil log timestamps → instants.

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

use crate::error::{Error, ErrorKind};
use crate::line::LogTime;

/// Converts the zone-less civil timestamps FreeSWITCH writes into Unix epoch
/// microseconds, in the zone the FreeSWITCH host runs in.
///
/// FreeSWITCH formats its log time with `localtime`, so the right zone is the
/// one of the host that wrote the log, which is usually, but not always, the
/// host reading it (containers often run in UTC). Ambiguous times in a DST
/// fold resolve to the earlier instant, times in a DST gap move forward
/// (jiff's "compatible" rule, like most schedulers).
#[derive(Debug, Clone)]
pub struct LogClock {
    tz: TimeZone,
}

impl Default for LogClock {
    fn default() -> Self {
        LogClock::system()
    }
}

impl LogClock {
    /// The local system zone (`TZ`, then `/etc/localtime`); UTC if neither
    /// can be read.
    pub fn system() -> LogClock {
        LogClock {
            tz: TimeZone::system(),
        }
    }

    /// UTC.
    pub fn utc() -> LogClock {
        LogClock { tz: TimeZone::UTC }
    }

    /// A given jiff time zone.
    pub fn with_zone(tz: TimeZone) -> LogClock {
        LogClock { tz }
    }

    /// Parses a zone as configured: an IANA name (`Europe/Paris`, `UTC`),
    /// `local` for the system zone, or a fixed offset `+HH`, `+HH:MM`,
    /// `-HHMM`.
    pub fn from_config(spec: &str) -> Result<LogClock, Error> {
        let spec = spec.trim();
        if spec.eq_ignore_ascii_case("local") || spec.is_empty() {
            return Ok(LogClock::system());
        }
        if spec.starts_with('+') || spec.starts_with('-') {
            let secs = parse_offset(spec)?;
            let offset = Offset::from_seconds(secs).map_err(|source| Error::Time {
                kind: ErrorKind::InvalidTimeZone,
                source,
            })?;
            return Ok(LogClock {
                tz: TimeZone::fixed(offset),
            });
        }
        TimeZone::get(spec)
            .map(|tz| LogClock { tz })
            .map_err(|source| Error::Time {
                kind: ErrorKind::InvalidTimeZone,
                source,
            })
    }

    /// The zone in use.
    pub fn zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Epoch microseconds of a civil log time in this zone.
    pub fn to_epoch_micros(&self, t: &LogTime) -> Result<i64, Error> {
        Ok(self.second_start(t)? + i64::from(t.micros))
    }

    /// Epoch microseconds of the whole second of `t`; the assembler caches
    /// this because many lines share a second.
    pub(crate) fn second_start(&self, t: &LogTime) -> Result<i64, Error> {
        let invalid = |source| Error::Time {
            kind: ErrorKind::InvalidDateTime,
            source,
        };
        // A leap second as written by localtime maps onto the next second.
        let (second, extra) = if t.second >= 60 {
            (59, 1_000_000)
        } else {
            (t.second, 0)
        };
        let dt = DateTime::new(
            i16::try_from(t.year).unwrap_or(i16::MAX),
            t.month as i8,
            t.day as i8,
            t.hour as i8,
            t.minute as i8,
            second as i8,
            0,
        )
        .map_err(invalid)?;
        let ts = self.tz.to_timestamp(dt).map_err(invalid)?;
        Ok(ts.as_microsecond() + extra)
    }
}

/// `+HH`, `+HH:MM`, `+HHMM` (or `-`) → seconds east of UTC.
fn parse_offset(spec: &str) -> Result<i32, Error> {
    let bad = |offset| Error::parse(ErrorKind::InvalidTimeZone, offset, spec);
    let sign = if spec.starts_with('-') { -1 } else { 1 };
    let body = &spec[1..];
    let (h, m) = match body.len() {
        2 => (body, "00"),
        4 => body.split_at(2),
        5 if body.as_bytes().get(2) == Some(&b':') => (&body[..2], &body[3..]),
        _ => return Err(bad(1)),
    };
    let h: i32 = h
        .parse()
        .ok()
        .filter(|h| (0..=25).contains(h))
        .ok_or_else(|| bad(1))?;
    let m: i32 = m
        .parse()
        .ok()
        .filter(|m| (0..60).contains(m))
        .ok_or_else(|| bad(spec.len() - m.len()))?;
    Ok(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::parse_line;

    fn t(s: &str) -> LogTime {
        parse_line(s).time.unwrap()
    }

    #[test]
    fn zones() {
        let lt = t("2026-11-26 03:24:30.521047 98.63% [INFO] sofia.c:1 x");
        // 2026-11-26T03:24:30Z
        let utc = 1_795_663_470_521_047;
        assert_eq!(LogClock::utc().to_epoch_micros(&lt).unwrap(), utc);
        let paris = LogClock::from_config("Europe/Paris").unwrap();
        assert_eq!(paris.to_epoch_micros(&lt).unwrap(), utc - 3600 * 1_000_000);
        let plus = LogClock::from_config("+05:30").unwrap();
        assert_eq!(plus.to_epoch_micros(&lt).unwrap(), utc - 19_800 * 1_000_000);
        let minus = LogClock::from_config("-0800").unwrap();
        assert_eq!(
            minus.to_epoch_micros(&lt).unwrap(),
            utc + 8 * 3600 * 1_000_000
        );
        assert_eq!(
            LogClock::from_config("+02")
                .unwrap()
                .to_epoch_micros(&lt)
                .unwrap(),
            utc - 7200 * 1_000_000
        );
        // Summer time in Paris is +02:00.
        let summer = t("2023-07-01 12:00:00.000000 [INFO] a.c:1 x");
        assert_eq!(
            paris.to_epoch_micros(&summer).unwrap(),
            1_688_205_600_000_000
        );
    }

    #[test]
    fn bad_zones_and_dates() {
        for bad in ["Mars/Olympus", "+2", "+25:99", "-ab:cd", "+12:3x"] {
            let e = LogClock::from_config(bad).unwrap_err();
            assert_eq!(e.kind(), Some(ErrorKind::InvalidTimeZone), "{bad}");
        }
        let feb30 = t("2023-02-30 12:00:00.000000 [INFO] a.c:1 x");
        let e = LogClock::utc().to_epoch_micros(&feb30).unwrap_err();
        assert_eq!(e.kind(), Some(ErrorKind::InvalidDateTime));
    }
}
