//! The push task: records in, batches out to Loki, the disk spool in between when
//! Loki is slow or away.
//!
//! One task owns everything (batcher, in-memory queue, spool) and keeps at most
//! one request in flight. Order is kept by giving every batch a sequence number
//! when it is cut: the in-memory queue only ever holds batches older than every
//! spooled one, and the spool replays by sequence number.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use callweave_core::record::Record;
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use tokio::sync::{mpsc, watch};

use crate::batch::{Batcher, DEFAULT_BATCH_MAX_BYTES, HARD_MAX_BATCH_BYTES, Pushed, ReadyBatch};
use crate::entry::entry_for;
use crate::error::Error;
use crate::http::{Auth, PUSH_PATH, client, endpoint, redacted};
use crate::metrics::{FailureStatus, LokiMetrics};
use crate::proto::encode_push_body;
use crate::spool::{Batch, Spool};

/// The longest `Retry-After` honoured; a larger one (or a date far ahead) is
/// clamped so a misbehaving gateway cannot park the sink for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How often at most a rejected push (400/413/other 4xx) is logged with its body.
const REJECT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Configuration of the push client. Build with [`LokiConfig::new`] and adjust.
#[derive(Clone)]
pub struct LokiConfig {
    /// Loki base URL, e.g. `http://127.0.0.1:3100` (a path prefix is kept; a URL
    /// already ending in `/loki/api/v1/push` is accepted).
    pub url: String,
    /// Tenant, sent as `X-Scope-OrgID` when non-empty.
    pub tenant: Option<String>,
    /// Authentication.
    pub auth: Auth,
    /// Batch size limit in bytes of uncompressed protobuf (default 1 MiB; at most
    /// [`HARD_MAX_BATCH_BYTES`], since Loki answers 500 above 4 MiB).
    pub batch_max_bytes: usize,
    /// A batch is sent at the latest this long after its first entry (default 1 s).
    pub batch_max_age: Duration,
    /// Timeout of one push request, connect included (default 10 s, at most 120 s).
    pub timeout: Duration,
    /// Spool directory (created if missing). One pusher per directory.
    pub spool_dir: PathBuf,
    /// Spool size cap; past it the oldest batches are dropped and counted
    /// (default 1 GiB).
    pub spool_max_bytes: u64,
    /// First retry delay (default 500 ms); doubles per failure, with jitter.
    pub retry_min: Duration,
    /// Longest retry delay (default 30 s).
    pub retry_max: Duration,
    /// Attempts for a batch before it is written to the spool and the sink
    /// switches to outage mode, spooling new batches (default 3).
    pub attempts_before_spool: u32,
    /// Batches waiting in memory behind the one in flight before new ones go to
    /// the spool (default 4).
    pub max_pending_batches: usize,
}

impl LokiConfig {
    /// Defaults for everything but the URL and the spool directory.
    pub fn new(url: impl Into<String>, spool_dir: impl Into<PathBuf>) -> Self {
        Self {
            url: url.into(),
            tenant: None,
            auth: Auth::None,
            batch_max_bytes: DEFAULT_BATCH_MAX_BYTES,
            batch_max_age: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            spool_dir: spool_dir.into(),
            spool_max_bytes: 1 << 30,
            retry_min: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
            attempts_before_spool: 3,
            max_pending_batches: 4,
        }
    }

