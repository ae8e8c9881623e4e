//! The parser and assembler over every real log in `testdata/`.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use callweave_fslog::{Anchor, Assembler, Entry, Level, LogClock, Shape, parse_line};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/");

const ALL: &[&str] = &[
    "fslog/fail2ban_freeswitch_formats.log",
    "fslog/fs1.10_uuidprefix_idlecpu_trick12138.log",
    "fslog/fs1.6.14_uuidprefix_siptrace_seanherbert.log",
    "freeswitch-live/freeswitch-startup.log",
    "freeswitch-live/01-bridged-callid-random/freeswitch.log",
    "freeswitch-live/03-bleg-busy-486/freeswitch.log",
];

fn read(rel: &str) -> String {
    String::from_utf8(std::fs::read(format!("{DIR}{rel}")).unwrap()).unwrap()
}

fn assemble(text: &str) -> (Vec<Entry>, Assembler) {
    let mut asm = Assembler::new(LogClock::utc());
    let mut out: Vec<Entry> = text.lines().filter_map(|l| asm.push(l)).collect();
    out.extend(asm.flush());
    (out, asm)
}

/// Every line is an entry start or a continuation line; nothing is lost.
#[test]
fn every_line_is_accounted_for() {
    let mut expected = BTreeMap::new();
    expected.insert("fslog/fail2ban_freeswitch_formats.log", 31);
    expected.insert("fslog/fs1.10_uuidprefix_idlecpu_trick12138.log", 2844);
    expected.insert("fslog/fs1.6.14_uuidprefix_siptrace_seanherbert.log", 438);
    expected.insert("freeswitch-live/freeswitch-startup.log", 488);
    expected.insert(
        "freeswitch-live/01-bridged-callid-random/freeswitch.log",
        902,
    );
    expected.insert("freeswitch-live/03-bleg-busy-486/freeswitch.log", 387);
    for rel in ALL {
        let text = read(rel);
        let lines = text.lines().count();
        assert_eq!(lines, expected[rel], "{rel}");
        let (entries, asm) = assemble(&text);
        let st = asm.stats();
        let continuation: usize = entries.iter().map(|e| e.continuation.len()).sum();
        assert_eq!(st.lines as usize, lines, "{rel}");
        assert_eq!(st.entries as usize, entries.len(), "{rel}");
        assert_eq!(st.dropped_lines, 0, "{rel}");
        assert_eq!(entries.len() + continuation, lines, "{rel}");
        assert_eq!(
            entries.iter().map(Entry::line_count).sum::<usize>(),
            lines,
            "{rel}"
        );
        assert_eq!(st.bad_timestamps, 0, "{rel}");
    }
}

fn shapes(text: &str) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for l in text.lines() {
        let p = parse_line(l);
        let k = match (p.shape, p.uuid.is_some(), p.syslog.is_some()) {
            (Shape::Full, _, true) => "syslog",
            (Shape::Full, true, _) => "A",
            (Shape::Full, false, _) => "B",
            (Shape::Clean, ..) => "C",
            (Shape::Bare, ..) => "D",
        };
        *m.entry(k).or_default() += 1;
    }
    m
}

#[test]
fn line_shapes_per_file() {
    // Counts cross-checked with grep: A = /^<uuid> \d{4}-/, C = other
    // /^<uuid> /, B = /^\d{4}-\d\d-\d\d \d\d:/ (minus syslog), D = the rest.
    let live = shapes(&read(
        "freeswitch-live/01-bridged-callid-random/freeswitch.log",
    ));
    assert_eq!(live.get("B"), None);
    assert_eq!(live.get("D"), None);
    assert_eq!(live["A"] + live["C"], 902);
    let startup = shapes(&read("freeswitch-live/freeswitch-startup.log"));
    assert_eq!(startup.get("A"), None);
    assert_eq!(startup.get("C"), None);
    let f2b = shapes(&read("fslog/fail2ban_freeswitch_formats.log"));
    assert_eq!(f2b["syslog"], 3);
    assert_eq!(f2b["B"], 6);
    // 13 comments, 7 blank lines and the two `08-03 … [WARN] [SOFIA]` lines.
    assert_eq!(f2b["D"], 22);
}

