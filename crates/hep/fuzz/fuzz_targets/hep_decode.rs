//! Decode arbitrary bytes; whatever decodes must re-encode as HEPv3 and
//! decode back to the same packet (only the version may change, v1/v2 → v3).
#![no_main]

use callweave_hep::{Bytes, DecodeOptions, EncodeError, HepVersion, decode_with};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = DecodeOptions::default();
    let Ok(packet) = decode_with(Bytes::copy_from_slice(data), &options) else {
        return;
    };
    assert!(!packet.payload.is_empty());
    let wire = match packet.encode_to_bytes() {
        Ok(wire) => wire,
        // A v1/v2 payload or an inflated payload may not fit a u16 length.
        Err(EncodeError::PacketTooLarge { .. } | EncodeError::ChunkTooLarge { .. }) => return,
        Err(e) => panic!("encode failed: {e}"),
    };
    let again = decode_with(wire, &options).expect("re-encoded packet must decode");
    let mut expected = packet;
    expected.version = HepVersion::V3;
    assert_eq!(again, expected);
});
