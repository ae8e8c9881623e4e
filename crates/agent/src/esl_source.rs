//! FreeSWITCH event sockets: one inbound client per `[[esl]]`; events become
//! `Record::Channel`, `log/data` frames become `Record::Log` (the same records as
//! the log file gives), connection state drives the ESL metrics.

use std::sync::Arc;
use std::time::Duration;

use callweave_core::record::{
    CallId, ChannelRecord, ChannelUuid, Direction, Quality, Record, RecordKind,
};
use callweave_esl::client::{ClientConfig, ClientOutput, EslClient, StateChange};
use callweave_esl::{Event, EventFormat};
use callweave_fslog::{Assembler, LogClock};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, watch};

use crate::fslog_source::{log_record, now_micros};

/// `{server}`: the configured address.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServerLabel {
    /// `host:port` as configured.
    pub server: String,
}

/// `{event}`: an event name from [`KNOWN_EVENTS`], or `other`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabel {
    /// Bounded event name.
    pub event: &'static str,
}

/// `{server, reason}` of a skipped frame.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SkipLabel {
    /// `host:port` as configured.
    pub server: String,
    /// Fixed reason from the ESL client.
    pub reason: &'static str,
}

/// ESL metrics.
#[derive(Debug, Clone, Default)]
pub struct EslMetrics {
    /// 1 while authenticated and subscribed.
    pub connected: Family<ServerLabel, Gauge>,
    /// Reconnection attempts.
    pub reconnects: Family<ServerLabel, Counter>,
    /// Authentication failures and ACL rejections.
    pub auth_failures: Family<ServerLabel, Counter>,
    /// Events received, by name.
    pub events: Family<EventLabel, Counter>,
    /// Frames read but not used (XML events, undecodable events, unknown types).
    pub skipped: Family<SkipLabel, Counter>,
}

impl EslMetrics {
    /// Registers the families.
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "callweave_esl_connected",
            "1 while the event socket is authenticated and subscribed",
            self.connected.clone(),
        );
        r.register(
            "callweave_esl_reconnects",
            "Event socket reconnection attempts",
            self.reconnects.clone(),
        );
        r.register(
            "callweave_esl_auth_failures",
            "Event socket authentication failures and ACL rejections",
            self.auth_failures.clone(),
        );
        r.register(
            "callweave_esl_events",
            "FreeSWITCH events received, by event name",
            self.events.clone(),
        );
        r.register(
            "callweave_esl_skipped_frames",
            "Event socket frames read but not used, by reason",
            self.skipped.clone(),
        );
    }
}

/// Event names that get their own label value.
pub const KNOWN_EVENTS: &[&str] = &[
    "CHANNEL_CREATE",
    "CHANNEL_DESTROY",
    "CHANNEL_STATE",
    "CHANNEL_CALLSTATE",
    "CHANNEL_ANSWER",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_OUTGOING",
    "CHANNEL_PARK",
    "CHANNEL_UNPARK",
    "CHANNEL_ORIGINATE",
    "CHANNEL_UUID",
    "CALL_UPDATE",
    "DTMF",
    "HEARTBEAT",
    "CUSTOM",
    "BACKGROUND_JOB",
    "API",
    "RECV_RTCP_MESSAGE",
];

fn event_label(name: &str) -> &'static str {
    KNOWN_EVENTS
        .iter()
        .find(|e| **e == name)
        .copied()
        .unwrap_or("other")
}

/// Maps an ESL event to a channel record. Events without a name are not records.
pub fn channel_record(event: &Event, node: &Arc<str>, fallback_ts: i64) -> Option<Record> {
    let name = event.name()?.to_owned();
    let uuid = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(ChannelUuid::from);
    let f = |k: &str| event.header(k).and_then(|v| v.trim().parse::<f64>().ok());
    let ch = ChannelRecord {
        event_name: name,
        event_subclass: event.subclass().map(str::to_owned),
        sequence: event.sequence(),
        unique_id: uuid(event.unique_id()),
        other_leg_unique_id: uuid(event.other_leg_unique_id()),
        channel_call_uuid: uuid(event.channel_call_uuid()),
        bridge_a: uuid(event.bridge_a_unique_id()),
        bridge_b: uuid(event.bridge_b_unique_id()),
        sip_call_id: event
            .sip_call_id()
            .filter(|s| !s.is_empty())
            .map(CallId::from),
        direction: event.header("Call-Direction").and_then(Direction::parse),
        channel_name: event.channel_name().map(str::to_owned),
        caller_number: event.caller_id_number().map(str::to_owned),
        destination_number: event.destination_number().map(str::to_owned),
        answer_state: event.answer_state().map(str::to_owned),
        hangup_cause: event
            .hangup_cause()
            .or(event.header("variable_hangup_cause"))
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        sip_term_status: event.sip_term_status(),
        quality: Quality {
            mos: f("variable_rtp_audio_in_mos"),
            jitter_min_variance: f("variable_rtp_audio_in_jitter_min_variance"),
            jitter_max_variance: f("variable_rtp_audio_in_jitter_max_variance"),
            loss_rate: f("variable_rtp_audio_in_jitter_loss_rate"),
            r_factor: f("variable_rtp_audio_in_quality_percentage"),
        },
        core_uuid: event.core_uuid().map(str::to_owned),
        hostname: event.hostname().map(str::to_owned),
        headers: event
            .headers()
            .map(|(k, v)| {
                let value = match v {
                    callweave_esl::HeaderValue::Single(s) => s.to_owned(),
                    multi => multi.iter().collect::<Vec<_>>().join("|"),
                };
                (k.to_owned(), value)
            })
            .collect::<Vec<_>>()
            .into(),
    };
    Some(Record::new(
        event.timestamp_micros().unwrap_or(fallback_ts),
        node.clone(),
        RecordKind::Channel(ch),
    ))
}

