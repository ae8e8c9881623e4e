//! Reading a trace back from Loki (`callweave trace --loki URL`): LogQL range
//! queries over structured metadata, paginated, expanding identifiers until no new
//! ones appear.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use callweave_core::record::{
    CSeq, CallId, ChannelRecord, ChannelUuid, Direction, LogLevel, LogRecord, Quality, Record,
    RecordKind, SipRecord, Transport,
};
use reqwest::Url;
use reqwest::header::HeaderValue;
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};

use crate::entry::{JOB, meta, push_quoted};
use crate::error::{Error, WireErrorKind};
use crate::http::{Auth, QUERY_RANGE_PATH, client, endpoint, redacted};

/// Loki's default `max_entries_limit_per_query`: the widest page asked for.
pub const MAX_PAGE_LIMIT: u32 = 5000;

/// The header that makes Loki return structured metadata apart from stream labels.
pub const ENCODING_FLAGS_HEADER: &str = "X-Loki-Response-Encoding-Flags";

/// Stream labels callweave writes (and the one Loki adds); everything else in a
/// flattened response is structured metadata.
const INDEX_LABELS: [&str; 4] = ["job", "node", "source", "service_name"];

/// One line read back from Loki.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LokiEntry {
    /// Nanoseconds since the epoch.
    pub ts_nanos: i64,
    /// Stream labels (`job`, `node`, `source`, and what Loki added).
    pub labels: BTreeMap<String, String>,
    /// Structured metadata (`call_id`, `uuid`, …).
    pub structured_metadata: BTreeMap<String, String>,
    /// The line.
    pub line: String,
}

impl LokiEntry {
    /// The `node` label.
    pub fn node(&self) -> Option<&str> {
        self.labels.get("node").map(String::as_str)
    }

    /// The `source` label (`sip`, `esl`, `log`).
    pub fn source(&self) -> Option<&str> {
        self.labels.get("source").map(String::as_str)
    }

    /// A structured-metadata value.
    pub fn metadata(&self, name: &str) -> Option<&str> {
        self.structured_metadata.get(name).map(String::as_str)
    }

    /// The identifier values this entry carries (call_id, uuid, other_leg_uuid,
    /// call, correlation), non-empty.
    pub fn identifiers(&self) -> impl Iterator<Item = &str> {
        meta::IDENTIFIERS
            .iter()
            .filter_map(|k| self.metadata(k))
            .filter(|v| !v.is_empty())
    }

    /// Rebuilds a [`Record`] where the line and metadata allow it.
    ///
    /// - `esl`: the line is the event's headers as JSON; the typed fields are
    ///   filled from them.
    /// - `log`: text, level, uuid, call-id hint and peer uuid.
    /// - `sip`: addresses, transport, Call-ID, method/status, CSeq and the raw
    ///   message; the other fields need a SIP parser (re-parse `raw` for them).
    ///
    /// `None` when the source is unknown or the entry lacks what the record needs
    /// (a SIP entry without `src`/`dst`, an ESL line that is not a JSON object).
    pub fn to_record(&self) -> Option<Record> {
        let ts_micros = self.ts_nanos.div_euclid(1000);
        let node: Arc<str> = Arc::from(self.node().unwrap_or(""));
        let kind = match self.source()? {
            "sip" => RecordKind::Sip(self.sip_record()?),
            "esl" => RecordKind::Channel(channel_from_headers(parse_ordered_object(&self.line)?)),
            "log" => RecordKind::Log(self.log_record()),
            _ => return None,
        };
        Some(Record {
            ts_micros,
            node,
            kind,
        })
    }

