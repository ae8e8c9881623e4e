//! Call scenarios from `testdata/calls/<name>/`, replayed through a running agent:
//! for each scenario an agent starts on ephemeral loopback ports and is fed every
//! input the way a node feeds it — HEP and SIP captures by `callweave replay`,
//! event-socket streams by an in-process ESL server speaking the inbound
//! protocol, the FreeSWITCH log through `[[fslog]]` — then every expected call is
//! traced through `GET /api/v1/trace/{id}` by each of its ids and compared with
//! the scenario's `expected.json`. The format is documented in
//! `testdata/calls/README.md`; `crates/core/tests/scenarios.rs` replays the same
//! directories through the correlation engine alone.
//!
//! Scenario directories are discovered, never listed: adding one runs it, and a
//! file the runner does not know fails the test instead of being ignored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use callweave_agent::RunningAgent;
use callweave_agent::api::TraceResponse;
use callweave_agent::config::Config;
use serde::Deserialize;
use support::{callweave, find, http_get, serve_esl, sum, testdata, urlencode, wait_metrics};

/// Every file name a scenario directory may hold.
const KNOWN_FILES: &[&str] = &[
    "expected.json",
    "scenario.json",
    "hep.pcap",
    "sip.pcap",
    "esl.json.raw",
    "esl.plain.raw",
    "esl_outbound.txt",
    "freeswitch.log",
];

/// How long one scenario may take to ingest and to show its calls.
const DEADLINE: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------
// The scenario format (keep in sync with crates/core/tests/scenarios.rs; both
// deny unknown fields, so a drift fails loudly).

/// `scenario.json`: per-scenario settings, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Where each input was copied from (checked by the engine runner).
    #[serde(default)]
    #[allow(dead_code)]
    origins: BTreeMap<String, String>,
    /// Time zone of `freeswitch.log` timestamps (agent `[[fslog]] timezone`).
    #[serde(default)]
    log_timezone: Option<String>,
    /// Agent `[correlation] headers`.
    #[serde(default)]
    correlation_headers: Option<Vec<String>>,
    /// Why the engine runner cannot run this scenario (this runner runs it anyway).
    #[serde(default)]
    #[allow(dead_code)]
    engine_skip: Option<String>,
}

/// `expected.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    /// What the scenario is, for people.
    #[allow(dead_code)]
    description: String,
    /// Number of calls the engine holds after every input (engine runner only:
    /// the agent's call list fills only as calls leave memory).
    #[serde(default)]
    #[allow(dead_code)]
    total_calls: Option<usize>,
    /// The calls that must be there.
    calls: Vec<ExpCall>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpCall {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
    legs: Vec<ExpLeg>,
    #[serde(default = "yes")]
    exact_legs: bool,
    #[serde(default)]
    links: Vec<ExpLink>,
    #[serde(default)]
    absent: Vec<String>,
    #[serde(default)]
    bug: Option<String>,
}

fn yes() -> bool {
    true
}

/// Absent key: not checked. `null`: must be unknown. A value: must equal.
type Check<T> = Option<Option<T>>;

fn nullable<'de, D, T>(d: D) -> Result<Check<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpLeg {
    #[serde(default, deserialize_with = "nullable")]
    call_id: Check<String>,
    #[serde(default, deserialize_with = "nullable")]
    uuid: Check<String>,
    #[serde(default, deserialize_with = "nullable")]
    role: Check<String>,
    #[serde(default, deserialize_with = "nullable")]
    status: Check<u16>,
    #[serde(default, deserialize_with = "nullable")]
    hangup_cause: Check<String>,
    #[serde(default, deserialize_with = "nullable")]
    from: Check<String>,
    #[serde(default, deserialize_with = "nullable")]
    to: Check<String>,
    #[serde(default)]
    answered: Option<bool>,
    #[serde(default)]
    outcome: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpLink {
    a: String,
    b: String,
    rule: String,
}

