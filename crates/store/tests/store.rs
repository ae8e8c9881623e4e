//! The store's public API against records built from real FreeSWITCH captures
//! (testdata/freeswitch-live): trace by every kind of id, pagination, restart,
//! retention, routing, an OPTIONS flood and the calls search.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use callweave_core::record::{CorrelationId, Ident, Record, RecordKind, SipRecord};
use callweave_store::{
    CallDoc, CallFilter, RecordSearch, Store, StoreError, StoreOptions, TraceOptions,
    partition_name,
};
use common::*;

const SET01: &str = "01-bridged-callid-random";
const SET03: &str = "03-bleg-busy-486";
const DAY: i64 = 86_400_000_000;
/// Synthetic: the live capture has no HEP correlation chunk, so the tests tag both
/// legs of call 1 the way a capture agent setting chunk 0x11 would.
const CORRELATION: &str = "cw-corr-1-4274";

fn all() -> TraceOptions {
    TraceOptions {
        limit: 10_000,
        ..TraceOptions::default()
    }
}

/// The first real timestamp of set 01 (the first A-leg INVITE).
fn set01_start() -> i64 {
    hep_records(SET01)[0].ts_micros
}

fn open(dir: &std::path::Path) -> Store {
    let mut store = Store::open(dir, StoreOptions::default()).unwrap();
    store.set_now(set01_start());
    store
}

/// Set 01 with call 1's SIP records tagged with [`CORRELATION`].
fn set01_records() -> Vec<Record> {
    let call1 = &calls_tsv(SET01)[0];
    let mut recs = all_records(SET01);
    for r in &mut recs {
        if let RecordKind::Sip(s) = &mut r.kind
            && (s.call_id.as_str() == call1.a_call_id || s.call_id.as_str() == call1.b_call_id)
        {
            s.hep_correlation = Some(CorrelationId::from(CORRELATION));
        }
    }
    recs
}

fn load(store: &mut Store, recs: &[Record]) {
    for r in recs {
        store.add_record(r, None).unwrap();
    }
    for (a, b, rule, ts) in esl_links(recs) {
        store.add_link(&a, &b, rule, ts).unwrap();
    }
    store.commit().unwrap();
}

/// A store in `dir` holding set 01 (records and ESL links, committed), and the
/// records.
fn loaded(dir: &std::path::Path) -> (Store, Vec<Record>) {
    let mut store = open(dir);
    let recs = set01_records();
    load(&mut store, &recs);
    (store, recs)
}

/// What a trace must return: the records mentioning any of `ids`, in time order,
/// equal times in insertion order.
fn expected(recs: &[Record], ids: &[&str]) -> Vec<Record> {
    let mut v: Vec<Record> = recs.iter().filter(|r| mentions(r, ids)).cloned().collect();
    v.sort_by_key(|r| r.ts_micros); // stable
    v
}

#[test]
fn trace_from_a_callid_b_uuid_and_correlation_id_returns_the_whole_call() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let recs = set01_records();
    // The README's counts: 65 HEP packets, 235 ESL frames of which 3 are replies.
    assert_eq!(hep_records(SET01).len(), 65);
    assert_eq!(esl_records(SET01).len(), 232);
    load(&mut store, &recs);

    let rows = calls_tsv(SET01);
    let call1 = &rows[0];
    assert_eq!(call1.a_call_id, "1-4274@127.0.0.1");
    assert_eq!(call1.b_uuid, "f059e147-6396-47f7-a85d-5c55f0c977bc");
    let mut ids = call1.ids();
    ids.push(CORRELATION);
    let want = expected(&recs, &ids);
    let sip = want.iter().filter(|r| r.source() == "sip").count();
    let esl = want.iter().filter(|r| r.source() == "esl").count();
    let log = want.iter().filter(|r| r.source() == "log").count();
    // README: 7 HEP packets on the A-leg and 6 on the B-leg; each leg has at least
    // the 14 channel events listed, and every log line of the call has its UUID.
    assert_eq!(sip, 13);
    assert!(esl >= 28, "{esl}");
    assert!(log > 100, "{log}");

    let reader = store.reader();
    let want_ids: BTreeSet<Ident> = [
        Ident::Call(call1.a_call_id.as_str().into()),
        Ident::Call(call1.b_call_id.as_str().into()),
        Ident::Call(CORRELATION.into()),
        Ident::Channel(call1.a_uuid.as_str().into()),
        Ident::Channel(call1.b_uuid.as_str().into()),
    ]
    .into();
    let mut first = None;
    for start in [
        call1.a_call_id.as_str(),
        call1.b_uuid.as_str(),
        CORRELATION,
        call1.b_call_id.as_str(),
    ] {
        let t = reader.trace(start, all()).unwrap().unwrap();
        assert_eq!(
            t.ids.iter().cloned().collect::<BTreeSet<_>>(),
            want_ids,
            "from {start}"
        );
        assert!(!t.truncated);
        assert_eq!(t.total_records, want.len() as u64, "from {start}");
        assert_eq!(t.records, want, "from {start}");
        assert!(
            t.records
                .windows(2)
                .all(|w| w[0].ts_micros <= w[1].ts_micros)
        );
        // Nothing of the other four calls.
        for other in &rows[1..] {
            assert!(
                !t.records.iter().any(|r| mentions(r, &other.ids())),
                "from {start}"
            );
        }
        // The ESL links of this call, e.g. the A channel's SIP dialog.
        assert!(t.links.iter().any(|l| l.rule == "channel-sip"
            && l.a == Ident::Channel(call1.a_uuid.as_str().into())
            && l.b == Ident::Call(call1.a_call_id.as_str().into())));
        assert!(t.links.iter().any(|l| l.rule == "other-leg"));
        match &first {
            None => first = Some(t),
            Some(f) => assert_eq!(&t, f),
        }
    }

    // Another call, from its B Call-ID: its own records only.
    let call3 = &rows[2];
    let t = reader.trace(&call3.b_call_id, all()).unwrap().unwrap();
    assert_eq!(t.records, expected(&recs, &call3.ids()));
    assert_eq!(t.ids.len(), 4);
}

