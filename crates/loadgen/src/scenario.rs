//! Call scenarios rendered once into byte templates, then stamped per call.
//!
//! Every message of every call kind is encoded once, at start, with a
//! 12-character placeholder where the call serial goes and a zero timestamp.
//! Emitting a message copies the template and overwrites the serial (12 hex
//! digits, fixed width, so no length field changes) and the capture time.
//! That keeps the generator's per-message cost to one `memcpy` of about 1 kB
//! and a few small writes, far below what the agent spends on the same message.

use std::net::SocketAddr;

use callweave_hep::{HepBuilder, ip_proto};

use crate::error::LoadgenError;

/// Placeholder for the call serial in templates; never valid hex, so it cannot
/// collide with real content.
const SERIAL_MARK: &[u8; 12] = b"ZZZZZZZZZZZZ";
/// Placeholder for an ESL `Event-Date-Timestamp` (16 decimal digits of µs).
const MICROS_MARK: &[u8; 16] = b"TTTTTTTTTTTTTTTT";

/// The A-leg Call-ID of call `serial` (the B-leg names it in `X-CID`).
pub fn a_leg_call_id(serial: u64) -> String {
    format!("lg-{serial:012x}-a@192.0.2.10")
}

/// The B-leg Call-ID of call `serial`.
pub fn b_leg_call_id(serial: u64) -> String {
    format!("lg-{serial:012x}-b@192.0.2.1")
}

/// The FreeSWITCH channel UUID of the A leg of call `serial`.
pub fn a_leg_uuid(serial: u64) -> String {
    format!("0a0a0a0a-0000-4000-8000-{serial:012x}")
}

/// The FreeSWITCH channel UUID of the B leg of call `serial`.
pub fn b_leg_uuid(serial: u64) -> String {
    format!("0b0b0b0b-0000-4000-8000-{serial:012x}")
}

/// The serial of call number `seq` in run `run_id`: unique across runs that
/// use different ids, and fixed-width (48 bits, 12 hex digits).
pub fn call_serial(run_id: u16, seq: u32) -> u64 {
    (u64::from(run_id) << 32) | u64::from(seq)
}

/// How a call ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallKind {
    /// INVITE/100/180/200/ACK on both legs, then BYE/200 on both: 14 messages.
    Answered,
    /// The callee answers 486 Busy Here; the A leg gets 486 too: 8 messages.
    Busy,
    /// The caller cancels while ringing (CANCEL/200/487/ACK on both legs): 14 messages.
    Cancelled,
    /// Answered but never hung up (no BYE): 10 messages; the call stays active.
    Open,
}

impl CallKind {
    /// Every kind, in template order.
    pub const ALL: [CallKind; 4] = [
        CallKind::Answered,
        CallKind::Busy,
        CallKind::Cancelled,
        CallKind::Open,
    ];

    fn index(self) -> usize {
        match self {
            CallKind::Answered => 0,
            CallKind::Busy => 1,
            CallKind::Cancelled => 2,
            CallKind::Open => 3,
        }
    }
}

/// One pre-encoded message (a HEP packet or an ESL frame) and where to stamp it.
#[derive(Debug, Clone)]
pub struct Template {
    bytes: Vec<u8>,
    serial_at: Vec<usize>,
    /// HEP chunk 0x09/0x0a value offsets (big-endian u32 each).
    hep_time_at: Option<(usize, usize)>,
    /// ESL `Event-Date-Timestamp` digit offsets.
    micros_at: Vec<usize>,
}

impl Template {
    fn new(bytes: Vec<u8>) -> Self {
        let serial_at = memchr::memmem::find_iter(&bytes, SERIAL_MARK).collect();
        let micros_at = memchr::memmem::find_iter(&bytes, MICROS_MARK).collect();
        Self {
            bytes,
            serial_at,
            hep_time_at: None,
            micros_at,
        }
    }

