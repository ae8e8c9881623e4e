//! The index schema and the mapping of records, links and call summaries to
//! tantivy documents.
//!
//! Three document types share one schema (`doc_type` tells them apart):
//!
//! | field | record | link | call | how |
//! |---|---|---|---|---|
//! | `doc_type` | `record` | `link` | `call` | raw, indexed |
//! | `ts` | record time | link time | call start | i64, fast (range filters read the column; also indexed in partitions of earlier versions, see [`SchemaVersion`]) |
//! | `seq` | ✓ | ✓ | ✓ | u64 fast: insertion order, the tiebreak for equal `ts` |
//! | `id` | identifiers + call key | | | raw, indexed: the record look-up |
//! | `edge` | only with ≥ 2 distinct ids | a, b | | raw, indexed: graph expansion |
//! | `idt` | typed ids | typed a, b | | raw, indexed + fast (`c:`/`u:`/`k:` prefix) |
//! | `la`, `lb`, `rule` | | ✓ | | raw, fast |
//! | `call` | (not written any more: the call key is in `id` and `idt`; kept so older partitions open) | | | raw, indexed |
//! | `call_of` | | | call key | raw, indexed: replace-by-term |
//! | `kind` | `sip`/`esl`/`log` | | | raw, indexed |
//! | `method`, `status` | SIP | | | raw / u64, indexed |
//! | `from_user`, `to_user` | ✓ | | from / to | raw, indexed |
//! | `node` | ✓ | | every node | raw, indexed |
//! | `outcome` | | | ✓ | raw, indexed |
//! | `summary` | (not written any more: never read, the API summarises a record itself; kept so older partitions open) | | | stored |
//! | `text` | SIP head without boilerplate headers + SDP summary ([`sip_search_text_into`]) / event header values ([`esl_search_text_into`]) / log text | | | words of [`crate::tokenize`], indexed (documents only, not stored) |
//! | `json` | a SIP record made from its message: [`SIP_FROM_RAW`] + [`StoredSip`], then the message; any other record as JSON (a SIP message may be a second value, see [`record_doc_split`]) | | the [`CallDoc`] | stored only |
//!
//! A SIP record whose header fields the listener derived from its message
//! ([`SipRecord::fields_from_raw`](callweave_core::record::SipRecord::fields_from_raw))
//! is stored as that message and what the message cannot say; the reader
//! parses the message again ([`sip_from_raw`]), with the function the
//! listener used, so the record read is the record written (checked over every
//! SIP message of the bundled captures by the `stored_sip` test of the CLI
//! crate). Records stored as JSON, including every one written before, read as
//! they always did.
//!
//! Single-id records stay out of `edge`: an OPTIONS flood of 20 000 messages on one
//! Call-ID then costs graph expansion nothing, and only the paginated record query
//! touches it.

use std::fmt::Write as _;

use callweave_core::record::{Ident, IdentKind, Record, RecordKind};
use smallvec::SmallVec;
use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::RAW_TOKENIZER_NAME;

use crate::error::{Result, StoreError};
use crate::model::CallDoc;

pub(crate) const DOC_RECORD: &str = "record";
pub(crate) const DOC_LINK: &str = "link";
pub(crate) const DOC_CALL: &str = "call";

/// Prefixes of typed identifiers in the `idt`, `la` and `lb` fields.
pub(crate) const PREFIX_CALL_ID: &str = "c:";
pub(crate) const PREFIX_UUID: &str = "u:";
pub(crate) const PREFIX_CALL_KEY: &str = "k:";

/// Field handles, resolved once per schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub doc_type: Field,
    pub ts: Field,
    pub seq: Field,
    pub id: Field,
    pub edge: Field,
    pub idt: Field,
    pub la: Field,
    pub lb: Field,
    pub rule: Field,
    pub call_of: Field,
    pub kind: Field,
    pub method: Field,
    pub status: Field,
    pub from_user: Field,
    pub to_user: Field,
    pub node: Field,
    pub outcome: Field,
    pub text: Field,
    pub json: Field,
}

fn raw_indexed() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(RAW_TOKENIZER_NAME)
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    )
}

fn raw_fast() -> TextOptions {
    TextOptions::default().set_fast(RAW_TOKENIZER_NAME)
}

/// How the full text of each schema version is indexed: no positions (they
/// cost more in every merge than in indexing, and the mapped position files
/// raised the agent's resident memory by 5%; a quoted phrase is searched as all
/// of its words, see `reader::parse_search`), no term frequencies (results are
/// ordered by time, never by score: frequencies were 3% of the instructions of
/// indexing a SIP message, more in merges), no field norms (nothing ranks by
/// field length). `positions` only for the schema a query is parsed with.
fn full_text(version: SchemaVersion, positions: bool) -> TextOptions {
    let tokenizer = match version {
        // tantivy's default tokenizer: words of letters and digits only.
        SchemaVersion::TsIndexed | SchemaVersion::TsFast => "default",
        SchemaVersion::WordsWithFreqs | SchemaVersion::Current => crate::tokenize::NAME,
    };
    let option = if positions {
        IndexRecordOption::WithFreqsAndPositions
    } else if version == SchemaVersion::Current {
        IndexRecordOption::Basic
    } else {
        IndexRecordOption::WithFreqs
    };
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(option)
            .set_fieldnorms(false),
    )
}

