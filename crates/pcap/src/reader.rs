//! Reading pcap / pcapng files with pcap-parser's streaming readers and
//! handing each packet to the [`Extractor`].

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::{Arc, Mutex, PoisonError};

use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{Block, LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};

use crate::extract::{Extractor, Frame, Limits, Link};
use crate::stats::{SkipReason, Stats};
use crate::{Error, ErrorKind, Item};

/// Initial buffer: pcap-parser's advice, and room for any packet of a
/// standard 64 KiB snaplen; grown for larger blocks.
const INITIAL_BUFFER: usize = 64 * 1024;
/// Largest block we grow the buffer for. pcapng allows up to 4 GiB, but no
/// capture tool writes packets above a few hundred KiB (snaplen 262144).
const MAX_BUFFER: usize = 16 * 1024 * 1024;

/// The container format of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Classic libpcap (microsecond or nanosecond, either byte order).
    Pcap,
    /// pcapng.
    PcapNg,
}

/// The capture bytes as pcap-parser reads them: the magic number we already
/// consumed to pick the format, then the rest of the reader.
///
/// Each `read` fills the buffer as far as the input allows, because
/// pcap-parser reads the file header with a single `read` call. It also keeps
/// the underlying `io::Error`, which pcap-parser reduces to a bare `ReadError`.
#[derive(Debug)]
struct Source<R> {
    magic: [u8; 4],
    magic_pos: usize,
    inner: R,
    eof: bool,
    error: Arc<Mutex<Option<io::Error>>>,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        if let Some(magic) = self.magic.get(self.magic_pos..) {
            let n = magic.len().min(buf.len());
            if let (Some(dst), Some(src)) = (buf.get_mut(..n), magic.get(..n)) {
                dst.copy_from_slice(src);
            }
            self.magic_pos += n;
            filled = n;
        }
        while !self.eof {
            let Some(space) = buf.get_mut(filled..).filter(|s| !s.is_empty()) else {
                break;
            };
            match self.inner.read(space) {
                Ok(0) => self.eof = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let kind = e.kind();
                    *self.error.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                    return Err(kind.into());
                }
            }
        }
        Ok(filled)
    }
}

enum Inner<R: Read> {
    Legacy(LegacyPcapReader<Source<R>>),
    Ng(PcapNGReader<Source<R>>),
}

impl<R: Read> Inner<R> {
    fn reader(&mut self) -> &mut dyn PcapReaderIterator {
        match self {
            Self::Legacy(r) => r,
            Self::Ng(r) => r,
        }
    }
}

/// One pcapng interface: how to read its packets.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: Link,
    /// Timestamp units per second (`if_tsresol`); `None` if invalid.
    units_per_sec: Option<u64>,
    /// `if_tsoffset`, seconds.
    offset_secs: i64,
}

/// State updated by blocks, kept apart from the parser that borrows them.
#[derive(Debug)]
struct State {
    extractor: Extractor,
    scratch: Vec<Item>,
    legacy_link: Link,
    legacy_nanos: bool,
    interfaces: Vec<Interface>,
    frame_number: u64,
    last_ts: i64,
}

/// Reads a pcap or pcapng capture and yields its SIP messages and HEP packets
/// in capture order.
///
/// The iterator yields `Err` at most once, for a file that cannot be read
/// further (a corrupt block or an I/O error), and then ends. A file cut short
/// inside its last record is not an error: the records before it are read and
/// [`Stats::truncated_file`] is set.
pub struct CaptureReader<R: Read> {
    inner: Inner<R>,
    format: Format,
    state: State,
    queue: VecDeque<Item>,
    io_error: Arc<Mutex<Option<io::Error>>>,
    buffer_size: usize,
    done: bool,
}

