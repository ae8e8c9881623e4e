//! Agent configuration: the TOML contract of DESIGN.md.
//!
//! Every key is optional and every table rejects unknown keys, so a typo fails at
//! start with a message naming the key instead of being silently ignored. Defaults
//! are named functions so `config/agent.example.toml` and the code cannot drift
//! without a test noticing (see `tests::example_config_parses`).
//!
//! Parsing (`Config::from_toml`) only checks syntax and types; `Config::build`
//! validates values (addresses, sizes, durations) and resolves environment
//! variables, so every problem is reported before any task starts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

/// The whole agent configuration, as written in the TOML file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// This node's identity.
    pub node: NodeConfig,
    /// HEP listeners.
    pub hep: HepConfig,
    /// FreeSWITCH event-socket servers to connect to.
    pub esl: Vec<EslConfig>,
    /// FreeSWITCH log files to follow.
    pub fslog: Vec<FslogConfig>,
    /// How records are joined into calls.
    pub correlation: CorrelationConfig,
    /// The local index.
    pub store: StoreConfig,
    /// HTTP API, health and metrics.
    pub http: HttpConfig,
    /// Loki push; absent means no Loki.
    pub loki: Option<LokiConfig>,
}

/// `[node]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// Node name attached to every record and used as the Loki `node` label.
    /// Default: the host name.
    pub name: Option<String>,
    /// Nice value (0 to 19) of the ingest threads: HEP UDP receive, the
    /// pipeline (correlation, documents), the index (tantivy indexing and
    /// merging) and the collectors' runtime (HEP TCP, event sockets, log tails,
    /// the Loki client).
    pub ingest_nice: i32,
    /// `SCHED_FIFO` priority (1 to 99) of the API threads, so that a trace is
    /// answered at once however busy ingest keeps the CPUs; 0 (the default)
    /// leaves them at normal priority. Needs `CAP_SYS_NICE` or an
    /// `RLIMIT_RTPRIO` that high; refused, the agent logs why and runs on.
    pub api_realtime_priority: u8,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            name: None,
            ingest_nice: 10,
            api_realtime_priority: 0,
        }
    }
}

/// `[hep]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HepConfig {
    /// UDP listen addresses; `[]` disables UDP.
    pub udp: Vec<String>,
    /// TCP listen addresses; `[]` disables TCP.
    pub tcp: Vec<String>,
    /// Shared secret expected in HEP chunk 0x0e; packets without it are rejected.
    pub auth_key: Option<String>,
    /// Name of an environment variable holding the auth key (wins over `auth_key`).
    pub auth_key_env: Option<String>,
    /// Requested kernel receive buffer for each UDP socket, in bytes.
    pub udp_recv_buffer: String,
    /// Maximum simultaneous HEP TCP connections; further ones are refused.
    pub tcp_max_connections: usize,
    /// Largest inflated size accepted for a compressed (0x10) payload.
    pub max_inflated_payload: String,
}

impl Default for HepConfig {
    fn default() -> Self {
        Self {
            udp: default_hep_listen(),
            tcp: default_hep_listen(),
            auth_key: None,
            auth_key_env: None,
            udp_recv_buffer: "8MiB".to_owned(),
            tcp_max_connections: 1024,
            max_inflated_payload: "64KiB".to_owned(),
        }
    }
}

fn default_hep_listen() -> Vec<String> {
    vec!["0.0.0.0:9060".to_owned()]
}

/// `[[esl]]`: one FreeSWITCH event socket.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EslConfig {
    /// `host:port` of the FreeSWITCH event socket.
    pub address: String,
    /// Event-socket password (default `ClueCon`).
    #[serde(default)]
    pub password: Option<String>,
    /// Environment variable holding the password (wins over `password`).
    #[serde(default)]
    pub password_env: Option<String>,
    /// `json` or `plain`.
    #[serde(default = "default_esl_format")]
    pub format: String,
    /// Events to subscribe to; empty means the set callweave uses.
    #[serde(default)]
    pub events: Vec<String>,
    /// Also subscribe to log/data frames at this level (e.g. `info`).
    #[serde(default)]
    pub log_level: Option<String>,
}

