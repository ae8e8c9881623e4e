//! Builds real `Record`s from testdata/freeswitch-live (HEPv3 stream, ESL JSON dump,
//! FreeSWITCH log) with small, test-only decoders, so the store is exercised with
//! the identifiers and timestamps of real calls. Shared by tests and benches.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use callweave_core::record::{
    CSeq, CallId, ChannelRecord, ChannelUuid, CorrelationId, Direction, Ident, LogLevel, LogRecord,
    NameAddr, Record, RecordKind, SipRecord, Transport,
};

pub const NODE: &str = "fs-1";

pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")).join(rel)
}

/// One row of a set's calls.tsv.
#[derive(Debug, Clone)]
pub struct CallRow {
    pub a_call_id: String,
    pub a_uuid: String,
    pub b_call_id: String,
    pub b_uuid: String,
}

impl CallRow {
    pub fn ids(&self) -> Vec<&str> {
        vec![&self.a_call_id, &self.a_uuid, &self.b_call_id, &self.b_uuid]
    }
}

pub fn calls_tsv(set: &str) -> Vec<CallRow> {
    let text =
        std::fs::read_to_string(testdata(&format!("freeswitch-live/{set}/calls.tsv"))).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            CallRow {
                a_call_id: c[0].into(),
                a_uuid: c[1].into(),
                b_call_id: c[2].into(),
                b_uuid: c[3].into(),
            }
        })
        .collect()
}

/// A decoded HEPv3 packet.
#[derive(Debug, Clone)]
pub struct Hep {
    pub ts_micros: i64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub ip_proto: u8,
    pub capture_id: Option<u32>,
    pub correlation: Option<String>,
    pub payload: Vec<u8>,
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Decodes concatenated HEPv3 packets (`HEP3`, total length, chunks).
pub fn decode_hep3_stream(bytes: &[u8]) -> Vec<Hep> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 6 <= bytes.len() {
        assert_eq!(&bytes[at..at + 4], b"HEP3", "at {at}");
        let len = be16(&bytes[at + 4..]) as usize;
        let pkt = &bytes[at..at + len];
        let (mut sec, mut usec, mut sport, mut dport) = (0u32, 0u32, 0u16, 0u16);
        let (mut sip4, mut dip4, mut sip6, mut dip6) = (None, None, None, None);
        let mut h = Hep {
            ts_micros: 0,
            src: "0.0.0.0:0".parse().unwrap(),
            dst: "0.0.0.0:0".parse().unwrap(),
            ip_proto: 0,
            capture_id: None,
            correlation: None,
            payload: Vec::new(),
        };
        let mut c = 6;
        while c + 6 <= pkt.len() {
            let ty = be16(&pkt[c + 2..]);
            let clen = be16(&pkt[c + 4..]) as usize;
            let v = &pkt[c + 6..c + clen];
            match ty {
                2 => h.ip_proto = v[0],
                3 => sip4 = Some(Ipv4Addr::new(v[0], v[1], v[2], v[3])),
                4 => dip4 = Some(Ipv4Addr::new(v[0], v[1], v[2], v[3])),
                5 => sip6 = Some(Ipv6Addr::from(<[u8; 16]>::try_from(v).unwrap())),
                6 => dip6 = Some(Ipv6Addr::from(<[u8; 16]>::try_from(v).unwrap())),
                7 => sport = be16(v),
                8 => dport = be16(v),
                9 => sec = be32(v),
                10 => usec = be32(v),
                12 => h.capture_id = Some(be32(v)),
                15 => h.payload = v.to_vec(),
                17 => h.correlation = Some(String::from_utf8_lossy(v).into_owned()),
                _ => {}
            }
            c += clen;
        }
        let sip: IpAddr = sip4.map(IpAddr::V4).or(sip6.map(IpAddr::V6)).unwrap();
        let dip: IpAddr = dip4.map(IpAddr::V4).or(dip6.map(IpAddr::V6)).unwrap();
        h.src = SocketAddr::new(sip, sport);
        h.dst = SocketAddr::new(dip, dport);
        h.ts_micros = i64::from(sec) * 1_000_000 + i64::from(usec);
        out.push(h);
        at += len;
    }
    out
}

fn header<'a>(lines: &[&'a str], long: &str, short: &str) -> Option<&'a str> {
    lines.iter().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        let k = k.trim();
        (k.eq_ignore_ascii_case(long) || k.eq_ignore_ascii_case(short)).then(|| v.trim())
    })
}

