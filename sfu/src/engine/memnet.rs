//! A datagram network in memory, for running whole engines without the kernel: in tests of the
//! loop with fake sockets, and in the in-memory benchmark of the per-packet cost
//! (`cohort-loadtest engine`). Nothing here touches a real network.
//!
//! Each [`MemorySocket`] owns the addresses it was bound to and one inbox for all of them. A
//! datagram sent to an address nobody holds is lost and counted, as UDP would lose it. An
//! inbox holds at most [`INBOX`] datagrams, like a socket's receive buffer; past that, what
//! arrives is dropped and counted. An eventfd per inbox makes it pollable beside the engine's
//! waker, so an engine thread sleeps on it exactly as on its UDP socket.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::eventfd::{EfdFlags, EventFd};

use super::socket::Flushed;
use super::transport::{Peer, Proto, Transport, wait_readable};

/// Most datagrams waiting in one inbox.
pub const INBOX: usize = 64 * 1024;
/// Most datagrams one receive hands over, as one recvmmsg would.
pub const RECV_BATCH: usize = 32;
/// Where ports given for port 0 start, as Linux's ephemeral range does.
const EPHEMERAL: u16 = 49152;

/// One datagram in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

/// The network: who holds which address. Cheap to clone.
#[derive(Clone, Default)]
pub struct MemoryNet {
    net: Arc<Net>,
}

#[derive(Default)]
struct Net {
    endpoints: Mutex<HashMap<SocketAddr, Arc<Inbox>>>,
    /// Sent to an address nobody holds.
    unroutable: AtomicU64,
    /// Arrived at a full inbox.
    overflowed: AtomicU64,
}

struct Inbox {
    queue: Mutex<VecDeque<Datagram>>,
    /// Datagrams ever put in it.
    arrived: AtomicU64,
    /// Readable while datagrams may wait.
    ready: EventFd,
}

/// Locks `m`, whose data stays whole even if a holder panicked: every critical section below
/// is a push or a drain that leaves the queue or map consistent at each step.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MemoryNet {
    pub fn new() -> MemoryNet {
        MemoryNet::default()
    }

    /// A socket holding `addrs` (at least one), which all deliver to its one inbox; the
    /// first is its own address. Port 0 is given a free port, as the kernel would. Fails if
    /// any is already held.
    pub fn bind(&self, addrs: &[SocketAddr]) -> io::Result<MemorySocket> {
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no address to bind",
            ));
        }
        let inbox = Arc::new(Inbox {
            queue: Mutex::new(VecDeque::new()),
            arrived: AtomicU64::new(0),
            ready: EventFd::from_value_and_flags(
                0,
                EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC,
            )?,
        });
        let mut endpoints = lock(&self.net.endpoints);
        if let Some(taken) = addrs.iter().find(|a| endpoints.contains_key(a)) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{taken} is already bound on the memory network"),
            ));
        }
        let mut addrs = addrs.to_vec();
        for a in addrs.iter_mut().filter(|a| a.port() == 0) {
            let free = (EPHEMERAL..=u16::MAX)
                .map(|p| SocketAddr::new(a.ip(), p))
                .find(|c| !endpoints.contains_key(c))
                .ok_or_else(|| io::Error::new(io::ErrorKind::AddrInUse, "no free port"))?;
            endpoints.insert(free, Arc::clone(&inbox));
            *a = free;
        }
        for a in &addrs {
            endpoints.insert(*a, Arc::clone(&inbox));
        }
        Ok(MemorySocket {
            net: Arc::clone(&self.net),
            inbox,
            addrs,
            out: Vec::new(),
            sent: 0,
        })
    }

    /// Datagrams sent to an address nobody held.
    pub fn unroutable(&self) -> u64 {
        self.net.unroutable.load(Ordering::Relaxed)
    }

    /// Datagrams that arrived at a full inbox.
    pub fn overflowed(&self) -> u64 {
        self.net.overflowed.load(Ordering::Relaxed)
    }
}

/// One holder of addresses on a [`MemoryNet`]; they are freed when it is dropped.
pub struct MemorySocket {
    net: Arc<Net>,
    inbox: Arc<Inbox>,
    addrs: Vec<SocketAddr>,
    /// Queued by `send`, delivered by `flush`.
    out: Vec<Datagram>,
    /// Datagrams it delivered into an inbox.
    sent: u64,
}

