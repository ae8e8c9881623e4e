//! The Grafana dashboards against real components: a real Prometheus scrapes two
//! agents fed with real FreeSWITCH traffic, and every PromQL expression of every
//! dashboard in `dashboards/` must run without error and return data. Every LogQL
//! expression must parse with Grafana's own LogQL grammar (`tests/dashboards/`).
//!
//! The traffic is made rich enough that no panel is legitimately empty:
//!
//! - agent `test-node`: the HEP of two FreeSWITCH 1.10 B2BUA captures (5 bridged
//!   calls over UDP, 3 calls refused with 486 over TCP) replayed at 20 messages/s so
//!   calls end across several scrapes, the event-socket stream of the same calls
//!   plus one XML event (skipped by the client), the FreeSWITCH log file, one
//!   garbage datagram (a decode error), and a Loki push target that answers the
//!   first push with 503 (a retry and a failure) and the rest with 204;
//! - agent `test-node-b`: the bridged calls again with `max_active_calls = 1`
//!   (correlator evictions, i.e. drops) and an event socket with a wrong password
//!   (authentication failures and reconnects).
//!
//! Grafana variables are replaced the way Grafana renders the default "All"
//! selection: `$node` by its `allValue` `.*`, `$instance` by the regex-escaped
//! alternation of both agents.
//!
//! Data: `testdata/freeswitch-live/` (see its README.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::*;

/// Queries that may legitimately return no data with this traffic, with the reason.
/// Keep it empty: make the traffic richer instead.
const ALLOWED_EMPTY: &[(&str, &str)] = &[];

const SETS: [&str; 2] = ["01-bridged-callid-random", "03-bleg-busy-486"];

/// How long agent A keeps an ended call. The event socket delivers the recorded
/// events of every call at once while the SIP is replayed over about 3.5 s; a
/// call must not leave memory between its events and its SIP, or it would be
/// counted twice. Calls still end over several scrapes, because their last SIP
/// messages arrive spread over those 3.5 s.
const LINGER_A: &str = "5s";

// ---------------------------------------------------------------- fixtures

/// An ESL server on loopback speaking the inbound protocol: `auth ClueCon` is
/// accepted and, once `go` is set, followed by the recorded events of every set
/// (after the recording's own handshake frames) and one `text/event-xml` frame;
/// any other password gets `-ERR invalid` and the connection is closed, as
/// FreeSWITCH does. Holding the events back until the SIP replay starts keeps
/// both sources of a call within the correlator's linger time.
fn fake_esl(sets: &[&str], go: Arc<AtomicBool>) -> SocketAddr {
    let mut stream_bytes = Vec::new();
    for set in sets {
        let raw = std::fs::read(testdata(&format!("freeswitch-live/{set}/esl_json.raw"))).unwrap();
        let start = find(&raw, b"Content-Length:").unwrap();
        stream_bytes.extend_from_slice(&raw[start..]);
    }
    let xml =
        "<event>\n  <headers>\n    <Event-Name>HEARTBEAT</Event-Name>\n  </headers>\n</event>\n";
    stream_bytes.extend_from_slice(
        format!(
            "Content-Length: {}\nContent-Type: text/event-xml\n\n{xml}",
            xml.len()
        )
        .as_bytes(),
    );
    serve_esl(stream_bytes, "json", Some(go))
}

/// A Loki push endpoint: `POST /loki/api/v1/push` gets 503 the first time (so
/// the client retries and counts a failure) and 204 afterwards. HTTP/1.1 with
/// keep-alive, bodies by Content-Length. Returns the address and the number of
/// pushes answered 204.
fn fake_loki() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let accepted2 = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let requests = requests.clone();
            let accepted = accepted2.clone();
            std::thread::spawn(move || serve_loki(conn, &requests, &accepted));
        }
    });
    (addr, accepted)
}

