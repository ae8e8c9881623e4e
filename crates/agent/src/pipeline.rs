//! The record pipeline: a dedicated thread that owns the correlator, a
//! second one, the index writer, that owns the local index, and a third that
//! makes each commit visible to queries.
//!
//! Blocking work (tantivy) stays off the async runtime. The pipeline thread
//! correlates each record, builds its index document and hands the record (moved)
//! to Loki; the index thread adds documents and commits about every second. A
//! commit takes a few hundred milliseconds under load; on its own thread it no
//! longer stalls correlation and Loki, and the bounded queue between the two
//! absorbs it. Both threads wait with a timeout so periodic work (commits, call
//! expiry, retention) happens even when traffic stops. After a commit, opening
//! and warming the new segments for queries (a few hundred milliseconds after a
//! large merge) is left to the reload thread, so that it adds nothing to the
//! commit's stall of indexing.
//!
//! Neither thread needs the async runtime: the pipeline polls the async record
//! channel with a waker that unparks it ([`recv_many_timeout`]), so it keeps
//! draining (and never panics on a vanished timer) if the runtime is torn down
//! first, as when a shutdown runs past its bound.

use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use callweave_core::graph::{CallKey, CallSummary, Correlator};
use callweave_core::leg::Role;
use callweave_core::record::Record;
use callweave_store::{CallDoc, DocBuilder, PendingReload, PreparedDoc, Store};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tokio::sync::mpsc;

use crate::fslog_source::now_micros;
use crate::metrics::{Metrics, SourceLabel};

/// Records handled per wake-up.
const BATCH: usize = 1024;
/// Records for Loki are handed over once this many are gathered…
const LOKI_HANDOFF: usize = 512;
/// …or once the oldest has waited this long (or at the next wake-up after it).
const LOKI_HANDOFF_AGE: Duration = Duration::from_millis(50);
/// Longest wait for records before doing periodic work.
const TICK: Duration = Duration::from_millis(200);
/// How often calls are expired from memory.
const EXPIRE_EVERY: Duration = Duration::from_secs(1);
/// How often retention is applied to the index.
const RETENTION_EVERY: Duration = Duration::from_secs(600);
/// Batches of documents waiting for the index thread, each of about
/// [`INDEX_HANDOFF`] documents (fewer when they waited [`INDEX_HANDOFF_AGE`]):
/// about 64 Ki documents, a second at 60k records/s and 0.6 s at 110k, more
/// than a commit's stall of indexing (0.16–0.26 s at 110k, some 0.45 s). With
/// 32 Ki, 110k records/s held for 150 s lost 7,245 and 18,816 records in
/// those stalls; with 64 Ki, 77 and 2,556, for up to 30 MiB more memory
/// (BENCHMARKS.md). When full, the pipeline thread waits, its own queue fills
/// and the newest records are dropped there (`stage="pipeline"`), counted.
pub const INDEX_QUEUE_BATCHES: usize = 64;
/// Documents are handed to the index thread once this many are gathered…
const INDEX_HANDOFF: usize = 1024;
/// …or once the oldest has waited this long (or at the next wake-up after it).
/// Handing over every wake-up's few documents at high rates filled the queue's
/// 32 slots with a few thousand documents, 50 ms of buffer: a commit's stall
/// then overflowed into drops.
const INDEX_HANDOFF_AGE: Duration = Duration::from_millis(20);

/// Items a hand-off holds room for beyond its `max`: what one record adds (its
/// document and its new links' documents) after the hand-off became full.
const HANDOFF_SLACK: usize = 16;

/// The queue into the index thread.
pub fn index_queue() -> (Sender<Vec<PreparedDoc>>, Receiver<Vec<PreparedDoc>>) {
    crossbeam_channel::bounded(INDEX_QUEUE_BATCHES)
}

