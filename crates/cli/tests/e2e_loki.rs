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
        if request_line.starts_with("GET /loki/api/v1/query_range") {
            let answer = query_range(&request_line, stored);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
                answer.len()
            );
            if writer.write_all(reply.as_bytes()).is_err() {
                return;
            }
            continue;
        }
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
                        .map(|p| (p.name_str().to_owned(), p.value_str().to_owned()))
                        .collect();
                    s.push((stream.labels.clone(), ts, e.line_str().to_owned(), meta));
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

/// Answers a `query_range` like Loki 3.7 with `categorize-labels`: streams whose
/// values are `[ns, line, {"structuredMetadata": {...}}]`. The query is the one
/// `callweave trace --loki` sends, `{job="callweave"} | call_id="X" or uuid="X"
/// or …`: every predicate names the same value, matched against the metadata.
fn query_range(request_line: &str, stored: &Stored) -> String {
    let target = request_line.split_whitespace().nth(1).unwrap();
    let query = target.split_once('?').unwrap().1;
    let mut params = BTreeMap::new();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.insert(k.to_owned(), percent_decode(v));
    }
    let logql = &params["query"];
    let value = logql
        .split('"')
        .nth(3)
        .expect("a metadata value in the query")
        .to_owned();
    let start: i64 = params
        .get("start")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let end: i64 = params
        .get("end")
        .and_then(|s| s.parse().ok())
        .unwrap_or(i64::MAX);
    let limit: usize = params
        .get("limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let mut hits: Vec<_> = stored
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, ts, _, meta)| {
            *ts >= start
                && *ts < end
                && ["call_id", "uuid", "other_leg_uuid", "call", "correlation"]
                    .iter()
                    .any(|k| meta.get(*k) == Some(&value))
        })
        .cloned()
        .collect();
    hits.sort_by_key(|h| h.1);
    hits.truncate(limit);
    let mut by_stream: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for (labels, ts, line, meta) in hits {
        by_stream
            .entry(labels)
            .or_default()
            .push(serde_json::json!([
                ts.to_string(),
                line,
                {"structuredMetadata": meta}
            ]));
    }
    let result: Vec<serde_json::Value> = by_stream
        .into_iter()
        .map(|(labels, values)| {
            let stream: BTreeMap<String, String> = labels
                .trim_matches(|c| c == '{' || c == '}')
                .split(", ")
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
                .collect();
            serde_json::json!({"stream": stream, "values": values})
        })
        .collect();
    serde_json::json!({"status": "success", "data": {"resultType": "streams", "result": result}})
        .to_string()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
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

/// `callweave trace --loki` rebuilds a call from Loki alone, across two nodes:
/// node `sbc` shipped only the SIP of the call (HEP), node `fs` the FreeSWITCH
/// events (ESL). Loki is the only place where both are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_from_loki_joins_legs_shipped_by_two_nodes() {
    let stored: Stored = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let loki = listener.local_addr().unwrap();
    serve_loki(listener, stored.clone());
    let set = "01-bridged-callid-random";
    let dir = tempfile::tempdir().unwrap();
    let loki_toml = |name: &str| {
        format!(
            "[loki]\nurl = \"http://{loki}\"\nspool_dir = {:?}\nbatch_max_age = \"200ms\"\n",
            dir.path().join(name).join("spool").display().to_string()
        )
    };
    let sbc = start_agent(&loki_toml("sbc"), &dir.path().join("sbc")).await;
    let esl = fake_esl(&[set]);
    let fs = start_agent(
        &format!("{}[[esl]]\naddress = \"{esl}\"\n", loki_toml("fs")),
        &dir.path().join("fs"),
    )
    .await;
    let pcap = testdata(&format!("freeswitch-live/{set}/hep.pcap"));
    let to = format!("udp://{}", sbc.hep_udp[0]);
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
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let (sip, esl) = {
            let s = stored.lock().unwrap();
            (
                s.iter().filter(|e| e.0.contains("source=\"sip\"")).count(),
                s.iter().filter(|e| e.0.contains("source=\"esl\"")).count(),
            )
        };
        if sip >= 65 && esl >= 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    sbc.shutdown().await;
    fs.shutdown().await;

    let url = format!("http://{loki}");
    let out = tokio::task::spawn_blocking(move || {
        callweave(&[
            "trace",
            "1-4274@127.0.0.1",
            "--loki",
            &url,
            "--since",
            "3650d",
            "--format",
            "json",
        ])
    })
    .await
    .unwrap();
    let t: callweave_agent::api::TraceResponse = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t.call, "1-4274@127.0.0.1");
    let legs: Vec<(Option<&str>, Option<&str>, Option<&str>)> = t
        .legs
        .iter()
        .map(|l| (l.role.as_deref(), l.call_id.as_deref(), l.uuid.as_deref()))
        .collect();
    assert_eq!(
        legs,
        [
            (
                Some("A"),
                Some("1-4274@127.0.0.1"),
                Some("d9e73608-5048-4523-aded-4dc2c3f91498")
            ),
            (
                Some("B"),
                Some("bbd9578d-63eb-1240-a1be-928ecb790f4d"),
                Some("f059e147-6396-47f7-a85d-5c55f0c977bc")
            ),
        ]
    );
    // Both sources, both legs' SIP, nothing of the other four calls.
    assert!(
        t.records.iter().any(|r| r.kind == "sip"
            && r.call_id.as_deref() == Some("bbd9578d-63eb-1240-a1be-928ecb790f4d"))
    );
    assert!(t.records.iter().any(|r| r.kind == "esl"));
    assert!(
        !t.records
            .iter()
            .any(|r| r.call_id.as_deref() == Some("2-4274@127.0.0.1"))
    );
    assert_eq!(t.outcome, "answered");

    // The text view from Loki is the same ladder as from an agent.
    let url = format!("http://{loki}");
    let out = tokio::task::spawn_blocking(move || {
        callweave(&[
            "trace",
            "f059e147-6396-47f7-a85d-5c55f0c977bc",
            "--loki",
            &url,
            "--since",
            "3650d",
            "--no-color",
        ])
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1-4274@127.0.0.1"), "{text}");
    assert!(text.contains("INVITE"), "{text}");
}
