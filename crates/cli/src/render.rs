//! Text rendering of traces and call lists: pure functions from the API's JSON
//! types to a `String`, so every layout decision is unit-testable without a
//! terminal or an agent.
//!
//! Everything that comes from the agent is data captured off the network: a
//! Call-ID or a log line may carry control characters or ANSI escapes, so every
//! field is [`clean`]ed before it reaches the terminal.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;

use anstyle::{AnsiColor, Style};
use callweave_agent::api::{
    CallView, CallsResponse, LegView, LinkView, RecordView, SearchResponse, TraceResponse,
};

/// Width assumed when `COLUMNS` is not set (or stdout is not a terminal).
pub const DEFAULT_WIDTH: usize = 120;
/// Narrowest layout we try to fit; below it lines simply overflow.
const MIN_WIDTH: usize = 60;
/// Width of the time-offset margin of the ladder (`+1234.567s` plus a space).
const MARGIN: usize = 11;
/// Room kept right of the ladder for the leg tag (` [A]`).
const TAG: usize = 5;

/// How to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Terminal width in columns.
    pub width: usize,
    /// Emit ANSI colours.
    pub color: bool,
    /// Print the links and the rule behind each.
    pub explain: bool,
    /// Interleave FreeSWITCH log lines into the ladder.
    pub logs: bool,
    /// Full identifiers (UUIDs, Call-IDs) instead of shortened ones.
    pub wide: bool,
}

/// `--format`, `--no-color` and `--wide` of the listing commands (`calls`,
/// `search`).
#[derive(Debug, clap::Args)]
pub struct ListOutput {
    /// Output format (json: the API's response as it came).
    #[arg(long, value_enum, default_value_t = crate::trace::Format::Text)]
    pub format: crate::trace::Format,
    /// Never colour the output.
    #[arg(long)]
    pub no_color: bool,
    /// Do not shorten columns to the terminal width.
    #[arg(long)]
    pub wide: bool,
}

impl ListOutput {
    /// Prints `resp` as JSON, or as the table `table` renders.
    pub fn print<T: serde::Serialize>(
        &self,
        resp: &T,
        table: impl FnOnce(&T, &RenderOptions) -> String,
    ) -> anyhow::Result<()> {
        let opts = RenderOptions::for_stdout(self.no_color, self.wide);
        print(self.format == crate::trace::Format::Json, resp, |r| {
            table(r, &opts)
        })
    }
}

impl RenderOptions {
    /// For this process's stdout: width from `COLUMNS`, colour only on a
    /// terminal unless `no_color` or `NO_COLOR` say otherwise.
    pub fn for_stdout(no_color: bool, wide: bool) -> Self {
        Self {
            width: terminal_width(std::env::var("COLUMNS").ok().as_deref()),
            color: use_color(
                no_color,
                std::env::var("NO_COLOR").ok().as_deref(),
                std::io::IsTerminal::is_terminal(&std::io::stdout()),
            ),
            wide,
            ..Self::default()
        }
    }
}

/// Writes `resp` to stdout: pretty JSON, or the text `text` renders from it.
pub fn print<T: serde::Serialize>(
    json: bool,
    resp: &T,
    text: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    let out = if json {
        let mut s = serde_json::to_string_pretty(resp)?;
        s.push('\n');
        s
    } else {
        text(resp)
    };
    write_stdout(&out)
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            width: DEFAULT_WIDTH,
            color: false,
            explain: false,
            logs: false,
            wide: false,
        }
    }
}

/// Terminal width: `COLUMNS` when it is a sane number, else [`DEFAULT_WIDTH`].
pub fn terminal_width(columns: Option<&str>) -> usize {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| (20..=1000).contains(w))
        .unwrap_or(DEFAULT_WIDTH)
}

/// Colour only on a terminal, and never when `NO_COLOR` is set (any non-empty
/// value, per no-color.org) or `--no-color` is given.
pub fn use_color(no_color_flag: bool, no_color_env: Option<&str>, is_terminal: bool) -> bool {
    !no_color_flag && no_color_env.is_none_or(str::is_empty) && is_terminal
}

/// Writes to stdout; a closed pipe (`callweave trace X | head`) is success.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to stdout")),
    }
}

// ---------------------------------------------------------------------------
// text helpers

/// Replaces control characters (ESC, CR, BEL, …) so captured data cannot move the
/// cursor or recolour the terminal; tabs become spaces.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' => ' ',
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect()
}

fn width_of(s: &str) -> usize {
    s.chars().count()
}

