//! The correlator: a deterministic, sans-IO call graph.
//!
//! Identifiers (Call-IDs, channel UUIDs) are interned into a slab indexed by a
//! hash table. Every interned identifier belongs to exactly one call (a connected
//! component); a call owns its identifiers, its links and its legs, so merging two
//! calls moves the smaller into the larger (union by size) and expiring a call
//! frees exactly what it owns. Calls sit on one of two LRU lists (active, ended)
//! ordered by the `now` of their last record, which makes idle expiry, linger
//! expiry and eviction over the cap O(1) per call.

use std::sync::Arc;
use std::time::Duration;
use std::{fmt, mem};

use hashbrown::{DefaultHashBuilder, HashTable};
use serde::{Deserialize, Serialize};
use std::hash::BuildHasher;

use crate::Outcome;
use crate::exact::ExactVec;
use crate::leg::{LegFacts, LegSummary, Role, call_outcome};
use crate::link::{Link, Rule};
use crate::record::{CallId, ChannelUuid, Direction, Ident, Record, RecordKind, TsMicros};

/// Correlator limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Calls kept in memory; past it, the least recently active call is evicted
    /// (ended calls first) and counted in [`CorrelatorStats::calls_evicted`].
    pub max_active_calls: usize,
    /// Identifiers per call (clamped to 1..=4096); a link or identifier that would
    /// exceed it is refused and counted. Also bounds legs and (×4) links per call.
    pub max_idents_per_call: usize,
    /// A call with no record for this long leaves memory (as idle).
    pub idle_ttl: Duration,
    /// A call whose legs have all ended leaves memory this long after its last
    /// record, so late retransmits and final events still find it.
    pub linger_after_end: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_active_calls: 100_000,
            max_idents_per_call: 32,
            idle_ttl: Duration::from_secs(4 * 3600),
            linger_after_end: Duration::from_secs(30),
        }
    }
}

/// A call's stable key: the identifier with the smallest rank, where rank is
/// (no leg of its own, identifier kind with Call-IDs first, first-seen timestamp,
/// text). For a call with SIP or ESL data this is its earliest Call-ID. Every part
/// of the rank only ever decreases and is a minimum over records, so the key does
/// not depend on arrival order; it can change when a late link merges in an
/// earlier call (reported in [`Ingested::merged`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallKey(Arc<str>);

impl CallKey {
    /// The key's text (a Call-ID or, failing one, a channel UUID).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's text, shared (no copy).
    pub fn shared(&self) -> Arc<str> {
        Arc::clone(&self.0)
    }
}

impl fmt::Display for CallKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one [`Correlator::ingest`] changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ingested {
    /// The call the record belongs to, or `None` when the record carries no
    /// identifier (HEARTBEAT, a log line without UUID) or its identifier was refused.
    pub call: Option<CallKey>,
    /// Links first learned from this record.
    pub new_links: Vec<Link>,
    /// Keys of calls merged into `call` by this record (they no longer exist).
    pub merged: Vec<CallKey>,
    /// Calls evicted to stay under `max_active_calls`.
    pub evicted: Vec<CallSummary>,
}

/// Counters; all monotonic except the two gauges at the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CorrelatorStats {
    /// Records ingested.
    pub records: u64,
    /// Records with no usable identifier.
    pub records_without_ident: u64,
    /// Distinct links learned.
    pub links: u64,
    /// Component merges.
    pub merges: u64,
    /// Calls created.
    pub calls_created: u64,
    /// Calls that left memory after ending and lingering.
    pub calls_finished: u64,
    /// Calls that left memory after `idle_ttl` without ending.
    pub calls_idle_expired: u64,
    /// Calls evicted over `max_active_calls`.
    pub calls_evicted: u64,
    /// Identifiers or links refused by `max_idents_per_call` (or links per call).
    pub refused: u64,
    /// Gauge: calls in memory.
    pub active_calls: usize,
    /// Gauge: identifiers in memory.
    pub idents: usize,
}

/// Why a call left memory, or that it is still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallState {
    /// Still in memory (from [`Correlator::call_for`]).
    Active,
    /// Every leg ended, and the linger time passed.
    Finished,
    /// No record for `idle_ttl`.
    Idle,
    /// Pushed out by `max_active_calls`.
    Evicted,
}

/// Everything known about one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallSummary {
    /// The call key.
    pub key: CallKey,
    /// Where the call stands.
    pub state: CallState,
    /// Legs: A-legs first, then by first seen.
    pub legs: Vec<LegSummary>,
    /// Every link, sorted.
    pub links: Vec<Link>,
    /// Every identifier, sorted.
    pub idents: Vec<Ident>,
    /// The call's outcome.
    pub outcome: Outcome,
    /// Earliest record timestamp.
    pub first_seen: TsMicros,
    /// Latest record timestamp.
    pub last_seen: TsMicros,
    /// True when every leg has ended.
    pub ended: bool,
}

const NONE: u32 = u32::MAX;
const NO_LEG: u16 = u16::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Call = 0,
    Channel = 1,
}

#[derive(Debug)]
struct IdentSlot {
    text: Box<str>,
    kind: Kind,
    /// Owning call slot, `NONE` while being attached (or free).
    call: u32,
    leg: u16,
    first_seen: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LinkRec {
    a: u32,
    b: u32,
    rule: Rule,
}

#[derive(Debug)]
struct Call {
    key_slot: u32,
    key: CallKey,
    idents: ExactVec<u32>,
    links: ExactVec<LinkRec>,
    legs: ExactVec<LegFacts>,
    first_seen: i64,
    last_seen: i64,
    touched: i64,
    ended: bool,
    prev: u32,
    next: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct List {
    head: u32,
    tail: u32,
}

/// An identifier named by a record: its kind and text.
#[derive(Debug, Clone, Copy)]
struct Named<'a> {
    kind: Kind,
    text: &'a str,
}

#[derive(Debug, Clone, Copy)]
struct Edge {
    a: u32,
    b: u32,
    rule: Rule,
}

/// Fixed-capacity list of the edges one record produces (no allocation per record).
#[derive(Debug)]
struct EdgeBuf<T: Copy> {
    buf: [Option<T>; 16],
    len: usize,
}

impl<T: Copy> EdgeBuf<T> {
    fn new() -> Self {
        Self {
            buf: [None; 16],
            len: 0,
        }
    }
    fn push(&mut self, e: T) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = Some(e);
            self.len += 1;
        }
    }
    fn iter(&self) -> impl Iterator<Item = T> + '_ {
        self.buf.iter().take(self.len).flatten().copied()
    }
}

