//! Anchor facts: the few log messages that name channels, Call-IDs and call
//! milestones, so the correlator can link a log UUID to a SIP dialog and to
//! the other leg from the log alone.

use std::sync::LazyLock;

use memchr::memmem;

use crate::line::is_uuid;

/// A fact recognised in a log message. All fields borrow from the message.
///
/// Texts as FreeSWITCH writes them (checked against the logs in `testdata/`):
///
/// | variant | message |
/// |---|---|
/// | `NewChannel` | `New Channel sofia/b2bua/1000@127.0.0.1:5082 [f059e147-…]` |
/// | `ReceivingInvite` | `sofia/b2bua/sipp@127.0.0.1:5072 receiving invite from 127.0.0.1:5072 version: 1.10.12-release  64bit call-id: 1-4274@127.0.0.1` |
/// | `SendingInvite` | `sofia/b2bua/1000@127.0.0.1:5082 sending invite call-id: (null)` |
/// | `OriginateSuccess` | `Originate Resulted in Success: [sofia/b2bua/1000@127.0.0.1:5082] Peer UUID: f059e147-…` |
/// | `OriginateFailed` | `Originate Resulted in Error Cause: 17 [USER_BUSY]` |
/// | `Answered` | `Channel [sofia/b2bua/sipp@127.0.0.1:5072] has been answered` |
/// | `Hangup` | `Hangup sofia/b2bua/sipp@127.0.0.1:5072 [CS_EXECUTE] [NORMAL_CLEARING]` |
/// | `CloseChannel` | `Close Channel sofia/external/ [CS_DESTROY]` |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Anchor<'a> {
    /// A channel was created; `uuid` is its channel UUID.
    NewChannel {
        /// Channel name.
        channel: &'a str,
        /// Channel UUID.
        uuid: &'a str,
    },
    /// Inbound INVITE (FreeSWITCH ≥ 1.10.6 adds the Call-ID): the line's UUID
    /// prefix ↔ `call_id`.
    ReceivingInvite {
        /// Channel name.
        channel: &'a str,
        /// `ip:port` the INVITE came from.
        from: &'a str,
        /// The SIP Call-ID, when the version writes it.
        call_id: Option<&'a str>,
    },
    /// Outbound INVITE. FreeSWITCH often writes `call-id: (null)` because
    /// sofia has not chosen the Call-ID yet; that is `None`.
    SendingInvite {
        /// Channel name.
        channel: &'a str,
        /// The SIP Call-ID, when known.
        call_id: Option<&'a str>,
    },
    /// An originate (bridge) succeeded: the line's UUID (A-leg) ↔ `peer_uuid`.
    OriginateSuccess {
        /// The peer (B-leg) channel name.
        channel: &'a str,
        /// The peer channel UUID.
        peer_uuid: &'a str,
    },
    /// An originate failed with a hangup cause.
    OriginateFailed {
        /// Q.850 cause code.
        cause_code: u16,
        /// Cause name, e.g. `USER_BUSY`.
        cause: &'a str,
    },
    /// The channel was answered.
    Answered {
        /// Channel name.
        channel: &'a str,
    },
    /// The channel hung up.
    Hangup {
        /// Channel name.
        channel: &'a str,
        /// Channel state at hangup, e.g. `CS_EXECUTE`.
        state: &'a str,
        /// Hangup cause, e.g. `NORMAL_CLEARING`.
        cause: &'a str,
    },
    /// The channel was destroyed.
    CloseChannel {
        /// Channel name.
        channel: &'a str,
        /// Final state, normally `CS_DESTROY`.
        state: &'a str,
    },
}

/// Recognises an anchor in a message (the text after `file:line`).
pub fn parse_anchor(msg: &str) -> Option<Anchor<'_>> {
    if let Some(rest) = msg.strip_prefix("New Channel ") {
        let (channel, uuid) = split_trailing_bracket(rest)?;
        return is_uuid(uuid.as_bytes()).then_some(Anchor::NewChannel { channel, uuid });
    }
    if let Some(rest) = msg.strip_prefix("Originate Resulted in Success: [") {
        let (channel, rest) = rest.split_once("] Peer UUID: ")?;
        let peer_uuid = rest.trim_end();
        return is_uuid(peer_uuid.as_bytes())
            .then_some(Anchor::OriginateSuccess { channel, peer_uuid });
    }
    if let Some(rest) = msg.strip_prefix("Originate Resulted in Error Cause: ") {
        let (code, rest) = rest.split_once(" [")?;
        let cause = rest.strip_suffix(']')?;
        return Some(Anchor::OriginateFailed {
            cause_code: code.parse().ok()?,
            cause,
        });
    }
    if let Some(rest) = msg.strip_prefix("Channel [") {
        let channel = rest.strip_suffix("] has been answered")?;
        return Some(Anchor::Answered { channel });
    }
    if let Some(rest) = msg.strip_prefix("Hangup ") {
        let (rest, cause) = split_trailing_bracket(rest)?;
        let (channel, state) = split_trailing_bracket(rest)?;
        return Some(Anchor::Hangup {
            channel,
            state,
            cause,
        });
    }
    if let Some(rest) = msg.strip_prefix("Close Channel ") {
        let (channel, state) = split_trailing_bracket(rest)?;
        return Some(Anchor::CloseChannel { channel, state });
    }
    // One SIMD search rules out the two INVITE texts for almost every line.
    static INVITE: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(" invite "));
    let at = INVITE.find(msg.as_bytes())?;
    let channel = msg.get(..at)?;
    let channel = channel
        .strip_suffix(" receiving")
        .map(|c| (c, true))
        .or_else(|| channel.strip_suffix(" sending").map(|c| (c, false)));
    let (channel, receiving) = channel?;
    let rest = msg.get(at + " invite ".len()..)?;
    if receiving {
        let rest = rest.strip_prefix("from ")?;
        let from = rest.split(' ').next().unwrap_or("");
        let call_id = rest
            .rsplit_once(" call-id: ")
            .and_then(|(_, id)| call_id_value(id));
        return Some(Anchor::ReceivingInvite {
            channel,
            from,
            call_id,
        });
    }
    let id = rest.strip_prefix("call-id: ")?;
    Some(Anchor::SendingInvite {
        channel,
        call_id: call_id_value(id),
    })
}

