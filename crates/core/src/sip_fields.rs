//! A SIP record's header fields, derived from its message in one place: when
//! the record is made (the HEP and pcap listeners) and when the index reads a
//! record back from its message alone (see [`SipRecord::fields_from_raw`]).

use std::sync::Arc;

use callweave_sip::{Parser, SipMessage, StartLine};

use crate::record::{CSeq, CallId, NameAddr, SdpMedia, SdpSummary, SipRecord};

/// Longest value kept from a header; longer ones are cut (a record is not a dump).
pub const MAX_FIELD: usize = 1024;

impl SipRecord {
    /// Sets every field the message itself says: Call-ID, start line, From, To,
    /// CSeq, top Via branch, User-Agent (or Server), Reason, P-Asserted-Identity
    /// and the SDP summary, each cut to [`MAX_FIELD`] bytes. Leaves what the
    /// capture says (addresses, transport, HEP chunks), the correlation header's
    /// value (it depends on the configured header names) and `raw` alone.
    pub fn apply_message(&mut self, msg: &SipMessage<'_>) {
        self.call_id = CallId::new(clip(msg.call_id));
        match msg.start {
            StartLine::Request { method, uri } => {
                self.method = Some(method.as_str().into());
                self.request_uri = Some(clip(uri).into());
            }
            StartLine::Response { code, reason } => {
                self.status = Some(code);
                self.reason = Some(clip(reason).into());
            }
        }
        self.from = msg.from.map(name_addr).unwrap_or_default();
        self.to = msg.to.map(name_addr).unwrap_or_default();
        self.cseq = msg.cseq.map(|c| CSeq {
            seq: c.seq,
            method: c.method.as_str().into(),
        });
        self.via_branch = msg.via.and_then(|v| v.branch).map(|b| clip(b).into());
        self.user_agent = msg.user_agent.or(msg.server).map(|s| clip(s).into());
        self.reason_header = msg.reason.map(|s| clip(s).into());
        self.pai = msg.p_asserted_identity.map(|p| clip(p.uri).into());
        self.sdp = msg.sdp().map(|s| SdpSummary {
            connection: s.connection.map(Into::into),
            media: s
                .media
                .iter()
                .map(|m| SdpMedia {
                    kind: m.media.into(),
                    port: m.port,
                    codecs: m
                        .formats
                        .iter()
                        .map(|f| match (f.encoding, f.clock_rate) {
                            (Some(e), Some(r)) => compact_str::format_compact!("{e}/{r}"),
                            (Some(e), None) => e.into(),
                            (None, _) => f.id.into(),
                        })
                        .collect(),
                })
                .collect(),
        });
    }

    /// Fills the header fields of a record whose message is in `raw` but whose
    /// fields are not (a record the index stored as its message alone, see
    /// [`SipRecord::fields_from_raw`]), as [`SipRecord::apply_message`] set them
    /// when the record was made. `raw` is replaced.
    ///
    /// # Errors
    ///
    /// When the message does not parse; the record then keeps `raw` and the
    /// fields it had.
    pub fn derive_fields(&mut self, raw: Arc<str>) -> Result<(), callweave_sip::ParseError> {
        // No correlation headers: that value is stored, not derived.
        let parsed = Parser::new::<[&str; 0], &str>([]).parse(raw.as_bytes());
        let result = parsed.map(|msg| self.apply_message(&msg));
        self.fields_from_raw = result.is_ok();
        self.raw = raw;
        result
    }
}

fn name_addr(n: callweave_sip::NameAddr<'_>) -> NameAddr {
    NameAddr {
        display: n.display_name.map(|s| clip(s).into()),
        user: n.user.map(|s| clip(s).into()),
        uri: clip(n.uri).into(),
        tag: n.tag.map(|s| clip(s).into()),
    }
}

/// `s` cut to at most [`MAX_FIELD`] bytes on a character boundary.
pub fn clip(s: &str) -> &str {
    if s.len() <= MAX_FIELD {
        return s;
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}
