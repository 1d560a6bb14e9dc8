//! A participant's side of the media server: its [`Session`] and the [`SessionHandle`] that
//! signaling sends its commands through, each a message to the room's engine thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use protocol::{
    ChatMessage, IceCandidate, ParticipantInfo, PcTarget, ServerMessage, TrackMeta, TrackView,
};
use sfu_core::ParticipantId;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Result, SfuError};
use crate::room::RoomMsg;
use crate::{RoomRef, links};

/// A participant's place in a room, as its signaling connection holds it.
pub struct Session {
    pub participant_id: String,
    pub room: String,
    /// Who was there at the moment of joining, with their tracks.
    pub others: Vec<ParticipantInfo>,
    /// The room's recent chat.
    pub chat: Vec<ChatMessage>,
    /// Everything the server has to tell this client.
    pub events: mpsc::Receiver<ServerMessage>,
    pub handle: SessionHandle,
}

/// Ends the participant when the last [`SessionHandle`] clone goes.
pub(crate) struct Alive {
    pub(crate) room: RoomRef,
    pub(crate) participant: ParticipantId,
    pub(crate) gone: Arc<AtomicBool>,
}

impl Drop for Alive {
    fn drop(&mut self) {
        let leave = self.room.cmd(RoomMsg::Leave {
            participant: self.participant,
        });
        if !self.room.engine.try_send(leave) {
            // The room's next tick finds it.
            self.gone.store(true, Ordering::Relaxed);
        }
    }
}

/// The commands half of a [`Session`]. Dropping the last clone ends the participant.
#[derive(Clone)]
pub struct SessionHandle {
    pub(crate) id: ParticipantId,
    pub(crate) room: RoomRef,
    pub(crate) links: Arc<links::ParticipantLinks>,
    pub(crate) _alive: Arc<Alive>,
}

impl SessionHandle {
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> RoomMsg) -> Result<T> {
        self.room.ask(make).await.ok_or(SfuError::Closed)?
    }

    async fn tell_room(&self, msg: RoomMsg) -> Result<()> {
        if self.room.send(msg).await {
            Ok(())
        } else {
            Err(SfuError::Closed)
        }
    }

    /// Applies the client's publish offer; the answer arrives as a `publish_answer` event.
    pub async fn publish_offer(&self, sdp: String, tracks: Vec<TrackMeta>) -> Result<()> {
        let participant = self.id;
        self.ask(|reply| RoomMsg::PublishOffer {
            participant,
            sdp,
            tracks,
            reply,
        })
        .await
    }

    pub async fn subscribe_answer(&self, sdp: String) -> Result<()> {
        let participant = self.id;
        self.ask(|reply| RoomMsg::SubscribeAnswer {
            participant,
            sdp,
            reply,
        })
        .await
    }

    /// Restarts ICE on the subscribe connection: the next `subscribe_offer` carries new
    /// credentials.
    pub async fn restart_ice(&self) -> Result<()> {
        let participant = self.id;
        self.ask(|reply| RoomMsg::RestartIce { participant, reply })
            .await
    }

    pub async fn candidate(&self, target: PcTarget, candidate: IceCandidate) -> Result<()> {
        let participant = self.id;
        self.ask(|reply| RoomMsg::Candidate {
            participant,
            target,
            candidate,
            reply,
        })
        .await
    }

    /// Mutes or unmutes one of this participant's tracks, by its `a=msid` track id.
    pub async fn mute(&self, msid: String, muted: bool) -> Result<()> {
        let participant = self.id;
        self.tell_room(RoomMsg::Mute {
            participant,
            msid,
            muted,
        })
        .await
    }

    /// Stops publishing one of this participant's tracks, by its `a=msid` track id.
    pub async fn unpublish(&self, msid: String) -> Result<()> {
        let participant = self.id;
        self.tell_room(RoomMsg::Unpublish { participant, msid })
            .await
    }

    /// What this participant shows of its remote videos (by the server's track ids).
    pub async fn layout(&self, views: Vec<TrackView>) -> Result<()> {
        let participant = self.id;
        self.tell_room(RoomMsg::Layout { participant, views }).await
    }

    /// Sends a chat message (already checked) to the room.
    pub async fn chat(&self, text: String) -> Result<()> {
        let participant = self.id;
        self.tell_room(RoomMsg::Chat { participant, text }).await
    }

    /// This participant's talk time in the room so far, by the server's speaker detection.
    pub fn talk_time(&self) -> std::time::Duration {
        self.links.talk_time()
    }

    /// Leaves the room now.
    pub async fn leave(&self) {
        let participant = self.id;
        let _ = self.tell_room(RoomMsg::Leave { participant }).await;
    }
}