#[test]
fn links_alone_join_the_two_sip_dialogs() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let recs = hep_records(SET01);
    for r in &recs {
        store.add_record(r, None).unwrap();
    }
    let reader = store.reader();
    let call1 = &calls_tsv(SET01)[0];
    // Not committed yet: invisible.
    assert!(reader.trace(&call1.a_call_id, all()).unwrap().is_none());
    store.commit().unwrap();
    // The B-leg INVITE carries nothing that names the A-leg: one dialog only.
    let t = reader.trace(&call1.a_call_id, all()).unwrap().unwrap();
    assert_eq!(t.total_records, 7);

    let (a_cid, b_cid) = (
        Ident::Call(call1.a_call_id.as_str().into()),
        Ident::Call(call1.b_call_id.as_str().into()),
    );
    let (a_uuid, b_uuid) = (
        Ident::Channel(call1.a_uuid.as_str().into()),
        Ident::Channel(call1.b_uuid.as_str().into()),
    );
    let ts = recs[0].ts_micros;
    store.add_link(&a_uuid, &a_cid, "channel-sip", ts).unwrap();
    store
        .add_link(&b_uuid, &b_cid, "channel-sip", ts + 2)
        .unwrap();
    store
        .add_link(&a_uuid, &b_uuid, "other-leg", ts + 1)
        .unwrap();
    store
        .add_link(&a_uuid, &b_uuid, "other-leg", ts + 5)
        .unwrap(); // a repeat
    // Within the commit interval nothing is committed and the links stay invisible.
    let now = store.now();
    assert!(!store.maybe_commit(now + 10).unwrap());
    assert_eq!(
        reader
            .trace(&call1.a_call_id, all())
            .unwrap()
            .unwrap()
            .total_records,
        7
    );
    assert!(store.maybe_commit(now + 1_000_010).unwrap());
    assert!(!store.maybe_commit(now + 1_000_020).unwrap());

    for start in [&call1.a_call_id, &call1.b_call_id, &call1.a_uuid] {
        let t = reader.trace(start, all()).unwrap().unwrap();
        assert_eq!(t.total_records, 13);
        assert_eq!(t.records, expected(&recs, &call1.ids()));
        assert_eq!(t.ids.len(), 4);
        let rules: Vec<(&str, i64)> = t
            .links
            .iter()
            .map(|l| (l.rule.as_str(), l.ts_micros))
            .collect();
        assert_eq!(
            rules,
            vec![
                ("channel-sip", ts),
                ("other-leg", ts + 1),
                ("channel-sip", ts + 2)
            ]
        );
    }
}

#[test]
fn a_deferred_commit_is_visible_once_its_reload_runs_on_another_thread() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let recs = hep_records(SET01);
    let call1 = &calls_tsv(SET01)[0];
    let reader = store.reader();
    let a_leg = [call1.a_call_id.as_str()];
    // Split inside the A leg's dialog.
    let (split, _) = recs
        .iter()
        .enumerate()
        .filter(|(_, r)| mentions(r, &a_leg))
        .nth(3)
        .unwrap();
    let (first, second) = recs.split_at(split);
    let total = |reader: &callweave_store::StoreReader| {
        reader
            .trace(&call1.a_call_id, all())
            .unwrap()
            .map_or(0, |t| t.total_records as usize)
    };
    let in_first = first.iter().filter(|r| mentions(r, &a_leg)).count();
    let in_second = second.iter().filter(|r| mentions(r, &a_leg)).count();
    assert!(in_first > 0 && in_second > 0, "{in_first} {in_second}");
    assert!(mentions(&first[0], &a_leg));

    // Nothing to commit: nothing to reload.
    assert!(store.commit_deferred().unwrap().is_none());
    for r in first {
        store.add_record(r, None).unwrap();
    }
    // Within the interval nothing is due.
    let now = store.now();
    assert!(store.maybe_commit_deferred(now + 10).unwrap().is_none());
    let mut pending = store
        .maybe_commit_deferred(now + 1_000_010)
        .unwrap()
        .unwrap();
    assert_eq!(pending.commits(), 1);
    // Committed, on disk, but queries do not see it yet.
    assert_eq!(total(&reader), 0);

    for r in second {
        store.add_record(r, None).unwrap();
    }
    let later = store.commit_deferred().unwrap().unwrap();
    // Two commits of the same partition: one reload shows both.
    pending.absorb(later);
    assert_eq!(pending.commits(), 2);
    assert_eq!(total(&reader), 0);
    // Indexing goes on while the reload runs elsewhere.
    let reloading = std::thread::spawn(move || pending.run());
    store.add_record(&first[0], None).unwrap();
    reloading.join().unwrap().unwrap();
    assert_eq!(total(&reader), in_first + in_second);
    // What was added since is not visible until its own commit.
    store.commit().unwrap();
    assert_eq!(total(&reader), in_first + in_second + 1);
}

