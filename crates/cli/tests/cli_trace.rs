//! `callweave trace` and `callweave calls` against a fake agent serving the API's
//! JSON built from a REAL FreeSWITCH call.
//!
//! Data: `testdata/freeswitch-live/01-bridged-callid-random/` (FreeSWITCH 1.10.12
//! bridging SIPp 127.0.0.1:5072 → FS 127.0.0.1:5090 → SIPp 127.0.0.1:5082). The
//! fixture decodes its HEP stream, ESL JSON stream and log file with the agent's
//! own converters (`SipConverter`, `esl_source::channel_record`,
//! `fslog_source::log_record`), correlates them with `callweave_core`'s
//! `Correlator`, and serves one `TraceResponse` per call from a tiny HTTP server
//! on 127.0.0.1:0. The real `callweave` binary is run against it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use callweave_agent::api::{
    CallView, CallsResponse, ErrorBody, LinkView, Page, RecordView, TraceResponse, legs_view,
    rfc3339,
};
use callweave_core::graph::{CallSummary, Correlator};
use callweave_core::record::{CallId, Ident, Record, RecordKind};

const SET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/freeswitch-live/01-bridged-callid-random"
);

/// One row of the set's `calls.tsv` (built from the ESL stream by the capture script).
#[derive(Debug, Clone)]
struct RealCall {
    a_call_id: String,
    a_uuid: String,
    b_call_id: String,
    b_uuid: String,
}

fn calls_tsv() -> Vec<RealCall> {
    std::fs::read_to_string(format!("{SET}/calls.tsv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            RealCall {
                a_call_id: f[0].into(),
                a_uuid: f[1].into(),
                b_call_id: f[2].into(),
                b_uuid: f[3].into(),
            }
        })
        .collect()
}

/// Every record of the set, decoded by the agent's converters, in time order.
fn real_records() -> Vec<Record> {
    let node: Arc<str> = Arc::from("fs-1");
    let mut records = Vec::new();

    // SIP: the HEPv3 datagrams FreeSWITCH's sofia sent, as appended by the capture.
    let conv = callweave_agent::sip_record::SipConverter::new(&["X-CID".to_owned()]);
    let mut framer = callweave_hep::TcpFramer::new();
    framer.push(&std::fs::read(format!("{SET}/hep_stream.bin")).unwrap());
    let peer: SocketAddr = "127.0.0.1:9064".parse().unwrap();
    while let Some(bytes) = framer.next_packet().unwrap() {
        let packet = callweave_hep::decode(bytes).unwrap();
        let sip = conv.convert(&packet, peer).unwrap();
        records.push(Record::new(
            packet.timestamp_micros(),
            node.clone(),
            RecordKind::Sip(sip),
        ));
    }
    assert_eq!(records.len(), 65, "the README counts 65 HEP packets");

    // ESL: the JSON event stream.
    let mut esl = callweave_esl::Framer::default();
    esl.push(&std::fs::read(format!("{SET}/esl_json.raw")).unwrap());
    let mut events = 0;
    while let Some(frame) = esl.next_frame().unwrap() {
        if frame.content_type != callweave_esl::ContentType::EventJson {
            continue;
        }
        let event = callweave_esl::Event::from_frame(&frame).unwrap();
        if let Some(r) = callweave_agent::esl_source::channel_record(&event, &node, 0) {
            records.push(r);
            events += 1;
        }
    }
    assert_eq!(events, 232, "235 ESL frames minus the 3 handshake frames");

    // Logs: the FreeSWITCH log file (UTC civil times).
    let mut asm = callweave_fslog::Assembler::new(callweave_fslog::LogClock::utc());
    let log = std::fs::read_to_string(format!("{SET}/freeswitch.log")).unwrap();
    let mut entries: Vec<_> = log.lines().filter_map(|l| asm.push(l)).collect();
    entries.extend(asm.flush());
    for e in &entries {
        records.push(callweave_agent::fslog_source::log_record(e, &node, 0));
    }

    records.sort_by_key(|r| r.ts_micros);
    records
}