/// Cuts `s` to `max` characters, marking the cut with `…` at the end.
pub fn truncate_end(s: &str, max: usize) -> String {
    if width_of(s) <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Cuts `s` to `max` characters keeping its head and tail: Call-IDs differ in
/// their head (`1-4274@…`, `bbd9578d-…`) and the tail says which host made them.
pub fn truncate_mid(s: &str, max: usize) -> String {
    let n = width_of(s);
    if n <= max {
        return s.to_owned();
    }
    if max < 6 {
        return truncate_end(s, max);
    }
    let keep = max - 1;
    let head = keep * 2 / 3;
    let tail = keep - head;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out
}

fn pad_right(s: &str, w: usize) -> String {
    let n = width_of(s);
    if n >= w {
        s.to_owned()
    } else {
        format!("{s}{}", " ".repeat(w - n))
    }
}

fn pad_left(s: &str, w: usize) -> String {
    let n = width_of(s);
    if n >= w {
        s.to_owned()
    } else {
        format!("{}{s}", " ".repeat(w - n))
    }
}

/// The first 8 characters of a UUID (enough to tell channels apart by eye, and
/// what FreeSWITCH's own `show channels` users are used to), unless `wide`.
pub fn short_uuid(uuid: &str, wide: bool) -> String {
    if wide {
        clean(uuid)
    } else {
        clean(&uuid.chars().take(8).collect::<String>())
    }
}

/// `+0.123s` relative to the call start.
pub fn fmt_offset(micros: i64, start: i64) -> String {
    let d = micros.saturating_sub(start);
    let sign = if d < 0 { '-' } else { '+' };
    let abs = d.unsigned_abs();
    format!("{sign}{}.{:03}s", abs / 1_000_000, (abs % 1_000_000) / 1000)
}

/// `34ms` below a second, `2.04s` above.
pub fn fmt_ms(ms: Option<f64>) -> String {
    match ms {
        Some(ms) if ms.is_finite() && ms >= 0.0 => {
            if ms < 1000.0 {
                format!("{ms:.0}ms")
            } else {
                format!("{:.2}s", ms / 1000.0)
            }
        }
        _ => "-".to_owned(),
    }
}

fn parse_rfc3339_micros(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_microsecond())
}

/// `2026-11-26 03:24:30` (UTC) from µs since the epoch.
pub fn fmt_utc_seconds(micros: i64) -> String {
    match jiff::Timestamp::from_microsecond(micros) {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => micros.to_string(),
    }
}

// ---------------------------------------------------------------------------
// colour

#[derive(Debug, Clone, Copy)]
struct Paint {
    on: bool,
}

impl Paint {
    fn paint(self, style: Style, s: &str) -> String {
        if self.on && !s.is_empty() {
            format!("{}{s}{}", style.render(), style.render_reset())
        } else {
            s.to_owned()
        }
    }
}

fn fg(c: AnsiColor) -> Style {
    Style::new().fg_color(Some(c.into()))
}

fn outcome_style(outcome: &str) -> Style {
    match outcome {
        "answered" => fg(AnsiColor::Green).bold(),
        "busy" | "no-answer" | "cancelled" => fg(AnsiColor::Yellow).bold(),
        "failed" => fg(AnsiColor::Red).bold(),
        _ => Style::new().bold(),
    }
}

fn role_style(role: &str) -> Style {
    match role {
        "A" => fg(AnsiColor::Green),
        "B" => fg(AnsiColor::Cyan),
        _ => Style::new(),
    }
}

fn sip_style(status: Option<u16>) -> Style {
    match status {
        None => fg(AnsiColor::Blue).bold(),
        Some(100..=199) => fg(AnsiColor::Yellow),
        Some(200..=299) => fg(AnsiColor::Green),
        Some(300..=399) => fg(AnsiColor::Cyan),
        Some(_) => fg(AnsiColor::Red),
    }
}

fn log_style(summary: &str) -> Style {
    if ["[ERR]", "[CRIT]", "[ALERT]"]
        .iter()
        .any(|l| summary.starts_with(l))
    {
        fg(AnsiColor::Red)
    } else if summary.starts_with("[WARNING]") {
        fg(AnsiColor::Yellow)
    } else {
        Style::new().dimmed()
    }
}

// ---------------------------------------------------------------------------
// tables

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trunc {
    End,
    Mid,
}

#[derive(Debug, Clone, Copy)]
struct Col {
    title: &'static str,
    right: bool,
    /// Shrinkable down to this width, with this kind of cut; columns with the
    /// lower rank give up their width first.
    shrink: Option<(usize, Trunc, u8)>,
}

const fn col(title: &'static str) -> Col {
    Col {
        title,
        right: false,
        shrink: None,
    }
}

const fn num(title: &'static str) -> Col {
    Col {
        title,
        right: true,
        shrink: None,
    }
}

const fn squeeze(title: &'static str, min: usize, how: Trunc, rank: u8) -> Col {
    Col {
        title,
        right: false,
        shrink: Some((min, how, rank)),
    }
}

#[derive(Debug, Clone)]
struct Cell {
    text: String,
    style: Style,
}

fn cell(text: impl Into<String>) -> Cell {
    Cell {
        text: clean(&text.into()),
        style: Style::new(),
    }
}

fn styled(text: impl Into<String>, style: Style) -> Cell {
    Cell {
        text: clean(&text.into()),
        style,
    }
}

/// Lays out a table in `width` columns (unless `fit` is false): columns marked
/// shrinkable give up width, left to right, down to their minimum.
fn render_table(
    out: &mut String,
    cols: &[Col],
    rows: &[Vec<Cell>],
    width: usize,
    fit: bool,
    paint: Paint,
) {
    const GAP: usize = 2;
    let mut widths: Vec<usize> = cols.iter().map(|c| width_of(c.title)).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(width_of(&c.text));
        }
    }
    if fit {
        let total: usize = widths.iter().sum::<usize>() + GAP * cols.len().saturating_sub(1);
        let mut over = total.saturating_sub(width.max(MIN_WIDTH));
        let mut order: Vec<(u8, usize, usize)> = cols
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.shrink.map(|(min, _, rank)| (rank, i, min)))
            .collect();
        order.sort_unstable();
        for (_, i, min) in order {
            if over == 0 {
                break;
            }
            if let (Some(w), Some(c)) = (widths.get_mut(i), cols.get(i)) {
                let give = over.min(w.saturating_sub(min.max(width_of(c.title))));
                *w -= give;
                over -= give;
            }
        }
    }
    let line = |cells: Vec<(String, Style)>| -> String {
        let last = cells.len().saturating_sub(1);
        let mut s = String::new();
        for (i, ((text, style), (c, w))) in
            cells.into_iter().zip(cols.iter().zip(&widths)).enumerate()
        {
            let text = match c.shrink {
                Some((_, Trunc::Mid, _)) => truncate_mid(&text, *w),
                _ => truncate_end(&text, *w),
            };
            let padded = if c.right {
                pad_left(&text, *w)
            } else if i == last {
                text
            } else {
                pad_right(&text, *w)
            };
            s.push_str(&paint.paint(style, &padded));
            if i != last {
                s.push_str(&" ".repeat(GAP));
            }
        }
        s.trim_end().to_owned()
    };
    let header = cols
        .iter()
        .map(|c| (c.title.to_owned(), Style::new().bold()))
        .collect();
    out.push_str(&line(header));
    out.push('\n');
    for row in rows {
        out.push_str(&line(
            row.iter().map(|c| (c.text.clone(), c.style)).collect(),
        ));
        out.push('\n');
    }
}

