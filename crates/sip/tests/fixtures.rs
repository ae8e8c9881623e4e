//! The parser and the stream framer against real captures in `testdata/`.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use callweave_sip::sdp::Direction;
use callweave_sip::stream::{message_len, skip_keepalives};
use callweave_sip::{Method, Parser, SipMessage, StartLine, parse};
use support::{Payload, looks_like_sip, payloads, tcp_streams, testdata};

/// SIP datagrams (UDP/SCTP, reassembled if fragmented) of a capture under testdata/.
fn sip_datagrams(rel: &str) -> Vec<Payload> {
    let (all, _) = payloads(&testdata(rel));
    all.into_iter()
        .filter(|p| p.proto != "tcp" && looks_like_sip(&p.data))
        .collect()
}

fn parse_all(datagrams: &[Payload]) -> Vec<SipMessage<'_>> {
    datagrams
        .iter()
        .map(|d| {
            parse(&d.data).unwrap_or_else(|e| {
                panic!(
                    "{e} ({}): {}",
                    e.kind().as_str(),
                    String::from_utf8_lossy(&d.data)
                )
            })
        })
        .collect()
}

fn call_ids<'a>(msgs: &[SipMessage<'a>]) -> BTreeSet<&'a str> {
    msgs.iter().map(|m| m.call_id).collect()
}

#[test]
fn every_sip_datagram_in_every_capture_parses() {
    // Counts come from looking at the captures with tshark (SOURCES.md gives the
    // ones marked there); fragmented IPv6 and split SCTP messages are reassembled.
    let expected = [
        ("pcap/heplify_erspan_sip_ipv4_udp.pcapng", 140, Some(7)),
        ("pcap/heplify_fax_t38_b2bua_reinvite.pcap", 92, Some(3)),
        ("pcap/heplify_ipip0_register_invite403.pcap", 8, None),
        ("pcap/heplify_rtp_rtcp_sip_ipv4_udp.pcap", 14, None),
        ("pcap/heplify_sip_ipv4_tcp_retrans_register.pcap", 4, None),
        ("pcap/heplify_sip_ipv6_udp.pcap", 6, Some(1)),
        ("pcap/heplify_sip_sctp_isup_403.pcap", 4, Some(1)),
        (
            "pcap/heplify_sip_tcp_websocket_freeswitch_b2bua.pcap",
            28,
            Some(3),
        ),
        ("pcap/sngrep_aaa_register_invite_cancel.pcap", 81, Some(6)),
        ("pcap/sngrep_ipv6frag_proxy_prack_update.pcap", 32, Some(1)),
        (
            "freeswitch-live/01-bridged-callid-random/sip.pcap",
            65,
            Some(10),
        ),
        ("freeswitch-live/03-bleg-busy-486/sip.pcap", 24, Some(6)),
    ];
    let mut total = 0;
    for (file, count, ids) in expected {
        let datagrams = sip_datagrams(file);
        let msgs = parse_all(&datagrams);
        assert_eq!(msgs.len(), count, "{file}");
        if let Some(ids) = ids {
            assert_eq!(call_ids(&msgs).len(), ids, "{file}");
        }
        for (m, d) in msgs.iter().zip(&datagrams) {
            // Every real message has these; the parser must have found them.
            assert!(
                m.cseq.is_some() && m.from.is_some() && m.to.is_some(),
                "{file}"
            );
            assert!(m.via.is_some_and(|v| v.branch.is_some()), "{file}");
            assert_eq!(m.transaction_method(), m.cseq.map(|c| c.method));
            assert!(d.data.starts_with(m.as_bytes()));
            if let Some(n) = m.content_length {
                assert_eq!(m.body.len(), n, "{file}: body shorter than Content-Length");
            }
        }
        total += msgs.len();
    }
    assert_eq!(total, 498);
}

