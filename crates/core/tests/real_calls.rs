//! Scenario tests over the real FreeSWITCH captures in `testdata/`.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use callweave_core::{
    CallId, CallState, CallSummary, ChannelUuid, Config, Correlator, Ident, Outcome, Record, Role,
    Rule,
};
use common::*;

const NOW: i64 = 1_800_000_000_000_000;

fn run(records: &[Record]) -> Correlator {
    let mut c = Correlator::new(Config::default());
    for r in records {
        c.ingest(r, NOW);
    }
    c
}

fn set(name: &str, file: &str) -> String {
    testdata(&format!("freeswitch-live/{name}/{file}"))
}

fn all_sources(name: &str) -> Vec<Record> {
    let mut v = esl_json_records(&set(name, "esl_json.raw"));
    v.extend(hep_records(&set(name, "hep_stream.bin"), "vm"));
    v.extend(log_records(&set(name, "freeswitch.log"), "vm"));
    v
}

fn call_of(c: &Correlator, call_id: &str) -> CallSummary {
    c.call_for(&Ident::Call(CallId::from(call_id))).unwrap()
}

fn leg<'a>(s: &'a CallSummary, uuid: &str) -> &'a callweave_core::LegSummary {
    s.legs
        .iter()
        .find(|l| l.uuid.as_ref().map(ChannelUuid::as_str) == Some(uuid))
        .unwrap()
}

/// Every row of calls.tsv is exactly one call with both legs joined, and no two
/// rows share a call.
fn assert_rows_joined(c: &Correlator, name: &str, with_b_call_id: bool) -> Vec<CallSummary> {
    let rows = calls_tsv(&set(name, "calls.tsv"));
    let mut keys = BTreeSet::new();
    let mut out = Vec::new();
    for row in &rows {
        let s = call_of(c, &row.a_call_id);
        for id in [
            Ident::Channel(row.a_uuid.as_str().into()),
            Ident::Channel(row.b_uuid.as_str().into()),
        ] {
            assert_eq!(
                c.key_for(&id).as_ref(),
                Some(&s.key),
                "{id} not in the call of {}",
                row.a_call_id
            );
        }
        if with_b_call_id {
            assert_eq!(
                c.key_for(&Ident::Call(row.b_call_id.as_str().into()))
                    .as_ref(),
                Some(&s.key)
            );
        }
        assert_eq!(s.legs.len(), 2, "{s:#?}");
        assert!(keys.insert(s.key.clone()), "two rows share call {}", s.key);
        out.push(s);
    }
    assert_eq!(c.active_calls(), rows.len());
    out
}

#[test]
fn set01_esl_only_joins_both_legs_of_each_call() {
    let records = esl_json_records(&set("01-bridged-callid-random", "esl_json.raw"));
    assert_eq!(records.len(), 232, "ESL events in set 01");
    let c = run(&records);
    let calls = assert_rows_joined(&c, "01-bridged-callid-random", true);
    let rows = calls_tsv(&set("01-bridged-callid-random", "calls.tsv"));
    for (s, row) in calls.iter().zip(&rows) {
        assert_eq!(s.key.as_str(), row.a_call_id, "key is the A-leg Call-ID");
        assert_eq!(s.outcome, Outcome::Answered);
        assert_eq!(s.state, CallState::Active);
        assert!(s.ended);
        let a = leg(s, &row.a_uuid);
        let b = leg(s, &row.b_uuid);
        assert_eq!(a.role, Some(Role::A));
        assert_eq!(b.role, Some(Role::B));
        assert_eq!(a.call_id.as_ref().unwrap().as_str(), row.a_call_id);
        assert_eq!(b.call_id.as_ref().unwrap().as_str(), row.b_call_id);
        assert_eq!(a.hangup_cause.as_deref(), Some(row.a_cause.as_str()));
        assert_eq!(b.hangup_cause.as_deref(), Some(row.b_cause.as_str()));
        assert_eq!(a.sip_status, row.a_status);
        assert_eq!(a.from.as_deref(), Some("sipp"));
        assert_eq!(a.to.as_deref(), Some("1000"));
        // SIPp ran with -d 2000: about two seconds answered.
        let d = a.duration_micros.unwrap();
        assert!((1_900_000..2_200_000).contains(&d), "A duration {d}");
        assert!(a.ringing.is_some() && b.ringing.is_some());
        let rules: BTreeSet<Rule> = s.links.iter().map(|l| l.rule).collect();
        assert!(
            rules.contains(&Rule::ChannelSip)
                && rules.contains(&Rule::OtherLeg)
                && rules.contains(&Rule::CallUuid)
        );
    }
}

