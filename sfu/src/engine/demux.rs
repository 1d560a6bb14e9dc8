//! Which connection a datagram on an engine's one UDP port belongs to. Sans-IO: bytes and an
//! address in, a verdict out.
//!
//! Every peer connection of an engine shares its socket, so the engine routes each datagram
//! itself. A connection's local ICE ufrag is drawn at random for each ICE session (16 letters
//! from rtc's crypto source, again at each restart) and checked unique on the engine; the
//! remote 5-tuple is learnt, never taken on trust:
//! - A STUN Binding request names its connection by the local half of its USERNAME
//!   (`<our ufrag>:<their ufrag>`, RFC 8445 §7.2.2), and counts only if its MESSAGE-INTEGRITY
//!   verifies with that connection's local password (RFC 8489 §14.5). Such a request teaches
//!   the connection its sender's address (and moves the address to it, should it belong to
//!   another: a NAT that re-bound).
//! - Anything else (DTLS, SRTP, SRTCP, other STUN) is routed only from an address learnt that
//!   way. From any other address it is dropped and counted, before the connection's ICE agent
//!   sees it: rtc's agent, once a pair is selected, would take media from anyone.
//!
//! The server never sends to an address a client only named in a candidate: it sends only to
//! the addresses this demux learnt.
//!
//! An address is a [`Peer`], the transport included: a client's ICE-TCP connection is a path
//! of its own, proved by a check of its own, even from an address that proved a UDP flow.

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use rtc::crypto::RTCCryptoProvider;
use rtc::stun::attributes::{ATTR_MESSAGE_INTEGRITY, ATTR_USERNAME};
use rtc::stun::integrity::MessageIntegrity;
use rtc::stun::message::{BINDING_REQUEST, Message};

use super::transport::Peer;

/// A connection, as the engine numbers them.
pub type ConnId = u64;

/// Most addresses one connection is known by at once (a browser's candidates over IPv4 and
/// IPv6, on a couple of interfaces); a further one displaces the one learnt longest ago.
pub const MAX_ADDRESSES: usize = 8;

/// The longest ufrag taken (RFC 8839 allows 256 characters; ours are 16).
const MAX_UFRAG: usize = 256;

/// What a datagram is, by its first byte (RFC 7983 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stun,
    Dtls,
    /// RTP or RTCP (SRTP and SRTCP here).
    Media,
    Other,
}

/// The class of a datagram that starts with `first`.
pub fn classify(first: u8) -> Kind {
    match first {
        0..=3 => Kind::Stun,
        20..=63 => Kind::Dtls,
        128..=191 => Kind::Media,
        _ => Kind::Other,
    }
}

/// Whether a datagram is STUN (RFC 7983 §7; an empty one is not).
pub fn is_stun(datagram: &[u8]) -> bool {
    datagram.first().is_some_and(|b| classify(*b) == Kind::Stun)
}

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Drop {
    /// Empty, or of no class RFC 7983 knows.
    Garbage,
    /// Not a STUN Binding request, from an address no connection has proved.
    UnknownAddress,
    /// STUN that does not parse.
    BadStun,
    /// A Binding request without a USERNAME of the form `ours:theirs`, or without
    /// MESSAGE-INTEGRITY.
    NoCredentials,
    /// A USERNAME whose local ufrag is no connection's.
    UnknownUfrag,
    /// MESSAGE-INTEGRITY that does not verify with the connection's password.
    BadIntegrity,
}

impl Drop {
    pub const ALL: [Drop; 6] = [
        Drop::Garbage,
        Drop::UnknownAddress,
        Drop::BadStun,
        Drop::NoCredentials,
        Drop::UnknownUfrag,
        Drop::BadIntegrity,
    ];

    /// Its name, for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Drop::Garbage => "garbage",
            Drop::UnknownAddress => "unknown_address",
            Drop::BadStun => "bad_stun",
            Drop::NoCredentials => "no_credentials",
            Drop::UnknownUfrag => "unknown_ufrag",
            Drop::BadIntegrity => "bad_integrity",
        }
    }
}

/// Where a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// To this connection.
    To(ConnId),
    /// To this connection, whose verified Binding request just taught it the sender's address.
    Learnt(ConnId),
    /// Nowhere.
    Dropped(Drop),
}

