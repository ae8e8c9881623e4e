//! HEP collector: UDP and TCP listeners that decode HEP, parse the SIP inside and
//! hand `Record::Sip` to the pipeline.
//!
//! Bad input is counted by reason and logged at most once per interval per reason;
//! it never stops a listener. On TCP a framing error closes that connection only,
//! after every packet before the bad one has been processed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::{Bytes, BytesMut};
use callweave_core::record::{Record, RecordKind};
use callweave_hep::{DecodeOptions, HepPacket};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::metrics::{Metrics, SipLabel, TransportLabel};
use crate::ratelimit::RateLimitedLog;
use crate::sip_record::SipConverter;

/// Everything a listener needs to turn a datagram or stream chunk into records.
#[derive(Debug, Clone)]
pub struct HepIngest {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: DecodeOptions,
    auth_key: Option<Vec<u8>>,
    node: Arc<str>,
    converter: SipConverter,
    metrics: Metrics,
    out: mpsc::Sender<Record>,
    log: RateLimitedLog,
}

/// Why a HEP packet was turned away after it decoded.
const REASON_AUTH: &str = "auth";
const REASON_NOT_SIP: &str = "not_sip";
const REASON_SIP_PARSE: &str = "sip_parse";
const REASON_TCP_LIMIT: &str = "tcp_connection_limit";

/// The rejection reasons this module adds to the HEP decoder's own
/// (`callweave_hep::ErrorKind`), for pre-creating their metric series.
pub const REJECT_REASONS: [&str; 4] = [
    REASON_AUTH,
    REASON_NOT_SIP,
    REASON_SIP_PARSE,
    REASON_TCP_LIMIT,
];

impl HepIngest {
    /// A new ingest stage sending records to `out`.
    pub fn new(
        max_inflated_payload: usize,
        auth_key: Option<Vec<u8>>,
        node: Arc<str>,
        correlation_headers: &[String],
        metrics: Metrics,
        out: mpsc::Sender<Record>,
    ) -> Self {
        let mut options = DecodeOptions::default();
        options.max_inflated_payload = max_inflated_payload;
        Self {
            inner: Arc::new(Inner {
                options,
                auth_key,
                node,
                converter: SipConverter::new(correlation_headers),
                metrics,
                out,
                log: RateLimitedLog::new(Duration::from_secs(10)),
            }),
        }
    }

    /// Handles one HEP packet (a UDP datagram or one framed TCP packet).
    pub fn handle(&self, transport: &'static str, buf: Bytes, peer: SocketAddr) {
        let inner = &*self.inner;
        inner
            .metrics
            .hep_packets
            .get_or_create(&TransportLabel { transport })
            .inc();
        let packet = match callweave_hep::decode_with(buf, &inner.options) {
            Ok(p) => p,
            Err(e) => {
                let reason = e.kind().as_str();
                inner.metrics.hep_error(reason);
                inner
                    .log
                    .warn(reason, format_args!("rejected HEP packet from {peer}: {e}"));
                return;
            }
        };
        if let Some(key) = &inner.auth_key
            && packet.auth_key.as_deref() != Some(key.as_slice())
        {
            inner.metrics.hep_error(REASON_AUTH);
            inner.log.warn(
                REASON_AUTH,
                format_args!("rejected HEP packet from {peer}: missing or wrong auth key"),
            );
            return;
        }
        if !packet.is_sip() {
            // RTCP reports, logs and the like: valid HEP, not used yet.
            inner.metrics.hep_error(REASON_NOT_SIP);
            return;
        }
        self.handle_sip(&packet, peer);
    }

    fn handle_sip(&self, packet: &HepPacket, peer: SocketAddr) {
        let inner = &*self.inner;
        let node = node_of(packet).unwrap_or_else(|| inner.node.clone());
        let sip = match inner.converter.convert(packet, peer) {
            Ok(s) => s,
            Err(e) => {
                inner.metrics.hep_error(REASON_SIP_PARSE);
                inner.log.warn(
                    REASON_SIP_PARSE,
                    format_args!("undecodable SIP in HEP packet from {peer}: {e}"),
                );
                return;
            }
        };
        let label = SipLabel {
            method: crate::sip_record::method_label(sip.cseq_method()),
            kind: if sip.is_request() {
                "request"
            } else {
                "response"
            },
        };
        inner.metrics.sip_messages.get_or_create(&label).inc();
        if let Some(code) = sip.status {
            inner.metrics.kpis.response(label.method, code);
        }
        let record = Record::new(packet.timestamp_micros(), node, RecordKind::Sip(sip));
        match inner.out.try_send(record) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => inner.metrics.drop_at("pipeline"),
            Err(mpsc::error::TrySendError::Closed(_)) => inner.metrics.drop_at("shutdown"),
        }
    }
}

