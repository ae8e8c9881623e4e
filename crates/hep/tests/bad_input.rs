//! Malformed input: every failure is an error kind with an offset, never a panic.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::io::Write;

use bytes::Bytes;
use callweave_hep::{DecodeOptions, ErrorKind, HepBuilder, RawChunk, chunk, decode, decode_with};
use common::{read, spec_example, udp_datagrams};

fn kind_of(data: &[u8]) -> ErrorKind {
    decode(Bytes::copy_from_slice(data)).unwrap_err().kind
}

fn err_of(data: &[u8]) -> (ErrorKind, usize) {
    let e = decode(Bytes::copy_from_slice(data)).unwrap_err();
    (e.kind, e.offset)
}

/// A HEPv3 packet from chunks `(type, value)` (vendor 0), with the right total length.
fn hep3(chunks: &[(u16, &[u8])]) -> Vec<u8> {
    let mut v = b"HEP3\0\0".to_vec();
    for (t, value) in chunks {
        v.extend_from_slice(&0u16.to_be_bytes());
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(&(value.len() as u16 + 6).to_be_bytes());
        v.extend_from_slice(value);
    }
    let len = v.len() as u16;
    v[4..6].copy_from_slice(&len.to_be_bytes());
    v
}

fn real_hep3_packets() -> Vec<Vec<u8>> {
    let mut all = vec![
        read("hep/heplifyserver_hep3_sip200ok_options.bin"),
        spec_example(),
    ];
    all.extend(
        udp_datagrams("hep/hepwireshark_hep3_hepgen_sip_log_rtcp.pcap")
            .into_iter()
            .map(|d| d.payload),
    );
    all.extend(
        udp_datagrams("hep/hepwireshark_hep3_compressed_zlib.pcapng")
            .into_iter()
            .step_by(3)
            .map(|d| d.payload),
    );
    all
}

#[test]
fn every_truncation_of_real_hep3_is_truncated() {
    let mut checked = 0;
    for packet in real_hep3_packets() {
        assert!(decode(Bytes::from(packet.clone())).is_ok());
        for n in 0..packet.len() {
            let e = decode(Bytes::copy_from_slice(&packet[..n])).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Truncated, "cut at {n}");
            assert_eq!(e.offset, n);
            checked += 1;
        }
    }
    assert!(checked > 9000, "{checked}");
}

#[test]
fn every_truncation_of_real_hep1() {
    let packet = read("hep/heplifyserver_hep1_sip200ok_options.bin");
    for n in 0..packet.len() {
        let r = decode(Bytes::copy_from_slice(&packet[..n]));
        match n {
            0..16 => assert_eq!(r.unwrap_err().kind, ErrorKind::Truncated, "cut at {n}"),
            16 => assert_eq!(r.unwrap_err().kind, ErrorKind::MissingPayload),
            // v1 has no length field: a shorter payload is all it can tell.
            _ => assert_eq!(r.unwrap().payload.len(), n - 16),
        }
    }
    // A v2 header needs 12 more bytes than v1 before any payload.
    let mut v2 = packet.clone();
    v2[0] = 2;
    assert_eq!(kind_of(&v2[..27]), ErrorKind::Truncated);
    assert_eq!(kind_of(&v2[..28]), ErrorKind::MissingPayload);
}

#[test]
fn total_length_must_match_the_datagram() {
    let packet = read("hep/heplifyserver_hep3_sip200ok_options.bin");
    let mut longer = packet.clone();
    longer.push(0);
    assert_eq!(err_of(&longer), (ErrorKind::BadLength, 4));
    for declared in [0u16, 5] {
        let mut p = packet.clone();
        p[4..6].copy_from_slice(&declared.to_be_bytes());
        assert_eq!(err_of(&p), (ErrorKind::BadLength, 4));
    }
    let mut p = packet.clone();
    p[4..6].copy_from_slice(&779u16.to_be_bytes());
    assert_eq!(err_of(&p), (ErrorKind::Truncated, 778));
    // Header only: a valid frame with no chunks.
    assert_eq!(err_of(b"HEP3\x00\x06"), (ErrorKind::MissingPayload, 6));
}

