//! Shared notes, server side, with yrs documents as the clients (no browser): syncing from
//! empty and with content, ten writers converging, the log kept and compacted, unload and
//! reload, the minutes' template, read-only rooms, and each kind of bad input closing only its
//! own connection.

mod common;

use std::time::Duration;

use common::class::{class, revoke_ada};
use common::http::call;
use common::notes::{NoteClient, url};
use common::{ADMIN_KEY, TestServer, db};
use serde_json::json;
use signaling::config::Limits;

const WAIT: Duration = Duration::from_secs(5);

fn limits() -> Limits {
    Limits {
        notes: signaling::notes::Limits {
            compact_after_updates: 5,
            unload_after: Duration::from_millis(300),
            max_frame_bytes: 4096,
            max_doc_bytes: 64 * 1024,
            ..signaling::notes::Limits::default()
        },
        ..Limits::default()
    }
}

async fn sync_edit_converge_and_reload(s: &TestServer) {
    let c = class(s, json!({})).await;
    let host_url = url(s.addr, &c.id, "room", &c.host);
    // From empty: the first client types, a second one syncs and has it.
    let mut ada = NoteClient::synced(&host_url).await;
    assert_eq!(ada.text(), "");
    ada.type_text("Goals: read a chapter a week.\n").await;
    let shared = url(s.addr, &c.id, "room", &c.shared);
    let mut bea = NoteClient::synced(&shared).await;
    assert!(
        bea.pump_until(WAIT, |b| b.text() == "Goals: read a chapter a week.\n")
            .await,
        "a later client syncs with existing content: {:?}",
        bea.text()
    );
    // Ten writers at once: everyone ends with the same text, holding every line.
    let mut writers = Vec::new();
    for _ in 0..10 {
        writers.push(NoteClient::synced(&url(s.addr, &c.id, "room", &c.host)).await);
    }
    for (i, w) in writers.iter_mut().enumerate() {
        w.type_text(&format!("line {i}\n")).await;
    }
    let all = |t: &str| (0..10).all(|i| t.contains(&format!("line {i}\n")));
    for w in writers.iter_mut() {
        assert!(
            w.pump_until(WAIT, |w| all(&w.text())).await,
            "{:?}",
            w.text()
        );
    }
    assert!(ada.pump_until(WAIT, |a| all(&a.text())).await);
    let text = ada.text();
    for w in writers.iter_mut().chain([&mut bea]) {
        assert!(w.pump_until(WAIT, |w| w.text() == text).await, "converged");
    }
    // Everyone leaves; the document is compacted and unloaded, then loads back the same.
    drop(writers);
    drop((ada, bea));
    let unloaded = common::eventually(WAIT, || s.notes.open_documents() == 0).await;
    assert!(unloaded, "unloaded once nobody has it open");
    let stored = s.store.load_doc(&c.id, "room").await.unwrap();
    assert!(stored.snapshot.is_some(), "compacted into a snapshot");
    assert!(
        stored.tail.len() < 5,
        "{} updates left in the log",
        stored.tail.len()
    );
    let again = NoteClient::synced(&host_url).await;
    assert_eq!(again.text(), text, "reloaded from snapshot and log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_sync_edit_converge_and_the_document_survives_unload() {
    for (i, (name, db)) in db::all().await.into_iter().enumerate() {
        let base = 46700 + (i as u16) * 10;
        let s = TestServer::start_api_with(&db, (base, base + 9), limits()).await;
        eprintln!("-- on {name}");
        sync_edit_converge_and_reload(&s).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_minutes_start_from_the_template_with_the_agenda() {
    let s = TestServer::start_api_with(&db::sqlite_url(), (46720, 46729), limits()).await;
    let c = class(&s, json!({"time_zone": "UTC"})).await;
    let meeting = "2026-03-03T18:00:00+00:00";
    let r = call(
        s.addr,
        "POST",
        &format!("/api/v1/rooms/{}/board", c.id),
        Some(ADMIN_KEY),
        Some(
            json!({"kind": "text", "title": "Photosynthesis", "body": "p. 40",
            "meeting": meeting, "author": "Teacher"}),
        ),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // The host edits the template first; participants may not.
    let mut template = NoteClient::synced(&url(s.addr, &c.id, "template", &c.host)).await;
    template
        .type_text("# {date}\n\nAgenda:\n{agenda}\n\n## Decisions\n")
        .await;
    let mut pupil = NoteClient::synced(&url(s.addr, &c.id, "template", &c.shared)).await;
    assert_eq!(pupil.denied, ["read-only"], "told on connect");
    pupil.type_text("graffiti").await;
    assert!(pupil.pump_until(WAIT, |p| p.denied.len() == 2).await);
    assert_eq!(pupil.denied, ["read-only", "read-only"]);
    let spoiled = template
        .pump_until(Duration::from_millis(300), |t| {
            t.text().contains("graffiti")
        })
        .await;
    assert!(
        !spoiled,
        "a participant's edit of the template is never merged"
    );
    let doc = format!("minutes:{meeting}");
    let minutes = NoteClient::synced(&url(s.addr, &c.id, &doc, &c.shared)).await;
    assert_eq!(
        minutes.text(),
        "# Tuesday 3 March 2026, 18:00\n\nAgenda:\n- Photosynthesis\n\n## Decisions\n"
    );
    // The same meeting by another spelling is the same document.
    let same = NoteClient::synced(&url(
        s.addr,
        &c.id,
        "minutes:2026-03-03T19:00:00+01:00",
        &c.host,
    ))
    .await;
    assert_eq!(same.text(), minutes.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_rooms_refuse_participants_edits_and_hosts_still_write() {
    let s = TestServer::start_api_with(&db::sqlite_url(), (46730, 46739), limits()).await;
    let c = class(&s, json!({"notes_read_only": true})).await;
    let mut host = NoteClient::synced(&url(s.addr, &c.id, "room", &c.host)).await;
    let mut pupil = NoteClient::synced(&url(s.addr, &c.id, "room", &c.ada)).await;
    assert_eq!(pupil.denied, ["read-only"], "told on connect");
    assert!(host.denied.is_empty(), "hosts write");
    pupil.type_text("my edit").await;
    assert!(pupil.pump_until(WAIT, |p| p.denied.len() == 2).await);
    assert_eq!(pupil.denied, ["read-only", "read-only"]);
    assert!(pupil.closed.is_none(), "refused, not cut off");
    host.type_text("hosts write").await;
    assert!(
        pupil
            .pump_until(WAIT, |p| p.text().contains("hosts write"))
            .await
    );
    assert!(
        !host
            .pump_until(Duration::from_millis(300), |h| h.text().contains("my edit"))
            .await
    );
    let stored = s.store.load_doc(&c.id, "room").await.unwrap();
    let kept: usize = stored.tail_bytes();
    assert!(
        kept > 0 && stored.tail.len() == 1,
        "only the host's edit was kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_closes_only_its_own_connection() {
    let s = TestServer::start_api_with(&db::sqlite_url(), (46740, 46749), limits()).await;
    let c = class(&s, json!({})).await;
    let u = url(s.addr, &c.id, "room", &c.host);
    let mut bystander = NoteClient::synced(&u).await;
    for (frame, code, what) in [
        (vec![0xff; 12], 1007, "a bad varint"),
        (vec![0, 2, 10, 1, 2], 1007, "a truncated update"),
        (vec![0, 9, 0], 1007, "an unknown sync message"),
        (vec![42, 0], 1007, "an unknown message type"),
        (vec![0, 2, 0x80, 0x40], 1007, "a short length"),
        (vec![0; 5000], 1009, "a frame over the limit"),
    ] {
        let mut bad = NoteClient::synced(&u).await;
        bad.send_raw(frame).await;
        bad.pump_until(WAIT, |b| b.closed.is_some()).await;
        assert_eq!(bad.closed.as_ref().map(|c| c.0), Some(code), "{what}");
    }
    // A flood of edits.
    let mut flood = NoteClient::synced(&u).await;
    for i in 0..200 {
        flood.type_text(&format!("{i}")).await;
    }
    flood.pump_until(WAIT, |f| f.closed.is_some()).await;
    assert_eq!(flood.closed.as_ref().map(|c| c.0), Some(1008), "a flood");
    // A flood of presence frames (each one is sent on to everyone in the document).
    let mut chatter = NoteClient::synced(&u).await;
    for clock in 0..200u32 {
        let mut payload = vec![1, 7]; // one client, id 7
        let mut c = clock;
        while c >= 0x80 {
            payload.push((c as u8 & 0x7f) | 0x80);
            c >>= 7;
        }
        payload.push(c as u8);
        payload.extend([2, b'{', b'}']);
        let mut frame = vec![1, payload.len() as u8];
        frame.extend(payload);
        chatter.send_raw(frame).await;
    }
    chatter.pump_until(WAIT, |c| c.closed.is_some()).await;
    assert_eq!(
        chatter.closed.as_ref().map(|c| c.0),
        Some(1008),
        "a presence flood"
    );
    // A document that would grow past its limit.
    let mut big = NoteClient::synced(&u).await;
    for _ in 0..20 {
        big.type_text(&"x".repeat(3500)).await;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert!(
        big.pump_until(WAIT, |b| b
            .denied
            .iter()
            .any(|d| d == "the document is full"))
            .await
    );
    // The bystander saw none of it go wrong, and still edits.
    bystander.type_text("still here").await;
    let mut check = NoteClient::synced(&u).await;
    assert!(
        check
            .pump_until(WAIT, |c| c.text().contains("still here"))
            .await
    );
    assert!(bystander.closed.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_are_checked_on_connect_and_a_revoked_one_is_cut_off() {
    let s = TestServer::start_api_with(&db::sqlite_url(), (46750, 46759), limits()).await;
    let c = class(&s, json!({})).await;
    let other = class(&s, json!({"slug": "chemistry"})).await;
    // Another room's link, no link, and a document that does not exist.
    assert_eq!(
        NoteClient::connect(&url(s.addr, &other.id, "room", &c.host))
            .await
            .err(),
        Some(401)
    );
    let bare = format!("ws://{}/api/v1/rooms/{}/docs/room", s.addr, c.id);
    assert_eq!(NoteClient::connect(&bare).await.err(), Some(401));
    assert_eq!(
        NoteClient::connect(&url(s.addr, &c.id, "minutes:soon", &c.host))
            .await
            .err(),
        Some(422)
    );
    // Ada's personal link works until her links are revoked, then the open connection ends.
    let mut ada = NoteClient::synced(&url(s.addr, &c.id, "room", &c.ada)).await;
    let r = revoke_ada(&s, &c).await;
    assert!(r.status < 300, "{}", r.text());
    assert!(ada.pump_until(WAIT, |a| a.closed.is_some()).await);
    assert_eq!(ada.closed.as_ref().map(|c| c.0), Some(1008));
    assert_eq!(
        NoteClient::connect(&url(s.addr, &c.id, "room", &c.ada))
            .await
            .err(),
        Some(401)
    );
}
