//! Must not panic: any sequence of records (built from the fuzz input), with
//! tiny caps so eviction, refusal and expiry paths run; invariants checked.
#![no_main]

use std::time::Duration;

use callweave_core::*;
use libfuzzer_sys::fuzz_target;

fn id(b: u8) -> String {
    // A small alphabet so identifiers collide; `(null)` and "" included.
    match b % 11 {
        9 => String::new(),
        10 => "(null)".to_owned(),
        n => format!("i{n}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut g = Correlator::new(Config {
        max_active_calls: 4,
        max_idents_per_call: 5,
        idle_ttl: Duration::from_micros(300),
        linger_after_end: Duration::from_micros(50),
    });
    let mut now = 0i64;
    for c in data.chunks(8) {
        let [k, a, b, x, y, t, e, n] = <[u8; 8]>::try_from(c).unwrap_or([0; 8]);
        let ts = i64::from(t) * 7 - 500;
        now += i64::from(n % 16);
        let opt = |v: u8| (v & 0x80 != 0).then(|| id(v));
        let kind = match k % 3 {
            0 => {
                let mut s = SipRecord::new(
                    "10.0.0.1:5060".parse().unwrap_or_else(|_| unreachable!()),
                    "10.0.0.2:5060".parse().unwrap_or_else(|_| unreachable!()),
                    Transport::Udp,
                    CallId::new(id(a)),
                );
                match e % 6 {
                    0 => s.method = Some("INVITE".into()),
                    1 => s.method = Some("BYE".into()),
                    2 => s.method = Some("CANCEL".into()),
                    m => s.status = Some([180, 200, 486][usize::from(m - 3)]),
                }
                s.cseq = Some(CSeq {
                    seq: 1,
                    method: "INVITE".into(),
                });
                s.correlation = opt(b).map(CallId::new);
                s.hep_correlation = opt(x).map(CorrelationId::new);
                RecordKind::Sip(s)
            }
            1 => RecordKind::Channel(ChannelRecord {
                event_name: [
                    "CHANNEL_CREATE",
                    "CHANNEL_ANSWER",
                    "CHANNEL_HANGUP_COMPLETE",
                    "HEARTBEAT",
                ][usize::from(e % 4)]
                .into(),
                unique_id: opt(a | 0x80 & !(e & 0x40)).map(ChannelUuid::new),
                sip_call_id: opt(b).map(CallId::new),
                other_leg_unique_id: opt(x).map(ChannelUuid::new),
                channel_call_uuid: opt(y).map(ChannelUuid::new),
                bridge_a: opt(y ^ 0x80).map(ChannelUuid::new),
                bridge_b: opt(x ^ 0x80).map(ChannelUuid::new),
                direction: Direction::parse(if e & 1 == 0 { "inbound" } else { "outbound" }),
                hangup_cause: (e & 0x20 != 0).then(|| "USER_BUSY".to_owned()),
                ..Default::default()
            }),
            _ => {
                let mut l = LogRecord::new("x");
                l.uuid = opt(a | 0x80).map(ChannelUuid::new);
                l.call_id_hint = opt(b).map(CallId::new);
                l.peer_uuid = opt(x).map(ChannelUuid::new);
                RecordKind::Log(l)
            }
        };
        let out = g.ingest(&Record::new(ts, "n", kind), now);
        if let Some(key) = &out.call {
            assert!(!out.merged.contains(key));
        }
        if n & 0x10 != 0 {
            g.expire(now);
        }
        assert!(g.active_calls() <= 4);
    }
    for s in g.calls() {
        assert!(s.idents.len() <= 5);
        let _ = g.call_for(&s.idents[0]);
    }
    let _ = g.expire(i64::MAX);
    assert_eq!(g.active_calls(), 0);
    assert_eq!(g.stats().idents, 0);
});
