//! `parse` and `sdp::summarize` must not panic on any input, and what they return
//! must point inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = callweave_sip::parse(data) {
        assert!(msg.as_bytes().len() <= data.len());
        assert!(msg.body.len() <= data.len());
        for h in msg.headers() {
            let _ = h.value_str();
        }
        let _ = msg.header("via");
        let _ = msg.sdp();
        let _ = msg.method().map(|m| m.label());
    }
    let parser = callweave_sip::Parser::new(["X-CID", "x"]);
    let _ = parser.parse(data);
    let sdp = callweave_sip::sdp::summarize(data);
    for m in &sdp.media {
        let _ = m.codecs().count();
    }
    let _ = callweave_sip::sdp::find_sdp("multipart/mixed;boundary=b", data);
});
