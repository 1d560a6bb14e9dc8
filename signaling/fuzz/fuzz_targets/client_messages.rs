//! The signaling protocol's parser: any text is a message or a classified error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = protocol::parse_client_message(text);
        let _ = protocol::normalize_display_name(text);
        let _ = protocol::validate_room_name(text);
    }
});
