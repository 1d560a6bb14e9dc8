//! Changing a stored room's kept chat, over HTTP and the room channel: who may edit and delete,
//! live updates to everyone listening, the limits, and revoked links.

mod common;

use common::class::{BEA, class, next_of, open, texts};
use common::http::call_as;
use common::raw::{Next, Raw};
use common::{TestServer, db};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authors_edit_and_delete_and_hosts_delete_anyones() {
    let s = TestServer::start_api(&db::sqlite_url(), (46420, 46429)).await;
    let c = class(&s, json!({})).await;
    let chat = format!("/api/v1/rooms/{}/chat", c.id);
    // The room home of a host, listening.
    let (mut home, opened) = open(&s, &c.slug, &c.host, None, Some("Hal")).await;
    assert_eq!(opened["host"], true);
    assert_eq!(opened["room_id"], c.id.as_str());

    let ada = call_as(
        s.addr,
        "POST",
        &chat,
        &c.ada,
        None,
        Some(json!({"text": "Read ch. 4"})),
    )
    .await;
    assert_eq!(ada.status, 201, "{}", ada.text());
    let ada = ada.json();
    assert_eq!(ada["name"], "Ada", "a member signs with the roster name");
    assert_eq!(ada["identity"], format!("member:{}", c.ada_id));
    let heard = next_of(&mut home, "chat").await;
    assert_eq!(heard["id"], ada["id"]);
    let ada_msg = format!("{chat}/{}", ada["id"].as_str().unwrap());

    // A guest must sign, and name its device.
    let r = call_as(
        s.addr,
        "POST",
        &chat,
        &c.shared,
        Some(BEA),
        Some(json!({"text": "hi"})),
    )
    .await;
    assert_eq!(r.problem_fields(422), ["name"]);
    let r = call_as(
        s.addr,
        "POST",
        &chat,
        &c.shared,
        None,
        Some(json!({"text": "hi", "name": "Bea"})),
    )
    .await;
    assert_eq!(r.problem_fields(422), ["X-Cohort-Device"]);
    let bea = call_as(
        s.addr,
        "POST",
        &chat,
        &c.shared,
        Some(BEA),
        Some(json!({"text": "me too", "name": "Bea"})),
    )
    .await
    .json();
    assert_eq!(bea["identity"], format!("guest:{BEA}"));
    next_of(&mut home, "chat").await;

    // Nobody changes another's words: not a guest, not a host.
    let edit = json!({"text": "Read nothing"});
    let r = call_as(
        s.addr,
        "PATCH",
        &ada_msg,
        &c.shared,
        Some(BEA),
        Some(edit.clone()),
    )
    .await;
    assert_eq!(r.problem(403)["status"], 403);
    let r = call_as(
        s.addr,
        "PATCH",
        &ada_msg,
        &c.host,
        Some("hal-device-0001"),
        Some(edit.clone()),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = call_as(s.addr, "DELETE", &ada_msg, &c.shared, Some(BEA), None).await;
    assert_eq!(r.status, 403);
    let r = call_as(
        s.addr,
        "PATCH",
        &ada_msg,
        &c.ada,
        None,
        Some(json!({"text": "x".repeat(2001)})),
    )
    .await;
    assert_eq!(r.problem_fields(422), ["text"]);

    // The author edits; everyone listening sees the new text.
    let r = call_as(
        s.addr,
        "PATCH",
        &ada_msg,
        &c.ada,
        None,
        Some(json!({"text": "Read ch. 5"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let updated = next_of(&mut home, "chat_updated").await;
    assert_eq!(
        (updated["text"].as_str(), updated["id"].clone()),
        (Some("Read ch. 5"), ada["id"].clone())
    );
    assert!(updated["edited_at_ms"].as_u64().is_some());

    // The host deletes the guest's message over the channel; the author deletes her own.
    home.send_json(json!({"type": "chat_delete", "id": bea["id"]}))
        .await;
    let gone = next_of(&mut home, "chat_updated").await;
    assert_eq!(
        (gone["deleted"].clone(), gone["text"].clone()),
        (json!(true), json!(""))
    );
    let r = call_as(s.addr, "DELETE", &ada_msg, &c.ada, None, None).await;
    assert_eq!(r.json()["deleted"], true);
    let r = call_as(s.addr, "PATCH", &ada_msg, &c.ada, None, Some(edit)).await;
    assert_eq!(r.status, 409, "a deleted message has nothing to edit");
    let r = call_as(
        s.addr,
        "DELETE",
        &format!("{chat}/nope"),
        &c.ada,
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 404);

    // The history shows both, deleted, in their places.
    let page = call_as(s.addr, "GET", &chat, &c.ada, None, None)
        .await
        .json();
    let deleted: Vec<bool> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["deleted"] == true)
        .collect();
    assert_eq!(deleted, [true, true]);
    assert_eq!(texts(&page), ["", ""]);

    // On the channel: a guest without a name reads, and may not post.
    let (mut reader, _) = open(&s, &c.slug, &c.shared, Some("reader-device-01"), None).await;
    reader
        .send_json(json!({"type": "chat", "text": "hello"}))
        .await;
    reader.expect_error("not_allowed").await;
    // Someone else's message, over the channel: refused as over HTTP.
    let (mut bea_ws, _) = open(&s, &c.slug, &c.shared, Some(BEA), Some("Bea")).await;
    bea_ws
        .send_json(json!({"type": "chat", "text": "posted from home"}))
        .await;
    let mine = next_of(&mut bea_ws, "chat").await;
    assert_eq!(next_of(&mut reader, "chat").await["id"], mine["id"]);
    reader
        .send_json(json!({"type": "chat_edit", "id": mine["id"], "text": "hijacked"}))
        .await;
    reader.expect_error("forbidden").await;
    bea_ws
        .send_json(json!({"type": "chat_edit", "id": mine["id"], "text": "posted, and edited"}))
        .await;
    assert_eq!(
        next_of(&mut reader, "chat_updated").await["text"],
        "posted, and edited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_are_slowed_and_long_messages_refused() {
    let s = TestServer::start_api(&db::sqlite_url(), (46430, 46439)).await;
    let c = class(&s, json!({})).await;
    let chat = format!("/api/v1/rooms/{}/chat", c.id);
    // The default allowance: bursts of 10, then 30 a minute, per person across connections.
    for i in 0..10 {
        let r = call_as(
            s.addr,
            "POST",
            &chat,
            &c.ada,
            None,
            Some(json!({"text": format!("m{i}")})),
        )
        .await;
        assert_eq!(r.status, 201, "message {i}: {}", r.text());
    }
    let r = call_as(
        s.addr,
        "POST",
        &chat,
        &c.ada,
        None,
        Some(json!({"text": "one too many"})),
    )
    .await;
    assert_eq!(r.problem(429)["status"], 429);
    assert!(
        r.header("retry-after")
            .is_some_and(|v| v.parse::<u64>().is_ok_and(|n| n >= 1))
    );
    let (mut ws, _) = open(&s, &c.slug, &c.ada, None, None).await;
    ws.send_json(json!({"type": "chat", "text": "from another tab"}))
        .await;
    ws.expect_error("rate_limited").await;
    // Someone else is not slowed by Ada's flood.
    let r = call_as(
        s.addr,
        "POST",
        &chat,
        &c.shared,
        Some(BEA),
        Some(json!({"text": "hi", "name": "Bea"})),
    )
    .await;
    assert_eq!(r.status, 201);
    let r = call_as(
        s.addr,
        "POST",
        &chat,
        &c.shared,
        Some(BEA),
        Some(json!({"text": "x".repeat(2001), "name": "Bea"})),
    )
    .await;
    assert_eq!(r.problem_fields(422), ["text"]);
    let page = call_as(s.addr, "GET", &chat, &c.ada, None, None)
        .await
        .json();
    assert_eq!(texts(&page).len(), 11, "nothing refused was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_personal_link_is_refused_everywhere() {
    let s = TestServer::start_api(&db::sqlite_url(), (46440, 46449)).await;
    let c = class(&s, json!({})).await;
    let chat = format!("/api/v1/rooms/{}/chat", c.id);
    let (mut listening, _) = open(&s, &c.slug, &c.ada, None, None).await;
    let r = common::class::revoke_ada(&s, &c).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        listening.next().await,
        Next::Closed(Some(1008)),
        "cut at once"
    );
    for (method, path, body) in [
        ("GET", chat.clone(), None),
        ("POST", chat.clone(), Some(json!({"text": "still here?"}))),
        ("GET", format!("{chat}/search?q=here"), None),
        ("GET", format!("{chat}/export"), None),
        ("DELETE", format!("{chat}/any"), None),
    ] {
        let r = call_as(s.addr, method, &path, &c.ada, None, body).await;
        assert_eq!(r.status, 401, "{method} {path}: {}", r.text());
    }
    let mut ws = Raw::connect(&s.ws_url()).await;
    ws.send_json(json!({"type": "open", "v": 1, "room": c.slug, "token": c.ada}))
        .await;
    ws.expect_error("invite_invalid").await;
    // Everyone else is unaffected.
    let (mut other, _) = open(&s, &c.slug, &c.shared, Some(BEA), Some("Bea")).await;
    other.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_and_the_room_home_are_one_conversation() {
    let s = TestServer::start_api(&db::sqlite_url(), (46480, 46489)).await;
    let c = class(&s, json!({})).await;
    let (mut home, _) = open(&s, &c.slug, &c.shared, Some(BEA), Some("Bea")).await;
    let mut in_call = Raw::connect(&s.ws_url()).await;
    in_call
        .send_json(json!({"type": "join", "v": 1, "room": c.slug, "name": "Ada", "token": c.ada}))
        .await;
    let joined = next_of(&mut in_call, "joined").await;
    assert_eq!(joined["room_id"], c.id.as_str());
    assert_eq!(joined["host"], false);

    in_call
        .send_json(json!({"type": "chat", "text": "from the call"}))
        .await;
    let echo = next_of(&mut in_call, "chat").await;
    let heard = next_of(&mut home, "chat").await;
    assert_eq!(heard, echo);
    assert_eq!(heard["identity"], format!("member:{}", c.ada_id));
    home.send_json(json!({"type": "chat", "text": "from home"}))
        .await;
    assert_eq!(next_of(&mut in_call, "chat").await["text"], "from home");
    next_of(&mut home, "chat").await;

    // The home page joins the call on its own connection: one listener, each message once.
    home.send_json(
        json!({"type": "join", "v": 1, "room": "another-room", "name": "Bea", "token": c.shared}),
    )
    .await;
    home.expect_error("out_of_order").await;
    home.send_json(json!({"type": "join", "v": 1, "room": c.slug, "name": "Bea", "token": c.shared, "device": BEA}))
        .await;
    let joined = next_of(&mut home, "joined").await;
    assert_eq!(joined["identity"], format!("guest:{BEA}"));
    assert_eq!(joined["chat"].as_array().unwrap().len(), 2);
    home.send_json(json!({"type": "chat", "text": "now in the call"}))
        .await;
    let mine = next_of(&mut home, "chat").await;
    assert!(
        mine["participant_id"]
            .as_str()
            .is_some_and(|p| !p.starts_with("ch-"))
    );
    home.assert_alive().await;
    assert_eq!(next_of(&mut in_call, "chat").await["id"], mine["id"]);
}
