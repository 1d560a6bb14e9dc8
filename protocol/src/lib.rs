//! Cohort's signaling wire types, defined once and shared by the server, the load tester and the
//! tests. Every message is a JSON object with a `"type"` tag; docs/protocol.md describes each one
//! with an example.
//!
//! Parsing goes through [`parse_client_message`], which tells apart text that is not JSON, an
//! unknown message type and a known type with missing or ill-typed fields, so that each gets its
//! own error code.

use serde::{Deserialize, Serialize};

/// The protocol version a client states in `join`. Bumped on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

pub mod board;
pub mod chat;
pub mod media;
pub mod text;

pub use board::{BoardFile, BoardItem};
pub use chat::ChatMessage;
pub use media::{
    IceCandidate, LAYOUT_TRACKS_MAX, LayerMeta, ParticipantInfo, ParticipantQuality, PcTarget,
    Quality, TrackIds, TrackInfo, TrackKind, TrackMeta, TrackSource, TrackView,
};

/// Room names: 1 to 64 characters from `a-z`, `0-9`, `-` and `_`, starting with a letter or digit.
pub const ROOM_NAME_MAX: usize = 64;
/// Display names: 1 to 64 characters after trimming, no control characters.
pub const DISPLAY_NAME_MAX: usize = 64;
/// Chat messages: 1 to 2000 characters after trimming.
pub const CHAT_TEXT_MAX: usize = 2000;

/// Messages from a client to the server.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Enter a room. Must be the first message.
    Join {
        /// Protocol version, [`PROTOCOL_VERSION`].
        v: u32,
        room: String,
        name: String,
        /// An invite token; the access-control hook reads it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// The device id a page keeps (8 to 64 of `A-Z a-z 0-9 - _`): who a guest is, across
        /// visits. Ignored for a member's personal link.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
    },
    /// An offer for the publish connection. The server answers with `publish_answer`.
    PublishOffer {
        sdp: String,
        #[serde(default)]
        tracks: Vec<TrackMeta>,
    },
    /// The answer to the server's latest `subscribe_offer`.
    SubscribeAnswer { sdp: String },
    /// Restart ICE on the subscribe connection (after a network change): the server answers
    /// with a `subscribe_offer` that carries new ICE credentials. The publish connection
    /// restarts by the client's own `publish_offer` with new credentials.
    RestartIce {},
    /// A trickled ICE candidate for one of the two connections.
    Candidate {
        target: PcTarget,
        candidate: IceCandidate,
    },
    /// Mute or unmute one of the participant's published tracks, by its `a=msid` track id.
    Mute { track_id: String, muted: bool },
    /// Stop publishing one track (for example a screen share), by its `a=msid` track id.
    Unpublish { track_id: String },
    /// What this client shows of the remote videos, whenever its layout changes. A hidden one
    /// is sent nothing (it stays subscribed); a small one may get a lower quality. Tracks not
    /// named keep what was said of them last. At most [`LAYOUT_TRACKS_MAX`] entries.
    Layout { tracks: Vec<TrackView> },
    /// Say something to everyone in the room.
    Chat { text: String },
    /// Change the text of one of your own messages in a stored room.
    ChatEdit { id: String, text: String },
    /// Delete a message in a stored room: your own, or anyone's as a host.
    ChatDelete { id: String },
    /// Open a stored room's channel without media: its chat and live updates, on the room's
    /// home page or beside a call. Must be the first message; a `join` may follow on the same
    /// connection. The server answers with `opened`.
    Open {
        /// Protocol version, [`PROTOCOL_VERSION`].
        v: u32,
        room: String,
        /// The invite or personal link's token.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// As in `join`: who a guest is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
        /// The name chat messages are signed with; a member's roster name when left out. A
        /// guest without one may read but not post.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Keep-alive; the server answers `pong` with the same `ts`.
    Ping {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ts: Option<u64>,
    },
    /// Leave the room; the server closes the connection after this.
    Leave {},
}

impl ClientMessage {
    /// The `type` tags a client may send.
    pub const TYPES: &'static [&'static str] = &[
        "join",
        "publish_offer",
        "subscribe_answer",
        "restart_ice",
        "candidate",
        "mute",
        "unpublish",
        "layout",
        "chat",
        "chat_edit",
        "chat_delete",
        "open",
        "ping",
        "leave",
    ];
}

