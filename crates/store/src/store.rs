//! The write side: partition routing, writers, periodic commits and retention.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use callweave_core::record::{Ident, Record, TsMicros};
use tantivy::indexer::{IndexWriterOptions, UserOperation};
use tantivy::query::TermSetQuery;
use tantivy::schema::Schema;
use tantivy::{IndexWriter, TantivyDocument, Term};

use crate::error::{Result, StoreError};
use crate::model::{CallDoc, StoreOptions, StoreStats};
use crate::partition::{Partition, parse_partition_name, partition_name, partition_start};
use crate::reader::StoreReader;
use crate::schema::{self, Fields, Scratch};

/// tantivy refuses less than this per indexing thread.
const MIN_MEMORY_PER_THREAD: usize = 15_000_000;
/// And more than about this.
const MAX_MEMORY_PER_THREAD: usize = (u32::MAX as usize) - 2_000_000;

/// State shared by the store and every [`StoreReader`].
#[derive(Debug)]
pub(crate) struct Shared {
    pub fields: Fields,
    pub schema: Schema,
    /// Open partitions by start time. Readers take a snapshot of the `Arc`s under a
    /// short read lock; the store adds partitions and removes expired ones.
    pub partitions: RwLock<BTreeMap<i64, Arc<Partition>>>,
}

impl Shared {
    pub(crate) fn snapshot(&self) -> Vec<Arc<Partition>> {
        let map = self.partitions.read().unwrap_or_else(|e| e.into_inner());
        map.values().cloned().collect()
    }
}

struct OpenWriter {
    part: Arc<Partition>,
    writer: IndexWriter,
    /// Uncommitted adds or deletes.
    dirty: bool,
    last_used: u64,
}

impl std::fmt::Debug for OpenWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenWriter")
            .field("partition", &self.part.name)
            .field("dirty", &self.dirty)
            .finish()
    }
}

/// The local index: add records, links and call summaries; commit periodically;
/// delete old partitions. Blocking; meant to be owned by one thread.
///
/// # Routing
///
/// A document goes to the partition of its time (`ts` for records and links,
/// `start_micros` for calls), relative to the store's clock `now` — the latest time
/// passed to [`maybe_commit`](Self::maybe_commit), [`set_now`](Self::set_now) or
/// [`apply_retention`](Self::apply_retention), or the system clock at open
/// until then:
///
/// - older than retention (its whole partition would already be deleted: a
///   replayed old capture, a capture agent with a wrong clock): written to the
///   current partition, keeping its own `ts`, and counted in
///   [`StoreStats::clamped_past`]. Dropping it would make a replayed call
///   impossible to trace, which is what replay is for;
/// - more than one partition after `now` (a wrong capture clock, a hostile HEP
///   timestamp): written to the current partition, keeping its own `ts`, and counted
///   in [`StoreStats::clamped_future`]. Queries search every partition, so only its
///   retention follows its arrival instead of its timestamp;
/// - otherwise its own partition, created on demand. At most
///   [`StoreOptions::max_open_writers`] writers are open; writing to another
///   partition (a late record, a replayed capture) commits and closes the least
///   recently used one.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    opts: StoreOptions,
    part_len: i64,
    retention: i64,
    commit_interval: i64,
    shared: Arc<Shared>,
    writers: Vec<OpenWriter>,
    next_seq: u64,
    now: TsMicros,
    last_commit: TsMicros,
    tick: u64,
    stats: StoreStats,
}

/// Builds documents for a [`Store`] on any thread ([`Store::doc_builder`]); the
/// store's owner adds them with [`Store::add_prepared`].
///
/// It keeps the buffers a document is built in from one document to the next,
/// so it is `Send` but not `Sync`: one per thread, as the pipeline has.
#[derive(Debug, Clone)]
pub struct DocBuilder {
    fields: Fields,
    full_text: bool,
    scratch: RefCell<Scratch>,
}

impl DocBuilder {
    /// Runs `build` with the builder's buffers, or with fresh ones should they
    /// be lent out already (nothing here calls back into the builder).
    fn with_scratch<T>(&self, build: impl FnOnce(&mut Scratch) -> T) -> T {
        match self.scratch.try_borrow_mut() {
            Ok(mut scratch) => {
                let out = build(&mut scratch);
                scratch.trim();
                out
            }
            Err(_) => build(&mut Scratch::default()),
        }
    }