impl std::fmt::Debug for EslConfig {
    // The password must never reach a log line, even through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EslConfig")
            .field("address", &self.address)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_env", &self.password_env)
            .field("format", &self.format)
            .field("events", &self.events)
            .field("log_level", &self.log_level)
            .finish()
    }
}

fn default_esl_format() -> String {
    "json".to_owned()
}

/// `[[fslog]]`: one FreeSWITCH log file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FslogConfig {
    /// Path of the log file.
    pub path: PathBuf,
    /// Time zone the log's timestamps are written in: `local`, an IANA name or `UTC`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// With no saved position, read the file from its start (default: from its
    /// end, so adding callweave to a node does not ingest months of old logs).
    #[serde(default)]
    pub from_beginning: bool,
}

fn default_timezone() -> String {
    "local".to_owned()
}

/// `[correlation]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorrelationConfig {
    /// SIP headers that name the Call-ID of a related leg.
    pub headers: Vec<String>,
    /// Calls kept in memory; past it the least recently active is evicted and counted.
    pub max_active_calls: usize,
    /// A call with no new record for this long leaves memory.
    pub idle_ttl: String,
    /// An ended call stays in memory this long for late retransmissions and events,
    /// then its KPIs are counted and its summary indexed.
    pub linger: String,
}

impl Default for CorrelationConfig {
    fn default() -> Self {
        Self {
            headers: default_correlation_headers(),
            max_active_calls: 100_000,
            idle_ttl: "4h".to_owned(),
            linger: "30s".to_owned(),
        }
    }
}

/// The correlation headers used when none are configured.
pub fn default_correlation_headers() -> Vec<String> {
    ["X-CID", "X-Call-ID", "XCall-ID"]
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// `[store]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Directory holding the index and agent state.
    pub data_dir: PathBuf,
    /// How long indexed records are kept (e.g. `7d`).
    pub retention: String,
    /// Index the words of every record for full-text search (records are
    /// found by their identifiers, numbers, method, status and node either way).
    pub full_text: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./callweave-data"),
            retention: "7d".to_owned(),
            full_text: true,
        }
    }
}

/// `[http]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Listen address of the HTTP API, `/metrics`, `/healthz` and `/readyz`.
    pub listen: String,
    /// Environment variable holding a bearer token required by the API; empty = none.
    pub token_env: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9070".to_owned(),
            token_env: String::new(),
        }
    }
}

/// `[loki]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LokiConfig {
    /// Base URL of Loki, e.g. `http://127.0.0.1:3100`.
    pub url: String,
    /// Tenant sent as `X-Scope-OrgID`; empty = none.
    #[serde(default)]
    pub tenant: String,
    /// Basic auth user (with `password_env`).
    #[serde(default)]
    pub username: Option<String>,
    /// Environment variable holding the basic auth password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Environment variable holding a bearer token (instead of basic auth).
    #[serde(default)]
    pub bearer_token_env: Option<String>,
    /// Batch size limit (uncompressed protobuf), at most 4 MiB.
    #[serde(default = "default_loki_batch")]
    pub batch_max_bytes: String,
    /// A batch is sent at the latest this long after its first entry.
    #[serde(default = "default_loki_age")]
    pub batch_max_age: String,
    /// Timeout of one push request.
    #[serde(default = "default_loki_timeout")]
    pub timeout: String,
    /// Directory for batches that could not be delivered.
    #[serde(default = "default_spool_dir")]
    pub spool_dir: PathBuf,
    /// Upper bound of the spool; the oldest batches are dropped past it.
    #[serde(default = "default_spool_max")]
    pub spool_max_bytes: String,
}

impl std::fmt::Debug for LokiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LokiConfig")
            .field("url", &"<see config>")
            .field("tenant", &self.tenant)
            .field("username", &self.username)
            .field("password_env", &self.password_env)
            .field("bearer_token_env", &self.bearer_token_env)
            .field("spool_dir", &self.spool_dir)
            .finish_non_exhaustive()
    }
}

fn default_loki_batch() -> String {
    "1MiB".to_owned()
}

fn default_loki_age() -> String {
    "1s".to_owned()
}

fn default_loki_timeout() -> String {
    "10s".to_owned()
}

fn default_spool_dir() -> PathBuf {
    PathBuf::from("./callweave-data/spool")
}

fn default_spool_max() -> String {
    "1GiB".to_owned()
}

