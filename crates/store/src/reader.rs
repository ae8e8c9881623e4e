//! The read side: trace (component expansion + a page of records), calls search
//! and record search.

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;

use callweave_core::record::{Ident, Record, RecordKind};
use tantivy::collector::{Collector, Count, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::query::{BooleanQuery, Occur, PhraseQuery, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::Field;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::tokenizer::TokenizerManager;
use tantivy::{
    DocAddress, DocId, Order, Score, Searcher, SegmentOrdinal, SegmentReader, TantivyDocument, Term,
};

use crate::error::{Result, StoreError};
use crate::model::{CallDoc, CallFilter, LinkDoc, RecordSearch, SearchHits, Trace, TraceOptions};
use crate::partition::{Partition, SegmentColumns};
use crate::schema::{
    DOC_CALL, DOC_RECORD, Fields, PREFIX_CALL_ID, PREFIX_CALL_KEY, PREFIX_UUID, SchemaVersion,
    Typed,
};
use crate::store::Shared;

/// Largest page of records or calls one query returns.
const MAX_PAGE: usize = 10_000;

/// A cheap, cloneable, thread-safe query handle on a [`Store`](crate::Store).
///
/// It holds the partitions' cached `IndexReader`s, which the store reloads after
/// each commit: a query takes the current searchers (an `Arc` clone each) and never
/// reopens an index.
#[derive(Debug, Clone)]
pub struct StoreReader {
    shared: Arc<Shared>,
}

/// A partition and the searcher a query uses for it throughout.
struct Part {
    part: Arc<Partition>,
    searcher: Searcher,
}

type SortKey = (Option<i64>, Option<u64>);

impl Part {
    /// The first `limit` documents matching `query` by (`ts`, `seq`) in `order`.
    fn top_by_time(
        &self,
        query: &dyn Query,
        limit: usize,
        order: Order,
    ) -> Result<Vec<(SortKey, DocAddress)>> {
        let collector = TimeOrder {
            part: self,
            limit: limit.max(1),
            order,
        };
        self.searcher
            .search(query, &collector)
            .map_err(|e| index_err(self, e))
    }
}

impl StoreReader {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn fields(&self) -> &Fields {
        &self.shared.fields
    }

    fn parts(&self) -> Vec<Part> {
        self.shared
            .snapshot()
            .into_iter()
            .map(|part| Part {
                searcher: part.reader.searcher(),
                part,
            })
            .collect()
    }

    /// Follows `id` (a Call-ID, channel UUID, correlation id or call key) to its
    /// whole call and returns one page of the call's records in time order.
    ///
    /// The component is expanded by term look-ups over link edges and multi-id
    /// records, across every partition, until no new identifier appears or
    /// `opts.max_ids` is reached. Records are counted without being loaded, ordered
    /// on the `ts`/`seq` fast fields, and only the page is read from the doc store.
    /// `Ok(None)` when nothing in the index mentions `id`.
    pub fn trace(&self, id: &str, opts: TraceOptions) -> Result<Option<Trace>> {
        if id.is_empty() {
            return Ok(None);
        }
        let f = *self.fields();
        let parts = self.parts();
        let max_ids = opts.max_ids.max(1);

        let mut known: HashSet<String> = HashSet::from([id.to_owned()]);
        let mut typed: BTreeSet<Typed> = BTreeSet::new();
        let mut links: HashMap<(String, String, String), i64> = HashMap::new();
        let mut frontier = vec![id.to_owned()];
        let mut truncated = false;
        while !frontier.is_empty() {
            let query = any_term(f.edge, &frontier);
            let mut next = Vec::new();
            for p in &parts {
                let fruit = p
                    .searcher
                    .search(&*query, &EdgeCollector { part: p })
                    .map_err(|e| index_err(p, e))?;
                for t in fruit.typed {
                    let Some(tv) = Typed::parse(&t) else { continue };
                    let s = tv.as_str();
                    if !known.contains(s) {
                        if known.len() >= max_ids {
                            truncated = true;
                            continue;
                        }
                        known.insert(s.to_owned());
                        next.push(s.to_owned());
                    }
                    typed.insert(tv);
                }
                for (key, ts) in fruit.links {
                    links
                        .entry(key)
                        .and_modify(|t| *t = (*t).min(ts))
                        .or_insert(ts);
                }
            }
            frontier = next;
        }

        // The starting id may sit only on single-id records (no edge): type it from
        // the `idt` terms.
        if !typed.iter().any(|t| t.as_str() == id) {
            for prefix in [PREFIX_CALL_ID, PREFIX_UUID, PREFIX_CALL_KEY] {
                let term = Term::from_field_text(f.idt, &format!("{prefix}{id}"));
                for p in &parts {
                    if p.searcher.doc_freq(&term).map_err(|e| index_err(p, e))? > 0 {
                        if let Some(t) = Typed::parse(&format!("{prefix}{id}")) {
                            typed.insert(t);
                        }
                        break;
                    }
                }
            }
        }

        let record_query = any_term(f.id, known.iter());
        let mut counts = Vec::with_capacity(parts.len());
        let mut total: u64 = 0;
        for p in &parts {
            let n = p
                .searcher
                .search(&*record_query, &Count)
                .map_err(|e| index_err(p, e))?;
            counts.push(n);
            total += n as u64;
        }
        if total == 0 && typed.is_empty() && links.is_empty() {
            return Ok(None);
        }

        let limit = opts.limit.min(MAX_PAGE);
        let mut records = Vec::new();
        let total_usize = usize::try_from(total).unwrap_or(usize::MAX);
        if limit > 0 && opts.offset < total_usize {
            let want = opts.offset.saturating_add(limit).min(total_usize);
            let mut hits: Vec<(SortKey, usize, DocAddress)> = Vec::new();
            for (i, (p, &n)) in parts.iter().zip(&counts).enumerate() {
                if n == 0 {
                    continue;
                }
                let top = p.top_by_time(&*record_query, want.min(n), Order::Asc)?;
                hits.extend(top.into_iter().map(|(k, addr)| (k, i, addr)));
            }
            hits.sort_by_key(|&(k, i, _)| (k, i));
            for (_, i, addr) in hits.into_iter().skip(opts.offset).take(limit) {
                let Some(p) = parts.get(i) else { continue };
                records.push(load_record(p, &f, addr)?);
            }
        }

        let mut ids: Vec<Ident> = Vec::new();
        let mut call_keys: Vec<String> = Vec::new();
        for t in typed {
            if !known.contains(t.as_str()) {
                continue;
            }
            match t {
                Typed::Ident(i) => ids.push(i),
                Typed::CallKey(k) => call_keys.push(k),
            }
        }
        let mut links: Vec<LinkDoc> = links
            .into_iter()
            .filter_map(|((a, b, rule), ts)| {
                let (Some(Typed::Ident(a)), Some(Typed::Ident(b))) =
                    (Typed::parse(&a), Typed::parse(&b))
                else {
                    return None;
                };
                (known.contains(a.as_str()) && known.contains(b.as_str())).then_some(LinkDoc {
                    a,
                    b,
                    rule,
                    ts_micros: ts,
                })
            })
            .collect();
        links.sort_by(|x, y| {
            (x.ts_micros, &x.a, &x.b, &x.rule).cmp(&(y.ts_micros, &y.a, &y.b, &y.rule))
        });

        Ok(Some(Trace {
            ids,
            call_keys,
            links,
            records,
            total_records: total,
            truncated,
        }))
    }

    /// Searches call summaries, newest first.
    pub fn calls(&self, filter: &CallFilter) -> Result<Vec<CallDoc>> {
        let f = *self.fields();
        let limit = filter.limit.min(MAX_PAGE);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let term = |field, v: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, v),
                IndexRecordOption::Basic,
            ))
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, term(f.doc_type, DOC_CALL))];
        if let Some(n) = filter.number.as_deref() {
            let either = BooleanQuery::new(vec![
                (Occur::Should, term(f.from_user, n)),
                (Occur::Should, term(f.to_user, n)),
            ]);
            clauses.push((Occur::Must, Box::new(either)));
        }
        if let Some(o) = filter.outcome.as_deref() {
            clauses.push((Occur::Must, term(f.outcome, o)));
        }
        if let Some(n) = filter.node.as_deref() {
            clauses.push((Occur::Must, term(f.node, n)));
        }
        if let Some(range) = time_range(&f, filter.since, filter.until) {
            clauses.push((Occur::Must, range));
        }
        let query = BooleanQuery::new(clauses);

        // Over-fetch a little: a replaced summary can survive in a partition whose
        // writer was closed, and duplicates are removed below.
        let fetch = limit.saturating_mul(2).saturating_add(16).min(MAX_PAGE * 2);
        let parts = self.parts();
        let mut hits: Vec<(SortKey, usize, DocAddress)> = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let top = p.top_by_time(&query, fetch, Order::Desc)?;
            hits.extend(top.into_iter().map(|(k, addr)| (k, i, addr)));
        }
        hits.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        hits.truncate(fetch);

        let mut newest: HashMap<String, (u64, usize)> = HashMap::new();
        let mut out: Vec<(SortKey, CallDoc)> = Vec::new();
        for (key, i, addr) in hits {
            let Some(p) = parts.get(i) else { continue };
            let call: CallDoc = load_json(p, &f, addr)?;
            let seq = key.1.unwrap_or(0);
            match newest.get(&call.call_key) {
                Some(&(s, _)) if s >= seq => {}
                Some(&(_, at)) => {
                    newest.insert(call.call_key.clone(), (seq, at));
                    if let Some(slot) = out.get_mut(at) {
                        *slot = (key, call);
                    }
                }
                None => {
                    newest.insert(call.call_key.clone(), (seq, out.len()));
                    out.push((key, call));
                }
            }
        }
        out.sort_by_key(|c| std::cmp::Reverse(c.0));
        out.truncate(limit);
        Ok(out.into_iter().map(|(_, c)| c).collect())
    }

    /// Records matching `search.query` (see [`RecordSearch`]) in the time range,
    /// newest first, with the number of all matches. A query that does not parse
    /// is [`StoreError::Query`], with the parser's reason.
    pub fn search(&self, search: &RecordSearch) -> Result<SearchHits> {
        let f = *self.fields();
        let text = search.query.trim();
        if text.is_empty() {
            return Err(StoreError::Query {
                reason: "empty query".into(),
            });
        }
        // Parsed for the current schema: its error is the caller's. A
        // partition written with an earlier schema tokenizes its text another
        // way, so it gets the query parsed its own way.
        let tokenizers = crate::tokenize::manager();
        let parse = |version: SchemaVersion| {
            parse_search(version, &tokenizers, &f, text).map_err(|e| StoreError::Query {
                reason: e.to_string(),
            })
        };
        let current = parse(SchemaVersion::Current)?;
        let filters = |parsed: Box<dyn Query>| -> BooleanQuery {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![
                (Occur::Must, parsed),
                (
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(f.doc_type, DOC_RECORD),
                        IndexRecordOption::Basic,
                    )),
                ),
            ];
            if let Some(range) = time_range(&f, search.since, search.until) {
                clauses.push((Occur::Must, range));
            }
            BooleanQuery::new(clauses)
        };
        let query = filters(current);
        let parts = self.parts();
        // One query per earlier schema among the partitions, not per partition.
        let mut older: Vec<(SchemaVersion, BooleanQuery)> = Vec::new();
        for p in &parts {
            let v = p.part.version;
            if !v.same_words_as_current() && !older.iter().any(|(w, _)| *w == v) {
                older.push((v, filters(parse(v)?)));
            }
        }
        let limit = search.limit.min(MAX_PAGE);
        let mut total = 0u64;
        let mut hits: Vec<(SortKey, usize, DocAddress)> = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let query = older
                .iter()
                .find(|(v, _)| *v == p.part.version)
                .map_or(&query, |(_, q)| q);
            let n = p
                .searcher
                .search(query, &Count)
                .map_err(|e| query_err(p, e))?;
            total += n as u64;
            if n > 0 && limit > 0 {
                let top = p.top_by_time(query, limit.min(n), Order::Desc)?;
                hits.extend(top.into_iter().map(|(k, addr)| (k, i, addr)));
            }
        }
        hits.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut records = Vec::with_capacity(hits.len().min(limit));
        for (_, i, addr) in hits.into_iter().take(limit) {
            let Some(p) = parts.get(i) else { continue };
            records.push(load_record(p, &f, addr)?);
        }
        Ok(SearchHits { records, total })
    }

    /// Number of committed documents (records, links and calls) in all partitions.
    pub fn num_docs(&self) -> u64 {
        self.parts().iter().map(|p| p.searcher.num_docs()).sum()
    }
}

