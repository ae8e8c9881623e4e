//! The agent's HTTP surface: `/metrics`, `/healthz`, `/readyz`, and the API
//! (`/api/v1/trace/{id}`, `/api/v1/calls`).
//!
//! Index queries are blocking (tantivy) and run on the blocking pool. Errors are
//! JSON (`{"error": "..."}`) with a 4xx status for the caller's mistakes; internal
//! details are logged, not returned.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use callweave_core::record::TsMicros;
use callweave_store::{CallFilter, RecordSearch, StoreError, StoreReader, TraceOptions};
use prometheus_client::registry::Registry;
use serde::Deserialize;

use crate::api::{
    CallView, CallsResponse, ErrorBody, LinkView, Page, RecordView, SearchResponse, TraceResponse,
    rfc3339, trace_from_records,
};

/// Records per trace page unless asked otherwise.
pub const DEFAULT_TRACE_LIMIT: usize = 1000;
/// Largest trace page.
pub const MAX_TRACE_LIMIT: usize = 10_000;
/// Records replayed to rebuild a call's legs (a flood of OPTIONS on one Call-ID
/// must not make a trace unusable).
const LEG_RECORDS: usize = 10_000;
/// Largest calls page.
pub const MAX_CALLS_LIMIT: usize = 1000;
/// Largest `limit` of `/api/v1/search`.
pub const MAX_SEARCH_LIMIT: usize = 1000;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct HttpState {
    /// Metrics registry rendered by `/metrics`.
    pub registry: Arc<Registry>,
    /// Set once every listener is bound and the pipeline runs.
    pub ready: Arc<AtomicBool>,
    /// Index queries.
    pub store: StoreReader,
    /// Bearer token required by `/api/...`, if any.
    pub token: Option<String>,
    /// Durations of the queries answered.
    pub query_seconds: crate::metrics::QueryHistograms,
}

impl std::fmt::Debug for HttpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpState")
            .field("ready", &self.ready.load(Ordering::Relaxed))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Builds the router; tested end to end through a bound agent.
pub fn router(state: HttpState) -> Router {
    let api = Router::new()
        .route("/api/v1/trace/{id}", get(trace))
        .route("/api/v1/calls", get(calls))
        .route("/api/v1/search", get(search))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .merge(api)
        .fallback(|| async { ApiError::NotFound("no such endpoint".to_owned()) })
        .with_state(state)
}

/// An API failure, mapped to a status code and a JSON body.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the request is wrong.
    BadRequest(String),
    /// 401: missing or wrong token.
    Unauthorized,
    /// 404: nothing found.
    NotFound(String),
    /// 500: logged, reported without details.
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token".to_owned(),
            ),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "API request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error (see the agent log)".to_owned(),
                )
            }
        };
        (status, Json(ErrorBody { error: message })).into_response()
    }
}

async fn require_token(State(state): State<HttpState>, req: Request, next: Next) -> Response {
    if let Some(token) = &state.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn metrics(State(state): State<HttpState>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => ApiError::Internal(format!("cannot encode metrics: {e}")).into_response(),
    }
}

async fn readyz(State(state): State<HttpState>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        "ready\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response()
    }
}

/// `?offset=&limit=` of a trace.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceParams {
    offset: Option<usize>,
    limit: Option<usize>,
}

async fn trace(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    params: Result<Query<TraceParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<TraceResponse>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let id = id.trim().to_owned();
    if id.is_empty() || id.len() > 1024 {
        return Err(ApiError::BadRequest(
            "id must be a Call-ID, channel UUID or correlation id (1 to 1024 bytes)".to_owned(),
        ));
    }
    let limit = params.limit.unwrap_or(DEFAULT_TRACE_LIMIT);
    if limit == 0 || limit > MAX_TRACE_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_TRACE_LIMIT}"
        )));
    }
    let offset = params.offset.unwrap_or(0);
    let reader = state.store.clone();
    run_query(&state.query_seconds, "trace", move || {
        build_trace(&reader, &id, offset, limit)
    })
    .await?
}

/// Runs a blocking index query from a handler.
///
/// On the agent's API runtime (multi-threaded, its own threads) the query runs
/// in place, on the thread that read the request: handing it to the blocking
/// pool meant waking another thread, which under ingest load waited up to a few
/// milliseconds for a CPU. Elsewhere (a current-thread runtime, as in some
/// tests) it goes to the blocking pool. Its duration is observed in
/// `callweave_api_query_seconds{query}`.
async fn run_query<T, F>(
    seconds: &crate::metrics::QueryHistograms,
    query: &'static str,
    f: F,
) -> Result<T, ApiError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let started = std::time::Instant::now();
    let out = match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => Ok(tokio::task::block_in_place(f)),
        _ => tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| ApiError::Internal(e.to_string())),
    };
    seconds
        .get_or_create(&crate::metrics::QueryLabel { query })
        .observe(started.elapsed().as_secs_f64());
    out
}

