//! A Loki query_range response (anything a server may answer) must parse or fail
//! cleanly, and every parsed entry must survive `to_record`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = callweave_loki::parse_query_response(data) {
        for e in &entries {
            let _ = e.to_record();
            let _ = e.identifiers().count();
        }
    }
});