impl Drop for MemorySocket {
    fn drop(&mut self) {
        let mut endpoints = lock(&self.net.endpoints);
        for a in &self.addrs {
            endpoints.remove(a);
        }
    }
}

impl MemorySocket {
    /// The addresses it holds.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Queues a datagram from one of its addresses, for the next flush. A `from` it does not
    /// hold is refused: the network carries no spoofed sources of its own making.
    pub fn send_from(&mut self, from: SocketAddr, to: SocketAddr, bytes: &[u8]) -> io::Result<()> {
        if !self.addrs.contains(&from) {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("{from} is not held by this socket"),
            ));
        }
        self.out.push(Datagram {
            from,
            to,
            bytes: bytes.to_vec(),
        });
        Ok(())
    }

    /// Up to [`RECV_BATCH`] waiting datagrams, oldest first; none when nothing waits.
    pub fn take(&mut self) -> Vec<Datagram> {
        let batch = self.take_batch();
        if !batch.is_empty() {
            return batch;
        }
        // Reset the eventfd, then look again: a datagram that arrived after the first look
        // is either seen now or wrote the eventfd after this read.
        let _ = self.inbox.ready.read();
        self.take_batch()
    }

    fn take_batch(&self) -> Vec<Datagram> {
        let mut q = lock(&self.inbox.queue);
        let n = q.len().min(RECV_BATCH);
        q.drain(..n).collect()
    }

    /// Datagrams that ever reached its inbox, counted before a receiver can take them: once
    /// a datagram is read, it is in this count.
    pub fn arrived(&self) -> u64 {
        self.inbox.arrived.load(Ordering::Relaxed)
    }

    /// Datagrams it delivered into an inbox (its own included).
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Whether datagrams wait, without waiting.
    pub fn pending(&self) -> usize {
        lock(&self.inbox.queue).len()
    }

    /// Delivers what was queued: each datagram to the inbox holding its destination, each
    /// inbox woken once.
    pub fn deliver(&mut self) -> Flushed {
        let mut done = Flushed::default();
        if self.out.is_empty() {
            return done;
        }
        let mut woken: Vec<Arc<Inbox>> = Vec::new();
        {
            let endpoints = lock(&self.net.endpoints);
            for d in self.out.drain(..) {
                let Some(inbox) = endpoints.get(&d.to) else {
                    self.net.unroutable.fetch_add(1, Ordering::Relaxed);
                    // As UDP: the sender is not told.
                    done.sent += 1;
                    continue;
                };
                let mut q = lock(&inbox.queue);
                if q.len() >= INBOX {
                    self.net.overflowed.fetch_add(1, Ordering::Relaxed);
                    done.dropped += 1;
                    continue;
                }
                q.push_back(d);
                inbox.arrived.fetch_add(1, Ordering::Relaxed);
                self.sent += 1;
                done.sent += 1;
                if !woken.iter().any(|w| Arc::ptr_eq(w, inbox)) {
                    woken.push(Arc::clone(inbox));
                }
            }
        }
        done.calls = 1;
        for inbox in woken {
            // An eventfd's counter only fails to take a write at u64::MAX - 1; it is read
            // back to zero on every empty receive long before.
            let _ = inbox.ready.write(1);
        }
        done
    }

    /// The inbox's readiness, to poll beside other descriptors.
    pub fn ready_fd(&self) -> BorrowedFd<'_> {
        self.inbox.ready.as_fd()
    }
}

