//! The engine's connections without a socket: a full ICE agent (webrtc-rs's `rtc`, as browsers
//! are) and the engine's [`Conns`] exchange datagrams in memory, on a virtual clock that jumps
//! to the next timer whenever nothing is in flight. Nothing is sent on any network.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use sfu::engine::conn::Local;
use sfu::engine::conns::Conns;
use sfu::engine::demux::{ConnId, Demux};
use sfu::engine::transport::Peer;

mod common;

/// Addresses only in name: nothing is bound or sent.
fn server() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7882))
}

fn client() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000))
}

/// A client's peer connection, the engine's connections, and the virtual clock.
struct Memory {
    client: RTCPeerConnection,
    client_addr: SocketAddr,
    client_state: RTCPeerConnectionState,
    conns: Conns,
    id: ConnId,
    start: Instant,
    now: Instant,
    /// DTLS ClientHellos the engine sent to the client.
    client_hellos: usize,
}

impl Memory {
    /// A client that offers a data channel, answered by the engine.
    fn connect_offer() -> Memory {
        let start = Instant::now();
        let client_addr = client();
        let (mut client, offer) = common::offering_client(start, client_addr);

        let crypto = rtc::crypto::default_provider().unwrap();
        let local = Local {
            advertised: server(),
            tcp: false,
            estimation: None,
        };
        let mut conns = Conns::new(Demux::new(crypto), local, Arc::default());
        let (id, answer) = conns.answer(&offer, start).unwrap();
        client
            .set_remote_description(start, RTCSessionDescription::answer(answer).unwrap())
            .unwrap();
        Memory {
            client,
            client_addr,
            client_state: RTCPeerConnectionState::New,
            conns,
            id,
            start,
            now: start,
            client_hellos: 0,
        }
    }

    fn server_state(&self) -> Option<RTCPeerConnectionState> {
        self.conns.state(self.id)
    }

    fn connected(&self) -> bool {
        self.client_state == RTCPeerConnectionState::Connected
            && self.server_state() == Some(RTCPeerConnectionState::Connected)
    }

    /// Delivers everything in flight both ways; returns how many datagrams moved.
    fn exchange(&mut self) -> usize {
        let mut moved = 0;
        while let Some(out) = self.client.poll_write() {
            assert_eq!(out.transport.peer_addr, server());
            moved += 1;
            if let Some(id) =
                self.conns
                    .deliver(self.now, Peer::udp(self.client_addr), &out.message)
            {
                while self.conns.get(id).and_then(|c| c.poll()).is_some() {}
            }
        }
        for id in self.conns.run_timers(self.now) {
            while self.conns.get(id).and_then(|c| c.poll()).is_some() {}
        }
        let mut back = Vec::new();
        self.conns
            .flush(|to, bytes| back.push((to, BytesMut::from(bytes))));
        for (to, message) in back {
            assert_eq!(
                to,
                Peer::udp(self.client_addr),
                "the engine sends only to the client"
            );
            // A DTLS handshake record (22) whose message is a ClientHello (1, after the
            // 13-byte record header).
            if message.first() == Some(&22) && message.get(13) == Some(&1) {
                self.client_hellos += 1;
            }
            moved += 1;
            let _ = self.client.handle_read(TaggedBytesMut {
                now: self.now,
                transport: TransportContext {
                    local_addr: self.client_addr,
                    peer_addr: server(),
                    ecn: None,
                    transport_protocol: TransportProtocol::UDP,
                },
                message,
            });
        }
        while let Some(event) = self.client.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) = event {
                self.client_state = s;
            }
        }
        while self.client.poll_read().is_some() {}
        moved
    }

    /// Runs until `done` or `limit` of virtual time: delivers what is in flight, and when
    /// nothing is, moves the clock to the next timer of either side.
    fn run_until(&mut self, limit: Duration, done: impl Fn(&Memory) -> bool) {
        for _ in 0..100_000 {
            if done(self) || self.now >= self.start + limit {
                return;
            }
            if self.exchange() > 0 {
                continue;
            }
            let next = [self.client.poll_timeout(), self.conns.next_timer()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(self.now + Duration::from_millis(10));
            self.now = next.max(self.now);
            if self.client.poll_timeout().is_some_and(|t| t <= self.now) {
                let _ = self.client.handle_timeout(self.now);
            }
        }
        panic!("no progress after 100 000 steps");
    }
}

/// The check that nominates the pair also starts the engine's DTLS handshake (it answers an
/// offer, so it is the DTLS client). The client drops anything but STUN until the answer to
/// that check selects its pair, so if the ClientHello went out first the handshake would wait
/// for its retransmission, a whole second.
#[test]
fn a_client_and_the_engine_connect_in_memory_without_a_dtls_retransmission() {
    let mut m = Memory::connect_offer();
    m.run_until(Duration::from_secs(30), Memory::connected);
    assert!(
        m.connected(),
        "client {:?}, engine {:?}",
        m.client_state,
        m.server_state()
    );
    let took = m.now - m.start;
    assert!(
        took < Duration::from_secs(1),
        "connected after {took:?} of virtual time: a DTLS flight was retransmitted"
    );
    // The first ClientHello, and the second with the client's cookie: none sent again.
    assert_eq!(m.client_hellos, 2, "ClientHellos the engine sent");
}
