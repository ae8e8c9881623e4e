//! Async inbound ESL client: connect, authenticate, subscribe, stream events,
//! reconnect forever with backoff.
//!
//! [`EslClient::run`] owns one TCP connection at a time to one FreeSWITCH
//! server and sends everything it learns to a bounded
//! [`mpsc`](tokio::sync::mpsc) channel as [`ClientOutput`]:
//!
//! - [`ClientOutput::Event`] for every decoded event, [`ClientOutput::Log`]
//!   for every `log/data` line (with [`ClientConfig::log_level`]);
//! - [`ClientOutput::Skipped`] for a frame that was read but not delivered
//!   (undecodable body, XML event, unknown content type), so it can be counted;
//! - [`ClientOutput::State`] for connection changes, in this order per attempt:
//!   `Connected` … then `Disconnected { reason }`; or, when the server refuses
//!   us, `AuthFailed` / `RudeRejection` then `Disconnected`; or just
//!   `Disconnected` when the TCP connect fails. Unless shutting down,
//!   `Reconnecting { delay }` follows every `Disconnected`. A gauge
//!   `callweave_esl_connected{server}` is 1 between `Connected` and
//!   `Disconnected`; `callweave_esl_reconnects_total{server}` counts `Reconnecting`.
//!
//! **Backpressure.** Output goes through `send().await`: when the consumer is
//! slow, the client stops reading the socket, the kernel buffers fill, and
//! FreeSWITCH queues events on its side (mod_event_socket drops them for this
//! listener when its queue is full, and logs it). Nothing is lost between the
//! socket and the consumer, and memory here stays bounded by the framer limits
//! plus one read buffer. Time spent waiting on the consumer does not count as
//! server silence.
//!
//! **Liveness.** Any byte from the server counts as life. After
//! [`ClientConfig::keepalive_interval`] of silence the client sends
//! `api status` (its `api/response` is read and dropped); after
//! [`ClientConfig::idle_timeout`] of silence it reconnects. With `HEARTBEAT`
//! subscribed (the default list) FreeSWITCH talks every 20 s anyway.
//!
//! **Reconnects** follow any refusal, close, `-ERR` to the subscription,
//! framing error, frame without `Content-Type` (the stream is out of sync),
//! or silence. The delay grows exponentially from [`Backoff::initial`] to
//! [`Backoff::max`] with jitter; after an authentication failure or an ACL
//! rejection it is the capped delay at once, since retrying sooner cannot help.
//!
//! **Unknown content types are skipped, not fatal.** A frame with a
//! well-formed header block and an unknown `Content-Type` is reported as
//! [`SkipReason::UnknownContentType`] and the connection stays up, so a newer
//! FreeSWITCH with a new frame type cannot cause a reconnect storm.
//!
//! The password is never logged, and [`ClientConfig`]'s `Debug` redacts it.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep, sleep_until, timeout};

use crate::error::EslError;
use crate::event::{Event, EventFormat};
use crate::framing::{ContentType, Frame, Framer, FramerConfig};
use crate::log::LogData;

/// The events callweave subscribes to by default: every channel lifecycle event
/// the correlator reads (PROTOCOLS.md §3.7), `CHANNEL_CALLSTATE` for ringing
/// and early media, `CHANNEL_UUID` for UUID changes, and `HEARTBEAT` so a
/// healthy but quiet server is never mistaken for a dead one. `CHANNEL_STATE`,
/// `CHANNEL_EXECUTE*` and `CODEC` are left out: they triple the volume and add
/// no link or outcome.
pub const DEFAULT_EVENTS: &[&str] = &[
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_DESTROY",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_ORIGINATE",
    "CHANNEL_OUTGOING",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
    "CALL_UPDATE",
    "CHANNEL_CALLSTATE",
    "CHANNEL_UUID",
    "HEARTBEAT",
];

/// Log levels `log <level>` accepts (besides the numbers 0–7).
const LOG_LEVELS: &[&str] = &[
    "CONSOLE", "ALERT", "CRIT", "ERR", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG",
];