/// Builds the client configuration for `[[esl]]` entry `index`.
pub fn client_config(esl: &crate::config::EslConfig, index: usize) -> anyhow::Result<ClientConfig> {
    let password = match (&esl.password_env, &esl.password) {
        (Some(var), _) => std::env::var(var).map_err(|_| {
            anyhow::anyhow!("esl[{index}].password_env: environment variable {var} is not set")
        })?,
        (None, Some(p)) => p.clone(),
        (None, None) => "ClueCon".to_owned(),
    };
    let mut cfg = ClientConfig::new(esl.address.clone(), password);
    cfg.name = esl.address.clone();
    cfg.format = if esl.format == "plain" {
        EventFormat::Plain
    } else {
        EventFormat::Json
    };
    if !esl.events.is_empty() {
        cfg.events = esl.events.clone();
    }
    cfg.log_level = esl.log_level.clone();
    cfg.validate()
        .map_err(|e| anyhow::anyhow!("esl[{index}]: {e}"))?;
    Ok(cfg)
}

/// How long an unfinished multi-line log message waits for more lines.
const LOG_FLUSH: Duration = Duration::from_millis(500);

/// Runs one event-socket client until shutdown.
pub async fn run(
    config: ClientConfig,
    node: Arc<str>,
    out: mpsc::Sender<Record>,
    metrics: EslMetrics,
    shutdown: watch::Receiver<bool>,
) {
    let server = ServerLabel {
        server: config.name.clone(),
    };
    let client = match EslClient::new(config) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(server = %server.server, error = %e, "invalid event socket configuration");
            return;
        }
    };
    let (tx, mut rx) = mpsc::channel::<ClientOutput>(1024);
    let client_task = tokio::spawn(client.run(tx, shutdown));
    metrics.connected.get_or_create(&server).set(0);
    // log/data frames are assembled like log file lines (multi-line messages
    // attach to the line that started them); FreeSWITCH writes local time.
    let mut assembler = Assembler::new(LogClock::system());
    let mut flush = tokio::time::interval(LOG_FLUSH);
    loop {
        let output = tokio::select! {
            o = rx.recv() => match o {
                Some(o) => o,
                None => break,
            },
            _ = flush.tick() => {
                if assembler.has_pending()
                    && let Some(entry) = assembler.flush()
                    && out.send(log_record(&entry, &node, now_micros())).await.is_err()
                {
                    break;
                }
                continue;
            }
        };
        match output {
            ClientOutput::Event(event) => {
                let name = event.name().unwrap_or_default();
                metrics
                    .events
                    .get_or_create(&EventLabel {
                        event: event_label(name),
                    })
                    .inc();
                if name == "HEARTBEAT" {
                    continue;
                }
                if let Some(record) = channel_record(&event, &node, now_micros())
                    && out.send(record).await.is_err()
                {
                    break;
                }
            }
            ClientOutput::Log(log) => {
                if let Some(entry) = assembler.push_log_data(&log.body, log.user_data.as_deref())
                    && out
                        .send(log_record(&entry, &node, now_micros()))
                        .await
                        .is_err()
                {
                    break;
                }
            }
            ClientOutput::State(state) => match state {
                StateChange::Connected => {
                    metrics.connected.get_or_create(&server).set(1);
                    tracing::info!(server = %server.server, "event socket connected");
                }
                StateChange::Disconnected { reason } => {
                    metrics.connected.get_or_create(&server).set(0);
                    tracing::debug!(server = %server.server, reason = reason.as_str(), "event socket disconnected");
                }
                StateChange::AuthFailed { .. } | StateChange::RudeRejection { .. } => {
                    metrics.auth_failures.get_or_create(&server).inc();
                }
                StateChange::Reconnecting { .. } => {
                    metrics.reconnects.get_or_create(&server).inc();
                }
                _ => {}
            },
            ClientOutput::Skipped(frame) => {
                metrics
                    .skipped
                    .get_or_create(&SkipLabel {
                        server: server.server.clone(),
                        reason: frame.label(),
                    })
                    .inc();
            }
            _ => {}
        }
    }
    if let Some(entry) = assembler.flush() {
        let _ = out.send(log_record(&entry, &node, now_micros())).await;
    }
    metrics.connected.get_or_create(&server).set(0);
    let _ = client_task.await;
}