// ---------------------------------------------------------------------------
// trace

/// The start of the call in µs: the response's `start`, else the earliest record
/// or leg start.
pub fn call_start_micros(t: &TraceResponse) -> i64 {
    t.start
        .as_deref()
        .and_then(parse_rfc3339_micros)
        .or_else(|| t.records.iter().map(|r| r.ts_micros).min())
        .or_else(|| t.legs.iter().map(|l| l.start_micros).min())
        .unwrap_or(0)
}

/// Which leg (`A`/`B`) a Call-ID or UUID belongs to.
#[derive(Debug, Default)]
struct LegIndex<'a> {
    by_call_id: HashMap<&'a str, &'a str>,
    by_uuid: HashMap<&'a str, &'a str>,
}

impl<'a> LegIndex<'a> {
    fn new(legs: &'a [LegView]) -> Self {
        let mut idx = LegIndex::default();
        for leg in legs {
            let role = leg.role.as_deref().unwrap_or("?");
            if let Some(c) = &leg.call_id {
                idx.by_call_id.entry(c.as_str()).or_insert(role);
            }
            if let Some(u) = &leg.uuid {
                idx.by_uuid.entry(u.as_str()).or_insert(role);
            }
        }
        idx
    }

    fn role_of(&self, r: &RecordView) -> Option<&'a str> {
        r.call_id
            .as_deref()
            .and_then(|c| self.by_call_id.get(c))
            .or_else(|| r.uuid.as_deref().and_then(|u| self.by_uuid.get(u)))
            .copied()
    }
}

fn is_invite_request(r: &RecordView) -> bool {
    r.kind == "sip" && r.status.is_none() && r.method.as_deref() == Some("INVITE")
}

/// The ladder's columns: the A-leg callers on the left, the switch in the middle,
/// the B-leg callees on the right (from each leg's first INVITE), then any other
/// endpoint in order of first appearance.
pub fn endpoint_order(t: &TraceResponse) -> Vec<String> {
    let mut left = Vec::new();
    let mut middle = Vec::new();
    let mut right = Vec::new();
    for leg in &t.legs {
        let Some(call_id) = leg.call_id.as_deref() else {
            continue;
        };
        let Some(invite) = t
            .records
            .iter()
            .find(|r| is_invite_request(r) && r.call_id.as_deref() == Some(call_id))
        else {
            continue;
        };
        let (Some(src), Some(dst)) = (invite.src.as_deref(), invite.dst.as_deref()) else {
            continue;
        };
        match leg.role.as_deref() {
            Some("A") => {
                left.push(src);
                middle.push(dst);
            }
            Some("B") => {
                middle.push(src);
                right.push(dst);
            }
            _ => {}
        }
    }
    let appearance = t
        .records
        .iter()
        .filter(|r| r.kind == "sip")
        .flat_map(|r| [r.src.as_deref(), r.dst.as_deref()])
        .flatten();
    let mut order: Vec<String> = Vec::new();
    for ep in left
        .into_iter()
        .chain(middle)
        .chain(right)
        .chain(appearance)
    {
        if !order.iter().any(|o| o == ep) {
            order.push(ep.to_owned());
        }
    }
    order
}

#[derive(Debug, Clone, Copy)]
struct Layout {
    columns: usize,
    spacing: usize,
}

impl Layout {
    fn new(columns: usize, width: usize) -> Self {
        let avail = width.max(MIN_WIDTH).saturating_sub(MARGIN + TAG);
        let spacing = (avail / columns.max(1)).clamp(16, 44);
        Self { columns, spacing }
    }

    fn centre(&self, i: usize) -> usize {
        MARGIN + i * self.spacing + self.spacing / 2
    }

    fn diagram_width(&self) -> usize {
        MARGIN + self.columns * self.spacing
    }

    /// A blank diagram line: the margin and a lifeline bar under every endpoint.
    fn blank(&self) -> Vec<char> {
        let mut buf = vec![' '; self.diagram_width()];
        for i in 0..self.columns {
            if let Some(c) = buf.get_mut(self.centre(i)) {
                *c = '|';
            }
        }
        buf
    }
}

fn put(buf: &mut [char], at: usize, s: &str) {
    for (i, ch) in s.chars().enumerate() {
        if let Some(c) = buf.get_mut(at + i) {
            *c = ch;
        }
    }
}

