//! Rotation-safe polling file tailer with a positions file.
//!
//! Why polling and not inotify: a stat and a read every 250 ms cost nothing,
//! work on every filesystem (NFS, overlayfs, bind mounts into containers,
//! where inotify is silent or absent) and see `copytruncate` rotation, which
//! only shows as a file that got shorter. The latency is a poll interval,
//! far below what log shipping needs.

use std::future::Future;
use std::io::{ErrorKind as IoKind, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::assemble::{Assembler, AssemblerLimits, Entry};
use crate::clock::LogClock;
use crate::error::{Error, ErrorKind};

/// Bytes at the start of a file whose hash identifies it, so a reused inode
/// (delete + create) is not mistaken for the file we were reading.
const FINGERPRINT_MAX: usize = 256;

/// Configuration of a [`Tailer`].
#[derive(Debug, Clone)]
pub struct TailConfig {
    /// The log file to follow.
    pub path: PathBuf,
    /// Where to persist the read position; `None` keeps it in memory only.
    pub positions_file: Option<PathBuf>,
    /// How often to look for new data, rotation and truncation.
    pub poll_interval: Duration,
    /// With no usable saved position, start at the end of the file (skip
    /// history) instead of the beginning.
    pub start_at_end_if_no_position: bool,
    /// Emit the last entry after the file has been quiet this long (it may
    /// still get continuation lines until then).
    pub quiet_flush: Duration,
    /// How often the position is written (also written at shutdown).
    pub persist_interval: Duration,
    /// Longer lines are cut into pieces of this size (counted).
    pub max_line_bytes: usize,
    /// Zone of the log timestamps.
    pub clock: LogClock,
    /// Per-entry limits of the assembler.
    pub limits: AssemblerLimits,
}

impl TailConfig {
    /// Defaults: 250 ms polls, 500 ms quiet flush, position written every
    /// second, start from the beginning of a file never seen before.
    pub fn new(path: impl Into<PathBuf>) -> TailConfig {
        TailConfig {
            path: path.into(),
            positions_file: None,
            poll_interval: Duration::from_millis(250),
            start_at_end_if_no_position: false,
            quiet_flush: Duration::from_millis(500),
            persist_interval: Duration::from_secs(1),
            max_line_bytes: 64 * 1024,
            clock: LogClock::system(),
            limits: AssemblerLimits::default(),
        }
    }
}

/// Live counters of a [`Tailer`], readable from another task (metrics).
#[derive(Debug, Default)]
pub struct TailCounters {
    lines: AtomicU64,
    bytes: AtomicU64,
    entries: AtomicU64,
    rotations: AtomicU64,
    truncations: AtomicU64,
    missing: AtomicU64,
    long_lines: AtomicU64,
    dropped_lines: AtomicU64,
    positions_written: AtomicU64,
    io_errors: AtomicU64,
}

/// A snapshot of [`TailCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TailStats {
    /// Complete lines read.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Entries handed to the consumer.
    pub entries: u64,
    /// Rename rotations followed (new inode at the path).
    pub rotations: u64,
    /// Truncations (copytruncate, or a rewritten file) that restarted at 0.
    pub truncations: u64,
    /// Times the file was found missing (once per absence).
    pub missing: u64,
    /// Over-long lines cut at `max_line_bytes`.
    pub long_lines: u64,
    /// Continuation lines dropped by the assembler limits.
    pub dropped_lines: u64,
    /// Position file writes.
    pub positions_written: u64,
    /// I/O errors (read, stat, positions file), each retried.
    pub io_errors: u64,
}

impl TailCounters {
    /// The current values.
    pub fn snapshot(&self) -> TailStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TailStats {
            lines: get(&self.lines),
            bytes: get(&self.bytes),
            entries: get(&self.entries),
            rotations: get(&self.rotations),
            truncations: get(&self.truncations),
            missing: get(&self.missing),
            long_lines: get(&self.long_lines),
            dropped_lines: get(&self.dropped_lines),
            positions_written: get(&self.positions_written),
            io_errors: get(&self.io_errors),
        }
    }
}

fn bump(a: &AtomicU64, n: u64) {
    a.fetch_add(n, Ordering::Relaxed);
}

