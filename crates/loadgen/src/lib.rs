//! End-to-end load generator for the callweave agent.
//!
//! `callweave-loadgen` sends what a busy FreeSWITCH node mirrors to a HEP
//! collector: whole SIP calls, each with an A leg (caller → switch) and a B leg
//! (switch → callee) whose INVITE carries `X-CID: <A-leg Call-ID>`, as HEPv3
//! over UDP or TCP at a fixed rate of messages per second, for a bounded time.
//! Most calls are answered and hung up (INVITE/100/180/200/ACK/BYE/200 on both
//! legs, 14 messages); by default 10% are busy (486) and 10% are cancelled
//! while ringing (CANCEL/200/487/ACK). INVITEs and 200s carry SDP and weigh
//! about 1 kB, like real ones. Optionally it also serves a FreeSWITCH event
//! socket the agent subscribes to and sends the matching `CHANNEL_CREATE`,
//! `CHANNEL_ANSWER`, `CHANNEL_BRIDGE` and `CHANNEL_HANGUP_COMPLETE` events
//! (JSON) with `Unique-ID`, `variable_sip_call_id` and `Other-Leg-Unique-ID`.
//!
//! It is built to cost far less than what it measures: every message is
//! encoded once at start ([`scenario`]) and only stamped per call, and UDP
//! datagrams leave in batches through `sendmmsg(2)`, one syscall per batch.
//!
//! Call-IDs are unique and predictable, so a driver can query traces while the
//! load runs: call `seq` of run `run_id` has the A-leg Call-ID
//! [`scenario::a_leg_call_id`]`(`[`scenario::call_serial`]`(run_id, seq))`,
//! and calls `0..calls_started` exist once the run reports them. [`probe`]
//! (the `callweave-trace-probe` binary) does that: it times trace queries for
//! a run's calls while the run is sending.
//!
//! ```
//! use std::net::UdpSocket;
//! use std::time::Duration;
//! use callweave_loadgen::{RunConfig, Transport, run};
//!
//! let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
//! let mut cfg = RunConfig::new(sink.local_addr().unwrap(), Transport::Udp, 200.0);
//! cfg.duration = Duration::from_millis(100);
//! let report = run(&cfg).unwrap();
//! assert!(report.messages > 0);
//! assert_eq!(report.send_errors, 0);
//! ```

pub mod error;
pub mod esl;
pub mod probe;
pub mod scenario;
mod sender;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use error::LoadgenError;
pub use sender::ThreadStats;

/// How HEP reaches the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// One datagram per HEP packet.
    Udp,
    /// A stream of back-to-back HEP packets, one connection per sender thread.
    Tcp,
}

impl Transport {
    fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// Everything a run needs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunConfig {
    /// Where the agent listens for HEP.
    pub target: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// Messages per second, over all threads.
    pub rate: f64,
    /// Sending stops after this long.
    pub duration: Duration,
    /// Sender threads, each with its own socket and an equal share of the rate.
    pub threads: u32,
    /// Datagrams per `sendmmsg` call; 1 means one `send` per datagram.
    pub batch: usize,
    /// Calls in progress at once (over all threads).
    pub concurrency: usize,
    /// Percent of calls answered 486 Busy Here.
    pub busy_percent: u32,
    /// Percent of calls cancelled while ringing.
    pub cancel_percent: u32,
    /// Calls are answered and never hung up (for active-call memory tests).
    pub open_calls: bool,
    /// Stop after starting this many calls (and sending all their messages).
    pub max_calls: Option<u64>,
    /// Distinguishes this run's Call-IDs from other runs' (16 bits).
    pub run_id: u16,
    /// HEP capture agent id (chunk 0x0c).
    pub capture_id: u32,
    /// HEP capture node name (chunk 0x13).
    pub node_name: Option<String>,
    /// Serve a FreeSWITCH event socket here and send ESL events for each call.
    pub esl_listen: Option<SocketAddr>,
    /// Event socket password.
    pub esl_password: String,
    /// How long to wait for the agent to subscribe before sending.
    pub esl_wait: Duration,
    /// How many A-leg Call-IDs to list in the report.
    pub sample: usize,
}

impl RunConfig {
    /// Defaults: 10 s, one thread, batches of 64, 1000 calls in progress,
    /// 10% busy, 10% cancelled, capture id 200.
    pub fn new(target: SocketAddr, transport: Transport, rate: f64) -> Self {
        Self {
            target,
            transport,
            rate,
            duration: Duration::from_secs(10),
            threads: 1,
            batch: 64,
            concurrency: 1000,
            busy_percent: 10,
            cancel_percent: 10,
            open_calls: false,
            max_calls: None,
            run_id: default_run_id(),
            capture_id: 200,
            node_name: None,
            esl_listen: None,
            esl_password: "ClueCon".to_owned(),
            esl_wait: Duration::from_secs(15),
            sample: 20,
        }
    }

    fn validate(&self) -> Result<(), LoadgenError> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err(LoadgenError::Config(format!(
                "rate must be positive, got {}",
                self.rate
            )));
        }
        if self.threads == 0 || self.threads > 64 {
            return Err(LoadgenError::Config("threads must be 1..=64".to_owned()));
        }
        if self.batch == 0 || self.batch > 1024 {
            return Err(LoadgenError::Config("batch must be 1..=1024".to_owned()));
        }
        if self.busy_percent + self.cancel_percent > 100 {
            return Err(LoadgenError::Config(
                "busy and cancel percents add up to more than 100".to_owned(),
            ));
        }
        Ok(())
    }
}

fn default_run_id() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
    (nanos ^ (nanos >> 16)) as u16
}