/// The served data: one trace per real call, and the calls list.
struct Fixture {
    calls: Vec<RealCall>,
    traces: Vec<TraceResponse>,
    list: CallsResponse,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let records = real_records();
        let mut corr = Correlator::new(Default::default());
        for r in &records {
            corr.ingest(r, r.ts_micros);
        }
        let calls = calls_tsv();
        let mut traces = Vec::new();
        let mut list = Vec::new();
        for c in &calls {
            let summary: CallSummary = corr
                .call_for(&Ident::Call(CallId::from(c.a_call_id.as_str())))
                .unwrap();
            let key = summary.key.clone();
            let mine: Vec<RecordView> = records
                .iter()
                .filter(|r| {
                    r.identifiers()
                        .iter()
                        .any(|i| corr.key_for(i).as_ref() == Some(&key))
                })
                .map(RecordView::from)
                .collect();
            let total = mine.len();
            traces.push(TraceResponse {
                call: key.as_str().to_owned(),
                outcome: summary.outcome.as_str().to_owned(),
                start: mine.first().map(|r| rfc3339(r.ts_micros)),
                legs: legs_view(&summary),
                links: summary.links.iter().map(LinkView::from).collect(),
                records: mine,
                page: Page {
                    offset: 0,
                    limit: 1000,
                    total,
                },
            });
            list.push(CallView {
                call: key.as_str().to_owned(),
                start: Some(rfc3339(summary.first_seen)),
                end: Some(rfc3339(summary.last_seen)),
                start_micros: summary.first_seen,
                from: summary.legs.first().and_then(|l| l.from.clone()),
                to: summary.legs.first().and_then(|l| l.to.clone()),
                outcome: summary.outcome.as_str().to_owned(),
                nodes: vec!["fs-1".to_owned()],
                legs: summary.legs.len(),
            });
        }
        list.reverse(); // newest first, as the agent sends it
        Fixture {
            calls,
            traces,
            list: CallsResponse { calls: list },
        }
    })
}

// ---------------------------------------------------------------------------
// the fake agent

#[derive(Debug, Clone)]
struct Seen {
    target: String,
    authorization: Option<String>,
}

struct FakeAgent {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeAgent {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

#[derive(Clone, Default)]
struct ServerOptions {
    /// Records per page at most, whatever the client asks.
    page_max: Option<usize>,
    /// Bearer token required.
    token: Option<String>,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn fake_agent(opts: ServerOptions) -> FakeAgent {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            serve(stream, &opts, &log);
        }
    });
    FakeAgent { addr, seen }
}

fn serve(stream: TcpStream, opts: &ServerOptions, log: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("authorization")
        {
            authorization = Some(v.trim().to_owned());
        }
    }
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_owned();
    log.lock().unwrap().push(Seen {
        target: target.clone(),
        authorization: authorization.clone(),
    });
    let (status, body) = route(&target, authorization.as_deref(), opts);
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

fn error(status: u16, msg: &str) -> (u16, String) {
    (
        status,
        serde_json::to_string(&ErrorBody {
            error: msg.to_owned(),
        })
        .unwrap(),
    )
}

fn route(target: &str, authorization: Option<&str>, opts: &ServerOptions) -> (u16, String) {
    if let Some(t) = &opts.token
        && authorization != Some(&format!("Bearer {t}"))
    {
        return error(401, "missing or wrong bearer token");
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params: HashMap<String, String> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect();
    let f = fixture();
    if path == "/api/v1/calls" {
        return (200, serde_json::to_string(&f.list).unwrap());
    }
    let Some(raw_id) = path.strip_prefix("/api/v1/trace/") else {
        return error(404, "no such endpoint");
    };
    let id = percent_decode(raw_id);
    let Some(trace) = f.traces.iter().find(|t| {
        t.legs.iter().any(|l| {
            l.call_id.as_deref() == Some(id.as_str()) || l.uuid.as_deref() == Some(id.as_str())
        })
    }) else {
        return error(404, &format!("no call found for {id:?}"));
    };
    let offset: usize = params.get("offset").map_or(0, |o| o.parse().unwrap());
    let limit: usize = params.get("limit").map_or(1000, |l| l.parse().unwrap());
    let n = opts.page_max.map_or(limit, |m| m.min(limit));
    let mut page = trace.clone();
    page.records = trace.records.iter().skip(offset).take(n).cloned().collect();
    page.page = Page {
        offset,
        limit,
        total: trace.records.len(),
    };
    (200, serde_json::to_string(&page).unwrap())
}

// ---------------------------------------------------------------------------
// running the binary

fn callweave(args: &[&str]) -> Output {
    callweave_env(args, &[])
}

fn callweave_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callweave"));
    cmd.args(args)
        .env_remove("CALLWEAVE_TOKEN")
        .env_remove("NO_COLOR")
        .env("COLUMNS", "200");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn first_call() -> (&'static RealCall, &'static TraceResponse) {
    let f = fixture();
    (&f.calls[0], &f.traces[0])
}

/// The ladder's lines: from the endpoint header line to the end.
struct Ladder<'a> {
    header: &'a str,
    centres: Vec<usize>,
    lines: Vec<&'a str>,
}