    /// The document of one record under its call key.
    pub fn record(&self, record: &Record, call_key: Option<&str>) -> Result<PreparedDoc> {
        Ok(PreparedDoc {
            kind: DocKind::Record(record.source()),
            ts: record.ts_micros,
            doc: self.with_scratch(|scratch| {
                schema::record_doc(&self.fields, record, call_key, self.full_text, scratch)
            })?,
        })
    }

    /// The document of one record, cheaper than [`record`](Self::record) for a
    /// SIP message: the message is stored beside the record's JSON rather than
    /// escaped inside it. `record` is unchanged when this returns (its message
    /// is lent out while the JSON is written).
    pub fn record_mut(&self, record: &mut Record, call_key: Option<&str>) -> Result<PreparedDoc> {
        Ok(PreparedDoc {
            kind: DocKind::Record(record.source()),
            ts: record.ts_micros,
            doc: self.with_scratch(|scratch| {
                schema::record_doc_split(&self.fields, record, call_key, self.full_text, scratch)
            })?,
        })
    }

    /// The document of a link edge; `None` when an identifier is empty.
    pub fn link(
        &self,
        a: &Ident,
        b: &Ident,
        rule: &str,
        ts_micros: TsMicros,
    ) -> Option<PreparedDoc> {
        if a.as_str().is_empty() || b.as_str().is_empty() {
            return None;
        }
        Some(PreparedDoc {
            kind: DocKind::Link,
            ts: ts_micros,
            doc: schema::link_doc(&self.fields, a, b, rule, ts_micros),
        })
    }

    /// The document of a call summary; `None` without a call key.
    pub fn call(&self, call: &CallDoc) -> Result<Option<PreparedDoc>> {
        if call.call_key.is_empty() {
            return Ok(None);
        }
        Ok(Some(PreparedDoc {
            kind: DocKind::Call(call.call_key.clone()),
            ts: call.start_micros,
            doc: schema::call_doc(&self.fields, call)?,
        }))
    }
}

/// A record, link or call summary document ready to be added to its [`Store`].
#[derive(Debug)]
pub struct PreparedDoc {
    kind: DocKind,
    ts: TsMicros,
    doc: TantivyDocument,
}

#[derive(Debug)]
enum DocKind {
    /// A record, with its source (`sip`, `esl`, `log`).
    Record(&'static str),
    Link,
    /// A call summary, with the call key it replaces.
    Call(String),
}

impl PreparedDoc {
    /// The record's source (`sip`, `esl`, `log`) for a record document.
    pub fn record_source(&self) -> Option<&'static str> {
        match self.kind {
            DocKind::Record(source) => Some(source),
            _ => None,
        }
    }
}

/// Readers to bring up to commits already made ([`Store::commit_deferred`]).
///
/// A reload opens the segments the commit wrote, and the segment a merge
/// just finished, and warms them for the first query (term dictionaries,
/// fast-field columns): a few milliseconds usually, a few hundred after a
/// large merge. Done by the thread that indexes, that time is a stall of
/// ingest; this lets another thread do it while indexing goes on. Until it
/// has run, queries see the index as it was before the commit.
#[must_use = "what was committed is not visible until the reload runs"]
#[derive(Debug)]
pub struct PendingReload {
    parts: Vec<Arc<Partition>>,
    commits: u64,
}

impl PendingReload {
    fn add(&mut self, part: &Arc<Partition>) {
        if !self.parts.iter().any(|p| p.start == part.start) {
            self.parts.push(Arc::clone(part));
        }
    }

    fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Runs `pending`, if any, on this thread: whether there was a commit.
    fn run_now(pending: Option<PendingReload>) -> Result<bool> {
        let committed = pending.is_some();
        pending.map_or(Ok(()), PendingReload::run)?;
        Ok(committed)
    }

    /// The commits this reload makes visible: 1, or more once others were
    /// [absorbed](Self::absorb).
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// Adds the partitions of `later`, each kept once: a reader reloads to the
    /// newest commit, so reloads that queued up are done in one.
    pub fn absorb(&mut self, later: PendingReload) {
        for part in &later.parts {
            self.add(part);
        }
        self.commits += later.commits;
    }

