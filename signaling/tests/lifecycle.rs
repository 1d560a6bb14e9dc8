//! Rooms and connections come and go without leaving anything behind.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::raw::{Next, Raw};
use common::{TestServer, eventually};
use loadtest::client::{Client, ClientConfig};
use protocol::{LeaveReason, ServerMessage};
use sfu::SfuConfig;
use signaling::config::Limits;

fn audio_only(server: &TestServer, room: &str, index: u32) -> ClientConfig {
    let mut cfg = ClientConfig::new(server.ws_url(), room, index);
    cfg.publish_video = false;
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_join_leave_cycles_leave_nothing_behind() {
    let server = TestServer::start((42600, 42699)).await;
    let counters = server.sfu.counters();
    let metrics = tokio::runtime::Handle::current().metrics();
    // Warm up once so lazily started runtime pieces are not counted as growth.
    {
        let a = Client::connect(audio_only(&server, "warm", 1))
            .await
            .expect("warm-up");
        a.leave().await;
        assert!(eventually(Duration::from_secs(3), || server.sfu.room_count() == 0).await);
    }
    let tasks_before = metrics.num_alive_tasks();

    let resident = Client::connect(audio_only(&server, "cycles", 0))
        .await
        .expect("resident");
    for i in 1..=50u32 {
        let visitor = Client::connect(audio_only(&server, "cycles", i))
            .await
            .expect("visitor joins");
        let heard = eventually(Duration::from_secs(5), || {
            visitor.received().iter().any(|t| t.packets > 0)
        })
        .await;
        assert!(heard, "cycle {i}: the visitor hears nobody");
        visitor.leave().await;
    }
    let ok = eventually(Duration::from_secs(5), || {
        counters.participants.load(Ordering::Relaxed) == 1
    })
    .await;
    assert!(ok, "visitors still counted");
    resident.leave().await;

    let clean = eventually(Duration::from_secs(10), || {
        server.sfu.room_count() == 0
            && counters.participants.load(Ordering::Relaxed) == 0
            && counters
                .tracks
                .iter()
                .all(|t| t.load(Ordering::Relaxed) == 0)
            && server.sfu.peer_connections() == 0
    })
    .await;
    assert!(
        clean,
        "left behind: rooms {}, participants {}, peer connections {}",
        server.sfu.room_count(),
        counters.participants.load(Ordering::Relaxed),
        server.sfu.peer_connections()
    );
    // Closed connections' tasks are gone too: the count is back where it was.
    let settled = eventually(Duration::from_secs(10), || {
        metrics.num_alive_tasks() <= tasks_before
    })
    .await;
    assert!(
        settled,
        "tasks: {} before, {} after 50 cycles",
        tasks_before,
        metrics.num_alive_tasks()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_dropped_and_its_tracks_removed() {
    let limits = Limits {
        dead_after: Duration::from_millis(800),
        ping_every: Duration::from_millis(200),
        ..Limits::default()
    };
    let server = TestServer::start_with(
        SfuConfig {
            udp_port: 42700,
            engines: 1,
            ..SfuConfig::default()
        },
        limits,
    )
    .await;
    let watcher = Client::connect(audio_only(&server, "silence", 1))
        .await
        .expect("watcher");
    let mut silent = Raw::connect(&server.ws_url()).await;
    let joined = silent.join("silence").await;
    let silent_id = joined["participant_id"].as_str().expect("an id").to_owned();
    // From now on the raw client reads nothing, so it never answers the server's pings.
    let gone = eventually(Duration::from_secs(3), || {
        watcher.events().iter().any(|(_, m)| {
            matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == silent_id)
        })
    })
    .await;
    assert!(gone, "the silent participant was not removed");
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_tells_everyone_to_leave_and_refuses_joins() {
    let server = TestServer::start((42750, 42799)).await;
    let a = Client::connect(audio_only(&server, "drain", 1))
        .await
        .expect("a");
    let mut raw = Raw::connect(&server.ws_url()).await;
    raw.join("drain").await;

    assert_eq!(common::http_status(server.addr, "/healthz").await, 200);
    assert_eq!(common::http_status(server.addr, "/readyz").await, 200);
    server.sfu.drain().await;
    assert!(server.sfu.is_draining());
    assert_eq!(common::http_status(server.addr, "/readyz").await, 503);
    assert_eq!(common::http_status(server.addr, "/healthz").await, 200);
    let told = eventually(Duration::from_secs(3), || {
        a.events().iter().any(|(_, m)| {
            matches!(
                m,
                ServerMessage::Leave {
                    reason: LeaveReason::ServerShutdown
                }
            )
        })
    })
    .await;
    assert!(told, "a was not told to leave");
    // The raw client sees the leave and then the close.
    loop {
        match raw.next().await {
            Next::Json(v) if v["type"] == "leave" => {
                assert_eq!(v["reason"], "server_shutdown");
            }
            Next::Json(_) => continue,
            Next::Closed(code) => {
                assert_eq!(code, Some(1001));
                break;
            }
            Next::Timeout => panic!("no close after leave"),
        }
    }
    // New WebSocket upgrades are refused while draining.
    let refused = tokio_tungstenite::connect_async(server.ws_url()).await;
    assert!(
        refused.is_err(),
        "a draining server accepted a new connection"
    );
    assert!(eventually(Duration::from_secs(5), || server.sfu.room_count() == 0).await);
}