/// Assembles a trace: the component from the index, its legs rebuilt from its
/// records ([`trace_from_records`]), and one page of records.
pub fn build_trace(
    reader: &StoreReader,
    id: &str,
    offset: usize,
    limit: usize,
) -> Result<Json<TraceResponse>, ApiError> {
    let head = reader
        .trace(
            id,
            TraceOptions {
                limit: LEG_RECORDS,
                offset: 0,
                ..TraceOptions::default()
            },
        )
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| ApiError::NotFound(format!("no call found for {id:?}")))?;

    let links: Vec<LinkView> = head
        .links
        .iter()
        .map(|l| LinkView::new(&l.a, &l.b, &l.rule))
        .collect();
    let total = usize::try_from(head.total_records).unwrap_or(usize::MAX);
    let records: Vec<RecordView> =
        if offset.saturating_add(limit) <= head.records.len() || head.records.len() >= total {
            head.records
                .iter()
                .skip(offset)
                .take(limit)
                .map(RecordView::from)
                .collect()
        } else {
            reader
                .trace(
                    id,
                    TraceOptions {
                        limit,
                        offset,
                        ..TraceOptions::default()
                    },
                )
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .map(|t| t.records.iter().map(RecordView::from).collect())
                .unwrap_or_default()
        };
    Ok(Json(trace_from_records(
        id,
        &head.records,
        links,
        head.call_keys.first().map(String::as_str),
        &head.ids,
        records,
        Page {
            offset,
            limit,
            total,
        },
    )))
}

/// `GET /api/v1/calls` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsParams {
    number: Option<String>,
    since: Option<String>,
    until: Option<String>,
    status: Option<String>,
    node: Option<String>,
    limit: Option<usize>,
}

const OUTCOMES: &[&str] = &[
    "answered",
    "busy",
    "no-answer",
    "cancelled",
    "failed",
    "in-progress",
];

async fn calls(
    State(state): State<HttpState>,
    params: Result<Query<CallsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CallsResponse>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = p.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_CALLS_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_CALLS_LIMIT}"
        )));
    }
    let (since, until) = time_range(p.since.as_deref(), p.until.as_deref())?;
    if let Some(s) = &p.status
        && !OUTCOMES.contains(&s.as_str())
    {
        return Err(ApiError::BadRequest(format!(
            "status must be one of {}",
            OUTCOMES.join(", ")
        )));
    }
    let filter = CallFilter {
        number: p.number.filter(|n| !n.is_empty()),
        since,
        until,
        outcome: p.status,
        node: p.node.filter(|n| !n.is_empty()),
        limit,
    };
    let reader = state.store.clone();
    let docs = run_query(&state.query_seconds, "calls", move || reader.calls(&filter))
        .await?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(CallsResponse {
        calls: docs
            .into_iter()
            .map(|d| CallView {
                call: d.call_key,
                start: Some(rfc3339(d.start_micros)),
                end: d.end_micros.map(rfc3339),
                start_micros: d.start_micros,
                from: d.from,
                to: d.to,
                outcome: d.outcome,
                nodes: d.nodes,
                legs: d.legs as usize,
            })
            .collect(),
    }))
}

/// `since` and `until` query parameters, each RFC 3339 or µs since the epoch,
/// in order.
fn time_range(
    since: Option<&str>,
    until: Option<&str>,
) -> Result<(Option<TsMicros>, Option<TsMicros>), ApiError> {
    let since = since.map(|s| parse_time("since", s)).transpose()?;
    let until = until.map(|s| parse_time("until", s)).transpose()?;
    if let (Some(a), Some(b)) = (since, until)
        && a > b
    {
        return Err(ApiError::BadRequest("since is after until".to_owned()));
    }
    Ok((since, until))
}

/// `GET /api/v1/search` query parameters.
#[derive(Debug, Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<usize>,
}

/// Records matching a query (tantivy syntax, see [`RecordSearch`]), newest first.
async fn search(
    State(state): State<HttpState>,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let query = p.q.unwrap_or_default();
    if query.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "q is required: words of the records, or fields such as method:INVITE status:486"
                .to_owned(),
        ));
    }
    let limit = p.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_SEARCH_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_SEARCH_LIMIT}"
        )));
    }
    let (since, until) = time_range(p.since.as_deref(), p.until.as_deref())?;
    let search = RecordSearch {
        query,
        since,
        until,
        limit,
    };
    let reader = state.store.clone();
    let hits = run_query(&state.query_seconds, "search", move || {
        reader.search(&search)
    })
    .await?
    .map_err(|e| match e {
        StoreError::Query { reason } => ApiError::BadRequest(format!("q: {reason}")),
        other => ApiError::Internal(other.to_string()),
    })?;
    Ok(Json(SearchResponse {
        total: hits.total,
        records: hits.records.iter().map(RecordView::from).collect(),
    }))
}

/// RFC 3339, or µs since the epoch.
fn parse_time(name: &str, s: &str) -> Result<TsMicros, ApiError> {
    if let Ok(micros) = s.parse::<i64>() {
        if !(0..=253_402_300_799_000_000).contains(&micros) {
            return Err(ApiError::BadRequest(format!("{name}: {s} is out of range")));
        }
        return Ok(micros);
    }
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_microsecond())
        .map_err(|e| {
            ApiError::BadRequest(format!(
                "{name}: {s:?} is neither RFC 3339 nor microseconds since the epoch ({e})"
            ))
        })
}
