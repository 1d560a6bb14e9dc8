//! The media side of the wire: which connection a message is about, ICE candidates, and
//! tracks as their publisher describes them and as everyone else sees them.

use serde::{Deserialize, Serialize};

/// Which of a participant's two peer connections a message is about.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum PcTarget {
    /// The connection the participant sends media on (the client offers).
    Publish,
    /// The connection the participant receives media on (the server offers).
    Subscribe,
}

/// An ICE candidate exactly as a browser's `RTCIceCandidate.toJSON()` gives it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    #[serde(
        default,
        rename = "sdpMLineIndex",
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_m_line_index: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

/// Media kind of a track.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum TrackKind {
    Audio,
    Video,
}

/// What a published track carries, as its publisher declares it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "snake_case")]
pub enum TrackSource {
    #[default]
    Unknown,
    Camera,
    Microphone,
    Screen,
    ScreenAudio,
}

/// A publisher's description of one track in its offer, keyed by the track id that appears in the
/// offer's `a=msid` line (the browser's `MediaStreamTrack.id`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TrackMeta {
    pub track_id: String,
    #[serde(default)]
    pub source: TrackSource,
    #[serde(default)]
    pub muted: bool,
    /// A simulcast video's encodings, lowest first, by the RIDs of its offer (at most 4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerMeta>,
}

/// One encoding of a simulcast video, as its publisher declares it in `publish_offer`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LayerMeta {
    /// Its RID (`a=rid` of the offer, `sendEncodings[].rid`).
    pub rid: String,
    /// The picture height it is encoded at, in pixels; 0 when not known.
    #[serde(default)]
    pub height: u32,
    /// Its `maxBitrate`, in bits per second; 0 when not known.
    #[serde(default)]
    pub max_bitrate: u64,
}

/// One of a publisher's tracks, by both of its ids: `track_id`, the publisher's own (the track id
/// of its offer's `a=msid` line, which `mute`, `unpublish` and `muted_by_admin` use), and `id`,
/// the server's, which everyone else sees (in `track_published`, `track_muted`,
/// `track_unpublished`, and as the track id of the subscribe offer's `a=msid`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TrackIds {
    pub track_id: String,
    pub id: String,
}

/// A track as other participants see it. `id` is the server's id for the track; the subscribe
/// offer carries it as the track id of the `a=msid` line, with the publisher's participant id as
/// the stream id.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    pub id: String,
    pub kind: TrackKind,
    pub source: TrackSource,
    pub muted: bool,
    /// The codec's MIME type, for example `video/VP8`.
    pub codec: String,
}

/// At most this many entries in one `layout` message.
pub const LAYOUT_TRACKS_MAX: usize = 256;

/// What a subscriber shows of one remote video, in a `layout` message.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TrackView {
    /// The server's id of the track, as in `track_published`.
    pub track_id: String,
    /// On screen at all: false for a hidden tile, one scrolled out of view, a name-only tile.
    pub visible: bool,
    /// Rendered size in device pixels (CSS pixels times `devicePixelRatio`); 0 when unknown.
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
}

/// A participant as the others see it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ParticipantInfo {
    pub id: String,
    pub name: String,
    pub tracks: Vec<TrackInfo>,
}

/// How a connection looks to the people on the call.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    Good,
    /// Some loss or delay, or (a downlink) lower quality or paused videos because the link
    /// carries no more.
    Fair,
    /// Heavy loss or a long delay.
    Poor,
}

/// One participant's connections, in `connection_quality`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ParticipantQuality {
    pub participant_id: String,
    pub uplink: Quality,
    pub downlink: Quality,
}
