//! `sfu`: the media server's glue between `sfu-core`'s decisions and real peer connections.
//!
//! # Layout
//! - [`Sfu`]: the whole API that signaling sees. [`Sfu::join`] puts a participant in a room and
//!   returns its [`Session`].
//! - `room`: one task per room, sole owner of its `sfu_core::Room`.
//! - `participant`: one task per participant, owner of its two peer connections.
//! - `media`: every webrtc-rs call, behind our own types.
//! - `egress`: the drop-and-count queue between a room and a subscription's writer.
//! - `ports`: the UDP port range.

pub mod config;
pub mod egress;
pub mod engine;
pub mod error;
pub mod links;
mod media;
pub mod meters;
mod participant;
pub mod ports;
mod room;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};

use dashmap::DashMap;
use protocol::{
    ChatMessage, IceCandidate, LeaveReason, ParticipantInfo, PcTarget, ServerMessage, TrackKind,
    TrackMeta,
};
use sfu_core::{MediaKind, ParticipantId, RoomStats, TrackId};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

pub use config::SfuConfig;
pub use error::SfuError;
pub use media::CodecSpec;
pub use media::{feedback, rtp_track};

use crate::error::Result;
use crate::meters::RoomMeters;
use crate::participant::{PEER_QUEUE, ParticipantTask, PeerCmd};
use crate::ports::PortAllocator;
use crate::room::{RoomMsg, RoomTask};

/// Events queued toward one client before the room gives up on it.
const EVENT_QUEUE: usize = 512;

static NEXT_PARTICIPANT: AtomicU64 = AtomicU64::new(1);
static NEXT_TRACK: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_participant_id() -> ParticipantId {
    ParticipantId(NEXT_PARTICIPANT.fetch_add(1, Ordering::Relaxed))
}

pub(crate) fn next_track_id() -> TrackId {
    TrackId(NEXT_TRACK.fetch_add(1, Ordering::Relaxed))
}

/// An id as it appears on the wire: 32 hex digits, random.
pub(crate) fn wire_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Node-wide counters, read by the metrics exporter.
#[derive(Debug, Default)]
pub struct Counters {
    pub rooms: AtomicI64,
    pub participants: AtomicI64,
    /// Published tracks, audio then video.
    pub tracks: [AtomicI64; 2],
    pub forwarded_packets: [AtomicU64; 2],
    pub forwarded_bytes: [AtomicU64; 2],
    pub dropped_queue_full: AtomicU64,
    /// Packets for a track no longer known, and packets too old for their subscription.
    pub dropped_no_route: AtomicU64,
    pub dropped_too_old: AtomicU64,
    /// RTP packets and payload bytes received from publishers, by kind.
    pub received_packets: [AtomicU64; 2],
    pub received_bytes: [AtomicU64; 2],
    /// NACK messages from subscribers.
    pub nacks_received: AtomicU64,
    /// Keyframe requests (PLI/FIR) from subscribers, and those sent on to publishers after
    /// merging and throttling.
    pub keyframe_requests_received: AtomicU64,
    pub keyframe_requests_sent: AtomicU64,
    /// Packets sent again in answer to subscribers' NACKs.
    pub retransmitted_packets: AtomicU64,
    /// Peer connections whose event handler is still alive (freed ones are not counted).
    pub live_peers: AtomicUsize,
}

/// State shared by the rooms and participants of one server.
pub(crate) struct Registry {
    pub(crate) config: SfuConfig,
    pub(crate) ports: Arc<PortAllocator>,
    rooms: DashMap<String, RoomEntry>,
    generation: AtomicU64,
    draining: AtomicBool,
    pub(crate) counters: Arc<Counters>,
    observer: std::sync::OnceLock<Arc<dyn meters::Observer>>,
}

struct RoomEntry {
    tx: mpsc::Sender<RoomMsg>,
    generation: u64,
    meters: Arc<meters::RoomMeters>,
}

