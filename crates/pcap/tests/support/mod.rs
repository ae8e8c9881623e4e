//! Shared helpers for the capture tests.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::PathBuf;

use callweave_pcap::{CaptureReader, Item, SipMessage, Stats};

pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")).join(rel)
}

/// Every item of a capture plus the final stats; panics on a read error.
pub fn extract(rel: &str) -> (Vec<Item>, Stats) {
    let data = std::fs::read(testdata(rel)).unwrap();
    let mut reader = CaptureReader::new(data.as_slice()).unwrap();
    let items: Vec<Item> = reader.by_ref().collect::<Result<_, _>>().unwrap();
    let stats = reader.stats().clone();
    // Every frame lands in exactly one bucket.
    assert_eq!(
        stats.frames,
        stats.frames_emitted + stats.frames_reassembled + stats.skipped.total(),
        "{rel}: frame accounting {stats:?}"
    );
    (items, stats)
}

pub fn sip(items: &[Item]) -> Vec<&SipMessage> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Sip(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// The Call-ID header value (long or compact form), trimmed.
pub fn call_id(payload: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(payload);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    head.lines().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        let name = name.trim();
        (name.eq_ignore_ascii_case("call-id") || name.eq_ignore_ascii_case("i"))
            .then(|| value.trim().to_owned())
    })
}

/// `(frame, Call-ID)` for every SIP message, in capture order.
pub fn frame_call_ids(items: &[Item]) -> Vec<(u64, String)> {
    sip(items)
        .into_iter()
        .map(|m| (m.frame, call_id(&m.payload).unwrap_or_default()))
        .collect()
}
