//! `callweave trace ID`: one call, every leg, from the agent's index.
//!
//! Pages through `GET /api/v1/trace/{id}` until every record is in (or the cap is
//! reached), then prints the JSON or the text view of [`crate::render`].

use anyhow::bail;
use callweave_agent::api::{Page, TraceResponse};

use crate::client::{AgentArgs, AgentClient};
use crate::render::{self, RenderOptions};

/// Records shown unless `--limit` or `--all` says otherwise: enough for any
/// normal call, and a bound on a Call-ID flooded with retransmits or OPTIONS.
pub const DEFAULT_RECORD_CAP: usize = 10_000;
/// Records asked for per request (the agent's default page).
pub const DEFAULT_PAGE_SIZE: usize = 1000;
/// The agent refuses larger pages.
pub const MAX_PAGE_SIZE: usize = 10_000;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tables for people (and, for `trace`, the ladder diagram).
    Text,
    /// The API's JSON, pretty-printed (`trace`: every fetched page merged into one).
    Json,
}

/// `callweave trace` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  callweave trace '1-4274@127.0.0.1'
  callweave trace f059e147-6396-47f7-a85d-5c55f0c977bc --explain --logs
  callweave trace '1-4274@127.0.0.1' --format json | jq '.legs[].hangup_cause'

In the ladder, columns are SIP endpoints (the A-leg caller left, the switch in the
middle, B-leg callees right); `~` lines are FreeSWITCH events, `#` lines log lines
(--logs), `=` lines SIP messages whose endpoints cannot be drawn. Times are offsets
from the first record of the call. Colour: only on a terminal; NO_COLOR or
--no-color turn it off. Terminal width: COLUMNS, else 120.")]
pub struct TraceArgs {
    /// A SIP Call-ID, FreeSWITCH channel UUID or correlation id of any leg of the call.
    pub id: String,
    #[command(flatten)]
    pub agent: AgentArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// List every link between the call's identifiers and the rule that made it.
    #[arg(long)]
    pub explain: bool,
    /// Interleave FreeSWITCH log lines into the ladder.
    #[arg(long)]
    pub logs: bool,
    /// Never colour the output.
    #[arg(long)]
    pub no_color: bool,
    /// Show full UUIDs and Call-IDs, even past the terminal width.
    #[arg(long)]
    pub wide: bool,
    /// Fetch at most N records [default: 10000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// Fetch every record of the call, however many.
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,
    /// Rebuild the trace from Loki instead of an agent: every node that ships to
    /// this Loki, identifiers expanded until no new one appears.
    #[arg(long, value_name = "URL")]
    pub loki: Option<String>,
    /// Loki tenant (`X-Scope-OrgID`), with --loki.
    #[arg(long, requires = "loki")]
    pub tenant: Option<String>,
    /// How far back to search Loki (e.g. 1h, 24h, 7d), with --loki.
    #[arg(long, default_value = "24h", requires = "loki")]
    pub since: String,
    /// Records per request.
    #[arg(long, hide = true, default_value_t = DEFAULT_PAGE_SIZE as u64,
          value_parser = clap::value_parser!(u64).range(1..=MAX_PAGE_SIZE as u64))]
    pub page_size: u64,
}

/// Runs `callweave trace`.
pub fn run(args: TraceArgs) -> anyhow::Result<()> {
    let id = args.id.trim();
    if id.is_empty() {
        bail!("the call id is empty");
    }
    if let Some(url) = &args.loki {
        let trace = crate::loki_trace::fetch(url, args.tenant.as_deref(), &args.since, id)?;
        return print_trace(&trace, &args);
    }
    let client = AgentClient::new(&args.agent)?;
    let cap = if args.all {
        None
    } else {
        Some(args.limit.map_or(DEFAULT_RECORD_CAP, |l| {
            usize::try_from(l).unwrap_or(usize::MAX)
        }))
    };
    let page_size = usize::try_from(args.page_size).unwrap_or(DEFAULT_PAGE_SIZE);
    let Some(trace) = fetch_all(
        |offset, limit| client.trace_page(id, offset, limit),
        cap,
        page_size,
    )?
    else {
        bail!("no call found for {id}");
    };
    print_trace(&trace, &args)
}

fn print_trace(trace: &TraceResponse, args: &TraceArgs) -> anyhow::Result<()> {
    let opts = RenderOptions {
        explain: args.explain,
        logs: args.logs,
        ..RenderOptions::for_stdout(args.no_color, args.wide)
    };
    render::print(args.format == Format::Json, trace, |t| {
        render::render_trace(t, &opts)
    })
}

