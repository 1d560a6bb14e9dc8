//! The engine answers a peer connection on its one port, as an ICE-lite agent: a full ICE
//! agent (webrtc-rs's `rtc`, as browsers are) connects to it, ICE and DTLS complete, and
//! the data channel it offered opens. Datagrams from an address that never passed a check
//! reach no connection. Loopback only.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use sfu::engine::Engine;
use sfu::engine::demux::{Drop, signed_binding_request as binding};

mod common;

struct Client {
    pc: RTCPeerConnection,
    socket: UdpSocket,
    addr: SocketAddr,
    state: RTCPeerConnectionState,
}

impl Client {
    fn offer() -> (Client, String) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let addr = socket.local_addr().unwrap();
        let (pc, sdp) = common::offering_client(Instant::now(), addr);
        (
            Client {
                pc,
                socket,
                addr,
                state: RTCPeerConnectionState::New,
            },
            sdp,
        )
    }

    /// Reads what came, runs timers, sends what the connection made.
    fn turn(&mut self) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            let _ = self.pc.handle_read(TaggedBytesMut {
                now: Instant::now(),
                transport: TransportContext {
                    local_addr: self.addr,
                    peer_addr: from,
                    ecn: None,
                    transport_protocol: TransportProtocol::UDP,
                },
                message: BytesMut::from(&buf[..n]),
            });
        }
        let now = Instant::now();
        if self.pc.poll_timeout().is_some_and(|t| t <= now) {
            let _ = self.pc.handle_timeout(now);
        }
        while let Some(event) = self.pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) = event {
                self.state = s;
            }
        }
        while self.pc.poll_read().is_some() {}
        while let Some(out) = self.pc.poll_write() {
            let _ = self.socket.send_to(&out.message, out.transport.peer_addr);
        }
    }
}

#[test]
fn a_full_ice_agent_connects_to_the_engine_on_its_one_port() {
    let mut engine =
        Engine::bind("127.0.0.1:0".parse().unwrap(), None, Default::default()).unwrap();
    let (mut client, offer) = Client::offer();
    let (id, answer) = engine.answer(&offer, Instant::now()).unwrap();
    assert!(
        answer.contains("a=ice-lite"),
        "the engine is ICE-lite:\n{answer}"
    );
    let port = engine.advertised().port().to_string();
    assert!(
        answer
            .lines()
            .any(|l| l.starts_with("a=candidate") && l.contains(&port)),
        "one host candidate, the engine's port:\n{answer}"
    );
    client
        .pc
        .set_remote_description(
            Instant::now(),
            RTCSessionDescription::answer(answer.clone()).unwrap(),
        )
        .unwrap();

    // The client names a candidate at another address in the namespace: a socket that must
    // receive nothing from the engine (no checks, no media: a reflection or SSRF path).
    let named = UdpSocket::bind("127.0.0.1:0").unwrap();
    named.set_nonblocking(true).unwrap();
    let elsewhere = named.local_addr().unwrap();
    engine
        .add_remote_candidate(
            id,
            &format!(
                "candidate:1 1 udp 2130706431 {} {} typ host",
                elsewhere.ip(),
                elsewhere.port()
            ),
        )
        .unwrap();
    // A stranger sends media-like and DTLS-like datagrams to the engine's port.
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = engine.advertised();
    stranger.send_to(&[0x80, 96, 0, 1, 0, 0, 0, 0], to).unwrap();
    stranger.send_to(&[22, 254, 253, 0, 0], to).unwrap();
    // Before its first check, even the client's own address is nobody's: media from it (or
    // from someone spoofing it) reaches nothing.
    client
        .socket
        .send_to(&[0x80, 96, 0, 2, 0, 0, 0, 0], to)
        .unwrap();
    // Checks that name no connection, or that fail integrity, teach nothing.
    let ufrag = answer
        .lines()
        .find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:"))
        .unwrap()
        .to_owned();
    stranger
        .send_to(&binding("nosuchufrag00000:theirs", "any-password"), to)
        .unwrap();
    stranger
        .send_to(&binding(&format!("{ufrag}:theirs"), "not-the-password"), to)
        .unwrap();

    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until
        && !(client.state == RTCPeerConnectionState::Connected
            && engine.state(id) == Some(RTCPeerConnectionState::Connected))
    {
        client.turn();
        engine.turn(Duration::from_millis(5)).unwrap();
    }
    assert_eq!(
        client.state,
        RTCPeerConnectionState::Connected,
        "the client"
    );
    assert_eq!(
        engine.state(id),
        Some(RTCPeerConnectionState::Connected),
        "the engine's connection"
    );
    assert_eq!(
        engine.demux().addresses(id),
        [client.addr],
        "learnt from its check"
    );
    assert_eq!(
        engine.demux().dropped(Drop::UnknownAddress),
        3,
        "the stranger's datagrams, and the client's before its check, reached nothing"
    );
    assert_eq!(
        engine.demux().dropped(Drop::UnknownUfrag),
        1,
        "a check for nobody"
    );
    assert_eq!(
        engine.demux().dropped(Drop::BadIntegrity),
        1,
        "a forged check"
    );
    // A little longer connected, then: the named address got nothing.
    let settle = Instant::now() + Duration::from_millis(500);
    while Instant::now() < settle {
        client.turn();
        engine.turn(Duration::from_millis(5)).unwrap();
    }
    let mut buf = [0u8; 2048];
    assert!(
        named.recv_from(&mut buf).is_err(),
        "an address the client only named receives nothing"
    );
    assert_eq!(engine.refused_sends(), 0, "nor was anything meant for it");
    engine.conns().close(id);
    assert!(engine.demux().addresses(id).is_empty());
}