/// One SIP message as an arrow from its sender's lifeline to its receiver's, the
/// label on the shaft. Returns (before, arrow, after) so the arrow alone is
/// coloured.
fn arrow(layout: &Layout, from: usize, to: usize, label: &str) -> (String, String, String) {
    let mut buf = layout.blank();
    let (a, b) = (layout.centre(from.min(to)), layout.centre(from.max(to)));
    let shaft = b.saturating_sub(a + 1);
    let mut arrow: Vec<char> = vec!['-'; shaft];
    if from < to {
        if let Some(c) = arrow.last_mut() {
            *c = '>';
        }
    } else if let Some(c) = arrow.first_mut() {
        *c = '<';
    }
    // The label sits on the shaft, one dash and a space clear of the head.
    let room = shaft.saturating_sub(6);
    let label = truncate_end(label, room);
    let len = width_of(&label);
    if len > 0 {
        let at = (shaft - len) / 2;
        if let Some(c) = arrow.get_mut(at.saturating_sub(1)) {
            *c = ' ';
        }
        for (i, ch) in label.chars().enumerate() {
            if let Some(c) = arrow.get_mut(at + i) {
                *c = ch;
            }
        }
        if let Some(c) = arrow.get_mut(at + len) {
            *c = ' ';
        }
    }
    for (i, ch) in arrow.iter().enumerate() {
        if let Some(c) = buf.get_mut(a + 1 + i) {
            *c = *ch;
        }
    }
    let before: String = buf.iter().take(a + 1).collect();
    let mid: String = buf.iter().skip(a + 1).take(shaft).collect();
    let after: String = buf.iter().skip(b).collect();
    (before, mid, after)
}

/// The label of a SIP arrow: the method of a request, `status reason (method)`
/// of a response (the server's summary, so a 200 to BYE reads as such).
fn sip_label(r: &RecordView) -> String {
    match r.status {
        None => r
            .method
            .clone()
            .or_else(|| r.summary.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| "SIP".to_owned()),
        Some(_) => r.summary.trim().to_owned(),
    }
}

/// A full-width line of the ladder (an event, a log line, a SIP message that
/// cannot be drawn as an arrow).
fn note(time: &str, marker: char, text: &str, width: usize) -> String {
    let room = width.max(MIN_WIDTH).saturating_sub(MARGIN + 2);
    format!(
        "{} {marker} {}",
        pad_left(time, MARGIN - 1),
        truncate_end(text, room)
    )
}

/// Renders a whole trace: header, legs table, links (with `explain`), ladder.
pub fn render_trace(t: &TraceResponse, opts: &RenderOptions) -> String {
    let paint = Paint { on: opts.color };
    let start = call_start_micros(t);
    let mut out = String::new();

    // Header.
    let shown = t.records.len();
    let _ = writeln!(
        out,
        "{} {}  {}  {}  {} leg{}, {} record{}",
        paint.paint(Style::new().bold(), "call"),
        paint.paint(Style::new().bold(), &clean(&t.call)),
        paint.paint(outcome_style(&t.outcome), &clean(&t.outcome)),
        clean(t.start.as_deref().unwrap_or("-")),
        t.legs.len(),
        if t.legs.len() == 1 { "" } else { "s" },
        t.page.total.max(shown),
        if t.page.total.max(shown) == 1 {
            ""
        } else {
            "s"
        },
    );
    out.push('\n');

    // Legs.
    if t.legs.is_empty() {
        out.push_str("no legs known for this call yet\n");
    } else {
        render_legs(&mut out, &t.legs, start, opts, paint);
    }

    if opts.explain {
        out.push('\n');
        render_links(&mut out, &t.links, paint);
    }

    out.push('\n');
    render_ladder(&mut out, t, start, opts, paint);

    let hidden = t.page.total.saturating_sub(shown);
    if hidden > 0 {
        let _ = writeln!(
            out,
            "\n{hidden} more record{} (use --all or --limit N)",
            if hidden == 1 { "" } else { "s" }
        );
    }
    out
}

fn render_legs(out: &mut String, legs: &[LegView], start: i64, opts: &RenderOptions, paint: Paint) {
    let cols = [
        col("role"),
        squeeze("call-id", 16, Trunc::Mid, 3),
        col("uuid"),
        squeeze("node", 6, Trunc::End, 1),
        squeeze("from → to", 12, Trunc::End, 0),
        num("start"),
        num("answer"),
        num("end"),
        num("status"),
        squeeze("hangup cause", 10, Trunc::End, 2),
        num("pdd"),
        num("duration"),
        num("mos"),
    ];
    let offset = |m: Option<i64>| m.map_or_else(|| "-".to_owned(), |m| fmt_offset(m, start));
    let rows: Vec<Vec<Cell>> = legs
        .iter()
        .map(|l| {
            let role = l.role.as_deref().unwrap_or("?");
            let parties = match (&l.from, &l.to) {
                (None, None) => "-".to_owned(),
                (f, t) => format!(
                    "{} → {}",
                    f.as_deref().unwrap_or("?"),
                    t.as_deref().unwrap_or("?")
                ),
            };
            vec![
                styled(role, role_style(role)),
                cell(l.call_id.as_deref().unwrap_or("-")),
                cell(
                    l.uuid
                        .as_deref()
                        .map_or_else(|| "-".to_owned(), |u| short_uuid(u, opts.wide)),
                ),
                cell(l.node.as_deref().unwrap_or("-")),
                cell(parties),
                cell(offset(Some(l.start_micros))),
                cell(offset(l.answer_micros)),
                cell(offset(l.end_micros)),
                styled(
                    l.status.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    if l.status.is_some() {
                        sip_style(l.status)
                    } else {
                        Style::new()
                    },
                ),
                cell(l.hangup_cause.as_deref().unwrap_or("-")),
                cell(fmt_ms(l.pdd_ms)),
                cell(fmt_ms(l.duration_ms)),
                cell(
                    l.mos
                        .filter(|m| m.is_finite())
                        .map_or_else(|| "-".to_owned(), |m| format!("{m:.2}")),
                ),
            ]
        })
        .collect();
    render_table(out, &cols, &rows, opts.width, !opts.wide, paint);
}