#[test]
fn chunk_lengths_are_checked() {
    let good = hep3(&[(chunk::IP_FAMILY, &[2]), (chunk::PAYLOAD, b"x")]);
    for bad_len in [0u16, 1, 5] {
        let mut p = good.clone();
        p[10..12].copy_from_slice(&bad_len.to_be_bytes());
        assert_eq!(
            err_of(&p),
            (ErrorKind::BadChunkLength, 6),
            "chunk length {bad_len}"
        );
    }
    // Second chunk runs past the end.
    let mut p = good.clone();
    p[17..19].copy_from_slice(&8u16.to_be_bytes());
    assert_eq!(err_of(&p), (ErrorKind::BadChunkLength, 13));
    // Trailing bytes too short for a chunk header.
    let mut p = good.clone();
    p.extend_from_slice(&[0, 0, 0]);
    let len = p.len() as u16;
    p[4..6].copy_from_slice(&len.to_be_bytes());
    assert_eq!(err_of(&p), (ErrorKind::BadChunkLength, 20));
}

#[test]
fn zero_length_chunk_values() {
    // Octet strings may be empty (heplify-server's own sample has an empty auth key).
    let p = decode(Bytes::from(hep3(&[
        (chunk::AUTH_KEY, b""),
        (chunk::NODE_NAME, b""),
        (chunk::CORRELATION_ID, b""),
        (0x1a, b""),
        (chunk::PAYLOAD, b"x"),
    ])))
    .unwrap();
    assert_eq!(p.auth_key.as_deref(), Some(&b""[..]));
    assert_eq!(p.node_name.as_deref(), Some(&b""[..]));
    assert_eq!(p.correlation_id.as_deref(), Some(&b""[..]));
    assert_eq!(
        p.extra_chunks,
        [RawChunk {
            vendor: 0,
            type_id: 0x1a,
            value: Bytes::new()
        }]
    );
    // Fixed-size chunks may not.
    for t in [
        1u16, 2, 3, 4, 5, 6, 7, 8, 9, 0x0a, 0x0b, 0x0c, 0x0d, 0x12, 0x14, 0x15, 0x16, 0x17, 0x18,
        0x20, 0x21, 0x23, 0x27, 0x28,
    ] {
        assert_eq!(
            err_of(&hep3(&[(t, b""), (chunk::PAYLOAD, b"x")])),
            (ErrorKind::BadChunkSize, 6),
            "type {t}"
        );
    }
    // An empty payload is no payload.
    assert_eq!(
        err_of(&hep3(&[(chunk::PAYLOAD, b"")])),
        (ErrorKind::MissingPayload, 12)
    );
}

#[test]
fn fixed_size_chunks_need_exact_sizes() {
    let cases: [(u16, usize); 8] = [
        (chunk::IP_FAMILY, 1),
        (chunk::SRC_PORT, 2),
        (chunk::TS_SEC, 4),
        (chunk::SRC_IPV4, 4),
        (chunk::DST_IPV4, 4),
        (chunk::SRC_IPV6, 16),
        (chunk::DST_IPV6, 16),
        (chunk::SRC_MAC, 8),
    ];
    for (t, size) in cases {
        assert!(
            decode(Bytes::from(hep3(&[
                (t, &vec![1; size]),
                (chunk::PAYLOAD, b"x")
            ])))
            .is_ok()
        );
        for wrong in [size - 1, size + 1] {
            let p = hep3(&[(chunk::PAYLOAD, b"x"), (t, &vec![1; wrong])]);
            assert_eq!(
                err_of(&p),
                (ErrorKind::BadChunkSize, 13),
                "type {t} size {wrong}"
            );
        }
    }
}

#[test]
fn missing_payload() {
    let spec = spec_example();
    // The same packet without its last (payload) chunk.
    let mut p = spec[..93].to_vec();
    p[4..6].copy_from_slice(&93u16.to_be_bytes());
    assert_eq!(err_of(&p), (ErrorKind::MissingPayload, 93));
}