    /// Reloads the readers of every partition committed. Every partition is
    /// tried; the first error is returned.
    pub fn run(self) -> Result<()> {
        let mut first = Ok(());
        for part in &self.parts {
            if let Err(e) = part.reader.reload()
                && first.is_ok()
            {
                first = Err(StoreError::index(&part.name, e));
            }
        }
        first
    }
}

/// The operations of one partition's run in [`Store::add_prepared_batch`], and
/// the calls whose summaries it carries.
struct Run {
    ops: Vec<UserOperation>,
    /// Call key → index in `ops` of its summary.
    calls: HashMap<String, usize>,
}

impl Run {
    fn with_capacity(n: usize) -> Self {
        Self {
            ops: Vec::with_capacity(n),
            calls: HashMap::new(),
        }
    }

    fn clear(&mut self) {
        self.ops.clear();
        self.calls.clear();
    }

    /// Adds a call's summary, in place of one the run already holds for it.
    fn add_call(&mut self, key: String, doc: TantivyDocument) {
        match self.calls.get(&key).and_then(|&i| self.ops.get_mut(i)) {
            Some(op) => *op = UserOperation::Add(doc),
            None => {
                self.calls.insert(key, self.ops.len());
                self.ops.push(UserOperation::Add(doc));
            }
        }
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn system_now() -> TsMicros {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, micros)
}

impl Store {
    /// Opens (or creates) the store in `dir`, reopening every partition found there.
    ///
    /// Directories whose names are not partition names are ignored. Nothing is
    /// deleted here: call [`apply_retention`](Self::apply_retention).
    pub fn open(dir: impl AsRef<Path>, opts: StoreOptions) -> Result<Store> {
        let root = dir.as_ref().to_owned();
        let part_len = micros(opts.partition);
        if opts.partition < Duration::from_secs(60) || opts.partition.subsec_nanos() != 0 {
            return Err(StoreError::Options {
                name: "partition",
                reason: "must be a whole number of seconds, at least 60".into(),
            });
        }
        if opts.retention.is_zero() {
            return Err(StoreError::Options {
                name: "retention",
                reason: "must be positive".into(),
            });
        }
        if opts.max_open_writers == 0 {
            return Err(StoreError::Options {
                name: "max_open_writers",
                reason: "must be at least 1".into(),
            });
        }
        std::fs::create_dir_all(&root).map_err(|source| StoreError::Io {
            path: root.clone(),
            source,
        })?;

        let (schema, fields) = schema::build_schema();
        let mut partitions = BTreeMap::new();
        let entries = std::fs::read_dir(&root).map_err(|source| StoreError::Io {
            path: root.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| StoreError::Io {
                path: root.clone(),
                source,
            })?;
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            let Some(start) = entry.file_name().to_str().and_then(parse_partition_name) else {
                continue;
            };
            if !is_dir {
                continue;
            }
            let part = Partition::open(&entry.path(), start, &schema)?;
            partitions.insert(start, Arc::new(part));
        }

        let mut next_seq = 0u64;
        for part in partitions.values() {
            let searcher = part.reader.searcher();
            for seg in searcher.segment_readers() {
                let col = seg
                    .fast_fields()
                    .column_opt::<u64>("seq")
                    .map_err(|e| StoreError::index(&part.name, e))?;
                if let Some(col) = col.filter(|_| seg.num_docs() > 0) {
                    next_seq = next_seq.max(col.max_value().saturating_add(1));
                }
            }
        }

        let now = system_now();
        Ok(Store {
            root,
            part_len,
            retention: micros(opts.retention),
            commit_interval: micros(opts.commit_interval),
            opts,
            shared: Arc::new(Shared {
                fields,
                schema,
                partitions: RwLock::new(partitions),
            }),
            writers: Vec::new(),
            next_seq,
            now,
            last_commit: now,
            tick: 0,
            stats: StoreStats::default(),
        })
    }

    /// A cheap, cloneable handle for queries. It sees what has been committed.
    pub fn reader(&self) -> StoreReader {
        StoreReader::new(Arc::clone(&self.shared))
    }