/// What a run sent, printed as JSON by the binary.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `udp` or `tcp`.
    pub transport: &'static str,
    /// Where HEP went.
    pub target: String,
    /// Sender threads.
    pub threads: u32,
    /// Datagrams per `sendmmsg`.
    pub batch: usize,
    /// Requested messages per second.
    pub rate_target: f64,
    /// Requested duration, seconds.
    pub duration_target_s: f64,
    /// Time from the first to the last message sent, seconds.
    pub elapsed_s: f64,
    /// HEP packets (SIP messages) the kernel accepted.
    pub messages: u64,
    /// Of which SIP requests.
    pub requests: u64,
    /// Of which SIP responses.
    pub responses: u64,
    /// HEP bytes the kernel accepted.
    pub bytes: u64,
    /// Mean HEP packet size.
    pub mean_packet_bytes: f64,
    /// Calls started.
    pub calls_started: u64,
    /// Calls whose every message was generated.
    pub calls_completed: u64,
    /// `messages / elapsed_s`.
    pub achieved_rate: f64,
    /// Messages the kernel refused.
    pub send_errors: u64,
    /// Messages skipped because the generator fell behind its schedule.
    pub behind_skipped: u64,
    /// This run's id (the middle of every Call-ID).
    pub run_id: u16,
    /// Calls per thread follow `seq = thread + k * threads`.
    pub per_thread_calls: Vec<u64>,
    /// A-leg Call-IDs of calls spread over the run.
    pub sample_call_ids: Vec<String>,
    /// Event socket figures, when one was served.
    pub esl: Option<EslReport>,
}

/// Event socket figures.
#[derive(Debug, Clone, Serialize)]
pub struct EslReport {
    /// Where the event socket listened.
    pub listen: String,
    /// Whether the agent subscribed before traffic started.
    pub subscribed: bool,
    /// Events written to the agent.
    pub events: u64,
    /// Bytes of event frames written.
    pub bytes: u64,
    /// Events generated but not written (queue full or no subscriber).
    pub dropped: u64,
}

/// Runs the load described by `cfg` and reports what was sent.
pub fn run(cfg: &RunConfig) -> Result<Report, LoadgenError> {
    cfg.validate()?;
    let scenarios = scenario::Scenarios::build(cfg.capture_id, cfg.node_name.as_deref())?;
    let server = match cfg.esl_listen {
        Some(addr) => Some(esl::EslServer::start(addr, &cfg.esl_password)?),
        None => None,
    };
    let mut subscribed = false;
    if let Some(s) = &server {
        subscribed = s.wait_subscribed(cfg.esl_wait);
    }
    let sink = server.as_ref().and_then(esl::EslServer::sink);
    let start = Instant::now();
    let results: Vec<Result<ThreadStats, LoadgenError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..cfg.threads)
            .map(|i| {
                let sink = sink.clone();
                let scenarios = &scenarios;
                scope.spawn(move || sender::run_thread(cfg, scenarios, i, start, sink))
            })
            .collect();
        handles
            .into_iter()
            .enumerate()
            .map(|(i, h)| h.join().unwrap_or(Err(LoadgenError::ThreadPanicked(i))))
            .collect()
    });
    drop(sink);
    let esl = server.map(|s| {
        let listen = s.local_addr().to_string();
        let counters = s.counters();
        s.finish(Duration::from_secs(10));
        EslReport {
            listen,
            subscribed,
            events: counters.events.load(Ordering::Relaxed),
            bytes: counters.bytes.load(Ordering::Relaxed),
            dropped: counters.dropped.load(Ordering::Relaxed),
        }
    });
    let stats = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(report(cfg, &stats, esl))
}

fn report(cfg: &RunConfig, stats: &[ThreadStats], esl: Option<EslReport>) -> Report {
    let sum = |f: fn(&ThreadStats) -> u64| stats.iter().map(f).sum::<u64>();
    let messages = sum(|s| s.messages);
    let bytes = sum(|s| s.bytes);
    let elapsed = stats.iter().map(|s| s.elapsed).fold(0.0, f64::max);
    let mut sample_call_ids = Vec::new();
    let per_thread = cfg.sample.div_ceil(stats.len().max(1));
    for s in stats {
        let n = s.calls_started;
        for i in 0..per_thread.min(usize::try_from(n).unwrap_or(usize::MAX)) {
            // Evenly spread over the calls this thread started.
            let k = n * i as u64 / per_thread as u64;
            let seq = u64::from(s.seq_first) + k * u64::from(s.seq_stride);
            if let Ok(seq) = u32::try_from(seq) {
                sample_call_ids.push(scenario::a_leg_call_id(scenario::call_serial(
                    cfg.run_id, seq,
                )));
            }
        }
    }
    sample_call_ids.truncate(cfg.sample);
    Report {
        transport: cfg.transport.as_str(),
        target: cfg.target.to_string(),
        threads: cfg.threads,
        batch: cfg.batch,
        rate_target: cfg.rate,
        duration_target_s: cfg.duration.as_secs_f64(),
        elapsed_s: elapsed,
        messages,
        requests: sum(|s| s.requests),
        responses: sum(|s| s.responses),
        bytes,
        mean_packet_bytes: if messages > 0 {
            bytes as f64 / messages as f64
        } else {
            0.0
        },
        calls_started: sum(|s| s.calls_started),
        calls_completed: sum(|s| s.calls_completed),
        achieved_rate: if elapsed > 0.0 {
            messages as f64 / elapsed
        } else {
            0.0
        },
        send_errors: sum(|s| s.send_errors),
        behind_skipped: sum(|s| s.behind_skipped),
        run_id: cfg.run_id,
        per_thread_calls: stats.iter().map(|s| s.calls_started).collect(),
        sample_call_ids,
        esl,
    }
}
