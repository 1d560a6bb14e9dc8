//! The engine answers a peer connection on its one port, as an ICE-lite agent: a full ICE
//! agent (webrtc-rs's `rtc`, as browsers are) connects to it, ICE and DTLS complete, and
//! the data channel it offered opens. Datagrams from an address that never passed a check
//! reach no connection. A client that has only TCP connects over ICE-TCP on the same port
//! number. An ICE restart moves a connection to new credentials in place. Loopback only.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use sfu::engine::Engine;
use sfu::engine::demux::{ConnId, Drop, signed_binding_request as binding};
use sfu::engine::transport::Peer;

mod common;

struct Client {
    pc: RTCPeerConnection,
    socket: UdpSocket,
    addr: SocketAddr,
    state: RTCPeerConnectionState,
    /// A client whose UDP is blocked: everything goes over this ICE-TCP connection to the
    /// engine, as RFC 4571 frames, with the bytes not yet framed.
    tcp: Option<(TcpStream, Vec<u8>)>,
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
                tcp: None,
            },
            sdp,
        )
    }

    /// A client that reaches the engine only over TCP, at `engine`. Its ICE agent is told of
    /// a UDP path, which this harness carries over the TCP connection: the engine's side is
    /// what is under test.
    fn offer_over_tcp(engine: SocketAddr) -> (Client, String) {
        let stream = TcpStream::connect(engine).unwrap();
        stream.set_nonblocking(true).unwrap();
        let addr = stream.local_addr().unwrap();
        let (pc, sdp) = common::offering_client(Instant::now(), addr);
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        (
            Client {
                pc,
                socket,
                addr,
                state: RTCPeerConnectionState::New,
                tcp: Some((stream, Vec::new())),
            },
            sdp,
        )
    }

    /// Applies the engine's answer.
    fn answered(&mut self, answer: impl Into<String>) {
        self.pc
            .set_remote_description(
                Instant::now(),
                RTCSessionDescription::answer(answer.into()).unwrap(),
            )
            .unwrap();
    }

    fn hand_in(&mut self, from: SocketAddr, bytes: &[u8]) {
        let _ = self.pc.handle_read(TaggedBytesMut {
            now: Instant::now(),
            transport: TransportContext {
                local_addr: self.addr,
                peer_addr: from,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: BytesMut::from(bytes),
        });
    }

    /// Reads what came, runs timers, sends what the connection made.
    fn turn(&mut self) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            self.hand_in(from, &buf[..n]);
        }
        if let Some((mut stream, mut pending)) = self.tcp.take() {
            let from = stream.peer_addr().unwrap();
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stream.read(&mut chunk) {
                pending.extend_from_slice(&chunk[..n]);
            }
            while pending.len() >= 2 {
                let len = usize::from(u16::from_be_bytes([pending[0], pending[1]]));
                if pending.len() < 2 + len {
                    break;
                }
                let frame: Vec<u8> = pending.drain(..2 + len).skip(2).collect();
                self.hand_in(from, &frame);
            }
            self.tcp = Some((stream, pending));
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
            match &mut self.tcp {
                Some((stream, _)) => {
                    let len = u16::try_from(out.message.len()).unwrap().to_be_bytes();
                    stream.set_nonblocking(false).unwrap();
                    stream.write_all(&len).unwrap();
                    stream.write_all(&out.message).unwrap();
                    stream.set_nonblocking(true).unwrap();
                }
                None => {
                    let _ = self.socket.send_to(&out.message, out.transport.peer_addr);
                }
            }
        }
    }
}

/// Turns the client and the engine until both sides of connection `id` are connected (ICE
/// and DTLS done), for at most 10 s, and asserts that they are.
fn connect(client: &mut Client, engine: &mut Engine, id: ConnId) {
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
}

