//! The tokenizer of the full-text field: words as a VoIP operator searches
//! them.
//!
//! tantivy's default tokenizer splits on every character that is not a letter
//! or a digit, so `10.0.0.5` was four words (`10`, `0`, `0`, `5`), which a
//! query can only ask for as a phrase, and `mod_sofia` two. Here a word is a
//! run of characters between the separators of SIP, URIs, ESL headers and log
//! lines:
//!
//! - separators: ASCII white space and control characters, and
//!   `< > ; , " ' = : @ / \ ( ) [ ] { } ? & | ^ $ -` and the backquote (so
//!   `FreeSWITCH-mod_sofia` is `freeswitch` and `mod_sofia`, a UUID five words);
//! - kept inside a word: letters, digits, bytes of non-ASCII characters and
//!   `. _ + * # % ! ~`, so IPv4 addresses, host names, phone numbers,
//!   `mod_sofia`, `NORMAL_CLEARING`, `*97` and `switch_channel.c` are one word
//!   each;
//! - trimmed from both ends: `. + ! ~` (a sentence's full stop, the `+` of an
//!   E.164 number, which the query language reads as "must" anyway);
//! - lower-cased; words longer than [`MAX_WORD`] bytes are left out (base64,
//!   long hex blobs), as tantivy's default does.
//!
//! `sip:1000@10.0.0.5:5060` gives `sip`, `1000`, `10.0.0.5`, `5060`. The query
//! parser tokenizes a query with this same tokenizer, so a query word is
//! normalised like the text; the index keeps no word positions, so a quoted
//! query of several words (`"sip:1000@10.0.0.5"`, an IPv6 address) asks for
//! all of them.
//!
//! Classes are looked up per byte in a table; against tantivy's default
//! (letters and digits by `char`, then a lower-casing filter) this took 10% off
//! the instructions of indexing SIP messages (store bench `index_steady` under
//! callgrind: 3.55 G → 3.19 G for 40 000 messages).

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// The name the tokenizer is registered under in every partition's index.
pub(crate) const NAME: &str = "callweave";

/// Longest word indexed, in bytes.
pub(crate) const MAX_WORD: usize = 64;

/// tantivy's tokenizers with this one: what a query parser needs to tokenize a
/// query for any partition's schema.
pub(crate) fn manager() -> tantivy::tokenizer::TokenizerManager {
    let m = tantivy::tokenizer::TokenizerManager::default();
    m.register(NAME, SearchTokenizer::default());
    m
}

/// See the module documentation.
#[derive(Clone, Default)]
pub(crate) struct SearchTokenizer {
    token: Token,
}

pub(crate) struct SearchTokenStream<'a> {
    text: &'a str,
    pos: usize,
    token: &'a mut Token,
}

impl Tokenizer for SearchTokenizer {
    type TokenStream<'a> = SearchTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> SearchTokenStream<'a> {
        self.token.reset();
        SearchTokenStream {
            text,
            pos: 0,
            token: &mut self.token,
        }
    }
}

/// Byte classes: every separator and trimmed character is ASCII, so a word's
/// ends always fall on character boundaries, and bytes of multi-byte UTF-8
/// characters are word bytes (Unicode white space other than ASCII's does not
/// separate words).
const SEP: u8 = 0;
const WORD: u8 = 1;
const TRIM: u8 = 2;

static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut t = [WORD; 256];
    let mut i = 0;
    // Control characters and the space.
    while i <= 0x20 {
        t[i] = SEP;
        i += 1;
    }
    t[0x7f] = SEP;
    let seps = b"<>;,\"'=:@/\\()[]{}?&|^$`-";
    let mut j = 0;
    while j < seps.len() {
        t[seps[j] as usize] = SEP;
        j += 1;
    }
    let trims = b".+!~";
    let mut k = 0;
    while k < trims.len() {
        t[trims[k] as usize] = TRIM;
        k += 1;
    }
    t
}

fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

