//! A room: the sole owner of its `sfu_core::Room` and of its members' state, living on one
//! engine thread. Its members' peer connections are the engine's ([`Conns`]); the room reaches
//! them by id, so forwarding a packet is a function call on the same thread.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use bytes::Bytes;
use protocol::{
    ChatMessage, LeaveReason, ParticipantInfo, ServerMessage, TrackInfo, TrackMeta, TrackSource,
};
use sfu_core::grade::Told;
use sfu_core::{Codec, Input, ParticipantId, TrackId};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::Registry;
use crate::engine::conns::Conns;
use crate::engine::demux::ConnId;
use crate::error::{Result, SfuError};
use crate::links::ParticipantLinks;
use crate::media::CodecSpec;
use crate::meters::RoomMeters;

mod health;
mod msg;
mod outputs;
mod peer;
mod views;
pub(crate) use health::TICK;
pub(crate) use msg::{JoinOk, RoomMsg};

struct Member {
    wire_id: String,
    name: String,
    events: mpsc::Sender<ServerMessage>,
    /// Declared by the publisher for tracks not yet open, by `a=msid` track id.
    meta: HashMap<String, TrackMeta>,
    /// The server's id for each track the publisher's offers sent, by `a=msid` track id: told
    /// to the publisher in `publish_answer`, and the id others see once the track opens.
    ids: HashMap<String, String>,
    links: Arc<ParticipantLinks>,
    gone: Arc<AtomicBool>,
    publish: Option<ConnId>,
    subscribe: Option<ConnId>,
    offers: peer::Offers,
}

struct Published {
    publisher: ParticipantId,
    published_at: Instant,
    msid: String,
    info: TrackInfo,
    codec: CodecSpec,
}

pub(crate) struct Room {
    name: String,
    /// The room's generation: its key on its engine, and in its members' connections' owners.
    key: u64,
    core: sfu_core::Room<Bytes>,
    members: HashMap<ParticipantId, Member>,
    tracks: HashMap<TrackId, Published>,
    /// Subscriptions whose subscriber accepted a codec: (subscriber, track).
    ready: HashSet<(ParticipantId, TrackId)>,
    registry: Arc<Registry>,
    meters: Arc<RoomMeters>,
    /// Members still waiting for their first media packet: when they asked to join, and when a
    /// track first became available to them.
    awaiting_media: HashMap<ParticipantId, (Instant, Option<Instant>)>,
    /// The same for their first video packet: the picture, which waits for a keyframe.
    awaiting_video: HashMap<ParticipantId, (Instant, Option<Instant>)>,
    /// Recent chat, oldest first, handed to whoever joins.
    chat: VecDeque<ChatMessage>,
    /// RTCP (lost, expected) totals at the last few ticks, oldest first.
    loss_window: VecDeque<(u64, u64)>,
    /// Each member's connection grades (uplink, downlink) as last told to the room.
    grades: HashMap<ParticipantId, (Told, Told)>,
    /// Members whose subscribe side changed since its last offer.
    unsettled: Vec<ParticipantId>,
    /// Members whose event queue was found full, to be removed.
    stuck: Vec<ParticipantId>,
    /// Entered whenever the room works, so that what it logs names it.
    span: tracing::Span,
}

/// Chat messages a room keeps for later joiners.
const CHAT_HISTORY: usize = 100;