#[test]
fn a_client_without_udp_connects_over_ice_tcp_on_the_same_port_number() {
    let mut engine =
        Engine::bind("127.0.0.1:0".parse().unwrap(), None, Default::default()).unwrap();
    let at = engine.advertised();
    let (mut client, offer) = Client::offer_over_tcp(at);
    let (id, answer) = engine.answer(&offer, Instant::now()).unwrap();
    assert!(
        answer.lines().any(|l| {
            l.starts_with("a=candidate")
                && l.contains(&format!(
                    " {} {} typ host tcptype passive",
                    at.ip(),
                    at.port()
                ))
                && l.contains(" tcp ")
        }),
        "a passive TCP candidate on the engine's port:\n{answer}"
    );
    client.answered(answer);
    connect(&mut client, &mut engine, id);
    assert_eq!(
        engine.demux().addresses(id),
        [Peer::tcp(client.addr)],
        "the TCP connection's address, learnt from its check, is the only one"
    );
    let tcp = engine.transport().tcp().unwrap().counts();
    assert_eq!(tcp.accepted, 1);
    assert!(tcp.frames_in > 0 && tcp.frames_out > 0, "{tcp:?}");
    // The client goes: the engine closes its side and forgets the address.
    client.tcp = None;
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until && !engine.demux().addresses(id).is_empty() {
        engine.turn(Duration::from_millis(5)).unwrap();
    }
    assert!(engine.demux().addresses(id).is_empty());
    assert_eq!(engine.transport().tcp().unwrap().open(), 0);
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
    client.answered(answer.clone());

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

    connect(&mut client, &mut engine, id);
    assert_eq!(
        engine.demux().addresses(id),
        [Peer::udp(client.addr)],
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

/// The value of `a=<name>:` in an SDP.
fn attr(sdp: &str, name: &str) -> String {
    let prefix = format!("a={name}:");
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {prefix} in\n{sdp}"))
        .to_owned()
}

#[test]
fn an_ice_restart_gives_the_connection_new_credentials_in_place() {
    let counters = std::sync::Arc::new(sfu::Counters::default());
    let mut engine = Engine::bind("127.0.0.1:0".parse().unwrap(), None, counters.clone()).unwrap();
    let (mut client, client_sdp) = Client::offer();
    let (id, answer) = engine.answer(&client_sdp, Instant::now()).unwrap();
    client.answered(answer.clone());
    connect(&mut client, &mut engine, id);
    let (old_ufrag, old_pwd) = (attr(&answer, "ice-ufrag"), attr(&answer, "ice-pwd"));

    // The client's network changed: it offers new credentials on the same connection.
    client.pc.restart_ice();
    let offer = client.pc.create_offer(None).unwrap();
    client
        .pc
        .set_local_description(Instant::now(), offer.clone())
        .unwrap();
    assert_ne!(
        attr(&offer.sdp, "ice-ufrag"),
        attr(&client_sdp, "ice-ufrag"),
        "the client's restart offer has new credentials"
    );
    let answer = engine
        .conns()
        .answer_on(id, &offer.sdp, Instant::now())
        .unwrap();
    let ufrag = attr(&answer, "ice-ufrag");
    assert_ne!(
        ufrag, old_ufrag,
        "the answer to a restart carries a new ufrag"
    );
    assert_ne!(attr(&answer, "ice-pwd"), old_pwd, "and a new password");
    assert_eq!(
        engine.demux().ufrag(id),
        Some(ufrag.as_str()),
        "routed by the new ufrag"
    );
    assert_eq!(
        counters
            .ice_restarts
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // Its agent starts the session over: checking again, until the client's new checks.
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until && engine.state(id) == Some(RTCPeerConnectionState::Connected) {
        engine.turn(Duration::from_millis(5)).unwrap();
    }
    assert_eq!(engine.state(id), Some(RTCPeerConnectionState::Connecting));

    // A check with the old credentials names nothing now, even with the right password.
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    stranger
        .send_to(
            &binding(&format!("{old_ufrag}:theirs"), &old_pwd),
            engine.advertised(),
        )
        .unwrap();
    client.answered(answer);
    connect(&mut client, &mut engine, id);
    assert_eq!(
        engine.demux().dropped(Drop::UnknownUfrag),
        1,
        "the old ufrag's check"
    );
    assert_eq!(
        engine.demux().addresses(id),
        [Peer::udp(client.addr)],
        "the same path, proved again"
    );
}
