//! The whole product on real FreeSWITCH output: an agent fed with the HEP that a
//! FreeSWITCH 1.10 B2BUA sent (replayed from its capture), the event-socket
//! stream it wrote (served by an in-process ESL server speaking the inbound
//! protocol), and its log file. Every call's A-leg and B-leg must be joined, no
//! two calls joined, outcomes and hangup causes right, and a trace by the A-leg
//! Call-ID and by the B-leg UUID must show the same call.
//!
//! Data: `testdata/freeswitch-live/` (see its README.md for how it was captured).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Read;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use callweave_agent::api::{SearchResponse, TraceResponse};
use support::*;

/// One row of `calls.tsv`.
#[derive(Debug)]
struct Call {
    a_call_id: String,
    a_uuid: String,
    b_call_id: String,
    b_uuid: String,
    a_cause: String,
    b_cause: String,
}

fn calls_tsv(set: &str) -> Vec<Call> {
    let text =
        std::fs::read_to_string(testdata(&format!("freeswitch-live/{set}/calls.tsv"))).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Call {
                a_call_id: f[0].to_owned(),
                a_uuid: f[1].to_owned(),
                b_call_id: f[2].to_owned(),
                b_uuid: f[3].to_owned(),
                a_cause: f[5].split('/').next().unwrap().to_owned(),
                b_cause: f[6].split('/').next().unwrap().to_owned(),
            }
        })
        .collect()
}

fn get_trace(http: SocketAddr, id: &str) -> (u16, String) {
    let path = format!("/api/v1/trace/{}", urlencode(id));
    http_get(http, &path)
}