/// `(null)` and empty mean "not known yet".
fn call_id_value(id: &str) -> Option<&str> {
    let id = id.trim();
    (!id.is_empty() && id != "(null)").then_some(id)
}

/// `"<head> [<inner>]"` → `(head, inner)`.
fn split_trailing_bracket(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_end().strip_suffix(']')?;
    let (head, inner) = s.rsplit_once(" [")?;
    Some((head, inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_anchor_text() {
        assert_eq!(
            parse_anchor("New Channel sofia/external/ [387e5499-3e6c-4840-a651-ba45e4a99dbc]"),
            Some(Anchor::NewChannel {
                channel: "sofia/external/",
                uuid: "387e5499-3e6c-4840-a651-ba45e4a99dbc"
            })
        );
        assert_eq!(
            parse_anchor(
                "sofia/b2bua/sipp@127.0.0.1:5072 receiving invite from 127.0.0.1:5072 version: 1.10.12-release  64bit call-id: 1-4274@127.0.0.1"
            ),
            Some(Anchor::ReceivingInvite {
                channel: "sofia/b2bua/sipp@127.0.0.1:5072",
                from: "127.0.0.1:5072",
                call_id: Some("1-4274@127.0.0.1")
            })
        );
        assert_eq!(
            parse_anchor("sofia/b2bua/1000@127.0.0.1:5082 sending invite call-id: (null)"),
            Some(Anchor::SendingInvite {
                channel: "sofia/b2bua/1000@127.0.0.1:5082",
                call_id: None
            })
        );
        assert_eq!(
            parse_anchor("sofia/x sending invite call-id: abc@h"),
            Some(Anchor::SendingInvite {
                channel: "sofia/x",
                call_id: Some("abc@h")
            })
        );
        assert_eq!(
            parse_anchor(
                "sofia/b2bua/1000@127.0.0.1:5082 sending invite version: 1.10.12-release  64bit"
            ),
            None
        );
        assert_eq!(
            parse_anchor(
                "Originate Resulted in Success: [sofia/b2bua/1000@127.0.0.1:5082] Peer UUID: f059e147-6396-47f7-a85d-5c55f0c977bc"
            ),
            Some(Anchor::OriginateSuccess {
                channel: "sofia/b2bua/1000@127.0.0.1:5082",
                peer_uuid: "f059e147-6396-47f7-a85d-5c55f0c977bc"
            })
        );
        assert_eq!(
            parse_anchor("Originate Resulted in Error Cause: 17 [USER_BUSY]"),
            Some(Anchor::OriginateFailed {
                cause_code: 17,
                cause: "USER_BUSY"
            })
        );
        assert_eq!(
            parse_anchor("Channel [sofia/b2bua/sipp@127.0.0.1:5072] has been answered"),
            Some(Anchor::Answered {
                channel: "sofia/b2bua/sipp@127.0.0.1:5072"
            })
        );
        assert_eq!(
            parse_anchor("Hangup sofia/external/ [CS_CONSUME_MEDIA] [CALL_REJECTED]"),
            Some(Anchor::Hangup {
                channel: "sofia/external/",
                state: "CS_CONSUME_MEDIA",
                cause: "CALL_REJECTED"
            })
        );
        assert_eq!(
            parse_anchor("Close Channel sofia/internal/1000@mcyhzc.top [CS_DESTROY]"),
            Some(Anchor::CloseChannel {
                channel: "sofia/internal/1000@mcyhzc.top",
                state: "CS_DESTROY"
            })
        );
        assert_eq!(
            parse_anchor("Channel sofia/x entering state [received][100]"),
            None
        );
        assert_eq!(parse_anchor("New Channel x [not-a-uuid]"), None);
        assert_eq!(parse_anchor("Hangup ["), None);
    }
}
