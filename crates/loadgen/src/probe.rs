//! The trace probe: `GET /api/v1/trace/{A-leg Call-ID}` against an agent while
//! a load run feeds it, timed from the request's first byte to the response's
//! last, as a client of the HTTP API sees it.
//!
//! It asks for calls of the run that were sent at least `lag` ago, picked at
//! random among those the run has started by then (`calls_per_second` ×
//! elapsed), one query every `(span − lag − 1 s) / queries`. With `floor`, a
//! `GET /healthz` — a handler that does nothing — follows each trace half a
//! gap later on the same connection: the floor of any round trip to the agent
//! at that moment, so that what a trace adds to it is the trace's own.
//!
//! One HTTP/1.1 connection, kept alive, driven by a current-thread runtime on
//! the calling thread: the request, the wait and the response are one
//! thread's work, as in `callweave trace`, with no hand-off between threads
//! to add its own wake-up to the figure.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};

use crate::error::LoadgenError;
use crate::scenario::{a_leg_call_id, call_serial};

/// What to query, how often, for how long.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// The agent's HTTP address.
    pub agent: SocketAddr,
    /// Run id of the load run whose calls are traced.
    pub run_id: u16,
    /// Calls the load run starts per second (its message rate over its
    /// messages per call).
    pub calls_per_second: f64,
    /// Trace queries to send.
    pub queries: usize,
    /// Time from the probe's start over which the queries are spread.
    pub span: Duration,
    /// How long ago a call must have been sent to be traced.
    pub lag: Duration,
    /// A `GET /healthz` half-way between two traces.
    pub floor: bool,
    /// Longest wait for one answer; past it the query counts as an error.
    pub timeout: Duration,
}

impl ProbeConfig {
    /// 1,000 queries over 15 s, calls at least 2.5 s old, no floor.
    pub fn new(agent: SocketAddr, run_id: u16, calls_per_second: f64) -> Self {
        Self {
            agent,
            run_id,
            calls_per_second,
            queries: 1000,
            span: Duration::from_secs(15),
            lag: Duration::from_millis(2500),
            floor: false,
            timeout: Duration::from_secs(10),
        }
    }
}

/// The probe's raw figures; the driver takes percentiles of them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProbeReport {
    /// Seconds of each trace answered `200`, in the order sent.
    pub trace_seconds: Vec<f64>,
    /// Trace queries not answered `200` in time (another status, a timeout, a
    /// broken connection).
    pub trace_errors: u64,
    /// Of those, the ones answered `404`: the agent knows no such call (yet).
    pub trace_not_found: u64,
    /// Number of legs in each `200` answer.
    pub legs: Vec<usize>,
    /// Seconds of each `/healthz` answered `200` (with `floor`).
    pub healthz_seconds: Vec<f64>,
    /// `/healthz` requests not answered `200` in time.
    pub healthz_errors: u64,
    /// Connections opened (1 unless one broke).
    pub connections: u64,
}

/// The part of a trace answer the probe reads.
#[derive(Deserialize)]
struct Legs {
    legs: Vec<serde::de::IgnoredAny>,
}

/// One keep-alive connection, reopened when it breaks.
struct Conn {
    agent: SocketAddr,
    /// The `Host` header: the agent's address.
    host: String,
    sender: Option<SendRequest<Empty<Bytes>>>,
    opened: u64,
}

impl Conn {
    fn new(agent: SocketAddr) -> Self {
        Self {
            agent,
            host: agent.to_string(),
            sender: None,
            opened: 0,
        }
    }

