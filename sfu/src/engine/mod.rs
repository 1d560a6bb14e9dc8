//! The media engine (issue 14): webrtc-rs's sans-IO core, the `rtc` crate, driven by one loop
//! per engine thread on one UDP port.
//! - [`demux`]: routing datagrams on the shared port, a security boundary: only a
//!   connection's verified ICE check teaches the engine an address, and the engine sends only
//!   to such addresses;
//! - [`socket`]: batched receive (recvmmsg, GRO) and send (sendmmsg);
//! - [`tcp`]: ICE-TCP, the passive side, on the same port number, for clients whose UDP is
//!   blocked;
//! - [`transport`]: what the engine does I/O with, its socket and listener or [`memnet`], a
//!   network in memory for tests and benchmarks without the kernel;
//! - [`conn`]: one ICE-lite peer connection and its tracks;
//! - [`conns`]: an engine's connections, their owners, the touched set and the timer heap;
//! - [`Engine`]: one turn's I/O over them;
//! - `host`: the engine thread, which owns the rooms pinned to it and takes signaling's
//!   commands.

pub mod conn;
pub mod conns;
pub mod demux;
pub(crate) mod host;
pub mod memnet;
pub mod socket;
pub mod tcp;
pub mod transport;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::peer_connection::state::RTCPeerConnectionState;

use crate::Counters;
use crate::config::Estimation;
use crate::error::SfuError;
use conn::Local;
use conns::Conns;
use demux::{ConnId, Demux};
use transport::{Peer, ServerIo, Transport};

/// One engine's I/O: its socket (or another [`Transport`]) and its connections, owned by the
/// thread that turns it.
pub struct Engine<T: Transport = ServerIo> {
    socket: T,
    conns: Conns,
    /// The connections one batch reached, each once; kept between turns for its allocation.
    read: Vec<ConnId>,
}

/// What one turn did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Turn {
    /// Whether the waker was readable.
    pub woken: bool,
    pub received: usize,
    /// recvmmsg calls that returned datagrams.
    pub receive_calls: usize,
    pub sent: usize,
}

impl Engine {
    /// Binds `bind` on UDP, and on TCP for ICE-TCP; clients are told `advertised_ip` (or the
    /// bound address) and the bound port.
    pub fn bind(
        bind: SocketAddr,
        advertised_ip: Option<IpAddr>,
        counters: Arc<Counters>,
    ) -> io::Result<Engine> {
        let io = ServerIo::bind(bind, Some(tcp::TcpLimits::default()))?;
        Engine::new(io, advertised_ip, counters)
    }
}

impl<T: Transport> Engine<T> {
    /// An engine on `socket`; clients are told `advertised_ip` (or the socket's address) and
    /// the socket's port.
    pub fn new(
        socket: T,
        advertised_ip: Option<IpAddr>,
        counters: Arc<Counters>,
    ) -> io::Result<Engine<T>> {
        let bound = socket.local_addr()?;
        let crypto = rtc::crypto::default_provider()
            .map_err(|e| io::Error::other(format!("no crypto provider: {e}")))?;
        let advertised = SocketAddr::new(advertised_ip.unwrap_or(bound.ip()), bound.port());
        // Connections offer a TCP candidate where something listens for it.
        let tcp = socket.tcp_counts().is_some();
        Ok(Engine {
            socket,
            conns: Conns::new(
                Demux::new(crypto),
                Local {
                    advertised,
                    tcp,
                    estimation: Some(Estimation::default()),
                },
                counters,
            ),
            read: Vec::new(),
        })
    }

    /// The address its connections advertise.
    pub fn advertised(&self) -> SocketAddr {
        self.conns.advertised()
    }

    pub fn conns(&mut self) -> &mut Conns {
        &mut self.conns
    }

    pub fn demux(&self) -> &demux::Demux {
        self.conns.demux()
    }

    pub fn refused_sends(&self) -> u64 {
        self.conns.refused_sends()
    }

    /// The transport, to read what it counted.
    pub fn transport(&self) -> &T {
        &self.socket
    }

    /// Answers an offer on a connection owned by no room (see [`Conns::answer`]).
    pub fn answer(&mut self, offer: &str, now: Instant) -> Result<(ConnId, String), SfuError> {
        self.conns.answer(offer, now)
    }

    pub fn state(&self, id: ConnId) -> Option<RTCPeerConnectionState> {
        self.conns.state(id)
    }

    /// One turn of the loop with nobody listening to the connections: their events are
    /// taken and let go.
    pub fn turn(&mut self, wait: Duration) -> io::Result<Turn> {
        let mut turn = self.turn_with(wait, None, |conns, ids| {
            for &id in ids {
                while conns.get(id).and_then(|c| c.poll()).is_some() {}
            }
        })?;
        turn.sent = self.flush()?.sent;
        Ok(turn)
    }

    /// A candidate the client of `id` trickled (see [`conn::Conn::add_remote_candidate`]).
    pub fn add_remote_candidate(&mut self, id: ConnId, candidate: &str) -> Result<(), SfuError> {
        let init = rtc::peer_connection::transport::RTCIceCandidateInit {
            candidate: candidate.to_owned(),
            sdp_mline_index: Some(0),
            ..Default::default()
        };
        self.conns
            .get(id)
            .ok_or(SfuError::Closed)?
            .add_remote_candidate(init)
    }

    /// One turn of the loop: waits up to `wait` (or the next timer) for datagrams or the
    /// waker; reads every batch waiting and routes each datagram, then runs the timers that
    /// are due. After each batch, and after the timers, `each` is handed the connections that
    /// read or woke, each once, so that what a connection made of a whole batch is taken in
    /// one go. Everything the touched connections made is sent by [`Engine::flush`].
    pub fn turn_with(
        &mut self,
        wait: Duration,
        waker: Option<BorrowedFd<'_>>,
        mut each: impl FnMut(&mut Conns, &[ConnId]),
    ) -> io::Result<Turn> {
        let now = Instant::now();
        let wait = match self.conns.next_timer() {
            Some(t) => t.saturating_duration_since(now).min(wait),
            None => wait,
        };
        let (readable, woken) = self.socket.wait(wait, waker)?;
        let mut turn = Turn {
            woken,
            ..Turn::default()
        };
        if readable {
            let (socket, conns, read) = (&mut self.socket, &mut self.conns, &mut self.read);
            let now = Instant::now();
            loop {
                let n = socket.recv(|from: Peer, datagram| {
                    if let Some(id) = conns.deliver(now, from, datagram)
                        && !read.contains(&id)
                    {
                        read.push(id);
                    }
                })?;
                if !read.is_empty() {
                    each(conns, read);
                    read.clear();
                }
                if n == 0 {
                    break;
                }
                turn.received += n;
                turn.receive_calls += 1;
            }
            // A closed TCP connection's address proves nothing any more.
            socket.take_closed(|peer| conns.forget_address(peer));
        }
        let woke = self.conns.run_timers(Instant::now());
        if !woke.is_empty() {
            each(&mut self.conns, &woke);
        }
        Ok(turn)
    }

    /// Sends what the touched connections made.
    pub fn flush(&mut self) -> io::Result<socket::Flushed> {
        let socket = &mut self.socket;
        self.conns.flush(|to, bytes| socket.queue(to, bytes));
        self.socket.flush()
    }
}
