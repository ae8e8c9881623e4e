//! A push body (snappy block + protobuf) must decode or fail cleanly; what
//! decodes must re-encode to a body that decodes to the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = callweave_loki::decode_push_body(data) {
        let (body, _) = callweave_loki::encode_push_body(&req).expect("re-encode");
        let back = callweave_loki::decode_push_body(&body).expect("round trip");
        assert_eq!(back, req);
    }
});