/// The call graph. Owned by one task; `ingest` records, `expire` periodically.
///
/// Never reads the clock: `now` (µs, the caller's clock) drives expiry only;
/// record timestamps drive leg times and call keys.
pub struct Correlator {
    config: Config,
    hasher: DefaultHashBuilder,
    table: HashTable<u32>,
    slots: Vec<IdentSlot>,
    free_slots: Vec<u32>,
    calls: Vec<Option<Call>>,
    free_calls: Vec<u32>,
    active: List,
    ended: List,
    stats: CorrelatorStats,
}

impl fmt::Debug for Correlator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Correlator")
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn hash_of(h: &DefaultHashBuilder, kind: Kind, text: &str) -> u64 {
    h.hash_one((kind as u8, text))
}

fn call(text: &str) -> Named<'_> {
    Named {
        kind: Kind::Call,
        text,
    }
}

fn chan(text: &str) -> Named<'_> {
    Named {
        kind: Kind::Channel,
        text,
    }
}

/// An identifier worth linking: not empty and not FreeSWITCH's `(null)` (its log
/// says `sending invite call-id: (null)` for every outbound leg; taking it would
/// join every call into one).
fn present(o: Option<&str>) -> Option<&str> {
    o.filter(|s| !s.is_empty() && *s != "(null)")
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl Correlator {
    /// An empty graph.
    pub fn new(mut config: Config) -> Self {
        config.max_idents_per_call = config.max_idents_per_call.clamp(1, 4096);
        config.max_active_calls = config.max_active_calls.max(1);
        Self {
            config,
            hasher: DefaultHashBuilder::default(),
            table: HashTable::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            calls: Vec::new(),
            free_calls: Vec::new(),
            active: List {
                head: NONE,
                tail: NONE,
            },
            ended: List {
                head: NONE,
                tail: NONE,
            },
            stats: CorrelatorStats::default(),
        }
    }

    /// The configuration in use (after clamping).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counters and gauges.
    pub fn stats(&self) -> CorrelatorStats {
        let mut s = self.stats;
        s.idents = self.table.len();
        s
    }

    /// Calls in memory.
    pub fn active_calls(&self) -> usize {
        self.stats.active_calls
    }

    /// Adds one record to the graph. `now` is the caller's clock (µs) for expiry.
    pub fn ingest(&mut self, record: &Record, now: TsMicros) -> Ingested {
        self.stats.records += 1;
        let mut out = Ingested::default();
        let ts = record.ts_micros;

        // 1. What the record names, and the links it states.
        let mut subject: Option<Named<'_>> = None;
        let mut named: EdgeBuf<(Named<'_>, Named<'_>, Rule)> = EdgeBuf::new();
        match &record.kind {
            RecordKind::Sip(sip) => {
                if let Some(cid) = present(Some(sip.call_id.as_str())) {
                    subject = Some(call(cid));
                    if let Some(v) =
                        present(sip.correlation.as_ref().map(CallId::as_str)).filter(|v| *v != cid)
                    {
                        named.push((call(cid), call(v), Rule::Header));
                    }
                    if let Some(v) = present(sip.hep_correlation.as_ref().map(|c| c.as_str()))
                        .filter(|v| *v != cid)
                    {
                        named.push((call(cid), call(v), Rule::HepCorrelation));
                    }
                }
            }
            RecordKind::Channel(ch) => {
                let uuid = present(ch.unique_id.as_ref().map(ChannelUuid::as_str));
                if let Some(u) = uuid {
                    subject = Some(chan(u));
                    if let Some(x) = present(ch.sip_call_id.as_ref().map(CallId::as_str)) {
                        named.push((chan(u), call(x), Rule::ChannelSip));
                    }
                    if let Some(o) =
                        present(ch.other_leg_unique_id.as_ref().map(ChannelUuid::as_str))
                            .filter(|o| *o != u)
                    {
                        let (a, b) = if u <= o { (u, o) } else { (o, u) };
                        named.push((chan(a), chan(b), Rule::OtherLeg));
                    }
                    // Only the channel's birth: later Channel-Call-UUID values move
                    // with transfers and bridges (see the crate docs).
                    if ch.event_name == "CHANNEL_CREATE"
                        && let Some(c) =
                            present(ch.channel_call_uuid.as_ref().map(ChannelUuid::as_str))
                                .filter(|c| *c != u)
                    {
                        named.push((chan(u), chan(c), Rule::CallUuid));
                    }
                }
                let ba = present(ch.bridge_a.as_ref().map(ChannelUuid::as_str));
                let bb = present(ch.bridge_b.as_ref().map(ChannelUuid::as_str));
                if let (Some(x), Some(y)) = (ba, bb)
                    && x != y
                {
                    let (a, b) = if x <= y { (x, y) } else { (y, x) };
                    named.push((chan(a), chan(b), Rule::OtherLeg));
                }
            }
            RecordKind::Log(log) => {
                if let Some(u) = present(log.uuid.as_ref().map(ChannelUuid::as_str)) {
                    subject = Some(chan(u));
                    if let Some(x) = present(log.call_id_hint.as_ref().map(CallId::as_str)) {
                        named.push((chan(u), call(x), Rule::LogUuid));
                    }
                    if let Some(p) =
                        present(log.peer_uuid.as_ref().map(ChannelUuid::as_str)).filter(|p| *p != u)
                    {
                        named.push((chan(u), chan(p), Rule::LogUuid));
                    }
                }
            }
        }
        if subject.is_none() && named.len == 0 {
            self.stats.records_without_ident += 1;
            return out;
        }

        // 2. Intern; new identifiers may bring uuid-as-callid edges.
        let mut fresh: EdgeBuf<u32> = EdgeBuf::new();
        let mut edges: EdgeBuf<Edge> = EdgeBuf::new();
        let subject_slot = subject.map(|n| self.intern(n, ts, &mut fresh, &mut edges));
        for (a, b, rule) in named.iter() {
            let a = self.intern(a, ts, &mut fresh, &mut edges);
            let b = self.intern(b, ts, &mut fresh, &mut edges);
            edges.push(Edge { a, b, rule });
        }

        // 3. Components.
        for e in edges.iter() {
            self.connect(e, &mut out);
        }
        if let Some(s) = subject_slot
            && self.slot_call(s) == NONE
        {
            self.new_call_with(s);
        }
        // Whatever could not be attached (caps) is dropped again.
        for s in fresh.iter() {
            if self.slot_call(s) == NONE {
                self.stats.refused += 1;
                self.free_ident(s);
            }
        }
        // 4. Legs: the subject's leg (joins across Call-ID ↔ UUID links happened in
        // `connect`), then the record's facts on it.
        if let Some(subject) = subject_slot.filter(|s| self.slot_call(*s) != NONE) {
            let c = self.slot_call(subject);
            if let Some(leg) = self.ensure_leg(c, subject)
                && let Some(facts) = self
                    .call_mut(c)
                    .and_then(|call| call.legs.get_mut(usize::from(leg)))
            {
                facts.seen(ts, &record.node);
                match &record.kind {
                    RecordKind::Sip(s) => facts.apply_sip(ts, s),
                    RecordKind::Channel(ch) => facts.apply_channel(ts, ch),
                    RecordKind::Log(l) => {
                        if let Some(d) = l.direction {
                            facts.apply_direction(d);
                        }
                    }
                }
            }
        }

        // 5. Every call the record names: key, times, activity. The subject's call
        // comes first and is the one reported.
        let mut touched: EdgeBuf<u32> = EdgeBuf::new();
        let named_slots = subject_slot
            .into_iter()
            .chain(edges.iter().flat_map(|e| [e.a, e.b]));
        for s in named_slots {
            let c = self.slot_call(s);
            if c != NONE && !touched.iter().any(|t| t == c) {
                touched.push(c);
            }
        }
        for c in touched.iter() {
            self.recompute_key(c);
            self.touch(c, ts, now);
        }
        let Some(c) = touched.iter().next() else {
            return out;
        };
        out.call = self.call(c).map(|c| c.key.clone());
        if let Some(k) = &out.call {
            out.merged.retain(|m| m != k);
            out.merged.sort();
            out.merged.dedup();
        }
        // One record can create more than one call (a refused link leaves its new
        // identifier in a call of its own), so evict until back under the cap.
        while self.stats.active_calls > self.config.max_active_calls {
            if !self.evict_one(c, &mut out) {
                break;
            }
        }
        out
    }

    /// Removes calls that ended and lingered, or went idle. Call periodically.
    pub fn expire(&mut self, now: TsMicros) -> Vec<CallSummary> {
        let mut out = Vec::new();
        let linger = micros(self.config.linger_after_end);
        while let Some(c) = self.head(true).filter(|&c| {
            self.call(c)
                .is_some_and(|s| s.touched.saturating_add(linger) <= now)
        }) {
            if let Some(s) = self.remove_call(c, CallState::Finished) {
                self.stats.calls_finished += 1;
                out.push(s);
            }
        }
        let idle = micros(self.config.idle_ttl);
        while let Some(c) = self.head(false).filter(|&c| {
            self.call(c)
                .is_some_and(|s| s.touched.saturating_add(idle) <= now)
        }) {
            if let Some(s) = self.remove_call(c, CallState::Idle) {
                self.stats.calls_idle_expired += 1;
                out.push(s);
            }
        }
        out
    }

    /// The call an identifier belongs to, with every leg and link known now.
    pub fn call_for(&self, ident: &Ident) -> Option<CallSummary> {
        let c = self.slot_call(self.lookup(ident)?);
        self.summarize(c, CallState::Active)
    }

    /// The key of the call an identifier belongs to.
    pub fn key_for(&self, ident: &Ident) -> Option<CallKey> {
        let c = self.slot_call(self.lookup(ident)?);
        self.call(c).map(|c| c.key.clone())
    }

    /// Summaries of every call in memory, in no particular order.
    pub fn calls(&self) -> impl Iterator<Item = CallSummary> + '_ {
        (0..self.calls.len())
            .filter_map(|i| self.summarize(u32::try_from(i).ok()?, CallState::Active))
    }

    /// An estimate of the heap and inline bytes held (excluding allocator overhead).
    pub fn memory_bytes(&self) -> usize {
        let mut n = self.table.capacity() * (mem::size_of::<u32>() + 1)
            + self.slots.capacity() * mem::size_of::<IdentSlot>()
            + self.free_slots.capacity() * 4
            + self.calls.capacity() * mem::size_of::<Option<Call>>()
            + self.free_calls.capacity() * 4;
        n += self.slots.iter().map(|s| s.text.len()).sum::<usize>();
        for c in self.calls.iter().flatten() {
            n += c.idents.len() * 4
                + c.links.len() * mem::size_of::<LinkRec>()
                + c.legs.len() * mem::size_of::<LegFacts>()
                + c.key.0.len()
                + 16;
            n += c.legs.len() * 48; // boxed numbers and cause, roughly
        }
        n
    }

    // ---- identifiers ----

    fn slot_call(&self, s: u32) -> u32 {
        self.slots.get(s as usize).map_or(NONE, |s| s.call)
    }

    fn slot_leg(&self, s: u32) -> u16 {
        self.slots.get(s as usize).map_or(NO_LEG, |s| s.leg)
    }

    fn slot_kind(&self, s: u32) -> Option<Kind> {
        self.slots.get(s as usize).map(|s| s.kind)
    }

    fn set_leg(&mut self, s: u32, leg: u16) {
        if let Some(slot) = self.slots.get_mut(s as usize) {
            slot.leg = leg;
        }
    }

    fn find(&self, kind: Kind, text: &str) -> Option<u32> {
        let h = hash_of(&self.hasher, kind, text);
        let slots = &self.slots;
        self.table
            .find(h, |&i| {
                slots
                    .get(i as usize)
                    .is_some_and(|s| s.kind == kind && &*s.text == text)
            })
            .copied()
    }

    fn lookup(&self, ident: &Ident) -> Option<u32> {
        match ident {
            Ident::Call(c) => self.find(Kind::Call, c.as_str()),
            Ident::Channel(u) => self.find(Kind::Channel, u.as_str()),
        }
    }

    /// Finds or creates the identifier; a new one is not yet in any call.
    fn intern(
        &mut self,
        n: Named<'_>,
        ts: TsMicros,
        fresh: &mut EdgeBuf<u32>,
        edges: &mut EdgeBuf<Edge>,
    ) -> u32 {
        if let Some(s) = self.find(n.kind, n.text) {
            if let Some(slot) = self.slots.get_mut(s as usize) {
                slot.first_seen = slot.first_seen.min(ts);
            }
            return s;
        }
        let slot = IdentSlot {
            text: n.text.into(),
            kind: n.kind,
            call: NONE,
            leg: NO_LEG,
            first_seen: ts,
        };
        let s = match self.free_slots.pop() {
            Some(s) => {
                if let Some(place) = self.slots.get_mut(s as usize) {
                    *place = slot;
                }
                s
            }
            None => {
                // u32::MAX is the "none" marker; the table can never get that big
                // in practice (max_active_calls × max_idents_per_call).
                let s = u32::try_from(self.slots.len()).unwrap_or(NONE - 1);
                self.slots.push(slot);
                s
            }
        };
        let h = hash_of(&self.hasher, n.kind, n.text);
        let (hasher, slots) = (&self.hasher, &self.slots);
        self.table.insert_unique(h, s, |&i| {
            slots
                .get(i as usize)
                .map_or(0, |x| hash_of(hasher, x.kind, &x.text))
        });
        fresh.push(s);
        let other = match n.kind {
            Kind::Call => Kind::Channel,
            Kind::Channel => Kind::Call,
        };
        if let Some(o) = self.find(other, n.text) {
            let (a, b) = if n.kind == Kind::Call { (s, o) } else { (o, s) };
            edges.push(Edge {
                a,
                b,
                rule: Rule::UuidAsCallid,
            });
        }
        s
    }

    fn free_ident(&mut self, s: u32) {
        let Some(slot) = self.slots.get_mut(s as usize) else {
            return;
        };
        let h = hash_of(&self.hasher, slot.kind, &slot.text);
        slot.text = Box::default();
        slot.call = NONE;
        slot.leg = NO_LEG;
        if let Ok(e) = self.table.find_entry(h, |&i| i == s) {
            e.remove();
        }
        self.free_slots.push(s);
    }

    fn ident_of(&self, s: u32) -> Option<Ident> {
        let slot = self.slots.get(s as usize)?;
        Some(match slot.kind {
            Kind::Call => Ident::Call(CallId::from(&*slot.text)),
            Kind::Channel => Ident::Channel(ChannelUuid::from(&*slot.text)),
        })
    }

    /// Key rank, smaller is better: identifiers that have their own leg, then
    /// Call-IDs before UUIDs, then earliest seen, then text.
    fn rank(&self, s: u32) -> Option<(bool, Kind, i64, &str)> {
        let slot = self.slots.get(s as usize)?;
        Some((slot.leg == NO_LEG, slot.kind, slot.first_seen, &slot.text))
    }

    // ---- calls ----

    fn call(&self, c: u32) -> Option<&Call> {
        self.calls.get(c as usize)?.as_ref()
    }

    fn call_mut(&mut self, c: u32) -> Option<&mut Call> {
        self.calls.get_mut(c as usize)?.as_mut()
    }

    fn new_call_with(&mut self, s: u32) -> u32 {
        let key = CallKey(Arc::from(
            self.slots.get(s as usize).map_or("", |x| &*x.text),
        ));
        let first = self.slots.get(s as usize).map_or(0, |x| x.first_seen);
        let call = Call {
            key_slot: s,
            key,
            idents: vec![s].into(),
            links: ExactVec::new(),
            legs: ExactVec::new(),
            first_seen: first,
            last_seen: first,
            touched: i64::MIN,
            ended: false,
            prev: NONE,
            next: NONE,
        };
        let c = match self.free_calls.pop() {
            Some(c) => {
                if let Some(place) = self.calls.get_mut(c as usize) {
                    *place = Some(call);
                }
                c
            }
            None => {
                let c = u32::try_from(self.calls.len()).unwrap_or(NONE - 1);
                self.calls.push(Some(call));
                c
            }
        };
        if let Some(slot) = self.slots.get_mut(s as usize) {
            slot.call = c;
        }
        self.push_tail(c, false);
        self.stats.calls_created += 1;
        self.stats.active_calls += 1;
        c
    }

    fn attach(&mut self, s: u32, c: u32) -> bool {
        let max = self.config.max_idents_per_call;
        let Some(call) = self.call_mut(c) else {
            return false;
        };
        if call.idents.len() >= max {
            return false;
        }
        call.idents.push(s);
        if let Some(slot) = self.slots.get_mut(s as usize) {
            slot.call = c;
        }
        true
    }

    fn connect(&mut self, e: Edge, out: &mut Ingested) {
        let (ca, cb) = (self.slot_call(e.a), self.slot_call(e.b));
        let c = match (ca == NONE, cb == NONE) {
            (true, true) => {
                let c = self.new_call_with(e.a);
                if !self.attach(e.b, c) {
                    self.stats.refused += 1;
                    return;
                }
                c
            }
            (false, true) => {
                if !self.attach(e.b, ca) {
                    self.stats.refused += 1;
                    return;
                }
                ca
            }
            (true, false) => {
                if !self.attach(e.a, cb) {
                    self.stats.refused += 1;
                    return;
                }
                cb
            }
            (false, false) if ca == cb => ca,
            (false, false) => match self.merge(ca, cb, out) {
                Some(c) => c,
                None => {
                    self.stats.refused += 1;
                    return;
                }
            },
        };
        if self.add_link(c, e) {
            self.stats.links += 1;
            if let (Some(a), Some(b)) = (self.ident_of(e.a), self.ident_of(e.b)) {
                out.new_links.push(Link { a, b, rule: e.rule });
            }
        }
        if self.slot_kind(e.a) != self.slot_kind(e.b) {
            self.join_legs(c, e.a, e.b);
        }
    }

    fn add_link(&mut self, c: u32, e: Edge) -> bool {
        let max = self.config.max_idents_per_call.saturating_mul(4);
        let Some(call) = self.call_mut(c) else {
            return false;
        };
        let rec = LinkRec {
            a: e.a,
            b: e.b,
            rule: e.rule,
        };
        if call.links.contains(&rec) {
            return false;
        }
        if call.links.len() >= max {
            self.stats.refused += 1;
            return false;
        }
        call.links.push(rec);
        true
    }

    /// Merges the smaller of two calls into the larger; `None` if over the cap.
    fn merge(&mut self, x: u32, y: u32, out: &mut Ingested) -> Option<u32> {
        let (lx, ly) = (self.call(x)?.idents.len(), self.call(y)?.idents.len());
        if lx + ly > self.config.max_idents_per_call {
            return None;
        }
        let (keep, gone) = if lx >= ly { (x, y) } else { (y, x) };
        let gone_ended = self.call(gone)?.ended;
        self.unlink(gone, gone_ended);
        let loser = self.calls.get_mut(gone as usize)?.take()?;
        self.free_calls.push(gone);
        self.stats.active_calls = self.stats.active_calls.saturating_sub(1);
        self.stats.merges += 1;
        let offset = u16::try_from(self.call(keep)?.legs.len()).unwrap_or(NO_LEG);
        for &s in &loser.idents {
            if let Some(slot) = self.slots.get_mut(s as usize) {
                slot.call = keep;
                if slot.leg != NO_LEG {
                    slot.leg = slot.leg.saturating_add(offset);
                }
            }
        }
        let keep_key = self.call(keep)?.key.clone();
        out.merged.push(keep_key);
        out.merged.push(loser.key.clone());
        let survivor = self.call_mut(keep)?;
        survivor.idents.extend(loser.idents);
        survivor.links.extend(loser.links);
        survivor.legs.extend(loser.legs);
        survivor.first_seen = survivor.first_seen.min(loser.first_seen);
        survivor.last_seen = survivor.last_seen.max(loser.last_seen);
        survivor.touched = survivor.touched.max(loser.touched);
        Some(keep)
    }

    // ---- legs ----

    /// The subject's leg, created if needed.
    fn ensure_leg(&mut self, c: u32, s: u32) -> Option<u16> {
        if self.slot_leg(s) != NO_LEG {
            return Some(self.slot_leg(s));
        }
        let call = self.call_mut(c)?;
        let leg = u16::try_from(call.legs.len())
            .ok()
            .filter(|l| *l != NO_LEG)?;
        call.legs.push(LegFacts::new());
        self.set_leg(s, leg);
        self.spread(c, s);
        Some(self.slot_leg(s))
    }

    fn join_legs(&mut self, c: u32, a: u32, b: u32) {
        let (la, lb) = (self.slot_leg(a), self.slot_leg(b));
        match (la == NO_LEG, lb == NO_LEG) {
            (true, true) => {}
            (true, false) => {
                self.set_leg(a, lb);
                self.spread(c, a);
            }
            (false, true) => {
                self.set_leg(b, la);
                self.spread(c, b);
            }
            (false, false) if la != lb => self.merge_legs(c, la, lb),
            (false, false) => {}
        }
    }

    /// Keeps the invariant "both ends of every Call-ID ↔ UUID link share a leg"
    /// after `start` got one.
    fn spread(&mut self, c: u32, start: u32) {
        // Usually nothing to do (a fresh identifier has no links yet): keep the
        // common case allocation-free.
        let touches = |call: &Call| call.links.iter().any(|l| l.a == start || l.b == start);
        if !self.call(c).is_some_and(touches) {
            return;
        }
        let mut work = vec![start];
        while let Some(s) = work.pop() {
            let leg = self.slot_leg(s);
            let mut i = 0;
            while let Some(l) = self.call(c).and_then(|call| call.links.get(i).copied()) {
                i += 1;
                let other = if l.a == s {
                    l.b
                } else if l.b == s {
                    l.a
                } else {
                    continue;
                };
                if self.slot_kind(other) == self.slot_kind(s) {
                    continue;
                }
                let ol = self.slot_leg(other);
                if ol == NO_LEG {
                    self.set_leg(other, leg);
                    work.push(other);
                } else if ol != leg {
                    self.merge_legs(c, leg, ol);
                    // Leg numbers moved; look at `s` again.
                    work.push(s);
                    break;
                }
            }
        }
    }

    fn merge_legs(&mut self, c: u32, l1: u16, l2: u16) {
        let (lo, hi) = (l1.min(l2), l1.max(l2));
        let slots = &mut self.slots;
        let Some(call) = self.calls.get_mut(c as usize).and_then(Option::as_mut) else {
            return;
        };
        if usize::from(hi) >= call.legs.len() {
            return;
        }
        let last = u16::try_from(call.legs.len() - 1).unwrap_or(NO_LEG);
        let Some(facts) = call.legs.swap_remove(usize::from(hi)) else {
            return;
        };
        if let Some(keep) = call.legs.get_mut(usize::from(lo)) {
            keep.merge(facts);
        }
        for &s in &call.idents {
            if let Some(slot) = slots.get_mut(s as usize) {
                if slot.leg == hi {
                    slot.leg = lo;
                } else if slot.leg == last {
                    slot.leg = hi;
                }
            }
        }
    }

    // ---- keys, activity, lists ----

    fn recompute_key(&mut self, c: u32) {
        let Some(call) = self.call(c) else {
            return;
        };
        let mut best = call.key_slot;
        for &s in &call.idents {
            if self.slot_call(best) != c || self.rank(s) < self.rank(best) {
                best = s;
            }
        }
        if best != call.key_slot {
            let key = CallKey(Arc::from(
                self.slots.get(best as usize).map_or("", |x| &*x.text),
            ));
            if let Some(call) = self.call_mut(c) {
                call.key_slot = best;
                call.key = key;
            }
        }
    }

    fn touch(&mut self, c: u32, ts: TsMicros, now: TsMicros) {
        let Some(call) = self.call_mut(c) else {
            return;
        };
        call.first_seen = call.first_seen.min(ts);
        call.last_seen = call.last_seen.max(ts);
        call.touched = call.touched.max(now);
        let was = call.ended;
        let ended = !call.legs.is_empty() && call.legs.iter().all(|l| l.ended().is_some());
        self.unlink(c, was);
        if let Some(call) = self.call_mut(c) {
            call.ended = ended;
        }
        self.push_tail(c, ended);
    }

    fn list(&mut self, ended: bool) -> &mut List {
        if ended {
            &mut self.ended
        } else {
            &mut self.active
        }
    }

    fn head(&self, ended: bool) -> Option<u32> {
        let h = if ended {
            self.ended.head
        } else {
            self.active.head
        };
        (h != NONE).then_some(h)
    }

    fn unlink(&mut self, c: u32, ended: bool) {
        let Some(call) = self.call(c) else {
            return;
        };
        let (prev, next) = (call.prev, call.next);
        match self.call_mut(prev) {
            Some(p) => p.next = next,
            None => self.list(ended).head = next,
        }
        match self.call_mut(next) {
            Some(n) => n.prev = prev,
            None => self.list(ended).tail = prev,
        }
        if let Some(call) = self.call_mut(c) {
            call.prev = NONE;
            call.next = NONE;
        }
    }

    fn push_tail(&mut self, c: u32, ended: bool) {
        let tail = self.list(ended).tail;
        if let Some(call) = self.call_mut(c) {
            call.prev = tail;
            call.next = NONE;
            call.ended = ended;
        }
        match self.call_mut(tail) {
            Some(t) => t.next = c,
            None => self.list(ended).head = c,
        }
        self.list(ended).tail = c;
    }

    fn evict_one(&mut self, current: u32, out: &mut Ingested) -> bool {
        for ended in [true, false] {
            let mut c = self.head(ended).unwrap_or(NONE);
            while c == current {
                c = self.call(c).map_or(NONE, |x| x.next);
            }
            if c != NONE {
                if let Some(s) = self.remove_call(c, CallState::Evicted) {
                    self.stats.calls_evicted += 1;
                    out.evicted.push(s);
                }
                return true;
            }
        }
        false
    }

    fn remove_call(&mut self, c: u32, state: CallState) -> Option<CallSummary> {
        let summary = self.summarize(c, state);
        let ended = self.call(c)?.ended;
        self.unlink(c, ended);
        let call = self.calls.get_mut(c as usize)?.take()?;
        for s in call.idents {
            self.free_ident(s);
        }
        self.free_calls.push(c);
        self.stats.active_calls = self.stats.active_calls.saturating_sub(1);
        summary
    }

    // ---- summaries ----

    fn summarize(&self, c: u32, state: CallState) -> Option<CallSummary> {
        let call = self.call(c)?;
        let n = call.legs.len();
        let mut call_ids: Vec<Option<&str>> = vec![None; n];
        let mut uuids: Vec<Option<&str>> = vec![None; n];
        for &s in &call.idents {
            let Some(slot) = self.slots.get(s as usize) else {
                continue;
            };
            let Some(entry) = (match slot.kind {
                Kind::Call => call_ids.get_mut(usize::from(slot.leg)),
                Kind::Channel => uuids.get_mut(usize::from(slot.leg)),
            }) else {
                continue;
            };
            if entry.is_none_or(|cur| &*slot.text < cur) {
                *entry = Some(&slot.text);
            }
        }

        // Roles: ESL direction; else correlation headers (the carrier is B, the
        // named leg is A); else the earliest INVITE is A.
        let mut roles: Vec<Option<Role>> = call
            .legs
            .iter()
            .map(|l| {
                l.direction().map(|d| match d {
                    Direction::Inbound => Role::A,
                    Direction::Outbound => Role::B,
                })
            })
            .collect();
        // Two passes so the result does not depend on link order: carrying a
        // correlation header (B) beats being named by one (A).
        for carrier in [true, false] {
            for l in &call.links {
                if !matches!(l.rule, Rule::Header | Rule::HepCorrelation) {
                    continue;
                }
                let (la, lb) = (
                    usize::from(self.slot_leg(l.a)),
                    usize::from(self.slot_leg(l.b)),
                );
                if la == lb {
                    continue;
                }
                let (at, role) = if carrier {
                    (la, Role::B)
                } else {
                    (lb, Role::A)
                };
                if let Some(r @ None) = roles.get_mut(at) {
                    *r = Some(role);
                }
            }
        }
        if !roles.contains(&Some(Role::A)) {
            let first = (0..n)
                .filter(|&i| roles.get(i).is_some_and(Option::is_none))
                .min_by_key(|&i| {
                    let t = call.legs.get(i).map_or(i64::MAX, LegFacts::invite_or_first);
                    (
                        t,
                        call_ids.get(i).copied().flatten(),
                        uuids.get(i).copied().flatten(),
                    )
                });
            if let Some(r) = first.and_then(|i| roles.get_mut(i)) {
                *r = Some(Role::A);
            }
        }
        for r in roles.iter_mut().filter(|r| r.is_none()) {
            *r = Some(Role::B);
        }

        let mut legs: Vec<LegSummary> = call
            .legs
            .iter()
            .enumerate()
            .map(|(i, f)| {
                f.summary(
                    call_ids.get(i).copied().flatten().map(CallId::from),
                    uuids.get(i).copied().flatten().map(ChannelUuid::from),
                    roles.get(i).copied().flatten(),
                )
            })
            .collect();
        legs.sort_by(|x, y| {
            (x.role, x.first_seen, &x.call_id, &x.uuid).cmp(&(
                y.role,
                y.first_seen,
                &y.call_id,
                &y.uuid,
            ))
        });
        let ended = !legs.is_empty() && legs.iter().all(|l| l.ended.is_some());
        let mut links: Vec<Link> = call
            .links
            .iter()
            .filter_map(|l| {
                Some(Link {
                    a: self.ident_of(l.a)?,
                    b: self.ident_of(l.b)?,
                    rule: l.rule,
                })
            })
            .collect();
        links.sort();
        let mut idents: Vec<Ident> = call
            .idents
            .iter()
            .filter_map(|&s| self.ident_of(s))
            .collect();
        idents.sort();
        Some(CallSummary {
            key: call.key.clone(),
            state,
            outcome: call_outcome(&legs, ended),
            legs,
            links,
            idents,
            first_seen: call.first_seen,
            last_seen: call.last_seen,
            ended,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{CSeq, ChannelRecord, CorrelationId, LogRecord, SipRecord, Transport};

    fn sip(ts: i64, cid: &str, method: Option<&str>, status: Option<u16>) -> Record {
        let mut s = SipRecord::new(
            "10.0.0.1:5060".parse().unwrap(),
            "10.0.0.2:5060".parse().unwrap(),
            Transport::Udp,
            cid.into(),
        );
        s.method = method.map(Into::into);
        s.status = status;
        s.cseq = Some(CSeq {
            seq: 1,
            method: method.unwrap_or("INVITE").into(),
        });
        Record::new(ts, "n1", RecordKind::Sip(s))
    }

    fn chan(ts: i64, event: &str, uuid: &str, f: impl FnOnce(&mut ChannelRecord)) -> Record {
        let mut c = ChannelRecord {
            event_name: event.into(),
            unique_id: Some(uuid.into()),
            ..Default::default()
        };
        f(&mut c);
        Record::new(ts, "n1", RecordKind::Channel(c))
    }

    fn log(ts: i64, uuid: &str, f: impl FnOnce(&mut LogRecord)) -> Record {
        let mut l = LogRecord::new("x");
        l.uuid = Some(uuid.into());
        f(&mut l);
        Record::new(ts, "n1", RecordKind::Log(l))
    }

    fn key(c: &Correlator, id: Ident) -> Option<String> {
        c.key_for(&id).map(|k| k.to_string())
    }

    fn cid(s: &str) -> Ident {
        Ident::Call(s.into())
    }

    fn uid(s: &str) -> Ident {
        Ident::Channel(s.into())
    }

    fn rules(c: &Correlator, id: Ident) -> Vec<Rule> {
        c.call_for(&id)
            .unwrap()
            .links
            .iter()
            .map(|l| l.rule)
            .collect()
    }

    #[test]
    fn channel_sip_joins_uuid_and_call_id_into_one_leg() {
        let mut c = Correlator::new(Config::default());
        c.ingest(&sip(10, "A", Some("INVITE"), None), 0);
        let out = c.ingest(
            &chan(5, "CHANNEL_CREATE", "u1", |c| {
                c.sip_call_id = Some("A".into())
            }),
            0,
        );
        assert_eq!(out.merged.len(), 0, "u1 was new: attached, not merged");
        assert_eq!(out.new_links.len(), 1);
        assert_eq!(out.new_links[0].rule.as_str(), "channel-sip");
        let s = c.call_for(&uid("u1")).unwrap();
        assert_eq!(s.legs.len(), 1);
        assert_eq!(s.key.as_str(), "A");
        assert_eq!(s.legs[0].first_seen, 5);
    }

    #[test]
    fn other_leg_and_bridge_join_channels() {
        let mut c = Correlator::new(Config::default());
        c.ingest(&chan(1, "CHANNEL_CREATE", "a", |_| {}), 0);
        c.ingest(&chan(2, "CHANNEL_CREATE", "b", |_| {}), 0);
        c.ingest(&chan(3, "CHANNEL_CREATE", "x", |_| {}), 0);
        assert_eq!(c.active_calls(), 3);
        c.ingest(
            &chan(4, "CHANNEL_ANSWER", "b", |c| {
                c.other_leg_unique_id = Some("a".into())
            }),
            0,
        );
        assert_eq!(key(&c, uid("b")), key(&c, uid("a")));
        let out = c.ingest(
            &chan(5, "CHANNEL_BRIDGE", "a", |c| {
                c.bridge_a = Some("x".into());
                c.bridge_b = Some("a".into());
            }),
            0,
        );
        assert_eq!(out.merged.len(), 1);
        assert_eq!(c.active_calls(), 1);
        assert_eq!(rules(&c, uid("x")), [Rule::OtherLeg, Rule::OtherLeg]);
        let s = c.call_for(&uid("x")).unwrap();
        assert_eq!(s.legs.len(), 3);
        // No Call-ID anywhere: the key is the earliest UUID.
        assert_eq!(s.key.as_str(), "a");
    }

    #[test]
    fn call_uuid_only_from_channel_create() {
        let mut c = Correlator::new(Config::default());
        c.ingest(&chan(1, "CHANNEL_CREATE", "a", |_| {}), 0);
        c.ingest(&chan(2, "CHANNEL_CREATE", "z", |_| {}), 0);
        // After a transfer Channel-Call-UUID names another call: not a link.
        c.ingest(
            &chan(3, "CHANNEL_EXECUTE", "z", |c| {
                c.channel_call_uuid = Some("a".into())
            }),
            0,
        );
        assert_ne!(key(&c, uid("z")), key(&c, uid("a")));
        c.ingest(
            &chan(4, "CHANNEL_CREATE", "b", |c| {
                c.channel_call_uuid = Some("a".into())
            }),
            0,
        );
        assert_eq!(key(&c, uid("b")), key(&c, uid("a")));
        assert_eq!(rules(&c, uid("b")), [Rule::CallUuid]);
    }

    #[test]
    fn uuid_as_callid_either_order() {
        for flip in [false, true] {
            let mut c = Correlator::new(Config::default());
            let s = sip(1, "u-9", Some("INVITE"), None);
            let e = chan(2, "CHANNEL_CREATE", "u-9", |_| {});
            if flip {
                c.ingest(&e, 0);
                c.ingest(&s, 0);
            } else {
                c.ingest(&s, 0);
                c.ingest(&e, 0);
            }
            let sum = c.call_for(&cid("u-9")).unwrap();
            assert_eq!(sum.links.len(), 1);
            assert_eq!(sum.links[0].rule.as_str(), "uuid-as-callid");
            assert_eq!(sum.links[0].a, cid("u-9"));
            assert_eq!(sum.legs.len(), 1, "same leg");
        }
    }

    #[test]
    fn header_and_hep_correlation_link_dialogs_and_set_roles() {
        let mut c = Correlator::new(Config::default());
        c.ingest(&sip(1, "A", Some("INVITE"), None), 0);
        let mut b = sip(2, "B", Some("INVITE"), None);
        if let RecordKind::Sip(s) = &mut b.kind {
            s.correlation = Some("A".into());
        }
        c.ingest(&b, 0);
        let mut h = sip(3, "C", Some("INVITE"), None);
        if let RecordKind::Sip(s) = &mut h.kind {
            s.hep_correlation = Some(CorrelationId::from("A"));
        }
        c.ingest(&h, 0);
        let s = c.call_for(&cid("C")).unwrap();
        assert_eq!(s.legs.len(), 3);
        assert_eq!(s.key.as_str(), "A");
        let got: Vec<(&str, Role)> = s
            .legs
            .iter()
            .map(|l| (l.call_id.as_ref().unwrap().as_str(), l.role.unwrap()))
            .collect();
        assert_eq!(got, [("A", Role::A), ("B", Role::B), ("C", Role::B)]);
        assert_eq!(rules(&c, cid("A")), [Rule::Header, Rule::HepCorrelation]);
    }

    #[test]
    fn sip_only_role_by_first_invite() {
        let mut c = Correlator::new(Config::default());
        // The same dialogs seen as a pair through a dangling X-CID value.
        for (ts, id) in [(20, "late"), (10, "early")] {
            let mut r = sip(ts, id, Some("INVITE"), None);
            if let RecordKind::Sip(s) = &mut r.kind {
                s.correlation = Some("shared-cid".into());
            }
            c.ingest(&r, 0);
        }
        let s = c.call_for(&cid("late")).unwrap();
        // Both carry the header; neither is named by a leg: both B by the header
        // rule... unless none is A, then the earliest INVITE is A.
        assert_eq!(s.legs.len(), 2);
        assert_eq!(s.legs.iter().filter(|l| l.role == Some(Role::B)).count(), 2);
        assert_eq!(s.key.as_str(), "early");
    }

    #[test]
    fn log_uuid_anchors() {
        let mut c = Correlator::new(Config::default());
        c.ingest(&log(1, "a", |l| l.call_id_hint = Some("A".into())), 0);
        c.ingest(&log(2, "a", |l| l.peer_uuid = Some("b".into())), 0);
        c.ingest(&log(3, "b", |l| l.call_id_hint = Some("(null)".into())), 0);
        c.ingest(&log(3, "z", |l| l.call_id_hint = Some("(null)".into())), 0);
        let s = c.call_for(&uid("b")).unwrap();
        assert_eq!(s.idents, [cid("A"), uid("a"), uid("b")]);
        assert_eq!(s.legs.len(), 2);
        assert!(s.links.iter().all(|l| l.rule == Rule::LogUuid));
        assert_ne!(key(&c, uid("z")), key(&c, uid("b")));
    }

    #[test]
    fn late_link_merges_and_reports_old_key() {
        let mut c = Correlator::new(Config::default());
        c.ingest(&sip(1, "A", Some("INVITE"), None), 0);
        c.ingest(&sip(2, "B", Some("INVITE"), None), 0);
        c.ingest(
            &chan(3, "CHANNEL_CREATE", "ua", |c| {
                c.sip_call_id = Some("A".into())
            }),
            0,
        );
        c.ingest(
            &chan(4, "CHANNEL_CREATE", "ub", |c| {
                c.sip_call_id = Some("B".into())
            }),
            0,
        );
        assert_eq!(c.active_calls(), 2);
        let out = c.ingest(
            &chan(5, "CHANNEL_BRIDGE", "ua", |c| {
                c.bridge_a = Some("ua".into());
                c.bridge_b = Some("ub".into());
            }),
            0,
        );
        assert_eq!(out.call.unwrap().as_str(), "A");
        assert_eq!(
            out.merged.iter().map(CallKey::as_str).collect::<Vec<_>>(),
            ["B"]
        );
        assert_eq!(c.active_calls(), 1);
        assert_eq!(c.stats().merges, 1);
    }

    #[test]
    fn records_without_identifiers_are_counted() {
        let mut c = Correlator::new(Config::default());
        let hb = Record::new(
            1,
            "n",
            RecordKind::Channel(ChannelRecord {
                event_name: "HEARTBEAT".into(),
                ..Default::default()
            }),
        );
        assert_eq!(c.ingest(&hb, 0), Ingested::default());
        assert_eq!(c.ingest(&sip(1, "", Some("INVITE"), None), 0).call, None);
        assert_eq!(c.stats().records_without_ident, 2);
    }

    #[test]
    fn idents_per_call_are_capped() {
        let mut c = Correlator::new(Config {
            max_idents_per_call: 3,
            ..Config::default()
        });
        c.ingest(
            &chan(1, "CHANNEL_CREATE", "a", |c| {
                c.sip_call_id = Some("A".into())
            }),
            0,
        );
        c.ingest(
            &chan(2, "CHANNEL_CREATE", "b", |c| {
                c.other_leg_unique_id = Some("a".into())
            }),
            0,
        );
        let out = c.ingest(
            &chan(3, "CHANNEL_CREATE", "c", |c| {
                c.other_leg_unique_id = Some("a".into())
            }),
            0,
        );
        // c is kept as its own call; the link to a full call is refused.
        assert_eq!(c.call_for(&uid("a")).unwrap().idents.len(), 3);
        assert_ne!(out.call, c.key_for(&uid("a")));
        assert!(c.stats().refused >= 1);
    }

    #[test]
    fn over_the_cap_the_least_recent_call_is_evicted() {
        let mut c = Correlator::new(Config {
            max_active_calls: 2,
            ..Config::default()
        });
        c.ingest(&sip(1, "A", Some("INVITE"), None), 100);
        c.ingest(&sip(2, "B", Some("INVITE"), None), 200);
        c.ingest(&sip(3, "A", None, Some(180)), 300);
        let out = c.ingest(&sip(4, "C", Some("INVITE"), None), 400);
        assert_eq!(out.evicted.len(), 1);
        assert_eq!(out.evicted[0].key.as_str(), "B");
        assert_eq!(out.evicted[0].state, CallState::Evicted);
        assert_eq!(c.active_calls(), 2);
        assert_eq!(c.stats().calls_evicted, 1);
        assert!(c.key_for(&cid("B")).is_none());
    }

    #[test]
    fn fuzz_regression_one_record_creating_two_calls_stays_under_cap() {
        // A bridge event whose Bridge-A/B do not include its own Unique-ID, with
        // links refused by the ident cap, creates two calls at once.
        let mut c = Correlator::new(Config {
            max_active_calls: 1,
            max_idents_per_call: 1,
            ..Config::default()
        });
        let out = c.ingest(
            &chan(1, "CHANNEL_BRIDGE", "u", |c| {
                c.bridge_a = Some("p".into());
                c.bridge_b = Some("q".into());
            }),
            0,
        );
        assert_eq!(c.active_calls(), 1);
        assert_eq!(out.evicted.len(), 1);
        assert_eq!(out.call.unwrap().as_str(), "u");
    }

    #[test]
    fn idle_calls_expire_and_ended_calls_linger() {
        let sec = 1_000_000;
        let mut c = Correlator::new(Config {
            idle_ttl: Duration::from_secs(60),
            linger_after_end: Duration::from_secs(5),
            ..Config::default()
        });
        c.ingest(&sip(1, "open", Some("INVITE"), None), 0);
        c.ingest(&sip(1, "done", Some("INVITE"), None), 0);
        c.ingest(&sip(2, "done", None, Some(486)), sec);
        assert!(c.expire(5 * sec).is_empty());
        let gone = c.expire(6 * sec);
        assert_eq!(gone.len(), 1);
        assert_eq!(
            (gone[0].key.as_str(), gone[0].state, gone[0].outcome),
            ("done", CallState::Finished, Outcome::Busy)
        );
        // A retransmitted 486 after expiry starts a fresh (ended) call; harmless.
        let gone = c.expire(60 * sec);
        assert_eq!(gone.len(), 1);
        assert_eq!(
            (gone[0].key.as_str(), gone[0].state, gone[0].outcome),
            ("open", CallState::Idle, Outcome::InProgress)
        );
        assert_eq!(c.stats().idents, 0);
        assert_eq!(c.stats().active_calls, 0);
    }

    #[test]
    fn memory_per_call_is_bounded() {
        // Two legs, each a Call-ID + UUID, ESL and SIP facts: the set 01 shape.
        let mut c = Correlator::new(Config::default());
        // 16k calls: the slabs (which double) are nearly full here, so this is the
        // steady-state cost, not a post-doubling peak (which adds up to ~350 B).
        let n = 16_000;
        for i in 0..n {
            let (a, b) = (
                format!("{i}-4274@127.0.0.1"),
                format!("bbd9578d-63eb-1240-a1be-{i:012}"),
            );
            let (ua, ub) = (
                format!("d9e73608-5048-4523-aded-{i:012}"),
                format!("f059e147-6396-47f7-a85d-{i:012}"),
            );
            c.ingest(&sip(1, &a, Some("INVITE"), None), 0);
            c.ingest(
                &chan(2, "CHANNEL_CREATE", &ua, |c| {
                    c.sip_call_id = Some(a.as_str().into())
                }),
                0,
            );
            c.ingest(
                &chan(3, "CHANNEL_CREATE", &ub, |c| {
                    c.other_leg_unique_id = Some(ua.as_str().into())
                }),
                0,
            );
            c.ingest(
                &chan(4, "CHANNEL_HANGUP_COMPLETE", &ub, |c| {
                    c.sip_call_id = Some(b.as_str().into());
                    c.hangup_cause = Some("NORMAL_CLEARING".into());
                    c.caller_number = Some("sipp".into());
                    c.destination_number = Some("1000".into());
                }),
                0,
            );
            c.ingest(&sip(5, &b, None, Some(200)), 0);
        }
        let per_call = c.memory_bytes() / n;
        println!(
            "approx. bytes per active call: {per_call} (Call {} B, LegFacts {} B, IdentSlot {} B, slots cap {}, calls cap {}, table cap {})",
            mem::size_of::<Option<Call>>(),
            mem::size_of::<LegFacts>(),
            mem::size_of::<IdentSlot>(),
            c.slots.capacity(),
            c.calls.capacity(),
            c.table.capacity()
        );
        assert!(per_call <= 1024, "{per_call} bytes per call");
    }
}