/// A validated configuration: addresses parsed, sizes and durations resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Node name.
    pub node: String,
    /// HEP UDP listen addresses.
    pub hep_udp: Vec<SocketAddr>,
    /// HEP TCP listen addresses.
    pub hep_tcp: Vec<SocketAddr>,
    /// Required HEP auth key, if any.
    pub hep_auth_key: Option<Vec<u8>>,
    /// Requested SO_RCVBUF for UDP sockets.
    pub udp_recv_buffer: usize,
    /// Cap on HEP TCP connections.
    pub tcp_max_connections: usize,
    /// Cap on inflated HEP payloads.
    pub max_inflated_payload: usize,
    /// Correlation header names.
    pub correlation_headers: Vec<String>,
    /// Correlator limits.
    pub correlator: callweave_core::Config,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Index retention.
    pub retention: Duration,
    /// Full-text indexing of records.
    pub full_text: bool,
    /// Nice value of the ingest threads.
    pub ingest_nice: i32,
    /// SCHED_FIFO priority of the API threads; 0 is off.
    pub api_realtime_priority: u8,
    /// HTTP listen address.
    pub http_listen: SocketAddr,
    /// Bearer token required by the API (`/api/...`), if configured.
    pub api_token: Option<String>,
    /// Loki push client configuration, if `[loki]` is present.
    pub loki: Option<callweave_loki::LokiConfig>,
    /// The raw configuration, for the parts validated by their own components.
    pub raw: Config,
}

impl Config {
    /// Parses TOML text; unknown keys and wrong types are errors naming the key.
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Reads and parses a configuration file.
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// Validates every value and resolves defaults and environment variables.
    pub fn build(self) -> anyhow::Result<Settings> {
        let node = match &self.node.name {
            Some(n) if n.trim().is_empty() => bail!("node.name: must not be empty"),
            Some(n) => n.clone(),
            None => hostname(),
        };
        let hep_udp = parse_addrs("hep.udp", &self.hep.udp)?;
        let hep_tcp = parse_addrs("hep.tcp", &self.hep.tcp)?;
        let hep_auth_key = match (&self.hep.auth_key_env, &self.hep.auth_key) {
            (Some(var), _) => Some(
                std::env::var(var)
                    .with_context(|| {
                        format!("hep.auth_key_env: environment variable {var} is not set")
                    })?
                    .into_bytes(),
            ),
            (None, Some(k)) if k.is_empty() => bail!("hep.auth_key: must not be empty"),
            (None, Some(k)) => Some(k.clone().into_bytes()),
            (None, None) => None,
        };
        let udp_recv_buffer = parse_size("hep.udp_recv_buffer", &self.hep.udp_recv_buffer)?;
        let max_inflated_payload =
            parse_size("hep.max_inflated_payload", &self.hep.max_inflated_payload)?;
        if self.hep.tcp_max_connections == 0 {
            bail!("hep.tcp_max_connections: must be at least 1");
        }
        for (i, esl) in self.esl.iter().enumerate() {
            if esl.address.parse::<SocketAddr>().is_err() && !esl.address.contains(':') {
                bail!("esl[{i}].address: {:?} is not host:port", esl.address);
            }
            if !matches!(esl.format.as_str(), "json" | "plain") {
                bail!("esl[{i}].format: {:?} is not json or plain", esl.format);
            }
            if let Some(var) = &esl.password_env
                && std::env::var_os(var).is_none()
            {
                bail!("esl[{i}].password_env: environment variable {var} is not set");
            }
        }
        for (i, f) in self.fslog.iter().enumerate() {
            if f.path.as_os_str().is_empty() {
                bail!("fslog[{i}].path: must not be empty");
            }
            callweave_fslog::LogClock::from_config(&f.timezone)
                .map_err(|e| anyhow::anyhow!("fslog[{i}].timezone: {e}"))?;
        }
        for h in &self.correlation.headers {
            if h.is_empty() || !h.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                bail!("correlation.headers: {h:?} is not a valid header name");
            }
        }
        if self.correlation.max_active_calls == 0 {
            bail!("correlation.max_active_calls: must be at least 1");
        }
        let correlator = callweave_core::Config {
            max_active_calls: self.correlation.max_active_calls,
            idle_ttl: parse_duration("correlation.idle_ttl", &self.correlation.idle_ttl)?,
            linger_after_end: parse_duration("correlation.linger", &self.correlation.linger)?,
            ..callweave_core::Config::default()
        };
        let retention = parse_duration("store.retention", &self.store.retention)?;
        if !(0..=19).contains(&self.node.ingest_nice) {
            bail!(
                "node.ingest_nice: {} is not a nice value from 0 to 19",
                self.node.ingest_nice
            );
        }
        if self.node.api_realtime_priority > 99 {
            bail!(
                "node.api_realtime_priority: {} is not a SCHED_FIFO priority from 1 to 99 (0 is off)",
                self.node.api_realtime_priority
            );
        }
        let http_listen = self
            .http
            .listen
            .parse()
            .with_context(|| format!("http.listen: {:?} is not ip:port", self.http.listen))?;
        let api_token = if self.http.token_env.is_empty() {
            None
        } else {
            let var = &self.http.token_env;
            let token = std::env::var(var).with_context(|| {
                format!("http.token_env: environment variable {var} is not set")
            })?;
            if token.is_empty() {
                bail!("http.token_env: environment variable {var} is empty");
            }
            Some(token)
        };
        let loki_settings = match &self.loki {
            None => None,
            Some(l) => Some(loki_config(l)?),
        };
        Ok(Settings {
            node,
            hep_udp,
            hep_tcp,
            hep_auth_key,
            udp_recv_buffer,
            tcp_max_connections: self.hep.tcp_max_connections,
            max_inflated_payload,
            correlation_headers: self.correlation.headers.clone(),
            correlator,
            data_dir: self.store.data_dir.clone(),
            retention,
            full_text: self.store.full_text,
            ingest_nice: self.node.ingest_nice,
            api_realtime_priority: self.node.api_realtime_priority,
            http_listen,
            api_token,
            loki: loki_settings,
            raw: self,
        })
    }
}

