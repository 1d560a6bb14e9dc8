//! A subscriber on a narrow link, in a shaped network: three webrtc-rs publishers and two
//! listening subscribers in one room, one of the subscribers behind 400 kbit/s. The network is
//! this test's own: it runs only inside a private network namespace (scripts/test.sh runs the
//! tests under `unshare -n`), where it shapes what loopback carries to 127.0.0.2, the narrow
//! subscriber's address, with `tc` (a token bucket: 400 kbit/s, 100 ms of queue). The server's
//! estimate of that subscriber's downlink comes down and the allocator pauses videos to fit
//! it, audio keeps flowing, and it is told its downlink is not good; the other subscriber,
//! unshaped, keeps every video and a high estimate. How well the narrow one settles (its loss
//! and videos in each 2 s window) is printed for the record, not asserted: without probing,
//! its estimate climbs while it receives less than its link carries, and raises are retried.

mod common;

use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::TestServer;
use loadtest::client::{Client, ClientConfig, TrackRecv};
use protocol::{Quality, ServerMessage, TrackKind};

const ROOM: &str = "shaped-room";
const NARROW: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
/// The narrow link: what the subscriber behind it can receive, and how much may queue.
const RATE: &str = "400kbit";

/// Whether this process runs in a network namespace with loopback only, as `unshare -n`
/// makes: only there may a test shape traffic, since nothing else is on it. (The machine's own
/// namespace has its network interfaces; `/proc/self/net/dev` lists those of this process's.)
fn in_private_namespace() -> bool {
    std::fs::read_to_string("/proc/self/net/dev").is_ok_and(|dev| {
        dev.lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .all(|name| name.trim() == "lo")
    })
}

