use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::engine::transport::{Proto, ServerIo, Transport};

fn frame(bytes: &[u8]) -> Vec<u8> {
    let mut f = u16::try_from(bytes.len()).unwrap().to_be_bytes().to_vec();
    f.extend_from_slice(bytes);
    f
}

fn io(limits: TcpLimits) -> (ServerIo, SocketAddr) {
    let io = ServerIo::bind(SocketAddr::from(([127, 0, 0, 1], 0)), Some(limits)).unwrap();
    let at = io.local_addr().unwrap();
    (io, at)
}

/// Turns `io` (wait, read everything, flush) until `done` holds of it and what came, or 5 s
/// pass.
fn pump_until(
    io: &mut ServerIo,
    mut done: impl FnMut(&ServerIo, &[(Peer, Vec<u8>)]) -> bool,
) -> Vec<(Peer, Vec<u8>)> {
    let until = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while !done(io, &got) && Instant::now() < until {
        if io.wait(Duration::from_millis(50), None).unwrap().0 {
            while io.recv(|p, d| got.push((p, d.to_vec()))).unwrap() > 0 {}
        }
        io.flush().unwrap();
    }
    got
}

/// [`pump_until`] what came satisfies `done`.
fn pump(
    io: &mut ServerIo,
    mut done: impl FnMut(&[(Peer, Vec<u8>)]) -> bool,
) -> Vec<(Peer, Vec<u8>)> {
    pump_until(io, |_, got| done(got))
}

/// Reads from `client` until `want` bytes came or it ends; what came.
fn read_exactly(client: &mut TcpStream, want: usize) -> Vec<u8> {
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut got = vec![0; want];
    let mut at = 0;
    while at < want {
        match client.read(&mut got[at..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => at += n,
        }
    }
    got.truncate(at);
    got
}

/// Whether the server closed `client` (a read sees its end, or a reset).
fn closed_by_server(client: &mut TcpStream) -> bool {
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut b = [0u8; 1];
    matches!(client.read(&mut b), Ok(0) | Err(_))
}

#[test]
fn frames_split_anywhere_come_out_whole_and_replies_go_back_framed() {
    let (mut io, at) = io(TcpLimits::default());
    let mut client = TcpStream::connect(at).unwrap();
    let me = Peer::tcp(client.local_addr().unwrap());
    let mut stream = frame(b"first");
    stream.extend(frame(&[]));
    stream.extend(frame(&vec![9u8; 1500]));
    // Written in pieces that cut the length fields and the frames.
    for piece in stream.chunks(7) {
        client.write_all(piece).unwrap();
        client.flush().unwrap();
    }
    let got = pump(&mut io, |g| g.len() >= 2);
    assert_eq!(got.len(), 2, "the empty frame is skipped");
    assert_eq!(got[0], (me, b"first".to_vec()));
    assert_eq!(got[1], (me, vec![9u8; 1500]));
    assert_eq!(me.proto, Proto::Tcp);

    io.queue(me, b"answer");
    io.queue(me, &[1, 2, 3]);
    let flushed = io.flush().unwrap();
    assert_eq!(flushed.sent, 2);
    let mut want = frame(b"answer");
    want.extend(frame(&[1, 2, 3]));
    assert_eq!(read_exactly(&mut client, want.len()), want);
    let c = io.tcp().unwrap().counts();
    assert_eq!((c.accepted, c.frames_in, c.frames_out), (1, 2, 2));
}

#[test]
fn udp_and_tcp_share_the_port_number_and_stay_apart() {
    let (mut io, at) = io(TcpLimits::default());
    assert_eq!(io.tcp().unwrap().local_addr().unwrap(), at);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.send_to(b"over udp", at).unwrap();
    let mut tcp = TcpStream::connect(at).unwrap();
    tcp.write_all(&frame(b"over tcp")).unwrap();
    let got = pump(&mut io, |g| g.len() >= 2);
    let mut protos: Vec<(Proto, Vec<u8>)> = got.into_iter().map(|(p, d)| (p.proto, d)).collect();
    protos.sort();
    assert_eq!(
        protos,
        [
            (Proto::Udp, b"over udp".to_vec()),
            (Proto::Tcp, b"over tcp".to_vec())
        ]
    );
}

#[test]
fn connections_past_the_limits_are_refused() {
    let limits = TcpLimits {
        per_ip: 2,
        ..TcpLimits::default()
    };
    let (mut io, at) = io(limits);
    let mut clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(at).unwrap()).collect();
    pump_until(&mut io, |io, _| {
        let c = io.tcp().unwrap().counts();
        c.accepted + c.refused == 3
    });
    let t = io.tcp().unwrap();
    assert_eq!(
        (t.counts().accepted, t.counts().refused, t.open()),
        (2, 1, 2)
    );
    assert!(closed_by_server(&mut clients[2]), "the third is closed");

    let limits = TcpLimits {
        connections: 1,
        ..TcpLimits::default()
    };
    let (mut io, at) = self::io(limits);
    let _one = TcpStream::connect(at).unwrap();
    let mut two = TcpStream::connect(at).unwrap();
    pump_until(&mut io, |io, _| io.tcp().unwrap().counts().refused == 1);
    assert_eq!(io.tcp().unwrap().counts().accepted, 1);
    assert!(closed_by_server(&mut two));
    clients.clear();
}