/// Why the server asks a participant to leave.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// The server is shutting down.
    ServerShutdown,
    /// An administrator removed the participant.
    Removed,
    /// The room was closed.
    RoomClosed,
    /// The same participant joined again from elsewhere.
    Replaced,
}

/// Error codes of `{"type":"error"}` replies.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The text was not JSON.
    InvalidJson,
    /// The `type` is not one the server knows.
    UnknownType,
    /// Fields are missing, unknown or of the wrong type.
    InvalidMessage,
    /// The message is not valid in this state (for example an offer before `join`).
    OutOfOrder,
    /// The protocol version is not supported.
    UnsupportedVersion,
    /// The room name breaks the naming rules.
    InvalidRoom,
    /// The display name breaks the naming rules.
    InvalidName,
    /// Access to the room was refused.
    Forbidden,
    /// No room of this name exists on the server.
    NoSuchRoom,
    /// No such message (or other item) in this room.
    NotFound,
    /// A room channel's action needs what this connection lacks: a stored room, or a name.
    NotAllowed,
    /// The room needs an invite token and the join carried none.
    InviteRequired,
    /// The invite token is not valid for this room (altered, revoked, another room's, unsigned).
    InviteInvalid,
    /// The invite token has expired.
    InviteExpired,
    /// The room is outside its meeting window; `opens_at` says when it opens.
    RoomClosed,
    /// The room has reached its participant limit.
    RoomFull,
    /// The server has reached its room limit.
    TooManyRooms,
    /// The participant has reached its published-track limit.
    TooManyTracks,
    /// The SDP could not be parsed or applied.
    InvalidSdp,
    /// The SDP offers no codec the server can forward.
    NoUsableCodec,
    /// A candidate names no transceiver of the connection, or could not be applied.
    InvalidCandidate,
    /// Too many messages; slow down.
    RateLimited,
    /// The server is draining and takes no new joins.
    Draining,
    /// Something failed on the server's side.
    Internal,
}

/// Messages from the server to a client.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The reply to `join`: who you are, and who is already there with what.
    Joined {
        v: u32,
        room: String,
        participant_id: String,
        /// Who this is in the room, the same everywhere: `member:<id>` or `guest:<device id>`.
        #[serde(default)]
        identity: String,
        participants: Vec<ParticipantInfo>,
        /// The room's recent chat, oldest first.
        #[serde(default)]
        chat: Vec<ChatMessage>,
        /// A stored room's id, for its HTTP routes (chat history, search, export).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room_id: Option<String>,
        /// Whether this is a host, who may delete anyone's message.
        #[serde(default)]
        host: bool,
        /// Older messages than `chat` exist (a stored room's, paged over HTTP).
        #[serde(default)]
        more_chat: bool,
        /// Send cameras as simulcast (see `publish_offer`).
        #[serde(default)]
        simulcast: bool,
    },
    /// The reply to `open`: who you are in the room, and its latest chat.
    Opened {
        v: u32,
        room: String,
        room_id: String,
        identity: String,
        host: bool,
        /// The name this connection's messages are signed with, if it may post.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The latest messages, oldest first.
        chat: Vec<ChatMessage>,
        /// Older messages exist: page back through `GET /api/v1/rooms/{room_id}/chat?before=`.
        more_chat: bool,
    },
    ParticipantJoined {
        participant: ParticipantInfo,
    },
    ParticipantLeft {
        participant_id: String,
    },
    TrackPublished {
        participant_id: String,
        track: TrackInfo,
    },
    TrackUnpublished {
        participant_id: String,
        track_id: String,
    },
    TrackMuted {
        participant_id: String,
        track_id: String,
        muted: bool,
    },
    /// Who is speaking now, loudest first, as the server hears them (from the audio levels
    /// publishers send, RFC 6464). Sent when the set changes; empty when nobody speaks.
    ActiveSpeakers {
        participant_ids: Vec<String>,
    },
    /// How each participant's connection looks: `uplink` is what they send, so what everyone
    /// sees and hears of them; `downlink` is what they are sent. Everyone is good until told
    /// otherwise: sent to everyone whenever a grade changes (looked at once a second), and to
    /// a newcomer when any grade is not good.
    ConnectionQuality {
        participants: Vec<ParticipantQuality>,
    },
    /// An admin muted one of your tracks; `track_id` is your own id for it (its `a=msid` track
    /// id). Turn it off on your side; you may turn it on again.
    MutedByAdmin {
        track_id: String,
    },
    /// Dynacast: encode only the layers of this simulcast track marked active (nobody receives
    /// the others); `track_id` is your own id for it, `active` is by layer, lowest first, as
    /// declared in `publish_offer`. Sent again whenever it changes.
    SetEncodings {
        track_id: String,
        active: Vec<bool>,
    },
    /// The answer to `publish_offer`, with the server's id for each track the offer sends
    /// that has an `a=msid` track id.
    PublishAnswer {
        sdp: String,
        #[serde(default)]
        tracks: Vec<TrackIds>,
    },
    /// A new offer for the subscribe connection; answer with `subscribe_answer`.
    SubscribeOffer {
        sdp: String,
    },
    Candidate {
        target: PcTarget,
        candidate: IceCandidate,
    },
    Pong {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ts: Option<u64>,
    },
    /// A chat message, sent to everyone including its sender.
    Chat {
        #[serde(flatten)]
        message: ChatMessage,
    },
    /// A kept message was edited or deleted: replace the one with this `id`.
    ChatUpdated {
        #[serde(flatten)]
        message: ChatMessage,
    },
    /// A board item was shared, or changed (pinned, moved, edited): add it, or replace the one
    /// with this `id`.
    BoardItem {
        item: Box<BoardItem>,
    },
    /// A board item was deleted.
    BoardRemoved {
        id: String,
    },
    /// The server asks the client to leave; the connection closes after this.
    Leave {
        reason: LeaveReason,
    },
    Error {
        code: ErrorCode,
        message: String,
        /// With `room_closed`: when the room opens (RFC 3339), so the client can wait for it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        opens_at: Option<String>,
    },
}

