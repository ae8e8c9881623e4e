//! The record pipeline: one dedicated thread that owns the correlator and the
//! index writer, and receives every record from the collectors.
//!
//! Blocking work (tantivy) stays off the async runtime. The thread waits for
//! records with a timeout so periodic work (index commits about every second,
//! call expiry, retention) happens even when traffic stops.

use std::sync::Arc;
use std::time::{Duration, Instant};

use callweave_core::graph::{CallSummary, Correlator};
use callweave_core::leg::Role;
use callweave_core::record::Record;
use callweave_store::{CallDoc, Store};
use tokio::sync::mpsc;

use crate::fslog_source::now_micros;
use crate::metrics::{Metrics, SourceLabel};

/// Records handled per wake-up.
const BATCH: usize = 1024;
/// Longest wait for records before doing periodic work.
const TICK: Duration = Duration::from_millis(200);
/// How often calls are expired from memory.
const EXPIRE_EVERY: Duration = Duration::from_secs(1);
/// How often retention is applied to the index.
const RETENTION_EVERY: Duration = Duration::from_secs(600);

/// Everything the pipeline thread owns.
pub struct Pipeline {
    /// Incoming records.
    pub rx: mpsc::Receiver<Record>,
    /// Runtime handle used to wait on the async channel from this thread.
    pub handle: tokio::runtime::Handle,
    /// Pipeline metrics.
    pub metrics: Metrics,
    /// The correlator.
    pub correlator: Correlator,
    /// The local index.
    pub store: Store,
    /// Records for Loki, with their call key; `None` without `[loki]`.
    pub loki: Option<mpsc::Sender<(Record, Option<String>)>>,
    /// This agent's node name: the Loki `node` label. A SIP record's own node
    /// comes from the HEP packet (chunk 0x13 or the capture id), which a sender
    /// chooses, so it never becomes a label.
    pub node: Arc<str>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("queued", &self.rx.len())
            .field("active_calls", &self.correlator.active_calls())
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Runs until every sender is gone, then flushes calls and the index.
    pub fn run(mut self) {
        let mut batch = Vec::with_capacity(BATCH);
        let mut last_expire = Instant::now();
        let mut last_retention = Instant::now();
        loop {
            let rx = &mut self.rx;
            let got = self.handle.block_on(async {
                tokio::time::timeout(TICK, rx.recv_many(&mut batch, BATCH)).await
            });
            let closed = matches!(got, Ok(0));
            self.metrics.queue_depth.set(self.rx.len() as i64);
            let now = now_micros();
            for record in batch.drain(..) {
                self.handle_record(record, now);
            }
            if closed {
                break;
            }
            if last_expire.elapsed() >= EXPIRE_EVERY {
                last_expire = Instant::now();
                let ended = self.correlator.expire(now);
                for call in &ended {
                    self.call_ended(call);
                }
                self.metrics.kpis.set_active(self.correlator.active_calls());
            }
            let started = Instant::now();
            match self.store.maybe_commit(now) {
                Ok(true) => self
                    .metrics
                    .index_commit
                    .observe(started.elapsed().as_secs_f64()),
                Ok(false) => {}
                Err(e) => {
                    self.metrics.drop_at("index_commit");
                    tracing::error!(error = %e, "index commit failed");
                }
            }
            if last_retention.elapsed() >= RETENTION_EVERY {
                last_retention = Instant::now();
                match self.store.apply_retention(now) {
                    Ok(gone) if !gone.is_empty() => {
                        tracing::info!(partitions = ?gone, "index partitions past retention deleted");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "index retention failed"),
                }
            }
        }
        // Shutdown: the calls in memory are written as they stand, so `calls`
        // finds them after a restart.
        let now = now_micros();
        let remaining: Vec<CallSummary> = self.correlator.calls().collect();
        for call in &remaining {
            self.index_call(call);
        }
        if let Err(e) = self.store.commit() {
            tracing::error!(error = %e, "final index commit failed");
        }
        tracing::debug!(now, calls = remaining.len(), "pipeline drained");
    }

    /// Correlates and indexes `record`, then hands it (moved, not copied) to Loki.
    fn handle_record(&mut self, mut record: Record, now: i64) {
        self.metrics
            .records
            .get_or_create(&SourceLabel {
                source: record.source(),
            })
            .inc();
        let ingested = self.correlator.ingest(&record, now);
        for call in &ingested.evicted {
            self.metrics.drop_at("correlator_evicted");
            self.call_ended(call);
        }
        let key = ingested.call.as_ref().map(|k| k.as_str());
        match self.store.add_record(&record, key) {
            Ok(()) => {
                self.metrics
                    .indexed
                    .get_or_create(&SourceLabel {
                        source: record.source(),
                    })
                    .inc();
            }
            Err(e) => {
                self.metrics.drop_at("index");
                tracing::warn!(error = %e, "cannot index a record");
            }
        }
        for link in &ingested.new_links {
            if let Err(e) =
                self.store
                    .add_link(&link.a, &link.b, link.rule.as_str(), record.ts_micros)
            {
                self.metrics.drop_at("index");
                tracing::warn!(error = %e, "cannot index a link");
            }
        }
        if let Some(loki) = &self.loki {
            // A SIP record's node came from the HEP packet; the label is ours.
            record.node = self.node.clone();
            if loki.try_send((record, key.map(str::to_owned))).is_err() {
                // The pusher spools to disk when Loki is slow; a full queue here
                // means even the spool cannot keep up.
                self.metrics.drop_at("loki_queue");
            }
        }
    }

    fn call_ended(&mut self, call: &CallSummary) {
        self.metrics.kpis.call_ended(call);
        self.index_call(call);
    }

    fn index_call(&mut self, call: &CallSummary) {
        if let Err(e) = self.store.add_call_summary(&call_doc(call)) {
            self.metrics.drop_at("index");
            tracing::warn!(error = %e, "cannot index a call summary");
        }
    }
}

/// The searchable summary of a call.
pub fn call_doc(call: &CallSummary) -> CallDoc {
    let a = call
        .legs
        .iter()
        .find(|l| l.role == Some(Role::A))
        .or_else(|| call.legs.first());
    let mut nodes: Vec<String> = call.legs.iter().filter_map(|l| l.node.clone()).collect();
    nodes.sort();
    nodes.dedup();
    let end = call.legs.iter().filter_map(|l| l.ended).max();
    CallDoc {
        call_key: call.key.as_str().to_owned(),
        start_micros: call.first_seen,
        end_micros: end,
        from: a.and_then(|l| l.from.clone()),
        to: a.and_then(|l| l.to.clone()),
        outcome: call.outcome.as_str().to_owned(),
        nodes,
        legs: u32::try_from(call.legs.len()).unwrap_or(u32::MAX),
        json: serde_json::to_string(&crate::api::legs_view(call)).unwrap_or_default(),
    }
}
