//! An in-process **fake Loki** for the integration tests.
//!
//! Loki itself cannot be installed from the package registries this project can
//! reach, so the tests talk to this server instead. It speaks the exact wire
//! format a real Loki 3.7 speaks (PROTOCOLS.md §5–6): `POST /loki/api/v1/push`
//! bodies are snappy **block** decoded and parsed as `logproto.PushRequest` with
//! the upstream field numbers (uncompressed protobuf gets `400 snappy: corrupt
//! input`, a missing Content-Type `400 mime: no media type`, success is an empty
//! `204`), and `GET /loki/api/v1/query_range` answers from what was pushed, in the
//! `categorize-labels` encoding when asked (`[ns, line, {"structuredMetadata":…}]`)
//! or flattened otherwise, adding `service_name` like Loki does.
//!
//! It runs on a loopback ephemeral port and can answer 204 / 400 / 413 / 429 (with
//! or without Retry-After) / 5xx, hang past the client's timeout, or go away
//! entirely (listener and connections closed: connection refused) and come back
//! on the same port.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use callweave_loki::proto::EntryAdapter;
use callweave_loki::{PushRequest, decode_push_body};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// How the fake answers the next push.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 204, stored.
    NoContent,
    /// Any status; 400 is stored too (Loki's partial acceptance keeps the good lines).
    Status {
        code: u16,
        retry_after: Option<String>,
        body: String,
    },
    /// Sleep this long before answering 204 (not stored): the client times out first.
    Hang(Duration),
}

impl Reply {
    pub fn status(code: u16, body: &str) -> Self {
        Reply::Status {
            code,
            retry_after: None,
            body: body.into(),
        }
    }
    pub fn retry_after(code: u16, after: &str) -> Self {
        Reply::Status {
            code,
            retry_after: Some(after.into()),
            body: "Ingestion rate limit exceeded".into(),
        }
    }
}

/// One stored push.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub tenant: Option<String>,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    /// Uncompressed protobuf length.
    pub raw_len: usize,
    pub request: PushRequest,
}

/// One query seen.
#[derive(Debug, Clone)]
pub struct SeenQuery {
    pub params: BTreeMap<String, String>,
    pub encoding_flags: Option<String>,
    pub tenant: Option<String>,
}

#[derive(Default)]
struct State {
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
    pushes: Mutex<Vec<Received>>,
    attempts: Mutex<Vec<Instant>>,
    queries: Mutex<Vec<SeenQuery>>,
    ignore_encoding_flags: AtomicBool,
    served: AtomicUsize,
}

pub struct FakeLoki {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl FakeLoki {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let task = tokio::spawn(serve(listener, state.clone()));
        Self {
            addr,
            state,
            task: Mutex::new(Some(task)),
        }
    }

    /// A fake that is down from the start: its port refuses connections.
    pub async fn start_down() -> Self {
        let f = Self::start().await;
        f.stop();
        f
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Loki goes away: the listener and every open connection close.
    pub fn stop(&self) {
        if let Some(t) = self.task.lock().unwrap().take() {
            t.abort();
        }
    }

    /// Loki comes back on the same port.
    pub async fn restart(&self) {
        self.stop();
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("rebind {}: {e}", self.addr),
            }
        };
        *self.task.lock().unwrap() = Some(tokio::spawn(serve(listener, self.state.clone())));
    }

    /// Replies used, in order, before the default one.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    /// The reply once the script is used up (204 unless set).
    pub fn set_default(&self, reply: Reply) {
        *self.state.default.lock().unwrap() = Some(reply);
    }

    /// Answer queries flattened even when asked for categorized labels (older Loki).
    pub fn ignore_encoding_flags(&self, yes: bool) {
        self.state
            .ignore_encoding_flags
            .store(yes, Ordering::SeqCst);
    }

    pub fn pushes(&self) -> Vec<Received> {
        self.state.pushes.lock().unwrap().clone()
    }

    /// Push attempts that reached the handler.
    pub fn attempts(&self) -> Vec<Instant> {
        self.state.attempts.lock().unwrap().clone()
    }

    pub fn queries(&self) -> Vec<SeenQuery> {
        self.state.queries.lock().unwrap().clone()
    }

    /// Every stored entry with its stream selector, in arrival order.
    pub fn entries(&self) -> Vec<(String, EntryAdapter)> {
        self.pushes()
            .into_iter()
            .flat_map(|p| {
                p.request.streams.into_iter().flat_map(|s| {
                    let labels = s.labels;
                    s.entries.into_iter().map(move |e| (labels.clone(), e))
                })
            })
            .collect()
    }
}

