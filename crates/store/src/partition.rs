//! Time partitions: one tantivy index per directory, named after the UTC start of
//! its span (`YYYY-MM-DD` for whole days, `YYYY-MM-DDTHH-MM-SS` otherwise).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentId;
use tantivy::schema::{Field, Schema};
use tantivy::{
    Index, IndexReader, IndexSettings, ReloadPolicy, Searcher, SearcherGeneration, SegmentReader,
    Warmer,
};

use crate::error::{Result, StoreError};
use crate::schema::SchemaVersion;
use crate::tokenize::{self, SearchTokenizer};

const MICROS_PER_SEC: i64 = 1_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// One open partition: its index and the shared, cached reader.
pub(crate) struct Partition {
    /// Start of the span, µs since the epoch.
    pub start: i64,
    pub name: String,
    pub dir: PathBuf,
    pub index: Index,
    /// The schema it was created with (it keeps it for life).
    pub version: SchemaVersion,
    /// Reloaded by the store after each commit (manual policy: no file watcher, and
    /// readers see a commit as soon as it returns).
    pub reader: IndexReader,
    /// Fast-field columns of each live segment, opened once.
    pub columns: Arc<ColumnCache>,
    /// Held here: the reader keeps only a weak reference.
    _warmer: Arc<dyn Warmer>,
}

/// Readies each new searcher before any query sees it, on the thread that
/// reloads the reader (the store's writer, after a commit).
///
/// tantivy opens every segment afresh on each reload (once a second under
/// load), and a segment opens the term dictionary of a field on the first
/// look-up in it. Left to the queries, the first trace after each commit paid
/// for that on every segment, and the first after a merge also opened the new
/// segment's fast-field columns: 4 to 11 ms instead of 0.5 ms, about one trace
/// in twenty under load.
struct PartitionWarmer {
    /// The fields a trace looks terms up in.
    fields: Vec<Field>,
    columns: Arc<ColumnCache>,
}

impl Warmer for PartitionWarmer {
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        for seg in searcher.segment_readers() {
            for &field in &self.fields {
                seg.inverted_index(field)?;
            }
            self.columns.get(searcher, seg)?;
        }
        Ok(())
    }

    /// Nothing to collect: [`ColumnCache::get`] prunes as segments go.
    fn garbage_collect(&self, _live_generations: &[&SearcherGeneration]) {}
}

/// The fast-field columns a query reads, of one segment. Opening a column
/// decodes its block index (the blockwise-linear `ts`/`seq` values, term
/// ordinals): at 10 M documents that was half of a trace's time when done per
/// query. Segments are immutable, so the columns are opened once and shared.
#[derive(Clone)]
pub(crate) struct SegmentColumns {
    pub idt: Option<StrColumn>,
    pub la: Option<StrColumn>,
    pub lb: Option<StrColumn>,
    pub rule: Option<StrColumn>,
    pub ts: Option<Column<i64>>,
    pub seq: Option<Column<u64>>,
}

impl SegmentColumns {
    fn open(seg: &SegmentReader) -> tantivy::Result<SegmentColumns> {
        let ff = seg.fast_fields();
        Ok(SegmentColumns {
            idt: ff.str("idt")?,
            la: ff.str("la")?,
            lb: ff.str("lb")?,
            rule: ff.str("rule")?,
            ts: ff.column_opt::<i64>("ts")?,
            seq: ff.column_opt::<u64>("seq")?,
        })
    }
}

/// [`SegmentColumns`] by segment, for the segments of the newest searcher.
#[derive(Default)]
pub(crate) struct ColumnCache {
    by_segment: Mutex<HashMap<SegmentId, Arc<SegmentColumns>>>,
}

