//! parse_line, anchors and the assembler (file and ESL paths) over arbitrary
//! bytes: nothing may panic, and every line is accounted for.
#![no_main]

use callweave_fslog::{Assembler, AssemblerLimits, LogClock, parse_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut asm = Assembler::with_limits(
        LogClock::utc(),
        AssemblerLimits {
            max_continuation_lines: 8,
            max_entry_bytes: 512,
        },
    );
    let mut lines = 0usize;
    let mut accounted = 0usize;
    for raw in text.split('\n') {
        lines += 1;
        let line = parse_line(raw);
        let _ = line.anchor();
        if let Some(e) = asm.push(raw) {
            let _ = e.anchor();
            let _ = e.to_log_text();
            accounted += e.line_count();
        }
    }
    if let Some(e) = asm.flush() {
        accounted += e.line_count();
    }
    assert_eq!(lines, accounted);
    let mut split = text.splitn(2, '\0');
    let uuid = split.next().unwrap_or("");
    let body = split.next().unwrap_or(&text);
    if let Some(e) = asm.push_log_data(body, Some(uuid)) {
        assert_eq!(e.line_count(), body.lines().count());
    }
});
