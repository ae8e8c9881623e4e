//! The inbound client against an in-process ESL server on a loopback port that
//! speaks the inbound protocol and replays the recorded FreeSWITCH streams.
#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use callweave_esl::{
    Backoff, ClientConfig, ClientOutput, DEFAULT_EVENTS, DisconnectReason, ErrorKind, EslError,
    Event, EventFormat, Framer, SkipReason, StateChange,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::timeout;

const LIVE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/freeswitch-live"
);
const WAIT: Duration = Duration::from_secs(5);
const PASSWORD: &str = "ClueCon";

/// A recorded dump split into its handshake (auth/request and the two
/// replies, which carry no body) and the event stream after it.
struct Dump {
    stream: Vec<u8>,
    events: Vec<Event>,
}

fn dump(set: &str, format: &str) -> Dump {
    let raw = std::fs::read(format!("{LIVE}/{set}/esl_{format}.raw")).unwrap();
    let mut at = 0;
    for _ in 0..3 {
        at += raw[at..].windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    }
    assert!(raw[at..].starts_with(b"Content-Length: "));
    let stream = raw[at..].to_vec();
    let events = complete_events(&stream);
    Dump { stream, events }
}

/// The events whose frames are complete in `bytes`.
fn complete_events(bytes: &[u8]) -> Vec<Event> {
    let mut framer = Framer::default();
    framer.push(bytes);
    let mut events = Vec::new();
    while let Some(frame) = framer.next_frame().unwrap() {
        events.push(Event::from_frame(&frame).unwrap());
    }
    events
}

fn event_frame(json: &str) -> Vec<u8> {
    format!(
        "Content-Length: {}\nContent-Type: text/event-json\n\n{json}",
        json.len()
    )
    .into_bytes()
}

const MARKER: &str = r#"{"Event-Name":"HEARTBEAT","Core-UUID":"24d73ca1-46f5-4366-9efe-e16c8d8900f6","Event-Sequence":"1"}"#;

struct Server {
    listener: TcpListener,
}

impl Server {
    async fn bind() -> (Server, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        (Server { listener }, addr)
    }

    async fn accept(&self) -> Peer {
        let (stream, _) = timeout(WAIT, self.listener.accept())
            .await
            .expect("client did not connect")
            .unwrap();
        Peer {
            stream,
            buf: Vec::new(),
        }
    }
}