/// The schemas partitions have been written with. They have the same fields in
/// the same order, so the [`Fields`] of [`build_schema`] address each of them;
/// they differ in how two fields are indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SchemaVersion {
    /// `ts` in the inverted index too: every record has its own time, so that
    /// was one unique term per document (a term-dictionary entry, a posting
    /// list, merged again and again) for no query, as tantivy's range query
    /// reads a fast field's column whenever the field is fast. Full text with
    /// tantivy's default tokenizer.
    TsIndexed,
    /// `ts` a fast column only (8–18% less CPU indexing SIP messages, store
    /// bench `index_steady`); full text still with the default tokenizer.
    TsFast,
    /// Full text with [`crate::tokenize::SearchTokenizer`], with term
    /// frequencies.
    WordsWithFreqs,
    /// Full text with [`crate::tokenize::SearchTokenizer`], documents only.
    Current,
}

impl SchemaVersion {
    /// Whether a query parsed for the current schema reads this version's full
    /// text right: the same words (term frequencies only add to what is read).
    pub(crate) fn same_words_as_current(self) -> bool {
        matches!(self, SchemaVersion::WordsWithFreqs | SchemaVersion::Current)
    }
}

/// Builds the schema new partitions use.
pub(crate) fn build_schema() -> (Schema, Fields) {
    build_schema_for(SchemaVersion::Current)
}

/// The schemas a partition on disk may have, newest first, with their version.
pub(crate) fn readable_schemas() -> [(SchemaVersion, Schema); 4] {
    [
        SchemaVersion::Current,
        SchemaVersion::WordsWithFreqs,
        SchemaVersion::TsFast,
        SchemaVersion::TsIndexed,
    ]
    .map(|v| (v, build_schema_for(v).0))
}

/// The schema of `version`.
pub(crate) fn build_schema_for(version: SchemaVersion) -> (Schema, Fields) {
    build(version, false)
}

/// The schema a query for a partition of `version` is parsed with: its own
/// with positions in the full text, so that tantivy's parser makes a quoted
/// query a phrase (which the search then turns into all of its words) instead
/// of refusing it.
pub(crate) fn query_schema(version: SchemaVersion) -> Schema {
    build(version, true).0
}

fn build(version: SchemaVersion, text_positions: bool) -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        doc_type: b.add_text_field("doc_type", raw_indexed()),
        ts: if version == SchemaVersion::TsIndexed {
            b.add_i64_field("ts", INDEXED | FAST)
        } else {
            b.add_i64_field("ts", FAST)
        },
        seq: b.add_u64_field("seq", FAST),
        id: b.add_text_field("id", raw_indexed()),
        edge: b.add_text_field("edge", raw_indexed()),
        idt: b.add_text_field("idt", raw_indexed().set_fast(RAW_TOKENIZER_NAME)),
        la: b.add_text_field("la", raw_fast()),
        lb: b.add_text_field("lb", raw_fast()),
        rule: b.add_text_field("rule", raw_fast()),
        call_of: {
            // No longer written (the call key is in `id` and `idt`); still in the
            // schema so partitions written before open.
            b.add_text_field("call", raw_indexed());
            b.add_text_field("call_of", raw_indexed())
        },
        kind: b.add_text_field("kind", raw_indexed()),
        method: b.add_text_field("method", raw_indexed()),
        status: b.add_u64_field("status", INDEXED),
        from_user: b.add_text_field("from_user", raw_indexed()),
        to_user: b.add_text_field("to_user", raw_indexed()),
        node: b.add_text_field("node", raw_indexed()),
        outcome: b.add_text_field("outcome", raw_indexed()),
        text: {
            // `summary`: no longer written (never read: the API summarises a record
            // itself); still in the schema so partitions written before open.
            b.add_text_field("summary", STORED);
            b.add_text_field("text", full_text(version, text_positions))
        },
        json: b.add_text_field("json", STORED),
    };
    (b.build(), fields)
}

/// The typed form of an identifier as stored in `idt`/`la`/`lb`.
pub(crate) fn typed_ident(id: &Ident) -> String {
    format!("{}{}", typed_prefix(id.kind()), id.as_str())
}

/// The prefix of an identifier's typed form.
fn typed_prefix(kind: IdentKind) -> &'static str {
    match kind {
        IdentKind::Call => PREFIX_CALL_ID,
        IdentKind::Channel => PREFIX_UUID,
    }
}

/// What a typed value decodes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Typed {
    Ident(Ident),
    CallKey(String),
}

impl Typed {
    pub(crate) fn parse(s: &str) -> Option<Typed> {
        if let Some(v) = s.strip_prefix(PREFIX_CALL_ID) {
            Some(Typed::Ident(Ident::Call(v.into())))
        } else if let Some(v) = s.strip_prefix(PREFIX_UUID) {
            Some(Typed::Ident(Ident::Channel(v.into())))
        } else {
            s.strip_prefix(PREFIX_CALL_KEY)
                .map(|v| Typed::CallKey(v.to_owned()))
        }
    }

    /// The untyped look-up string.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Typed::Ident(i) => i.as_str(),
            Typed::CallKey(k) => k,
        }
    }
}

