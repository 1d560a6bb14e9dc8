//! Update shapes against documents yrs edits, and hand-made hostile shapes.

use proptest::prelude::*;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, Text, Transact, Update};

use super::*;
use crate::notes::TEXT;

fn doc(client: u64) -> Doc {
    Doc::with_client_id(client)
}

fn type_at(d: &Doc, at: u32, text: &str) {
    let t = d.get_or_insert_text(TEXT);
    let mut txn = d.transact_mut();
    let at = at.min(t.len(&txn));
    t.insert(&mut txn, at, text);
}

fn sv(d: &Doc) -> StateVector {
    d.transact().state_vector()
}

fn diff(d: &Doc, since: &StateVector) -> Vec<u8> {
    d.transact().encode_state_as_update_v1(since)
}

#[test]
fn a_synced_clients_diff_and_edits_pass() {
    let server = doc(1);
    type_at(&server, 0, "hello");
    let client = doc(2);
    client
        .transact_mut()
        .apply_update(Update::decode_v1(&diff(&server, &StateVector::default())).unwrap())
        .unwrap();
    let known = sv(&server);
    let before = sv(&client);
    type_at(&client, 5, " world");
    type_at(&client, 0, ">");
    assert_eq!(check(&diff(&client, &known), Some(&known)), Ok(()));
    assert_eq!(check(&diff(&client, &before), Some(&known)), Ok(()));
    assert_eq!(check(&[0, 0], Some(&known)), Ok(()));
}

#[test]
fn repeats_and_gaps_are_refused() {
    let a = doc(7);
    type_at(&a, 0, "abc");
    let mid = sv(&a);
    type_at(&a, 3, "def");
    let whole = diff(&a, &StateVector::default());
    let tail = diff(&a, &mid);
    // The server has "abc": the whole update repeats it; the tail continues it.
    assert_eq!(check(&whole, Some(&mid)), Err(Refused::Repeats));
    assert_eq!(check(&tail, Some(&mid)), Ok(()));
    // The server has nothing: the tail builds on "abc", which it lacks.
    assert_eq!(
        check(&tail, Some(&StateVector::default())),
        Err(Refused::Gap)
    );
    assert_eq!(check(&tail, None), Ok(()));
}

#[test]
fn holes_are_refused() {
    // Merging two of a client's updates with one missing between them leaves a skip block.
    let a = doc(9);
    type_at(&a, 0, "a");
    let first = diff(&a, &StateVector::default());
    type_at(&a, 1, "b");
    let s2 = sv(&a);
    type_at(&a, 2, "c");
    let third = diff(&a, &s2);
    let merged = Update::merge_updates([
        Update::decode_v1(&first).unwrap(),
        Update::decode_v1(&third).unwrap(),
    ])
    .encode_v1();
    assert_eq!(check(&merged, None), Err(Refused::Hole));
}

#[test]
fn hand_made_shapes_are_refused() {
    // Client 1 twice: a GC block at clock 0, then another run at clock 1.
    let twice = [2, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0];
    assert_eq!(check(&twice, None), Err(Refused::ClientTwice));
    // Far more clients or blocks declared than there are bytes.
    assert_eq!(check(&[0xff, 0xff, 0x03, 0], None), Err(Refused::Oversized));
    assert_eq!(check(&[1, 0xff, 0x7f, 1, 0], None), Err(Refused::Oversized));
    assert_eq!(check(&[3, 1, 1], None), Err(Refused::Oversized));
    // Cut short, and a client id over 53 bits (yrs asserts on it).
    assert_eq!(check(&[1, 1, 1, 0, 4], None), Err(Refused::Unreadable));
    let big_client = [
        1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 1, 0,
    ];
    assert!(check(&big_client, None).is_err());
}

proptest! {
    /// What two yrs documents send each other while they edit passes; the same bytes cut short
    /// never panic.
    #[test]
    fn edits_between_synced_docs_pass(
        edits in proptest::collection::vec((any::<bool>(), 0u32..40, "[a-z ]{1,6}"), 1..20),
        cut in any::<prop::sample::Index>(),
    ) {
        let (a, b) = (doc(11), doc(12));
        for (on_a, at, text) in &edits {
            let (from, to) = if *on_a { (&a, &b) } else { (&b, &a) };
            let known = sv(to);
            type_at(from, *at, text);
            let u = diff(from, &known);
            prop_assert_eq!(check(&u, Some(&known)), Ok(()), "update {:?}", u);
            to.transact_mut().apply_update(Update::decode_v1(&u).unwrap()).unwrap();
            let short = &u[..cut.index(u.len())];
            let _ = check(short, Some(&known));
        }
    }
}
