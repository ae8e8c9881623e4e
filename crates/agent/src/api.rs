//! The JSON shapes of the HTTP API (`/api/v1/trace/{id}`, `/api/v1/calls`,
//! `/api/v1/search`), shared by the server and by `callweave trace` /
//! `callweave calls` / `callweave search`, which read them back.
//!
//! Times are given twice: `*_micros` (µs since the epoch, for machines) and an
//! RFC 3339 UTC string (for people and `jq`).

use std::collections::BTreeSet;

use callweave_core::graph::{CallSummary, Config as CorrelatorConfig, Correlator};
use callweave_core::leg::{LegSummary, Role};
use callweave_core::link::Link;
use callweave_core::record::{CallId, ChannelUuid};
use callweave_core::record::{Ident, Record, RecordKind, TsMicros};
use serde::{Deserialize, Serialize};

/// `GET /api/v1/trace/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceResponse {
    /// The call key (the A-leg Call-ID for a normal call).
    pub call: String,
    /// Outcome of the call: answered, busy, no-answer, cancelled, failed, in-progress.
    pub outcome: String,
    /// First record of the call.
    pub start: Option<String>,
    /// Every leg, A-legs first, then by first seen.
    pub legs: Vec<LegView>,
    /// Every link that joins the call's identifiers, with the rule that made it.
    pub links: Vec<LinkView>,
    /// Records of the call in time order (one page of them).
    pub records: Vec<RecordView>,
    /// Which page of records this is.
    pub page: Page,
}

/// Pagination of a trace's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Index of the first record returned.
    pub offset: usize,
    /// Page size asked for.
    pub limit: usize,
    /// Records of the call in the index.
    pub total: usize,
}

/// One leg: a SIP dialog and its FreeSWITCH channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegView {
    /// SIP Call-ID of the leg.
    pub call_id: Option<String>,
    /// FreeSWITCH channel UUID of the leg.
    pub uuid: Option<String>,
    /// `A` (inbound to the switch) or `B` (outbound).
    pub role: Option<String>,
    /// Node that saw the leg.
    pub node: Option<String>,
    /// Calling number.
    pub from: Option<String>,
    /// Called number.
    pub to: Option<String>,
    /// First seen (RFC 3339).
    pub start: Option<String>,
    /// First ringing (180/183 or CHANNEL_PROGRESS).
    pub ringing: Option<String>,
    /// Answered.
    pub answer: Option<String>,
    /// Ended.
    pub end: Option<String>,
    /// Final SIP status of the INVITE.
    pub status: Option<u16>,
    /// FreeSWITCH hangup cause.
    pub hangup_cause: Option<String>,
    /// Post-dial delay in milliseconds.
    pub pdd_ms: Option<f64>,
    /// Answered duration in milliseconds.
    pub duration_ms: Option<f64>,
    /// Leg outcome.
    pub outcome: String,
    /// MOS reported by FreeSWITCH.
    pub mos: Option<f64>,
    /// µs timestamps of start/answer/end for machines.
    pub start_micros: TsMicros,
    /// µs of the answer, if answered.
    pub answer_micros: Option<TsMicros>,
    /// µs of the end, if ended.
    pub end_micros: Option<TsMicros>,
}

/// A link between two identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    /// One identifier (`call-id:…` or `uuid:…` in `a_kind`).
    pub a: String,
    /// The other identifier.
    pub b: String,
    /// `call-id` or `uuid`.
    pub a_kind: String,
    /// `call-id` or `uuid`.
    pub b_kind: String,
    /// The rule: channel-sip, other-leg, call-uuid, uuid-as-callid, header,
    /// hep-correlation, log-uuid.
    pub rule: String,
}

/// One record, summarised, with enough to draw a ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordView {
    /// RFC 3339 UTC with microseconds.
    pub ts: String,
    /// µs since the epoch.
    pub ts_micros: TsMicros,
    /// `sip`, `esl` or `log`.
    pub kind: String,
    /// Node that saw it.
    pub node: String,
    /// Call-ID, when the record carries one.
    pub call_id: Option<String>,
    /// Channel UUID, when the record carries one.
    pub uuid: Option<String>,
    /// One line: `INVITE sip:…`, `180 Ringing`, `CHANNEL_ANSWER`, `[INFO] sofia.c:… text`.
    pub summary: String,
    /// SIP sender `ip:port`.
    pub src: Option<String>,
    /// SIP receiver `ip:port`.
    pub dst: Option<String>,
    /// SIP request method, or the CSeq method of a response.
    pub method: Option<String>,
    /// SIP status code of a response.
    pub status: Option<u16>,
    /// The full text: the SIP message, the event headers, the log lines.
    pub text: String,
}

