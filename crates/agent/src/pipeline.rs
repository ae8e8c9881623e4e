//! The record pipeline: one task that owns the downstream stages and receives
//! every record from the collectors.

use callweave_core::record::Record;
use tokio::sync::mpsc;

use crate::metrics::{Metrics, SourceLabel};

/// Records handled per wake-up; bounds latency of the queue-depth gauge.
const BATCH: usize = 512;

/// Consumes records until every sender is gone.
pub async fn run(mut rx: mpsc::Receiver<Record>, metrics: Metrics) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let n = rx.recv_many(&mut batch, BATCH).await;
        if n == 0 {
            return;
        }
        metrics.queue_depth.set(rx.len() as i64);
        for record in batch.drain(..) {
            metrics
                .records
                .get_or_create(&SourceLabel {
                    source: record.source(),
                })
                .inc();
        }
    }
}
