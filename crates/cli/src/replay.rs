//! `callweave replay`: a capture's SIP messages sent as HEPv3, with their original
//! timestamps and addresses, to an agent (or any HEP collector).

use std::io::{BufWriter, IsTerminal, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::BytesMut;
use callweave_hep::HepBuilder;
use callweave_pcap::{CaptureReader, Item};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The capture: pcap or pcapng (Ethernet, Linux cooked, raw IP, loopback).
    file: PathBuf,
    /// Destination collector: udp://HOST:PORT or tcp://HOST:PORT.
    #[arg(long)]
    to: String,
    /// Messages per second; 0 sends as fast as possible. Over UDP a rate the
    /// receiver cannot keep up with is lost in its kernel buffer.
    #[arg(long, default_value_t = 2000)]
    rate: u64,
    /// HEP capture agent id (chunk 0x0c).
    #[arg(long, default_value_t = 2001)]
    capture_id: u32,
    /// HEP auth key (chunk 0x0e), when the collector requires one.
    #[arg(long)]
    auth_key: Option<String>,
    /// HEP capture node name (chunk 0x13).
    #[arg(long)]
    node_name: Option<String>,
    /// Never draw a progress bar.
    #[arg(long)]
    no_progress: bool,
}

enum Sink {
    Udp(UdpSocket, SocketAddr),
    Tcp(BufWriter<TcpStream>),
}

impl Sink {
    fn connect(to: &str) -> anyhow::Result<(Self, &'static str)> {
        let (scheme, rest) = to
            .split_once("://")
            .with_context(|| format!("--to {to:?}: expected udp://HOST:PORT or tcp://HOST:PORT"))?;
        let addr = rest
            .to_socket_addrs()
            .with_context(|| format!("--to {to:?}: cannot resolve {rest:?}"))?
            .next()
            .with_context(|| format!("--to {to:?}: {rest:?} resolves to nothing"))?;
        match scheme {
            "udp" => {
                let bind: SocketAddr = if addr.is_ipv4() {
                    "0.0.0.0:0".parse()?
                } else {
                    "[::]:0".parse()?
                };
                let socket = UdpSocket::bind(bind).context("cannot open a UDP socket")?;
                Ok((Sink::Udp(socket, addr), "udp"))
            }
            "tcp" => {
                let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                    .with_context(|| format!("cannot connect to {addr}"))?;
                stream.set_nodelay(true)?;
                Ok((
                    Sink::Tcp(BufWriter::with_capacity(256 * 1024, stream)),
                    "tcp",
                ))
            }
            other => bail!("--to {to:?}: unknown scheme {other:?} (udp or tcp)"),
        }
    }

    fn send(&mut self, packet: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Udp(socket, addr) => socket.send_to(packet, *addr).map(|_| ()),
            Sink::Tcp(w) => w.write_all(packet),
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Sink::Udp(..) => Ok(()),
            Sink::Tcp(mut w) => {
                w.flush()?;
                w.get_ref().shutdown(std::net::Shutdown::Write)
            }
        }
    }
}

/// What a replay did.
#[derive(Debug, Default)]
struct Summary {
    sip_sent: u64,
    hep_forwarded: u64,
    send_failed: u64,
    legacy_hep_on_tcp: u64,
}

pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = CaptureReader::new(std::io::BufReader::with_capacity(1 << 20, file))
        .with_context(|| format!("{} is not a readable capture", args.file.display()))?;
    let (mut sink, scheme) = Sink::connect(&args.to)?;

    let progress = if args.no_progress || !std::io::stderr().is_terminal() || size < 4 << 20 {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
    } else {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed_precise} {pos} messages sent ({per_sec})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    };

    let started = Instant::now();
    let mut summary = Summary::default();
    let mut buf = BytesMut::with_capacity(70 * 1024);
    let mut n: u64 = 0;
    for item in &mut reader {
        let item = item.with_context(|| format!("reading {}", args.file.display()))?;
        pace(started, n, args.rate);
        let result = match item {
            Item::Sip(msg) => {
                let mut b = HepBuilder::sip(msg.payload)
                    .src(msg.src)
                    .dst(msg.dst)
                    .ip_proto(msg.transport.ip_protocol())
                    .timestamp_micros(msg.ts_micros)
                    .capture_id(args.capture_id);
                if let Some(k) = &args.auth_key {
                    b = b.auth_key(k.clone().into_bytes());
                }
                if let Some(name) = &args.node_name {
                    b = b.node_name(name.clone().into_bytes());
                }
                buf.clear();
                b.build()
                    .encode(&mut buf)
                    .context("cannot encode a HEP packet")?;
                summary.sip_sent += 1;
                sink.send(&buf)
            }
            Item::Hep(hep) => {
                // HEPv1/v2 has no length field, so it cannot be framed on TCP.
                if scheme == "tcp"
                    && !hep.payload.starts_with(b"HEP3")
                    && !hep.payload.starts_with(b"EEP3")
                {
                    summary.legacy_hep_on_tcp += 1;
                    continue;
                }
                summary.hep_forwarded += 1;
                sink.send(&hep.payload)
            }
            _ => continue,
        };
        n += 1;
        progress.set_position(n);
        if let Err(e) = result {
            match &sink {
                // ICMP port unreachable and the like: the next datagram may pass.
                Sink::Udp(..) => summary.send_failed += 1,
                Sink::Tcp(_) => return Err(e).context("HEP TCP connection failed"),
            }
        }
    }
    sink.finish()
        .context("cannot flush the HEP TCP connection")?;
    progress.finish_and_clear();

    let stats = reader.stats();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{}: sent {} SIP messages as HEPv3 and forwarded {} HEP packets to {} in {:.2} s",
        args.file.display(),
        summary.sip_sent,
        summary.hep_forwarded,
        args.to,
        elapsed
    );
    println!("frames read: {}", stats.frames);
    let mut skipped: Vec<String> = stats
        .skipped
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(reason, count)| format!("{}={count}", reason.as_str()))
        .collect();
    if summary.legacy_hep_on_tcp > 0 {
        skipped.push(format!("hep_v1v2_over_tcp={}", summary.legacy_hep_on_tcp));
    }
    if summary.send_failed > 0 {
        skipped.push(format!("send_failed={}", summary.send_failed));
    }
    if skipped.is_empty() {
        println!("skipped frames: none");
    } else {
        println!("skipped frames: {}", skipped.join(" "));
    }
    if stats.truncated_file {
        println!("note: the capture ends inside a record (file cut short)");
    }
    Ok(())
}

/// Sleeps until message `n` is due at `rate` per second.
fn pace(started: Instant, n: u64, rate: u64) {
    if rate == 0 {
        return;
    }
    let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
    let now = Instant::now();
    if due > now {
        std::thread::sleep(due - now);
    }
}
