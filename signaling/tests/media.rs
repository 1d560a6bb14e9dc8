//! The server in-process with webrtc-rs peers exchanging real RTP on loopback.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, eventually};
use loadtest::client::{Client, ClientConfig, TrackRecv, VideoCodec};
use protocol::{ServerMessage, TrackKind};

fn config(server: &TestServer, room: &str, index: u32) -> ClientConfig {
    ClientConfig::new(server.ws_url(), room, index)
}

fn flowing(c: &Client, tracks: usize) -> bool {
    let r = c.received();
    r.len() == tracks && r.iter().all(|t| t.packets > 0)
}

fn assert_delivery(who: &str, t: &TrackRecv) {
    assert_eq!(t.corrupt, 0, "{who}: corrupt packets on {t:?}");
    assert_eq!(
        t.out_of_order, 0,
        "{who}: out-of-order packets on {}",
        t.track_id
    );
    let expected = t.expected();
    assert!(expected > 0, "{who}: nothing on {}", t.track_id);
    let ratio = t.packets as f64 / expected as f64;
    assert!(
        ratio >= 0.99,
        "{who}: {} of {} packets ({ratio:.4}) on {} ({:?})",
        t.packets,
        expected,
        t.track_id,
        t.kind
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_peers_relay_to_each_other_and_late_joiners_and_leavers_are_handled() {
    common::init_tracing();
    let server = TestServer::start((42000, 42099)).await;
    let room = "relay";
    let a = Client::connect(config(&server, room, 1))
        .await
        .expect("a joins");
    let b = Client::connect(config(&server, room, 2))
        .await
        .expect("b joins");
    let c = Client::connect(config(&server, room, 3))
        .await
        .expect("c joins");

    // Every peer receives the other two peers' audio and video.
    for (name, peer) in [("a", &a), ("b", &b), ("c", &c)] {
        let ok = eventually(Duration::from_secs(10), || flowing(peer, 4)).await;
        if !ok {
            let snap = server.sfu.room_snapshot(room).await;
            let summary: Vec<_> = peer
                .received()
                .iter()
                .map(|t| (t.kind, t.packets, t.first_counter, t.last_counter))
                .collect();
            panic!(
                "{name} does not receive four flowing tracks: {summary:?}; sent {:?}; kf asked {}; room {:?}",
                peer.sent(),
                peer.keyframe_requests(),
                snap.map(|s| s.stats)
            );
        }
    }

    // A late joiner gets the existing tracks, and a keyframe of each video within a second,
    // although the publishers only send keyframes every ten seconds unless asked.
    let mut late_cfg = config(&server, room, 4);
    late_cfg.publish_audio = false;
    late_cfg.publish_video = false;
    let d = Client::connect(late_cfg).await.expect("d joins");
    assert_eq!(d.others_at_join.len(), 3);
    assert!(d.others_at_join.iter().all(|p| p.tracks.len() == 2));
    assert!(
        eventually(Duration::from_secs(5), || flowing(&d, 6)).await,
        "late joiner: {:?}",
        d.received()
    );
    let keyframes = |c: &Client| {
        c.received()
            .iter()
            .filter(|t| t.kind == TrackKind::Video)
            .all(|t| t.first_keyframe_at.is_some())
    };
    assert!(
        eventually(Duration::from_secs(2), || keyframes(&d)).await,
        "no keyframe: {:?}",
        d.received()
    );
    for t in d.received().iter().filter(|t| t.kind == TrackKind::Video) {
        let after = t
            .first_keyframe_at
            .expect("a keyframe")
            .duration_since(d.joined_at);
        assert!(
            after <= Duration::from_secs(1),
            "first keyframe after {after:?}"
        );
    }
    // The publishers were asked for those keyframes (they send one only every ten seconds).
    assert!(a.keyframe_requests() > 0 && b.keyframe_requests() > 0 && c.keyframe_requests() > 0);

    tokio::time::sleep(Duration::from_secs(3)).await;
    for peer in [&a, &b, &c] {
        peer.stop_media();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // At least 99% of packets arrive, intact and in order, from the right publishers.
    for (name, peer, me) in [("a", &a, 1u32), ("b", &b, 2), ("c", &c, 3)] {
        let got = peer.received();
        let mut publishers: Vec<u32> = got.iter().filter_map(|t| t.publisher_index).collect();
        publishers.sort();
        let mut want: Vec<u32> = [1, 2, 3]
            .into_iter()
            .filter(|i| *i != me)
            .flat_map(|i| [i, i])
            .collect();
        want.sort();
        assert_eq!(publishers, want, "{name} hears the wrong publishers");
        for t in &got {
            assert_delivery(name, t);
            if t.kind == TrackKind::Video {
                let want = if t.publisher_index == Some(3) {
                    "video/H264"
                } else {
                    "video/VP8"
                };
                assert!(
                    t.codec.eq_ignore_ascii_case(want),
                    "{name}: {} from {:?}",
                    t.codec,
                    t.publisher_index
                );
            }
            let min = if t.kind == TrackKind::Audio { 120 } else { 60 };
            assert!(
                t.packets >= min,
                "{name}: only {} packets on {}",
                t.packets,
                t.track_id
            );
        }
    }
    for t in d.received() {
        assert_delivery("d", &t);
    }
    let snapshot = server.sfu.room_snapshot(room).await.expect("room is open");
    assert_eq!(snapshot.participants.len(), 4);
    assert_eq!(snapshot.subscriptions, 6 + 6 + 6);

    // A leaver's tracks disappear from the others, renegotiated within two seconds.
    let c_id = c.participant_id.clone();
    let left_at = Instant::now();
    c.leave().await;
    for (name, peer) in [("a", &a), ("b", &b), ("d", &d)] {
        let seen = eventually(Duration::from_secs(2), || {
            let ev = peer.events();
            let left = ev.iter().position(|(_, m)| {
                matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == c_id)
            });
            let unpublished = ev.iter().filter(|(_, m)| {
                matches!(m, ServerMessage::TrackUnpublished { participant_id, .. } if *participant_id == c_id)
            }).count();
            let reoffer = ev.iter().any(|(at, m)| {
                *at >= left_at && matches!(m, ServerMessage::SubscribeOffer { sdp } if !sdp.contains(&c_id))
            });
            left.is_some() && unpublished == 2 && reoffer
        })
        .await;
        assert!(seen, "{name} did not see c leave within 2 s");
    }
    assert!(
        eventually(Duration::from_secs(2), || server
            .sfu
            .counters()
            .participants
            .load(std::sync::atomic::Ordering::Relaxed)
            == 3)
        .await
    );
    let snapshot = server.sfu.room_snapshot(room).await.expect("room is open");
    assert_eq!(snapshot.participants.len(), 3);
    assert_eq!(snapshot.subscriptions, 2 + 2 + 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribers_nack_is_answered_with_a_retransmission() {
    common::init_tracing();
    let server = TestServer::start((42800, 42849)).await;
    let mut pub_cfg = config(&server, "nack", 1);
    pub_cfg.publish_audio = false;
    let publisher = Client::connect(pub_cfg).await.expect("publisher");
    let mut sub_cfg = config(&server, "nack", 2);
    sub_cfg.publish_audio = false;
    sub_cfg.publish_video = false;
    let subscriber = Client::connect(sub_cfg).await.expect("subscriber");
    assert!(eventually(Duration::from_secs(5), || flowing(&subscriber, 1)).await);
    // Wait for the stream to run cleanly for a moment, then pause the publisher so the
    // retransmission cannot be confused with new packets.
    tokio::time::sleep(Duration::from_millis(500)).await;
    publisher.stop_media();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = subscriber.received()[0].clone();
    assert_eq!(before.out_of_order, 0);
    let track = before.track_id.clone();
    let asked = subscriber
        .nack_latest(&track)
        .await
        .expect("a NACK was sent");
    let answered = eventually(Duration::from_secs(2), || {
        let now = &subscriber.received()[0];
        now.packets > before.packets && now.last_seq.map(|(_, s)| s) == Some(asked)
    })
    .await;
    assert!(
        answered,
        "no retransmission of {asked}: {:?}",
        subscriber.received()[0].last_seq
    );
    // The copy is the same packet again: same counter, so it shows up as a repeat.
    assert_eq!(subscriber.received()[0].out_of_order, 1);
}