/// Items gathered for another thread, handed over in one message once
/// `max` are waiting or the oldest has waited `age`: one wake-up of the
/// receiver per hand-off instead of per item.
#[derive(Debug)]
pub struct Handoff<T> {
    items: Vec<T>,
    since: Option<Instant>,
    max: usize,
    age: Duration,
}

impl<T> Handoff<T> {
    /// Gathers up to about `max` items, or `age` worth of them.
    fn new(max: usize, age: Duration) -> Self {
        Self {
            items: Vec::new(),
            since: None,
            max,
            age,
        }
    }

    /// Documents for the index thread: [`INDEX_HANDOFF`] or [`INDEX_HANDOFF_AGE`].
    pub fn for_index() -> Self {
        Self::new(INDEX_HANDOFF, INDEX_HANDOFF_AGE)
    }

    /// Records for Loki: [`LOKI_HANDOFF`] or [`LOKI_HANDOFF_AGE`].
    pub fn for_loki() -> Self {
        Self::new(LOKI_HANDOFF, LOKI_HANDOFF_AGE)
    }

    fn push(&mut self, item: T) {
        self.since.get_or_insert_with(Instant::now);
        self.items.push(item);
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether `max` items are waiting.
    fn is_full(&self) -> bool {
        self.items.len() >= self.max
    }

    /// The items gathered, when there are `max` of them, the oldest has waited
    /// `age`, or `now` is set (and there is at least one).
    fn take(&mut self, now: bool) -> Option<Vec<T>> {
        let due = self.since.is_some_and(|t| t.elapsed() >= self.age);
        if self.items.is_empty() || !(now || due || self.items.len() >= self.max) {
            return None;
        }
        self.since = None;
        // Room for the few items (a record's links) pushed past `max` before
        // the pipeline hands the batch over, so the vector never grows.
        Some(std::mem::replace(
            &mut self.items,
            Vec::with_capacity(self.max + HANDOFF_SLACK),
        ))
    }
}

/// Wakes a thread parked in [`recv_many_timeout`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Moves up to `max` queued records into `buf`, waiting at most `wait` for the
/// first: `Some(n)` with `n` records, `Some(0)` once every sender is gone and
/// the queue is empty, `None` if the time ran out. Blocks the calling thread
/// without any async runtime: `waker` must unpark this thread (see [`Unpark`]);
/// park/unpark keeps a wake that lands between the poll and the park.
pub(crate) fn recv_many_timeout<T>(
    rx: &mut mpsc::Receiver<T>,
    buf: &mut Vec<T>,
    max: usize,
    wait: Duration,
    waker: &Waker,
) -> Option<usize> {
    let deadline = Instant::now() + wait;
    let mut cx = Context::from_waker(waker);
    loop {
        if let Poll::Ready(n) = rx.poll_recv_many(&mut cx, buf, max) {
            return Some(n);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        std::thread::park_timeout(left);
    }
}

/// Everything the pipeline thread owns.
pub struct Pipeline {
    /// Incoming records.
    pub rx: mpsc::Receiver<Record>,
    /// Pipeline metrics.
    pub metrics: Metrics,
    /// The correlator.
    pub correlator: Correlator,
    /// Builds index documents for the index thread's store.
    pub docs: DocBuilder,
    /// Documents for the index thread, one hand-off per message.
    pub index: Sender<Vec<PreparedDoc>>,
    /// Documents gathered for the index thread.
    pub pending: Handoff<PreparedDoc>,
    /// The index thread, joined once the pipeline has drained into it.
    pub index_thread: std::thread::JoinHandle<()>,
    /// Records for Loki, with their call key; `None` without `[loki]`.
    pub loki: Option<mpsc::Sender<callweave_loki::Records>>,
    /// Records gathered for Loki, with their call key.
    pub loki_pending: Handoff<(Record, Option<Arc<str>>)>,
    /// This agent's node name: the Loki `node` label. A SIP record's own node
    /// comes from the HEP packet (chunk 0x13 or the capture id), which a sender
    /// chooses, so it never becomes a label.
    pub node: Arc<str>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("queued", &self.rx.len())
            .field("index_queued", &self.index.len())
            .field("active_calls", &self.correlator.active_calls())
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Runs until every sender is gone, then flushes calls and waits for the
    /// index thread to commit.
    pub fn run(mut self) {
        let mut batch = Vec::with_capacity(BATCH);
        let mut last_expire = Instant::now();
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        loop {
            // With work waiting for a hand-off, wake up in time to hand it over.
            let wait = if self.pending.is_empty() && self.loki_pending.is_empty() {
                TICK
            } else {
                INDEX_HANDOFF_AGE
            };
            let got = recv_many_timeout(&mut self.rx, &mut batch, BATCH, wait, &waker);
            let closed = got == Some(0);
            self.metrics.queue_depth.set(self.rx.len() as i64);
            let now = now_micros();
            for record in batch.drain(..) {
                self.handle_record(record, now);
                // Handed over as soon as full, not after the whole batch: a batch
                // of 1024 records grew the 512-record Loki vector, copying and
                // faulting in a third of a megabyte each time.
                if self.pending.is_full() {
                    self.flush_index(false);
                }
                if self.loki_pending.is_full() {
                    self.flush_loki(false);
                }
            }
            self.flush_index(closed);
            self.flush_loki(closed);
            if closed {
                break;
            }
            if last_expire.elapsed() >= EXPIRE_EVERY {
                last_expire = Instant::now();
                let ended = self.correlator.expire(now);
                for call in &ended {
                    self.call_ended(call);
                }
                self.metrics.kpis.set_active(self.correlator.active_calls());
                self.flush_index(false);
            }
        }
        // Shutdown: the calls in memory are written as they stand, so `calls`
        // finds them after a restart.
        let remaining: Vec<CallSummary> = self.correlator.calls().collect();
        for call in &remaining {
            self.index_call(call);
        }
        self.flush_index(true);
        tracing::debug!(calls = remaining.len(), "pipeline drained");
        let Pipeline {
            index,
            index_thread,
            ..
        } = self;
        drop(index);
        if index_thread.join().is_err() {
            tracing::error!("the index thread panicked");
        }
    }

    /// Correlates `record`, queues its index document, then hands it (moved, not
    /// copied) to Loki.
    fn handle_record(&mut self, mut record: Record, now: i64) {
        self.metrics
            .records
            .get_or_create(&SourceLabel {
                source: record.source(),
            })
            .inc();
        let ingested = self.correlator.ingest(&record, now);
        for call in &ingested.evicted {
            self.metrics.drop_at("correlator_evicted");
            self.call_ended(call);
        }
        let key = ingested.call.as_ref().map(|k| k.as_str());
        match self.docs.record_mut(&mut record, key) {
            Ok(doc) => self.pending.push(doc),
            Err(e) => {
                self.metrics.drop_at("index");
                tracing::warn!(error = %e, "cannot index a record");
            }
        }
        for link in &ingested.new_links {
            if let Some(doc) =
                self.docs
                    .link(&link.a, &link.b, link.rule.as_str(), record.ts_micros)
            {
                self.pending.push(doc);
            }
        }
        if self.loki.is_some() {
            // A SIP record's node came from the HEP packet; the label is ours.
            record.node = self.node.clone();
            self.loki_pending
                .push((record, ingested.call.as_ref().map(CallKey::shared)));
        }
    }

    /// Hands the records gathered for Loki over in one message when they are
    /// due (see [`Handoff::take`]).
    fn flush_loki(&mut self, now: bool) {
        let Some(loki) = &self.loki else { return };
        let Some(records) = self.loki_pending.take(now) else {
            return;
        };
        if let Err(e) = loki.try_send(records) {
            // The pusher spools to disk when Loki is slow; a full queue here
            // means even the spool cannot keep up.
            let n = match e {
                mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => {
                    r.len()
                }
            };
            self.metrics.drop_by("loki_queue", n as u64);
        }
    }

    /// Sends the documents gathered when they are due (see [`Handoff::take`]).
    /// Waits while the index thread is a full queue behind (a commit in
    /// progress); loses the documents only when that thread is gone.
    fn flush_index(&mut self, now: bool) {
        let Some(docs) = self.pending.take(now) else {
            return;
        };
        let n = docs.len() as i64;
        self.metrics.index_queue_depth.inc_by(n);
        if let Err(e) = self.index.send(docs) {
            self.metrics.index_queue_depth.dec_by(n);
            self.metrics.drop_by("index", e.0.len() as u64);
        }
    }

    fn call_ended(&mut self, call: &CallSummary) {
        self.metrics.kpis.call_ended(call);
        self.index_call(call);
    }

    fn index_call(&mut self, call: &CallSummary) {
        match self.docs.call(&call_doc(call)) {
            Ok(Some(doc)) => self.pending.push(doc),
            Ok(None) => {}
            Err(e) => {
                self.metrics.drop_at("index");
                tracing::warn!(error = %e, "cannot index a call summary");
            }
        }
    }
}

/// The index thread: owns the store, adds what the pipeline prepared, commits
/// about every second and applies retention.
pub struct Indexer {
    /// Documents from the pipeline thread.
    pub rx: Receiver<Vec<PreparedDoc>>,
    /// The local index.
    pub store: Store,
    /// Pipeline metrics.
    pub metrics: Metrics,
    /// Commits to make visible, to the reload thread.
    pub reload: Sender<PendingReload>,
    /// The reload thread, joined once the last commit is made.
    pub reload_thread: std::thread::JoinHandle<()>,
}

impl std::fmt::Debug for Indexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Indexer")
            .field("queued", &self.rx.len())
            .finish_non_exhaustive()
    }
}

