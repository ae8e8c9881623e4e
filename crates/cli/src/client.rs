//! A small client of the agent's HTTP API (`/api/v1/trace/{id}`, `/api/v1/calls`).
//!
//! It reuses the workspace's `reqwest` (already built for the Loki client) on a
//! current-thread tokio runtime, so the CLI carries one HTTP stack, not two.
//! Every failure becomes one line a person can act on: which URL could not be
//! reached and why, or what the agent said (`ErrorBody`).

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use callweave_agent::api::{CallsResponse, ErrorBody, SearchResponse, TraceResponse};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;

/// Default agent address (the agent's default `[http] listen`).
pub const DEFAULT_AGENT: &str = "http://127.0.0.1:9070";
/// Environment variable read for the bearer token when `--token-env` is not given.
pub const DEFAULT_TOKEN_ENV: &str = "CALLWEAVE_TOKEN";

/// Connection options shared by `trace` and `calls`.
#[derive(Debug, Clone, clap::Args)]
pub struct AgentArgs {
    /// The agent's HTTP address.
    #[arg(long, default_value = DEFAULT_AGENT, value_name = "URL")]
    pub agent: String,
    /// Environment variable holding the API bearer token (the agent's
    /// `[http] token_env`). Default: CALLWEAVE_TOKEN, when it is set.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Seconds to wait for the agent before giving up.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,
}

/// What `GET /api/v1/calls` is asked for (already validated by the caller).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallsQuery {
    /// Calling or called number.
    pub number: Option<String>,
    /// RFC 3339 lower bound of the call start.
    pub since: Option<String>,
    /// RFC 3339 upper bound of the call start.
    pub until: Option<String>,
    /// Outcome.
    pub status: Option<String>,
    /// Node name.
    pub node: Option<String>,
    /// Most calls returned.
    pub limit: Option<usize>,
}

/// `GET /api/v1/search` parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// The query (tantivy syntax).
    pub q: String,
    /// RFC 3339 lower bound of the record time.
    pub since: Option<String>,
    /// RFC 3339 upper bound of the record time.
    pub until: Option<String>,
    /// Most records returned.
    pub limit: Option<usize>,
}

/// A blocking client of one agent.
#[derive(Debug)]
pub struct AgentClient {
    base: Url,
    token: Option<String>,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl AgentClient {
    /// Parses the base URL and resolves the token; fails on a bad URL or a named
    /// token variable that is not set.
    pub fn new(args: &AgentArgs) -> anyhow::Result<Self> {
        let base = parse_base(&args.agent)?;
        let token = resolve_token(args.token_env.as_deref(), |k| std::env::var(k).ok())?;
        ensure_crypto_provider();
        let timeout = Duration::from_secs(args.timeout.max(1));
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("callweave/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(Self {
            base,
            token,
            http,
            runtime,
        })
    }

    /// One page of a trace. `Ok(None)` when the agent knows no call for `id`.
    pub fn trace_page(
        &self,
        id: &str,
        offset: usize,
        limit: usize,
    ) -> anyhow::Result<Option<TraceResponse>> {
        let mut url = trace_url(&self.base, id)?;
        url.query_pairs_mut()
            .append_pair("offset", &offset.to_string())
            .append_pair("limit", &limit.to_string());
        self.get_json(url)
    }

    /// `GET /api/v1/calls`.
    pub fn calls(&self, q: &CallsQuery) -> anyhow::Result<CallsResponse> {
        let url = calls_url(&self.base, q)?;
        self.get_json(url)?
            .ok_or_else(|| anyhow!("the agent at {} has no /api/v1/calls endpoint", self.base))
    }

    /// `GET /api/v1/search`.
    pub fn search(&self, q: &SearchQuery) -> anyhow::Result<SearchResponse> {
        let url = search_url(&self.base, q)?;
        self.get_json(url)?
            .ok_or_else(|| anyhow!("the agent at {} has no /api/v1/search endpoint", self.base))
    }