fn loki_config(l: &LokiConfig) -> anyhow::Result<callweave_loki::LokiConfig> {
    if !(l.url.starts_with("http://") || l.url.starts_with("https://")) {
        bail!("loki.url: must start with http:// or https://");
    }
    let env = |key: &str, var: &str| {
        std::env::var(var)
            .with_context(|| format!("loki.{key}: environment variable {var} is not set"))
    };
    let mut cfg = callweave_loki::LokiConfig::new(l.url.clone(), l.spool_dir.clone());
    cfg.tenant = Some(l.tenant.clone()).filter(|t| !t.is_empty());
    cfg.auth = match (&l.username, &l.password_env, &l.bearer_token_env) {
        (_, _, Some(var)) => callweave_loki::Auth::Bearer(env("bearer_token_env", var)?),
        (Some(user), Some(var), None) => callweave_loki::Auth::Basic {
            user: user.clone(),
            pass: env("password_env", var)?,
        },
        (Some(_), None, None) => bail!("loki.username: needs password_env"),
        (None, Some(_), None) => bail!("loki.password_env: needs username"),
        (None, None, None) => callweave_loki::Auth::None,
    };
    cfg.batch_max_bytes = parse_size("loki.batch_max_bytes", &l.batch_max_bytes)?;
    cfg.batch_max_age = parse_duration_ms("loki.batch_max_age", &l.batch_max_age)?;
    cfg.timeout = parse_duration_ms("loki.timeout", &l.timeout)?;
    cfg.spool_max_bytes = parse_size("loki.spool_max_bytes", &l.spool_max_bytes)? as u64;
    cfg.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(cfg)
}

/// Like [`parse_duration`], also accepting `ms` (e.g. `500ms`).
fn parse_duration_ms(key: &str, text: &str) -> anyhow::Result<Duration> {
    match text.trim().strip_suffix("ms") {
        Some(n) => n
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .with_context(|| format!("{key}: {text:?} is not a duration like 500ms or 1s")),
        None => parse_duration(key, text),
    }
}

fn parse_addrs(key: &str, list: &[String]) -> anyhow::Result<Vec<SocketAddr>> {
    list.iter()
        .map(|s| {
            s.parse()
                .with_context(|| format!("{key}: {s:?} is not ip:port"))
        })
        .collect()
}

