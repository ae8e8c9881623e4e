//! Header names, compact forms, and the small grammars of the headers we type.

use crate::scan;

/// Compact header forms (IANA "Header Fields" registry), lowercase letter → full name.
const COMPACT: &[(u8, &str)] = &[
    (b'a', "Accept-Contact"),
    (b'b', "Referred-By"),
    (b'c', "Content-Type"),
    (b'd', "Request-Disposition"),
    (b'e', "Content-Encoding"),
    (b'f', "From"),
    (b'i', "Call-ID"),
    (b'j', "Reject-Contact"),
    (b'k', "Supported"),
    (b'l', "Content-Length"),
    (b'm', "Contact"),
    (b'n', "Identity-Info"),
    (b'o', "Event"),
    (b'r', "Refer-To"),
    (b's', "Subject"),
    (b't', "To"),
    (b'u', "Allow-Events"),
    (b'v', "Via"),
    (b'x', "Session-Expires"),
    (b'y', "Identity"),
];

/// The full name for a one-letter compact form, if it is one.
pub(crate) fn expand_compact(name: &[u8]) -> Option<&'static str> {
    let [letter] = name else { return None };
    let letter = letter.to_ascii_lowercase();
    COMPACT
        .iter()
        .find(|(c, _)| *c == letter)
        .map(|(_, full)| *full)
}

/// Whether two header names denote the same header: case-insensitive, and a compact
/// form equals its full name.
pub(crate) fn same_name(a: &[u8], b: &[u8]) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    match (expand_compact(a), expand_compact(b)) {
        (Some(full), None) => full.as_bytes().eq_ignore_ascii_case(b),
        (None, Some(full)) => full.as_bytes().eq_ignore_ascii_case(a),
        _ => false,
    }
}

/// Headers the parser extracts into typed fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    CallId,
    From,
    To,
    Via,
    CSeq,
    Contact,
    UserAgent,
    Server,
    Reason,
    PAssertedIdentity,
    ContentType,
    ContentLength,
    MaxForwards,
}

/// Classifies a header name with one length switch, so unknown headers cost a
/// couple of comparisons.
#[inline]
pub(crate) fn classify(name: &[u8]) -> Option<Known> {
    let is = |full: &[u8]| name.eq_ignore_ascii_case(full);
    match name.len() {
        1 => match name.first()?.to_ascii_lowercase() {
            b'i' => Some(Known::CallId),
            b'f' => Some(Known::From),
            b't' => Some(Known::To),
            b'v' => Some(Known::Via),
            b'm' => Some(Known::Contact),
            b'c' => Some(Known::ContentType),
            b'l' => Some(Known::ContentLength),
            _ => None,
        },
        2 if is(b"To") => Some(Known::To),
        3 if is(b"Via") => Some(Known::Via),
        4 if is(b"From") => Some(Known::From),
        4 if is(b"CSeq") => Some(Known::CSeq),
        6 if is(b"Server") => Some(Known::Server),
        6 if is(b"Reason") => Some(Known::Reason),
        7 if is(b"Call-ID") => Some(Known::CallId),
        7 if is(b"Contact") => Some(Known::Contact),
        10 if is(b"User-Agent") => Some(Known::UserAgent),
        12 if is(b"Content-Type") => Some(Known::ContentType),
        12 if is(b"Max-Forwards") => Some(Known::MaxForwards),
        14 if is(b"Content-Length") => Some(Known::ContentLength),
        19 if is(b"P-Asserted-Identity") => Some(Known::PAssertedIdentity),
        _ => None,
    }
}

/// The first element of a comma-separated header value, ignoring commas inside
/// quoted strings and `<...>` (URIs may contain commas in their parameters).
pub(crate) fn first_value(v: &str) -> &str {
    // Most values hold one element: skip the quote-aware scan when there is no comma.
    if memchr::memchr(b',', v.as_bytes()).is_none() {
        return v.trim();
    }
    let mut in_quotes = false;
    let mut in_angle = false;
    let mut escaped = false;
    for (i, b) in v.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if in_quotes => escaped = true,
            b'"' => in_quotes = !in_quotes,
            b'<' if !in_quotes => in_angle = true,
            b'>' if !in_quotes => in_angle = false,
            b',' if !in_quotes && !in_angle => return v.get(..i).unwrap_or(v).trim(),
            _ => {}
        }
    }
    v.trim()
}

/// Splits `s` around the first `byte` (ASCII, so both halves are valid `str`s).
/// memchr instead of `str::split_once(char)`: this runs several times per header.
#[inline]
pub(crate) fn split_byte(s: &str, byte: u8) -> Option<(&str, &str)> {
    let i = memchr::memchr(byte, s.as_bytes())?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// Value of parameter `name` in a `;a=b;c` list (case-insensitive name). A parameter
/// without `=` yields `Some("")`.
pub(crate) fn param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = params;
    loop {
        let (item, next) = split_byte(rest, b';').unwrap_or((rest, ""));
        let (key, value) = split_byte(item, b'=').unwrap_or((item, ""));
        if key.trim_ascii().eq_ignore_ascii_case(name) {
            let value = value.trim_ascii();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            return Some(unquoted);
        }
        if next.is_empty() && item.len() == rest.len() {
            return None;
        }
        rest = next;
    }
}

