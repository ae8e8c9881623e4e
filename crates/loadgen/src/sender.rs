//! Rate-paced sender threads: UDP with `sendmmsg`, or one TCP stream each.

use std::collections::VecDeque;
use std::io::{IoSlice, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};

use crate::error::LoadgenError;
use crate::esl::{EslSink, EventChunk};
use crate::scenario::{CallKind, Scenarios, call_serial, serial_hex};
use crate::{RunConfig, Transport};

/// What one sender thread did.
#[derive(Debug, Clone, Default)]
pub struct ThreadStats {
    /// HEP packets the kernel accepted.
    pub messages: u64,
    /// Of which SIP requests.
    pub requests: u64,
    /// Of which SIP responses.
    pub responses: u64,
    /// HEP bytes the kernel accepted.
    pub bytes: u64,
    /// Calls whose first message (the A-leg INVITE) was generated; they are
    /// this thread's first `calls_started` sequence numbers.
    pub calls_started: u64,
    /// Calls whose last message was generated.
    pub calls_completed: u64,
    /// Messages the kernel refused (counted, not retried).
    pub send_errors: u64,
    /// Messages never generated because the sender fell more than the catch-up
    /// window behind schedule (a generator that cannot keep its rate).
    pub behind_skipped: u64,
    /// ESL events handed to the event socket.
    pub esl_events_offered: u64,
    /// Call sequence numbers this thread used: `first + k * stride`, `k < calls_started`.
    pub seq_first: u32,
    /// Stride between this thread's call sequence numbers.
    pub seq_stride: u32,
    /// Seconds from the start of sending to the last message.
    pub elapsed: f64,
}

struct Call {
    hex: [u8; 12],
    kind: CallKind,
    step: usize,
}

/// Interleaves many calls in progress: each emission advances the oldest call
/// by one message, so a call's messages spread over `concurrency` emissions
/// the way real dialogs overlap.
struct Generator<'a> {
    scenarios: &'a Scenarios,
    active: VecDeque<Call>,
    concurrency: usize,
    next_seq: u32,
    stride: u32,
    seq_limit: u64,
    run_id: u16,
    busy_percent: u32,
    cancel_percent: u32,
    open_calls: bool,
    started: u64,
    completed: u64,
}

/// The message just generated.
struct Emitted {
    len: usize,
    is_response: bool,
    esl_events: u64,
}

impl Generator<'_> {
    fn kind_for(&self, seq: u32) -> CallKind {
        if self.open_calls {
            return CallKind::Open;
        }
        // Scramble so busy and cancelled calls are spread, not bunched.
        let bucket = seq.wrapping_mul(37) % 100;
        if bucket < self.busy_percent {
            CallKind::Busy
        } else if bucket < self.busy_percent + self.cancel_percent {
            CallKind::Cancelled
        } else {
            CallKind::Answered
        }
    }

    fn exhausted(&self) -> bool {
        self.active.is_empty() && u64::from(self.next_seq) >= self.seq_limit
    }

    /// Appends the next message to `out` (and its ESL events to `esl`), or
    /// returns `None` when every call up to the limit has been sent.
    fn emit(&mut self, out: &mut Vec<u8>, esl: Option<&mut Vec<u8>>, now: u64) -> Option<Emitted> {
        if self.active.len() < self.concurrency && u64::from(self.next_seq) < self.seq_limit {
            let seq = self.next_seq;
            self.next_seq = self.next_seq.saturating_add(self.stride);
            if self.next_seq == u32::MAX {
                self.seq_limit = 0;
            }
            self.active.push_back(Call {
                hex: serial_hex(call_serial(self.run_id, seq)),
                kind: self.kind_for(seq),
                step: 0,
            });
        }
        let mut call = self.active.pop_front()?;
        if call.step == 0 {
            // Queued calls wait their turn; a call starts with its INVITE.
            self.started += 1;
        }
        let steps = self.scenarios.steps(call.kind);
        let step = steps.get(call.step)?;
        let len = step.hep.len();
        step.hep.stamp_into(out, &call.hex, now);
        let mut esl_events = 0;
        if let Some(buf) = esl {
            for ev in &step.esl {
                ev.stamp_into(buf, &call.hex, now);
                esl_events += 1;
            }
        }
        let is_response = step.is_response;
        call.step += 1;
        if call.step < steps.len() {
            self.active.push_back(call);
        } else {
            self.completed += 1;
        }
        Some(Emitted {
            len,
            is_response,
            esl_events,
        })
    }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
}