/// `text` in tantivy's query language, words in the full text by default, all
/// of them required, for a partition of `version`. The full text has no word
/// positions, so a phrase (a quoted query that is several words) becomes all
/// of its words, in any order: `"sip:1000@10.0.0.5"` finds the records with
/// `sip`, `1000` and `10.0.0.5`.
fn parse_search(
    version: SchemaVersion,
    tokenizers: &TokenizerManager,
    f: &Fields,
    text: &str,
) -> std::result::Result<Box<dyn Query>, tantivy::query::QueryParserError> {
    let mut parser = QueryParser::new(
        crate::schema::query_schema(version),
        vec![f.text],
        tokenizers.clone(),
    );
    parser.set_conjunction_by_default();
    parser.parse_query(text).map(phrases_as_words)
}

/// `query` with every phrase replaced by the conjunction of its words.
fn phrases_as_words(query: Box<dyn Query>) -> Box<dyn Query> {
    if let Some(phrase) = query.downcast_ref::<PhraseQuery>() {
        return Box::new(BooleanQuery::new(
            phrase
                .phrase_terms()
                .into_iter()
                .map(|t| {
                    (
                        Occur::Must,
                        Box::new(TermQuery::new(t, IndexRecordOption::Basic)) as Box<dyn Query>,
                    )
                })
                .collect(),
        ));
    }
    if let Some(b) = query.downcast_ref::<BooleanQuery>() {
        return Box::new(BooleanQuery::with_minimum_required_clauses(
            b.clauses()
                .iter()
                .map(|(occur, q)| (*occur, phrases_as_words(q.box_clone())))
                .collect(),
            b.get_minimum_number_should_match(),
        ));
    }
    query
}

