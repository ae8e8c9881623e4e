//! Every SIP message of the bundled captures (real traffic from heplify,
//! sngrep and a live FreeSWITCH B2BUA, see `testdata/SOURCES.md`), turned into
//! a record by the agent's converter, stored in the index and read back, must
//! be the record it was: the index keeps a SIP record as its message and what
//! the message cannot say, and parses the message again when it reads it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use callweave_agent::sip_record::SipConverter;
use callweave_core::record::{Record, RecordKind};
use callweave_hep::HepBuilder;
use callweave_pcap::{CaptureReader, Item};
use callweave_store::{RecordSearch, Store, StoreOptions};

const CAPTURES: &[&str] = &[
    "pcap/heplify_erspan_sip_ipv4_udp.pcapng",
    "pcap/heplify_fax_t38_b2bua_reinvite.pcap",
    "pcap/heplify_ipip0_register_invite403.pcap",
    "pcap/heplify_rtp_rtcp_sip_ipv4_udp.pcap",
    "pcap/heplify_sip_ipv4_tcp.pcap",
    "pcap/heplify_sip_ipv4_tcp_fragmented_fs_sbc_port6060.pcap",
    "pcap/heplify_sip_ipv4_tcp_retrans_register.pcap",
    "pcap/heplify_sip_ipv6_udp.pcap",
    "pcap/heplify_sip_sctp_isup_403.pcap",
    "pcap/heplify_sip_tcp_websocket_freeswitch_b2bua.pcap",
    "pcap/sngrep_aaa_register_invite_cancel.pcap",
    "pcap/sngrep_ipip_sip_tcp.pcap",
    "pcap/sngrep_ipv6frag_proxy_prack_update.pcap",
    "freeswitch-live/01-bridged-callid-random/sip.pcap",
    "freeswitch-live/03-bleg-busy-486/sip.pcap",
    // HEP as FreeSWITCH sent it (correlation ids, node names).
    "freeswitch-live/01-bridged-callid-random/hep.pcap",
    "freeswitch-live/03-bleg-busy-486/hep.pcap",
    "hep/hepwireshark_hep3_hepgen_sip_log_rtcp.pcap",
];

/// The records the agent's converter makes of a capture's SIP messages.
fn records_of(rel: &str) -> Vec<Record> {
    let converter = SipConverter::new(&callweave_agent::config::default_correlation_headers());
    let file = std::fs::File::open(support::testdata(rel)).unwrap();
    let peer = "127.0.0.1:9".parse().unwrap();
    let mut out = Vec::new();
    for item in CaptureReader::new(std::io::BufReader::new(file)).unwrap() {
        let packet = match item.unwrap() {
            Item::Sip(msg) => HepBuilder::sip(msg.payload)
                .src(msg.src)
                .dst(msg.dst)
                .ip_proto(msg.transport.ip_protocol())
                .timestamp_micros(msg.ts_micros)
                .capture_id(200)
                .build(),
            Item::Hep(hep) => match callweave_hep::decode(hep.payload) {
                Ok(p) if p.is_sip() => p,
                _ => continue,
            },
            _ => continue,
        };
        if let Ok(sip) = converter.convert(&packet, peer) {
            out.push(Record::new(
                packet.timestamp_micros(),
                "node-1",
                RecordKind::Sip(sip),
            ));
        }
    }
    out
}

fn sort_key(r: &Record) -> (i64, String) {
    let raw = match &r.kind {
        RecordKind::Sip(s) => s.raw.to_string(),
        _ => String::new(),
    };
    (r.ts_micros, raw)
}

#[test]
fn every_captured_sip_message_reads_back_as_the_record_it_was() {
    let mut total = 0;
    let mut from_raw = 0;
    for rel in CAPTURES {
        let mut records = records_of(rel);
        assert!(!records.is_empty(), "{rel}: no SIP message");
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let builder = store.doc_builder();
        for (i, r) in records.iter_mut().enumerate() {
            let RecordKind::Sip(s) = &r.kind else {
                unreachable!()
            };
            from_raw += usize::from(s.fields_from_raw);
            // Both ways of building a document, as the pipeline and the tests do.
            let doc = if i % 2 == 0 {
                builder.record_mut(r, Some("k1")).unwrap()
            } else {
                builder.record(r, Some("k1")).unwrap()
            };
            store.add_prepared(doc).unwrap();
        }
        store.commit().unwrap();
        let hits = store
            .reader()
            .search(&RecordSearch {
                query: "kind:sip".into(),
                since: None,
                until: None,
                limit: 10_000,
            })
            .unwrap();
        let mut read = hits.records;
        assert_eq!(read.len(), records.len(), "{rel}");
        read.sort_by_key(sort_key);
        records.sort_by_key(sort_key);
        for (got, want) in read.iter().zip(&records) {
            assert_eq!(got, want, "{rel}");
            // The API's JSON of the record is the same too.
            assert_eq!(
                serde_json::to_string(got).unwrap(),
                serde_json::to_string(want).unwrap(),
                "{rel}"
            );
        }
        total += records.len();
    }
    // The captures hold 1,025 SIP messages; three are not UTF-8 and are
    // stored whole as JSON.
    assert!(total >= 1_000, "{total} records");
    assert!(
        from_raw * 100 >= total * 95,
        "{from_raw} of {total} from raw"
    );
}