#[test]
fn pagination_walks_the_call_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = loaded(dir.path());
    let call1 = &calls_tsv(SET01)[0];
    let reader = store.reader();
    let full = reader.trace(&call1.a_uuid, all()).unwrap().unwrap();
    let mut paged = Vec::new();
    let mut offset = 0;
    loop {
        let t = reader
            .trace(
                &call1.a_uuid,
                TraceOptions {
                    limit: 7,
                    offset,
                    max_ids: 256,
                },
            )
            .unwrap()
            .unwrap();
        assert_eq!(t.total_records, full.total_records);
        assert!(t.records.len() <= 7);
        if t.records.is_empty() {
            break;
        }
        offset += t.records.len();
        paged.extend(t.records);
    }
    assert_eq!(paged, full.records);
    assert_eq!(offset as u64, full.total_records);
    // limit 0 counts without loading.
    let t = reader
        .trace(
            &call1.a_uuid,
            TraceOptions {
                limit: 0,
                offset: 0,
                max_ids: 256,
            },
        )
        .unwrap()
        .unwrap();
    assert!(t.records.is_empty());
    assert_eq!(t.total_records, full.total_records);
    // max_ids bounds the expansion and says so.
    let t = reader
        .trace(
            &call1.a_call_id,
            TraceOptions {
                limit: 10,
                offset: 0,
                max_ids: 2,
            },
        )
        .unwrap()
        .unwrap();
    assert!(t.truncated);
    assert!(t.ids.len() <= 2);
}

#[test]
fn unknown_ids_are_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let reader = store.reader();
    assert!(reader.trace("1-4274@127.0.0.1", all()).unwrap().is_none()); // empty store
    load(&mut store, &hep_records(SET01));
    assert!(reader.trace("1-4274@127.0.0.2", all()).unwrap().is_none());
    assert!(reader.trace("", all()).unwrap().is_none());
    assert!(reader.trace("1-4274", all()).unwrap().is_none()); // raw terms: no partial match
    assert!(reader.trace("1-4274@127.0.0.1", all()).unwrap().is_some());
}

#[test]
fn state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let recs = set01_records();
    let call1 = calls_tsv(SET01)[0].clone();
    let before = {
        let mut store = open(dir.path());
        load(&mut store, &recs);
        // Added but not committed: the drop commits it.
        store.add_record(&recs[0], None).unwrap();
        store.reader().trace(&call1.b_uuid, all()).unwrap().unwrap()
    };
    assert!(
        std::fs::metadata(dir.path().join("2026-11-26"))
            .unwrap()
            .is_dir()
    );

    let mut store = open(dir.path());
    assert_eq!(store.partitions(), vec!["2026-11-26".to_owned()]);
    let after = store.reader().trace(&call1.b_uuid, all()).unwrap().unwrap();
    assert_eq!(after.total_records, before.total_records + 1);
    let mut want = before.records.clone();
    let at = want.iter().position(|r| r == &recs[0]).unwrap();
    want.insert(at + 1, recs[0].clone()); // the repeat sorts right after the original
    assert_eq!(after.records, want);
    assert_eq!(after.ids, before.ids);

    // Insertion order keeps breaking ties after a restart.
    let mut dup = recs[0].clone();
    dup.node = Arc::from("fs-2");
    store.add_record(&dup, None).unwrap();
    store.close().unwrap();
    let store = open(dir.path());
    let t = store
        .reader()
        .trace(&call1.a_call_id, all())
        .unwrap()
        .unwrap();
    let copies: Vec<&str> = t
        .records
        .iter()
        .filter(|r| r.ts_micros == recs[0].ts_micros)
        .map(|r| &*r.node)
        .collect();
    assert_eq!(copies, vec!["fs-1", "fs-1", "fs-2"]);
}