/// The capturing node: chunk 0x13 when it is a sane name, else the capture id.
fn node_of(packet: &HepPacket) -> Option<Arc<str>> {
    if let Some(name) = &packet.node_name
        && let Ok(s) = std::str::from_utf8(name)
    {
        let s = s.trim_end_matches('\0').trim();
        if !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_graphic()) {
            return Some(Arc::from(s));
        }
    }
    packet.capture_id.map(|id| Arc::from(id.to_string()))
}

/// Binds a UDP socket with a large receive buffer, for [`run_udp`].
///
/// The socket is blocking with a short receive timeout: its thread wakes at
/// least that often to poll kernel drops and notice shutdown.
pub fn bind_udp(addr: SocketAddr, recv_buffer: usize) -> anyhow::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .context("cannot create UDP socket")?;
    socket.set_reuse_address(true)?;
    if let Err(e) = socket.set_recv_buffer_size(recv_buffer) {
        tracing::warn!(%addr, error = %e, "cannot set UDP receive buffer size");
    }
    let got = socket.recv_buffer_size().unwrap_or(0);
    if got < recv_buffer {
        // Linux doubles the value and caps it at net.core.rmem_max.
        tracing::info!(%addr, requested = recv_buffer, granted = got,
            "UDP receive buffer capped by the kernel (raise net.core.rmem_max)");
    }
    socket.set_read_timeout(Some(RECV_WAKE))?;
    socket
        .bind(&addr.into())
        .with_context(|| format!("cannot bind HEP UDP listener on {addr}"))?;
    Ok(socket.into())
}

/// Largest UDP datagram.
const MAX_DATAGRAM: usize = 65_535;
/// Datagrams received per `recvmmsg(2)` call, at most.
const RECV_BATCH: usize = 32;
/// Receive chunk: each datagram is copied into it and split off, so one
/// allocation serves many records.
const RECV_CHUNK: usize = 1 << 20;
/// The longest a receive blocks before the thread checks for shutdown.
const RECV_WAKE: Duration = Duration::from_millis(100);
/// How often kernel drops are read from `/proc/net/udp`.
const KERNEL_DROPS_EVERY: Duration = Duration::from_secs(1);

/// Receives HEP over UDP until `shutdown` flips; run it on a thread of its own.
///
/// A dedicated thread with `recvmmsg(2)` (up to [`RECV_BATCH`] datagrams per
/// system call) rather than a task on the async runtime: at tens of thousands of
/// datagrams per second a receive task keeps a runtime worker busy for long
/// stretches, and the HTTP API (trace queries) shares those workers.
pub fn run_udp(socket: std::net::UdpSocket, ingest: HepIngest, shutdown: watch::Receiver<bool>) {
    use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
    use std::io::IoSliceMut;
    use std::os::fd::AsRawFd;

    let fd = socket.as_raw_fd();
    let mut kernel = KernelDrops::for_socket(&socket);
    let mut next_drop_poll = std::time::Instant::now() + KERNEL_DROPS_EVERY;
    let mut area = vec![0u8; RECV_BATCH * MAX_DATAGRAM];
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(RECV_BATCH, None);
    let mut chunk = BytesMut::with_capacity(RECV_CHUNK);
    let mut received: Vec<(usize, Option<SocketAddr>)> = Vec::with_capacity(RECV_BATCH);
    // Stops when told to, or when the agent is gone (a failed start drops the sender).
    while shutdown.has_changed().is_ok() && !*shutdown.borrow() {
        if std::time::Instant::now() >= next_drop_poll {
            next_drop_poll += KERNEL_DROPS_EVERY;
            if let Some(new) = kernel.as_mut().and_then(KernelDrops::poll)
                && new > 0
            {
                ingest.inner.metrics.drop_by("kernel_udp", new);
                ingest.inner.log.warn(
                    "kernel_udp",
                    format_args!(
                        "the kernel dropped {new} HEP datagrams: receive buffer full \
                         (raise hep.udp_recv_buffer and net.core.rmem_max)"
                    ),
                );
            }
        }
        received.clear();
        {
            let mut slices: Vec<[IoSliceMut<'_>; 1]> = area
                .chunks_mut(MAX_DATAGRAM)
                .map(|c| [IoSliceMut::new(c)])
                .collect();
            // Blocks (up to the socket's read timeout) for the first datagram,
            // then takes what else is queued.
            match recvmmsg(
                fd,
                &mut headers,
                slices.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
                None,
            ) {
                Ok(msgs) => {
                    received.extend(msgs.map(|m| (m.bytes, m.address.and_then(std_addr))));
                }
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    // ICMP errors and the like surface here; the socket stays usable.
                    tracing::debug!(error = %e, "HEP UDP receive error");
                    continue;
                }
            }
        }
        for (i, &(n, peer)) in received.iter().enumerate() {
            let Some(data) = area.get(i * MAX_DATAGRAM..i * MAX_DATAGRAM + n) else {
                continue;
            };
            if chunk.capacity() - chunk.len() < n {
                chunk = BytesMut::with_capacity(RECV_CHUNK.max(n));
            }
            chunk.extend_from_slice(data);
            let datagram = chunk.split().freeze();
            let peer = peer.unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
            ingest.handle("udp", datagram, peer);
        }
    }
}