impl Indexer {
    /// Runs until the pipeline drops its sender, then commits.
    pub fn run(mut self) {
        let mut last_retention = Instant::now();
        loop {
            let closed = match self.rx.recv_timeout(TICK) {
                Ok(docs) => {
                    self.add(docs);
                    false
                }
                Err(RecvTimeoutError::Timeout) => false,
                Err(RecvTimeoutError::Disconnected) => true,
            };
            if closed {
                break;
            }
            let now = now_micros();
            let started = Instant::now();
            match self.store.maybe_commit_deferred(now) {
                Ok(Some(reload)) => {
                    let took = started.elapsed();
                    if let Err(e) = self.reload.send(reload) {
                        // The reload thread is gone (it never returns early);
                        // the commit is made visible here instead.
                        reload_now(e.0, 0, &self.metrics);
                    }
                    self.metrics.index_commit.observe(took.as_secs_f64());
                }
                Ok(None) => {}
                Err(e) => {
                    self.metrics.drop_at("index_commit");
                    tracing::error!(error = %e, "index commit failed");
                }
            }
            if last_retention.elapsed() >= RETENTION_EVERY {
                last_retention = Instant::now();
                match self.store.apply_retention(now) {
                    Ok(gone) if !gone.is_empty() => {
                        tracing::info!(partitions = ?gone, "index partitions past retention deleted");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "index retention failed"),
                }
            }
        }
        let Indexer {
            mut store,
            reload,
            reload_thread,
            ..
        } = self;
        drop(reload);
        if reload_thread.join().is_err() {
            tracing::error!("the index reload thread panicked");
        }
        if let Err(e) = store.commit() {
            tracing::error!(error = %e, "final index commit failed");
        }
    }