    fn sip_record(&self) -> Option<SipRecord> {
        let src: SocketAddr = self.metadata(meta::SRC)?.parse().ok()?;
        let dst: SocketAddr = self.metadata(meta::DST)?.parse().ok()?;
        let transport = match self.metadata(meta::TRANSPORT).unwrap_or("udp") {
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            "sctp" => Transport::Sctp,
            "ws" => Transport::Ws,
            "wss" => Transport::Wss,
            other => other
                .strip_prefix("proto-")
                .and_then(|p| p.parse().ok())
                .map_or(Transport::Udp, Transport::Other),
        };
        let call_id = CallId::from(self.metadata(meta::CALL_ID).unwrap_or(""));
        let mut s = SipRecord::new(src, dst, transport, call_id);
        let first = self.line.lines().next().unwrap_or("");
        let mut words = first.split_ascii_whitespace();
        if first.starts_with("SIP/2.0") {
            let _version = words.next();
            s.status = words
                .next()
                .and_then(|c| c.parse().ok())
                .or_else(|| self.metadata(meta::STATUS).and_then(|c| c.parse().ok()));
            let reason: Vec<&str> = words.collect();
            if !reason.is_empty() {
                s.reason = Some(reason.join(" ").into());
            }
        } else {
            s.method = words.next().map(Into::into);
            s.request_uri = words.next().map(Into::into);
        }
        s.cseq = self.metadata(meta::CSEQ).and_then(|c| {
            let (n, m) = c.split_once(' ')?;
            Some(CSeq {
                seq: n.parse().ok()?,
                method: m.into(),
            })
        });
        s.correlation = self.metadata(meta::CORRELATION).map(CallId::from);
        s.raw = Arc::from(self.line.as_str());
        Some(s)
    }

    fn log_record(&self) -> LogRecord {
        let mut l = LogRecord::new(self.line.as_str());
        l.level = self.metadata(meta::LEVEL).and_then(LogLevel::parse);
        l.uuid = self.metadata(meta::UUID).map(ChannelUuid::from);
        l.call_id_hint = self.metadata(meta::CALL_ID).map(CallId::from);
        l.peer_uuid = self.metadata(meta::OTHER_LEG_UUID).map(ChannelUuid::from);
        l
    }
}

