//! SCTP common header and DATA / I-DATA chunks (RFC 9260, RFC 8260).
//!
//! SIP over SCTP (RFC 4168) puts one SIP message in one user message, so an
//! unfragmented DATA chunk is a whole message. A fragmented user message (a
//! large INVITE with an ISUP body) is rebuilt from DATA chunks with
//! consecutive TSNs on one stream, in order; I-DATA fragments are not rebuilt.
//! TSN duplicates are not filtered (tshark shows them again too).

use std::collections::HashMap;
use std::net::SocketAddr;

const CHUNK_DATA: u8 = 0;
const CHUNK_IDATA: u8 = 64;
/// B (beginning) and E (ending) flags: both set = an unfragmented user message.
const FLAGS_BE: u8 = 0x03;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Chunk<'a> {
    /// A complete user message.
    Message(&'a [u8]),
    /// One piece of a fragmented DATA user message.
    Fragment { stream: u16, piece: Piece<'a> },
    /// A piece of a fragmented I-DATA message (not rebuilt).
    Unsupported,
}

/// Source and destination ports plus the user data of every DATA chunk;
/// `None` if the common header does not fit.
pub(crate) fn parse(packet: &[u8]) -> Option<(u16, u16, Vec<Chunk<'_>>)> {
    let src = u16::from_be_bytes(packet.get(0..2)?.try_into().ok()?);
    let dst = u16::from_be_bytes(packet.get(2..4)?.try_into().ok()?);
    let mut rest = packet.get(12..)?;
    let mut chunks = Vec::new();
    while let [kind, flags, len_hi, len_lo, ..] = *rest {
        let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
        let Some(chunk) = rest.get(..len).filter(|_| len >= 4) else {
            break;
        };
        let data_at = match kind {
            CHUNK_DATA => Some(16),
            CHUNK_IDATA => Some(20),
            _ => None,
        };
        if let Some(data) = data_at.and_then(|at| chunk.get(at..)) {
            chunks.push(
                match (flags & FLAGS_BE == FLAGS_BE, kind, chunk.get(4..10)) {
                    (true, _, _) => Chunk::Message(data),
                    (false, CHUNK_DATA, Some(&[t0, t1, t2, t3, s0, s1])) => Chunk::Fragment {
                        stream: u16::from_be_bytes([s0, s1]),
                        piece: Piece {
                            tsn: u32::from_be_bytes([t0, t1, t2, t3]),
                            begin: flags & 0x02 != 0,
                            end: flags & 0x01 != 0,
                            data,
                        },
                    },
                    _ => Chunk::Unsupported,
                },
            );
        }
        let padded = len.saturating_add(3) & !3;
        rest = rest.get(padded..).unwrap_or_default();
    }
    Some((src, dst, chunks))
}

/// A user message being rebuilt on one stream of one association direction.
#[derive(Debug)]
struct Partial {
    next_tsn: u32,
    data: Vec<u8>,
    frames: u64,
    first_ts: i64,
}

pub(crate) type StreamKey = (SocketAddr, SocketAddr, u16);

#[derive(Debug)]
pub(crate) enum FragmentOutcome {
    Buffered,
    Complete(Vec<u8>),
    /// Out of sequence or too large: the message is abandoned.
    Dropped,
}

/// One fragment of a DATA user message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece<'a> {
    pub(crate) tsn: u32,
    pub(crate) begin: bool,
    pub(crate) end: bool,
    pub(crate) data: &'a [u8],
}

/// Bounded store of fragmented SCTP user messages.
#[derive(Debug)]
pub(crate) struct Reassembly {
    pending: HashMap<StreamKey, Partial>,
    max_pending: usize,
    max_len: usize,
}

impl Reassembly {
    pub(crate) fn new(max_pending: usize, max_len: usize) -> Self {
        Self {
            pending: HashMap::new(),
            max_pending: max_pending.max(1),
            max_len,
        }
    }

