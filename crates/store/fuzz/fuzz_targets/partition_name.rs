//! Partition directory names: any directory name must parse or be ignored without
//! panicking, and every start time must round-trip through its name.
#![no_main]

use callweave_store::{parse_partition_name, partition_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(name) = std::str::from_utf8(data) {
        if let Some(start) = parse_partition_name(name) {
            // Whatever parses names a start whose canonical name parses to it again.
            assert_eq!(parse_partition_name(&partition_name(start)), Some(start));
        }
    }
    if data.len() >= 8 {
        let raw = i64::from_le_bytes(data[..8].try_into().unwrap_or_default());
        // Whole seconds within ±100 000 years, as partition starts are.
        let start = (raw % 3_155_760_000_000_000) / 1_000_000 * 1_000_000;
        let name = partition_name(start);
        if !name.starts_with('-') {
            assert_eq!(parse_partition_name(&name), Some(start), "{name}");
        }
    }
});