#[test]
fn real_field_values() {
    let text = read("fslog/fs1.6.14_uuidprefix_siptrace_seanherbert.log");
    let first = parse_line(text.lines().nth(1).unwrap());
    assert_eq!(first.uuid, Some("387e5499-3e6c-4840-a651-ba45e4a99dbc"));
    assert_eq!(first.idle_cpu, None);
    assert_eq!(first.level, Some(Level::Notice));
    assert_eq!(first.file, Some("switch_channel.c"));
    assert_eq!(first.line, Some(1104));
    assert_eq!(first.time.unwrap().micros, 445_691);
    assert_eq!(
        first.anchor(),
        Some(Anchor::NewChannel {
            channel: "sofia/external/",
            uuid: "387e5499-3e6c-4840-a651-ba45e4a99dbc"
        })
    );

    let (entries, _) = assemble(&text);
    // The sofia trace block of the first INVITE, with its SDP.
    let invite = entries
        .iter()
        .find(|e| {
            e.message
                .starts_with("send 1429 bytes to udp/[65.254.44.194]:5060")
        })
        .unwrap();
    assert_eq!(invite.shape, Shape::Bare);
    assert!(invite.time_inherited);
    assert_eq!(
        invite.time.unwrap().to_string(),
        "2019-12-28 04:01:36.445691"
    );
    assert_eq!(invite.continuation[1], "   INVITE sip:@gw.sip.us SIP/2.0");
    assert!(
        invite
            .continuation
            .iter()
            .any(|l| l == "   Call-ID: 958f46bd-a3c9-1238-8dbc-0a054162876a")
    );
    assert!(invite.continuation.last().unwrap().starts_with("   ----"));
    // `Local SDP:` (LOG_CLEAN) owns the 24 SDP lines and the blank one.
    let sdp = entries.iter().find(|e| e.message == "Local SDP:").unwrap();
    assert_eq!(sdp.shape, Shape::Clean);
    assert_eq!(sdp.continuation.len(), 25);
    assert_eq!(sdp.continuation[0], "v=0");
    assert_eq!(sdp.continuation[23], "a=rtcp-fb:103 nack pli");
    assert_eq!(sdp.continuation[24], "");
    let hangup = entries.iter().find_map(|e| match e.anchor() {
        Some(Anchor::Hangup { cause, state, .. }) => Some((state, cause)),
        _ => None,
    });
    assert_eq!(hangup, Some(("CS_CONSUME_MEDIA", "CALL_REJECTED")));
    let levels: BTreeSet<Level> = entries.iter().filter_map(|e| e.level).collect();
    assert!(levels.contains(&Level::Debug) && levels.contains(&Level::Notice));
}

#[test]
fn trick12138_sql_errors_and_calls() {
    let text = read("fslog/fs1.10_uuidprefix_idlecpu_trick12138.log");
    let (entries, _) = assemble(&text);
    // `SQL ERR [...]` carries the statement and `Auto Generating Table!`.
    let sql = entries
        .iter()
        .find(|e| e.message == "SQL ERR [no such table: sip_registrations]")
        .unwrap();
    assert_eq!(sql.file.as_deref(), Some("switch_core_sqldb.c"));
    assert_eq!(sql.line, Some(1494));
    assert_eq!(sql.idle_cpu.unwrap().0, 0);
    assert_eq!(sql.continuation.len(), 2);
    assert!(sql.continuation[0].starts_with("[delete from sip_registrations"));
    assert_eq!(sql.continuation[1], "Auto Generating Table!");
    // The dialplan regex whose variable holds an SDP spans lines.
    let regex = entries
        .iter()
        .find(|e| e.message.ends_with("${switch_r_sdp}(v=0"))
        .unwrap();
    assert_eq!(regex.shape, Shape::Clean);
    assert!(
        regex
            .continuation
            .last()
            .unwrap()
            .starts_with(") =~ /(AES_CM_128_HMAC_SHA1_32")
    );
    // Call-IDs of the two calls from 1000@mcyhzc.top.
    let links: BTreeMap<&str, &str> = entries
        .iter()
        .filter_map(|e| match e.anchor() {
            Some(Anchor::ReceivingInvite {
                call_id: Some(c), ..
            }) => Some((e.uuid.as_deref().unwrap(), c)),
            _ => None,
        })
        .collect();
    let calls: Vec<_> = links
        .iter()
        .filter(|(u, _)| u.starts_with("2b0a7a63") || u.starts_with("88c5695e"))
        .collect();
    assert_eq!(calls.len(), 2);
    let answered: Vec<_> = entries
        .iter()
        .filter(|e| matches!(e.anchor(), Some(Anchor::Answered { .. })))
        .map(|e| e.uuid.as_deref().unwrap())
        .collect();
    assert_eq!(answered, ["88c5695e-ed4c-46ed-92d4-10f5f0cd4c78"]);
    let new_channels = entries
        .iter()
        .filter(|e| matches!(e.anchor(), Some(Anchor::NewChannel { .. })))
        .count();
    assert_eq!(new_channels, 23);
    // EXECUTE lines are their own entries, with the previous time.
    let exec = entries
        .iter()
        .filter(|e| e.message.starts_with("EXECUTE [depth=0]"))
        .count();
    assert_eq!(exec, 23);
}

