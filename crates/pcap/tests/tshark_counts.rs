//! SIP message counts on every real capture must equal tshark's.
//!
//! `COUNTS` is the table from `testdata/pcap/COUNTS.md` (tshark 4.0.17,
//! command there); `tshark_live_agrees` re-runs tshark and compares frame by
//! frame, so a tshark upgrade or a new fixture shows up as a failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use support::{call_id, extract, frame_call_ids, sip, testdata};

struct Expected {
    file: &'static str,
    /// Extra tshark arguments (decode-as for SIP on a non-standard TCP port).
    tshark_args: &'static [&'static str],
    sip_messages: u64,
    distinct_call_ids: usize,
    /// One Call-ID that must be among them.
    a_call_id: &'static str,
}

const PORT_6060: &[&str] = &["-d", "tcp.port==6060,sip"];
/// tshark decodes UDP 5072 (the SIPp UAC) as AYIYA, its registered port.
const PORT_5072: &[&str] = &["-d", "udp.port==5072,sip"];

const COUNTS: &[Expected] = &[
    Expected {
        file: "pcap/heplify_erspan_sip_ipv4_udp.pcapng",
        tshark_args: &[],
        sip_messages: 140,
        distinct_call_ids: 7,
        a_call_id: "bf3060-0-16e4-5af571e2-2be02648-5af571e2@101.231.48.19",
    },
    Expected {
        file: "pcap/heplify_fax_t38_b2bua_reinvite.pcap",
        tshark_args: &[],
        sip_messages: 92,
        distinct_call_ids: 3,
        a_call_id: "SD4909701-9ff11bf72eb4a347c92974d8fbbc2668-ao8o3i1",
    },
    Expected {
        file: "pcap/heplify_ipip0_register_invite403.pcap",
        tshark_args: &[],
        sip_messages: 8,
        distinct_call_ids: 3,
        a_call_id: "4sHr4rbxLEYDZTMZ3ulI4f..@179.43.150.26",
    },
    Expected {
        file: "pcap/heplify_rtp_rtcp_sip_ipv4_udp.pcap",
        tshark_args: &[],
        sip_messages: 14,
        distinct_call_ids: 4,
        a_call_id: "12013223@200.57.7.195",
    },
    Expected {
        file: "pcap/heplify_sip_ipv4_tcp.pcap",
        tshark_args: &[],
        sip_messages: 7,
        distinct_call_ids: 1,
        a_call_id: "158936656982201062716@10.33.6.100",
    },
    Expected {
        file: "pcap/heplify_sip_ipv4_tcp_fragmented_fs_sbc_port6060.pcap",
        tshark_args: PORT_6060,
        sip_messages: 406,
        distinct_call_ids: 70,
        a_call_id: "17c0b3b3-dfd2-42ac-9018-6156179021c0",
    },
    Expected {
        file: "pcap/heplify_sip_ipv4_tcp_retrans_register.pcap",
        tshark_args: &[],
        sip_messages: 8,
        distinct_call_ids: 1,
        a_call_id: "1c35908a84584771bcc93bd496e0a852",
    },
    Expected {
        file: "pcap/heplify_sip_ipv6_udp.pcap",
        tshark_args: &[],
        sip_messages: 6,
        distinct_call_ids: 1,
        a_call_id: "c3eF6f58-363323Cd-8058EB88-10300252@fe80:0:0:0:21a:a0ff:fe07:32e0",
    },
    Expected {
        file: "pcap/heplify_sip_sctp_isup_403.pcap",
        tshark_args: &[],
        sip_messages: 4,
        distinct_call_ids: 1,
        a_call_id: "717B2539AD2002C9152DC497@0870ffffffff",
    },
    Expected {
        file: "pcap/heplify_sip_tcp_websocket_freeswitch_b2bua.pcap",
        tshark_args: &[],
        sip_messages: 39,
        distinct_call_ids: 3,
        a_call_id: "kovfhoptshgn59q712sr",
    },
    Expected {
        file: "pcap/sngrep_aaa_register_invite_cancel.pcap",
        tshark_args: &[],
        sip_messages: 81,
        distinct_call_ids: 6,
        a_call_id: "578222729-4665d775@578222732-4665d772",
    },
    Expected {
        file: "pcap/sngrep_ipip_sip_tcp.pcap",
        tshark_args: &[],
        sip_messages: 4,
        distinct_call_ids: 1,
        a_call_id: "1RLuVzzBClYCf2",
    },
    Expected {
        file: "pcap/sngrep_ipv6frag_proxy_prack_update.pcap",
        tshark_args: &[],
        sip_messages: 32,
        distinct_call_ids: 1,
        a_call_id: "71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521",
    },
    Expected {
        file: "freeswitch-live/01-bridged-callid-random/sip.pcap",
        tshark_args: PORT_5072,
        sip_messages: 65,
        distinct_call_ids: 10,
        a_call_id: "1-4274@127.0.0.1",
    },
    Expected {
        file: "freeswitch-live/03-bleg-busy-486/sip.pcap",
        tshark_args: PORT_5072,
        sip_messages: 24,
        distinct_call_ids: 6,
        a_call_id: "1-5905@127.0.0.1",
    },
];