fn ladder(out: &str) -> Ladder<'_> {
    let lines: Vec<&str> = out.lines().collect();
    let h = lines
        .iter()
        .position(|l| l.contains("127.0.0.1:5072") && l.contains("127.0.0.1:5082"))
        .expect("an endpoint header line");
    let lifelines = lines[h + 1];
    let centres = lifelines
        .char_indices()
        .filter(|(_, c)| *c == '|')
        .map(|(i, _)| i)
        .collect();
    Ladder {
        header: lines[h],
        centres,
        lines: lines[h + 2..].to_vec(),
    }
}

/// (from column, to column) of an arrow line.
fn arrow_of(line: &str, centres: &[usize]) -> (usize, usize) {
    let chars: Vec<char> = line.chars().collect();
    if let Some(head) = chars.iter().position(|c| *c == '>') {
        let to = centres.iter().position(|c| *c == head + 1).unwrap();
        let from_pos = (0..head).rev().find(|i| chars[*i] == '|').unwrap();
        let from = centres.iter().position(|c| *c == from_pos).unwrap();
        (from, to)
    } else {
        let head = chars.iter().position(|c| *c == '<').unwrap();
        let to = centres.iter().position(|c| *c + 1 == head).unwrap();
        let from_pos = (head..chars.len()).find(|i| chars[*i] == '|').unwrap();
        let from = centres.iter().position(|c| *c == from_pos).unwrap();
        (from, to)
    }
}

/// The ladder's time-stamped lines (arrows, events, logs), in output order.
fn timeline(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| {
            l.split_whitespace().next().is_some_and(|t| {
                (t.starts_with('+') || t.starts_with('-'))
                    && t.ends_with('s')
                    && t[1..t.len() - 1].parse::<f64>().is_ok()
            })
        })
        .collect()
}

fn offset_of(line: &str) -> f64 {
    let t = line.split_whitespace().next().unwrap();
    t.trim_end_matches('s').parse().unwrap()
}

// ---------------------------------------------------------------------------
// tests

#[test]
fn the_fixture_is_the_real_call() {
    let (call, trace) = first_call();
    assert_eq!(call.a_call_id, "1-4274@127.0.0.1");
    assert_eq!(trace.call, call.a_call_id);
    assert_eq!(trace.outcome, "answered");
    assert_eq!(trace.legs.len(), 2);
    let a = &trace.legs[0];
    let b = &trace.legs[1];
    assert_eq!(
        (a.role.as_deref(), a.call_id.as_deref(), a.uuid.as_deref()),
        (
            Some("A"),
            Some(call.a_call_id.as_str()),
            Some(call.a_uuid.as_str())
        )
    );
    assert_eq!(
        (b.role.as_deref(), b.call_id.as_deref(), b.uuid.as_deref()),
        (
            Some("B"),
            Some(call.b_call_id.as_str()),
            Some(call.b_uuid.as_str())
        )
    );
    let sip: Vec<&RecordView> = trace.records.iter().filter(|r| r.kind == "sip").collect();
    // README: 7 HEP packets on the A-leg, 6 on the B-leg.
    assert_eq!(sip.len(), 13);
    assert!(trace.records.iter().any(|r| r.kind == "esl"));
    assert!(trace.records.iter().any(|r| r.kind == "log"));
}

