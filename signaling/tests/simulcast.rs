//! The load generator's simulcast publisher against the server in-process, on loopback: the
//! server receives its three layers by RID, a subscriber's `layout` picks the layer it is sent
//! (the top one for a large tile, the lowest for a thumbnail), and a layer nobody receives is
//! turned off at the publisher (dynacast, `set_encodings`).

mod common;

use std::time::Duration;

use common::{TestServer, eventually};
use loadtest::client::{Client, ClientConfig};
use protocol::{ClientMessage, ServerMessage, TrackKind, TrackView};

const ROOM: &str = "simulcast-room";

/// The layer `subscriber` receives of the one video it is sent, and that video's layer count.
async fn receiving(server: &TestServer, subscriber: &str) -> Option<(Option<u8>, u8)> {
    let snap = server.sfu.room_snapshot(ROOM).await?;
    let r = snap.receiving.get(subscriber)?.first()?.clone();
    Some((r.layer, r.layers))
}

async fn receiving_until(
    server: &TestServer,
    subscriber: &str,
    want: (Option<u8>, u8),
) -> Option<(Option<u8>, u8)> {
    let mut last = None;
    for _ in 0..50 {
        last = receiving(server, subscriber).await;
        if last == Some(want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulcast_publisher_is_received_in_layers_and_a_layout_picks_one() {
    let server = TestServer::start((43510, 43510)).await;
    let mut cfg = ClientConfig::new(server.ws_url(), ROOM, 1);
    cfg.simulcast = true;
    cfg.video_frame_bytes = 4000;
    cfg.keyframe_interval = Duration::from_secs(1);
    let publisher = Client::connect(cfg).await.expect("the publisher joins");
    let mut cfg = ClientConfig::new(server.ws_url(), ROOM, 2);
    cfg.publish_audio = false;
    cfg.publish_video = false;
    let subscriber = Client::connect(cfg).await.expect("the subscriber joins");

    // No layout yet: the top layer, of three.
    let top = receiving_until(&server, &subscriber.participant_id, (Some(2), 3)).await;
    assert_eq!(top, Some((Some(2), 3)), "the top layer of three");
    let flowing = eventually(Duration::from_secs(5), || {
        subscriber
            .received()
            .iter()
            .any(|t| t.kind == TrackKind::Video && t.packets > 30 && t.corrupt == 0)
    })
    .await;
    assert!(flowing, "the subscriber receives intact video");

    // A thumbnail: the lowest layer, switched to at its keyframe.
    let track_id = subscriber
        .received()
        .into_iter()
        .find(|t| t.kind == TrackKind::Video)
        .expect("a video track")
        .track_id;
    subscriber
        .send(ClientMessage::Layout {
            tracks: vec![TrackView {
                track_id,
                visible: true,
                width: 160,
                height: 90,
            }],
        })
        .await;
    let low = receiving_until(&server, &subscriber.participant_id, (Some(0), 3)).await;
    assert_eq!(low, Some((Some(0), 3)), "a thumbnail gets the lowest layer");

    // Nobody receives the upper layers: after the dynacast delay the publisher is told to stop
    // them, keeping the lowest.
    let told = eventually(Duration::from_secs(8), || {
        publisher.events().iter().any(|(_, m)| {
            matches!(m, ServerMessage::SetEncodings { active, .. } if active == &[true, false, false])
        })
    })
    .await;
    assert!(
        told,
        "the publisher is told to encode only the lowest layer"
    );
    let before = subscriber.totals().packets;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        subscriber.totals().packets > before,
        "the lowest layer still flows"
    );
}

/// A class's grid, as the load generator's subscribers tell it: the teacher on the stage gets
/// the top layer, a thumbnail the lowest, and a video past the thumbnails nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_grid_gets_the_stage_sharp_thumbnails_low_and_the_rest_nothing() {
    use loadtest::client::layout::LayoutPlan;

    let server = TestServer::start((43520, 43520)).await;
    let room = "class-room";
    let mut publishers = Vec::new();
    for i in 1..=3 {
        let mut cfg = ClientConfig::new(server.ws_url(), room, i);
        cfg.simulcast = true;
        cfg.video_frame_bytes = 2000;
        cfg.keyframe_interval = Duration::from_secs(1);
        publishers.push(Client::connect(cfg).await.expect("a publisher joins"));
    }
    let mut cfg = ClientConfig::new(server.ws_url(), room, 10);
    cfg.publish_audio = false;
    cfg.publish_video = false;
    cfg.layout = Some(LayoutPlan {
        stage: Some(1),
        thumbnails: 1,
    });
    let student = Client::connect(cfg).await.expect("the student joins");

    // The server's id of each publisher's video track, and what the student receives of each.
    let by_publisher = || async {
        let snap = server.sfu.room_snapshot(room).await?;
        let receiving = snap.receiving.get(&student.participant_id)?.clone();
        let mut out = Vec::new();
        for p in &publishers {
            let info = snap
                .participants
                .iter()
                .find(|i| i.id == p.participant_id)?;
            let video = info.tracks.iter().find(|t| t.kind == TrackKind::Video)?;
            let r = receiving.iter().find(|r| r.track == video.id)?;
            out.push(r.layer);
        }
        Some(out)
    };
    let mut seen = None;
    for _ in 0..60 {
        seen = by_publisher().await;
        let Some(layers) = &seen else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        // Publisher 1 on the stage; of the two others, one thumbnail and one hidden.
        let mut others = vec![layers[1], layers[2]];
        others.sort();
        if layers[0] == Some(2) && others == vec![None, Some(0)] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let layers = seen.expect("the student receives the publishers' videos");
    assert_eq!(
        layers[0],
        Some(2),
        "the stage gets the top layer: {layers:?}"
    );
    let mut others = vec![layers[1], layers[2]];
    others.sort();
    assert_eq!(
        others,
        vec![None, Some(0)],
        "one thumbnail at the lowest layer, one hidden: {layers:?}"
    );
}
