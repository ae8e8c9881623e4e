//! `callweave-trace-probe`: queries an agent's traces of a load run's calls
//! while the run feeds it, and prints the raw latencies as JSON on stdout
//! (see `callweave_loadgen::probe`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use callweave_loadgen::probe::{ProbeConfig, run_probe};
use clap::Parser;

/// Time `GET /api/v1/trace/{Call-ID}` on a callweave agent for the calls of a
/// `callweave-loadgen` run, while that run is sending.
#[derive(Debug, Parser)]
#[command(name = "callweave-trace-probe", version)]
struct Args {
    /// The agent's HTTP address.
    #[arg(long, default_value = "127.0.0.1:9070")]
    agent: SocketAddr,
    /// Run id of the load run (`callweave-loadgen --run-id`).
    #[arg(long)]
    run_id: u16,
    /// Calls the load run starts per second: its `--rate` over its messages
    /// per call (11.2 on average for the default mix of calls).
    #[arg(long)]
    calls_per_second: f64,
    /// Trace queries to send.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// Seconds from the start over which the queries are spread (the load
    /// run's duration, when both start together).
    #[arg(long, default_value_t = 15.0)]
    span: f64,
    /// Only calls sent at least this many seconds ago are traced.
    #[arg(long, default_value_t = 2.5)]
    lag: f64,
    /// Send `GET /healthz` half-way between two traces: the floor of any round
    /// trip to the agent at that moment.
    #[arg(long)]
    floor: bool,
    /// Seconds to wait for one answer before counting it as an error.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("callweave-trace-probe: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut cfg = ProbeConfig::new(args.agent, args.run_id, args.calls_per_second);
    cfg.queries = args.queries;
    cfg.span = Duration::try_from_secs_f64(args.span).context("--span")?;
    cfg.lag = Duration::try_from_secs_f64(args.lag).context("--lag")?;
    cfg.floor = args.floor;
    cfg.timeout = Duration::try_from_secs_f64(args.timeout).context("--timeout")?;
    let report = run_probe(&cfg)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
