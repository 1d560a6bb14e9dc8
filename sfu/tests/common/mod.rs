//! What the engine's tests share: a full ICE agent (webrtc-rs's `rtc`, as browsers are) that
//! offers a data channel from one host candidate.

use std::net::SocketAddr;
use std::time::Instant;

use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::RTCPeerConnectionBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;

/// A client's peer connection offering a data channel, with `addr` as its one host
/// candidate, and its offer's SDP.
pub fn offering_client(now: Instant, addr: SocketAddr) -> (RTCPeerConnection, String) {
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .build(now)
        .unwrap();
    let _ = pc.create_data_channel("data", None).unwrap();
    let offer = pc.create_offer(None).unwrap();
    pc.set_local_description(now, offer).unwrap();
    pc.add_local_candidate(sfu::engine::conn::host_candidate(addr).unwrap())
        .unwrap();
    let sdp = pc.local_description().unwrap().sdp;
    (pc, sdp)
}