    fn get_json<T: DeserializeOwned>(&self, url: Url) -> anyhow::Result<Option<T>> {
        let mut req = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let base = &self.base;
        let (status, body) = self
            .runtime
            .block_on(async {
                let resp = req.send().await?;
                let status = resp.status();
                let body = resp.bytes().await?;
                Ok::<_, reqwest::Error>((status, body))
            })
            .map_err(|e| {
                anyhow!(
                    "cannot reach the callweave agent at {base}: {}",
                    root_cause(&e)
                )
            })?;

        if status.is_success() {
            return serde_json::from_slice(&body).map(Some).map_err(|e| {
                anyhow!("the agent at {base} sent a response this callweave cannot read ({e})")
            });
        }
        let message = serde_json::from_slice::<ErrorBody>(&body)
            .map(|b| b.error)
            .unwrap_or_else(|_| {
                String::from_utf8_lossy(&body)
                    .trim()
                    .chars()
                    .take(200)
                    .collect()
            });
        match status {
            // A 404 with our JSON error body is "no such call"; a 404 without it
            // is a server that is not a callweave agent (or too old).
            StatusCode::NOT_FOUND if serde_json::from_slice::<ErrorBody>(&body).is_ok() => Ok(None),
            StatusCode::NOT_FOUND => bail!("{url} is not a callweave agent API (404 {message})"),
            StatusCode::UNAUTHORIZED if self.token.is_none() => bail!(
                "the agent at {base} requires a bearer token: set {DEFAULT_TOKEN_ENV} or pass --token-env VAR"
            ),
            StatusCode::UNAUTHORIZED => bail!("the agent at {base} refused the bearer token"),
            _ => bail!(
                "the agent at {base} answered {}: {message}",
                status.as_u16()
            ),
        }
    }
}

/// rustls needs a process-wide crypto provider (reqwest is built without one);
/// ring is the one the workspace already builds. An installed one stays.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The innermost error of a chain: "Connection refused (os error 111)" says more
/// than reqwest's "error sending request for url (…)" wrapper.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let root = cur.to_string();
    if e.to_string().contains("timed out") || root.contains("timed out") {
        return "timed out".to_owned();
    }
    root
}

/// Parses `--agent`; a bare `host:port` means `http://host:port`.
pub fn parse_base(agent: &str) -> anyhow::Result<Url> {
    let with_scheme = if agent.contains("://") {
        agent.to_owned()
    } else {
        format!("http://{agent}")
    };
    let url =
        Url::parse(&with_scheme).with_context(|| format!("--agent {agent:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("--agent {agent:?}: expected an http:// or https:// URL");
    }
    if url.cannot_be_a_base() || url.host_str().is_none() {
        bail!("--agent {agent:?}: expected http://HOST:PORT");
    }
    Ok(url)
}

/// `--token-env VAR` must name a set variable; without it, `CALLWEAVE_TOKEN` is
/// used when set. An empty value counts as unset.
pub fn resolve_token(
    token_env: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<String>> {
    match token_env {
        Some(var) => match env(var).filter(|v| !v.is_empty()) {
            Some(t) => Ok(Some(t)),
            None => bail!("--token-env {var}: the environment variable {var} is not set"),
        },
        None => Ok(env(DEFAULT_TOKEN_ENV).filter(|v| !v.is_empty())),
    }
}

/// Appends path segments to the base URL (which may carry a path prefix, e.g.
/// behind a reverse proxy). Each segment is percent-encoded, so a Call-ID with
/// `@`, `/`, `%`, `?` or `#` stays one segment.
fn endpoint(base: &Url, segments: &[&str]) -> anyhow::Result<Url> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|()| anyhow!("{base} cannot take a path"))?;
        path.pop_if_empty();
        path.extend(segments);
    }
    Ok(url)
}

/// `…/api/v1/trace/{id}` with `id` percent-encoded as one segment.
pub fn trace_url(base: &Url, id: &str) -> anyhow::Result<Url> {
    endpoint(base, &["api", "v1", "trace", id])
}