/// Documents with any of `values` in `field`. A union of term queries: tantivy's
/// `TermSetQuery` builds an FST per query, which costs more than the look-ups
/// themselves for the few dozen terms of a call.
fn any_term<'a>(field: Field, values: impl IntoIterator<Item = &'a String>) -> Box<dyn Query> {
    let mut terms: Vec<Box<dyn Query>> = values
        .into_iter()
        .map(|v| {
            Box::new(TermQuery::new(
                Term::from_field_text(field, v),
                IndexRecordOption::Basic,
            )) as Box<dyn Query>
        })
        .collect();
    if terms.len() == 1
        && let Some(q) = terms.pop()
    {
        return q;
    }
    Box::new(BooleanQuery::new(
        terms.into_iter().map(|q| (Occur::Should, q)).collect(),
    ))
}

/// Documents whose `ts` is within `since..=until` (either may be open); `None`
/// when both are.
fn time_range(f: &Fields, since: Option<i64>, until: Option<i64>) -> Option<Box<dyn Query>> {
    if since.is_none() && until.is_none() {
        return None;
    }
    let bound = |v: Option<i64>| {
        v.map_or(Bound::Unbounded, |v| {
            Bound::Included(Term::from_field_i64(f.ts, v))
        })
    };
    Some(Box::new(RangeQuery::new(bound(since), bound(until))))
}