#[test]
fn unknown_and_vendor_chunks_are_kept_in_order() {
    let mut p = hep3(&[
        (0x19, b"reserved"),
        (chunk::PAYLOAD, b"SIP"),
        (0, b"zero"),
        (0x2a, b"future"),
    ]);
    // A Kamailio vendor chunk that reuses a generic type id: must not be read as a payload.
    let vendor = [0u8, 2, 0, 0x0f, 0, 9, b'k', b'a', b'm'];
    p.extend_from_slice(&vendor);
    let len = p.len() as u16;
    p[4..6].copy_from_slice(&len.to_be_bytes());
    let d = decode(Bytes::from(p)).unwrap();
    assert_eq!(&d.payload[..], b"SIP");
    let kept: Vec<(u16, u16, &[u8])> = d
        .extra_chunks
        .iter()
        .map(|c| (c.vendor, c.type_id, &c.value[..]))
        .collect();
    assert_eq!(
        kept,
        [
            (0, 0x19, &b"reserved"[..]),
            (0, 0, b"zero"),
            (0, 0x2a, b"future"),
            (2, 0x0f, b"kam")
        ]
    );
    let again = decode(d.encode_to_bytes().unwrap()).unwrap();
    assert_eq!(again, d);
}

#[test]
fn duplicate_chunks_last_wins() {
    let d = decode(Bytes::from(hep3(&[
        (chunk::SRC_PORT, &[0, 1]),
        (chunk::PAYLOAD, b"first"),
        (chunk::SRC_PORT, &[0, 2]),
        (chunk::PAYLOAD, b"second"),
    ])))
    .unwrap();
    assert_eq!((d.src_port, &d.payload[..]), (2, &b"second"[..]));
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

#[test]
fn zip_bomb_is_capped() {
    let bomb = zlib(&vec![0u8; 16 << 20]);
    assert!(bomb.len() < 20_000, "{}", bomb.len());
    let packet = hep3(&[(chunk::COMPRESSED_PAYLOAD, &bomb)]);
    assert_eq!(err_of(&packet), (ErrorKind::PayloadTooLarge, 6));
    let roomy = DecodeOptions::new().with_max_inflated_payload(16 << 20);
    assert_eq!(
        decode_with(Bytes::from(packet), &roomy)
            .unwrap()
            .payload
            .len(),
        16 << 20
    );

    // The limit is inclusive.
    let exact = hep3(&[(chunk::COMPRESSED_PAYLOAD, &zlib(&vec![b'a'; 64 * 1024]))]);
    assert_eq!(
        decode(Bytes::from(exact.clone())).unwrap().payload.len(),
        65536
    );
    let tight = DecodeOptions::new().with_max_inflated_payload(65535);
    assert_eq!(
        decode_with(Bytes::from(exact), &tight).unwrap_err().kind,
        ErrorKind::PayloadTooLarge
    );
}

#[test]
fn bad_compressed_payloads() {
    let z = zlib(b"REGISTER sip:rcs.st SIP/2.0\r\n\r\n");
    for bad in [
        &z[..z.len() - 3],
        &z[2..],
        b"not compressed",
        b"",
        &[0x78, 0x9c, 0xff, 0xff],
    ] {
        let p = hep3(&[(chunk::IP_FAMILY, &[2]), (chunk::COMPRESSED_PAYLOAD, bad)]);
        assert_eq!(err_of(&p), (ErrorKind::InflateFailed, 13));
    }
    // Inflating to nothing is no payload.
    assert_eq!(
        kind_of(&hep3(&[(chunk::COMPRESSED_PAYLOAD, &zlib(b""))])),
        ErrorKind::MissingPayload
    );
}

#[test]
fn magic_and_versions() {
    assert_eq!(err_of(b""), (ErrorKind::Truncated, 0));
    assert_eq!(err_of(b"GET / HTTP/1.1\r\n"), (ErrorKind::BadMagic, 0));
    assert_eq!(err_of(b"\x03\x10\x02\x11"), (ErrorKind::BadMagic, 0));
    assert_eq!(
        err_of(b"EEP1\x00\x10whatever"),
        (ErrorKind::UnsupportedVersion, 3)
    );
    assert_eq!(
        err_of(b"HEP2\x00\x10whatever"),
        (ErrorKind::UnsupportedVersion, 3)
    );
    // EEP3 is an alias of HEP3.
    let mut eep = spec_example();
    eep[0] = b'E';
    assert_eq!(
        &decode(Bytes::from(eep)).unwrap().payload[..],
        b"INVITE sip:bob"
    );
    // v1 with an unknown family.
    let mut v1 = read("hep/heplifyserver_hep1_sip200ok_options.bin");
    v1[2] = 7;
    assert_eq!(err_of(&v1), (ErrorKind::UnsupportedFamily, 2));
}

#[test]
fn garbage_never_panics() {
    // Deterministic xorshift so failures reproduce; mixes pure noise with
    // real packets that have random bytes flipped.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let reals = real_hep3_packets();
    let mut kinds = HashSet::new();
    let mut ok = 0;
    for i in 0..20_000 {
        let mut data = if i % 2 == 0 {
            let len = (next() % 300) as usize;
            let mut v: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Some(first) = v.first_mut() {
                *first = [1, 2, b'H', b'E', 0][(next() % 5) as usize];
            }
            v
        } else {
            reals[(next() as usize) % reals.len()].clone()
        };
        for _ in 0..(next() % 4) {
            if !data.is_empty() {
                let at = (next() as usize) % data.len();
                data[at] = next() as u8;
            }
        }
        match decode(Bytes::from(data)) {
            Ok(p) => {
                ok += 1;
                assert!(!p.payload.is_empty());
            }
            Err(e) => {
                kinds.insert(e.kind.as_str());
            }
        }
    }
    assert!(ok > 1000, "{ok}");
    for expected in [
        "truncated",
        "bad_magic",
        "bad_length",
        "bad_chunk_length",
        "bad_chunk_size",
        "inflate_failed",
        "missing_payload",
    ] {
        assert!(kinds.contains(expected), "{expected} never hit: {kinds:?}");
    }
}

#[test]
fn error_reasons_are_a_fixed_snake_case_set() {
    let names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "truncated",
            "bad_magic",
            "unsupported_version",
            "unsupported_family",
            "bad_length",
            "bad_chunk_length",
            "bad_chunk_size",
            "inflate_failed",
            "payload_too_large",
            "missing_payload",
        ]
    );
    for k in ErrorKind::ALL {
        let msg = k.to_string();
        assert_eq!(msg, msg.to_lowercase());
    }
    let e = decode(Bytes::from_static(b"HEP3\x00\x05")).unwrap_err();
    assert_eq!(e.to_string(), "hep3 total length does not match at byte 4");
}