/// `…/api/v1/calls?…` with only the filters that are set.
pub fn calls_url(base: &Url, q: &CallsQuery) -> anyhow::Result<Url> {
    let mut url = endpoint(base, &["api", "v1", "calls"])?;
    {
        let mut pairs = url.query_pairs_mut();
        let fields = [
            ("number", q.number.as_deref()),
            ("since", q.since.as_deref()),
            ("until", q.until.as_deref()),
            ("status", q.status.as_deref()),
            ("node", q.node.as_deref()),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                pairs.append_pair(k, v);
            }
        }
        if let Some(limit) = q.limit {
            pairs.append_pair("limit", &limit.to_string());
        }
    }
    // An empty query_pairs_mut leaves a bare `?`; drop it for tidy URLs.
    if url.query() == Some("") {
        url.set_query(None);
    }
    Ok(url)
}

/// `…/api/v1/search?q=…` with the bounds that are set.
pub fn search_url(base: &Url, q: &SearchQuery) -> anyhow::Result<Url> {
    let mut url = endpoint(base, &["api", "v1", "search"])?;
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("q", &q.q);
        for (k, v) in [("since", &q.since), ("until", &q.until)] {
            if let Some(v) = v {
                pairs.append_pair(k, v);
            }
        }
        if let Some(limit) = q.limit {
            pairs.append_pair("limit", &limit.to_string());
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_urls_keep_the_id_in_one_segment() {
        let base = parse_base("http://127.0.0.1:9070").unwrap();
        let u = trace_url(&base, "1-4274@127.0.0.1").unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9070/api/v1/trace/1-4274@127.0.0.1"
        );
        let u = trace_url(&base, "a/b%c?d#e f").unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9070/api/v1/trace/a%2Fb%25c%3Fd%23e%20f"
        );
        assert_eq!(u.path_segments().unwrap().count(), 4);
    }

    #[test]
    fn base_urls_with_a_prefix_or_without_scheme() {
        let base = parse_base("https://gw.example/callweave/").unwrap();
        assert_eq!(
            trace_url(&base, "x").unwrap().as_str(),
            "https://gw.example/callweave/api/v1/trace/x"
        );
        let base = parse_base("10.0.0.5:9070").unwrap();
        assert_eq!(base.as_str(), "http://10.0.0.5:9070/");
        assert!(parse_base("ftp://x").is_err());
        assert!(parse_base("http://").is_err());
    }

    #[test]
    fn calls_url_has_only_set_filters() {
        let base = parse_base("http://127.0.0.1:9070").unwrap();
        assert_eq!(
            calls_url(&base, &CallsQuery::default()).unwrap().as_str(),
            "http://127.0.0.1:9070/api/v1/calls"
        );
        let q = CallsQuery {
            number: Some("+1 555".into()),
            since: Some("2026-11-26T03:00:00Z".into()),
            status: Some("no-answer".into()),
            limit: Some(20),
            ..CallsQuery::default()
        };
        assert_eq!(
            calls_url(&base, &q).unwrap().as_str(),
            "http://127.0.0.1:9070/api/v1/calls?number=%2B1+555&since=2026-11-26T03%3A00%3A00Z&status=no-answer&limit=20"
        );
    }

    #[test]
    fn search_url_encodes_the_query() {
        let base = parse_base("http://127.0.0.1:9070/cw/").unwrap();
        let q = SearchQuery {
            q: "id:\"a b@10.0.0.1\" status:486 & more".into(),
            until: Some("2026-11-26T03:00:00Z".into()),
            limit: Some(5),
            ..SearchQuery::default()
        };
        assert_eq!(
            search_url(&base, &q).unwrap().as_str(),
            "http://127.0.0.1:9070/cw/api/v1/search?q=id%3A%22a+b%4010.0.0.1%22+status%3A486+%26+more&until=2026-11-26T03%3A00%3A00Z&limit=5"
        );
    }

    #[test]
    fn token_resolution() {
        let env = |k: &str| match k {
            "CALLWEAVE_TOKEN" => Some("default".to_owned()),
            "MINE" => Some("mine".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(
            resolve_token(None, env).unwrap().as_deref(),
            Some("default")
        );
        assert_eq!(
            resolve_token(Some("MINE"), env).unwrap().as_deref(),
            Some("mine")
        );
        assert!(resolve_token(Some("EMPTY"), env).is_err());
        assert!(resolve_token(Some("NOPE"), env).is_err());
        assert_eq!(resolve_token(None, |_| None).unwrap(), None);
    }
}
