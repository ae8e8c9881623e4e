//! `callweave search`: find records (SIP messages, FreeSWITCH events, log lines)
//! by their words and fields, newest first, when there is no Call-ID to start
//! from: a number, an error text, a User-Agent, a status.

use anyhow::bail;
use jiff::Timestamp;

use crate::calls::time_bounds;
use crate::client::{AgentArgs, AgentClient, SearchQuery};
use crate::render;

/// Largest `--limit` the agent accepts.
pub const MAX_RECORDS: u64 = 1000;

/// `callweave search` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Query: words of the records, case-insensitive, all of them unless OR says
otherwise; -word excludes; fields: id: (Call-ID, UUID, correlation id, exact),
kind: (sip, esl, log), method: (INVITE, exact case), status: (SIP status),
from_user:, to_user:, node:. The words are a SIP message's start line, header
values and SDP summary, an event's header values, a log line's text (when the
agent indexes full text, store.full_text). Words run between separators
(spaces, < > ; , \" = : @ / - and the like): an IPv4 address, a number,
mod_sofia, NORMAL_CLEARING are one word each and match whole; a leading + is
ignored. Quote what would read as a field (\"sip:1000@10.0.0.5\", an IPv6
address): the quoted words must all be in a record, in any order. Quote a value
with colons in an exact field too (id:\"a1b2@10.0.0.1\").

Times (--since, --until): as for `callweave calls` (RFC 3339, 2026-11-26 03:24,
90s, 15m, 1h30m, 2d, now, µs since the epoch).

Examples:
  callweave search 'status:503 kind:sip' --since 1h
  callweave search 'to_user:1000 method:INVITE'
  callweave search 'kind:log (timeout OR refused)' --since 15m
  callweave search '10.0.0.5 \"sip:+4930123456\"' --since 2h
  callweave search 'polycom' --limit 20 --format json")]
pub struct SearchArgs {
    #[command(flatten)]
    pub agent: AgentArgs,
    /// What to look for (see below).
    #[arg(value_name = "QUERY")]
    pub query: String,
    /// Records at or after this time.
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Records at or before this time.
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// Most records listed (the newest).
    #[arg(long, default_value_t = 50, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=MAX_RECORDS))]
    pub limit: u64,
    #[command(flatten)]
    pub output: render::ListOutput,
}

/// Runs `callweave search`.
pub fn run(args: SearchArgs) -> anyhow::Result<()> {
    if args.query.trim().is_empty() {
        bail!("the query is empty");
    }
    let (since, until) = time_bounds(
        args.since.as_deref(),
        args.until.as_deref(),
        Timestamp::now(),
    )?;
    let query = SearchQuery {
        q: args.query,
        since: since.map(|t| t.to_string()),
        until: until.map(|t| t.to_string()),
        limit: usize::try_from(args.limit).ok(),
    };
    let client = AgentClient::new(&args.agent)?;
    let resp = client.search(&query)?;
    args.output.print(&resp, render::render_search)
}
