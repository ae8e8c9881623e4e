//! Turns a decoded HEP packet carrying SIP into a `SipRecord`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use callweave_core::clip;
use callweave_core::record::{CallId, CorrelationId, SipRecord, Transport};
use callweave_hep::HepPacket;
use callweave_sip::{Method, Parser};

/// A configured SIP parser producing records.
#[derive(Debug, Clone)]
pub struct SipConverter {
    parser: Parser,
}

impl SipConverter {
    /// A converter looking for the given correlation headers.
    pub fn new(correlation_headers: &[String]) -> Self {
        Self {
            parser: Parser::new(correlation_headers),
        }
    }

    /// Parses the packet's payload; `peer` stands in for missing HEP addresses.
    pub fn convert(
        &self,
        packet: &HepPacket,
        peer: SocketAddr,
    ) -> Result<SipRecord, callweave_sip::ParseError> {
        let msg = self.parser.parse(&packet.payload)?;
        let unspecified = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        let src = packet.src_addr().unwrap_or(peer);
        let dst = packet.dst_addr().unwrap_or(unspecified);
        let transport = match packet.ip_proto {
            Some(p) => refine_transport(Transport::from_ip_proto(p), msg.via.map(|v| v.transport)),
            None => Transport::Udp,
        };
        let mut rec = SipRecord::new(src, dst, transport, CallId::new(String::new()));
        rec.apply_message(&msg);
        rec.correlation = msg
            .correlation_id
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| CallId::new(clip(c)));
        rec.hep_correlation = packet
            .correlation_id
            .as_ref()
            .map(|c| String::from_utf8_lossy(c).trim().to_owned())
            .filter(|c| !c.is_empty())
            .map(|c| CorrelationId::new(clip(&c)));
        rec.capture_agent_id = packet.capture_id;
        // `from_utf8` first: `from_utf8_lossy` walks `Utf8Chunks` even over
        // valid text, which is every message but a broken one.
        let bytes = msg.as_bytes();
        // A message that is not UTF-8 is kept with replacement characters,
        // from which its fields could not be derived again as they were here.
        (rec.raw, rec.fields_from_raw) = match std::str::from_utf8(bytes) {
            Ok(text) => (Arc::from(text), true),
            Err(_) => (Arc::from(String::from_utf8_lossy(bytes)), false),
        };
        Ok(rec)
    }
}

/// HEP says TCP for WebSocket; the Via tells them apart.
fn refine_transport(t: Transport, via: Option<&str>) -> Transport {
    match (t, via) {
        (Transport::Tcp, Some(v)) if v.eq_ignore_ascii_case("ws") => Transport::Ws,
        (Transport::Tcp, Some(v)) if v.eq_ignore_ascii_case("wss") => Transport::Wss,
        (Transport::Tcp, Some(v)) if v.eq_ignore_ascii_case("tls") => Transport::Tls,
        (t, _) => t,
    }
}

/// The bounded metric label for a method name (`other` for unknown tokens).
pub fn method_label(method: Option<&str>) -> &'static str {
    match method {
        Some(m) => Method::from_token(m).label(),
        None => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callweave_hep::HepBuilder;

    #[test]
    fn converts_a_real_b2bua_invite() {
        let sip = "INVITE sip:1000@10.0.0.2 SIP/2.0\r\n\
            Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1\r\n\
            From: \"Alice\" <sip:2000@10.0.0.1>;tag=abc\r\n\
            To: <sip:1000@10.0.0.2>\r\n\
            Call-ID: b-leg-1\r\n\
            CSeq: 1 INVITE\r\n\
            XCall-ID: a-leg-1\r\n\
            Content-Type: application/sdp\r\n\
            Content-Length: 56\r\n\r\n\
            v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0 101\r\n";
        let packet = HepBuilder::sip(sip.as_bytes().to_vec())
            .src("10.0.0.1:5060".parse().unwrap())
            .dst("10.0.0.2:5060".parse().unwrap())
            .timestamp(1_700_000_000, 5)
            .capture_id(200)
            .build();
        let conv = SipConverter::new(&crate::config::default_correlation_headers());
        let rec = conv
            .convert(&packet, "127.0.0.1:1".parse().unwrap())
            .unwrap();
        assert_eq!(rec.call_id.as_str(), "b-leg-1");
        assert_eq!(rec.correlation.as_ref().unwrap().as_str(), "a-leg-1");
        assert_eq!(rec.method.as_deref(), Some("INVITE"));
        assert_eq!(rec.from.user.as_deref(), Some("2000"));
        assert_eq!(rec.from.tag.as_deref(), Some("abc"));
        assert_eq!(rec.to.user.as_deref(), Some("1000"));
        assert_eq!(rec.via_branch.as_deref(), Some("z9hG4bK-1"));
        assert_eq!(rec.cseq.as_ref().unwrap().seq, 1);
        assert_eq!(rec.src, "10.0.0.1:5060".parse().unwrap());
        assert_eq!(rec.capture_agent_id, Some(200));
        let sdp = rec.sdp.unwrap();
        assert_eq!(sdp.connection.as_deref(), Some("10.0.0.1"));
        assert_eq!(sdp.media[0].port, 4000);
        assert_eq!(sdp.media[0].codecs[0], "PCMU/8000");
    }

    #[test]
    fn a_message_that_is_not_utf8_is_kept_with_replacement_characters() {
        let mut sip = b"OPTIONS sip:1000@10.0.0.2 SIP/2.0\r\n\
            Call-ID: opt-1\r\n\
            CSeq: 7 OPTIONS\r\n\
            Subject: caf"
            .to_vec();
        sip.extend_from_slice(b"\xe9 cr\xe8me\r\nContent-Length: 0\r\n\r\n");
        let packet = HepBuilder::sip(sip).build();
        let conv = SipConverter::new(&[]);
        let rec = conv
            .convert(&packet, "127.0.0.1:1".parse().unwrap())
            .unwrap();
        assert_eq!(rec.call_id.as_str(), "opt-1");
        assert!(
            rec.raw.contains("Subject: caf\u{FFFD} cr\u{FFFD}me\r\n"),
            "{:?}",
            rec.raw
        );
        assert!(rec.raw.starts_with("OPTIONS sip:1000@10.0.0.2 SIP/2.0\r\n"));
    }

    #[test]
    fn labels_are_bounded() {
        assert_eq!(method_label(Some("INVITE")), "INVITE");
        assert_eq!(method_label(Some("X-EVIL-\u{1F600}")), "other");
        assert_eq!(method_label(None), "other");
    }
}
