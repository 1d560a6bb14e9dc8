//! A subscriber's `layout` decides what it receives: the server in-process, webrtc-rs peers on
//! loopback. A hidden video is paused (not torn down) and resumes when shown; bad layouts get a
//! clear error.

mod common;

use std::time::Duration;

use common::http::call;
use common::{TestServer, eventually};
use loadtest::client::{Client, ClientConfig};
use protocol::{ClientMessage, ErrorCode, LAYOUT_TRACKS_MAX, ServerMessage, TrackKind, TrackView};

fn view(track_id: &str, visible: bool) -> TrackView {
    TrackView {
        track_id: track_id.to_string(),
        visible,
        width: 320,
        height: 180,
    }
}

/// `cohort_room_paused_subscriptions` of `room` on `/metrics` (the room task publishes it once a
/// second).
async fn paused_metric(server: &TestServer, room: &str) -> Option<f64> {
    let text = call(server.addr, "GET", "/metrics", None, None)
        .await
        .text();
    let name = format!("cohort_room_paused_subscriptions{{room=\"{room}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(name.as_str())?.trim().parse().ok())
}

fn video_packets(c: &Client) -> u64 {
    c.received()
        .iter()
        .filter(|t| t.kind == TrackKind::Video)
        .map(|t| t.packets)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_video_is_paused_and_resumes_when_shown() {
    common::init_tracing();
    let server = TestServer::start((43400, 43400)).await;
    let publisher = Client::connect(ClientConfig::new(server.ws_url(), "layout", 1))
        .await
        .expect("publisher");
    let mut sub_cfg = ClientConfig::new(server.ws_url(), "layout", 2);
    sub_cfg.publish_audio = false;
    sub_cfg.publish_video = false;
    let subscriber = Client::connect(sub_cfg).await.expect("subscriber");
    let both = || {
        let r = subscriber.received();
        r.len() == 2 && r.iter().all(|t| t.packets > 0)
    };
    assert!(
        eventually(Duration::from_secs(5), both).await,
        "media flows"
    );
    let video = subscriber
        .received()
        .into_iter()
        .find(|t| t.kind == TrackKind::Video)
        .expect("a video track")
        .track_id;
    let audio_packets = |c: &Client| -> u64 {
        c.received()
            .iter()
            .filter(|t| t.kind == TrackKind::Audio)
            .map(|t| t.packets)
            .sum()
    };

    // Hidden: after what was in flight, no more video, while audio goes on.
    subscriber
        .send(ClientMessage::Layout {
            tracks: vec![view(&video, false)],
        })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (v0, a0) = (video_packets(&subscriber), audio_packets(&subscriber));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (v1, a1) = (video_packets(&subscriber), audio_packets(&subscriber));
    assert_eq!(v1, v0, "a hidden video is sent nothing");
    assert!(a1 > a0, "audio still flows ({a0} -> {a1})");
    let snapshot = server.sfu.room_snapshot("layout").await.expect("room open");
    assert_eq!(snapshot.paused_subscriptions, 1);
    assert!(
        snapshot.participants.len() == 2,
        "nobody left: {snapshot:?}"
    );
    let mut metric = None;
    for _ in 0..30 {
        metric = paused_metric(&server, "layout").await;
        if metric == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(metric, Some(1.0), "the paused subscription on /metrics");

    // Shown again: it resumes (on a keyframe asked of the publisher).
    let keyframes_before = publisher.keyframe_requests();
    subscriber
        .send(ClientMessage::Layout {
            tracks: vec![view(&video, true)],
        })
        .await;
    assert!(
        eventually(Duration::from_secs(3), || video_packets(&subscriber)
            > v1 + 5)
        .await,
        "the video resumes"
    );
    assert!(publisher.keyframe_requests() > keyframes_before);
    let snapshot = server.sfu.room_snapshot("layout").await.expect("room open");
    assert_eq!(snapshot.paused_subscriptions, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layout_too_long_is_refused_and_unknown_tracks_are_ignored() {
    common::init_tracing();
    let server = TestServer::start((43401, 43401)).await;
    let mut cfg = ClientConfig::new(server.ws_url(), "layout-bad", 1);
    cfg.publish_audio = false;
    cfg.publish_video = false;
    let client = Client::connect(cfg).await.expect("client");
    client
        .send(ClientMessage::Layout {
            tracks: vec![view("no-such-track", false)],
        })
        .await;
    let tracks = (0..=LAYOUT_TRACKS_MAX)
        .map(|i| view(&format!("t{i}"), true))
        .collect();
    client.send(ClientMessage::Layout { tracks }).await;
    let refused = || {
        client.events().iter().any(|(_, m)| {
            matches!(m, ServerMessage::Error { code: ErrorCode::InvalidMessage, message, .. }
                if message.contains("at most"))
        })
    };
    assert!(
        eventually(Duration::from_secs(3), refused).await,
        "{:?}",
        client.events()
    );
    let errors = client
        .events()
        .iter()
        .filter(|(_, m)| matches!(m, ServerMessage::Error { .. }))
        .count();
    assert_eq!(errors, 1, "an unknown track id is not an error");
    let snapshot = server
        .sfu
        .room_snapshot("layout-bad")
        .await
        .expect("room open");
    assert_eq!(snapshot.participants.len(), 1, "still in the room");
}
