//! Every recorded ESL dump in testdata frames without leftovers and decodes,
//! and the plain and JSON recordings of the same calls decode to the same events.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use callweave_esl::{CallDirection, ContentType, Event, Frame, Framer, FramerConfig, HeaderValue};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata");
const SETS: &[&str] = &["01-bridged-callid-random", "03-bleg-busy-486"];

fn read(rel: &str) -> Vec<u8> {
    let path = format!("{TESTDATA}/{rel}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Frames `bytes` pushed in chunks of pseudo-random sizes (1..=max_chunk),
/// asserting that nothing is left over.
fn frame_chunked(bytes: &[u8], seed: u64, max_chunk: usize) -> Vec<Frame> {
    let mut framer = Framer::new(FramerConfig::default());
    let mut frames = Vec::new();
    let mut state = seed | 1;
    let mut pos = 0;
    while pos < bytes.len() {
        // xorshift64: deterministic splits, so a failure reproduces.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = (state as usize % max_chunk + 1).min(bytes.len() - pos);
        framer.push(&bytes[pos..pos + n]);
        pos += n;
        while let Some(frame) = framer.next_frame().unwrap() {
            frames.push(frame);
        }
    }
    assert_eq!(framer.buffered(), 0, "bytes left over");
    assert_eq!(framer.offset(), bytes.len() as u64);
    frames
}

fn frame_all(bytes: &[u8]) -> Vec<Frame> {
    let whole = frame_chunked(bytes, 1, usize::MAX - 1);
    for (seed, max) in [(7, 1), (42, 17), (99, 4096)] {
        if max == 1 && bytes.len() > 200_000 {
            continue; // byte-at-a-time on the big dumps adds nothing but time
        }
        assert_eq!(frame_chunked(bytes, seed, max), whole, "split {seed}/{max}");
    }
    whole
}

fn count_types(frames: &[Frame]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for f in frames {
        *m.entry(f.content_type.as_str().to_owned()).or_default() += 1;
    }
    m
}

fn events(frames: &[Frame]) -> Vec<Event> {
    frames
        .iter()
        .filter(|f| {
            matches!(
                f.content_type,
                ContentType::EventPlain | ContentType::EventJson
            )
        })
        .map(|f| Event::from_frame(f).unwrap())
        .collect()
}

#[test]
fn neventsocket_outbound_dumps_frame_and_decode() {
    // (file, api/response, command/reply, disconnect-notice, event-plain)
    let expected = [
        ("neventsocket_outbound_Example1.txt", 2, 9, 2, 14),
        ("neventsocket_outbound_Example3.txt", 1, 9, 1, 11),
        ("neventsocket_outbound_Example5.txt", 2, 10, 1, 12),
        ("neventsocket_outbound_Example6.txt", 12, 23, 1, 78),
    ];
    for (file, api, reply, notice, event) in expected {
        let frames = frame_all(&read(&format!("esl/{file}")));
        let counts = count_types(&frames);
        let want: BTreeMap<String, usize> = [
            ("api/response".to_owned(), api),
            ("command/reply".to_owned(), reply),
            ("text/disconnect-notice".to_owned(), notice),
            ("text/event-plain".to_owned(), event),
        ]
        .into();
        assert_eq!(counts, want, "{file}");

        // The outbound `connect` reply: channel data as URL-encoded headers,
        // Content-Type last, Reply-Text `%2BOK%0A`.
        let connect = &frames[0];
        assert_eq!(connect.content_type, ContentType::CommandReply);
        assert_eq!(connect.reply_text(), Some("+OK"));
        assert_eq!(connect.header("Reply-Text"), Some("+OK\n"));
        assert!(connect.is_ok_reply());
        assert_eq!(connect.header("Event-Name"), Some("CHANNEL_DATA"));
        assert_eq!(connect.header("Socket-Mode"), Some("async"));

        let evs = events(&frames);
        assert_eq!(evs.len(), event);
        for e in &evs {
            assert!(e.name().is_some(), "{file}: event without a name");
            assert!(
                e.unique_id().is_some(),
                "{file}: session events carry Unique-ID"
            );
            assert!(e.timestamp_micros().unwrap() > 1_420_000_000_000_000);
        }
    }
}

#[test]
fn neventsocket_example1_values() {
    let frames = frame_all(&read("esl/neventsocket_outbound_Example1.txt"));
    let connect = &frames[0];
    assert_eq!(
        connect.header("Channel-Unique-ID"),
        Some("78b86350-4fb8-4d2b-a629-1eeafd7d2f74")
    );
    assert_eq!(connect.header("Channel-Caller-ID-Name"), Some("Dan X-Lite"));
    assert_eq!(
        connect.header("FreeSWITCH-IPv6"),
        Some("2001:0:5ef5:79fd:1c45:341e:53ef:cd79")
    );

    let evs = events(&frames);
    let first = &evs[0];
    assert_eq!(first.name(), Some("CHANNEL_PROGRESS_MEDIA"));
    assert_eq!(
        first.core_uuid(),
        Some("8694f653-55e0-42ed-98d8-4983e2b6d248")
    );
    assert_eq!(first.hostname(), Some("dan-win8-dev"));
    assert_eq!(
        first.unique_id(),
        Some("78b86350-4fb8-4d2b-a629-1eeafd7d2f74")
    );
    assert_eq!(first.call_direction(), Some(CallDirection::Inbound));
    assert_eq!(first.caller_id_number(), Some("1001"));
    assert_eq!(first.destination_number(), Some("3"));
    // ARRAY::3|:3 becomes a two-element list.
    let dp: Vec<_> = first
        .header_value("variable_DP_MATCH")
        .unwrap()
        .iter()
        .collect();
    assert_eq!(dp, ["3", "3"]);

    let bridge = evs
        .iter()
        .find(|e| e.name() == Some("CHANNEL_BRIDGE"))
        .unwrap();
    assert_eq!(
        bridge.bridge_a_unique_id(),
        Some("78b86350-4fb8-4d2b-a629-1eeafd7d2f74")
    );
    assert_eq!(
        bridge.bridge_b_unique_id(),
        Some("9bc34cb7-1d0a-4c89-8d47-9dc25faa160f")
    );
    assert_eq!(
        bridge.other_leg_unique_id(),
        Some("9bc34cb7-1d0a-4c89-8d47-9dc25faa160f")
    );
    let legs: Vec<_> = bridge
        .header_value("variable_originated_legs")
        .unwrap()
        .iter()
        .collect();
    assert_eq!(
        legs,
        [
            "9bc34cb7-1d0a-4c89-8d47-9dc25faa160f;Outbound Call;1003",
            "9bc34cb7-1d0a-4c89-8d47-9dc25faa160f;Outbound Call;1003"
        ]
    );

    let notices: Vec<_> = frames
        .iter()
        .filter(|f| f.content_type == ContentType::DisconnectNotice)
        .collect();
    assert_eq!(notices[0].header("Content-Disposition"), Some("linger"));
    assert_eq!(notices[0].body.as_deref(), Some(&b""[..]));
    assert_eq!(
        notices[1].body.as_deref(),
        Some(&b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"[..])
    );
}

/// One summary line: `#00004 text/event-json CHANNEL_STATE <uuid>`.
fn summary(set: &str, format: &str) -> Vec<(String, String, String)> {
    let text = String::from_utf8(read(&format!(
        "freeswitch-live/{set}/esl_{format}_summary.txt"
    )))
    .unwrap();
    text.lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            let mut parts = l.splitn(4, ' ').skip(1);
            let ct = parts.next().unwrap_or_default().to_owned();
            let a = parts.next().unwrap_or_default().to_owned();
            let b = parts.next().unwrap_or_default().trim_end().to_owned();
            (ct, a, b)
        })
        .collect()
}

#[test]
fn live_dumps_match_their_summaries() {
    for set in SETS {
        for format in ["plain", "json"] {
            let frames = frame_all(&read(&format!("freeswitch-live/{set}/esl_{format}.raw")));
            let want = summary(set, format);
            let total = if *set == "01-bridged-callid-random" {
                235
            } else {
                101
            };
            assert_eq!(frames.len(), total, "{set} {format}");
            assert_eq!(want.len(), total);
            for (i, (frame, (ct, a, b))) in frames.iter().zip(&want).enumerate() {
                assert_eq!(frame.content_type.as_str(), ct, "{set} {format} #{}", i + 1);
                match frame.content_type {
                    ContentType::CommandReply => {
                        // Summary: `+OK accepted` split into two words.
                        let text = format!("{a} {b}");
                        assert_eq!(frame.reply_text(), Some(text.trim()));
                        assert!(frame.is_ok_reply());
                    }
                    ContentType::AuthRequest => assert!(frame.body.is_none()),
                    _ => {
                        let e = Event::from_frame(frame).unwrap();
                        assert_eq!(e.name(), Some(a.as_str()), "{set} {format} #{}", i + 1);
                        assert_eq!(e.unique_id().unwrap_or(""), b, "{set} {format} #{}", i + 1);
                    }
                }
            }
        }
    }
}

#[test]
fn plain_and_json_recordings_decode_to_the_same_events() {
    for set in SETS {
        let plain = events(&frame_all(&read(&format!(
            "freeswitch-live/{set}/esl_plain.raw"
        ))));
        let json = events(&frame_all(&read(&format!(
            "freeswitch-live/{set}/esl_json.raw"
        ))));
        assert_eq!(plain.len(), json.len());
        for (i, (p, j)) in plain.iter().zip(&json).enumerate() {
            // Same sequence number: the same FreeSWITCH event, serialized twice.
            assert_eq!(p.sequence(), j.sequence(), "{set} #{i}");
            let ph: Vec<_> = p.headers().collect();
            let jh: Vec<_> = j.headers().collect();
            assert_eq!(ph, jh, "{set} #{i} {:?}", p.name());
            assert_eq!(p, j);
            assert_eq!(p.to_json(), j.to_json());
        }
    }
}

#[test]
fn json_rendering_round_trips_real_events() {
    for set in SETS {
        for format in ["plain", "json"] {
            let evs = events(&frame_all(&read(&format!(
                "freeswitch-live/{set}/esl_{format}.raw"
            ))));
            for e in &evs {
                let back = Event::from_json(e.to_json().as_bytes()).unwrap();
                assert_eq!(&back, e);
            }
        }
    }
}

#[test]
fn live_events_agree_with_calls_tsv() {
    for set in SETS {
        let evs = events(&frame_all(&read(&format!(
            "freeswitch-live/{set}/esl_json.raw"
        ))));
        let tsv = String::from_utf8(read(&format!("freeswitch-live/{set}/calls.tsv"))).unwrap();
        let mut rows = 0;
        for line in tsv.lines().skip(1) {
            let c: Vec<&str> = line.split('\t').collect();
            let (a_call, a_uuid, b_call, b_uuid, bridge) = (c[0], c[1], c[2], c[3], c[4]);
            let (a_cause, a_status) = c[5].split_once('/').unwrap();
            let (b_cause, b_status) = c[6].split_once('/').unwrap();
            rows += 1;

            let of = |uuid: &str| -> Vec<&Event> {
                evs.iter().filter(|e| e.unique_id() == Some(uuid)).collect()
            };
            let (a, b) = (of(a_uuid), of(b_uuid));
            assert!(!a.is_empty() && !b.is_empty());
            for e in &a {
                if let Some(id) = e.sip_call_id() {
                    assert_eq!(id, a_call);
                }
                assert_eq!(e.call_direction(), Some(CallDirection::Inbound));
                assert_eq!(e.channel_call_uuid(), Some(a_uuid));
            }
            for e in &b {
                if let Some(id) = e.sip_call_id() {
                    assert_eq!(id, b_call);
                }
                assert_eq!(e.call_direction(), Some(CallDirection::Outbound));
            }
            // The B-leg is created with the A-leg as its other leg.
            let b_create = b
                .iter()
                .find(|e| e.name() == Some("CHANNEL_CREATE"))
                .unwrap();
            assert_eq!(b_create.other_leg_unique_id(), Some(a_uuid));
            assert!(a.iter().any(|e| e.sip_call_id() == Some(a_call)));
            assert!(b.iter().any(|e| e.sip_call_id() == Some(b_call)));

            let bridges: Vec<_> = evs
                .iter()
                .filter(|e| {
                    e.name() == Some("CHANNEL_BRIDGE") && e.bridge_a_unique_id() == Some(a_uuid)
                })
                .collect();
            if bridge == "bridged" {
                assert_eq!(bridges.len(), 1);
                assert_eq!(bridges[0].bridge_b_unique_id(), Some(b_uuid));
                // A bridged B-leg's call uuid is the A-leg's (PROTOCOLS.md §3.6).
                assert!(b.iter().any(|e| e.channel_call_uuid() == Some(a_uuid)));
            } else {
                assert!(bridges.is_empty());
                assert!(!a.iter().any(|e| e.name() == Some("CHANNEL_ANSWER")));
            }

            for (leg, cause, status) in [(&a, a_cause, a_status), (&b, b_cause, b_status)] {
                let done = leg
                    .iter()
                    .find(|e| e.name() == Some("CHANNEL_HANGUP_COMPLETE"))
                    .unwrap();
                assert_eq!(done.hangup_cause(), Some(cause));
                assert_eq!(done.sip_term_status(), status.parse().ok());
                assert_eq!(done.answer_state(), Some("hangup"));
                if bridge == "bridged" {
                    // SIPp sent no RTP: FreeSWITCH still reports its figures
                    // for the media session it set up.
                    let q = done.audio_quality().unwrap();
                    assert_eq!(q.mos, Some(4.5));
                    assert_eq!(q.quality_percentage, Some(100.0));
                    assert_eq!(q.media_packet_count, Some(0));
                    assert_eq!(q.skip_packet_count, Some(2));
                    assert_eq!(done.mos(), Some(4.5));
                } else {
                    // Rejected before any media session: no quality variables.
                    assert_eq!(done.audio_quality(), None);
                }
                // Quality variables appear only from CHANNEL_HANGUP_COMPLETE on.
                let create = leg
                    .iter()
                    .find(|e| e.name() == Some("CHANNEL_CREATE"))
                    .unwrap();
                assert_eq!(create.audio_quality(), None);
            }
        }
        assert_eq!(
            rows,
            if *set == "01-bridged-callid-random" {
                5
            } else {
                3
            }
        );
    }
}

#[test]
fn live_event_details() {
    let frames = frame_all(&read(
        "freeswitch-live/01-bridged-callid-random/esl_plain.raw",
    ));
    let evs = events(&frames);
    let first = &evs[0];
    assert_eq!(first.name(), Some("CHANNEL_STATE"));
    assert_eq!(first.timestamp_micros(), Some(1_795_663_470_521_047));
    assert_eq!(
        first.core_uuid(),
        Some("24d73ca1-46f5-4366-9efe-e16c8d8900f6")
    );
    assert_eq!(first.hostname(), Some("vm"));
    assert_eq!(first.header("FreeSWITCH-IPv6"), Some("fd00::2"));
    assert_eq!(
        first.header("Event-Date-GMT"),
        Some("Thu, 26 Nov 2026 03:24:30 GMT")
    );
    assert_eq!(
        first.channel_name(),
        Some("sofia/b2bua/sipp@127.0.0.1:5072")
    );
    assert_eq!(first.answer_state(), Some("ringing"));
    assert_eq!(first.sequence(), Some(417));
    // CHANNEL_STATE carries no channel variables (PROTOCOLS.md §3.6).
    assert_eq!(first.sip_call_id(), None);

    let heartbeat = evs.iter().find(|e| e.name() == Some("HEARTBEAT")).unwrap();
    assert_eq!(heartbeat.unique_id(), None);
    assert!(matches!(
        heartbeat.header_value("Up-Time"),
        Some(HeaderValue::Single(_))
    ));

    // Set 03 has multi-valued channel variables in both formats.
    for format in ["plain", "json"] {
        let evs = events(&frame_all(&read(&format!(
            "freeswitch-live/03-bleg-busy-486/esl_{format}.raw"
        ))));
        let multi = evs
            .iter()
            .flat_map(|e| e.headers())
            .filter(|(_, v)| matches!(v, HeaderValue::Multi(_)))
            .count();
        assert!(multi > 0, "{format}");
        let arr: Vec<_> = evs
            .iter()
            .find_map(|e| e.header_value("variable_DP_MATCH"))
            .unwrap()
            .iter()
            .collect();
        assert_eq!(arr, ["1000", "1000"], "{format}");
    }
}