/// Follows one FreeSWITCH log file and sends assembled [`Entry`] values.
///
/// - Appends are followed; a partial last line waits for its newline.
/// - Rename rotation (a new inode at the path): the old file is read to its
///   end (its partial last line, which will never be finished, is taken as a
///   line), then the new file is read from 0.
/// - Truncation (size below the position, or the first bytes changed, as
///   with `copytruncate`): restart at 0.
/// - Missing file (at start or between rotation steps): retried each poll,
///   logged once per absence.
/// - The position (device, inode, offset, fingerprint of the first bytes) is
///   written atomically (temp file + rename) about once a second and at
///   shutdown. It only covers entries already handed to the channel: an entry
///   still waiting for continuation lines at shutdown is re-read after the
///   restart, so entries are delivered once, with no gap.
#[derive(Debug)]
pub struct Tailer {
    config: TailConfig,
    counters: Arc<TailCounters>,
}

impl Tailer {
    /// A tailer; nothing happens until [`run`](Tailer::run).
    pub fn new(config: TailConfig) -> Tailer {
        Tailer {
            config,
            counters: Arc::new(TailCounters::default()),
        }
    }

    /// Component name for logs and metrics.
    pub fn name(&self) -> &'static str {
        "fslog"
    }

    /// Live counters, for metrics.
    pub fn counters(&self) -> Arc<TailCounters> {
        Arc::clone(&self.counters)
    }

    /// Follows the file until `shutdown` completes or the receiver is
    /// dropped, then writes the position. Read and stat errors are counted,
    /// logged and retried; the only error returned is failing to write the
    /// final position.
    pub async fn run(
        self,
        out: mpsc::Sender<Entry>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<TailStats, Error> {
        let saved = match &self.config.positions_file {
            Some(p) => load_position(p, &self.counters).await,
            None => None,
        };
        let mut st = State {
            asm: Assembler::with_limits(self.config.clock.clone(), self.config.limits),
            config: self.config,
            counters: self.counters,
            saved,
            open: None,
            missing_logged: false,
            last_persisted: None,
        };
        tokio::select! {
            () = shutdown => {}
            () = st.follow(&out) => {}
        }
        st.persist().await?;
        Ok(st.counters.snapshot())
    }
}

/// Identity of a file: device and inode (zero where the platform has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    #[cfg(unix)]
    fn of(meta: &std::fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    #[cfg(not(unix))]
    fn of(_meta: &std::fs::Metadata) -> FileId {
        FileId { dev: 0, ino: 0 }
    }
}

/// Hash of the first `len` bytes of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    hash: u64,
}

/// A saved or current read position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    id: FileId,
    offset: u64,
    fingerprint: Fingerprint,
}

struct OpenFile {
    file: File,
    id: FileId,
    fingerprint: Fingerprint,
    /// Bytes read so far (file offset of the next read).
    read_pos: u64,
    /// Offset just after the last complete line given to the assembler.
    line_end: u64,
    /// Offset of the first line of the assembler's pending entry.
    pending_start: u64,
    /// Offset up to which every entry has been handed over.
    committed: u64,
    /// Bytes after the last newline.
    partial: Vec<u8>,
    /// When data last arrived, for the quiet flush.
    last_data: Instant,
    /// A rotation was seen; switch once the old file stays quiet one poll.
    rotating: bool,
}

struct State {
    config: TailConfig,
    counters: Arc<TailCounters>,
    asm: Assembler,
    saved: Option<Position>,
    open: Option<OpenFile>,
    missing_logged: bool,
    last_persisted: Option<Position>,
}

/// The consumer is gone: stop.
struct Closed;

impl State {
    async fn follow(&mut self, out: &mpsc::Sender<Entry>) {
        let mut next_persist = Instant::now() + self.config.persist_interval;
        let mut ticker = tokio::time::interval(self.config.poll_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if self.poll(out).await.is_err() {
                return;
            }
            if Instant::now() >= next_persist {
                next_persist = Instant::now() + self.config.persist_interval;
                if let Err(e) = self.persist().await {
                    bump(&self.counters.io_errors, 1);
                    tracing::warn!(error = %e, "fslog: cannot write positions file");
                }
            }
        }
    }

    async fn poll(&mut self, out: &mpsc::Sender<Entry>) -> Result<(), Closed> {
        if self.open.is_none() && !self.try_open().await {
            return Ok(());
        }
        // Before reading: after copytruncate the writer may already have
        // written past our old offset, and reading there would start
        // mid-line in unrelated content.
        self.check_truncation(out).await?;
        let got = self.read_available(out).await?;
        if got > 0 {
            return Ok(());
        }
        self.check_rotation(out).await?;
        self.quiet_flush(out).await
    }