impl ServerMessage {
    /// Shorthand for an error reply.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMessage::Error {
            code,
            message: message.into(),
            opens_at: None,
        }
    }
}

/// Why a client's text could not be read as a [`ClientMessage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub code: ErrorCode,
    pub message: String,
}

/// Reads one client message, classifying what is wrong with bad input.
pub fn parse_client_message(text: &str) -> Result<ClientMessage, ParseError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ParseError {
        code: ErrorCode::InvalidJson,
        message: format!("not JSON: {e}"),
    })?;
    let Some(ty) = value.get("type").and_then(|t| t.as_str()) else {
        return Err(ParseError {
            code: ErrorCode::InvalidMessage,
            message: "a message is a JSON object with a string field \"type\"".into(),
        });
    };
    let Some(ty) = ClientMessage::TYPES.iter().find(|known| **known == ty) else {
        let shown: String = ty.chars().take(40).collect();
        return Err(ParseError {
            code: ErrorCode::UnknownType,
            message: format!("unknown message type {shown:?}"),
        });
    };
    serde_json::from_value(value).map_err(|e| ParseError {
        code: ErrorCode::InvalidMessage,
        message: format!("invalid {ty} message: {e}"),
    })
}

/// Checks a room name against the documented rules.
pub fn validate_room_name(room: &str) -> Result<(), String> {
    if room.is_empty() || room.len() > ROOM_NAME_MAX {
        return Err(format!("a room name has 1 to {ROOM_NAME_MAX} characters"));
    }
    let mut chars = room.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = room
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !first_ok || !rest_ok {
        return Err(
            "a room name uses a-z, 0-9, '-' and '_', and starts with a letter or digit".into(),
        );
    }
    Ok(())
}

/// Checks and normalises a display name by the rules for names ([`text`]): 1 to 64 characters.
pub fn normalize_display_name(name: &str) -> Result<String, String> {
    text::normalize_name(name, DISPLAY_NAME_MAX, "a display name")
}

