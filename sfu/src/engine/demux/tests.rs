use super::*;
use proptest::prelude::*;
use rtc::stun::message::{BINDING_SUCCESS, TransactionId};

fn crypto() -> Arc<dyn RTCCryptoProvider> {
    // Invariant: the crate is built with rtc's ring provider (Cargo.toml).
    rtc::crypto::default_provider().expect("the ring provider is built in")
}

/// A UDP peer on loopback.
fn addr(port: u16) -> Peer {
    Peer::udp(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
}

/// A Binding request as a browser sends it, `USERNAME` and all.
fn binding(username: &str, pwd: &str) -> Vec<u8> {
    signed_binding_request(username, pwd)
}

fn demux() -> Demux {
    let mut d = Demux::new(crypto());
    d.set_credentials(1, "ufragAAAAAAAAAAA", "password-of-connection-one")
        .unwrap();
    d.set_credentials(2, "ufragBBBBBBBBBBB", "password-of-connection-two")
        .unwrap();
    d
}

const DTLS: [u8; 4] = [22, 254, 253, 0];
const RTP: [u8; 4] = [0x80, 96, 0, 1];

#[test]
fn the_first_byte_says_what_a_datagram_is() {
    assert_eq!(classify(0), Kind::Stun);
    assert_eq!(classify(1), Kind::Stun);
    assert_eq!(classify(22), Kind::Dtls);
    assert_eq!(classify(0x80), Kind::Media);
    assert_eq!(classify(0x90), Kind::Media);
    assert_eq!(classify(200), Kind::Other);
    assert_eq!(classify(64), Kind::Other);
}

#[test]
fn only_a_verified_binding_request_teaches_an_address() {
    let mut d = demux();
    let browser = addr(40000);
    // Before any check, nothing from the browser's address reaches a connection.
    assert_eq!(
        d.route(browser, &DTLS),
        Verdict::Dropped(Drop::UnknownAddress)
    );
    assert_eq!(
        d.route(browser, &RTP),
        Verdict::Dropped(Drop::UnknownAddress)
    );
    // A check with the right password teaches connection 1 the address.
    let check = binding("ufragAAAAAAAAAAA:remote", "password-of-connection-one");
    assert_eq!(d.route(browser, &check), Verdict::Learnt(1));
    assert_eq!(d.addresses(1), [browser]);
    assert!(d.may_send(1, browser) && !d.may_send(2, browser));
    assert_eq!(d.route(browser, &check), Verdict::To(1), "known now");
    assert_eq!(d.route(browser, &DTLS), Verdict::To(1));
    assert_eq!(d.route(browser, &RTP), Verdict::To(1));
    // Another address sends media as if it were the browser: dropped.
    assert_eq!(
        d.route(addr(40001), &RTP),
        Verdict::Dropped(Drop::UnknownAddress)
    );
    assert_eq!(d.dropped(Drop::UnknownAddress), 3);
}

#[test]
fn wrong_credentials_teach_nothing() {
    let mut d = demux();
    let attacker = addr(41000);
    let wrong_pwd = binding("ufragAAAAAAAAAAA:remote", "guessed");
    assert_eq!(
        d.route(attacker, &wrong_pwd),
        Verdict::Dropped(Drop::BadIntegrity)
    );
    // The password of another connection does not open this one.
    let crossed = binding("ufragAAAAAAAAAAA:remote", "password-of-connection-two");
    assert_eq!(
        d.route(attacker, &crossed),
        Verdict::Dropped(Drop::BadIntegrity)
    );
    let unknown = binding("ufragZZZZZZZZZZZ:remote", "password-of-connection-one");
    assert_eq!(
        d.route(attacker, &unknown),
        Verdict::Dropped(Drop::UnknownUfrag)
    );
    for username in ["ufragAAAAAAAAAAA", ":remote", "ufragAAAAAAAAAAA:"] {
        let bad = binding(username, "password-of-connection-one");
        assert_eq!(
            d.route(attacker, &bad),
            Verdict::Dropped(Drop::NoCredentials),
            "{username:?}"
        );
    }
    assert_eq!(
        d.route(attacker, &[0, 1, 0]),
        Verdict::Dropped(Drop::BadStun)
    );
    assert_eq!(d.route(attacker, &[]), Verdict::Dropped(Drop::Garbage));
    assert_eq!(
        d.route(attacker, &[200, 1, 2]),
        Verdict::Dropped(Drop::Garbage)
    );
    assert!(d.addresses(1).is_empty() && !d.may_send(1, attacker));
    // A Binding response (not a request) is STUN from an unknown address: dropped.
    let mut m = Message::new();
    m.build(&[Box::new(BINDING_SUCCESS), Box::new(TransactionId::new())])
        .unwrap();
    assert_eq!(
        d.route(attacker, &m.raw),
        Verdict::Dropped(Drop::UnknownAddress)
    );
}

#[test]
fn an_address_moves_only_with_a_verified_check_and_restarts_change_the_ufrag() {
    let mut d = demux();
    let shared = addr(42000);
    let one = binding("ufragAAAAAAAAAAA:r1", "password-of-connection-one");
    let two = binding("ufragBBBBBBBBBBB:r2", "password-of-connection-two");
    assert_eq!(d.route(shared, &one), Verdict::Learnt(1));
    // A NAT re-bound the port to the other connection's browser, which proves it.
    assert_eq!(d.route(shared, &two), Verdict::Learnt(2));
    assert!(d.addresses(1).is_empty());
    assert_eq!(d.route(shared, &RTP), Verdict::To(2));
    // An ICE restart: new credentials; the old ufrag names nothing, the address stays.
    d.set_credentials(2, "ufragCCCCCCCCCCC", "new-password-two")
        .unwrap();
    assert_eq!(
        d.route(addr(42001), &two),
        Verdict::Dropped(Drop::UnknownUfrag)
    );
    assert_eq!(d.route(shared, &RTP), Verdict::To(2));
    let restarted = binding("ufragCCCCCCCCCCC:r3", "new-password-two");
    assert_eq!(d.route(addr(42002), &restarted), Verdict::Learnt(2));
    assert_eq!(d.addresses(2), [shared, addr(42002)]);
    // A ufrag is one connection's.
    assert_eq!(
        d.set_credentials(1, "ufragCCCCCCCCCCC", "x"),
        Err(UfragTaken)
    );
    // Removing a connection forgets its addresses.
    d.remove(2);
    assert_eq!(
        d.route(shared, &RTP),
        Verdict::Dropped(Drop::UnknownAddress)
    );
    assert_eq!(
        d.route(addr(42002), &restarted),
        Verdict::Dropped(Drop::UnknownUfrag)
    );
}

#[test]
fn a_tcp_flow_proves_itself_apart_from_udp_from_the_same_address_and_is_forgotten_when_closed() {
    let mut d = demux();
    let udp = addr(42100);
    let tcp = Peer::tcp(udp.addr);
    let check = binding("ufragAAAAAAAAAAA:r1", "password-of-connection-one");
    assert_eq!(d.route(udp, &check), Verdict::Learnt(1));
    assert_eq!(
        d.route(tcp, &RTP),
        Verdict::Dropped(Drop::UnknownAddress),
        "a proved UDP address proves nothing over TCP"
    );
    assert!(!d.may_send(1, tcp));
    assert_eq!(d.route(tcp, &check), Verdict::Learnt(1));
    assert_eq!(d.route(tcp, &DTLS), Verdict::To(1));
    assert_eq!(d.addresses(1), [udp, tcp]);
    // The TCP connection closed: its address must prove itself again.
    d.forget_address(tcp);
    assert_eq!(d.addresses(1), [udp]);
    assert_eq!(d.route(tcp, &DTLS), Verdict::Dropped(Drop::UnknownAddress));
    assert_eq!(d.route(udp, &RTP), Verdict::To(1));
}

#[test]
fn a_connection_keeps_a_bounded_number_of_addresses() {
    let mut d = demux();
    let check = binding("ufragAAAAAAAAAAA:r", "password-of-connection-one");
    for port in 0..(MAX_ADDRESSES as u16 + 3) {
        assert_eq!(d.route(addr(43000 + port), &check), Verdict::Learnt(1));
    }
    assert_eq!(d.addresses(1).len(), MAX_ADDRESSES);
    assert_eq!(d.addresses(1)[0], addr(43003), "the oldest went first");
    assert_eq!(
        d.route(addr(43000), &RTP),
        Verdict::Dropped(Drop::UnknownAddress)
    );
}

proptest! {
    /// Arbitrary bytes from an address nobody proved never reach a connection, and never
    /// panic the demux.
    #[test]
    fn noise_reaches_no_connection(bytes in proptest::collection::vec(any::<u8>(), 0..600), port in 1u16..) {
        let mut d = demux();
        let v = d.route(addr(port), &bytes);
        prop_assert!(matches!(v, Verdict::Dropped(_)), "{v:?} for {bytes:?}");
    }

    /// A valid check cut short, or with one byte changed, teaches nothing.
    #[test]
    fn damaged_checks_teach_nothing(cut in 0usize..200, flip in 0usize..200, bit in 0u8..8) {
        let mut d = demux();
        let good = binding("ufragAAAAAAAAAAA:remote", "password-of-connection-one");
        let mut short = good.clone();
        short.truncate(cut.min(good.len() - 1));
        prop_assert!(matches!(d.route(addr(44000), &short), Verdict::Dropped(_)));
        let mut flipped = good.clone();
        let at = flip % good.len();
        flipped[at] ^= 1 << bit;
        let v = d.route(addr(44001), &flipped);
        // MESSAGE-INTEGRITY covers everything before it, the header included; only the
        // FINGERPRINT after it (8 bytes) can change and still verify.
        let harmless = at >= good.len() - 8;
        prop_assert!(harmless || matches!(v, Verdict::Dropped(_)), "byte {at} bit {bit}: {v:?}");
    }

    /// Whatever mix of checks, restarts, closed flows and closed connections: the engine may
    /// send to an address for a connection exactly when that address routes to it.
    #[test]
    fn a_connection_may_send_exactly_where_it_is_routed(
        ops in proptest::collection::vec((0u8..4, 1u64..4, 0u16..12), 1..200),
    ) {
        let mut d = Demux::new(crypto());
        let creds = |c: u64, epoch: u8| (format!("ufrag{c}x{epoch:0>10}"), format!("pwd-of-{c}-{epoch}-padded-out"));
        let mut epoch = [0u8; 4];
        for c in 1..4u64 {
            let (u, p) = creds(c, 0);
            d.set_credentials(c, &u, &p).unwrap();
        }
        for (op, c, port) in ops {
            let from = addr(40000 + port);
            match op {
                0 | 1 => {
                    let (u, p) = creds(c, epoch[c as usize]);
                    let _ = d.route(from, &binding(&format!("{u}:remote"), &p));
                }
                2 => d.forget_address(from),
                _ if port % 2 == 0 => {
                    epoch[c as usize] += 1;
                    let (u, p) = creds(c, epoch[c as usize]);
                    d.set_credentials(c, &u, &p).unwrap();
                }
                _ => {
                    d.remove(c);
                    epoch[c as usize] += 1;
                    let (u, p) = creds(c, epoch[c as usize]);
                    d.set_credentials(c, &u, &p).unwrap();
                }
            }
            for c in 1..4u64 {
                prop_assert!(d.addresses(c).len() <= MAX_ADDRESSES);
                for port in 0..12u16 {
                    let a = addr(40000 + port);
                    let routed = d.by_address.get(&a) == Some(&c);
                    prop_assert_eq!(d.may_send(c, a), routed, "conn {} port {}", c, port);
                }
            }
        }
    }
}