    /// Length of every stamped copy.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the template is empty (never, for the scenarios built here).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Appends a copy stamped with `serial_hex` (12 ASCII hex digits) and the
    /// capture time `now_micros` to `out`.
    pub fn stamp_into(&self, out: &mut Vec<u8>, serial_hex: &[u8; 12], now_micros: u64) {
        let base = out.len();
        out.extend_from_slice(&self.bytes);
        let Some(copy) = out.get_mut(base..) else {
            return;
        };
        for &at in &self.serial_at {
            if let Some(dst) = copy.get_mut(at..at + 12) {
                dst.copy_from_slice(serial_hex);
            }
        }
        if let Some((sec_at, usec_at)) = self.hep_time_at {
            let sec = u32::try_from(now_micros / 1_000_000).unwrap_or(u32::MAX);
            let usec = u32::try_from(now_micros % 1_000_000).unwrap_or(0);
            if let Some(dst) = copy.get_mut(sec_at..sec_at + 4) {
                dst.copy_from_slice(&sec.to_be_bytes());
            }
            if let Some(dst) = copy.get_mut(usec_at..usec_at + 4) {
                dst.copy_from_slice(&usec.to_be_bytes());
            }
        }
        if !self.micros_at.is_empty() {
            let digits = micros_digits(now_micros);
            for &at in &self.micros_at {
                if let Some(dst) = copy.get_mut(at..at + 16) {
                    dst.copy_from_slice(&digits);
                }
            }
        }
    }
}

/// `n` as 12 lowercase hex digits (the low 48 bits).
pub fn serial_hex(n: u64) -> [u8; 12] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'0'; 12];
    for (i, slot) in out.iter_mut().rev().enumerate() {
        let nibble = (n >> (4 * i)) & 0xf;
        *slot = HEX
            .get(usize::try_from(nibble).unwrap_or(0))
            .copied()
            .unwrap_or(b'0');
    }
    out
}

fn micros_digits(n: u64) -> [u8; 16] {
    let mut out = [b'0'; 16];
    let mut v = n;
    for slot in out.iter_mut().rev() {
        // `v % 10` is below 10, so the cast cannot truncate.
        *slot = b'0' + u8::try_from(v % 10).unwrap_or(0);
        v /= 10;
    }
    out
}

/// One message of a call, with the ESL events FreeSWITCH would emit right after it.
#[derive(Debug, Clone)]
pub struct Step {
    /// The HEP packet.
    pub hep: Template,
    /// SIP method of the request, or of the CSeq for a response.
    pub label: &'static str,
    /// Whether the SIP message is a response.
    pub is_response: bool,
    /// `text/event-json` frames (headers and body), possibly none.
    pub esl: Vec<Template>,
}

/// Every call kind's steps, encoded.
#[derive(Debug, Clone)]
pub struct Scenarios {
    kinds: [Vec<Step>; 4],
}

impl Scenarios {
    /// Encodes every call kind. `capture_id` goes in HEP chunk 0x0c and
    /// `node_name` (when given) in chunk 0x13.
    pub fn build(capture_id: u32, node_name: Option<&str>) -> Result<Self, LoadgenError> {
        let mk = |kind| build_kind(kind, capture_id, node_name);
        Ok(Self {
            kinds: [
                mk(CallKind::Answered)?,
                mk(CallKind::Busy)?,
                mk(CallKind::Cancelled)?,
                mk(CallKind::Open)?,
            ],
        })
    }

    /// The steps of `kind`, in send order.
    pub fn steps(&self, kind: CallKind) -> &[Step] {
        self.kinds.get(kind.index()).map_or(&[], Vec::as_slice)
    }
}

/// Addresses inside the captured packets (documentation ranges: these are
/// data carried in HEP, never contacted).
const CALLER: &str = "192.0.2.10:5060";
const SWITCH_IN: &str = "192.0.2.1:5080";
const SWITCH_OUT: &str = "192.0.2.1:5060";
const CALLEE: &str = "192.0.2.20:5060";

struct Leg {
    /// `a` or `b`.
    tag: char,
    call_id: String,
    uac: &'static str,
    uas: &'static str,
    from: String,
    to: String,
    ruri: String,
    xcid: Option<String>,
}

