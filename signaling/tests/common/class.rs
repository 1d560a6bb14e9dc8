//! A class for chat tests: a stored room with a host link, a shared class link and a member's
//! personal link, messages seeded straight into its database, and the room channel.

use protocol::ChatMessage;
use serde_json::{Value, json};
use signaling::store::{ChatRecord, Store, now_ms};

use super::http::call;
use super::raw::{Next, Raw};
use super::{ADMIN_KEY, TestServer};

/// A guest's device id.
pub const BEA: &str = "bea-device-0001";

/// A room with a host link, a shared class link, and a member's personal link.
pub struct Class {
    pub id: String,
    pub slug: String,
    pub host: String,
    pub shared: String,
    pub ada_id: String,
    pub ada: String,
}

async fn token(s: &TestServer, path: &str, body: Value) -> String {
    let r = call(s.addr, "POST", path, Some(ADMIN_KEY), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["token"].as_str().unwrap().to_owned()
}

pub async fn class(s: &TestServer, extra: Value) -> Class {
    let mut body = json!({"name": "Biology 9", "time_zone": "Europe/Berlin"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let room = call(s.addr, "POST", "/api/v1/rooms", Some(ADMIN_KEY), Some(body)).await;
    assert_eq!(room.status, 201, "{}", room.text());
    let room = room.json();
    let id = room["id"].as_str().unwrap().to_owned();
    let invites = format!("/api/v1/rooms/{id}/invites");
    let host = token(s, &invites, json!({"role": "host"})).await;
    let shared = token(s, &invites, json!({"role": "participant"})).await;
    let ada = call(
        s.addr,
        "POST",
        &format!("/api/v1/rooms/{id}/members"),
        Some(ADMIN_KEY),
        Some(json!({"display_name": "Ada"})),
    )
    .await
    .json();
    let ada_id = ada["id"].as_str().unwrap().to_owned();
    let ada = token(
        s,
        &format!("/api/v1/rooms/{id}/members/{ada_id}/invites"),
        json!({}),
    )
    .await;
    Class {
        slug: room["slug"].as_str().unwrap().to_owned(),
        id,
        host,
        shared,
        ada_id,
        ada,
    }
}

/// Stores `n` messages straight into the database, `minutes_ago` old and a second apart.
pub async fn seed(store: &Store, room_id: &str, texts: &[String], minutes_ago: i64) -> Vec<String> {
    let start = now_ms() - minutes_ago * 60_000;
    let mut ids = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let id = format!("seed{}", uuid::Uuid::new_v4().simple());
        let record = ChatRecord {
            room_id: room_id.to_owned(),
            message: ChatMessage {
                id: id.clone(),
                participant_id: "p".into(),
                name: "Seed".into(),
                text: text.clone(),
                sent_at_ms: (start + i as i64 * 1000) as u64,
                identity: "guest:seedseedseed".into(),
                ..ChatMessage::default()
            },
        };
        store.insert_chat(&record).await.unwrap();
        ids.push(id);
    }
    ids
}

pub fn texts(page: &Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

pub async fn open(
    s: &TestServer,
    slug: &str,
    token: &str,
    device: Option<&str>,
    name: Option<&str>,
) -> (Raw, Value) {
    let mut ws = Raw::connect(&s.ws_url()).await;
    let mut msg = json!({"type": "open", "v": 1, "room": slug, "token": token});
    if let Some(d) = device {
        msg["device"] = d.into();
    }
    if let Some(n) = name {
        msg["name"] = n.into();
    }
    ws.send_json(msg).await;
    match ws.next().await {
        Next::Json(v) if v["type"] == "opened" => (ws, v),
        other => panic!("expected opened, got {other:?}"),
    }
}

pub async fn next_of(ws: &mut Raw, kind: &str) -> Value {
    loop {
        match ws.next().await {
            Next::Json(v) if v["type"] == kind => return v,
            Next::Json(v) if v["type"] == "error" => panic!("expected {kind}, got {v}"),
            Next::Json(_) => continue,
            other => panic!("expected {kind}, got {other:?}"),
        }
    }
}

/// Joins the class's call over a raw WebSocket, without media.
pub async fn join(s: &TestServer, c: &Class, token: &str, name: &str, device: Option<&str>) -> Raw {
    let mut ws = Raw::connect(&s.ws_url()).await;
    let mut msg = json!({"type": "join", "v": 1, "room": c.slug, "name": name, "token": token});
    if let Some(d) = device {
        msg["device"] = d.into();
    }
    ws.send_json(msg).await;
    loop {
        match ws.next().await {
            Next::Json(v) if v["type"] == "joined" => return ws,
            Next::Json(v) if v["type"] == "error" => panic!("join refused: {v}"),
            Next::Json(_) => continue,
            other => panic!("expected joined, got {other:?}"),
        }
    }
}

pub async fn leave(mut ws: Raw) {
    ws.send_json(json!({"type": "leave"})).await;
    while !matches!(ws.next().await, Next::Closed(_) | Next::Timeout) {}
}

pub fn row<'a>(register: &'a Value, identity: &str) -> &'a Value {
    register["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["identity"] == identity)
        .unwrap_or_else(|| panic!("{identity} not in {register}"))
}

pub async fn add_member(s: &TestServer, c: &Class, name: &str) -> (String, String) {
    let m = call(
        s.addr,
        "POST",
        &format!("/api/v1/rooms/{}/members", c.id),
        Some(ADMIN_KEY),
        Some(json!({"display_name": name})),
    )
    .await
    .json();
    let id = m["id"].as_str().unwrap().to_owned();
    let link = call(
        s.addr,
        "POST",
        &format!("/api/v1/rooms/{}/members/{id}/invites", c.id),
        Some(ADMIN_KEY),
        Some(json!({})),
    )
    .await
    .json();
    (id, link["token"].as_str().unwrap().to_owned())
}

/// `PATCH`es the class's room with `body` as the admin.
pub async fn patch_room(s: &TestServer, c: &Class, body: Value) -> super::http::Resp {
    let room = format!("/api/v1/rooms/{}", c.id);
    call(s.addr, "PATCH", &room, Some(ADMIN_KEY), Some(body)).await
}

/// Revokes every personal link of Ada's, as the admin.
pub async fn revoke_ada(s: &TestServer, c: &Class) -> super::http::Resp {
    let path = format!("/api/v1/rooms/{}/members/{}/revoke-links", c.id, c.ada_id);
    call(s.addr, "POST", &path, Some(ADMIN_KEY), None).await
}
