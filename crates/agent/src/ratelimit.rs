//! Rate-limited warnings: a flood of bad packets must not become a flood of log
//! lines. Each reason logs at most once per interval and reports how many were
//! suppressed since its last line; the counters carry the exact numbers.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Logs a warning per reason at most once per `interval`.
#[derive(Debug)]
pub struct RateLimitedLog {
    interval: Duration,
    state: Mutex<HashMap<&'static str, (Instant, u64)>>,
}

impl RateLimitedLog {
    /// A limiter allowing one line per reason per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Logs `message` at WARN unless `reason` logged within the interval.
    pub fn warn(&self, reason: &'static str, message: fmt::Arguments<'_>) {
        if let Some(suppressed) = self.admit(reason, Instant::now()) {
            if suppressed > 0 {
                tracing::warn!(reason, suppressed, "{message}");
            } else {
                tracing::warn!(reason, "{message}");
            }
        }
    }

    /// Whether a line for `reason` may be written at `now`; if so, how many were
    /// suppressed since the previous one.
    fn admit(&self, reason: &'static str, now: Instant) -> Option<u64> {
        let mut state = match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        match state.get_mut(reason) {
            Some((last, suppressed)) if now.duration_since(*last) < self.interval => {
                *suppressed += 1;
                None
            }
            Some((last, suppressed)) => {
                *last = now;
                Some(std::mem::take(suppressed))
            }
            None => {
                state.insert(reason, (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_per_reason() {
        let log = RateLimitedLog::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(log.admit("a", t0), Some(0));
        assert_eq!(log.admit("a", t0 + Duration::from_secs(1)), None);
        assert_eq!(log.admit("a", t0 + Duration::from_secs(2)), None);
        assert_eq!(log.admit("b", t0 + Duration::from_secs(2)), Some(0));
        assert_eq!(log.admit("a", t0 + Duration::from_secs(11)), Some(2));
    }
}
