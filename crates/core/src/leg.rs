//! Legs: what is known about one SIP dialog and its FreeSWITCH channel, and the
//! call outcome derived from the legs.
//!
//! Facts are accumulated as a join-semilattice: every field keeps the earliest (or,
//! where stated, the latest) value by timestamp, with a fixed tie-break. Merging
//! two fact sets is therefore commutative and associative, and a leg's facts do not
//! depend on the order its records arrived in.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::record::{CallId, ChannelRecord, ChannelUuid, Direction, Quality, SipRecord, TsMicros};

/// A leg's role in a B2BUA call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// Inbound to the switch (the caller's dialog).
    A,
    /// Outbound from the switch.
    B,
}

/// How a call (or a leg) ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Some leg was answered (2xx to INVITE or CHANNEL_ANSWER).
    Answered,
    /// 486 / 600 or `USER_BUSY`.
    Busy,
    /// 408 / 480 or `NO_ANSWER` / `NO_USER_RESPONSE`.
    NoAnswer,
    /// CANCEL, 487 or `ORIGINATOR_CANCEL`.
    Cancelled,
    /// Any other failure: 3xx–6xx, or a hangup cause other than `NORMAL_CLEARING`
    /// before answer, or ended with nothing better known.
    Failed,
    /// Not answered and not ended yet.
    InProgress,
}

impl Outcome {
    /// The kebab-case name (`answered`, `busy`, `no-answer`, `cancelled`, `failed`,
    /// `in-progress`), a bounded label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Busy => "busy",
            Outcome::NoAnswer => "no-answer",
            Outcome::Cancelled => "cancelled",
            Outcome::Failed => "failed",
            Outcome::InProgress => "in-progress",
        }
    }
}

/// One leg of a call, as reported in a [`crate::CallSummary`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegSummary {
    /// The leg's SIP Call-ID (the smallest, if several were joined).
    pub call_id: Option<CallId>,
    /// The leg's FreeSWITCH channel UUID.
    pub uuid: Option<ChannelUuid>,
    /// A (inbound to the switch) or B (outbound). See the crate docs for the
    /// heuristics used without ESL.
    pub role: Option<Role>,
    /// `Call-Direction` from ESL, when known.
    pub direction: Option<Direction>,
    /// Caller number (From user of the INVITE, else ESL caller id number).
    pub from: Option<String>,
    /// Called number (To user of the INVITE, else ESL destination number).
    pub to: Option<String>,
    /// Node of the earliest record of this leg.
    pub node: Option<String>,
    /// Earliest record of this leg.
    pub first_seen: TsMicros,
    /// Initial INVITE (request without To tag).
    pub invite: Option<TsMicros>,
    /// First 18x to INVITE or CHANNEL_PROGRESS(_MEDIA).
    pub ringing: Option<TsMicros>,
    /// First 2xx to INVITE or CHANNEL_ANSWER.
    pub answered: Option<TsMicros>,
    /// First BYE, CANCEL, CHANNEL_HANGUP(_COMPLETE), or the final failure response
    /// when never answered.
    pub ended: Option<TsMicros>,
    /// Final SIP status of the INVITE transaction (2xx if any, else the latest
    /// failure), else ESL `sip_term_status`.
    pub sip_status: Option<u16>,
    /// FreeSWITCH hangup cause.
    pub hangup_cause: Option<String>,
    /// INVITE (or first seen) to ringing, else to answer, else to final failure.
    pub post_dial_delay_micros: Option<i64>,
    /// Answer to end.
    pub duration_micros: Option<i64>,
    /// RTP quality from FreeSWITCH, when known.
    pub quality: Option<Quality>,
    /// This leg's own outcome.
    pub outcome: Outcome,
}

/// Earliest timestamp, `i64::MAX` meaning "none"; 8 bytes instead of 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MinTs(i64);

impl MinTs {
    pub(crate) const NONE: MinTs = MinTs(i64::MAX);

    pub(crate) fn update(&mut self, ts: TsMicros) {
        self.0 = self.0.min(ts);
    }

    pub(crate) fn get(self) -> Option<TsMicros> {
        (self.0 != i64::MAX).then_some(self.0)
    }
}