/// Adds a record's look-up terms: its distinct identifiers and call key to
/// `id` (and to `edge` when there are two or more), their typed forms to `idt`.
/// Borrowed from the record and written through one scratch buffer: no owned
/// copy of each identifier before tantivy copies it.
fn add_record_ids(
    f: &Fields,
    doc: &mut TantivyDocument,
    record: &Record,
    call_key: Option<&str>,
    buf: &mut String,
) {
    // A record names at most six identifiers (an event: its Call-ID and five
    // channel UUIDs), and the call key: held on the stack.
    let mut plain: SmallVec<[&str; 8]> = SmallVec::new();
    let mut typed: SmallVec<[(IdentKind, &str); 8]> = SmallVec::new();
    record.for_each_identifier(|kind, id| {
        if !typed.contains(&(kind, id)) {
            typed.push((kind, id));
        }
        if !plain.contains(&id) {
            plain.push(id);
        }
    });
    let key = call_key.filter(|k| !k.is_empty());
    if let Some(k) = key
        && !plain.contains(&k)
    {
        plain.push(k);
    }
    if plain.len() >= 2 {
        for p in &plain {
            doc.add_text(f.edge, p);
        }
    }
    for p in &plain {
        doc.add_text(f.id, p);
    }
    let typed = typed.iter().map(|&(kind, id)| (typed_prefix(kind), id));
    for (prefix, id) in typed.chain(key.map(|k| (PREFIX_CALL_KEY, k))) {
        buf.clear();
        buf.push_str(prefix);
        buf.push_str(id);
        doc.add_text(f.idt, &*buf);
    }
}

/// Builds the document for one record (its `seq` is added by the writer), the
/// record stored whole as JSON.
pub(crate) fn record_doc(
    f: &Fields,
    record: &Record,
    call_key: Option<&str>,
    full_text: bool,
    scratch: &mut Scratch,
) -> Result<TantivyDocument> {
    let mut doc = record_fields(f, record, call_key, full_text, scratch);
    if add_sip_from_raw(f, &mut doc, record, &mut scratch.json)? {
        return Ok(doc);
    }
    let json = to_json_after("", record, &mut scratch.json).map_err(StoreError::Encode)?;
    doc.add_text(f.json, json);
    Ok(doc)
}

/// Like [`record_doc`], with a SIP message stored as a second `json` value
/// beside the record's JSON instead of escaped inside it: no escaping on the way
/// in or out, and less to compress. `record` is as it was when this returns.
pub(crate) fn record_doc_split(
    f: &Fields,
    record: &mut Record,
    call_key: Option<&str>,
    full_text: bool,
    scratch: &mut Scratch,
) -> Result<TantivyDocument> {
    let mut doc = record_fields(f, record, call_key, full_text, scratch);
    if add_sip_from_raw(f, &mut doc, record, &mut scratch.json)? {
        return Ok(doc);
    }
    let raw = match &mut record.kind {
        RecordKind::Sip(s) if !s.raw.is_empty() => Some(std::mem::take(&mut s.raw)),
        _ => None,
    };
    // The JSON borrows the builder's buffer, not the record.
    let json = to_json_after("", &*record, &mut scratch.json);
    if let (Some(raw), RecordKind::Sip(s)) = (&raw, &mut record.kind) {
        s.raw = raw.clone();
    }
    doc.add_text(f.json, json.map_err(StoreError::Encode)?);
    if let Some(raw) = raw {
        doc.add_text(f.json, &*raw);
    }
    Ok(doc)
}

/// Prefix of the first stored value of a SIP record kept as its message (see
/// [`StoredSip`]); a record stored as JSON starts with `{`.
pub(crate) const SIP_FROM_RAW: &str = "sip-raw/1 ";

/// What a SIP record whose header fields derive from its message
/// ([`SipRecord::fields_from_raw`](callweave_core::record::SipRecord::fields_from_raw))
/// needs stored beside the message: the capture's side and the correlation
/// header's value (which depends on the header names configured). Stored as
/// [`SIP_FROM_RAW`] + JSON, the message as the second `json` value; the reader
/// parses the message again for the rest ([`sip_from_raw`]). Against the whole
/// record as JSON: no header value written, escaped, compressed and merged
/// twice.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredSip<'a> {
    ts_micros: i64,
    #[serde(borrow)]
    node: std::borrow::Cow<'a, str>,
    src: std::net::SocketAddr,
    dst: std::net::SocketAddr,
    transport: callweave_core::record::Transport,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    correlation: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    hep_correlation: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    capture_agent_id: Option<u32>,
}

/// Stores `record` as [`StoredSip`] and its message when it is a SIP record
/// whose fields derive from the message; `false` (nothing added) otherwise.
fn add_sip_from_raw(
    f: &Fields,
    doc: &mut TantivyDocument,
    record: &Record,
    buf: &mut Vec<u8>,
) -> Result<bool> {
    let RecordKind::Sip(s) = &record.kind else {
        return Ok(false);
    };
    if !s.fields_from_raw || s.raw.is_empty() {
        return Ok(false);
    }
    let stored = StoredSip {
        ts_micros: record.ts_micros,
        node: std::borrow::Cow::Borrowed(&record.node),
        src: s.src,
        dst: s.dst,
        transport: s.transport,
        correlation: s.correlation.as_ref().map(|c| c.as_str().into()),
        hep_correlation: s.hep_correlation.as_ref().map(|c| c.as_str().into()),
        capture_agent_id: s.capture_agent_id,
    };
    let head = to_json_after(SIP_FROM_RAW, &stored, buf).map_err(StoreError::Encode)?;
    doc.add_text(f.json, head);
    doc.add_text(f.json, &*s.raw);
    Ok(true)
}

