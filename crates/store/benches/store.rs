//! Index throughput and trace latency on records built from the real set
//! testdata/freeswitch-live/01-bridged-callid-random, replicated with renamed
//! identifiers so every copy is a distinct call.
//!
//! - `index/*`: add a batch of records, commit once at the end (records/s).
//! - `trace/warm`: trace random calls on a committed index of `CW_BENCH_RECORDS`
//!   records (default 1 000 000), first page of 100 records; besides criterion's
//!   mean it prints p50/p99 over 2 000 traces right after the last commit
//!   (merges running) and again with the index at rest, over 200 traces each made
//!   right after a commit (a freshly reloaded reader, as under ingest), and the
//!   latency of record searches (broad, time-bounded, words, one id).
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use callweave_core::record::{CallId, ChannelUuid, Record, RecordKind};
use callweave_store::{RecordSearch, Store, StoreOptions, StoreReader, TraceOptions};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

// The agent's allocator: its index thread builds and frees documents with it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SET: &str = "01-bridged-callid-random";

fn suffix<T: From<String> + AsRef<str>>(id: &T, k: usize) -> T {
    T::from(format!("{}~{k}", id.as_ref()))
}

/// Copy `k` of a record: every identifier renamed, time shifted by `k` seconds.
fn replicate(r: &Record, k: usize) -> Record {
    let mut r = r.clone();
    r.ts_micros += k as i64 * 1_000_000 % 80_000_000_000;
    match &mut r.kind {
        RecordKind::Sip(s) => {
            let renamed = suffix(&s.call_id, k);
            // The message says the same, so the record still derives from it.
            s.raw = Arc::from(s.raw.replace(s.call_id.as_str(), renamed.as_str()));
            s.call_id = renamed;
        }
        RecordKind::Channel(c) => {
            for u in [
                &mut c.unique_id,
                &mut c.other_leg_unique_id,
                &mut c.channel_call_uuid,
                &mut c.bridge_a,
                &mut c.bridge_b,
            ] {
                if let Some(v) = u.as_mut() {
                    *v = suffix::<ChannelUuid>(v, k);
                }
            }
            if let Some(v) = c.sip_call_id.as_mut() {
                *v = suffix::<CallId>(v, k);
            }
        }
        RecordKind::Log(l) => {
            if let Some(v) = l.uuid.as_mut() {
                *v = suffix::<ChannelUuid>(v, k);
            }
            if let Some(v) = l.call_id_hint.as_mut() {
                *v = suffix::<CallId>(v, k);
            }
            if let Some(v) = l.peer_uuid.as_mut() {
                *v = suffix::<ChannelUuid>(v, k);
            }
        }
    }
    r
}

/// The records as the agent's listeners make them: header fields derived from
/// the message (so the index stores a SIP record as its message). With
/// `CW_BENCH_STORED_JSON` set, the same records are stored whole as JSON
/// instead, as before the message alone was stored: an A/B of the two.
fn as_the_agent_makes_them(mut records: Vec<Record>) -> Vec<Record> {
    let as_json = std::env::var_os("CW_BENCH_STORED_JSON").is_some();
    for r in &mut records {
        if let RecordKind::Sip(s) = &mut r.kind {
            let raw = s.raw.clone();
            s.derive_fields(raw).unwrap();
            s.fields_from_raw = !as_json;
        }
    }
    records
}

fn corpus(base: &[Record], n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| replicate(&base[i % base.len()], i / base.len()))
        .collect()
}

fn store(dir: &std::path::Path, first_ts: i64) -> Store {
    store_with(dir, first_ts, true)
}