#[test]
fn retention_deletes_old_partitions_and_clamps_expired_records() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        retention: Duration::from_secs(2 * 86_400),
        ..StoreOptions::default()
    };
    let mut store = Store::open(dir.path(), opts.clone()).unwrap();
    let start = set01_start();
    store.set_now(start);
    let rows = calls_tsv(SET01);
    let recs = hep_records(SET01);
    // Call 1 a day earlier than it happened, the rest as they were.
    for r in &recs {
        let mut r = r.clone();
        if mentions(&r, &rows[0].ids()) {
            r.ts_micros -= DAY;
        }
        store.add_record(&r, None).unwrap();
    }
    store.commit().unwrap();
    assert_eq!(
        store.partitions(),
        vec!["2026-11-25".to_owned(), "2026-11-26".to_owned()]
    );
    let reader = store.reader();
    assert_eq!(
        reader
            .trace(&rows[0].a_call_id, all())
            .unwrap()
            .unwrap()
            .total_records,
        7
    );

    // 2026-11-25 ends at 11-26T00:00; with 2 days' retention it goes at 11-28T00:00.
    let midnight = start - start.rem_euclid(DAY);
    assert!(
        store
            .apply_retention(midnight + 2 * DAY - 1)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.apply_retention(midnight + 2 * DAY).unwrap(),
        vec!["2026-11-25".to_owned()]
    );
    assert!(!dir.path().join("2026-11-25").exists());
    assert!(dir.path().join("2026-11-26").exists());
    assert!(reader.trace(&rows[0].a_call_id, all()).unwrap().is_none());
    assert_eq!(
        reader
            .trace(&rows[1].a_call_id, all())
            .unwrap()
            .unwrap()
            .total_records,
        7
    );
    assert_eq!(store.stats().partitions_deleted, 1);

    // Now a record of 11-25 is past retention: it lands in the current partition
    // (still traceable, keeping its time), and no old partition comes back.
    store.add_record(&recs[0], None).unwrap();
    let mut old = recs[0].clone();
    old.ts_micros -= DAY;
    store.add_record(&old, None).unwrap();
    assert_eq!(store.stats().clamped_past, 1);
    store.commit().unwrap();
    // 11-28 is the store's current day: the clamped record went there.
    assert_eq!(
        store.partitions(),
        vec!["2026-11-26".to_owned(), "2026-11-28".to_owned()]
    );
    assert!(!dir.path().join("2026-11-25").exists());
    let clamped = reader.trace(&rows[0].a_call_id, all()).unwrap().unwrap();
    assert!(clamped.records.iter().any(|r| r.ts_micros == old.ts_micros));

    // After a restart the remaining partition is still there.
    drop(store);
    let store = Store::open(dir.path(), opts).unwrap();
    assert_eq!(
        store.partitions(),
        vec!["2026-11-26".to_owned(), "2026-11-28".to_owned()]
    );
}

#[test]
fn far_future_records_are_clamped_and_writers_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        max_open_writers: 1,
        ..StoreOptions::default()
    };
    let mut store = Store::open(dir.path(), opts).unwrap();
    let start = set01_start();
    store.set_now(start);
    let recs = hep_records(SET01);
    let rows = calls_tsv(SET01);
    // Calls 1..3 on three consecutive days ending today, call 4 a year ahead.
    for r in &recs {
        let mut r = r.clone();
        for (i, shift) in [(0, -2 * DAY), (1, -DAY), (3, 365 * DAY)] {
            if mentions(&r, &rows[i].ids()) {
                r.ts_micros += shift;
            }
        }
        store.add_record(&r, None).unwrap();
    }
    store.commit().unwrap();
    let stats = store.stats();
    assert_eq!(stats.clamped_future, 13); // both legs of call 4
    assert!(stats.writers_evicted >= 2, "{stats:?}");
    assert_eq!(
        store.partitions(),
        vec!["2026-11-24", "2026-11-25", "2026-11-26"]
    );
    let reader = store.reader();
    for (i, row) in rows.iter().enumerate() {
        let t = reader.trace(&row.a_call_id, all()).unwrap().unwrap();
        assert_eq!(t.total_records, 7, "call {i}");
    }
    let future = reader.trace(&rows[3].a_call_id, all()).unwrap().unwrap();
    assert_eq!(
        future.records[0].ts_micros,
        recs.iter()
            .find(|r| mentions(r, &[&rows[3].a_call_id]))
            .unwrap()
            .ts_micros
            + 365 * DAY
    );
}