impl Registry {
    pub(crate) fn remove_room(&self, name: &str, generation: u64) {
        self.rooms
            .remove_if(name, |_, e| e.generation == generation);
    }
    pub(crate) fn rooms_open_delta(&self, d: i64) {
        self.counters.rooms.fetch_add(d, Ordering::Relaxed);
    }
    pub(crate) fn participants_delta(&self, room: &RoomMeters, d: i64) {
        self.counters.participants.fetch_add(d, Ordering::Relaxed);
        room.participants.fetch_add(d, Ordering::Relaxed);
    }
    pub(crate) fn tracks_delta(&self, room: &RoomMeters, kind: TrackKind, d: i64) {
        let i = kind_index(kind);
        self.counters.tracks[i].fetch_add(d, Ordering::Relaxed);
        room.tracks[i].fetch_add(d, Ordering::Relaxed);
    }
    pub(crate) fn received(&self, room: &RoomMeters, kind: TrackKind, bytes: usize) {
        let i = kind_index(kind);
        self.counters.received_packets[i].fetch_add(1, Ordering::Relaxed);
        self.counters.received_bytes[i].fetch_add(bytes as u64, Ordering::Relaxed);
        room.received_packets[i].fetch_add(1, Ordering::Relaxed);
        room.received_bytes[i].fetch_add(bytes as u64, Ordering::Relaxed);
    }
    pub(crate) fn forwarded(&self, room: &RoomMeters, kind: MediaKind, bytes: usize) {
        let i = kind.index();
        self.counters.forwarded_packets[i].fetch_add(1, Ordering::Relaxed);
        self.counters.forwarded_bytes[i].fetch_add(bytes as u64, Ordering::Relaxed);
        room.forwarded_packets[i].fetch_add(1, Ordering::Relaxed);
        room.forwarded_bytes[i].fetch_add(bytes as u64, Ordering::Relaxed);
    }
    pub(crate) fn observer(&self) -> Option<&Arc<dyn meters::Observer>> {
        self.observer.get()
    }
    pub(crate) fn count(&self, counter: impl Fn(&Counters) -> &AtomicU64) {
        counter(&self.counters).fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn retransmitted(&self) {
        self.counters
            .retransmitted_packets
            .fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn dropped_queue_full(&self, room: &RoomMeters) {
        self.counters
            .dropped_queue_full
            .fetch_add(1, Ordering::Relaxed);
        room.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
    }
}

fn kind_index(kind: TrackKind) -> usize {
    match kind {
        TrackKind::Audio => 0,
        TrackKind::Video => 1,
    }
}

/// A room as the outside sees it at one moment.
#[derive(Debug, Clone)]
pub struct RoomSnapshot {
    pub name: String,
    pub participants: Vec<ParticipantInfo>,
    /// Each participant's connections and bitrates, by participant id.
    pub links: std::collections::HashMap<String, links::LinksReading>,
    /// The most participants the room admits now.
    pub capacity: usize,
    /// Packet loss over the last few seconds, both directions, from RTCP reports.
    pub loss: Option<f64>,
    pub subscriptions: usize,
    pub stats: RoomStats,
    /// Who is speaking now (participant ids), loudest first.
    pub speakers: Vec<String>,
}

/// The media server. Cheap to clone.
#[derive(Clone)]
pub struct Sfu {
    registry: Arc<Registry>,
}

impl Sfu {
    pub fn new(config: SfuConfig) -> Self {
        let ports = PortAllocator::new(config.udp_ports.0, config.udp_ports.1);
        Sfu {
            registry: Arc::new(Registry {
                config,
                ports,
                rooms: DashMap::new(),
                generation: AtomicU64::new(1),
                draining: AtomicBool::new(false),
                counters: Arc::new(Counters::default()),
                observer: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Sends timings to `observer` from now on; only the first call takes effect.
    pub fn set_observer(&self, observer: Arc<dyn meters::Observer>) {
        let _ = self.registry.observer.set(observer);
    }

    pub fn config(&self) -> &SfuConfig {
        &self.registry.config
    }

    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.registry.counters)
    }

    /// Every open room with what it has done so far, read without asking the room tasks.
    pub fn room_readings(&self) -> Vec<(String, meters::RoomReading)> {
        self.registry
            .rooms
            .iter()
            .filter(|e| !e.tx.is_closed())
            .map(|e| (e.key().clone(), e.meters.read()))
            .collect()
    }

    /// UDP ports leased by open peer connections.
    pub fn ports_in_use(&self) -> usize {
        self.registry.ports.in_use()
    }

    /// Rooms with a running task.
    pub fn room_count(&self) -> usize {
        self.registry.rooms.len()
    }

    pub fn is_draining(&self) -> bool {
        self.registry.draining.load(Ordering::Acquire)
    }

    /// Puts a participant named `name` into `room` (created on demand). The caller has already
    /// checked both names and access.
    pub async fn join(&self, room: &str, name: &str) -> Result<Session> {
        self.join_with_capacity(room, name, None, std::time::Instant::now())
            .await
    }

    /// [`Sfu::join`], with the room's own capacity when it has one; the server-wide limit
    /// applies either way.
    /// `requested_at` is when the join was asked for, to time it to the first media.
    pub async fn join_with_capacity(
        &self,
        room: &str,
        name: &str,
        capacity: Option<usize>,
        requested_at: std::time::Instant,
    ) -> Result<Session> {
        for _ in 0..3 {
            if self.is_draining() {
                return Err(SfuError::Draining);
            }
            let (room_tx, meters) = self.room_sender(room)?;
            let links = Arc::new(links::ParticipantLinks::default());
            let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
            let (peer_tx, peer_rx) = mpsc::channel(PEER_QUEUE);
            let (reply_tx, reply_rx) = oneshot::channel();
            let join = RoomMsg::Join {
                name: name.to_owned(),
                capacity,
                requested_at,
                events: events_tx.clone(),
                peer: peer_tx.clone(),
                links: Arc::clone(&links),
                reply: reply_tx,
            };
            if room_tx.send(join).await.is_err() {
                continue;
            }
            let ok = match reply_rx.await {
                Ok(Ok(ok)) => ok,
                Ok(Err(SfuError::Closed)) | Err(_) => continue,
                Ok(Err(e)) => return Err(e),
            };
            let (alive_tx, alive_rx) = oneshot::channel();
            let task = ParticipantTask::new(
                ok.participant,
                room_tx.clone(),
                events_tx,
                Arc::clone(&self.registry),
                Arc::clone(&links),
                meters,
            );
            let span = tracing::info_span!("participant", room = %room, participant = %ok.wire_id);
            tokio::spawn(task.run(peer_rx, alive_rx).instrument(span));
            return Ok(Session {
                participant_id: ok.wire_id,
                room: room.to_owned(),
                others: ok.others,
                chat: ok.chat,
                events: events_rx,
                handle: SessionHandle {
                    id: ok.participant,
                    peer: peer_tx,
                    room: room_tx,
                    links,
                    _alive: Arc::new(alive_tx),
                },
            });
        }
        Err(SfuError::Closed)
    }

    /// The room's task (started if need be) and its meters.
    fn room_sender(&self, room: &str) -> Result<(mpsc::Sender<RoomMsg>, Arc<meters::RoomMeters>)> {
        if let Some(e) = self.registry.rooms.get(room)
            && !e.tx.is_closed()
        {
            return Ok((e.tx.clone(), Arc::clone(&e.meters)));
        }
        let max = self.registry.config.max_rooms;
        if self.registry.rooms.len() >= max && !self.registry.rooms.contains_key(room) {
            return Err(SfuError::TooManyRooms(max));
        }
        let entry = self.registry.rooms.entry(room.to_owned());
        let both = |e: &RoomEntry| (e.tx.clone(), Arc::clone(&e.meters));
        let out = match entry {
            dashmap::Entry::Occupied(mut o) => {
                if o.get().tx.is_closed() {
                    let e = self.start_room(room);
                    let out = both(&e);
                    o.insert(e);
                    out
                } else {
                    both(o.get())
                }
            }
            dashmap::Entry::Vacant(v) => {
                let e = self.start_room(room);
                let out = both(&e);
                v.insert(e);
                out
            }
        };
        Ok(out)
    }

    /// Starts a room task of a new generation, with fresh meters.
    fn start_room(&self, room: &str) -> RoomEntry {
        let generation = self.registry.generation.fetch_add(1, Ordering::Relaxed);
        let meters = Arc::new(meters::RoomMeters::default());
        let tx = RoomTask::spawn(
            room.to_owned(),
            Arc::clone(&self.registry),
            generation,
            Arc::clone(&meters),
        );
        RoomEntry {
            tx,
            generation,
            meters,
        }
    }

    /// A room's current state, if it is open.
    pub async fn room_snapshot(&self, room: &str) -> Option<RoomSnapshot> {
        self.ask_room(room, |reply| RoomMsg::Snapshot { reply })
            .await
    }

    /// Sends the message `make` builds around a reply channel to the room's task, and waits for
    /// the answer; none when the room is not open (or closes meanwhile).
    async fn ask_room<T>(
        &self,
        room: &str,
        make: impl FnOnce(oneshot::Sender<T>) -> RoomMsg,
    ) -> Option<T> {
        let tx = self.registry.rooms.get(room)?.tx.clone();
        let (reply, rx) = oneshot::channel();
        tx.send(make(reply)).await.ok()?;
        rx.await.ok()
    }

    /// Names of the open rooms.
    pub fn room_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .registry
            .rooms
            .iter()
            .map(|e| e.key().clone())
            .collect();
        names.sort();
        names
    }

    /// Closes one room: its participants are told why and removed.
    pub async fn close_room(&self, room: &str, reason: LeaveReason) -> bool {
        let Some(tx) = self.registry.rooms.get(room).map(|e| e.tx.clone()) else {
            return false;
        };
        tx.send(RoomMsg::Close { reason }).await.is_ok()
    }

    /// Mutes a published track (by its id) on an admin's word; the publisher is told. Whether
    /// the room has that track.
    pub async fn mute_track(&self, room: &str, track: &str) -> bool {
        let track = track.to_owned();
        self.ask_room(room, |reply| RoomMsg::AdminMute { track, reply })
            .await
            .unwrap_or(false)
    }

    /// Removes one participant from a room, telling it `removed`; whether it was there.
    pub async fn remove_participant(&self, room: &str, participant: &str) -> bool {
        let participant = participant.to_owned();
        self.ask_room(room, |reply| RoomMsg::Remove { participant, reply })
            .await
            .unwrap_or(false)
    }

    /// Stops taking joins and asks every participant to leave.
    pub async fn drain(&self) {
        self.registry.draining.store(true, Ordering::Release);
        let rooms: Vec<mpsc::Sender<RoomMsg>> =
            self.registry.rooms.iter().map(|e| e.tx.clone()).collect();
        for tx in rooms {
            let _ = tx
                .send(RoomMsg::Close {
                    reason: LeaveReason::ServerShutdown,
                })
                .await;
        }
    }
}

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

/// The commands half of a [`Session`]. Dropping the last clone ends the participant.
#[derive(Clone)]
pub struct SessionHandle {
    id: ParticipantId,
    peer: mpsc::Sender<PeerCmd>,
    room: mpsc::Sender<RoomMsg>,
    links: Arc<links::ParticipantLinks>,
    _alive: Arc<oneshot::Sender<()>>,
}

impl SessionHandle {
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> PeerCmd) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.peer
            .send(make(tx))
            .await
            .map_err(|_| SfuError::Closed)?;
        rx.await.map_err(|_| SfuError::Closed)?
    }

    /// Applies the client's publish offer; the answer arrives as a `publish_answer` event.
    pub async fn publish_offer(&self, sdp: String, tracks: Vec<TrackMeta>) -> Result<()> {
        self.ask(|reply| PeerCmd::PublishOffer { sdp, tracks, reply })
            .await
    }

    pub async fn subscribe_answer(&self, sdp: String) -> Result<()> {
        self.ask(|reply| PeerCmd::SubscribeAnswer { sdp, reply })
            .await
    }

    pub async fn candidate(&self, target: PcTarget, candidate: IceCandidate) -> Result<()> {
        self.ask(|reply| PeerCmd::Candidate {
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

    /// Sends a chat message (already checked) to the room.
    pub async fn chat(&self, text: String) -> Result<()> {
        let participant = self.id;
        self.tell_room(RoomMsg::Chat { participant, text }).await
    }

    async fn tell_room(&self, msg: RoomMsg) -> Result<()> {
        self.room.send(msg).await.map_err(|_| SfuError::Closed)
    }

    /// This participant's talk time in the room so far, by the server's speaker detection.
    pub fn talk_time(&self) -> std::time::Duration {
        self.links.talk_time()
    }

    /// Leaves the room now.
    pub async fn leave(&self) {
        let _ = self.peer.send(PeerCmd::Leave).await;
    }
}
