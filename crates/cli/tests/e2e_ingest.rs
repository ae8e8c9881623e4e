//! End to end on the HEP listeners: auth keys, bad input over UDP and TCP, legacy
//! HEP, compressed HEP, health endpoints. Every bad packet is counted by reason and
//! the listener keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use callweave_hep::HepBuilder;
use support::*;

const OPTIONS: &str = "OPTIONS sip:100@10.0.0.2 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-77\r\n\
    From: <sip:probe@10.0.0.1>;tag=1\r\n\
    To: <sip:100@10.0.0.2>\r\n\
    Call-ID: e2e-options-1\r\n\
    CSeq: 1 OPTIONS\r\n\
    Content-Length: 0\r\n\r\n";

fn hep(key: Option<&str>) -> Vec<u8> {
    let mut b = HepBuilder::sip(OPTIONS.as_bytes().to_vec())
        .src("10.0.0.1:5060".parse().unwrap())
        .dst("10.0.0.2:5060".parse().unwrap())
        .timestamp(1_700_000_000, 0)
        .capture_id(7);
    if let Some(k) = key {
        b = b.auth_key(k.as_bytes().to_vec());
    }
    b.build().encode_to_vec().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_key_is_enforced_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let agent = {
        let toml = format!(
            "[hep]\nudp = [\"127.0.0.1:0\"]\ntcp = []\nauth_key = \"s3cret\"\n\
             [http]\nlisten = \"127.0.0.1:0\"\n[store]\ndata_dir = {:?}\n",
            dir.path().display().to_string()
        );
        let settings = callweave_agent::config::Config::from_toml(&toml)
            .unwrap()
            .build()
            .unwrap();
        callweave_agent::start(settings).await.unwrap()
    };
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = agent.hep_udp[0];
    sock.send_to(&hep(Some("s3cret")), to).unwrap();
    sock.send_to(&hep(None), to).unwrap();
    sock.send_to(&hep(Some("wrong")), to).unwrap();
    sock.send_to(&hep(Some("s3cret")), to).unwrap();
    let m = wait_metrics(agent.http, Duration::from_secs(10), |m| {
        sum(m, "callweave_hep_packets_total", &[]) >= 4.0
    })
    .await;
    assert_eq!(sum(&m, "callweave_sip_messages_total", &["OPTIONS"]), 2.0);
    assert_eq!(
        sum(
            &m,
            "callweave_hep_decode_errors_total",
            &["reason=\"auth\""]
        ),
        2.0
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_udp_input_is_counted_and_the_listener_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent("", dir.path()).await;
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = agent.hep_udp[0];
    let good = hep(None);

    let mut bad: Vec<Vec<u8>> = vec![
        b"garbage that is not HEP at all".to_vec(),
        vec![0u8; 1],
        good[..good.len() - 5].to_vec(), // truncated: declared length lies
        b"HEP3\x00\x06".to_vec(),        // header only, no payload
    ];
    // A zero-length chunk inside an otherwise fine packet.
    let mut zero = good.clone();
    zero[10..12].copy_from_slice(&[0, 0]);
    bad.push(zero);
    // A zlib bomb: 1 MiB of zeros compressed into the 0x10 chunk.
    let bomb = HepBuilder::sip(vec![b'A'; 1 << 20])
        .compressed(true)
        .build()
        .encode_to_vec()
        .unwrap();
    assert!(bomb.len() < 65_000, "bomb must fit a datagram");
    bad.push(bomb);
    // SIP-looking HEP whose payload is not SIP.
    bad.push(
        HepBuilder::sip(b"\x01\x02 not a sip message".to_vec())
            .build()
            .encode_to_vec()
            .unwrap(),
    );
    for b in &bad {
        sock.send_to(b, to).unwrap();
    }
    sock.send_to(&good, to).unwrap();
    let total = bad.len() as f64 + 1.0;
    let m = wait_metrics(agent.http, Duration::from_secs(10), |m| {
        sum(m, "callweave_hep_packets_total", &[]) >= total
    })
    .await;
    assert_eq!(sum(&m, "callweave_hep_packets_total", &[]), total);
    assert_eq!(
        sum(&m, "callweave_hep_decode_errors_total", &[]),
        bad.len() as f64,
        "every bad packet counted: {m:?}"
    );
    for reason in ["bad_magic", "payload_too_large", "sip_parse"] {
        assert!(
            sum(
                &m,
                "callweave_hep_decode_errors_total",
                &[&format!("reason=\"{reason}\"")]
            ) >= 1.0,
            "reason {reason} missing: {m:?}"
        );
    }
    assert_eq!(sum(&m, "callweave_sip_messages_total", &[]), 1.0);
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_garbage_closes_only_that_connection_and_keeps_earlier_packets() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent("", dir.path()).await;
    let to = agent.hep_tcp[0];
    let good = hep(None);
    let addr = agent.http;
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(to).unwrap();
        // Two good packets, one split across writes, then garbage, then a good one
        // that must not be counted (the connection is closed at the garbage).
        s.write_all(&good).unwrap();
        s.write_all(&good[..20]).unwrap();
        s.flush().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        s.write_all(&good[20..]).unwrap();
        s.write_all(b"HEP3\x00\x02junk").unwrap();
        let _ = s.write_all(&good);
        drop(s);
        // A new connection is served normally.
        let mut s2 = TcpStream::connect(to).unwrap();
        s2.write_all(&good).unwrap();
    })
    .await
    .unwrap();
    let m = wait_metrics(addr, Duration::from_secs(10), |m| {
        sum(m, "callweave_sip_messages_total", &[]) >= 3.0
            && sum(m, "callweave_hep_decode_errors_total", &[]) >= 1.0
    })
    .await;
    assert_eq!(sum(&m, "callweave_sip_messages_total", &[]), 3.0, "{m:?}");
    assert_eq!(
        sum(
            &m,
            "callweave_hep_decode_errors_total",
            &["reason=\"bad_length\""]
        ),
        1.0,
        "{m:?}"
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_and_compressed_hep_are_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent("", dir.path()).await;
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    // HEPv1 and HEPv3 samples from heplify-server's tests.
    for f in [
        "hep/heplifyserver_hep1_sip200ok_options.bin",
        "hep/heplifyserver_hep3_sip200ok_options.bin",
    ] {
        sock.send_to(&std::fs::read(testdata(f)).unwrap(), agent.hep_udp[0])
            .unwrap();
    }
    // A capture of zlib-compressed HEP3, forwarded as-is by replay.
    let path = testdata("hep/hepwireshark_hep3_compressed_zlib.pcapng");
    let target = format!("udp://{}", agent.hep_udp[0]);
    let out = tokio::task::spawn_blocking(move || {
        callweave(&[
            "replay",
            path.to_str().unwrap(),
            "--to",
            &target,
            "--no-progress",
        ])
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let forwarded: f64 = stdout
        .split("forwarded ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("replay summary");
    assert!(forwarded >= 1.0, "{stdout}");
    let m = wait_metrics(agent.http, Duration::from_secs(10), |m| {
        sum(m, "callweave_hep_packets_total", &[]) >= 2.0 + forwarded
    })
    .await;
    assert_eq!(
        sum(&m, "callweave_hep_decode_errors_total", &[]),
        0.0,
        "{m:?}"
    );
    assert_eq!(
        sum(&m, "callweave_sip_messages_total", &[]),
        2.0 + forwarded,
        "{m:?}"
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent("", dir.path()).await;
    let http = agent.http;
    let (h, r, nf) = tokio::task::spawn_blocking(move || {
        (
            http_get(http, "/healthz"),
            http_get(http, "/readyz"),
            http_get(http, "/nope"),
        )
    })
    .await
    .unwrap();
    assert_eq!(h.0, 200);
    assert_eq!(r.0, 200);
    assert_eq!(nf.0, 404);
    agent.shutdown().await;
}