fn serve_loki(conn: TcpStream, requests: &AtomicUsize, accepted: &AtomicUsize) {
    let mut writer = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut content_length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; content_length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let response: &[u8] = if !request_line.starts_with("POST /loki/api/v1/push ") {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        } else if requests.fetch_add(1, Ordering::SeqCst) == 0 {
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 11\r\n\r\nunavailable"
        } else {
            accepted.fetch_add(1, Ordering::SeqCst);
            b"HTTP/1.1 204 No Content\r\n\r\n"
        };
        if writer.write_all(response).is_err() {
            return;
        }
    }
}

/// A real Prometheus on a free loopback port, killed when dropped.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(targets: &[SocketAddr]) -> Prometheus {
        let bin = which("prometheus").unwrap_or_else(|| {
            panic!("the `prometheus` binary is missing: install the Debian package `prometheus` (scripts/test.sh does)")
        });
        let dir = tempfile::tempdir().unwrap();
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: callweave\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        // Reserve a port, release it, hand it to Prometheus.
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start prometheus");
        Prometheus {
            child,
            addr,
            _dir: dir,
        }
    }

    /// Runs an instant query; `Err` carries Prometheus' error message.
    fn query(&self, expr: &str) -> Result<Vec<Sample>, String> {
        query_at(self.addr, expr)
    }

    /// The single value of `expr`, panicking unless there is exactly one.
    fn value(&self, expr: &str) -> f64 {
        let r = self.query(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(r.len(), 1, "{expr}: {r:?}");
        r[0].value
    }

    /// Waits until Prometheus answers and `done` holds for `expr`.
    async fn wait_for(&self, expr: &str, timeout: Duration, done: impl Fn(&[Sample]) -> bool) {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            let answer =
                if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                    let (addr, expr2) = (self.addr, expr.to_owned());
                    tokio::task::spawn_blocking(move || query_at(addr, &expr2))
                        .await
                        .unwrap()
                } else {
                    Err("not listening yet".to_owned())
                };
            match &answer {
                Ok(r) if done(r) => return,
                other => last = format!("{other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("prometheus: {expr} not satisfied within {timeout:?}; last answer: {last}");
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs an instant query against the Prometheus at `addr`.
fn query_at(addr: SocketAddr, expr: &str) -> Result<Vec<Sample>, String> {
    let (status, body) = http_get(addr, &format!("/api/v1/query?query={}", urlencode(expr)));
    let v: Value = serde_json::from_str(&body)
        .map_err(|e| format!("HTTP {status}, not JSON ({e}): {body}"))?;
    if v["status"] != "success" {
        return Err(format!(
            "HTTP {status}: {}: {}",
            v["errorType"].as_str().unwrap_or("?"),
            v["error"].as_str().unwrap_or("?")
        ));
    }
    let result = &v["data"]["result"];
    match v["data"]["resultType"].as_str() {
        Some("vector") => Ok(result
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| Sample {
                labels: r["metric"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect(),
                value: parse_value(&r["value"][1]),
            })
            .collect()),
        Some("scalar") => Ok(vec![Sample {
            labels: BTreeMap::new(),
            value: parse_value(&result[1]),
        }]),
        other => Err(format!("unexpected result type {other:?}")),
    }
}

#[derive(Debug, Clone)]
struct Sample {
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse_value(v: &Value) -> f64 {
    // Prometheus writes NaN and ±Inf as "NaN", "+Inf", "-Inf".
    match v.as_str() {
        Some("+Inf") => f64::INFINITY,
        Some("-Inf") => f64::NEG_INFINITY,
        Some(s) => s.parse().unwrap_or(f64::NAN),
        None => f64::NAN,
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

// ---------------------------------------------------------------- dashboards

fn dashboard_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("dashboards"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no dashboards in dashboards/");
    files
}

/// One query of a dashboard: where it is and its text.
#[derive(Debug, Clone)]
struct DashQuery {
    dashboard: String,
    panel: String,
    ref_id: String,
    expr: String,
}

fn datasource_type(ds: &Value) -> Option<&'static str> {
    let text = match ds {
        Value::String(s) => s.clone(),
        Value::Object(o) => format!(
            "{} {}",
            o.get("type").and_then(Value::as_str).unwrap_or_default(),
            o.get("uid").and_then(Value::as_str).unwrap_or_default()
        ),
        _ => return None,
    };
    if text.contains("prometheus") || text.contains("DS_PROMETHEUS") {
        Some("prometheus")
    } else if text.contains("loki") || text.contains("DS_LOKI") {
        Some("loki")
    } else {
        None
    }
}

fn collect_targets(dashboard: &str, panels: &Value, kind: &str, out: &mut Vec<DashQuery>) {
    for panel in panels.as_array().into_iter().flatten() {
        let title = panel["title"].as_str().unwrap_or("?").to_owned();
        for t in panel["targets"].as_array().into_iter().flatten() {
            let ds = if t["datasource"].is_null() {
                &panel["datasource"]
            } else {
                &t["datasource"]
            };
            if datasource_type(ds) != Some(kind) {
                continue;
            }
            out.push(DashQuery {
                dashboard: dashboard.to_owned(),
                panel: title.clone(),
                ref_id: t["refId"].as_str().unwrap_or("?").to_owned(),
                expr: t["expr"].as_str().unwrap_or_default().to_owned(),
            });
        }
        collect_targets(dashboard, &panel["panels"], kind, out);
    }
}

/// Every Prometheus panel query, plus every Prometheus `label_values(sel, label)`
/// variable query rewritten as `group by (label) (sel)`.
fn prometheus_queries() -> Vec<DashQuery> {
    let mut out = Vec::new();
    for file in dashboard_files() {
        let d: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let name = d["title"].as_str().unwrap_or("?").to_owned();
        collect_targets(&name, &d["panels"], "prometheus", &mut out);
        for var in d["templating"]["list"].as_array().into_iter().flatten() {
            if var["type"] != "query" || datasource_type(&var["datasource"]) != Some("prometheus") {
                continue;
            }
            let def = var["definition"].as_str().unwrap_or_default();
            let inner = def
                .strip_prefix("label_values(")
                .and_then(|s| s.strip_suffix(')'))
                .unwrap_or_else(|| {
                    panic!("{name}: variable query {def:?} is not label_values(selector, label)")
                });
            let (selector, label) = inner.rsplit_once(',').unwrap();
            out.push(DashQuery {
                dashboard: name.clone(),
                panel: format!("variable ${}", var["name"].as_str().unwrap_or("?")),
                ref_id: "-".to_owned(),
                expr: format!("group by ({}) ({})", label.trim(), selector.trim()),
            });
        }
    }
    out
}

/// Replaces Grafana variables. Unknown variables are an error so that a new
/// variable cannot slip through untested; `${1}` (a regex group in
/// `label_replace`) is not a variable and stays.
fn substitute(expr: &str, vars: &BTreeMap<&str, String>) -> Result<String, String> {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, len) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {expr}"))?;
            let name = braced[..end].split(':').next().unwrap_or_default();
            (name, end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&rest[at..at + 1 + len]);
        } else {
            let value = vars
                .get(name)
                .ok_or_else(|| format!("unknown variable ${name} in {expr}"))?;
            out.push_str(value);
        }
        rest = &rest[at + 1 + len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A multi-value selection as Grafana renders it for a Prometheus regex matcher.
fn grafana_regex_alternation(values: &[String]) -> String {
    let escaped: Vec<String> = values
        .iter()
        .map(|v| {
            v.chars()
                .map(|c| {
                    if "\\^$*+?.()|{}[]/".contains(c) {
                        format!("\\\\{c}")
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        })
        .collect();
    format!("({})", escaped.join("|"))
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_promql_query_returns_data_from_a_real_prometheus() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();

    // Agent A: the full node.
    let log_path = dir.path().join("freeswitch.log");
    let mut log = Vec::new();
    for set in SETS {
        log.extend(
            std::fs::read(testdata(&format!("freeswitch-live/{set}/freeswitch.log"))).unwrap(),
        );
    }
    std::fs::write(&log_path, &log).unwrap();
    let esl_go = Arc::new(AtomicBool::new(false));
    let esl = fake_esl(&SETS, esl_go.clone());
    let (loki, loki_accepted) = fake_loki();
    let extra_a = format!(
        "[correlation]\nlinger = \"{LINGER_A}\"\n\
         [[esl]]\naddress = \"{esl}\"\npassword = \"ClueCon\"\nformat = \"json\"\n\
         [[fslog]]\npath = {:?}\ntimezone = \"UTC\"\nfrom_beginning = true\n\
         [loki]\nurl = \"http://{loki}\"\nspool_dir = {:?}\n",
        log_path.display().to_string(),
        dir.path().join("spool").display().to_string(),
    );
    let agent_a = start_agent(&extra_a, &dir.path().join("data-a")).await;

    // Agent B: a second node that evicts calls and cannot log in to its switch.
    let extra_b = format!(
        "[node]\nname = \"test-node-b\"\n\
         [correlation]\nlinger = \"1s\"\nmax_active_calls = 1\n\
         [[esl]]\naddress = \"{esl}\"\npassword = \"not-the-password\"\nformat = \"json\"\n"
    );
    // `start_agent` already writes `[node]`; a second `[node]` table would be a
    // TOML error, so B's name goes through a config of its own.
    let agent_b = start_agent_named(&extra_b, &dir.path().join("data-b")).await;

    let prometheus = Prometheus::start(&[agent_a.http, agent_b.http]);
    prometheus
        .wait_for("sum(up{job=\"callweave\"})", Duration::from_secs(20), |r| {
            r.first().is_some_and(|s| s.value == 2.0)
        })
        .await;

    // Traffic.
    esl_go.store(true, Ordering::SeqCst);
    let (udp_a, tcp_a, udp_b) = (agent_a.hep_udp[0], agent_a.hep_tcp[0], agent_b.hep_udp[0]);
    tokio::task::spawn_blocking(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.send_to(b"this is not a HEP packet", udp_a).unwrap();
        let set01 = testdata("freeswitch-live/01-bridged-callid-random/hep.pcap");
        let set03 = testdata("freeswitch-live/03-bleg-busy-486/hep.pcap");
        let (set01, set03) = (set01.to_str().unwrap(), set03.to_str().unwrap());
        callweave(&[
            "replay",
            set01,
            "--to",
            &format!("udp://{udp_b}"),
            "--no-progress",
        ]);
        std::thread::scope(|s| {
            s.spawn(|| {
                callweave(&[
                    "replay",
                    set01,
                    "--to",
                    &format!("udp://{udp_a}"),
                    "--rate",
                    "20",
                    "--no-progress",
                ])
            });
            s.spawn(|| {
                callweave(&[
                    "replay",
                    set03,
                    "--to",
                    &format!("tcp://{tcp_a}"),
                    "--rate",
                    "20",
                    "--no-progress",
                ])
            });
        });
    })
    .await
    .unwrap();

    // Everything the dashboards show has happened on the agents...
    let a = wait_metrics(agent_a.http, Duration::from_secs(20), |m| {
        sum(m, "callweave_calls_total", &[]) >= 8.0
            && sum(m, "callweave_esl_skipped_frames_total", &[]) >= 1.0
            && sum(m, "callweave_fslog_lines_total", &[]) > 0.0
            && sum(m, "callweave_loki_entries_sent_total", &[]) > 0.0
            && sum(m, "callweave_loki_failures_total", &[]) > 0.0
    })
    .await;
    let b = wait_metrics(agent_b.http, Duration::from_secs(20), |m| {
        sum(
            m,
            "callweave_dropped_total",
            &["stage=\"correlator_evicted\""],
        ) > 0.0
            && sum(m, "callweave_esl_auth_failures_total", &[]) > 0.0
            && sum(m, "callweave_esl_reconnects_total", &[]) > 0.0
    })
    .await;
    eprintln!(
        "agents ready after {:?}: A calls {} (loki pushes accepted: {}), B drops {}",
        started.elapsed(),
        sum(&a, "callweave_calls_total", &[]),
        loki_accepted.load(Ordering::SeqCst),
        sum(&b, "callweave_dropped_total", &[]),
    );
    // With `[loki]` configured the agent must expose its Loki sink's metrics; if it
    // exposes none, the push is not wired in and the Loki panels cannot have data.
    let loki_hint = if a.keys().any(|k| k.starts_with("callweave_loki_")) {
        String::new()
    } else {
        "agent A has [loki] configured but exposes no callweave_loki_* metric: \
         the Loki push is not wired into the agent\n"
            .to_owned()
    };

    // ...and Prometheus has scraped both agents twice since.
    let ready = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    prometheus
        .wait_for(
            "min(timestamp(up{job=\"callweave\"}))",
            Duration::from_secs(10),
            |r| r.first().is_some_and(|s| s.value > ready + 2.0),
        )
        .await;

    // The fixtures' real values, read back through Prometheus.
    let p = &prometheus;
    let node_a = "node=\"test-node\"";
    let inst_a = format!("instance=\"{}\"", agent_a.http);
    let checks: Vec<(String, f64)> = vec![
        (
            format!("sum(callweave_calls_total{{{node_a}, outcome=\"answered\"}})"),
            5.0,
        ),
        (
            format!("sum(callweave_calls_total{{{node_a}, outcome=\"busy\"}})"),
            3.0,
        ),
        (format!("sum(callweave_calls_total{{{node_a}}})"), 8.0),
        (
            format!("sum(callweave_hangup_causes_total{{{node_a}, cause=\"NORMAL_CLEARING\"}})"),
            10.0,
        ),
        (
            format!("sum(callweave_hangup_causes_total{{{node_a}, cause=\"USER_BUSY\"}})"),
            6.0,
        ),
        (
            format!("sum(callweave_call_duration_seconds_count{{{node_a}}})"),
            5.0,
        ),
        (format!("sum(callweave_leg_mos_count{{{node_a}}})"), 10.0),
        (
            format!(
                "sum(callweave_leg_mos_sum{{{node_a}}}) / sum(callweave_leg_mos_count{{{node_a}}})"
            ),
            4.5,
        ),
        (
            format!("sum(callweave_records_total{{{inst_a}, source=\"sip\"}})"),
            89.0,
        ),
        (
            format!("sum(callweave_hep_packets_total{{{inst_a}, transport=\"tcp\"}})"),
            24.0,
        ),
        (
            format!("sum(callweave_hep_packets_total{{{inst_a}, transport=\"udp\"}})"),
            66.0,
        ),
        (format!("sum(callweave_esl_connected{{{inst_a}}})"), 1.0),
        // The fake Loki refused exactly one push.
        (
            format!("sum(callweave_loki_failures_total{{{inst_a}, status=\"5xx\"}})"),
            1.0,
        ),
    ];
    let mut wrong = Vec::new();
    for (expr, want) in &checks {
        let got = tokio::task::block_in_place(|| p.value(expr));
        if (got - want).abs() > 1e-9 {
            wrong.push(format!("{expr} = {got}, want {want}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "fixture values through Prometheus:\n{}",
        wrong.join("\n")
    );

    // Every dashboard query.
    let mut vars: BTreeMap<&str, String> = BTreeMap::new();
    vars.insert("node", ".*".to_owned());
    vars.insert(
        "instance",
        grafana_regex_alternation(&[agent_a.http.to_string(), agent_b.http.to_string()]),
    );
    vars.insert("__rate_interval", "1m".to_owned());
    vars.insert("__interval", "15s".to_owned());
    vars.insert("__range", "5m".to_owned());
    vars.insert("window", "5m".to_owned());
    let queries = prometheus_queries();
    assert!(
        queries.len() > 50,
        "only {} PromQL queries found",
        queries.len()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut pending: Vec<DashQuery> = queries.clone();
    let mut failures: Vec<String> = Vec::new();
    let mut report: Vec<String> = Vec::new();
    while !pending.is_empty() {
        failures.clear();
        let mut still = Vec::new();
        for q in &pending {
            let where_ = format!("{} / {} ({})", q.dashboard, q.panel, q.ref_id);
            let expr = match substitute(&q.expr, &vars) {
                Ok(e) => e,
                Err(e) => {
                    failures.push(format!("{where_}: {e}"));
                    continue;
                }
            };
            let allowed = ALLOWED_EMPTY.iter().any(|(e, _)| *e == q.expr);
            match tokio::task::block_in_place(|| p.query(&expr)) {
                Err(e) => failures.push(format!("{where_}: error {e}\n    {expr}")),
                Ok(r) if r.is_empty() && !allowed => {
                    failures.push(format!("{where_}: empty result\n    {expr}"));
                    still.push(q.clone());
                }
                Ok(r) => report.push(format!(
                    "{where_}: {} series, e.g. {:?} = {}",
                    r.len(),
                    r[0].labels,
                    r[0].value
                )),
            }
        }
        // Errors do not heal with time; empty results may until the next scrape.
        if failures.len() != still.len() || still.is_empty() || Instant::now() > deadline {
            break;
        }
        pending = still;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "{loki_hint}{} of {} dashboard queries failed:\n{}",
        failures.len(),
        queries.len(),
        failures.join("\n")
    );

    // The KPI stats show real numbers, not NaN from empty ratios.
    let asr = substitute(
        &queries.iter().find(|q| q.panel == "ASR").unwrap().expr,
        &vars,
    )
    .unwrap();
    let asr = tokio::task::block_in_place(|| p.value(&asr));
    assert!((0.0..=1.0).contains(&asr), "ASR {asr}");

    drop(prometheus);
    agent_a.shutdown().await;
    agent_b.shutdown().await;
    eprintln!("done in {:?}", started.elapsed());
}

/// Like `support::start_agent` but the node name comes from `extra_toml`.
async fn start_agent_named(extra_toml: &str, data_dir: &Path) -> callweave_agent::RunningAgent {
    let toml = format!(
        "[hep]\nudp = [\"127.0.0.1:0\"]\ntcp = [\"127.0.0.1:0\"]\n\
         [http]\nlisten = \"127.0.0.1:0\"\n\
         [store]\ndata_dir = {:?}\n{extra_toml}",
        data_dir.display().to_string()
    );
    let settings = callweave_agent::config::Config::from_toml(&toml)
        .unwrap()
        .build()
        .unwrap();
    callweave_agent::start(settings).await.unwrap()
}

#[test]
fn every_dashboard_logql_query_parses_with_grafanas_grammar() {
    let root = repo();
    let tooling = root.join("tests/dashboards");
    for tool in ["node", "npm"] {
        let ok = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "`{tool}` is required to check the dashboards' LogQL (install Node.js)"
        );
    }
    if !tooling.join("node_modules/@grafana/lezer-logql").is_dir() {
        let out = Command::new("npm")
            .args([
                "ci",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&tooling)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "npm ci in tests/dashboards failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = Command::new("node")
        .arg(tooling.join("check-logql.mjs"))
        .args(dashboard_files())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "LogQL check failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The trace dashboard alone has seven LogQL queries.
    let parsed: usize = stdout
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(parsed >= 7, "{stdout}");
}

/// The dashboards, their provisioning and the compose stack agree: datasource
/// uids, the dashboards' mount path, links between dashboards, panel layout.
#[test]
fn dashboards_and_provisioning_are_consistent() {
    let root = repo();
    let read = |rel: &str| std::fs::read_to_string(root.join(rel)).unwrap();
    let datasources = read("config/grafana/provisioning/datasources/callweave.yaml");
    let providers = read("config/grafana/provisioning/dashboards/callweave.yaml");
    let compose = read("deploy/docker-compose.yml");
    let mut uids = Vec::new();
    let mut links = Vec::new();
    for file in dashboard_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let d: Value = serde_json::from_str(&text).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            d["schemaVersion"].as_u64().unwrap() >= 39,
            "{name}: schemaVersion"
        );
        uids.push(d["uid"].as_str().unwrap().to_owned());
        let vars: Vec<&Value> = d["templating"]["list"].as_array().unwrap().iter().collect();
        let var = |n: &str| vars.iter().find(|v| v["name"] == n).copied();
        // Datasource variables default to the provisioned datasources.
        for (var_name, kind) in [("DS_PROMETHEUS", "prometheus"), ("DS_LOKI", "loki")] {
            if let Some(v) = var(var_name) {
                assert_eq!(v["type"], "datasource", "{name}: ${var_name}");
                assert_eq!(v["query"], kind, "{name}: ${var_name}");
                let uid = v["current"]["value"].as_str().unwrap();
                assert!(
                    datasources.contains(&format!("uid: {uid}\n    type: {kind}")),
                    "{name}: ${var_name} defaults to {uid}, which is not provisioned as {kind}"
                );
            }
        }
        // Every panel uses a declared datasource variable.
        let mut ids = std::collections::BTreeSet::new();
        let mut cells = std::collections::BTreeSet::new();
        for p in d["panels"].as_array().unwrap() {
            assert!(
                ids.insert(p["id"].as_u64().unwrap()),
                "{name}: duplicate panel id {}",
                p["id"]
            );
            let g = &p["gridPos"];
            let (x, y, w, h) = (
                g["x"].as_u64().unwrap(),
                g["y"].as_u64().unwrap(),
                g["w"].as_u64().unwrap(),
                g["h"].as_u64().unwrap(),
            );
            assert!(
                x + w <= 24,
                "{name}: panel {} is wider than the grid",
                p["title"]
            );
            for cx in x..x + w {
                for cy in y..y + h {
                    assert!(
                        cells.insert((cx, cy)),
                        "{name}: panel {} overlaps another",
                        p["title"]
                    );
                }
            }
            if p["type"] == "row" || p["type"] == "text" {
                continue;
            }
            let uid = p["datasource"]["uid"].as_str().unwrap_or_default();
            let declared = uid
                .strip_prefix("${")
                .and_then(|u| u.strip_suffix('}'))
                .is_some_and(|u| var(u).is_some());
            assert!(
                declared,
                "{name}: panel {} uses datasource {uid:?}",
                p["title"]
            );
            assert!(
                p["description"].as_str().is_some_and(|s| !s.is_empty()),
                "{name}: panel {} has no description",
                p["title"]
            );
        }
        if d["uid"] != "callweave-trace" {
            assert!(var("node").is_some(), "{name}: no node variable");
        }
        let mut at = 0;
        while let Some(i) = text[at..].find("/d/") {
            let start = at + i + 3;
            let end = start + text[start..].find('/').unwrap();
            links.push((name.clone(), text[start..end].to_owned()));
            at = end;
        }
    }
    for (from, to) in &links {
        assert!(
            uids.contains(to),
            "{from} links to unknown dashboard uid {to}"
        );
    }
    assert!(
        links
            .iter()
            .any(|(f, t)| f.contains("calls") && t == "callweave-trace"),
        "the calls dashboard must link to the call trace"
    );
    // Grafana loads the dashboards from where compose mounts them.
    let mount = "/etc/grafana/dashboards/callweave";
    assert!(
        providers.contains(&format!("path: {mount}")),
        "provisioning path"
    );
    assert!(
        compose.contains(&format!("../dashboards:{mount}:ro")),
        "compose mount"
    );
    assert!(compose.contains("../config/grafana/provisioning:/etc/grafana/provisioning:ro"));
    assert!(
        datasources.contains("url: http://prometheus:9090")
            && compose.contains("\n  prometheus:\n")
    );
    assert!(datasources.contains("url: http://loki:3100") && compose.contains("\n  loki:\n"));
    // Prometheus accepts its configuration.
    let promtool = which("promtool").expect("promtool (Debian package prometheus) is required");
    let out = Command::new(promtool)
        .args(["check", "config"])
        .arg(root.join("config/prometheus.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