#[test]
fn options_flood_on_one_call_id_pages_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    // A real SIP 200 OK to OPTIONS (heplify-server test capture), replayed 20 000
    // times on one Call-ID, 1 ms apart, on the live set's day.
    let bytes = std::fs::read(testdata("hep/heplifyserver_hep3_sip200ok_options.bin")).unwrap();
    let hep = decode_hep3_stream(&bytes);
    assert_eq!(hep.len(), 1);
    let template = sip_record(&hep[0]);
    let RecordKind::Sip(s) = &template.kind else {
        panic!()
    };
    assert_eq!(s.status, Some(200));
    assert_eq!(s.cseq.as_ref().unwrap().method, "OPTIONS");
    let call_id = s.call_id.as_str().to_owned();
    let base = set01_start();
    const N: i64 = 20_000;
    for i in 0..N {
        let mut r = template.clone();
        r.ts_micros = base + (N - 1 - i) * 1000; // inserted newest first
        store.add_record(&r, None).unwrap();
    }
    load(&mut store, &hep_records(SET01)); // an unrelated call beside it
    let reader = store.reader();

    let t = reader
        .trace(
            &call_id,
            TraceOptions {
                limit: 100,
                offset: 0,
                max_ids: 256,
            },
        )
        .unwrap()
        .unwrap();
    assert_eq!(t.total_records, N as u64);
    assert_eq!(t.records.len(), 100);
    assert_eq!(t.ids, vec![Ident::Call(call_id.as_str().into())]);
    assert!(t.links.is_empty());
    let ts: Vec<i64> = t.records.iter().map(|r| r.ts_micros).collect();
    assert_eq!(ts, (0..100).map(|i| base + i * 1000).collect::<Vec<_>>());

    let last = reader
        .trace(
            &call_id,
            TraceOptions {
                limit: 100,
                offset: 19_950,
                max_ids: 256,
            },
        )
        .unwrap()
        .unwrap();
    assert_eq!(last.records.len(), 50);
    assert_eq!(last.records[49].ts_micros, base + (N - 1) * 1000);
    let past = reader
        .trace(
            &call_id,
            TraceOptions {
                limit: 100,
                offset: 20_000,
                max_ids: 256,
            },
        )
        .unwrap()
        .unwrap();
    assert!(past.records.is_empty());
    assert_eq!(past.total_records, N as u64);
}

/// Call summaries of sets 01 (answered) and 03 (busy) from their ESL events.
fn call_docs() -> Vec<CallDoc> {
    let mut out = Vec::new();
    for (set, outcome) in [(SET01, "answered"), (SET03, "busy")] {
        let hep = hep_records(set);
        let esl = esl_records(set);
        for row in calls_tsv(set) {
            let start = hep
                .iter()
                .filter(|r| mentions(r, &[&row.a_call_id]))
                .map(|r| r.ts_micros)
                .min()
                .unwrap();
            let (mut from, mut to, mut end, mut node) = (None, None, None, None);
            for r in &esl {
                let RecordKind::Channel(c) = &r.kind else {
                    continue;
                };
                if c.unique_id.as_ref().map(|u| u.as_str()) != Some(row.a_uuid.as_str()) {
                    continue;
                }
                from = from.or(c.caller_number.clone());
                to = to.or(c.destination_number.clone());
                node = node.or(c.hostname.clone());
                if c.event_name == "CHANNEL_HANGUP_COMPLETE" {
                    end = Some(r.ts_micros);
                }
            }
            out.push(CallDoc {
                call_key: row.a_call_id.clone(),
                start_micros: start,
                end_micros: end,
                from,
                to,
                outcome: outcome.into(),
                nodes: vec![node.unwrap()],
                legs: 2,
                json: serde_json::json!({ "legs": [row.a_call_id, row.b_call_id] }).to_string(),
            });
        }
    }
    out
}