/// A JSON object's members in document order, values as strings.
fn parse_ordered_object(s: &str) -> Option<Vec<(String, String)>> {
    struct Ordered(Vec<(String, String)>);
    impl<'de> Deserialize<'de> for Ordered {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Ordered;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = m.next_entry::<String, serde_json::Value>()? {
                        let v = match v {
                            serde_json::Value::String(s) => s,
                            serde_json::Value::Null => String::new(),
                            other => other.to_string(),
                        };
                        out.push((k, v));
                    }
                    Ok(Ordered(out))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Ordered>(s).ok().map(|o| o.0)
}

fn channel_from_headers(headers: Vec<(String, String)>) -> ChannelRecord {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let uuid = |name: &str| get(name).map(ChannelUuid::from);
    let float = |name: &str| get(name).and_then(|v| v.parse::<f64>().ok());
    ChannelRecord {
        event_name: get("Event-Name").unwrap_or("").to_owned(),
        event_subclass: get("Event-Subclass").map(str::to_owned),
        sequence: get("Event-Sequence").and_then(|v| v.parse().ok()),
        unique_id: uuid("Unique-ID"),
        other_leg_unique_id: uuid("Other-Leg-Unique-ID"),
        channel_call_uuid: uuid("Channel-Call-UUID"),
        bridge_a: uuid("Bridge-A-Unique-ID"),
        bridge_b: uuid("Bridge-B-Unique-ID"),
        sip_call_id: get("variable_sip_call_id").map(CallId::from),
        direction: get("Call-Direction").and_then(Direction::parse),
        channel_name: get("Channel-Name").map(str::to_owned),
        caller_number: get("Caller-Caller-ID-Number").map(str::to_owned),
        destination_number: get("Caller-Destination-Number").map(str::to_owned),
        answer_state: get("Answer-State").map(str::to_owned),
        hangup_cause: get("Hangup-Cause")
            .or_else(|| get("variable_hangup_cause"))
            .map(str::to_owned),
        sip_term_status: get("variable_sip_term_status").and_then(|v| v.parse().ok()),
        quality: Quality {
            mos: float("variable_rtp_audio_in_mos"),
            jitter_min_variance: float("variable_rtp_audio_in_jitter_min_variance"),
            jitter_max_variance: float("variable_rtp_audio_in_jitter_max_variance"),
            loss_rate: float("variable_rtp_audio_in_jitter_loss_rate"),
            r_factor: float("variable_rtp_audio_in_quality_percentage"),
        },
        core_uuid: get("Core-UUID").map(str::to_owned),
        hostname: get("FreeSWITCH-Hostname").map(str::to_owned),
        headers: headers.into(),
    }
}

/// The LogQL that finds every line mentioning `id` in any identifier field, on
/// every node: `{job="callweave"} | call_id="ID" or uuid="ID" or …`.
///
/// Structured metadata is matched with a label filter stage: a stream selector
/// (`{call_id="…"}`) would match nothing (PROTOCOLS.md §6).
pub fn trace_query(id: &str) -> String {
    let mut q = String::with_capacity(64 + 6 * (id.len() + 20));
    q.push_str("{job=\"");
    q.push_str(JOB);
    q.push_str("\"} | ");
    for (i, field) in meta::IDENTIFIERS.iter().enumerate() {
        if i > 0 {
            q.push_str(" or ");
        }
        q.push_str(field);
        q.push('=');
        push_quoted(&mut q, id);
    }
    q
}

#[derive(Deserialize)]
struct Resp {
    status: String,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    #[serde(default)]
    result: Vec<StreamResult>,
}

#[derive(Deserialize)]
struct StreamResult {
    #[serde(default)]
    stream: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<Vec<serde_json::Value>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Categories {
    #[serde(default)]
    structured_metadata: BTreeMap<String, String>,
}

fn json_offset(input: &[u8], e: &serde_json::Error) -> usize {
    // serde_json reports 1-based line and column; turn them into a byte offset.
    let mut line = 1;
    let mut line_start = 0;
    for (i, b) in input.iter().enumerate() {
        if line == e.line() {
            break;
        }
        if *b == b'\n' {
            line += 1;
            line_start = i + 1;
        }
    }
    (line_start + e.column().saturating_sub(1)).min(input.len())
}

fn shape(reason: impl Into<String>) -> Error {
    Error::Wire {
        kind: WireErrorKind::Shape,
        offset: 0,
        reason: reason.into(),
    }
}

/// Parses a `query_range` response of stream results, in either encoding:
/// categorized (`[ns, line, {"structuredMetadata": {…}}]`, stream = index labels
/// only) or flattened (metadata merged into the stream labels).
pub fn parse_query_response(body: &[u8]) -> Result<Vec<LokiEntry>, Error> {
    let resp: Resp = serde_json::from_slice(body).map_err(|e| Error::Wire {
        kind: WireErrorKind::Json,
        offset: json_offset(body, &e),
        reason: e.to_string(),
    })?;
    if resp.status != "success" {
        return Err(shape(format!("status {:?}", resp.status)));
    }
    let data = resp.data.ok_or_else(|| shape("no data"))?;
    if data.result_type != "streams" {
        return Err(shape(format!(
            "result type {:?}, not streams",
            data.result_type
        )));
    }
    let mut out = Vec::new();
    for stream in data.result {
        let mut labels = BTreeMap::new();
        let mut flat_meta = BTreeMap::new();
        for (k, v) in stream.stream {
            if INDEX_LABELS.contains(&k.as_str()) || !meta::ALL.contains(&k.as_str()) {
                labels.insert(k, v);
            } else {
                flat_meta.insert(k, v);
            }
        }
        for value in stream.values {
            let mut it = value.into_iter();
            let ts_nanos = match it.next() {
                Some(serde_json::Value::String(s)) => s
                    .parse::<i64>()
                    .map_err(|_| shape(format!("timestamp {s:?} is not ns")))?,
                _ => return Err(shape("value without a string timestamp")),
            };
            let line = match it.next() {
                Some(serde_json::Value::String(s)) => s,
                _ => return Err(shape("value without a string line")),
            };
            let mut structured_metadata = flat_meta.clone();
            if let Some(cat) = it.next() {
                let cat: Categories = serde_json::from_value(cat)
                    .map_err(|e| shape(format!("bad categories object: {e}")))?;
                structured_metadata.extend(cat.structured_metadata);
            }
            out.push(LokiEntry {
                ts_nanos,
                labels: labels.clone(),
                structured_metadata,
                line,
            });
        }
    }
    Ok(out)
}

/// Configuration of the query client.
#[derive(Clone)]
pub struct QueryConfig {
    /// Loki base URL (the same forms as the push URL).
    pub base_url: String,
    /// Tenant, sent as `X-Scope-OrgID` when non-empty.
    pub tenant: Option<String>,
    /// Authentication.
    pub auth: Auth,
    /// Timeout of one request (default 30 s).
    pub timeout: Duration,
    /// `limit` per request; a full page continues from its last timestamp
    /// (default 1000).
    pub page_limit: u32,
    /// Most identifiers followed (default 64): a runaway expansion stops there.
    pub max_ids: usize,
    /// Most entries returned (default 100 000).
    pub max_entries: usize,
    /// Most pages per identifier (default 100).
    pub max_pages: usize,
}

impl QueryConfig {
    /// Defaults for everything but the URL.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            tenant: None,
            auth: Auth::None,
            timeout: Duration::from_secs(30),
            page_limit: 1000,
            max_ids: 64,
            max_entries: 100_000,
            max_pages: 100,
        }
    }
}