#[test]
fn b2bua_b_leg_invite_carries_the_a_leg_call_id() {
    let datagrams = sip_datagrams("pcap/heplify_sip_tcp_websocket_freeswitch_b2bua.pcap");
    let msgs = parse_all(&datagrams);
    let b_invite = msgs
        .iter()
        .find(|m| m.method() == Some(Method::Invite) && m.call_id.starts_with("926ffd16"))
        .unwrap();
    assert_eq!(b_invite.call_id, "926ffd16-6154-1237-09ba-0270b3230128");
    assert_eq!(b_invite.correlation_id, Some("kovfhoptshgn59q712sr"));
    assert_eq!(b_invite.header("xcall-id"), Some("kovfhoptshgn59q712sr"));
    assert_eq!(b_invite.header("X-Dir"), Some("o"));
    assert_eq!(
        b_invite.request_uri(),
        Some("sip:9998112263382742@10.243.0.157")
    );
    assert_eq!(b_invite.cseq.unwrap().seq, 130_689_518);
    assert_eq!(
        b_invite.user_agent,
        Some("FreeSWITCH-mod_sofia/1.8.2-3-a98a958ac3~64bit")
    );
    let via = b_invite.via.unwrap();
    assert_eq!(
        (via.transport, via.branch),
        ("UDP", Some("z9hG4bKZQc0S64KHSyeg"))
    );
    assert_eq!(b_invite.to.unwrap().user, Some("9998112263382742"));
    assert_eq!(b_invite.to.unwrap().tag, None);
    assert!(b_invite.from.unwrap().tag.is_some());
    let sdp = b_invite.sdp().unwrap();
    assert_eq!(sdp.connection, Some("35.175.163.49"));
    assert_eq!((sdp.media[0].media, sdp.media[0].port), ("audio", 29578));
    assert_eq!(sdp.media[0].codecs().next(), Some("PCMU"));

    // The same header through a parser configured for another name.
    let x_dir = Parser::new(["X-Dir"]).parse(&datagrams[5].data).unwrap();
    assert_eq!(
        (x_dir.call_id, x_dir.correlation_id),
        (b_invite.call_id, Some("o"))
    );

    // The A-leg INVITE from the browser (SIP.js through OpenSIPS) has no link header.
    let a_invite = msgs
        .iter()
        .find(|m| m.method() == Some(Method::Invite) && m.call_id == "kovfhoptshgn59q712sr")
        .unwrap();
    assert_eq!(a_invite.correlation_id, None);
    assert_eq!(a_invite.user_agent, Some("SIP.js/0.11.5"));
    assert_eq!(
        a_invite.request_uri(),
        Some("sip:+12263382742@dev-mike.tncp.textnow.com")
    );
    let a_sdp = a_invite.sdp().unwrap();
    assert_eq!(a_sdp.media[0].codecs().next(), Some("opus"));
    assert!(a_sdp.media[0].codecs().any(|c| c == "telephone-event"));

    // FreeSWITCH hangs up the B-leg with a Q.850 reason.
    let bye = msgs
        .iter()
        .find(|m| m.method() == Some(Method::Bye) && m.call_id.starts_with("926ffd16"))
        .unwrap();
    assert_eq!(bye.reason, Some("Q.850;cause=16;text=\"NORMAL_CLEARING\""));

    let codes: Vec<u16> = msgs.iter().filter_map(SipMessage::status_code).collect();
    assert_eq!(codes.iter().filter(|&&c| c == 183).count(), 7);
    let options_ok = &msgs[1];
    assert_eq!(options_ok.status_code(), Some(200));
    assert_eq!(options_ok.transaction_method(), Some(Method::Options));
}