fn index_err(p: &Part, e: tantivy::TantivyError) -> StoreError {
    StoreError::index(&p.part.name, e)
}

/// A search's error: what the index refuses to answer (a phrase prefix, a
/// phrase inside a boost, which need positions) is the query's fault.
fn query_err(p: &Part, e: tantivy::TantivyError) -> StoreError {
    match e {
        tantivy::TantivyError::SchemaError(reason) if reason.contains("positions") => {
            StoreError::Query {
                reason: "a phrase prefix (\"…\"*) or a boosted phrase needs word positions, \
                         which the index does not keep: search whole words"
                    .into(),
            }
        }
        tantivy::TantivyError::SchemaError(reason) => StoreError::Query { reason },
        e => index_err(p, e),
    }
}

fn load_json<T: serde::de::DeserializeOwned>(p: &Part, f: &Fields, addr: DocAddress) -> Result<T> {
    let doc: TantivyDocument = p.searcher.doc(addr).map_err(|e| index_err(p, e))?;
    let json = doc
        .get_first(f.json)
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    decode_json(p, json)
}

fn decode_json<T: serde::de::DeserializeOwned>(p: &Part, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|source| StoreError::Decode {
        partition: p.part.name.clone(),
        source,
    })
}

/// A stored record: its JSON, and the SIP message when it was stored beside it
/// (`DocBuilder::record_mut`) rather than inside it; or a SIP record stored as
/// its message and what the message cannot say (`schema::StoredSip`).
fn load_record(p: &Part, f: &Fields, addr: DocAddress) -> Result<Record> {
    let doc: TantivyDocument = p.searcher.doc(addr).map_err(|e| index_err(p, e))?;
    let mut values = doc.get_all(f.json).filter_map(|v| v.as_str());
    let first = values.next().unwrap_or_default();
    if let Some(head) = first.strip_prefix(crate::schema::SIP_FROM_RAW) {
        return crate::schema::sip_from_raw(head, values.next().unwrap_or_default()).map_err(
            |source| StoreError::Decode {
                partition: p.part.name.clone(),
                source,
            },
        );
    }
    let mut record: Record = decode_json(p, first)?;
    if let (Some(raw), RecordKind::Sip(s)) = (values.next(), &mut record.kind)
        && s.raw.is_empty()
    {
        s.raw = Arc::from(raw);
    }
    Ok(record)
}