#[test]
fn set01_hep_only_has_one_call_per_dialog() {
    // The B-leg INVITE carries nothing that names the A-leg (README), so SIP alone
    // gives ten separate single-leg calls, each answered.
    let records = hep_records(&set("01-bridged-callid-random", "hep_stream.bin"), "vm");
    assert_eq!(records.len(), 65);
    let c = run(&records);
    assert_eq!(c.active_calls(), 10);
    for row in calls_tsv(&set("01-bridged-callid-random", "calls.tsv")) {
        for cid in [&row.a_call_id, &row.b_call_id] {
            let s = call_of(&c, cid);
            assert_eq!(s.legs.len(), 1);
            assert_eq!(s.outcome, Outcome::Answered);
            assert_eq!(s.legs[0].sip_status, Some(200));
            assert!(s.ended, "BYE seen");
        }
    }
}

#[test]
fn set01_all_sources_give_full_legs() {
    let c = run(&all_sources("01-bridged-callid-random"));
    let calls = assert_rows_joined(&c, "01-bridged-callid-random", true);
    let rows = calls_tsv(&set("01-bridged-callid-random", "calls.tsv"));
    for (s, row) in calls.iter().zip(&rows) {
        assert_eq!(s.key.as_str(), row.a_call_id);
        let a = leg(s, &row.a_uuid);
        assert_eq!(a.role, Some(Role::A));
        let invite = a.invite.unwrap();
        // SIP gives the INVITE time; PDD runs to the 180 relayed to the A-leg.
        let pdd = a.post_dial_delay_micros.unwrap();
        assert!((0..50_000).contains(&pdd), "A PDD {pdd}");
        assert!(a.answered.unwrap() > invite);
        assert_eq!(a.sip_status, Some(200));
        let rules: BTreeSet<Rule> = s.links.iter().map(|l| l.rule).collect();
        assert!(rules.contains(&Rule::LogUuid), "{rules:?}");
        assert_eq!(s.idents.len(), 4, "{:?}", s.idents);
    }
}

#[test]
fn set01_log_only_joins_through_log_anchors() {
    let records = log_records(&set("01-bridged-callid-random", "freeswitch.log"), "vm");
    assert_eq!(records.len(), 902);
    let c = run(&records);
    // "sending invite call-id: (null)" must not glue every B-leg together.
    assert_eq!(c.active_calls(), 5);
    assert!(c.call_for(&Ident::Call(CallId::from("(null)"))).is_none());
    for row in calls_tsv(&set("01-bridged-callid-random", "calls.tsv")) {
        let s = call_of(&c, &row.a_call_id);
        assert_eq!(
            c.key_for(&Ident::Channel(row.b_uuid.as_str().into()))
                .as_ref(),
            Some(&s.key)
        );
        assert_eq!(s.legs.len(), 2);
    }
}

#[test]
fn set03_busy_calls_are_busy() {
    let c = run(&all_sources("03-bleg-busy-486"));
    let calls = assert_rows_joined(&c, "03-bleg-busy-486", true);
    let rows = calls_tsv(&set("03-bleg-busy-486", "calls.tsv"));
    assert_eq!(calls.len(), 3);
    for (s, row) in calls.iter().zip(&rows) {
        assert_eq!(s.outcome, Outcome::Busy, "{s:#?}");
        let a = leg(s, &row.a_uuid);
        let b = leg(s, &row.b_uuid);
        assert_eq!((a.role, b.role), (Some(Role::A), Some(Role::B)));
        assert_eq!(a.sip_status, Some(486));
        assert_eq!(b.sip_status, Some(486));
        assert_eq!(a.hangup_cause.as_deref(), Some("USER_BUSY"));
        assert_eq!(b.hangup_cause.as_deref(), Some("USER_BUSY"));
        assert_eq!(a.answered, None);
        assert_eq!(a.duration_micros, None);
        assert!(s.ended);
    }
}