#[test]
fn calls_search_by_number_outcome_time_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let docs = call_docs();
    assert_eq!(docs.len(), 8);
    assert_eq!(docs[0].from.as_deref(), Some("sipp"));
    assert_eq!(docs[0].to.as_deref(), Some("1000"));
    assert_eq!(docs[0].nodes, vec!["vm".to_owned()]);
    assert!(docs[0].end_micros.unwrap() - docs[0].start_micros > 1_900_000); // ~2 s calls
    for d in &docs {
        store.add_call_summary(d).unwrap();
    }
    store.commit().unwrap();
    let reader = store.reader();

    let mut newest_first = docs.clone();
    newest_first.sort_by_key(|d| std::cmp::Reverse(d.start_micros));
    let all_calls = reader.calls(&CallFilter::default()).unwrap();
    assert_eq!(all_calls, newest_first);

    let by = |f: CallFilter| reader.calls(&f).unwrap();
    assert_eq!(
        by(CallFilter {
            number: Some("1000".into()),
            ..Default::default()
        })
        .len(),
        8
    );
    assert_eq!(
        by(CallFilter {
            number: Some("sipp".into()),
            ..Default::default()
        })
        .len(),
        8
    );
    assert!(
        by(CallFilter {
            number: Some("100".into()),
            ..Default::default()
        })
        .is_empty()
    );
    let busy = by(CallFilter {
        outcome: Some("busy".into()),
        ..Default::default()
    });
    assert_eq!(
        busy.iter().map(|c| c.call_key.as_str()).collect::<Vec<_>>(),
        vec!["3-5905@127.0.0.1", "2-5905@127.0.0.1", "1-5905@127.0.0.1"]
    );
    assert_eq!(
        by(CallFilter {
            node: Some("vm".into()),
            ..Default::default()
        })
        .len(),
        8
    );
    assert!(
        by(CallFilter {
            node: Some("fs-2".into()),
            ..Default::default()
        })
        .is_empty()
    );

    // Set 03 started a minute after set 01.
    let set03_start = docs[5].start_micros;
    let later = by(CallFilter {
        since: Some(set03_start),
        ..Default::default()
    });
    assert_eq!(later.len(), 3);
    let earlier = by(CallFilter {
        until: Some(set03_start - 1),
        ..Default::default()
    });
    assert_eq!(earlier.len(), 5);
    let window = by(CallFilter {
        since: Some(docs[1].start_micros),
        until: Some(docs[3].start_micros),
        ..Default::default()
    });
    assert_eq!(
        window
            .iter()
            .map(|c| c.call_key.as_str())
            .collect::<Vec<_>>(),
        vec!["4-4274@127.0.0.1", "3-4274@127.0.0.1", "2-4274@127.0.0.1"]
    );
    let two = by(CallFilter {
        limit: 2,
        ..Default::default()
    });
    assert_eq!(two, newest_first[..2].to_vec());
    let combined = by(CallFilter {
        number: Some("1000".into()),
        outcome: Some("answered".into()),
        limit: 3,
        ..Default::default()
    });
    assert_eq!(
        combined
            .iter()
            .map(|c| c.call_key.as_str())
            .collect::<Vec<_>>(),
        vec!["5-4274@127.0.0.1", "4-4274@127.0.0.1", "3-4274@127.0.0.1"]
    );

    // A later summary of call 1 replaces the first, also across a restart.
    let mut updated = docs[0].clone();
    updated.outcome = "failed".into();
    updated.legs = 3;
    store.add_call_summary(&updated).unwrap();
    store.close().unwrap();
    let store = open(dir.path());
    let reader = store.reader();
    let failed = reader
        .calls(&CallFilter {
            outcome: Some("failed".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(failed, vec![updated]);
    assert_eq!(
        reader
            .calls(&CallFilter {
                outcome: Some("answered".into()),
                ..Default::default()
            })
            .unwrap()
            .len(),
        4
    );
    assert_eq!(reader.calls(&CallFilter::default()).unwrap().len(), 8);
}

#[test]
fn reader_is_shared_across_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (store, recs) = loaded(dir.path());
    let reader = store.reader();
    let rows = calls_tsv(SET01);
    std::thread::scope(|s| {
        for row in &rows {
            let reader = reader.clone();
            let recs = &recs;
            s.spawn(move || {
                let t = reader.trace(&row.b_uuid, all()).unwrap().unwrap();
                assert!(t.records.iter().all(|r| mentions(
                    r,
                    &[
                        row.a_call_id.as_str(),
                        row.a_uuid.as_str(),
                        row.b_call_id.as_str(),
                        row.b_uuid.as_str(),
                        CORRELATION
                    ]
                )));
                assert!(t.total_records as usize >= expected(recs, &row.ids()).len());
            });
        }
    });
}

/// Documents built on one thread and added in batches (what the agent does,
/// SIP messages stored beside the JSON) index exactly what one-by-one adds do:
/// same traces, same records byte for byte, same order, and a call
/// summary re-added in a later batch replaces its first copy, also across the
/// two partitions a batch can span.
#[test]
fn prepared_batches_index_like_single_adds() {
    let recs = set01_records();
    let one = tempfile::tempdir().unwrap();
    let mut single = open(one.path());
    load(&mut single, &recs);

    let many = tempfile::tempdir().unwrap();
    let mut batched = open(many.path());
    let builder = batched.doc_builder();
    // What the agent does: the SIP message stored beside the record's JSON.
    let mut lent = recs.clone();
    let mut docs: Vec<_> = lent
        .iter_mut()
        .map(|r| builder.record_mut(r, None).unwrap())
        .collect();
    assert_eq!(lent, recs, "records are unchanged by record_mut");
    docs.extend(
        esl_links(&recs)
            .into_iter()
            .filter_map(|(a, b, rule, ts)| builder.link(&a, &b, rule, ts)),
    );
    let n = docs.len();
    let mut rest = docs.into_iter();
    loop {
        let chunk: Vec<_> = rest.by_ref().take(100).collect();
        if chunk.is_empty() {
            break;
        }
        batched.add_prepared_batch(chunk).unwrap();
    }
    batched.commit().unwrap();
    assert_eq!(
        batched.stats().records + batched.stats().links,
        n as u64,
        "every document counted"
    );

    let call1 = &calls_tsv(SET01)[0];
    for id in [call1.a_call_id.as_str(), call1.b_uuid.as_str(), CORRELATION] {
        let want = single.reader().trace(id, all()).unwrap().unwrap();
        let got = batched.reader().trace(id, all()).unwrap().unwrap();
        assert_eq!(got, want, "from {id}");
    }

    // A summary first written in today's partition, then replaced from a batch
    // whose other document goes to the next day's.
    let mut summary = call_docs().remove(0);
    let day2 = {
        let mut r = recs[0].clone();
        r.ts_micros += DAY;
        r
    };
    batched.set_now(day2.ts_micros);
    batched
        .add_prepared_batch(vec![builder.call(&summary).unwrap().unwrap()])
        .unwrap();
    summary.outcome = "busy".into();
    batched
        .add_prepared_batch(vec![
            builder.record(&day2, None).unwrap(),
            builder.call(&summary).unwrap().unwrap(),
        ])
        .unwrap();
    batched.commit().unwrap();
    assert_eq!(batched.partitions().len(), 2);
    let calls = batched.reader().calls(&CallFilter::default()).unwrap();
    assert_eq!(calls, vec![summary]);
}

/// A batch of summaries replaces the earlier summaries of all its calls at
/// once, and a call summarised twice within one batch keeps the later one;
/// calls the batch does not mention keep theirs.
#[test]
fn a_batch_of_summaries_replaces_the_earlier_ones_of_its_calls() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let builder = store.doc_builder();
    let docs = call_docs();
    let batch = |docs: &[CallDoc]| -> Vec<_> {
        docs.iter()
            .map(|d| builder.call(d).unwrap().unwrap())
            .collect()
    };
    store.add_prepared_batch(batch(&docs)).unwrap();
    store.commit().unwrap();

    // Every call but the last again, failed; the first a third time, cancelled.
    let mut again: Vec<CallDoc> = docs[..7]
        .iter()
        .cloned()
        .map(|mut d| {
            d.outcome = "failed".into();
            d
        })
        .collect();
    let mut third = docs[0].clone();
    third.outcome = "cancelled".into();
    third.legs = 3;
    again.push(third.clone());
    store.add_prepared_batch(batch(&again)).unwrap();
    store.commit().unwrap();

    // By outcome, so that a copy left behind would be found: the listing
    // without a filter shows only the newest summary of a call anyway.
    let by_outcome = |outcome: &str| {
        let mut got = store
            .reader()
            .calls(&CallFilter {
                outcome: Some(outcome.into()),
                ..Default::default()
            })
            .unwrap();
        got.sort_by(|a, b| a.call_key.cmp(&b.call_key));
        got
    };
    let mut failed = again[1..7].to_vec();
    failed.sort_by(|a, b| a.call_key.cmp(&b.call_key));
    assert_eq!(docs[7].outcome, "busy");
    assert_eq!(by_outcome("failed"), failed);
    assert_eq!(by_outcome("cancelled"), vec![third]);
    assert_eq!(by_outcome("busy"), vec![docs[7].clone()]);
    assert_eq!(by_outcome("answered"), Vec::<CallDoc>::new());
    assert_eq!(
        store.stats().calls,
        16,
        "every summary handed over is counted"
    );
}