    /// Opens a new connection in place of the current one.
    async fn connect(&mut self) -> Result<&mut SendRequest<Empty<Bytes>>, LoadgenError> {
        let stream = tokio::net::TcpStream::connect(self.agent)
            .await
            .map_err(|e| LoadgenError::io(format!("connect to {}", self.agent), e))?;
        stream
            .set_nodelay(true)
            .map_err(|e| LoadgenError::io("TCP_NODELAY", e))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| LoadgenError::Http(e.to_string()))?;
        // Drives the connection on this thread's runtime; ends when it closes.
        tokio::spawn(conn);
        self.opened += 1;
        Ok(self.sender.insert(sender))
    }

    /// A connection ready for a request. One that is gone (dropped after a
    /// failure, or closed by the server after its last answer:
    /// `Connection: close`, an idle timeout) is replaced once: that is not a
    /// failure of the request about to be sent.
    async fn ready(&mut self) -> Option<&mut SendRequest<Empty<Bytes>>> {
        let ready = match self.sender.as_mut() {
            Some(sender) => sender.ready().await.is_ok(),
            None => false,
        };
        if !ready {
            self.connect().await.ok()?.ready().await.ok()?;
        }
        self.sender.as_mut()
    }

    /// `GET path`: how long the answer took and the answer, `None` when none
    /// came in time. A broken or timed-out connection is dropped, so that the
    /// next request opens a new one.
    async fn get(&mut self, path: &str, timeout: Duration) -> Option<(Duration, Answer)> {
        let started = Instant::now();
        let out = tokio::time::timeout(timeout, async {
            let host = self.host.clone();
            let sender = self.ready().await?;
            let req = hyper::Request::get(path)
                .header(hyper::header::HOST, host)
                .header(hyper::header::ACCEPT, "application/json")
                .body(Empty::new())
                .ok()?;
            let resp = sender.send_request(req).await.ok()?;
            let status = resp.status();
            let body = resp.into_body().collect().await.ok()?.to_bytes();
            Some((started.elapsed(), Answer { status, body }))
        })
        .await
        .ok()
        .flatten();
        if out.is_none() {
            self.sender = None;
        }
        out
    }
}

/// A response, read whole.
struct Answer {
    status: hyper::StatusCode,
    body: Bytes,
}

/// Runs the probe on the calling thread until its last query is answered.
/// Fails only when the first connection cannot be opened; later failures are
/// counted in the report.
pub fn run_probe(cfg: &ProbeConfig) -> Result<ProbeReport, LoadgenError> {
    if cfg.queries == 0 || cfg.calls_per_second.is_nan() || cfg.calls_per_second <= 0.0 {
        return Err(LoadgenError::Config(
            "the probe needs queries > 0 and calls per second > 0".to_owned(),
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LoadgenError::io("start the probe's runtime", e))?;
    runtime.block_on(probe(cfg))
}

async fn probe(cfg: &ProbeConfig) -> Result<ProbeReport, LoadgenError> {
    let t0 = Instant::now();
    let mut conn = Conn::new(cfg.agent);
    conn.connect().await?;
    let mut report = ProbeReport::default();
    tokio::time::sleep(cfg.lag + Duration::from_millis(500)).await;
    let spread = cfg
        .span
        .saturating_sub(cfg.lag)
        .saturating_sub(Duration::from_secs(1));
    let gap = spread / u32::try_from(cfg.queries).unwrap_or(u32::MAX);
    // xorshift64, seeded by the run: the same run asks for the same calls.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ u64::from(cfg.run_id);
    for _ in 0..cfg.queries {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let old_enough = t0.elapsed().saturating_sub(cfg.lag).as_secs_f64().max(0.1);
        let started = (cfg.calls_per_second * old_enough) as u64;
        let seq = u32::try_from(x % started.max(1)).unwrap_or(u32::MAX);
        // The loadgen's Call-IDs are letters, digits, '-', '@' and '.': all
        // allowed as they are in a path segment.
        let path = format!(
            "/api/v1/trace/{}",
            a_leg_call_id(call_serial(cfg.run_id, seq))
        );
        match conn.get(&path, cfg.timeout).await {
            Some((took, a)) if a.status == hyper::StatusCode::OK => {
                report.trace_seconds.push(took.as_secs_f64());
                if let Ok(t) = serde_json::from_slice::<Legs>(&a.body) {
                    report.legs.push(t.legs.len());
                }
            }
            Some((_, a)) if a.status == hyper::StatusCode::NOT_FOUND => {
                report.trace_errors += 1;
                report.trace_not_found += 1;
            }
            _ => report.trace_errors += 1,
        }
        if cfg.floor {
            tokio::time::sleep(gap / 2).await;
            match conn.get("/healthz", cfg.timeout).await {
                Some((took, a)) if a.status == hyper::StatusCode::OK => {
                    report.healthz_seconds.push(took.as_secs_f64());
                }
                _ => report.healthz_errors += 1,
            }
            tokio::time::sleep(gap / 2).await;
        } else {
            tokio::time::sleep(gap).await;
        }
    }
    report.connections = conn.opened;
    Ok(report)
}