/// The record stored as [`StoredSip`] JSON (`head`, after the prefix) and its
/// message: the header fields parsed from the message again, as the listener
/// did. A message that no longer parses (it always did when stored) keeps the
/// stored fields and the message.
pub(crate) fn sip_from_raw(head: &str, raw: &str) -> serde_json::Result<Record> {
    use callweave_core::record::{CallId, CorrelationId, SipRecord};
    let stored: StoredSip<'_> = serde_json::from_str(head)?;
    let mut sip = SipRecord::new(
        stored.src,
        stored.dst,
        stored.transport,
        CallId::new(String::new()),
    );
    sip.correlation = stored.correlation.map(|c| CallId::new(c.into_owned()));
    sip.hep_correlation = stored
        .hep_correlation
        .map(|c| CorrelationId::new(c.into_owned()));
    sip.capture_agent_id = stored.capture_agent_id;
    let _ = sip.derive_fields(std::sync::Arc::from(raw));
    Ok(Record::new(
        stored.ts_micros,
        std::sync::Arc::from(&*stored.node),
        RecordKind::Sip(sip),
    ))
}

/// Buffers a document is built in before tantivy copies what they hold into
/// it, kept from one document to the next ([`crate::DocBuilder`]): no
/// allocation per record for its full text, its stored JSON or its typed
/// identifiers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scratch {
    text: String,
    json: Vec<u8>,
    id: String,
}

impl Scratch {
    /// Buffers past this are let go after a document (a huge event or log
    /// line), so one outlier does not stay allocated.
    const KEEP: usize = 64 << 10;

    pub(crate) fn trim(&mut self) {
        if self.text.capacity() > Self::KEEP {
            self.text = String::new();
        }
        if self.json.capacity() > Self::KEEP {
            self.json = Vec::new();
        }
        if self.id.capacity() > Self::KEEP {
            self.id = String::new();
        }
    }
}

/// `prefix` then `value` as JSON, written into `buf` (emptied first).
fn to_json_after<'b, T: serde::Serialize>(
    prefix: &str,
    value: &T,
    buf: &'b mut Vec<u8>,
) -> serde_json::Result<std::borrow::Cow<'b, str>> {
    buf.clear();
    buf.extend_from_slice(prefix.as_bytes());
    serde_json::to_writer(&mut *buf, value)?;
    // serde_json writes UTF-8; the fallback is never taken. (`from_utf8`
    // first: `from_utf8_lossy` walks `Utf8Chunks` even over valid text.)
    Ok(match std::str::from_utf8(buf) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(buf),
    })
}

/// Every field of a record's document but the stored record.
fn record_fields(
    f: &Fields,
    record: &Record,
    call_key: Option<&str>,
    full_text: bool,
    scratch: &mut Scratch,
) -> TantivyDocument {
    // Sized for what the record will hold: a SIP message is stored whole
    // (beside about 200 bytes of JSON) and half of it is full text, so the
    // document's buffer does not grow twice on the way.
    let text_len = match &record.kind {
        RecordKind::Sip(s) => s.raw.len() + s.raw.len() / 2,
        RecordKind::Log(l) => 2 * l.text.len(),
        RecordKind::Channel(_) => 0,
    };
    let mut doc = TantivyDocument::with_capacity(1024 + text_len);
    doc.add_text(f.doc_type, DOC_RECORD);
    doc.add_i64(f.ts, record.ts_micros);
    doc.add_text(f.kind, record.source());
    doc.add_text(f.node, &*record.node);

    add_record_ids(f, &mut doc, record, call_key, &mut scratch.id);

    match &record.kind {
        RecordKind::Sip(s) => {
            if let Some(m) = s.cseq_method() {
                doc.add_text(f.method, m);
            }
            if let Some(code) = s.status {
                doc.add_u64(f.status, u64::from(code));
            }
            if let Some(u) = &s.from.user {
                doc.add_text(f.from_user, u);
            }
            if let Some(u) = &s.to.user {
                doc.add_text(f.to_user, u);
            }
            if full_text {
                scratch.text.clear();
                sip_search_text_into(s, &mut scratch.text);
                doc.add_text(f.text, &scratch.text);
            }
        }
        RecordKind::Channel(c) => {
            if let Some(n) = &c.caller_number {
                doc.add_text(f.from_user, n);
            }
            if let Some(n) = &c.destination_number {
                doc.add_text(f.to_user, n);
            }
            if let Some(code) = c.sip_term_status {
                doc.add_u64(f.status, u64::from(code));
            }
            if full_text {
                scratch.text.clear();
                esl_search_text_into(c, &mut scratch.text);
                doc.add_text(f.text, &scratch.text);
            }
        }
        RecordKind::Log(l) if full_text => {
            doc.add_text(f.text, &*l.text);
        }
        RecordKind::Log(_) => {}
    }
    doc
}

