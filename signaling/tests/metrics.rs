//! `/metrics` during a real session: three webrtc-rs participants in one room, read node-wide and
//! for that room, checked by Debian's `promtool`; after they leave the gauges are back at zero
//! and the room's series are gone.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::http::call;
use common::{TestServer, eventually};
use loadtest::client::{Client, ClientConfig};

/// The value of the sample `name` (with its labels, as written), if present.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn scrape(server: &TestServer) -> String {
    let r = call(server.addr, "GET", "/metrics", None, None).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/plain")
    );
    r.text()
}

/// `promtool check metrics` on the exposition; CI insists on promtool (scripts/setup.sh).
fn promtool_check(text: &str) {
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        common::missing_outside_ci("promtool", "scripts/setup.sh installs Debian's prometheus");
        return;
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_room_shows_in_the_metrics_and_leaves_no_series_behind() {
    let server = TestServer::start((44800, 44899)).await;
    let room = "metrics-room";
    let mut clients = Vec::new();
    for i in 1..=3 {
        let cfg = ClientConfig::new(server.ws_url(), room, i);
        clients.push(Client::connect(cfg).await.expect("joins"));
    }
    let flowing = eventually(Duration::from_secs(10), || {
        clients
            .iter()
            .all(|c| c.received().len() == 4 && c.received().iter().all(|t| t.packets > 0))
    })
    .await;
    assert!(flowing, "media flows between the three");

    let first = scrape(&server).await;
    promtool_check(&first);
    let label = format!("{{room=\"{room}\"}}");
    assert_eq!(sample(&first, "cohort_participants"), Some(3.0));
    assert_eq!(
        sample(&first, &format!("cohort_room_participants{label}")),
        Some(3.0)
    );
    assert_eq!(sample(&first, "cohort_rooms"), Some(1.0));
    // Each of the three got its first media once: three join durations.
    assert_eq!(
        sample(&first, "cohort_join_duration_seconds_count"),
        Some(3.0)
    );
    let took = sample(&first, "cohort_join_duration_seconds_sum").unwrap_or(-1.0);
    assert!(took > 0.0, "join durations sum to {took}");
    // And its first video: three more.
    assert_eq!(
        sample(&first, "cohort_join_first_video_seconds_count"),
        Some(3.0)
    );
    let video = sample(&first, "cohort_join_first_video_seconds_sum").unwrap_or(-1.0);
    assert!(video > 0.0, "first video durations sum to {video}");
    // Figures for the record, not assertions on timing.
    println!("join to first media: {:.3} s on average over 3", took / 3.0);
    println!(
        "join to first video: {:.3} s on average over 3",
        video / 3.0
    );
    assert_eq!(sample(&first, "cohort_websocket_sessions"), Some(3.0));
    assert_eq!(
        sample(&first, "cohort_published_tracks{kind=\"video\"}"),
        Some(3.0)
    );
    // Each of three publishers' two tracks goes to the two others.
    assert_eq!(
        sample(&first, "cohort_subscriptions{kind=\"audio\"}"),
        Some(6.0)
    );
    assert_eq!(
        sample(
            &first,
            &format!("cohort_room_published_tracks{{kind=\"audio\",room=\"{room}\"}}")
        ),
        Some(3.0)
    );
    for name in [
        "cohort_process_resident_memory_bytes",
        "cohort_process_open_fds",
        "cohort_process_cpu_seconds_total",
    ] {
        assert!(sample(&first, name).is_some_and(|v| v >= 0.0), "{name}");
    }

    // Forwarding goes on between two scrapes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = scrape(&server).await;
    for name in [
        "cohort_forwarded_packets_total{kind=\"audio\"}".to_owned(),
        "cohort_forwarded_packets_total{kind=\"video\"}".to_owned(),
        "cohort_received_bytes_total{kind=\"video\"}".to_owned(),
        format!("cohort_room_forwarded_packets_total{label}"),
        format!("cohort_room_forwarded_bytes_total{label}"),
    ] {
        let (a, b) = (sample(&first, &name), sample(&second, &name));
        assert!(
            matches!((a, b), (Some(a), Some(b)) if b > a),
            "{name} did not rise: {a:?} then {b:?}"
        );
    }
    // RTCP reception reports, both ways, within a few report intervals: loss and jitter of
    // every direction, round trips to the subscribers, and the room's packet accounting.
    let mut rtcp = second.clone();
    for _ in 0..50 {
        let have = |name: &str| sample(&rtcp, name).is_some_and(|v| v > 0.0);
        if have("cohort_rtcp_loss_fraction_count{direction=\"upstream\"}")
            && have("cohort_rtcp_jitter_seconds_count{direction=\"downstream\"}")
            && have("cohort_rtcp_rtt_seconds_count")
            && have(&format!("cohort_room_rtcp_packets_expected_total{label}"))
            && have(&format!(
                "cohort_room_subscriber_estimate_bytes_per_second_count{label}"
            ))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        rtcp = scrape(&server).await;
    }
    for name in [
        "cohort_rtcp_loss_fraction_count{direction=\"upstream\"}".to_owned(),
        "cohort_rtcp_loss_fraction_count{direction=\"downstream\"}".to_owned(),
        "cohort_rtcp_jitter_seconds_count{direction=\"downstream\"}".to_owned(),
        "cohort_rtcp_rtt_seconds_count".to_owned(),
        "cohort_rtcp_packets_expected_total{direction=\"upstream\"}".to_owned(),
        format!("cohort_room_rtcp_packets_expected_total{label}"),
        // The subscribers' TWCC feedback reached the congestion controllers.
        format!("cohort_room_subscriber_estimate_bytes_per_second_count{label}"),
    ] {
        assert!(
            sample(&rtcp, &name).is_some_and(|v| v > 0.0),
            "{name} missing or zero:\n{rtcp}"
        );
    }
    let rtt_sum = sample(&rtcp, "cohort_rtcp_rtt_seconds_sum").unwrap_or(-1.0);
    let rtt_n = sample(&rtcp, "cohort_rtcp_rtt_seconds_count").unwrap_or(0.0);
    assert!(
        rtt_sum >= 0.0 && rtt_sum / rtt_n < 1.0,
        "loopback round trips average {} s",
        rtt_sum / rtt_n
    );
    println!(
        "RTCP round trip on loopback: {:.4} s on average over {rtt_n}",
        rtt_sum / rtt_n
    );
    let lost = sample(
        &rtcp,
        "cohort_rtcp_packets_lost_total{direction=\"upstream\"}",
    );
    assert_eq!(lost, Some(0.0), "loopback loses nothing upstream");
    assert_eq!(
        sample(&rtcp, &format!("cohort_room_capacity{label}")),
        Some(server.sfu.config().max_participants_per_room as f64)
    );
    for reason in ["subscriber_queue_full", "no_route", "too_old"] {
        let name = format!("cohort_dropped_packets_total{{reason=\"{reason}\"}}");
        assert!(sample(&rtcp, &name).is_some(), "{name}");
    }
    assert!(sample(&rtcp, "cohort_cpu_cores").is_some_and(|n| n >= 1.0));
    promtool_check(&rtcp);

    // Requests are counted by route template, never by path.
    assert!(
        sample(
            &second,
            "cohort_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"}"
        )
        .is_some()
    );

    for c in clients {
        c.leave().await;
    }
    let gone = eventually(Duration::from_secs(5), || {
        server.sfu.room_readings().is_empty()
    })
    .await;
    assert!(gone, "the room closes");
    let after = scrape(&server).await;
    promtool_check(&after);
    assert_eq!(sample(&after, "cohort_participants"), Some(0.0));
    assert_eq!(sample(&after, "cohort_rooms"), Some(0.0));
    assert_eq!(
        sample(&after, "cohort_published_tracks{kind=\"video\"}"),
        Some(0.0)
    );
    assert!(!after.contains(room), "the room's series remain:\n{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_sit_behind_a_bearer_token() {
    let server = TestServer::start_tweaked((44900, 44919), |s| {
        s.metrics_token = Some("scrape-secret".into());
    })
    .await;
    call(server.addr, "GET", "/metrics", None, None)
        .await
        .problem(401);
    call(server.addr, "GET", "/metrics", Some("wrong"), None)
        .await
        .problem(401);
    let ok = call(server.addr, "GET", "/metrics", Some("scrape-secret"), None).await;
    assert_eq!(ok.status, 200);
    assert!(sample(&ok.text(), "cohort_rooms").is_some());
}