impl ExpLeg {
    fn ids(&self) -> impl Iterator<Item = &str> {
        [&self.call_id, &self.uuid]
            .into_iter()
            .filter_map(|v| v.as_ref().and_then(|v| v.as_deref()))
    }
}

impl ExpCall {
    fn ids(&self) -> BTreeSet<&str> {
        self.legs
            .iter()
            .flat_map(ExpLeg::ids)
            .chain(self.key.as_deref())
            .collect()
    }
}

/// What a runner observed for one call, in the scenario's vocabulary.
#[derive(Debug)]
struct Observed {
    key: String,
    outcome: String,
    legs: Vec<ObsLeg>,
    /// (a, b, rule).
    links: Vec<(String, String, String)>,
    /// Every identifier the call carries anywhere.
    ids: BTreeSet<String>,
}

#[derive(Debug)]
struct ObsLeg {
    call_id: Option<String>,
    uuid: Option<String>,
    role: Option<String>,
    status: Option<u16>,
    hangup_cause: Option<String>,
    from: Option<String>,
    to: Option<String>,
    answered: bool,
    outcome: String,
}

fn check_field<T: PartialEq + std::fmt::Debug>(
    errs: &mut Vec<String>,
    leg: &str,
    name: &str,
    want: &Check<T>,
    got: &Option<T>,
) {
    if let Some(want) = want
        && want != got
    {
        errs.push(format!("leg {leg}: {name} is {got:?}, expected {want:?}"));
    }
}

/// Compares one observed call with its expectation; returns what differs.
fn check_call(exp: &ExpCall, obs: &Observed, forbidden: &BTreeSet<&str>) -> Vec<String> {
    let mut errs = Vec::new();
    if let Some(key) = &exp.key
        && *key != obs.key
    {
        errs.push(format!("call key is {:?}, expected {key:?}", obs.key));
    }
    if let Some(outcome) = &exp.outcome
        && *outcome != obs.outcome
    {
        errs.push(format!(
            "outcome is {:?}, expected {outcome:?}",
            obs.outcome
        ));
    }
    let mut matched = BTreeSet::new();
    for want in &exp.legs {
        let name = want.ids().collect::<Vec<_>>().join(" / ");
        let found = obs.legs.iter().position(|l| {
            let eq = |w: &Check<String>, g: &Option<String>| match w {
                Some(Some(w)) => g.as_deref() == Some(w.as_str()),
                _ => true,
            };
            eq(&want.call_id, &l.call_id) && eq(&want.uuid, &l.uuid)
        });
        let Some(i) = found else {
            errs.push(format!("leg {name}: missing"));
            continue;
        };
        matched.insert(i);
        let got = &obs.legs[i];
        check_field(&mut errs, &name, "call_id", &want.call_id, &got.call_id);
        check_field(&mut errs, &name, "uuid", &want.uuid, &got.uuid);
        check_field(&mut errs, &name, "role", &want.role, &got.role);
        check_field(&mut errs, &name, "status", &want.status, &got.status);
        check_field(
            &mut errs,
            &name,
            "hangup_cause",
            &want.hangup_cause,
            &got.hangup_cause,
        );
        check_field(&mut errs, &name, "from", &want.from, &got.from);
        check_field(&mut errs, &name, "to", &want.to, &got.to);
        if let Some(a) = want.answered
            && a != got.answered
        {
            errs.push(format!(
                "leg {name}: answered is {}, expected {a}",
                got.answered
            ));
        }
        if let Some(o) = &want.outcome
            && *o != got.outcome
        {
            errs.push(format!(
                "leg {name}: outcome is {:?}, expected {o:?}",
                got.outcome
            ));
        }
    }
    if exp.exact_legs && obs.legs.len() != exp.legs.len() {
        let extra: Vec<_> = obs
            .legs
            .iter()
            .enumerate()
            .filter(|(i, _)| !matched.contains(i))
            .map(|(_, l)| (l.call_id.as_deref(), l.uuid.as_deref()))
            .collect();
        errs.push(format!(
            "{} legs, expected {}; unexpected legs (call_id, uuid): {extra:?}",
            obs.legs.len(),
            exp.legs.len()
        ));
    }
    for l in &exp.links {
        let present = obs.links.iter().any(|(a, b, rule)| {
            *rule == l.rule && ((*a == l.a && *b == l.b) || (*a == l.b && *b == l.a))
        });
        if !present {
            errs.push(format!("link {} --{}-- {} missing", l.a, l.rule, l.b));
        }
    }
    for id in forbidden {
        if obs.ids.contains(*id) {
            errs.push(format!("{id} must not be in this call but is"));
        }
    }
    errs
}