    fn add(&mut self, docs: Vec<PreparedDoc>) {
        self.metrics.index_queue_depth.dec_by(docs.len() as i64);
        // Records per source, counted once the batch is in.
        let mut counts = [("sip", 0u64), ("esl", 0), ("log", 0)];
        for source in docs.iter().filter_map(PreparedDoc::record_source) {
            if let Some(c) = counts.iter_mut().find(|(s, _)| *s == source) {
                c.1 += 1;
            }
        }
        match self.store.add_prepared_batch(docs) {
            Ok(()) => {
                for (source, n) in counts.into_iter().filter(|(_, n)| *n > 0) {
                    self.metrics
                        .indexed
                        .get_or_create(&SourceLabel { source })
                        .inc_by(n);
                }
            }
            Err(e) => {
                let n: u64 = counts.iter().map(|(_, n)| n).sum();
                self.metrics.drop_by("index", n);
                tracing::warn!(error = %e, records = n, "cannot index a batch of documents");
            }
        }
    }
}

/// The reload thread: makes the index thread's commits visible to queries
/// (opens and warms the segments they wrote and those merges finished), so
/// that this never adds to the time indexing stands still for a commit.
/// Commits that arrive while a reload runs are made visible by the next one,
/// together.
pub struct Reloader {
    /// Commits made by the index thread.
    pub rx: Receiver<PendingReload>,
    /// Pipeline metrics.
    pub metrics: Metrics,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("queued", &self.rx.len())
            .finish_non_exhaustive()
    }
}