/// One line on what a correlation rule means, for `--explain`.
pub fn rule_explanation(rule: &str) -> &'static str {
    match rule {
        "channel-sip" => "FreeSWITCH event names this channel's SIP Call-ID (variable_sip_call_id)",
        "other-leg" => "bridged channels (Other-Leg-Unique-ID / Bridge-A/B-Unique-ID)",
        "call-uuid" => "FreeSWITCH Channel-Call-UUID names the call's first channel",
        "uuid-as-callid" => "the SIP Call-ID is the channel UUID (outbound-use-uuid-as-callid)",
        "header" => "correlation header (X-CID…) names the other leg's Call-ID",
        "hep-correlation" => "HEP correlation id (chunk 0x0011) names the other leg's Call-ID",
        "log-uuid" => "a FreeSWITCH log line of this channel names the other identifier",
        _ => "a rule this version of callweave does not know",
    }
}

fn render_links(out: &mut String, links: &[LinkView], paint: Paint) {
    let _ = writeln!(out, "{}", paint.paint(Style::new().bold(), "links"));
    if links.is_empty() {
        out.push_str("  none: the call has a single identifier\n");
        return;
    }
    for l in links {
        let _ = writeln!(
            out,
            "  {} {} ↔ {} {}  ({})",
            clean(&l.a_kind),
            clean(&l.a),
            clean(&l.b_kind),
            clean(&l.b),
            paint.paint(fg(AnsiColor::Magenta), &clean(&l.rule)),
        );
        let _ = writeln!(
            out,
            "      {}",
            paint.paint(Style::new().dimmed(), rule_explanation(&l.rule))
        );
    }
}

fn render_ladder(
    out: &mut String,
    t: &TraceResponse,
    start: i64,
    opts: &RenderOptions,
    paint: Paint,
) {
    let legs = LegIndex::new(&t.legs);
    let endpoints = endpoint_order(t);
    let layout = Layout::new(endpoints.len(), opts.width);
    let column: HashMap<&str, usize> = endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| (e.as_str(), i))
        .collect();

    if !endpoints.is_empty() {
        let mut names = vec![' '; layout.diagram_width() + layout.spacing];
        for (i, ep) in endpoints.iter().enumerate() {
            let name = truncate_mid(&clean(ep), layout.spacing.saturating_sub(2));
            let half = width_of(&name) / 2;
            put(&mut names, layout.centre(i).saturating_sub(half), &name);
        }
        let names: String = names.into_iter().collect();
        let _ = writeln!(
            out,
            "{}",
            paint.paint(Style::new().bold(), names.trim_end())
        );
        let blank: String = layout.blank().into_iter().collect();
        let _ = writeln!(out, "{}", blank.trim_end());
    }

    // Time order, stable for equal timestamps (the agent's order breaks ties).
    let mut records: Vec<&RecordView> = t.records.iter().collect();
    records.sort_by_key(|r| r.ts_micros);
    let mut hidden_logs = 0usize;
    for r in records {
        let time = fmt_offset(r.ts_micros, start);
        let role = legs.role_of(r);
        let tag = role.map(|r| format!(" [{r}]")).unwrap_or_default();
        let tag = paint.paint(role_style(role.unwrap_or("")), &tag);
        match r.kind.as_str() {
            "sip" => {
                let from = r.src.as_deref().and_then(|s| column.get(s)).copied();
                let to = r.dst.as_deref().and_then(|d| column.get(d)).copied();
                match (from, to) {
                    (Some(from), Some(to)) if from != to => {
                        let (before, shaft, after) =
                            arrow(&layout, from, to, &clean(&sip_label(r)));
                        let mut line = before;
                        line.replace_range(..MARGIN - 1, &pad_left(&time, MARGIN - 1));
                        line.push_str(&paint.paint(sip_style(r.status), &shaft));
                        line.push_str(&after);
                        let _ = writeln!(out, "{}{tag}", line.trim_end());
                    }
                    _ => {
                        let text = format!(
                            "{}  {} → {}",
                            clean(&r.summary),
                            clean(r.src.as_deref().unwrap_or("?")),
                            clean(r.dst.as_deref().unwrap_or("?"))
                        );
                        let line = note(&time, '=', &text, opts.width);
                        let _ = writeln!(out, "{}{tag}", paint.paint(sip_style(r.status), &line));
                    }
                }
            }
            "esl" => {
                let mut text = clean(&r.summary);
                if let Some(u) = &r.uuid {
                    let _ = write!(text, "  uuid={}", short_uuid(u, opts.wide));
                }
                let line = note(&time, '~', &text, opts.width.saturating_sub(TAG));
                let _ = writeln!(out, "{}{tag}", paint.paint(fg(AnsiColor::Magenta), &line));
            }
            "log" => {
                if !opts.logs {
                    hidden_logs += 1;
                    continue;
                }
                let text = clean(&r.summary);
                let line = note(&time, '#', &text, opts.width.saturating_sub(TAG));
                let _ = writeln!(out, "{}{tag}", paint.paint(log_style(&text), &line));
            }
            other => {
                let line = note(
                    &time,
                    '?',
                    &format!("{}: {}", clean(other), clean(&r.summary)),
                    opts.width,
                );
                let _ = writeln!(out, "{line}{tag}");
            }
        }
    }
    if hidden_logs > 0 {
        let _ = writeln!(
            out,
            "\n({hidden_logs} log line{} not shown; --logs shows them)",
            if hidden_logs == 1 { "" } else { "s" }
        );
    }
}