struct Peer {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Peer {
    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Sends, ignoring errors: the client may reset the connection mid-write.
    async fn send_lossy(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// The next command, without its terminating empty line.
    async fn command(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let cmd = String::from_utf8(self.buf[..i].to_vec()).unwrap();
                self.buf.drain(..i + 2);
                return cmd;
            }
            let mut chunk = [0u8; 4096];
            let n = timeout(WAIT, self.stream.read(&mut chunk))
                .await
                .expect("no command from the client")
                .unwrap();
            assert!(n > 0, "client closed while we waited for a command");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The inbound handshake as FreeSWITCH does it; returns the `event` command.
    async fn login(&mut self) -> String {
        self.send(b"Content-Type: auth/request\n\n").await;
        assert_eq!(self.command().await, format!("auth {PASSWORD}"));
        self.send(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
            .await;
        let sub = self.command().await;
        let format = sub.split(' ').nth(1).unwrap().to_owned();
        self.send(
            format!(
                "Content-Type: command/reply\nReply-Text: +OK event listener enabled {format}\n\n"
            )
            .as_bytes(),
        )
        .await;
        sub
    }
}

fn config(addr: &str) -> ClientConfig {
    let mut c = ClientConfig::new(addr, PASSWORD);
    c.name = "fs-test".into();
    c.connect_timeout = Duration::from_secs(2);
    c.idle_timeout = Duration::from_secs(10);
    c.keepalive_interval = Duration::from_secs(5);
    c.backoff = Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(50),
    };
    c
}

struct Client {
    rx: mpsc::Receiver<ClientOutput>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Client {
    fn start(config: ClientConfig, capacity: usize) -> Client {
        let (tx, rx) = mpsc::channel(capacity);
        let (stop, shutdown) = watch::channel(false);
        let client = callweave_esl::EslClient::new(config).unwrap();
        let task = tokio::spawn(client.run(tx, shutdown));
        Client { rx, stop, task }
    }

    async fn next(&mut self) -> ClientOutput {
        timeout(WAIT, self.rx.recv())
            .await
            .expect("no output from the client")
            .expect("client ended")
    }

    async fn state(&mut self) -> StateChange {
        match self.next().await {
            ClientOutput::State(s) => s,
            other => panic!("expected a state change, got {other:?}"),
        }
    }

    async fn event(&mut self) -> Event {
        match self.next().await {
            ClientOutput::Event(e) => e,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    async fn disconnected(&mut self) -> DisconnectReason {
        match self.state().await {
            StateChange::Disconnected { reason } => reason,
            other => panic!("expected Disconnected, got {other:?}"),
        }
    }

    async fn reconnecting(&mut self) -> Duration {
        match self.state().await {
            StateChange::Reconnecting { delay, .. } => delay,
            other => panic!("expected Reconnecting, got {other:?}"),
        }
    }

    async fn stop(mut self) {
        self.stop.send(true).unwrap();
        timeout(WAIT, &mut self.task)
            .await
            .expect("client did not stop")
            .unwrap();
    }
}

async fn replay_and_receive(format: EventFormat, set: &str, capacity: usize, slow: bool) {
    let d = dump(set, format.as_str());
    let (server, addr) = Server::bind().await;
    let mut cfg = config(&addr);
    cfg.format = format;
    let mut client = Client::start(cfg, capacity);
    let mut peer = server.accept().await;
    let sub = peer.login().await;
    assert_eq!(
        sub,
        format!("event {} {}", format.as_str(), DEFAULT_EVENTS.join(" "))
    );
    assert_eq!(client.state().await, StateChange::Connected);
    let stream = d.stream.clone();
    let writer = tokio::spawn(async move {
        peer.send(&stream).await;
        peer
    });
    let mut got = Vec::new();
    while got.len() < d.events.len() {
        got.push(client.event().await);
        if slow && got.len() % 8 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    assert_eq!(got, d.events);
    let _peer = writer.await.unwrap();
    assert!(client.rx.try_recv().is_err(), "nothing beyond the dump");
    client.stop().await;
}

#[tokio::test]
async fn good_password_delivers_every_recorded_json_event() {
    // 232 events after the 3 handshake frames of set 01 (235 frames).
    let d = dump("01-bridged-callid-random", "json");
    assert_eq!(d.events.len(), 232);
    replay_and_receive(EventFormat::Json, "01-bridged-callid-random", 64, false).await;
}

#[tokio::test]
async fn good_password_delivers_every_recorded_plain_event() {
    let d = dump("03-bleg-busy-486", "plain");
    assert_eq!(d.events.len(), 98);
    replay_and_receive(EventFormat::Plain, "03-bleg-busy-486", 64, false).await;
}

#[tokio::test]
async fn slow_consumer_loses_nothing() {
    // Capacity 1 and a consumer that keeps pausing: the client must wait on
    // the channel (and stop reading the socket) rather than drop or buffer.
    replay_and_receive(EventFormat::Json, "01-bridged-callid-random", 1, true).await;
}

/// Captures `tracing` output of the current thread.
#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn bad_password_reports_auth_failed_and_retries_at_the_cap() {
    let logs = LogBuf::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (server, addr) = Server::bind().await;
    let mut cfg = config(&addr);
    cfg.password = "Wr0ngSecret".into();
    let mut client = Client::start(cfg.clone(), 16);
    for attempt in 0..3 {
        let mut peer = server.accept().await;
        peer.send(b"Content-Type: auth/request\n\n").await;
        assert_eq!(peer.command().await, "auth Wr0ngSecret");
        peer.send(b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n")
            .await;
        drop(peer);
        assert_eq!(
            client.state().await,
            StateChange::AuthFailed {
                reply: "-ERR invalid".into()
            },
            "attempt {attempt}"
        );
        assert_eq!(client.disconnected().await, DisconnectReason::AuthFailed);
        let delay = client.reconnecting().await;
        assert!(
            delay >= cfg.backoff.max / 2 && delay <= cfg.backoff.max,
            "{delay:?}"
        );
    }
    client.stop().await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        !text.contains("Wr0ngSecret"),
        "password leaked into logs:\n{text}"
    );
    let errors: Vec<_> = text
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("authentication failed"))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "one clear error per failure streak:\n{text}"
    );
    assert!(errors[0].contains("fs-test"), "{}", errors[0]);
}

#[tokio::test]
async fn rude_rejection_then_reconnect() {
    let (server, addr) = Server::bind().await;
    let mut client = Client::start(config(&addr), 16);
    let mut peer = server.accept().await;
    peer.send(
        b"Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n",
    )
    .await;
    drop(peer);
    assert_eq!(
        client.state().await,
        StateChange::RudeRejection {
            text: "Access Denied, go away.".into()
        }
    );
    assert_eq!(client.disconnected().await, DisconnectReason::RudeRejection);
    client.reconnecting().await;

    // The ACL got fixed: the next attempt works.
    let mut peer = server.accept().await;
    peer.login().await;
    assert_eq!(client.state().await, StateChange::Connected);
    peer.send(&event_frame(MARKER)).await;
    assert_eq!(client.event().await.name(), Some("HEARTBEAT"));
    client.stop().await;
}

#[tokio::test]
async fn rejected_subscription_reconnects() {
    let (server, addr) = Server::bind().await;
    let mut cfg = config(&addr);
    cfg.events = vec![
        "CHANNEL_CREATE".into(),
        "CUSTOM".into(),
        "sofia::register".into(),
    ];
    cfg.format = EventFormat::Plain;
    let mut client = Client::start(cfg, 16);
    let mut peer = server.accept().await;
    peer.send(b"Content-Type: auth/request\n\n").await;
    peer.command().await;
    peer.send(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
        .await;
    assert_eq!(
        peer.command().await,
        "event plain CHANNEL_CREATE CUSTOM sofia::register"
    );
    peer.send(b"Content-Type: command/reply\nReply-Text: -ERR no keywords supplied\n\n")
        .await;
    assert_eq!(
        client.disconnected().await,
        DisconnectReason::CommandRejected {
            command: "event".into(),
            reply: "-ERR no keywords supplied".into()
        }
    );
    client.reconnecting().await;
    let mut peer = server.accept().await;
    peer.login().await;
    assert_eq!(client.state().await, StateChange::Connected);
    client.stop().await;
}

#[tokio::test]
async fn server_drop_mid_frame_discards_the_partial_frame_and_reconnects() {
    let d = dump("01-bridged-callid-random", "json");
    let cut = 50_000;
    let before = complete_events(&d.stream[..cut]);
    assert!(before.len() > 5 && before.len() < d.events.len());

    let (server, addr) = Server::bind().await;
    let mut client = Client::start(config(&addr), 64);
    let mut peer = server.accept().await;
    peer.login().await;
    assert_eq!(client.state().await, StateChange::Connected);
    peer.send(&d.stream[..cut]).await;
    drop(peer);
    for want in &before {
        assert_eq!(&client.event().await, want);
    }
    match client.disconnected().await {
        DisconnectReason::Closed {
            partial_frame_bytes,
        } => assert!(partial_frame_bytes > 0),
        other => panic!("{other:?}"),
    }
    client.reconnecting().await;

    let mut peer = server.accept().await;
    peer.login().await;
    assert_eq!(client.state().await, StateChange::Connected);
    peer.send(&d.stream).await;
    for want in &d.events {
        assert_eq!(&client.event().await, want);
    }
    client.stop().await;
}

#[tokio::test]
async fn silence_sends_keepalives_then_reconnects() {
    let (server, addr) = Server::bind().await;
    let mut cfg = config(&addr);
    cfg.idle_timeout = Duration::from_millis(400);
    cfg.keepalive_interval = Duration::from_millis(100);
    let mut client = Client::start(cfg, 16);
    let mut peer = server.accept().await;
    peer.login().await;
    assert_eq!(client.state().await, StateChange::Connected);
    // The probe arrives; a dead server does not answer it.
    assert_eq!(peer.command().await, "api status");
    assert_eq!(client.disconnected().await, DisconnectReason::IdleTimeout);
    client.reconnecting().await;
    let mut peer2 = server.accept().await;
    peer2.login().await;
    assert_eq!(client.state().await, StateChange::Connected);
    drop(peer);
    client.stop().await;
}

#[tokio::test]
async fn answered_keepalives_keep_a_quiet_connection() {
    let (server, addr) = Server::bind().await;
    let mut cfg = config(&addr);
    cfg.idle_timeout = Duration::from_millis(300);
    cfg.keepalive_interval = Duration::from_millis(100);
    let mut client = Client::start(cfg, 16);
    let mut peer = server.accept().await;
    peer.login().await;
    assert_eq!(client.state().await, StateChange::Connected);
    let answer = b"Content-Type: api/response\nContent-Length: 20\n\nUP 0 years, 0 days\n\n";
    for _ in 0..8 {
        assert_eq!(peer.command().await, "api status");
        peer.send(answer).await;
    }
    // ~800 ms of answered probes, well past the 300 ms idle timeout.
    assert!(client.rx.try_recv().is_err(), "no disconnect, no output");
    peer.send(&event_frame(MARKER)).await;
    assert_eq!(client.event().await.name(), Some("HEARTBEAT"));
    client.stop().await;
}

#[tokio::test]
async fn log_lines_and_late_log_reply() {
    let (server, addr) = Server::bind().await;
    let mut cfg = config(&addr);
    cfg.log_level = Some("INFO".into());
    let mut client = Client::start(cfg, 16);
    let mut peer = server.accept().await;
    peer.login().await;
    assert_eq!(client.state().await, StateChange::Connected);
    assert_eq!(peer.command().await, "log INFO");
    // Events already flow before the reply to `log` arrives.
    peer.send(&event_frame(MARKER)).await;
    peer.send(b"Content-Type: command/reply\nReply-Text: +OK log level INFO [6]\n\n")
        .await;
    let line = "2026-11-26 03:24:30.521047 98.63% [NOTICE] switch_channel.c:1142 New Channel sofia/b2bua/sipp@127.0.0.1:5072 [d9e73608-5048-4523-aded-4dc2c3f91498]\n";
    let frame = format!(
        "Content-Type: log/data\nContent-Length: {}\nLog-Level: 5\nText-Channel: 3\nLog-File: switch_channel.c\nLog-Func: switch_channel_set_name\nLog-Line: 1142\nUser-Data: d9e73608-5048-4523-aded-4dc2c3f91498\n\n{line}",
        line.len()
    );
    peer.send(frame.as_bytes()).await;
    assert_eq!(client.event().await.name(), Some("HEARTBEAT"));
    match client.next().await {
        ClientOutput::Log(log) => {
            assert_eq!(log.level, 5);
            assert_eq!(log.line, 1142);
            assert_eq!(
                log.user_data.as_deref(),
                Some("d9e73608-5048-4523-aded-4dc2c3f91498")
            );
            assert_eq!(log.body, line);
        }
        other => panic!("{other:?}"),
    }
    client.stop().await;
}

/// Logs in, sends a good event, then `bad`; expects the good event, then a
/// reset for `expect`, then a working second connection.
async fn bad_input_resets(
    bad: Vec<u8>,
    expect: fn(&DisconnectReason) -> bool,
) -> Vec<ClientOutput> {
    let (server, addr) = Server::bind().await;
    let mut client = Client::start(config(&addr), 16);
    let mut peer = server.accept().await;
    peer.login().await;
    assert_eq!(client.state().await, StateChange::Connected);
    peer.send(&event_frame(MARKER)).await;
    assert_eq!(client.event().await.name(), Some("HEARTBEAT"));
    let writer = tokio::spawn(async move {
        peer.send_lossy(&bad).await;
        // Keep the socket open: the client must reset on its own.
        tokio::time::sleep(Duration::from_secs(3)).await;
    });

    let mut before = Vec::new();
    let reason = loop {
        match client.next().await {
            ClientOutput::State(StateChange::Disconnected { reason }) => break reason,
            other => before.push(other),
        }
    };
    assert!(expect(&reason), "unexpected reason {reason:?}");
    client.reconnecting().await;
    let mut peer = server.accept().await;
    peer.login().await;
    assert_eq!(client.state().await, StateChange::Connected);
    peer.send(&event_frame(MARKER)).await;
    assert_eq!(client.event().await.name(), Some("HEARTBEAT"));
    writer.abort();
    client.stop().await;
    before
}

fn framing(kind: ErrorKind) -> impl Fn(&DisconnectReason) -> bool {
    move |r| matches!(r, DisconnectReason::Framing(e) if e.kind() == Some(kind))
}

#[tokio::test]
async fn lying_content_length_skips_the_event_and_resets() {
    let d = dump("01-bridged-callid-random", "json");
    // The first recorded event, claiming 40 bytes more than it has, followed
    // by the rest of the recording.
    let first_len: usize = std::str::from_utf8(&d.stream[16..24])
        .unwrap()
        .split('\n')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(first_len, 850);
    let mut bad = d.stream.clone();
    bad.splice(16..19, b"890".iter().copied());
    let before = bad_input_resets(bad, |r| {
        matches!(
            r,
            DisconnectReason::OutOfSync | DisconnectReason::Framing(_)
        )
    })
    .await;
    match &before[..] {
        [ClientOutput::Skipped(s)] => {
            assert_eq!(s.label(), "trailing_data");
            assert!(matches!(
                &s.reason,
                SkipReason::Decode(EslError::Decode {
                    kind: ErrorKind::TrailingData,
                    ..
                })
            ));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn header_block_that_never_ends_hits_the_limit() {
    let mut bad = b"Content-Type: text/event-json\n".to_vec();
    while bad.len() < 80 * 1024 {
        bad.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
    }
    let before = bad_input_resets(bad, |r| framing(ErrorKind::HeaderTooLarge)(r)).await;
    assert!(before.is_empty());
}

#[tokio::test]
async fn binary_junk_resets() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let bad: Vec<u8> = (0..100 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let before = bad_input_resets(bad, |r| {
        matches!(
            r,
            DisconnectReason::Framing(_) | DisconnectReason::OutOfSync
        )
    })
    .await;
    // Junk never decodes into an event.
    assert!(before.iter().all(|o| !matches!(o, ClientOutput::Event(_))));
}

#[tokio::test]
async fn ten_megabyte_body_is_refused_before_it_is_buffered() {
    let len = 10 * 1024 * 1024;
    let mut bad = format!("Content-Length: {len}\nContent-Type: text/event-json\n\n").into_bytes();
    bad.extend(std::iter::repeat_n(b'x', len));
    let before = bad_input_resets(bad, |r| framing(ErrorKind::BodyTooLarge)(r)).await;
    assert!(before.is_empty());
}

#[tokio::test]
async fn unknown_content_type_is_skipped_and_the_connection_stays() {
    let (server, addr) = Server::bind().await;
    let mut client = Client::start(config(&addr), 16);
    let mut peer = server.accept().await;
    peer.login().await;
    assert_eq!(client.state().await, StateChange::Connected);
    peer.send(b"Content-Type: text/x-future\nContent-Length: 5\n\nhello")
        .await;
    peer.send(b"Content-Type: text/event-xml\nContent-Length: 8\n\n<event/>")
        .await;
    peer.send(&event_frame(MARKER)).await;
    match client.next().await {
        ClientOutput::Skipped(s) => {
            assert_eq!(s.content_type.as_str(), "text/x-future");
            assert_eq!(s.reason, SkipReason::UnknownContentType);
            assert_eq!(s.label(), "unknown_content_type");
        }
        other => panic!("{other:?}"),
    }
    match client.next().await {
        ClientOutput::Skipped(s) => assert_eq!(s.label(), "xml_event"),
        other => panic!("{other:?}"),
    }
    assert_eq!(client.event().await.name(), Some("HEARTBEAT"));
    client.stop().await;
}

#[tokio::test]
async fn disconnect_notice_and_refused_connections_reconnect() {
    let (server, addr) = Server::bind().await;
    let mut client = Client::start(config(&addr), 16);
    let mut peer = server.accept().await;
    peer.login().await;
    // The server goes away after this connection: later connects are refused.
    drop(server);
    assert_eq!(client.state().await, StateChange::Connected);
    peer.send(b"Content-Type: text/disconnect-notice\nContent-Length: 14\n\nDisconnected.\n")
        .await;
    assert_eq!(
        client.disconnected().await,
        DisconnectReason::DisconnectNotice
    );
    client.reconnecting().await;
    drop(peer);
    // Refused connects, with a growing delay.
    let mut delays = Vec::new();
    for _ in 0..4 {
        match client.disconnected().await {
            DisconnectReason::ConnectFailed(_) => {}
            other => panic!("{other:?}"),
        }
        delays.push(client.reconnecting().await);
    }
    assert!(delays.iter().all(|d| *d <= Duration::from_millis(50)));
    assert!(delays[3] >= Duration::from_millis(25), "{delays:?}");
    client.stop().await;
}

#[tokio::test]
async fn shutdown_while_the_consumer_is_blocked() {
    let d = dump("01-bridged-callid-random", "json");
    let (server, addr) = Server::bind().await;
    let client = Client::start(config(&addr), 1);
    let mut peer = server.accept().await;
    peer.login().await;
    let writer = tokio::spawn(async move {
        peer.send_lossy(&d.stream).await;
        peer
    });
    // Nobody reads: the client is stuck in send().await. Stop must still work.
    tokio::time::sleep(Duration::from_millis(100)).await;
    client.stop().await;
    writer.abort();
    let _ = writer.await;
    let _ = std::io::stdout().flush();
}
