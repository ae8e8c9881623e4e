//! `callweave-loadgen`: sends whole SIP calls as HEPv3 at a fixed rate for a
//! bounded time and prints what it sent as JSON on stdout.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use callweave_loadgen::{RunConfig, Transport, run};
use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TransportArg {
    Udp,
    Tcp,
}

/// Send realistic HEPv3 SIP call traffic (and optionally FreeSWITCH ESL events)
/// to a callweave agent or any HEP collector.
#[derive(Debug, Parser)]
#[command(name = "callweave-loadgen", version)]
struct Args {
    /// HEP collector address.
    #[arg(long, default_value = "127.0.0.1:9060")]
    target: SocketAddr,
    /// Transport.
    #[arg(long, value_enum, default_value = "udp")]
    transport: TransportArg,
    /// SIP messages (HEP packets) per second, over all threads.
    #[arg(long)]
    rate: f64,
    /// Seconds of sending (the run always stops by itself).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Sender threads, each with its own socket. On a small machine one is
    /// best: every extra thread takes CPU from the process under test.
    #[arg(long, default_value_t = 1)]
    threads: u32,
    /// Datagrams per sendmmsg(2) call (UDP); 1 = one send(2) per datagram.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Calls in progress at once; each call's messages spread over this many sends.
    #[arg(long, default_value_t = 1000)]
    concurrency: usize,
    /// Percent of calls rejected 486 Busy Here.
    #[arg(long, default_value_t = 10)]
    busy_percent: u32,
    /// Percent of calls cancelled while ringing.
    #[arg(long, default_value_t = 10)]
    cancel_percent: u32,
    /// Answer every call and never hang up (active-call memory tests).
    #[arg(long)]
    open_calls: bool,
    /// Stop after this many calls.
    #[arg(long)]
    max_calls: Option<u64>,
    /// Run id (16 bits) embedded in every Call-ID; default: derived from the clock.
    #[arg(long)]
    run_id: Option<u16>,
    /// HEP capture agent id.
    #[arg(long, default_value_t = 200)]
    capture_id: u32,
    /// HEP capture node name (chunk 0x13).
    #[arg(long)]
    node_name: Option<String>,
    /// Serve a FreeSWITCH event socket here (the agent's [[esl]] address) and
    /// send CHANNEL_* events for every call.
    #[arg(long)]
    esl_listen: Option<SocketAddr>,
    /// Event socket password.
    #[arg(long, default_value = "ClueCon")]
    esl_password: String,
    /// Seconds to wait for the agent to subscribe before sending.
    #[arg(long, default_value_t = 15.0)]
    esl_wait: f64,
    /// A-leg Call-IDs to list in the report.
    #[arg(long, default_value_t = 20)]
    sample: usize,
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("callweave-loadgen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    let args = Args::parse();
    let transport = match args.transport {
        TransportArg::Udp => Transport::Udp,
        TransportArg::Tcp => Transport::Tcp,
    };
    let mut cfg = RunConfig::new(args.target, transport, args.rate);
    cfg.duration = Duration::try_from_secs_f64(args.duration).context("--duration")?;
    cfg.threads = args.threads;
    cfg.batch = args.batch;
    cfg.concurrency = args.concurrency;
    cfg.busy_percent = args.busy_percent;
    cfg.cancel_percent = args.cancel_percent;
    cfg.open_calls = args.open_calls;
    cfg.max_calls = args.max_calls;
    if let Some(id) = args.run_id {
        cfg.run_id = id;
    }
    cfg.capture_id = args.capture_id;
    cfg.node_name = args.node_name;
    cfg.esl_listen = args.esl_listen;
    cfg.esl_password = args.esl_password;
    cfg.esl_wait = Duration::try_from_secs_f64(args.esl_wait).context("--esl-wait")?;
    cfg.sample = args.sample;
    let report = run(&cfg)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
