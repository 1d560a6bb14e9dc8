//! `sfu`: the media server's glue between `sfu-core`'s decisions and real peer connections.
//!
//! # Layout
//! - [`Sfu`]: the whole API that signaling sees. [`Sfu::join`] puts a participant in a room and
//!   returns its [`Session`].
//! - [`engine`]: the media engines, one thread and one UDP port each, driving webrtc-rs's
//!   sans-IO `rtc` peer connections; each room is pinned to one engine.
//! - `room`: a room on its engine's thread, sole owner of its `sfu_core::Room` and of its
//!   members' negotiation.
//! - `media`: codecs, the SDP we read, RTCP feedback and the link-quality probe.

pub mod config;
pub mod engine;
pub mod error;
pub mod links;
mod media;
pub mod meters;
mod room;
mod session;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use dashmap::DashMap;
use protocol::{LeaveReason, ParticipantInfo, TrackKind};
use sfu_core::{MediaKind, ParticipantId, RoomStats, TrackId};
use tokio::sync::{mpsc, oneshot};

pub use config::SfuConfig;
pub use error::SfuError;
pub use media::{CodecSpec, feedback};
use session::Alive;
pub use session::{Session, SessionHandle};

use crate::engine::host::{self, Cmd, EngineHandle};
use crate::error::Result;
use crate::meters::RoomMeters;
use crate::room::RoomMsg;

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
    /// Peer connections open on the engines.
    pub live_peers: AtomicUsize,
    /// The engines' I/O: datagrams received and the recvmmsg calls that returned them,
    /// datagrams sent and the sendmmsg calls that sent them.
    pub datagrams_received: AtomicU64,
    pub receive_calls: AtomicU64,
    pub datagrams_sent: AtomicU64,
    pub send_calls: AtomicU64,
    /// Of the datagrams sent, those that went as segments of GSO sends.
    pub datagrams_segmented: AtomicU64,
    /// Datagrams the engines' demuxes dropped, by reason, in `engine::demux::Drop::ALL` order.
    pub datagrams_dropped: [AtomicU64; engine::demux::Drop::ALL.len()],
    /// Datagrams a connection made for an address it never proved: not sent.
    pub sends_refused: AtomicU64,
    /// ICE-TCP connections accepted, refused (over a limit) and closed, in that order.
    pub tcp_connections: [AtomicU64; 3],
    /// ICE restarts: a connection's local description brought new credentials.
    pub ice_restarts: AtomicU64,
}

/// State shared by the rooms and participants of one server.
pub(crate) struct Registry {
    pub(crate) config: SfuConfig,
    rooms: DashMap<String, RoomEntry>,
    generation: AtomicU64,
    draining: AtomicBool,
    pub(crate) counters: Arc<Counters>,
    observer: std::sync::OnceLock<Arc<dyn meters::Observer>>,
}

struct RoomEntry {
    /// The engine the room is pinned to, by index.
    engine: usize,
    generation: u64,
    meters: Arc<meters::RoomMeters>,
}

impl Registry {
    /// The meters of the room `name` if the registry still has it at `generation`.
    pub(crate) fn room_meters(&self, name: &str, generation: u64) -> Option<Arc<RoomMeters>> {
        self.rooms
            .get(name)
            .filter(|e| e.generation == generation)
            .map(|e| Arc::clone(&e.meters))
    }

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
    /// Video subscriptions sent nothing by choice (hidden by the subscriber's layout).
    pub paused_subscriptions: usize,
    pub stats: RoomStats,
    /// Who is speaking now (participant ids), loudest first.
    pub speakers: Vec<String>,
    /// What each participant (by id) is sent of the others' video tracks.
    pub receiving: std::collections::HashMap<String, Vec<Receiving>>,
}

/// One video track a subscriber is sent, as an admin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiving {
    /// The server's id of the track.
    pub track: String,
    /// The layer it receives now (0 is the lowest); `None` while paused or not started.
    pub layer: Option<u8>,
    /// How many layers the track has (1 unless simulcast).
    pub layers: u8,
}

/// The media server. Cheap to clone.
#[derive(Clone)]
pub struct Sfu {
    registry: Arc<Registry>,
    engines: Arc<[EngineHandle]>,
}