/// Ids that must not be in call `i`: its `absent` list and every other call's ids.
fn forbidden_for(exp: &Expected, i: usize) -> BTreeSet<&str> {
    let mine = exp.calls[i].ids();
    let mut out: BTreeSet<&str> = exp.calls[i].absent.iter().map(String::as_str).collect();
    for (j, other) in exp.calls.iter().enumerate() {
        if j != i {
            out.extend(other.ids().into_iter().filter(|id| !mine.contains(id)));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Discovery.

struct Scenario {
    name: String,
    dir: PathBuf,
    inputs: Vec<String>,
    settings: Settings,
    expected: Expected,
}

fn discover() -> Vec<Scenario> {
    let root = testdata("calls");
    let mut entries: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut out = Vec::new();
    for path in entries {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if path.is_file() {
            assert_eq!(name, "README.md", "unexpected file testdata/calls/{name}");
            continue;
        }
        let mut files: Vec<String> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        for f in &files {
            assert!(
                KNOWN_FILES.contains(&f.as_str()),
                "scenario {name}: unknown file {f:?} (known: {KNOWN_FILES:?})"
            );
        }
        let expected: Expected = serde_json::from_slice(
            &std::fs::read(path.join("expected.json"))
                .unwrap_or_else(|e| panic!("scenario {name}: expected.json: {e}")),
        )
        .unwrap_or_else(|e| panic!("scenario {name}: expected.json: {e}"));
        let settings: Settings = match std::fs::read(path.join("scenario.json")) {
            Ok(b) => serde_json::from_slice(&b)
                .unwrap_or_else(|e| panic!("scenario {name}: scenario.json: {e}")),
            Err(_) => Settings::default(),
        };
        let inputs: Vec<String> = files
            .into_iter()
            .filter(|f| f != "expected.json" && f != "scenario.json")
            .collect();
        assert!(!inputs.is_empty(), "scenario {name}: no input file");
        assert!(
            !expected.calls.is_empty(),
            "scenario {name}: no expected call"
        );
        for c in &expected.calls {
            assert!(
                c.legs.iter().all(|l| l.ids().next().is_some()),
                "scenario {name}: every expected leg needs a call_id or a uuid"
            );
        }
        out.push(Scenario {
            name,
            dir: path,
            inputs,
            settings,
            expected,
        });
    }
    out
}

// ---------------------------------------------------------------------------
// Feeding the agent.

/// The event frames of an ESL input, byte for byte, and how many there are.
fn esl_frames(input: &str, bytes: &[u8]) -> (Vec<u8>, usize) {
    match input {
        // An inbound session recording: auth/request and two command/replies
        // (no body), then only Content-Length framed events.
        "esl.json.raw" | "esl.plain.raw" => {
            let start = find(bytes, b"Content-Length:").unwrap();
            let events = bytes[start..].to_vec();
            let n = count(&events, b"Content-Type: text/event-");
            (events, n)
        }
        // An outbound-mode session: the `connect` reply (CHANNEL_DATA without
        // framing), command/replies and api/responses interleaved with the
        // events. Keep only the `text/event-plain` frames, exactly as recorded;
        // an inbound server sends nothing else after the subscription.
        "esl_outbound.txt" => {
            let mut out = Vec::new();
            let mut n = 0;
            let mut i = 0;
            while let Some(at) = find(&bytes[i..], b"Content-Length: ") {
                let start = i + at;
                let head_end = start + find(&bytes[start..], b"\n\n").unwrap() + 2;
                let head = std::str::from_utf8(&bytes[start..head_end]).unwrap();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .unwrap()
                    .parse()
                    .unwrap();
                let end = head_end + len;
                // A frame whose headers start with Content-Type (api/response)
                // was matched from its second line: it is not an event anyway.
                if head.contains("Content-Type: text/event-plain")
                    && (start == 0 || bytes[start - 1] == b'\n')
                {
                    out.extend_from_slice(&bytes[start..end]);
                    n += 1;
                }
                i = end;
            }
            (out, n)
        }
        other => panic!("{other} is not an ESL input"),
    }
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// What the agent must have taken in before its traces are final.
#[derive(Debug, Default)]
struct Fed {
    hep_packets: f64,
    esl_frames: f64,
    log_lines: f64,
}

/// Starts an agent for one scenario: ephemeral loopback ports, ESL servers and
/// log files wired in. The retention is long because some fixtures are years
/// old and the store drops what is already past retention.
async fn start_agent(s: &Scenario, work: &Path, fed: &mut Fed) -> RunningAgent {
    let mut extra = String::new();
    if let Some(h) = &s.settings.correlation_headers {
        let _ = writeln!(extra, "[correlation]\nheaders = {h:?}");
    }
    for input in &s.inputs {
        let path = s.dir.join(input);
        match input.as_str() {
            "hep.pcap" | "sip.pcap" => {}
            "esl.json.raw" | "esl.plain.raw" | "esl_outbound.txt" => {
                let format = if input == "esl.json.raw" {
                    "json"
                } else {
                    "plain"
                };
                let (events, n) = esl_frames(input, &std::fs::read(&path).unwrap());
                assert!(n > 0, "scenario {}: {input} has no event frame", s.name);
                fed.esl_frames += n as f64;
                let addr = serve_esl(events, format, None);
                let _ = writeln!(
                    extra,
                    "[[esl]]\naddress = \"{addr}\"\npassword = \"ClueCon\"\nformat = \"{format}\""
                );
            }
            "freeswitch.log" => {
                // A copy: the tailer only reads, but a scenario input stays pristine.
                let copy = work.join("freeswitch.log");
                std::fs::copy(&path, &copy).unwrap();
                let bytes = std::fs::read(&copy).unwrap();
                fed.log_lines += count(&bytes, b"\n") as f64;
                let tz = s.settings.log_timezone.as_deref().unwrap_or("UTC");
                let _ = writeln!(
                    extra,
                    "[[fslog]]\npath = {:?}\ntimezone = \"{tz}\"\nfrom_beginning = true",
                    copy.display().to_string()
                );
            }
            other => panic!("scenario {}: no way to feed {other} to the agent", s.name),
        }
    }
    let toml = format!(
        "[hep]\nudp = [\"127.0.0.1:0\"]\ntcp = [\"127.0.0.1:0\"]\n\
         [http]\nlisten = \"127.0.0.1:0\"\n\
         [store]\ndata_dir = {:?}\nretention = \"36500d\"\n\
         [node]\nname = \"test-node\"\n{extra}",
        work.join("data").display().to_string()
    );
    let settings = Config::from_toml(&toml).unwrap().build().unwrap();
    callweave_agent::start(settings).await.unwrap()
}

/// Replays the scenario's captures into the agent; returns the HEP packets sent.
async fn replay_captures(s: &Scenario, agent: &RunningAgent) -> f64 {
    let mut sent = 0.0;
    for input in s.inputs.iter().filter(|i| i.ends_with(".pcap")) {
        let path = s.dir.join(input).to_str().unwrap().to_owned();
        let to = format!("udp://{}", agent.hep_udp[0]);
        let out = tokio::task::spawn_blocking(move || {
            callweave(&["replay", &path, "--to", &to, "--no-progress"])
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        // "<file>: sent N SIP messages as HEPv3 and forwarded M HEP packets to …"
        let num = |after: &str| -> f64 {
            stdout
                .split(after)
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("scenario {}: replay said {stdout}", s.name))
        };
        let (sip, hep) = (num("sent "), num("and forwarded "));
        // A hep.pcap is forwarded as is; a sip.pcap is wrapped in HEPv3.
        let ok = match input.as_str() {
            "hep.pcap" => sip == 0.0 && hep > 0.0,
            _ => hep == 0.0 && sip > 0.0,
        };
        assert!(ok, "scenario {}: {input}: {stdout}", s.name);
        let n = sip + hep;
        sent += n;
    }
    sent
}

/// Waits until every input is taken in and the index has committed after it.
async fn wait_ingested(s: &Scenario, agent: &RunningAgent, fed: &Fed) -> Result<(), String> {
    let m = wait_metrics(agent.http, DEADLINE, |m| {
        sum(m, "callweave_hep_packets_total", &[]) >= fed.hep_packets
            && sum(m, "callweave_esl_events_total", &[])
                + sum(m, "callweave_esl_skipped_frames_total", &[])
                >= fed.esl_frames
            && sum(m, "callweave_fslog_lines_total", &[]) >= fed.log_lines
            && sum(m, "callweave_indexed_records_total", &[])
                >= sum(m, "callweave_records_total", &[])
            && sum(m, "callweave_pipeline_queue_depth", &[]) == 0.0
    })
    .await;
    let got = (
        sum(&m, "callweave_hep_packets_total", &[]),
        sum(&m, "callweave_esl_events_total", &[]),
        sum(&m, "callweave_esl_skipped_frames_total", &[]),
        sum(&m, "callweave_fslog_lines_total", &[]),
    );
    if got.0 < fed.hep_packets || got.1 + got.2 < fed.esl_frames || got.3 < fed.log_lines {
        return Err(format!(
            "inputs not taken in: {fed:?}; agent counted hep={} esl={}+{} skipped, log lines={}",
            got.0, got.1, got.2, got.3
        ));
    }
    if got.2 > 0.0 {
        return Err(format!("{} ESL frames skipped by the agent", got.2));
    }
    if sum(&m, "callweave_hep_decode_errors_total", &[]) > 0.0 {
        return Err("HEP decode errors".to_owned());
    }
    // Records are searchable once the next commit (about a second) is visible
    // to queries (the reload thread makes it so, just after).
    let commits = sum(&m, "callweave_index_commit_seconds_count", &[]);
    let m = wait_metrics(agent.http, Duration::from_secs(3), |m| {
        sum(m, "callweave_index_commit_seconds_count", &[]) > commits
    })
    .await;
    let committed = sum(&m, "callweave_index_commit_seconds_count", &[]);
    wait_metrics(agent.http, Duration::from_secs(3), |m| {
        sum(m, "callweave_index_searchable_commits_total", &[]) >= committed
    })
    .await;
    println!("scenario {}: fed {fed:?}", s.name);
    Ok(())
}

// ---------------------------------------------------------------------------
// Reading traces.

async fn get_trace(http: SocketAddr, id: &str) -> Result<TraceResponse, String> {
    let path = format!("/api/v1/trace/{}", urlencode(id));
    let (status, body) = tokio::task::spawn_blocking(move || http_get(http, &path))
        .await
        .unwrap();
    if status != 200 {
        return Err(format!("trace {id}: HTTP {status} {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("trace {id}: {e}: {body}"))
}

fn observe(t: &TraceResponse) -> Observed {
    let mut ids = BTreeSet::new();
    let legs = t
        .legs
        .iter()
        .map(|l| {
            ids.extend(l.call_id.iter().chain(&l.uuid).cloned());
            ObsLeg {
                call_id: l.call_id.clone(),
                uuid: l.uuid.clone(),
                role: l.role.clone(),
                status: l.status,
                hangup_cause: l.hangup_cause.clone(),
                from: l.from.clone(),
                to: l.to.clone(),
                answered: l.answer.is_some(),
                outcome: l.outcome.clone(),
            }
        })
        .collect();
    let links = t
        .links
        .iter()
        .map(|l| {
            ids.insert(l.a.clone());
            ids.insert(l.b.clone());
            (l.a.clone(), l.b.clone(), l.rule.clone())
        })
        .collect();
    for r in &t.records {
        ids.extend(r.call_id.iter().chain(&r.uuid).cloned());
    }
    Observed {
        key: t.call.clone(),
        outcome: t.outcome.clone(),
        legs,
        links,
        ids,
    }
}

/// Traces `id` until the call matches or the deadline passes; returns what
/// still differs.
async fn check_by(
    http: SocketAddr,
    id: &str,
    exp: &ExpCall,
    forbidden: &BTreeSet<&str>,
    deadline: Instant,
) -> Vec<String> {
    loop {
        let errs = match get_trace(http, id).await {
            Ok(t) => check_call(exp, &observe(&t), forbidden),
            Err(e) => vec![e],
        };
        if errs.is_empty() || Instant::now() > deadline {
            return errs;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs one scenario against a fresh agent; returns its failures.
async fn run_scenario(s: &Scenario) -> Vec<String> {
    let work = tempfile::tempdir().unwrap();
    let mut fed = Fed::default();
    let agent = start_agent(s, work.path(), &mut fed).await;
    fed.hep_packets = replay_captures(s, &agent).await;
    let mut errs = Vec::new();
    if let Err(e) = wait_ingested(s, &agent, &fed).await {
        errs.push(e);
    }
    let deadline = Instant::now() + DEADLINE;
    for (i, exp) in s.expected.calls.iter().enumerate() {
        let forbidden = forbidden_for(&s.expected, i);
        let label = exp
            .key
            .clone()
            .unwrap_or_else(|| exp.ids().iter().next().copied().unwrap_or("?").to_owned());
        // The same call, whichever of its ids it is looked up by. A difference
        // seen by every id is reported once.
        let ids = exp.ids();
        let mut found: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for id in &ids {
            for e in check_by(agent.http, id, exp, &forbidden, deadline).await {
                found.entry(e).or_default().push(id);
            }
        }
        if let Some(bug) = exp.bug.as_ref().filter(|_| !found.is_empty()) {
            errs.push(format!("call {label}: known engine bug: {bug}"));
        }
        for (e, by) in found {
            let by = if by.len() == ids.len() {
                "every id".to_owned()
            } else {
                by.join(", ")
            };
            errs.push(format!("call {label}: {e} [traced by {by}]"));
        }
    }
    agent.shutdown().await;
    errs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_through_the_agent() {
    let scenarios = discover();
    assert!(scenarios.len() >= 4, "{} scenarios", scenarios.len());
    let mut report = String::new();
    let mut times = BTreeMap::new();
    for s in &scenarios {
        let started = Instant::now();
        let errs = run_scenario(s).await;
        times.insert(s.name.as_str(), started.elapsed().as_millis());
        if errs.is_empty() {
            println!("scenario {}: ok", s.name);
        } else {
            let _ = writeln!(report, "scenario {}:", s.name);
            for e in errs {
                let _ = writeln!(report, "  {e}");
            }
        }
    }
    println!("time per scenario (ms): {times:?}");
    assert!(report.is_empty(), "\n{report}");
}

#[test]
fn outbound_dump_frames_are_the_recorded_events() {
    // Example6 holds 78 text/event-plain frames besides the connect reply; each
    // one kept must be a whole frame that the esl crate decodes as an event.
    let path = testdata("calls/esl-attended-transfer/esl_outbound.txt");
    let (bytes, n) = esl_frames("esl_outbound.txt", &std::fs::read(path).unwrap());
    assert_eq!(n, 78);
    assert_eq!(count(&bytes, b"Content-Type: text/event-plain"), 78);
    assert_eq!(count(&bytes, b"\n\nEvent-Name: "), 78);
    assert!(!bytes.windows(13).any(|w| w == b"command/reply"));
}