fn of_uuid<'a>(entries: &'a [Entry], uuid: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
    entries
        .iter()
        .filter(move |e| e.uuid.as_deref() == Some(uuid))
}

struct CallRow {
    a_call_id: String,
    a_uuid: String,
    b_uuid: String,
    a_cause: String,
    b_cause: String,
}

fn calls(set: &str) -> Vec<CallRow> {
    read(&format!("freeswitch-live/{set}/calls.tsv"))
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let cause = |s: &str| s.split('/').next().unwrap().to_owned();
            CallRow {
                a_call_id: f[0].to_owned(),
                a_uuid: f[1].to_owned(),
                b_uuid: f[3].to_owned(),
                a_cause: cause(f[5]),
                b_cause: cause(f[6]),
            }
        })
        .collect()
}

/// The links the correlator gets from the log alone match calls.tsv (built
/// from ESL), and the A-leg Call-IDs are those seen in HEP.
#[test]
fn live_anchors_match_calls_tsv() {
    for (set, answered_expected) in [
        ("01-bridged-callid-random", true),
        ("03-bleg-busy-486", false),
    ] {
        let rows = calls(set);
        let (entries, _) = assemble(&read(&format!("freeswitch-live/{set}/freeswitch.log")));
        let hep = read(&format!("freeswitch-live/{set}/hep_dump.txt"));
        let uuids: BTreeSet<&str> = entries.iter().filter_map(|e| e.uuid.as_deref()).collect();
        assert_eq!(uuids.len(), rows.len() * 2, "{set}");
        for row in &rows {
            assert!(uuids.contains(row.a_uuid.as_str()) && uuids.contains(row.b_uuid.as_str()));
            let of = |uuid| of_uuid(&entries, uuid);
            let call_id = of(&row.a_uuid).find_map(|e| match e.anchor() {
                Some(Anchor::ReceivingInvite { call_id, from, .. }) => {
                    assert_eq!(from, "127.0.0.1:5072");
                    call_id
                }
                _ => None,
            });
            assert_eq!(call_id, Some(row.a_call_id.as_str()), "{set}");
            assert!(
                hep.contains(&row.a_call_id),
                "{set}: {} not in HEP",
                row.a_call_id
            );
            // The B-leg writes `call-id: (null)`: sofia picks it later.
            let b_call_id = of(&row.b_uuid).find_map(|e| match e.anchor() {
                Some(Anchor::SendingInvite { call_id, .. }) => Some(call_id),
                _ => None,
            });
            assert_eq!(b_call_id, Some(None), "{set}");
            let new_channel = of(&row.a_uuid).find_map(|e| match e.anchor() {
                Some(Anchor::NewChannel { uuid, channel }) => Some((uuid, channel)),
                _ => None,
            });
            assert_eq!(
                new_channel,
                Some((row.a_uuid.as_str(), "sofia/b2bua/sipp@127.0.0.1:5072"))
            );
            let peer = of(&row.a_uuid).find_map(|e| match e.anchor() {
                Some(Anchor::OriginateSuccess { peer_uuid, .. }) => Some(peer_uuid),
                _ => None,
            });
            let failed = of(&row.a_uuid).find_map(|e| match e.anchor() {
                Some(Anchor::OriginateFailed { cause_code, cause }) => Some((cause_code, cause)),
                _ => None,
            });
            if answered_expected {
                assert_eq!(peer, Some(row.b_uuid.as_str()));
                assert_eq!(failed, None);
            } else {
                assert_eq!(peer, None);
                assert_eq!(failed, Some((17, "USER_BUSY")));
            }
            for (uuid, cause) in [(&row.a_uuid, &row.a_cause), (&row.b_uuid, &row.b_cause)] {
                let hangup = of(uuid).find_map(|e| match e.anchor() {
                    Some(Anchor::Hangup { cause, .. }) => Some(cause),
                    _ => None,
                });
                assert_eq!(hangup, Some(cause.as_str()), "{set} {uuid}");
                let answered =
                    of(uuid).any(|e| matches!(e.anchor(), Some(Anchor::Answered { .. })));
                assert_eq!(answered, answered_expected, "{set} {uuid}");
                let closed = of(uuid).any(|e| {
                    matches!(
                        e.anchor(),
                        Some(Anchor::CloseChannel {
                            state: "CS_DESTROY",
                            ..
                        })
                    )
                });
                assert!(closed);
            }
        }
    }
}