/// A run whose partition cannot be opened is lost with its error; the batch's
/// other runs are indexed where they belong, and none of the lost run's
/// documents end up in another partition.
#[test]
fn a_run_whose_partition_cannot_open_goes_nowhere_else() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let recs = set01_records();
    let day1 = recs[0].clone();
    let mut day2 = recs[1].clone();
    day2.ts_micros += DAY;
    let call = day1.identifiers()[0].clone();
    assert!(day2.identifiers().contains(&call), "the same call");
    store.set_now(day2.ts_micros);
    // A file where the next day's partition directory would go.
    let start = |ts: i64| ts.div_euclid(DAY) * DAY;
    std::fs::write(
        dir.path().join(partition_name(start(day2.ts_micros))),
        b"not a partition",
    )
    .unwrap();
    let builder = store.doc_builder();
    let added = store.add_prepared_batch(vec![
        builder.record(&day2, None).unwrap(),
        builder.record(&day1, None).unwrap(),
    ]);
    assert!(added.is_err(), "the failed run's error is returned");
    store.commit().unwrap();
    assert_eq!(
        store.partitions(),
        vec![partition_name(start(day1.ts_micros))]
    );
    let trace = store.reader().trace(call.as_str(), all()).unwrap().unwrap();
    assert_eq!(trace.records, vec![day1]);
}

/// Without full-text indexing a record is still found by every identifier and
/// comes back whole: the traces equal those of a full-text store.
#[test]
fn traces_do_not_need_full_text() {
    let recs = set01_records();
    let with = tempfile::tempdir().unwrap();
    let mut full = open(with.path());
    load(&mut full, &recs);
    let without = tempfile::tempdir().unwrap();
    let mut lean = Store::open(
        without.path(),
        StoreOptions {
            full_text: false,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    lean.set_now(set01_start());
    load(&mut lean, &recs);
    for row in calls_tsv(SET01) {
        for id in row.ids() {
            let want = full.reader().trace(id, all()).unwrap().unwrap();
            let got = lean.reader().trace(id, all()).unwrap().unwrap();
            assert!(got.total_records > 0, "{id}");
            assert_eq!(got, want, "from {id}");
        }
    }
}

/// The words tantivy's default tokenizer makes of `text`: runs of alphanumeric
/// characters, lower-cased, longer than 40 bytes dropped.
fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.len() < 40)
        .map(str::to_lowercase)
        .collect()
}

