//! The callweave agent: wires collectors (HEP over UDP/TCP), the record pipeline,
//! the HTTP surface and metrics together.
//!
//! This is the only crate that spawns tasks. Protocol crates (`callweave-hep`,
//! `callweave-sip`, …) are sans-IO; `callweave-core` holds the records and the call
//! graph. [`start`] binds every socket first (so a bad port fails before anything
//! runs), then spawns the tasks and returns a [`RunningAgent`] that knows the bound
//! addresses — which is how the tests run an agent on ephemeral loopback ports.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let settings = callweave_agent::config::Config::default().build()?;
//! let agent = callweave_agent::start(settings).await?;
//! println!("HEP/UDP on {:?}, HTTP on {}", agent.hep_udp, agent.http);
//! agent.shutdown().await;
//! # Ok(()) }
//! ```

pub mod api;
pub mod config;
pub mod esl_source;
pub mod fslog_source;
pub mod hep_source;
pub mod http;
pub mod kpi;
pub mod metrics;
pub mod pipeline;
pub mod priority;
mod ratelimit;
pub mod sip_record;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::config::Settings;
use crate::hep_source::HepIngest;
use crate::metrics::Metrics;

/// Capacity of the queue between collectors and the pipeline. Full = newest
/// record dropped and counted (`callweave_dropped_total{stage="pipeline"}`).
/// About half a second at the measured zero-loss rate; larger queues only held
/// more memory under overload (BENCHMARKS.md: 708 MiB with 64 Ki per queue).
pub const PIPELINE_QUEUE: usize = 16_384;
/// Capacity of the queue between the pipeline and the Loki pusher (which spools
/// to disk when Loki is slow), in hand-offs of about 512 records (or 50 ms of
/// them): about 16,000 records.
pub const LOKI_QUEUE: usize = 32;

/// A started agent.
#[derive(Debug)]
pub struct RunningAgent {
    /// Bound HEP UDP addresses (ephemeral ports resolved).
    pub hep_udp: Vec<SocketAddr>,
    /// Bound HEP TCP addresses.
    pub hep_tcp: Vec<SocketAddr>,
    /// Bound HTTP address.
    pub http: SocketAddr,
    /// The agent's metrics, for tests and embedding.
    pub metrics: Metrics,
    shutdown: watch::Sender<bool>,
    collectors: JoinSet<()>,
    pipeline: std::thread::JoinHandle<()>,
    http_task: tokio::task::JoinHandle<()>,
    loki_task: Option<tokio::task::JoinHandle<()>>,
    loki_shutdown: Option<watch::Sender<bool>>,
}

