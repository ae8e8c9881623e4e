//! Synthetic B2BUA calls shaped like the real set 01 (SIP both legs, the ESL
//! events that carry links, a few log lines), shared by the correlator benches.
#![allow(clippy::unwrap_used, dead_code)]

use callweave_core::{
    CSeq, CallId, ChannelRecord, Direction, LogRecord, Record, RecordKind, SipRecord, Transport,
};

fn sip(ts: i64, cid: &str, method: Option<&str>, status: Option<u16>, cseq: &str) -> Record {
    let mut s = SipRecord::new(
        "127.0.0.1:5072".parse().unwrap(),
        "127.0.0.1:5090".parse().unwrap(),
        Transport::Udp,
        cid.into(),
    );
    s.method = method.map(Into::into);
    s.status = status;
    s.cseq = Some(CSeq {
        seq: 1,
        method: cseq.into(),
    });
    Record::new(ts, "fs-1", RecordKind::Sip(s))
}

fn chan(
    ts: i64,
    ev: &str,
    u: &str,
    cid: Option<&str>,
    other: Option<&str>,
    dir: Direction,
) -> Record {
    let c = ChannelRecord {
        event_name: ev.into(),
        unique_id: Some(u.into()),
        sip_call_id: cid.map(CallId::from),
        other_leg_unique_id: other.map(Into::into),
        channel_call_uuid: other.map(Into::into),
        direction: Some(dir),
        caller_number: Some("sipp".into()),
        destination_number: Some("1000".into()),
        hangup_cause: ev
            .starts_with("CHANNEL_HANGUP")
            .then(|| "NORMAL_CLEARING".into()),
        ..Default::default()
    };
    Record::new(ts, "fs-1", RecordKind::Channel(c))
}

/// 25 records per call.
pub fn call(i: u64, t0: i64) -> Vec<Record> {
    let (a, b) = (
        format!("{i}-4274@127.0.0.1"),
        format!("{i:08x}-63eb-1240-a1be-928ecb790f4d"),
    );
    let (ua, ub) = (
        format!("d9e73608-5048-4523-aded-{i:012x}"),
        format!("f059e147-6396-47f7-a85d-{i:012x}"),
    );
    let (ai, ao) = (Direction::Inbound, Direction::Outbound);
    let mut log = LogRecord::new("receiving invite");
    log.uuid = Some(ua.as_str().into());
    log.call_id_hint = Some(a.as_str().into());
    let mut log2 = LogRecord::new("Originate Resulted in Success");
    log2.uuid = Some(ua.as_str().into());
    log2.peer_uuid = Some(ub.as_str().into());
    vec![
        sip(t0, &a, Some("INVITE"), None, "INVITE"),
        sip(t0 + 1, &a, None, Some(100), "INVITE"),
        chan(t0, "CHANNEL_CREATE", &ua, Some(&a), None, ai),
        Record::new(t0, "fs-1", RecordKind::Log(log)),
        chan(t0 + 2, "CHANNEL_STATE", &ua, None, None, ai),
        sip(t0 + 2, &b, Some("INVITE"), None, "INVITE"),
        chan(t0 + 2, "CHANNEL_CREATE", &ub, None, Some(&ua), ao),
        chan(t0 + 2, "CHANNEL_ORIGINATE", &ub, None, Some(&ua), ao),
        sip(t0 + 3, &b, None, Some(180), "INVITE"),
        chan(t0 + 3, "CHANNEL_PROGRESS", &ub, Some(&b), Some(&ua), ao),
        sip(t0 + 4, &a, None, Some(180), "INVITE"),
        chan(t0 + 4, "CHANNEL_PROGRESS", &ua, Some(&a), None, ai),
        sip(t0 + 5, &b, None, Some(200), "INVITE"),
        chan(t0 + 5, "CHANNEL_ANSWER", &ub, Some(&b), Some(&ua), ao),
        sip(t0 + 6, &b, Some("ACK"), None, "ACK"),
        sip(t0 + 7, &a, None, Some(200), "INVITE"),
        chan(t0 + 7, "CHANNEL_ANSWER", &ua, Some(&a), None, ai),
        Record::new(t0 + 7, "fs-1", RecordKind::Log(log2)),
        sip(t0 + 8, &a, Some("ACK"), None, "ACK"),
        sip(t0 + 2_000_000, &a, Some("BYE"), None, "BYE"),
        sip(t0 + 2_000_001, &a, None, Some(200), "BYE"),
        sip(t0 + 2_000_002, &b, Some("BYE"), None, "BYE"),
        sip(t0 + 2_000_003, &b, None, Some(200), "BYE"),
        chan(
            t0 + 2_000_004,
            "CHANNEL_HANGUP_COMPLETE",
            &ua,
            Some(&a),
            Some(&ub),
            ai,
        ),
        chan(
            t0 + 2_000_005,
            "CHANNEL_HANGUP_COMPLETE",
            &ub,
            Some(&b),
            Some(&ua),
            ao,
        ),
    ]
}

/// `calls` calls, 100 starting per simulated second, interleaved in 50-call
/// batches so that several calls are in flight at once.
pub fn records(calls: u64) -> Vec<Record> {
    records_upto(calls, 25)
}

/// As [`records`], keeping only each call's first `upto` records (18: answered
/// on both legs, not yet hung up).
pub fn records_upto(calls: u64, upto: usize) -> Vec<Record> {
    let mut records = Vec::new();
    for batch in 0..calls / 50 {
        let mut per: Vec<Vec<Record>> = (0..50)
            .map(|j| call(batch * 50 + j, (batch * 50 + j) as i64 * 10_000))
            .collect();
        for k in 0..upto.min(25) {
            for p in &mut per {
                records.push(p[k].clone());
            }
        }
    }
    records
}