#[test]
fn sctp_invite_rejected_403_nocallee() {
    let datagrams = sip_datagrams("pcap/heplify_sip_sctp_isup_403.pcap");
    let msgs = parse_all(&datagrams);
    let methods: Vec<&str> = msgs
        .iter()
        .map(|m| match m.start {
            StartLine::Request { method, .. } => method.as_str(),
            StartLine::Response { reason, .. } => reason,
        })
        .collect();
    assert_eq!(
        methods,
        ["INVITE", "Giving a try", "The reason is nocallee", "ACK"]
    );

    let invite = &msgs[0];
    assert_eq!(invite.call_id, "717B2539AD2002C9152DC497@0870ffffffff");
    assert_eq!(invite.via.unwrap().transport, "SCTP");
    assert_eq!(invite.max_forwards, Some(70));
    assert_eq!(invite.content_length, Some(657));
    let pai = invite.p_asserted_identity.unwrap();
    assert_eq!(
        pai.uri,
        "sip:9171969136@astrakhan.megafonvolga.ru;user=phone"
    );
    assert_eq!(pai.user, Some("9171969136"));
    assert_eq!(invite.header("Request-Disposition"), Some("no-fork"));
    assert_eq!(invite.header("d"), Some("no-fork"));
    // The SDP is the first part of a multipart/mixed body (the second is ISUP).
    assert!(!invite.has_sdp());
    let sdp = invite.sdp().unwrap();
    assert_eq!(sdp.connection, Some("10.249.30.145"));
    let audio = &sdp.media[0];
    assert_eq!((audio.port, audio.proto), (38060, "RTP/AVP"));
    assert_eq!(
        audio.codecs().collect::<Vec<_>>(),
        ["PCMA", "CN", "telephone-event"]
    );

    let rejected = &msgs[2];
    assert_eq!(rejected.status_code(), Some(403));
    assert_eq!(rejected.reason, Some("Q.850;cause=21;text=\"nocallee\""));
    assert_eq!(rejected.server, Some("OpenSIPS (2.4.5 (x86_64/linux))"));
    assert_eq!(
        rejected.to.unwrap().tag,
        Some("3f3ba06def6e4629ccb4af8aa695ac6b-9432")
    );
}

#[test]
fn fax_re_invite_offering_t38_gets_488() {
    let datagrams = sip_datagrams("pcap/heplify_fax_t38_b2bua_reinvite.pcap");
    let msgs = parse_all(&datagrams);
    let outer = "SD4909701-9ff11bf72eb4a347c92974d8fbbc2668-ao8o3i1";
    let t38_offer = msgs
        .iter()
        .find(|m| {
            m.call_id == outer && m.method() == Some(Method::Invite) && m.cseq.unwrap().seq == 3
        })
        .unwrap();
    let sdp = t38_offer.sdp().unwrap();
    let image = sdp.media.iter().find(|m| m.media == "image").unwrap();
    assert_eq!((image.proto, image.formats[0].id), ("udptl", "t38"));
    let rejected = msgs
        .iter()
        .find(|m| m.call_id == outer && m.status_code() == Some(488))
        .unwrap();
    let cseq = rejected.cseq.unwrap();
    assert_eq!((cseq.seq, cseq.method), (3, Method::Invite));
    let audio_reinvite = msgs
        .iter()
        .find(|m| {
            m.call_id == outer && m.method() == Some(Method::Invite) && m.cseq.unwrap().seq == 4
        })
        .unwrap();
    assert_eq!(audio_reinvite.sdp().unwrap().media[0].media, "audio");
    // The odd 200 OK (BYE) pair with a foreign Call-ID.
    let odd = msgs
        .iter()
        .filter(|m| m.call_id == "1111-2222-3333-4444@1.1.1.1");
    assert!(odd.clone().count() >= 2);
    assert!(
        odd.into_iter()
            .all(|m| m.status_code() == Some(200) && m.transaction_method() == Some(Method::Bye))
    );
}

/// Frames every TCP stream of a capture with `message_len` and parses each message.
/// Only flows with `port` on either side are SIP.
fn framed_tcp_messages(rel: &str, port: u16) -> Vec<Vec<u8>> {
    let (all, _) = payloads(&testdata(rel));
    let mut out = Vec::new();
    let port = format!(":{port}");
    let sip_flows = tcp_streams(&all)
        .into_iter()
        .filter(|(flow, _)| flow.split(" -> ").any(|end| end.ends_with(&port)));
    for (flow, stream) in sip_flows {
        let mut buf = &stream[..];
        loop {
            buf = &buf[skip_keepalives(buf)..];
            match message_len(buf) {
                Ok(Some(n)) => {
                    out.push(buf[..n].to_vec());
                    buf = &buf[n..];
                }
                Ok(None) => break,
                Err(e) => panic!("{rel} {flow}: {e} ({})", e.kind().as_str()),
            }
        }
        // A capture may stop mid-message, but never with more than one pending.
        assert!(buf.len() < 8192, "{rel} {flow}: {} bytes left", buf.len());
    }
    out
}

