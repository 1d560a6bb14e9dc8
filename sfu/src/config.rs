//! Settings of the media server.

use std::net::IpAddr;
use std::time::Duration;

use sfu_core::RoomConfig;

/// Everything the SFU needs to know from the command line.
#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// Address media sockets bind to.
    pub bind_ip: IpAddr,
    /// Address advertised in ICE candidates, when it differs from `bind_ip`.
    pub public_ip: Option<IpAddr>,
    /// Inclusive UDP port range for media sockets.
    pub udp_ports: (u16, u16),
    pub max_participants_per_room: usize,
    pub max_rooms: usize,
    pub max_tracks_per_participant: usize,
    /// Packets queued toward one subscription before new ones are dropped.
    pub egress_queue_packets: usize,
    /// Longest wait for ICE gathering before an SDP is sent anyway.
    pub gather_timeout: Duration,
    pub room: RoomConfig,
}

impl Default for SfuConfig {
    fn default() -> Self {
        SfuConfig {
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            public_ip: None,
            udp_ports: (50000, 50999),
            max_participants_per_room: 50,
            max_rooms: 200,
            max_tracks_per_participant: 4,
            egress_queue_packets: 512,
            gather_timeout: Duration::from_secs(2),
            room: RoomConfig::default(),
        }
    }
}