fn store_with(dir: &std::path::Path, first_ts: i64, full_text: bool) -> Store {
    let mut s = Store::open(
        dir,
        StoreOptions {
            writer_memory: 256 << 20,
            full_text,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    s.set_now(first_ts);
    s
}

/// Indexes `recs` the way the agent does: documents built by a `DocBuilder`
/// (SIP messages stored beside the JSON), added 1024 at a time, then one commit.
fn index_all(s: &mut Store, recs: &mut [Record]) {
    let builder = s.doc_builder();
    for chunk in recs.chunks_mut(1024) {
        let docs = chunk
            .iter_mut()
            .map(|r| builder.record_mut(r, None).unwrap())
            .collect();
        s.add_prepared_batch(docs).unwrap();
    }
    s.commit().unwrap();
}

/// CPU time (user + system, all threads) of this process, from /proc/self/stat
/// (Linux; clock ticks assumed 100 Hz). The machine these benches run on is shared,
/// so wall-clock throughput understates what one idle core does.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_comm = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after_comm.split(' ').collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The agent's steady state, which `index/*` leaves out: a commit every
/// `CW_BENCH_COMMIT_EVERY` records (default 40 000: one second at 40k/s) and the
/// background merges those commits start, waited for at the end. Prints CPU
/// seconds per 100 000 records. Runs instead of the other `index/*` benches when
/// `CW_BENCH_STEADY` is set to a record count (e.g. 1000000).
fn index_steady(base: &[Record], name: &str, full_text: bool) {
    let n = std::env::var("CW_BENCH_STEADY")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1_000_000);
    let every = std::env::var("CW_BENCH_COMMIT_EVERY")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(40_000)
        .max(1);
    let dir = tempfile::tempdir().unwrap();
    let mut s = store_with(dir.path(), base[0].ts_micros, full_text);
    let (w0, c0) = (Instant::now(), cpu_time());
    let mut done = 0;
    while done < n {
        let mut recs: Vec<Record> = (done..(done + every).min(n))
            .map(|i| replicate(&base[i % base.len()], i / base.len()))
            .collect();
        index_all(&mut s, &mut recs);
        done += recs.len();
    }
    s.close().unwrap();
    let (wall, cpu) = (w0.elapsed(), cpu_time().zip(c0).map(|(b, a)| b - a));
    eprintln!(
        "index_steady/{name}: {n} records, commit every {every}, merges waited: {wall:.2?} wall, {cpu:.2?} CPU ({:.3} CPU-s per 100k records, incl. building the copies)",
        cpu.map_or(0.0, |c| c.as_secs_f64() * 100_000.0 / n as f64),
    );
    let (store_bytes, all_bytes) = disk_use(dir.path());
    eprintln!(
        "index_steady/{name}: on disk {:.1} MiB, of which doc store {:.1} MiB ({:.0} bytes per record)",
        all_bytes as f64 / 1048576.0,
        store_bytes as f64 / 1048576.0,
        store_bytes as f64 / n as f64,
    );
}

/// Bytes of the doc-store files (`.store`) and of all files under `dir`.
fn disk_use(dir: &std::path::Path) -> (u64, u64) {
    let (mut store, mut all) = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let (path, meta) = (e.path(), e.metadata().unwrap());
            if meta.is_dir() {
                stack.push(path);
            } else {
                all += meta.len();
                if path.extension().is_some_and(|x| x == "store") {
                    store += meta.len();
                }
            }
        }
    }
    (store, all)
}

fn index(c: &mut Criterion) {
    let all = as_the_agent_makes_them(common::all_records(SET));
    let sip = as_the_agent_makes_them(common::hep_records(SET));
    if std::env::var_os("CW_BENCH_STEADY").is_some() {
        index_steady(&sip, "sip", true);
        if std::env::var_os("CW_BENCH_STEADY_SIP_ONLY").is_none() {
            index_steady(&all, "mixed_sip_esl_log", true);
        }
        return;
    }
    let mut g = c.benchmark_group("index");
    g.sample_size(10);
    for (name, base, full_text) in [
        ("sip", &sip, true),
        ("sip_no_full_text", &sip, false),
        ("mixed_sip_esl_log", &all, true),
        ("mixed_no_full_text", &all, false),
    ] {
        let n = 100_000;
        let mut recs = corpus(base, n);
        {
            let dir = tempfile::tempdir().unwrap();
            let mut s = store_with(dir.path(), recs[0].ts_micros, full_text);
            let (w0, c0) = (Instant::now(), cpu_time());
            index_all(&mut s, &mut recs);
            let (wall, cpu) = (w0.elapsed(), cpu_time().zip(c0).map(|(b, a)| b - a));
            eprintln!(
                "index/{name}: {n} records in {wall:.2?} wall ({:.0}/s), {cpu:.2?} CPU ({:.0} records per CPU-second)",
                n as f64 / wall.as_secs_f64(),
                cpu.map_or(0.0, |c| n as f64 / c.as_secs_f64().max(1e-9)),
            );
        }
        let first_ts = recs[0].ts_micros;
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().unwrap();
                    let s = store_with(dir.path(), first_ts, full_text);
                    (dir, s)
                },
                |(dir, mut s)| {
                    index_all(&mut s, &mut recs);
                    drop(s);
                    dir
                },
                BatchSize::PerIteration,
            );
        });
    }
    g.finish();
}

/// One trace of `id`, timed; the call must have more than a page of records.
fn timed_trace(reader: &StoreReader, id: &str, opts: TraceOptions) -> Duration {
    let t = Instant::now();
    let tr = reader.trace(id, opts).unwrap().unwrap();
    let d = t.elapsed();
    assert!(tr.total_records > 100, "{id}: {}", tr.total_records);
    d
}

fn print_percentiles(what: &str, mut lat: Vec<Duration>) {
    lat.sort();
    eprintln!(
        "{what}: p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        lat[lat.len() / 2],
        lat[lat.len() * 9 / 10],
        lat[lat.len() * 99 / 100],
        lat[lat.len() - 1]
    );
}