#[test]
fn tcp_port_6060_stream_is_framed_into_406_messages() {
    let frames = framed_tcp_messages(
        "pcap/heplify_sip_ipv4_tcp_fragmented_fs_sbc_port6060.pcap",
        6060,
    );
    let msgs: Vec<SipMessage<'_>> = frames.iter().map(|f| parse(f).unwrap()).collect();
    assert_eq!(msgs.len(), 406);
    assert_eq!(call_ids(&msgs).len(), 70);
    let mut methods = BTreeMap::new();
    for m in msgs.iter().filter_map(SipMessage::method) {
        *methods.entry(m.label()).or_insert(0) += 1;
    }
    let expected = [
        ("BYE", 34),
        ("CANCEL", 2),
        ("INVITE", 37),
        ("OPTIONS", 5),
        ("PRACK", 5),
        ("UPDATE", 63),
    ];
    for (method, n) in expected {
        assert_eq!(methods.get(method), Some(&n), "{method}");
    }
    let codes: BTreeSet<u16> = msgs.iter().filter_map(SipMessage::status_code).collect();
    for code in [100, 180, 182, 183, 200, 403, 486, 487] {
        assert!(codes.contains(&code), "{code}");
    }
    let forbidden = msgs.iter().find(|m| m.status_code() == Some(403)).unwrap();
    assert!(forbidden.reason.unwrap().starts_with("Q.850;cause=21"));
    assert!(msgs.iter().any(|m| m.method() == Some(Method::Bye)
        && m.reason.is_some_and(|r| r.starts_with("Q.850;cause=16"))));
    assert!(msgs.iter().any(|m| m.user_agent == Some("ES FS SBC")));
    assert!(call_ids(&msgs).contains("17c0b3b3-dfd2-42ac-9018-6156179021c0"));
}

#[test]
fn other_tcp_captures_are_framed_and_parse() {
    let call = framed_tcp_messages("pcap/heplify_sip_ipv4_tcp.pcap", 5060);
    let msgs: Vec<SipMessage<'_>> = call.iter().map(|f| parse(f).unwrap()).collect();
    let starts: Vec<String> = msgs
        .iter()
        .map(|m| match m.start {
            StartLine::Request { method, .. } => method.to_string(),
            StartLine::Response { code, .. } => code.to_string(),
        })
        .collect();
    // Streams are grouped by direction: caller → callee, then callee → caller.
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(sorted, ["100", "180", "200", "200", "ACK", "BYE", "INVITE"]);
    assert_eq!(call_ids(&msgs).len(), 1);
    assert!(msgs.iter().all(|m| m.via.unwrap().transport == "TCP"));

    let register = framed_tcp_messages("pcap/heplify_sip_ipv4_tcp_retrans_register.pcap", 5060);
    let msgs: Vec<SipMessage<'_>> = register.iter().map(|f| parse(f).unwrap()).collect();
    let codes: Vec<u16> = msgs.iter().filter_map(SipMessage::status_code).collect();
    assert!(codes.contains(&401) && codes.contains(&200));
    assert!(msgs.iter().any(|m| m.method() == Some(Method::Register)));

    let ipip = framed_tcp_messages("pcap/sngrep_ipip_sip_tcp.pcap", 5090);
    let msgs: Vec<SipMessage<'_>> = ipip.iter().map(|f| parse(f).unwrap()).collect();
    assert!(msgs.iter().any(|m| m.method() == Some(Method::Invite)));
    assert!(msgs.iter().any(|m| m.status_code() == Some(183)));
}

