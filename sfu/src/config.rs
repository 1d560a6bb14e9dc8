//! Settings of the media server.

use std::net::IpAddr;

use sfu_core::RoomConfig;

/// Everything the SFU needs to know from the command line.
#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// Address the engines' UDP sockets bind to.
    pub bind_ip: IpAddr,
    /// Address advertised in ICE candidates, when it differs from `bind_ip`.
    pub public_ip: Option<IpAddr>,
    /// Engine 0's UDP port; engine `i` listens on `udp_port + i`. 0 lets the system choose
    /// each engine's port (tests).
    pub udp_port: u16,
    /// Media engines, one thread and one port each; 0 means one per core.
    pub engines: usize,
    /// Whether each engine also listens for ICE-TCP (RFC 6544) on its port number over TCP,
    /// for clients whose UDP is blocked.
    pub ice_tcp: bool,
    /// Whether clients are told to send cameras as simulcast (`joined.simulcast`).
    pub simulcast: bool,
    pub max_participants_per_room: usize,
    pub max_rooms: usize,
    pub max_tracks_per_participant: usize,
    pub room: RoomConfig,
}

impl Default for SfuConfig {
    fn default() -> Self {
        SfuConfig {
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            public_ip: None,
            udp_port: 7882,
            engines: 0,
            ice_tcp: true,
            simulcast: false,
            max_participants_per_room: 50,
            max_rooms: 200,
            max_tracks_per_participant: 4,
            room: RoomConfig::default(),
        }
    }
}
