//! `callweave trace ID --loki URL`: the same trace, rebuilt from Loki alone.
//!
//! Loki holds every record every agent shipped, with the identifiers as
//! structured metadata; the query client follows them (`call_id`, `uuid`,
//! `other_leg_uuid`, `call`, `correlation`) until no new one appears, across all
//! nodes. SIP lines are re-parsed with the agent's own converter so the records
//! are exactly what an agent would have built, then the call is rebuilt like the
//! agent's trace endpoint does.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use callweave_agent::api::{Page, RecordView, TraceResponse, trace_from_records};
use callweave_agent::config::{default_correlation_headers, parse_duration};
use callweave_agent::sip_record::SipConverter;
use callweave_core::record::{Record, RecordKind};
use callweave_hep::HepBuilder;
use callweave_loki::{LokiEntry, QueryClient, QueryConfig};

/// Queries Loki for `id` over the last `since` and builds the trace.
pub fn fetch(
    url: &str,
    tenant: Option<&str>,
    since: &str,
    id: &str,
) -> anyhow::Result<TraceResponse> {
    let window = parse_duration("--since", since)?;
    let end_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_nanos();
    let end_ns = i64::try_from(end_ns).unwrap_or(i64::MAX);
    let start_ns = end_ns.saturating_sub(i64::try_from(window.as_nanos()).unwrap_or(i64::MAX));
    let mut cfg = QueryConfig::new(url);
    cfg.tenant = tenant.map(str::to_owned);
    let client = QueryClient::new(cfg).with_context(|| format!("invalid Loki URL {url}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let found = runtime
        .block_on(client.trace(id, start_ns, end_ns.saturating_add(1)))
        .with_context(|| format!("cannot query Loki at {url}"))?;
    if found.entries.is_empty() {
        bail!("no call found for {id} in Loki at {url} (last {since})");
    }
    let converter = SipConverter::new(&default_correlation_headers());
    let mut records: Vec<Record> = found
        .entries
        .iter()
        .filter_map(|e| record_of(e, &converter))
        .collect();
    records.sort_by_key(|r| r.ts_micros);
    let page_records: Vec<RecordView> = records.iter().map(RecordView::from).collect();
    let total = page_records.len();
    let mut trace = trace_from_records(
        id,
        &records,
        Vec::new(),
        None,
        &[],
        page_records,
        Page {
            offset: 0,
            limit: total,
            total,
        },
    );
    if found.truncated {
        eprintln!("note: the Loki search hit its bounds; the trace may be incomplete");
        trace.page.total = trace.page.total.max(total);
    }
    Ok(trace)
}

/// A record from a Loki entry; SIP lines go through the SIP parser again so
/// From/To, tags, correlation headers and SDP are all there.
fn record_of(entry: &LokiEntry, converter: &SipConverter) -> Option<Record> {
    let mut record = entry.to_record()?;
    if let RecordKind::Sip(sip) = &record.kind {
        let src: SocketAddr = sip.src;
        let packet = HepBuilder::sip(entry.line.clone().into_bytes())
            .src(src)
            .dst(sip.dst)
            .timestamp_micros(record.ts_micros)
            .build();
        if let Ok(full) = converter.convert(&packet, src) {
            let mut full = full;
            full.transport = sip.transport;
            record.kind = RecordKind::Sip(full);
        }
    }
    Some(record)
}
