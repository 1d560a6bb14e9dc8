//! What the engine's connections share about media: the codecs we forward and how a
//! publisher's map to them, the SDP we read ourselves, the RTCP feedback the application must
//! see, the link-quality probe and the bandwidth estimator. The peer connections themselves are `engine::conn`'s.

pub(crate) mod codecs;
pub(crate) mod estimator;
pub mod feedback;
pub(crate) mod quality;
mod sdp;

pub(crate) use sdp::{
    audio_level_id, check_codecs, check_sections, sending_track_ids, with_opus_dtx,
};

/// A codec as negotiated by a publisher, carried to the subscribers' sending tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecSpec {
    pub mime_type: String,
    pub clock_rate: u32,
    pub channels: u16,
    pub fmtp: String,
}

impl CodecSpec {
    pub fn is_video(&self) -> bool {
        self.mime_type.to_ascii_lowercase().starts_with("video/")
    }

    /// Audio or video, by the MIME type.
    pub fn kind(&self) -> protocol::TrackKind {
        if self.is_video() {
            protocol::TrackKind::Video
        } else {
            protocol::TrackKind::Audio
        }
    }
}