impl Leg {
    fn a() -> Self {
        let s = "ZZZZZZZZZZZZ";
        Self {
            tag: 'a',
            call_id: format!("lg-{s}-a@192.0.2.10"),
            uac: CALLER,
            uas: SWITCH_IN,
            from: format!("\"Alice Load\" <sip:+15550001001@192.0.2.10>;tag=fa{s}"),
            to: "<sip:+15550002002@192.0.2.1>".to_owned(),
            ruri: "sip:+15550002002@192.0.2.1:5080".to_owned(),
            xcid: None,
        }
    }

    fn b() -> Self {
        let s = "ZZZZZZZZZZZZ";
        Self {
            tag: 'b',
            call_id: format!("lg-{s}-b@192.0.2.1"),
            uac: SWITCH_OUT,
            uas: CALLEE,
            from: format!("\"Alice Load\" <sip:+15550001001@192.0.2.1>;tag=fb{s}"),
            to: "<sip:+15550002002@192.0.2.20>".to_owned(),
            ruri: "sip:+15550002002@192.0.2.20:5060".to_owned(),
            xcid: Some(format!("lg-{s}-a@192.0.2.10")),
        }
    }

    fn to_tagged(&self) -> String {
        format!("{};tag=t{}ZZZZZZZZZZZZ", self.to, self.tag)
    }

    fn via(&self, branch: &str) -> String {
        format!(
            "Via: SIP/2.0/UDP {};rport;branch=z9hG4bK-ZZZZZZZZZZZZ-{}{branch}\r\n",
            self.uac, self.tag
        )
    }
}

const SDP_OFFER: &str = "v=0\r\n\
o=- 3917001234 3917001234 IN IP4 192.0.2.10\r\n\
s=callweave-loadgen\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 16384 RTP/AVP 0 8 9 18 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

const SDP_ANSWER: &str = "v=0\r\n\
o=FreeSWITCH 1700000000 1700000001 IN IP4 192.0.2.1\r\n\
s=FreeSWITCH\r\n\
c=IN IP4 192.0.2.1\r\n\
t=0 0\r\n\
m=audio 24576 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

const ALLOW: &str = "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY, PUBLISH, SUBSCRIBE\r\n";

fn request(
    leg: &Leg,
    method: &str,
    cseq: u32,
    branch: &str,
    to: &str,
    body: Option<&str>,
) -> String {
    let mut m = format!("{method} {} SIP/2.0\r\n", leg.ruri);
    m.push_str(&leg.via(branch));
    m.push_str("Max-Forwards: 70\r\n");
    m.push_str(&format!("From: {}\r\n", leg.from));
    m.push_str(&format!("To: {to}\r\n"));
    m.push_str(&format!("Call-ID: {}\r\n", leg.call_id));
    m.push_str(&format!("CSeq: {cseq} {method}\r\n"));
    if method == "INVITE" {
        m.push_str(&format!(
            "Contact: <sip:+15550001001@{};transport=udp>\r\n",
            leg.uac
        ));
        m.push_str("User-Agent: callweave-loadgen/0.1\r\n");
        m.push_str(ALLOW);
        m.push_str("Supported: timer, path, replaces\r\n");
        m.push_str("Allow-Events: talk, hold, conference, refer\r\n");
        m.push_str("Session-Expires: 1800;refresher=uac\r\n");
        m.push_str("P-Asserted-Identity: \"Alice Load\" <sip:+15550001001@192.0.2.10>\r\n");
        if let Some(x) = &leg.xcid {
            m.push_str(&format!("X-CID: {x}\r\n"));
        }
    }
    if method == "BYE" || method == "CANCEL" {
        m.push_str("User-Agent: callweave-loadgen/0.1\r\n");
        m.push_str("Reason: Q.850;cause=16;text=\"NORMAL_CLEARING\"\r\n");
    }
    finish(m, body)
}