/// Binds every listener and starts every task.
pub async fn start(settings: Settings) -> anyhow::Result<RunningAgent> {
    let metrics = Metrics::new(&settings.node);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (record_tx, record_rx) = mpsc::channel(PIPELINE_QUEUE);
    let node: Arc<str> = Arc::from(settings.node.as_str());

    let ingest = HepIngest::new(
        settings.max_inflated_payload,
        settings.hep_auth_key.clone(),
        node.clone(),
        &settings.correlation_headers,
        metrics.clone(),
        record_tx.clone(),
    );

    // Bind everything before spawning anything: a taken port is a clean start error.
    let mut udp_sockets = Vec::new();
    for addr in &settings.hep_udp {
        udp_sockets.push(hep_source::bind_udp(*addr, settings.udp_recv_buffer)?);
    }
    let mut tcp_listeners = Vec::new();
    for addr in &settings.hep_tcp {
        tcp_listeners.push(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot bind HEP TCP listener on {addr}"))?,
        );
    }
    let http_listener = tokio::net::TcpListener::bind(settings.http_listen)
        .await
        .with_context(|| format!("cannot bind HTTP listener on {}", settings.http_listen))?;

    let hep_udp = udp_sockets
        .iter()
        .map(|s| s.local_addr())
        .collect::<Result<Vec<_>, _>>()?;
    let hep_tcp = tcp_listeners
        .iter()
        .map(|s| s.local_addr())
        .collect::<Result<Vec<_>, _>>()?;
    let http = http_listener.local_addr()?;

    let mut collectors = JoinSet::new();
    let ingest_nice = settings.ingest_nice;
    for socket in udp_sockets {
        let ingest = ingest.clone();
        let shutdown = shutdown_rx.clone();
        let thread = spawn_ingest("callweave-hep-udp", ingest_nice, move || {
            hep_source::run_udp(socket, ingest, shutdown)
        })
        .context("cannot start a HEP UDP thread")?;
        collectors.spawn(async move {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        });
    }
    for listener in tcp_listeners {
        collectors.spawn(hep_source::run_tcp(
            listener,
            ingest.clone(),
            settings.tcp_max_connections,
            shutdown_rx.clone(),
        ));
    }
    for f in &settings.raw.fslog {
        let cfg =
            fslog_source::tail_config(&f.path, &f.timezone, f.from_beginning, &settings.data_dir)?;
        if let Some(dir) = cfg.positions_file.as_ref().and_then(|p| p.parent()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        collectors.spawn(fslog_source::run(
            cfg,
            f.path.display().to_string(),
            node.clone(),
            record_tx.clone(),
            metrics.fslog.clone(),
            shutdown_rx.clone(),
        ));
    }
    for (i, esl) in settings.raw.esl.iter().enumerate() {
        let cfg = esl_source::client_config(esl, i)?;
        collectors.spawn(esl_source::run(
            cfg,
            node.clone(),
            record_tx.clone(),
            metrics.esl.clone(),
            shutdown_rx.clone(),
        ));
    }
    drop(ingest);
    drop(record_tx);

    let store = callweave_store::Store::open(
        settings.data_dir.join("index"),
        callweave_store::StoreOptions {
            retention: settings.retention,
            full_text: settings.full_text,
            ..Default::default()
        },
    )
    .with_context(|| format!("cannot open the index in {}", settings.data_dir.display()))?;
    let store_reader = store.reader();
    let mut registry = metrics.registry();
    let (loki_tx, loki_task, loki_shutdown) = match &settings.loki {
        Some(cfg) => {
            let loki_metrics = callweave_loki::LokiMetrics::new(&mut registry);
            let pusher = callweave_loki::LokiPusher::new(cfg.clone(), loki_metrics)
                .context("cannot start the Loki client")?;
            let (tx, rx) = mpsc::channel(LOKI_QUEUE);
            // Its own shutdown signal, sent after the pipeline has drained into it.
            let (stop_tx, stop_rx) = watch::channel(false);
            let task = tokio::spawn(pusher.run(rx, stop_rx));
            (Some(tx), Some(task), Some(stop_tx))
        }
        None => (None, None, None),
    };
    let docs = store.doc_builder();
    let (index_tx, index_rx) = pipeline::index_queue();
    let (reload_tx, reload_rx) = pipeline::Reloader::queue();
    let reloader = pipeline::Reloader {
        rx: reload_rx,
        metrics: metrics.clone(),
    };
    let reload_thread = spawn_ingest("callweave-reload", ingest_nice, move || reloader.run())
        .context("cannot start the index reload thread")?;
    let indexer = pipeline::Indexer {
        rx: index_rx,
        store,
        metrics: metrics.clone(),
        reload: reload_tx,
        reload_thread,
    };
    // tantivy's threads, started from this one, inherit its nice value.
    let index_thread = spawn_ingest("callweave-index", ingest_nice, move || indexer.run())
        .context("cannot start the index thread")?;
    let pipeline = pipeline::Pipeline {
        rx: record_rx,
        metrics: metrics.clone(),
        correlator: callweave_core::Correlator::new(settings.correlator.clone()),
        docs,
        index: index_tx,
        pending: pipeline::Handoff::for_index(),
        index_thread,
        loki: loki_tx,
        loki_pending: pipeline::Handoff::for_loki(),
        node: node.clone(),
    };
    let pipeline = spawn_ingest("callweave-pipeline", ingest_nice, move || pipeline.run())
        .context("cannot start the pipeline thread")?;

    let ready = Arc::new(AtomicBool::new(false));
    let state = http::HttpState {
        registry: Arc::new(registry),
        ready: ready.clone(),
        store: store_reader,
        token: settings.api_token.clone(),
        query_seconds: metrics.api_queries.clone(),
    };
    let app = http::router(state);
    let mut http_shutdown = shutdown_rx.clone();
    let http_listener = http_listener.into_std()?;
    // The API has a thread and a runtime of its own: the shared runtime's workers
    // carry the collectors and the Loki client, and a trace asked at 3 a.m. during
    // a peak must not queue behind them.
    let api_realtime = settings.api_realtime_priority;
    let api_runtime =
        priority::api_runtime(API_THREADS, api_realtime).context("cannot start the API runtime")?;
    let api_thread = std::thread::Builder::new()
        .name("callweave-api".to_owned())
        .spawn(move || {
            // This thread accepts the connections.
            priority::api_thread_priority(api_realtime);
            api_runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(http_listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot register the HTTP listener");
                        return;
                    }
                };
                let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                    let _ = http_shutdown.changed().await;
                });
                if let Err(e) = serve.await {
                    tracing::error!(error = %e, "HTTP server failed");
                }
            });
        })
        .context("cannot start the API thread")?;
    let http_task = tokio::task::spawn_blocking(move || {
        let _ = api_thread.join();
    });
    ready.store(true, Ordering::Release);
    tracing::info!(node = %node, ?hep_udp, ?hep_tcp, %http, "callweave agent started");

    Ok(RunningAgent {
        hep_udp,
        hep_tcp,
        http,
        metrics,
        shutdown: shutdown_tx,
        collectors,
        pipeline,
        http_task,
        loki_task,
        loki_shutdown,
    })
}