/// Exponential backoff with jitter between connection attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure. Default 1 s.
    pub initial: Duration,
    /// Cap; also the delay after an authentication failure. Default 30 s.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The delay after `failures` consecutive failures (1 = the first):
    /// `min(max, initial · 2^(failures-1))`, scaled by a random factor in
    /// [0.5, 1] so that many agents do not reconnect in step.
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(31);
        let base = self
            .initial
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max)
            .min(self.max);
        base.mul_f64(rand::random_range(0.5..=1.0))
    }

    /// The capped delay, with jitter.
    pub fn capped(&self) -> Duration {
        self.max.mul_f64(rand::random_range(0.5..=1.0))
    }
}

/// Configuration of one inbound connection. Build with [`ClientConfig::new`]
/// and adjust fields; [`EslClient::new`] validates it.
#[derive(Clone)]
pub struct ClientConfig {
    /// Server label for logs and metrics (`server="fs-1"`). Defaults to the address.
    pub name: String,
    /// `host:port` of mod_event_socket, e.g. `127.0.0.1:8021`.
    pub address: String,
    /// The event socket password (`ClueCon` by default in FreeSWITCH). Never logged.
    pub password: String,
    /// `json` (default) or `plain`.
    pub format: EventFormat,
    /// Event names for the `event` command; default [`DEFAULT_EVENTS`].
    /// `ALL` and `CUSTOM sofia::register` style entries are passed through.
    pub events: Vec<String>,
    /// Also take `log/data` frames at this level (`DEBUG`, `INFO`, … or 0–7).
    pub log_level: Option<String>,
    /// Timeout for the TCP connect, for each handshake step and for each write.
    /// Default 5 s.
    pub connect_timeout: Duration,
    /// Reconnect after this much silence from the server. Default 60 s.
    pub idle_timeout: Duration,
    /// Send `api status` after this much silence. Default 20 s (FreeSWITCH's
    /// heartbeat interval); must be below `idle_timeout`.
    pub keepalive_interval: Duration,
    /// Delay between attempts.
    pub backoff: Backoff,
    /// Framing limits.
    pub framer: FramerConfig,
}

impl ClientConfig {
    /// A config with every default: JSON, [`DEFAULT_EVENTS`], no log lines.
    pub fn new(address: impl Into<String>, password: impl Into<String>) -> Self {
        let address = address.into();
        ClientConfig {
            name: address.clone(),
            address,
            password: password.into(),
            format: EventFormat::Json,
            events: DEFAULT_EVENTS.iter().map(|e| (*e).to_owned()).collect(),
            log_level: None,
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            keepalive_interval: Duration::from_secs(20),
            backoff: Backoff::default(),
            framer: FramerConfig::default(),
        }
    }

    /// Checks every field; the error names the agent config key.
    pub fn validate(&self) -> Result<(), EslError> {
        let err = |key, reason: &str| {
            Err(EslError::Config {
                key,
                reason: reason.to_owned(),
            })
        };
        if self.address.trim().is_empty() {
            return err("address", "must not be empty");
        }
        if self.password.is_empty() {
            return err("password", "must not be empty");
        }
        // A newline would end the `auth` command and inject another one.
        if self.password.contains(['\n', '\r']) {
            return err("password", "must not contain a line break");
        }
        if self.events.is_empty() {
            return err("events", "must name at least one event");
        }
        if self
            .events
            .iter()
            .any(|e| e.is_empty() || e.contains(|c: char| c.is_whitespace() || c.is_control()))
        {
            return err("events", "each entry must be one word");
        }
        if let Some(level) = &self.log_level {
            let upper = level.trim().to_ascii_uppercase();
            let numeric = upper.parse::<u8>().is_ok_and(|n| n <= 7);
            if !numeric && !LOG_LEVELS.contains(&upper.as_str()) {
                return err("log_level", "must be 0-7 or a level name such as INFO");
            }
        }
        if self.connect_timeout.is_zero() {
            return err("connect_timeout", "must be above zero");
        }
        if self.keepalive_interval.is_zero() || self.keepalive_interval >= self.idle_timeout {
            return err(
                "keepalive_interval",
                "must be above zero and below idle_timeout",
            );
        }
        if self.backoff.initial.is_zero() || self.backoff.max < self.backoff.initial {
            return err("backoff", "initial must be above zero and at most max");
        }
        if self.framer.max_header_bytes == 0 || self.framer.max_body_bytes == 0 {
            return err("framer", "limits must be above zero");
        }
        Ok(())
    }