/// The sender of a datagram, as a std address.
fn std_addr(a: nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
}

/// Accepts HEP TCP connections until `shutdown` flips.
pub async fn run_tcp(
    listener: TcpListener,
    ingest: HepIngest,
    max_connections: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "HEP TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            ingest.inner.metrics.hep_error(REASON_TCP_LIMIT);
            ingest.inner.log.warn(
                REASON_TCP_LIMIT,
                format_args!("refused HEP TCP connection from {peer}: {max_connections} open"),
            );
            drop(stream);
            continue;
        };
        let ingest = ingest.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let gauge = ingest.inner.metrics.hep_tcp_connections.clone();
            gauge.inc();
            serve_tcp(stream, peer, &ingest, shutdown).await;
            gauge.dec();
            drop(permit);
        });
    }
}

async fn serve_tcp(
    mut stream: TcpStream,
    peer: SocketAddr,
    ingest: &HepIngest,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let mut framer = callweave_hep::TcpFramer::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        buf.clear();
        let n = tokio::select! {
            r = stream.read_buf(&mut buf) => match r {
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "HEP TCP read failed");
                    return;
                }
            },
            _ = shutdown.changed() => return,
        };
        if n == 0 {
            return;
        }
        framer.push(&buf[..n]);
        loop {
            match framer.next_packet() {
                Ok(Some(packet)) => ingest.handle("tcp", packet, peer),
                Ok(None) => break,
                Err(e) => {
                    let reason = e.kind().as_str();
                    ingest.inner.metrics.hep_error(reason);
                    ingest.inner.log.warn(
                        reason,
                        format_args!("closing HEP TCP connection from {peer}: {e}"),
                    );
                    return;
                }
            }
        }
    }
}

/// Datagrams the kernel dropped on one UDP socket because its receive buffer was
/// full — loss no user-space counter sees. Read from the `drops` column of
/// `/proc/net/udp{,6}`, found by the socket's inode (Linux only; elsewhere the
/// metric stays at 0).
#[derive(Debug)]
struct KernelDrops {
    inode: u64,
    table: &'static str,
    last: u64,
}

impl KernelDrops {
    fn for_socket(socket: &std::net::UdpSocket) -> Option<Self> {
        use std::os::fd::AsRawFd;
        let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
        let inode = link
            .to_str()?
            .strip_prefix("socket:[")?
            .strip_suffix(']')?
            .parse()
            .ok()?;
        let table = if socket.local_addr().ok()?.is_ipv4() {
            "/proc/net/udp"
        } else {
            "/proc/net/udp6"
        };
        let mut me = Self {
            inode,
            table,
            last: 0,
        };
        me.last = me.read()?;
        Some(me)
    }

    fn read(&self) -> Option<u64> {
        let text = std::fs::read_to_string(self.table).ok()?;
        kernel_drops_of(&text, self.inode)
    }

    /// Drops since the previous poll.
    fn poll(&mut self) -> Option<u64> {
        let now = self.read()?;
        let new = now.saturating_sub(self.last);
        self.last = now;
        Some(new)
    }
}