impl RunningAgent {
    /// Stops the collectors, drains the pipeline, stops HTTP. Bounded in time.
    pub async fn shutdown(self) {
        let RunningAgent {
            shutdown,
            mut collectors,
            pipeline,
            http_task,
            loki_task,
            loki_shutdown,
            ..
        } = self;
        let _ = shutdown.send(true);
        // Collectors hold the record senders; once they are gone the pipeline
        // drains what is queued, writes the calls in memory, commits and ends.
        let drain = async move {
            while collectors.join_next().await.is_some() {}
            let _ = tokio::task::spawn_blocking(move || pipeline.join()).await;
            if let Some(stop) = loki_shutdown {
                let _ = stop.send(true);
            }
            if let Some(task) = loki_task {
                let _ = task.await;
            }
            let _ = http_task.await;
        };
        if tokio::time::timeout(Duration::from_secs(10), drain)
            .await
            .is_err()
        {
            tracing::warn!("shutdown took longer than 10 s; exiting anyway");
        }
        tracing::info!("callweave agent stopped");
    }
}

/// Worker threads of the API runtime: queries run on them (see `http`), so two
/// traces, or a trace and a scrape, proceed side by side.
const API_THREADS: usize = 2;

/// Runs the agent until SIGTERM or Ctrl-C, then shuts down cleanly.
pub async fn run_until_signal(settings: Settings) -> anyhow::Result<()> {
    let agent = start(settings).await?;
    wait_for_signal().await;
    agent.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Starts a named ingest thread at `nice` (`node.ingest_nice`); threads it
/// starts inherit the value.
fn spawn_ingest<T: Send + 'static>(
    name: &str,
    nice: i32,
    run: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<T>> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            priority::lower_current_thread(nice);
            run()
        })
}