    fn subscribe_command(&self) -> String {
        format!(
            "event {} {}\n\n",
            self.format.as_str(),
            self.events.join(" ")
        )
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("password", &"<redacted>")
            .field("format", &self.format)
            .field("events", &self.events)
            .field("log_level", &self.log_level)
            .field("connect_timeout", &self.connect_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("keepalive_interval", &self.keepalive_interval)
            .field("backoff", &self.backoff)
            .field("framer", &self.framer)
            .finish()
    }
}

/// What the client sends to its consumer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientOutput {
    /// A decoded event.
    Event(Event),
    /// A `log/data` line.
    Log(LogData),
    /// A connection state change.
    State(StateChange),
    /// A frame that was read but not delivered; count it.
    Skipped(SkippedFrame),
}

/// A change of connection state; see the [module docs](self) for the order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateChange {
    /// Authenticated and subscribed: events flow from now on.
    Connected,
    /// The server answered `auth` with `-ERR` (wrong password).
    AuthFailed {
        /// The server's `Reply-Text`, e.g. `-ERR invalid`.
        reply: String,
    },
    /// The server's ACL rejected this client (`text/rude-rejection`).
    RudeRejection {
        /// The rejection body, e.g. `Access Denied, go away.`.
        text: String,
    },
    /// The connection (or the attempt) ended.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// The next attempt starts after `delay`.
    Reconnecting {
        /// The delay, jitter included.
        delay: Duration,
        /// Consecutive failed attempts so far (1 after the first).
        attempt: u32,
    },
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The TCP connect failed (refused, unreachable, bad address).
    ConnectFailed(String),
    /// The TCP connect timed out.
    ConnectTimeout,
    /// A handshake step (greeting, auth reply, subscription reply) timed out.
    HandshakeTimeout,
    /// The server closed the connection; bytes of a partial frame are discarded.
    Closed {
        /// Bytes of an incomplete frame dropped with the connection.
        partial_frame_bytes: usize,
    },
    /// A socket read or write failed.
    Io(String),
    /// The stream could not be framed (limit exceeded, malformed header line).
    Framing(EslError),
    /// A frame without `Content-Type`: the stream is out of sync, typically
    /// after a lying `Content-Length`.
    OutOfSync,
    /// No byte from the server within [`ClientConfig::idle_timeout`].
    IdleTimeout,
    /// The password was rejected.
    AuthFailed,
    /// The server's ACL rejected this client.
    RudeRejection,
    /// The server answered a command with something other than `+OK`.
    CommandRejected {
        /// `event` or `log`.
        command: String,
        /// The reply text.
        reply: String,
    },
    /// The server sent `text/disconnect-notice` (it is shutting down, or `exit`).
    DisconnectNotice,
    /// A frame that makes no sense at this point (for example `auth/request`
    /// mid-stream, or no `command/reply` during the handshake).
    UnexpectedFrame(String),
    /// Shutdown was requested.
    Shutdown,
}

