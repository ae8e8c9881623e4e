//! Call scenarios from `testdata/calls/<name>/`, replayed through the correlation
//! engine: every input of a scenario becomes Records (with the test-only readers
//! of `common/`), all of them go through one `Correlator`, and the calls it builds
//! are compared with the scenario's `expected.json`. The format is documented in
//! `testdata/calls/README.md`; `crates/cli/tests/scenarios.rs` replays the same
//! directories through a running agent.
//!
//! Scenario directories are discovered, never listed: adding one runs it, and a
//! file the runner does not know fails the test instead of being ignored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use callweave_core::{CallSummary, Config, Correlator, Ident, Record, Role};
use serde::Deserialize;

const NOW: i64 = 1_800_000_000_000_000;
/// Node name given to HEP and log records (the cli runner's agent uses the same).
const NODE: &str = "test-node";

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

/// Inputs this runner cannot read; a scenario holding one must say so in
/// `scenario.json` (`engine_skip`).
const AGENT_ONLY_INPUTS: &[&str] = &["sip.pcap"];

// ---------------------------------------------------------------------------
// The scenario format (keep in sync with crates/cli/tests/scenarios.rs; both
// deny unknown fields, so a drift fails loudly).

/// `scenario.json`: per-scenario settings, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Where each input was copied from, relative to `testdata/` (checked byte
    /// for byte, so a scenario cannot drift from the fixture it cites).
    #[serde(default)]
    origins: BTreeMap<String, String>,
    /// Time zone of `freeswitch.log` timestamps (agent `[[fslog]] timezone`).
    #[serde(default)]
    log_timezone: Option<String>,
    /// Agent `[correlation] headers`.
    #[serde(default)]
    correlation_headers: Option<Vec<String>>,
    /// Why the engine runner cannot run this scenario.
    #[serde(default)]
    engine_skip: Option<String>,
}

