//! Arbitrary bytes as a whole capture file: never panic, account for every frame.
#![no_main]

use callweave_pcap::CaptureReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(data) else {
        return;
    };
    for item in reader.by_ref() {
        if item.is_err() {
            break;
        }
    }
    let s = reader.stats();
    assert_eq!(
        s.frames,
        s.frames_emitted + s.frames_reassembled + s.skipped.total()
    );
});
