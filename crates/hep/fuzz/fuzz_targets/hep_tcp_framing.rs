//! Push arbitrary bytes in arbitrary splits: the framer must never panic or
//! loop, must return exactly the stream's bytes in order, and every frame
//! must be well-formed enough to reach the decoder.
#![no_main]

use callweave_hep::{TcpFramer, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (splits, stream) = input;
    let mut framer = TcpFramer::new();
    let mut rest = &stream[..];
    let mut returned = 0usize;
    let mut sizes = splits.iter().map(|&s| usize::from(s) * 7 + 1).cycle();
    'feed: while !rest.is_empty() {
        let n = sizes.next().unwrap_or(rest.len()).min(rest.len());
        framer.push(&rest[..n]);
        rest = &rest[n..];
        // Each call consumes a frame, waits, or fails: bounded by the bytes pushed.
        for _ in 0..=stream.len() {
            match framer.next_packet() {
                Ok(Some(frame)) => {
                    assert!(frame.len() >= 6);
                    assert_eq!(&frame[..], &stream[returned..returned + frame.len()]);
                    returned += frame.len();
                    let _ = decode(frame);
                }
                Ok(None) => continue 'feed,
                Err(e) => {
                    // Errors point into the header of the first unreturned frame.
                    let at = framer.stream_offset();
                    assert!((at..=at + 4).contains(&e.offset), "{e:?} at {at}");
                    assert_eq!(framer.next_packet(), Err(e));
                    return;
                }
            }
        }
        panic!("framer did not settle");
    }
    assert_eq!(returned, framer.stream_offset());
    assert_eq!(returned + framer.buffered(), stream.len());
});
