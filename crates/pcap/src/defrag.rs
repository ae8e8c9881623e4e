//! IP fragment reassembly with bounded memory.
//!
//! etherparse's `IpDefragBuf` does the range bookkeeping for one datagram; its
//! pool has no limits, so the map of pending datagrams, the limit on them and
//! the timeout (in capture time, never wall time) live here.

use std::collections::HashMap;
use std::net::IpAddr;

use etherparse::IpFragOffset;
use etherparse::defrag::IpDefragBuf;

/// One datagram being rebuilt: RFC 791 identifies it by addresses, protocol and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) id: u32,
    pub(crate) proto: u8,
}

#[derive(Debug)]
struct Pending {
    buf: IpDefragBuf,
    first_ts: i64,
    /// Frames that contributed, so a dropped datagram can be counted per frame.
    frames: u64,
}

#[derive(Debug)]
pub(crate) enum FragOutcome {
    /// Stored; the datagram is not complete yet.
    Buffered,
    /// This fragment completed the datagram: its transport payload.
    Complete(Vec<u8>),
    /// The fragment conflicts with what was stored; the datagram was dropped
    /// together with `earlier_frames` frames stored before this one.
    Dropped { earlier_frames: u64 },
}

#[derive(Debug)]
pub(crate) struct Defrag {
    pending: HashMap<FragKey, Pending>,
    max_pending: usize,
    timeout_micros: i64,
}

impl Defrag {
    pub(crate) fn new(max_pending: usize, timeout_micros: i64) -> Self {
        Self {
            pending: HashMap::new(),
            max_pending: max_pending.max(1),
            timeout_micros,
        }
    }

    /// Adds one fragment. `evicted` receives the frame count of datagrams
    /// dropped to make room.
    pub(crate) fn add(
        &mut self,
        key: FragKey,
        offset: IpFragOffset,
        more_fragments: bool,
        payload: &[u8],
        ts: i64,
        evicted: &mut u64,
    ) -> FragOutcome {
        if !self.pending.contains_key(&key) && self.pending.len() >= self.max_pending {
            *evicted += self.evict_oldest();
        }
        let entry = self.pending.entry(key).or_insert_with(|| Pending {
            buf: IpDefragBuf::new(key.proto.into(), Vec::new(), Vec::new()),
            first_ts: ts,
            frames: 0,
        });
        let added = entry.buf.add(offset, more_fragments, payload).is_ok();
        if added {
            entry.frames += 1;
        }
        let complete = added && entry.buf.is_complete();
        if !added {
            let earlier_frames = self.pending.remove(&key).map_or(0, |p| p.frames);
            return FragOutcome::Dropped { earlier_frames };
        }
        if !complete {
            return FragOutcome::Buffered;
        }
        match self.pending.remove(&key) {
            Some(done) => FragOutcome::Complete(done.buf.take_bufs().0),
            None => FragOutcome::Buffered,
        }
    }

    /// Drops datagrams older than the timeout; returns their frame count.
    pub(crate) fn expire(&mut self, now: i64) -> u64 {
        let timeout = self.timeout_micros;
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

    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    fn evict_oldest(&mut self) -> u64 {
        let oldest = self
            .pending
            .iter()
            .min_by_key(|(_, p)| p.first_ts)
            .map(|(k, _)| *k);
        oldest
            .and_then(|k| self.pending.remove(&k))
            .map_or(0, |p| p.frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key(id: u32) -> FragKey {
        FragKey {
            src: Ipv4Addr::new(10, 0, 0, 1).into(),
            dst: Ipv4Addr::new(10, 0, 0, 2).into(),
            id,
            proto: 17,
        }
    }

    fn off(bytes: u16) -> IpFragOffset {
        IpFragOffset::try_new(bytes / 8).unwrap()
    }

    #[test]
    fn out_of_order_fragments_complete() {
        let mut d = Defrag::new(4, 1_000_000);
        let mut ev = 0;
        assert!(matches!(
            d.add(key(1), off(8), false, b"world", 0, &mut ev),
            FragOutcome::Buffered
        ));
        match d.add(key(1), off(0), true, b"hello, w", 1, &mut ev) {
            FragOutcome::Complete(p) => assert_eq!(p, b"hello, wworld"),
            other => panic!("{other:?}"),
        }
        assert!(d.is_empty());
    }

    #[test]
    fn limits_and_timeout() {
        let mut d = Defrag::new(2, 10);
        let mut ev = 0;
        d.add(key(1), off(0), true, &[0; 8], 0, &mut ev);
        d.add(key(2), off(0), true, &[0; 8], 5, &mut ev);
        d.add(key(3), off(0), true, &[0; 8], 6, &mut ev);
        assert_eq!(ev, 1, "oldest datagram evicted");
        assert_eq!(d.expire(16), 1, "key 2 is older than 10us at t=16");
        assert_eq!(d.clear(), 1);
    }

    #[test]
    fn conflicting_end_drops_datagram() {
        let mut d = Defrag::new(4, 1_000_000);
        let mut ev = 0;
        d.add(key(1), off(0), true, &[0; 8], 0, &mut ev);
        // Ends at 20, leaving a hole at 8..16.
        d.add(key(1), off(16), false, &[0; 4], 0, &mut ev);
        assert!(matches!(
            d.add(key(1), off(24), false, &[0; 4], 0, &mut ev),
            FragOutcome::Dropped { earlier_frames: 2 }
        ));
    }
}