#[test]
fn a_connection_never_answered_is_closed_and_reported() {
    let limits = TcpLimits {
        unanswered: Duration::from_secs(10),
        ..TcpLimits::default()
    };
    let (mut io, at) = io(limits);
    let mut client = TcpStream::connect(at).unwrap();
    client.write_all(&frame(b"not a check")).unwrap();
    let got = pump(&mut io, |g| !g.is_empty());
    assert_eq!(got.len(), 1);
    let tcp = io.tcp_mut().unwrap();
    // Before the deadline it stays; past it, it goes.
    tcp.flush(Instant::now() + Duration::from_secs(5));
    assert_eq!(tcp.open(), 1);
    tcp.flush(Instant::now() + Duration::from_secs(11));
    assert_eq!(tcp.open(), 0);
    let mut gone = Vec::new();
    io.take_closed(|p| gone.push(p));
    assert_eq!(gone, [Peer::tcp(client.local_addr().unwrap())]);
    assert!(closed_by_server(&mut client));
}

#[test]
fn an_answered_connection_stays_until_it_falls_silent() {
    let (mut io, at) = io(TcpLimits::default());
    let client = TcpStream::connect(at).unwrap();
    let me = Peer::tcp(client.local_addr().unwrap());
    (&client).write_all(&frame(b"check")).unwrap();
    pump(&mut io, |g| !g.is_empty());
    io.queue(me, b"answer");
    io.flush().unwrap();
    let tcp = io.tcp_mut().unwrap();
    tcp.flush(Instant::now() + Duration::from_secs(20));
    assert_eq!(
        tcp.open(),
        1,
        "answered, and read from within the idle limit"
    );
    tcp.flush(Instant::now() + Duration::from_secs(31));
    assert_eq!(tcp.open(), 0, "silent past the idle limit");
}

#[test]
fn a_full_write_buffer_drops_frames_and_a_frame_too_big_is_dropped() {
    let limits = TcpLimits {
        write_buffer: 4 * 1024,
        ..TcpLimits::default()
    };
    let (mut io, at) = io(limits);
    let client = TcpStream::connect(at).unwrap();
    let me = Peer::tcp(client.local_addr().unwrap());
    (&client).write_all(&frame(b"check")).unwrap();
    pump(&mut io, |g| !g.is_empty());
    // Queued in one turn, before any flush: 4 frames of 1002 bytes fit in 4 KiB, a 5th
    // does not.
    for _ in 0..5 {
        io.queue(me, &[0u8; 1000]);
    }
    io.queue(me, &vec![0u8; MAX_FRAME + 1]);
    io.queue(Peer::tcp(SocketAddr::from(([127, 0, 0, 1], 9))), b"nobody");
    let f = io.flush().unwrap();
    assert_eq!((f.sent, f.dropped), (4, 3));
}

#[test]
fn a_client_that_closes_is_reported_closed() {
    let (mut io, at) = io(TcpLimits::default());
    let client = TcpStream::connect(at).unwrap();
    let me = Peer::tcp(client.local_addr().unwrap());
    (&client).write_all(&frame(b"hello")).unwrap();
    pump(&mut io, |g| !g.is_empty());
    drop(client);
    pump_until(&mut io, |io, _| io.tcp().unwrap().open() == 0);
    let mut gone = Vec::new();
    io.take_closed(|p| gone.push(p));
    assert_eq!(gone, [me]);
    assert_eq!(io.tcp().unwrap().open(), 0);
}

proptest! {
    /// However a stream of frames is cut into reads, the same frames come out, in order.
    #[test]
    fn framing_survives_any_cut(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20),
        cuts in prop::collection::vec(1usize..400, 1..50),
    ) {
        let stream: Vec<u8> = frames.iter().flat_map(|f| frame(f)).collect();
        let mut buf = vec![0u8; 2 + MAX_FRAME];
        let mut filled = 0;
        let mut out: Vec<Vec<u8>> = Vec::new();
        let mut at = 0;
        let mut cut = cuts.iter().cycle();
        while at < stream.len() {
            let n = (*cut.next().unwrap()).min(stream.len() - at);
            buf[filled..filled + n].copy_from_slice(&stream[at..at + n]);
            filled += n;
            at += n;
            frames_in(&mut buf, &mut filled, |f| out.push(f.to_vec()));
        }
        let want: Vec<Vec<u8>> = frames.into_iter().filter(|f| !f.is_empty()).collect();
        prop_assert_eq!(out, want);
        prop_assert_eq!(filled, 0);
    }
}
