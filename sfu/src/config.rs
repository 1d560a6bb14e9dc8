//! Settings of the media server.

use std::net::IpAddr;

pub use sfu_core::RoomConfig;

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
    /// Send-side bandwidth estimation on subscribe connections; `None` turns it off, and each
    /// subscriber is then sent what its layout asks for, whatever its link.
    pub estimation: Option<Estimation>,
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
            estimation: Some(Estimation::default()),
            max_participants_per_room: 50,
            max_rooms: 200,
            max_tracks_per_participant: 4,
            room: RoomConfig::default(),
        }
    }
}

/// Bounds of each subscriber's bandwidth estimate. Every subscribe connection stamps what it
/// sends with transport-wide sequence numbers; the subscriber's TWCC feedback goes into
/// webrtc-rs's GCC, and GCC's estimate caps what the allocator fits into that subscriber's link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimation {
    /// Where a new subscriber's estimate starts, in bits per second. GCC here has no probing
    /// to climb fast from a low start (it grows 8% a second), so it starts at the ceiling and
    /// comes down at the first sign of congestion (queueing delay or loss): until then, a
    /// subscriber gets what its layout asks for.
    pub initial: u64,
    /// The estimate never goes below this (audio and the lowest layers still fit).
    pub min: u64,
    /// Nor above this.
    pub max: u64,
}

impl Default for Estimation {
    fn default() -> Self {
        Estimation {
            initial: 50_000_000,
            min: 100_000,
            max: 50_000_000,
        }
    }
}
