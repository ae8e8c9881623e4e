//! Pipeline-health metrics of the Loki sink.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Why a push attempt failed; a small fixed set so the label stays bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureStatus {
    /// 400: bad data, possibly partially accepted. Never retried.
    BadRequest,
    /// 413: body too large. Never retried.
    TooLarge,
    /// 429: rate limited. Retried.
    RateLimited,
    /// Any 5xx. Retried.
    ServerError,
    /// Connection refused/reset, DNS, TLS. Retried.
    Connect,
    /// Request timed out. Retried.
    Timeout,
    /// Anything else (other statuses, body errors).
    Other,
}

impl FailureStatus {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureStatus::BadRequest => "400",
            FailureStatus::TooLarge => "413",
            FailureStatus::RateLimited => "429",
            FailureStatus::ServerError => "5xx",
            FailureStatus::Connect => "connect",
            FailureStatus::Timeout => "timeout",
            FailureStatus::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

/// The Loki sink's counters. Cheap to clone (all handles share state).
#[derive(Debug, Clone)]
pub struct LokiMetrics {
    entries_sent: Counter,
    bytes_sent: Counter,
    batches_sent: Counter,
    retries: Counter,
    failures: Family<StatusLabel, Counter>,
    spool_bytes: Gauge,
    spool_dropped: Counter,
    send_duration: Histogram,
    dropped: Counter,
}

impl LokiMetrics {
    /// Creates the metrics and registers them on `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self::unregistered();
        // prometheus-client appends `_total` to counters.
        registry.register(
            "callweave_loki_entries_sent",
            "Entries Loki accepted (204)",
            m.entries_sent.clone(),
        );
        registry.register(
            "callweave_loki_bytes_sent",
            "Compressed push body bytes Loki accepted",
            m.bytes_sent.clone(),
        );
        registry.register(
            "callweave_loki_batches_sent",
            "Push requests Loki accepted",
            m.batches_sent.clone(),
        );
        registry.register(
            "callweave_loki_retries",
            "Push attempts repeated after a retryable failure",
            m.retries.clone(),
        );
        registry.register(
            "callweave_loki_failures",
            "Failed push attempts by status (400, 413, 429, 5xx, connect, timeout, other)",
            m.failures.clone(),
        );
        registry.register(
            "callweave_loki_spool_bytes",
            "Bytes in the Loki disk spool",
            m.spool_bytes.clone(),
        );
        registry.register(
            "callweave_loki_spool_dropped",
            "Entries dropped from the spool (oldest first past spool_max_bytes, or unreadable)",
            m.spool_dropped.clone(),
        );
        registry.register(
            "callweave_loki_send_duration_seconds",
            "Duration of one push attempt",
            m.send_duration.clone(),
        );
        registry.register(
            "callweave_loki_dropped",
            "Entries dropped before reaching Loki or the spool (too large, rejected 413/4xx, spool write failed)",
            m.dropped.clone(),
        );
        m
    }

    /// Metrics not registered anywhere (tests, tools).
    pub fn unregistered() -> Self {
        Self {
            entries_sent: Counter::default(),
            bytes_sent: Counter::default(),
            batches_sent: Counter::default(),
            retries: Counter::default(),
            failures: Family::default(),
            spool_bytes: Gauge::default(),
            spool_dropped: Counter::default(),
            send_duration: Histogram::new(exponential_buckets(0.005, 2.0, 12)),
            dropped: Counter::default(),
        }
    }

    pub(crate) fn sent(&self, entries: u64, bytes: u64) {
        self.entries_sent.inc_by(entries);
        self.bytes_sent.inc_by(bytes);
        self.batches_sent.inc();
    }

    pub(crate) fn retry(&self) {
        self.retries.inc();
    }

    pub(crate) fn failure(&self, status: FailureStatus) {
        self.failures
            .get_or_create(&StatusLabel {
                status: status.as_str(),
            })
            .inc();
    }

    pub(crate) fn set_spool_bytes(&self, bytes: u64) {
        self.spool_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    pub(crate) fn spool_dropped(&self, entries: u64) {
        self.spool_dropped.inc_by(entries);
    }

    pub(crate) fn observe_send(&self, secs: f64) {
        self.send_duration.observe(secs);
    }

    pub(crate) fn dropped(&self, entries: u64) {
        self.dropped.inc_by(entries);
    }

    /// Entries Loki accepted so far.
    pub fn entries_sent(&self) -> u64 {
        self.entries_sent.get()
    }

    /// Batches Loki accepted so far.
    pub fn batches_sent(&self) -> u64 {
        self.batches_sent.get()
    }

    /// Compressed bytes Loki accepted so far.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent.get()
    }

    /// Retried attempts so far.
    pub fn retries(&self) -> u64 {
        self.retries.get()
    }

    /// Failed attempts with this status so far.
    pub fn failures(&self, status: FailureStatus) -> u64 {
        self.failures
            .get_or_create(&StatusLabel {
                status: status.as_str(),
            })
            .get()
    }

    /// Current spool size in bytes.
    pub fn spool_bytes(&self) -> i64 {
        self.spool_bytes.get()
    }

    /// Entries evicted from (or unreadable in) the spool so far.
    pub fn spool_dropped_entries(&self) -> u64 {
        self.spool_dropped.get()
    }

    /// Entries dropped before Loki or the spool so far.
    pub fn dropped_entries(&self) -> u64 {
        self.dropped.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_exposition() {
        let mut reg = Registry::default();
        let m = LokiMetrics::new(&mut reg);
        m.sent(3, 100);
        m.failure(FailureStatus::RateLimited);
        m.observe_send(0.01);
        m.set_spool_bytes(42);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &reg).unwrap();
        for name in [
            "callweave_loki_entries_sent_total 3",
            "callweave_loki_bytes_sent_total 100",
            "callweave_loki_batches_sent_total 1",
            "callweave_loki_retries_total 0",
            "callweave_loki_failures_total{status=\"429\"} 1",
            "callweave_loki_spool_bytes 42",
            "callweave_loki_spool_dropped_total 0",
            "callweave_loki_send_duration_seconds_count 1",
            "callweave_loki_dropped_total 0",
        ] {
            assert!(out.contains(name), "{name} missing in\n{out}");
        }
    }
}