// ---------------------------------------------------------------------------
// calls

/// Renders `callweave calls`: one row per call, newest first.
pub fn render_calls(resp: &CallsResponse, opts: &RenderOptions) -> String {
    let paint = Paint { on: opts.color };
    let mut out = String::new();
    if resp.calls.is_empty() {
        out.push_str("no calls match\n");
        return out;
    }
    let mut calls: Vec<&CallView> = resp.calls.iter().collect();
    calls.sort_by_key(|c| std::cmp::Reverse(c.start_micros));
    let cols = [
        col("start (UTC)"),
        num("duration"),
        col("outcome"),
        squeeze("from", 8, Trunc::End, 1),
        squeeze("to", 8, Trunc::End, 1),
        num("legs"),
        squeeze("nodes", 6, Trunc::End, 0),
        squeeze("call", 16, Trunc::Mid, 2),
    ];
    let rows: Vec<Vec<Cell>> = calls
        .iter()
        .map(|c| {
            let duration = c
                .end
                .as_deref()
                .and_then(parse_rfc3339_micros)
                .map(|end| fmt_ms(Some(end.saturating_sub(c.start_micros) as f64 / 1000.0)))
                .unwrap_or_else(|| "-".to_owned());
            vec![
                cell(fmt_utc_seconds(c.start_micros)),
                cell(duration),
                styled(c.outcome.clone(), outcome_style(&c.outcome)),
                cell(c.from.as_deref().unwrap_or("-")),
                cell(c.to.as_deref().unwrap_or("-")),
                cell(c.legs.to_string()),
                cell(if c.nodes.is_empty() {
                    "-".to_owned()
                } else {
                    c.nodes.join(",")
                }),
                cell(c.call.clone()),
            ]
        })
        .collect();
    render_table(&mut out, &cols, &rows, opts.width, !opts.wide, paint);
    let n = resp.calls.len();
    let _ = writeln!(out, "\n{n} call{}", if n == 1 { "" } else { "s" });
    out
}

/// `callweave search`: one row per record, newest first.
pub fn render_search(resp: &SearchResponse, opts: &RenderOptions) -> String {
    let paint = Paint { on: opts.color };
    let mut out = String::new();
    if resp.records.is_empty() {
        out.push_str("no records match\n");
        return out;
    }
    let cols = [
        col("time (UTC)"),
        col("kind"),
        squeeze("node", 4, Trunc::End, 1),
        squeeze("call-id / uuid", 12, Trunc::Mid, 2),
        squeeze("summary", 16, Trunc::End, 0),
    ];
    let rows: Vec<Vec<Cell>> = resp
        .records
        .iter()
        .map(|r| {
            let id = r.call_id.as_deref().or(r.uuid.as_deref()).unwrap_or("-");
            vec![
                cell(fmt_utc_millis(r.ts_micros)),
                cell(r.kind.clone()),
                cell(r.node.clone()),
                cell(id),
                cell(r.summary.clone()),
            ]
        })
        .collect();
    render_table(&mut out, &cols, &rows, opts.width, !opts.wide, paint);
    let n = resp.records.len();
    let _ = writeln!(
        out,
        "\n{n} of {} matching record{}, newest first; `callweave trace ID` shows a call",
        resp.total,
        if resp.total == 1 { "" } else { "s" }
    );
    out
}