impl DisconnectReason {
    /// A short, stable snake_case label for metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            DisconnectReason::ConnectFailed(_) => "connect_failed",
            DisconnectReason::ConnectTimeout => "connect_timeout",
            DisconnectReason::HandshakeTimeout => "handshake_timeout",
            DisconnectReason::Closed { .. } => "closed",
            DisconnectReason::Io(_) => "io",
            DisconnectReason::Framing(_) => "framing",
            DisconnectReason::OutOfSync => "out_of_sync",
            DisconnectReason::IdleTimeout => "idle_timeout",
            DisconnectReason::AuthFailed => "auth_failed",
            DisconnectReason::RudeRejection => "rude_rejection",
            DisconnectReason::CommandRejected { .. } => "command_rejected",
            DisconnectReason::DisconnectNotice => "disconnect_notice",
            DisconnectReason::UnexpectedFrame(_) => "unexpected_frame",
            DisconnectReason::Shutdown => "shutdown",
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::ConnectFailed(e) => write!(f, "connect failed: {e}"),
            DisconnectReason::ConnectTimeout => f.write_str("connect timed out"),
            DisconnectReason::HandshakeTimeout => f.write_str("handshake timed out"),
            DisconnectReason::Closed {
                partial_frame_bytes: 0,
            } => f.write_str("closed by the server"),
            DisconnectReason::Closed {
                partial_frame_bytes: n,
            } => write!(f, "closed by the server mid-frame ({n} bytes discarded)"),
            DisconnectReason::Io(e) => write!(f, "socket error: {e}"),
            DisconnectReason::Framing(e) => write!(f, "{e}"),
            DisconnectReason::OutOfSync => {
                f.write_str("frame without content-type: stream out of sync")
            }
            DisconnectReason::IdleTimeout => f.write_str("no data from the server: idle timeout"),
            DisconnectReason::AuthFailed => f.write_str("authentication failed"),
            DisconnectReason::RudeRejection => f.write_str("rejected by the server's acl"),
            DisconnectReason::CommandRejected { command, reply } => {
                write!(f, "`{command}` rejected: {reply}")
            }
            DisconnectReason::DisconnectNotice => f.write_str("server sent a disconnect notice"),
            DisconnectReason::UnexpectedFrame(what) => write!(f, "unexpected frame: {what}"),
            DisconnectReason::Shutdown => f.write_str("shutdown"),
        }
    }
}

/// A frame read but not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFrame {
    /// Its content type.
    pub content_type: ContentType,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// Why a frame was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// The event or log body did not decode.
    Decode(EslError),
    /// `text/event-xml`: framed but not decoded by this crate (the client
    /// never subscribes in XML; this only happens if someone else did).
    XmlEvent,
    /// A content type this crate does not know.
    UnknownContentType,
    /// A frame that is valid but not expected here (a stray `command/reply`).
    Unexpected,
}

impl SkippedFrame {
    /// A short, stable label for metrics: the decode [`ErrorKind`](crate::ErrorKind)
    /// label, or `xml_event` / `unknown_content_type` / `unexpected`.
    pub fn label(&self) -> &'static str {
        match &self.reason {
            SkipReason::Decode(e) => e.kind().map_or("decode", |k| k.as_str()),
            SkipReason::XmlEvent => "xml_event",
            SkipReason::UnknownContentType => "unknown_content_type",
            SkipReason::Unexpected => "unexpected",
        }
    }
}

/// An inbound ESL client for one server. See the [module docs](self).
#[derive(Debug)]
pub struct EslClient {
    config: ClientConfig,
}

/// How one connection attempt ended.
enum End {
    /// Stop the client: shutdown requested, or the consumer is gone.
    Stop,
    Lost {
        reason: DisconnectReason,
        /// How long the connection was usable (subscribed), if it got there.
        connected_for: Option<Duration>,
    },
}

impl End {
    fn lost(reason: DisconnectReason) -> End {
        End::Lost {
            reason,
            connected_for: None,
        }
    }
}

impl EslClient {
    /// Validates the config.
    pub fn new(config: ClientConfig) -> Result<EslClient, EslError> {
        config.validate()?;
        Ok(EslClient { config })
    }

    /// The server label.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The config.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Runs until `shutdown` becomes `true` (or its sender is dropped), or the
    /// receiver of `out` is dropped. Never returns early on a server problem:
    /// it reconnects.
    pub async fn run(self, out: mpsc::Sender<ClientOutput>, shutdown: watch::Receiver<bool>) {
        let mut runner = Runner {
            config: self.config,
            out,
            shutdown,
            auth_failure_logged: false,
        };
        runner.run().await;
    }
}