fn name_addr(v: &str) -> NameAddr {
    let uri_start = v.find("sip:").unwrap_or(0);
    let uri_end = v[uri_start..]
        .find(['>', ';'])
        .map_or(v.len(), |e| uri_start + e);
    let uri = &v[uri_start..uri_end];
    let user = uri
        .strip_prefix("sip:")
        .and_then(|u| u.split_once('@'))
        .map(|(u, _)| u.into());
    let tag = v
        .split(";tag=")
        .nth(1)
        .map(|t| t.split(';').next().unwrap_or(t).into());
    NameAddr {
        display: None,
        user,
        uri: uri.into(),
        tag,
    }
}

/// A `SipRecord` from a SIP message: start line and the headers the store indexes.
pub fn sip_record(h: &Hep) -> Record {
    let raw = String::from_utf8_lossy(&h.payload).into_owned();
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    let lines: Vec<&str> = head.split("\r\n").collect();
    let call_id = header(&lines, "call-id", "i").unwrap_or_default();
    let mut s = SipRecord::new(
        h.src,
        h.dst,
        Transport::from_ip_proto(h.ip_proto),
        CallId::from(call_id),
    );
    let start: Vec<&str> = lines[0].splitn(3, ' ').collect();
    if start[0] == "SIP/2.0" {
        s.status = start[1].parse().ok();
        s.reason = start.get(2).map(|r| (*r).into());
    } else {
        s.method = Some(start[0].into());
        s.request_uri = Some(start[1].into());
    }
    s.from = header(&lines, "from", "f")
        .map(name_addr)
        .unwrap_or_default();
    s.to = header(&lines, "to", "t").map(name_addr).unwrap_or_default();
    s.cseq = header(&lines, "cseq", "cseq").and_then(|v| {
        let (n, m) = v.split_once(' ')?;
        Some(CSeq {
            seq: n.parse().ok()?,
            method: m.trim().into(),
        })
    });
    s.user_agent = header(&lines, "user-agent", "user-agent")
        .or(header(&lines, "server", "server"))
        .map(Into::into);
    s.correlation = header(&lines, "x-cid", "x-cid").map(CallId::from);
    s.hep_correlation = h.correlation.as_deref().map(CorrelationId::from);
    s.capture_agent_id = h.capture_id;
    s.raw = Arc::from(raw);
    Record::new(h.ts_micros, NODE, RecordKind::Sip(s))
}

pub fn hep_records(set: &str) -> Vec<Record> {
    let bytes = std::fs::read(testdata(&format!("freeswitch-live/{set}/hep_stream.bin"))).unwrap();
    decode_hep3_stream(&bytes).iter().map(sip_record).collect()
}

/// Splits an ESL byte stream into `text/event-json` bodies.
fn esl_json_bodies(bytes: &[u8]) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let Some(end) = bytes[at..].windows(2).position(|w| w == b"\n\n") else {
            break;
        };
        let head = std::str::from_utf8(&bytes[at..at + end]).unwrap();
        at += end + 2;
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .map(|n| n.trim().parse::<usize>().unwrap());
        if let Some(len) = len {
            if head.contains("text/event-json") {
                out.push(serde_json::from_slice(&bytes[at..at + len]).unwrap());
            }
            at += len;
        }
    }
    out
}

