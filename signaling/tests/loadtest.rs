//! The load generator's smoke run, as CI runs it: 2 rooms × 3 participants × 5 s against an
//! in-process server, through `loadtest::scenario` (what `cohort-loadtest` runs). It asserts
//! delivery, not speed: loss under 1% and every subscriber receiving every other publisher's
//! audio and video. The figures are printed for the record.

mod common;

use std::time::Duration;

use common::TestServer;
use loadtest::scenario::{self, Scenario, Target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rooms_of_three_deliver_everything() {
    let server = TestServer::start((45300, 45399)).await;
    let s = Scenario {
        target: Target::Cohort,
        udp_ip: std::net::IpAddr::from([127, 0, 0, 1]),
        url: server.ws_url(),
        rooms: 2,
        participants: 6,
        publish_share: 1.0,
        publishers_per_room: None,
        ramp_per_second: 20.0,
        duration: Duration::from_secs(5),
        audio: true,
        video: true,
        video_bitrate_bps: 300_000,
        video_fps: 30,
        keyframe_interval: Duration::from_secs(2),
        simulcast: false,
        thumbnails: None,
        room_prefix: "smoke".into(),
        server_pid: None,
    };
    let mut updates = 0;
    let report = tokio::time::timeout(s.deadline(), scenario::run(&s, |_| updates += 1))
        .await
        .expect("the run ends by its own deadline")
        .expect("the scenario is valid");
    print!("{report}");
    assert_eq!(report.joined, 6, "{:?}", report.join_failure_examples);
    assert_eq!(report.publishers, 6);
    // Each of 6 hears the 2 others in its room, audio and video.
    assert_eq!(report.tracks_expected, 24);
    assert_eq!(
        report.tracks_received, 24,
        "missing: {:?}",
        report.missing_examples
    );
    assert!(
        report.packets_received > 1000,
        "{}",
        report.packets_received
    );
    assert!(report.loss < 0.01, "loss {}", report.loss);
    assert!(report.latency_ms.samples > 1000);
    assert_eq!(report.join_ms.samples, 24, "a join time per received track");
    assert_eq!(report.join_audio_ms.samples, 12, "one per audio track");
    assert_eq!(
        report.first_picture_ms.samples, 12,
        "a keyframe on every video track"
    );
    assert!(updates > 5, "progress was reported ({updates} times)");
    let json = serde_json::to_value(&report).expect("the report is JSON");
    assert_eq!(json["tracks_received"], 24);
    assert!(json["latency_ms"]["p99"].is_number());
    // Everyone left: the server is empty again.
    let empty = common::eventually(Duration::from_secs(5), || {
        server.sfu.room_readings().is_empty()
    })
    .await;
    assert!(empty, "the rooms close after the run");
}
