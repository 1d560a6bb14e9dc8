//! The engine against yrs documents playing the clients.

use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

use super::*;

fn engine(limits: Limits) -> Engine {
    Engine::load(None, &[], limits).unwrap()
}

fn client(text: &str) -> Doc {
    let doc = Doc::new();
    let t = doc.get_or_insert_text(TEXT);
    t.insert(&mut doc.transact_mut(), 0, text);
    doc
}

fn step1(doc: &Doc) -> Vec<u8> {
    Message::Sync(SyncMessage::SyncStep1(doc.transact().state_vector())).encode_v1()
}

fn step2(doc: &Doc, sv: &StateVector) -> Vec<u8> {
    Message::Sync(SyncMessage::SyncStep2(
        doc.transact().encode_state_as_update_v1(sv),
    ))
    .encode_v1()
}

/// Applies every sync frame of `outs` addressed to `conn` to `doc`.
fn deliver(doc: &Doc, conn: ConnId, outs: &[Out]) {
    for out in outs {
        let bytes = match out {
            Out::Reply(c, f) if *c == conn => f,
            Out::Update { origin, frame, .. } if *origin != Some(conn) => frame,
            _ => continue,
        };
        if let Ok(Message::Sync(SyncMessage::SyncStep2(u) | SyncMessage::Update(u))) =
            Message::decode_v1(bytes)
        {
            doc.transact_mut()
                .apply_update(Update::decode_v1(&u).unwrap())
                .unwrap();
        }
    }
}

fn text(doc: &Doc) -> String {
    doc.get_or_insert_text(TEXT).get_string(&doc.transact())
}

#[test]
fn a_client_s_text_reaches_the_server_and_a_later_client() {
    let mut e = engine(Limits::default());
    let ada = client("Goals: read chapter 4");
    let hello = e.connect(1, false).unwrap();
    // The server's step 1 asks for everything; Ada answers with her step 2.
    let Out::Reply(1, first) = &hello[0] else {
        panic!("{hello:?}")
    };
    let Message::Sync(SyncMessage::SyncStep1(sv)) = Message::decode_v1(first).unwrap() else {
        panic!("the server opens with its state vector")
    };
    let outs = e.handle(1, &step2(&ada, &sv)).unwrap();
    let kept: Vec<&Vec<u8>> = outs
        .iter()
        .filter_map(|o| match o {
            Out::Update {
                origin: Some(1),
                update,
                ..
            } => Some(update),
            _ => None,
        })
        .collect();
    assert_eq!(kept.len(), 1, "one update to keep: {outs:?}");
    assert_eq!(e.text(), "Goals: read chapter 4");

    // Bea, empty, syncs and gets it all.
    let bea = Doc::new();
    e.connect(2, false).unwrap();
    let outs = e.handle(2, &step1(&bea)).unwrap();
    deliver(&bea, 2, &outs);
    assert_eq!(text(&bea), "Goals: read chapter 4");

    // Bea types: Ada is sent the update, Bea is not sent her own edit back.
    let before = bea.transact().state_vector();
    bea.get_or_insert_text(TEXT)
        .insert(&mut bea.transact_mut(), 0, "# ");
    let edit = Message::Sync(SyncMessage::Update(
        bea.transact().encode_state_as_update_v1(&before),
    ))
    .encode_v1();
    let outs = e.handle(2, &edit).unwrap();
    assert!(
        outs.iter().all(|o| matches!(
            o,
            Out::Update {
                origin: Some(2),
                ..
            }
        )),
        "{outs:?}"
    );
    deliver(&ada, 1, &outs);
    assert_eq!(text(&ada), "# Goals: read chapter 4");
    // A stored engine loads the same text back from its state.
    let again = Engine::load(Some(&e.state()), &[], Limits::default()).unwrap();
    assert_eq!(again.text(), "# Goals: read chapter 4");
}

