//! Links: the evidence that two identifiers belong to the same call.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::record::Ident;

/// The rule that produced a [`Link`]. `as_str` gives the kebab-case name used in
/// `trace --explain`, the index and Loki.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// ESL event: `Unique-ID` ↔ `variable_sip_call_id`. Same leg.
    ChannelSip,
    /// ESL event: `Unique-ID` ↔ `Other-Leg-Unique-ID`, or
    /// `Bridge-A-Unique-ID` ↔ `Bridge-B-Unique-ID`.
    OtherLeg,
    /// ESL `CHANNEL_CREATE`: `Unique-ID` ↔ `Channel-Call-UUID` (the originating channel).
    CallUuid,
    /// A SIP Call-ID equal to a known channel UUID (`outbound-use-uuid-as-callid`,
    /// `inbound-use-callid-as-uuid`). Same leg.
    UuidAsCallid,
    /// A correlation header (`X-CID` or configured) names another Call-ID.
    Header,
    /// HEP chunk 0x0011 names another Call-ID.
    HepCorrelation,
    /// A log line's UUID prefix names a channel, and the line names that channel's
    /// Call-ID (`receiving invite … call-id:` / `sending invite call-id:`, same leg)
    /// or its bridged peer (`Originate Resulted in Success … Peer UUID:`).
    LogUuid,
}

impl Rule {
    /// Every rule, in declaration order.
    pub const ALL: [Rule; 7] = [
        Rule::ChannelSip,
        Rule::OtherLeg,
        Rule::CallUuid,
        Rule::UuidAsCallid,
        Rule::Header,
        Rule::HepCorrelation,
        Rule::LogUuid,
    ];

    /// The kebab-case name: `channel-sip`, `other-leg`, `call-uuid`,
    /// `uuid-as-callid`, `header`, `hep-correlation`, `log-uuid`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::ChannelSip => "channel-sip",
            Rule::OtherLeg => "other-leg",
            Rule::CallUuid => "call-uuid",
            Rule::UuidAsCallid => "uuid-as-callid",
            Rule::Header => "header",
            Rule::HepCorrelation => "hep-correlation",
            Rule::LogUuid => "log-uuid",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Two identifiers joined by a rule.
///
/// Orientation is fixed per rule so that the same evidence always gives the same
/// link, whatever the arrival order:
///
/// | rule | `a` | `b` |
/// |---|---|---|
/// | channel-sip | channel UUID | its Call-ID |
/// | other-leg | the smaller UUID (string order) | the other UUID |
/// | call-uuid | the new channel | its `Channel-Call-UUID` |
/// | uuid-as-callid | the Call-ID | the equal channel UUID |
/// | header, hep-correlation | the message's Call-ID | the Call-ID it names |
/// | log-uuid | the line's channel UUID | the Call-ID or peer UUID it names |
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Link {
    /// First identifier.
    pub a: Ident,
    /// Second identifier.
    pub b: Ident,
    /// Why they are linked.
    pub rule: Rule,
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} --{}--> {}", self.a, self.rule, self.b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_match_serde_and_design() {
        let names: Vec<&str> = Rule::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            names,
            [
                "channel-sip",
                "other-leg",
                "call-uuid",
                "uuid-as-callid",
                "header",
                "hep-correlation",
                "log-uuid"
            ]
        );
        for r in Rule::ALL {
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
    }
}
