//! Shared notes' frame decoder and update application: any bytes, cut into frames, from an
//! editing and a read-only connection. The engine may refuse them; it must never panic, and
//! the document must stay encodable and loadable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signaling::notes::Limits;
use signaling::notes::engine::Engine;

static QUIET: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    // libFuzzer's panic hook aborts at once, before any unwinding, so the engine's own
    // catch_unwind (a yrs panic on a hostile frame refuses that frame) would count as a crash.
    // A silent hook lets those unwind to the engine; a panic that escapes the engine still
    // reaches libfuzzer-sys's catch_unwind around this target, which aborts, and the input is
    // kept as a crash.
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let limits = Limits {
        max_frame_bytes: 4096,
        max_doc_bytes: 64 * 1024,
        ..Limits::default()
    };
    let Ok(mut e) = Engine::load(None, &[], limits) else {
        return;
    };
    let _ = e.connect(1, false);
    let _ = e.connect(2, true);
    // The first byte of each piece is its length; the next bit picks the connection.
    let mut rest = data;
    while let Some((&head, tail)) = rest.split_first() {
        let len = usize::from(head & 0x7f).min(tail.len());
        let (frame, after) = tail.split_at(len);
        let conn = if head & 0x80 == 0 { 1 } else { 2 };
        if e.handle(conn, frame).is_err() {
            e.disconnect(conn);
            let _ = e.connect(conn, conn == 2);
        }
        rest = after;
    }
    let state = e.state();
    let again = Engine::load(Some(&state), &[], limits).expect("a document's own state loads");
    assert_eq!(again.text(), e.text());
});
