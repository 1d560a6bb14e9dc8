//! How soon a connection the engine answers is up, in memory on a virtual clock: a full
//! webrtc-rs client offers (as a browser's publish connection does), the engine answers as the
//! DTLS client, and the handshake must follow the ICE check that selects the pair at once,
//! round trip after round trip, not wait on some timer of the engine's. Nothing is sent on
//! any network.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::{RTCIceConnectionState, RTCPeerConnectionState};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use sfu::engine::conn::Local;
use sfu::engine::conns::Conns;
use sfu::engine::demux::Demux;
use sfu::engine::transport::Peer;

mod common;

/// Addresses only in name: nothing is bound or sent.
fn server() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7882))
}

fn client_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000))
}

/// One way on the wire.
const DELAY: Duration = Duration::from_millis(5);
const STEP: Duration = Duration::from_millis(1);

/// A wire of fixed delay: what is sent at t arrives at t + DELAY.
#[derive(Default)]
struct Wire(VecDeque<(Instant, BytesMut)>);

impl Wire {
    fn send(&mut self, now: Instant, bytes: BytesMut) {
        self.0.push_back((now + DELAY, bytes));
    }

    fn arrived(&mut self, now: Instant) -> Vec<BytesMut> {
        let mut due = Vec::new();
        while self.0.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, bytes)) = self.0.pop_front() {
                due.push(bytes);
            }
        }
        due
    }
}

#[test]
fn the_answered_connection_is_up_a_few_round_trips_after_ice_selects_its_pair() {
    let start = Instant::now();
    let local = Local {
        advertised: server(),
        tcp: false,
        estimation: None,
    };
    let crypto = rtc::crypto::default_provider().unwrap();
    let mut conns = Conns::new(Demux::new(crypto), local, Arc::default());
    let (mut client, offer): (RTCPeerConnection, String) =
        common::offering_client(start, client_addr());
    let (id, answer) = conns.answer(&offer, start).unwrap();
    assert!(
        answer.contains("a=setup:active"),
        "the engine answers as the DTLS client:\n{answer}"
    );
    client
        .set_remote_description(start, RTCSessionDescription::answer(answer).unwrap())
        .unwrap();

    let (mut up, mut down) = (Wire::default(), Wire::default());
    let mut now = start;
    let mut ice_at = None;
    let mut client_up = false;
    let transport = TransportContext {
        local_addr: client_addr(),
        peer_addr: server(),
        ecn: None,
        transport_protocol: TransportProtocol::UDP,
    };
    while now < start + Duration::from_secs(5) {
        now += STEP;
        for message in up.arrived(now) {
            conns.deliver(now, Peer::udp(client_addr()), &message);
            while conns.get(id).and_then(|c| c.poll()).is_some() {}
        }
        for message in down.arrived(now) {
            let _ = client.handle_read(TaggedBytesMut {
                now,
                transport,
                message,
            });
        }
        if client.poll_timeout().is_some_and(|t| t <= now) {
            let _ = client.handle_timeout(now);
        }
        while let Some(event) = client.poll_event() {
            match event {
                RTCPeerConnectionEvent::OnIceConnectionStateChangeEvent(
                    RTCIceConnectionState::Connected,
                ) => {
                    ice_at.get_or_insert(now);
                }
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(
                    RTCPeerConnectionState::Connected,
                ) => {
                    client_up = true;
                }
                _ => {}
            }
        }
        while client.poll_read().is_some() {}
        while let Some(out) = client.poll_write() {
            up.send(now, out.message);
        }
        for woke in conns.run_timers(now) {
            while conns.get(woke).and_then(|c| c.poll()).is_some() {}
        }
        conns.flush(|_, bytes| down.send(now, BytesMut::from(bytes)));
        if client_up && conns.state(id) == Some(RTCPeerConnectionState::Connected) {
            break;
        }
    }
    let ice_at = ice_at.expect("the client's ICE connected");
    assert!(client_up, "the client's connection came up");
    assert_eq!(
        conns.state(id),
        Some(RTCPeerConnectionState::Connected),
        "the engine's connection came up"
    );
    // DTLS 1.2 with a cookie exchange: ClientHello, HelloVerifyRequest, ClientHello, the
    // server's flight, the client's, the server's Finished: three round trips from the check
    // that selected the pair (which reached the engine half a round trip before the client
    // heard its answer). Four allow for the steps of this loop.
    let took = now - ice_at;
    let rtt = 2 * DELAY;
    assert!(
        took <= 4 * rtt,
        "both sides connected {took:?} (virtual) after the client's ICE connected, more than four round trips of {rtt:?}"
    );
}