/// Polls a trace until it shows `legs` legs (records are searchable after the
/// next index commit, about a second).
async fn wait_trace(http: SocketAddr, id: &str, legs: usize) -> TraceResponse {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let id2 = id.to_owned();
        let (status, body) = tokio::task::spawn_blocking(move || get_trace(http, &id2))
            .await
            .unwrap();
        if status == 200 {
            let t: TraceResponse = serde_json::from_str(&body).unwrap();
            let complete = t.legs.len() >= legs
                && t.legs
                    .iter()
                    .all(|l| l.uuid.is_some() && l.call_id.is_some() && l.end.is_some());
            if complete || Instant::now() > deadline {
                return t;
            }
        } else {
            assert!(Instant::now() < deadline, "trace {id}: {status} {body}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeswitch_b2bua_calls_are_joined_from_hep_esl_and_log() {
    let sets = ["01-bridged-callid-random", "03-bleg-busy-486"];
    let dir = tempfile::tempdir().unwrap();
    // The log of both sets, one after the other, as FreeSWITCH would have written it.
    let log_path = dir.path().join("freeswitch.log");
    let mut log = Vec::new();
    for set in sets {
        std::fs::File::open(testdata(&format!("freeswitch-live/{set}/freeswitch.log")))
            .unwrap()
            .read_to_end(&mut log)
            .unwrap();
    }
    std::fs::write(&log_path, &log).unwrap();
    let esl = fake_esl(&sets);
    let extra = format!(
        "[[esl]]\naddress = \"{esl}\"\npassword = \"ClueCon\"\nformat = \"json\"\n\
         [[fslog]]\npath = {:?}\ntimezone = \"UTC\"\nfrom_beginning = true\n",
        log_path.display().to_string()
    );
    let agent = start_agent(&extra, &dir.path().join("data")).await;
    for set in sets {
        let pcap = testdata(&format!("freeswitch-live/{set}/hep.pcap"));
        let to = format!("udp://{}", agent.hep_udp[0]);
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
    }

    let m = wait_metrics(agent.http, Duration::from_secs(20), |m| {
        sum(m, "callweave_records_total", &["source=\"sip\""]) >= 89.0
            && sum(m, "callweave_records_total", &["source=\"esl\""]) > 0.0
            && sum(m, "callweave_records_total", &["source=\"log\""]) > 0.0
    })
    .await;
    assert_eq!(
        sum(&m, "callweave_records_total", &["source=\"sip\""]),
        89.0,
        "65 + 24 SIP messages"
    );
    assert_eq!(sum(&m, "callweave_esl_connected", &[]), 1.0);

    let mut all_ids: Vec<String> = Vec::new();
    for set in sets {
        for call in calls_tsv(set) {
            all_ids.extend([
                call.a_call_id.clone(),
                call.a_uuid.clone(),
                call.b_call_id.clone(),
                call.b_uuid.clone(),
            ]);
        }
    }
    // SIP 486 responses over every call's trace, for the search below.
    let mut busy_responses = 0;
    for set in sets {
        for call in calls_tsv(set) {
            let t = wait_trace(agent.http, &call.a_call_id, 2).await;
            busy_responses += t
                .records
                .iter()
                .filter(|r| r.kind == "sip" && r.status == Some(486))
                .count();
            assert_eq!(t.call, call.a_call_id, "call key is the A-leg Call-ID");
            assert_eq!(t.legs.len(), 2, "{set} {}: {:#?}", call.a_call_id, t.legs);
            let a = &t.legs[0];
            let b = &t.legs[1];
            assert_eq!(a.role.as_deref(), Some("A"));
            assert_eq!(a.call_id.as_deref(), Some(call.a_call_id.as_str()));
            assert_eq!(a.uuid.as_deref(), Some(call.a_uuid.as_str()));
            assert_eq!(b.role.as_deref(), Some("B"));
            assert_eq!(b.call_id.as_deref(), Some(call.b_call_id.as_str()));
            assert_eq!(b.uuid.as_deref(), Some(call.b_uuid.as_str()));
            assert_eq!(a.hangup_cause.as_deref(), Some(call.a_cause.as_str()));
            assert_eq!(b.hangup_cause.as_deref(), Some(call.b_cause.as_str()));
            let expected_outcome = if set.contains("486") {
                "busy"
            } else {
                "answered"
            };
            assert_eq!(t.outcome, expected_outcome, "{set} {}", call.a_call_id);
            if set.contains("486") {
                assert_eq!(a.status, Some(486));
            } else {
                assert_eq!(a.status, Some(200));
                assert!(a.answer.is_some() && b.answer.is_some());
            }
            for rule in ["channel-sip", "other-leg"] {
                assert!(
                    t.links.iter().any(|l| l.rule == rule),
                    "{rule} link missing: {:?}",
                    t.links
                );
            }
            // Records from every source, in time order.
            for kind in ["sip", "esl", "log"] {
                assert!(t.records.iter().any(|r| r.kind == kind), "no {kind} record");
            }
            assert!(
                t.records
                    .windows(2)
                    .all(|w| w[0].ts_micros <= w[1].ts_micros)
            );
            // No other call's identifiers leak in.
            let mine = [&call.a_call_id, &call.a_uuid, &call.b_call_id, &call.b_uuid];
            for r in &t.records {
                for id in [&r.call_id, &r.uuid].into_iter().flatten() {
                    assert!(
                        mine.contains(&id) || !all_ids.contains(id),
                        "{} leaked into {}",
                        id,
                        call.a_call_id
                    );
                }
            }
            // The same call from the B-leg's side.
            let tb = wait_trace(agent.http, &call.b_uuid, 2).await;
            assert_eq!(tb.call, t.call);
            assert_eq!(tb.legs, t.legs);
        }
    }

    // Search: the same 486 responses, found by field without an identifier,
    // through the CLI (JSON and text) and the API; bad queries are 400s.
    assert!(busy_responses >= 3, "{busy_responses}");
    let url = format!("http://{}", agent.http);
    let (json, text) = tokio::task::spawn_blocking(move || {
        let run = |format: &str| {
            let o = callweave(&[
                "search",
                "kind:sip status:486",
                "--agent",
                &url,
                "--format",
                format,
                "--no-color",
            ]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8(o.stdout).unwrap()
        };
        (run("json"), run("text"))
    })
    .await
    .unwrap();
    let found: SearchResponse = serde_json::from_str(&json).unwrap();
    assert_eq!(found.total, busy_responses as u64);
    assert_eq!(found.records.len(), busy_responses);
    assert!(found.records.iter().all(|r| r.status == Some(486)));
    assert!(
        found
            .records
            .windows(2)
            .all(|w| w[0].ts_micros >= w[1].ts_micros),
        "newest first"
    );
    assert!(
        text.contains(&format!(
            "{busy_responses} of {busy_responses} matching records"
        )),
        "{text}"
    );
    assert_eq!(
        text.matches("486 Busy Here").count(),
        busy_responses,
        "{text}"
    );
    let http = agent.http;
    let bad = tokio::task::spawn_blocking(move || {
        [
            "q=json%3Ax",
            "q=method%3A(INVITE",
            "q=",
            "q=INVITE&limit=0",
            "q=INVITE&since=yesterday",
        ]
        .map(|q| http_get(http, &format!("/api/v1/search?{q}")))
    })
    .await
    .unwrap();
    for (status, body) in bad {
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("\"error\""), "{body}");
    }

    // Unknown ids and bad parameters are clear 4xx errors.
    let (s404, body404, s400) = tokio::task::spawn_blocking(move || {
        let (s, b) = get_trace(http, "no-such-call@nowhere");
        let (s2, _) = http_get(http, "/api/v1/trace/x?limit=99999999");
        (s, b, s2)
    })
    .await
    .unwrap();
    assert_eq!(s404, 404);
    assert!(body404.contains("\"error\""), "{body404}");
    assert_eq!(s400, 400);

    // Every query that reached the index was timed (the 400 never did): two
    // traces per call at least (A-leg and B-leg side), plus the 404.
    let n_calls: usize = sets.iter().map(|s| calls_tsv(s).len()).sum();
    let (_, body) = tokio::task::spawn_blocking(move || http_get(http, "/metrics"))
        .await
        .unwrap();
    let m = parse_metrics(&body);
    let timed = sum(
        &m,
        "callweave_api_query_seconds_count",
        &["query=\"trace\""],
    );
    assert!(timed > (2 * n_calls) as f64, "{timed} traces timed");
    // The 2 ms bucket exists (latency objectives sit there) and, being
    // cumulative, never holds more than the count.
    let bucket_2ms = ["query=\"trace\"", "le=\"0.002\""];
    assert!(
        m.keys().any(|k| {
            k.starts_with("callweave_api_query_seconds_bucket{")
                && bucket_2ms.iter().all(|f| k.contains(f))
        }),
        "no 2 ms bucket"
    );
    let within_2ms = sum(&m, "callweave_api_query_seconds_bucket", &bucket_2ms);
    assert!(within_2ms <= timed, "{within_2ms} of {timed}");
    assert_eq!(
        sum(
            &m,
            "callweave_api_query_seconds_count",
            &["query=\"calls\""]
        ),
        0.0
    );
    // Two searches ran in the index (the CLI's JSON and text) and the two
    // queries that did not parse; the other 400s never reached it.
    assert_eq!(
        sum(
            &m,
            "callweave_api_query_seconds_count",
            &["query=\"search\""]
        ),
        4.0
    );
    agent.shutdown().await;
}