impl Reloader {
    /// The queue from the index thread: unbounded, as every reload takes all
    /// that is waiting, so it holds at most the commits of one reload's time.
    pub fn queue() -> (Sender<PendingReload>, Receiver<PendingReload>) {
        crossbeam_channel::unbounded()
    }

    /// Runs until the index thread drops its sender.
    pub fn run(self) {
        // Commits a failed reload did not show; the next one shows them.
        let mut unshown = 0;
        while let Ok(mut reload) = self.rx.recv() {
            while let Ok(later) = self.rx.try_recv() {
                reload.absorb(later);
            }
            unshown = reload_now(reload, unshown, &self.metrics);
        }
    }
}

/// Makes `reload`'s commits, and `unshown` earlier ones, visible now, timed
/// and counted. Returns the commits still not visible: none, or all of them
/// when the reload failed.
fn reload_now(reload: PendingReload, unshown: u64, metrics: &Metrics) -> u64 {
    let started = Instant::now();
    let commits = reload.commits() + unshown;
    match reload.run() {
        Ok(()) => {
            metrics
                .index_reload
                .observe(started.elapsed().as_secs_f64());
            metrics.searchable_commits.inc_by(commits);
            0
        }
        // The commits are on disk and the next reload shows them; queries
        // see the index as it was until then.
        Err(e) => {
            tracing::error!(error = %e, "cannot make an index commit visible to queries");
            commits
        }
    }
}