impl Drop for FakeLoki {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(listener: TcpListener, state: Arc<State>) {
    // Connections live in this set: aborting the serve task drops it, which
    // aborts them, so "Loki went away" closes keep-alive connections too.
    let mut conns = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        while conns.try_join_next().is_some() {}
        let st = state.clone();
        conns.spawn(async move {
            let svc = service_fn(move |req| handle(req, st.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn respond(code: u16, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = StatusCode::from_u16(code).unwrap();
    r
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    state.served.fetch_add(1, Ordering::SeqCst);
    match (req.method().as_str(), req.uri().path()) {
        ("POST", "/loki/api/v1/push") => Ok(push(req, &state).await),
        ("GET", "/loki/api/v1/query_range") => Ok(query(req, &state)),
        _ => Ok(respond(404, "404 page not found\n")),
    }
}

async fn push(req: Request<Incoming>, state: &State) -> Response<Full<Bytes>> {
    let at = Instant::now();
    state.attempts.lock().unwrap().push(at);
    let tenant = header(&req, "x-scope-orgid");
    let authorization = header(&req, "authorization");
    let content_type = header(&req, "content-type");
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let reply = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| state.default.lock().unwrap().clone())
        .unwrap_or(Reply::NoContent);
    if let Reply::Hang(d) = reply {
        tokio::time::sleep(d).await;
        return respond(204, "");
    }
    if content_type.as_deref().unwrap_or("").is_empty() {
        return respond(400, "mime: no media type\n");
    }
    let request = match decode_push_body(&body) {
        Ok(r) => r,
        Err(_) => return respond(400, "snappy: corrupt input\n"),
    };
    let raw_len = snap::raw::decompress_len(&body).unwrap();
    let store = |state: &State| {
        state.pushes.lock().unwrap().push(Received {
            at,
            tenant: tenant.clone(),
            authorization: authorization.clone(),
            content_type: content_type.clone(),
            raw_len,
            request: request.clone(),
        })
    };
    match reply {
        Reply::NoContent => {
            store(state);
            respond(204, "")
        }
        Reply::Status {
            code,
            retry_after,
            body,
        } => {
            if code == 400 {
                store(state);
            }
            let mut r = respond(code, body);
            if let Some(ra) = retry_after {
                r.headers_mut().insert("retry-after", ra.parse().unwrap());
            }
            r
        }
        Reply::Hang(_) => unreachable!(),
    }
}

/// Go `strconv.Unquote` for the escapes LogQL strings use.
fn unquote(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    if chars.next()? != '"' {
        return None;
    }
    let mut out = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                c => out.push(c),
            },
            c => out.push(c),
        }
    }
}

fn skip_ws(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
        chars.next();
    }
}

fn ident(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut s = String::new();
    while let Some(c) = chars.peek().copied() {
        if c.is_ascii_alphanumeric() || c == '_' {
            s.push(c);
            chars.next();
        } else {
            break;
        }
    }
    s
}

/// `{k="v", …}` → pairs.
pub fn parse_selector(s: &str) -> Option<Vec<(String, String)>> {
    let mut chars = s.trim().chars().peekable();
    if chars.next()? != '{' {
        return None;
    }
    let mut out = Vec::new();
    loop {
        skip_ws(&mut chars);
        if chars.peek() == Some(&'}') {
            return Some(out);
        }
        let k = ident(&mut chars);
        if chars.next()? != '=' {
            return None;
        }
        out.push((k, unquote(&mut chars)?));
    }
}

type Pairs = Vec<(String, String)>;

/// The LogQL subset callweave sends: a selector, then `| k="v" or k2="v2" …`.
fn parse_logql(q: &str) -> Option<(Pairs, Pairs)> {
    let close = q.find('}')?;
    let selector = parse_selector(&q[..=close])?;
    let rest = q[close + 1..].trim();
    let mut filters = Vec::new();
    if let Some(rest) = rest.strip_prefix('|') {
        let mut chars = rest.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            let k = ident(&mut chars);
            if k == "or" {
                continue;
            }
            if k.is_empty() {
                break;
            }
            if chars.next()? != '=' {
                return None;
            }
            filters.push((k, unquote(&mut chars)?));
        }
    }
    Some((selector, filters))
}