/// `expected.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    /// What the scenario is, for people.
    #[allow(dead_code)]
    description: String,
    /// Number of calls the engine holds after every input (engine runner only).
    #[serde(default)]
    total_calls: Option<usize>,
    /// The calls that must be there.
    calls: Vec<ExpCall>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpCall {
    /// The call key.
    #[serde(default)]
    key: Option<String>,
    /// Call outcome: answered, busy, no-answer, cancelled, failed, in-progress.
    #[serde(default)]
    outcome: Option<String>,
    /// Legs that must be in the call.
    legs: Vec<ExpLeg>,
    /// The call has no leg besides `legs` (default true).
    #[serde(default = "yes")]
    exact_legs: bool,
    /// Links that must be in the call (a and b unordered).
    #[serde(default)]
    links: Vec<ExpLink>,
    /// Identifiers that must not be in the call (the ids of the other expected
    /// calls of the scenario are always forbidden too).
    #[serde(default)]
    absent: Vec<String>,
    /// A known engine bug this call's expectation exposes (kept failing).
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
    /// The leg's own outcome.
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

fn calls_dir() -> PathBuf {
    PathBuf::from(common::testdata("calls"))
}

struct Scenario {
    name: String,
    dir: PathBuf,
    /// Input file names, sorted.
    inputs: Vec<String>,
    settings: Settings,
    expected: Expected,
}

fn discover() -> Vec<Scenario> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(calls_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
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
// Inputs to Records.

/// UDP payloads of a classic pcap (Ethernet, IPv4), in file order.
fn pcap_udp_payloads(path: &Path) -> Vec<Vec<u8>> {
    let d = std::fs::read(path).unwrap();
    let le = match d[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] => false,
        _ => panic!("{}: not a classic pcap", path.display()),
    };
    let u32_at = |i: usize| {
        let b: [u8; 4] = d[i..i + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    assert_eq!(u32_at(20), 1, "{}: only Ethernet captures", path.display());
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= d.len() {
        let len = u32_at(i + 8) as usize;
        let frame = &d[i + 16..i + 16 + len];
        i += 16 + len;
        assert_eq!(&frame[12..14], &[0x08, 0x00], "IPv4 only");
        let ip = &frame[14..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        assert_eq!(ip[9], 17, "UDP only");
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        out.push(ip[ihl + 8..total].to_vec());
    }
    out
}

/// `hep.pcap`: the HEP datagrams, through the same reader as `hep_stream.bin`.
fn hep_pcap_records(scenario: &str, path: &Path) -> Vec<Record> {
    let mut stream = Vec::new();
    for p in pcap_udp_payloads(path) {
        assert!(
            p.starts_with(b"HEP3"),
            "{}: a UDP payload is not HEPv3",
            path.display()
        );
        stream.extend_from_slice(&p);
    }
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("scenario-{scenario}.hep"));
    std::fs::write(&tmp, &stream).unwrap();
    let records = common::hep_records(tmp.to_str().unwrap(), NODE);
    let _ = std::fs::remove_file(&tmp);
    records
}

fn records_of(s: &Scenario, input: &str) -> Vec<Record> {
    let path = s.dir.join(input);
    let p = path.to_str().unwrap();
    match input {
        "hep.pcap" => hep_pcap_records(&s.name, &path),
        "esl.json.raw" => common::esl_json_records(p),
        // The plain reader takes every `Event-Name:` block up to a blank line,
        // which is what both an inbound `text/event-plain` stream and an
        // outbound-mode dump are made of.
        "esl.plain.raw" | "esl_outbound.txt" => common::esl_plain_dump_records(p),
        "freeswitch.log" => common::log_records(p, NODE),
        other => panic!("scenario {}: the engine runner cannot read {other}", s.name),
    }
}

// ---------------------------------------------------------------------------
// Engine side.

fn observe(s: &CallSummary) -> Observed {
    let role = |r: Option<Role>| {
        r.map(|r| match r {
            Role::A => "A".to_owned(),
            Role::B => "B".to_owned(),
        })
    };
    let mut ids: BTreeSet<String> = s.idents.iter().map(|i| i.as_str().to_owned()).collect();
    let links = s
        .links
        .iter()
        .map(|l| {
            ids.insert(l.a.as_str().to_owned());
            ids.insert(l.b.as_str().to_owned());
            (
                l.a.as_str().to_owned(),
                l.b.as_str().to_owned(),
                l.rule.as_str().to_owned(),
            )
        })
        .collect();
    let legs = s
        .legs
        .iter()
        .map(|l| {
            let call_id = l.call_id.as_ref().map(|c| c.as_str().to_owned());
            let uuid = l.uuid.as_ref().map(|u| u.as_str().to_owned());
            ids.extend(call_id.iter().chain(&uuid).cloned());
            ObsLeg {
                call_id,
                uuid,
                role: role(l.role),
                status: l.sip_status,
                hangup_cause: l.hangup_cause.clone(),
                from: l.from.clone(),
                to: l.to.clone(),
                answered: l.answered.is_some(),
                outcome: l.outcome.as_str().to_owned(),
            }
        })
        .collect();
    Observed {
        key: s.key.as_str().to_owned(),
        outcome: s.outcome.as_str().to_owned(),
        legs,
        links,
        ids,
    }
}

fn lookup(c: &Correlator, id: &str) -> Option<CallSummary> {
    c.call_for(&Ident::Call(id.into()))
        .or_else(|| c.call_for(&Ident::Channel(id.into())))
}

/// Runs one scenario; returns its failures.
fn run_scenario(s: &Scenario) -> Vec<String> {
    let mut errs = Vec::new();
    let mut records = Vec::new();
    let mut counts = BTreeMap::new();
    for input in &s.inputs {
        let r = records_of(s, input);
        assert!(!r.is_empty(), "scenario {}: {input} gave no record", s.name);
        counts.insert(input.as_str(), r.len());
        records.extend(r);
    }
    println!("scenario {}: records {counts:?}", s.name);
    let mut c = Correlator::new(Config::default());
    for r in &records {
        c.ingest(r, NOW);
    }
    // SCENARIO_DUMP=1 prints what the engine built, to write a new expected.json
    // against (after checking every value against the fixture's own evidence).
    if std::env::var_os("SCENARIO_DUMP").is_some() {
        for call in c.calls() {
            let o = observe(&call);
            println!("  call {} outcome={}", o.key, o.outcome);
            for l in &o.legs {
                println!("    leg {l:?}");
            }
            for l in &o.links {
                println!("    link {l:?}");
            }
        }
    }
    if let Some(n) = s.expected.total_calls
        && c.active_calls() != n
    {
        let keys: Vec<String> = c.calls().map(|s| s.key.as_str().to_owned()).collect();
        errs.push(format!(
            "{} calls, expected {n}: {keys:?}",
            c.active_calls()
        ));
    }
    for (i, exp) in s.expected.calls.iter().enumerate() {
        let ids = exp.ids();
        let label = exp
            .key
            .clone()
            .unwrap_or_else(|| ids.iter().next().copied().unwrap_or("?").to_owned());
        let mut keys = BTreeMap::new();
        for id in &ids {
            match lookup(&c, id) {
                Some(found) => {
                    keys.insert(*id, found.key.as_str().to_owned());
                }
                None => errs.push(format!("call {label}: {id} is in no call")),
            }
        }
        let distinct: BTreeSet<&String> = keys.values().collect();
        if distinct.len() > 1 {
            errs.push(format!(
                "call {label}: its ids are in different calls: {keys:?}"
            ));
        }
        let Some(summary) = ids.iter().find_map(|id| lookup(&c, id)) else {
            continue;
        };
        let obs = observe(&summary);
        let found = check_call(exp, &obs, &forbidden_for(&s.expected, i));
        if let Some(bug) = exp.bug.as_ref().filter(|_| !found.is_empty()) {
            errs.push(format!("call {label}: known engine bug: {bug}"));
        }
        for e in found {
            errs.push(format!("call {label}: {e}"));
        }
    }
    errs
}

#[test]
fn every_scenario_through_the_engine() {
    let scenarios = discover();
    let mut report = String::new();
    let mut ran = 0;
    for s in &scenarios {
        let unreadable: Vec<&String> = s
            .inputs
            .iter()
            .filter(|i| AGENT_ONLY_INPUTS.contains(&i.as_str()))
            .collect();
        match (&s.settings.engine_skip, unreadable.is_empty()) {
            (Some(why), false) => {
                println!("scenario {}: agent runner only ({why})", s.name);
                continue;
            }
            (Some(why), true) => {
                let _ = writeln!(
                    report,
                    "scenario {}: engine_skip ({why}) but every input is readable here",
                    s.name
                );
                continue;
            }
            (None, false) => {
                let _ = writeln!(
                    report,
                    "scenario {}: {unreadable:?} needs the agent runner; set engine_skip",
                    s.name
                );
                continue;
            }
            (None, true) => {}
        }
        // The test readers know one log day in UTC and the X-CID header only.
        if s.inputs.iter().any(|i| i == "freeswitch.log") {
            assert_eq!(
                s.settings.log_timezone.as_deref().unwrap_or("UTC"),
                "UTC",
                "scenario {}: the engine's log reader reads UTC only",
                s.name
            );
        }
        assert!(
            s.settings.correlation_headers.is_none(),
            "scenario {}: correlation_headers need the agent runner (engine_skip)",
            s.name
        );
        ran += 1;
        let errs = run_scenario(s);
        if errs.is_empty() {
            println!("scenario {}: ok", s.name);
        } else {
            let _ = writeln!(report, "scenario {}:", s.name);
            for e in errs {
                let _ = writeln!(report, "  {e}");
            }
        }
    }
    assert!(ran >= 4, "only {ran} scenarios ran through the engine");
    assert!(report.is_empty(), "\n{report}");
}

#[test]
fn every_input_is_a_byte_for_byte_copy_of_its_origin() {
    for s in discover() {
        let named: Vec<&String> = s.settings.origins.keys().collect();
        assert_eq!(
            named,
            s.inputs.iter().collect::<Vec<_>>(),
            "scenario {}: scenario.json origins must name every input",
            s.name
        );
        for (input, origin) in &s.settings.origins {
            let copy = std::fs::read(s.dir.join(input)).unwrap();
            let orig = std::fs::read(common::testdata(origin))
                .unwrap_or_else(|e| panic!("scenario {}: origin {origin}: {e}", s.name));
            assert!(
                copy == orig,
                "scenario {}: {input} differs from {origin}",
                s.name
            );
        }
    }
}

#[test]
fn the_required_scenarios_are_there() {
    let names: BTreeSet<String> = discover().into_iter().map(|s| s.name).collect();
    for want in [
        "fs-bridged-5-calls",
        "fs-bleg-busy-486",
        "b2bua-xcallid-websocket",
        "esl-attended-transfer",
    ] {
        assert!(
            names.contains(want),
            "scenario {want} is missing: {names:?}"
        );
    }
}

#[test]
fn hep_pcap_reader_matches_the_recorded_hep_stream() {
    // hep.pcap and hep_stream.bin hold the same datagrams (freeswitch-live README);
    // the pcap path must give exactly the records the stream reader gives.
    let pcap = calls_dir().join("fs-bridged-5-calls/hep.pcap");
    let from_pcap = hep_pcap_records("reader-check", &pcap);
    let from_stream = common::hep_records(
        &common::testdata("freeswitch-live/01-bridged-callid-random/hep_stream.bin"),
        NODE,
    );
    assert_eq!(from_pcap.len(), 65);
    assert_eq!(from_pcap, from_stream);
}

#[test]
fn plain_and_json_esl_streams_give_the_same_events() {
    let dir = calls_dir();
    let plain = common::esl_plain_dump_records(
        dir.join("fs-bridged-plain-esl/esl.plain.raw")
            .to_str()
            .unwrap(),
    );
    let json = common::esl_json_records(
        dir.join("fs-bridged-5-calls/esl.json.raw")
            .to_str()
            .unwrap(),
    );
    assert_eq!(plain.len(), 232);
    assert_eq!(plain.len(), json.len());
    let names = |v: &[Record]| -> Vec<(i64, String)> {
        v.iter()
            .map(|r| match &r.kind {
                callweave_core::RecordKind::Channel(c) => (r.ts_micros, c.event_name.clone()),
                _ => unreachable!(),
            })
            .collect()
    };
    assert_eq!(names(&plain), names(&json));
}