impl<R: Read> std::fmt::Debug for CaptureReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("format", &self.format)
            .field("stats", self.state.extractor.stats())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<R: Read> CaptureReader<R> {
    /// Opens a capture with the default [`Limits`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::UnknownFormat`], [`ErrorKind::TruncatedHeader`] or
    /// [`ErrorKind::BadHeader`] when the file header is not a valid pcap or
    /// pcapng header, and [`ErrorKind::Io`] when reading fails.
    pub fn new(reader: R) -> Result<Self, Error> {
        Self::with_limits(reader, Limits::default())
    }

    /// Opens a capture with explicit reassembly limits.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_limits(reader: R, limits: Limits) -> Result<Self, Error> {
        let io_error = Arc::new(Mutex::new(None));
        let mut source = Source {
            magic: [0; 4],
            magic_pos: 4,
            inner: reader,
            eof: false,
            error: Arc::clone(&io_error),
        };
        let mut magic = [0u8; 4];
        let got = match source.read(&mut magic) {
            Ok(n) => n,
            Err(_) => return Err(take_io_error(&io_error, 0)),
        };
        if got < magic.len() {
            return Err(if got == 0 {
                Error::capture(ErrorKind::UnknownFormat, 0)
            } else {
                Error::capture(ErrorKind::TruncatedHeader, 0)
            });
        }
        let format = match magic {
            [0x0a, 0x0d, 0x0d, 0x0a] => Format::PcapNg,
            [0xa1, 0xb2, 0xc3, 0xd4]
            | [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x4d, 0x3c, 0xb2, 0xa1] => Format::Pcap,
            _ => return Err(Error::capture(ErrorKind::UnknownFormat, 0)),
        };
        source.magic = magic;
        source.magic_pos = 0;
        let header_error = |e: PcapError<&[u8]>| match e {
            PcapError::ReadError => take_io_error(&io_error, 0),
            PcapError::Incomplete(_) | PcapError::Eof | PcapError::UnexpectedEof => {
                Error::capture(ErrorKind::TruncatedHeader, 0)
            }
            _ => Error::capture(ErrorKind::BadHeader, 0),
        };
        let inner = match format {
            Format::Pcap => {
                Inner::Legacy(LegacyPcapReader::new(INITIAL_BUFFER, source).map_err(header_error)?)
            }
            Format::PcapNg => {
                Inner::Ng(PcapNGReader::new(INITIAL_BUFFER, source).map_err(header_error)?)
            }
        };
        Ok(Self {
            inner,
            format,
            state: State {
                extractor: Extractor::new(limits),
                scratch: Vec::new(),
                legacy_link: Link::Unsupported(u32::MAX),
                legacy_nanos: false,
                interfaces: Vec::new(),
                frame_number: 0,
                last_ts: 0,
            },
            queue: VecDeque::new(),
            io_error,
            buffer_size: INITIAL_BUFFER,
            done: false,
        })
    }

    /// The container format.
    #[must_use]
    pub fn format(&self) -> Format {
        self.format
    }

    /// Counters so far; final once the iterator has returned `None`.
    #[must_use]
    pub fn stats(&self) -> &Stats {
        self.state.extractor.stats()
    }

    /// Reads and decodes one block. `Ok(false)` at the end of the file.
    fn step(&mut self) -> Result<bool, Error> {
        let reader = self.inner.reader();
        let offset = reader.consumed() as u64;
        match reader.next() {
            Ok((len, block)) => {
                self.state.block(block);
                reader.consume(len);
                self.queue.extend(self.state.scratch.drain(..));
                Ok(true)
            }
            Err(PcapError::Eof) => Ok(false),
            Err(PcapError::UnexpectedEof) => {
                self.state.extractor.stats_mut().truncated_file = true;
                Ok(false)
            }
            Err(PcapError::Incomplete(_)) => {
                let before = reader.data().len();
                match reader.refill() {
                    Ok(()) => {}
                    Err(_) => return Err(take_io_error(&self.io_error, offset)),
                }
                if reader.data().len() == before && !reader.reader_exhausted() {
                    // The buffer is full and still holds less than one block.
                    self.grow(offset)?;
                }
                Ok(true)
            }
            Err(PcapError::BufferTooSmall) => {
                self.grow(offset)?;
                Ok(true)
            }
            Err(PcapError::ReadError) => Err(take_io_error(&self.io_error, offset)),
            Err(_) => Err(Error::capture(ErrorKind::CorruptBlock, offset)),
        }
    }

    fn grow(&mut self, offset: u64) -> Result<(), Error> {
        let size = self.buffer_size.saturating_mul(2);
        if size > MAX_BUFFER {
            return Err(Error::capture(ErrorKind::BlockTooLarge, offset));
        }
        self.buffer_size = size;
        let reader = self.inner.reader();
        reader.grow(size);
        reader
            .refill()
            .map_err(|_| take_io_error(&self.io_error, offset))
    }
}