/// Everything accumulated about one leg. Kept small: this is most of a call's
/// memory.
#[derive(Debug, Clone)]
pub(crate) struct LegFacts {
    pub(crate) first_seen: MinTs,
    node: Option<Arc<str>>,
    invite: MinTs,
    ringing: MinTs,
    answer: MinTs,
    bye_or_cancel: MinTs,
    hangup: MinTs,
    /// Earliest 2xx to INVITE: (ts, code).
    ok: (MinTs, u16),
    /// Latest ≥300 final response to INVITE: (ts, code); ts `i64::MIN` = none.
    fail: (i64, u16),
    cancelled: bool,
    direction: Option<Direction>,
    term_status: Option<u16>,
    /// Earliest event carrying a hangup cause.
    cause: Option<(i64, Box<str>)>,
    /// (source rank: 0 = SIP INVITE, 1 = ESL; ts; from; to), minimum wins.
    numbers: Option<Box<Numbers>>,
    /// Latest quality report.
    quality: Option<Box<(i64, Quality)>>,
}

/// A leg's calling and called numbers with where they came from. Both numbers
/// share one allocation (`from` then `to`): two of these per call.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Numbers {
    ts: i64,
    rank: u8,
    /// `from` is present (bit 0), `to` is present (bit 1).
    present: u8,
    /// Length of `from` in `text`.
    from_len: u32,
    text: Box<str>,
}

impl Numbers {
    fn new(rank: u8, ts: i64, from: Option<&str>, to: Option<&str>) -> Self {
        let (f, t) = (from.unwrap_or_default(), to.unwrap_or_default());
        let mut text = String::with_capacity(f.len() + t.len());
        text.push_str(f);
        text.push_str(t);
        Self {
            ts,
            rank,
            present: u8::from(from.is_some()) | (u8::from(to.is_some()) << 1),
            // A number longer than 4 GiB cannot arrive in one record.
            from_len: u32::try_from(f.len()).unwrap_or(u32::MAX),
            text: text.into_boxed_str(),
        }
    }

    fn from(&self) -> Option<&str> {
        let end = usize::try_from(self.from_len).unwrap_or(usize::MAX);
        (self.present & 1 != 0).then(|| self.text.get(..end).unwrap_or_default())
    }

    fn to(&self) -> Option<&str> {
        let start = usize::try_from(self.from_len).unwrap_or(usize::MAX);
        (self.present & 2 != 0).then(|| self.text.get(start..).unwrap_or_default())
    }
}

fn numbers_better(
    rank: u8,
    ts: i64,
    from: Option<&str>,
    to: Option<&str>,
    cur: &Option<Box<Numbers>>,
) -> bool {
    match cur {
        None => true,
        Some(c) => (rank, ts, from, to) < (c.rank, c.ts, c.from(), c.to()),
    }
}

fn quality_key(ts: i64, q: &Quality) -> (i64, [u64; 5]) {
    let b = |v: Option<f64>| v.map_or(0, f64::to_bits);
    (
        ts,
        [
            b(q.mos),
            b(q.jitter_min_variance),
            b(q.jitter_max_variance),
            b(q.loss_rate),
            b(q.r_factor),
        ],
    )
}

impl LegFacts {
    pub(crate) fn new() -> Self {
        Self {
            first_seen: MinTs::NONE,
            node: None,
            invite: MinTs::NONE,
            ringing: MinTs::NONE,
            answer: MinTs::NONE,
            bye_or_cancel: MinTs::NONE,
            hangup: MinTs::NONE,
            ok: (MinTs::NONE, 0),
            fail: (i64::MIN, 0),
            cancelled: false,
            direction: None,
            term_status: None,
            cause: None,
            numbers: None,
            quality: None,
        }
    }

    /// Notes a record of this leg seen at `ts` on `node`.
    pub(crate) fn seen(&mut self, ts: TsMicros, node: &Arc<str>) {
        let better = match (&self.node, self.first_seen.get()) {
            (Some(n), Some(first)) => {
                ts < first || (ts == first && !Arc::ptr_eq(n, node) && **node < **n)
            }
            _ => true,
        };
        if better {
            self.node = Some(Arc::clone(node));
        }
        self.first_seen.update(ts);
    }

