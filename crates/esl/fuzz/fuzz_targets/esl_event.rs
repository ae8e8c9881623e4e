//! Arbitrary bodies through both event decoders. Nothing may panic, and a
//! decoded event must survive a JSON round trip unchanged.
#![no_main]

use callweave_esl::Event;
use libfuzzer_sys::fuzz_target;

fn check(event: &Event) {
    let json = event.to_json();
    let again = Event::from_json(json.as_bytes()).expect("to_json output must decode");
    assert_eq!(&again, event);
    let _ = (
        event.name(),
        event.unique_id(),
        event.sip_call_id(),
        event.timestamp_micros(),
        event.audio_quality(),
        event.body(),
    );
    for (_, v) in event.headers() {
        let _ = v.iter().count();
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = Event::from_plain(data) {
        check(&event);
    }
    if let Ok(event) = Event::from_json(data) {
        check(&event);
    }
});