#[test]
fn search_finds_records_by_words_fields_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let (store, recs) = loaded(dir.path());
    let reader = store.reader();
    let search = |query: &str, since: Option<i64>, limit: usize| {
        reader
            .search(&RecordSearch {
                query: query.into(),
                since,
                until: None,
                limit,
            })
            .unwrap()
    };

    // Fields: every SIP INVITE (requests and their responses, by CSeq).
    let invites = recs
        .iter()
        .filter(|r| matches!(&r.kind, RecordKind::Sip(s) if s.cseq_method() == Some("INVITE")))
        .count();
    assert!(invites > 10);
    let hits = search("method:INVITE kind:sip", None, 10_000);
    assert_eq!(hits.total, invites as u64);
    assert_eq!(hits.records.len(), invites);
    assert!(
        hits.records
            .windows(2)
            .all(|w| w[0].ts_micros >= w[1].ts_micros),
        "newest first"
    );
    let ok = recs
        .iter()
        .filter(|r| matches!(&r.kind, RecordKind::Sip(s) if s.status == Some(200)))
        .count();
    assert_eq!(search("status:200 kind:sip", None, 10_000).total, ok as u64);

    // Words, case-insensitive, all of them by default, in log lines.
    let new_channel: Vec<&Record> = recs
        .iter()
        .filter(|r| match &r.kind {
            RecordKind::Log(l) => {
                let w = words(&l.text);
                w.contains("new") && w.contains("channel")
            }
            _ => false,
        })
        .collect();
    assert!(new_channel.len() >= 10, "{}", new_channel.len());
    let hits = search("kind:log NEW Channel", None, 10_000);
    assert_eq!(hits.total, new_channel.len() as u64);
    let either = search("kind:log (new OR channel)", None, 10_000).total;
    assert!(either > hits.total);

    // A time range and a page.
    let mut times: Vec<i64> = new_channel.iter().map(|r| r.ts_micros).collect();
    times.sort_unstable();
    let since = times[times.len() / 2];
    let later = times.iter().filter(|&&t| t >= since).count();
    let hits = search("kind:log new channel", Some(since), 3);
    assert_eq!(hits.total, later as u64);
    assert_eq!(hits.records.len(), 3);
    assert_eq!(hits.records[0].ts_micros, *times.last().unwrap());
    assert!(hits.records.iter().all(|r| r.ts_micros >= since));

    // An identifier, exactly.
    let call1 = &calls_tsv(SET01)[0];
    let quoted = format!("id:\"{}\"", call1.a_call_id);
    assert_eq!(
        search(&quoted, None, 10_000).total,
        expected(&recs, &[&call1.a_call_id]).len() as u64
    );

    // Bad queries are errors that say why, not empty results.
    for bad in [
        "",
        "status:abc",
        "\"new chan\"*",
        "json:x",
        "method:(INVITE",
        "nosuchfield:1",
    ] {
        match reader.search(&RecordSearch {
            query: bad.into(),
            since: None,
            until: None,
            limit: 10,
        }) {
            Err(StoreError::Query { reason }) => {
                assert!(!reason.is_empty());
                if bad.ends_with('*') {
                    assert!(reason.contains("phrase prefix"), "{reason}");
                }
            }
            other => panic!("{bad:?}: expected a query error, got {other:?}"),
        }
    }
}

/// Words as operators type them (crates/store/src/tokenize.rs): an address,
/// a URI and a user agent, checked against the messages' own text.
#[test]
fn search_takes_addresses_uris_and_user_agents_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (store, recs) = loaded(dir.path());
    let reader = store.reader();
    let total = |query: &str| {
        reader
            .search(&RecordSearch {
                query: query.into(),
                since: None,
                until: None,
                limit: 1,
            })
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .total
    };
    let sip: Vec<&SipRecord> = recs
        .iter()
        .filter_map(|r| match &r.kind {
            RecordKind::Sip(s) => Some(s),
            _ => None,
        })
        .collect();
    let raw_has = |needle: &str| sip.iter().filter(|s| s.raw.contains(needle)).count() as u64;

    // A quoted URI is all of its words (the index has no positions): every
    // message with the URI (the A-leg's request line and To header), and the
    // others with those words.
    let uri = raw_has("sip:1000@127.0.0.1:5090");
    assert!(uri > 10, "{uri}");
    let quoted = total("kind:sip \"sip:1000@127.0.0.1:5090\"");
    assert!(quoted >= uri, "{quoted} < {uri}");
    assert_eq!(total("kind:sip sip 1000 127.0.0.1 5090"), quoted);
    assert!(total("kind:sip sip 1000 127.0.0.1 5091") < quoted);
    // FreeSWITCH's User-Agent, by the product's name alone or as written.
    let ua = raw_has("User-Agent: FreeSWITCH-mod_sofia/");
    assert!(ua > 10, "{ua}");
    assert_eq!(total("kind:sip freeswitch"), ua);
    assert_eq!(total("kind:sip FreeSWITCH-mod_sofia"), ua);
    // An address is one word: it matches as typed, quoted or not, and a part
    // of it matches nothing.
    let local = total("127.0.0.1");
    assert!(local >= sip.len() as u64, "{local}");
    assert_eq!(total("\"127.0.0.1\""), local);
    assert_eq!(total("127.0"), 0);
    assert_eq!(total("127"), 0);
    // `mod_sofia` (in log lines and events) is a word, `mod` is not.
    assert!(total("mod_sofia") > 0);
    assert_eq!(total("mod"), 0);
}