impl fmt::Debug for QueryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = Url::parse(&self.base_url)
            .map(|u| redacted(&u))
            .unwrap_or_else(|_| "<unparsable>".into());
        f.debug_struct("QueryConfig")
            .field("base_url", &url)
            .field("tenant", &self.tenant)
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("page_limit", &self.page_limit)
            .field("max_ids", &self.max_ids)
            .field("max_entries", &self.max_entries)
            .field("max_pages", &self.max_pages)
            .finish()
    }
}

/// A trace read from Loki.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LokiTrace {
    /// Every entry found, by time (then node, then line).
    pub entries: Vec<LokiEntry>,
    /// Every identifier followed, the asked one first.
    pub identifiers: Vec<String>,
    /// True when a bound (`max_ids`, `max_entries`, `max_pages`) cut the search short.
    pub truncated: bool,
}

/// A Loki query client.
pub struct QueryClient {
    cfg: QueryConfig,
    client: reqwest::Client,
    url: Url,
    tenant: Option<HeaderValue>,
}

impl fmt::Debug for QueryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryClient")
            .field("url", &redacted(&self.url))
            .field("tenant", &self.cfg.tenant)
            .finish_non_exhaustive()
    }
}

fn entry_key(e: &LokiEntry) -> (i64, u64) {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    e.labels.hash(&mut h);
    e.structured_metadata.hash(&mut h);
    e.line.hash(&mut h);
    (e.ts_nanos, h.finish())
}

impl QueryClient {
    /// Builds the client.
    pub fn new(cfg: QueryConfig) -> Result<Self, Error> {
        let url = endpoint(&cfg.base_url, QUERY_RANGE_PATH)?;
        let tenant = match cfg.tenant.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => Some(HeaderValue::from_str(t).map_err(|e| Error::Config {
                key: "tenant",
                reason: e.to_string(),
            })?),
            None => None,
        };
        if cfg.page_limit == 0 {
            return Err(Error::Config {
                key: "page_limit",
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            client: client(cfg.timeout)?,
            url,
            tenant,
            cfg,
        })
    }