impl<R: Read> Iterator for CaptureReader<R> {
    type Item = Result<Item, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(Ok(item));
            }
            if self.done {
                return None;
            }
            match self.step() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    self.state.extractor.finish();
                }
                Err(e) => {
                    self.done = true;
                    self.state.extractor.finish();
                    return Some(Err(e));
                }
            }
        }
    }
}

fn take_io_error(slot: &Mutex<Option<io::Error>>, offset: u64) -> Error {
    let source = slot
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .unwrap_or_else(|| io::Error::other("read failed"));
    Error::Io { offset, source }
}

impl State {
    fn block(&mut self, block: PcapBlockOwned<'_>) {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                self.legacy_link = link_of(h.network.0);
                self.legacy_nanos = h.is_nanosecond_precision();
            }
            PcapBlockOwned::Legacy(b) => {
                let sub = i64::from(b.ts_usec);
                let micros = if self.legacy_nanos { sub / 1000 } else { sub };
                let ts = i64::from(b.ts_sec) * 1_000_000 + micros;
                self.packet(self.legacy_link, ts, b.data);
            }
            PcapBlockOwned::NG(Block::SectionHeader(_)) => self.interfaces.clear(),
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                self.interfaces.push(Interface {
                    link: link_of(idb.linktype.0),
                    units_per_sec: idb.ts_resolution(),
                    offset_secs: idb.ts_offset(),
                });
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                let data = epb.packet_data();
                let Some(iface) = usize::try_from(epb.if_id)
                    .ok()
                    .and_then(|i| self.interfaces.get(i))
                    .copied()
                else {
                    self.frame_number += 1;
                    self.extractor.skip_frame(data.len(), SkipReason::Malformed);
                    return;
                };
                let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let ts = ng_micros(ticks, iface);
                self.packet(iface.link, ts, data);
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                // Simple packets have no timestamp and belong to interface 0.
                let link = self
                    .interfaces
                    .first()
                    .map_or(Link::Unsupported(u32::MAX), |i| i.link);
                self.packet(link, self.last_ts, spb.packet_data());
            }
            PcapBlockOwned::NG(_) => {}
        }
    }

    fn packet(&mut self, link: Link, ts: i64, data: &[u8]) {
        self.frame_number += 1;
        self.last_ts = ts;
        let frame = Frame {
            number: self.frame_number,
            ts_micros: ts,
            link,
            data,
        };
        self.extractor.push_frame(&frame, &mut self.scratch);
    }
}

fn link_of(linktype: i32) -> Link {
    u32::try_from(linktype).map_or(Link::Unsupported(u32::MAX), Link::from_linktype)
}

/// pcapng timestamp in interface units → microseconds since the epoch,
/// computed wide so no resolution or offset can overflow.
fn ng_micros(ticks: u64, iface: Interface) -> i64 {
    let units = i128::from(iface.units_per_sec.unwrap_or(1_000_000).max(1));
    let micros = i128::from(ticks) * 1_000_000 / units + i128::from(iface.offset_secs) * 1_000_000;
    i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions() {
        let iface = |units_per_sec, offset_secs| Interface {
            link: Link::Ethernet,
            units_per_sec,
            offset_secs,
        };
        assert_eq!(ng_micros(1_500_000, iface(Some(1_000_000), 0)), 1_500_000);
        assert_eq!(
            ng_micros(1_500_000_123, iface(Some(1_000_000_000), 0)),
            1_500_000
        );
        assert_eq!(ng_micros(3, iface(Some(2), 10)), 11_500_000);
        assert_eq!(ng_micros(u64::MAX, iface(Some(1), i64::MAX)), i64::MAX);
    }

    #[test]
    fn header_errors() {
        let kind = |b: &[u8]| CaptureReader::new(b).map(|_| ()).unwrap_err().kind();
        assert_eq!(kind(b""), ErrorKind::UnknownFormat);
        assert_eq!(kind(b"\xd4\xc3"), ErrorKind::TruncatedHeader);
        assert_eq!(
            kind(b"GIF89a........................"),
            ErrorKind::UnknownFormat
        );
        assert_eq!(
            kind(b"\xd4\xc3\xb2\xa1\x02\x00"),
            ErrorKind::TruncatedHeader
        );
        assert_eq!(
            kind(b"\x0a\x0d\x0d\x0a\x00\x00\x00\x00\x4d\x3c\x2b\x1a"),
            ErrorKind::TruncatedHeader
        );
    }
}