/// Where a room lives: its engine, its key there, and its name.
#[derive(Clone)]
struct RoomRef {
    engine: EngineHandle,
    key: u64,
    name: Arc<str>,
}

impl RoomRef {
    fn cmd(&self, msg: RoomMsg) -> Cmd {
        Cmd {
            key: self.key,
            room: Arc::clone(&self.name),
            msg,
        }
    }

    async fn send(&self, msg: RoomMsg) -> bool {
        self.engine.send(self.cmd(msg)).await
    }

    /// Sends the message `make` builds around a reply channel, and waits for the answer; none
    /// when the room is closed (or closes meanwhile).
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> RoomMsg) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        if !self.send(make(reply)).await {
            return None;
        }
        rx.await.ok()
    }
}

impl Sfu {
    /// Starts the engines: `config.engines` of them (one per core when 0), engine `i` on UDP
    /// port `config.udp_port + i`, or on a port of the system's choosing each when
    /// `udp_port` is 0; with `config.ice_tcp`, each listens for ICE-TCP on the same port
    /// number.
    pub fn new(config: SfuConfig) -> Result<Self> {
        let tcp = config.ice_tcp.then(engine::tcp::TcpLimits::default);
        Sfu::start(config, "UDP", move |bind| {
            engine::transport::ServerIo::bind(bind, tcp)
        })
    }

    /// [`Sfu::new`] on `net`, a network in memory, instead of UDP sockets: for tests and
    /// benchmarks of the whole server without the kernel's network.
    pub fn in_memory(config: SfuConfig, net: &engine::memnet::MemoryNet) -> Result<Self> {
        let net = net.clone();
        Sfu::start(config, "memory", move |bind| net.bind(&[bind]))
    }