/// Header fields left out of a SIP message's full text: on every message, with
/// values nobody searches for (or random per message, like a Via branch, whose
/// unique terms are the dearest to index), or already indexed as fields (Call-ID).
/// Names are lower case; compact forms included.
const UNSEARCHED_HEADERS: &[&str] = &[
    "via",
    "v",
    "call-id",
    "i",
    "cseq",
    "max-forwards",
    "content-length",
    "l",
    "content-type",
    "c",
    "allow",
    "supported",
    "k",
    "accept",
    "allow-events",
    "u",
];

/// The words of a SIP message worth a full-text search: the start line and the
/// values (not names) of the header fields but those in [`UNSEARCHED_HEADERS`],
/// one per line, then the SDP summary
/// (connection address, media, ports, codecs) instead of the SDP body. About
/// half the terms of a whole INVITE, and indexing cost follows the terms; the
/// whole message is still stored with the record. Appended to `out`.
pub(crate) fn sip_search_text_into(s: &callweave_core::record::SipRecord, out: &mut String) {
    let raw: &str = &s.raw;
    let mut keep = true;
    // Lines found with `memchr` (SIMD): `str::split('\n')` searched a message's
    // head a word at a time, 4% of the instructions of indexing a SIP message.
    let mut at = 0;
    let lines = std::iter::from_fn(|| {
        let rest = raw.get(at..).filter(|r| !r.is_empty())?;
        let end = memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len());
        at += end + 1;
        rest.get(..end)
    });
    for (i, line) in lines.enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break; // end of the head; the body is summarised below
        }
        let mut words = line;
        if i > 0 && !line.starts_with([' ', '\t']) {
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            // Trimmed once, not once per name compared (that was 6% of the
            // CPU of indexing a SIP message).
            let name = name.trim_ascii();
            keep = !UNSEARCHED_HEADERS
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name));
            words = value.trim_start();
        }
        if keep {
            out.push_str(words);
            out.push('\n');
        }
    }
    if let Some(sdp) = &s.sdp {
        if let Some(c) = &sdp.connection {
            out.push_str(c);
            out.push('\n');
        }
        for m in &sdp.media {
            let _ = write!(out, "{} {}", m.kind, m.port);
            for codec in &m.codecs {
                out.push(' ');
                out.push_str(codec);
            }
            out.push('\n');
        }
    }
}

/// [`sip_search_text_into`], as a new string.
#[cfg(test)]
pub(crate) fn sip_search_text(s: &callweave_core::record::SipRecord) -> String {
    let mut out = String::new();
    sip_search_text_into(s, &mut out);
    out
}

/// ESL headers left out of an event's full text (lower case): identifiers
/// indexed as fields, where in FreeSWITCH's source the event was fired, the
/// switch's own name and addresses (the record's `node`), and the event's date.
const UNSEARCHED_EVENT_HEADERS: &[&str] = &[
    "unique-id",
    "caller-unique-id",
    "other-leg-unique-id",
    "channel-call-uuid",
    "core-uuid",
    "variable_uuid",
    "variable_call_uuid",
    "variable_sip_call_id",
    "variable_session_id",
    "variable_originating_leg_uuid",
    "variable_bridge_uuid",
    "variable_signal_bond",
    "variable_last_bridge_to",
    "event-calling-file",
    "event-calling-function",
    "event-calling-line-number",
    "event-sequence",
    "event-date-gmt",
    "event-date-local",
    "event-date-timestamp",
    "freeswitch-hostname",
    "freeswitch-switchname",
    "freeswitch-ipv4",
    "freeswitch-ipv6",
    "content-length",
];

/// Name endings of ESL headers left out of the full text: times and durations
/// (a unique number per event, the dearest kind of term), SDP bodies (as for
/// SIP, the codecs and addresses are in other variables) and Via headers with
/// their random branch.
const UNSEARCHED_EVENT_SUFFIXES: &[&str] = &[
    "-time",
    "-timestamp",
    "-hold-accum",
    "-last-hold",
    "epoch",
    "_stamp",
    "sec",
    "_sdp",
    "_sdp_str",
    "_via",
];

/// The words of an ESL event worth a full-text search: header values (not
/// names), one per line, but those of [`UNSEARCHED_EVENT_HEADERS`] and
/// [`UNSEARCHED_EVENT_SUFFIXES`] and bare booleans. An event carries ~125
/// headers and ~760 words with names; this keeps about a fifth of the words:
/// numbers, addresses, URIs, user agents, causes, codecs, application data.
/// The whole event is still stored with the record. Appended to `out`.
pub(crate) fn esl_search_text_into(c: &callweave_core::record::ChannelRecord, out: &mut String) {
    let start = out.len();
    for (name, value) in c.headers.iter() {
        let value = value.trim();
        if value.is_empty()
            || ["true", "false", "yes", "no"]
                .iter()
                .any(|b| b.eq_ignore_ascii_case(value))
        {
            continue;
        }
        let dropped = UNSEARCHED_EVENT_HEADERS
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
            || UNSEARCHED_EVENT_SUFFIXES.iter().any(|suffix| {
                name.len()
                    .checked_sub(suffix.len())
                    .and_then(|start| name.get(start..))
                    .is_some_and(|end| end.eq_ignore_ascii_case(suffix))
            });
        if !dropped {
            out.push_str(value);
            out.push('\n');
        }
    }
    if out.len() == start {
        out.push_str(&c.event_name);
    }
}