impl ColumnCache {
    /// The columns of `seg`, opened on first use. A new segment (a commit or a
    /// merge) also drops the columns of segments `searcher` no longer has.
    pub(crate) fn get(
        &self,
        searcher: &Searcher,
        seg: &SegmentReader,
    ) -> tantivy::Result<Arc<SegmentColumns>> {
        let id = seg.segment_id();
        if let Some(c) = self.lock().get(&id) {
            return Ok(c.clone());
        }
        let cols = Arc::new(SegmentColumns::open(seg)?);
        let mut map = self.lock();
        map.retain(|known, _| {
            searcher
                .segment_readers()
                .iter()
                .any(|r| r.segment_id() == *known)
        });
        map.insert(id, cols.clone());
        Ok(cols)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Arc<SegmentColumns>>> {
        self.by_segment.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partition")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .finish()
    }
}

impl Partition {
    /// Opens the partition at `dir`, creating the index when absent.
    pub(crate) fn open(dir: &Path, start: i64, schema: &Schema) -> Result<Partition> {
        let name = partition_name(start);
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let mmap = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| StoreError::index(&name, e.into()))?;
        let exists = Index::exists(&mmap).map_err(|e| StoreError::index(&name, e.into()))?;
        let index = if exists {
            Index::open(mmap).map_err(|e| StoreError::index(&name, e))?
        } else {
            Index::create(mmap, schema.clone(), IndexSettings::default())
                .map_err(|e| StoreError::index(&name, e))?
        };
        // A partition keeps the schema it was created with; older ones differ
        // only in how a field is indexed (see `schema::readable_schemas`).
        let on_disk = index.schema();
        let Some(version) = crate::schema::readable_schemas()
            .into_iter()
            .find_map(|(v, s)| (s == on_disk).then_some(v))
        else {
            return Err(StoreError::Schema { partition: name });
        };
        // Before any writer: its segment writers take the index's tokenizers.
        index
            .tokenizers()
            .register(tokenize::NAME, SearchTokenizer::default());
        let columns = Arc::new(ColumnCache::default());
        let fields = ["id", "edge", "idt"]
            .into_iter()
            .filter_map(|n| schema.get_field(n).ok())
            .collect();
        let warmer: Arc<dyn Warmer> = Arc::new(PartitionWarmer {
            fields,
            columns: columns.clone(),
        });
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .warmers(vec![Arc::downgrade(&warmer)])
            .try_into()
            .map_err(|e| StoreError::index(&name, e))?;
        Ok(Partition {
            start,
            name,
            dir: dir.to_owned(),
            index,
            version,
            reader,
            columns,
            _warmer: warmer,
        })
    }
}

/// The start (µs) of the partition holding `ts`, for partitions `len` µs long
/// aligned on the epoch.
pub(crate) fn partition_start(ts: i64, len: i64) -> i64 {
    ts.div_euclid(len).saturating_mul(len)
}

/// Days since the epoch → (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since the epoch; the inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Directory name of the partition starting at `start` µs (UTC):
/// `2026-11-26` for a partition starting at midnight, `2026-11-26T03-00-00`
/// otherwise.
pub fn partition_name(start: i64) -> String {
    let secs = start.div_euclid(MICROS_PER_SEC);
    let days = secs.div_euclid(SECS_PER_DAY);
    let sod = secs.rem_euclid(SECS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    if sod == 0 && start.rem_euclid(MICROS_PER_SEC) == 0 {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}-{:02}-{:02}",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60
        )
    }
}

/// Parses a directory name written by [`partition_name`] back into its start (µs);
/// `None` for anything else (the store leaves such directories alone).
pub fn parse_partition_name(name: &str) -> Option<i64> {
    let (date, time) = match name.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (name, None),
    };
    let mut parts = date.split('-');
    let y: i64 = parse_digits(parts.next()?, 4, 6)?;
    let m: u32 = parse_digits(parts.next()?, 2, 2)?;
    let d: u32 = parse_digits(parts.next()?, 2, 2)?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    if civil_from_days(days) != (y, m, d) {
        return None; // e.g. 2026-02-30
    }
    let mut secs = days.checked_mul(SECS_PER_DAY)?;
    if let Some(t) = time {
        let mut tp = t.split('-');
        let hh: i64 = parse_digits(tp.next()?, 2, 2)?;
        let mm: i64 = parse_digits(tp.next()?, 2, 2)?;
        let ss: i64 = parse_digits(tp.next()?, 2, 2)?;
        if tp.next().is_some() || hh > 23 || mm > 59 || ss > 59 {
            return None;
        }
        secs = secs.checked_add(hh * 3600 + mm * 60 + ss)?;
    }
    secs.checked_mul(MICROS_PER_SEC)
}