    pub(crate) fn apply_sip(&mut self, ts: TsMicros, sip: &SipRecord) {
        if let Some(method) = sip.method.as_deref() {
            match method {
                "INVITE" if sip.to.tag.is_none() => {
                    self.invite.update(ts);
                    self.offer_numbers(0, ts, sip.from.user.as_deref(), sip.to.user.as_deref());
                }
                "BYE" => self.bye_or_cancel.update(ts),
                "CANCEL" => {
                    self.bye_or_cancel.update(ts);
                    self.cancelled = true;
                }
                _ => {}
            }
            return;
        }
        let (Some(code), Some("INVITE")) = (sip.status, sip.cseq_method()) else {
            return;
        };
        match code {
            101..=199 => self.ringing.update(ts),
            200..=299 if (ts, code) < (self.ok.0.0, self.ok.1) => {
                self.ok = (MinTs(ts), code);
            }
            300..=699 if (ts, code) > self.fail => {
                self.fail = (ts, code);
            }
            _ => {}
        }
    }

    pub(crate) fn apply_channel(&mut self, ts: TsMicros, ch: &ChannelRecord) {
        match ch.event_name.as_str() {
            "CHANNEL_PROGRESS" | "CHANNEL_PROGRESS_MEDIA" => self.ringing.update(ts),
            "CHANNEL_ANSWER" => self.answer.update(ts),
            "CHANNEL_HANGUP" | "CHANNEL_HANGUP_COMPLETE" | "CHANNEL_DESTROY" => {
                self.hangup.update(ts)
            }
            _ => {}
        }
        if let Some(d) = ch.direction {
            self.apply_direction(d);
        }
        if let Some(s) = ch.sip_term_status {
            self.term_status = self.term_status.max(Some(s));
        }
        if let Some(cause) = ch.hangup_cause.as_deref().filter(|c| !c.is_empty()) {
            let better = match &self.cause {
                None => true,
                Some((t, c)) => (ts, cause) < (*t, &**c),
            };
            if better {
                self.cause = Some((ts, cause.into()));
            }
        }
        if ch.caller_number.is_some() || ch.destination_number.is_some() {
            self.offer_numbers(
                1,
                ts,
                ch.caller_number.as_deref(),
                ch.destination_number.as_deref(),
            );
        }
        if !ch.quality.is_empty() {
            let better = match &self.quality {
                None => true,
                Some(cur) => quality_key(ts, &ch.quality) > quality_key(cur.0, &cur.1),
            };
            if better {
                self.quality = Some(Box::new((ts, ch.quality)));
            }
        }
    }

    /// A channel has one direction; should two reports ever disagree, inbound
    /// wins whatever the order.
    pub(crate) fn apply_direction(&mut self, d: Direction) {
        self.direction = Some(match (self.direction, d) {
            (Some(Direction::Inbound), _) | (_, Direction::Inbound) => Direction::Inbound,
            _ => Direction::Outbound,
        });
    }

    fn offer_numbers(&mut self, rank: u8, ts: i64, from: Option<&str>, to: Option<&str>) {
        if numbers_better(rank, ts, from, to, &self.numbers) {
            self.numbers = Some(Box::new(Numbers::new(rank, ts, from, to)));
        }
    }

