//! Pipeline metrics, exposed on `/metrics` in OpenMetrics text format.
//!
//! Every label value comes from a small fixed set (`&'static str` chosen by the
//! code, never copied from a packet), so a hostile sender cannot create series.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `{transport}`: `udp` or `tcp`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransportLabel {
    /// Transport the packet arrived on.
    pub transport: &'static str,
}

/// `{reason}` of a rejected HEP packet.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// Stable snake_case reason.
    pub reason: &'static str,
}

/// `{method, kind}` of a SIP message: the request method (for responses the CSeq
/// method) from the bounded set, and `request` or `response`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SipLabel {
    /// Bounded method label (`other` for unknown methods).
    pub method: &'static str,
    /// `request` or `response`.
    pub kind: &'static str,
}

/// `{stage}` where work was dropped.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabel {
    /// Pipeline stage name.
    pub stage: &'static str,
}

/// `{source}` of a record: `sip`, `esl` or `log`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabel {
    /// Record source.
    pub source: &'static str,
}

/// `{query}` of an API query: `trace` or `calls`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueryLabel {
    /// The API query.
    pub query: &'static str,
}

/// Histograms of API query durations, by query.
pub type QueryHistograms = Family<QueryLabel, Histogram, fn() -> Histogram>;

/// Bucket bounds of `callweave_api_query_seconds`: fine below 10 ms, where a
/// trace normally answers and where a latency objective (1 ms, 2 ms, 5 ms) sits,
/// then doubling to about 4 s.
const QUERY_BUCKETS: [f64; 19] = [
    0.000_25, 0.000_5, 0.000_75, 0.001, 0.001_5, 0.002, 0.003, 0.004, 0.005, 0.007_5, 0.01, 0.02,
    0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 4.096,
];

fn query_histogram() -> Histogram {
    Histogram::new(QUERY_BUCKETS)
}

/// All agent metrics. Cheap to clone (every metric is an `Arc` inside).
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Call KPIs.
    pub kpis: crate::kpi::Kpis,
    /// HEP packets received, before validation, by transport.
    pub hep_packets: Family<TransportLabel, Counter>,
    /// HEP packets rejected, by reason.
    pub hep_decode_errors: Family<ReasonLabel, Counter>,
    /// SIP messages decoded from HEP, by method.
    pub sip_messages: Family<SipLabel, Counter>,
    /// Work dropped, by stage.
    pub dropped: Family<StageLabel, Counter>,
    /// Records entering the pipeline, by source.
    pub records: Family<SourceLabel, Counter>,
    /// Open HEP TCP connections.
    pub hep_tcp_connections: Gauge,
    /// Records waiting in the pipeline queue.
    pub queue_depth: Gauge,
    /// Time API queries spent in the index and assembling their answer.
    pub api_queries: QueryHistograms,
    /// Documents waiting for the index writer thread.
    pub index_queue_depth: Gauge,
    /// Index commit duration: how long indexing stands still for it.
    pub index_commit: prometheus_client::metrics::histogram::Histogram,
    /// Time to make commits visible to queries, on the reload thread.
    pub index_reload: prometheus_client::metrics::histogram::Histogram,
    /// Commits visible to queries; `callweave_index_commit_seconds_count`
    /// minus this is what is committed but not yet searchable.
    pub searchable_commits: Counter,
    /// Calls in the correlator's memory and per-call memory are in the KPIs;
    /// records indexed per kind are here.
    pub indexed: Family<SourceLabel, Counter>,
    /// Log tailers.
    pub fslog: crate::fslog_source::FslogMetrics,
    /// Event sockets.
    pub esl: crate::esl_source::EslMetrics,
}

impl Metrics {
    /// Metrics of an agent whose node is `node`.
    pub fn new(node: &str) -> Self {
        Self {
            kpis: crate::kpi::Kpis::new(node),
            hep_packets: Family::default(),
            hep_decode_errors: Family::default(),
            sip_messages: Family::default(),
            dropped: Family::default(),
            records: Family::default(),
            hep_tcp_connections: Gauge::default(),
            queue_depth: Gauge::default(),
            api_queries: Family::new_with_constructor(query_histogram),
            index_queue_depth: Gauge::default(),
            index_commit: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            index_reload: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            searchable_commits: Counter::default(),
            indexed: Family::default(),
            fslog: crate::fslog_source::FslogMetrics::default(),
            esl: crate::esl_source::EslMetrics::default(),
        }
    }

