//! Heap allocations per message on the agent's hot path, counted.
//!
//! dhat's heap accounting (this test binary only) counts the allocations made
//! while the real FreeSWITCH B2BUA capture
//! (`testdata/freeswitch-live/01-bridged-callid-random/hep_stream.bin`: 65
//! HEPv3 datagrams from sofia-sip) goes through each stage.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;

use callweave_agent::sip_record::SipConverter;
use callweave_core::record::{Record, RecordKind, SipRecord};

// dhat's allocator counts every allocation of the process (the workspace
// forbids the unsafe code of a hand-written one). One test in this binary, so
// no other test thread allocates beside it; the stages run one after another.
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Heap blocks allocated inside `f`.
fn counted<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = dhat::HeapStats::get().total_blocks;
    let out = f();
    (out, dhat::HeapStats::get().total_blocks - before)
}

const SET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/freeswitch-live/01-bridged-callid-random"
);

fn datagrams() -> Vec<callweave_hep::Bytes> {
    let mut framer = callweave_hep::TcpFramer::new();
    framer.push(&std::fs::read(format!("{SET}/hep_stream.bin")).unwrap());
    let mut out = Vec::new();
    while let Some(bytes) = framer.next_packet().unwrap() {
        out.push(bytes);
    }
    assert_eq!(out.len(), 65, "the set's README counts 65 HEP packets");
    out
}

/// What the HEP listener does with a datagram: decode, parse, record (its
/// node shared, as the listener's is).
fn receive(conv: &SipConverter, node: &Arc<str>, bytes: callweave_hep::Bytes) -> Record {
    let peer = SocketAddr::from(([127, 0, 0, 1], 9064));
    let packet = callweave_hep::decode(bytes).unwrap();
    let sip = conv.convert(&packet, peer).unwrap();
    Record::new(
        packet.timestamp_micros(),
        Arc::clone(node),
        RecordKind::Sip(sip),
    )
}

/// The strings of a SIP record held on the heap: values longer than an inline
/// string holds (24 bytes), and SDP lists longer than their inline room.
fn heap_held(s: &SipRecord) -> u64 {
    let strings = [
        s.method.as_ref(),
        s.request_uri.as_ref(),
        s.reason.as_ref(),
        s.from.display.as_ref(),
        s.from.user.as_ref(),
        Some(&s.from.uri),
        s.from.tag.as_ref(),
        s.to.display.as_ref(),
        s.to.user.as_ref(),
        Some(&s.to.uri),
        s.to.tag.as_ref(),
        s.cseq.as_ref().map(|c| &c.method),
        s.via_branch.as_ref(),
        s.user_agent.as_ref(),
        s.reason_header.as_ref(),
        s.pai.as_ref(),
        Some(&s.call_id.0),
        s.correlation.as_ref().map(|c| &c.0),
        s.hep_correlation.as_ref().map(|c| &c.0),
    ];
    let mut n = strings
        .iter()
        .flatten()
        .filter(|v| v.is_heap_allocated())
        .count() as u64;
    if let Some(sdp) = &s.sdp {
        n += u64::from(sdp.media.spilled());
        n += u64::from(
            sdp.connection
                .as_ref()
                .is_some_and(|c| c.is_heap_allocated()),
        );
        for m in &sdp.media {
            n += u64::from(m.codecs.spilled());
            n += u64::from(m.kind.is_heap_allocated());
            n += m.codecs.iter().filter(|c| c.is_heap_allocated()).count() as u64;
        }
    }
    n
}

/// HEP decode, SIP parse (SDP included) and the record: one allocation for the
/// message's own text, and one for each value too long to be held inline — none
/// for the parser's work, the SDP's lists, or a value that fits.
fn the_receive_path_allocates_the_message_and_only_long_values() {
    let conv = SipConverter::new(&["X-CID".to_owned()]);
    let node: Arc<str> = Arc::from("fs-1");
    let (mut total, mut long_values, mut with_sdp, mut only_text) = (0, 0, 0, 0);
    for bytes in datagrams() {
        let (rec, n) = counted(|| receive(&conv, &node, bytes));
        let RecordKind::Sip(s) = &rec.kind else {
            unreachable!("a SIP record")
        };
        let long = heap_held(s);
        assert_eq!(
            n,
            1 + long,
            "{:?} {:?}: {n} allocations, {long} long values",
            s.method,
            s.status
        );
        total += n;
        long_values += long;
        with_sdp += u64::from(s.sdp.is_some());
        only_text += u64::from(n == 1);
    }
    eprintln!(
        "receive path: {total} allocations for 65 messages ({with_sdp} with SDP): \
         65 message copies, {long_values} values longer than 24 bytes; \
         {only_text} messages allocated their text alone"
    );
    assert!(with_sdp >= 10, "the set's INVITEs and 200s carry SDP");
    assert!(only_text >= 10, "SIPp's short values fit inline");
}

/// After a record is received: correlation allocates nothing for a call it
/// knows, and the index document and the Loki entry a bounded handful each.
/// A document: tantivy's buffer of values and its list of them, which grows
/// twice (no tantivy API reserves it); the text, JSON and identifiers are
/// written in the builder's own buffers, kept from one document to the next.
/// A Loki entry: the metadata values' buffer and the shared handle its slices
/// take, the list of pairs the protobuf message holds, the line's owner.
fn the_pipeline_allocates_a_bounded_handful_per_record() {
    let conv = SipConverter::new(&["X-CID".to_owned()]);
    let node: Arc<str> = Arc::from("fs-1");
    let records: Vec<Record> = datagrams()
        .into_iter()
        .map(|bytes| receive(&conv, &node, bytes))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let store =
        callweave_store::Store::open(dir.path(), callweave_store::StoreOptions::default()).unwrap();
    let docs = store.doc_builder();
    // The builder keeps the buffers a document is built in: the first
    // documents grow them, the rest reuse them.
    for r in &records {
        docs.record_mut(&mut r.clone(), None).unwrap();
    }
    let mut cor = callweave_core::Correlator::new(callweave_core::Config::default());
    let mut known = std::collections::HashSet::new();
    let (mut correlate, mut doc, mut loki, mut known_calls) = (0, 0, 0, 0);
    for mut r in records {
        let now = r.ts_micros;
        let (ing, a) = counted(|| cor.ingest(&r, now));
        let call = ing.call.clone().expect("every message names its call");
        if known.contains(&call) && ing.new_links.is_empty() {
            assert_eq!(a, 0, "correlating a record of a known call");
            known_calls += 1;
        }
        known.insert(call.clone());
        let key = Some(call.as_str());
        let (_doc, b) = counted(|| docs.record_mut(&mut r, key).unwrap());
        assert!(b <= 4, "{b} allocations for an index document");
        let (_entry, c) = counted(|| callweave_loki::entry_for(&r, key));
        assert!(c <= 4, "{c} allocations for a Loki entry");
        (correlate, doc, loki) = (correlate + a, doc + b, loki + c);
    }
    eprintln!(
        "pipeline, 65 messages: correlation {correlate} allocations ({known_calls} \
         records of known calls: none), index documents {doc}, Loki entries {loki}"
    );
    assert!(
        known_calls >= 50,
        "most records belong to a call already seen"
    );
}

#[test]
fn allocations_per_message_on_the_hot_path() {
    let _profiler = dhat::Profiler::builder().testing().build();
    the_receive_path_allocates_the_message_and_only_long_values();
    the_pipeline_allocates_a_bounded_handful_per_record();
}