fn query(req: Request<Incoming>, state: &State) -> Response<Full<Bytes>> {
    let uri = format!("http://x{}", req.uri());
    let url = reqwest::Url::parse(&uri).unwrap();
    let params: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let flags = header(&req, "x-loki-response-encoding-flags");
    state.queries.lock().unwrap().push(SeenQuery {
        params: params.clone(),
        encoding_flags: flags.clone(),
        tenant: header(&req, "x-scope-orgid"),
    });
    let Some((selector, filters)) = params.get("query").and_then(|q| parse_logql(q)) else {
        return respond(400, "parse error");
    };
    let start: i64 = params
        .get("start")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let end: i64 = params
        .get("end")
        .and_then(|s| s.parse().ok())
        .unwrap_or(i64::MAX);
    let limit: usize = params
        .get("limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let categorize = flags.as_deref() == Some("categorize-labels")
        && !state.ignore_encoding_flags.load(Ordering::SeqCst);

    // Everything pushed, as (labels, entry), like Loki's store.
    let mut rows: Vec<(BTreeMap<String, String>, EntryAdapter)> = Vec::new();
    for p in state.pushes.lock().unwrap().iter() {
        for s in &p.request.streams {
            let mut labels: BTreeMap<String, String> =
                parse_selector(&s.labels).unwrap().into_iter().collect();
            if let Some(job) = labels.get("job").cloned() {
                labels.insert("service_name".into(), job);
            }
            for e in &s.entries {
                rows.push((labels.clone(), e.clone()));
            }
        }
    }
    let mut hits: Vec<_> = rows
        .into_iter()
        .filter(|(labels, e)| {
            let ts = e.ts_nanos();
            ts >= start
                && ts < end
                && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
                && (filters.is_empty()
                    || filters
                        .iter()
                        .any(|(k, v)| e.metadata(k) == Some(v.as_str())))
        })
        .collect();
    hits.sort_by_key(|(_, e)| e.ts_nanos());
    hits.truncate(limit);

    let mut streams: BTreeMap<BTreeMap<String, String>, Vec<serde_json::Value>> = BTreeMap::new();
    for (mut labels, e) in hits {
        let md: BTreeMap<String, String> = e
            .structured_metadata
            .iter()
            .map(|p| (p.name_str().to_owned(), p.value_str().to_owned()))
            .collect();
        let ts = e.ts_nanos().to_string();
        let line = e.line_str();
        let value = if categorize {
            if md.is_empty() {
                serde_json::json!([ts, line])
            } else {
                serde_json::json!([ts, line, {"structuredMetadata": md}])
            }
        } else {
            labels.extend(md);
            serde_json::json!([ts, line])
        };
        streams.entry(labels).or_default().push(value);
    }
    let result: Vec<_> = streams
        .into_iter()
        .map(|(stream, values)| serde_json::json!({"stream": stream, "values": values}))
        .collect();
    let mut data = serde_json::json!({"resultType": "streams", "result": result, "stats": {}});
    if categorize {
        data["encodingFlags"] = serde_json::json!(["categorize-labels"]);
    }
    let body = serde_json::json!({"status": "success", "data": data}).to_string();
    let mut r = respond(200, body);
    r.headers_mut().insert(
        "content-type",
        "application/json; charset=UTF-8".parse().unwrap(),
    );
    r
}
