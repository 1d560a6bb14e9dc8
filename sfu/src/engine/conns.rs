//! An engine's connections, with the demux that routes datagrams to them, whom each belongs to,
//! which ones were touched this turn (their datagrams are collected at its end), and the timer
//! heap that wakes each when rtc asks to be.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use protocol::PcTarget;
use sfu_core::{ParticipantId, TrackId};

use super::conn::{Conn, Local};
use super::demux::{ConnId, Demux, UfragTaken, Verdict};
use super::transport::Peer;
use crate::Counters;
use crate::config::Estimation;
use crate::error::SfuError;
use crate::links::LinkStats;
use crate::media::CodecSpec;
use crate::media::quality::QualityCtx;
use crate::meters::RoomMeters;

/// Whose a connection is: a room's member's publish or subscribe side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The room's key on its engine (its generation).
    pub room: u64,
    pub participant: ParticipantId,
    pub target: PcTarget,
}

struct Entry {
    /// Its full id: the generation that tells it from earlier holders of its slot.
    id: ConnId,
    conn: Conn,
    owner: Owner,
    touched: bool,
    /// The earliest wake-up in the heap for this connection, if any.
    scheduled: Option<Instant>,
}

/// A connection's id is its slot in the slab (the low 32 bits) and the generation it was opened
/// in (the high 32): timers, rooms and the demux may hold an id after its connection closed and
/// another took the slot, and the generation tells them apart without a hash lookup.
fn slot(id: ConnId) -> usize {
    (id & u64::from(u32::MAX)) as usize
}

pub struct Conns {
    demux: Demux,
    map: slab::Slab<Entry>,
    /// What each connection is told of the engine's side: its address, whether it listens
    /// for ICE-TCP (so that connections offer a TCP candidate), and the estimation settings.
    local: Local,
    /// The generation of the next connection opened (never 0, so no id is 0).
    generation: u32,
    touched: Vec<ConnId>,
    timers: BinaryHeap<Reverse<(Instant, ConnId)>>,
    counters: Arc<Counters>,
    /// Datagrams a connection wanted to send to an address it never proved; not sent.
    refused_sends: u64,
}

impl Conns {
    pub fn new(demux: Demux, local: Local, counters: Arc<Counters>) -> Conns {
        Conns {
            demux,
            map: slab::Slab::new(),
            local,
            generation: 1,
            touched: Vec::new(),
            timers: BinaryHeap::new(),
            counters,
            refused_sends: 0,
        }
    }

    fn entry(&self, id: ConnId) -> Option<&Entry> {
        self.map.get(slot(id)).filter(|e| e.id == id)
    }

    fn entry_mut(&mut self, id: ConnId) -> Option<&mut Entry> {
        self.map.get_mut(slot(id)).filter(|e| e.id == id)
    }

    pub fn advertised(&self) -> SocketAddr {
        self.local.advertised
    }

    /// Bandwidth estimation for the subscribe connections opened from now on (on by default,
    /// with [`Estimation::default`]).
    pub fn set_estimation(&mut self, estimation: Option<Estimation>) {
        self.local.estimation = estimation;
    }

    /// Opens a connection for `owner`. It is routed to once its first local description gives
    /// it credentials ([`Conns::answer_on`], [`Conns::offer_on`]).
    pub(crate) fn open(
        &mut self,
        owner: Owner,
        quality: QualityCtx,
        now: Instant,
    ) -> Result<ConnId, SfuError> {
        let vacant = self.map.vacant_entry();
        let id = u64::from(self.generation) << 32 | vacant.key() as u64;
        match Conn::new(&self.local, owner.target, quality, now) {
            Ok(conn) => {
                vacant.insert(Entry {
                    id,
                    conn,
                    owner,
                    touched: false,
                    scheduled: None,
                });
                self.generation = self.generation.checked_add(1).unwrap_or(1);
                self.counters.live_peers.fetch_add(1, Ordering::Relaxed);
                self.touch(id);
                Ok(id)
            }
            Err(e) => Err(e),
        }
    }

    /// Applies a client's offer to connection `id` and answers it (see [`Conn::answer`]);
    /// from then on `id` is routed by the answer's credentials.
    pub fn answer_on(&mut self, id: ConnId, offer: &str, now: Instant) -> Result<String, SfuError> {
        let sdp = self.get(id).ok_or(SfuError::Closed)?.answer(offer, now)?;
        self.described(id)?;
        Ok(sdp)
    }

    /// Makes and applies a new offer on connection `id` (see [`Conn::offer`]); from then on
    /// `id` is routed by its credentials.
    pub fn offer_on(&mut self, id: ConnId, now: Instant) -> Result<String, SfuError> {
        let sdp = self.get(id).ok_or(SfuError::Closed)?.offer(now)?;
        self.described(id)?;
        Ok(sdp)
    }