#[test]
fn datagrams_concatenated_into_a_stream_split_back_exactly() {
    let datagrams = sip_datagrams("freeswitch-live/01-bridged-callid-random/sip.pcap");
    let mut stream = Vec::new();
    for (i, d) in datagrams.iter().enumerate() {
        // Interleave RFC 5626 keep-alives.
        if i % 3 == 0 {
            stream.extend_from_slice(b"\r\n\r\n");
        }
        stream.extend_from_slice(&d.data);
    }
    let mut buf = &stream[..];
    let mut framed = Vec::new();
    while !buf.is_empty() {
        buf = &buf[skip_keepalives(buf)..];
        let n = message_len(buf).unwrap().unwrap();
        // Every strict prefix needs more bytes.
        assert_eq!(message_len(&buf[..n - 1]), Ok(None));
        framed.push(&buf[..n]);
        buf = &buf[n..];
    }
    let originals: Vec<&[u8]> = datagrams.iter().map(|d| &d.data[..]).collect();
    assert_eq!(framed, originals);
}

/// Messages from a SIPp `-trace_msg` log (the log's own lines end in LF, the
/// messages keep their CRLF).
fn sipp_log_messages(text: &str) -> Vec<&str> {
    text.split("-----------------------------------------------")
        .filter_map(|block| {
            let (_, msg) = block.split_once(":\n\n")?;
            Some(msg.strip_suffix('\n').unwrap_or(msg))
        })
        .filter(|m| !m.is_empty())
        .collect()
}

#[test]
fn sipp_trace_logs_parse() {
    let mut total = 0;
    for (set, uac, uas) in [
        ("01-bridged-callid-random", 35, 30),
        ("03-bleg-busy-486", 12, 12),
    ] {
        for (side, n) in [("uac", uac), ("uas", uas)] {
            let path = testdata(&format!("freeswitch-live/{set}/sipp_{side}_messages.log"));
            let text = std::fs::read_to_string(&path).unwrap();
            let msgs = sipp_log_messages(&text);
            assert_eq!(msgs.len(), n, "{path}");
            for m in &msgs {
                let parsed = parse(m.as_bytes()).unwrap_or_else(|e| panic!("{path}: {e}\n{m}"));
                assert!(parsed.cseq.is_some());
            }
            total += msgs.len();
        }
    }
    assert_eq!(total, 89);

    let text = std::fs::read_to_string(testdata(
        "freeswitch-live/01-bridged-callid-random/sipp_uac_messages.log",
    ))
    .unwrap();
    let invite = parse(sipp_log_messages(&text)[0].as_bytes()).unwrap();
    assert_eq!(invite.call_id, "1-4274@127.0.0.1");
    assert_eq!(invite.header("Subject"), Some("Performance Test"));
    let from = invite.from.unwrap();
    assert_eq!(
        (from.display_name, from.user, from.tag),
        (Some("sipp"), Some("sipp"), Some("4274SIPpTag001"))
    );
    assert_eq!(invite.contact.unwrap().uri, "sip:sipp@127.0.0.1:5072");
    assert_eq!(invite.content_length, Some(129));
    let sdp = invite.sdp().unwrap();
    assert_eq!(sdp.connection, Some("127.0.0.1"));
    let audio = &sdp.media[0];
    assert_eq!((audio.port, audio.direction), (6200, Direction::SendRecv));
    assert_eq!(audio.formats[0].payload_type(), Some(0));
    assert_eq!(audio.formats[0].encoding, Some("PCMU"));

    let busy_log = std::fs::read_to_string(testdata(
        "freeswitch-live/03-bleg-busy-486/sipp_uac_messages.log",
    ))
    .unwrap();
    let busy: Vec<SipMessage<'_>> = sipp_log_messages(&busy_log)
        .iter()
        .map(|m| parse(m.as_bytes()).unwrap())
        .filter(|m| m.status_code() == Some(486))
        .collect();
    assert_eq!(busy.len(), 3);
    assert!(
        busy.iter()
            .all(|m| m.reason == Some("Q.850;cause=17;text=\"USER_BUSY\""))
    );
}

