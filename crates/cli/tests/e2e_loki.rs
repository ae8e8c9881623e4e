//! The agent shipping to Loki through a two-minute outage and a restart.
//!
//! Loki itself cannot be installed from the package registries here, so the
//! receiver is an in-process fake speaking the exact wire format: HTTP/1.1
//! `POST /loki/api/v1/push`, snappy block compressed protobuf `PushRequest`
//! (decoded with the upstream field numbers by `callweave_loki::decode_push_body`),
//! answering `204 No Content` as Loki 3.7 does.
//!
//! Scenario: Loki is down (connection refused) while the agent takes real
//! FreeSWITCH HEP; the agent is restarted mid-outage and takes more; after the
//! outage (120 s by default, `CALLWEAVE_LOKI_OUTAGE_SECS` to change) Loki comes
//! up on the same port and must receive every record exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;

/// What the fake Loki stored: (labels, ts ns, line, metadata).
type Stored = Arc<Mutex<Vec<(String, i64, String, BTreeMap<String, String>)>>>;

fn serve_loki(listener: TcpListener, stored: Stored) {
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let stored = stored.clone();
            std::thread::spawn(move || serve_conn(conn, &stored));
        }
    });
}

fn serve_conn(conn: TcpStream, stored: &Stored) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut content_length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                content_length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body).unwrap();
        assert!(
            request_line.starts_with("POST /loki/api/v1/push"),
            "{request_line}"
        );
        let push = callweave_loki::decode_push_body(&body).expect("snappy + protobuf PushRequest");
        {
            let mut s = stored.lock().unwrap();
            for stream in push.streams {
                for e in stream.entries {
                    let ts = e
                        .timestamp
                        .map(|t| t.seconds * 1_000_000_000 + i64::from(t.nanos))
                        .unwrap_or(0);
                    let meta = e
                        .structured_metadata
                        .iter()
                        .map(|p| (p.name.clone(), p.value.clone()))
                        .collect();
                    s.push((stream.labels.clone(), ts, e.line, meta));
                }
            }
        }
        if writer
            .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_outage_and_agent_restart_lose_and_duplicate_nothing() {
    let outage = Duration::from_secs(
        std::env::var("CALLWEAVE_LOKI_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(120),
    );
    let started = Instant::now();
    let loki = free_port(); // nothing listens: connection refused, like a Loki that is down
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let extra = format!(
        "[correlation]\nlinger = \"1s\"\n\
         [loki]\nurl = \"http://{loki}\"\nspool_dir = {:?}\nbatch_max_age = \"200ms\"\ntimeout = \"2s\"\n",
        data.join("spool").display().to_string()
    );

    let replay = |agent_udp: SocketAddr, set: &'static str| async move {
        let pcap = testdata(&format!("freeswitch-live/{set}/hep.pcap"));
        let to = format!("udp://{agent_udp}");
        tokio::task::spawn_blocking(move || {
            callweave(&[
                "replay",
                pcap.to_str().unwrap(),
                "--to",
                &to,
                "--no-progress",
            ])
        })
        .await
        .unwrap();
    };

    // First life of the agent: 65 SIP messages while Loki is down.
    let agent = start_agent(&extra, &data).await;
    replay(agent.hep_udp[0], "01-bridged-callid-random").await;
    let m = wait_metrics(agent.http, Duration::from_secs(20), |m| {
        sum(m, "callweave_loki_spool_bytes", &[]) > 0.0
            && sum(m, "callweave_records_total", &[]) >= 65.0
    })
    .await;
    assert!(
        sum(&m, "callweave_loki_spool_bytes", &[]) > 0.0,
        "nothing spooled: {m:?}"
    );
    assert!(sum(&m, "callweave_loki_failures_total", &[]) > 0.0);
    agent.shutdown().await;

    // Second life, same spool: 24 more.
    let agent = start_agent(&extra, &data).await;
    replay(agent.hep_udp[0], "03-bleg-busy-486").await;
    wait_metrics(agent.http, Duration::from_secs(20), |m| {
        sum(m, "callweave_records_total", &[]) >= 24.0
    })
    .await;

    // The rest of the outage.
    if let Some(rest) = outage.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let stored: Stored = Arc::default();
    serve_loki(
        TcpListener::bind(loki).expect("Loki port still free"),
        stored.clone(),
    );

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let sip = stored
            .lock()
            .unwrap()
            .iter()
            .filter(|(labels, ..)| labels.contains("source=\"sip\""))
            .count();
        if sip >= 89 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let m = wait_metrics(agent.http, Duration::from_secs(30), |m| {
        sum(m, "callweave_loki_spool_bytes", &[]) == 0.0
    })
    .await;
    agent.shutdown().await;

    let stored = stored.lock().unwrap().clone();
    let sip: Vec<_> = stored
        .iter()
        .filter(|(l, ..)| l.contains("source=\"sip\""))
        .collect();
    assert_eq!(sip.len(), 89, "every SIP record delivered once (65 + 24)");
    let mut unique: Vec<(i64, &String)> =
        stored.iter().map(|(_, ts, line, _)| (*ts, line)).collect();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), stored.len(), "no entry delivered twice");
    assert_eq!(sum(&m, "callweave_loki_spool_dropped_total", &[]), 0.0);
    // Identifiers are structured metadata, never labels.
    for (labels, _, line, meta) in &stored {
        assert!(labels.starts_with("{job=\"callweave\""), "{labels}");
        assert!(labels.contains("node=\"test-node\""), "{labels}");
        if labels.contains("source=\"sip\"") {
            let call_id = meta.get("call_id").expect("call_id metadata");
            assert!(!labels.contains(call_id.as_str()));
            assert!(
                line.contains(call_id.as_str()),
                "the line is the raw SIP message"
            );
        }
    }
    assert!(
        stored
            .iter()
            .any(|(_, _, _, m)| m.get("call_id").map(String::as_str) == Some("1-4274@127.0.0.1")),
        "the A-leg Call-ID of the first call is searchable"
    );
}
