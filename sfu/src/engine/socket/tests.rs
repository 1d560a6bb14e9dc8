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
    // MTU's worth, each larger than the last (so that no two make a GSO run). A round is what
    // fits a default receive buffer on loopback, where the kernel drops what overflows it (as
    // it would on a real network, later).
    for round in 0..2u32 {
        let sent: Vec<Vec<u8>> = (0..70u32)
            .map(|i| {
                let i = i + 70 * round;
                let len = 1 + i as usize * 8;
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
                pending: 0,
                segmented: 0,
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

/// Each receiver's datagrams, in order.
type PerReceiver = Vec<Vec<Vec<u8>>>;

/// `(receiver, size)` datagrams queued on one socket and flushed once: what each receiver
/// should get, what it got, and the flush.
fn send_to_three(sends: &[(usize, usize)]) -> (PerReceiver, PerReceiver, Flushed) {
    let mut tx = EngineSocket::bind(local()).unwrap();
    let mut rx: Vec<EngineSocket> = (0..3)
        .map(|_| EngineSocket::bind(local()).unwrap())
        .collect();
    let to: Vec<SocketAddr> = rx.iter().map(|r| r.local_addr().unwrap()).collect();
    let mut want = vec![Vec::new(); 3];
    for (i, &(r, len)) in sends.iter().enumerate() {
        let d: Vec<u8> = (0..len).map(|b| (b ^ i) as u8).collect();
        tx.queue(to[r], &d);
        want[r].push(d);
    }
    let done = tx.flush().unwrap();
    let got = rx
        .iter_mut()
        .zip(&want)
        .map(|(rx, w)| drain(rx, w.len(), 5).into_iter().map(|(_, d)| d).collect())
        .collect();
    (want, got, done)
}

#[test]
fn this_kernel_takes_gso_sends() {
    // Linux has had UDP_SEGMENT since 4.18, and loopback takes it; the tests below count
    // GSO sends, so a kernel without it must say so here rather than pass them vacuously.
    assert!(EngineSocket::bind(local()).unwrap().gso());
}

#[test]
fn a_run_of_equal_datagrams_to_one_destination_goes_as_one_gso_send() {
    // 10 full ones and a shorter last one: one send of 11 segments, split again by the
    // receiver (GRO or not) into the datagrams as they were.
    let sends: Vec<(usize, usize)> = (0..11)
        .map(|i| (0, if i < 10 { 1000 } else { 300 }))
        .collect();
    let (want, got, done) = send_to_three(&sends);
    assert_eq!(
        (done.sent, done.segmented, done.calls, done.dropped),
        (11, 11, 1, 0)
    );
    assert_eq!(got, want);
}

#[test]
fn interleaved_destinations_are_grouped_each_in_its_own_order() {
    // A, B, C, A, B, C, ...: grouped by destination, one GSO send each.
    let sends: Vec<(usize, usize)> = (0..12).map(|i| (i % 3, 1200)).collect();
    let (want, got, done) = send_to_three(&sends);
    assert_eq!((done.sent, done.segmented, done.calls), (12, 12, 3));
    assert_eq!(got, want, "each receiver gets its own, in order");
}

#[test]
fn a_larger_datagram_ends_a_run_and_singles_go_by_sendmmsg() {
    // To A: 1000, 1000, 500 (a run, ended by the shorter one), then 1000 and 1100 (no run:
    // the second is larger); to B one datagram.
    let sends = [
        (0, 1000),
        (0, 1000),
        (0, 500),
        (0, 1000),
        (0, 1100),
        (1, 64),
    ];
    let (want, got, done) = send_to_three(&sends);
    assert_eq!((done.sent, done.segmented, done.dropped), (6, 3, 0));
    assert_eq!(got, want);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Whatever the mix of destinations and sizes, each receiver gets exactly its
    /// datagrams, whole and in order.
    #[test]
    fn any_mix_arrives_whole_and_in_order_per_destination(
        sends in proptest::collection::vec((0usize..3, proptest::sample::select(vec![1usize, 100, 600, 1200, 1200, 1200])), 1..60)
    ) {
        let (want, got, done) = send_to_three(&sends);
        proptest::prop_assert_eq!(done.sent, sends.len());
        proptest::prop_assert_eq!(got, want);
    }
}