pub fn esl_records(set: &str) -> Vec<Record> {
    let bytes = std::fs::read(testdata(&format!("freeswitch-live/{set}/esl_json.raw"))).unwrap();
    esl_json_bodies(&bytes)
        .into_iter()
        .map(|m| {
            let get = |k: &str| {
                m.get(k)
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            };
            let headers: Vec<(String, String)> = m
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect();
            let ch = ChannelRecord {
                event_name: get("Event-Name").unwrap(),
                event_subclass: get("Event-Subclass"),
                sequence: get("Event-Sequence").and_then(|s| s.parse().ok()),
                unique_id: get("Unique-ID").map(ChannelUuid::from),
                other_leg_unique_id: get("Other-Leg-Unique-ID").map(ChannelUuid::from),
                channel_call_uuid: get("Channel-Call-UUID").map(ChannelUuid::from),
                bridge_a: get("Bridge-A-Unique-ID").map(ChannelUuid::from),
                bridge_b: get("Bridge-B-Unique-ID").map(ChannelUuid::from),
                sip_call_id: get("variable_sip_call_id").map(CallId::from),
                direction: get("Call-Direction").and_then(|d| Direction::parse(&d)),
                channel_name: get("Channel-Name"),
                caller_number: get("Caller-Caller-ID-Number"),
                destination_number: get("Caller-Destination-Number"),
                answer_state: get("Answer-State"),
                hangup_cause: get("Hangup-Cause").or(get("variable_hangup_cause")),
                sip_term_status: get("variable_sip_term_status").and_then(|s| s.parse().ok()),
                quality: Default::default(),
                core_uuid: get("Core-UUID"),
                hostname: get("FreeSWITCH-Hostname"),
                headers: headers.into(),
            };
            let ts: i64 = get("Event-Date-Timestamp").unwrap().parse().unwrap();
            Record::new(ts, NODE, RecordKind::Channel(ch))
        })
        .collect()
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// `YYYY-MM-DD HH:MM:SS.uuuuuu` → µs.
fn log_ts(date: &str, time: &str) -> Option<i64> {
    let d: Vec<i64> = date
        .split('-')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let (hms, frac) = time.split_once('.')?;
    let t: Vec<i64> = hms
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if d.len() != 3 || t.len() != 3 {
        return None;
    }
    let secs = days_from_civil(d[0], d[1], d[2]) * 86_400 + t[0] * 3600 + t[1] * 60 + t[2];
    Some(secs * 1_000_000 + frac.parse::<i64>().ok()?)
}

/// FreeSWITCH log lines with a UUID prefix; continuation lines fold into the
/// previous record.
pub fn log_records(set: &str) -> Vec<Record> {
    let text = std::fs::read_to_string(testdata(&format!("freeswitch-live/{set}/freeswitch.log")))
        .unwrap();
    let mut out: Vec<Record> = Vec::new();
    for line in text.lines() {
        let (uuid, rest) = line.split_at(36.min(line.len()));
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let mut f = rest.splitn(6, ' ');
        let (date, time, _cpu, level, src, msg) =
            (f.next(), f.next(), f.next(), f.next(), f.next(), f.next());
        let ts = date.zip(time).and_then(|(d, t)| log_ts(d, t));
        match (ts, level, src) {
            (Some(ts), Some(level), Some(src)) if level.starts_with('[') => {
                let msg = msg.unwrap_or_default();
                let mut l = LogRecord::new(msg);
                l.level = LogLevel::parse(level.trim_matches(['[', ']']));
                if let Some((file, n)) = src.split_once(':') {
                    l.file = Some(file.to_owned());
                    l.line = n.parse().ok();
                }
                l.uuid = Some(ChannelUuid::from(uuid));
                if let Some((_, cid)) = msg.rsplit_once("call-id: ")
                    && cid != "(null)"
                {
                    l.call_id_hint = Some(CallId::from(cid.trim()));
                }
                if let Some((_, peer)) = msg.rsplit_once("Peer UUID: ") {
                    l.peer_uuid = Some(ChannelUuid::from(peer.trim()));
                }
                out.push(Record::new(ts, NODE, RecordKind::Log(l)));
            }
            _ => {
                let prev = out.last_mut().unwrap();
                if let RecordKind::Log(l) = &mut prev.kind {
                    l.text = Arc::from(format!("{}\n{}", l.text, rest));
                }
            }
        }
    }
    out
}

/// Every record of a set: HEP, ESL and log, in that order (not time order).
pub fn all_records(set: &str) -> Vec<Record> {
    let mut v = hep_records(set);
    v.extend(esl_records(set));
    v.extend(log_records(set));
    v
}

/// The links a correlator derives from ESL events (design table rules), each once.
pub fn esl_links(records: &[Record]) -> Vec<(Ident, Ident, &'static str, i64)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for r in records {
        let RecordKind::Channel(c) = &r.kind else {
            continue;
        };
        let Some(u) = &c.unique_id else { continue };
        let me = Ident::Channel(u.clone());
        let mut push = |other: Ident, rule: &'static str| {
            if other.as_str() != me.as_str() && seen.insert((me.clone(), other.clone(), rule)) {
                out.push((me.clone(), other, rule, r.ts_micros));
            }
        };
        if let Some(cid) = &c.sip_call_id {
            push(Ident::Call(cid.clone()), "channel-sip");
        }
        for o in [&c.other_leg_unique_id, &c.bridge_a, &c.bridge_b]
            .into_iter()
            .flatten()
        {
            push(Ident::Channel(o.clone()), "other-leg");
        }
        if let Some(o) = &c.channel_call_uuid {
            push(Ident::Channel(o.clone()), "call-uuid");
        }
    }
    out
}

/// True when the record mentions any of `ids`.
pub fn mentions(r: &Record, ids: &[&str]) -> bool {
    r.identifiers().iter().any(|i| ids.contains(&i.as_str()))
}
