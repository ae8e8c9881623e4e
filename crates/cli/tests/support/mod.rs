//! Shared helpers for the end-to-end tests: an agent on ephemeral loopback ports,
//! the `callweave` binary, and a tiny HTTP client for `/metrics`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use callweave_agent::RunningAgent;
use callweave_agent::config::Config;

/// Repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fixture path relative to `testdata/`.
pub fn testdata(rel: &str) -> PathBuf {
    repo().join("testdata").join(rel)
}

/// Starts an agent on 127.0.0.1 ephemeral ports (HEP UDP and TCP, HTTP) with
/// extra TOML appended to the base config.
pub async fn start_agent(extra_toml: &str, data_dir: &Path) -> RunningAgent {
    let toml = format!(
        "[hep]\nudp = [\"127.0.0.1:0\"]\ntcp = [\"127.0.0.1:0\"]\n\
         [http]\nlisten = \"127.0.0.1:0\"\n\
         [store]\ndata_dir = {:?}\n\
         [node]\nname = \"test-node\"\n{extra_toml}",
        data_dir.display().to_string()
    );
    let settings = Config::from_toml(&toml).unwrap().build().unwrap();
    callweave_agent::start(settings).await.unwrap()
}

/// Runs the `callweave` binary and returns its output; panics with stderr on failure.
pub fn callweave(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_callweave"))
        .args(args)
        .env("CALLWEAVE_LOG", "warn")
        .output()
        .expect("run callweave");
    assert!(
        out.status.success(),
        "callweave {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// GET `path` from `addr`, returning (status, body). Blocking; call from
/// `spawn_blocking` in async tests.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Parses an OpenMetrics text body into `series -> value`.
pub fn parse_metrics(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

/// Sum of every series of a metric family whose series name starts with `name`
/// and contains every `filter` substring.
pub fn sum(metrics: &BTreeMap<String, f64>, name: &str, filters: &[&str]) -> f64 {
    metrics
        .iter()
        .filter(|(k, _)| {
            (k.as_str() == name || k.starts_with(&format!("{name}{{")))
                && filters.iter().all(|f| k.contains(f))
        })
        .map(|(_, v)| v)
        .sum()
}

/// Scrapes `/metrics` until `done` holds or `timeout` passes; returns the last scrape.
///
/// A scrape is not atomic across metrics: one taken while the receive thread
/// handles a packet can hold that packet in one counter (say the HEP count) and
/// not yet in the next (the SIP count). So once `done` holds, the metrics are
/// scraped once more a moment later, and that scrape is returned.
pub async fn wait_metrics(
    http: SocketAddr,
    timeout: Duration,
    done: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> BTreeMap<String, f64> {
    let deadline = Instant::now() + timeout;
    let scrape = move || async move {
        tokio::task::spawn_blocking(move || {
            let (status, body) = http_get(http, "/metrics");
            assert_eq!(status, 200);
            parse_metrics(&body)
        })
        .await
        .unwrap()
    };
    loop {
        let m = scrape().await;
        if done(&m) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            return scrape().await;
        }
        if Instant::now() > deadline {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Percent-encodes a path segment (Call-IDs hold `@`, `/`, `%`, …).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An ESL server on loopback speaking the inbound protocol with the recorded
/// JSON event streams of `sets` (`testdata/freeswitch-live/<set>/esl_json.raw`,
/// after the recording's own handshake frames). See [`serve_esl`].
pub fn fake_esl(sets: &[&str]) -> SocketAddr {
    let mut stream_bytes = Vec::new();
    for set in sets {
        let raw = std::fs::read(testdata(&format!("freeswitch-live/{set}/esl_json.raw"))).unwrap();
        // Skip the three handshake frames (auth/request and two command/replies),
        // which have no body: find the first Content-Length frame.
        let start = find(&raw, b"Content-Length:").unwrap();
        stream_bytes.extend_from_slice(&raw[start..]);
    }
    serve_esl(stream_bytes, "json", None)
}

/// An ESL server on loopback speaking the inbound protocol: `auth/request`,
/// `auth ClueCon` → `+OK accepted` (anything else → `-ERR invalid`, closed),
/// `event <format> …` → `+OK event listener enabled <format>`, then `events`
/// byte for byte (once `go` is set, if given), then an `api/response` to every
/// keep-alive command until the client goes away. Every connection gets the
/// whole stream.
pub fn serve_esl(events: Vec<u8>, format: &'static str, go: Option<Arc<AtomicBool>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let events = events.clone();
            let go = go.clone();
            std::thread::spawn(move || {
                let _ = conn.write_all(b"Content-Type: auth/request\n\n");
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                if read_command(&mut reader) != "auth ClueCon" {
                    let _ = conn
                        .write_all(b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n");
                    return;
                }
                let _ =
                    conn.write_all(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n");
                let sub = read_command(&mut reader);
                assert!(sub.starts_with(&format!("event {format}")), "{sub}");
                let ok = format!(
                    "Content-Type: command/reply\nReply-Text: +OK event listener enabled {format}\n\n"
                );
                let _ = conn.write_all(ok.as_bytes());
                if let Some(go) = go {
                    while !go.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                if conn.write_all(&events).is_err() {
                    return;
                }
                // Answer keep-alive probes until the agent goes away.
                loop {
                    if read_command(&mut reader).is_empty() {
                        return;
                    }
                    let body = "UP 0 years, 0 days\n";
                    let reply = format!(
                        "Content-Type: api/response\nContent-Length: {}\n\n{body}",
                        body.len()
                    );
                    if conn.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

pub fn read_command(reader: &mut impl BufRead) -> String {
    let mut cmd = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return cmd;
        }
        let line = line.trim_end();
        if line.is_empty() {
            if cmd.is_empty() {
                continue;
            }
            return cmd;
        }
        if cmd.is_empty() {
            cmd = line.to_owned();
        }
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