#[test]
fn json_round_trips_and_the_id_is_percent_encoded() {
    let (call, trace) = first_call();
    let agent = fake_agent(ServerOptions::default());
    let out = stdout(&callweave(&[
        "trace",
        &call.a_call_id,
        "--agent",
        &agent.url(),
        "--format",
        "json",
    ]));
    let got: TraceResponse = serde_json::from_str(&out).unwrap();
    assert_eq!(&got, trace);
    assert!(
        out.starts_with("{\n  \"call\": \"1-4274@127.0.0.1\""),
        "pretty JSON"
    );
    let seen = agent.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].target,
        "/api/v1/trace/1-4274@127.0.0.1?offset=0&limit=1000"
    );
    assert_eq!(seen[0].authorization, None);

    // By the B-leg's channel UUID: the same call.
    let out = stdout(&callweave(&[
        "trace",
        &call.b_uuid,
        "--agent",
        &agent.url(),
        "--format",
        "json",
    ]));
    let got: TraceResponse = serde_json::from_str(&out).unwrap();
    assert_eq!(got.call, call.a_call_id);
}

#[test]
fn text_shows_both_legs_and_a_ladder_in_the_right_directions() {
    let (call, trace) = first_call();
    let agent = fake_agent(ServerOptions::default());
    let out = stdout(&callweave(&[
        "trace",
        &call.a_call_id,
        "--agent",
        &agent.url(),
    ]));
    assert!(!out.contains('\x1b'), "no colour into a pipe");

    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with("call 1-4274@127.0.0.1  answered  2026-11-26T03:24:30."),
        "{first}"
    );

    // Legs table: both Call-IDs, both short UUIDs, the hangup cause.
    let row_a = out.lines().find(|l| l.starts_with("A ")).unwrap();
    let row_b = out.lines().find(|l| l.starts_with("B ")).unwrap();
    assert!(
        row_a.contains(&call.a_call_id) && row_a.contains(&call.a_uuid[..8]),
        "{row_a}"
    );
    assert!(
        !row_a.contains(&call.a_uuid),
        "UUIDs are short unless --wide"
    );
    assert!(
        row_b.contains(&call.b_call_id) && row_b.contains(&call.b_uuid[..8]),
        "{row_b}"
    );
    assert!(row_a.contains("NORMAL_CLEARING") && row_b.contains("NORMAL_CLEARING"));
    assert!(row_a.contains(" 200 "), "{row_a}");

    let l = ladder(&out);
    // Caller left, switch middle, callee right.
    let p5072 = l.header.find("127.0.0.1:5072").unwrap();
    let p5090 = l.header.find("127.0.0.1:5090").unwrap();
    let p5082 = l.header.find("127.0.0.1:5082").unwrap();
    assert!(p5072 < p5090 && p5090 < p5082, "{}", l.header);
    assert_eq!(l.centres.len(), 3);
    let col = |ep: &str| {
        ["127.0.0.1:5072", "127.0.0.1:5090", "127.0.0.1:5082"]
            .iter()
            .position(|e| *e == ep)
            .unwrap()
    };

    // Every SIP message is one arrow, in time order, from its src to its dst.
    let arrows: Vec<&str> = l
        .lines
        .iter()
        .copied()
        .filter(|x| x.contains("->|") || x.contains("|<-"))
        .collect();
    let mut sip: Vec<&RecordView> = trace.records.iter().filter(|r| r.kind == "sip").collect();
    sip.sort_by_key(|r| r.ts_micros);
    assert_eq!(arrows.len(), sip.len());
    for (line, r) in arrows.iter().zip(&sip) {
        let (from, to) = arrow_of(line, &l.centres);
        assert_eq!(
            (from, to),
            (
                col(r.src.as_deref().unwrap()),
                col(r.dst.as_deref().unwrap())
            ),
            "{line} vs {} {:?}->{:?}",
            r.summary,
            r.src,
            r.dst
        );
        let label = match r.status {
            None => r.method.clone().unwrap(),
            Some(_) => r.summary.clone(),
        };
        assert!(line.contains(&format!(" {label} ")), "{line} lacks {label}");
        let leg = if r.call_id.as_deref() == Some(call.a_call_id.as_str()) {
            "[A]"
        } else {
            "[B]"
        };
        assert!(line.ends_with(leg), "{line}");
    }
    // The two INVITEs, spelled out: A 5072 → 5090, B 5090 → 5082, and the B
    // side's 180 comes back 5082 → 5090.
    let invite_a = arrows
        .iter()
        .find(|x| x.contains(" INVITE ") && x.ends_with("[A]"))
        .unwrap();
    let invite_b = arrows
        .iter()
        .find(|x| x.contains(" INVITE ") && x.ends_with("[B]"))
        .unwrap();
    let ringing_b = arrows
        .iter()
        .find(|x| x.contains("180 Ringing") && x.ends_with("[B]"))
        .unwrap();
    assert_eq!(arrow_of(invite_a, &l.centres), (0, 1));
    assert_eq!(arrow_of(invite_b, &l.centres), (1, 2));
    assert_eq!(arrow_of(ringing_b, &l.centres), (2, 1));

    // ESL events are interleaved: the ladder's SIP+ESL lines follow the records'
    // time order exactly, and every offset is non-decreasing.
    let mut expected: Vec<&RecordView> = trace.records.iter().filter(|r| r.kind != "log").collect();
    expected.sort_by_key(|r| r.ts_micros);
    let drawn = timeline(&out);
    assert_eq!(drawn.len(), expected.len());
    for (line, r) in drawn.iter().zip(&expected) {
        if r.kind == "esl" {
            assert!(
                line.contains(&format!(" ~ {}", r.summary)),
                "{line} vs {}",
                r.summary
            );
        }
    }
    let offsets: Vec<f64> = drawn.iter().map(|x| offset_of(x)).collect();
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "{offsets:?}");
    assert_eq!(offsets[0], 0.0);
    // B answers before the A-leg's 200 OK goes out.
    let b_answer = drawn
        .iter()
        .position(|x| x.contains("~ CHANNEL_ANSWER") && x.ends_with("[B]"))
        .unwrap();
    let a_ok = drawn
        .iter()
        .position(|x| x.contains("200 OK (INVITE)") && x.ends_with("[A]"))
        .unwrap();
    assert!(b_answer < a_ok);
    assert!(out.contains("log lines not shown; --logs shows them"));
}