    /// Counters since open.
    pub fn stats(&self) -> StoreStats {
        self.stats
    }

    /// Names of the partitions currently open (oldest first).
    pub fn partitions(&self) -> Vec<String> {
        self.shared
            .snapshot()
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }

    /// Sets the store's clock (µs since the epoch), which routing and retention use.
    /// It starts at the system time at open; the caller owns it from then on
    /// (replays and tests set it to the data's time).
    pub fn set_now(&mut self, now: TsMicros) {
        self.now = now;
        // A clock set back must not hold commits off until it catches up.
        self.last_commit = self.last_commit.min(now);
    }

    /// The store's clock.
    pub fn now(&self) -> TsMicros {
        self.now
    }

    /// A builder of documents for this store, for another thread: building a
    /// record's document (identifiers, summary, the stored JSON) is most of what
    /// indexing costs the caller, and needs no writer.
    pub fn doc_builder(&self) -> DocBuilder {
        DocBuilder {
            fields: self.shared.fields,
            full_text: self.opts.full_text,
            scratch: RefCell::default(),
        }
    }

    /// Indexes one record under its call key (when the correlator knows it).
    pub fn add_record(&mut self, record: &Record, call_key: Option<&str>) -> Result<()> {
        let doc = self.doc_builder().record(record, call_key)?;
        self.add_prepared(doc)
    }

    /// Indexes a link edge: `a` and `b` belong to one call because of `rule`.
    pub fn add_link(
        &mut self,
        a: &Ident,
        b: &Ident,
        rule: &str,
        ts_micros: TsMicros,
    ) -> Result<()> {
        match self.doc_builder().link(a, b, rule, ts_micros) {
            Some(doc) => self.add_prepared(doc),
            None => Ok(()),
        }
    }

    /// Indexes a call summary, replacing any earlier summary of the same call key in
    /// the open partitions (a copy in a partition whose writer was closed survives;
    /// [`StoreReader::calls`] returns only the newest copy).
    pub fn add_call_summary(&mut self, call: &CallDoc) -> Result<()> {
        match self.doc_builder().call(call)? {
            Some(doc) => self.add_prepared(doc),
            None => Ok(()),
        }
    }

    /// Adds a document made by a [`DocBuilder`] of this store, routed by its time
    /// like the `add_*` methods.
    pub fn add_prepared(&mut self, prepared: PreparedDoc) -> Result<()> {
        self.add_prepared_batch(vec![prepared])
    }

