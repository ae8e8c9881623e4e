//! Test-only readers that turn the real fixtures into Records. They are small and
//! strict on purpose (panics are fine here): the protocol crates own real parsing.
#![allow(clippy::unwrap_used, dead_code)]

use std::sync::Arc;

use callweave_core::{
    CSeq, CallId, ChannelRecord, ChannelUuid, Direction, LogRecord, NameAddr, Quality, Record,
    RecordKind, SipRecord, Transport,
};

pub fn testdata(rel: &str) -> String {
    format!("{}/../../testdata/{rel}", env!("CARGO_MANIFEST_DIR"))
}

fn get<'a>(h: &'a [(String, String)], k: &str) -> Option<&'a str> {
    h.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Builds a channel record from decoded ESL headers, the way the esl crate should.
pub fn channel_record(headers: Vec<(String, String)>) -> Option<Record> {
    let h = &headers;
    let ts: i64 = get(h, "Event-Date-Timestamp")?.parse().ok()?;
    let uuid = |k: &str| get(h, k).map(ChannelUuid::from);
    let f = |k: &str| get(h, k).and_then(|v| v.parse::<f64>().ok());
    let ch = ChannelRecord {
        event_name: get(h, "Event-Name")?.to_owned(),
        event_subclass: get(h, "Event-Subclass").map(str::to_owned),
        sequence: get(h, "Event-Sequence").and_then(|v| v.parse().ok()),
        unique_id: uuid("Unique-ID"),
        other_leg_unique_id: uuid("Other-Leg-Unique-ID"),
        channel_call_uuid: uuid("Channel-Call-UUID"),
        bridge_a: uuid("Bridge-A-Unique-ID"),
        bridge_b: uuid("Bridge-B-Unique-ID"),
        sip_call_id: get(h, "variable_sip_call_id").map(CallId::from),
        direction: get(h, "Call-Direction").and_then(Direction::parse),
        channel_name: get(h, "Channel-Name").map(str::to_owned),
        caller_number: get(h, "Caller-Caller-ID-Number").map(str::to_owned),
        destination_number: get(h, "Caller-Destination-Number").map(str::to_owned),
        answer_state: get(h, "Answer-State").map(str::to_owned),
        hangup_cause: get(h, "Hangup-Cause")
            .or(get(h, "variable_hangup_cause"))
            .map(str::to_owned),
        sip_term_status: get(h, "variable_sip_term_status").and_then(|v| v.parse().ok()),
        quality: Quality {
            mos: f("variable_rtp_audio_in_mos"),
            jitter_min_variance: f("variable_rtp_audio_in_jitter_min_variance"),
            jitter_max_variance: f("variable_rtp_audio_in_jitter_max_variance"),
            loss_rate: f("variable_rtp_audio_in_jitter_loss_rate"),
            r_factor: f("variable_rtp_audio_in_quality_percentage"),
        },
        core_uuid: get(h, "Core-UUID").map(str::to_owned),
        hostname: get(h, "FreeSWITCH-Hostname").map(str::to_owned),
        headers: Arc::from(headers.clone()),
    };
    let node = ch.hostname.clone().unwrap_or_default();
    Some(Record::new(ts, node, RecordKind::Channel(ch)))
}

/// `esl_json.raw`: Content-Length framed, `text/event-json` bodies.
pub fn esl_json_records(path: &str) -> Vec<Record> {
    let data = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let end = i + data[i..].windows(2).position(|w| w == b"\n\n").unwrap();
        let head = std::str::from_utf8(&data[i..end]).unwrap();
        let mut len = 0;
        let mut ctype = "";
        for line in head.lines() {
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                len = v.parse().unwrap();
            }
            if let Some(v) = line.strip_prefix("Content-Type: ") {
                ctype = v;
            }
        }
        let body = &data[end + 2..end + 2 + len];
        i = end + 2 + len;
        if ctype != "text/event-json" {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        let headers = v
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect();
        if let Some(r) = channel_record(headers) {
            out.push(r);
        }
    }
    out
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// NEventSocket plain dumps: every block starting at `Event-Name:` up to a blank line.
pub fn esl_plain_dump_records(path: &str) -> Vec<Record> {
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    let mut out = Vec::new();
    let mut cur: Option<Vec<(String, String)>> = None;
    for line in text.lines() {
        if line.starts_with("Event-Name: ") {
            if let Some(h) = cur.take() {
                out.extend(channel_record(h));
            }
            cur = Some(Vec::new());
        }
        if line.is_empty() {
            if let Some(h) = cur.take() {
                out.extend(channel_record(h));
            }
            continue;
        }
        if let (Some(h), Some((k, v))) = (cur.as_mut(), line.split_once(": ")) {
            h.push((k.to_owned(), url_decode(v)));
        }
    }
    if let Some(h) = cur.take() {
        out.extend(channel_record(h));
    }
    out
}

fn name_addr(v: &str) -> NameAddr {
    let uri_start = v.find("sip:").unwrap_or(0);
    let rest = &v[uri_start..];
    let uri_end = rest.find(['>', ';']).unwrap_or(rest.len());
    let uri = &rest[..uri_end];
    let user = uri
        .strip_prefix("sip:")
        .and_then(|u| u.split_once('@'))
        .map(|(u, _)| u.into());
    let tag = v
        .split(";tag=")
        .nth(1)
        .map(|t| t.split([';', '>']).next().unwrap().into());
    NameAddr {
        display: None,
        user,
        uri: uri.into(),
        tag,
    }
}