    /// Opens the file, resuming from the saved position when it still
    /// describes this file.
    async fn try_open(&mut self) -> bool {
        let path = self.config.path.clone();
        let file = match File::open(&path).await {
            Ok(f) => f,
            Err(e) => {
                if !self.missing_logged {
                    self.missing_logged = true;
                    bump(&self.counters.missing, 1);
                    if e.kind() == IoKind::NotFound {
                        tracing::warn!(path = %path.display(), "fslog: log file missing, waiting for it");
                    } else {
                        bump(&self.counters.io_errors, 1);
                        tracing::warn!(path = %path.display(), error = %e, "fslog: cannot open log file, retrying");
                    }
                }
                return false;
            }
        };
        self.missing_logged = false;
        let opened = self.start(file, true).await;
        match opened {
            Ok(o) => {
                self.open = Some(o);
                true
            }
            Err(e) => {
                bump(&self.counters.io_errors, 1);
                tracing::warn!(path = %path.display(), error = %e, "fslog: cannot read log file, retrying");
                false
            }
        }
    }

    /// Sets up reading `file`; `initial` applies the saved position and the
    /// start-at-end option, otherwise (after a rotation) reads from 0.
    async fn start(&mut self, mut file: File, initial: bool) -> std::io::Result<OpenFile> {
        let meta = file.metadata().await?;
        let id = FileId::of(&meta);
        let size = meta.len();
        let fingerprint = fingerprint(&mut file, size).await?;
        let mut offset = 0;
        if initial {
            match self.saved {
                Some(saved) if saved.id == id && saved.offset <= size => {
                    let current = fingerprint_len(&mut file, saved.fingerprint.len).await?;
                    if current == Some(saved.fingerprint) {
                        offset = saved.offset;
                    } else {
                        tracing::info!(path = %self.config.path.display(), "fslog: inode reused by a new file, reading from the start");
                    }
                }
                Some(_) => {
                    tracing::info!(path = %self.config.path.display(), "fslog: saved position is for another file, reading from the start");
                }
                None if self.config.start_at_end_if_no_position => offset = size,
                None => {}
            }
        }
        file.seek(SeekFrom::Start(offset)).await?;
        Ok(OpenFile {
            file,
            id,
            fingerprint,
            read_pos: offset,
            line_end: offset,
            pending_start: offset,
            committed: offset,
            partial: Vec::new(),
            last_data: Instant::now(),
            rotating: false,
        })
    }

