//! `message_len` never panics, never returns more than it was given, and agrees
//! with itself on a longer buffer.
#![no_main]

use callweave_sip::stream::{message_len, skip_keepalives};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(skip_keepalives(data) <= data.len());
    match message_len(data) {
        Ok(Some(n)) => {
            assert!(n <= data.len());
            assert!(n > 0);
            // A complete message stays complete (and the same length) when more
            // bytes follow.
            let mut longer = data.to_vec();
            longer.extend_from_slice(b"INVITE ");
            assert_eq!(message_len(&longer), Ok(Some(n)));
        }
        Ok(None) | Err(_) => {}
    }
});
