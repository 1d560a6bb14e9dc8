//! The engine thread: one [`Engine`] and the rooms pinned to it, in one loop. Signaling talks to
//! it through a bounded command queue and an eventfd that wakes the loop's `poll`; nothing else
//! reaches a room, so a room's state needs no lock.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nix::sys::eventfd::{EfdFlags, EventFd};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;
use tracing::{error, info_span, warn};

use protocol::PcTarget;
use sfu_core::ParticipantId;

use super::Engine;
use super::conns::Conns;
use super::demux::{ConnId, Drop as Dropped};
use super::tcp::TcpCounts;
use super::transport::Transport;
use crate::Registry;
use crate::room::{Room, RoomMsg, TICK};

/// Commands queued toward one engine before senders wait.
const COMMANDS: usize = 4096;
/// The longest the loop sleeps with nothing to do: it looks at its queue at least this often.
const IDLE: Duration = Duration::from_secs(1);

/// A message for one room of an engine.
pub(crate) struct Cmd {
    /// The room's key: its generation.
    pub(crate) key: u64,
    pub(crate) room: Arc<str>,
    pub(crate) msg: RoomMsg,
}

struct Shared {
    /// Taken only when the last handle goes, so the thread sees its queue closed.
    tx: Option<mpsc::Sender<Cmd>>,
    waker: Arc<EventFd>,
    advertised: SocketAddr,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The queue closes first, then the loop is woken to find it closed.
        drop(self.tx.take());
        let _ = self.waker.write(1);
    }
}

/// Signaling's side of one engine thread. Cheap to clone; the thread ends, closing its rooms,
/// once every clone is gone.
#[derive(Clone)]
pub(crate) struct EngineHandle {
    shared: Arc<Shared>,
}

impl EngineHandle {
    fn tx(&self) -> &mpsc::Sender<Cmd> {
        // Invariant: `tx` is taken only in `Shared::drop`, when no handle is left.
        self.shared.tx.as_ref().expect("the command queue is open")
    }

    /// Queues a command, waiting while the queue is full; false once the engine is gone.
    pub(crate) async fn send(&self, cmd: Cmd) -> bool {
        let ok = self.tx().send(cmd).await.is_ok();
        let _ = self.shared.waker.write(1);
        ok
    }

    /// Queues a command if there is room now.
    pub(crate) fn try_send(&self, cmd: Cmd) -> bool {
        let ok = self.tx().try_send(cmd).is_ok();
        let _ = self.shared.waker.write(1);
        ok
    }

    /// The address the engine's connections advertise.
    pub(crate) fn advertised(&self) -> SocketAddr {
        self.shared.advertised
    }
}

/// Starts an engine thread on the transport `make` opens (its UDP socket, bound there), waiting
/// for it to open or fail. The transport is made on the thread that owns it (a socket's batch
/// buffers hold pointers and never leave it).
pub(crate) fn spawn<T: Transport + 'static>(
    index: usize,
    make: impl FnOnce() -> io::Result<T> + Send + 'static,
    registry: Arc<Registry>,
) -> io::Result<EngineHandle> {
    let waker = Arc::new(EventFd::from_value_and_flags(
        0,
        EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC,
    )?);
    let (tx, rx) = mpsc::channel(COMMANDS);
    let (bound_tx, bound_rx) = std::sync::mpsc::sync_channel(1);
    let thread_waker = Arc::clone(&waker);
    std::thread::Builder::new()
        .name(format!("cohort-engine-{index}"))
        .spawn(move || {
            let public_ip = registry.config.public_ip;
            let mut engine = match make()
                .and_then(|t| Engine::new(t, public_ip, Arc::clone(&registry.counters)))
            {
                Ok(engine) => engine,
                Err(e) => {
                    let _ = bound_tx.send(Err(e));
                    return;
                }
            };
            engine.conns().set_estimation(registry.config.estimation);
            let advertised = engine.advertised();
            if bound_tx.send(Ok(advertised)).is_err() {
                return;
            }
            let span = info_span!("engine", engine = index, port = advertised.port());
            let _entered = span.enter();
            Host {
                engine,
                rooms: HashMap::new(),
                registry,
                rx,
                waker: thread_waker,
                published: Published::default(),
                ready: Vec::new(),
            }
            .run();
        })?;
    let advertised = bound_rx
        .recv()
        .map_err(|_| io::Error::other("the engine thread ended before binding"))??;
    Ok(EngineHandle {
        shared: Arc::new(Shared {
            tx: Some(tx),
            waker,
            advertised,
        }),
    })
}

/// A connection with something to tell its room: (room key, participant, side, connection).
type Ready = (u64, ParticipantId, PcTarget, ConnId);

struct Host<T: Transport> {
    engine: Engine<T>,
    /// By key (generation).
    rooms: HashMap<u64, Room>,
    registry: Arc<Registry>,
    rx: mpsc::Receiver<Cmd>,
    waker: Arc<EventFd>,
    /// The engine's own counts as last added to the node's.
    published: Published,
    /// Kept between batches for its allocation.
    ready: Vec<Ready>,
}

#[derive(Default)]
struct Published {
    dropped: [u64; Dropped::ALL.len()],
    refused: u64,
    tcp: TcpCounts,
}

