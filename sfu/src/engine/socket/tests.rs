use super::*;

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Everything `rx` receives within `secs`, until `want` datagrams have come.
fn drain(rx: &mut EngineSocket, want: usize, secs: u64) -> Vec<(SocketAddr, Vec<u8>)> {
    let until = std::time::Instant::now() + Duration::from_secs(secs);
    let mut got = Vec::new();
    while got.len() < want && std::time::Instant::now() < until {
        if rx.wait(Duration::from_millis(100), None).unwrap().0 {
            rx.recv(|from, d| got.push((from, d.to_vec()))).unwrap();
        }
    }
    got
}

#[test]
fn a_flush_sends_every_queued_datagram_in_order() {
    let mut tx = EngineSocket::bind(local()).unwrap();
    let mut rx = EngineSocket::bind(local()).unwrap();
    let to = rx.local_addr().unwrap();
    let from = tx.local_addr().unwrap();
    // Two rounds of 70 (each more than one sendmmsg batch), of sizes from 1 byte to a full
    // MTU's worth. A round is what fits a default receive buffer on loopback, where the
    // kernel drops what overflows it (as it would on a real network, later).
    for round in 0..2u32 {
        let sent: Vec<Vec<u8>> = (0..70u32)
            .map(|i| {
                let i = i + 70 * round;
                let len = 1 + (i as usize * 37) % 1200;
                (0..len).map(|b| (b as u32 ^ i) as u8).collect()
            })
            .collect();
        for d in &sent {
            tx.queue(to, d);
        }
        assert_eq!(tx.queued(), 70);
        let done = tx.flush().unwrap();
        assert_eq!(
            done,
            Flushed {
                sent: 70,
                calls: 2,
                dropped: 0,
                pending: 0
            }
        );
        assert_eq!(tx.queued(), 0);
        let got = drain(&mut rx, sent.len(), 5);
        assert!(got.iter().all(|(a, _)| *a == from), "from the sender");
        let lens: Vec<usize> = got.iter().map(|(_, d)| d.len()).collect();
        let want: Vec<usize> = sent.iter().map(Vec::len).collect();
        assert_eq!(lens, want, "every datagram, whole and in order");
        let first_bad = got.iter().zip(&sent).position(|((_, d), s)| d != s);
        assert_eq!(first_bad, None, "the bytes as sent");
    }
}

#[test]
fn a_refused_datagram_is_dropped_and_the_rest_go_on() {
    let mut tx = EngineSocket::bind(local()).unwrap();
    let mut rx = EngineSocket::bind(local()).unwrap();
    let to = rx.local_addr().unwrap();
    tx.queue(to, b"first");
    // Over the largest UDP payload: the kernel refuses it (EMSGSIZE).
    tx.queue(to, &vec![7u8; 70_000]);
    tx.queue(to, b"after");
    let done = tx.flush().unwrap();
    assert_eq!((done.sent, done.dropped, done.pending), (2, 1, 0));
    let got: Vec<Vec<u8>> = drain(&mut rx, 2, 5).into_iter().map(|(_, d)| d).collect();
    assert_eq!(got, [b"first".to_vec(), b"after".to_vec()]);
}

#[test]
fn the_queue_is_bounded_and_an_idle_socket_has_nothing() {
    let mut tx = EngineSocket::bind(local()).unwrap();
    let rx = EngineSocket::bind(local()).unwrap();
    let to = rx.local_addr().unwrap();
    for i in 0..(MAX_QUEUED + 10) {
        tx.queue(to, &i.to_be_bytes());
    }
    assert_eq!(tx.queued(), MAX_QUEUED);
    let mut idle = EngineSocket::bind(local()).unwrap();
    assert_eq!(idle.recv(|_, _| ()).unwrap(), 0, "nothing waits");
    assert!(!idle.wait(Duration::from_millis(10), None).unwrap().0);
    // The 10 oldest were pushed out, and say so at the next flush.
    let done = tx.flush().unwrap();
    assert_eq!(done.dropped, 10);
    assert_eq!(done.sent + done.pending, MAX_QUEUED);
}