/// A name-addr or addr-spec (From, To, Contact, P-Asserted-Identity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct NameAddr<'a> {
    /// Display name without surrounding quotes (escapes are kept as written).
    pub display_name: Option<&'a str>,
    /// The URI, without angle brackets (`*` for a wildcard Contact).
    pub uri: &'a str,
    /// User part of a `sip:`/`sips:` URI (before `@`, without password), or the
    /// number of a `tel:` URI.
    pub user: Option<&'a str>,
    /// The `tag` header parameter.
    pub tag: Option<&'a str>,
    /// Header parameters after the address, starting with `;` (may be empty).
    pub params: &'a str,
}

impl<'a> NameAddr<'a> {
    /// Parses the first address of a header value. Never fails: sloppy input yields
    /// whatever could be recognised.
    #[must_use]
    pub fn parse(value: &'a str) -> Self {
        let v = first_value(value);
        let (display_name, uri, params) = match find_unquoted(v.as_bytes(), b'<') {
            Some(lt) => {
                let display = v.get(..lt).unwrap_or_default().trim();
                let display = display
                    .strip_prefix('"')
                    .and_then(|d| d.strip_suffix('"'))
                    .unwrap_or(display);
                let rest = v.get(lt + 1..).unwrap_or_default();
                let (uri, params) = split_byte(rest, b'>').unwrap_or((rest, ""));
                (
                    (!display.is_empty()).then_some(display),
                    uri.trim(),
                    params.trim(),
                )
            }
            // addr-spec form: parameters after the URI belong to the header.
            None => {
                let (uri, params) = match memchr::memchr(b';', v.as_bytes()) {
                    Some(i) => (v.get(..i).unwrap_or(v), v.get(i..).unwrap_or_default()),
                    None => (v, ""),
                };
                (None, uri.trim(), params.trim())
            }
        };
        Self {
            display_name,
            uri,
            user: uri_user(uri),
            tag: param(params, "tag").filter(|t| !t.is_empty()),
            params,
        }
    }

    /// A header parameter by name (case-insensitive).
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&'a str> {
        param(self.params, name)
    }
}

/// Parses a name-addr whose bytes may not be UTF-8. Stray bytes usually sit in the
/// display name (Latin-1) or a tag, so the address in `<...>` is kept whenever it
/// is readable; otherwise the value is read up to its first invalid byte.
pub(crate) fn name_addr_from_bytes(raw: &[u8]) -> NameAddr<'_> {
    if let Ok(text) = std::str::from_utf8(raw) {
        return NameAddr::parse(text);
    }
    if let Some(lt) = find_unquoted(raw, b'<')
        && let Some(Ok(addr)) = raw.get(lt..).map(std::str::from_utf8)
    {
        let mut parsed = NameAddr::parse(addr);
        let display = utf8_prefix(raw.get(..lt).unwrap_or_default()).trim();
        let display = display
            .strip_prefix('"')
            .unwrap_or(display)
            .trim_end_matches('"');
        parsed.display_name = (!display.is_empty()).then_some(display);
        return parsed;
    }
    NameAddr::parse(utf8_prefix(raw))
}

/// The longest UTF-8 prefix of `raw`.
pub(crate) fn utf8_prefix(raw: &[u8]) -> &str {
    match std::str::from_utf8(raw) {
        Ok(text) => text,
        Err(e) => {
            std::str::from_utf8(raw.get(..e.valid_up_to()).unwrap_or_default()).unwrap_or_default()
        }
    }
}

fn find_unquoted(v: &[u8], needle: u8) -> Option<usize> {
    let first = memchr::memchr(needle, v)?;
    if memchr::memchr(b'"', v.get(..first)?).is_none() {
        return Some(first);
    }
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, &b) in v.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if b == b'\\' && in_quotes {
            escaped = true;
        } else if b == b'"' {
            in_quotes = !in_quotes;
        } else if b == needle && !in_quotes {
            return Some(i);
        }
    }
    None
}

/// User part of a SIP/SIPS URI, or the number of a tel URI.
#[must_use]
pub fn uri_user(uri: &str) -> Option<&str> {
    let (scheme, rest) = split_byte(uri, b':')?;
    if scheme.eq_ignore_ascii_case("tel") {
        let number = split_byte(rest, b';').map_or(rest, |(n, _)| n).trim();
        return (!number.is_empty()).then_some(number);
    }
    if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
        return None;
    }
    // The user part may itself contain ';' (user parameters), so look for '@' first.
    let (userinfo, _) = split_byte(rest, b'@')?;
    let user = split_byte(userinfo, b':').map_or(userinfo, |(u, _)| u);
    (!user.is_empty()).then_some(user)
}