#[derive(Debug, Clone)]
struct Credentials {
    conn: ConnId,
    pwd: String,
}

/// The engine's routing table: local ufrags to connections, and proved addresses to
/// connections.
pub struct Demux {
    crypto: Arc<dyn RTCCryptoProvider>,
    /// Keyed by what clients send (a ufrag, a source address): hashed with std's seeded
    /// SipHash, so that nobody can pick keys that collide.
    by_ufrag: HashMap<String, Credentials>,
    by_address: HashMap<Peer, ConnId>,
    /// Keyed by the ids the engine chose: a fast hash is safe here. `addresses` is the
    /// inverse of `by_address` (an address is in its connection's list exactly when
    /// `by_address` maps it there), oldest first; every datagram sent is checked against it.
    ufrag_of: FxHashMap<ConnId, String>,
    addresses: FxHashMap<ConnId, Vec<Peer>>,
    drops: HashMap<Drop, u64>,
}

/// A ufrag already in use on this engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UfragTaken;

impl Demux {
    pub fn new(crypto: Arc<dyn RTCCryptoProvider>) -> Demux {
        Demux {
            crypto,
            by_ufrag: HashMap::new(),
            ufrag_of: FxHashMap::default(),
            by_address: HashMap::new(),
            addresses: FxHashMap::default(),
            drops: HashMap::new(),
        }
    }

    /// Gives `conn` the local credentials its SDP advertises, replacing any it had (an ICE
    /// restart): the old ufrag names nothing from then on, and the addresses it proved stay
    /// until the new credentials prove others.
    pub fn set_credentials(
        &mut self,
        conn: ConnId,
        ufrag: &str,
        pwd: &str,
    ) -> Result<(), UfragTaken> {
        if self.by_ufrag.get(ufrag).is_some_and(|c| c.conn != conn) {
            return Err(UfragTaken);
        }
        if let Some(old) = self.ufrag_of.insert(conn, ufrag.to_owned()) {
            self.by_ufrag.remove(&old);
        }
        self.by_ufrag.insert(
            ufrag.to_owned(),
            Credentials {
                conn,
                pwd: pwd.to_owned(),
            },
        );
        Ok(())
    }

    /// The local ufrag `conn` is routed by, if it has one yet.
    pub fn ufrag(&self, conn: ConnId) -> Option<&str> {
        self.ufrag_of.get(&conn).map(String::as_str)
    }

    /// Forgets `conn`: its ufrag and its addresses.
    pub fn remove(&mut self, conn: ConnId) {
        if let Some(ufrag) = self.ufrag_of.remove(&conn) {
            self.by_ufrag.remove(&ufrag);
        }
        for a in self.addresses.remove(&conn).unwrap_or_default() {
            self.by_address.remove(&a);
        }
    }

    /// The addresses `conn` has proved, oldest first: the only ones the engine sends it to.
    pub fn addresses(&self, conn: ConnId) -> &[Peer] {
        self.addresses.get(&conn).map_or(&[], Vec::as_slice)
    }

    /// Whether the engine may send to `to` for `conn`.
    pub fn may_send(&self, conn: ConnId, to: impl Into<Peer>) -> bool {
        let to = to.into();
        self.addresses(conn).contains(&to)
    }

    /// Forgets an address whose flow ended (a closed TCP connection): a new flow from it
    /// proves itself again.
    pub fn forget_address(&mut self, peer: Peer) {
        if let Some(conn) = self.by_address.remove(&peer)
            && let Some(list) = self.addresses.get_mut(&conn)
        {
            list.retain(|a| *a != peer);
        }
    }

    /// Datagrams dropped so far, by why.
    pub fn dropped(&self, why: Drop) -> u64 {
        self.drops.get(&why).copied().unwrap_or(0)
    }

    /// Routes one datagram from `from`.
    pub fn route(&mut self, from: impl Into<Peer>, datagram: &[u8]) -> Verdict {
        let verdict = self.judge(from.into(), datagram);
        if let Verdict::Dropped(why) = verdict {
            *self.drops.entry(why).or_default() += 1;
        }
        verdict
    }