/// `GET /api/v1/calls`: one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallView {
    /// The call key.
    pub call: String,
    /// Start (RFC 3339).
    pub start: Option<String>,
    /// End (RFC 3339), if ended.
    pub end: Option<String>,
    /// µs since the epoch of the start.
    pub start_micros: TsMicros,
    /// Calling number.
    pub from: Option<String>,
    /// Called number.
    pub to: Option<String>,
    /// Outcome.
    pub outcome: String,
    /// Nodes involved.
    pub nodes: Vec<String>,
    /// Number of legs.
    pub legs: usize,
}

/// `GET /api/v1/calls` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallsResponse {
    /// Newest first.
    pub calls: Vec<CallView>,
}

/// `GET /api/v1/search` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResponse {
    /// Every matching record in the index, beyond the ones returned.
    pub total: u64,
    /// The newest matching records, newest first.
    pub records: Vec<RecordView>,
}

/// The JSON error body of every 4xx/5xx.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
}

/// RFC 3339 UTC with microseconds.
pub fn rfc3339(micros: TsMicros) -> String {
    match jiff::Timestamp::from_microsecond(micros) {
        Ok(ts) => format!("{ts:.6}"),
        Err(_) => micros.to_string(),
    }
}

fn ident_parts(i: &Ident) -> (String, String) {
    match i {
        Ident::Call(c) => (c.as_str().to_owned(), "call-id".to_owned()),
        Ident::Channel(u) => (u.as_str().to_owned(), "uuid".to_owned()),
    }
}

impl LinkView {
    /// A link between two identifiers by the named rule.
    pub fn new(a: &Ident, b: &Ident, rule: &str) -> Self {
        let (a, a_kind) = ident_parts(a);
        let (b, b_kind) = ident_parts(b);
        Self {
            a,
            b,
            a_kind,
            b_kind,
            rule: rule.to_owned(),
        }
    }
}

impl From<&Link> for LinkView {
    fn from(l: &Link) -> Self {
        Self::new(&l.a, &l.b, l.rule.as_str())
    }
}

impl From<&LegSummary> for LegView {
    fn from(l: &LegSummary) -> Self {
        Self {
            call_id: l.call_id.as_ref().map(|c| c.as_str().to_owned()),
            uuid: l.uuid.as_ref().map(|u| u.as_str().to_owned()),
            role: l.role.map(|r| match r {
                Role::A => "A".to_owned(),
                Role::B => "B".to_owned(),
            }),
            node: l.node.clone(),
            from: l.from.clone(),
            to: l.to.clone(),
            start: Some(rfc3339(l.first_seen)),
            ringing: l.ringing.map(rfc3339),
            answer: l.answered.map(rfc3339),
            end: l.ended.map(rfc3339),
            status: l.sip_status,
            hangup_cause: l.hangup_cause.clone(),
            pdd_ms: l.post_dial_delay_micros.map(|m| m as f64 / 1000.0),
            duration_ms: l.duration_micros.map(|m| m as f64 / 1000.0),
            outcome: l.outcome.as_str().to_owned(),
            mos: l.quality.and_then(|q| q.mos),
            start_micros: l.first_seen,
            answer_micros: l.answered,
            end_micros: l.ended,
        }
    }
}

/// Legs in display order: A-legs first, then B, then unknown; then by first seen.
pub fn legs_view(summary: &CallSummary) -> Vec<LegView> {
    let mut legs: Vec<&LegSummary> = summary.legs.iter().collect();
    legs.sort_by_key(|l| {
        let role = match l.role {
            Some(Role::A) => 0,
            Some(Role::B) => 1,
            None => 2,
        };
        (role, l.first_seen)
    });
    legs.into_iter().map(LegView::from).collect()
}

