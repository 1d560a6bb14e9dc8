//! `sfu-core`: Cohort's forwarding brain, sans-IO.
//!
//! # Layout
//! - [`room::Room`]: one room's routing table. Inputs go in as values through
//!   [`Room::handle_input`](room::Room::handle_input) with the current time; decisions come out
//!   as values through [`Room::poll_output`](room::Room::poll_output). It never reads a clock, a
//!   socket or a task, so tests run whole rooms on a virtual clock.
//! - [`rewriter::RtpRewriter`]: per-subscription SSRC, sequence number and timestamp rewriting
//!   that keeps the outgoing stream gap-free across pauses, drops and source switches.
//! - [`keyframe::KeyframeThrottle`]: merges keyframe requests from many subscribers into few
//!   upstream requests.
//! - [`queue::DropQueue`]: the bounded per-subscriber queue that drops and counts instead of
//!   blocking.
//! - [`codec`]: keyframe detection for VP8 and H.264 payloads.
//! - [`history::SentHistory`]: what each video subscription sent recently, to answer its NACKs.
//! - [`speakers::Speakers`]: who is speaking, from the audio levels in publishers' packets, and
//!   each participant's talk time.
//! - [`layers`]: simulcast layers, their measured bitrates, and what a subscriber shows of a
//!   track ([`layers::View`]).
//! - [`allocator`]: fits a subscriber's tracks into its bandwidth estimate, by priority and with
//!   hysteresis.
//!
//! Nothing here panics on input: malformed payloads are simply "not a keyframe", unknown ids are
//! ignored and counted.

pub mod allocator;
pub mod codec;
pub mod grade;
pub mod history;
pub mod keyframe;
pub mod layers;
pub mod quality;
pub mod queue;
pub mod rewriter;
pub mod room;
mod seq;
pub mod speakers;

pub use codec::Codec;
pub use layers::{LayerSpec, Source, View};
pub use room::{Input, Output, Room, RoomConfig, RoomStats};

/// A participant, as numbered by the room's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub u64);

/// A published track, as numbered by the room's owner. Unique within a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackId(pub u64);

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Audio,
    Video,
}

impl MediaKind {
    /// Index for per-kind counters: audio 0, video 1.
    pub fn index(self) -> usize {
        match self {
            MediaKind::Audio => 0,
            MediaKind::Video => 1,
        }
    }
}

/// The RTP header fields the core reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpMeta {
    pub ssrc: u32,
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    /// The audio level the publisher wrote (RFC 6464: −dBov, 0 loudest, 127 silence), when it
    /// negotiated the extension.
    pub audio_level: Option<u8>,
    /// The simulcast layer the packet belongs to (0 lowest), from its RID or SSRC; 0 for a
    /// track that is not simulcast.
    pub layer: u8,
}

/// The rewritten header fields for one forwarded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpOut {
    pub ssrc: u32,
    pub seq: u16,
    pub timestamp: u32,
}