#[test]
fn read_only_and_full_documents_refuse_edits_and_keep_the_connection() {
    let mut e = engine(Limits {
        max_doc_bytes: 200,
        ..Limits::default()
    });
    e.connect(1, true).unwrap();
    let ada = client("mine");
    let outs = e.handle(1, &step2(&ada, &StateVector::default())).unwrap();
    assert_eq!(outs, vec![Out::Reply(1, denied("read-only"))]);
    assert_eq!(e.text(), "", "never merged");
    e.connect(2, false).unwrap();
    let big = client(&"x".repeat(500));
    let outs = e.handle(2, &step2(&big, &StateVector::default())).unwrap();
    assert_eq!(outs, vec![Out::Reply(2, denied("the document is full"))]);
    assert_eq!(e.text(), "");
    // Reading still works for both.
    assert!(e.handle(1, &step1(&Doc::new())).is_ok());
}

#[test]
fn malformed_frames_end_only_their_connection() {
    let mut e = engine(Limits {
        max_frame_bytes: 64,
        ..Limits::default()
    });
    e.connect(1, false).unwrap();
    for (bad, why) in [
        (vec![], "an empty frame"),
        (
            vec![
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
            "a bad varint",
        ),
        (vec![0, 9, 1, 0], "an unknown sync message"),
        (vec![0, 2, 10, 1, 2], "a truncated update"),
        (
            vec![0, 2, 3, 0xff, 0xfe, 0xfd],
            "an update that cannot be read",
        ),
        (vec![7, 1, 0], "an unknown message type"),
        (vec![1, 4, 9, 9, 9, 9], "a bad presence update"),
        (vec![0; 65], "a frame over the limit"),
        // Found by the fuzzer: a presence frame declaring billions of clients, for which yrs
        // would reserve memory before reading any.
        (
            vec![1, 12, 147, 255, 255, 255, 255, 147, 147, 147, 0, 3, 255, 2],
            "an allocation bomb",
        ),
        (
            vec![0, 2, 4, 99, 255, 255, 7],
            "an update declaring more clients than it has bytes",
        ),
        // Found by the fuzzer: a delete set whose range overflows (yrs panics reading it).
        (
            vec![
                0, 1, 12, 0, 64, 0, 1, 255, 255, 255, 255, 255, 255, 20, 59, 21, 0, 0,
            ],
            "a delete set that overflows",
        ),
    ] {
        let r = e.handle(1, &bad);
        assert!(r.is_err(), "{why}: {r:?}");
    }
    assert_eq!(
        e.connections(),
        1,
        "the owner closes the connection, not the engine"
    );
    let limits = Limits {
        max_connections: 1,
        ..Limits::default()
    };
    let mut full = engine(limits);
    full.connect(1, false).unwrap();
    assert_eq!(full.connect(2, false).unwrap_err().code, 1013);
}

#[test]
fn hostile_presence_clocks_do_not_take_the_document_down() {
    // Found by the fuzzer: a presence with a 64-bit client id and a clock that overflows.
    let mut e = engine(Limits::default());
    e.connect(1, false).unwrap();
    e.connect(2, false).unwrap();
    let frame = [
        1, 11, 1, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 27, 2, 16, 46,
    ];
    let _ = e.handle(1, &frame);
    // A clock of u32::MAX, which leaving adds one to.
    let body = [1u8, 7, 0xff, 0xff, 0xff, 0xff, 0x0f, 2, b'{', b'}'];
    let mut max_clock = vec![1u8, u8::try_from(body.len()).unwrap()];
    max_clock.extend(body);
    let _ = e.handle(1, &max_clock);
    let _ = e.disconnect(1);
    assert_eq!(e.connections(), 1);
    assert!(
        e.handle(2, &step1(&Doc::new())).is_ok(),
        "the document still works"
    );
}

#[test]
fn the_server_s_own_text_is_an_update_like_any_other() {
    let mut e = engine(Limits::default());
    let outs = e.append_text("# Minutes\n");
    assert!(
        matches!(&outs[..], [Out::Update { origin: None, .. }]),
        "{outs:?}"
    );
    assert_eq!(e.text(), "# Minutes\n");
    assert!(!e.is_empty());
    let Out::Update { update, .. } = &outs[0] else {
        unreachable!()
    };
    let replay = Engine::load(None, std::slice::from_ref(update), Limits::default()).unwrap();
    assert_eq!(
        replay.text(),
        "# Minutes\n",
        "the kept update replays to the same text"
    );
}

#[test]
fn fuzz_findings_are_refused_without_a_panic() {
    // An update that leaves part of itself pending on missing history; one that puts a skip
    // block at a client's start into the document, in no update, making its state undecodable;
    // two whose new blocks point at repeated ones that yrs drops (a use after free, seen under
    // the fuzzer's AddressSanitizer only; the second repeats them in a client listed twice).
    let inputs: [&[u8]; 4] = [
        &[
            0x00, 0x30, 0x00, 0x01, 0x1c, 0x01, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
            0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0c, 0x00, 0xc1, 0x02, 0x01, 0x0c, 0x01,
            0x0c, 0x00, 0xc1, 0x5d, 0x00, 0xe8, 0x30, 0x00, 0x00, 0x0c, 0x00, 0xb0, 0xb0, 0xb0,
            0xb0, 0xb0, 0xb0, 0xb0, 0xb0, 0xb0, 0xb0, 0xb0, 0xb0, 0xb0, 0xb0, 0xb0, 0xb0, 0xb0,
            0xb0, 0xb0, 0xb0, 0x40, 0x00, 0x01, 0xff, 0x7f, 0xff, 0xff, 0x00, 0x01, 0x00, 0x00,
            0x00, 0x63, 0x00, 0xe8, 0x30, 0x00, 0x01, 0x0c, 0x03, 0x00, 0x01, 0x0c, 0x00, 0x03,
            0x00,
        ],
        &[
            0x80, 0x30, 0x00, 0x01, 0x0c, 0x01, 0x01, 0x04, 0xfc, 0xff, 0x15, 0x12, 0x01, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x30,
            0x00, 0x01, 0x0c, 0x04, 0x03, 0x00, 0xea, 0xea, 0xea, 0xea, 0xea, 0xea, 0xea, 0xf2,
            0x2c, 0xe8, 0xff, 0xc0, 0x73, 0xea, 0xea, 0xea, 0xea, 0xea, 0xea, 0xea, 0xea, 0xea,
            0x00, 0x30, 0x00, 0x01, 0x1c, 0x00, 0x01, 0x04, 0x04, 0xff, 0x03, 0x80, 0xfe, 0xff,
            0x86, 0xff, 0x3d, 0x01, 0x01, 0x00, 0x00, 0x17, 0x4b, 0x4b, 0x4b, 0x4b, 0x4b, 0x73,
            0x73, 0x73, 0xea, 0xea, 0x73, 0x31, 0xff,
        ],
        &[
            0x86, 0x86, 0x86, 0x86, 0x86, 0x86, 0x86, 0x86, 0xf6, 0x86, 0x7e, 0x79, 0x86, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x01, 0x01,
            0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x30, 0x00, 0x01, 0x1d, 0x01, 0x01,
            0x01, 0x09, 0x01, 0x01, 0x01, 0x01, 0x81, 0x81, 0x81, 0x81, 0x01, 0x01, 0x01, 0x00,
            0x30, 0x00, 0x01, 0x1d, 0x01, 0x01, 0x01, 0x01, 0x01, 0x7e, 0x00, 0x00, 0x00, 0x01,
            0xab, 0x01, 0x01, 0x01, 0x00, 0x00, 0x30, 0x00, 0x01, 0x1d, 0x0c, 0x00, 0x61, 0x81,
            0x01, 0x01, 0x00, 0x30, 0x00, 0x01, 0x1d, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
            0x01, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
            0x01, 0x01, 0x01, 0x00, 0x30, 0x00, 0x01, 0x1d, 0x01, 0x86, 0x01, 0x01, 0x01, 0x01,
            0x01, 0x01, 0x01, 0x41, 0x01, 0xab, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x7a, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x86, 0x86, 0x86, 0x01, 0x00, 0x3e, 0xf5,
        ],
        &[
            0x00, 0x30, 0x00, 0x01, 0x0c, 0x01, 0x01, 0x04, 0x04, 0x00, 0xea, 0xea, 0x01, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x30,
            0x00, 0x01, 0xea, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x86, 0x86, 0x86, 0x86, 0x86, 0x86, 0x86, 0x86, 0xf6, 0x86, 0x7e, 0x79, 0x86,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x01,
            0x08, 0x02, 0x01, 0xf7, 0x2f, 0x00, 0x01, 0x1d, 0x01, 0x01, 0x01, 0x41, 0x01, 0x01,
            0x01, 0x01, 0x41, 0x01, 0x01, 0x00, 0x01, 0x08, 0x02, 0x01, 0xf7, 0x2f, 0x00, 0x01,
            0x1d, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x41, 0x01, 0xff, 0xfe, 0xfe,
            0xff, 0xff, 0xcf, 0xff, 0xc1, 0x1d, 0x0c, 0x00, 0x61, 0x01, 0x01, 0x00, 0x30, 0x00,
            0x01, 0x1d, 0x01, 0x81, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x81, 0x81, 0x01, 0x01, 0x01, 0x01, 0x01, 0xff, 0xff, 0xff,
            0x48, 0x01, 0x01, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0x01, 0x01, 0x01, 0x01,
            0x01, 0x00, 0x01, 0x01, 0x01, 0x00, 0x30, 0x00, 0x01, 0x1d, 0x01, 0x01, 0x01, 0x01,
            0x01, 0x01, 0x01, 0x01, 0x81, 0x81, 0x81, 0x81, 0x01, 0x01, 0x01, 0x00, 0x30, 0x00,
            0x01, 0x1d, 0x01, 0x01, 0x01, 0x01, 0x01, 0x7e, 0x00, 0x00, 0x00, 0x01, 0xab, 0x01,
            0x01, 0x01, 0x00, 0x00, 0x30, 0x00, 0x01, 0x1d, 0x0c, 0x00, 0x61, 0x81, 0x01, 0x01,
            0x00, 0x30, 0x00, 0x01, 0x1d, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0xab,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x00, 0x01, 0x1c, 0x00,
            0x01, 0x04, 0x04, 0xff, 0x03, 0x80, 0x3b, 0xfe, 0xff, 0x86, 0xff, 0x00, 0x40, 0x3d,
            0xff, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0x01, 0x01, 0x01, 0x00, 0x00, 0x01, 0x01, 0x01,
            0x01, 0x01, 0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00,
        ],
    ];
    for input in inputs {
        crate::notes::replay::frames(input);
    }
}

#[test]
fn one_client_typing_line_after_line_is_kept_each_time() {
    let mut e = engine(Limits::default());
    e.connect(1, false).unwrap();
    let doc = Doc::new();
    let t = doc.get_or_insert_text(TEXT);
    for i in 0..5 {
        let before = doc.transact().state_vector();
        {
            let mut txn = doc.transact_mut();
            let end = t.len(&txn);
            t.insert(&mut txn, end, &format!("line {i}\n"));
        }
        let u = doc.transact().encode_state_as_update_v1(&before);
        let frame = Message::Sync(SyncMessage::Update(u)).encode_v1();
        let outs = e.handle(1, &frame).map_err(|f| f.reason).unwrap();
        assert_eq!(outs.len(), 1, "line {i}");
    }
    assert_eq!(e.text().lines().count(), 5);
}

#[test]
fn an_update_that_repeats_what_the_document_has_is_refused() {
    let mut e = engine(Limits::default());
    e.connect(1, false).unwrap();
    let doc = client("first line\n");
    let all = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let send = |u: Vec<u8>| Message::Sync(SyncMessage::Update(u)).encode_v1();
    assert_eq!(e.handle(1, &send(all)).unwrap().len(), 1);
    let t = doc.get_or_insert_text(TEXT);
    t.insert(&mut doc.transact_mut(), 11, "second\n");
    // Everything from the start again, the first line included.
    let again = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let refused = e.handle(1, &send(again)).unwrap_err();
    assert_eq!(
        refused.reason,
        "an update that repeats edits the document has"
    );
    assert_eq!(e.text(), "first line\n", "nothing of it applied");
}