#[test]
fn table_covers_every_fixture() {
    let listed: BTreeSet<&str> = COUNTS.iter().map(|e| e.file).collect();
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir(testdata("pcap")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".pcap") || name.ends_with(".pcapng") {
            on_disk.insert(format!("pcap/{name}"));
        }
    }
    for f in &on_disk {
        assert!(listed.contains(f.as_str()), "{f} has no row in COUNTS");
    }
}

#[test]
fn counts_match_tshark_table() {
    for e in COUNTS {
        let (items, stats) = extract(e.file);
        let msgs = sip(&items);
        assert_eq!(
            msgs.len() as u64,
            e.sip_messages,
            "{}: SIP messages",
            e.file
        );
        assert_eq!(stats.sip_messages, e.sip_messages, "{}: stats", e.file);
        let ids: BTreeSet<String> = msgs.iter().filter_map(|m| call_id(&m.payload)).collect();
        assert_eq!(
            ids.len(),
            e.distinct_call_ids,
            "{}: Call-IDs {ids:?}",
            e.file
        );
        if !e.a_call_id.is_empty() {
            assert!(
                ids.contains(e.a_call_id),
                "{}: {} missing",
                e.file,
                e.a_call_id
            );
        }
        assert!(!stats.truncated_file, "{}", e.file);
    }
}

/// `(frame, Call-ID)` pairs as tshark sees them; fails loudly without tshark.
fn tshark_frame_call_ids(file: &str, extra: &[&str]) -> Vec<(u64, String)> {
    let output = Command::new("tshark")
        .arg("-r")
        .arg(testdata(file))
        .args(extra)
        .args([
            "-Y",
            "sip",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "sip.Call-ID",
        ])
        .args(["-E", "occurrence=a", "-E", "aggregator= "])
        .output()
        .unwrap_or_else(|e| {
            panic!("tshark is required for this test (apt install tshark): cannot run it: {e}")
        });
    assert!(
        output.status.success(),
        "tshark failed on {file}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut pairs = Vec::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let (frame, ids) = line.split_once('\t').unwrap_or((line, ""));
        let frame: u64 = frame.trim().parse().unwrap();
        for id in ids.split_whitespace() {
            pairs.push((frame, id.to_owned()));
        }
    }
    pairs
}

#[test]
fn tshark_live_agrees() {
    for e in COUNTS {
        let theirs = tshark_frame_call_ids(e.file, e.tshark_args);
        assert_eq!(
            theirs.len() as u64,
            e.sip_messages,
            "{}: COUNTS.md is stale",
            e.file
        );
        let (items, _) = extract(e.file);
        let ours = frame_call_ids(&items);
        assert_eq!(
            ours, theirs,
            "{}: (frame, Call-ID) differ from tshark",
            e.file
        );
    }
}