fn connect(cfg: &RunConfig) -> Result<Conn, LoadgenError> {
    match cfg.transport {
        Transport::Udp => {
            let bind: SocketAddr = if cfg.target.is_ipv4() {
                ([127, 0, 0, 1], 0).into()
            } else {
                (std::net::Ipv6Addr::LOCALHOST, 0).into()
            };
            let bind = if cfg.target.ip().is_loopback() {
                bind
            } else {
                match cfg.target {
                    SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
                    SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
                }
            };
            let s = UdpSocket::bind(bind).map_err(|e| LoadgenError::io("cannot bind UDP", e))?;
            s.connect(cfg.target).map_err(|e| {
                LoadgenError::io(format!("cannot connect UDP to {}", cfg.target), e)
            })?;
            Ok(Conn::Udp(s))
        }
        Transport::Tcp => {
            let s =
                TcpStream::connect_timeout(&cfg.target, Duration::from_secs(5)).map_err(|e| {
                    LoadgenError::io(format!("cannot connect TCP to {}", cfg.target), e)
                })?;
            let _ = s.set_nodelay(true);
            Ok(Conn::Tcp(s))
        }
    }
}

/// Runs one sender thread until the deadline or the call limit.
pub(crate) fn run_thread(
    cfg: &RunConfig,
    scenarios: &Scenarios,
    index: u32,
    start: Instant,
    esl: Option<EslSink>,
) -> Result<ThreadStats, LoadgenError> {
    let threads = cfg.threads.max(1);
    let rate = cfg.rate / f64::from(threads);
    let mut conn = connect(cfg)?;
    let mut generator = Generator {
        scenarios,
        active: VecDeque::with_capacity(cfg.concurrency),
        concurrency: (cfg.concurrency / threads as usize).max(1),
        next_seq: index,
        stride: threads,
        seq_limit: cfg.max_calls.unwrap_or(u64::from(u32::MAX)),
        run_id: cfg.run_id,
        busy_percent: cfg.busy_percent,
        cancel_percent: cfg.cancel_percent,
        open_calls: cfg.open_calls,
        started: 0,
        completed: 0,
    };
    let batch = cfg.batch.max(1);
    // Wake up at least every 2 ms, so pacing stays smooth at low rates.
    let per_wake = ((rate * 0.002).ceil() as usize).clamp(1, batch);
    let max_lag = ((rate * 0.05) as u64).max(batch as u64);
    let mut stats = ThreadStats {
        seq_first: index,
        seq_stride: threads,
        ..ThreadStats::default()
    };
    let mut buf: Vec<u8> = Vec::with_capacity(batch * 1600);
    let mut lens: Vec<usize> = Vec::with_capacity(batch);
    let mut kinds: Vec<bool> = Vec::with_capacity(batch);
    let mut esl_buf: Vec<u8> = Vec::new();
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(batch, None);
    let no_addrs: Vec<Option<SockaddrStorage>> = vec![None; batch];
    let mut accepted: Vec<bool> = Vec::with_capacity(batch);
    let plain = cfg.batch <= 1;
    let mut attempted: u64 = 0;
    let mut last_send = start;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= cfg.duration || generator.exhausted() {
            break;
        }
        let due = (rate * elapsed.as_secs_f64()) as u64;
        if due > attempted + max_lag {
            stats.behind_skipped += due - attempted - max_lag;
            attempted = due - max_lag;
        }
        if due < attempted + per_wake as u64 {
            let next_at = (attempted + per_wake as u64) as f64 / rate;
            let wait = next_at - elapsed.as_secs_f64();
            if wait > 0.0 {
                std::thread::sleep(Duration::from_secs_f64(wait.min(0.002)));
            }
            continue;
        }
        let n = usize::try_from(due - attempted).unwrap_or(batch).min(batch);
        buf.clear();
        lens.clear();
        kinds.clear();
        esl_buf.clear();
        let now = now_micros();
        let mut esl_events = 0;
        for _ in 0..n {
            let esl_out = esl.as_ref().map(|_| &mut esl_buf);
            match generator.emit(&mut buf, esl_out, now) {
                Some(e) => {
                    lens.push(e.len);
                    kinds.push(e.is_response);
                    esl_events += e.esl_events;
                }
                None => break,
            }
        }
        attempted += n as u64;
        if lens.is_empty() {
            continue;
        }
        accepted.clear();
        match &mut conn {
            Conn::Udp(s) => send_udp(
                s,
                &buf,
                &lens,
                plain,
                &mut headers,
                &no_addrs,
                &mut accepted,
            ),
            Conn::Tcp(s) => match s.write_all(&buf) {
                Ok(()) => accepted.resize(lens.len(), true),
                Err(e) => {
                    return Err(LoadgenError::io(
                        format!("TCP connection to {} failed", cfg.target),
                        e,
                    ));
                }
            },
        }
        for ((len, is_response), ok) in lens.iter().zip(&kinds).zip(&accepted) {
            if !*ok {
                stats.send_errors += 1;
                continue;
            }
            stats.messages += 1;
            stats.bytes += *len as u64;
            if *is_response {
                stats.responses += 1;
            } else {
                stats.requests += 1;
            }
        }
        if let Some(sink) = &esl
            && esl_events > 0
        {
            stats.esl_events_offered += esl_events;
            sink.offer(EventChunk {
                bytes: std::mem::take(&mut esl_buf),
                events: esl_events,
            });
        }
        last_send = Instant::now();
    }
    if let Conn::Tcp(s) = &mut conn {
        let _ = s.flush();
    }
    stats.calls_started = generator.started;
    stats.calls_completed = generator.completed;
    stats.elapsed = last_send.duration_since(start).as_secs_f64();
    Ok(stats)
}