/// The first `limit` matching documents by (`ts`, `seq`), read from the cached
/// columns (tantivy's `TopDocs::order_by` opens them again for every query).
/// Memory is bounded by `limit`, whatever the number of matches.
struct TimeOrder<'a> {
    part: &'a Part,
    limit: usize,
    order: Order,
}

struct TimeOrderSegment {
    cols: Arc<SegmentColumns>,
    segment: SegmentOrdinal,
    limit: usize,
    order: Order,
    /// The best `limit` hits so far; the top is the one that comes last.
    heap: BinaryHeap<Ranked>,
}

/// `a` before `b` in `order` by (`ts`, `seq`); ties by position, ascending
/// whatever the order.
fn time_order<P: Ord>(order: Order, a: &(SortKey, P), b: &(SortKey, P)) -> Ordering {
    let by_time = match order {
        Order::Asc => a.0.cmp(&b.0),
        Order::Desc => b.0.cmp(&a.0),
    };
    by_time.then_with(|| a.1.cmp(&b.1))
}

/// A hit in a segment's heap, ordered by [`time_order`].
struct Ranked {
    order: Order,
    hit: (SortKey, DocId),
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        time_order(self.order, &self.hit, &other.hit)
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

impl Collector for TimeOrder<'_> {
    type Fruit = Vec<(SortKey, DocAddress)>;
    type Child = TimeOrderSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        seg: &SegmentReader,
    ) -> tantivy::Result<TimeOrderSegment> {
        Ok(TimeOrderSegment {
            cols: self.part.part.columns.get(&self.part.searcher, seg)?,
            segment,
            limit: self.limit,
            order: self.order,
            heap: BinaryHeap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        fruits: Vec<Vec<(SortKey, DocAddress)>>,
    ) -> tantivy::Result<Vec<(SortKey, DocAddress)>> {
        let mut all: Vec<(SortKey, DocAddress)> = fruits.into_iter().flatten().collect();
        all.sort_by(|a, b| time_order(self.order, a, b));
        all.truncate(self.limit);
        Ok(all)
    }
}

impl SegmentCollector for TimeOrderSegment {
    type Fruit = Vec<(SortKey, DocAddress)>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let key = (
            self.cols.ts.as_ref().and_then(|c| c.first(doc)),
            self.cols.seq.as_ref().and_then(|c| c.first(doc)),
        );
        let hit = Ranked {
            order: self.order,
            hit: (key, doc),
        };
        if self.heap.len() < self.limit {
            self.heap.push(hit);
        } else if let Some(mut last) = self.heap.peek_mut()
            && hit < *last
        {
            *last = hit;
        }
    }

    fn harvest(self) -> Vec<(SortKey, DocAddress)> {
        let segment = self.segment;
        self.heap
            .into_iter()
            .map(
                |Ranked {
                     hit: (key, doc), ..
                 }| (key, DocAddress::new(segment, doc)),
            )
            .collect()
    }
}

