//! A stored room's chat is kept between meetings: what was said is there for the next joiner,
//! after the call has ended and the server has restarted, on SQLite and on PostgreSQL.

mod common;

use common::http::call;
use common::raw::{Next, Raw};
use common::{ADMIN_KEY, TestServer, db};
use serde_json::{Value, json};

async fn next_chat(ws: &mut Raw) -> Value {
    loop {
        match ws.next().await {
            // The message's fields stand beside `type` (flattened).
            Next::Json(mut v) if v["type"] == "chat" => {
                v.as_object_mut().unwrap().remove("type");
                return v;
            }
            Next::Json(_) => continue,
            other => panic!("expected chat, got {other:?}"),
        }
    }
}

async fn join(s: &TestServer, slug: &str, token: &str, name: &str) -> (Raw, Value) {
    let mut ws = Raw::connect(&s.ws_url()).await;
    ws.send_json(json!({"type": "join", "v": 1, "room": slug, "name": name, "token": token}))
        .await;
    match ws.next().await {
        Next::Json(v) if v["type"] == "joined" => (ws, v),
        other => panic!("expected joined, got {other:?}"),
    }
}

async fn kept(url: &str, ports: u16) {
    let s = TestServer::start_api(url, (ports, ports + 9)).await;
    let room = call(
        s.addr,
        "POST",
        "/api/v1/rooms",
        Some(ADMIN_KEY),
        Some(json!({"name": "Reading group", "time_zone": "UTC"})),
    )
    .await
    .json();
    let (id, slug) = (
        room["id"].as_str().unwrap().to_owned(),
        room["slug"].as_str().unwrap().to_owned(),
    );
    let token = call(
        s.addr,
        "POST",
        &format!("/api/v1/rooms/{id}/invites"),
        Some(ADMIN_KEY),
        Some(json!({"role": "participant"})),
    )
    .await
    .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let (mut ada, _) = join(&s, &slug, &token, "Ada").await;
    let (mut bea, _) = join(&s, &slug, &token, "Bea").await;
    let mut sent = Vec::new();
    for text in ["Chapter 3 for next week", "<b>not bold</b>\nsecond line"] {
        ada.send_json(json!({"type": "chat", "text": text})).await;
        let echo = next_chat(&mut ada).await;
        assert_eq!(next_chat(&mut bea).await, echo);
        sent.push(echo);
    }
    drop((ada, bea));

    // The next meeting, on a server started afresh on the same database.
    let again = TestServer::start_api(url, (ports + 10, ports + 19)).await;
    let (_cai, joined) = join(&again, &slug, &token, "Cai").await;
    let history = joined["chat"].as_array().unwrap().clone();
    assert_eq!(history, sent, "the chat as it was sent, oldest first");
    assert_eq!(history[0]["name"], "Ada");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rooms_chat_is_there_at_the_next_meeting_after_a_restart() {
    for (i, (name, url)) in db::all().await.into_iter().enumerate() {
        eprintln!("-- chat on {name}");
        kept(&url, 46300 + (i as u16) * 20).await;
    }
}
