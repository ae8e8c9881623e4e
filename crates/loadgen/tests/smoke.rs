//! Short real runs against local sockets: what the report says was sent is
//! exactly what arrived, and what arrived is well-formed HEP/SIP/ESL.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use callweave_esl::{ContentType, Event, Framer, FramerConfig};
use callweave_loadgen::scenario::{a_leg_call_id, b_leg_uuid, call_serial};
use callweave_loadgen::{RunConfig, Transport, run};

/// What a receiver saw, decoded.
#[derive(Default)]
struct Seen {
    packets: u64,
    bytes: u64,
    invites_a: HashSet<String>,
    /// B-leg Call-ID -> its X-CID.
    xcid: HashMap<String, String>,
    statuses: HashMap<u16, u64>,
    methods: HashMap<String, u64>,
}

impl Seen {
    fn add(&mut self, datagram: &[u8]) {
        self.packets += 1;
        self.bytes += datagram.len() as u64;
        let p = callweave_hep::decode(bytes::Bytes::copy_from_slice(datagram)).unwrap();
        assert!(p.is_sip());
        assert_eq!(p.capture_id, Some(200));
        assert!(p.ts_sec > 1_600_000_000, "capture time is stamped");
        let msg = callweave_sip::parse(&p.payload).unwrap();
        let call_id = msg.call_id.to_owned();
        match msg.status_code() {
            Some(code) => *self.statuses.entry(code).or_default() += 1,
            None => {
                let method = msg.method().unwrap().as_str().to_owned();
                if method == "INVITE" {
                    if call_id.ends_with("-a@192.0.2.10") {
                        assert!(
                            self.invites_a.insert(call_id.clone()),
                            "Call-IDs are unique"
                        );
                    } else {
                        let x = msg.header("X-CID").unwrap().to_owned();
                        assert_eq!(msg.correlation_id, Some(x.as_str()));
                        self.xcid.insert(call_id.clone(), x);
                    }
                    assert!(p.payload.len() > 900, "INVITE with SDP is about 1 kB");
                }
                *self.methods.entry(method).or_default() += 1;
            }
        }
    }
}

/// A loopback UDP socket with a receive buffer large enough that a receiver
/// thread starved by a busy machine does not lose datagrams.
fn udp_sink() -> UdpSocket {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    let _ = s.set_recv_buffer_size(8 << 20);
    s.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    s.into()
}

fn udp_receive_until_quiet(sock: &UdpSocket) -> Seen {
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut seen = Seen::default();
    let mut buf = vec![0u8; 65_536];
    while let Ok(n) = sock.recv(&mut buf) {
        seen.add(&buf[..n]);
    }
    seen
}

#[test]
fn udp_counts_match_what_arrived() {
    let sock = udp_sink();
    let target = sock.local_addr().unwrap();
    let receiver = std::thread::spawn(move || udp_receive_until_quiet(&sock));
    let mut cfg = RunConfig::new(target, Transport::Udp, 1000.0);
    cfg.duration = Duration::from_secs(1);
    cfg.concurrency = 20;
    cfg.run_id = 7;
    let report = run(&cfg).unwrap();
    let seen = receiver.join().unwrap();

    assert_eq!(report.send_errors, 0);
    assert_eq!(seen.packets, report.messages);
    assert_eq!(seen.bytes, report.bytes);
    assert!(
        report.messages >= 900 && report.messages <= 1000,
        "{}",
        report.messages
    );
    assert_eq!(report.requests + report.responses, report.messages);
    let requests: u64 = seen.methods.values().sum();
    assert_eq!(requests, report.requests);
    assert_eq!(seen.invites_a.len() as u64, report.calls_started);
    // Every B leg names its A leg, and the A leg exists. The B INVITE is a
    // call's third message, so calls started in the last sends may lack one.
    let b_legs = seen.xcid.len() as u64;
    assert!(b_legs <= report.calls_started && b_legs + 20 >= report.calls_started);
    for (b, a) in &seen.xcid {
        assert!(seen.invites_a.contains(a), "{b} -> {a}");
        assert_eq!(b.replace("-b@192.0.2.1", "-a@192.0.2.10"), *a);
    }
    // The mix: busy and cancelled calls are there.
    assert!(seen.statuses.get(&486).copied().unwrap_or(0) > 0);
    assert!(seen.statuses.get(&487).copied().unwrap_or(0) > 0);
    assert!(seen.methods.get("CANCEL").copied().unwrap_or(0) > 0);
    assert!(seen.methods.get("BYE").copied().unwrap_or(0) > 0);
    // Samples are real Call-IDs of this run.
    assert_eq!(report.sample_call_ids[0], a_leg_call_id(call_serial(7, 0)));
    for id in &report.sample_call_ids {
        assert!(seen.invites_a.contains(id), "{id}");
    }
}