fn response(
    leg: &Leg,
    (code, reason): (u16, &str),
    method: &str,
    cseq: u32,
    branch: &str,
    to: &str,
    body: Option<&str>,
) -> String {
    let mut m = format!("SIP/2.0 {code} {reason}\r\n");
    let via = leg.via(branch);
    let via = via.trim_end_matches("\r\n");
    m.push_str(&format!("{via};received={}\r\n", host_of(leg.uac)));
    m.push_str(&format!("From: {}\r\n", leg.from));
    m.push_str(&format!("To: {to}\r\n"));
    m.push_str(&format!("Call-ID: {}\r\n", leg.call_id));
    m.push_str(&format!("CSeq: {cseq} {method}\r\n"));
    if code > 100 && method == "INVITE" {
        m.push_str(&format!("Contact: <sip:+15550002002@{}>\r\n", leg.uas));
        m.push_str("User-Agent: FreeSWITCH-mod_sofia/1.10.12-release\r\n");
        m.push_str(ALLOW);
        m.push_str("Supported: timer, path, replaces\r\n");
    }
    finish(m, body)
}

fn host_of(addr: &str) -> &str {
    addr.split(':').next().unwrap_or(addr)
}

fn finish(mut m: String, body: Option<&str>) -> String {
    match body {
        Some(b) => {
            m.push_str("Content-Type: application/sdp\r\n");
            m.push_str(&format!("Content-Length: {}\r\n\r\n", b.len()));
            m.push_str(b);
        }
        None => m.push_str("Content-Length: 0\r\n\r\n"),
    }
    m
}

fn hep(
    payload: String,
    src: &str,
    dst: &str,
    capture_id: u32,
    node_name: Option<&str>,
) -> Result<Template, LoadgenError> {
    let src: SocketAddr = src
        .parse()
        .map_err(|_| LoadgenError::Template("bad address"))?;
    let dst: SocketAddr = dst
        .parse()
        .map_err(|_| LoadgenError::Template("bad address"))?;
    let mut builder = HepBuilder::sip(payload)
        .src(src)
        .dst(dst)
        .ip_proto(ip_proto::UDP)
        .timestamp(0, 0)
        .capture_id(capture_id);
    if let Some(n) = node_name {
        builder = builder.node_name(n.to_owned());
    }
    let bytes = builder.build().encode_to_vec()?;
    let mut t = Template::new(bytes);
    t.hep_time_at = hep_time_offsets(&t.bytes);
    if t.hep_time_at.is_none() {
        return Err(LoadgenError::Template("encoded HEP has no time chunks"));
    }
    Ok(t)
}

/// Offsets of the values of chunks 0x09 and 0x0a in an encoded HEPv3 packet.
fn hep_time_offsets(buf: &[u8]) -> Option<(usize, usize)> {
    let mut at = 6;
    let (mut sec, mut usec) = (None, None);
    while at + 6 <= buf.len() {
        let header = buf.get(at..at + 6)?;
        let vendor = u16::from_be_bytes([*header.first()?, *header.get(1)?]);
        let kind = u16::from_be_bytes([*header.get(2)?, *header.get(3)?]);
        let len = usize::from(u16::from_be_bytes([*header.get(4)?, *header.get(5)?]));
        if len < 6 {
            return None;
        }
        if vendor == 0 && kind == 0x09 && len == 10 {
            sec = Some(at + 6);
        }
        if vendor == 0 && kind == 0x0a && len == 10 {
            usec = Some(at + 6);
        }
        at += len;
    }
    Some((sec?, usec?))
}

/// A FreeSWITCH `text/event-json` frame for one channel.
struct Channel {
    uuid: String,
    other: String,
    call_id: String,
    direction: &'static str,
    caller: &'static str,
    dest: &'static str,
}

impl Channel {
    fn a() -> Self {
        Self {
            uuid: "0a0a0a0a-0000-4000-8000-ZZZZZZZZZZZZ".to_owned(),
            other: "0b0b0b0b-0000-4000-8000-ZZZZZZZZZZZZ".to_owned(),
            call_id: "lg-ZZZZZZZZZZZZ-a@192.0.2.10".to_owned(),
            direction: "inbound",
            caller: "+15550001001",
            dest: "+15550002002",
        }
    }

