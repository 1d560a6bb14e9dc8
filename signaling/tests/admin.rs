//! The admin API: refused without an admin key; shows live rooms and the node; removing a
//! participant or closing a room really disconnects people.

mod common;

use common::http::call;
use common::raw::{Next, Raw};
use common::{ADMIN_KEY, TestServer};
use serde_json::json;

/// Reads messages until one of `type`; panics on a close or a timeout first.
async fn until_type(raw: &mut Raw, ty: &str) -> serde_json::Value {
    loop {
        match raw.next().await {
            Next::Json(v) if v["type"] == ty => return v,
            Next::Json(_) => continue,
            other => panic!("waiting for {ty}, got {other:?}"),
        }
    }
}

/// Reads until the server closes the connection; the close code.
async fn until_closed(raw: &mut Raw) -> Option<u16> {
    loop {
        match raw.next().await {
            Next::Closed(code) => return code,
            Next::Json(_) => continue,
            Next::Timeout => panic!("the connection stayed open"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_see_live_rooms_and_can_remove_people_and_close_rooms() {
    let s = TestServer::start((45000, 45049)).await;
    // Not without an admin key.
    for path in ["/api/v1/admin/node", "/api/v1/admin/rooms"] {
        call(s.addr, "GET", path, None, None).await.problem(401);
    }
    let made = call(
        s.addr,
        "POST",
        "/api/v1/keys",
        Some(ADMIN_KEY),
        Some(json!({"name": "organiser", "role": "organiser"})),
    )
    .await
    .json();
    let organiser = made["key"].as_str().unwrap().to_owned();
    call(s.addr, "GET", "/api/v1/admin/rooms", Some(&organiser), None)
        .await
        .problem(403);
    call(
        s.addr,
        "POST",
        "/api/v1/admin/rooms/x/close",
        Some(&organiser),
        None,
    )
    .await
    .problem(403);

    let url = s.ws_url();
    let mut ada = Raw::connect(&url).await;
    let mut bea = Raw::connect(&url).await;
    let ada_id = ada.join("study-hall").await["participant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    bea.join("study-hall").await;

    let rooms = call(s.addr, "GET", "/api/v1/admin/rooms", Some(ADMIN_KEY), None).await;
    assert_eq!(rooms.status, 200, "{}", rooms.text());
    let rooms = rooms.json();
    assert_eq!(rooms[0]["room"], "study-hall");
    assert_eq!(rooms[0]["participants"].as_array().unwrap().len(), 2);
    let node = call(s.addr, "GET", "/api/v1/admin/node", Some(ADMIN_KEY), None)
        .await
        .json();
    assert_eq!(node["participants"], 2);
    assert_eq!(node["websocket_sessions"], 2);
    assert_eq!(node["draining"], false);
    assert!(node["resident_memory_bytes"].as_u64().unwrap() > 0);

    // Removing Ada tells her so and disconnects her; Bea sees her go.
    let path = format!("/api/v1/admin/rooms/study-hall/participants/{ada_id}");
    call(s.addr, "DELETE", &path, Some(organiser.as_str()), None)
        .await
        .problem(403);
    assert_eq!(
        call(s.addr, "DELETE", &path, Some(ADMIN_KEY), None)
            .await
            .status,
        204
    );
    assert_eq!(until_type(&mut ada, "leave").await["reason"], "removed");
    assert_eq!(until_closed(&mut ada).await, Some(1001));
    assert_eq!(
        until_type(&mut bea, "participant_left").await["participant_id"],
        ada_id.as_str()
    );
    call(s.addr, "DELETE", &path, Some(ADMIN_KEY), None)
        .await
        .problem(404);

    // Closing the room tells everyone left.
    let close = "/api/v1/admin/rooms/study-hall/close";
    assert_eq!(
        call(s.addr, "POST", close, Some(ADMIN_KEY), None)
            .await
            .status,
        204
    );
    assert_eq!(until_type(&mut bea, "leave").await["reason"], "room_closed");
    until_closed(&mut bea).await;
    call(
        s.addr,
        "POST",
        "/api/v1/admin/rooms/nowhere/close",
        Some(ADMIN_KEY),
        None,
    )
    .await
    .problem(404);
}