/// The top-most Via entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Via<'a> {
    /// Transport from the sent-protocol, e.g. `UDP`, `TCP`, `WS`, `TLS`.
    pub transport: &'a str,
    /// `host[:port]`.
    pub sent_by: &'a str,
    /// The `branch` parameter.
    pub branch: Option<&'a str>,
    /// Parameters after sent-by, starting with `;` (may be empty).
    pub params: &'a str,
}

impl<'a> Via<'a> {
    /// Parses the first entry of a Via value; None if there is no
    /// `SIP/2.0/TRANSPORT host` shape.
    #[must_use]
    pub fn parse(value: &'a str) -> Option<Self> {
        let v = first_value(value);
        // sent-protocol may have LWS around the slashes; collapse by splitting on '/'.
        let mut slash = v.splitn(3, '/');
        let (_name, _version, rest) = (slash.next()?, slash.next()?, slash.next()?.trim_start());
        let split = rest.find(|c: char| c.is_ascii_whitespace())?;
        let transport = rest.get(..split)?;
        let rest = rest.get(split..)?.trim_start();
        let (sent_by, params) = match memchr::memchr(b';', rest.as_bytes()) {
            Some(i) => (rest.get(..i)?.trim(), rest.get(i..)?.trim()),
            None => (rest.trim(), ""),
        };
        if transport.is_empty() || sent_by.is_empty() {
            return None;
        }
        Some(Self {
            transport,
            sent_by,
            branch: param(params, "branch").filter(|b| !b.is_empty()),
            params,
        })
    }

    /// A Via parameter by name (case-insensitive), e.g. `received`, `rport`.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&'a str> {
        param(self.params, name)
    }
}

/// Trims ASCII whitespace (including the CR/LF of folded lines) from a raw value.
pub(crate) fn trim_value(raw: &[u8]) -> &[u8] {
    scan::trim(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addr_forms() {
        let a =
            NameAddr::parse(r#""Alice, \"A\"" <sip:alice:pw@example.com;transport=tcp>;tag=abc;x"#);
        assert_eq!(a.display_name, Some(r#"Alice, \"A\""#));
        assert_eq!(a.uri, "sip:alice:pw@example.com;transport=tcp");
        assert_eq!(a.user, Some("alice"));
        assert_eq!(a.tag, Some("abc"));
        assert_eq!(a.param("x"), Some(""));

        let b = NameAddr::parse("sip:bob@h;tag=9 , <sip:other@h>");
        assert_eq!(
            (b.display_name, b.uri, b.user, b.tag),
            (None, "sip:bob@h", Some("bob"), Some("9"))
        );

        let c = NameAddr::parse("1000 <sip:1000@127.0.0.1:5090>");
        assert_eq!(
            (c.display_name, c.user, c.tag),
            (Some("1000"), Some("1000"), None)
        );

        let t = NameAddr::parse("<tel:+4930123;phone-context=x>");
        assert_eq!(t.user, Some("+4930123"));
        assert_eq!(NameAddr::parse("*").uri, "*");
        assert_eq!(NameAddr::parse("<sip:example.com>").user, None);
        assert_eq!(NameAddr::parse("").uri, "");
    }

    #[test]
    fn via_forms() {
        let v =
            Via::parse("SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK1, SIP/2.0/TCP x").unwrap();
        assert_eq!(
            (v.transport, v.sent_by, v.branch),
            ("UDP", "10.0.0.1:5060", Some("z9hG4bK1"))
        );
        assert_eq!(v.param("rport"), Some(""));
        let v = Via::parse("SIP / 2.0 / WSS  df7jal23ls0d.invalid ;branch=z9").unwrap();
        assert_eq!(
            (v.transport, v.sent_by, v.branch),
            ("WSS", "df7jal23ls0d.invalid", Some("z9"))
        );
        let v = Via::parse("SIP/2.0/TCP h:1;branch=z\r\n ;received=1.2.3.4").unwrap();
        assert_eq!(v.param("received"), Some("1.2.3.4"));
        assert!(Via::parse("garbage").is_none());
        assert!(Via::parse("SIP/2.0/UDP").is_none());
    }

    #[test]
    fn compact_names() {
        assert!(same_name(b"i", b"call-id"));
        assert!(same_name(b"CALL-ID", b"I"));
        assert!(same_name(b"Subject", b"s"));
        assert!(!same_name(b"i", b"f"));
        assert!(!same_name(b"From", b"To"));
        assert_eq!(
            classify(b"P-ASSERTED-IDENTITY"),
            Some(Known::PAssertedIdentity)
        );
        assert_eq!(classify(b"x"), None);
    }
}