    fn b() -> Self {
        Self {
            uuid: "0b0b0b0b-0000-4000-8000-ZZZZZZZZZZZZ".to_owned(),
            other: "0a0a0a0a-0000-4000-8000-ZZZZZZZZZZZZ".to_owned(),
            call_id: "lg-ZZZZZZZZZZZZ-b@192.0.2.1".to_owned(),
            direction: "outbound",
            caller: "+15550001001",
            dest: "+15550002002",
        }
    }
}

fn esl_event(ch: &Channel, event: &str, extra: &[(&str, &str)]) -> Result<Template, LoadgenError> {
    let mut obj = serde_json::Map::new();
    let mut put = |k: &str, v: &str| {
        obj.insert(k.to_owned(), serde_json::Value::String(v.to_owned()));
    };
    put("Event-Name", event);
    put("Core-UUID", "c0c0c0c0-0000-4000-8000-000000000001");
    put("FreeSWITCH-Hostname", "loadgen-fs");
    put("FreeSWITCH-Switchname", "loadgen-fs");
    put("FreeSWITCH-IPv4", "192.0.2.1");
    put("Event-Date-Timestamp", "TTTTTTTTTTTTTTTT");
    put("Event-Calling-File", "switch_channel.c");
    put("Channel-State", "CS_EXECUTE");
    put("Channel-Call-State", "ACTIVE");
    put("Call-Direction", ch.direction);
    put("Unique-ID", &ch.uuid);
    put("Caller-Unique-ID", &ch.uuid);
    put(
        "Channel-Name",
        if ch.direction == "inbound" {
            "sofia/internal/+15550001001@192.0.2.10"
        } else {
            "sofia/external/+15550002002@192.0.2.20"
        },
    );
    put("Caller-Caller-ID-Number", ch.caller);
    put("Caller-Caller-ID-Name", "Alice Load");
    put("Caller-Destination-Number", ch.dest);
    put("Caller-Network-Addr", "192.0.2.10");
    put("Caller-Context", "public");
    put("variable_sip_call_id", &ch.call_id);
    if ch.direction == "outbound" {
        put("Channel-Call-UUID", &ch.other);
        put("Other-Type", "originator");
        put("Other-Leg-Unique-ID", &ch.other);
    } else {
        put("Channel-Call-UUID", &ch.uuid);
    }
    for (k, v) in extra {
        put(k, v);
    }
    let body = serde_json::to_string(&serde_json::Value::Object(obj))?;
    let frame = format!(
        "Content-Length: {}\nContent-Type: text/event-json\n\n{body}",
        body.len()
    );
    Ok(Template::new(frame.into_bytes()))
}