impl Room {
    pub(crate) fn new(
        name: String,
        key: u64,
        registry: Arc<Registry>,
        meters: Arc<RoomMeters>,
    ) -> Room {
        let span = tracing::info_span!("room", room = %name);
        span.in_scope(|| info!("room opened"));
        registry.rooms_open_delta(1);
        Room {
            span,
            core: sfu_core::Room::new(registry.config.room.clone()),
            name,
            key,
            members: HashMap::new(),
            tracks: HashMap::new(),
            ready: HashSet::new(),
            registry,
            meters,
            awaiting_media: HashMap::new(),
            awaiting_video: HashMap::new(),
            chat: VecDeque::new(),
            loss_window: VecDeque::new(),
            grades: HashMap::new(),
            unsettled: Vec::new(),
            stuck: Vec::new(),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Whether the room has no one and nothing left; it is then closed.
    pub(crate) fn is_done(&self) -> bool {
        self.members.is_empty() && self.tracks.is_empty()
    }

    /// When the core next wants [`Room::timeout`].
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }

    pub(crate) fn timeout(&mut self, conns: &mut Conns) {
        let _entered = self.span.clone().entered();
        self.core.handle_input(now(), Input::Timeout);
        self.settle(conns);
    }

    /// Ends the room: every connection closed, the node's counters put back.
    pub(crate) fn close(mut self, conns: &mut Conns) {
        let ids: Vec<ParticipantId> = self.members.keys().copied().collect();
        for id in ids {
            self.leave(id, conns);
        }
        self.publish_core_drops();
        self.registry.rooms_open_delta(-1);
        info!("room closed");
    }

    pub(crate) fn handle(&mut self, msg: RoomMsg, conns: &mut Conns) {
        let _entered = self.span.clone().entered();
        match msg {
            RoomMsg::Join {
                name,
                capacity,
                requested_at,
                events,
                links,
                gone,
                reply,
            } => {
                let member = Member {
                    wire_id: crate::wire_id(),
                    name,
                    events,
                    meta: HashMap::new(),
                    ids: HashMap::new(),
                    links,
                    gone,
                    publish: None,
                    subscribe: None,
                    offers: peer::Offers::default(),
                };
                let _ = reply.send(self.join(member, capacity, requested_at));
            }
            RoomMsg::Leave { participant } => self.leave(participant, conns),
            RoomMsg::PublishOffer {
                participant,
                sdp,
                tracks,
                reply,
            } => {
                let r = self.publish_offer(participant, &sdp, tracks, conns);
                let _ = reply.send(r);
            }
            RoomMsg::SubscribeAnswer {
                participant,
                sdp,
                reply,
            } => {
                let r = self.subscribe_answer(participant, &sdp, conns);
                let _ = reply.send(r);
            }
            RoomMsg::RestartIce { participant, reply } => {
                let r = self.restart_ice(participant, conns);
                let _ = reply.send(r);
            }
            RoomMsg::Candidate {
                participant,
                target,
                candidate,
                reply,
            } => {
                let r = self.candidate(participant, target, &candidate, conns);
                let _ = reply.send(r);
            }
            RoomMsg::Mute {
                participant,
                msid,
                muted,
            } => self.mute(participant, msid, muted, false),
            RoomMsg::AdminMute { track, reply } => {
                let found = self
                    .tracks
                    .values()
                    .find(|t| t.info.id == track)
                    .map(|t| (t.publisher, t.msid.clone()));
                if let Some((publisher, msid)) = &found {
                    info!(%track, "track muted by an admin");
                    self.mute(*publisher, msid.clone(), true, true);
                }
                let _ = reply.send(found.is_some());
            }
            RoomMsg::Layout { participant, views } => self.layout(participant, &views),
            RoomMsg::Unpublish { participant, msid } => {
                let found = self
                    .tracks
                    .iter()
                    .find(|(_, t)| t.publisher == participant && t.msid == msid)
                    .map(|(id, _)| *id);
                if let Some(id) = found {
                    self.track_ended(id, conns);
                }
            }
            RoomMsg::Chat { participant, text } => self.chat(participant, text),
            RoomMsg::Close { reason } => {
                let ids: Vec<ParticipantId> = self.members.keys().copied().collect();
                for id in ids {
                    self.kick(id, reason, conns);
                }
            }
            RoomMsg::Snapshot { reply } => {
                let _ = reply.send(self.snapshot());
            }
            RoomMsg::Remove { participant, reply } => {
                let found = self
                    .members
                    .iter()
                    .find(|(_, m)| m.wire_id == participant)
                    .map(|(id, _)| *id);
                if let Some(id) = found {
                    info!(%participant, "removed by an admin");
                    self.kick(id, LeaveReason::Removed, conns);
                }
                let _ = reply.send(found.is_some());
            }
        }
        self.settle(conns);
    }

    /// Forwards what the core decided, then sends the subscribe offers that became due.
    fn settle(&mut self, conns: &mut Conns) {
        self.drain_outputs(conns);
        while let Some(id) = self.stuck.pop() {
            self.leave(id, conns);
            self.drain_outputs(conns);
        }
        self.send_offers(conns);
    }

    fn join(
        &mut self,
        member: Member,
        capacity: Option<usize>,
        requested_at: Instant,
    ) -> Result<JoinOk> {
        let server_max = self.registry.config.max_participants_per_room;
        let max = capacity.map_or(server_max, |c| c.min(server_max));
        self.meters
            .capacity
            .store(max as u64, std::sync::atomic::Ordering::Relaxed);
        if self.members.len() >= max {
            return Err(SfuError::RoomFull(max));
        }
        let participant = crate::next_participant_id();
        let wire_id = member.wire_id.clone();
        let others: Vec<ParticipantInfo> = self
            .members
            .keys()
            .map(|id| self.participant_info(*id))
            .collect();
        let info = ParticipantInfo {
            id: wire_id.clone(),
            name: member.name.clone(),
            tracks: vec![],
        };
        self.broadcast(None, ServerMessage::ParticipantJoined { participant: info });
        self.members.insert(participant, member);
        self.registry.participants_delta(&self.meters, 1);
        self.awaiting_media
            .insert(participant, (requested_at, None));
        self.awaiting_video
            .insert(participant, (requested_at, None));
        self.core.handle_input(now(), Input::Join(participant));
        self.tell_speakers(participant);
        debug!(participant = %wire_id, "joined");
        Ok(JoinOk {
            participant,
            wire_id,
            others,
            chat: self.chat.iter().cloned().collect(),
        })
    }

    /// Relays a chat message to everyone, its sender included, and keeps it for later joiners.
    fn chat(&mut self, participant: ParticipantId, text: String) {
        let Some(m) = self.members.get(&participant) else {
            return;
        };
        let message = ChatMessage {
            id: crate::wire_id(),
            participant_id: m.wire_id.clone(),
            name: m.name.clone(),
            text,
            sent_at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            ..ChatMessage::default()
        };
        if self.chat.len() >= CHAT_HISTORY {
            self.chat.pop_front();
        }
        self.chat.push_back(message.clone());
        self.broadcast(None, ServerMessage::Chat { message });
    }

    fn participant_info(&self, id: ParticipantId) -> ParticipantInfo {
        let m = &self.members[&id];
        let mut tracks: Vec<(TrackId, TrackInfo)> = self
            .tracks
            .iter()
            .filter(|(_, t)| t.publisher == id)
            .map(|(tid, t)| (*tid, t.info.clone()))
            .collect();
        tracks.sort_by_key(|(tid, _)| *tid);
        ParticipantInfo {
            id: m.wire_id.clone(),
            name: m.name.clone(),
            tracks: tracks.into_iter().map(|(_, t)| t).collect(),
        }
    }

    fn leave(&mut self, id: ParticipantId, conns: &mut Conns) {
        if !self.members.contains_key(&id) {
            return;
        }
        // The leaver's tracks end first, while it is still a member, so that everyone is told
        // `track_unpublished` for each whether its media stopped before or after the leave.
        let owned: Vec<TrackId> = self
            .tracks
            .iter()
            .filter(|(_, t)| t.publisher == id)
            .map(|(tid, _)| *tid)
            .collect();
        for t in owned {
            self.track_ended(t, conns);
        }
        let Some(member) = self.members.remove(&id) else {
            return;
        };
        self.registry.participants_delta(&self.meters, -1);
        self.awaiting_media.remove(&id);
        self.awaiting_video.remove(&id);
        self.core.handle_input(now(), Input::Leave(id));
        self.ready.retain(|(sub, _)| *sub != id);
        self.count_subscriptions();
        for conn in member.conns() {
            conns.close(conn);
        }
        self.unsettled.retain(|p| *p != id);
        self.broadcast(
            None,
            ServerMessage::ParticipantLeft {
                participant_id: member.wire_id.clone(),
            },
        );
        debug!(participant = %member.wire_id, "left");
    }

    /// Removes a member on the server's initiative, telling it why.
    fn kick(&mut self, id: ParticipantId, reason: LeaveReason, conns: &mut Conns) {
        if let Some(m) = self.members.get(&id) {
            let _ = m.events.try_send(ServerMessage::Leave { reason });
        }
        self.leave(id, conns);
    }

    fn track_opened(
        &mut self,
        publisher: ParticipantId,
        track: TrackId,
        msid: String,
        codec: CodecSpec,
        rids: Vec<String>,
    ) {
        let Some(member) = self.members.get(&publisher) else {
            return;
        };
        let max = self.registry.config.max_tracks_per_participant;
        let count = self
            .tracks
            .values()
            .filter(|t| t.publisher == publisher)
            .count();
        if count >= max {
            let err = SfuError::TooManyTracks(max);
            let _ = member
                .events
                .try_send(ServerMessage::error(err.code(), err.to_string()));
            return;
        }
        let meta = member.meta.get(&msid).cloned();
        let kind = codec.kind();
        let info = TrackInfo {
            id: member
                .ids
                .get(&msid)
                .cloned()
                .unwrap_or_else(crate::wire_id),
            kind,
            source: meta.as_ref().map(|m| m.source).unwrap_or_default(),
            muted: meta.as_ref().is_some_and(|m| m.muted),
            codec: codec.mime_type.clone(),
        };
        let participant_id = member.wire_id.clone();
        let core_codec = Codec::from_mime(&codec.mime_type, codec.clock_rate);
        self.tracks.insert(
            track,
            Published {
                publisher,
                published_at: now(),
                msid,
                info: info.clone(),
                codec,
            },
        );
        self.registry.tracks_delta(&self.meters, kind, 1);
        self.core.handle_input(
            now(),
            Input::Publish {
                publisher,
                track,
                codec: core_codec,
                source: match info.source {
                    TrackSource::Screen => sfu_core::Source::Screen,
                    TrackSource::Microphone | TrackSource::ScreenAudio => {
                        sfu_core::Source::Microphone
                    }
                    TrackSource::Camera | TrackSource::Unknown => sfu_core::Source::Camera,
                },
                // A simulcast track's layers in the connection's order, with what the
                // publisher declared of each.
                layers: rids
                    .iter()
                    .map(|rid| {
                        let declared = meta.iter().flat_map(|m| &m.layers).find(|l| &l.rid == rid);
                        declared.map_or_else(sfu_core::LayerSpec::default, |l| {
                            sfu_core::LayerSpec {
                                height: l.height,
                                bitrate: l.max_bitrate,
                            }
                        })
                    })
                    .collect(),
            },
        );
        if info.muted {
            self.core
                .handle_input(now(), Input::SetMuted { track, muted: true });
        }
        self.broadcast(
            Some(publisher),
            ServerMessage::TrackPublished {
                participant_id,
                track: info,
            },
        );
    }

    fn track_ended(&mut self, track: TrackId, conns: &mut Conns) {
        let Some(t) = self.tracks.remove(&track) else {
            return;
        };
        self.registry.tracks_delta(&self.meters, t.info.kind, -1);
        if let Some(m) = self.members.get_mut(&t.publisher) {
            // A track published again under the same msid is a new track to the others.
            m.ids.remove(&t.msid);
        }
        self.core.handle_input(now(), Input::Unpublish(track));
        self.drain_outputs(conns);
        self.ready.retain(|(_, tid)| *tid != track);
        self.count_subscriptions();
        if let Some(m) = self.members.get(&t.publisher) {
            let msg = ServerMessage::TrackUnpublished {
                participant_id: m.wire_id.clone(),
                track_id: t.info.id.clone(),
            };
            self.broadcast(Some(t.publisher), msg);
        }
    }

    /// Mutes or unmutes a track; everyone else is told, and the publisher too when it was not
    /// their own doing (`tell_publisher`: an admin muted it), by its own id for the track.
    fn mute(
        &mut self,
        participant: ParticipantId,
        msid: String,
        muted: bool,
        tell_publisher: bool,
    ) {
        let found = self
            .tracks
            .iter_mut()
            .find(|(_, t)| t.publisher == participant && t.msid == msid);
        let Some((id, t)) = found else {
            // Not open yet: remember it for when it opens.
            if let Some(m) = self.members.get_mut(&participant) {
                let entry = m.meta.entry(msid.clone()).or_insert(TrackMeta {
                    track_id: msid,
                    source: Default::default(),
                    muted,
                    layers: Vec::new(),
                });
                entry.muted = muted;
            }
            return;
        };
        let id = *id;
        t.info.muted = muted;
        let msg = ServerMessage::TrackMuted {
            participant_id: self
                .members
                .get(&participant)
                .map(|m| m.wire_id.clone())
                .unwrap_or_default(),
            track_id: t.info.id.clone(),
            muted,
        };
        self.core
            .handle_input(now(), Input::SetMuted { track: id, muted });
        self.broadcast(Some(participant), msg);
        if tell_publisher && let Some(m) = self.members.get(&participant) {
            let _ = m
                .events
                .try_send(ServerMessage::MutedByAdmin { track_id: msid });
        }
    }

    /// Sends an event to every member but `except`. A member whose event queue is full is too
    /// far behind to follow the room, and is removed when the room settles.
    fn broadcast(&mut self, except: Option<ParticipantId>, msg: ServerMessage) {
        for (id, m) in &self.members {
            if Some(*id) == except {
                continue;
            }
            if let Err(mpsc::error::TrySendError::Full(_)) = m.events.try_send(msg.clone()) {
                warn!(participant = %m.wire_id, "participant's event queue is full; removing it");
                self.stuck.push(*id);
            }
        }
    }
}

fn now() -> Instant {
    Instant::now()
}
