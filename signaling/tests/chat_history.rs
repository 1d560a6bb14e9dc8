//! A stored room's kept chat over HTTP: history in pages, search, export, and the retention
//! purge that leaves no deleted text in the database file, on SQLite and PostgreSQL.

mod common;

use common::class::{class, seed, texts};
use common::http::{call, call_as};
use common::{ADMIN_KEY, TestServer, db};
use protocol::ChatMessage;
use serde_json::{Value, json};
use signaling::store::{ChatRecord, now_ms};
use std::time::Duration;

async fn paged_and_searched(url: &str, ports: u16) {
    let s = TestServer::start_api(url, (ports, ports + 9)).await;
    let c = class(&s, json!({})).await;
    let all: Vec<String> = (0..130)
        .map(|i| match i % 10 {
            3 => format!("photosynthesis needs light, note {i}"),
            _ => format!("note {i}"),
        })
        .collect();
    seed(&s.store, &c.id, &all, 60).await;
    let chat = format!("/api/v1/rooms/{}/chat", c.id);

    // Back through the history, page by page, as a guest with the shared link.
    let mut seen: Vec<String> = Vec::new();
    let mut path = chat.clone();
    loop {
        let r = call_as(s.addr, "GET", &path, &c.shared, None, None).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let page = r.json();
        let mut got = texts(&page);
        got.extend(seen);
        seen = got;
        if page["more"] == false {
            break;
        }
        let oldest = page["messages"][0]["id"].as_str().unwrap().to_owned();
        path = format!("{chat}?before={oldest}&limit=50");
    }
    assert_eq!(seen, all, "every message once, oldest first");
    let r = call_as(
        s.addr,
        "GET",
        &format!("{chat}?limit=3"),
        &c.ada,
        None,
        None,
    )
    .await;
    assert_eq!(texts(&r.json()), ["note 127", "note 128", "note 129"]);
    let r = call_as(
        s.addr,
        "GET",
        &format!("{chat}?limit=201"),
        &c.ada,
        None,
        None,
    )
    .await;
    assert_eq!(r.problem_fields(422), ["limit"]);
    let r = call_as(
        s.addr,
        "GET",
        &format!("{chat}?before=nope"),
        &c.ada,
        None,
        None,
    )
    .await;
    assert_eq!(r.problem_fields(422), ["before"]);
    let r = call(s.addr, "GET", &chat, None, None).await;
    assert_eq!(r.status, 401);

    // Search: words, newest first; the last word also as a prefix; syntax is only spaces.
    let search = format!("{chat}/search");
    for q in [
        "Photosynth",
        "light%20photosynthesis",
        "%22light%22%20-(photo*",
    ] {
        let r = call_as(
            s.addr,
            "GET",
            &format!("{search}?q={q}&limit=5"),
            &c.ada,
            None,
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        let page = r.json();
        assert_eq!(
            texts(&page),
            [123, 113, 103, 93, 83].map(|i| format!("photosynthesis needs light, note {i}")),
            "{q}"
        );
        assert_eq!(page["more"], true);
        let last = page["messages"][4]["id"].as_str().unwrap().to_owned();
        let rest = call_as(
            s.addr,
            "GET",
            &format!("{search}?q={q}&before={last}"),
            &c.ada,
            None,
            None,
        )
        .await
        .json();
        assert_eq!(texts(&rest).len(), 8, "{q}: the other eight");
        assert_eq!(rest["more"], false);
    }
    let r = call_as(
        s.addr,
        "GET",
        &format!("{search}?q=chlorophyll"),
        &c.ada,
        None,
        None,
    )
    .await;
    assert_eq!(texts(&r.json()).len(), 0);
    let r = call_as(
        s.addr,
        "GET",
        &format!("{search}?q=%22*%22"),
        &c.ada,
        None,
        None,
    )
    .await;
    assert_eq!(r.problem_fields(422), ["q"]);

    // Another room's link reads nothing here, exactly as a room that does not exist.
    let other = class(&s, json!({"name": "Chemistry"})).await;
    let theirs = call_as(s.addr, "GET", &chat, &other.shared, None, None).await;
    let nowhere = call_as(
        s.addr,
        "GET",
        "/api/v1/rooms/no-such-room/chat",
        &other.shared,
        None,
        None,
    )
    .await;
    assert_eq!(theirs.status, 401);
    assert_eq!(
        theirs.problem(401)["detail"],
        nowhere.problem(401)["detail"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_back_and_search_finds_words() {
    for (i, (name, url)) in db::all().await.into_iter().enumerate() {
        eprintln!("-- history and search on {name}");
        paged_and_searched(&url, 46400 + (i as u16) * 10).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_or_the_whole_room_exports_as_markdown_and_json() {
    let s = TestServer::start_api(&db::sqlite_url(), (46450, 46459)).await;
    let c = class(&s, json!({})).await;
    let meeting = "2026-03-03T18:00:00+01:00";
    for (text, occurrence, at) in [
        ("Welcome *all*", Some(meeting), "2026-03-03T17:01:00Z"),
        ("=HYPERLINK(\"x\")", Some(meeting), "2026-03-03T17:02:00Z"),
        ("see you next week", None, "2026-03-04T09:00:00Z"),
    ] {
        let record = ChatRecord {
            room_id: c.id.clone(),
            message: ChatMessage {
                id: uuid::Uuid::new_v4().simple().to_string(),
                name: "Ada".into(),
                text: text.into(),
                sent_at_ms: chrono::DateTime::parse_from_rfc3339(at)
                    .unwrap()
                    .timestamp_millis() as u64,
                identity: format!("member:{}", c.ada_id),
                occurrence: occurrence.map(Into::into),
                ..ChatMessage::default()
            },
        };
        s.store.insert_chat(&record).await.unwrap();
    }
    let export = format!("/api/v1/rooms/{}/chat/export", c.id);
    let md = call_as(s.addr, "GET", &export, &c.ada, None, None).await;
    assert_eq!(md.status, 200);
    assert_eq!(
        md.header("content-type"),
        Some("text/markdown; charset=utf-8")
    );
    assert_eq!(
        md.header("content-disposition"),
        Some(format!("attachment; filename=\"chat-{}.md\"", c.slug).as_str())
    );
    let text = md.text();
    for line in [
        "# Chat: Biology 9",
        "## Tuesday 3 March 2026",
        "### Tuesday 3 March meeting, 18:00",
        "Welcome \\*all\\*",
        "## Wednesday 4 March 2026",
        "### Between meetings",
        "**Ada**, 10:00\\",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} in:\n{text}");
    }
    // One meeting, as JSON; the same moment in UTC names it too.
    let one = call_as(
        s.addr,
        "GET",
        &format!("{export}?format=json&occurrence=2026-03-03T17:00:00Z"),
        &c.host,
        None,
        None,
    )
    .await;
    assert_eq!(one.header("content-type"), Some("application/json"));
    let doc = one.json();
    assert_eq!(doc["occurrence"], meeting);
    assert_eq!(texts(&doc), ["Welcome *all*", "=HYPERLINK(\"x\")"]);
    let r = call_as(
        s.addr,
        "GET",
        &format!("{export}?format=pdf"),
        &c.ada,
        None,
        None,
    )
    .await;
    assert_eq!(r.problem_fields(422), ["format"]);
    let r = call_as(
        s.addr,
        "GET",
        &format!("{export}?occurrence=tuesday"),
        &c.ada,
        None,
        None,
    )
    .await;
    assert_eq!(r.problem_fields(422), ["occurrence"]);
    // An organiser's key exports too.
    assert_eq!(
        call(s.addr, "GET", &export, Some(ADMIN_KEY), None)
            .await
            .status,
        200
    );
}

/// Whether `needle` appears in the SQLite database file or its write-ahead log.
fn on_disk(url: &str, needle: &str) -> bool {
    let path = url.trim_start_matches("sqlite://");
    [path.to_owned(), format!("{path}-wal")].iter().any(|p| {
        std::fs::read(p)
            .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
            .unwrap_or(false)
    })
}

async fn retention(url: &str, ports: u16, sqlite: bool) {
    let s = TestServer::start_api(url, (ports, ports + 9)).await;
    let c = class(&s, json!({"chat_retention_days": 30})).await;
    let keep_all = class(&s, json!({"name": "Kept for ever"})).await;
    let old = ["xylophonequartz from last term".to_owned()];
    seed(&s.store, &c.id, &old, 31 * 24 * 60).await;
    seed(&s.store, &keep_all.id, &old, 31 * 24 * 60).await;
    let recent = ["fresh note".to_owned(), "zebracornfleet secret".to_owned()];
    let ids = seed(&s.store, &c.id, &recent, 60).await;
    let chat = format!("/api/v1/rooms/{}/chat", c.id);
    let r = call(
        s.addr,
        "DELETE",
        &format!("{chat}/{}", ids[1]),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(
        r.status,
        200,
        "an organiser deletes as a host: {}",
        r.text()
    );

    let hub = signaling::hub::Hub::new(0, 0);
    let files = signaling::store::files::FileStore::new(&s.data_dir);
    let purged = signaling::upkeep::run(&s.store, &hub, &files, now_ms(), Duration::ZERO)
        .await
        .unwrap()
        .purged_messages;
    assert_eq!(
        purged, 1,
        "only the old message of the room that keeps 30 days"
    );
    let page = call_as(s.addr, "GET", &chat, &c.ada, None, None)
        .await
        .json();
    assert_eq!(texts(&page), ["fresh note", ""]);
    let kept = call_as(
        s.addr,
        "GET",
        &format!("/api/v1/rooms/{}/chat", keep_all.id),
        &keep_all.ada,
        None,
        None,
    )
    .await;
    assert_eq!(texts(&kept.json()), old);
    let r = call_as(
        s.addr,
        "GET",
        &format!("{chat}/search?q=zebracornfleet"),
        &c.ada,
        None,
        None,
    )
    .await;
    assert_eq!(texts(&r.json()).len(), 0);
    if sqlite {
        assert!(
            on_disk(url, "fresh note"),
            "the check can see text that is there"
        );
        assert!(
            !on_disk(url, "zebracornfleet"),
            "deleted text is gone from the file"
        );
        let r = call_as(
            s.addr,
            "GET",
            &format!(
                "/api/v1/rooms/{}/chat/search?q=xylophonequartz",
                keep_all.id
            ),
            &keep_all.ada,
            None,
            None,
        )
        .await;
        assert_eq!(
            texts(&r.json()).len(),
            1,
            "the other room still finds its old message"
        );
    }
    // Retention is checked, and can be turned off again.
    let room = format!("/api/v1/rooms/{}", c.id);
    let r = call(
        s.addr,
        "PATCH",
        &room,
        Some(ADMIN_KEY),
        Some(json!({"chat_retention_days": 0})),
    )
    .await;
    assert_eq!(r.problem_fields(422), ["chat_retention_days"]);
    let r = call(
        s.addr,
        "PATCH",
        &room,
        Some(ADMIN_KEY),
        Some(json!({"chat_retention_days": null})),
    )
    .await;
    assert_eq!(r.json()["chat_retention_days"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_purges_old_chat_and_deleted_text_leaves_no_trace() {
    for (i, (name, url)) in db::all().await.into_iter().enumerate() {
        eprintln!("-- retention on {name}");
        retention(&url, 46460 + (i as u16) * 10, name == "sqlite").await;
    }
}
