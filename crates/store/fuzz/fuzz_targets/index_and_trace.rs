//! Arbitrary identifiers, text (SIP message, log line, event headers), node names
//! and timestamps through the whole store, and the text as a search query:
//! nothing panics, an admitted record is found again by each of its ids, and a
//! search answers or says why the query is bad. A SIP record is sometimes made
//! from its message as the listeners make it (stored as the message, parsed
//! again when read).
#![no_main]

use std::sync::{Arc, Mutex, OnceLock};

use callweave_core::record::{
    CallId, ChannelRecord, ChannelUuid, Ident, LogRecord, Record, RecordKind, SipRecord, Transport,
};
use callweave_store::{Store, StoreOptions, TraceOptions};
use libfuzzer_sys::fuzz_target;

struct State {
    _dir: tempfile::TempDir,
    store: Store,
}

fn state() -> &'static Mutex<State> {
    static STATE: OnceLock<Mutex<State>> = OnceLock::new();
    STATE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let opts = StoreOptions { max_open_writers: 2, indexing_threads: 1, ..StoreOptions::default() };
        let mut store = Store::open(dir.path(), opts).unwrap_or_else(|e| panic!("open: {e}"));
        store.set_now(1_795_663_470_536_275);
        Mutex::new(State { _dir: dir, store })
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let ts_raw = i64::from_le_bytes(data[..8].try_into().unwrap_or_default());
    // Mostly near "now" so records are admitted; sometimes anywhere.
    let ts = if data[8] & 1 == 0 { 1_795_663_470_536_275 + (ts_raw % 86_400_000_000) } else { ts_raw };
    let text = String::from_utf8_lossy(&data[9..]);
    let mut parts = text.split('\n');
    let call_id = parts.next().unwrap_or_default().to_owned();
    let uuid = parts.next().unwrap_or_default().to_owned();
    let node = parts.next().unwrap_or_default().to_owned();
    let key = parts.next().map(str::to_owned);
    let body: String = parts.collect::<Vec<_>>().join("\n");

    let mut st = state().lock().unwrap_or_else(|e| e.into_inner());
    let store = &mut st.store;
    let mut sip = SipRecord::new(
        "127.0.0.1:5060".parse().unwrap_or_else(|e| panic!("{e}")),
        "127.0.0.1:5090".parse().unwrap_or_else(|e| panic!("{e}")),
        Transport::Udp,
        CallId::from(call_id.as_str()),
    );
    sip.method = Some(body.chars().take(12).collect());
    sip.request_uri = Some(body.as_str().into());
    sip.raw = Arc::from(body.as_str());
    if data[8] & 4 != 0 {
        // As the listeners make it: the fields from the message when it parses,
        // so the record is stored as its message and parsed again when read.
        let _ = sip.derive_fields(Arc::from(body.as_str()));
    }
    let mut sip = Record::new(ts, node.as_str(), RecordKind::Sip(sip));
    let mut log = LogRecord::new(body.as_str());
    log.uuid = Some(ChannelUuid::from(uuid.as_str()));
    let log = Record::new(ts.wrapping_add(1), node.as_str(), RecordKind::Log(log));
    // An event whose headers are the body's lines ("name: value"), through the
    // event's full-text selection.
    let headers: Vec<(String, String)> = body
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap_or((l, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let event = ChannelRecord {
        event_name: body.chars().take(24).collect(),
        unique_id: Some(ChannelUuid::from(uuid.as_str())),
        headers: headers.into(),
        ..Default::default()
    };
    let event = Record::new(ts.wrapping_add(2), node.as_str(), RecordKind::Channel(event));

    let before = store.stats();
    if data[8] & 2 == 0 {
        store.add_record(&sip, key.as_deref()).unwrap_or_else(|e| panic!("add sip: {e}"));
    } else {
        // The agent's path: the message lent out of the record while it is stored.
        let original = sip.clone();
        let doc = store
            .doc_builder()
            .record_mut(&mut sip, key.as_deref())
            .unwrap_or_else(|e| panic!("build sip: {e}"));
        assert_eq!(sip, original, "record_mut changed the record");
        store.add_prepared_batch(vec![doc]).unwrap_or_else(|e| panic!("add sip: {e}"));
    }
    store.add_record(&log, None).unwrap_or_else(|e| panic!("add log: {e}"));
    store.add_record(&event, None).unwrap_or_else(|e| panic!("add event: {e}"));
    store
        .add_link(&Ident::Call(CallId::from(call_id.as_str())), &Ident::Channel(ChannelUuid::from(uuid.as_str())), &node, ts)
        .unwrap_or_else(|e| panic!("add link: {e}"));
    store.commit().unwrap_or_else(|e| panic!("commit: {e}"));
    let after = store.stats();
    // Every record is admitted (records past retention go to the current partition).
    let admitted = after.records - before.records == 3;

    let reader = store.reader();
    for id in [call_id.as_str(), uuid.as_str()] {
        let t = reader
            .trace(id, TraceOptions { limit: 5, offset: 0, max_ids: 16 })
            .unwrap_or_else(|e| panic!("trace: {e}"));
        if admitted && !id.is_empty() {
            let t = t.unwrap_or_else(|| panic!("admitted id {id:?} not found"));
            assert!(t.total_records >= 1);
            assert!(t.records.windows(2).all(|w| w[0].ts_micros <= w[1].ts_micros));
        }
    }
    let _ = reader.calls(&callweave_store::CallFilter { number: Some(node), ..Default::default() });
    // The body as a search query (user input on /api/v1/search): an answer, or
    // a query error that says why; never a panic or another kind of error.
    let search = callweave_store::RecordSearch { query: body, since: None, until: Some(ts), limit: 3 };
    match reader.search(&search) {
        Ok(hits) => {
            assert!(hits.records.len() <= 3 && hits.records.len() as u64 <= hits.total);
            assert!(hits.records.windows(2).all(|w| w[0].ts_micros >= w[1].ts_micros));
        }
        Err(callweave_store::StoreError::Query { reason }) => assert!(!reason.is_empty()),
        Err(e) => panic!("search: {e}"),
    }
});