    /// Reads to EOF (bounded per poll), feeding complete lines. Returns the
    /// number of bytes read.
    async fn read_available(&mut self, out: &mpsc::Sender<Entry>) -> Result<u64, Closed> {
        // Bounded so positions get written and shutdown is seen during a
        // large backlog.
        const MAX_PER_POLL: u64 = 8 * 1024 * 1024;
        let mut total = 0u64;
        let mut chunk = vec![0u8; 64 * 1024];
        while total < MAX_PER_POLL {
            let Some(open) = self.open.as_mut() else {
                break;
            };
            let n = match open.file.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    bump(&self.counters.io_errors, 1);
                    tracing::warn!(path = %self.config.path.display(), error = %e, "fslog: read error");
                    break;
                }
            };
            total += n as u64;
            open.read_pos += n as u64;
            open.last_data = Instant::now();
            bump(&self.counters.bytes, n as u64);
            let data = chunk.get(..n).unwrap_or(&[]);
            let mut rest = data;
            while let Some(nl) = memchr::memchr(b'\n', rest) {
                let (head, tail) = rest.split_at(nl);
                rest = tail.get(1..).unwrap_or(&[]);
                let Some(open) = self.open.as_mut() else {
                    break;
                };
                let line = if open.partial.is_empty() {
                    String::from_utf8_lossy(head).into_owned()
                } else {
                    open.partial.extend_from_slice(head);
                    let l = String::from_utf8_lossy(&open.partial).into_owned();
                    open.partial.clear();
                    l
                };
                self.feed(&line, line.len() as u64 + 1, out).await?;
            }
            self.keep_partial(rest, out).await?;
        }
        Ok(total)
    }

    /// Keeps the bytes after the last newline; cuts over-long lines.
    async fn keep_partial(&mut self, rest: &[u8], out: &mpsc::Sender<Entry>) -> Result<(), Closed> {
        let max = self.config.max_line_bytes.max(1);
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        open.partial.extend_from_slice(rest);
        while self.open.as_ref().is_some_and(|o| o.partial.len() > max) {
            let Some(open) = self.open.as_mut() else {
                break;
            };
            let piece: Vec<u8> = open.partial.drain(..max).collect();
            bump(&self.counters.long_lines, 1);
            let line = String::from_utf8_lossy(&piece).into_owned();
            self.feed(&line, max as u64, out).await?;
        }
        Ok(())
    }

    /// Gives one line (which took `len` bytes of the file) to the assembler
    /// and hands over any entry it completes.
    async fn feed(
        &mut self,
        line: &str,
        len: u64,
        out: &mpsc::Sender<Entry>,
    ) -> Result<(), Closed> {
        bump(&self.counters.lines, 1);
        let had_pending = self.asm.has_pending();
        let done = self.asm.push(line);
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        let start = open.line_end;
        open.line_end += len;
        if let Some(entry) = done {
            self.send(entry, out).await?;
            if let Some(open) = self.open.as_mut() {
                open.committed = start;
                open.pending_start = start;
            }
        } else if !had_pending {
            open.pending_start = start;
        }
        Ok(())
    }

    async fn send(&mut self, entry: Entry, out: &mpsc::Sender<Entry>) -> Result<(), Closed> {
        bump(&self.counters.dropped_lines, u64::from(entry.dropped_lines));
        out.send(entry).await.map_err(|_| Closed)?;
        bump(&self.counters.entries, 1);
        Ok(())
    }

    /// Hands over the pending entry; everything read is then committed.
    async fn flush_entry(&mut self, out: &mpsc::Sender<Entry>) -> Result<(), Closed> {
        if let Some(entry) = self.asm.flush() {
            self.send(entry, out).await?;
        }
        if let Some(open) = self.open.as_mut() {
            open.committed = open.line_end;
            open.pending_start = open.line_end;
        }
        Ok(())
    }

    async fn quiet_flush(&mut self, out: &mpsc::Sender<Entry>) -> Result<(), Closed> {
        let quiet = self
            .open
            .as_ref()
            .is_some_and(|o| o.last_data.elapsed() >= self.config.quiet_flush);
        if quiet && self.asm.has_pending() {
            self.flush_entry(out).await?;
        }
        Ok(())
    }

    /// At EOF: has the path moved to a new file (rename rotation)?
    async fn check_rotation(&mut self, out: &mpsc::Sender<Entry>) -> Result<(), Closed> {
        let path_meta = tokio::fs::metadata(&self.config.path).await;
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        match path_meta {
            Ok(meta) if FileId::of(&meta) != open.id => {
                if !open.rotating {
                    // The writer may still append to the old file right after
                    // the rename; give it one more poll.
                    open.rotating = true;
                    return Ok(());
                }
                self.rotate(out).await
            }
            Ok(_) => {
                open.rotating = false;
                self.missing_logged = false;
                Ok(())
            }
            Err(e) if e.kind() == IoKind::NotFound => {
                // Renamed away and not yet recreated: keep reading the old one.
                if !self.missing_logged {
                    self.missing_logged = true;
                    bump(&self.counters.missing, 1);
                    tracing::info!(path = %self.config.path.display(), "fslog: log file moved away, waiting for the new one");
                }
                Ok(())
            }
            Err(e) => {
                bump(&self.counters.io_errors, 1);
                tracing::warn!(path = %self.config.path.display(), error = %e, "fslog: stat failed");
                Ok(())
            }
        }
    }

    /// Finishes the old file and switches to the new one at offset 0.
    async fn rotate(&mut self, out: &mpsc::Sender<Entry>) -> Result<(), Closed> {
        // The old file was drained by this poll's read; its unfinished last
        // line will never get its newline.
        if let Some(open) = self.open.as_mut()
            && !open.partial.is_empty()
        {
            let piece = std::mem::take(&mut open.partial);
            let line = String::from_utf8_lossy(&piece).into_owned();
            self.feed(&line, piece.len() as u64, out).await?;
        }
        self.flush_entry(out).await?;
        let file = match File::open(&self.config.path).await {
            Ok(f) => f,
            Err(e) => {
                bump(&self.counters.io_errors, 1);
                tracing::warn!(path = %self.config.path.display(), error = %e, "fslog: cannot open rotated log file, retrying");
                return Ok(());
            }
        };
        match self.start(file, false).await {
            Ok(new) => {
                self.missing_logged = false;
                self.open = Some(new);
                bump(&self.counters.rotations, 1);
                tracing::info!(path = %self.config.path.display(), "fslog: log file rotated");
            }
            Err(e) => {
                bump(&self.counters.io_errors, 1);
                tracing::warn!(path = %self.config.path.display(), error = %e, "fslog: cannot read rotated log file, retrying");
            }
        }
        Ok(())
    }

    /// Restart at 0 if the open file shrank below our position or its
    /// first bytes changed (copytruncate followed by new writes).
    async fn check_truncation(&mut self, out: &mpsc::Sender<Entry>) -> Result<(), Closed> {
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        let size = match open.file.metadata().await {
            Ok(m) => m.len(),
            Err(_) => {
                bump(&self.counters.io_errors, 1);
                return Ok(());
            }
        };
        let truncated = if size < open.read_pos {
            true
        } else {
            let fp = open.fingerprint;
            let now = fingerprint_len(&mut open.file, fp.len).await;
            let grown = if fp.len < FINGERPRINT_MAX as u64 && size > fp.len {
                fingerprint(&mut open.file, size).await.ok()
            } else {
                None
            };
            let back = open.file.seek(SeekFrom::Start(open.read_pos)).await;
            if back.is_err() {
                bump(&self.counters.io_errors, 1);
            }
            match now {
                Ok(Some(now)) if now == fp => {
                    if let Some(g) = grown {
                        open.fingerprint = g;
                    }
                    false
                }
                Ok(_) => true,
                Err(_) => {
                    bump(&self.counters.io_errors, 1);
                    false
                }
            }
        };
        if !truncated {
            return Ok(());
        }
        // The unfinished line belonged to the content that was cut away.
        open.partial.clear();
        self.flush_entry(out).await?;
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        bump(&self.counters.truncations, 1);
        tracing::info!(path = %self.config.path.display(), "fslog: log file truncated, reading from the start");
        if open.file.seek(SeekFrom::Start(0)).await.is_err() {
            bump(&self.counters.io_errors, 1);
        }
        let size = open.file.metadata().await.map(|m| m.len()).unwrap_or(0);
        open.fingerprint = fingerprint(&mut open.file, size)
            .await
            .unwrap_or(Fingerprint {
                len: 0,
                hash: FNV_OFFSET,
            });
        if open.file.seek(SeekFrom::Start(0)).await.is_err() {
            bump(&self.counters.io_errors, 1);
        }
        open.read_pos = 0;
        open.line_end = 0;
        open.pending_start = 0;
        open.committed = 0;
        Ok(())
    }

    /// The position to save: the committed offset of the open file.
    fn position(&self) -> Option<Position> {
        let open = self.open.as_ref()?;
        Some(Position {
            id: open.id,
            offset: open.committed,
            fingerprint: open.fingerprint,
        })
    }

    /// Writes the position if it changed since the last write.
    async fn persist(&mut self) -> Result<(), Error> {
        let (Some(path), Some(pos)) = (self.config.positions_file.clone(), self.position()) else {
            return Ok(());
        };
        if self.last_persisted == Some(pos) {
            return Ok(());
        }
        write_position(&path, &self.config.path, &pos).await?;
        self.last_persisted = Some(pos);
        bump(&self.counters.positions_written, 1);
        Ok(())
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a: a few lines, stable across versions, good enough to tell two
/// log files apart by their first (timestamped) bytes.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(FNV_OFFSET, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Fingerprint of the first `min(size, FINGERPRINT_MAX)` bytes; leaves the
/// file offset unspecified.
async fn fingerprint(file: &mut File, size: u64) -> std::io::Result<Fingerprint> {
    let len = size.min(FINGERPRINT_MAX as u64);
    Ok(fingerprint_len(file, len).await?.unwrap_or(Fingerprint {
        len: 0,
        hash: FNV_OFFSET,
    }))
}

/// Fingerprint of exactly the first `len` bytes, `None` if the file is
/// shorter; leaves the file offset unspecified.
async fn fingerprint_len(file: &mut File, len: u64) -> std::io::Result<Option<Fingerprint>> {
    let mut buf = vec![
        0u8;
        usize::try_from(len)
            .unwrap_or(FINGERPRINT_MAX)
            .min(FINGERPRINT_MAX)
    ];
    file.seek(SeekFrom::Start(0)).await?;
    let mut got = 0;
    while got < buf.len() {
        let Some(dst) = buf.get_mut(got..) else { break };
        match file.read(dst).await? {
            0 => return Ok(None),
            n => got += n,
        }
    }
    Ok(Some(Fingerprint {
        len: buf.len() as u64,
        hash: fnv1a(&buf),
    }))
}

const POSITIONS_HEADER: &str = "callweave-fslog-position v1";

fn format_position(log_path: &Path, pos: &Position) -> String {
    format!(
        "{POSITIONS_HEADER}\ndev={}\nino={}\noffset={}\nfingerprint_len={}\nfingerprint={:016x}\npath={}\n",
        pos.id.dev,
        pos.id.ino,
        pos.offset,
        pos.fingerprint.len,
        pos.fingerprint.hash,
        log_path.display()
    )
}

fn parse_position(text: &str) -> Result<Position, Error> {
    let bad = |offset: usize| Error::parse(ErrorKind::MalformedPositions, offset, text);
    if !text.starts_with(POSITIONS_HEADER) {
        return Err(bad(0));
    }
    let (mut dev, mut ino, mut offset, mut fp_len, mut fp) = (None, None, None, None, None);
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let start = at;
        at += line.len();
        let line = line.trim_end();
        if start == 0 || line.is_empty() {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| bad(start))?;
        let num = |radix| u64::from_str_radix(value, radix).map_err(|_| bad(start + key.len() + 1));
        match key {
            "dev" => dev = Some(num(10)?),
            "ino" => ino = Some(num(10)?),
            "offset" => offset = Some(num(10)?),
            "fingerprint_len" => fp_len = Some(num(10)?),
            "fingerprint" => fp = Some(num(16)?),
            _ => {}
        }
    }
    match (dev, ino, offset, fp_len, fp) {
        (Some(dev), Some(ino), Some(offset), Some(len), Some(hash)) => Ok(Position {
            id: FileId { dev, ino },
            offset,
            fingerprint: Fingerprint { len, hash },
        }),
        _ => Err(bad(text.len())),
    }
}