/// Sends the batch, pushing to `accepted` whether the kernel took each
/// message (a refused one is not retried).
fn send_udp(
    socket: &UdpSocket,
    buf: &[u8],
    lens: &[usize],
    plain: bool,
    headers: &mut MultiHeaders<SockaddrStorage>,
    no_addrs: &[Option<SockaddrStorage>],
    accepted: &mut Vec<bool>,
) {
    let mut slices: Vec<[IoSlice<'_>; 1]> = Vec::with_capacity(lens.len());
    let mut at = 0;
    for &len in lens {
        let Some(part) = buf.get(at..at + len) else {
            break;
        };
        slices.push([IoSlice::new(part)]);
        at += len;
    }
    if plain {
        // One send(2) per datagram: the comparison point for `--batch 1`.
        for [s] in &slices {
            accepted.push(socket.send(s).is_ok());
        }
        return;
    }
    let fd = socket.as_raw_fd();
    while accepted.len() < slices.len() {
        let rest = slices.get(accepted.len()..).unwrap_or_default();
        let addrs = no_addrs.get(..rest.len()).unwrap_or_default();
        match sendmmsg(fd, headers, rest, addrs, [], MsgFlags::empty()) {
            Ok(results) => {
                let n = results.count();
                if n == 0 {
                    accepted.push(false);
                }
                accepted.extend(std::iter::repeat_n(true, n));
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => {
                // The first message of `rest` was refused (e.g. ECONNREFUSED
                // after an ICMP port-unreachable): count it and go on.
                accepted.push(false);
            }
        }
    }
}
