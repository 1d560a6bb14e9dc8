//! A class list's CSV: any bytes are rows added or refused with a reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = signaling::members::parse_roster(text);
    }
});