    /// Joins `other` into `self` (commutative, associative).
    pub(crate) fn merge(&mut self, other: LegFacts) {
        if let (Some(node), Some(ts)) = (&other.node, other.first_seen.get()) {
            self.seen(ts, node);
        }
        self.invite.update(other.invite.0);
        self.ringing.update(other.ringing.0);
        self.answer.update(other.answer.0);
        self.bye_or_cancel.update(other.bye_or_cancel.0);
        self.hangup.update(other.hangup.0);
        if (other.ok.0.0, other.ok.1) < (self.ok.0.0, self.ok.1) {
            self.ok = other.ok;
        }
        if other.fail > self.fail {
            self.fail = other.fail;
        }
        self.cancelled |= other.cancelled;
        if let Some(d) = other.direction {
            self.direction = Some(match (self.direction, d) {
                (Some(Direction::Inbound), _) | (_, Direction::Inbound) => Direction::Inbound,
                _ => Direction::Outbound,
            });
        }
        self.term_status = self.term_status.max(other.term_status);
        if let Some((t, c)) = other.cause {
            let better = match &self.cause {
                None => true,
                Some((st, sc)) => (t, &*c) < (*st, &**sc),
            };
            if better {
                self.cause = Some((t, c));
            }
        }
        if let Some(n) = other.numbers
            && numbers_better(n.rank, n.ts, n.from(), n.to(), &self.numbers)
        {
            self.numbers = Some(n);
        }
        if let Some(q) = other.quality {
            let better = match &self.quality {
                None => true,
                Some(cur) => quality_key(q.0, &q.1) > quality_key(cur.0, &cur.1),
            };
            if better {
                self.quality = Some(q);
            }
        }
    }

    pub(crate) fn direction(&self) -> Option<Direction> {
        self.direction
    }

    pub(crate) fn invite_or_first(&self) -> TsMicros {
        self.invite
            .get()
            .or(self.first_seen.get())
            .unwrap_or(i64::MAX)
    }

