//! `callweave calls`: search the agent's index for calls, newest first.
//!
//! Times are resolved here, not by the agent, so `--since 1h` means one hour
//! before *this* machine's clock; the agent is sent RFC 3339 UTC.

use anyhow::{Context, bail};
use jiff::Timestamp;

use crate::client::{AgentArgs, AgentClient, CallsQuery};
use crate::render;

/// Largest `--limit` the agent accepts.
pub const MAX_CALLS: u64 = 1000;

/// Call outcome filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Status {
    /// Some leg answered (2xx to INVITE or CHANNEL_ANSWER).
    Answered,
    /// 486 / 600 or USER_BUSY.
    Busy,
    /// 408 / 480 or NO_ANSWER / NO_USER_RESPONSE.
    NoAnswer,
    /// CANCEL, 487 or ORIGINATOR_CANCEL.
    Cancelled,
    /// Any other failure (3xx–6xx, another hangup cause before answer).
    Failed,
    /// Not answered and not ended yet.
    InProgress,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Answered => "answered",
            Status::Busy => "busy",
            Status::NoAnswer => "no-answer",
            Status::Cancelled => "cancelled",
            Status::Failed => "failed",
            Status::InProgress => "in-progress",
        }
    }
}

/// `callweave calls` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Times (--since, --until): RFC 3339 (2026-11-26T03:24:30Z, 2026-11-26T04:24:30+01:00),
a date and time without offset, taken as UTC (2026-11-26 03:24, 2026-11-26),
a time before now (90s, 15m, 1h, 1h30m, 2d, 1w), `now`, or µs since the epoch.

Examples:
  callweave calls --since 1h --status busy
  callweave calls --number 1000 --since 2026-11-26 --until 2026-11-27 --format json")]
pub struct CallsArgs {
    #[command(flatten)]
    pub agent: AgentArgs,
    /// Calling or called number.
    #[arg(long, value_name = "N")]
    pub number: Option<String>,
    /// Calls that started at or after this time.
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Calls that started at or before this time.
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// Calls with this outcome.
    #[arg(long, value_enum)]
    pub status: Option<Status>,
    /// Calls seen by this node.
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Most calls listed.
    #[arg(long, default_value_t = 50, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=MAX_CALLS))]
    pub limit: u64,
    #[command(flatten)]
    pub output: render::ListOutput,
}

/// Runs `callweave calls`.
pub fn run(args: CallsArgs) -> anyhow::Result<()> {
    let (since, until) = time_bounds(
        args.since.as_deref(),
        args.until.as_deref(),
        Timestamp::now(),
    )?;
    let query = CallsQuery {
        number: args.number.filter(|n| !n.is_empty()),
        since: since.map(|t| t.to_string()),
        until: until.map(|t| t.to_string()),
        status: args.status.map(|s| s.as_str().to_owned()),
        node: args.node.filter(|n| !n.is_empty()),
        limit: usize::try_from(args.limit).ok(),
    };
    let client = AgentClient::new(&args.agent)?;
    let resp = client.calls(&query)?;
    args.output.print(&resp, render::render_calls)
}

/// Resolves `--since` and `--until` against `now`; they must be in order.
pub fn time_bounds(
    since: Option<&str>,
    until: Option<&str>,
    now: Timestamp,
) -> anyhow::Result<(Option<Timestamp>, Option<Timestamp>)> {
    let when = |flag: &str, v: Option<&str>| {
        v.map(|s| parse_when(s, now).with_context(|| format!("{flag} {s:?}")))
            .transpose()
    };
    let (since, until) = (when("--since", since)?, when("--until", until)?);
    if let (Some(a), Some(b)) = (since, until)
        && a > b
    {
        bail!("--since ({a}) is after --until ({b})");
    }
    Ok((since, until))
}

/// Resolves a `--since`/`--until` value against `now`.
pub fn parse_when(s: &str, now: Timestamp) -> anyhow::Result<Timestamp> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let micros: i64 = s.parse().context("number too large")?;
        // 10^12 µs is 1970-01-12: a smaller number is almost surely seconds or ms.
        if micros < 1_000_000_000_000 {
            bail!("a bare number is µs since the epoch; {s} looks like seconds or milliseconds");
        }
        return Timestamp::from_microsecond(micros).context("out of range");
    }
    if let Some(ago) = parse_relative(s) {
        return now
            .checked_sub(jiff::SignedDuration::from_secs(ago))
            .context("too far in the past");
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return Ok(jiff::tz::TimeZone::UTC.to_timestamp(dt)?);
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return Ok(
            jiff::tz::TimeZone::UTC.to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))?
        );
    }
    bail!(
        "expected RFC 3339 (2026-11-26T03:24:30Z), a relative time (90s, 15m, 1h30m, 2d) or µs since the epoch"
    )
}

/// `90s`, `15m`, `1h30m`, `2d`, `1w` → seconds. `None` if not of that shape.
fn parse_relative(s: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut num: Option<i64> = None;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            num = Some(
                num.unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(i64::from(d))?,
            );
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return None,
        };
        total = total.checked_add(num.take()?.checked_mul(unit)?)?;
    }
    // A trailing number without a unit is not relative.
    if num.is_some() || s.is_empty() {
        return None;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let now: Timestamp = "2026-11-26T03:24:46Z".parse().unwrap();
        let p = |s: &str| parse_when(s, now).map(|t| t.to_string());
        assert_eq!(p("now").unwrap(), "2026-11-26T03:24:46Z");
        assert_eq!(p("1h").unwrap(), "2026-11-26T02:24:46Z");
        assert_eq!(p("1h30m").unwrap(), "2026-11-26T01:54:46Z");
        assert_eq!(p("2d").unwrap(), "2026-11-24T03:24:46Z");
        assert_eq!(p("90s").unwrap(), "2026-11-26T03:23:16Z");
        assert_eq!(
            p("2026-11-26T04:24:30+01:00").unwrap(),
            "2026-11-26T03:24:30Z"
        );
        assert_eq!(p("2026-11-26 03:24").unwrap(), "2026-11-26T03:24:00Z");
        assert_eq!(p("2026-11-26").unwrap(), "2026-11-26T00:00:00Z");
        assert_eq!(
            p("1795663470536275").unwrap(),
            "2026-11-26T03:24:30.536275Z"
        );
        assert!(p("1795663470").is_err());
        assert!(p("yesterday").is_err());
        assert!(p("1x").is_err());
        assert!(p("").is_err());
        assert!(p("99999999999999999999h").is_err());
    }

    #[test]
    fn statuses_match_the_api() {
        use clap::ValueEnum;
        let names: Vec<&str> = Status::value_variants()
            .iter()
            .map(|s| s.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "answered",
                "busy",
                "no-answer",
                "cancelled",
                "failed",
                "in-progress"
            ]
        );
        for s in Status::value_variants() {
            assert_eq!(s.to_possible_value().unwrap().get_name(), s.as_str());
        }
    }
}
