//! The push client against a fake Loki that decodes the real wire format (see
//! `fake_loki` for why a fake: Loki cannot be installed here), fed with records
//! from the real FreeSWITCH B2BUA capture.
#![allow(clippy::unwrap_used)]

mod fake_loki;
mod fixtures;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use callweave_core::record::Record;
use callweave_loki::spool::decode_spool_file;
use callweave_loki::{FailureStatus, LokiConfig, LokiMetrics, LokiPusher, entry_for};
use fake_loki::{FakeLoki, Reply};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

struct Running {
    tx: mpsc::Sender<callweave_loki::Records>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    metrics: LokiMetrics,
}

impl Running {
    async fn send_all(&self, recs: &[Record]) {
        for r in recs {
            self.tx.send(vec![(r.clone(), None)]).await.unwrap();
        }
    }

    async fn shutdown(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("pusher stops within its grace time")
            .unwrap();
    }
}

fn config(url: &str, spool: &Path) -> LokiConfig {
    let mut c = LokiConfig::new(url, spool);
    c.batch_max_age = Duration::from_millis(100);
    c.timeout = Duration::from_millis(800);
    c.retry_min = Duration::from_millis(40);
    c.retry_max = Duration::from_millis(200);
    c.attempts_before_spool = 2;
    c
}

fn spawn(cfg: LokiConfig) -> Running {
    let metrics = LokiMetrics::unregistered();
    let pusher = LokiPusher::new(cfg, metrics.clone()).unwrap();
    let (tx, rx) = mpsc::channel(256);
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(pusher.run(rx, stopped));
    Running {
        tx,
        stop,
        task,
        metrics,
    }
}

async fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// All fixture records, by time.
fn all_records() -> Vec<Record> {
    let mut v = fixtures::a_leg_sip("fs-1");
    v.extend(fixtures::b_leg_sip("fs-1"));
    v.extend(fixtures::esl("fs-1"));
    v.sort_by_key(|r| r.ts_micros);
    v
}

/// What Loki should end up holding for these records: (ts ns, line) → count.
fn expected(recs: &[Record]) -> BTreeMap<(i64, String), usize> {
    let mut m = BTreeMap::new();
    for r in recs {
        let (_, e) = entry_for(r, None);
        *m.entry((e.ts_nanos(), e.line_str().to_owned()))
            .or_default() += 1;
    }
    m
}

fn received(fake: &FakeLoki) -> BTreeMap<(i64, String), usize> {
    let mut m = BTreeMap::new();
    for (_, e) in fake.entries() {
        *m.entry((e.ts_nanos(), e.line_str().to_owned()))
            .or_default() += 1;
    }
    m
}

