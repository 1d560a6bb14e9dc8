//! Any bytes as the frames of two connections (one editing, one read-only) to one document, run
//! as the document's task would run them: what the engine says to keep is kept, and a document
//! the engine drops (poisoned) is loaded again from what was kept. The fuzz target
//! `notes_frames` (signaling/fuzz) runs this, and the engine's tests replay its findings. The
//! engine may refuse any frame; it must never panic, and the document must stay encodable and
//! loadable with the same text.

use super::Limits;
use super::engine::{Engine, Out};

/// The first byte of each piece is its length (7 bits); its high bit picks the connection.
pub fn frames(data: &[u8]) {
    let limits = Limits {
        max_frame_bytes: 4096,
        max_doc_bytes: 64 * 1024,
        ..Limits::default()
    };
    let open = |kept: &[Vec<u8>]| {
        let mut e = Engine::load(None, kept, limits).expect("what the engine kept loads");
        let _ = e.connect(1, false);
        let _ = e.connect(2, true);
        e
    };
    let mut kept: Vec<Vec<u8>> = Vec::new();
    let mut e = open(&kept);
    let mut rest = data;
    while let Some((&head, tail)) = rest.split_first() {
        let len = usize::from(head & 0x7f).min(tail.len());
        let (frame, after) = tail.split_at(len);
        let conn = if head & 0x80 == 0 { 1 } else { 2 };
        match e.handle(conn, frame) {
            Ok(outs) => kept.extend(outs.into_iter().filter_map(|o| match o {
                Out::Update { update, .. } => Some(update),
                _ => None,
            })),
            Err(_) => {
                e.disconnect(conn);
                let _ = e.connect(conn, conn == 2);
            }
        }
        if e.poisoned() {
            e = open(&kept);
        }
        rest = after;
    }
    let state = e.state();
    let again = Engine::load(Some(&state), &[], limits).expect("a document's own state loads");
    assert_eq!(again.text(), e.text());
    let reloaded =
        Engine::load(None, &kept, limits).unwrap_or_else(|e| panic!("what was kept loads: {e}"));
    assert_eq!(reloaded.text(), e.text(), "what was kept is the document");
}
