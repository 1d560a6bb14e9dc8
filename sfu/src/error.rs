//! The sfu crate's one error type.

use protocol::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum SfuError {
    #[error("the room is full ({0} participants)")]
    RoomFull(usize),
    #[error("the server hosts its maximum of {0} rooms")]
    TooManyRooms(usize),
    #[error("a participant publishes at most {0} tracks")]
    TooManyTracks(usize),
    #[error("the server is draining and takes no new joins")]
    Draining,
    #[error("the media engine could not bind: {0}")]
    Bind(String),
    #[error("invalid SDP: {0}")]
    InvalidSdp(String),
    #[error("the SDP offers no codec this server forwards (Opus, VP8, H264)")]
    NoUsableCodec,
    #[error("invalid ICE candidate: {0}")]
    InvalidCandidate(String),
    #[error("{0}")]
    OutOfOrder(&'static str),
    #[error("WebRTC error: {0}")]
    WebRtc(String),
    #[error("the participant has left")]
    Closed,
}

impl SfuError {
    /// The protocol error code a client sees for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            SfuError::RoomFull(_) => ErrorCode::RoomFull,
            SfuError::TooManyRooms(_) => ErrorCode::TooManyRooms,
            SfuError::TooManyTracks(_) => ErrorCode::TooManyTracks,
            SfuError::Draining => ErrorCode::Draining,
            SfuError::InvalidSdp(_) => ErrorCode::InvalidSdp,
            SfuError::NoUsableCodec => ErrorCode::NoUsableCodec,
            SfuError::InvalidCandidate(_) => ErrorCode::InvalidCandidate,
            SfuError::OutOfOrder(_) => ErrorCode::OutOfOrder,
            SfuError::Bind(_) | SfuError::WebRtc(_) | SfuError::Closed => ErrorCode::Internal,
        }
    }
}

pub type Result<T, E = SfuError> = std::result::Result<T, E>;
