//! The trace probe against a fake agent API on loopback: it asks only for
//! calls of its run that exist, counts every answer that is not a `200`, and
//! carries on over a connection the server closed.
//!
//! The fake answers `/api/v1/trace/{id}` and `/healthz` as the agent does (a
//! JSON trace with its legs, a JSON error with `404`); the agent itself is
//! exercised by the end-to-end runs of `bench/zero_loss.py`.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use callweave_loadgen::probe::{ProbeConfig, run_probe};
use callweave_loadgen::scenario::{a_leg_call_id, call_serial};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

const RUN_ID: u16 = 0x4242;

/// How the fake answers the n-th request (0-based, traces and health alike).
type Policy = fn(usize) -> (StatusCode, bool);

#[derive(Default)]
struct Seen {
    /// Paths in the order asked.
    paths: Vec<String>,
    connections: usize,
}

/// Serves on a thread of its own until the test ends.
fn fake_agent(policy: Policy) -> (SocketAddr, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let state = seen.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                state.lock().unwrap().connections += 1;
                let state = state.clone();
                let svc = service_fn(move |req: Request<Incoming>| {
                    let state = state.clone();
                    async move {
                        let path = req.uri().path().to_owned();
                        let n = {
                            let mut s = state.lock().unwrap();
                            s.paths.push(path.clone());
                            s.paths.len() - 1
                        };
                        let (status, close) = policy(n);
                        let body = if path == "/healthz" {
                            "ok".to_owned()
                        } else if status == StatusCode::OK {
                            r#"{"call":"x","legs":[{"role":"A"},{"role":"B"}],"records":[]}"#
                                .to_owned()
                        } else {
                            r#"{"error":"no call found"}"#.to_owned()
                        };
                        let mut resp = Response::new(Full::new(Bytes::from(body)));
                        *resp.status_mut() = status;
                        if close {
                            resp.headers_mut()
                                .insert(hyper::header::CONNECTION, "close".parse().unwrap());
                        }
                        Ok::<_, Infallible>(resp)
                    }
                });
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
    });
    (addr, seen)
}

fn config(addr: SocketAddr, queries: usize, floor: bool) -> ProbeConfig {
    let mut cfg = ProbeConfig::new(addr, RUN_ID, 200.0);
    cfg.queries = queries;
    cfg.span = Duration::from_millis(1800);
    cfg.lag = Duration::from_millis(200);
    cfg.floor = floor;
    cfg.timeout = Duration::from_secs(5);
    cfg
}

/// The call sequence number a trace path names, if it is a call of the run.
fn seq_of(path: &str) -> Option<u32> {
    let id = path.strip_prefix("/api/v1/trace/")?;
    (0..u32::MAX)
        .take(100_000)
        .find(|&seq| a_leg_call_id(call_serial(RUN_ID, seq)) == id)
}

#[test]
fn every_query_answered_with_the_floor_between() {
    let (addr, seen) = fake_agent(|_| (StatusCode::OK, false));
    let report = run_probe(&config(addr, 40, true)).unwrap();

    assert_eq!(report.trace_seconds.len(), 40);
    assert_eq!(report.trace_errors, 0);
    assert_eq!(report.legs, vec![2; 40]);
    assert_eq!(report.healthz_seconds.len(), 40);
    assert_eq!(report.healthz_errors, 0);
    assert_eq!(report.connections, 1);
    assert!(
        report
            .trace_seconds
            .iter()
            .chain(&report.healthz_seconds)
            .all(|&s| s > 0.0 && s < 5.0)
    );

    let seen = seen.lock().unwrap();
    assert_eq!(seen.connections, 1, "one connection, kept alive");
    assert_eq!(seen.paths.len(), 80);
    for (i, path) in seen.paths.iter().enumerate() {
        if i % 2 == 1 {
            assert_eq!(path, "/healthz");
            continue;
        }
        // Calls of this run only, among those started by the end of the
        // probe at 200 calls/s (1.8 s less the lag: 320).
        let seq = seq_of(path).unwrap_or_else(|| panic!("not a call of the run: {path}"));
        assert!(seq < 320, "{path}: call {seq} not started yet");
    }
    let distinct: std::collections::HashSet<_> = seen.paths.iter().step_by(2).collect();
    assert!(
        distinct.len() > 20,
        "calls picked at random: {}",
        distinct.len()
    );
}

#[test]
fn answers_other_than_200_are_counted_and_a_closed_connection_reopened() {
    // Request n: every 4th a 404, every 5th a 500, every 6th closes the
    // connection after answering 200.
    let (addr, seen) = fake_agent(|n| match n {
        n if n % 4 == 3 => (StatusCode::NOT_FOUND, false),
        n if n % 5 == 4 => (StatusCode::INTERNAL_SERVER_ERROR, false),
        n if n % 6 == 5 => (StatusCode::OK, true),
        _ => (StatusCode::OK, false),
    });
    let report = run_probe(&config(addr, 30, false)).unwrap();

    let (mut ok, mut not_found, mut failed) = (0, 0, 0);
    for n in 0..30 {
        match n {
            n if n % 4 == 3 => not_found += 1,
            n if n % 5 == 4 => failed += 1,
            _ => ok += 1,
        }
    }
    assert_eq!(report.trace_seconds.len(), ok);
    assert_eq!(report.legs.len(), ok);
    assert_eq!(report.trace_not_found, not_found);
    assert_eq!(report.trace_errors, not_found + failed);
    assert!(report.healthz_seconds.is_empty());

    let seen = seen.lock().unwrap();
    assert_eq!(seen.paths.len(), 30, "no query lost to a closed connection");
    assert!(seen.connections >= 2, "reopened: {}", seen.connections);
    assert_eq!(report.connections as usize, seen.connections);
}

#[test]
fn an_agent_that_cannot_be_reached_is_an_error() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = unused.local_addr().unwrap();
    drop(unused);
    let err = run_probe(&config(addr, 5, false)).unwrap_err();
    assert!(err.to_string().contains("connect"), "{err}");
}

#[test]
fn a_probe_without_queries_or_calls_is_refused() {
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let mut cfg = config(addr, 0, false);
    assert!(run_probe(&cfg).is_err());
    cfg.queries = 1;
    cfg.calls_per_second = 0.0;
    assert!(run_probe(&cfg).is_err());
}
