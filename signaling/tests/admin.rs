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

/// The admin rooms view, polled until `ok` holds for it (or the time runs out); the last view.
async fn rooms_until(
    s: &TestServer,
    secs: u64,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let v = call(s.addr, "GET", "/api/v1/admin/rooms", Some(ADMIN_KEY), None)
            .await
            .json();
        if ok(&v) || std::time::Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_see_link_quality_and_can_mute_a_track() {
    use loadtest::client::{Client, ClientConfig};
    use protocol::ServerMessage;

    let s = TestServer::start((45100, 45149)).await;
    let room = "quality-room";
    let ada = Client::connect(ClientConfig::new(s.ws_url(), room, 1))
        .await
        .expect("joins");
    let bea = Client::connect(ClientConfig::new(s.ws_url(), room, 2))
        .await
        .expect("joins");

    // Both connections of both participants up, media both ways, and RTCP reports in: loss on
    // the publish side (measured by the server), round-trip time on the subscribe side.
    let measured = |p: &serde_json::Value| {
        p["publish"]["state"] == "connected"
            && p["subscribe"]["state"] == "connected"
            && p["inbound_bitrate_bps"].as_u64().unwrap_or(0) > 0
            && p["outbound_bitrate_bps"].as_u64().unwrap_or(0) > 0
            && p["publish"]["loss"].is_f64()
            && p["publish"]["jitter_seconds"].is_f64()
            && p["subscribe"]["loss"].is_f64()
            && p["subscribe"]["rtt_seconds"].is_f64()
            && p["subscribe"]["estimate_bps"].is_u64()
    };
    let view = rooms_until(&s, 15, |v| {
        v[0]["loss"].is_f64()
            && v[0]["participants"]
                .as_array()
                .is_some_and(|ps| ps.len() == 2 && ps.iter().all(measured))
    })
    .await;
    let r = &view[0];
    let people = r["participants"].as_array().unwrap();
    assert!(people.iter().all(measured), "not all measured: {view:#}");
    assert_eq!(
        r["capacity"].as_u64(),
        Some(s.sfu.config().max_participants_per_room as u64)
    );
    assert!(r["inbound_bitrate_bps"].as_u64().unwrap() > 0);
    assert!(r["loss"].is_f64(), "room loss over the last seconds: {r:#}");
    for p in people {
        let rtt = p["subscribe"]["rtt_seconds"].as_f64().unwrap();
        // Loopback: well under a second, and never negative.
        assert!((0.0..1.0).contains(&rtt), "rtt {rtt}");
        assert!(p["publish"]["loss"].as_f64().unwrap() < 0.01, "{p:#}");
        // Estimates are of downlinks only, and each is sent the other's one video at its
        // one layer.
        assert!(p["publish"]["estimate_bps"].is_null(), "{p:#}");
        let receiving = p["receiving"].as_array().unwrap();
        assert_eq!(receiving.len(), 1, "{p:#}");
        assert_eq!(receiving[0]["layers"], 1, "{p:#}");
        assert_eq!(receiving[0]["layer"], 0, "{p:#}");
        let other = people.iter().find(|o| o["id"] != p["id"]).unwrap();
        let video = other["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["kind"] == "video");
        assert_eq!(receiving[0]["track_id"], video.unwrap()["id"], "{view:#}");
        println!(
            "{}: in {} b/s, out {} b/s, rtt {:.4} s",
            p["name"], p["inbound_bitrate_bps"], p["outbound_bitrate_bps"], rtt
        );
    }

    // Muting Ada's audio: refused without the admin key, then done; she is told by her own
    // track id, Bea sees the track muted, and its packets stop reaching Bea.
    let ada_view = people
        .iter()
        .find(|p| p["id"] == ada.participant_id.as_str())
        .expect("Ada is listed");
    let audio = ada_view["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "audio")
        .expect("Ada publishes audio")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mute = format!("/api/v1/admin/rooms/{room}/tracks/{audio}/mute");
    call(s.addr, "POST", &mute, None, None).await.problem(401);
    assert_eq!(
        call(s.addr, "POST", &mute, Some(ADMIN_KEY), None)
            .await
            .status,
        204
    );
    let told = common::eventually(std::time::Duration::from_secs(5), || {
        ada.events().iter().any(
            |(_, m)| matches!(m, ServerMessage::MutedByAdmin { track_id } if !track_id.is_empty()),
        )
    })
    .await;
    assert!(told, "Ada is told her track was muted");
    let seen = common::eventually(std::time::Duration::from_secs(5), || {
        bea.events().iter().any(|(_, m)| {
            matches!(m, ServerMessage::TrackMuted { track_id, muted: true, .. } if *track_id == audio)
        })
    })
    .await;
    assert!(seen, "Bea sees the track muted");
    let audio_from_ada = || {
        bea.received()
            .iter()
            .find(|t| t.track_id == audio)
            .map_or(0, |t| t.packets)
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = audio_from_ada();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(audio_from_ada(), before, "muted audio still reaches Bea");
    let view = rooms_until(&s, 5, |_| true).await;
    let muted = view[0]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["tracks"].as_array().unwrap().iter())
        .find(|t| t["id"] == audio.as_str())
        .expect("the track is listed")["muted"]
        .clone();
    assert_eq!(muted, true);
    call(
        s.addr,
        "POST",
        &format!("/api/v1/admin/rooms/{room}/tracks/no-such-track/mute"),
        Some(ADMIN_KEY),
        None,
    )
    .await
    .problem(404);
    ada.leave().await;
    bea.leave().await;
}