fn spool_files(dir: &Path) -> Vec<(String, u32)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "lokibatch"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let (h, body) = decode_spool_file(&bytes).unwrap();
            // The spooled body is exactly what goes on the wire.
            let req = callweave_loki::decode_push_body(body).unwrap();
            let n: usize = req.streams.iter().map(|s| s.entries.len()).sum();
            assert_eq!(n, h.entries as usize);
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                h.entries,
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn batches_by_size_with_low_cardinality_labels_and_ordered_streams() {
    let fake = FakeLoki::start().await;
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(&fake.url(), spool.path());
    cfg.batch_max_bytes = 16 * 1024;
    cfg.tenant = Some("team-voip".into());
    cfg.auth = callweave_loki::Auth::Basic {
        user: "loki".into(),
        pass: "s3cret".into(),
    };
    // Only size cuts batches during the burst; age sends the remainder.
    cfg.batch_max_age = Duration::from_secs(1);
    let run = spawn(cfg);
    let recs = all_records();
    // Reverse time order per burst: the batcher must sort each stream.
    let mut reversed = recs.clone();
    reversed.reverse();
    run.send_all(&reversed).await;
    let metrics = run.metrics.clone();
    // A burst outruns one request in flight: the overflow goes through the spool.
    wait_for("delivery", Duration::from_secs(20), || {
        metrics.entries_sent() == recs.len() as u64
    })
    .await;
    run.shutdown().await;

    assert_eq!(
        received(&fake),
        expected(&recs),
        "every record exactly once"
    );
    let pushes = fake.pushes();
    assert!(pushes.len() >= 5, "{} pushes", pushes.len());
    assert_eq!(metrics.batches_sent(), pushes.len() as u64);
    assert_eq!(metrics.entries_sent(), recs.len() as u64);
    let calls = fixtures::calls();
    for p in &pushes {
        assert!(p.raw_len <= 16 * 1024, "batch of {} bytes", p.raw_len);
        assert_eq!(p.content_type.as_deref(), Some("application/x-protobuf"));
        assert_eq!(p.tenant.as_deref(), Some("team-voip"));
        // base64("loki:s3cret")
        assert_eq!(p.authorization.as_deref(), Some("Basic bG9raTpzM2NyZXQ="));
        for s in &p.request.streams {
            let labels = fake_loki::parse_selector(&s.labels).unwrap();
            let names: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(names, ["job", "node", "source"]);
            for c in &calls {
                for id in [&c.a_call_id, &c.a_uuid, &c.b_call_id, &c.b_uuid] {
                    assert!(
                        !s.labels.contains(id.as_str()),
                        "{id} in labels {}",
                        s.labels
                    );
                }
            }
            let ts: Vec<i64> = s.entries.iter().map(|e| e.ts_nanos()).collect();
            assert!(
                ts.windows(2).all(|w| w[0] <= w[1]),
                "stream {} out of order",
                s.labels
            );
        }
    }

    // Metadata of real messages.
    let entries = fake.entries();
    let invite = entries
        .iter()
        .find(|(l, e)| {
            l.contains("source=\"sip\"")
                && e.line_str().starts_with("INVITE sip:1000@127.0.0.1:5090")
                && e.line_str().contains("Call-ID: 1-4274@127.0.0.1\r\n")
        })
        .map(|(_, e)| e)
        .unwrap();
    assert_eq!(invite.metadata("call_id"), Some("1-4274@127.0.0.1"));
    assert_eq!(invite.metadata("method"), Some("INVITE"));
    assert_eq!(invite.metadata("src"), Some("127.0.0.1:5072"));
    assert_eq!(invite.metadata("dst"), Some("127.0.0.1:5090"));
    assert_eq!(invite.metadata("cseq"), Some("1 INVITE"));
    assert_eq!(invite.metadata("status"), None);
    let ringing = entries
        .iter()
        .find(|(_, e)| {
            e.line_str().starts_with("SIP/2.0 180 Ringing")
                && e.metadata("call_id") == Some("1-4274@127.0.0.1")
        })
        .map(|(_, e)| e)
        .unwrap();
    assert_eq!(ringing.metadata("status"), Some("180"));
    assert_eq!(ringing.metadata("method"), Some("INVITE"));
    let bridge = entries
        .iter()
        .find(|(_, e)| {
            e.metadata("event") == Some("CHANNEL_BRIDGE")
                && e.metadata("uuid") == Some(calls[0].a_uuid.as_str())
        })
        .map(|(_, e)| e)
        .unwrap();
    assert_eq!(
        bridge.metadata("other_leg_uuid"),
        Some(calls[0].b_uuid.as_str())
    );
    assert_eq!(
        bridge.metadata("call_id"),
        Some(calls[0].a_call_id.as_str())
    );
    let json: serde_json::Value = serde_json::from_str(bridge.line_str()).unwrap();
    assert_eq!(json["Event-Name"], "CHANNEL_BRIDGE");
    assert_eq!(json["Unique-ID"], calls[0].a_uuid.as_str());
}

#[tokio::test]
async fn batches_by_age() {
    let fake = FakeLoki::start().await;
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(&fake.url(), spool.path());
    cfg.batch_max_age = Duration::from_millis(400);
    let run = spawn(cfg);
    let recs: Vec<Record> = fixtures::esl("fs-1").into_iter().take(3).collect();
    run.send_all(&recs).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(fake.pushes().is_empty(), "a young, small batch waits");
    wait_for("the aged batch", Duration::from_secs(5), || {
        !fake.pushes().is_empty()
    })
    .await;
    let pushes = fake.pushes();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].request.streams.len(), 1);
    assert_eq!(pushes[0].request.streams[0].entries.len(), 3);
    assert_eq!(received(&fake), expected(&recs));
    run.shutdown().await;
}

#[tokio::test]
async fn a_400_is_never_retried() {
    let fake = FakeLoki::start().await;
    fake.script([Reply::status(
        400,
        "entry for stream '{job=\"callweave\"}' has timestamp too old, total ignored: 1 out of 3",
    )]);
    let spool = tempfile::tempdir().unwrap();
    let run = spawn(config(&fake.url(), spool.path()));
    let recs = fixtures::esl("fs-1");
    run.send_all(&recs[..3]).await;
    let m = run.metrics.clone();
    wait_for("the 400", Duration::from_secs(5), || {
        m.failures(FailureStatus::BadRequest) == 1
    })
    .await;
    // Long enough for several retries had it retried.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.attempts().len(), 1);
    assert_eq!(m.retries(), 0);
    assert_eq!(m.entries_sent(), 0);
    // The sink carries on with the next batch.
    run.send_all(&recs[3..6]).await;
    wait_for("the next batch", Duration::from_secs(5), || {
        m.entries_sent() == 3
    })
    .await;
    assert_eq!(fake.attempts().len(), 2);
    assert!(spool_files(spool.path()).is_empty());
    run.shutdown().await;
}

