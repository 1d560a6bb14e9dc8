//! Shared notes' frame decoder and update application: any bytes, cut into frames, from an
//! editing and a read-only connection, run as the document's task runs them
//! (`signaling::notes::replay`). The engine may refuse them; it must never panic, and the
//! document must stay encodable and loadable, and be what was kept.
#![no_main]

use libfuzzer_sys::fuzz_target;

static QUIET: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    // libFuzzer's panic hook aborts at once, before any unwinding, so the engine's own
    // catch_unwind (a yrs panic on a hostile frame refuses that frame) would count as a crash.
    // A silent hook lets those unwind to the engine; a panic that escapes the engine still
    // reaches libfuzzer-sys's catch_unwind around this target, which aborts, and the input is
    // kept as a crash: replay it through `notes::replay::frames` in a unit test (as the
    // engine's tests do) to see the panic's message.
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    signaling::notes::replay::frames(data);
});
