//! Rooms belong to the API key that made them: other organisers see none of them (404 on every
//! route, as for a room that does not exist); admin keys manage all and can hand one on.

mod common;

use common::http::call;
use common::{ADMIN_KEY, TestServer, db};
use serde_json::json;

/// A new organiser key: `{id, key, ...}`.
async fn organiser(s: &TestServer, name: &str) -> serde_json::Value {
    common::http::organiser_key(s.addr, name).await
}

/// Another organiser's room is a 404 on every route, as if it did not exist; admins manage
/// every room and can hand one to another key.
async fn rooms_belong_to_their_key(s: &TestServer) {
    let a = organiser(s, "Ms Rivera").await;
    let (a_key, a_id) = (a["key"].as_str().unwrap(), a["id"].as_str().unwrap());
    let r = call(
        s.addr,
        "POST",
        "/api/v1/rooms",
        Some(a_key),
        Some(json!({"name": "Rivera's room", "time_zone": "UTC"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["owner_key_id"], a_id);
    let room = r.json()["id"].as_str().unwrap().to_owned();
    let room = room.as_str();
    let b = organiser(s, "Mr Okafor").await;
    let (b_key, b_id) = (b["key"].as_str().unwrap(), b["id"].as_str().unwrap());
    let schedule = json!({"rrule": "FREQ=WEEKLY;BYDAY=TU", "start": "2026-10-06T18:00",
                          "duration_minutes": 60});
    let routes = [
        ("GET", format!("/api/v1/rooms/{room}"), None),
        (
            "PATCH",
            format!("/api/v1/rooms/{room}"),
            Some(json!({"name": "Mine now"})),
        ),
        (
            "POST",
            format!("/api/v1/rooms/{room}/invites"),
            Some(json!({"role": "host"})),
        ),
        (
            "POST",
            format!("/api/v1/rooms/{room}/invite-key/rotate"),
            None,
        ),
        (
            "PUT",
            format!("/api/v1/rooms/{room}/schedule"),
            Some(schedule.clone()),
        ),
        ("GET", format!("/api/v1/rooms/{room}/schedule"), None),
        ("GET", format!("/api/v1/rooms/{room}/occurrences"), None),
        ("GET", format!("/api/v1/rooms/{room}/calendar.ics"), None),
        ("DELETE", format!("/api/v1/rooms/{room}/schedule"), None),
        ("GET", format!("/api/v1/rooms/{room}/members"), None),
        (
            "POST",
            format!("/api/v1/rooms/{room}/members"),
            Some(json!({"display_name": "Mallory"})),
        ),
        ("DELETE", format!("/api/v1/rooms/{room}"), None),
    ];
    for (method, path, body) in &routes {
        let r = call(s.addr, method, path, Some(b_key), body.clone()).await;
        assert_eq!(
            r.problem(404)["detail"],
            "room not found",
            "{method} {path}"
        );
    }
    let listed = |key: &str| {
        let key = key.to_owned();
        async move {
            let page = call(s.addr, "GET", "/api/v1/rooms", Some(&key), None)
                .await
                .json();
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert!(listed(b_key).await.is_empty());
    assert_eq!(listed(a_key).await, vec![room.to_owned()]);
    assert!(listed(ADMIN_KEY).await.contains(&room.to_owned()));
    // The owner manages it; it cannot hand it on itself.
    let path = format!("/api/v1/rooms/{room}");
    let own = call(
        s.addr,
        "PUT",
        &format!("{path}/schedule"),
        Some(a_key),
        Some(schedule),
    )
    .await;
    assert_eq!(own.status, 200, "{}", own.text());
    call(
        s.addr,
        "PATCH",
        &path,
        Some(a_key),
        Some(json!({"owner_key_id": b_id})),
    )
    .await
    .problem(403);
    // An admin hands it to the other organiser: now theirs, and no longer the first's.
    let handed = call(
        s.addr,
        "PATCH",
        &path,
        Some(ADMIN_KEY),
        Some(json!({"owner_key_id": b_id})),
    )
    .await;
    assert_eq!(handed.status, 200, "{}", handed.text());
    assert_eq!(
        call(s.addr, "GET", &path, Some(b_key), None).await.status,
        200
    );
    call(s.addr, "GET", &path, Some(a_key), None)
        .await
        .problem(404);
    let bad = call(
        s.addr,
        "PATCH",
        &path,
        Some(ADMIN_KEY),
        Some(json!({"owner_key_id": "nobody"})),
    )
    .await;
    assert_eq!(bad.problem_fields(422), vec!["owner_key_id"]);
    call(
        s.addr,
        "PATCH",
        &path,
        Some(ADMIN_KEY),
        Some(json!({"owner_key_id": a_id})),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_are_managed_by_their_key_and_by_admins() {
    for (i, (name, url)) in db::all().await.into_iter().enumerate() {
        let base = 46100 + (i as u16) * 20;
        let server = TestServer::start_api(&url, (base, base + 19)).await;
        eprintln!("-- ownership on {name}");
        rooms_belong_to_their_key(&server).await;
    }
}