    /// Adds documents made by a [`DocBuilder`] of this store, in order. Runs of
    /// documents for the same partition reach its writer as one batch: one hand-off
    /// to tantivy's indexing threads instead of one per document. On an error the
    /// remaining runs are still added and the first error is returned.
    ///
    /// A call summary replaces the call's earlier summaries in every open
    /// partition. The replaced copies are deleted with one delete operation per
    /// run and partition, for every call of the run at once: tantivy keeps each
    /// delete operation in memory until every segment has seen it, a merge in
    /// progress included, and one per call (about 1.2 kB each, most of it a
    /// scoring table a delete never uses) held hundreds of megabytes during long
    /// merges at thousands of calls a second. Within a run, a later summary of
    /// the same call takes the earlier one's place.
    pub fn add_prepared_batch(&mut self, docs: Vec<PreparedDoc>) -> Result<()> {
        let seq_field = self.shared.fields.seq;
        let mut run = Run::with_capacity(docs.len());
        let mut run_start: Option<i64> = None;
        let mut first_err = None;
        for PreparedDoc { kind, ts, mut doc } in docs {
            let start = self.route(ts);
            if run_start != Some(start) {
                if let Some(prev) = run_start
                    && let Err(e) = self.flush_run(prev, &mut run)
                {
                    first_err.get_or_insert(e);
                }
                run_start = Some(start);
            }
            doc.add_u64(seq_field, self.next_seq);
            self.next_seq += 1;
            match &kind {
                DocKind::Record(_) => self.stats.records += 1,
                DocKind::Link => self.stats.links += 1,
                DocKind::Call(_) => self.stats.calls += 1,
            }
            match kind {
                DocKind::Call(key) => run.add_call(key, doc),
                _ => run.ops.push(UserOperation::Add(doc)),
            }
        }
        if let Some(prev) = run_start
            && let Err(e) = self.flush_run(prev, &mut run)
        {
            first_err.get_or_insert(e);
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Hands `run` (emptied) to the writer of the partition starting at `start`,
    /// after deleting the earlier summaries of its calls in every open partition.
    fn flush_run(&mut self, start: i64, run: &mut Run) -> Result<()> {
        if run.ops.is_empty() {
            return Ok(());
        }
        let idx = match self.writer_at(start) {
            Ok(idx) => idx,
            Err(e) => {
                // Lost with their partition, not added to the next run's.
                run.clear();
                return Err(e);
            }
        };
        let mut first_err = None;
        if !run.calls.is_empty() {
            let call_of = self.shared.fields.call_of;
            let terms: Vec<Term> = run
                .calls
                .drain()
                .map(|(key, _)| Term::from_field_text(call_of, &key))
                .collect();
            // The run's own partition included, and before the run's documents
            // go in: a delete removes what was added before it, not after.
            for w in &mut self.writers {
                w.dirty = true;
                if let Err(e) = w
                    .writer
                    .delete_query(Box::new(TermSetQuery::new(terms.iter().cloned())))
                {
                    first_err.get_or_insert(StoreError::index(&w.part.name, e));
                }
            }
        }
        let Some(w) = self.writers.get_mut(idx) else {
            run.clear();
            return Ok(()); // unreachable: idx comes from writer_at
        };
        w.dirty = true;
        w.writer
            .run(run.ops.drain(..))
            .map_err(|e| StoreError::index(&w.part.name, e))?;
        first_err.map_or(Ok(()), Err)
    }

    /// Commits when `commit_interval` has passed since the last commit and there is
    /// something to commit. Call it often (every batch, every tick); it is cheap
    /// when there is nothing to do. Returns whether it committed.
    pub fn maybe_commit(&mut self, now: TsMicros) -> Result<bool> {
        PendingReload::run_now(self.maybe_commit_deferred(now)?)
    }

    /// [`maybe_commit`](Self::maybe_commit), leaving the readers to the caller:
    /// what was committed becomes visible once the returned [`PendingReload`]
    /// has run, on any thread. `None` when nothing was due or nothing to commit.
    pub fn maybe_commit_deferred(&mut self, now: TsMicros) -> Result<Option<PendingReload>> {
        self.set_now(now);
        if self.now.saturating_sub(self.last_commit) < self.commit_interval {
            return Ok(None);
        }
        self.commit_deferred()
    }

    /// Commits every writer with pending changes now and makes them visible to
    /// readers. Returns whether anything was committed.
    pub fn commit(&mut self) -> Result<bool> {
        PendingReload::run_now(self.commit_deferred()?)
    }

    /// [`commit`](Self::commit), leaving the readers to the caller (see
    /// [`PendingReload`]). `None` when nothing had changed.
    pub fn commit_deferred(&mut self) -> Result<Option<PendingReload>> {
        self.last_commit = self.now;
        let mut reload = PendingReload {
            parts: Vec::new(),
            commits: 1,
        };
        for w in &mut self.writers {
            if !w.dirty {
                continue;
            }
            w.writer
                .commit()
                .map_err(|e| StoreError::index(&w.part.name, e))?;
            reload.add(&w.part);
            w.dirty = false;
        }
        if reload.is_empty() {
            return Ok(None);
        }
        self.stats.commits += 1;
        Ok(Some(reload))
    }

    /// Deletes every partition whose whole span is older than `now - retention`.
    /// Returns the names of the deleted partitions.
    pub fn apply_retention(&mut self, now: TsMicros) -> Result<Vec<String>> {
        self.set_now(now);
        let cutoff = self.now.saturating_sub(self.retention);
        let expired: Vec<Arc<Partition>> = {
            let map = self
                .shared
                .partitions
                .read()
                .unwrap_or_else(|e| e.into_inner());
            map.values()
                .filter(|p| p.start.saturating_add(self.part_len) <= cutoff)
                .cloned()
                .collect()
        };
        let mut deleted = Vec::new();
        for part in expired {
            // Drop the writer first: it holds the directory lock and open files.
            self.writers.retain(|w| w.part.start != part.start);
            {
                let mut map = self
                    .shared
                    .partitions
                    .write()
                    .unwrap_or_else(|e| e.into_inner());
                map.remove(&part.start);
            }
            // Readers still holding a searcher keep their mmaps of unlinked files
            // until they finish; that is fine on Unix.
            match std::fs::remove_dir_all(&part.dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        path: part.dir.clone(),
                        source,
                    });
                }
            }
            self.stats.partitions_deleted += 1;
            deleted.push(part.name.clone());
        }
        Ok(deleted)
    }

