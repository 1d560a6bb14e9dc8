//! The media engine that replaces the `webrtc` crate's per-connection drivers (issue 14):
//! webrtc-rs's sans-IO core, the `rtc` crate, driven by one loop per engine thread on one UDP
//! port. Built up in steps; the first is the routing of datagrams on the shared port
//! ([`demux`]), a security boundary: only a connection's verified ICE check teaches the engine
//! an address, and the engine sends only to such addresses.

pub mod demux;
pub mod socket;