#[test]
fn explain_lists_every_link_with_its_rule() {
    let (call, trace) = first_call();
    let agent = fake_agent(ServerOptions::default());
    let plain = stdout(&callweave(&[
        "trace",
        &call.a_call_id,
        "--agent",
        &agent.url(),
    ]));
    assert!(!plain.contains("channel-sip"));
    let out = stdout(&callweave(&[
        "trace",
        &call.a_call_id,
        "--agent",
        &agent.url(),
        "--explain",
    ]));
    assert!(!trace.links.is_empty());
    for link in &trace.links {
        let line = format!(
            "  {} {} ↔ {} {}  ({})",
            link.a_kind, link.a, link.b_kind, link.b, link.rule
        );
        assert!(out.contains(&line), "missing {line}\n{out}");
    }
    let rules: Vec<&str> = trace.links.iter().map(|l| l.rule.as_str()).collect();
    assert!(
        rules.contains(&"channel-sip") && rules.contains(&"other-leg"),
        "{rules:?}"
    );
    assert!(out.contains("FreeSWITCH event names this channel's SIP Call-ID"));
    assert!(out.contains("bridged channels (Other-Leg-Unique-ID / Bridge-A/B-Unique-ID)"));
    // The A-leg's UUID ↔ Call-ID link is there, in full.
    assert!(out.contains(&call.a_uuid) && out.contains(&call.b_uuid));
}