#[test]
fn plain_send_and_max_calls_stop_early() {
    let sock = udp_sink();
    let target = sock.local_addr().unwrap();
    let receiver = std::thread::spawn(move || udp_receive_until_quiet(&sock));
    let mut cfg = RunConfig::new(target, Transport::Udp, 2000.0);
    cfg.duration = Duration::from_secs(5);
    cfg.batch = 1;
    cfg.open_calls = true;
    cfg.max_calls = Some(30);
    cfg.threads = 2;
    let report = run(&cfg).unwrap();
    let seen = receiver.join().unwrap();
    // Open calls: 10 messages each, no BYE.
    assert_eq!(report.calls_started, 30);
    assert_eq!(report.calls_completed, 30);
    assert_eq!(report.messages, 300);
    assert_eq!(seen.packets, 300);
    assert_eq!(seen.methods.get("BYE"), None);
    assert_eq!(seen.invites_a.len(), 30);
    assert!(report.elapsed_s < 2.0, "stopped at the call limit");
}

#[test]
fn tcp_stream_frames_every_packet() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let receiver = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut framer = callweave_hep::TcpFramer::new();
        let mut seen = Seen::default();
        let mut buf = vec![0u8; 65_536];
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            framer.push(&buf[..n]);
            while let Some(p) = framer.next_packet().unwrap() {
                seen.add(&p);
            }
        }
        seen
    });
    let mut cfg = RunConfig::new(target, Transport::Tcp, 500.0);
    cfg.duration = Duration::from_millis(600);
    let report = run(&cfg).unwrap();
    let seen = receiver.join().unwrap();
    assert_eq!(report.transport, "tcp");
    assert_eq!(seen.packets, report.messages);
    assert_eq!(seen.bytes, report.bytes);
    assert!(report.messages > 200);
}

#[test]
fn esl_subscriber_gets_events_for_the_same_calls() {
    let sink = udp_sink();
    let target = sink.local_addr().unwrap();
    let receiver = std::thread::spawn(move || udp_receive_until_quiet(&sink));
    // Find a free port for the event socket.
    let esl_addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut cfg = RunConfig::new(target, Transport::Udp, 1000.0);
    cfg.duration = Duration::from_millis(800);
    cfg.concurrency = 10;
    cfg.run_id = 9;
    cfg.esl_listen = Some(esl_addr);
    cfg.esl_wait = Duration::from_secs(10);
    let gen_thread = std::thread::spawn(move || run(&cfg).unwrap());

    let mut stream = loop {
        match TcpStream::connect(esl_addr) {
            Ok(s) => break s,
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut framer = Framer::new(FramerConfig::default());
    let mut buf = vec![0u8; 65_536];
    let mut next = |stream: &mut TcpStream, framer: &mut Framer| loop {
        if let Some(f) = framer.next_frame().unwrap() {
            return Some(f);
        }
        let n = stream.read(&mut buf).unwrap_or(0);
        if n == 0 {
            return None;
        }
        framer.push(&buf[..n]);
    };
    let greeting = next(&mut stream, &mut framer).unwrap();
    assert_eq!(greeting.content_type, ContentType::AuthRequest);
    stream.write_all(b"auth ClueCon\n\n").unwrap();
    let reply = next(&mut stream, &mut framer).unwrap();
    assert_eq!(reply.reply_text(), Some("+OK accepted"));
    stream
        .write_all(
            b"event json CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_HANGUP_COMPLETE\n\n",
        )
        .unwrap();
    let reply = next(&mut stream, &mut framer).unwrap();
    assert_eq!(reply.reply_text(), Some("+OK event listener enabled json"));

    let mut names: HashMap<String, u64> = HashMap::new();
    let mut b_leg_other = 0;
    let mut a_creates = 0;
    while let Some(frame) = next(&mut stream, &mut framer) {
        assert_eq!(frame.content_type, ContentType::EventJson);
        let ev = Event::from_frame(&frame).unwrap();
        let name = ev.name().unwrap().to_owned();
        let uuid = ev.unique_id().unwrap().to_owned();
        let call_id = ev.sip_call_id().unwrap().to_owned();
        assert!(call_id.starts_with("lg-00090000"), "{call_id}");
        if uuid.starts_with("0b0b0b0b") && name == "CHANNEL_CREATE" {
            assert_eq!(
                ev.other_leg_unique_id()
                    .unwrap()
                    .replace("0a0a0a0a", "0b0b0b0b"),
                uuid
            );
            b_leg_other += 1;
        }
        if uuid.starts_with("0a0a0a0a") && name == "CHANNEL_CREATE" {
            a_creates += 1;
        }
        *names.entry(name).or_default() += 1;
    }
    let report = gen_thread.join().unwrap();
    let _ = receiver.join().unwrap();
    let esl = report.esl.unwrap();
    assert!(esl.subscribed);
    assert_eq!(esl.dropped, 0);
    assert_eq!(names.values().sum::<u64>(), esl.events);
    // One A-leg CHANNEL_CREATE per call started, with its INVITE.
    assert_eq!(a_creates, report.calls_started);
    assert_eq!(names["CHANNEL_CREATE"], a_creates + b_leg_other);
    assert!(b_leg_other + 10 >= report.calls_started);
    assert!(names["CHANNEL_HANGUP_COMPLETE"] > 0);
    assert!(names["CHANNEL_BRIDGE"] > 0);
    assert_eq!(
        b_leg_uuid(call_serial(9, 0)),
        "0b0b0b0b-0000-4000-8000-000900000000"
    );
}