impl From<&Record> for RecordView {
    fn from(r: &Record) -> Self {
        let mut v = RecordView {
            ts: rfc3339(r.ts_micros),
            ts_micros: r.ts_micros,
            kind: r.source().to_owned(),
            node: r.node.to_string(),
            call_id: None,
            uuid: None,
            summary: String::new(),
            src: None,
            dst: None,
            method: None,
            status: None,
            text: String::new(),
        };
        match &r.kind {
            RecordKind::Sip(s) => {
                v.call_id = Some(s.call_id.as_str().to_owned());
                v.src = Some(s.src.to_string());
                v.dst = Some(s.dst.to_string());
                v.method = s.cseq_method().map(str::to_owned);
                v.status = s.status;
                v.summary = match (&s.method, s.status) {
                    (Some(m), _) => match &s.request_uri {
                        Some(uri) => format!("{m} {uri}"),
                        None => m.to_string(),
                    },
                    (None, Some(code)) => {
                        let reason = s.reason.as_deref().unwrap_or_default();
                        match s.cseq_method() {
                            Some(m) => format!("{code} {reason} ({m})"),
                            None => format!("{code} {reason}"),
                        }
                    }
                    (None, None) => "SIP".to_owned(),
                };
                v.text = s.raw.to_string();
            }
            RecordKind::Channel(c) => {
                v.call_id = c.sip_call_id.as_ref().map(|x| x.as_str().to_owned());
                v.uuid = c.unique_id.as_ref().map(|x| x.as_str().to_owned());
                let mut summary = c.event_name.clone();
                if let Some(sub) = &c.event_subclass {
                    summary.push_str(&format!(" {sub}"));
                }
                if let Some(cause) = &c.hangup_cause
                    && c.event_name.starts_with("CHANNEL_HANGUP")
                {
                    summary.push_str(&format!(" {cause}"));
                }
                if let Some(state) = &c.answer_state {
                    summary.push_str(&format!(" [{state}]"));
                }
                v.summary = summary;
                v.text = c
                    .headers
                    .iter()
                    .map(|(k, val)| format!("{k}: {val}"))
                    .collect::<Vec<_>>()
                    .join("\n");
            }
            RecordKind::Log(l) => {
                v.uuid = l.uuid.as_ref().map(|x| x.as_str().to_owned());
                v.call_id = l.call_id_hint.as_ref().map(|x| x.as_str().to_owned());
                let first = l.text.lines().next().unwrap_or_default();
                let mut summary = String::new();
                if let Some(level) = l.level {
                    summary.push_str(&format!("[{}] ", level.as_str()));
                }
                if let (Some(f), Some(n)) = (&l.file, l.line) {
                    summary.push_str(&format!("{f}:{n} "));
                }
                summary.push_str(first);
                v.summary = summary;
                v.text = l.text.to_string();
            }
        }
        v
    }
}

/// A call rebuilt from its records: the records are replayed through a fresh
/// correlator (deterministic: the answer does not depend on arrival order or on
/// what an agent still holds in memory), legs and outcome come from its summary,
/// links are the stored ones plus the ones the replay found. Used by the agent's
/// trace endpoint (records from the index) and by `trace --loki` (records read
/// back from Loki). `records` must be in time order; `page` describes which of
/// them the response carries (`page_records`).
pub fn trace_from_records(
    id: &str,
    records: &[Record],
    stored_links: Vec<LinkView>,
    fallback_key: Option<&str>,
    extra_ids: &[Ident],
    page_records: Vec<RecordView>,
    page: Page,
) -> TraceResponse {
    let mut correlator = Correlator::new(CorrelatorConfig {
        max_active_calls: 1024,
        max_idents_per_call: 4096,
        ..CorrelatorConfig::default()
    });
    for r in records {
        correlator.ingest(r, r.ts_micros);
    }
    let summary = [
        Ident::Call(CallId::from(id)),
        Ident::Channel(ChannelUuid::from(id)),
    ]
    .iter()
    .chain(extra_ids)
    .find_map(|i| correlator.call_for(i));

    let mut links = stored_links;
    let mut legs = Vec::new();
    let mut call = fallback_key.unwrap_or(id).to_owned();
    let mut outcome = "in-progress".to_owned();
    if let Some(s) = &summary {
        call = s.key.as_str().to_owned();
        outcome = s.outcome.as_str().to_owned();
        legs = legs_view(s);
        links.extend(s.links.iter().map(LinkView::from));
    }
    let mut seen = BTreeSet::new();
    links.retain(|l| {
        let a = (l.a_kind.clone(), l.a.clone());
        let b = (l.b_kind.clone(), l.b.clone());
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        seen.insert((lo, hi, l.rule.clone()))
    });
    TraceResponse {
        call,
        outcome,
        start: records.first().map(|r| rfc3339(r.ts_micros)),
        legs,
        links,
        records: page_records,
        page,
    }
}