fn build_kind(
    kind: CallKind,
    capture_id: u32,
    node: Option<&str>,
) -> Result<Vec<Step>, LoadgenError> {
    let a = Leg::a();
    let b = Leg::b();
    let (ca, cb) = (Channel::a(), Channel::b());
    let (a_to, b_to) = (a.to_tagged(), b.to_tagged());
    let cap = capture_id;

    // Requests go uac -> uas, responses uas -> uac.
    let req = |leg: &Leg, label: &'static str, m: String| -> Result<Step, LoadgenError> {
        Ok(Step {
            hep: hep(m, leg.uac, leg.uas, cap, node)?,
            label,
            is_response: false,
            esl: Vec::new(),
        })
    };
    let resp = |leg: &Leg, label: &'static str, m: String| -> Result<Step, LoadgenError> {
        Ok(Step {
            hep: hep(m, leg.uas, leg.uac, cap, node)?,
            label,
            is_response: true,
            esl: Vec::new(),
        })
    };
    let with = |mut s: Step, events: Vec<Template>| {
        s.esl = events;
        s
    };

    let invite = |l: &Leg| request(l, "INVITE", 1, "1", &l.to, Some(SDP_OFFER));
    let trying = |l: &Leg| response(l, (100, "Trying"), "INVITE", 1, "1", &l.to, None);
    let ringing = |l: &Leg, to: &str| response(l, (180, "Ringing"), "INVITE", 1, "1", to, None);
    let ok_invite =
        |l: &Leg, to: &str| response(l, (200, "OK"), "INVITE", 1, "1", to, Some(SDP_ANSWER));
    let ack = |l: &Leg, to: &str| request(l, "ACK", 1, "2", to, None);

    let mut steps = vec![
        with(
            req(&a, "INVITE", invite(&a))?,
            vec![esl_event(
                &ca,
                "CHANNEL_CREATE",
                &[("Answer-State", "ringing")],
            )?],
        ),
        resp(&a, "INVITE", trying(&a))?,
        with(
            req(&b, "INVITE", invite(&b))?,
            vec![esl_event(
                &cb,
                "CHANNEL_CREATE",
                &[("Answer-State", "ringing")],
            )?],
        ),
        resp(&b, "INVITE", trying(&b))?,
    ];
    match kind {
        CallKind::Answered | CallKind::Open => {
            steps.push(resp(&b, "INVITE", ringing(&b, &b_to))?);
            steps.push(resp(&a, "INVITE", ringing(&a, &a_to))?);
            steps.push(with(
                resp(&b, "INVITE", ok_invite(&b, &b_to))?,
                vec![esl_event(
                    &cb,
                    "CHANNEL_ANSWER",
                    &[("Answer-State", "answered")],
                )?],
            ));
            steps.push(req(&b, "ACK", ack(&b, &b_to))?);
            steps.push(with(
                resp(&a, "INVITE", ok_invite(&a, &a_to))?,
                vec![
                    esl_event(&ca, "CHANNEL_ANSWER", &[("Answer-State", "answered")])?,
                    esl_event(
                        &ca,
                        "CHANNEL_BRIDGE",
                        &[
                            ("Answer-State", "answered"),
                            ("Bridge-A-Unique-ID", &ca.uuid),
                            ("Bridge-B-Unique-ID", &cb.uuid),
                            ("Other-Leg-Unique-ID", &cb.uuid),
                        ],
                    )?,
                ],
            ));
            steps.push(req(&a, "ACK", ack(&a, &a_to))?);
            if kind == CallKind::Answered {
                let hangup = [
                    ("Answer-State", "hangup"),
                    ("Hangup-Cause", "NORMAL_CLEARING"),
                    ("variable_hangup_cause", "NORMAL_CLEARING"),
                    ("variable_sip_term_status", "200"),
                    ("variable_billsec", "0"),
                    ("variable_rtp_audio_in_mos", "4.40"),
                ];
                steps.push(req(&a, "BYE", request(&a, "BYE", 2, "3", &a_to, None))?);
                steps.push(with(
                    resp(
                        &a,
                        "BYE",
                        response(&a, (200, "OK"), "BYE", 2, "3", &a_to, None),
                    )?,
                    vec![esl_event(&ca, "CHANNEL_HANGUP_COMPLETE", &hangup)?],
                ));
                steps.push(req(&b, "BYE", request(&b, "BYE", 2, "3", &b_to, None))?);
                steps.push(with(
                    resp(
                        &b,
                        "BYE",
                        response(&b, (200, "OK"), "BYE", 2, "3", &b_to, None),
                    )?,
                    vec![esl_event(&cb, "CHANNEL_HANGUP_COMPLETE", &hangup)?],
                ));
            }
        }
        CallKind::Busy => {
            let hangup = [
                ("Answer-State", "hangup"),
                ("Hangup-Cause", "USER_BUSY"),
                ("variable_hangup_cause", "USER_BUSY"),
                ("variable_sip_term_status", "486"),
            ];
            steps.push(resp(
                &b,
                "INVITE",
                response(&b, (486, "Busy Here"), "INVITE", 1, "1", &b_to, None),
            )?);
            steps.push(with(
                req(&b, "ACK", request(&b, "ACK", 1, "1", &b_to, None))?,
                vec![esl_event(&cb, "CHANNEL_HANGUP_COMPLETE", &hangup)?],
            ));
            steps.push(resp(
                &a,
                "INVITE",
                response(&a, (486, "Busy Here"), "INVITE", 1, "1", &a_to, None),
            )?);
            steps.push(with(
                req(&a, "ACK", request(&a, "ACK", 1, "1", &a_to, None))?,
                vec![esl_event(&ca, "CHANNEL_HANGUP_COMPLETE", &hangup)?],
            ));
        }
        CallKind::Cancelled => {
            let hangup = [
                ("Answer-State", "hangup"),
                ("Hangup-Cause", "ORIGINATOR_CANCEL"),
                ("variable_hangup_cause", "ORIGINATOR_CANCEL"),
                ("variable_sip_term_status", "487"),
            ];
            steps.push(resp(&b, "INVITE", ringing(&b, &b_to))?);
            steps.push(resp(&a, "INVITE", ringing(&a, &a_to))?);
            // CANCEL reuses the INVITE's branch and To without a tag.
            steps.push(req(
                &a,
                "CANCEL",
                request(&a, "CANCEL", 1, "1", &a.to, None),
            )?);
            steps.push(resp(
                &a,
                "CANCEL",
                response(&a, (200, "OK"), "CANCEL", 1, "1", &a_to, None),
            )?);
            steps.push(req(
                &b,
                "CANCEL",
                request(&b, "CANCEL", 1, "1", &b.to, None),
            )?);
            steps.push(resp(
                &b,
                "CANCEL",
                response(&b, (200, "OK"), "CANCEL", 1, "1", &b_to, None),
            )?);
            steps.push(resp(
                &b,
                "INVITE",
                response(
                    &b,
                    (487, "Request Terminated"),
                    "INVITE",
                    1,
                    "1",
                    &b_to,
                    None,
                ),
            )?);
            steps.push(with(
                req(&b, "ACK", request(&b, "ACK", 1, "1", &b_to, None))?,
                vec![esl_event(&cb, "CHANNEL_HANGUP_COMPLETE", &hangup)?],
            ));
            steps.push(resp(
                &a,
                "INVITE",
                response(
                    &a,
                    (487, "Request Terminated"),
                    "INVITE",
                    1,
                    "1",
                    &a_to,
                    None,
                ),
            )?);
            steps.push(with(
                req(&a, "ACK", request(&a, "ACK", 1, "1", &a_to, None))?,
                vec![esl_event(&ca, "CHANNEL_HANGUP_COMPLETE", &hangup)?],
            ));
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_digits_are_fixed_width() {
        assert_eq!(&serial_hex(0x0001_0000_002a), b"00010000002a");
        assert_eq!(&micros_digits(1_700_000_000_123_456), b"1700000000123456");
    }

    #[test]
    fn message_counts_per_kind() {
        let s = Scenarios::build(200, None).unwrap();
        assert_eq!(s.steps(CallKind::Answered).len(), 14);
        assert_eq!(s.steps(CallKind::Busy).len(), 8);
        assert_eq!(s.steps(CallKind::Cancelled).len(), 14);
        assert_eq!(s.steps(CallKind::Open).len(), 10);
    }

    #[test]
    fn stamped_invite_decodes_with_the_serial_and_time() {
        let s = Scenarios::build(200, Some("lg-node")).unwrap();
        let step = &s.steps(CallKind::Answered)[2];
        let mut out = Vec::new();
        step.hep
            .stamp_into(&mut out, &serial_hex(0xabc), 1_700_000_000_250_000);
        let p = callweave_hep::decode(out.into()).unwrap();
        assert_eq!(p.ts_sec, 1_700_000_000);
        assert_eq!(p.ts_usec, 250_000);
        let text = std::str::from_utf8(&p.payload).unwrap();
        assert!(text.starts_with("INVITE sip:+15550002002@192.0.2.20:5060 SIP/2.0\r\n"));
        assert!(text.contains("Call-ID: lg-000000000abc-b@192.0.2.1\r\n"));
        assert!(text.contains("X-CID: lg-000000000abc-a@192.0.2.10\r\n"));
        assert!(!text.contains('Z'));
        assert!(p.payload.len() > 900, "INVITE is {} bytes", p.payload.len());
    }
}
