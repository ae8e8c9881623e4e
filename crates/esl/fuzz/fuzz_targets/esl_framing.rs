//! Arbitrary bytes, in arbitrary splits, through the framer; every frame is
//! decoded as the client would. Nothing may panic, and the framer's buffer
//! must stay within its limits.
#![no_main]

use callweave_esl::{ContentType, Event, Framer, FramerConfig, LogData};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first two bytes pick the split pattern; small limits make the
    // limit paths reachable.
    let (seed, input) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => return,
    };
    let config = FramerConfig {
        max_header_bytes: 4096,
        max_body_bytes: 1 << 20,
    };
    let mut framer = Framer::new(config);
    let mut state = u32::from(seed) | 1;
    let mut pos = 0;
    while pos < input.len() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (state as usize % 512 + 1).min(input.len() - pos);
        framer.push(&input[pos..pos + n]);
        pos += n;
        loop {
            match framer.next_frame() {
                Ok(Some(frame)) => {
                    match frame.content_type {
                        ContentType::EventPlain | ContentType::EventJson => {
                            if let Ok(event) = Event::from_frame(&frame) {
                                let json = event.to_json();
                                let again = Event::from_json(json.as_bytes())
                                    .expect("to_json output must decode");
                                assert_eq!(again, event);
                                let _ = (event.name(), event.unique_id(), event.audio_quality());
                            }
                        }
                        ContentType::LogData => {
                            let _ = LogData::from_frame(&frame);
                        }
                        _ => {
                            let _ = frame.is_ok_reply();
                        }
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    framer.reset();
                    break;
                }
            }
        }
        // A pending header block never outgrows the limit plus one push.
        assert!(framer.buffered() <= config.max_header_bytes + config.max_body_bytes + 512);
    }
});