#[test]
fn live_sdp_and_times() {
    let (entries, _) = assemble(&read(
        "freeswitch-live/01-bridged-callid-random/freeswitch.log",
    ));
    let first = &entries[0];
    assert_eq!(
        first.uuid.as_deref(),
        Some("d9e73608-5048-4523-aded-4dc2c3f91498")
    );
    assert_eq!(
        first.message,
        "New Channel sofia/b2bua/sipp@127.0.0.1:5072 [d9e73608-5048-4523-aded-4dc2c3f91498]"
    );
    assert_eq!(first.level, Some(Level::Notice));
    assert_eq!(first.idle_cpu.unwrap().percent(), 98.63);
    // 2026-11-26 03:24:30.521047 read as UTC.
    assert_eq!(first.ts_micros, Some(1_795_663_470_521_047));
    let remote: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.message == "Remote SDP:")
        .collect();
    assert_eq!(remote.len(), 10);
    for e in &remote {
        assert_eq!((e.file.as_deref(), e.line), (Some("sofia.c"), Some(7503)));
        assert_eq!(e.continuation[0], "v=0");
        assert_eq!(e.continuation.last().map(String::as_str), Some(""));
        assert!(e.continuation.iter().all(|l| !l.ends_with('\r')));
    }
    let local = entries.iter().filter(|e| e.message == "Local SDP:").count();
    assert_eq!(local, 5);
    // Timestamps never go backwards within one file once inherited.
    let ts: Vec<i64> = entries.iter().map(|e| e.ts_micros.unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]));
}

/// An ESL `log/data` frame of the same message gives the same entry.
#[test]
fn log_data_gives_identical_entries() {
    let text = read("freeswitch-live/01-bridged-callid-random/freeswitch.log");
    let (entries, _) = assemble(&text);
    let lines: Vec<&str> = text.lines().collect();
    let mut esl = Assembler::new(LogClock::utc());
    let mut previous: Option<&Entry> = None;
    let mut at = 0;
    let mut checked = 0;
    for (n, e) in entries.iter().enumerate() {
        // The body FreeSWITCH puts in log/data: the message's lines without
        // the UUID prefix, each ending in a newline (CRs included).
        let uuid = e.uuid.as_deref().unwrap();
        let mut body = String::new();
        for l in &lines[at..at + e.line_count()] {
            body.push_str(l.strip_prefix(uuid).unwrap().strip_prefix(' ').unwrap());
            body.push('\n');
        }
        at += e.line_count();
        let got = esl.push_log_data(&body, Some(uuid)).unwrap();
        if e.time_inherited {
            // LOG_CLEAN frames take the previous frame's time, as in the file.
            assert_eq!(got.time, previous.and_then(|p| p.time), "entry {n}");
        }
        assert_eq!(&got, e, "entry {n}");
        previous = Some(e);
        checked += 1;
    }
    assert_eq!(at, lines.len());
    assert_eq!(checked, entries.len());
}

/// `to_log_text` gives back the file's lines (CRs aside) for every entry of
/// the FreeSWITCH-written logs.
#[test]
fn log_text_round_trips() {
    for rel in &ALL[1..] {
        let text = read(rel);
        let lines: Vec<&str> = text
            .lines()
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        let (entries, _) = assemble(&text);
        let mut at = 0;
        let mut coloured = 0;
        for e in &entries {
            let mut original = lines[at..at + e.line_count()].join("\n");
            at += e.line_count();
            // The start-up banner is wrapped in colour codes, which the
            // parser drops.
            if original.contains('\x1b') {
                coloured += 1;
                original = strip_sgr(&original);
            }
            assert_eq!(e.to_log_text(), original, "{rel}");
        }
        assert_eq!(at, lines.len());
        let expected_coloured = usize::from(rel.contains("trick12138"));
        assert_eq!(coloured, expected_coloured, "{rel}");
    }
}

/// Removes `ESC [ digits/; m` sequences.
fn strip_sgr(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let m = after.find('m').unwrap();
        assert!(after[..m].bytes().all(|c| c.is_ascii_digit() || c == b';'));
        rest = &after[m + 1..];
    }
    out.push_str(rest);
    out
}