/// The searchable summary of a call.
pub fn call_doc(call: &CallSummary) -> CallDoc {
    let a = call
        .legs
        .iter()
        .find(|l| l.role == Some(Role::A))
        .or_else(|| call.legs.first());
    let mut nodes: Vec<String> = call.legs.iter().filter_map(|l| l.node.clone()).collect();
    nodes.sort();
    nodes.dedup();
    let end = call.legs.iter().filter_map(|l| l.ended).max();
    CallDoc {
        call_key: call.key.as_str().to_owned(),
        start_micros: call.first_seen,
        end_micros: end,
        from: a.and_then(|l| l.from.clone()),
        to: a.and_then(|l| l.to.clone()),
        outcome: call.outcome.as_str().to_owned(),
        nodes,
        legs: u32::try_from(call.legs.len()).unwrap_or(u32::MAX),
        json: serde_json::to_string(&crate::api::legs_view(call)).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No runtime anywhere in this test: the pipeline's wait must not need one.
    #[test]
    fn timed_receive_works_without_a_runtime() {
        let (tx, mut rx) = mpsc::channel::<u32>(16);
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut buf = Vec::new();

        let wait = Duration::from_millis(30);
        let t = Instant::now();
        assert_eq!(recv_many_timeout(&mut rx, &mut buf, 8, wait, &waker), None);
        assert!(t.elapsed() >= wait, "waited the whole time");

        for i in 0..5 {
            tx.try_send(i).unwrap();
        }
        assert_eq!(
            recv_many_timeout(&mut rx, &mut buf, 2, wait, &waker),
            Some(2)
        );
        assert_eq!(
            recv_many_timeout(&mut rx, &mut buf, 8, wait, &waker),
            Some(3)
        );
        assert_eq!(buf, vec![0, 1, 2, 3, 4]);

        // A record sent while the thread is parked wakes it: without the wake it
        // would sleep the full 60 s.
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            tx.blocking_send(9).unwrap();
            tx
        });
        let t = Instant::now();
        let got = recv_many_timeout(&mut rx, &mut buf, 8, Duration::from_secs(60), &waker);
        assert_eq!(got, Some(1));
        assert!(t.elapsed() < Duration::from_secs(30), "woken by the send");
        assert_eq!(buf.last(), Some(&9));

        // Every sender gone and the queue empty: closed.
        drop(sender.join().unwrap());
        assert_eq!(
            recv_many_timeout(&mut rx, &mut buf, 8, wait, &waker),
            Some(0)
        );
    }

    /// Commits that queue up while a reload runs are made visible by one
    /// reload, and every one of them is counted as searchable.
    #[test]
    fn the_reload_thread_shows_queued_commits_in_one_reload() {
        use callweave_core::record::Ident;
        use callweave_store::{StoreOptions, TraceOptions};

        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let reader = store.reader();
        let metrics = Metrics::new("test");
        let (tx, rx) = Reloader::queue();
        let ts = store.now();
        let uuid = Ident::Channel("4bd32ac8-9e9c-4ed4-a3ef-1b1e1b1e1b1e".into());
        for (i, call_id) in ["first@10.0.0.1", "second@10.0.0.1"].iter().enumerate() {
            store
                .add_link(
                    &uuid,
                    &Ident::Call((*call_id).into()),
                    "channel-sip",
                    ts + i as i64,
                )
                .unwrap();
            tx.send(store.commit_deferred().unwrap().unwrap()).unwrap();
        }
        let legs = || {
            reader
                .trace(uuid.as_str(), TraceOptions::default())
                .unwrap()
                .map_or(0, |t| t.ids.len())
        };
        assert_eq!(legs(), 0, "committed, not yet visible");

        drop(tx);
        let reloader = Reloader {
            rx,
            metrics: metrics.clone(),
        };
        std::thread::spawn(move || reloader.run()).join().unwrap();
        assert_eq!(legs(), 3, "both commits visible");
        assert_eq!(metrics.searchable_commits.get(), 2);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &metrics.registry()).unwrap();
        assert!(
            text.lines()
                .any(|l| l == "callweave_index_reload_seconds_count 1"),
            "one reload for both:\n{text}"
        );
    }

    #[test]
    fn a_handoff_is_due_when_full_old_or_forced() {
        let mut h = Handoff::new(3, Duration::from_secs(3600));
        assert_eq!(h.take(true), None, "nothing to hand over");
        h.push(1);
        h.push(2);
        assert_eq!(h.take(false), None, "neither full nor old");
        assert!(!h.is_full());
        h.push(3);
        assert!(h.is_full());
        assert_eq!(h.take(false), Some(vec![1, 2, 3]), "full");
        assert!(!h.is_full());
        assert!(h.is_empty());
        h.push(4);
        assert_eq!(h.take(true), Some(vec![4]), "forced");

        let mut h = Handoff::new(100, Duration::ZERO);
        h.push(5);
        assert_eq!(h.take(false), Some(vec![5]), "old enough");
        assert_eq!(h.take(false), None, "the age restarts with the next item");
    }
}