    /// Checks every value; the error names the key.
    pub fn validate(&self) -> Result<(), Error> {
        endpoint(&self.url, PUSH_PATH)?;
        let bad = |key, reason: &str| {
            Err(Error::Config {
                key,
                reason: reason.to_owned(),
            })
        };
        if !(1024..=HARD_MAX_BATCH_BYTES).contains(&self.batch_max_bytes) {
            return bad(
                "batch_max_bytes",
                &format!("must be between 1024 and {HARD_MAX_BATCH_BYTES}"),
            );
        }
        if self.batch_max_age.is_zero() || self.batch_max_age > Duration::from_secs(60) {
            return bad("batch_max_age", "must be between 1 ms and 60 s");
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(120) {
            return bad("timeout", "must be between 1 ms and 120 s");
        }
        if self.retry_min.is_zero() || self.retry_min > self.retry_max {
            return bad("retry_min", "must be non-zero and at most retry_max");
        }
        if self.attempts_before_spool == 0 {
            return bad("attempts_before_spool", "must be at least 1");
        }
        if self.max_pending_batches == 0 {
            return bad("max_pending_batches", "must be at least 1");
        }
        if self.spool_dir.as_os_str().is_empty() {
            return bad("spool_dir", "must not be empty");
        }
        if let Some(t) = &self.tenant
            && HeaderValue::from_str(t).is_err()
        {
            return bad("tenant", "not a valid header value");
        }
        Ok(())
    }
}

impl fmt::Debug for LokiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = Url::parse(&self.url)
            .map(|u| redacted(&u))
            .unwrap_or_else(|_| "<unparsable>".into());
        f.debug_struct("LokiConfig")
            .field("url", &url)
            .field("tenant", &self.tenant)
            .field("auth", &self.auth)
            .field("batch_max_bytes", &self.batch_max_bytes)
            .field("batch_max_age", &self.batch_max_age)
            .field("timeout", &self.timeout)
            .field("spool_dir", &self.spool_dir)
            .field("spool_max_bytes", &self.spool_max_bytes)
            .field("retry_min", &self.retry_min)
            .field("retry_max", &self.retry_max)
            .field("attempts_before_spool", &self.attempts_before_spool)
            .field("max_pending_batches", &self.max_pending_batches)
            .finish()
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// Exponential backoff with equal jitter: for the `failures`-th consecutive
/// failure, a delay in `[d/2, d]` where `d = min(max, min · 2^(failures-1))`.
pub fn backoff(failures: u32, min: Duration, max: Duration) -> Duration {
    let shift = failures.saturating_sub(1).min(20);
    let d = min.saturating_mul(1u32 << shift).min(max);
    let half = d / 2;
    let jitter_ns = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(rand::random_range(0..=jitter_ns))
}

struct Http {
    client: reqwest::Client,
    url: Url,
    tenant: Option<HeaderValue>,
    auth: Auth,
}

#[derive(Clone, Copy)]
struct RetryPolicy {
    min: Duration,
    max: Duration,
}

enum Attempt {
    Ok,
    NoRetry {
        status: FailureStatus,
        code: u16,
        body: String,
    },
    Retry {
        status: FailureStatus,
        retry_after: Option<Duration>,
    },
}

/// The first few KiB of an error body: enough for Loki's message, bounded for
/// anything else that answers.
async fn error_body(mut resp: reqwest::Response) -> String {
    const MAX: usize = 2048;
    let mut buf = Vec::new();
    while buf.len() < MAX {
        match resp.chunk().await {
            Ok(Some(c)) => buf.extend_from_slice(&c),
            _ => break,
        }
    }
    buf.truncate(MAX);
    String::from_utf8_lossy(&buf).trim().to_owned()
}

async fn attempt(http: &Http, body: Bytes) -> Attempt {
    let mut req = http
        .client
        .post(http.url.clone())
        .header(CONTENT_TYPE, "application/x-protobuf")
        .body(body);
    if let Some(t) = &http.tenant {
        req = req.header("X-Scope-OrgID", t.clone());
    }
    req = http.auth.apply(req);
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            let status = if e.is_timeout() {
                FailureStatus::Timeout
            } else if e.is_connect() {
                FailureStatus::Connect
            } else {
                FailureStatus::Other
            };
            tracing::debug!(error = %e.without_url(), "loki push attempt failed");
            return Attempt::Retry {
                status,
                retry_after: None,
            };
        }
    };
    let code = resp.status();
    if code.is_success() {
        // Drain the (empty) body so the connection goes back to the pool.
        let _ = resp.bytes().await;
        return Attempt::Ok;
    }
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    let body = error_body(resp).await;
    match code.as_u16() {
        400 => Attempt::NoRetry {
            status: FailureStatus::BadRequest,
            code: 400,
            body,
        },
        413 => Attempt::NoRetry {
            status: FailureStatus::TooLarge,
            code: 413,
            body,
        },
        429 => Attempt::Retry {
            status: FailureStatus::RateLimited,
            retry_after,
        },
        408 => Attempt::Retry {
            status: FailureStatus::Timeout,
            retry_after,
        },
        500..=599 => Attempt::Retry {
            status: FailureStatus::ServerError,
            retry_after,
        },
        // 401/403/404 and friends: a retry would get the same answer; the
        // operator must fix the config. Counted and logged, never retried.
        c => Attempt::NoRetry {
            status: FailureStatus::Other,
            code: c,
            body,
        },
    }
}

