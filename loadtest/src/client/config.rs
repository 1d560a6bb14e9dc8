//! How a synthetic participant behaves, and what can go wrong.

use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    Vp8,
    H264,
}

impl VideoCodec {
    pub(crate) fn mime(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "video/VP8",
            VideoCodec::H264 => "video/H264",
        }
    }
}

/// How a synthetic participant behaves.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The signaling URL, for example `ws://127.0.0.1:8080/api/v1/rtc`.
    pub url: String,
    pub room: String,
    pub name: String,
    /// Stamped into every payload this client publishes.
    pub index: u32,
    pub publish_audio: bool,
    pub publish_video: bool,
    pub video_codec: VideoCodec,
    pub video_fps: u32,
    /// Bytes of each video frame; frames over [`crate::payload::MAX_VIDEO_PAYLOAD`] go out as
    /// several packets with one timestamp, the marker bit on the last.
    pub video_frame_bytes: usize,
    /// Keyframes are this many times the size of other frames.
    pub keyframe_scale: u32,
    /// Send video as three simulcast layers with RIDs q, h and f (lowest first), of a quarter,
    /// a half and all of `video_frame_bytes` per frame, as a browser sends a camera; the server
    /// picks one per subscriber.
    pub simulcast: bool,
    /// What this client shows of the videos it receives (a grid with a stage), told to the
    /// server as `layout`; `None` tells nothing, and the server sends every video at its top.
    pub layout: Option<super::layout::LayoutPlan>,
    /// Keyframes come this often unless a PLI or FIR asks for one sooner.
    pub keyframe_interval: Duration,
    /// Address the client's media sockets bind to.
    pub udp_ip: IpAddr,
    /// Turns off SRTP replay protection on the subscribe side, so that a packet asked for again
    /// with a NACK is delivered even though its first copy arrived (a test seam).
    pub accept_duplicates: bool,
    /// Receive video as VP8 only, like a browser without H.264.
    pub vp8_only: bool,
    /// The audio level written on every audio packet (RFC 6464: −dBov, 0 the loudest, 127
    /// silence), as a browser does; `None` writes none.
    pub audio_level: Option<u8>,
    /// A stored room's invite or personal link, and the device id a guest keeps.
    pub token: Option<String>,
    pub device: Option<String>,
}

impl ClientConfig {
    pub fn new(url: impl Into<String>, room: impl Into<String>, index: u32) -> Self {
        ClientConfig {
            url: url.into(),
            room: room.into(),
            name: format!("peer-{index}"),
            index,
            publish_audio: true,
            publish_video: true,
            video_codec: VideoCodec::Vp8,
            video_fps: 30,
            video_frame_bytes: 1000,
            keyframe_scale: 1,
            simulcast: false,
            layout: None,
            keyframe_interval: Duration::from_secs(10),
            udp_ip: IpAddr::from([127, 0, 0, 1]),
            accept_duplicates: false,
            vp8_only: false,
            audio_level: None,
            token: None,
            device: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("WebSocket: {0}")]
    Ws(String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("server error {code:?}: {message}")]
    Server {
        code: protocol::ErrorCode,
        message: String,
    },
    #[error("WebRTC: {0}")]
    WebRtc(String),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

pub(crate) fn rtc_err(e: impl std::fmt::Display) -> ClientError {
    ClientError::WebRtc(e.to_string())
}
