//! What a room task is told, and what it answers to a join.

use std::sync::Arc;

use bytes::Bytes;
use protocol::{ChatMessage, LeaveReason, ParticipantInfo, ServerMessage, TrackKind, TrackMeta};
use sfu_core::{ParticipantId, RtpMeta, TrackId};
use tokio::sync::{mpsc, oneshot};

use crate::RoomSnapshot;
use crate::egress::Egress;
use crate::error::Result;
use crate::links::ParticipantLinks;
use crate::media::CodecSpec;
use crate::participant::PeerCmd;

/// Messages a room task receives.
pub(crate) enum RoomMsg {
    Join {
        name: String,
        /// The room's own participant limit, below the server's.
        capacity: Option<usize>,
        /// When the join was asked for.
        requested_at: std::time::Instant,
        events: mpsc::Sender<ServerMessage>,
        peer: mpsc::Sender<PeerCmd>,
        links: Arc<ParticipantLinks>,
        reply: oneshot::Sender<Result<JoinOk>>,
    },
    Leave {
        participant: ParticipantId,
    },
    TrackMeta {
        participant: ParticipantId,
        tracks: Vec<TrackMeta>,
    },
    TrackOpened {
        publisher: ParticipantId,
        track: TrackId,
        msid: String,
        codec: CodecSpec,
        keyframes: mpsc::Sender<()>,
    },
    TrackEnded {
        track: TrackId,
    },
    Rtp {
        track: TrackId,
        /// Known to the ingress task, so the room counts the packet without a lookup.
        kind: TrackKind,
        meta: RtpMeta,
        payload: Bytes,
    },
    Mute {
        participant: ParticipantId,
        msid: String,
        muted: bool,
    },
    /// An admin mutes a track (by its wire id); replies whether the room has it.
    AdminMute {
        track: String,
        reply: oneshot::Sender<bool>,
    },
    Unpublish {
        participant: ParticipantId,
        msid: String,
    },
    Chat {
        participant: ParticipantId,
        text: String,
    },
    SubscriptionReady {
        subscriber: ParticipantId,
        track: TrackId,
        ssrc: u32,
        egress: Arc<Egress>,
    },
    KeyframeRequest {
        subscriber: ParticipantId,
        track: TrackId,
    },
    Nack {
        subscriber: ParticipantId,
        track: TrackId,
        pairs: Vec<(u16, u16)>,
    },
    Close {
        reason: LeaveReason,
    },
    /// Removes one participant (by its wire id), telling it `removed`; replies whether it was
    /// there.
    Remove {
        participant: String,
        reply: oneshot::Sender<bool>,
    },
    Snapshot {
        reply: oneshot::Sender<RoomSnapshot>,
    },
}

/// The room's reply to a join.
pub(crate) struct JoinOk {
    pub(crate) participant: ParticipantId,
    pub(crate) wire_id: String,
    pub(crate) others: Vec<ParticipantInfo>,
    pub(crate) chat: Vec<ChatMessage>,
}