    /// One `query_range` request, direction forward; `start` inclusive, `end`
    /// exclusive, both ns since the epoch.
    pub async fn query_range(
        &self,
        logql: &str,
        start_ns: i64,
        end_ns: i64,
        limit: u32,
    ) -> Result<Vec<LokiEntry>, Error> {
        let mut url = self.url.clone();
        url.query_pairs_mut()
            .append_pair("query", logql)
            .append_pair("start", &start_ns.to_string())
            .append_pair("end", &end_ns.to_string())
            .append_pair("limit", &limit.to_string())
            .append_pair("direction", "forward");
        let mut req = self
            .client
            .get(url)
            .header(ENCODING_FLAGS_HEADER, "categorize-labels");
        if let Some(t) = &self.tenant {
            req = req.header("X-Scope-OrgID", t.clone());
        }
        req = self.cfg.auth.apply(req);
        let resp = req.send().await.map_err(Error::http)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(Error::http)?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(body.get(..body.len().min(1024)).unwrap_or(&[]));
            return Err(Error::Status {
                status: status.as_u16(),
                body: text.trim().to_owned(),
            });
        }
        parse_query_response(&body)
    }

    /// Every entry a query matches in `[start, end)`, paging forward from the last
    /// timestamp of each full page. Entries already in `seen` are skipped.
    /// Returns the new entries and whether `max_pages` cut it short.
    async fn query_all(
        &self,
        logql: &str,
        start_ns: i64,
        end_ns: i64,
        seen: &mut HashSet<(i64, u64)>,
    ) -> Result<(Vec<LokiEntry>, bool), Error> {
        let mut limit = self.cfg.page_limit;
        let mut start = start_ns;
        let mut out = Vec::new();
        let mut cut = false;
        for _ in 0..self.cfg.max_pages {
            let page = self.query_range(logql, start, end_ns, limit).await?;
            let full = page.len() >= limit as usize;
            let mut last = start;
            let mut fresh = 0;
            for e in page {
                last = last.max(e.ts_nanos);
                if seen.insert(entry_key(&e)) {
                    out.push(e);
                    fresh += 1;
                }
            }
            if !full || out.len() >= self.cfg.max_entries {
                return Ok((out, cut));
            }
            if last == start && fresh == 0 {
                // More lines share this nanosecond than a page holds (ESL events
                // often share a timestamp): widen the page rather than skip them.
                if limit < MAX_PAGE_LIMIT {
                    limit = limit.saturating_mul(2).min(MAX_PAGE_LIMIT);
                    continue;
                }
                cut = true;
                start = start.saturating_add(1);
            } else {
                // Restart at the last timestamp (inclusive, so lines sharing it
                // are not skipped; `seen` drops the repeats).
                start = last;
                limit = self.cfg.page_limit;
            }
            if start >= end_ns {
                return Ok((out, cut));
            }
        }
        Ok((out, true))
    }

    /// Follows `id` and every identifier found next to it, across all nodes.
    pub async fn trace(&self, id: &str, start_ns: i64, end_ns: i64) -> Result<LokiTrace, Error> {
        let mut known: BTreeSet<String> = BTreeSet::new();
        let mut order = vec![id.to_owned()];
        known.insert(id.to_owned());
        let mut queue = VecDeque::from([id.to_owned()]);
        let mut seen = HashSet::new();
        let mut entries = Vec::new();
        let mut truncated = false;
        while let Some(next) = queue.pop_front() {
            let (found, cut) = self
                .query_all(&trace_query(&next), start_ns, end_ns, &mut seen)
                .await?;
            truncated |= cut;
            for e in found {
                for v in e.identifiers() {
                    if known.contains(v) {
                        continue;
                    }
                    if known.len() >= self.cfg.max_ids {
                        truncated = true;
                        continue;
                    }
                    known.insert(v.to_owned());
                    order.push(v.to_owned());
                    queue.push_back(v.to_owned());
                }
                entries.push(e);
            }
            if entries.len() >= self.cfg.max_entries {
                truncated |= !queue.is_empty() || entries.len() > self.cfg.max_entries;
                entries.truncate(self.cfg.max_entries);
                break;
            }
        }
        entries
            .sort_by(|a, b| (a.ts_nanos, a.node(), &a.line).cmp(&(b.ts_nanos, b.node(), &b.line)));
        Ok(LokiTrace {
            entries,
            identifiers: order,
            truncated,
        })
    }
}