impl TokenStream for SearchTokenStream<'_> {
    fn advance(&mut self) -> bool {
        let bytes = self.text.as_bytes();
        let len = bytes.len();
        let mut pos = self.pos;
        loop {
            while pos < len && class(bytes[pos]) == SEP {
                pos += 1;
            }
            if pos >= len {
                self.pos = len;
                return false;
            }
            let (mut from, mut to) = (pos, pos);
            let mut ascii = true;
            while to < len && class(bytes[to]) != SEP {
                ascii &= bytes[to].is_ascii();
                to += 1;
            }
            pos = to;
            while from < to && class(bytes[from]) == TRIM {
                from += 1;
            }
            while to > from && class(bytes[to - 1]) == TRIM {
                to -= 1;
            }
            if from == to || to - from > MAX_WORD {
                continue;
            }
            let Some(word) = self.text.get(from..to) else {
                continue;
            };
            self.pos = pos;
            let t = &mut *self.token;
            t.position = t.position.wrapping_add(1);
            t.offset_from = from;
            t.offset_to = to;
            t.text.clear();
            if ascii {
                t.text.push_str(word);
                t.text.make_ascii_lowercase();
            } else {
                t.text.extend(word.chars().flat_map(char::to_lowercase));
            }
            return true;
        }
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let mut t = SearchTokenizer::default();
        let mut s = t.token_stream(text);
        let mut out = Vec::new();
        while s.advance() {
            let tok = s.token();
            // Offsets point at the word in the text, before lower-casing.
            assert_eq!(
                text[tok.offset_from..tok.offset_to].to_lowercase(),
                tok.text
            );
            out.push(tok.text.clone());
        }
        out
    }

    #[test]
    fn sip_values_are_whole_words() {
        assert_eq!(
            words("INVITE sip:+4930123456@10.0.0.5:5060;transport=udp SIP/2.0"),
            [
                "invite",
                "sip",
                "4930123456",
                "10.0.0.5",
                "5060",
                "transport",
                "udp",
                "sip",
                "2.0"
            ]
        );
        assert_eq!(
            words("\"Alice\" <sip:alice@pbx.example.com>;tag=as5f3b2c1"),
            [
                "alice",
                "sip",
                "alice",
                "pbx.example.com",
                "tag",
                "as5f3b2c1"
            ]
        );
        assert_eq!(words("[2001:db8::1]:5060"), ["2001", "db8", "1", "5060"]);
    }

    #[test]
    fn freeswitch_words_are_whole() {
        assert_eq!(
            words(
                "2024-01-02 10:00:00.123 [NOTICE] switch_channel.c:1118 New Channel sofia/internal/1000@127.0.0.1 [4a9d6c2e-1111-4c3b-9f00-0123456789ab]."
            ),
            [
                "2024",
                "01",
                "02",
                "10",
                "00",
                "00.123",
                "notice",
                "switch_channel.c",
                "1118",
                "new",
                "channel",
                "sofia",
                "internal",
                "1000",
                "127.0.0.1",
                "4a9d6c2e",
                "1111",
                "4c3b",
                "9f00",
                "0123456789ab",
            ]
        );
        assert_eq!(
            words("NORMAL_CLEARING FreeSWITCH-mod_sofia/1.10.12-release~64bit *97 #1 50%"),
            [
                "normal_clearing",
                "freeswitch",
                "mod_sofia",
                "1.10.12",
                "release~64bit",
                "*97",
                "#1",
                "50%"
            ]
        );
    }

    #[test]
    fn ends_are_trimmed_and_odd_input_is_safe() {
        assert_eq!(
            words("answered. --- +1555 ~x! 555-1234"),
            ["answered", "1555", "x", "555", "1234"]
        );
        assert_eq!(words(""), Vec::<String>::new());
        assert_eq!(words(" ;;; <> ... "), Vec::<String>::new());
        assert_eq!(words("ÉCOUTE Straße"), ["écoute", "straße"]);
        assert_eq!(words(&"x".repeat(MAX_WORD + 1)), Vec::<String>::new());
        assert_eq!(words(&"x".repeat(MAX_WORD)), ["x".repeat(MAX_WORD)]);
        assert_eq!(words("a\u{0}b\u{7f}c\td"), ["a", "b", "c", "d"]);
        // Multi-byte characters stay inside words, whatever their bytes.
        assert_eq!(words("«x» 名前:é"), ["«x»", "名前", "é"]);
    }

    #[test]
    fn positions_count_words() {
        let mut t = SearchTokenizer::default();
        let mut s = t.token_stream("a ... b c");
        let mut pos = Vec::new();
        while s.advance() {
            pos.push(s.token().position);
        }
        assert_eq!(pos, [0, 1, 2]);
    }
}