enum Outcome {
    Delivered,
    Rejected {
        status: FailureStatus,
        code: u16,
        body: String,
        entries: u32,
    },
    GaveUp {
        failures: u32,
    },
    Unreadable(Error),
}

/// Sends one batch, retrying retryable failures up to `max_attempts` times.
async fn deliver(
    http: &Http,
    metrics: &LokiMetrics,
    policy: RetryPolicy,
    batch: &Batch,
    mut failures: u32,
    max_attempts: u32,
) -> Outcome {
    for n in 0..max_attempts {
        if failures > 0 {
            metrics.retry();
        }
        let started = Instant::now();
        let result = attempt(http, batch.body.clone()).await;
        metrics.observe_send(started.elapsed().as_secs_f64());
        match result {
            Attempt::Ok => {
                metrics.sent(u64::from(batch.entries), batch.body.len() as u64);
                return Outcome::Delivered;
            }
            Attempt::NoRetry { status, code, body } => {
                metrics.failure(status);
                return Outcome::Rejected {
                    status,
                    code,
                    body,
                    entries: batch.entries,
                };
            }
            Attempt::Retry {
                status,
                retry_after,
            } => {
                metrics.failure(status);
                failures = failures.saturating_add(1);
                if n + 1 == max_attempts {
                    break;
                }
                let wait =
                    backoff(failures, policy.min, policy.max).max(retry_after.unwrap_or_default());
                tokio::time::sleep(wait).await;
            }
        }
    }
    Outcome::GaveUp { failures }
}

struct InFlight {
    /// Set when the batch is a spool file (deleted once Loki took it).
    spool_seq: Option<u64>,
    /// Set when the batch lives only in memory (spooled if it cannot be sent).
    memory: Option<Batch>,
    fut: Pin<Box<dyn Future<Output = Outcome> + Send>>,
}

