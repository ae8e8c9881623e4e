//! SIP request methods.

use std::fmt;

/// A SIP request method. Method names are case-sensitive (RFC 3261 §7.1), so
/// `invite` is [`Method::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method<'a> {
    /// INVITE (RFC 3261)
    Invite,
    /// ACK (RFC 3261)
    Ack,
    /// BYE (RFC 3261)
    Bye,
    /// CANCEL (RFC 3261)
    Cancel,
    /// OPTIONS (RFC 3261)
    Options,
    /// REGISTER (RFC 3261)
    Register,
    /// PRACK (RFC 3262)
    Prack,
    /// SUBSCRIBE (RFC 6665)
    Subscribe,
    /// NOTIFY (RFC 6665)
    Notify,
    /// PUBLISH (RFC 3903)
    Publish,
    /// INFO (RFC 6086)
    Info,
    /// REFER (RFC 3515)
    Refer,
    /// MESSAGE (RFC 3428)
    Message,
    /// UPDATE (RFC 3311)
    Update,
    /// Any other token, borrowed from the input.
    Other(&'a str),
}

impl<'a> Method<'a> {
    /// Maps a method token to a variant; never fails (unknown tokens become `Other`).
    #[must_use]
    pub fn from_token(token: &'a str) -> Self {
        match token {
            "INVITE" => Self::Invite,
            "ACK" => Self::Ack,
            "BYE" => Self::Bye,
            "CANCEL" => Self::Cancel,
            "OPTIONS" => Self::Options,
            "REGISTER" => Self::Register,
            "PRACK" => Self::Prack,
            "SUBSCRIBE" => Self::Subscribe,
            "NOTIFY" => Self::Notify,
            "PUBLISH" => Self::Publish,
            "INFO" => Self::Info,
            "REFER" => Self::Refer,
            "MESSAGE" => Self::Message,
            "UPDATE" => Self::Update,
            other => Self::Other(other),
        }
    }

    /// The method as written on the wire.
    #[must_use]
    pub const fn as_str(&self) -> &'a str {
        match self {
            Self::Other(token) => token,
            known => known.label(),
        }
    }

    /// A label from a fixed set: the standard method name, or `"other"` for any
    /// unknown token. Safe as a Prometheus label value (bounded cardinality).
    #[must_use]
    pub const fn label(&self) -> &'static str {
        match self {
            Self::Invite => "INVITE",
            Self::Ack => "ACK",
            Self::Bye => "BYE",
            Self::Cancel => "CANCEL",
            Self::Options => "OPTIONS",
            Self::Register => "REGISTER",
            Self::Prack => "PRACK",
            Self::Subscribe => "SUBSCRIBE",
            Self::Notify => "NOTIFY",
            Self::Publish => "PUBLISH",
            Self::Info => "INFO",
            Self::Refer => "REFER",
            Self::Message => "MESSAGE",
            Self::Update => "UPDATE",
            Self::Other(_) => "other",
        }
    }
}

impl fmt::Display for Method<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_methods_round_trip_and_unknown_is_bounded() {
        for name in [
            "INVITE",
            "ACK",
            "BYE",
            "CANCEL",
            "OPTIONS",
            "REGISTER",
            "PRACK",
            "SUBSCRIBE",
            "NOTIFY",
            "PUBLISH",
            "INFO",
            "REFER",
            "MESSAGE",
            "UPDATE",
        ] {
            let m = Method::from_token(name);
            assert!(!matches!(m, Method::Other(_)), "{name}");
            assert_eq!(m.as_str(), name);
            assert_eq!(m.label(), name);
        }
        let m = Method::from_token("invite");
        assert_eq!(m, Method::Other("invite"));
        assert_eq!(m.as_str(), "invite");
        assert_eq!(m.label(), "other");
        assert_eq!(Method::from_token("FOO-BAR").to_string(), "FOO-BAR");
    }
}
