//! The disk spool: batches Loki could not take yet, one file each, named by the
//! batch sequence number so a directory listing is the replay order.
//!
//! File layout (little-endian), then the snappy-compressed push body exactly as sent:
//!
//! ```text
//! 0  magic "CWLS"      4  version (1)     5  reserved (3 bytes)
//! 8  entries: u32     12  created, ms since epoch: u64     20  body length: u32
//! 24 body
//! ```
//!
//! Files are written to `*.tmp` and renamed, so a crash leaves either a whole file
//! or a stray `.tmp` (removed at the next start). One pusher per directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::error::{Error, WireErrorKind};

const MAGIC: &[u8; 4] = b"CWLS";
const VERSION: u8 = 1;
/// Size of the spool file header.
pub const HEADER_LEN: usize = 24;
const EXT: &str = "lokibatch";

/// An encoded batch: what is sent and what is spooled.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Monotonic sequence number (the replay order).
    pub seq: u64,
    /// Number of entries.
    pub entries: u32,
    /// Creation time, ms since epoch.
    pub created_ms: u64,
    /// Snappy-compressed protobuf body.
    pub body: Bytes,
}

/// A spool file's header, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolHeader {
    /// Number of entries in the batch.
    pub entries: u32,
    /// Creation time, ms since epoch.
    pub created_ms: u64,
    /// Body length.
    pub body_len: u32,
}

/// Serialises a batch into spool-file bytes.
pub fn encode_spool_file(batch: &Batch) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + batch.body.len());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&[0; 3]);
    out.extend_from_slice(&batch.entries.to_le_bytes());
    out.extend_from_slice(&batch.created_ms.to_le_bytes());
    // Bodies are bounded far below 4 GiB (HARD_MAX_BATCH_BYTES before compression).
    out.extend_from_slice(
        &u32::try_from(batch.body.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&batch.body);
    out
}

fn header_err(offset: usize, reason: &str) -> Error {
    Error::Wire {
        kind: WireErrorKind::SpoolHeader,
        offset,
        reason: reason.to_owned(),
    }
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 8)?;
    Some(u64::from_le_bytes(s.try_into().ok()?))
}

/// Parses spool-file bytes into the header and the body slice.
pub fn decode_spool_file(bytes: &[u8]) -> Result<(SpoolHeader, &[u8]), Error> {
    if bytes.len() < HEADER_LEN {
        return Err(header_err(bytes.len(), "file shorter than the header"));
    }
    if bytes.get(..4) != Some(MAGIC.as_slice()) {
        return Err(header_err(0, "bad magic"));
    }
    if bytes.get(4) != Some(&VERSION) {
        return Err(header_err(4, "unknown version"));
    }
    let (Some(entries), Some(created_ms), Some(body_len)) =
        (le_u32(bytes, 8), le_u64(bytes, 12), le_u32(bytes, 20))
    else {
        return Err(header_err(8, "truncated header"));
    };
    let body = bytes.get(HEADER_LEN..).unwrap_or(&[]);
    if body.len() != body_len as usize {
        return Err(header_err(20, "body length does not match the file"));
    }
    Ok((
        SpoolHeader {
            entries,
            created_ms,
            body_len,
        },
        body,
    ))
}

#[derive(Debug, Clone, Copy)]
struct FileInfo {
    bytes: u64,
    entries: u32,
}

/// The spool directory and an in-memory index of it.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    files: BTreeMap<u64, FileInfo>,
    total: u64,
}

/// What [`Spool::enforce_cap`] evicted.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Evicted {
    pub files: u64,
    pub entries: u64,
}