struct Runner {
    config: ClientConfig,
    out: mpsc::Sender<ClientOutput>,
    shutdown: watch::Receiver<bool>,
    /// One clear error per streak of authentication failures, not one per retry.
    auth_failure_logged: bool,
}

/// Resolves when shutdown is requested: the value is `true` or the sender is gone.
async fn shutdown_requested(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Sends to the consumer, unless shutdown comes first. `false` means stop.
async fn emit(
    out: &mpsc::Sender<ClientOutput>,
    shutdown: &mut watch::Receiver<bool>,
    item: ClientOutput,
) -> bool {
    tokio::select! {
        biased;
        () = shutdown_requested(shutdown) => false,
        sent = out.send(item) => sent.is_ok(),
    }
}

impl Runner {
    async fn run(&mut self) {
        let name = self.config.name.clone();
        let mut failures: u32 = 0;
        loop {
            let (reason, connected_for) = match self.session().await {
                End::Stop => {
                    // Best effort: a consumer that is still there learns why we stopped.
                    let _ = self
                        .out
                        .try_send(ClientOutput::State(StateChange::Disconnected {
                            reason: DisconnectReason::Shutdown,
                        }));
                    tracing::info!(server = %name, "esl client stopped");
                    return;
                }
                End::Lost {
                    reason,
                    connected_for,
                } => (reason, connected_for),
            };
            tracing::warn!(server = %name, address = %self.config.address, reason = %reason, "esl disconnected");
            if !self
                .emit(ClientOutput::State(StateChange::Disconnected {
                    reason: reason.clone(),
                }))
                .await
            {
                return;
            }
            // A connection that stayed up for a while starts the backoff over;
            // one that drops right after subscribing keeps growing it.
            if connected_for.is_some_and(|d| d >= self.config.backoff.max) {
                failures = 0;
            }
            failures = failures.saturating_add(1);
            let delay = match reason {
                DisconnectReason::AuthFailed | DisconnectReason::RudeRejection => {
                    self.config.backoff.capped()
                }
                _ => self.config.backoff.delay(failures),
            };
            if !self
                .emit(ClientOutput::State(StateChange::Reconnecting {
                    delay,
                    attempt: failures,
                }))
                .await
            {
                return;
            }
            tokio::select! {
                biased;
                () = shutdown_requested(&mut self.shutdown) => {
                    tracing::info!(server = %name, "esl client stopped");
                    return;
                }
                () = sleep(delay) => {}
            }
        }
    }

    async fn emit(&mut self, item: ClientOutput) -> bool {
        emit(&self.out, &mut self.shutdown, item).await
    }

    /// One connection, from TCP connect to its end.
    async fn session(&mut self) -> End {
        let connect = timeout(
            self.config.connect_timeout,
            TcpStream::connect(self.config.address.as_str()),
        );
        let stream = tokio::select! {
            biased;
            () = shutdown_requested(&mut self.shutdown) => return End::Stop,
            r = connect => match r {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return End::lost(DisconnectReason::ConnectFailed(e.to_string())),
                Err(_) => return End::lost(DisconnectReason::ConnectTimeout),
            },
        };
        // Commands are tiny and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            stream,
            framer: Framer::new(self.config.framer),
            buf: vec![0; 64 * 1024],
            write_timeout: self.config.connect_timeout,
        };
        match self.handshake(&mut conn).await {
            Ok(()) => {}
            Err(end) => return end,
        }
        let connected_at = Instant::now();
        tracing::info!(
            server = %self.config.name,
            address = %self.config.address,
            format = %self.config.format,
            events = self.config.events.len(),
            "esl connected"
        );
        self.auth_failure_logged = false;
        if !self.emit(ClientOutput::State(StateChange::Connected)).await {
            return End::Stop;
        }
        match self.stream_frames(&mut conn).await {
            End::Lost { reason, .. } => End::Lost {
                reason,
                connected_for: Some(connected_at.elapsed()),
            },
            End::Stop => End::Stop,
        }
    }

    async fn handshake(&mut self, conn: &mut Conn) -> Result<(), End> {
        let step = self.config.connect_timeout;
        let greeting = conn.read_frame(step, &mut self.shutdown).await?;
        match greeting.content_type {
            ContentType::AuthRequest => {}
            ContentType::RudeRejection => return Err(self.rude_rejection(&greeting).await),
            ContentType::DisconnectNotice => {
                return Err(End::lost(DisconnectReason::DisconnectNotice));
            }
            other => {
                return Err(End::lost(DisconnectReason::UnexpectedFrame(format!(
                    "expected auth/request, got `{}`",
                    other.as_str()
                ))));
            }
        }

        // The only place the password is used; never log this buffer.
        let auth = format!("auth {}\n\n", self.config.password);
        conn.write(auth.as_bytes()).await?;
        let reply = conn.read_frame(step, &mut self.shutdown).await?;
        match reply.content_type {
            ContentType::CommandReply if reply.is_ok_reply() => {}
            ContentType::CommandReply => {
                let text = reply.reply_text().unwrap_or_default().to_owned();
                if !self.auth_failure_logged {
                    self.auth_failure_logged = true;
                    tracing::error!(
                        server = %self.config.name,
                        address = %self.config.address,
                        reply = %text,
                        retry_every = ?self.config.backoff.max,
                        "esl authentication failed: check the event socket password"
                    );
                } else {
                    tracing::debug!(server = %self.config.name, reply = %text, "esl authentication failed again");
                }
                if !self
                    .emit(ClientOutput::State(StateChange::AuthFailed { reply: text }))
                    .await
                {
                    return Err(End::Stop);
                }
                return Err(End::lost(DisconnectReason::AuthFailed));
            }
            ContentType::RudeRejection => return Err(self.rude_rejection(&reply).await),
            other => {
                return Err(End::lost(DisconnectReason::UnexpectedFrame(format!(
                    "expected the auth reply, got `{}`",
                    other.as_str()
                ))));
            }
        }

        conn.write(self.config.subscribe_command().as_bytes())
            .await?;
        let reply = conn.read_frame(step, &mut self.shutdown).await?;
        match reply.content_type {
            ContentType::CommandReply if reply.is_ok_reply() => Ok(()),
            ContentType::CommandReply => Err(End::lost(DisconnectReason::CommandRejected {
                command: "event".to_owned(),
                reply: reply.reply_text().unwrap_or_default().to_owned(),
            })),
            other => Err(End::lost(DisconnectReason::UnexpectedFrame(format!(
                "expected the event subscription reply, got `{}`",
                other.as_str()
            )))),
        }
    }

    async fn rude_rejection(&mut self, frame: &Frame) -> End {
        let text = frame
            .body
            .as_deref()
            .map(|b| String::from_utf8_lossy(b).trim().to_owned())
            .unwrap_or_default();
        tracing::error!(
            server = %self.config.name,
            address = %self.config.address,
            text = %text,
            "esl connection rejected by the server's acl (apply-inbound-acl in event_socket.conf.xml)"
        );
        if !self
            .emit(ClientOutput::State(StateChange::RudeRejection { text }))
            .await
        {
            return End::Stop;
        }
        End::lost(DisconnectReason::RudeRejection)
    }

    /// The subscribed part of a connection: read, decode, deliver.
    async fn stream_frames(&mut self, conn: &mut Conn) -> End {
        let mut pending_replies: VecDeque<&'static str> = VecDeque::new();
        if let Some(level) = &self.config.log_level {
            let cmd = format!("log {}\n\n", level.trim());
            if let Err(end) = conn.write(cmd.as_bytes()).await {
                return end;
            }
            pending_replies.push_back("log");
        }
        let mut last_rx = Instant::now();
        let mut last_probe = last_rx;
        loop {
            loop {
                let frame = match conn.framer.next_frame() {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(e) => return End::lost(DisconnectReason::Framing(e)),
                };
                if let Err(end) = self.handle(frame, &mut pending_replies).await {
                    return end;
                }
                // Waiting on the consumer is not server silence.
                last_rx = Instant::now();
            }
            let idle_at = last_rx + self.config.idle_timeout;
            let probe_at = last_rx.max(last_probe) + self.config.keepalive_interval;
            tokio::select! {
                biased;
                () = shutdown_requested(&mut self.shutdown) => return End::Stop,
                read = conn.stream.read(&mut conn.buf) => match read {
                    Ok(0) => {
                        return End::lost(DisconnectReason::Closed {
                            partial_frame_bytes: conn.framer.buffered(),
                        });
                    }
                    Ok(n) => {
                        conn.framer.push(conn.buf.get(..n).unwrap_or_default());
                        last_rx = Instant::now();
                    }
                    Err(e) => return End::lost(DisconnectReason::Io(e.to_string())),
                },
                () = sleep_until(idle_at) => return End::lost(DisconnectReason::IdleTimeout),
                () = sleep_until(probe_at) => {
                    tracing::debug!(server = %self.config.name, "esl quiet, sending keep-alive");
                    if let Err(end) = conn.write(b"api status\n\n").await {
                        return end;
                    }
                    last_probe = Instant::now();
                }
            }
        }
    }

    async fn handle(
        &mut self,
        frame: Frame,
        pending_replies: &mut VecDeque<&'static str>,
    ) -> Result<(), End> {
        let skip = |reason| {
            ClientOutput::Skipped(SkippedFrame {
                content_type: frame.content_type.clone(),
                reason,
            })
        };
        let output = match &frame.content_type {
            ContentType::EventJson | ContentType::EventPlain => match Event::from_frame(&frame) {
                Ok(event) => ClientOutput::Event(event),
                Err(e) => {
                    tracing::debug!(server = %self.config.name, error = %e, "esl event skipped");
                    skip(SkipReason::Decode(e))
                }
            },
            ContentType::LogData => match LogData::from_frame(&frame) {
                Ok(log) => ClientOutput::Log(log),
                Err(e) => {
                    tracing::debug!(server = %self.config.name, error = %e, "esl log line skipped");
                    skip(SkipReason::Decode(e))
                }
            },
            // The answer to our keep-alive probe.
            ContentType::ApiResponse => return Ok(()),
            ContentType::CommandReply => match pending_replies.pop_front() {
                Some(command) => {
                    if !frame.is_ok_reply() {
                        // Only `log` is sent after subscribing; events still
                        // flow without it, so warn and stay connected.
                        tracing::warn!(
                            server = %self.config.name,
                            command,
                            reply = frame.reply_text().unwrap_or_default(),
                            "esl command rejected"
                        );
                    }
                    return Ok(());
                }
                None => skip(SkipReason::Unexpected),
            },
            ContentType::EventXml => skip(SkipReason::XmlEvent),
            ContentType::Unknown(ct) => {
                tracing::debug!(server = %self.config.name, content_type = %ct, "esl frame with unknown content type skipped");
                skip(SkipReason::UnknownContentType)
            }
            ContentType::DisconnectNotice => {
                if frame
                    .header("Content-Disposition")
                    .is_some_and(|d| d.eq_ignore_ascii_case("linger"))
                {
                    return Ok(());
                }
                return Err(End::lost(DisconnectReason::DisconnectNotice));
            }
            ContentType::RudeRejection => return Err(self.rude_rejection(&frame).await),
            ContentType::AuthRequest => {
                return Err(End::lost(DisconnectReason::UnexpectedFrame(
                    "auth/request after authentication".to_owned(),
                )));
            }
            ContentType::Missing => return Err(End::lost(DisconnectReason::OutOfSync)),
        };
        if self.emit(output).await {
            Ok(())
        } else {
            Err(End::Stop)
        }
    }
}