#[test]
fn logs_toggle_log_lines() {
    let (call, trace) = first_call();
    let agent = fake_agent(ServerOptions::default());
    let logs = trace.records.iter().filter(|r| r.kind == "log").count();
    assert!(logs > 10);
    let without = stdout(&callweave(&[
        "trace",
        &call.a_call_id,
        "--agent",
        &agent.url(),
    ]));
    assert_eq!(without.lines().filter(|l| l.contains(" # [")).count(), 0);
    assert!(without.contains(&format!("({logs} log lines not shown")));
    let with = stdout(&callweave(&[
        "trace",
        &call.a_call_id,
        "--agent",
        &agent.url(),
        "--logs",
    ]));
    let log_lines: Vec<&str> = with.lines().filter(|l| l.contains(" # ")).collect();
    assert_eq!(log_lines.len(), logs);
    assert!(
        log_lines
            .iter()
            .any(|l| l.contains("# [INFO] sofia.c:") && l.contains("receiving invite")),
        "{log_lines:?}"
    );
    let offsets: Vec<f64> = timeline(&with).iter().map(|x| offset_of(x)).collect();
    assert_eq!(offsets.len(), trace.records.len());
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn unknown_id_is_a_clear_error() {
    let agent = fake_agent(ServerOptions::default());
    let o = callweave(&["trace", "nope/50%@x", "--agent", &agent.url()]);
    assert!(!o.status.success());
    assert!(o.stdout.is_empty());
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(err, "error: no call found for nope/50%@x\n");
    // One path segment, percent-encoded.
    assert_eq!(
        agent.seen()[0].target,
        "/api/v1/trace/nope%2F50%25@x?offset=0&limit=1000"
    );
}

#[test]
fn agent_down_is_one_clear_line() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    for args in [vec!["trace", "1-4274@127.0.0.1"], vec!["calls"]] {
        let mut args = args.clone();
        args.extend(["--agent", &url]);
        let o = callweave(&args);
        assert!(!o.status.success());
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!(
                "error: cannot reach the callweave agent at {url}/: "
            )),
            "{err}"
        );
        assert!(err.to_lowercase().contains("refused"), "{err}");
    }
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let (call, _) = first_call();
    let agent = fake_agent(ServerOptions::default());
    for format in ["text", "json"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_callweave"))
            .args(["trace", &call.a_call_id, "--agent", &agent.url(), "--logs"])
            .args(["--format", format])
            .env_remove("CALLWEAVE_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before the trace is fetched: every write is EPIPE.
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "{format}: {:?} {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn pagination_fetches_every_page() {
    let (call, trace) = first_call();
    let total = trace.records.len();
    // The server serves at most 40 records a page, whatever is asked.
    let agent = fake_agent(ServerOptions {
        page_max: Some(40),
        ..ServerOptions::default()
    });
    let out = stdout(&callweave(&[
        "trace",
        &call.a_call_id,
        "--agent",
        &agent.url(),
        "--format",
        "json",
    ]));
    let got: TraceResponse = serde_json::from_str(&out).unwrap();
    assert_eq!(got.records, trace.records);
    assert_eq!(
        got.page,
        Page {
            offset: 0,
            limit: total,
            total
        }
    );
    let offsets: Vec<String> = agent.seen().iter().map(|s| s.target.clone()).collect();
    assert_eq!(offsets.len(), total.div_ceil(40), "{offsets:?}");
    assert!(
        offsets[1].ends_with(&format!("?offset=40&limit={}", total - 40)),
        "{offsets:?}"
    );

    // Client-side page size; a cap shows how many records are left.
    let agent = fake_agent(ServerOptions::default());
    let out = stdout(&callweave(&[
        "trace",
        &call.a_call_id,
        "--agent",
        &agent.url(),
        "--page-size",
        "25",
        "--limit",
        "60",
        "--logs",
    ]));
    let targets: Vec<String> = agent.seen().iter().map(|s| s.target.clone()).collect();
    assert_eq!(
        targets
            .iter()
            .map(|t| t.split_once('?').unwrap().1)
            .collect::<Vec<_>>(),
        [
            "offset=0&limit=25",
            "offset=25&limit=25",
            "offset=50&limit=10"
        ]
    );
    assert!(
        out.contains(&format!(
            "\n{} more records (use --all or --limit N)\n",
            total - 60
        )),
        "{out}"
    );
    assert_eq!(timeline(&out).len(), 60, "{out}");

    // --all takes everything.
    let agent = fake_agent(ServerOptions::default());
    let out = stdout(&callweave(&[
        "trace",
        &call.a_call_id,
        "--agent",
        &agent.url(),
        "--page-size",
        "100",
        "--all",
    ]));
    assert!(!out.contains("more records"));
    assert_eq!(agent.seen().len(), total.div_ceil(100));
}

#[test]
fn bearer_token_from_the_environment() {
    let (call, _) = first_call();
    let agent = fake_agent(ServerOptions {
        token: Some("s3cret".into()),
        ..ServerOptions::default()
    });
    let args = ["trace", call.a_call_id.as_str(), "--agent", &agent.url()];
    let o = callweave(&args);
    assert!(!o.status.success());
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains("requires a bearer token: set CALLWEAVE_TOKEN"),
        "{err}"
    );

    stdout(&callweave_env(&args, &[("CALLWEAVE_TOKEN", "s3cret")]));
    let mut with_var = args.to_vec();
    with_var.extend(["--token-env", "MY_TOKEN"]);
    stdout(&callweave_env(&with_var, &[("MY_TOKEN", "s3cret")]));
    let o = callweave_env(&with_var, &[("MY_TOKEN", "wrong")]);
    assert!(
        String::from_utf8(o.stderr)
            .unwrap()
            .contains("refused the bearer token")
    );
    let o = callweave(&with_var);
    assert!(
        String::from_utf8(o.stderr)
            .unwrap()
            .contains("the environment variable MY_TOKEN is not set")
    );
    assert!(
        agent
            .seen()
            .iter()
            .any(|s| s.authorization.as_deref() == Some("Bearer s3cret"))
    );
}

