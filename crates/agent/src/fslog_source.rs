//! FreeSWITCH log files: one tailer per `[[fslog]]`, entries turned into
//! `Record::Log` and queued for the pipeline.
//!
//! Log records wait for room in the pipeline queue instead of being dropped: the
//! file keeps them, and the tailer's saved position only moves past entries that
//! were handed over, so a restart neither loses nor repeats a line.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use callweave_core::record::{
    CallId, ChannelUuid, Direction, LogLevel, LogRecord, Record, RecordKind,
};
use callweave_fslog::{Anchor, Entry, LogClock, TailConfig, Tailer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::sync::{mpsc, watch};

/// `{file}`: the configured path (bounded by the configuration).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FileLabel {
    /// Path as configured.
    pub file: String,
}

/// Tailer counters exported as metrics.
#[derive(Debug, Clone, Default)]
pub struct FslogMetrics {
    /// Lines read.
    pub lines: Family<FileLabel, Counter>,
    /// Rename rotations followed.
    pub rotations: Family<FileLabel, Counter>,
    /// Truncations (copytruncate) detected.
    pub truncations: Family<FileLabel, Counter>,
    /// Lines dropped by the per-entry limits.
    pub dropped_lines: Family<FileLabel, Counter>,
    /// Read errors.
    pub io_errors: Family<FileLabel, Counter>,
}

impl FslogMetrics {
    /// Registers the families.
    pub fn register(&self, r: &mut prometheus_client::registry::Registry) {
        r.register(
            "callweave_fslog_lines",
            "FreeSWITCH log lines read, by file",
            self.lines.clone(),
        );
        r.register(
            "callweave_fslog_rotations",
            "Log rotations (rename) followed, by file",
            self.rotations.clone(),
        );
        r.register(
            "callweave_fslog_truncations",
            "Log truncations (copytruncate) detected, by file",
            self.truncations.clone(),
        );
        r.register(
            "callweave_fslog_dropped_lines",
            "Continuation lines dropped by the per-entry limits, by file",
            self.dropped_lines.clone(),
        );
        r.register(
            "callweave_fslog_io_errors",
            "Errors reading a log file, by file",
            self.io_errors.clone(),
        );
    }
}

/// Maps an assembled log entry to a record. `fallback_ts` is used when neither
/// the entry nor an earlier line had a timestamp.
pub fn log_record(entry: &Entry, node: &Arc<str>, fallback_ts: i64) -> Record {
    let mut rec = LogRecord::new(entry.text());
    rec.level = entry.level.and_then(|l| LogLevel::parse(l.as_str()));
    rec.file = entry.file.clone();
    rec.line = entry.line;
    rec.uuid = entry
        .uuid
        .as_deref()
        .filter(|u| !u.is_empty())
        .map(ChannelUuid::from);
    match entry.anchor() {
        Some(Anchor::ReceivingInvite { call_id, .. }) => {
            rec.direction = Some(Direction::Inbound);
            rec.call_id_hint = call_id.map(CallId::from);
        }
        Some(Anchor::SendingInvite { call_id, .. }) => {
            rec.direction = Some(Direction::Outbound);
            rec.call_id_hint = call_id.map(CallId::from);
        }
        Some(Anchor::OriginateSuccess { peer_uuid, .. }) => {
            rec.peer_uuid = Some(ChannelUuid::from(peer_uuid));
        }
        Some(Anchor::NewChannel { uuid, .. }) if rec.uuid.is_none() => {
            rec.uuid = Some(ChannelUuid::from(uuid));
        }
        _ => {}
    }
    Record::new(
        entry.ts_micros.unwrap_or(fallback_ts),
        node.clone(),
        RecordKind::Log(rec),
    )
}

/// Where the tailer for `path` keeps its position.
pub fn positions_file(data_dir: &Path, path: &Path) -> PathBuf {
    let name: String = path
        .to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    data_dir.join("positions").join(format!("{name}.pos"))
}

/// Follows one log file until shutdown.
pub async fn run(
    config: TailConfig,
    label: String,
    node: Arc<str>,
    out: mpsc::Sender<Record>,
    metrics: FslogMetrics,
    mut shutdown: watch::Receiver<bool>,
) {
    let tailer = Tailer::new(config);
    let counters = tailer.counters();
    let (tx, mut rx) = mpsc::channel::<Entry>(1024);
    let mut tail_shutdown = shutdown.clone();
    let tail = tokio::spawn(async move {
        let stop = async move {
            let _ = tail_shutdown.changed().await;
        };
        if let Err(e) = tailer.run(tx, stop).await {
            tracing::error!(error = %e, "log tailer stopped");
        }
    });
    let file = FileLabel { file: label };
    let mut last = callweave_fslog::TailStats::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            entry = rx.recv() => {
                let Some(entry) = entry else { break };
                let record = log_record(&entry, &node, now_micros());
                if out.send(record).await.is_err() {
                    break;
                }
            }
            _ = tick.tick() => {
                sync_counters(&metrics, &file, &counters.snapshot(), &mut last);
            }
            _ = shutdown.changed() => {
                // Hand over what the tailer already delivered, then stop.
                while let Ok(entry) = rx.try_recv() {
                    let _ = out.send(log_record(&entry, &node, now_micros())).await;
                }
                break;
            }
        }
    }
    let _ = tail.await;
    sync_counters(&metrics, &file, &counters.snapshot(), &mut last);
}

fn sync_counters(
    m: &FslogMetrics,
    file: &FileLabel,
    now: &callweave_fslog::TailStats,
    last: &mut callweave_fslog::TailStats,
) {
    m.lines
        .get_or_create(file)
        .inc_by(now.lines.saturating_sub(last.lines));
    m.rotations
        .get_or_create(file)
        .inc_by(now.rotations.saturating_sub(last.rotations));
    m.truncations
        .get_or_create(file)
        .inc_by(now.truncations.saturating_sub(last.truncations));
    m.dropped_lines
        .get_or_create(file)
        .inc_by(now.dropped_lines.saturating_sub(last.dropped_lines));
    m.io_errors
        .get_or_create(file)
        .inc_by(now.io_errors.saturating_sub(last.io_errors));
    *last = *now;
}

/// Builds a tailer configuration from `[[fslog]]`.
pub fn tail_config(
    path: &Path,
    timezone: &str,
    from_beginning: bool,
    data_dir: &Path,
) -> anyhow::Result<TailConfig> {
    let mut cfg = TailConfig::new(path);
    cfg.clock = LogClock::from_config(timezone)
        .map_err(|e| anyhow::anyhow!("fslog timezone {timezone:?}: {e}"))?;
    cfg.positions_file = Some(positions_file(data_dir, path));
    cfg.start_at_end_if_no_position = !from_beginning;
    Ok(cfg)
}

pub(crate) fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}
