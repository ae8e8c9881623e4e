//! The trace query client against the fake Loki (it answers `query_range` from
//! what the push client really pushed; see `fake_loki`), over records from the
//! real FreeSWITCH B2BUA capture split across two nodes.
#![allow(clippy::unwrap_used)]

mod fake_loki;
mod fixtures;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use callweave_core::record::{Record, RecordKind};
use callweave_loki::{LokiConfig, LokiMetrics, LokiPusher, QueryClient, QueryConfig, fetch_trace};
use fake_loki::FakeLoki;
use tokio::sync::{mpsc, watch};

/// Pushes `recs` through a real pusher and waits until Loki has them.
async fn push(fake: &FakeLoki, recs: &[Record]) {
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = LokiConfig::new(fake.url(), spool.path());
    cfg.batch_max_age = Duration::from_millis(50);
    let metrics = LokiMetrics::unregistered();
    let pusher = LokiPusher::new(cfg, metrics.clone()).unwrap();
    let (tx, rx) = mpsc::channel(64);
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(pusher.run(rx, stopped));
    for r in recs {
        tx.send(vec![(r.clone(), None)]).await.unwrap();
    }
    let t0 = Instant::now();
    while metrics.entries_sent() < recs.len() as u64 {
        assert!(t0.elapsed() < Duration::from_secs(20), "push timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap();
}

/// Two agents: the SBC node captured the A-leg SIP, the FreeSWITCH node its ESL
/// events and the B-leg SIP.
async fn two_nodes() -> (FakeLoki, Vec<Record>, Vec<Record>) {
    let fake = FakeLoki::start().await;
    let sbc = fixtures::a_leg_sip("sbc-1");
    let mut fs = fixtures::esl("fs-1");
    fs.extend(fixtures::b_leg_sip("fs-1"));
    push(&fake, &sbc).await;
    push(&fake, &fs).await;
    (fake, sbc, fs)
}

fn window(recs: &[Record]) -> (i64, i64) {
    let min = recs.iter().map(|r| r.ts_micros).min().unwrap();
    let max = recs.iter().map(|r| r.ts_micros).max().unwrap();
    ((min - 60_000_000) * 1000, (max + 60_000_000) * 1000)
}

#[tokio::test]
async fn trace_expands_ids_across_two_nodes_with_pagination() {
    let (fake, sbc, fs) = two_nodes().await;
    let all: Vec<Record> = sbc.iter().chain(&fs).cloned().collect();
    let (start, end) = window(&all);
    let calls = fixtures::calls();
    let call = &calls[0];

    let mut cfg = QueryConfig::new(fake.url());
    cfg.page_limit = 7;
    cfg.tenant = Some("team-voip".into());
    let client = QueryClient::new(cfg).unwrap();
    let trace = client.trace(&call.a_call_id, start, end).await.unwrap();
    assert!(!trace.truncated);

    // Every identifier of the call (calls.tsv is the capture's ground truth), and
    // nothing of the other four calls.
    let ids: BTreeSet<&str> = trace.identifiers.iter().map(String::as_str).collect();
    for id in [&call.a_call_id, &call.a_uuid, &call.b_call_id, &call.b_uuid] {
        assert!(ids.contains(id.as_str()), "{id} not followed: {ids:?}");
    }
    for other in &calls[1..] {
        for id in [
            &other.a_call_id,
            &other.a_uuid,
            &other.b_call_id,
            &other.b_uuid,
        ] {
            assert!(!ids.contains(id.as_str()), "{id} leaked in");
        }
    }
    assert_eq!(trace.identifiers[0], call.a_call_id);

    // Exactly the call's records, from both nodes.
    let is_call = |r: &Record| match &r.kind {
        RecordKind::Sip(s) => {
            [&call.a_call_id, &call.b_call_id].contains(&&s.call_id.as_str().to_owned())
        }
        RecordKind::Channel(c) => c
            .unique_id
            .as_ref()
            .is_some_and(|u| [&call.a_uuid, &call.b_uuid].contains(&&u.as_str().to_owned())),
        RecordKind::Log(_) => false,
    };
    let want: BTreeSet<(String, i64, String)> = all
        .iter()
        .filter(|r| is_call(r))
        .map(|r| {
            let (_, e) = callweave_loki::entry_for(r, None);
            (r.node.to_string(), e.ts_nanos(), e.line_str().to_owned())
        })
        .collect();
    let got: Vec<(String, i64, String)> = trace
        .entries
        .iter()
        .map(|e| (e.node().unwrap().to_owned(), e.ts_nanos, e.line.clone()))
        .collect();
    assert_eq!(got.len(), want.len(), "no duplicates across ids and pages");
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), want);
    let nodes: BTreeSet<&str> = trace.entries.iter().filter_map(|e| e.node()).collect();
    assert_eq!(nodes, BTreeSet::from(["fs-1", "sbc-1"]));
    let a_leg_sip = trace
        .entries
        .iter()
        .filter(|e| e.node() == Some("sbc-1"))
        .count();
    let expected_a = sbc.iter().filter(|r| is_call(r)).count();
    assert_eq!(a_leg_sip, expected_a);
    assert!(
        expected_a >= 6,
        "INVITE, 100, 180, 200, ACK, BYE, 200: {expected_a}"
    );
    assert!(
        trace
            .entries
            .windows(2)
            .all(|w| w[0].ts_nanos <= w[1].ts_nanos)
    );

    // What went over the wire: the categorize-labels flag, forward, the page
    // limit, the tenant, LogQL filtering structured metadata; pagination moved
    // the start forward.
    let queries = fake.queries();
    assert!(
        queries
            .iter()
            .all(|q| q.encoding_flags.as_deref() == Some("categorize-labels"))
    );
    assert!(
        queries
            .iter()
            .all(|q| q.tenant.as_deref() == Some("team-voip"))
    );
    assert!(queries.iter().all(|q| q.params["direction"] == "forward"));
    // Pages of 7, widened (14, 28, …) where more than 7 ESL events share one
    // microsecond, as they do in this capture.
    let limits: BTreeSet<u32> = queries
        .iter()
        .map(|q| q.params["limit"].parse().unwrap())
        .collect();
    assert!(limits.contains(&7) && limits.contains(&14), "{limits:?}");
    assert!(
        limits
            .iter()
            .all(|l| l % 7 == 0 && (l / 7).is_power_of_two())
    );
    assert_eq!(
        queries[0].params["query"],
        format!(
            r#"{{job="callweave"}} | call_id="{0}" or uuid="{0}" or other_leg_uuid="{0}" or call="{0}" or correlation="{0}""#,
            call.a_call_id
        )
    );
    assert!(
        queries
            .iter()
            .any(|q| q.params["start"] != start.to_string()),
        "no second page"
    );

    // Metadata came back categorized, not as stream labels.
    let bridge = trace
        .entries
        .iter()
        .find(|e| e.metadata("event") == Some("CHANNEL_BRIDGE"))
        .unwrap();
    assert_eq!(bridge.metadata("uuid"), Some(call.a_uuid.as_str()));
    assert_eq!(
        bridge.metadata("other_leg_uuid"),
        Some(call.b_uuid.as_str())
    );
    assert!(!bridge.labels.contains_key("uuid"));
    assert_eq!(bridge.labels["service_name"], "callweave");

    // Entries turn back into the records that were pushed.
    for e in &trace.entries {
        let back = e.to_record().unwrap();
        let orig = all
            .iter()
            .find(|r| {
                r.node == back.node && r.ts_micros == back.ts_micros && {
                    let (_, oe) = callweave_loki::entry_for(r, None);
                    oe.line == e.line
                }
            })
            .unwrap();
        match (&orig.kind, &back.kind) {
            (RecordKind::Sip(a), RecordKind::Sip(b)) => {
                assert_eq!(
                    (a.src, a.dst, &a.call_id, &a.raw),
                    (b.src, b.dst, &b.call_id, &b.raw)
                );
                assert_eq!(
                    (&a.method, a.status, &a.cseq),
                    (&b.method, b.status, &b.cseq)
                );
                assert_eq!(a.request_uri, b.request_uri);
            }
            (RecordKind::Channel(a), RecordKind::Channel(b)) => {
                // The fixture fills these fields; to_record fills more from headers.
                assert_eq!(a.headers, b.headers, "headers in wire order");
                assert_eq!(
                    (&a.event_name, a.sequence, a.direction),
                    (&b.event_name, b.sequence, b.direction)
                );
                assert_eq!(
                    (
                        &a.unique_id,
                        &a.other_leg_unique_id,
                        &a.channel_call_uuid,
                        &a.sip_call_id
                    ),
                    (
                        &b.unique_id,
                        &b.other_leg_unique_id,
                        &b.channel_call_uuid,
                        &b.sip_call_id
                    )
                );
                assert_eq!((&a.bridge_a, &a.bridge_b), (&b.bridge_a, &b.bridge_b));
                assert_eq!(
                    (&a.channel_name, &a.answer_state),
                    (&b.channel_name, &b.answer_state)
                );
                assert_eq!((&a.core_uuid, &a.hostname), (&b.core_uuid, &b.hostname));
            }
            other => panic!("kind changed: {other:?}"),
        }
    }

    // An older Loki (or a proxy dropping the header) answers flattened: same trace.
    fake.ignore_encoding_flags(true);
    let flat = client.trace(&call.a_call_id, start, end).await.unwrap();
    assert_eq!(flat, trace);
}