#[test]
fn set03_esl_only_is_busy_from_hangup_cause() {
    let c = run(&esl_json_records(&set("03-bleg-busy-486", "esl_json.raw")));
    for s in assert_rows_joined(&c, "03-bleg-busy-486", true) {
        assert_eq!(s.outcome, Outcome::Busy);
    }
}

#[test]
fn att_xfer_dump_is_one_call_with_three_legs() {
    let records = esl_plain_dump_records(&testdata("esl/neventsocket_outbound_Example6.txt"));
    // 78 text/event-plain frames plus the CHANNEL_DATA of the outbound `connect` reply.
    assert_eq!(records.len(), 79);
    let c = run(&records);
    assert_eq!(c.active_calls(), 1);
    let s = c
        .call_for(&Ident::Channel(
            "9c2d9b5b-d300-4609-a026-ed9e821b4a45".into(),
        ))
        .unwrap();
    assert_eq!(
        s.key.as_str(),
        "NzU3YWQxOWNlMjIxMzk2MDM2M2JjMmEyYmRlZDg1Yzg",
        "earliest Call-ID: the A-leg's"
    );
    assert_eq!(s.legs.len(), 3, "{s:#?}");
    let roles: Vec<_> = s.legs.iter().map(|l| l.role).collect();
    assert_eq!(roles, [Some(Role::A), Some(Role::B), Some(Role::B)]);
    let uuid_prefixes: Vec<&str> = s
        .legs
        .iter()
        .map(|l| &l.uuid.as_ref().unwrap().as_str()[..8])
        .collect();
    assert_eq!(uuid_prefixes, ["9c2d9b5b", "cbd071e3", "b73d8e57"]);
    let cids: Vec<&str> = s
        .legs
        .iter()
        .map(|l| l.call_id.as_ref().unwrap().as_str())
        .collect();
    assert_eq!(
        cids,
        [
            "NzU3YWQxOWNlMjIxMzk2MDM2M2JjMmEyYmRlZDg1Yzg",
            "d9cc9dc8-10ed-1233-83a6-3b73dd85c7a7",
            "f8560b83-10ed-1233-83a6-3b73dd85c7a7"
        ]
    );
    assert_eq!(s.legs[1].to.as_deref(), Some("1003"));
    assert_eq!(s.legs[2].to.as_deref(), Some("1002"));
    assert_eq!(s.outcome, Outcome::Answered);
    // Channel-Call-UUID moved to cbd0… and b73d… after the transfer; only the
    // CHANNEL_CREATE values are links, both naming the A-leg.
    let call_uuid: Vec<_> = s
        .links
        .iter()
        .filter(|l| l.rule == Rule::CallUuid)
        .collect();
    assert_eq!(call_uuid.len(), 2, "{call_uuid:?}");
    assert!(
        call_uuid
            .iter()
            .all(|l| l.b.as_str().starts_with("9c2d9b5b"))
    );
}

#[test]
fn other_esl_dumps_stay_separate_and_sane() {
    for n in [1, 3, 5] {
        let records = esl_plain_dump_records(&testdata(&format!(
            "esl/neventsocket_outbound_Example{n}.txt"
        )));
        assert!(!records.is_empty());
        let c = run(&records);
        assert!(c.active_calls() >= 1);
        for s in c.calls() {
            assert!(!s.legs.is_empty());
        }
    }
}

#[test]
fn finished_calls_leave_after_linger_and_idle_ones_after_ttl() {
    let records = all_sources("01-bridged-callid-random");
    let mut c = Correlator::new(Config::default());
    for r in &records {
        c.ingest(r, NOW);
    }
    assert!(c.expire(NOW + 29_000_000).is_empty());
    let gone = c.expire(NOW + 30_000_000);
    assert_eq!(gone.len(), 5);
    assert!(
        gone.iter()
            .all(|s| s.state == CallState::Finished && s.outcome == Outcome::Answered)
    );
    assert_eq!(c.active_calls(), 0);
    assert_eq!(c.stats().idents, 0);
    assert_eq!(c.stats().calls_finished, 5);
}
