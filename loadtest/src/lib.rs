//! Synthetic Cohort participants on webrtc-rs, speaking the real signaling protocol. The
//! integration tests and the `cohort-loadtest` tool both drive the server through them.
//!
//! - [`payload`]: the recognisable payloads publishers send (publisher, counter, send time).
//! - [`client`]: one participant: WebSocket signaling plus publish and subscribe connections.
//! - [`scenario`]: many participants over many rooms, ramped up, measured, and reported.
//! - [`chat`]: the chat benchmark (fan-out to room-channel listeners, history and search).
//! - [`churn`]: the soak: joins and leaves for an hour, the server's memory and descriptors.
//! - [`stats`]: percentiles, loss and jitter. [`resources`]: a process's CPU time and memory.

pub mod bench;
pub mod chat;
pub mod churn;
pub mod client;
pub mod engine;
pub mod janus;
pub mod notes;
pub mod payload;
pub mod resources;
pub mod scenario;
pub mod stats;
