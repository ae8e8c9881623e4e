//! The contract: any arrival order and any duplication of the same records give the
//! same graph (components, links, call keys) and the same call summaries.
#![allow(clippy::unwrap_used)]

mod common;

use callweave_core::{
    CSeq, CallId, CallSummary, ChannelRecord, Config, CorrelationId, Correlator, LogRecord, Record,
    RecordKind, SipRecord, Transport,
};
use proptest::prelude::*;

fn snapshot(records: &[Record]) -> Vec<CallSummary> {
    let mut c = Correlator::new(Config::default());
    for r in records {
        c.ingest(r, 0);
    }
    let mut calls: Vec<CallSummary> = c.calls().collect();
    calls.sort_by(|a, b| a.key.cmp(&b.key));
    calls
}

fn real_records() -> Vec<Record> {
    let dir = "freeswitch-live/01-bridged-callid-random";
    let mut v = common::esl_json_records(&common::testdata(&format!("{dir}/esl_json.raw")));
    v.extend(common::hep_records(
        &common::testdata(&format!("{dir}/hep_stream.bin")),
        "vm",
    ));
    v.extend(common::log_records(
        &common::testdata(&format!("{dir}/freeswitch.log")),
        "vm",
    ));
    v
}

/// Small identifier pools so that random records collide, link and merge a lot,
/// including Call-IDs equal to UUIDs.
fn synthetic() -> impl Strategy<Value = Record> {
    let id = || prop::sample::select(vec!["a", "b", "c", "d", "e", "f", "g", "h"]);
    let ts = 0i64..50;
    let sip = (
        ts.clone(),
        id(),
        prop::option::of(id()),
        prop::option::of(id()),
        0usize..6,
    )
        .prop_map(|(ts, cid, corr, hep, what)| {
            let mut s = SipRecord::new(
                "10.0.0.1:5060".parse().unwrap(),
                "10.0.0.2:5060".parse().unwrap(),
                Transport::Udp,
                CallId::from(cid),
            );
            let (method, status) = [
                (Some("INVITE"), None),
                (Some("BYE"), None),
                (Some("CANCEL"), None),
                (None, Some(180)),
                (None, Some(200)),
                (None, Some(486)),
            ][what];
            s.method = method.map(Into::into);
            s.status = status;
            s.cseq = Some(CSeq {
                seq: 1,
                method: method.unwrap_or("INVITE").into(),
            });
            s.correlation = corr.map(CallId::from);
            s.hep_correlation = hep.map(CorrelationId::from);
            Record::new(ts, "n1", RecordKind::Sip(s))
        });
    let events = prop::sample::select(vec![
        "CHANNEL_CREATE",
        "CHANNEL_PROGRESS",
        "CHANNEL_ANSWER",
        "CHANNEL_BRIDGE",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_STATE",
    ]);
    let chan = (
        ts.clone(),
        events,
        id(),
        prop::option::of(id()),
        prop::option::of(id()),
        prop::option::of(id()),
        prop::option::of((id(), id())),
        prop::option::of(prop::sample::select(vec![
            "USER_BUSY",
            "NORMAL_CLEARING",
            "NO_ANSWER",
        ])),
        any::<bool>(),
    )
        .prop_map(|(ts, ev, u, cid, ol, ccu, bridge, cause, inbound)| {
            let ch = ChannelRecord {
                event_name: ev.into(),
                unique_id: Some(format!("u{u}").into()),
                sip_call_id: cid.map(CallId::from),
                other_leg_unique_id: ol.map(|o| format!("u{o}").into()),
                channel_call_uuid: ccu.map(|o| format!("u{o}").into()),
                bridge_a: bridge.map(|(a, _)| format!("u{a}").into()),
                bridge_b: bridge.map(|(_, b)| b.into()),
                hangup_cause: cause.map(Into::into),
                direction: Some(if inbound {
                    callweave_core::Direction::Inbound
                } else {
                    callweave_core::Direction::Outbound
                }),
                caller_number: Some(format!("10{u}")),
                ..Default::default()
            };
            Record::new(
                ts,
                if ts % 2 == 0 { "n1" } else { "n2" },
                RecordKind::Channel(ch),
            )
        });
    let log = (ts, id(), prop::option::of(id()), prop::option::of(id())).prop_map(
        |(ts, u, hint, peer)| {
            let mut l = LogRecord::new("line");
            l.uuid = Some(format!("u{u}").into());
            l.call_id_hint = hint.map(CallId::from);
            l.peer_uuid = peer.map(|p| format!("u{p}").into());
            Record::new(ts, "n1", RecordKind::Log(l))
        },
    );
    prop_oneof![sip, chan, log]
}

/// A permutation of `0..n` with some indices repeated.
fn order(n: usize) -> impl Strategy<Value = Vec<usize>> {
    (
        Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
        prop::collection::vec(0..n.max(1), 0..n / 2 + 1),
    )
        .prop_map(|(mut perm, dups)| {
            for (i, d) in dups.into_iter().enumerate() {
                let at = (i * 7919) % (perm.len() + 1);
                perm.insert(at, d);
            }
            perm
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn synthetic_records_any_order_any_duplicates(
        (records, idx) in prop::collection::vec(synthetic(), 1..40).prop_flat_map(|r| {
            let n = r.len();
            (Just(r), order(n))
        })
    ) {
        let base = snapshot(&records);
        let shuffled: Vec<Record> = idx.iter().map(|&i| records[i].clone()).collect();
        prop_assert_eq!(snapshot(&shuffled), base);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn real_set01_any_order_any_duplicates(idx in order(1199)) {
        let records = real_records();
        prop_assert_eq!(records.len(), 1199);
        let base = snapshot(&records);
        prop_assert_eq!(base.len(), 5);
        let shuffled: Vec<Record> = idx.iter().map(|&i| records[i].clone()).collect();
        prop_assert_eq!(snapshot(&shuffled), base);
    }
}