fn parse_digits<T: std::str::FromStr>(s: &str, min: usize, max: usize) -> Option<T> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = SECS_PER_DAY * MICROS_PER_SEC;

    #[test]
    fn names_of_real_timestamps() {
        // First INVITE of testdata/freeswitch-live/01-bridged-callid-random.
        let ts = 1_795_663_470_536_275;
        let start = partition_start(ts, DAY);
        assert_eq!(partition_name(start), "2026-11-26");
        assert_eq!(parse_partition_name("2026-11-26"), Some(start));
        let hourly = partition_start(ts, 3600 * MICROS_PER_SEC);
        assert_eq!(partition_name(hourly), "2026-11-26T03-00-00");
        assert_eq!(parse_partition_name("2026-11-26T03-00-00"), Some(hourly));
        assert_eq!(partition_name(0), "1970-01-01");
        assert_eq!(partition_name(partition_start(-1, DAY)), "1969-12-31");
    }

    #[test]
    fn round_trip_over_many_days() {
        for day in (-800..30_000).step_by(7) {
            let start = day * DAY;
            assert_eq!(
                parse_partition_name(&partition_name(start)),
                Some(start),
                "day {day}"
            );
        }
    }

    #[test]
    fn foreign_names_are_ignored() {
        for n in [
            "",
            "spool",
            "2026-13-01",
            "2026-02-30",
            "2026-1-01",
            "2026-11-26T25-00-00",
            "2026-11-26-x",
            "+026-11-26",
        ] {
            assert_eq!(parse_partition_name(n), None, "{n}");
        }
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;
    use crate::model::{CallDoc, CallFilter, StoreOptions};
    use crate::store::Store;
    use tantivy::schema::{STRING, Schema};

    const T0: i64 = 1_700_000_000_000_000; // 2023-11-14T22:13:20Z
    const DAY: i64 = SECS_PER_DAY * MICROS_PER_SEC;

    fn call(key: &str, start: i64) -> CallDoc {
        CallDoc {
            call_key: key.into(),
            start_micros: start,
            end_micros: Some(start + 2_000_000),
            from: Some("1000".into()),
            to: Some("2000".into()),
            outcome: "answered".into(),
            nodes: vec!["fs1".into()],
            legs: 2,
            json: "{}".into(),
        }
    }

    fn ts_indexed(root: &Path, start: i64) -> bool {
        let index = Index::open_in_dir(root.join(partition_name(start))).unwrap();
        let schema = index.schema();
        schema
            .get_field_entry(schema.get_field("ts").unwrap())
            .is_indexed()
    }

    /// A store whose day of `T0` was created by an earlier version with the
    /// schema of `version`, its clock the day after.
    fn with_old_day(version: SchemaVersion) -> (tempfile::TempDir, i64, Store) {
        let dir = tempfile::tempdir().unwrap();
        let old_day = partition_start(T0, DAY);
        let old_dir = dir.path().join(partition_name(old_day));
        std::fs::create_dir_all(&old_dir).unwrap();
        Index::create_in_dir(&old_dir, crate::schema::build_schema_for(version).0).unwrap();
        let mut store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        store.set_now(T0 + DAY);
        (dir, old_day, store)
    }

    /// Adds log records of the given times and texts, and commits.
    fn add_logs(store: &mut Store, logs: &[(i64, &str)]) {
        use callweave_core::record::{LogRecord, Record, RecordKind};
        for &(ts, text) in logs {
            let record = Record::new(ts, "fs1", RecordKind::Log(LogRecord::new(text)));
            store.add_record(&record, None).unwrap();
        }
        store.commit().unwrap();
    }

    /// The times of the records `query` finds, in order; every match on the
    /// page.
    fn search_times(store: &Store, query: &str) -> Vec<i64> {
        let hits = store
            .reader()
            .search(&crate::model::RecordSearch {
                query: query.into(),
                since: None,
                until: None,
                limit: 10,
            })
            .unwrap();
        assert_eq!(hits.total as usize, hits.records.len());
        let mut t: Vec<i64> = hits.records.iter().map(|r| r.ts_micros).collect();
        t.sort_unstable();
        t
    }

    /// A day written by an earlier version (`ts` indexed as well as fast) opens,
    /// takes new documents, and answers time-range queries like a new one.
    #[test]
    fn partitions_with_the_previous_schema_open_and_filter_by_time() {
        let (dir, old_day, mut store) = with_old_day(SchemaVersion::TsIndexed);
        store.add_call_summary(&call("old-early", T0)).unwrap();
        store
            .add_call_summary(&call("old-late", T0 + 60_000_000))
            .unwrap();
        store.add_call_summary(&call("new-day", T0 + DAY)).unwrap();
        store.commit().unwrap();
        assert!(
            ts_indexed(dir.path(), old_day),
            "the old partition kept its schema"
        );
        assert!(!ts_indexed(dir.path(), partition_start(T0 + DAY, DAY)));

        let keys = |since: Option<i64>, until: Option<i64>| -> Vec<String> {
            let filter = CallFilter {
                since,
                until,
                ..CallFilter::default()
            };
            let mut k: Vec<String> = store
                .reader()
                .calls(&filter)
                .unwrap()
                .into_iter()
                .map(|c| c.call_key)
                .collect();
            k.sort();
            k
        };
        assert_eq!(keys(None, None), ["new-day", "old-early", "old-late"]);
        assert_eq!(keys(Some(T0 + 1), None), ["new-day", "old-late"]);
        assert_eq!(keys(None, Some(T0 + 60_000_000)), ["old-early", "old-late"]);
        assert_eq!(keys(Some(T0 + 1), Some(T0 + DAY - 1)), ["old-late"]);
    }

    /// A day written with tantivy's default tokenizer answers a query parsed
    /// its own way: what is one word to the new tokenizer (`10.0.0.5`,
    /// `normal_clearing`) is several to the old one, searched as all of them.
    #[test]
    fn partitions_with_the_previous_tokenizer_answer_in_their_words() {
        let (_dir, _, mut store) = with_old_day(SchemaVersion::TsFast);
        add_logs(
            &mut store,
            &[
                (T0, "Hangup sofia/external/1000@10.0.0.5 NORMAL_CLEARING"),
                (T0 + 1, "Hangup sofia/external/1000@10.0.0.50 USER_BUSY"),
                (T0 + DAY, "Hangup sofia/external/1000@10.0.0.5 USER_BUSY"),
                (
                    T0 + DAY + 1,
                    "Hangup sofia/external/1000@10.0.0.50 NORMAL_CLEARING",
                ),
            ],
        );
        let times = |query: &str| search_times(&store, query);
        assert_eq!(times("hangup").len(), 4);
        // The new day matches the address whole, the old one by its parts.
        assert_eq!(times("10.0.0.5"), [T0, T0 + DAY]);
        // A part of an address is no word of the new day's.
        assert_eq!(times("0.5"), [T0]);
        assert_eq!(times("\"external/1000@10.0.0.5\""), times("10.0.0.5"));
        assert_eq!(times("user_busy"), [T0 + 1, T0 + DAY]);
        assert_eq!(times("normal_clearing -10.0.0.50"), [T0]);
    }

    /// A day written with term frequencies in its full text takes new records
    /// and answers the same query as a day without them.
    #[test]
    fn partitions_with_term_frequencies_answer_like_new_ones() {
        use tantivy::schema::IndexRecordOption;

        let (dir, old_day, mut store) = with_old_day(SchemaVersion::WordsWithFreqs);
        add_logs(
            &mut store,
            &[
                (
                    T0,
                    "Hangup sofia/external/1000@10.0.0.5 [NORMAL_CLEARING] 10.0.0.5",
                ),
                (T0 + 1, "Hangup sofia/external/1000@10.0.0.50 [USER_BUSY]"),
                (T0 + DAY, "Hangup sofia/external/1000@10.0.0.5 [USER_BUSY]"),
                (
                    T0 + DAY + 1,
                    "Hangup sofia/external/1000@10.0.0.50 [NORMAL_CLEARING]",
                ),
            ],
        );
        let text_option = |start: i64| {
            let index = Index::open_in_dir(dir.path().join(partition_name(start))).unwrap();
            let schema = index.schema();
            let entry = schema.get_field_entry(schema.get_field("text").unwrap());
            match entry.field_type() {
                tantivy::schema::FieldType::Str(o) => {
                    o.get_indexing_options().unwrap().index_option()
                }
                other => panic!("text is {other:?}"),
            }
        };
        assert_eq!(text_option(old_day), IndexRecordOption::WithFreqs);
        assert_eq!(
            text_option(partition_start(T0 + DAY, DAY)),
            IndexRecordOption::Basic
        );
        let times = |query: &str| search_times(&store, query);
        assert_eq!(times("hangup").len(), 4);
        assert_eq!(times("10.0.0.5"), [T0, T0 + DAY]);
        assert_eq!(times("normal_clearing"), [T0, T0 + DAY + 1]);
        assert_eq!(times("\"user_busy 10.0.0.5\""), [T0 + DAY]);
        assert_eq!(times("normal_clearing -10.0.0.50"), [T0]);
    }

    #[test]
    fn a_partition_with_a_foreign_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let name = partition_name(partition_start(T0, DAY));
        let part = dir.path().join(&name);
        std::fs::create_dir_all(&part).unwrap();
        let mut b = Schema::builder();
        b.add_text_field("ts", STRING);
        Index::create_in_dir(&part, b.build()).unwrap();
        match Store::open(dir.path(), StoreOptions::default()) {
            Err(StoreError::Schema { partition }) => assert_eq!(partition, name),
            other => panic!("expected a schema error, got {:?}", other.map(|_| ())),
        }
    }
}