    fn answered(&self) -> Option<TsMicros> {
        match (self.ok.0.get(), self.answer.get()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn final_failure(&self) -> Option<(TsMicros, u16)> {
        (self.fail.0 != i64::MIN && self.ok.0.get().is_none()).then_some(self.fail)
    }

    /// When the leg ended, if it did.
    pub(crate) fn ended(&self) -> Option<TsMicros> {
        let mut end = MinTs(self.bye_or_cancel.0.min(self.hangup.0));
        if self.answered().is_none()
            && let Some((t, _)) = self.final_failure()
        {
            end.update(t);
        }
        end.get()
    }

    fn sip_status(&self) -> Option<u16> {
        if self.ok.0.get().is_some() {
            return Some(self.ok.1);
        }
        self.final_failure().map(|(_, c)| c).or(self.term_status)
    }

    /// The leg's own outcome, or `None` when nothing decisive is known.
    pub(crate) fn classify(&self) -> Option<Outcome> {
        if self.answered().is_some() {
            return Some(Outcome::Answered);
        }
        let status = self.sip_status();
        let cause = self.cause.as_ref().map(|(_, c)| &**c);
        if self.cancelled || status == Some(487) || cause == Some("ORIGINATOR_CANCEL") {
            return Some(Outcome::Cancelled);
        }
        if matches!(status, Some(486 | 600)) || cause == Some("USER_BUSY") {
            return Some(Outcome::Busy);
        }
        if matches!(status, Some(408 | 480))
            || matches!(cause, Some("NO_ANSWER" | "NO_USER_RESPONSE"))
        {
            return Some(Outcome::NoAnswer);
        }
        if matches!(status, Some(300..=699)) || cause.is_some_and(|c| c != "NORMAL_CLEARING") {
            return Some(Outcome::Failed);
        }
        None
    }

    pub(crate) fn summary(
        &self,
        call_id: Option<CallId>,
        uuid: Option<ChannelUuid>,
        role: Option<Role>,
    ) -> LegSummary {
        let first_seen = self.first_seen.get().unwrap_or_default();
        let start = self.invite.get().unwrap_or(first_seen);
        let answered = self.answered();
        let ended = self.ended();
        let pdd_end = self
            .ringing
            .get()
            .or(answered)
            .or(self.final_failure().map(|(t, _)| t));
        let outcome = self.classify().unwrap_or(if ended.is_some() {
            Outcome::Failed
        } else {
            Outcome::InProgress
        });
        let numbers = self.numbers.as_deref();
        LegSummary {
            call_id,
            uuid,
            role,
            direction: self.direction,
            from: numbers.and_then(Numbers::from).map(str::to_owned),
            to: numbers.and_then(Numbers::to).map(str::to_owned),
            node: self.node.as_deref().map(str::to_owned),
            first_seen,
            invite: self.invite.get(),
            ringing: self.ringing.get(),
            answered,
            ended,
            sip_status: self.sip_status(),
            hangup_cause: self.cause.as_ref().map(|(_, c)| c.to_string()),
            post_dial_delay_micros: pdd_end.map(|t| t.saturating_sub(start).max(0)),
            duration_micros: match (answered, ended) {
                (Some(a), Some(e)) => Some(e.saturating_sub(a).max(0)),
                _ => None,
            },
            quality: self.quality.as_deref().map(|q| q.1),
            outcome,
        }
    }
}

/// The call's outcome from its legs: answered if any leg was; otherwise the first
/// decisive leg outcome, A-legs first; otherwise failed when ended, else in progress.
pub(crate) fn call_outcome(legs: &[LegSummary], ended: bool) -> Outcome {
    if legs.iter().any(|l| l.outcome == Outcome::Answered) {
        return Outcome::Answered;
    }
    let decisive = |l: &&LegSummary| !matches!(l.outcome, Outcome::InProgress | Outcome::Failed);
    let a_first = legs
        .iter()
        .filter(|l| l.role == Some(Role::A))
        .chain(legs.iter().filter(|l| l.role != Some(Role::A)));
    if let Some(l) = a_first.clone().find(decisive) {
        return l.outcome;
    }
    if legs.iter().any(|l| l.outcome == Outcome::Failed) || ended {
        return Outcome::Failed;
    }
    Outcome::InProgress
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{CSeq, Transport};

    fn resp(code: u16, method: &str) -> SipRecord {
        let mut s = SipRecord::new(
            "127.0.0.1:5082".parse().unwrap(),
            "127.0.0.1:5090".parse().unwrap(),
            Transport::Udp,
            CallId::from("x"),
        );
        s.status = Some(code);
        s.cseq = Some(CSeq {
            seq: 1,
            method: method.into(),
        });
        s
    }

    #[test]
    fn numbers_keep_absent_empty_and_non_ascii_apart() {
        for (from, to) in [
            (Some("1000"), Some("2000")),
            (None, Some("2000")),
            (Some("1000"), None),
            (None, None),
            (Some(""), Some("")),
            (Some(""), None),
            (Some("Zoë"), Some("+4930ü")),
        ] {
            let n = Numbers::new(1, 5, from, to);
            assert_eq!((n.from(), n.to()), (from, to));
        }
        // The order a leg picks its numbers by is unchanged: rank, time, from, to.
        let cur = Some(Box::new(Numbers::new(1, 5, Some("1000"), Some("2000"))));
        assert!(numbers_better(0, 9, None, None, &cur));
        assert!(numbers_better(1, 4, Some("9"), None, &cur));
        assert!(numbers_better(1, 5, None, Some("9"), &cur));
        assert!(numbers_better(1, 5, Some("1000"), Some("1999"), &cur));
        assert!(!numbers_better(1, 5, Some("1000"), Some("2000"), &cur));
        assert!(!numbers_better(1, 5, Some("1001"), None, &cur));
    }

    #[test]
    fn auth_challenge_then_answer_is_answered() {
        let mut f = LegFacts::new();
        f.apply_sip(10, &resp(407, "INVITE"));
        f.apply_sip(20, &resp(200, "INVITE"));
        f.apply_sip(30, &resp(200, "BYE"));
        assert_eq!(f.classify(), Some(Outcome::Answered));
        assert_eq!(f.sip_status(), Some(200));
    }

    #[test]
    fn merge_is_order_independent() {
        let mut a = LegFacts::new();
        a.apply_sip(20, &resp(180, "INVITE"));
        let mut b = LegFacts::new();
        b.apply_sip(10, &resp(486, "INVITE"));
        let mut ab = a.clone();
        ab.merge(b.clone());
        let mut ba = b;
        ba.merge(a);
        let sa = ab.summary(None, None, None);
        let sb = ba.summary(None, None, None);
        assert_eq!(sa, sb);
        assert_eq!(sa.outcome, Outcome::Busy);
        assert_eq!(sa.ended, Some(10));
    }

    #[test]
    fn leg_facts_stay_small() {
        // Most of a call's memory; keep an eye on it.
        assert!(
            std::mem::size_of::<LegFacts>() <= 160,
            "{}",
            std::mem::size_of::<LegFacts>()
        );
    }
}