fn trace(c: &mut Criterion) {
    if std::env::var_os("CW_BENCH_STEADY").is_some() {
        return;
    }
    let n: usize = std::env::var("CW_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let all = as_the_agent_makes_them(common::all_records(SET));
    let rows = common::calls_tsv(SET);
    let first_call = rows[0].a_call_id.clone();
    let copies = n.div_ceil(all.len());
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path(), all[0].ts_micros);
    let t0 = Instant::now();
    for k in 0..copies {
        for r in &all {
            s.add_record(&replicate(r, k), None).unwrap();
        }
        // Commit about every 100k records, as the agent would every second under load.
        if (k + 1) * all.len() % 100_000 < all.len() {
            s.commit().unwrap();
        }
    }
    s.commit().unwrap();
    let built = t0.elapsed();
    let reader = s.reader();
    let total = copies * all.len();
    eprintln!(
        "trace index: {total} records ({copies} copies of {} records, {} calls) built in {built:.1?} ({:.0} records/s incl. commits), {} docs",
        all.len(),
        copies * rows.len(),
        total as f64 / built.as_secs_f64(),
        reader.num_docs()
    );

    // Ids to trace: a pseudo-random copy and call each time, each kind of id.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next_id = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let k = (x % copies as u64) as usize;
        let row = &rows[(x >> 32) as usize % rows.len()];
        let id = match (x >> 40) % 4 {
            0 => &row.a_call_id,
            1 => &row.a_uuid,
            2 => &row.b_call_id,
            _ => &row.b_uuid,
        };
        format!("{id}~{k}")
    };
    let opts = TraceOptions {
        limit: 100,
        offset: 0,
        max_ids: 256,
    };

    // Percentiles over many traces, right after the last commit (the merges
    // it started still running beside the queries, as under ingest).
    let lat: Vec<Duration> = (0..2000)
        .map(|_| timed_trace(&reader, &next_id(), opts))
        .collect();
    print_percentiles(
        &format!("trace latency over {} traces, merges running", lat.len()),
        lat,
    );

    // And at rest: the store closed once its merges are done, reopened, 200
    // traces to warm it, then measured.
    s.close().unwrap();
    let mut s = store(dir.path(), all[0].ts_micros);
    let reader = s.reader();
    for _ in 0..200 {
        timed_trace(&reader, &next_id(), opts);
    }
    let lat: Vec<Duration> = (0..2000)
        .map(|_| timed_trace(&reader, &next_id(), opts))
        .collect();
    print_percentiles(
        &format!(
            "trace latency over {} traces, index at rest ({} docs)",
            lat.len(),
            reader.num_docs()
        ),
        lat,
    );

    // Record search (/api/v1/search): newest 50 of a broad match (a field
    // every INVITE transaction has), of the same in the last ~1% of the time
    // span, of words, and of one identifier.
    let span = (copies as i64 * 1_000_000).max(1);
    let last = all[0].ts_micros + span;
    for (what, query, since) in [
        (
            "broad: kind:sip method:INVITE",
            "kind:sip method:INVITE".to_owned(),
            None,
        ),
        (
            "broad, last 1% of the span",
            "kind:sip method:INVITE".to_owned(),
            Some(last - span / 100),
        ),
        (
            "words: kind:log new channel",
            "kind:log new channel".to_owned(),
            None,
        ),
        (
            "one id",
            format!("id:\"{first_call}~{}\"", copies / 2),
            None,
        ),
    ] {
        let search = RecordSearch {
            query,
            since,
            until: None,
            limit: 50,
        };
        let mut hits = 0;
        let lat: Vec<Duration> = (0..50)
            .map(|_| {
                let t = Instant::now();
                hits = reader.search(&search).unwrap().total;
                t.elapsed()
            })
            .collect();
        print_percentiles(
            &format!("search ({what}; {hits} matches) over 50 queries"),
            lat,
        );
    }

    // The first trace after each commit: the reader has just been reloaded
    // (tantivy opens every segment afresh), as happens once a second under
    // ingest. Each round adds one more copy of the set and commits.
    let after_commit: Vec<Duration> = (0..200)
        .map(|round| {
            let k = copies + round;
            for r in &all {
                s.add_record(&replicate(r, k), None).unwrap();
            }
            s.commit().unwrap();
            timed_trace(&reader, &next_id(), opts)
        })
        .collect();
    print_percentiles(
        &format!(
            "first trace after a commit, over {} commits",
            after_commit.len()
        ),
        after_commit,
    );

    let reader = Arc::new(reader);
    let mut g = c.benchmark_group("trace");
    g.bench_function("warm_first_page_100", |b| {
        b.iter(|| black_box(reader.trace(&next_id(), opts).unwrap()));
    });
    g.finish();
    drop(s);
}

criterion_group!(benches, index, trace);
criterion_main!(benches);