#[test]
fn colour_only_when_forced_off_is_absent_and_wide_shows_full_uuids() {
    let (call, _) = first_call();
    let agent = fake_agent(ServerOptions::default());
    let out = stdout(&callweave(&[
        "trace",
        &call.a_call_id,
        "--agent",
        &agent.url(),
        "--wide",
    ]));
    assert!(out.contains(&call.a_uuid) && out.contains(&call.b_uuid));
    // Narrow terminal: long Call-IDs are cut in the table, lines stay bounded.
    let out = stdout(&callweave_env(
        &["trace", &call.a_call_id, "--agent", &agent.url()],
        &[("COLUMNS", "100")],
    ));
    let row_b = out.lines().find(|l| l.starts_with("B ")).unwrap();
    assert!(
        row_b.contains('…') && !row_b.contains(&call.b_call_id),
        "{row_b}"
    );
    assert!(row_b.contains(&call.b_call_id[..8]));
    let l = ladder(&out);
    assert!(l.lines.iter().all(|x| x.chars().count() <= 100), "{out}");
}

#[test]
fn calls_lists_the_real_calls_newest_first() {
    let f = fixture();
    let agent = fake_agent(ServerOptions::default());
    let out = stdout(&callweave(&["calls", "--agent", &agent.url()]));
    let pos: Vec<usize> = f
        .calls
        .iter()
        .map(|c| out.find(&c.a_call_id).unwrap())
        .collect();
    // calls.tsv lists call 1 first; the table shows call 5 first.
    assert!(pos.windows(2).all(|w| w[0] > w[1]), "{out}");
    assert!(out.lines().next().unwrap().starts_with("start (UTC)"));
    assert!(out.contains("2026-11-26 03:24:30") && out.contains("answered"));
    assert!(out.contains("\n5 calls\n"));
    assert_eq!(agent.seen()[0].target, "/api/v1/calls?limit=50");

    let out = stdout(&callweave(&[
        "calls",
        "--agent",
        &agent.url(),
        "--format",
        "json",
        "--number",
        "1000",
        "--status",
        "no-answer",
        "--since",
        "2026-11-26 03:00",
        "--until",
        "1795663486000000",
        "--node",
        "fs-1",
        "--limit",
        "7",
    ]));
    let got: CallsResponse = serde_json::from_str(&out).unwrap();
    assert_eq!(got, f.list);
    assert_eq!(
        agent.seen()[1].target,
        "/api/v1/calls?number=1000&since=2026-11-26T03%3A00%3A00Z&until=2026-11-26T03%3A24%3A46Z&status=no-answer&node=fs-1&limit=7"
    );

    let o = callweave(&[
        "calls",
        "--agent",
        &agent.url(),
        "--since",
        "1h",
        "--until",
        "2h",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8(o.stderr).unwrap().contains("--since"));
    let o = callweave(&["calls", "--agent", &agent.url(), "--status", "bogus"]);
    assert_eq!(o.status.code(), Some(2), "clap usage error");
}