/// Fetches every line of the call `id` (a Call-ID, channel UUID, correlation id
/// or call key) names, from every node, with default bounds. `start`/`end` are ns
/// since the epoch (`end` exclusive).
pub async fn fetch_trace(
    base_url: &str,
    tenant: Option<&str>,
    id: &str,
    start_ns: i64,
    end_ns: i64,
) -> Result<Vec<LokiEntry>, Error> {
    let mut cfg = QueryConfig::new(base_url);
    cfg.tenant = tenant.map(str::to_owned);
    let client = QueryClient::new(cfg)?;
    Ok(client.trace(id, start_ns, end_ns).await?.entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logql_escapes_values() {
        assert_eq!(
            trace_query("a\"b\\c"),
            r#"{job="callweave"} | call_id="a\"b\\c" or uuid="a\"b\\c" or other_leg_uuid="a\"b\\c" or call="a\"b\\c" or correlation="a\"b\\c""#
        );
    }

    #[test]
    fn both_encodings_parse_to_the_same_entry() {
        let categorized = br#"{"status":"success","data":{"resultType":"streams","encodingFlags":["categorize-labels"],
          "result":[{"stream":{"job":"callweave","node":"fs-1","source":"sip","service_name":"callweave"},
          "values":[["1795663470536204000","INVITE sip:1000@127.0.0.1:5090 SIP/2.0",{"structuredMetadata":{"call_id":"1-4274@127.0.0.1","method":"INVITE"}}]]}],
          "stats":{}}}"#;
        let flat = br#"{"status":"success","data":{"resultType":"streams",
          "result":[{"stream":{"job":"callweave","node":"fs-1","source":"sip","service_name":"callweave","call_id":"1-4274@127.0.0.1","method":"INVITE"},
          "values":[["1795663470536204000","INVITE sip:1000@127.0.0.1:5090 SIP/2.0"]]}]}}"#;
        let a = parse_query_response(categorized).unwrap();
        let b = parse_query_response(flat).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].metadata("call_id"), Some("1-4274@127.0.0.1"));
        assert_eq!(a[0].labels.get("node").map(String::as_str), Some("fs-1"));
        assert!(!a[0].labels.contains_key("call_id"));
        assert_eq!(a[0].ts_nanos, 1_795_663_470_536_204_000);
    }

    #[test]
    fn bad_responses_are_errors_with_offsets() {
        match parse_query_response(b"{\"status\":\"success\",\n \"data\": x}") {
            Err(Error::Wire { kind, offset, .. }) => {
                assert_eq!(kind, WireErrorKind::Json);
                assert_eq!(offset, 30);
            }
            other => panic!("{other:?}"),
        }
        let matrix = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(parse_query_response(matrix).is_err());
        let bad_ts = br#"{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"values":[[1,"x"]]}]}}"#;
        assert!(parse_query_response(bad_ts).is_err());
    }

    #[test]
    fn esl_line_back_to_channel_record() {
        let e = LokiEntry {
            ts_nanos: 1_795_663_470_521_047_000,
            labels: [("node", "fs-1"), ("source", "esl")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            structured_metadata: BTreeMap::new(),
            line: r#"{"Event-Name":"CHANNEL_BRIDGE","Unique-ID":"d9e73608-5048-4523-aded-4dc2c3f91498","Other-Leg-Unique-ID":"f059e147-6396-47f7-a85d-5c55f0c977bc","Call-Direction":"inbound","Event-Sequence":"480"}"#.into(),
        };
        let r = e.to_record().unwrap();
        assert_eq!(r.ts_micros, 1_795_663_470_521_047);
        let RecordKind::Channel(c) = r.kind else {
            panic!("not esl")
        };
        assert_eq!(c.event_name, "CHANNEL_BRIDGE");
        assert_eq!(
            c.other_leg_unique_id.unwrap().as_str(),
            "f059e147-6396-47f7-a85d-5c55f0c977bc"
        );
        assert_eq!(c.direction, Some(Direction::Inbound));
        assert_eq!(c.sequence, Some(480));
        assert_eq!(c.headers[0].0, "Event-Name");
        assert_eq!(c.headers.len(), 5);
    }
}
