//! The server in-process with webrtc-rs peers exchanging real RTP on loopback.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{TestServer, eventually};
use loadtest::client::{Client, ClientConfig, TrackRecv, VideoCodec};
use protocol::{ServerMessage, TrackKind};

fn config(server: &TestServer, room: &str, index: u32) -> ClientConfig {
    ClientConfig::new(server.ws_url(), room, index)
}

/// Whether an offer still sends any track of the stream (participant) `stream_id`: an m-section
/// with its msid that is neither rejected (port 0) nor inactive.
fn sends_stream(sdp: &str, stream_id: &str) -> bool {
    sdp.split("\r\nm=").skip(1).any(|section| {
        let port = section.split_whitespace().nth(1).unwrap_or("0");
        let msid = section.contains(&format!("a=msid:{stream_id} "));
        let inactive = section.contains("a=inactive") || section.contains("a=recvonly");
        msid && port != "0" && !inactive
    })
}

fn flowing(c: &Client, tracks: usize) -> bool {
    let r = c.received();
    r.len() == tracks && r.iter().all(|t| t.packets > 0)
}

/// What a peer saw, short enough to survive a truncated CI log: its signaling timeline (each
/// subscribe offer as its m-sections), what it received and what it sent.
fn explain(c: &Client) -> String {
    let mut out = Vec::new();
    for (at, m) in c.events() {
        let t = at.saturating_duration_since(c.requested_at).as_millis();
        let line = match &m {
            ServerMessage::SubscribeOffer { sdp } => {
                let sections: Vec<String> = sdp
                    .split("\r\nm=")
                    .skip(1)
                    .map(|sec| {
                        let head = sec.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
                        let msid = sec
                            .lines()
                            .find_map(|l| l.strip_prefix("a=msid:"))
                            .map(|v| v.chars().take(8).collect::<String>())
                            .unwrap_or_default();
                        let dir = ["sendrecv", "sendonly", "recvonly", "inactive"]
                            .into_iter()
                            .find(|d| sec.contains(&format!("a={d}")))
                            .unwrap_or("?");
                        format!("[{head} {msid} {dir}]")
                    })
                    .collect();
                format!("subscribe_offer {}", sections.join(""))
            }
            ServerMessage::TrackPublished {
                participant_id,
                track,
            } => format!(
                "track_published {} {:?} {}",
                participant_id.chars().take(8).collect::<String>(),
                track.kind,
                track.id
            ),
            other => serde_json::to_string(other)
                .unwrap_or_default()
                .chars()
                .take(80)
                .collect(),
        };
        out.push(format!("  +{t}ms {line}"));
    }
    let received: Vec<_> = c
        .received()
        .iter()
        .map(|t| {
            (
                t.kind,
                t.publisher_id.chars().take(8).collect::<String>(),
                t.packets,
            )
        })
        .collect();
    format!(
        "me {}\n{}\nreceived {received:?}; sent {:?}; keyframes asked {}",
        c.participant_id,
        out.join("\n"),
        c.sent(),
        c.keyframe_requests()
    )
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
    // A figure for the record, not an assertion on timing.
    let mut lat = t.latencies_us.clone();
    lat.sort_unstable();
    let p50 = lat.get(lat.len() / 2).copied().unwrap_or(0);
    let p99 = lat.get(lat.len() * 99 / 100).copied().unwrap_or(0);
    println!(
        "delivery {who} {:?} from {:?}: {}/{} ({:.2}%), one-way p50 {p50} us p99 {p99} us",
        t.kind,
        t.publisher_index,
        t.packets,
        expected,
        ratio * 100.0
    );
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
    // c sends H.264 where the others send VP8: both are forwarded as published.
    let mut c_cfg = config(&server, room, 3);
    c_cfg.video_codec = VideoCodec::H264;
    let c = Client::connect(c_cfg).await.expect("c joins");

    // Every peer receives the other two peers' audio and video.
    for (name, peer) in [("a", &a), ("b", &b), ("c", &c)] {
        let ok = eventually(Duration::from_secs(10), || flowing(peer, 4)).await;
        if !ok {
            let snap = server.sfu.room_snapshot(room).await;
            panic!(
                "{name} does not receive four flowing tracks\n{}\nroom {:?}\nparticipants {:?}",
                explain(peer),
                snap.as_ref().map(|s| &s.stats),
                snap.as_ref().map(|s| &s.participants),
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
        println!("late joiner: first keyframe {after:?} after joining");
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
    // RTCP reports flow both ways: the server's receiver reports reach each publisher, and its
    // sender reports reach each subscriber.
    for (name, peer) in [("a", &a), ("b", &b), ("c", &c)] {
        let (rr, sr) = peer.rtcp_reports();
        assert!(
            rr > 0 && sr > 0,
            "{name}: {rr} receiver reports, {sr} sender reports"
        );
    }
    let snapshot = server.sfu.room_snapshot(room).await.expect("room is open");
    assert_eq!(snapshot.participants.len(), 4);
    assert_eq!(snapshot.subscriptions, 6 + 6 + 6);

    // A leaver's tracks disappear from the others, renegotiated within two seconds.
    let c_id = c.participant_id.clone();
    let last_offer = |peer: &Client| {
        peer.events()
            .into_iter()
            .rev()
            .find_map(|(_, m)| match m {
                ServerMessage::SubscribeOffer { sdp } => Some(sdp),
                _ => None,
            })
            .expect("a subscribe offer")
    };
    assert!(
        sends_stream(&last_offer(&a), &c_id),
        "the check below can tell"
    );
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
                *at >= left_at && matches!(m, ServerMessage::SubscribeOffer { sdp } if !sends_stream(sdp, &c_id))
            });
            left.is_some() && unpublished == 2 && reoffer
        })
        .await;
        if !seen {
            for (at, m) in peer.events() {
                if at >= left_at {
                    eprintln!("{name} after leave: {m:?}");
                }
            }
        }
        assert!(seen, "{name} did not see c leave within 2 s");
        println!(
            "{name} saw the leaver's tracks renegotiated away within {:?}",
            left_at.elapsed()
        );
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
    // Let the stream run, then pause the publisher so that nothing else is being sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    publisher.stop_media();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let counters = server.sfu.counters();
    let before = counters.retransmitted_packets.load(Ordering::Relaxed);
    let track = subscriber.received()[0].track_id.clone();
    let asked = subscriber
        .nack_latest(&track)
        .await
        .expect("a NACK was sent");
    // The server answers from the subscription's own history: the packet goes out again. (The
    // client's SRTP replay protection then discards the copy, as a browser's would, because its
    // first copy did arrive; a real NACK names a packet that did not.)
    let answered = eventually(Duration::from_secs(2), || {
        counters.retransmitted_packets.load(Ordering::Relaxed) == before + 1
    })
    .await;
    let stats = server.sfu.room_snapshot("nack").await.map(|s| s.stats);
    assert!(answered, "no retransmission of {asked}; room {stats:?}");
    let stats = stats.expect("room open");
    assert_eq!(stats.nacked_packets, 1);
    assert_eq!(stats.retransmitted_packets, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidates_advertise_the_public_ip() {
    common::init_tracing();
    let server = TestServer::start_with(
        sfu::SfuConfig {
            udp_port: 42850,
            engines: 1,
            public_ip: Some("127.0.0.2".parse().expect("an address")),
            ..sfu::SfuConfig::default()
        },
        signaling::config::Limits::default(),
    )
    .await;
    let mut cfg = config(&server, "public", 1);
    cfg.publish_video = false;
    let client = Client::connect(cfg).await.expect("publishes");
    let answer = client
        .events()
        .into_iter()
        .find_map(|(_, m)| match m {
            ServerMessage::PublishAnswer { sdp, .. } => Some(sdp),
            _ => None,
        })
        .expect("a publish answer");
    let candidates: Vec<&str> = answer
        .lines()
        .filter(|l| l.starts_with("a=candidate"))
        .collect();
    assert!(!candidates.is_empty(), "no candidates in {answer}");
    for c in candidates {
        assert!(c.contains(" 127.0.0.2 "), "{c}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vp8_only_subscriber_keeps_receiving_new_vp8_publishers() {
    common::init_tracing();
    // Once its first answer has narrowed video to VP8, a later VP8 track must still be added
    // (offering H.264 to it then would be refused by its connection).
    let server = TestServer::start((42900, 42949)).await;
    let mut sub = config(&server, "vp8only", 1);
    sub.publish_audio = false;
    sub.publish_video = false;
    sub.vp8_only = true;
    let viewer = Client::connect(sub).await.expect("viewer");
    let mut first = config(&server, "vp8only", 2);
    first.publish_audio = false;
    let _a = Client::connect(first).await.expect("first publisher");
    assert!(eventually(Duration::from_secs(5), || flowing(&viewer, 1)).await);
    let mut second = config(&server, "vp8only", 3);
    second.publish_audio = false;
    let _b = Client::connect(second).await.expect("second publisher");
    assert!(
        eventually(Duration::from_secs(5), || flowing(&viewer, 2)).await,
        "the second VP8 video never arrived: {:?}",
        viewer
            .received()
            .iter()
            .map(|t| (t.codec.clone(), t.packets))
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publish_answer_tells_the_publisher_the_id_others_see_for_each_track() {
    common::init_tracing();
    let server = TestServer::start((43300, 43300)).await;
    let publisher = Client::connect(config(&server, "ids", 1))
        .await
        .expect("the publisher joins");
    let mut watcher_cfg = config(&server, "ids", 2);
    watcher_cfg.publish_audio = false;
    watcher_cfg.publish_video = false;
    let watcher = Client::connect(watcher_cfg)
        .await
        .expect("the watcher joins");
    let mut told: Vec<(String, String)> = publisher
        .events()
        .into_iter()
        .find_map(|(_, m)| match m {
            ServerMessage::PublishAnswer { tracks, .. } => Some(tracks),
            _ => None,
        })
        .expect("a publish answer")
        .into_iter()
        .map(|t| (t.track_id, t.id))
        .collect();
    told.sort();
    // Opus is answered with in-band FEC and DTX (a browser then sends both).
    let answer = publisher
        .events()
        .into_iter()
        .find_map(|(_, m)| match m {
            ServerMessage::PublishAnswer { sdp, .. } => Some(sdp),
            _ => None,
        })
        .unwrap_or_default();
    let opus_fmtp = answer
        .lines()
        .find(|l| l.starts_with("a=fmtp:111 "))
        .unwrap_or_default();
    assert!(
        opus_fmtp.contains("useinbandfec=1") && opus_fmtp.contains("usedtx=1"),
        "{opus_fmtp:?}"
    );
    // The load generator names its tracks `<kind>-<index>` in its offer's a=msid lines.
    let own: Vec<&str> = told.iter().map(|(own, _)| own.as_str()).collect();
    assert_eq!(own, ["audio-1", "video-1"], "{told:?}");
    assert!(told.iter().all(|(own, id)| own != id), "{told:?}");
    let seen = || {
        let mut ids: Vec<String> = watcher
            .events()
            .into_iter()
            .filter_map(|(_, m)| match m {
                ServerMessage::TrackPublished {
                    participant_id,
                    track,
                } if participant_id == publisher.participant_id => Some(track.id),
                _ => None,
            })
            .chain(
                watcher
                    .others_at_join
                    .iter()
                    .filter(|p| p.id == publisher.participant_id)
                    .flat_map(|p| p.tracks.iter().map(|t| t.id.clone())),
            )
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let mut expected: Vec<String> = told.iter().map(|(_, id)| id.clone()).collect();
    expected.sort();
    eventually(Duration::from_secs(10), || seen() == expected).await;
    assert_eq!(seen(), expected, "{}", explain(&watcher));
}
