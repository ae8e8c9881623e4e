//! TCP framing over a stream made of the real HEPv3 captures.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use callweave_hep::{ErrorKind, TcpFramer, decode};
use common::{read, udp_datagrams};

fn real_stream() -> Vec<Vec<u8>> {
    let mut packets = vec![read("hep/heplifyserver_hep3_sip200ok_options.bin")];
    packets.extend(
        udp_datagrams("hep/hepwireshark_hep3_hepgen_sip_log_rtcp.pcap")
            .into_iter()
            .map(|d| d.payload),
    );
    packets.extend(
        udp_datagrams("hep/hepwireshark_hep3_compressed_zlib.pcapng")
            .into_iter()
            .map(|d| d.payload),
    );
    packets
}

#[test]
fn real_packets_survive_every_read_size() {
    let packets = real_stream();
    assert_eq!(packets.len(), 30);
    let stream = packets.concat();
    for read_size in [1, 2, 5, 6, 7, 100, 777, 1500, 65_536] {
        let mut framer = TcpFramer::new();
        let mut frames = Vec::new();
        for piece in stream.chunks(read_size) {
            framer.push(piece);
            while let Some(frame) = framer.next_packet().unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(frames.len(), packets.len(), "read size {read_size}");
        for (frame, original) in frames.iter().zip(&packets) {
            assert_eq!(&frame[..], &original[..]);
            let framed = decode(frame.clone()).unwrap();
            assert_eq!(framed, decode(Bytes::from(original.clone())).unwrap());
        }
        assert_eq!(framer.stream_offset(), stream.len());
        assert_eq!(framer.buffered(), 0);
    }
}

#[test]
fn desync_closes_the_stream_but_keeps_earlier_packets() {
    let packets = real_stream();
    let mut stream = packets[0].clone();
    stream.extend_from_slice(&packets[1]);
    let resync_at = stream.len();
    // A HEPv1 packet cannot be framed on TCP: its first byte is no magic.
    stream.extend_from_slice(&read("hep/heplifyserver_hep1_sip200ok_options.bin"));
    stream.extend_from_slice(&packets[2]);

    let mut framer = TcpFramer::new();
    framer.push(&stream);
    assert_eq!(&framer.next_packet().unwrap().unwrap()[..], &packets[0][..]);
    let second = framer.next_packet().unwrap().unwrap();
    let err = framer.next_packet().unwrap_err();
    assert_eq!((err.kind, err.offset), (ErrorKind::BadMagic, resync_at));
    assert_eq!(framer.error(), Some(err));
    // Sticky, and the packet already handed out is still intact.
    assert_eq!(framer.next_packet(), Err(err));
    assert!(
        decode(second)
            .unwrap()
            .payload
            .starts_with(b"INVITE sip:nodejs@127.0.0.1")
    );
}

#[test]
fn packet_that_does_not_decode_keeps_the_stream_in_sync() {
    let packets = real_stream();
    // A well-framed packet with a broken chunk: decode fails, framing does not.
    let mut broken = packets[0].clone();
    broken[10..12].copy_from_slice(&0u16.to_be_bytes());
    let stream = [broken, packets[1].clone()].concat();
    let mut framer = TcpFramer::new();
    framer.push(&stream);
    let first = framer.next_packet().unwrap().unwrap();
    assert_eq!(decode(first).unwrap_err().kind, ErrorKind::BadChunkLength);
    let second = framer.next_packet().unwrap().unwrap();
    assert_eq!(decode(second).unwrap().proto_type, Some(1));
    assert_eq!(framer.next_packet(), Ok(None));
}