/// Collects, from the documents matching an `edge` look-up, every typed identifier
/// they carry and, for link documents, the edge itself. Reads fast fields only
/// (cached per segment) and resolves each distinct term once per segment.
struct EdgeCollector<'a> {
    part: &'a Part,
}

#[derive(Default)]
struct EdgeFruit {
    typed: Vec<String>,
    links: Vec<((String, String, String), i64)>,
}

struct EdgeSegment {
    cols: Arc<SegmentColumns>,
    ords: HashSet<u64>,
    links: HashMap<(u64, u64, u64), i64>,
}

impl Collector for EdgeCollector<'_> {
    type Fruit = EdgeFruit;
    type Child = EdgeSegment;

    fn for_segment(
        &self,
        _ord: SegmentOrdinal,
        seg: &SegmentReader,
    ) -> tantivy::Result<EdgeSegment> {
        Ok(EdgeSegment {
            cols: self.part.part.columns.get(&self.part.searcher, seg)?,
            ords: HashSet::new(),
            links: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<EdgeFruit>) -> tantivy::Result<EdgeFruit> {
        let mut out = EdgeFruit::default();
        for f in fruits {
            out.typed.extend(f.typed);
            out.links.extend(f.links);
        }
        Ok(out)
    }
}

impl SegmentCollector for EdgeSegment {
    type Fruit = EdgeFruit;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let cols = &self.cols;
        if let Some(idt) = &cols.idt {
            self.ords.extend(idt.term_ords(doc));
        }
        let (Some(la), Some(lb), Some(rule)) = (&cols.la, &cols.lb, &cols.rule) else {
            return;
        };
        let (Some(a), Some(b), Some(r)) = (
            la.term_ords(doc).next(),
            lb.term_ords(doc).next(),
            rule.term_ords(doc).next(),
        ) else {
            return;
        };
        let ts = cols.ts.as_ref().and_then(|c| c.first(doc)).unwrap_or(0);
        self.links
            .entry((a, b, r))
            .and_modify(|t| *t = (*t).min(ts))
            .or_insert(ts);
    }

    fn harvest(self) -> EdgeFruit {
        let resolve = |col: &Option<StrColumn>, ord: u64| -> Option<String> {
            let mut s = String::new();
            match col.as_ref()?.ord_to_str(ord, &mut s) {
                Ok(true) => Some(s),
                _ => None,
            }
        };
        let cols = &self.cols;
        let typed = self
            .ords
            .iter()
            .filter_map(|&o| resolve(&cols.idt, o))
            .collect();
        let links = self
            .links
            .iter()
            .filter_map(|(&(a, b, r), &ts)| {
                Some((
                    (
                        resolve(&cols.la, a)?,
                        resolve(&cols.lb, b)?,
                        resolve(&cols.rule, r)?,
                    ),
                    ts,
                ))
            })
            .collect();
        EdgeFruit { typed, links }
    }
}

// The agent shares one reader between HTTP handlers.
const _: () = {
    fn assert_shareable<T: Send + Sync + Clone>() {}
    let _ = assert_shareable::<StoreReader>;
};