/// Fetches pages from offset 0 until the call's `total` records (or `cap`) are
/// in. Advances by what each page returned, so a server that serves smaller pages
/// than asked is still read completely; stops on an empty page. A single page is
/// returned untouched; merged pages report `offset 0`, `limit` = records fetched
/// and the latest `total`.
pub fn fetch_all(
    mut fetch: impl FnMut(usize, usize) -> anyhow::Result<Option<TraceResponse>>,
    cap: Option<usize>,
    page_size: usize,
) -> anyhow::Result<Option<TraceResponse>> {
    let page_size = page_size.clamp(1, MAX_PAGE_SIZE);
    let want = |total: usize| cap.map_or(total, |c| c.min(total));
    let first_limit = cap.map_or(page_size, |c| c.min(page_size)).max(1);
    let Some(mut merged) = fetch(0, first_limit)? else {
        return Ok(None);
    };
    if let Some(c) = cap {
        merged.records.truncate(c);
    }
    let mut total = merged.page.total;
    let mut pages = 1usize;
    while merged.records.len() < want(total) {
        let have = merged.records.len();
        let ask = (want(total) - have).min(page_size);
        // The call can vanish between pages (retention); keep what we have.
        let Some(next) = fetch(have, ask)? else {
            break;
        };
        if next.records.is_empty() {
            break;
        }
        total = next.page.total;
        let room = want(total).max(have) - have;
        merged.records.extend(next.records.into_iter().take(room));
        pages += 1;
    }
    if pages > 1 {
        merged.page = Page {
            offset: 0,
            limit: merged.records.len(),
            total,
        };
    }
    Ok(Some(merged))
}

#[cfg(test)]
mod tests {
    use super::*;
    use callweave_agent::api::RecordView;

    fn rec(i: usize) -> RecordView {
        RecordView {
            ts: String::new(),
            ts_micros: i64::try_from(i).unwrap(),
            kind: "esl".into(),
            node: "n".into(),
            call_id: None,
            uuid: None,
            summary: format!("E{i}"),
            src: None,
            dst: None,
            method: None,
            status: None,
            text: String::new(),
        }
    }

    /// A server with `total` records that serves at most `server_max` per page.
    fn server(
        total: usize,
        server_max: usize,
    ) -> impl FnMut(usize, usize) -> anyhow::Result<Option<TraceResponse>> {
        move |offset, limit| {
            let n = limit.min(server_max);
            Ok(Some(TraceResponse {
                call: "c".into(),
                outcome: "answered".into(),
                start: None,
                legs: vec![],
                links: vec![],
                records: (offset..total).take(n).map(rec).collect(),
                page: Page {
                    offset,
                    limit,
                    total,
                },
            }))
        }
    }

    #[test]
    fn fetches_every_page() {
        let mut calls = Vec::new();
        let mut s = server(25, 1000);
        let t = fetch_all(
            |o, l| {
                calls.push((o, l));
                s(o, l)
            },
            None,
            10,
        )
        .unwrap()
        .unwrap();
        assert_eq!(t.records.len(), 25);
        assert_eq!(calls, [(0, 10), (10, 10), (20, 5)]);
        assert!(
            t.records
                .iter()
                .enumerate()
                .all(|(i, r)| r.summary == format!("E{i}"))
        );
        assert_eq!(
            t.page,
            Page {
                offset: 0,
                limit: 25,
                total: 25
            }
        );
    }

    #[test]
    fn a_server_with_smaller_pages_is_read_completely() {
        let t = fetch_all(server(25, 4), None, 1000).unwrap().unwrap();
        assert_eq!(t.records.len(), 25);
    }

    #[test]
    fn the_cap_is_respected() {
        let t = fetch_all(server(25, 1000), Some(12), 5).unwrap().unwrap();
        assert_eq!(t.records.len(), 12);
        assert_eq!(t.page.total, 25);
        let t = fetch_all(server(25, 1000), Some(3), 1000).unwrap().unwrap();
        assert_eq!((t.records.len(), t.page.limit), (3, 3));
    }

    #[test]
    fn a_single_page_is_untouched_and_404_is_none() {
        let t = fetch_all(server(7, 1000), None, 1000).unwrap().unwrap();
        assert_eq!(
            t.page,
            Page {
                offset: 0,
                limit: 1000,
                total: 7
            }
        );
        assert!(fetch_all(|_, _| Ok(None), None, 10).unwrap().is_none());
    }

    #[test]
    fn an_empty_page_ends_the_loop() {
        // Claims 100 records but has 5.
        let mut s = server(5, 1000);
        let t = fetch_all(
            |o, l| {
                let mut r = s(o, l)?;
                if let Some(r) = r.as_mut() {
                    r.page.total = 100;
                }
                Ok(r)
            },
            None,
            2,
        )
        .unwrap()
        .unwrap();
        assert_eq!(t.records.len(), 5);
    }
}
