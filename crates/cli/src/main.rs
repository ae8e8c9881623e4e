//! `callweave`: the agent and the operator's tools.
//!
//! - `callweave agent [--config FILE]` runs the collector.
//! - `callweave replay FILE --to udp://HOST:PORT` sends a capture's SIP as HEPv3.
//! - `callweave trace ID` shows one call (every leg, a SIP ladder with FreeSWITCH
//!   events and logs interleaved) from an agent's index.
//! - `callweave calls` lists calls by number, time range, outcome and node.
//! - `callweave search QUERY` finds records by their words and fields.
//! - `callweave check-config FILE` validates a configuration without starting.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// Records are built on the receive tasks and freed on the pipeline, index and
/// Loki threads; mimalloc handles that cross-thread traffic far better than glibc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod calls;
mod client;
mod loki_trace;
mod render;
mod replay;
mod search;
mod trace;

#[derive(Debug, Parser)]
#[command(
    name = "callweave",
    version,
    about = "Call-correlated observability for FreeSWITCH and Kamailio platforms"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the collector: HEP over UDP/TCP, FreeSWITCH events and logs.
    Agent {
        /// Configuration file (TOML). Without it: HEP on 0.0.0.0:9060 UDP and TCP,
        /// HTTP on 127.0.0.1:9070, index in ./callweave-data.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Send the SIP messages of a pcap/pcapng capture as HEPv3 (a capture of HEP
    /// packets is forwarded as-is).
    Replay(replay::ReplayArgs),
    /// Show one call: every leg, and a SIP ladder with FreeSWITCH events interleaved.
    ///
    /// Asks an agent (`--agent`) for the call that a Call-ID, channel UUID or
    /// correlation id belongs to, and prints a legs table and one time-ordered
    /// ladder across the SIP endpoints of both legs, FreeSWITCH events (and, with
    /// `--logs`, log lines) interleaved.
    Trace(trace::TraceArgs),
    /// List indexed calls, newest first, by number, time range, outcome and node.
    Calls(calls::CallsArgs),
    /// Find SIP messages, FreeSWITCH events and log lines by their words and
    /// fields (number, status, method, node), newest first.
    Search(search::SearchArgs),
    /// Validate a configuration file and print the settings it yields.
    CheckConfig {
        /// Configuration file (TOML).
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Agent { config } => {
            let cfg = match &config {
                Some(path) => callweave_agent::config::Config::from_file(path)?,
                None => callweave_agent::config::Config::default(),
            };
            let settings = cfg.build().context("invalid configuration")?;
            let runtime = callweave_agent::priority::ingest_runtime(settings.ingest_nice)
                .context("cannot start the async runtime")?;
            runtime.block_on(callweave_agent::run_until_signal(settings))
        }
        Command::Replay(args) => replay::run(args),
        Command::Trace(args) => trace::run(args),
        Command::Calls(args) => calls::run(args),
        Command::Search(args) => search::run(args),
        Command::CheckConfig { file } => {
            let settings = callweave_agent::config::Config::from_file(&file)?
                .build()
                .context("invalid configuration")?;
            println!("{}: ok", file.display());
            println!("node: {}", settings.node);
            println!("hep udp: {:?}", settings.hep_udp);
            println!("hep tcp: {:?}", settings.hep_tcp);
            println!(
                "hep auth key: {}",
                if settings.hep_auth_key.is_some() {
                    "set"
                } else {
                    "none"
                }
            );
            println!("http: {}", settings.http_listen);
            println!("correlation headers: {:?}", settings.correlation_headers);
            println!("data dir: {}", settings.data_dir.display());
            println!("esl servers: {}", settings.raw.esl.len());
            println!("log files: {}", settings.raw.fslog.len());
            println!(
                "loki: {}",
                settings
                    .raw
                    .loki
                    .as_ref()
                    .map_or("none", |l| l.url.as_str())
            );
            Ok(())
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("CALLWEAVE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
