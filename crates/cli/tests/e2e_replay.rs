//! End to end: the agent on ephemeral loopback ports, `callweave replay` sending
//! every bundled capture over UDP and over TCP; the agent's counters must equal
//! the number of SIP messages tshark finds in each capture, with zero decode errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::*;

/// SIP messages per capture, as counted by tshark (commands and figures in
/// `testdata/pcap/COUNTS.md`; the `callweave-pcap` tests check the same numbers
/// against a live tshark run).
const CAPTURES: &[(&str, u64)] = &[
    ("pcap/heplify_erspan_sip_ipv4_udp.pcapng", 140),
    ("pcap/heplify_fax_t38_b2bua_reinvite.pcap", 92),
    ("pcap/heplify_ipip0_register_invite403.pcap", 8),
    ("pcap/heplify_rtp_rtcp_sip_ipv4_udp.pcap", 14),
    ("pcap/heplify_sip_ipv4_tcp.pcap", 7),
    (
        "pcap/heplify_sip_ipv4_tcp_fragmented_fs_sbc_port6060.pcap",
        406,
    ),
    ("pcap/heplify_sip_ipv4_tcp_retrans_register.pcap", 8),
    ("pcap/heplify_sip_ipv6_udp.pcap", 6),
    ("pcap/heplify_sip_sctp_isup_403.pcap", 4),
    ("pcap/heplify_sip_tcp_websocket_freeswitch_b2bua.pcap", 39),
    ("pcap/sngrep_aaa_register_invite_cancel.pcap", 81),
    ("pcap/sngrep_ipip_sip_tcp.pcap", 4),
    ("pcap/sngrep_ipv6frag_proxy_prack_update.pcap", 32),
    ("freeswitch-live/01-bridged-callid-random/sip.pcap", 65),
    ("freeswitch-live/03-bleg-busy-486/sip.pcap", 24),
];

async fn replay_all(transport: &str) {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent("", dir.path()).await;
    let target = match transport {
        "udp" => format!("udp://{}", agent.hep_udp[0]),
        _ => format!("tcp://{}", agent.hep_tcp[0]),
    };
    let mut expected = 0u64;
    for (file, count) in CAPTURES {
        let path = testdata(file);
        let path = path.to_str().unwrap().to_owned();
        let target = target.clone();
        let out = tokio::task::spawn_blocking(move || {
            callweave(&[
                "replay",
                &path,
                "--to",
                &target,
                "--rate",
                "20000",
                "--no-progress",
            ])
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("sent {count} SIP messages")),
            "{file}: replay said {stdout}"
        );
        expected += count;
        // Both counters: a scrape is not atomic across metrics, so one taken while
        // the receive thread handles the last packet can hold the new SIP count
        // and the old HEP count.
        let m = wait_metrics(agent.http, Duration::from_secs(10), |m| {
            sum(m, "callweave_sip_messages_total", &[]) as u64 >= expected
                && sum(
                    m,
                    "callweave_hep_packets_total",
                    &[&format!("transport=\"{transport}\"")],
                ) as u64
                    >= expected
        })
        .await;
        assert_eq!(
            sum(&m, "callweave_sip_messages_total", &[]) as u64,
            expected,
            "{file} over {transport}: agent counted a different number of SIP messages"
        );
        assert_eq!(
            sum(
                &m,
                "callweave_hep_packets_total",
                &[&format!("transport=\"{transport}\"")]
            ) as u64,
            expected,
            "{file} over {transport}: HEP packet count"
        );
        assert_eq!(
            sum(&m, "callweave_hep_decode_errors_total", &[]),
            0.0,
            "{file} over {transport}: decode errors"
        );
        assert_eq!(sum(&m, "callweave_dropped_total", &[]), 0.0);
    }
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_every_capture_over_udp() {
    replay_all("udp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_every_capture_over_tcp() {
    replay_all("tcp").await;
}
