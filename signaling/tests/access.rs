//! Joining needs a valid invite for that room, checked on the WebSocket join itself; the
//! schedule opens and closes the room for participants, never for hosts.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::http::call;
use common::raw::Raw;
use common::{ADMIN_KEY, TestServer, db};
use serde_json::{Value, json};
use signaling::invite::{self, Role};

async fn room(s: &TestServer, body: Value) -> Value {
    let r = call(s.addr, "POST", "/api/v1/rooms", Some(ADMIN_KEY), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

async fn invite(s: &TestServer, room: &Value, role: &str) -> String {
    let path = format!("/api/v1/rooms/{}/invites", room["id"].as_str().unwrap());
    let r = call(
        s.addr,
        "POST",
        &path,
        Some(ADMIN_KEY),
        Some(json!({"role": role})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    let token = v["token"].as_str().unwrap().to_owned();
    let slug = room["slug"].as_str().unwrap();
    assert!(
        v["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/r/{slug}?t={token}"))
    );
    token
}

/// What a fresh connection's join gets: `joined`, or the error code.
async fn join(s: &TestServer, slug: &str, token: Option<&str>) -> (String, Value) {
    let mut raw = Raw::connect(&format!("ws://{}/api/v1/rtc", s.addr)).await;
    let v = raw.try_join(slug, token).await;
    let outcome = match v["type"].as_str() {
        Some("joined") => "joined".to_owned(),
        Some("error") => v["code"].as_str().unwrap().to_owned(),
        _ => panic!("unexpected answer {v}"),
    };
    if outcome != "joined" {
        assert!(v["message"].as_str().is_some_and(|m| m.len() > 10), "{v}");
    }
    (outcome, v)
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

async fn the_attack_set(s: &TestServer) {
    let a = room(s, json!({"name": "Room A", "time_zone": "UTC"})).await;
    let b = room(s, json!({"name": "Room B", "time_zone": "UTC"})).await;
    let token_a = invite(s, &a, "participant").await;
    assert_eq!(join(s, "room-a", Some(&token_a)).await.0, "joined");

    // No token, another room's token, and a room that does not exist.
    assert_eq!(join(s, "room-a", None).await.0, "invite_required");
    assert_eq!(join(s, "room-b", Some(&token_a)).await.0, "invite_invalid");
    // Without a valid invite, a room that does not exist answers exactly as one that does, on
    // the join and on the lobby, so slugs cannot be probed.
    for token in [None, Some(token_a.as_str()), Some("junk"), Some("a.b.c")] {
        let (real, real_v) = join(s, "room-b", token).await;
        let (none, none_v) = join(s, "no-such-room", token).await;
        assert_eq!(
            (&real, &real_v["message"]),
            (&none, &none_v["message"]),
            "{token:?}"
        );
        let lobby = |slug: &str| {
            let path = match token {
                Some(t) => format!("/api/v1/lobby/{slug}?t={t}"),
                None => format!("/api/v1/lobby/{slug}"),
            };
            async move { call(s.addr, "GET", &path, None, None).await }
        };
        let (a, b) = (lobby("room-b").await, lobby("no-such-room").await);
        assert_eq!(
            (a.status, a.json()["detail"].clone()),
            (b.status, b.json()["detail"].clone())
        );
    }

    // Tampered: the role raised to host with the signature kept.
    let parts: Vec<&str> = token_a.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["role"] = "host".into();
    let tampered = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    assert_eq!(join(s, "room-a", Some(&tampered)).await.0, "invite_invalid");
    // alg: none.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        parts[1]
    );
    assert_eq!(join(s, "room-a", Some(&none)).await.0, "invite_invalid");
    // Signed with another key, and expired (made with the room's real key).
    let stored = s.store.room_by_slug("room-a").await.unwrap().unwrap();
    let now = chrono::Utc::now().timestamp();
    let forged = invite::mint(&invite::new_secret(), &stored.id, Role::Host, now, 3600);
    assert_eq!(join(s, "room-a", Some(&forged)).await.0, "invite_invalid");
    let expired = invite::mint(
        &stored.invite_secret,
        &stored.id,
        Role::Host,
        now - 7200,
        3600,
    );
    assert_eq!(join(s, "room-a", Some(&expired)).await.0, "invite_expired");

    // Rotating the room's key revokes its old invites; new ones work.
    let path = format!(
        "/api/v1/rooms/{}/invite-key/rotate",
        a["id"].as_str().unwrap()
    );
    let rotated = call(s.addr, "POST", &path, Some(ADMIN_KEY), None).await;
    assert_eq!(rotated.json()["invite_key_version"], 2);
    assert_eq!(join(s, "room-a", Some(&token_a)).await.0, "invite_invalid");
    let fresh = invite(s, &a, "participant").await;
    assert_eq!(join(s, "room-a", Some(&fresh)).await.0, "joined");
    let _ = b;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_need_a_valid_invite_for_that_room() {
    for (i, (name, url)) in db::all().await.into_iter().enumerate() {
        let base = 44500 + (i as u16) * 40;
        let server = TestServer::start_api(&url, (base, base + 39)).await;
        eprintln!("-- on {name}");
        the_attack_set(&server).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_opens_the_room_for_participants_and_hosts_always_get_in() {
    let s = TestServer::start_api(&db::sqlite_url(), (44600, 44639)).await;
    // Meets every day, starting in 2030: closed now for participants.
    let later = room(&s, json!({"name": "Later", "time_zone": "Asia/Tokyo"})).await;
    let path = format!("/api/v1/rooms/{}/schedule", later["id"].as_str().unwrap());
    let put = call(
        s.addr,
        "PUT",
        &path,
        Some(ADMIN_KEY),
        Some(json!({"rrule": "FREQ=DAILY", "start": "2030-01-07T09:00", "duration_minutes": 45})),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let participant = invite(&s, &later, "participant").await;
    let (code, v) = join(&s, "later", Some(&participant)).await;
    assert_eq!(code, "room_closed");
    // It says when the room opens: ten minutes before the first meeting.
    assert_eq!(v["opens_at"], "2030-01-06T23:50:00+00:00", "{v}");
    let host = invite(&s, &later, "host").await;
    assert_eq!(join(&s, "later", Some(&host)).await.0, "joined");

    // The lobby tells the page the same before anyone tries to join.
    let addr = s.addr;
    let lobby = |t: String| async move {
        let path = format!("/api/v1/lobby/later?t={t}");
        call(addr, "GET", &path, None, None).await
    };
    let seen = lobby(participant.clone()).await.json();
    assert_eq!(seen["name"], "Later");
    assert_eq!(seen["open"], false);
    assert_eq!(seen["opens_at"], "2030-01-07T08:50:00+09:00");
    assert_eq!(seen["next_meeting"]["start"], "2030-01-07T09:00:00+09:00");
    let seen = lobby(host.clone()).await.json();
    assert_eq!(
        (seen["open"].clone(), seen["role"].clone()),
        (json!(true), json!("host"))
    );
    lobby("x.y.z".into()).await.problem(403);
    call(s.addr, "GET", "/api/v1/lobby/later", None, None)
        .await
        .problem(401);
    // A room that does not exist answers as one that does, to the same token.
    let real = call(s.addr, "GET", "/api/v1/lobby/later?t=x", None, None)
        .await
        .problem(403);
    let none = call(s.addr, "GET", "/api/v1/lobby/nowhere?t=x", None, None)
        .await
        .problem(403);
    assert_eq!(real["detail"], none["detail"]);

    // Meets every day for 24 hours from yesterday at this hour: open now.
    let now = chrono::Utc::now() - chrono::Duration::days(1);
    let open = room(
        &s,
        json!({"name": "Open now", "time_zone": "UTC", "capacity": 1}),
    )
    .await;
    let path = format!("/api/v1/rooms/{}/schedule", open["id"].as_str().unwrap());
    let start = now.format("%Y-%m-%dT%H:%M").to_string();
    let put = call(
        s.addr,
        "PUT",
        &path,
        Some(ADMIN_KEY),
        Some(json!({"rrule": "FREQ=DAILY", "start": start, "duration_minutes": 1440})),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let token = invite(&s, &open, "participant").await;
    let mut first = Raw::connect(&format!("ws://{}/api/v1/rtc", s.addr)).await;
    assert_eq!(
        first.try_join("open-now", Some(&token)).await["type"],
        "joined"
    );
    // Its capacity is 1: the second person is told the room is full.
    assert_eq!(join(&s, "open-now", Some(&token)).await.0, "room_full");

    // A room without a schedule is always open.
    let plain = room(&s, json!({"name": "Plain", "time_zone": "UTC"})).await;
    let token = invite(&s, &plain, "participant").await;
    assert_eq!(join(&s, "plain", Some(&token)).await.0, "joined");
}