/// Parses `1GiB`, `64KiB`, `512kB`, `1000` (bytes).
pub fn parse_size(key: &str, text: &str) -> anyhow::Result<usize> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num
        .parse()
        .with_context(|| format!("{key}: {text:?} is not a size like 64KiB or 1GiB"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => bail!("{key}: unknown size unit {other:?} in {text:?}"),
    };
    let bytes = num * mult;
    if !(0.0..=(u64::MAX as f64)).contains(&bytes) {
        bail!("{key}: {text:?} is out of range");
    }
    Ok(bytes as usize)
}

/// Parses `7d`, `12h`, `30m`, `45s`, `1d12h`.
pub fn parse_duration(key: &str, text: &str) -> anyhow::Result<Duration> {
    let mut total = 0u64;
    let mut num = String::new();
    let t = text.trim();
    if t.is_empty() {
        bail!("{key}: empty duration");
    }
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num
            .parse()
            .with_context(|| format!("{key}: {text:?} is not a duration like 7d or 12h"))?;
        num.clear();
        let secs = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            other => bail!("{key}: unknown duration unit {other:?} in {text:?}"),
        };
        total = total.saturating_add(n.saturating_mul(secs));
    }
    if !num.is_empty() {
        bail!("{key}: {text:?} lacks a unit (s, m, h, d, w)");
    }
    Ok(Duration::from_secs(total))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_gives_documented_defaults() {
        let s = Config::from_toml("").unwrap().build().unwrap();
        assert_eq!(s.hep_udp, vec!["0.0.0.0:9060".parse().unwrap()]);
        assert_eq!(s.hep_tcp, vec!["0.0.0.0:9060".parse().unwrap()]);
        assert_eq!(s.http_listen, "127.0.0.1:9070".parse().unwrap());
        assert_eq!(s.correlation_headers, ["X-CID", "X-Call-ID", "XCall-ID"]);
        assert_eq!(s.retention, Duration::from_secs(7 * 86_400));
        assert!(s.hep_auth_key.is_none());
        assert!(!s.node.is_empty());
        assert_eq!(s.ingest_nice, 10);
        assert_eq!(s.api_realtime_priority, 0);
    }

    #[test]
    fn a_negative_realtime_priority_is_refused_where_written() {
        let err = Config::from_toml("[node]\napi_realtime_priority = -1\n").unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("api_realtime_priority = -1"), "{msg}");
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::from_toml("[hep]\nudpp = []\n").unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("udpp"), "{msg}");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("[hep]\nudp = [\"nope\"]", "hep.udp"),
            ("[http]\nlisten = \"x\"", "http.listen"),
            ("[store]\nretention = \"7x\"", "store.retention"),
            ("[node]\ningest_nice = 20", "node.ingest_nice"),
            ("[node]\ningest_nice = -5", "node.ingest_nice"),
            (
                "[node]\napi_realtime_priority = 100",
                "node.api_realtime_priority",
            ),
            (
                "[hep]\nudp_recv_buffer = \"12 parsecs\"",
                "hep.udp_recv_buffer",
            ),
            (
                "[[esl]]\naddress = \"127.0.0.1:8021\"\nformat = \"xml\"",
                "esl[0].format",
            ),
            ("[loki]\nurl = \"ftp://x\"", "loki.url"),
        ] {
            let err = Config::from_toml(text).unwrap().build().unwrap_err();
            assert!(format!("{err:#}").contains(key), "{text}: {err:#}");
        }
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("k", "1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("k", "64KiB").unwrap(), 65_536);
        assert_eq!(parse_size("k", "1000").unwrap(), 1000);
        assert_eq!(parse_duration("k", "1d12h").unwrap().as_secs(), 129_600);
        assert!(parse_duration("k", "12").is_err());
    }

    #[test]
    fn esl_password_is_redacted_in_debug() {
        let c = Config::from_toml("[[esl]]\naddress = \"127.0.0.1:8021\"\npassword = \"hunter2\"")
            .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }

    #[test]
    fn example_config_parses() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/agent.example.toml"
        );
        let c = Config::from_file(std::path::Path::new(path)).unwrap();
        // The example documents every key: its values must equal the defaults where
        // it says so, and it must validate.
        c.build().unwrap();
    }
}