fn sip_record(src: std::net::SocketAddr, dst: std::net::SocketAddr, payload: &[u8]) -> SipRecord {
    let text = String::from_utf8_lossy(payload).into_owned();
    let head = text.split("\r\n\r\n").next().unwrap();
    let mut lines = head.split("\r\n");
    let start = lines.next().unwrap();
    let mut rec = SipRecord::new(src, dst, Transport::Udp, CallId::from(""));
    if let Some(rest) = start.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap();
        rec.status = Some(code.parse().unwrap());
        rec.reason = Some(reason.into());
    } else {
        let mut p = start.split(' ');
        rec.method = Some(p.next().unwrap().into());
        rec.request_uri = Some(p.next().unwrap().into());
    }
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "call-id" | "i" => rec.call_id = CallId::from(v),
            "from" | "f" => rec.from = name_addr(v),
            "to" | "t" => rec.to = name_addr(v),
            "cseq" => {
                let (n, m) = v.split_once(' ').unwrap();
                rec.cseq = Some(CSeq {
                    seq: n.parse().unwrap(),
                    method: m.trim().into(),
                });
            }
            "x-cid" => rec.correlation = Some(CallId::from(v)),
            _ => {}
        }
    }
    rec.raw = Arc::from(text);
    rec
}

/// `hep_stream.bin`: concatenated HEPv3 datagrams.
pub fn hep_records(path: &str, node: &str) -> Vec<Record> {
    let data = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 6 <= data.len() {
        assert_eq!(&data[i..i + 4], b"HEP3");
        let total = u16::from_be_bytes([data[i + 4], data[i + 5]]) as usize;
        let pkt = &data[i..i + total];
        i += total;
        let (mut sip, mut dip, mut sp, mut dp, mut sec, mut usec, mut payload) =
            ([0u8; 4], [0u8; 4], 0, 0, 0u32, 0u32, &[][..]);
        let mut capt = None;
        let mut j = 6;
        while j + 6 <= pkt.len() {
            let ty = u16::from_be_bytes([pkt[j + 2], pkt[j + 3]]);
            let len = u16::from_be_bytes([pkt[j + 4], pkt[j + 5]]) as usize;
            let v = &pkt[j + 6..j + len];
            match ty {
                3 => sip.copy_from_slice(v),
                4 => dip.copy_from_slice(v),
                7 => sp = u16::from_be_bytes([v[0], v[1]]),
                8 => dp = u16::from_be_bytes([v[0], v[1]]),
                9 => sec = u32::from_be_bytes(v.try_into().unwrap()),
                10 => usec = u32::from_be_bytes(v.try_into().unwrap()),
                12 => capt = Some(u32::from_be_bytes(v.try_into().unwrap())),
                15 => payload = v,
                _ => {}
            }
            j += len;
        }
        let src = std::net::SocketAddr::from((sip, sp));
        let dst = std::net::SocketAddr::from((dip, dp));
        let mut rec = sip_record(src, dst, payload);
        rec.capture_agent_id = capt;
        out.push(Record::new(
            i64::from(sec) * 1_000_000 + i64::from(usec),
            node,
            RecordKind::Sip(rec),
        ));
    }
    out
}

/// `freeswitch.log` with `uuid=true`: UUID prefix, the two Call-ID anchors and the
/// Peer UUID anchor. Lines without a timestamp take the previous line's.
pub fn log_records(path: &str, node: &str) -> Vec<Record> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut last_ts = 0i64;
    for line in text.lines() {
        let Some((uuid, rest)) = line.split_once(' ') else {
            continue;
        };
        if uuid.len() != 36 {
            continue;
        }
        // "2026-11-26 03:24:30.521047": keep µs within the day; enough for ordering.
        if rest.len() > 26 && rest.as_bytes()[4] == b'-' {
            let t = &rest[11..26];
            let h: i64 = t[0..2].parse().unwrap();
            let m: i64 = t[3..5].parse().unwrap();
            let s: i64 = t[6..8].parse().unwrap();
            let us: i64 = t[9..15].parse().unwrap();
            last_ts = 1_795_651_200_000_000 + ((h * 60 + m) * 60 + s) * 1_000_000 + us;
        }
        let mut rec = LogRecord::new(rest);
        rec.uuid = Some(ChannelUuid::from(uuid));
        if let Some(cid) = rest.split("call-id: ").nth(1)
            && (rest.contains("receiving invite") || rest.contains("sending invite"))
        {
            rec.call_id_hint = Some(CallId::from(cid.trim()));
            rec.direction = Some(if rest.contains("receiving invite") {
                Direction::Inbound
            } else {
                Direction::Outbound
            });
        }
        if let Some(peer) = rest.split("Peer UUID: ").nth(1) {
            rec.peer_uuid = Some(ChannelUuid::from(peer.trim()));
        }
        out.push(Record::new(last_ts, node, RecordKind::Log(rec)));
    }
    out
}

/// One row of `calls.tsv`.
#[derive(Debug)]
pub struct Row {
    pub a_call_id: String,
    pub a_uuid: String,
    pub b_call_id: String,
    pub b_uuid: String,
    pub a_cause: String,
    pub a_status: Option<u16>,
    pub b_cause: String,
}

pub fn calls_tsv(path: &str) -> Vec<Row> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let (a_cause, a_status) = f[5].split_once('/').unwrap();
            let (b_cause, _) = f[6].split_once('/').unwrap();
            Row {
                a_call_id: f[0].into(),
                a_uuid: f[1].into(),
                b_call_id: f[2].into(),
                b_uuid: f[3].into(),
                a_cause: a_cause.into(),
                a_status: a_status.parse().ok(),
                b_cause: b_cause.into(),
            }
        })
        .collect()
}