    /// Starts the engines, each on the transport `open` makes for its address.
    fn start<T: engine::transport::Transport + 'static>(
        config: SfuConfig,
        what: &str,
        open: impl Fn(std::net::SocketAddr) -> std::io::Result<T> + Clone + Send + 'static,
    ) -> Result<Self> {
        let count = match config.engines {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let registry = Arc::new(Registry {
            config,
            rooms: DashMap::new(),
            generation: AtomicU64::new(1),
            draining: AtomicBool::new(false),
            counters: Arc::new(Counters::default()),
            observer: std::sync::OnceLock::new(),
        });
        let mut engines = Vec::with_capacity(count);
        for i in 0..count {
            let port = match registry.config.udp_port {
                0 => 0,
                p => u16::try_from(usize::from(p) + i).map_err(|_| {
                    SfuError::Bind(format!("engine {i} would need a UDP port above 65535"))
                })?,
            };
            let bind = std::net::SocketAddr::new(registry.config.bind_ip, port);
            let open = open.clone();
            let engine = host::spawn(i, move || open(bind), Arc::clone(&registry))
                .map_err(|e| SfuError::Bind(format!("{what} {bind}: {e}")))?;
            engines.push(engine);
        }
        Ok(Sfu {
            registry,
            engines: engines.into(),
        })
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

    /// The address each engine's connections advertise, by engine.
    pub fn media_addresses(&self) -> Vec<std::net::SocketAddr> {
        self.engines.iter().map(EngineHandle::advertised).collect()
    }

    /// Every open room with what it has done so far, read without asking the engines.
    pub fn room_readings(&self) -> Vec<(String, meters::RoomReading)> {
        self.registry
            .rooms
            .iter()
            .map(|e| (e.key().clone(), e.meters.read()))
            .collect()
    }

    /// Peer connections open on the engines.
    pub fn peer_connections(&self) -> usize {
        self.registry.counters.live_peers.load(Ordering::Relaxed)
    }

    /// Open rooms.
    pub fn room_count(&self) -> usize {
        self.registry.rooms.len()
    }

    pub fn is_draining(&self) -> bool {
        self.registry.draining.load(Ordering::Acquire)
    }

    /// Puts a participant named `name` into `room` (created on demand). The caller has already
    /// checked both names and access.
    pub async fn join(&self, room: &str, name: &str) -> Result<Session> {
        self.join_with_capacity(room, name, None, Instant::now())
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
        requested_at: Instant,
    ) -> Result<Session> {
        for _ in 0..3 {
            if self.is_draining() {
                return Err(SfuError::Draining);
            }
            let at = self.room_ref(room)?;
            let links = Arc::new(links::ParticipantLinks::default());
            let gone = Arc::new(AtomicBool::new(false));
            let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
            let ok = at
                .ask(|reply| RoomMsg::Join {
                    name: name.to_owned(),
                    capacity,
                    requested_at,
                    events: events_tx,
                    links: Arc::clone(&links),
                    gone: Arc::clone(&gone),
                    reply,
                })
                .await;
            let ok = match ok {
                Some(Ok(ok)) => ok,
                Some(Err(SfuError::Closed)) | None => continue,
                Some(Err(e)) => return Err(e),
            };
            let alive = Alive {
                room: at.clone(),
                participant: ok.participant,
                gone,
            };
            return Ok(Session {
                participant_id: ok.wire_id,
                room: room.to_owned(),
                others: ok.others,
                chat: ok.chat,
                events: events_rx,
                handle: SessionHandle {
                    id: ok.participant,
                    room: at,
                    links,
                    _alive: Arc::new(alive),
                },
            });
        }
        Err(SfuError::Closed)
    }

    /// Where the room lives, placing it on the engine with the fewest rooms if it is not open.
    fn room_ref(&self, room: &str) -> Result<RoomRef> {
        let at = |e: &RoomEntry| RoomRef {
            engine: self.engines[e.engine].clone(),
            key: e.generation,
            name: Arc::from(room),
        };
        if let Some(e) = self.registry.rooms.get(room) {
            return Ok(at(&e));
        }
        let max = self.registry.config.max_rooms;
        if self.registry.rooms.len() >= max {
            return Err(SfuError::TooManyRooms(max));
        }
        let mut load = vec![0usize; self.engines.len()];
        for e in self.registry.rooms.iter() {
            load[e.engine] += 1;
        }
        let engine = (0..load.len()).min_by_key(|i| load[*i]).unwrap_or(0);
        let entry = self
            .registry
            .rooms
            .entry(room.to_owned())
            .or_insert_with(|| RoomEntry {
                engine,
                generation: self.registry.generation.fetch_add(1, Ordering::Relaxed),
                meters: Arc::new(meters::RoomMeters::default()),
            });
        Ok(at(&entry))
    }

    /// The open room `room`, if it is.
    fn open_room(&self, room: &str) -> Option<RoomRef> {
        let e = self.registry.rooms.get(room)?;
        Some(RoomRef {
            engine: self.engines[e.engine].clone(),
            key: e.generation,
            name: Arc::from(room),
        })
    }

    /// A room's current state, if it is open.
    pub async fn room_snapshot(&self, room: &str) -> Option<RoomSnapshot> {
        self.open_room(room)?
            .ask(|reply| RoomMsg::Snapshot { reply })
            .await
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
        match self.open_room(room) {
            Some(at) => at.send(RoomMsg::Close { reason }).await,
            None => false,
        }
    }

    /// Mutes a published track (by its id) on an admin's word; the publisher is told. Whether
    /// the room has that track.
    pub async fn mute_track(&self, room: &str, track: &str) -> bool {
        let Some(at) = self.open_room(room) else {
            return false;
        };
        let track = track.to_owned();
        at.ask(|reply| RoomMsg::AdminMute { track, reply })
            .await
            .unwrap_or(false)
    }

    /// Removes one participant from a room, telling it `removed`; whether it was there.
    pub async fn remove_participant(&self, room: &str, participant: &str) -> bool {
        let Some(at) = self.open_room(room) else {
            return false;
        };
        let participant = participant.to_owned();
        at.ask(|reply| RoomMsg::Remove { participant, reply })
            .await
            .unwrap_or(false)
    }

    /// Stops taking joins and asks every participant to leave.
    pub async fn drain(&self) {
        self.registry.draining.store(true, Ordering::Release);
        let rooms: Vec<RoomRef> = self
            .room_names()
            .iter()
            .filter_map(|r| self.open_room(r))
            .collect();
        for at in rooms {
            at.send(RoomMsg::Close {
                reason: LeaveReason::ServerShutdown,
            })
            .await;
        }
    }
}