#[tokio::test]
async fn a_413_is_not_retried_and_counts_as_dropped() {
    let fake = FakeLoki::start().await;
    fake.script([Reply::status(413, "request entity too large")]);
    let spool = tempfile::tempdir().unwrap();
    let run = spawn(config(&fake.url(), spool.path()));
    run.send_all(&fixtures::esl("fs-1")[..4]).await;
    let m = run.metrics.clone();
    wait_for("the 413", Duration::from_secs(5), || {
        m.failures(FailureStatus::TooLarge) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.attempts().len(), 1);
    assert_eq!(m.dropped_entries(), 4);
    run.shutdown().await;
}

#[tokio::test]
async fn retries_429_and_5xx_honouring_retry_after() {
    let fake = FakeLoki::start().await;
    fake.script([
        Reply::retry_after(429, "1"),
        Reply::status(429, "Ingestion rate limit exceeded"),
        Reply::status(500, "rpc error: code = ResourceExhausted"),
        Reply::status(503, "circuit breaker open"),
    ]);
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(&fake.url(), spool.path());
    cfg.attempts_before_spool = 6;
    let run = spawn(cfg);
    let recs: Vec<Record> = fixtures::a_leg_sip("fs-1").into_iter().take(5).collect();
    run.send_all(&recs).await;
    let m = run.metrics.clone();
    wait_for("delivery", Duration::from_secs(10), || {
        m.entries_sent() == 5
    })
    .await;
    let attempts = fake.attempts();
    assert_eq!(attempts.len(), 5);
    // Retry-After: 1 is honoured even though the backoff is 40–200 ms.
    assert!(
        attempts[1] - attempts[0] >= Duration::from_millis(950),
        "{:?}",
        attempts[1] - attempts[0]
    );
    assert!(attempts[2] - attempts[1] < Duration::from_millis(900));
    assert_eq!(m.retries(), 4);
    assert_eq!(m.failures(FailureStatus::RateLimited), 2);
    assert_eq!(m.failures(FailureStatus::ServerError), 2);
    assert_eq!(received(&fake), expected(&recs), "stored once");
    assert!(spool_files(spool.path()).is_empty());
    run.shutdown().await;
}

#[tokio::test]
async fn a_hang_past_the_timeout_is_retried() {
    let fake = FakeLoki::start().await;
    fake.script([Reply::Hang(Duration::from_secs(3))]);
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(&fake.url(), spool.path());
    cfg.timeout = Duration::from_millis(300);
    let run = spawn(cfg);
    let recs: Vec<Record> = fixtures::esl("fs-1").into_iter().take(2).collect();
    run.send_all(&recs).await;
    let m = run.metrics.clone();
    wait_for("delivery", Duration::from_secs(10), || {
        m.entries_sent() == 2
    })
    .await;
    assert_eq!(m.failures(FailureStatus::Timeout), 1);
    assert_eq!(m.retries(), 1);
    assert_eq!(received(&fake), expected(&recs));
    run.shutdown().await;
}

#[tokio::test]
async fn outage_spools_to_disk_then_replays_in_order_losing_nothing() {
    let fake = FakeLoki::start().await;
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(&fake.url(), spool.path());
    cfg.batch_max_bytes = 8 * 1024;
    let run = spawn(cfg);
    let recs = all_records();
    let (before, during) = recs.split_at(recs.len() / 5);
    run.send_all(before).await;
    let m = run.metrics.clone();
    wait_for("first part", Duration::from_secs(5), || {
        m.entries_sent() == before.len() as u64
    })
    .await;

    // Loki goes away for 3 s while the node keeps producing.
    fake.stop();
    let outage = Instant::now();
    let chunk = during.len().div_ceil(20);
    for part in during.chunks(chunk) {
        run.send_all(part).await;
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    wait_for("spooled batches", Duration::from_secs(5), || {
        m.spool_bytes() > 0
    })
    .await;
    let files = spool_files(spool.path());
    assert!(files.len() >= 3, "{files:?}");
    assert!(m.failures(FailureStatus::Connect) >= 2);
    let remaining = Duration::from_secs(3).saturating_sub(outage.elapsed());
    tokio::time::sleep(remaining).await;
    assert_eq!(
        m.entries_sent(),
        before.len() as u64,
        "nothing got through during the outage"
    );

    fake.restart().await;
    wait_for("replay", Duration::from_secs(15), || {
        m.entries_sent() == recs.len() as u64
    })
    .await;
    assert_eq!(
        received(&fake),
        expected(&recs),
        "nothing lost, nothing duplicated"
    );
    assert!(spool_files(spool.path()).is_empty());
    assert_eq!(m.spool_bytes(), 0);
    assert_eq!(m.spool_dropped_entries(), 0);
    // Replayed in order: per stream, arrival order is time order.
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for (labels, e) in fake.entries() {
        let prev = last
            .insert(labels.clone(), e.ts_nanos())
            .unwrap_or(i64::MIN);
        assert!(prev <= e.ts_nanos(), "{labels} went back in time");
    }
    run.shutdown().await;
}

#[tokio::test]
async fn restart_mid_outage_loses_nothing() {
    let fake = FakeLoki::start_down().await;
    let spool = tempfile::tempdir().unwrap();
    let recs = all_records();
    let (first, second) = recs.split_at(recs.len() / 2);

    let run = spawn(config(&fake.url(), spool.path()));
    run.send_all(first).await;
    let m = run.metrics.clone();
    wait_for("spooling", Duration::from_secs(5), || m.spool_bytes() > 0).await;
    // The agent restarts: graceful stop while Loki is still away.
    run.shutdown().await;
    let spooled: u32 = spool_files(spool.path()).iter().map(|f| f.1).sum();
    assert_eq!(
        spooled as usize,
        first.len(),
        "everything in memory went to the spool"
    );
    assert_eq!(m.entries_sent(), 0);

    fake.restart().await;
    let run = spawn(config(&fake.url(), spool.path()));
    run.send_all(second).await;
    let m = run.metrics.clone();
    wait_for("all delivered", Duration::from_secs(15), || {
        m.entries_sent() == recs.len() as u64
    })
    .await;
    assert_eq!(received(&fake), expected(&recs));
    // The spool from the previous run went first.
    let first_push = &fake.pushes()[0];
    let min_ts = first_push
        .request
        .streams
        .iter()
        .flat_map(|s| s.entries.iter().map(|e| e.ts_nanos()))
        .min()
        .unwrap();
    assert_eq!(min_ts, first[0].ts_micros * 1000);
    assert!(spool_files(spool.path()).is_empty());
    run.shutdown().await;
}

#[tokio::test]
async fn killed_mid_outage_after_spooling_loses_nothing() {
    let fake = FakeLoki::start_down().await;
    let spool = tempfile::tempdir().unwrap();
    let recs = all_records();
    let run = spawn(config(&fake.url(), spool.path()));
    run.send_all(&recs).await;
    let dir = spool.path().to_owned();
    wait_for("everything spooled", Duration::from_secs(10), || {
        spool_files(&dir)
            .iter()
            .map(|f| f.1 as usize)
            .sum::<usize>()
            == recs.len()
    })
    .await;
    // No graceful stop: the task is dropped mid-retry.
    run.task.abort();
    let _ = run.task.await;

    fake.restart().await;
    let run = spawn(config(&fake.url(), spool.path()));
    let m = run.metrics.clone();
    wait_for("replay", Duration::from_secs(15), || {
        m.entries_sent() == recs.len() as u64
    })
    .await;
    assert_eq!(received(&fake), expected(&recs));
    run.shutdown().await;
}

#[tokio::test]
async fn spool_cap_drops_the_oldest_and_counts() {
    let fake = FakeLoki::start_down().await;
    let spool = tempfile::tempdir().unwrap();
    let recs = all_records();
    let mut cfg = config(&fake.url(), spool.path());
    cfg.batch_max_bytes = 4 * 1024;
    cfg.spool_max_bytes = 12 * 1024;
    let run = spawn(cfg.clone());
    run.send_all(&recs).await;
    let m = run.metrics.clone();
    run.shutdown().await;

    let files = spool_files(spool.path());
    let on_disk: u64 = std::fs::read_dir(spool.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(on_disk <= 12 * 1024, "{on_disk}");
    assert_eq!(m.spool_bytes() as u64, on_disk);
    let kept: u64 = files.iter().map(|f| u64::from(f.1)).sum();
    let dropped = m.spool_dropped_entries();
    assert!(dropped > 0);
    assert_eq!(
        kept + dropped,
        recs.len() as u64,
        "every entry is kept or counted"
    );

    fake.restart().await;
    let run = spawn(cfg);
    let m = run.metrics.clone();
    wait_for("replay", Duration::from_secs(15), || {
        m.entries_sent() == kept
    })
    .await;
    // What survived is the newest data.
    let got = received(&fake);
    let want = expected(&recs[recs.len() - kept as usize..]);
    assert_eq!(got, want);
    run.shutdown().await;
}
