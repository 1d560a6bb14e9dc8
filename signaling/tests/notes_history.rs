//! The notes kept at a meeting's end: the round keeps an ended meeting's minutes and the room's
//! notes once, never a meeting still to come, and what it kept stays as it was when the
//! documents change after; the history routes list and download it, and the room's export
//! holds the notes and what was kept.

mod common;

use std::io::Read;
use std::time::Duration;

use common::class::class;
use common::http::call;
use common::notes::{NoteClient, url};
use common::{ADMIN_KEY, TestServer, db};
use serde_json::json;
use signaling::notes::history;
use signaling::store::now_ms;

const WAIT: Duration = Duration::from_secs(5);
const PAST: &str = "2026-03-03T18:00:00+01:00";
const FUTURE: &str = "2030-01-01T18:00:00+01:00";

async fn write(s: &TestServer, room: &str, doc: &str, token: &str, text: &str) -> NoteClient {
    let mut c = NoteClient::synced(&url(s.addr, room, doc, token)).await;
    c.type_text(text).await;
    // Stored before it is sent on: a second client seeing it means it is kept.
    let mut check = NoteClient::synced(&url(s.addr, room, doc, token)).await;
    assert!(check.pump_until(WAIT, |c| c.text().contains(text)).await);
    c
}

async fn keeps_ended_meetings_once(s: &TestServer) {
    let c = class(s, json!({})).await;
    let r = call(
        s.addr,
        "PUT",
        &format!("/api/v1/rooms/{}/schedule", c.id),
        Some(ADMIN_KEY),
        Some(json!({"rrule": "FREQ=WEEKLY", "start": "2026-03-03T18:00", "duration_minutes": 60})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let _room = write(s, &c.id, "room", &c.host, "Goals: a chapter a week.\n").await;
    let mut minutes = write(
        s,
        &c.id,
        &format!("minutes:{PAST}"),
        &c.host,
        "Decided: quiz.\n",
    )
    .await;
    let _early = write(s, &c.id, &format!("minutes:{FUTURE}"), &c.host, "Plans\n").await;

    assert_eq!(history::run(&s.store, &s.notes, now_ms()).await.unwrap(), 1);
    assert_eq!(
        history::run(&s.store, &s.notes, now_ms()).await.unwrap(),
        0,
        "kept once"
    );
    let kept = s.store.history(&c.id, None).await.unwrap();
    assert_eq!(kept.len(), 2, "{kept:?}");
    let minutes_kept = kept.iter().find(|k| k.doc.starts_with("minutes:")).unwrap();
    assert_eq!(minutes_kept.meeting, PAST);
    assert!(
        minutes_kept.body.contains("Decided: quiz."),
        "{}",
        minutes_kept.body
    );
    let room_kept = kept.iter().find(|k| k.doc == "room").unwrap();
    assert_eq!(room_kept.body, "Goals: a chapter a week.\n");

    // The minutes change after the meeting; what was kept does not.
    minutes.type_text("Later tidy-up.\n").await;
    let _ = minutes
        .pump_until(Duration::from_millis(200), |_| false)
        .await;
    let api = format!("/api/v1/rooms/{}/notes/history", c.id);
    let listed = call(s.addr, "GET", &format!("{api}?t={}", c.ada), None, None).await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let listed = listed.json();
    let entries = listed["kept"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e["meeting"] == PAST));
    // Any spelling of the meeting, and the download is the kept text.
    let md = call(
        s.addr,
        "GET",
        &format!(
            "{api}/markdown?t={}&meeting=2026-03-03T17:00:00Z&doc=minutes:2026-03-03T17:00:00Z",
            c.ada
        ),
        None,
        None,
    )
    .await;
    assert_eq!(md.status, 200, "{}", md.text());
    assert_eq!(md.text(), minutes_kept.body);
    assert!(!md.text().contains("Later tidy-up."));
    let none = call(
        s.addr,
        "GET",
        &format!("{api}/markdown?t={}&meeting=2030-01-01T17:00:00Z", c.ada),
        None,
        None,
    )
    .await;
    assert_eq!(none.status, 404, "nothing kept for a meeting to come");
    let bad = call(
        s.addr,
        "GET",
        &format!("{api}?t={}&meeting=tuesday", c.ada),
        None,
        None,
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.text());
    let outsider = call(s.addr, "GET", &api, None, None).await;
    assert_eq!(outsider.status, 401);

    // The export holds each document now and what the meeting's end kept.
    let zip = call(
        s.addr,
        "GET",
        &format!("/api/v1/rooms/{}/export?t={}", c.id, c.host),
        None,
        None,
    )
    .await;
    assert_eq!(zip.status, 200, "{}", zip.text());
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip.body)).unwrap();
    let read = |zip: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str| {
        let mut s = String::new();
        zip.by_name(name)
            .unwrap_or_else(|_| panic!("{name} in the export"))
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    assert_eq!(
        read(&mut zip, "notes/notes.md"),
        "Goals: a chapter a week.\n"
    );
    let now = read(&mut zip, "notes/minutes-2026-03-03T180000+0100.md");
    assert!(now.contains("Later tidy-up."), "{now}");
    let then = read(&mut zip, "notes/kept/2026-03-03T180000+0100/minutes.md");
    assert_eq!(then, minutes_kept.body);
    assert_eq!(
        read(&mut zip, "notes/kept/2026-03-03T180000+0100/room-notes.md"),
        room_kept.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_meetings_notes_are_kept_once_and_read_and_exported_as_they_were() {
    for (i, (name, db)) in db::all().await.into_iter().enumerate() {
        let base = 46760 + (i as u16) * 10;
        let s = TestServer::start_api(&db, (base, base + 9)).await;
        eprintln!("-- on {name}");
        keeps_ended_meetings_once(&s).await;
    }
}
