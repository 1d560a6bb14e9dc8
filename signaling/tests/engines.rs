//! Rooms spread over two media engines: each room lives on one engine, and all of its media
//! goes through that engine's one UDP port. webrtc-rs peers on loopback.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use common::{TestServer, eventually};
use loadtest::client::{Client, ClientConfig};
use protocol::ServerMessage;
use sfu::SfuConfig;
use signaling::config::Limits;

/// The ports of the candidates in an SDP.
fn candidate_ports(sdp: &str) -> BTreeSet<u16> {
    sdp.lines()
        .filter_map(|l| l.trim_end().strip_prefix("a=candidate:"))
        .filter_map(|c| c.split_whitespace().nth(5)?.parse().ok())
        .collect()
}

/// Every port the server's SDPs named to this client.
fn ports_seen(c: &Client) -> BTreeSet<u16> {
    c.events()
        .iter()
        .filter_map(|(_, m)| match m {
            ServerMessage::PublishAnswer { sdp, .. } | ServerMessage::SubscribeOffer { sdp } => {
                Some(candidate_ports(sdp))
            }
            _ => None,
        })
        .flatten()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_participants_in_ten_rooms_over_two_engines_keep_each_room_on_its_port() {
    let base = 46870;
    let server = TestServer::start_with(
        SfuConfig {
            udp_port: base,
            engines: 2,
            ..SfuConfig::default()
        },
        Limits::default(),
    )
    .await;
    let engines: BTreeSet<u16> = server
        .sfu
        .media_addresses()
        .iter()
        .map(|a| a.port())
        .collect();
    assert_eq!(
        engines,
        BTreeSet::from([base, base + 1]),
        "engine i on port + i"
    );

    let mut rooms: HashMap<String, Vec<Client>> = HashMap::new();
    for r in 0..10 {
        let room = format!("engines-{r}");
        for i in 0..3 {
            let mut cfg = ClientConfig::new(server.ws_url(), &room, r * 3 + i);
            cfg.publish_video = false;
            let c = Client::connect(cfg).await.expect("joins");
            rooms.entry(room.clone()).or_default().push(c);
        }
    }
    let all_hear = eventually(Duration::from_secs(20), || {
        rooms.values().flatten().all(|c| {
            let r = c.received();
            r.len() == 2 && r.iter().all(|t| t.packets > 0)
        })
    })
    .await;
    assert!(all_hear, "everyone hears the two others of their room");

    let mut used = BTreeSet::new();
    for (room, clients) in &rooms {
        let ports: BTreeSet<u16> = clients.iter().flat_map(ports_seen).collect();
        assert_eq!(
            ports.len(),
            1,
            "{room}: all its connections on one engine's port, not {ports:?}"
        );
        assert!(ports.is_subset(&engines), "{room}: {ports:?}");
        used.extend(ports);
    }
    assert_eq!(used, engines, "the rooms are spread over both engines");
    for c in rooms.into_values().flatten() {
        c.leave().await;
    }
    let empty = eventually(Duration::from_secs(10), || {
        server.sfu.room_count() == 0 && server.sfu.peer_connections() == 0
    })
    .await;
    assert!(empty, "nothing left behind on either engine");
}