fn tc(args: &[&str]) {
    let out = Command::new("tc").args(args).output().expect("tc runs");
    assert!(
        out.status.success(),
        "tc {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The shaping, for as long as this lives: dropped (the test ended, or failed), loopback is
/// as it was, so that the tests after this one in the namespace see no queue of ours.
struct Shaped;

impl Drop for Shaped {
    fn drop(&mut self) {
        let _ = Command::new("tc")
            .args(["qdisc", "del", "dev", "lo", "root"])
            .output();
    }
}

/// Everything loopback carries to [`NARROW`] goes through a token bucket; the rest as before.
/// (An HTB root only to classify: its classes are far faster than anything here, and the narrow
/// one's leaf is the bucket. HTB, TBF and u32 are what every kernel with traffic control has.)
fn shape_narrow_link() -> Shaped {
    tc(&[
        "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "1", "r2q", "1000",
    ]);
    for class in ["1:1", "1:3"] {
        tc(&[
            "class", "add", "dev", "lo", "parent", "1:", "classid", class, "htb", "rate", "10gbit",
        ]);
    }
    tc(&[
        "qdisc", "add", "dev", "lo", "parent", "1:3", "handle", "30:", "tbf", "rate", RATE,
        "burst", "4000", "latency", "100ms",
    ]);
    tc(&[
        "filter",
        "add",
        "dev",
        "lo",
        "parent",
        "1:",
        "protocol",
        "ip",
        "prio",
        "1",
        "u32",
        "match",
        "ip",
        "dst",
        "127.0.0.2/32",
        "flowid",
        "1:3",
    ]);
    Shaped
}

/// Per track: packets received and the publisher's counter reached, at one moment.
fn counts(c: &Client) -> Vec<(String, TrackKind, u64, u64)> {
    c.received()
        .into_iter()
        .map(|t: TrackRecv| (t.track_id, t.kind, t.packets, t.last_counter))
        .collect()
}

/// Loss over a window between two [`counts`], over the tracks that flowed all through it, and
/// how many videos flowed.
fn window(
    before: &[(String, TrackKind, u64, u64)],
    after: &[(String, TrackKind, u64, u64)],
) -> (f64, usize) {
    let (mut got, mut sent, mut videos) = (0, 0, 0);
    for (id, kind, packets, counter) in after {
        let Some((_, _, p0, c0)) = before.iter().find(|b| &b.0 == id) else {
            continue;
        };
        if packets == p0 || *p0 == 0 {
            continue; // paused, or not yet flowing when the window opened
        }
        got += packets - p0;
        sent += counter - c0;
        if *kind == TrackKind::Video {
            videos += 1;
        }
    }
    let loss = if sent == 0 {
        1.0
    } else {
        1.0 - got as f64 / sent as f64
    };
    (loss.max(0.0), videos)
}

async fn estimate_of(server: &TestServer, participant: &str) -> Option<u64> {
    let snap = server.sfu.room_snapshot(ROOM).await?;
    snap.links.get(participant)?.subscribe.estimate
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrow_subscriber_settles_on_what_its_link_carries_and_the_others_keep_theirs() {
    assert!(
        in_private_namespace(),
        "this test shapes loopback, so it runs only in a network namespace of its own with \
         loopback alone: run it as scripts/test.sh does, under `unshare -n`"
    );
    let server = TestServer::start((43500, 43500)).await;
    let mut publishers = Vec::new();
    for i in 1..=3 {
        let mut cfg = ClientConfig::new(server.ws_url(), ROOM, i);
        // 500-byte frames at 30 a second: 120 kbit/s of video, 24 kbit/s of audio each.
        cfg.video_frame_bytes = 500;
        cfg.keyframe_interval = Duration::from_secs(2);
        publishers.push(Client::connect(cfg).await.expect("a publisher joins"));
    }
    let listener = |index, ip| {
        let mut cfg = ClientConfig::new(server.ws_url(), ROOM, index);
        cfg.publish_audio = false;
        cfg.publish_video = false;
        cfg.udp_ip = ip;
        cfg
    };
    let wide = Client::connect(listener(10, IpAddr::from([127, 0, 0, 1])))
        .await
        .expect("the wide subscriber joins");
    let shaped = shape_narrow_link();
    let shaped_at = Instant::now();
    let narrow = Client::connect(listener(11, NARROW))
        .await
        .expect("the narrow subscriber joins");

    // Twelve windows of 2 s: what the narrow subscriber loses, how many videos reach it, and
    // its estimate, each printed for the record.
    let mut windows = Vec::new();
    let mut last = counts(&narrow);
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = counts(&narrow);
        let (loss, videos) = window(&last, &now);
        let estimate = estimate_of(&server, &narrow.participant_id).await;
        let at = shaped_at.elapsed().as_secs_f64();
        println!(
            "{at:>5.1} s: narrow loses {:.1}%, {videos} videos, estimate {estimate:?}",
            loss * 100.0
        );
        windows.push((at, loss, videos, estimate));
        last = now;
    }
    let wide_before = counts(&wide);
    let narrow_before = counts(&narrow);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (wide_loss, wide_videos) = window(&wide_before, &counts(&wide));
    let narrow_after = counts(&narrow);
    let wide_estimate = estimate_of(&server, &wide.participant_id).await;
    drop(shaped);

    let clean = windows.iter().filter(|w| w.1 < 0.02).count();
    let first_clean = windows.iter().find(|w| w.1 < 0.02 && w.2 > 0).map(|w| w.0);
    let lowest = windows.iter().filter_map(|w| w.3).min();
    println!(
        "narrow (400 kbit/s): {clean} of {} windows under 2% loss, the first with video at \
         {first_clean:?} s, lowest estimate {lowest:?}; wide: {wide_videos} videos, loss \
         {:.2}%, estimate {wide_estimate:?}",
        windows.len(),
        wide_loss * 100.0
    );
    assert!(
        lowest.is_some_and(|e| e < 600_000),
        "the narrow subscriber's estimate came down near its link: {windows:?}"
    );
    assert!(
        windows.iter().any(|w| w.2 < 3),
        "videos were paused to fit the narrow link: {windows:?}"
    );
    assert_eq!(wide_videos, 3, "the wide subscriber keeps every video");
    assert!(wide_loss < 0.01, "the wide subscriber loses {wide_loss}");
    assert!(
        wide_estimate.is_some_and(|e| e > 5_000_000),
        "the wide subscriber's estimate stays high: {wide_estimate:?}"
    );
    // Audio always: every publisher's audio still reaches the narrow subscriber at the end.
    let audio_flowing = narrow_after
        .iter()
        .filter(|(id, kind, packets, _)| {
            *kind == TrackKind::Audio && narrow_before.iter().any(|b| &b.0 == id && b.2 < *packets)
        })
        .count();
    assert_eq!(audio_flowing, 3, "the narrow subscriber hears everyone");
    // Everyone is told how each connection looks: the narrow subscriber's downlink is held
    // back (some videos paused), so it is not good; the wide one's is.
    let downlink_of = |c: &Client, who: &str| -> Vec<Quality> {
        c.events()
            .into_iter()
            .filter_map(|(_, m)| match m {
                ServerMessage::ConnectionQuality { participants } => participants
                    .into_iter()
                    .find(|p| p.participant_id == who)
                    .map(|p| p.downlink),
                _ => None,
            })
            .collect()
    };
    let narrow_told = downlink_of(&narrow, &narrow.participant_id);
    assert!(
        narrow_told.iter().any(|q| *q != Quality::Good),
        "the narrow subscriber is told its downlink is not good: {narrow_told:?}"
    );
    let wide_told = downlink_of(&wide, &wide.participant_id);
    assert_eq!(
        wide_told.last(),
        Some(&Quality::Good),
        "the wide subscriber's downlink: {wide_told:?}"
    );
}