    /// Registers every metric in a new registry, with the series of the fixed
    /// label sets created at 0.
    pub fn registry(&self) -> Registry {
        for kind in callweave_hep::ErrorKind::ALL {
            let _ = self.hep_decode_errors.get_or_create(&ReasonLabel {
                reason: kind.as_str(),
            });
        }
        for reason in crate::hep_source::REJECT_REASONS {
            let _ = self
                .hep_decode_errors
                .get_or_create(&ReasonLabel { reason });
        }
        for transport in ["udp", "tcp"] {
            let _ = self
                .hep_packets
                .get_or_create(&TransportLabel { transport });
        }
        for stage in [
            "kernel_udp",
            "pipeline",
            "index",
            "loki_queue",
            "correlator_evicted",
        ] {
            let _ = self.dropped.get_or_create(&StageLabel { stage });
        }
        for source in ["sip", "esl", "log"] {
            let _ = self.records.get_or_create(&SourceLabel { source });
        }
        for query in ["trace", "calls"] {
            let _ = self.api_queries.get_or_create(&QueryLabel { query });
        }
        self.kpis.precreate();
        let mut r = Registry::default();
        r.register(
            "callweave_hep_packets",
            "HEP packets received, by transport",
            self.hep_packets.clone(),
        );
        r.register(
            "callweave_hep_decode_errors",
            "HEP packets rejected, by reason",
            self.hep_decode_errors.clone(),
        );
        r.register(
            "callweave_sip_messages",
            "SIP messages decoded from HEP, by method (CSeq method for responses)",
            self.sip_messages.clone(),
        );
        r.register(
            "callweave_dropped",
            "Work dropped because a bounded stage was full, by stage",
            self.dropped.clone(),
        );
        r.register(
            "callweave_records",
            "Records entering the pipeline, by source",
            self.records.clone(),
        );
        r.register(
            "callweave_hep_tcp_connections",
            "Open HEP TCP connections",
            self.hep_tcp_connections.clone(),
        );
        r.register(
            "callweave_pipeline_queue_depth",
            "Records waiting in the pipeline queue",
            self.queue_depth.clone(),
        );
        r.register(
            "callweave_index_queue_depth",
            "Documents waiting for the index writer thread",
            self.index_queue_depth.clone(),
        );
        r.register(
            "callweave_api_query_seconds",
            "Time an API query (trace, calls, search) spent in the index and assembling its answer",
            self.api_queries.clone(),
        );
        r.register(
            "callweave_index_commit_seconds",
            "Time to commit the local index (indexing waits for it)",
            self.index_commit.clone(),
        );
        r.register(
            "callweave_index_reload_seconds",
            "Time to make index commits visible to queries (new segments opened and warmed)",
            self.index_reload.clone(),
        );
        r.register(
            "callweave_index_searchable_commits",
            "Index commits visible to queries",
            self.searchable_commits.clone(),
        );
        r.register(
            "callweave_indexed_records",
            "Records written to the local index, by source",
            self.indexed.clone(),
        );
        self.fslog.register(&mut r);
        self.esl.register(&mut r);
        self.kpis.register(&mut r);
        r
    }

    /// Counts a rejected HEP packet.
    pub fn hep_error(&self, reason: &'static str) {
        self.hep_decode_errors
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// Counts `n` dropped items at `stage`.
    pub fn drop_by(&self, stage: &'static str, n: u64) {
        self.dropped.get_or_create(&StageLabel { stage }).inc_by(n);
    }

    /// Counts dropped work at `stage`.
    pub fn drop_at(&self, stage: &'static str) {
        self.dropped.get_or_create(&StageLabel { stage }).inc();
    }
}
