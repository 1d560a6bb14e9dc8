//! The media engine's demux on its shared UDP port: any datagram from any address is routed or
//! dropped, never a panic, and from an address no check proved nothing reaches a connection but
//! a Binding request that verifies. Half the inputs are raw datagrams; the other half are a
//! valid check damaged by the input (bytes flipped, cut short, extended), which drives the
//! STUN parser and the MESSAGE-INTEGRITY check far deeper than random bytes would.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rtc::stun::attributes::ATTR_USERNAME;
use rtc::stun::fingerprint::FINGERPRINT;
use rtc::stun::integrity::MessageIntegrity;
use rtc::stun::message::{BINDING_REQUEST, Message, Setter, TransactionId};
use rtc::stun::textattrs::TextAttribute;
use sfu::engine::demux::{Demux, Verdict};

const UFRAG: &str = "ufragAAAAAAAAAAA";
const PWD: &str = "password-of-connection-one";

fn valid() -> &'static [u8] {
    static CHECK: OnceLock<Vec<u8>> = OnceLock::new();
    CHECK.get_or_init(|| {
        let crypto = rtc::crypto::default_provider().expect("ring is built in");
        let mut m = Message::new();
        let setters: Vec<Box<dyn Setter + '_>> = vec![
            Box::new(BINDING_REQUEST),
            Box::new(TransactionId::new()),
            Box::new(TextAttribute::new(ATTR_USERNAME, format!("{UFRAG}:remote"))),
            Box::new(MessageIntegrity::new_short_term_integrity_with_provider(
                PWD.to_owned(),
                crypto.crypto(),
            )),
            Box::new(FINGERPRINT),
        ];
        m.build(&setters).expect("a check builds");
        m.raw.clone()
    })
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let crypto = rtc::crypto::default_provider().expect("ring is built in");
    let mut d = Demux::new(crypto);
    d.set_credentials(1, UFRAG, PWD).expect("a fresh demux");
    let browser = addr(40000);
    assert_eq!(d.route(browser, valid()), Verdict::Learnt(1));
    let datagram = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        // Pairs of (position, xor), then: an odd byte left over cuts the check there.
        let mut v = valid().to_vec();
        let mut pairs = rest.chunks_exact(2);
        for p in &mut pairs {
            let at = usize::from(p[0]) % v.len();
            v[at] ^= p[1];
        }
        if let [cut] = pairs.remainder() {
            v.truncate(usize::from(*cut));
        }
        if mode & 4 != 0 {
            v.extend_from_slice(rest);
        }
        v
    };
    let stranger = addr(40001);
    let from = if mode & 2 == 0 { browser } else { stranger };
    let verdict = d.route(from, &datagram);
    if from == stranger {
        assert!(
            !matches!(verdict, Verdict::To(_)),
            "an unproved address reached a connection without a check: {verdict:?}"
        );
        if verdict == Verdict::Learnt(1) {
            // Only a check that verifies teaches: the same bytes verify again.
            let mut again = Demux::new(rtc::crypto::default_provider().expect("ring"));
            again.set_credentials(1, UFRAG, PWD).expect("a fresh demux");
            assert_eq!(again.route(stranger, &datagram), Verdict::Learnt(1));
        }
    }
});