/// Hands the connections `ids` to their rooms: each room once, with its connections in the
/// order read, so that a room settles once per batch however many of its members spoke.
fn dispatch(
    rooms: &mut HashMap<u64, Room>,
    ready: &mut Vec<Ready>,
    conns: &mut Conns,
    ids: &[ConnId],
) {
    ready.clear();
    ready.extend(ids.iter().filter_map(|&id| {
        conns
            .owner(id)
            .map(|o| (o.room, o.participant, o.target, id))
    }));
    // Stable: each room's connections stay in the order they were read.
    ready.sort_by_key(|r| r.0);
    for run in ready.chunk_by(|a, b| a.0 == b.0) {
        if let Some(room) = rooms.get_mut(&run[0].0) {
            room.on_conns(run.iter().map(|r| (r.1, r.2, r.3)), conns);
        }
    }
}

impl<T: Transport> Host<T> {
    fn run(mut self) {
        let mut next_tick = Instant::now() + TICK;
        loop {
            let now = Instant::now();
            let wait = self
                .rooms
                .values()
                .filter_map(Room::poll_timeout)
                .chain([next_tick, now + IDLE])
                .min()
                .map_or(IDLE, |t| t.saturating_duration_since(now));
            let (engine, rooms, ready) = (&mut self.engine, &mut self.rooms, &mut self.ready);
            let waker = Arc::clone(&self.waker);
            let turn = engine.turn_with(wait, Some(waker.as_fd()), |conns, ids| {
                dispatch(rooms, ready, conns, ids);
            });
            match turn {
                Ok(t) => {
                    if t.woken {
                        let _ = self.waker.read();
                    }
                    let c = &self.registry.counters;
                    c.datagrams_received
                        .fetch_add(t.received as u64, Ordering::Relaxed);
                    c.receive_calls
                        .fetch_add(t.receive_calls as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    error!("the engine's socket failed: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            let open = self.commands();
            let now = Instant::now();
            let conns = self.engine.conns();
            for room in self.rooms.values_mut() {
                if room.poll_timeout().is_some_and(|t| t <= now) {
                    room.timeout(conns);
                }
            }
            if now >= next_tick {
                for room in self.rooms.values_mut() {
                    room.tick(conns);
                }
                self.publish_drops();
                next_tick = now + TICK;
            }
            self.close_finished(!open);
            match self.engine.flush() {
                Ok(f) => {
                    let c = &self.registry.counters;
                    c.datagrams_sent.fetch_add(f.sent as u64, Ordering::Relaxed);
                    c.send_calls.fetch_add(f.calls as u64, Ordering::Relaxed);
                    c.datagrams_segmented
                        .fetch_add(f.segmented as u64, Ordering::Relaxed);
                    // Refused by the kernel, or pushed out of a full send queue.
                    c.dropped_queue_full
                        .fetch_add(f.dropped as u64, Ordering::Relaxed);
                }
                Err(e) => warn!("the engine could not send: {e}"),
            }
            if !open {
                break;
            }
        }
    }

    /// Handles what signaling queued; false once every handle is gone.
    fn commands(&mut self) -> bool {
        loop {
            let cmd = match self.rx.try_recv() {
                Ok(cmd) => cmd,
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            };
            let conns = self.engine.conns();
            if let Some(room) = self.rooms.get_mut(&cmd.key) {
                room.handle(cmd.msg, conns);
                continue;
            }
            // A room starts with its first join, if the registry still names it by this key;
            // anything else for a room not here is for one already closed, and its reply
            // channel is dropped, which its sender reads as closed.
            let RoomMsg::Join { .. } = cmd.msg else {
                continue;
            };
            let Some(meters) = self.registry.room_meters(&cmd.room, cmd.key) else {
                continue;
            };
            let mut room = Room::new(
                cmd.room.to_string(),
                cmd.key,
                Arc::clone(&self.registry),
                meters,
            );
            room.handle(cmd.msg, conns);
            self.rooms.insert(cmd.key, room);
        }
    }

    /// Adds what the demux dropped and the connections were refused since the last time to the
    /// node's counters.
    fn publish_drops(&mut self) {
        let c = &self.registry.counters;
        for (i, why) in Dropped::ALL.into_iter().enumerate() {
            let now = self.engine.demux().dropped(why);
            let was = std::mem::replace(&mut self.published.dropped[i], now);
            c.datagrams_dropped[i].fetch_add(now.saturating_sub(was), Ordering::Relaxed);
        }
        let now = self.engine.refused_sends();
        let was = std::mem::replace(&mut self.published.refused, now);
        c.sends_refused
            .fetch_add(now.saturating_sub(was), Ordering::Relaxed);
        if let Some(now) = self.engine.transport().tcp_counts() {
            let was = std::mem::replace(&mut self.published.tcp, now);
            for (counter, (now, was)) in c.tcp_connections.iter().zip([
                (now.accepted, was.accepted),
                (now.refused, was.refused),
                (now.closed, was.closed),
            ]) {
                counter.fetch_add(now.saturating_sub(was), Ordering::Relaxed);
            }
        }
    }

    /// Closes the rooms left empty, or all of them when `all`.
    fn close_finished(&mut self, all: bool) {
        let done: Vec<u64> = self
            .rooms
            .iter()
            .filter(|(_, r)| all || r.is_done())
            .map(|(k, _)| *k)
            .collect();
        for key in done {
            if let Some(room) = self.rooms.remove(&key) {
                let span = room.span().clone();
                let _entered = span.enter();
                // Leave the registry first, so no new join can find this room.
                self.registry.remove_room(room.name(), room.key());
                room.close(self.engine.conns());
            }
        }
    }
}
