//! The media engine that replaces the `webrtc` crate's per-connection drivers (issue 14):
//! webrtc-rs's sans-IO core, the `rtc` crate, driven by one loop per engine thread on one UDP
//! port. Built up in steps:
//! - [`demux`]: routing datagrams on the shared port, a security boundary: only a
//!   connection's verified ICE check teaches the engine an address, and the engine sends only
//!   to such addresses;
//! - [`socket`]: batched receive and send;
//! - [`conn`]: one ICE-lite peer connection, answering an offer;
//! - [`Engine`]: the loop's turn over them, for now without rooms or media forwarding.

pub mod conn;
pub mod demux;
pub mod socket;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rtc::peer_connection::state::RTCPeerConnectionState;

use crate::error::SfuError;
use conn::{Conn, Local};
use demux::{ConnId, Demux, Verdict};
use socket::EngineSocket;

/// One engine: its socket, its demux and its connections, all owned by the thread that turns it.
pub struct Engine {
    socket: EngineSocket,
    demux: Demux,
    conns: HashMap<ConnId, Conn>,
    advertised: SocketAddr,
    next_id: ConnId,
    /// Datagrams a connection wanted to send to an address it never proved; not sent.
    refused_sends: u64,
}

impl Engine {
    /// Binds `bind`; clients are told `advertised_ip` (or the bound address) and the bound port.
    pub fn bind(bind: SocketAddr, advertised_ip: Option<IpAddr>) -> io::Result<Engine> {
        let socket = EngineSocket::bind(bind)?;
        let bound = socket.local_addr()?;
        let crypto = rtc::crypto::default_provider()
            .map_err(|e| io::Error::other(format!("no crypto provider: {e}")))?;
        Ok(Engine {
            socket,
            demux: Demux::new(crypto),
            conns: HashMap::new(),
            advertised: SocketAddr::new(advertised_ip.unwrap_or(bound.ip()), bound.port()),
            next_id: 1,
            refused_sends: 0,
        })
    }

    /// The address its connections advertise.
    pub fn advertised(&self) -> SocketAddr {
        self.advertised
    }

    /// Answers an offer on a new connection: its id and the answer's SDP.
    pub fn answer(&mut self, offer: &str, now: Instant) -> Result<(ConnId, String), SfuError> {
        let id = self.next_id;
        self.next_id += 1;
        // Random credentials, the ufrag unique on this engine (RFC 8839: 4+ and 22+ characters).
        let pwd = uuid::Uuid::new_v4().simple().to_string();
        let ufrag = loop {
            let u = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
            if self.demux.set_credentials(id, &u, &pwd).is_ok() {
                break u;
            }
        };
        let local = Local {
            advertised: self.advertised,
            ufrag,
            pwd,
        };
        match Conn::answer(offer, &local, now) {
            Ok((conn, sdp)) => {
                self.conns.insert(id, conn);
                Ok((id, sdp))
            }
            Err(e) => {
                self.demux.remove(id);
                Err(e)
            }
        }
    }

    /// A candidate the client of `id` trickled (see [`Conn::add_remote_candidate`]).
    pub fn add_remote_candidate(&mut self, id: ConnId, candidate: &str) -> Result<(), SfuError> {
        self.conns
            .get_mut(&id)
            .ok_or(SfuError::Closed)?
            .add_remote_candidate(candidate)
    }

    /// Closes and forgets a connection.
    pub fn remove(&mut self, id: ConnId) {
        self.conns.remove(&id);
        self.demux.remove(id);
    }

    pub fn state(&self, id: ConnId) -> Option<RTCPeerConnectionState> {
        self.conns.get(&id).map(Conn::state)
    }

    pub fn demux(&self) -> &Demux {
        &self.demux
    }

    pub fn refused_sends(&self) -> u64 {
        self.refused_sends
    }

    /// One turn of the loop: waits up to `wait` (or the next timer) for datagrams, reads every
    /// batch waiting and routes each, runs the timers that are due, and sends what the
    /// connections made, in one flush.
    pub fn turn(&mut self, wait: Duration) -> io::Result<()> {
        let now = Instant::now();
        let next_timer = self
            .conns
            .values_mut()
            .filter_map(Conn::poll_timeout)
            .min()
            .map(|t| t.saturating_duration_since(now));
        let wait = next_timer.map_or(wait, |t| t.min(wait));
        if self.socket.wait(wait)? {
            let (demux, conns) = (&mut self.demux, &mut self.conns);
            let now = Instant::now();
            while self.socket.recv(|from, datagram| {
                if let Verdict::To(id) | Verdict::Learnt(id) = demux.route(from, datagram)
                    && let Some(c) = conns.get_mut(&id)
                {
                    c.read(now, from, datagram);
                }
            })? > 0
            {}
        }
        let now = Instant::now();
        for (&id, c) in &mut self.conns {
            if c.poll_timeout().is_some_and(|t| t <= now) {
                c.handle_timeout(now);
            }
            c.poll_events();
            while let Some((to, datagram)) = c.poll_transmit() {
                if self.demux.may_send(id, to) {
                    self.socket.queue(to, &datagram);
                } else {
                    self.refused_sends += 1;
                }
            }
        }
        self.socket.flush()?;
        Ok(())
    }
}