/// SIP payloads (chunk 0x000f of HEPv3 packets with protocol type 1) of a HEP capture.
fn hep_sip_payloads(rel: &str) -> Vec<Vec<u8>> {
    let (all, _) = payloads(&testdata(rel));
    let mut out = Vec::new();
    for p in all.iter().filter(|p| p.data.starts_with(b"HEP3")) {
        let mut pos = 6;
        let (mut proto, mut payload) = (None, None);
        while pos + 6 <= p.data.len() {
            let vendor = u16::from_be_bytes([p.data[pos], p.data[pos + 1]]);
            let kind = u16::from_be_bytes([p.data[pos + 2], p.data[pos + 3]]);
            let len = usize::from(u16::from_be_bytes([p.data[pos + 4], p.data[pos + 5]]));
            let value = &p.data[pos + 6..pos + len];
            match (vendor, kind) {
                (0, 0x0b) => proto = value.first().copied(),
                (0, 0x0f) => payload = Some(value.to_vec()),
                _ => {}
            }
            pos += len;
        }
        if proto == Some(1) {
            out.push(payload.unwrap());
        }
    }
    out
}

#[test]
fn hepgen_payloads_with_bare_lf_parse() {
    let payloads = hep_sip_payloads("hep/hepwireshark_hep3_hepgen_sip_log_rtcp.pcap");
    let msgs: Vec<SipMessage<'_>> = payloads.iter().map(|p| parse(p).unwrap()).collect();
    // HEPGEN ends header lines with a bare LF, except the last one and the blank
    // line (CRLF).
    for p in &payloads {
        let first_lf = p.iter().position(|&b| b == b'\n').unwrap();
        assert_ne!(p[first_lf - 1], b'\r');
    }
    let starts: Vec<String> = msgs
        .iter()
        .map(|m| match m.start {
            StartLine::Request { method, .. } => method.to_string(),
            StartLine::Response { code, reason } => format!("{code} {reason}"),
        })
        .collect();
    assert_eq!(
        starts,
        [
            "INVITE",
            "100 Trying",
            "407 Proxy Authentication Required",
            "OPTIONS",
            "200 Alive",
            "PUBLISH"
        ]
    );
    let sdp = msgs[0].sdp().unwrap();
    assert_eq!(sdp.connection, Some("127.126.124.123"));
    let audio = &sdp.media[0];
    assert_eq!(audio.port, 5072);
    assert_eq!(
        audio.codecs().collect::<Vec<_>>(),
        ["G729", "PCMU", "PCMA", "telephone-event"]
    );
    assert_eq!(audio.direction_attr, Some(Direction::SendRecv));
    assert_eq!(msgs[5].content_type, Some("application/vq-rtcpxr"));
    assert!(msgs[5].body.starts_with(b"VQIntervalReport"));
    assert_eq!(msgs[5].sdp(), None);
}

#[test]
fn corrupted_to_tag_keeps_the_readable_part_and_the_raw_bytes() {
    let datagrams = sip_datagrams("pcap/heplify_erspan_sip_ipv4_udp.pcapng");
    let msgs = parse_all(&datagrams);
    let notify = msgs
        .iter()
        .find(|m| {
            m.header_bytes("To")
                .is_some_and(|v| std::str::from_utf8(v).is_err())
        })
        .unwrap();
    assert_eq!(notify.method(), Some(Method::Notify));
    assert_eq!(
        notify.call_id,
        "bf3a88-0-16e4-5af57200-27796292-5af57200@101.231.48.19"
    );
    let to = notify.to.unwrap();
    assert_eq!(
        (to.uri, to.user),
        ("sip:20008909@192.168.1.191:5060", Some("20008909"))
    );
    assert!(
        to.tag
            .unwrap()
            .starts_with("00E4EF38-beb360-0-16e4-5af57200")
    );
    // The generic accessor refuses to hand out a lossy string.
    assert_eq!(notify.header("to"), None);
    assert_eq!(notify.header("Event"), Some("user-profile"));
    assert_eq!(notify.header("o"), Some("user-profile"));
}