struct Conn {
    stream: TcpStream,
    framer: Framer,
    buf: Vec<u8>,
    write_timeout: Duration,
}

impl Conn {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), End> {
        match timeout(self.write_timeout, self.stream.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(End::lost(DisconnectReason::Io(e.to_string()))),
            Err(_) => Err(End::lost(DisconnectReason::Io(
                "write timed out".to_owned(),
            ))),
        }
    }

    /// The next frame within `limit`, for the handshake.
    async fn read_frame(
        &mut self,
        limit: Duration,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Frame, End> {
        let deadline = Instant::now() + limit;
        loop {
            match self.framer.next_frame() {
                Ok(Some(frame)) => return Ok(frame),
                Ok(None) => {}
                Err(e) => return Err(End::lost(DisconnectReason::Framing(e))),
            }
            tokio::select! {
                biased;
                () = shutdown_requested(shutdown) => return Err(End::Stop),
                read = self.stream.read(&mut self.buf) => match read {
                    Ok(0) => {
                        return Err(End::lost(DisconnectReason::Closed {
                            partial_frame_bytes: self.framer.buffered(),
                        }));
                    }
                    Ok(n) => self.framer.push(self.buf.get(..n).unwrap_or_default()),
                    Err(e) => return Err(End::lost(DisconnectReason::Io(e.to_string()))),
                },
                () = sleep_until(deadline) => return Err(End::lost(DisconnectReason::HandshakeTimeout)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_password() {
        let cfg = ClientConfig::new("127.0.0.1:8021", "S3cretPw");
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("S3cretPw"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
        let client = EslClient::new(cfg).unwrap();
        assert!(!format!("{client:?}").contains("S3cretPw"));
        assert_eq!(client.name(), "127.0.0.1:8021");
    }

    #[test]
    fn validation_names_the_key() {
        let key = |f: fn(&mut ClientConfig)| {
            let mut c = ClientConfig::new("127.0.0.1:8021", "ClueCon");
            f(&mut c);
            match c.validate() {
                Err(EslError::Config { key, .. }) => Some(key),
                _ => None,
            }
        };
        assert_eq!(key(|_| {}), None);
        assert_eq!(key(|c| c.password = "a\nb".into()), Some("password"));
        assert_eq!(key(|c| c.password.clear()), Some("password"));
        assert_eq!(key(|c| c.events.clear()), Some("events"));
        assert_eq!(key(|c| c.events = vec!["A B".into()]), Some("events"));
        assert_eq!(
            key(|c| c.log_level = Some("LOUD".into())),
            Some("log_level")
        );
        assert_eq!(key(|c| c.log_level = Some("info".into())), None);
        assert_eq!(key(|c| c.log_level = Some("7".into())), None);
        assert_eq!(
            key(|c| c.keepalive_interval = c.idle_timeout),
            Some("keepalive_interval")
        );
        assert_eq!(key(|c| c.address.clear()), Some("address"));
        assert_eq!(key(|c| c.backoff.initial = Duration::ZERO), Some("backoff"));
    }

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        let b = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
        };
        for _ in 0..50 {
            let d1 = b.delay(1);
            assert!(d1 >= Duration::from_millis(500) && d1 <= Duration::from_secs(1));
            let d4 = b.delay(4);
            assert!(d4 >= Duration::from_secs(4) && d4 <= Duration::from_secs(8));
            let d_far = b.delay(u32::MAX);
            assert!(d_far >= Duration::from_secs(15) && d_far <= Duration::from_secs(30));
            let c = b.capped();
            assert!(c >= Duration::from_secs(15) && c <= Duration::from_secs(30));
        }
    }

    #[test]
    fn subscribe_command_format() {
        let mut c = ClientConfig::new("h:1", "p");
        c.format = EventFormat::Plain;
        c.events = vec![
            "CHANNEL_CREATE".into(),
            "CUSTOM".into(),
            "sofia::register".into(),
        ];
        assert_eq!(
            c.subscribe_command(),
            "event plain CHANNEL_CREATE CUSTOM sofia::register\n\n"
        );
    }
}