#[tokio::test]
async fn trace_from_a_b_leg_uuid_finds_the_a_leg_on_the_other_node() {
    let (fake, sbc, fs) = two_nodes().await;
    let all: Vec<Record> = sbc.iter().chain(&fs).cloned().collect();
    let (start, end) = window(&all);
    let call = &fixtures::calls()[2];
    let entries = fetch_trace(&fake.url(), None, &call.b_uuid, start, end)
        .await
        .unwrap();
    let a_leg: Vec<_> = entries
        .iter()
        .filter(|e| e.node() == Some("sbc-1"))
        .collect();
    assert!(!a_leg.is_empty());
    assert!(
        a_leg
            .iter()
            .all(|e| e.metadata("call_id") == Some(call.a_call_id.as_str()))
    );
    assert!(a_leg.iter().any(|e| e.line.starts_with("INVITE ")));
    assert!(
        entries
            .iter()
            .any(|e| e.metadata("call_id") == Some(call.b_call_id.as_str())
                && e.node() == Some("fs-1")
                && e.labels["source"] == "sip")
    );
    let q = fake.queries();
    assert!(q.iter().all(|q| q.tenant.is_none()));
}

#[tokio::test]
async fn an_unknown_id_finds_nothing_and_errors_are_reported() {
    let (fake, sbc, _) = two_nodes().await;
    let (start, end) = window(&sbc);
    let none = fetch_trace(&fake.url(), None, "no-such-call@example", start, end)
        .await
        .unwrap();
    assert!(none.is_empty());
    fake.stop();
    let err = fetch_trace(&fake.url(), None, "x", start, end)
        .await
        .unwrap_err();
    assert!(matches!(err, callweave_loki::Error::Http(_)), "{err}");
}