impl Transport for MemorySocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        // Never empty: `bind` refuses an empty list.
        Ok(self.addrs[0])
    }

    fn wait(
        &mut self,
        timeout: Duration,
        waker: Option<BorrowedFd<'_>>,
    ) -> io::Result<(bool, bool)> {
        wait_readable(self.ready_fd(), timeout, waker)
    }

    fn recv(&mut self, mut each: impl FnMut(Peer, &[u8])) -> io::Result<usize> {
        let batch = self.take();
        for d in &batch {
            each(Peer::udp(d.from), &d.bytes);
        }
        Ok(batch.len())
    }

    /// A datagram network only: nothing can have proved a TCP address on it.
    fn queue(&mut self, to: Peer, bytes: &[u8]) {
        if to.proto != Proto::Udp {
            return;
        }
        // Never empty: `bind` refuses an empty list; the first is its own address.
        let from = self.addrs[0];
        self.out.push(Datagram {
            from,
            to: to.addr,
            bytes: bytes.to_vec(),
        });
    }

    fn flush(&mut self) -> io::Result<Flushed> {
        Ok(self.deliver())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    #[test]
    fn datagrams_reach_the_holder_of_their_address_in_order_and_wake_it() {
        let net = MemoryNet::new();
        let mut a = net.bind(&[addr(1)]).unwrap();
        let mut b = net.bind(&[addr(2), addr(3)]).unwrap();
        assert_eq!(b.wait(Duration::ZERO, None).unwrap(), (false, false));
        a.send_from(addr(1), addr(2), b"one").unwrap();
        a.send_from(addr(1), addr(3), b"two").unwrap();
        let f = a.deliver();
        assert_eq!((f.sent, f.dropped), (2, 0));
        assert_eq!(b.wait(Duration::ZERO, None).unwrap(), (true, false));
        let got = b.take();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].to, got[0].bytes.as_slice()), (addr(2), &b"one"[..]));
        assert_eq!((got[1].to, got[1].from), (addr(3), addr(1)));
        assert_eq!((a.sent(), b.arrived(), a.arrived()), (2, 2, 0));
        // Drained: the next empty take resets its readiness.
        assert!(b.take().is_empty());
        assert_eq!(b.wait(Duration::ZERO, None).unwrap(), (false, false));
    }

    #[test]
    fn an_unheld_address_loses_the_datagram_and_counts_it() {
        let net = MemoryNet::new();
        let mut a = net.bind(&[addr(1)]).unwrap();
        {
            let _b = net.bind(&[addr(2)]).unwrap();
        }
        // Dropping a socket frees its addresses: they can be bound again, and are unheld now.
        a.queue(addr(2).into(), b"lost");
        a.flush().unwrap();
        assert_eq!(net.unroutable(), 1);
        assert!(net.bind(&[addr(2)]).is_ok());
    }

    #[test]
    fn an_address_is_held_once_and_a_socket_sends_only_from_its_own() {
        let net = MemoryNet::new();
        let mut a = net.bind(&[addr(1)]).unwrap();
        let e = net.bind(&[addr(5), addr(1)]).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        // The failed bind took nothing.
        assert!(net.bind(&[addr(5)]).is_ok());
        let e = a.send_from(addr(9), addr(5), b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrNotAvailable);
        assert!(net.bind(&[]).is_err());
        // Port 0: a free one.
        let any = SocketAddr::from(([10, 0, 0, 1], 0));
        let (c, d) = (net.bind(&[any]).unwrap(), net.bind(&[any]).unwrap());
        assert_ne!(c.local_addr().unwrap(), d.local_addr().unwrap());
        assert_ne!(c.local_addr().unwrap().port(), 0);
    }

    #[test]
    fn receiving_hands_over_batches_and_stays_readable_until_drained() {
        let net = MemoryNet::new();
        let mut a = net.bind(&[addr(1)]).unwrap();
        let mut b = net.bind(&[addr(2)]).unwrap();
        for i in 0..(RECV_BATCH + 5) {
            a.queue(addr(2).into(), &[i as u8]);
        }
        a.flush().unwrap();
        let mut seen = Vec::new();
        assert_eq!(b.recv(|_, d| seen.push(d[0])).unwrap(), RECV_BATCH);
        assert!(b.wait(Duration::ZERO, None).unwrap().0);
        assert_eq!(b.recv(|_, d| seen.push(d[0])).unwrap(), 5);
        assert_eq!(b.recv(|_, d| seen.push(d[0])).unwrap(), 0);
        assert_eq!(seen, (0..(RECV_BATCH + 5) as u8).collect::<Vec<_>>());
    }

    #[test]
    fn a_full_inbox_drops_and_counts_what_arrives() {
        let net = MemoryNet::new();
        let mut a = net.bind(&[addr(1)]).unwrap();
        let b = net.bind(&[addr(2)]).unwrap();
        for _ in 0..(INBOX + 3) {
            a.queue(addr(2).into(), b"x");
        }
        let f = a.flush().unwrap();
        assert_eq!((f.sent, f.dropped), (INBOX, 3));
        assert_eq!(net.overflowed(), 3);
        assert_eq!(b.pending(), INBOX);
    }
}
