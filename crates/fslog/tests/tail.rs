//! The tailer on real files in a temp dir: appends, partial lines, rename
//! rotation, copytruncate, restart from the positions file, a file that
//! appears late. Poll intervals are short and every wait is bounded.
#![allow(clippy::unwrap_used)]

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use callweave_fslog::{Entry, LogClock, TailConfig, TailStats, Tailer};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::timeout;

const UUID: &str = "d9e73608-5048-4523-aded-4dc2c3f91498";
const WAIT: Duration = Duration::from_secs(10);

fn line(i: usize) -> String {
    format!(
        "{UUID} 2026-11-26 03:{:02}:{:02}.{:06} 98.63% [DEBUG] test.c:{i} message {i}\n",
        (i / 60) % 60,
        i % 60,
        i % 1_000_000
    )
}

/// An entry with two SDP continuation lines.
fn sdp_entry(i: usize) -> String {
    format!(
        "{UUID} 2026-11-26 03:00:00.000000 98.63% [DEBUG] sofia.c:7503 message {i}\n{UUID} v=0\r\n{UUID} \n"
    )
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn config(path: &Path, positions: Option<PathBuf>) -> TailConfig {
    let mut c = TailConfig::new(path);
    c.positions_file = positions;
    c.poll_interval = Duration::from_millis(15);
    c.quiet_flush = Duration::from_millis(60);
    c.persist_interval = Duration::from_millis(30);
    c.clock = LogClock::utc();
    c
}

struct Running {
    rx: mpsc::Receiver<Entry>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<TailStats, callweave_fslog::Error>>,
}

fn spawn(config: TailConfig, capacity: usize) -> Running {
    let (tx, rx) = mpsc::channel(capacity);
    let (stop, stopped) = oneshot::channel::<()>();
    let tailer = Tailer::new(config);
    let task = tokio::spawn(tailer.run(tx, async {
        let _ = stopped.await;
    }));
    Running { rx, stop, task }
}

impl Running {
    async fn recv(&mut self, n: usize) -> Vec<Entry> {
        let mut got = Vec::new();
        while got.len() < n {
            match timeout(WAIT, self.rx.recv()).await {
                Ok(Some(e)) => got.push(e),
                Ok(None) => break,
                Err(_) => panic!("timed out after {} of {n} entries: {got:?}", got.len()),
            }
        }
        got
    }

    /// Asserts nothing more arrives for a while.
    async fn quiet(&mut self) {
        if let Ok(Some(e)) = timeout(Duration::from_millis(300), self.rx.recv()).await {
            panic!("unexpected entry {e:?}");
        }
    }

    /// Stops the tailer and returns its stats and whatever was already in
    /// the channel (handed over before the stop).
    async fn stop(self) -> (TailStats, Vec<Entry>) {
        let Running { mut rx, stop, task } = self;
        stop.send(()).unwrap();
        let stats = timeout(WAIT, task).await.unwrap().unwrap().unwrap();
        let mut rest = Vec::new();
        while let Ok(e) = rx.try_recv() {
            rest.push(e);
        }
        (stats, rest)
    }
}

fn messages(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(|e| e.message.clone()).collect()
}

fn expected(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("message {i}")).collect()
}

#[tokio::test]
async fn follows_appends_and_waits_for_partial_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("freeswitch.log");
    append(&log, &(0..3).map(line).collect::<String>());
    let mut t = spawn(config(&log, None), 16);
    assert_eq!(messages(&t.recv(3).await), expected(0..3));

    let full = line(3);
    let (head, tail) = full.split_at(40);
    append(&log, head);
    t.quiet().await;
    append(&log, tail);
    let got = t.recv(1).await;
    assert_eq!(messages(&got), expected(3..4));
    assert_eq!(got[0].line, Some(3));
    assert_eq!(got[0].uuid.as_deref(), Some(UUID));

    append(&log, &sdp_entry(4));
    let got = t.recv(1).await;
    assert_eq!(got[0].continuation, ["v=0", ""]);
    let (stats, rest) = t.stop().await;
    assert!(rest.is_empty());
    assert_eq!(stats.lines, 7);
    assert_eq!(stats.entries, 5);
    assert_eq!(stats.bytes, std::fs::metadata(&log).unwrap().len());
    assert_eq!((stats.rotations, stats.truncations), (0, 0));
}

#[tokio::test]
async fn rename_rotation_finishes_old_file_first() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("freeswitch.log");
    let old = dir.path().join("freeswitch.log.1");
    append(&log, &(0..3).map(line).collect::<String>());
    let mut t = spawn(config(&log, None), 16);
    assert_eq!(messages(&t.recv(3).await), expected(0..3));

    // FreeSWITCH renames, may still write through its old descriptor, then
    // reopens the path. The old file ends with an unfinished line.
    std::fs::rename(&log, &old).unwrap();
    append(&old, &line(3));
    append(&old, line(4).trim_end());
    tokio::time::sleep(Duration::from_millis(50)).await;
    append(&log, &(5..8).map(line).collect::<String>());

    let got = t.recv(5).await;
    assert_eq!(messages(&got), expected(3..8));
    t.quiet().await;
    let (stats, _) = t.stop().await;
    assert_eq!(stats.rotations, 1);
    assert_eq!(stats.truncations, 0);
    assert_eq!(stats.lines, 8);
}