    fn judge(&mut self, from: Peer, datagram: &[u8]) -> Verdict {
        let Some(&first) = datagram.first() else {
            return Verdict::Dropped(Drop::Garbage);
        };
        match classify(first) {
            Kind::Other => Verdict::Dropped(Drop::Garbage),
            Kind::Stun => match self.binding_request(datagram) {
                // Not a Binding request (an indication, a response): only from a proved address.
                Ok(None) => self.known(from),
                Ok(Some(conn)) => {
                    if self.by_address.get(&from) == Some(&conn) {
                        Verdict::To(conn)
                    } else {
                        self.learn(conn, from);
                        Verdict::Learnt(conn)
                    }
                }
                Err(why) => Verdict::Dropped(why),
            },
            Kind::Dtls | Kind::Media => self.known(from),
        }
    }

    fn known(&self, from: Peer) -> Verdict {
        match self.by_address.get(&from) {
            Some(&conn) => Verdict::To(conn),
            None => Verdict::Dropped(Drop::UnknownAddress),
        }
    }

    /// The connection a verified Binding request is for; `None` for STUN of another type.
    fn binding_request(&self, datagram: &[u8]) -> Result<Option<ConnId>, Drop> {
        // One datagram is one message (RFC 8489 §6): its declared length is the rest.
        let declared = datagram
            .get(2..4)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])));
        if declared != Some(datagram.len().saturating_sub(20)) || datagram.len() < 20 {
            return Err(Drop::BadStun);
        }
        let mut m = Message::new();
        m.unmarshal_binary(datagram).map_err(|_| Drop::BadStun)?;
        if m.typ != BINDING_REQUEST {
            return Ok(None);
        }
        let username = m.get(ATTR_USERNAME).map_err(|_| Drop::NoCredentials)?;
        let (ours, theirs) = std::str::from_utf8(&username)
            .ok()
            .and_then(|u| u.split_once(':'))
            .ok_or(Drop::NoCredentials)?;
        if ours.is_empty() || theirs.is_empty() || ours.len() > MAX_UFRAG {
            return Err(Drop::NoCredentials);
        }
        let creds = self.by_ufrag.get(ours).ok_or(Drop::UnknownUfrag)?;
        // HMAC-SHA1 is 20 bytes; anything else cannot verify (and is not handed to the check).
        if m.get(ATTR_MESSAGE_INTEGRITY).map(|v| v.len()) != Ok(20) {
            return Err(Drop::NoCredentials);
        }
        MessageIntegrity::check(&mut m, creds.pwd.as_bytes(), self.crypto.crypto())
            .map_err(|_| Drop::BadIntegrity)?;
        Ok(Some(creds.conn))
    }

    fn learn(&mut self, conn: ConnId, from: Peer) {
        if let Some(previous) = self.by_address.insert(from, conn)
            && let Some(list) = self.addresses.get_mut(&previous)
        {
            list.retain(|a| *a != from);
        }
        let list = self.addresses.entry(conn).or_default();
        list.push(from);
        if list.len() > MAX_ADDRESSES {
            let oldest = list.remove(0);
            self.by_address.remove(&oldest);
        }
    }
}

/// A STUN Binding request as a client's ICE check is: this USERNAME (`ours:theirs`), signed
/// with `pwd`, fingerprinted (for tests of the demux and of the engine).
pub fn signed_binding_request(username: &str, pwd: &str) -> Vec<u8> {
    use rtc::stun::fingerprint::FINGERPRINT;
    use rtc::stun::message::{Setter, TransactionId};
    use rtc::stun::textattrs::TextAttribute;
    let Ok(crypto) = rtc::crypto::default_provider() else {
        return Vec::new();
    };
    let mut m = Message::new();
    let setters: Vec<Box<dyn Setter + '_>> = vec![
        Box::new(BINDING_REQUEST),
        Box::new(TransactionId::new()),
        Box::new(TextAttribute::new(ATTR_USERNAME, username.to_owned())),
        Box::new(MessageIntegrity::new_short_term_integrity_with_provider(
            pwd.to_owned(),
            crypto.crypto(),
        )),
        Box::new(FINGERPRINT),
    ];
    match m.build(&setters) {
        Ok(()) => m.raw,
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