    /// Routes to `id` by the credentials of its latest local description. New credentials on a connection that had some are an ICE restart
    /// (counted): its old ufrag names nothing from then on, and the addresses it proved stay
    /// until new checks prove others.
    fn described(&mut self, id: ConnId) -> Result<(), SfuError> {
        let Some((ufrag, pwd)) = self.entry(id).and_then(|e| e.conn.local_credentials()) else {
            return Ok(());
        };
        let restart = match self.demux.ufrag(id) {
            Some(old) if old == ufrag => return Ok(()),
            Some(_) => true,
            None => false,
        };
        // rtc's ufrags are 16 random letters: two alike on one engine would be a fault of
        // its random source, and the connection could not be told apart from the other.
        self.demux
            .set_credentials(id, &ufrag, &pwd)
            .map_err(|UfragTaken| {
                SfuError::WebRtc("an ICE ufrag used twice on one engine".into())
            })?;
        if restart {
            self.counters.ice_restarts.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Answers an offer on a connection of its own, owned by no room (for tests and benchmarks
    /// of the engine alone): its id and the answer's SDP.
    pub fn answer(&mut self, offer: &str, now: Instant) -> Result<(ConnId, String), SfuError> {
        let stats = Arc::new(LinkStats::default());
        self.detached(PcTarget::Publish, stats, now, |conns, id| {
            conns.answer_on(id, offer, now)
        })
    }

    /// Opens a subscribe connection of its own, owned by no room (for tests and benchmarks of
    /// the engine alone), sending `tracks`, and makes its offer: its id and the offer's SDP.
    /// Its link's readings (the estimate among them) go to `stats`.
    pub fn offer(
        &mut self,
        tracks: &[(TrackId, CodecSpec)],
        stats: Arc<LinkStats>,
        now: Instant,
    ) -> Result<(ConnId, String), SfuError> {
        self.detached(PcTarget::Subscribe, stats, now, |conns, id| {
            for (track, codec) in tracks {
                let conn = conns.get(id).ok_or(SfuError::Closed)?;
                conn.add_send_track(*track, "stream", &format!("track-{}", track.0), codec)?;
            }
            conns.offer_on(id, now)
        })
    }

    /// Opens a connection owned by no room and describes it with `describe`; closes it again
    /// if that fails.
    fn detached(
        &mut self,
        target: PcTarget,
        stats: Arc<LinkStats>,
        now: Instant,
        describe: impl FnOnce(&mut Conns, ConnId) -> Result<String, SfuError>,
    ) -> Result<(ConnId, String), SfuError> {
        let owner = Owner {
            room: 0,
            participant: ParticipantId(0),
            target,
        };
        let quality = QualityCtx {
            stats,
            room: Arc::new(RoomMeters::default()),
            observer: None,
        };
        let id = self.open(owner, quality, now)?;
        match describe(self, id) {
            Ok(sdp) => Ok((id, sdp)),
            Err(e) => {
                self.close(id);
                Err(e)
            }
        }
    }

    /// A connection, marked touched: what it makes is collected at the end of the turn.
    pub fn get(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.touch(id);
        self.entry_mut(id).map(|e| &mut e.conn)
    }

    fn touch(&mut self, id: ConnId) {
        if let Some(e) = self.map.get_mut(slot(id)).filter(|e| e.id == id)
            && !e.touched
        {
            e.touched = true;
            self.touched.push(id);
        }
    }

    pub fn owner(&self, id: ConnId) -> Option<&Owner> {
        self.entry(id).map(|e| &e.owner)
    }

    /// Closes and forgets a connection. What it still had to send goes out with the turn's
    /// flush only if it was touched before; a closed connection sends nothing more.
    pub fn close(&mut self, id: ConnId) {
        if self.entry(id).is_some() {
            let mut e = self.map.remove(slot(id));
            e.conn.close();
            self.counters.live_peers.fetch_sub(1, Ordering::Relaxed);
        }
        self.demux.remove(id);
    }

    pub fn state(&self, id: ConnId) -> Option<rtc::peer_connection::state::RTCPeerConnectionState> {
        self.entry(id).map(|e| e.conn.state())
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn demux(&self) -> &Demux {
        &self.demux
    }

    pub fn refused_sends(&self) -> u64 {
        self.refused_sends
    }

    /// Forgets an address whose flow ended (see [`Demux::forget_address`]).
    pub fn forget_address(&mut self, peer: Peer) {
        self.demux.forget_address(peer);
    }

    /// Routes one datagram and hands it to its connection; which one, if any.
    pub fn deliver(&mut self, now: Instant, from: Peer, datagram: &[u8]) -> Option<ConnId> {
        let id = match self.demux.route(from, datagram) {
            Verdict::To(id) | Verdict::Learnt(id) => id,
            Verdict::Dropped(why) => {
                tracing::trace!(%from, why = why.as_str(), "a datagram dropped");
                return None;
            }
        };
        self.get(id)?.read(now, from, datagram);
        Some(id)
    }

    /// The earliest time a connection asked to be woken at.
    pub fn next_timer(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Runs the timers due by `now`; the connections they woke.
    pub fn run_timers(&mut self, now: Instant) -> Vec<ConnId> {
        let mut woke = Vec::new();
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(e) = self.entry_mut(id) else {
                continue;
            };
            // A later entry of an earlier wake-up: that one already ran.
            if e.scheduled != Some(at) {
                continue;
            }
            e.scheduled = None;
            if e.conn.poll_timeout().is_some_and(|t| t <= now) {
                e.conn.handle_timeout(now);
            }
            self.touch(id);
            woke.push(id);
        }
        woke
    }

    /// Collects what the touched connections made: each datagram to an address its
    /// connection proved goes to `send`, any other is refused and counted. Their next
    /// wake-ups go in the heap.
    pub fn flush(&mut self, mut send: impl FnMut(Peer, &[u8])) {
        for id in std::mem::take(&mut self.touched) {
            let Some(e) = self.map.get_mut(slot(id)).filter(|e| e.id == id) else {
                continue;
            };
            e.touched = false;
            while let Some((to, datagram)) = e.conn.poll_transmit() {
                if self.demux.may_send(id, to) {
                    send(to, &datagram);
                } else {
                    self.refused_sends += 1;
                }
            }
            if let Some(at) = e.conn.poll_timeout()
                && e.scheduled.is_none_or(|s| at < s)
            {
                e.scheduled = Some(at);
                self.timers.push(Reverse((at, id)));
            }
        }
    }
}