/// Checks and normalises a chat message by the rules for messages ([`text`]): 1 to 2000
/// characters.
pub fn normalize_chat_text(text: &str) -> Result<String, String> {
    text::normalize_message(text, CHAT_TEXT_MAX, "a chat message")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_round_trips() {
        let text = r#"{"type":"join","v":1,"room":"maths-101","name":"Ada"}"#;
        let msg = parse_client_message(text).unwrap();
        assert_eq!(
            msg,
            ClientMessage::Join {
                v: 1,
                room: "maths-101".into(),
                name: "Ada".into(),
                token: None,
                device: None
            }
        );
        let back = serde_json::to_string(&msg).unwrap();
        assert_eq!(parse_client_message(&back).unwrap(), msg);
    }

    #[test]
    fn bad_input_is_classified() {
        assert_eq!(
            parse_client_message("hello").unwrap_err().code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            parse_client_message(r#"{"type":"dance"}"#)
                .unwrap_err()
                .code,
            ErrorCode::UnknownType
        );
        assert_eq!(
            parse_client_message(r#"{"type":"join","v":"one","room":"a","name":"b"}"#)
                .unwrap_err()
                .code,
            ErrorCode::InvalidMessage
        );
        assert_eq!(
            parse_client_message(r#"{"type":"join","v":1,"room":"a"}"#)
                .unwrap_err()
                .code,
            ErrorCode::InvalidMessage
        );
        assert_eq!(
            parse_client_message(r#"{"type":"leave","extra":1}"#)
                .unwrap_err()
                .code,
            ErrorCode::InvalidMessage
        );
        assert_eq!(
            parse_client_message(r#"{"type":"join","v":1,"room":"a","name":"b","x":2}"#)
                .unwrap_err()
                .code,
            ErrorCode::InvalidMessage
        );
        assert_eq!(
            parse_client_message(r#"{"type":"leave"}"#).unwrap(),
            ClientMessage::Leave {}
        );
        assert_eq!(
            parse_client_message(r#"[1,2]"#).unwrap_err().code,
            ErrorCode::InvalidMessage
        );
    }

    #[test]
    fn browser_candidate_json_is_accepted() {
        let text = r#"{"type":"candidate","target":"publish","candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}"#;
        let ClientMessage::Candidate { target, candidate } = parse_client_message(text).unwrap()
        else {
            panic!("not a candidate");
        };
        assert_eq!(target, PcTarget::Publish);
        assert_eq!(candidate.sdp_m_line_index, Some(0));
        assert_eq!(candidate.sdp_mid.as_deref(), Some("0"));
    }

    #[test]
    fn server_messages_have_snake_case_tags() {
        let msg = ServerMessage::error(ErrorCode::RoomFull, "full");
        assert_eq!(
            serde_json::to_string(&msg).unwrap(),
            r#"{"type":"error","code":"room_full","message":"full"}"#
        );
    }

    #[test]
    fn chat_round_trips_flat() {
        let msg = ServerMessage::Chat {
            message: ChatMessage {
                id: "m1".into(),
                participant_id: "p1".into(),
                name: "Ada".into(),
                text: "<b>hi</b>".into(),
                sent_at_ms: 5,
                ..ChatMessage::default()
            },
        };
        let text = serde_json::to_string(&msg).unwrap();
        assert_eq!(
            text,
            r#"{"type":"chat","id":"m1","participant_id":"p1","name":"Ada","text":"<b>hi</b>","sent_at_ms":5}"#
        );
        assert_eq!(serde_json::from_str::<ServerMessage>(&text).unwrap(), msg);
        assert!(normalize_chat_text("  ").is_err());
        assert!(normalize_chat_text(&"x".repeat(2001)).is_err());
        assert_eq!(normalize_chat_text(" hi ").unwrap(), "hi");
    }

    #[test]
    fn room_names_follow_the_rules() {
        assert!(validate_room_name("maths-101").is_ok());
        assert!(validate_room_name("a").is_ok());
        assert!(validate_room_name("").is_err());
        assert!(validate_room_name("-lead").is_err());
        assert!(validate_room_name("Upper").is_err());
        assert!(validate_room_name("sp ace").is_err());
        assert!(validate_room_name(&"a".repeat(65)).is_err());
        assert!(validate_room_name(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn display_names_are_trimmed_and_checked() {
        assert_eq!(normalize_display_name("  Ada ").unwrap(), "Ada");
        assert!(normalize_display_name("   ").is_err());
        assert!(normalize_display_name("a\u{7}b").is_err());
        assert_eq!(
            normalize_display_name("<img src=x onerror=alert(1)>").unwrap(),
            "<img src=x onerror=alert(1)>"
        );
        assert!(normalize_display_name(&"é".repeat(65)).is_err());
    }
}