async fn poll_inflight(f: &mut Option<InFlight>) -> Outcome {
    match f {
        Some(f) => f.fut.as_mut().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Logs at most once per interval, counting what it held back.
#[derive(Debug, Default)]
struct LogLimiter {
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimiter {
    /// `Some(n_suppressed)` when this event may be logged.
    fn allow(&mut self, now: Instant, every: Duration) -> Option<u64> {
        if self.last.is_some_and(|t| now.duration_since(t) < every) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// Records for a [`LokiPusher`], each with its call key when known, handed over
/// a batch at a time.
pub type Records = Vec<(Record, Option<Arc<str>>)>;

/// The Loki sink. Create with [`LokiPusher::new`], then [`LokiPusher::run`] it
/// on its own task.
pub struct LokiPusher {
    cfg: LokiConfig,
    http: Arc<Http>,
    metrics: LokiMetrics,
    spool: Spool,
    batcher: Batcher,
    pending: VecDeque<Batch>,
    next_seq: u64,
    outage: bool,
    failures: u32,
    reject_log: LogLimiter,
    drop_log: LogLimiter,
}

impl fmt::Debug for LokiPusher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LokiPusher")
            .field("url", &redacted(&self.http.url))
            .field("spool_dir", &self.spool.dir())
            .field("spooled_batches", &self.spool.len())
            .field("pending", &self.pending.len())
            .field("outage", &self.outage)
            .finish_non_exhaustive()
    }
}

impl LokiPusher {
    /// Validates the config, opens the spool (indexing what a previous run left
    /// there, to be replayed first) and builds the HTTP client.
    pub fn new(cfg: LokiConfig, metrics: LokiMetrics) -> Result<Self, Error> {
        cfg.validate()?;
        let url = endpoint(&cfg.url, PUSH_PATH)?;
        let tenant = match cfg.tenant.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => Some(HeaderValue::from_str(t).map_err(|e| Error::Config {
                key: "tenant",
                reason: e.to_string(),
            })?),
            None => None,
        };
        let spool = Spool::open(&cfg.spool_dir, cfg.spool_max_bytes)?;
        metrics.set_spool_bytes(spool.total_bytes());
        if !spool.is_empty() {
            tracing::info!(
                batches = spool.len(),
                entries = spool.entries(),
                dir = %cfg.spool_dir.display(),
                "loki spool holds batches from a previous run; replaying them first"
            );
        }
        let http = Arc::new(Http {
            client: client(cfg.timeout)?,
            url,
            tenant,
            auth: cfg.auth.clone(),
        });
        Ok(Self {
            batcher: Batcher::new(cfg.batch_max_bytes),
            next_seq: spool.next_seq(),
            cfg,
            http,
            metrics,
            spool,
            pending: VecDeque::new(),
            outage: false,
            failures: 0,
            reject_log: LogLimiter::default(),
            drop_log: LogLimiter::default(),
        })
    }

    /// The component name.
    pub fn name(&self) -> &'static str {
        "loki"
    }

    /// Runs until `shutdown` turns true (or its sender goes away) or `rx` closes.
    /// On the way out it drains `rx`, gives Loki up to `timeout` for what is in
    /// memory, and spools the rest for the next start.
    ///
    /// Records arrive a batch at a time ([`Records`]): one wake-up of this task
    /// per batch instead of per record (at 45k records/s, waking per record had
    /// the runtime's workers spend a third of their time switching context).
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<Records>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut inflight: Option<InFlight> = None;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if inflight.is_none() {
                inflight = self.start_next();
            }
            let deadline = self.batcher.deadline(self.cfg.batch_max_age);
            tokio::select! {
                biased;
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
                outcome = poll_inflight(&mut inflight) => {
                    if let Some(f) = inflight.take() {
                        self.finish(f, outcome).await;
                    }
                }
                msg = rx.recv() => match msg {
                    Some(records) => {
                        for (record, key) in &records {
                            self.ingest(record, key.as_deref()).await;
                        }
                    }
                    None => break,
                },
                () = sleep_until_opt(deadline) => self.flush_batcher().await,
            }
        }
        self.shutdown(rx, inflight).await;
    }

    fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            min: self.cfg.retry_min,
            max: self.cfg.retry_max,
        }
    }

    /// Picks the next batch: the in-memory queue first (always older than the
    /// spool), then the spool's oldest file.
    fn start_next(&mut self) -> Option<InFlight> {
        let http = self.http.clone();
        let metrics = self.metrics.clone();
        let policy = self.policy();
        let attempts = self.cfg.attempts_before_spool;
        if let Some(batch) = self.pending.pop_front() {
            let b = batch.clone();
            let failures = self.failures;
            return Some(InFlight {
                spool_seq: None,
                memory: Some(batch),
                fut: Box::pin(async move {
                    deliver(&http, &metrics, policy, &b, failures, attempts).await
                }),
            });
        }
        let seq = self.spool.head()?;
        let read = self.spool.reader(seq);
        let failures = self.failures;
        // In an outage, wait before knocking again.
        let delay = if self.outage {
            backoff(failures.max(1), policy.min, policy.max)
        } else {
            Duration::ZERO
        };
        Some(InFlight {
            spool_seq: Some(seq),
            memory: None,
            fut: Box::pin(async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                match read.await {
                    Ok(b) => deliver(&http, &metrics, policy, &b, failures, attempts).await,
                    Err(e) => Outcome::Unreadable(e),
                }
            }),
        })
    }

    async fn ingest(&mut self, record: &Record, call_key: Option<&str>) {
        let (key, entry) = entry_for(record, call_key);
        let now = Instant::now();
        match self.batcher.push(key, entry, now) {
            Pushed::Added => {}
            Pushed::Flushed(ready) => self.enqueue(ready).await,
            Pushed::TooLarge => {
                self.metrics.dropped(1);
                if let Some(n) = self.drop_log.allow(now, REJECT_LOG_INTERVAL) {
                    tracing::warn!(
                        suppressed = n,
                        "loki entry larger than a batch may be; dropped"
                    );
                }
            }
        }
        // Under a steady flood the age timer may not win the select; check here too.
        if self
            .batcher
            .deadline(self.cfg.batch_max_age)
            .is_some_and(|d| now >= d)
        {
            self.flush_batcher().await;
        }
    }

    async fn flush_batcher(&mut self) {
        if let Some(ready) = self.batcher.take() {
            self.enqueue(ready).await;
        }
    }

    async fn enqueue(&mut self, ready: ReadyBatch) {
        let entries = u32::try_from(ready.entries).unwrap_or(u32::MAX);
        let body = match encode_push_body(&ready.request) {
            Ok((body, _)) => body,
            Err(e) => {
                self.metrics.dropped(u64::from(entries));
                tracing::error!(error = %e, "cannot encode loki batch; dropped");
                return;
            }
        };
        let batch = Batch {
            seq: self.next_seq,
            entries,
            created_ms: now_ms(),
            body: Bytes::from(body),
        };
        self.next_seq += 1;
        if self.outage
            || !self.spool.is_empty()
            || self.pending.len() >= self.cfg.max_pending_batches
        {
            self.spool_batch(batch).await;
        } else {
            self.pending.push_back(batch);
        }
    }

    async fn spool_batch(&mut self, batch: Batch) {
        if let Err(e) = self.spool.write(&batch).await {
            self.metrics.dropped(u64::from(batch.entries));
            if let Some(n) = self.drop_log.allow(Instant::now(), REJECT_LOG_INTERVAL) {
                tracing::error!(error = %e, entries = batch.entries, suppressed = n,
                    "cannot write loki spool file; batch dropped");
            }
        }
        let ev = self.spool.enforce_cap().await;
        if ev.files > 0 {
            self.metrics.spool_dropped(ev.entries);
            if let Some(n) = self.drop_log.allow(Instant::now(), REJECT_LOG_INTERVAL) {
                tracing::warn!(
                    batches = ev.files,
                    entries = ev.entries,
                    suppressed = n,
                    "loki spool full; oldest batches dropped"
                );
            }
        }
        self.metrics.set_spool_bytes(self.spool.total_bytes());
    }

    async fn finish(&mut self, f: InFlight, outcome: Outcome) {
        match outcome {
            Outcome::Delivered => {
                if let Some(seq) = f.spool_seq {
                    self.spool.discard(seq).await;
                }
                if self.outage {
                    tracing::info!(
                        spooled = self.spool.len(),
                        "loki reachable again; replaying spool"
                    );
                }
                self.outage = false;
                self.failures = 0;
            }
            Outcome::Rejected {
                status,
                code,
                body,
                entries,
            } => {
                if let Some(seq) = f.spool_seq {
                    self.spool.discard(seq).await;
                }
                // A 400 may have stored most of the batch (partial acceptance), so
                // only the other rejections count as lost entries.
                if status != FailureStatus::BadRequest {
                    self.metrics.dropped(u64::from(entries));
                }
                if let Some(n) = self.reject_log.allow(Instant::now(), REJECT_LOG_INTERVAL) {
                    tracing::warn!(status = code, entries, suppressed = n, body = %body,
                        "loki rejected a push; not retried");
                }
                self.outage = false;
                self.failures = 0;
            }
            Outcome::GaveUp { failures } => {
                if !self.outage {
                    tracing::warn!(
                        failures,
                        url = %redacted(&self.http.url),
                        "loki unreachable; spooling batches to disk"
                    );
                }
                self.outage = true;
                self.failures = failures;
                if let Some(b) = f.memory {
                    self.spool_batch(b).await;
                }
                while let Some(b) = self.pending.pop_front() {
                    self.spool_batch(b).await;
                }
            }
            Outcome::Unreadable(e) => {
                if let Some(seq) = f.spool_seq {
                    let entries = self.spool.discard(seq).await.unwrap_or(0);
                    self.metrics.spool_dropped(u64::from(entries));
                    tracing::warn!(seq, error = %e, "unreadable loki spool file dropped");
                }
            }
        }
        self.metrics.set_spool_bytes(self.spool.total_bytes());
    }

    async fn shutdown(mut self, mut rx: mpsc::Receiver<Records>, inflight: Option<InFlight>) {
        rx.close();
        while let Ok(records) = rx.try_recv() {
            for (record, key) in &records {
                self.ingest(record, key.as_deref()).await;
            }
        }
        self.flush_batcher().await;
        let deadline = tokio::time::Instant::now() + self.cfg.timeout;
        if let Some(mut f) = inflight {
            match tokio::time::timeout_at(deadline, f.fut.as_mut()).await {
                Ok(outcome) => self.finish(f, outcome).await,
                Err(_) => {
                    self.outage = true;
                    if let Some(b) = f.memory.take() {
                        self.spool_batch(b).await;
                    }
                }
            }
        }
        let policy = self.policy();
        while let Some(b) = self.pending.pop_front() {
            if self.outage || tokio::time::Instant::now() >= deadline {
                self.spool_batch(b).await;
                continue;
            }
            let sent = tokio::time::timeout_at(
                deadline,
                deliver(&self.http, &self.metrics, policy, &b, 0, 1),
            )
            .await;
            match sent {
                Ok(Outcome::Delivered) => {}
                Ok(o @ Outcome::Rejected { .. }) => {
                    let f = InFlight {
                        spool_seq: None,
                        memory: None,
                        fut: Box::pin(std::future::pending()),
                    };
                    self.finish(f, o).await;
                }
                _ => {
                    self.outage = true;
                    self.spool_batch(b).await;
                }
            }
        }
        self.metrics.set_spool_bytes(self.spool.total_bytes());
        if !self.spool.is_empty() {
            tracing::info!(
                batches = self.spool.len(),
                entries = self.spool.entries(),
                "loki sink stopped with spooled batches; they are sent at the next start"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:30 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("99999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let min = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for _ in 0..100 {
            let d1 = backoff(1, min, max);
            assert!(d1 >= Duration::from_millis(50) && d1 <= min, "{d1:?}");
            let d3 = backoff(3, min, max);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            let d30 = backoff(30, min, max);
            assert!(d30 >= Duration::from_secs(1) && d30 <= max);
        }
    }

    #[test]
    fn config_validation_names_the_key() {
        let ok = LokiConfig::new("http://127.0.0.1:3100", "/tmp/x");
        assert!(ok.validate().is_ok());
        let mut c = ok.clone();
        c.batch_max_bytes = 8 << 20;
        assert!(matches!(
            c.validate(),
            Err(Error::Config {
                key: "batch_max_bytes",
                ..
            })
        ));
        let mut c = ok.clone();
        c.url = "localhost:3100".into();
        assert!(matches!(
            c.validate(),
            Err(Error::Config { key: "url", .. })
        ));
        let mut c = ok.clone();
        c.retry_min = Duration::from_secs(60);
        assert!(matches!(
            c.validate(),
            Err(Error::Config {
                key: "retry_min",
                ..
            })
        ));
        let mut c = ok;
        c.url = "https://user:hunter2@logs.example".into();
        c.auth = Auth::Bearer("tok3n".into());
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2") && !dbg.contains("tok3n"), "{dbg}");
    }
}