impl Spool {
    /// Opens (creating) the directory and indexes what a previous run left.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, Error> {
        let io = |source| Error::Spool {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut files = BTreeMap::new();
        let mut total = 0;
        for ent in std::fs::read_dir(dir).map_err(io)? {
            let ent = ent.map_err(io)?;
            let path = ent.path();
            let ext = path.extension().and_then(|e| e.to_str());
            if ext == Some("tmp") {
                // A write interrupted by a crash; the batch was never acknowledged
                // as spooled, and its data is incomplete.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            if ext != Some(EXT) {
                continue;
            }
            let Some(seq) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let bytes = ent.metadata().map(|m| m.len()).unwrap_or(0);
            // Only the header is needed for the index; a bad file is kept and
            // reported when replay reaches it.
            let entries = read_header_entries(&path).unwrap_or(0);
            files.insert(seq, FileInfo { bytes, entries });
            total += bytes;
        }
        Ok(Self {
            dir: dir.to_owned(),
            max_bytes,
            files,
            total,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The next free sequence number.
    pub fn next_seq(&self) -> u64 {
        self.files.keys().next_back().map_or(1, |s| s + 1)
    }

    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Entries in all spooled files.
    pub fn entries(&self) -> u64 {
        self.files.values().map(|f| u64::from(f.entries)).sum()
    }

    /// The oldest file's sequence number.
    pub fn head(&self) -> Option<u64> {
        self.files.keys().next().copied()
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.{EXT}"))
    }

    /// Writes a batch durably (tmp + fsync + rename).
    pub async fn write(&mut self, batch: &Batch) -> std::io::Result<()> {
        let bytes = encode_spool_file(batch);
        let path = self.path(batch.seq);
        let tmp = path.with_extension("tmp");
        let len = bytes.len() as u64;
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_data()?;
            std::fs::rename(&tmp, &path)
        })
        .await
        .map_err(std::io::Error::other)??;
        if let Some(old) = self.files.insert(
            batch.seq,
            FileInfo {
                bytes: len,
                entries: batch.entries,
            },
        ) {
            self.total = self.total.saturating_sub(old.bytes);
        }
        self.total += len;
        Ok(())
    }

    /// Drops the oldest files until the spool fits its cap.
    ///
    /// The oldest may be the one being sent; it is dropped all the same (the cap
    /// is about disk), and if Loki takes it after all, the drop count is one
    /// batch too high.
    pub async fn enforce_cap(&mut self) -> Evicted {
        let mut ev = Evicted::default();
        while self.total > self.max_bytes {
            let Some(seq) = self.head() else {
                break;
            };
            if let Some(info) = self.remove(seq).await {
                ev.files += 1;
                ev.entries += u64::from(info.entries);
            }
        }
        ev
    }

    /// Reads a file back.
    #[cfg(test)]
    pub async fn read(&self, seq: u64) -> Result<Batch, Error> {
        read_batch(self.path(seq), seq).await
    }

    /// A future that reads a file back, not borrowing the spool.
    pub fn reader(
        &self,
        seq: u64,
    ) -> impl std::future::Future<Output = Result<Batch, Error>> + use<> {
        read_batch(self.path(seq), seq)
    }

    /// Deletes a file (delivered, rejected or evicted).
    async fn remove(&mut self, seq: u64) -> Option<FileInfo> {
        let info = self.files.remove(&seq)?;
        self.total = self.total.saturating_sub(info.bytes);
        match tokio::fs::remove_file(self.path(seq)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(seq, error = %e, "cannot remove loki spool file"),
        }
        Some(info)
    }

    /// Deletes a file that was delivered or is unreadable.
    pub async fn discard(&mut self, seq: u64) -> Option<u32> {
        self.remove(seq).await.map(|i| i.entries)
    }
}

fn read_header_entries(path: &Path) -> Option<u32> {
    use std::io::Read as _;
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = [0u8; HEADER_LEN];
    f.read_exact(&mut h).ok()?;
    if h.get(..4) != Some(MAGIC.as_slice()) {
        return None;
    }
    le_u32(&h, 8)
}

async fn read_batch(path: PathBuf, seq: u64) -> Result<Batch, Error> {
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|source| Error::Spool {
            path: path.clone(),
            source,
        })?;
    let (h, body) = decode_spool_file(&bytes)?;
    Ok(Batch {
        seq,
        entries: h.entries,
        created_ms: h.created_ms,
        body: Bytes::copy_from_slice(body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(seq: u64, body: &[u8]) -> Batch {
        Batch {
            seq,
            entries: seq as u32 * 10,
            created_ms: 1_795_663_470_000,
            body: Bytes::copy_from_slice(body),
        }
    }

    #[test]
    fn file_round_trip_and_corruption() {
        let b = batch(3, b"hello");
        let bytes = encode_spool_file(&b);
        let (h, body) = decode_spool_file(&bytes).unwrap();
        assert_eq!(h.entries, 30);
        assert_eq!(h.created_ms, 1_795_663_470_000);
        assert_eq!(body, b"hello");
        let truncated = &bytes[..bytes.len() - 1];
        match decode_spool_file(truncated) {
            Err(Error::Wire { kind, offset, .. }) => {
                assert_eq!(kind, WireErrorKind::SpoolHeader);
                assert_eq!(offset, 20);
            }
            other => panic!("{other:?}"),
        }
        assert!(decode_spool_file(b"CWLS").is_err());
        assert!(decode_spool_file(&[0; 30]).is_err());
    }

    #[tokio::test]
    async fn reopen_sees_files_in_order_and_cap_evicts_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1_000_000).unwrap();
        assert_eq!(s.next_seq(), 1);
        for seq in [2, 1, 3] {
            s.write(&batch(seq, &[seq as u8; 100])).await.unwrap();
        }
        std::fs::write(dir.path().join("00000000000000000009.tmp"), b"junk").unwrap();
        drop(s);
        let mut s = Spool::open(dir.path(), 300).unwrap();
        assert!(!dir.path().join("00000000000000000009.tmp").exists());
        assert_eq!(s.len(), 3);
        assert_eq!(s.head(), Some(1));
        assert_eq!(s.next_seq(), 4);
        assert_eq!(s.total_bytes(), 3 * 124);
        assert_eq!(s.entries(), 60);
        let ev = s.enforce_cap().await;
        // 372 > 300: drop the oldest (1), leaving 248.
        assert_eq!((ev.files, ev.entries), (1, 10));
        assert_eq!(s.head(), Some(2));
        assert!(!dir.path().join("00000000000000000001.lokibatch").exists());
        let back = s.read(3).await.unwrap();
        assert_eq!(back.body.as_ref(), &[3u8; 100]);
        assert_eq!(s.discard(2).await, Some(20));
        assert_eq!(s.head(), Some(3));
    }
}