/// [`esl_search_text_into`], as a new string.
#[cfg(test)]
pub(crate) fn esl_search_text(c: &callweave_core::record::ChannelRecord) -> String {
    let mut out = String::new();
    esl_search_text_into(c, &mut out);
    out
}

/// Builds the document for one link edge.
pub(crate) fn link_doc(f: &Fields, a: &Ident, b: &Ident, rule: &str, ts: i64) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_text(f.doc_type, DOC_LINK);
    doc.add_i64(f.ts, ts);
    doc.add_text(f.edge, a.as_str());
    if b.as_str() != a.as_str() {
        doc.add_text(f.edge, b.as_str());
    }
    let (ta, tb) = (typed_ident(a), typed_ident(b));
    doc.add_text(f.idt, &ta);
    if tb != ta {
        doc.add_text(f.idt, &tb);
    }
    doc.add_text(f.la, ta);
    doc.add_text(f.lb, tb);
    doc.add_text(f.rule, rule);
    doc
}

/// Builds the document for one call summary.
pub(crate) fn call_doc(f: &Fields, call: &CallDoc) -> Result<TantivyDocument> {
    let mut doc = TantivyDocument::new();
    doc.add_text(f.doc_type, DOC_CALL);
    doc.add_text(f.call_of, &call.call_key);
    doc.add_i64(f.ts, call.start_micros);
    if let Some(n) = call.from.as_deref().filter(|n| !n.is_empty()) {
        doc.add_text(f.from_user, n);
    }
    if let Some(n) = call.to.as_deref().filter(|n| !n.is_empty()) {
        doc.add_text(f.to_user, n);
    }
    doc.add_text(f.outcome, &call.outcome);
    for n in &call.nodes {
        doc.add_text(f.node, n);
    }
    doc.add_text(
        f.json,
        serde_json::to_string(call).map_err(StoreError::Encode)?,
    );
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use callweave_core::record::{CallId, SipRecord, Transport};

    use super::*;

    #[test]
    fn sip_search_text_keeps_what_operators_search_for() {
        let raw = "INVITE sip:1000@10.0.0.2:5060 SIP/2.0\r\n\
            Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKq7Xy2\r\n\
            Max-Forwards: 70\r\n\
            From: \"Alice\" <sip:2000@10.0.0.1>;tag=t1\r\n\
            To: <sip:1000@10.0.0.2>\r\n\
            i: a84b4c76e66710@pc33\r\n\
            CSeq: 1 INVITE\r\n\
            Allow: INVITE, ACK,\r\n OPTIONS, BYE\r\n\
            User-Agent: FreeSWITCH-mod_sofia/1.10.12\r\n\
            X-CID: a-leg-7@10.0.0.9\r\n\
            Content-Type: application/sdp\r\n\
            \r\n\
            v=0\r\nc=IN IP4 10.0.0.50\r\nm=audio 16384 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
        let mut sip = SipRecord::new(
            "10.0.0.1:5060".parse().unwrap(),
            "10.0.0.2:5060".parse().unwrap(),
            Transport::Udp,
            CallId::from("a84b4c76e66710@pc33"),
        );
        sip.raw = Arc::from(raw);
        sip.sdp = Some(callweave_core::record::SdpSummary {
            connection: Some("10.0.0.50".into()),
            media: vec![callweave_core::record::SdpMedia {
                kind: "audio".into(),
                port: 16384,
                codecs: vec!["PCMU/8000".into()].into(),
            }]
            .into(),
        });
        let text = sip_search_text(&sip);
        assert_words(
            &text,
            &[
                "INVITE sip:1000@10.0.0.2:5060 SIP/2.0\n",
                "\n\"Alice\" <sip:2000@10.0.0.1>;tag=t1\n",
                "\n<sip:1000@10.0.0.2>\n",
                "\nFreeSWITCH-mod_sofia/1.10.12\n",
                "\na-leg-7@10.0.0.9\n",
                "10.0.0.50\naudio 16384 PCMU/8000\n",
            ],
            // Header names, boilerplate, random per message, indexed elsewhere, a
            // folded line of a dropped header, and the SDP body itself.
            &[
                "From",
                "User-Agent",
                "X-CID",
                "z9hG4bK",
                "Max-Forwards",
                "a84b4c76e66710",
                "CSeq",
                "Allow",
                "OPTIONS",
                "rtpmap",
                "application/sdp",
                "v=0",
            ],
        );
    }

    /// Lines ended by a bare LF, a last line without one, an empty message.
    #[test]
    fn sip_search_text_takes_any_line_ends() {
        let mut sip = SipRecord::new(
            "10.0.0.1:5060".parse().unwrap(),
            "10.0.0.2:5060".parse().unwrap(),
            Transport::Udp,
            CallId::from("x"),
        );
        sip.raw = Arc::from("OPTIONS sip:x SIP/2.0\nVia: SIP/2.0/UDP h\nTo: <sip:c@d>");
        assert_eq!(sip_search_text(&sip), "OPTIONS sip:x SIP/2.0\n<sip:c@d>\n");
        sip.raw = Arc::from("OPTIONS sip:x SIP/2.0\r\n\r\nTo: <sip:c@d>\r\n");
        assert_eq!(sip_search_text(&sip), "OPTIONS sip:x SIP/2.0\n");
        sip.raw = Arc::from("");
        assert_eq!(sip_search_text(&sip), "");
    }

    /// Every `kept` piece is in `text`, no `dropped` piece is.
    fn assert_words(text: &str, kept: &[&str], dropped: &[&str]) {
        for k in kept {
            assert!(text.contains(k), "{k:?} missing from {text:?}");
        }
        for d in dropped {
            assert!(!text.contains(d), "{d:?} kept in {text:?}");
        }
    }

    #[test]
    fn esl_search_text_keeps_values_operators_search_for() {
        // Headers of a CHANNEL_HANGUP_COMPLETE of the real set
        // freeswitch-live/01-bridged-callid-random (decoded).
        let headers: Vec<(String, String)> = [
            ("Event-Name", "CHANNEL_HANGUP_COMPLETE"),
            ("Core-UUID", "24d73ca1-46f5-4366-9efe-e16c8d8900f6"),
            ("FreeSWITCH-Hostname", "vm"),
            ("Event-Date-Timestamp", "1795663472601032"),
            ("Event-Calling-File", "switch_core_state_machine.c"),
            ("Unique-ID", "f059e147-6396-47f7-a85d-5c55f0c977bc"),
            ("Hangup-Cause", "NORMAL_CLEARING"),
            ("Channel-Read-Codec-Name", "PCMU"),
            ("Caller-Caller-ID-Number", "sipp"),
            ("Caller-Network-Addr", "127.0.0.1"),
            ("Caller-Destination-Number", "1000"),
            ("Caller-Channel-Created-Time", "1795663470521047"),
            ("Caller-Privacy-Hide-Name", "false"),
            (
                "variable_sip_full_via",
                "SIP/2.0/UDP 127.0.0.1:5090;rport;branch=z9hG4bK35X41UBpZ2ScB",
            ),
            (
                "variable_switch_r_sdp",
                "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n",
            ),
            ("variable_sip_user_agent", "SIPp/Linux"),
            ("variable_start_uepoch", "1795663470521047"),
            ("variable_billsec", "2"),
            ("variable_sip_hangup_disposition", "send_bye"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let c = callweave_core::record::ChannelRecord {
            event_name: "CHANNEL_HANGUP_COMPLETE".into(),
            headers: headers.into(),
            ..Default::default()
        };
        let text = esl_search_text(&c);
        assert_words(
            &text,
            &[
                "CHANNEL_HANGUP_COMPLETE\n",
                "NORMAL_CLEARING\n",
                "PCMU\n",
                "sipp\n",
                "127.0.0.1\n",
                "1000\n",
                "SIPp/Linux\n",
                "send_bye\n",
            ],
            &[
                "Hangup-Cause", // names
                "24d73ca1",
                "vm\n",
                "1795663",
                "switch_core_state_machine",
                "f059e147",
                "false",
                "z9hG4bK",
                "53655765",
                "2\n",
            ],
        );

        // An event whose every header is dropped still has its name.
        let bare = callweave_core::record::ChannelRecord {
            event_name: "HEARTBEAT".into(),
            headers: vec![("Core-UUID".to_owned(), "x".to_owned())].into(),
            ..Default::default()
        };
        assert_eq!(esl_search_text(&bare), "HEARTBEAT");
    }

    #[test]
    fn typed_values_round_trip() {
        let id = Ident::Channel("d9e73608-5048-4523-aded-4dc2c3f91498".into());
        let t = typed_ident(&id);
        assert_eq!(t, "u:d9e73608-5048-4523-aded-4dc2c3f91498");
        assert_eq!(Typed::parse(&t), Some(Typed::Ident(id)));
        assert_eq!(Typed::parse("k:abc"), Some(Typed::CallKey("abc".into())));
        assert_eq!(Typed::parse("x:abc"), None);
    }

    const INVITE: &str = "INVITE sip:1000@10.0.0.2:5060 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKq7Xy2\r\n\
        From: \"Alice\" <sip:2000@10.0.0.1>;tag=from-tag-1\r\n\
        To: <sip:1000@10.0.0.2>\r\n\
        Call-ID: a84b4c76e66710@pc33\r\n\
        CSeq: 1 INVITE\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: 52\r\n\r\n\
        v=0\r\nc=IN IP4 10.0.0.50\r\nm=audio 16384 RTP/AVP 0\r\n";

    fn derived_invite() -> Record {
        let mut sip = SipRecord::new(
            "10.0.0.1:5060".parse().unwrap(),
            "[2001:db8::2]:5060".parse().unwrap(),
            Transport::Tcp,
            CallId::new(String::new()),
        );
        sip.correlation = Some(CallId::from("a-leg-7@10.0.0.9"));
        sip.capture_agent_id = Some(2001);
        sip.derive_fields(Arc::from(INVITE)).unwrap();
        Record::new(1_700_000_000_123_456, "edge \"1\"", RecordKind::Sip(sip))
    }

    fn stored_values(doc: &TantivyDocument, f: &Fields) -> Vec<String> {
        use tantivy::schema::Value as _;
        doc.get_all(f.json)
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn a_sip_record_from_its_message_is_stored_as_the_message_and_what_it_cannot_say() {
        let (_, f) = build_schema();
        let record = derived_invite();
        let doc = record_doc(&f, &record, None, true, &mut Scratch::default()).unwrap();
        let values = stored_values(&doc, &f);
        assert_eq!(values.len(), 2);
        let head = values[0].strip_prefix(SIP_FROM_RAW).expect("the prefix");
        // Nothing the message says is written again.
        for said in [
            "from-tag-1",
            "a84b4c76e66710",
            "z9hG4bKq7Xy2",
            "PCMU",
            "Alice",
        ] {
            assert!(!head.contains(said), "{said} in {head}");
        }
        assert_eq!(values[1], INVITE);
        let back = sip_from_raw(head, &values[1]).unwrap();
        assert_eq!(back, record);
        let RecordKind::Sip(s) = &back.kind else {
            unreachable!()
        };
        assert_eq!(s.from.tag.as_deref(), Some("from-tag-1"));
        assert_eq!(
            s.correlation.as_ref().map(CallId::as_str),
            Some("a-leg-7@10.0.0.9")
        );
        assert_eq!(s.dst, "[2001:db8::2]:5060".parse().unwrap());
        // Both builders agree, and the split one leaves the record as it was.
        let mut again = record.clone();
        let split = record_doc_split(&f, &mut again, None, true, &mut Scratch::default()).unwrap();
        assert_eq!(stored_values(&split, &f), values);
        assert_eq!(again, record);
    }

    #[test]
    fn a_record_whose_fields_are_not_its_message_is_stored_whole() {
        let (_, f) = build_schema();
        let mut record = derived_invite();
        let RecordKind::Sip(s) = &mut record.kind else {
            unreachable!()
        };
        // Fields set by hand (tests, other producers) are not derived again.
        s.fields_from_raw = false;
        s.from.user = Some("someone-else".into());
        let doc = record_doc(&f, &record, None, true, &mut Scratch::default()).unwrap();
        let values = stored_values(&doc, &f);
        assert_eq!(values.len(), 1);
        assert!(values[0].starts_with('{'));
        assert!(values[0].contains("someone-else"));
    }

    #[test]
    fn a_stored_message_that_no_longer_parses_keeps_what_was_stored() {
        let (_, f) = build_schema();
        let doc = record_doc(&f, &derived_invite(), None, true, &mut Scratch::default()).unwrap();
        let values = stored_values(&doc, &f);
        let head = values[0].strip_prefix(SIP_FROM_RAW).unwrap();
        let back = sip_from_raw(head, "not a SIP message").unwrap();
        let RecordKind::Sip(s) = &back.kind else {
            unreachable!()
        };
        assert_eq!(&*s.raw, "not a SIP message");
        assert!(!s.fields_from_raw);
        assert_eq!(s.capture_agent_id, Some(2001));
        assert_eq!(s.method, None);
        assert_eq!(back.ts_micros, 1_700_000_000_123_456);
        assert_eq!(&*back.node, "edge \"1\"");
        assert!(sip_from_raw("{\"ts_micros\":1}", INVITE).is_err());
    }

    #[test]
    fn a_records_look_up_terms_are_its_distinct_ids_and_call_key() {
        use callweave_core::record::{ChannelRecord, ChannelUuid};
        let (_, f) = build_schema();
        let texts = |doc: &TantivyDocument, field: Field| -> Vec<String> {
            use tantivy::schema::Value as _;
            doc.get_all(field)
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        // A correlation value equal to the Call-ID and a call key equal to it:
        // one id, no edge, a typed Call-ID and a typed key.
        let mut sip = SipRecord::new(
            "10.0.0.1:5060".parse().unwrap(),
            "10.0.0.2:5060".parse().unwrap(),
            Transport::Udp,
            CallId::from("c1@h"),
        );
        sip.correlation = Some(CallId::from("c1@h"));
        let sip = Record::new(1, "n", RecordKind::Sip(sip));
        let doc = record_doc(&f, &sip, Some("c1@h"), false, &mut Scratch::default()).unwrap();
        assert_eq!(texts(&doc, f.id), ["c1@h"]);
        assert!(texts(&doc, f.edge).is_empty());
        assert_eq!(texts(&doc, f.idt), ["c:c1@h", "k:c1@h"]);
        // An event naming a Call-ID and two channels (one twice), another key.
        let event = ChannelRecord {
            sip_call_id: Some(CallId::from("c1@h")),
            unique_id: Some(ChannelUuid::from("u-a")),
            other_leg_unique_id: Some(ChannelUuid::from("u-b")),
            channel_call_uuid: Some(ChannelUuid::from("u-a")),
            ..Default::default()
        };
        let event = Record::new(2, "n", RecordKind::Channel(event));
        let doc = record_doc(&f, &event, Some("k9"), false, &mut Scratch::default()).unwrap();
        let plain = ["c1@h", "u-a", "u-b", "k9"];
        assert_eq!(texts(&doc, f.id), plain);
        assert_eq!(texts(&doc, f.edge), plain);
        assert_eq!(texts(&doc, f.idt), ["c:c1@h", "u:u-a", "u:u-b", "k:k9"]);
        // No key: nothing typed for it.
        let doc = record_doc(&f, &event, Some(""), false, &mut Scratch::default()).unwrap();
        assert_eq!(texts(&doc, f.idt), ["c:c1@h", "u:u-a", "u:u-b"]);
    }
}