    /// Adds a fragment; `dropped_frames` receives the frame count of partial
    /// messages abandoned on the way.
    pub(crate) fn add(
        &mut self,
        key: StreamKey,
        piece: Piece<'_>,
        ts: i64,
        dropped_frames: &mut u64,
    ) -> FragmentOutcome {
        let Piece {
            tsn,
            begin,
            end,
            data,
        } = piece;
        if begin {
            if let Some(old) = self.pending.remove(&key) {
                *dropped_frames += old.frames;
            }
            if self.pending.len() >= self.max_pending {
                let oldest = self
                    .pending
                    .iter()
                    .min_by_key(|(_, p)| p.first_ts)
                    .map(|(k, _)| *k);
                if let Some(p) = oldest.and_then(|k| self.pending.remove(&k)) {
                    *dropped_frames += p.frames;
                }
            }
            self.pending.insert(
                key,
                Partial {
                    next_tsn: tsn.wrapping_add(1),
                    data: data.to_vec(),
                    frames: 1,
                    first_ts: ts,
                },
            );
            return FragmentOutcome::Buffered;
        }
        let fits = self.pending.get(&key).is_some_and(|p| {
            p.next_tsn == tsn && p.data.len().saturating_add(data.len()) <= self.max_len
        });
        if !fits {
            if let Some(old) = self.pending.remove(&key) {
                *dropped_frames += old.frames;
            }
            return FragmentOutcome::Dropped;
        }
        if end {
            let mut whole = self
                .pending
                .remove(&key)
                .map(|p| p.data)
                .unwrap_or_default();
            whole.extend_from_slice(data);
            return FragmentOutcome::Complete(whole);
        }
        if let Some(p) = self.pending.get_mut(&key) {
            p.data.extend_from_slice(data);
            p.next_tsn = tsn.wrapping_add(1);
            p.frames += 1;
        }
        FragmentOutcome::Buffered
    }

    /// Drops partial messages started before `now - timeout`; returns their frames.
    pub(crate) fn expire(&mut self, now: i64, timeout: i64) -> u64 {
        let mut frames = 0;
        self.pending.retain(|_, p| {
            let keep = now.saturating_sub(p.first_ts) <= timeout;
            if !keep {
                frames += p.frames;
            }
            keep
        });
        frames
    }

    /// Drops everything (end of capture); returns the frame count.
    pub(crate) fn clear(&mut self) -> u64 {
        self.pending.drain().map(|(_, p)| p.frames).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_data_chunks() {
        let mut p = vec![0x13, 0xc4, 0x13, 0xc5, 0, 0, 0, 1, 0, 0, 0, 0];
        // DATA, B|E, len 16 + 3 ("abc"), padded to 20
        p.extend_from_slice(&[0, 3, 0, 19]);
        p.extend_from_slice(&[0; 12]);
        p.extend_from_slice(b"abc\0");
        // SACK (ignored)
        p.extend_from_slice(&[3, 0, 0, 4]);
        // DATA, B only (fragment)
        p.extend_from_slice(&[0, 2, 0, 17]);
        p.extend_from_slice(&[0; 12]);
        p.extend_from_slice(b"x\0\0\0");
        let (src, dst, chunks) = parse(&p).unwrap();
        assert_eq!((src, dst), (5060, 5061));
        assert_eq!(
            chunks,
            vec![
                Chunk::Message(b"abc"),
                Chunk::Fragment {
                    stream: 0,
                    piece: Piece {
                        tsn: 0,
                        begin: true,
                        end: false,
                        data: b"x"
                    }
                }
            ]
        );
        assert!(parse(&p[..11]).is_none());
    }

    #[test]
    fn fragments_in_tsn_order() {
        let a: SocketAddr = "10.0.0.1:5060".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:5060".parse().unwrap();
        let k = (a, b, 0);
        let mut r = Reassembly::new(4, 100);
        let mut dropped = 0;
        assert!(matches!(
            r.add(
                k,
                Piece {
                    tsn: 7,
                    begin: true,
                    end: false,
                    data: b"IN"
                },
                0,
                &mut dropped
            ),
            FragmentOutcome::Buffered
        ));
        assert!(matches!(
            r.add(
                k,
                Piece {
                    tsn: 8,
                    begin: false,
                    end: false,
                    data: b"VI"
                },
                0,
                &mut dropped
            ),
            FragmentOutcome::Buffered
        ));
        match r.add(
            k,
            Piece {
                tsn: 9,
                begin: false,
                end: true,
                data: b"TE",
            },
            0,
            &mut dropped,
        ) {
            FragmentOutcome::Complete(m) => assert_eq!(m, b"INVITE"),
            other => panic!("{other:?}"),
        }
        r.add(
            k,
            Piece {
                tsn: 1,
                begin: true,
                end: false,
                data: b"x",
            },
            0,
            &mut dropped,
        );
        assert!(matches!(
            r.add(
                k,
                Piece {
                    tsn: 3,
                    begin: false,
                    end: true,
                    data: b"y"
                },
                0,
                &mut dropped
            ),
            FragmentOutcome::Dropped
        ));
        assert_eq!(dropped, 1);
    }
}