    /// Commits, waits for background merges and closes every writer.
    pub fn close(mut self) -> Result<()> {
        self.commit()?;
        for w in std::mem::take(&mut self.writers) {
            let name = w.part.name.clone();
            w.writer
                .wait_merging_threads()
                .map_err(|e| StoreError::index(&name, e))?;
        }
        Ok(())
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// The partition start a document timed `ts` goes to (see the type's docs).
    fn route(&mut self, ts: TsMicros) -> i64 {
        let len = self.part_len;
        let start = partition_start(ts, len);
        let head = partition_start(self.now, len);
        if start.saturating_add(len) <= self.now.saturating_sub(self.retention) {
            self.stats.clamped_past += 1;
            return head;
        }
        if start > head.saturating_add(len) {
            self.stats.clamped_future += 1;
            return head;
        }
        start
    }

    /// Index in `self.writers` of the writer of the partition starting at
    /// `start`, opening it when needed.
    fn writer_at(&mut self, start: i64) -> Result<usize> {
        self.tick += 1;
        if let Some(i) = self.writers.iter().position(|w| w.part.start == start) {
            if let Some(w) = self.writers.get_mut(i) {
                w.last_used = self.tick;
            }
            return Ok(i);
        }
        if self.writers.len() >= self.opts.max_open_writers {
            self.evict_lru()?;
        }
        let part = self.partition(start)?;
        let threads = self.opts.indexing_threads.clamp(1, 8);
        let per_thread =
            (self.opts.writer_memory / threads).clamp(MIN_MEMORY_PER_THREAD, MAX_MEMORY_PER_THREAD);
        let options = IndexWriterOptions::builder()
            .memory_budget_per_thread(per_thread)
            .num_worker_threads(threads)
            .num_merge_threads(1)
            .build();
        let writer = part
            .index
            .writer_with_options::<TantivyDocument>(options)
            .map_err(|e| StoreError::index(&part.name, e))?;
        self.writers.push(OpenWriter {
            part,
            writer,
            dirty: false,
            last_used: self.tick,
        });
        Ok(self.writers.len() - 1)
    }

    fn evict_lru(&mut self) -> Result<()> {
        let Some((i, _)) = self
            .writers
            .iter()
            .enumerate()
            .min_by_key(|(_, w)| w.last_used)
        else {
            return Ok(());
        };
        let w = self.writers.swap_remove(i);
        let name = w.part.name.clone();
        let mut writer = w.writer;
        if w.dirty {
            writer.commit().map_err(|e| StoreError::index(&name, e))?;
            w.part
                .reader
                .reload()
                .map_err(|e| StoreError::index(&name, e))?;
            self.stats.commits += 1;
        }
        writer
            .wait_merging_threads()
            .map_err(|e| StoreError::index(&name, e))?;
        self.stats.writers_evicted += 1;
        Ok(())
    }

    fn partition(&mut self, start: i64) -> Result<Arc<Partition>> {
        if let Some(p) = self
            .shared
            .partitions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&start)
        {
            return Ok(Arc::clone(p));
        }
        let name = partition_name(start);
        let part = Arc::new(Partition::open(
            &self.root.join(&name),
            start,
            &self.shared.schema,
        )?);
        let mut map = self
            .shared
            .partitions
            .write()
            .unwrap_or_else(|e| e.into_inner());
        map.insert(start, Arc::clone(&part));
        Ok(part)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Best effort: an error here has nowhere to go; `close` reports it.
        let _ = self.commit();
    }
}
