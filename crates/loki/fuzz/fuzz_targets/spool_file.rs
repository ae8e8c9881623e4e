//! A spool file left on disk (truncated, corrupted, foreign) must be rejected
//! cleanly; a valid one round-trips.
#![no_main]

use callweave_loki::spool::{Batch, decode_spool_file, encode_spool_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((h, body)) = decode_spool_file(data) {
        let b = Batch {
            seq: 1,
            entries: h.entries,
            created_ms: h.created_ms,
            body: body.to_vec().into(),
        };
        // Bytes 5..8 are reserved and ignored by the reader.
        let again = encode_spool_file(&b);
        assert_eq!(again[..5], data[..5]);
        assert_eq!(again[8..], data[8..]);
        let _ = callweave_loki::decode_push_body(body);
    }
});