async fn load_position(path: &Path, counters: &TailCounters) -> Option<Position> {
    match tokio::fs::read_to_string(path).await {
        Ok(text) => match parse_position(&text) {
            Ok(p) => Some(p),
            Err(e) => {
                bump(&counters.io_errors, 1);
                tracing::warn!(path = %path.display(), error = %e, "fslog: ignoring positions file");
                None
            }
        },
        Err(e) if e.kind() == IoKind::NotFound => None,
        Err(e) => {
            bump(&counters.io_errors, 1);
            tracing::warn!(path = %path.display(), error = %e, "fslog: cannot read positions file");
            None
        }
    }
}

/// Temp file in the same directory, fsync, rename: a crash leaves the old or
/// the new position, never a torn one.
async fn write_position(path: &Path, log_path: &Path, pos: &Position) -> Result<(), Error> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let text = format_position(log_path, pos);
    let mut f = File::create(&tmp).await.map_err(|e| Error::io(&tmp, e))?;
    f.write_all(text.as_bytes())
        .await
        .map_err(|e| Error::io(&tmp, e))?;
    f.sync_all().await.map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_round_trip() {
        let pos = Position {
            id: FileId {
                dev: 2049,
                ino: 1234567,
            },
            offset: 98765,
            fingerprint: Fingerprint {
                len: 256,
                hash: 0xdead_beef_0123_4567,
            },
        };
        let text = format_position(Path::new("/var/log/freeswitch/freeswitch.log"), &pos);
        assert_eq!(parse_position(&text).unwrap(), pos);
        let e = parse_position("garbage").unwrap_err();
        assert_eq!(e.kind(), Some(ErrorKind::MalformedPositions));
        let e = parse_position(&text.replace("offset=98765", "offset=x")).unwrap_err();
        assert!(
            matches!(e, Error::Parse { offset, .. } if text[offset..].starts_with("x") || text[offset..].starts_with("98765")),
            "{e}"
        );
        assert!(parse_position(&text.replace("ino=1234567\n", "")).is_err());
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(b""), FNV_OFFSET);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