/// `2026-11-26 03:24:30.521` (UTC) from µs since the epoch.
fn fmt_utc_millis(micros: i64) -> String {
    match jiff::Timestamp::from_microsecond(micros) {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        Err(_) => micros.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callweave_agent::api::Page;

    fn sip(
        ts: i64,
        call_id: &str,
        src: &str,
        dst: &str,
        method: &str,
        status: Option<u16>,
    ) -> RecordView {
        RecordView {
            ts: String::new(),
            ts_micros: ts,
            kind: "sip".into(),
            node: "fs-1".into(),
            call_id: Some(call_id.into()),
            uuid: None,
            summary: match status {
                Some(s) => format!("{s} X ({method})"),
                None => format!("{method} sip:x"),
            },
            src: Some(src.into()),
            dst: Some(dst.into()),
            method: Some(method.into()),
            status,
            text: String::new(),
        }
    }

    fn leg(role: &str, call_id: &str) -> LegView {
        LegView {
            call_id: Some(call_id.into()),
            uuid: None,
            role: Some(role.into()),
            node: None,
            from: None,
            to: None,
            start: None,
            ringing: None,
            answer: None,
            end: None,
            status: None,
            hangup_cause: None,
            pdd_ms: None,
            duration_ms: None,
            outcome: "answered".into(),
            mos: None,
            start_micros: 0,
            answer_micros: None,
            end_micros: None,
        }
    }

    fn trace(legs: Vec<LegView>, records: Vec<RecordView>) -> TraceResponse {
        let total = records.len();
        TraceResponse {
            call: "a".into(),
            outcome: "answered".into(),
            start: None,
            legs,
            links: vec![],
            records,
            page: Page {
                offset: 0,
                limit: 1000,
                total,
            },
        }
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate_end("abcdef", 4), "abc…");
        assert_eq!(truncate_end("abc", 4), "abc");
        assert_eq!(truncate_end("abc", 0), "");
        assert_eq!(
            truncate_mid("bbd9578d-63eb-1240-a1be-928ecb790f4d", 16),
            "bbd9578d-6…90f4d"
        );
        assert_eq!(
            width_of(&truncate_mid("bbd9578d-63eb-1240-a1be-928ecb790f4d", 16)),
            16
        );
        assert_eq!(truncate_mid("héllo wörld, long", 8), "héll…ong");
    }

    #[test]
    fn clean_strips_terminal_controls() {
        assert_eq!(
            clean("a\x1b[31mb\r\n\tc"),
            "a\u{fffd}[31mb\u{fffd}\u{fffd} c"
        );
    }

    #[test]
    fn offsets_and_durations() {
        assert_eq!(
            fmt_offset(1_795_663_470_561_172, 1_795_663_470_536_275),
            "+0.024s"
        );
        assert_eq!(fmt_offset(0, 2_500_000), "-2.500s");
        assert_eq!(fmt_ms(Some(34.4)), "34ms");
        assert_eq!(fmt_ms(Some(2041.0)), "2.04s");
        assert_eq!(fmt_ms(Some(f64::NAN)), "-");
        assert_eq!(fmt_ms(None), "-");
    }

    #[test]
    fn width_and_colour_choice() {
        assert_eq!(terminal_width(Some("80")), 80);
        assert_eq!(terminal_width(Some("x")), DEFAULT_WIDTH);
        assert_eq!(terminal_width(Some("5")), DEFAULT_WIDTH);
        assert_eq!(terminal_width(None), DEFAULT_WIDTH);
        assert!(use_color(false, None, true));
        assert!(use_color(false, Some(""), true));
        assert!(!use_color(false, Some("1"), true));
        assert!(!use_color(true, None, true));
        assert!(!use_color(false, None, false));
    }

    #[test]
    fn endpoints_put_the_switch_in_the_middle() {
        // The B-leg's INVITE is seen first; the order must still be caller, switch, callee.
        let t = trace(
            vec![leg("A", "a"), leg("B", "b")],
            vec![
                sip(1, "b", "10.0.0.2:5060", "10.0.0.3:5060", "INVITE", None),
                sip(2, "a", "10.0.0.1:5060", "10.0.0.2:5060", "INVITE", None),
                sip(3, "x", "10.0.0.9:5060", "10.0.0.2:5060", "OPTIONS", None),
            ],
        );
        assert_eq!(
            endpoint_order(&t),
            [
                "10.0.0.1:5060",
                "10.0.0.2:5060",
                "10.0.0.3:5060",
                "10.0.0.9:5060"
            ]
        );
        // Without roles: first appearance.
        let t = trace(vec![], t.records.clone());
        assert_eq!(endpoint_order(&t)[0], "10.0.0.2:5060");
    }

    #[test]
    fn arrows_point_from_sender_to_receiver() {
        let layout = Layout::new(3, 100);
        let (before, shaft, after) = arrow(&layout, 0, 1, "INVITE");
        assert!(
            shaft.ends_with('>') && shaft.contains(" INVITE "),
            "{shaft:?}"
        );
        assert!(before.ends_with('|') && after.starts_with('|'));
        assert_eq!(width_of(&before) + width_of(&shaft), layout.centre(1));
        let (_, shaft, _) = arrow(&layout, 2, 0, "200 OK (INVITE)");
        assert!(
            shaft.starts_with('<') && shaft.contains("200 OK (INVITE)"),
            "{shaft:?}"
        );
        // A label longer than the shaft is cut, never overflowing the head.
        let (_, shaft, _) = arrow(&Layout::new(2, 20), 0, 1, &"X".repeat(100));
        assert!(shaft.ends_with('>') && shaft.contains('…'), "{shaft:?}");
    }

    #[test]
    fn hostile_and_degenerate_traces_render() {
        let mut r = sip(
            5,
            "a\x1b]0;pwn\x07",
            "[::1]:5060",
            "[::1]:5060",
            "INVITE",
            None,
        );
        r.summary = "\x1b[2J".into();
        let mut odd = sip(6, "a", "1.1.1.1:1", "2.2.2.2:2", "BYE", Some(200));
        odd.kind = "weird".into();
        let mut no_addr = sip(7, "a", "", "", "ACK", None);
        no_addr.src = None;
        let t = trace(vec![leg("A", "a")], vec![r, odd, no_addr]);
        for width in [0, 20, 60, 120, 400] {
            let s = render_trace(
                &t,
                &RenderOptions {
                    width,
                    explain: true,
                    logs: true,
                    ..RenderOptions::default()
                },
            );
            assert!(!s.contains('\x1b') && !s.contains('\x07'), "{s}");
        }
        let empty = trace(vec![], vec![]);
        let s = render_trace(&empty, &RenderOptions::default());
        assert!(s.contains("no legs known"));
    }

    #[test]
    fn colour_is_only_emitted_when_asked() {
        let t = trace(
            vec![leg("A", "a")],
            vec![sip(
                1,
                "a",
                "10.0.0.1:5060",
                "10.0.0.2:5060",
                "INVITE",
                None,
            )],
        );
        let plain = render_trace(&t, &RenderOptions::default());
        assert!(!plain.contains('\x1b'));
        let colour = render_trace(
            &t,
            &RenderOptions {
                color: true,
                ..RenderOptions::default()
            },
        );
        assert!(colour.contains("\x1b["));
    }

    #[test]
    fn calls_newest_first() {
        let mk = |call: &str, start: i64| CallView {
            call: call.into(),
            start: None,
            end: Some(callweave_agent::api::rfc3339(start + 2_040_000)),
            start_micros: start,
            from: Some("sipp".into()),
            to: Some("1000".into()),
            outcome: "answered".into(),
            nodes: vec!["fs-1".into()],
            legs: 2,
        };
        let resp = CallsResponse {
            calls: vec![
                mk("1-4274@127.0.0.1", 1_795_663_470_536_275),
                mk("2-4274@127.0.0.1", 1_795_663_471_536_163),
            ],
        };
        let s = render_calls(&resp, &RenderOptions::default());
        let first = s.find("2-4274").unwrap();
        let second = s.find("1-4274").unwrap();
        assert!(first < second, "{s}");
        assert!(
            s.contains("2026-11-26 03:24:31") && s.contains("2.04s"),
            "{s}"
        );
        assert!(
            render_calls(&CallsResponse { calls: vec![] }, &RenderOptions::default())
                .contains("no calls")
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = String> {
            "[a-z0-9@:./ \\x1b\\x07\\r\\n\\t|<>é…\\-\\[\\]]{0,40}"
        }

        fn opt_text() -> impl Strategy<Value = Option<String>> {
            prop::option::of(text())
        }

        fn endpoint() -> impl Strategy<Value = Option<String>> {
            prop::option::of(prop::sample::select(vec![
                "10.0.0.1:5060".to_owned(),
                "10.0.0.2:5060".to_owned(),
                "10.0.0.3:5080".to_owned(),
                "[2001:db8::1]:5060".to_owned(),
                String::new(),
            ]))
        }

        fn record() -> impl Strategy<Value = RecordView> {
            (
                any::<i64>(),
                prop::sample::select(vec!["sip", "esl", "log", "other"]),
                prop::option::of(prop::sample::select(vec!["a".to_owned(), "b".to_owned()])),
                opt_text(),
                text(),
                (endpoint(), endpoint()),
                prop::option::of(prop::sample::select(vec![
                    "INVITE".to_owned(),
                    "BYE".to_owned(),
                ])),
                prop::option::of(any::<u16>()),
            )
                .prop_map(
                    |(ts, kind, call_id, uuid, summary, (src, dst), method, status)| RecordView {
                        ts: String::new(),
                        ts_micros: ts,
                        kind: kind.to_owned(),
                        node: "n".into(),
                        call_id,
                        uuid,
                        summary,
                        src,
                        dst,
                        method,
                        status,
                        text: String::new(),
                    },
                )
        }

        fn float() -> impl Strategy<Value = Option<f64>> {
            prop::option::of(prop_oneof![
                any::<f64>(),
                Just(f64::NAN),
                Just(f64::INFINITY),
                0.0..1e7
            ])
        }

        fn leg_view() -> impl Strategy<Value = LegView> {
            (
                (
                    prop::option::of(prop::sample::select(vec!["a".to_owned(), "b".to_owned()])),
                    opt_text(),
                ),
                prop::option::of(prop::sample::select(vec![
                    "A".to_owned(),
                    "B".to_owned(),
                    "C".to_owned(),
                ])),
                (opt_text(), opt_text(), opt_text()),
                (
                    any::<i64>(),
                    prop::option::of(any::<i64>()),
                    prop::option::of(any::<i64>()),
                ),
                prop::option::of(any::<u16>()),
                (float(), float(), float()),
            )
                .prop_map(
                    |(
                        (call_id, uuid),
                        role,
                        (node, from, to),
                        (start, answer, end),
                        status,
                        (pdd, dur, mos),
                    )| LegView {
                        call_id,
                        uuid,
                        role,
                        node,
                        from,
                        to,
                        start: None,
                        ringing: None,
                        answer: None,
                        end: None,
                        status,
                        hangup_cause: None,
                        pdd_ms: pdd,
                        duration_ms: dur,
                        outcome: "x".into(),
                        mos,
                        start_micros: start,
                        answer_micros: answer,
                        end_micros: end,
                    },
                )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            /// Any trace the agent (or a hostile proxy) could send renders without
            /// panicking and without a single terminal control character.
            #[test]
            fn any_trace_renders_safely(
                legs in prop::collection::vec(leg_view(), 0..4),
                records in prop::collection::vec(record(), 0..30),
                links in prop::collection::vec((text(), text(), text()), 0..3),
                start in opt_text(),
                total in 0usize..100,
                width in 0usize..300,
                flags in any::<(bool, bool, bool)>(),
            ) {
                let t = TraceResponse {
                    call: "c\x1b".into(),
                    outcome: "answered".into(),
                    start,
                    legs,
                    links: links.into_iter().map(|(a, b, rule)| LinkView {
                        a, b, a_kind: "uuid".into(), b_kind: "call-id".into(), rule,
                    }).collect(),
                    records,
                    page: Page { offset: 0, limit: 10, total },
                };
                let opts = RenderOptions { width, color: false, explain: flags.0, logs: flags.1, wide: flags.2 };
                let out = render_trace(&t, &opts);
                prop_assert!(!out.chars().any(|c| c.is_control() && c != '\n'));
                let coloured = render_trace(&t, &RenderOptions { color: true, ..opts });
                // Only our own SGR sequences: every ESC starts `ESC [`.
                prop_assert!(coloured.match_indices('\x1b').all(|(i, _)| coloured[i..].starts_with("\x1b[")));
            }
        }
    }
}
