//! What a room is told by signaling (through its engine's command queue), and what it answers
//! to a join.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use protocol::{
    ChatMessage, IceCandidate, LeaveReason, ParticipantInfo, PcTarget, ServerMessage, TrackMeta,
    TrackView,
};
use sfu_core::ParticipantId;
use tokio::sync::{mpsc, oneshot};

use crate::RoomSnapshot;
use crate::error::Result;
use crate::links::ParticipantLinks;

/// Messages a room receives.
pub(crate) enum RoomMsg {
    Join {
        name: String,
        /// The room's own participant limit, below the server's.
        capacity: Option<usize>,
        /// When the join was asked for.
        requested_at: std::time::Instant,
        events: mpsc::Sender<ServerMessage>,
        links: Arc<ParticipantLinks>,
        /// Set when the session is dropped and its leave could not be queued.
        gone: Arc<AtomicBool>,
        reply: oneshot::Sender<Result<JoinOk>>,
    },
    Leave {
        participant: ParticipantId,
    },
    PublishOffer {
        participant: ParticipantId,
        sdp: String,
        tracks: Vec<TrackMeta>,
        reply: oneshot::Sender<Result<()>>,
    },
    SubscribeAnswer {
        participant: ParticipantId,
        sdp: String,
        reply: oneshot::Sender<Result<()>>,
    },
    RestartIce {
        participant: ParticipantId,
        reply: oneshot::Sender<Result<()>>,
    },
    Candidate {
        participant: ParticipantId,
        target: PcTarget,
        candidate: IceCandidate,
        reply: oneshot::Sender<Result<()>>,
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
    Layout {
        participant: ParticipantId,
        views: Vec<TrackView>,
    },
    Chat {
        participant: ParticipantId,
        text: String,
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