#[test]
fn encode_rejects_oversize() {
    let too_big = HepBuilder::sip(vec![b'x'; 65_530]).build();
    let mut out = bytes::BytesMut::from(&b"keep"[..]);
    assert!(matches!(
        too_big.encode(&mut out),
        Err(callweave_hep::EncodeError::ChunkTooLarge {
            chunk_type: 0x0f,
            len: 65_530
        })
    ));
    assert_eq!(&out[..], b"keep");
    let fits_chunk_not_packet = HepBuilder::sip(vec![b'x'; 65_529]).build();
    assert!(matches!(
        fits_chunk_not_packet.encode(&mut out),
        Err(callweave_hep::EncodeError::PacketTooLarge { .. })
    ));
    assert_eq!(&out[..], b"keep");
    // The largest payload that fits: 65535 - 6 (header) - fixed chunks.
    let mut p = HepBuilder::sip(Vec::new()).build();
    p.proto_type = None;
    p.ip_proto = None;
    let overhead = p.encode_to_vec().unwrap().len();
    p.payload = Bytes::from(vec![b'y'; 65_535 - overhead]);
    let wire = p.encode_to_bytes().unwrap();
    assert_eq!(wire.len(), 65_535);
    assert_eq!(decode(wire).unwrap().payload.len(), 65_535 - overhead);
}
