//! Real peer: Kamailio (`siptrace`, HEPv3, `trace_mode=1`) proxies SIPp calls —
//! answered, 486 and CANCEL — and mirrors every SIP message it receives or sends
//! to the agent, over UDP and over TCP. The agent must count every message.
//!
//! Needs the Debian packages `kamailio` and `sip-tester` (installed by
//! `scripts/test.sh`); without them these tests fail, they do not skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use support::*;

/// Runs `tests/kamailio/run.sh` against `hep` (e.g. `udp:127.0.0.1:PORT`) and
/// returns its `key=value` summary.
fn run_harness(hep: &str, mode: &str, workdir: &std::path::Path) -> BTreeMap<String, String> {
    for tool in ["kamailio", "sipp"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            found,
            "{tool} is not installed: run scripts/test.sh (it installs kamailio and sip-tester)"
        );
    }
    let out = Command::new("bash")
        .arg(repo().join("tests/kamailio/run.sh"))
        .args(["--hep", hep, "--mode", mode, "--workdir"])
        .arg(workdir)
        .output()
        .expect("run tests/kamailio/run.sh");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "Kamailio harness failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn kamailio_mirrors_to_agent(transport: &str) {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent("", &dir.path().join("data")).await;
    let hep = match transport {
        "udp" => format!("udp:{}", agent.hep_udp[0]),
        _ => format!("tcp:{}", agent.hep_tcp[0]),
    };
    let workdir = dir.path().join("kamailio");
    std::fs::create_dir_all(&workdir).unwrap();
    let summary = tokio::task::spawn_blocking(move || run_harness(&hep, "plain", &workdir))
        .await
        .unwrap();
    let expected: f64 = summary["expected_sip_messages"].parse().unwrap();
    assert!(expected >= 165.0, "{summary:?}");
    assert_eq!(summary["calls_answered"], "5");
    assert_eq!(summary["calls_busy"], "5");
    assert_eq!(summary["calls_cancelled"], "5");

    let m = wait_metrics(agent.http, Duration::from_secs(15), |m| {
        sum(m, "callweave_sip_messages_total", &[]) >= expected
    })
    .await;
    assert_eq!(
        sum(
            &m,
            "callweave_hep_packets_total",
            &[&format!("transport=\"{transport}\"")]
        ),
        expected,
        "HEP packets over {transport}: {m:?}"
    );
    assert_eq!(sum(&m, "callweave_sip_messages_total", &[]), expected);
    assert_eq!(sum(&m, "callweave_hep_decode_errors_total", &[]), 0.0);
    assert_eq!(sum(&m, "callweave_dropped_total", &[]), 0.0);
    // The three outcomes are visible in the response counters: 5 × 486 and
    // 5 × 487 relayed, 5 × CANCEL requests in and out.
    assert!(
        sum(
            &m,
            "callweave_sip_messages_total",
            &["method=\"CANCEL\"", "kind=\"request\""]
        ) >= 10.0
    );
    agent.shutdown().await;
}

/// Kamailio with `topoh` (`mask_callid=1`) rewrites the B-leg Call-ID and adds
/// `X-CID: <A-leg Call-ID>` to the INVITE it relays: the agent must join each
/// A-leg with its masked B-leg by the header rule, and keep calls apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kamailio_topoh_legs_are_joined_by_the_x_cid_header() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent("", &dir.path().join("data")).await;
    let hep = format!("udp:{}", agent.hep_udp[0]);
    let workdir = dir.path().join("kamailio");
    std::fs::create_dir_all(&workdir).unwrap();
    let summary = tokio::task::spawn_blocking(move || run_harness(&hep, "topoh", &workdir))
        .await
        .unwrap();
    assert_eq!(summary["b_call_ids_masked"], "yes");
    let pairs: Vec<(String, String)> = summary["call_id_map"]
        .split(',')
        .filter_map(|p| p.split_once('='))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    assert_eq!(pairs.len(), 15, "{summary:?}");
    let http = agent.http;
    for (a, b) in &pairs {
        assert_ne!(a, b);
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let trace = loop {
            let path = format!("/api/v1/trace/{}", urlencode(a));
            let (status, body) = tokio::task::spawn_blocking(move || http_get(http, &path))
                .await
                .unwrap();
            if status == 200 {
                let t: callweave_agent::api::TraceResponse = serde_json::from_str(&body).unwrap();
                if t.legs.len() >= 2 || std::time::Instant::now() > deadline {
                    break t;
                }
            } else {
                assert!(
                    std::time::Instant::now() < deadline,
                    "trace {a}: {status} {body}"
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let ids: Vec<&str> = trace
            .legs
            .iter()
            .filter_map(|l| l.call_id.as_deref())
            .collect();
        assert_eq!(ids.len(), 2, "{a}: {:#?}", trace.legs);
        assert!(
            ids.contains(&a.as_str()) && ids.contains(&b.as_str()),
            "{a}: {ids:?}"
        );
        assert!(
            trace.links.iter().any(|l| l.rule == "header"
                && [&l.a, &l.b].contains(&a)
                && [&l.a, &l.b].contains(&b)),
            "{a}: {:?}",
            trace.links
        );
        // No other call's Call-ID in this trace.
        for (other_a, other_b) in &pairs {
            if other_a != a {
                assert!(
                    !trace
                        .records
                        .iter()
                        .any(|r| r.call_id.as_deref() == Some(other_a.as_str())
                            || r.call_id.as_deref() == Some(other_b.as_str()))
                );
            }
        }
    }
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kamailio_siptrace_over_udp_counts_every_message() {
    kamailio_mirrors_to_agent("udp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kamailio_siptrace_over_tcp_counts_every_message() {
    kamailio_mirrors_to_agent("tcp").await;
}