/// The `drops` column (the last) of the `/proc/net/udp` line whose inode column
/// (the tenth) is `inode`.
fn kernel_drops_of(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let ino: u64 = cols.get(9)?.parse().ok()?;
        (ino == inode).then(|| cols.last()?.parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_column_is_found_by_inode() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 1105: 0100007F:2364 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 91824 2 0000000000000000 17
 1106: 0100007F:2365 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 91830 2 0000000000000000 0
";
        assert_eq!(kernel_drops_of(table, 91824), Some(17));
        assert_eq!(kernel_drops_of(table, 91830), Some(0));
        assert_eq!(kernel_drops_of(table, 1), None);
    }

    fn options(call_id: &str, body_len: usize) -> Vec<u8> {
        let body = "v".repeat(body_len);
        let sip = format!(
            "OPTIONS sip:100@10.0.0.2 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{call_id}\r\n\
             From: <sip:probe@10.0.0.1>;tag=1\r\n\
             To: <sip:100@10.0.0.2>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 OPTIONS\r\n\
             Content-Type: text/plain\r\n\
             Content-Length: {body_len}\r\n\r\n{body}"
        );
        callweave_hep::HepBuilder::sip(sip.into_bytes())
            .src("10.0.0.1:5060".parse().unwrap())
            .dst("10.0.0.2:5060".parse().unwrap())
            .timestamp(1_700_000_000, 0)
            .capture_id(7)
            .build()
            .encode_to_vec()
            .unwrap()
    }

    /// Bursts larger than one `recvmmsg` batch, a datagram near the UDP maximum
    /// and garbage in between: every good datagram becomes one record, intact and
    /// in order, the garbage is counted, and the thread stops on shutdown.
    #[test]
    fn the_receive_thread_takes_bursts_and_stops_on_shutdown() {
        let (tx, mut rx) = mpsc::channel(4096);
        let metrics = Metrics::new("test");
        let ingest = HepIngest::new(1 << 20, None, Arc::from("test"), &[], metrics.clone(), tx);
        let socket = bind_udp("127.0.0.1:0".parse().unwrap(), 4 << 20).unwrap();
        let addr = socket.local_addr().unwrap();
        let (stop_tx, stop_rx) = watch::channel(false);
        let thread = std::thread::spawn(move || run_udp(socket, ingest, stop_rx));

        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let n = RECV_BATCH * 5 + 3;
        let mut expected = Vec::new();
        for i in 0..n {
            let id = format!("burst-{i}");
            let body = if i == n / 2 { 60_000 } else { i % 700 };
            sender.send_to(&options(&id, body), addr).unwrap();
            expected.push((id, body));
            if i % 50 == 0 {
                sender.send_to(b"not HEP at all", addr).unwrap();
            }
        }
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while got.len() < n && std::time::Instant::now() < deadline {
            match rx.try_recv() {
                Ok(r) => got.push(r),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        let got: Vec<(String, usize)> = got
            .into_iter()
            .map(|r| match r.kind {
                RecordKind::Sip(s) => {
                    let body = s.raw.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
                    (s.call_id.as_str().to_owned(), body)
                }
                other => panic!("not SIP: {other:?}"),
            })
            .collect();
        assert_eq!(got, expected);

        let bad_magic = metrics
            .hep_decode_errors
            .get_or_create(&crate::metrics::ReasonLabel {
                reason: "bad_magic",
            })
            .get();
        assert_eq!(bad_magic, n.div_ceil(50) as u64);

        let t = std::time::Instant::now();
        stop_tx.send(true).unwrap();
        thread.join().unwrap();
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "stopped in {:?}",
            t.elapsed()
        );
    }

    #[test]
    fn the_receive_thread_stops_when_the_agent_is_gone() {
        let (tx, _rx) = mpsc::channel(16);
        let ingest = HepIngest::new(
            1 << 20,
            None,
            Arc::from("test"),
            &[],
            Metrics::new("test"),
            tx,
        );
        let socket = bind_udp("127.0.0.1:0".parse().unwrap(), 1 << 16).unwrap();
        let (stop_tx, stop_rx) = watch::channel(false);
        let thread = std::thread::spawn(move || run_udp(socket, ingest, stop_rx));
        drop(stop_tx);
        thread.join().unwrap();
    }

    #[test]
    fn a_bound_socket_is_found_in_proc() {
        let socket = bind_udp("127.0.0.1:0".parse().unwrap(), 1 << 16).unwrap();
        let mut k = KernelDrops::for_socket(&socket).expect("socket in /proc/net/udp");
        assert_eq!(k.poll(), Some(0));
    }
}