#[tokio::test]
async fn copytruncate_restarts_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("freeswitch.log");
    append(&log, &(0..10).map(line).collect::<String>());
    let mut t = spawn(config(&log, None), 16);
    assert_eq!(messages(&t.recv(10).await), expected(0..10));

    // Shorter content after the truncation.
    std::fs::copy(&log, dir.path().join("freeswitch.log.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, &(10..12).map(line).collect::<String>());
    assert_eq!(messages(&t.recv(2).await), expected(10..12));

    // Longer content than before, written at once: caught by the
    // fingerprint of the first bytes, not by the size.
    OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, &(100..130).map(line).collect::<String>());
    assert_eq!(messages(&t.recv(30).await), expected(100..130));
    t.quiet().await;
    let (stats, _) = t.stop().await;
    assert_eq!(stats.truncations, 2);
    assert_eq!(stats.rotations, 0);
}

/// Stop while an entry waits for continuation lines and while the consumer
/// lags; restart; every entry arrives exactly once and intact.
#[tokio::test]
async fn restart_resumes_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("freeswitch.log");
    let pos = dir.path().join("fslog.pos");
    let mut all = Vec::new();

    // Run 1: a lagging consumer (capacity 4) stopped mid-backlog.
    append(
        &log,
        &(0..300)
            .map(|i: usize| {
                if i.is_multiple_of(10) {
                    sdp_entry(i)
                } else {
                    line(i)
                }
            })
            .collect::<String>(),
    );
    let mut t = spawn(config(&log, Some(pos.clone())), 4);
    all.extend(t.recv(50).await);
    let (stats1, rest) = t.stop().await;
    all.extend(rest);
    assert!(all.len() < 300, "stopped mid-stream");
    assert!(
        std::fs::read_to_string(&pos)
            .unwrap()
            .starts_with("callweave-fslog-position v1\n")
    );

    // Run 2: read to the end; the last entry is still pending (long quiet
    // flush) when we stop, so its continuation is written after the stop.
    let mut c = config(&log, Some(pos.clone()));
    c.quiet_flush = Duration::from_secs(60);
    let mut t = spawn(c.clone(), 1024);
    let n = 299 - all.len();
    all.extend(t.recv(n).await);
    append(
        &log,
        &format!("{UUID} 2026-11-26 03:00:00.000000 98.63% [DEBUG] sofia.c:7503 message 300\n"),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, rest) = t.stop().await;
    all.extend(rest);
    assert_eq!(all.len(), 300, "message 300 is still pending");
    append(&log, &format!("{UUID} v=0\r\n{UUID} \n"));

    // Run 3: the pending entry is re-read whole.
    let mut t = spawn(config(&log, Some(pos.clone())), 1024);
    all.extend(t.recv(1).await);
    append(&log, &(301..305).map(line).collect::<String>());
    all.extend(t.recv(4).await);
    t.quiet().await;
    let (stats3, rest) = t.stop().await;
    assert!(rest.is_empty());

    assert_eq!(messages(&all), expected(0..305));
    for e in &all {
        let i: usize = e.message["message ".len()..].parse().unwrap();
        let want: &[&str] = if i.is_multiple_of(10) {
            &["v=0", ""]
        } else {
            &[]
        };
        assert_eq!(e.continuation, want, "entry {i}");
    }
    assert!(stats1.positions_written >= 1);
    assert_eq!(stats3.lines, 3 + 4);
}

#[tokio::test]
async fn missing_file_appears_later() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("freeswitch.log");
    let mut t = spawn(config(&log, Some(dir.path().join("pos"))), 16);
    tokio::time::sleep(Duration::from_millis(100)).await;
    append(&log, &(0..3).map(line).collect::<String>());
    assert_eq!(messages(&t.recv(3).await), expected(0..3));
    let (stats, _) = t.stop().await;
    assert_eq!(stats.missing, 1);
    assert_eq!(stats.lines, 3);
}

#[tokio::test]
async fn start_at_end_and_new_file_behind_old_position() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("freeswitch.log");
    let pos = dir.path().join("pos");
    append(&log, &(0..5).map(line).collect::<String>());
    let mut c = config(&log, Some(pos.clone()));
    c.start_at_end_if_no_position = true;
    let mut t = spawn(c.clone(), 16);
    tokio::time::sleep(Duration::from_millis(100)).await;
    append(&log, &(5..7).map(line).collect::<String>());
    assert_eq!(messages(&t.recv(2).await), expected(5..7));
    t.quiet().await;
    t.stop().await;

    // While stopped, the file is replaced by a new one (the inode may even be
    // reused): the saved position no longer applies, read from 0.
    std::fs::remove_file(&log).unwrap();
    append(&log, &(20..23).map(line).collect::<String>());
    let mut t = spawn(c, 16);
    assert_eq!(messages(&t.recv(3).await), expected(20..23));
    t.quiet().await;
    t.stop().await;
}
