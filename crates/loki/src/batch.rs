//! Batching: entries grouped per stream until the batch reaches its size or age
//! limit. Sans-IO: the caller passes `now`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use prost::Message;

use crate::entry::{Entry, StreamKey};
use crate::proto::{PushRequest, StreamAdapter};

/// Loki answers `500 ResourceExhausted` above 4 MiB of uncompressed protobuf (its
/// internal gRPC limit, PROTOCOLS.md §6). Keep a margin below it for what the
/// distributor adds when it forwards.
pub const HARD_MAX_BATCH_BYTES: usize = 4 * 1024 * 1024 - 64 * 1024;

/// Default batch size: 1 MiB of uncompressed protobuf.
pub const DEFAULT_BATCH_MAX_BYTES: usize = 1024 * 1024;

/// A batch ready to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadyBatch {
    /// The request, streams sorted by selector, entries by timestamp.
    pub request: PushRequest,
    /// Number of entries.
    pub entries: usize,
}

/// What [`Batcher::push`] did.
#[derive(Debug)]
pub enum Pushed {
    /// Added; nothing to send yet.
    Added,
    /// The entry did not fit: here is the previous batch to send; the entry now
    /// starts the next one.
    Flushed(ReadyBatch),
    /// Bigger than any batch may be ([`HARD_MAX_BATCH_BYTES`]): dropped.
    TooLarge,
}

/// Groups entries into per-stream batches bounded by size; reports when they age out.
#[derive(Debug)]
pub struct Batcher {
    max_bytes: usize,
    streams: HashMap<StreamKey, (String, Vec<Entry>)>,
    bytes: usize,
    entries: usize,
    oldest: Option<Instant>,
}

fn varint_len(v: usize) -> usize {
    prost::encoding::encoded_len_varint(v as u64)
}

/// Bytes one length-delimited field of `len` bytes takes (1-byte tag).
fn field_len(len: usize) -> usize {
    1 + varint_len(len) + len
}

impl Batcher {
    /// A batcher whose batches stay at or under `max_bytes` of protobuf (clamped to
    /// [`HARD_MAX_BATCH_BYTES`]).
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes: max_bytes.clamp(1, HARD_MAX_BATCH_BYTES),
            streams: HashMap::new(),
            bytes: 0,
            entries: 0,
            oldest: None,
        }
    }

    /// Upper bound of the encoded size of the batch so far.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Entries waiting.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// When the current batch must be sent by age, if anything waits.
    pub fn deadline(&self, max_age: Duration) -> Option<Instant> {
        self.oldest.map(|t| t + max_age)
    }

    /// Adds an entry. A stream's selector costs its bytes once per batch; the
    /// estimate over-counts the stream wrapper's varint by at most a few bytes, so
    /// the encoded batch never exceeds the limit.
    pub fn push(&mut self, key: StreamKey, entry: Entry, now: Instant) -> Pushed {
        let entry_cost = field_len(entry.encoded_len());
        let new_stream_cost = |key: &StreamKey| {
            // stream wrapper tag + up to 5 varint bytes, labels field.
            let sel = key.selector();
            let cost = 1 + 5 + field_len(sel.len());
            (sel, cost)
        };
        let stream_cost = if self.streams.contains_key(&key) {
            0
        } else {
            new_stream_cost(&key).1
        };
        if entry_cost + stream_cost + 6 > HARD_MAX_BATCH_BYTES {
            return Pushed::TooLarge;
        }
        let mut flushed = None;
        if !self.is_empty() && self.bytes + entry_cost + stream_cost > self.max_bytes {
            flushed = self.take();
        }
        let slot = self.streams.entry(key).or_insert_with_key(|k| {
            let (sel, cost) = new_stream_cost(k);
            self.bytes += cost;
            (sel, Vec::new())
        });
        slot.1.push(entry);
        self.bytes += entry_cost;
        self.entries += 1;
        self.oldest.get_or_insert(now);
        match flushed {
            Some(b) => Pushed::Flushed(b),
            None => Pushed::Added,
        }
    }

    /// Takes the current batch (entries sorted by time within each stream).
    pub fn take(&mut self) -> Option<ReadyBatch> {
        if self.is_empty() {
            return None;
        }
        let mut streams: Vec<StreamAdapter> = self
            .streams
            .drain()
            .map(|(_, (labels, mut entries))| {
                // Stable: records with equal timestamps keep arrival order.
                entries.sort_by_key(|e| e.timestamp.map(|t| (t.seconds, t.nanos)));
                StreamAdapter {
                    labels,
                    entries,
                    hash: 0,
                }
            })
            .collect();
        streams.sort_by(|a, b| a.labels.cmp(&b.labels));
        let entries = self.entries;
        self.bytes = 0;
        self.entries = 0;
        self.oldest = None;
        Some(ReadyBatch {
            request: PushRequest {
                streams,
                format: String::new(),
            },
            entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Timestamp;
    use std::sync::Arc;

    fn entry(ts: i64, line: &str) -> Entry {
        Entry {
            timestamp: Some(Timestamp::from_micros(ts)),
            line: bytes::Bytes::copy_from_slice(line.as_bytes()),
            structured_metadata: vec![],
            parsed: vec![],
        }
    }

    fn key(node: &str, source: &'static str) -> StreamKey {
        StreamKey {
            node: Arc::from(node),
            source,
        }
    }

    #[test]
    fn size_limit_holds_for_the_encoded_request() {
        let now = Instant::now();
        let mut b = Batcher::new(10_000);
        let mut batches = Vec::new();
        for i in 0..1000 {
            let k = key(if i % 3 == 0 { "a" } else { "b" }, "sip");
            if let Pushed::Flushed(r) = b.push(k, entry(i, &"x".repeat(100)), now) {
                batches.push(r);
            }
        }
        batches.extend(b.take());
        assert!(batches.len() > 5);
        let total: usize = batches.iter().map(|r| r.entries).sum();
        assert_eq!(total, 1000);
        for (i, r) in batches.iter().enumerate() {
            let len = r.request.encoded_len();
            assert!(len <= 10_000, "{len}");
            // All but the remainder are cut by size, so nearly full.
            if i + 1 < batches.len() {
                assert!(len > 9_500, "batches should be nearly full: {len}");
            }
        }
    }

    #[test]
    fn entries_sorted_within_stream_and_age_deadline() {
        let t0 = Instant::now();
        let mut b = Batcher::new(DEFAULT_BATCH_MAX_BYTES);
        assert_eq!(b.deadline(Duration::from_secs(1)), None);
        for (ts, line) in [(30, "c"), (10, "a"), (20, "b"), (10, "a2")] {
            assert!(matches!(
                b.push(key("n", "esl"), entry(ts, line), t0),
                Pushed::Added
            ));
        }
        assert_eq!(
            b.deadline(Duration::from_secs(1)),
            Some(t0 + Duration::from_secs(1))
        );
        let r = b.take().unwrap();
        let lines: Vec<_> = r.request.streams[0]
            .entries
            .iter()
            .map(|e| e.line_str())
            .collect();
        assert_eq!(lines, ["a", "a2", "b", "c"]);
        assert!(b.take().is_none());
        assert_eq!(b.deadline(Duration::from_secs(1)), None);
    }

    #[test]
    fn oversize_entry_dropped() {
        let mut b = Batcher::new(DEFAULT_BATCH_MAX_BYTES);
        let big = "x".repeat(HARD_MAX_BATCH_BYTES);
        assert!(matches!(
            b.push(key("n", "log"), entry(1, &big), Instant::now()),
            Pushed::TooLarge
        ));
        assert!(b.is_empty());
    }
}
