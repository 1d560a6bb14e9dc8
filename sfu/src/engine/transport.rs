//! What an engine reads and writes datagrams with: its UDP socket ([`EngineSocket`]) and its
//! ICE-TCP listener ([`super::tcp`]) in the server, or an in-memory network ([`super::memnet`])
//! in tests and benchmarks of the whole engine without the kernel. A datagram's far end is a
//! [`Peer`]: an address and the transport it came over, since a browser's UDP and TCP flows
//! are different paths even from one address.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::socket::{EngineSocket, Flushed};
use super::tcp::{TcpCounts, TcpLimits, TcpPassive};

/// The transport a flow runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Udp,
    /// ICE-TCP (RFC 6544): RFC 4571 frames on a TCP connection the client opened.
    Tcp,
}

/// The far end of a flow: its address, and the transport it runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Peer {
    pub proto: Proto,
    pub addr: SocketAddr,
}

impl Peer {
    pub fn udp(addr: SocketAddr) -> Peer {
        Peer {
            proto: Proto::Udp,
            addr,
        }
    }

    pub fn tcp(addr: SocketAddr) -> Peer {
        Peer {
            proto: Proto::Tcp,
            addr,
        }
    }
}

/// A bare address is a UDP peer.
impl From<SocketAddr> for Peer {
    fn from(addr: SocketAddr) -> Peer {
        Peer::udp(addr)
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.proto {
            Proto::Udp => write!(f, "udp:{}", self.addr),
            Proto::Tcp => write!(f, "tcp:{}", self.addr),
        }
    }
}

/// Waits until `fd` or `waker` is readable, or `timeout` passes: whether each was. An
/// interrupted wait reads as neither.
pub(crate) fn wait_readable(
    fd: BorrowedFd<'_>,
    timeout: Duration,
    waker: Option<BorrowedFd<'_>>,
) -> io::Result<(bool, bool)> {
    let mut fds = vec![PollFd::new(fd, PollFlags::POLLIN)];
    let woken = poll_all(&mut fds, timeout, waker)?;
    Ok((ready(&fds[0]), woken))
}

/// Whether `poll` found anything on `fd` (readable, writable as asked, or an error or hang-up,
/// which a read then reports).
pub(crate) fn ready(fd: &PollFd<'_>) -> bool {
    fd.revents().is_some_and(|r| !r.is_empty())
}

/// Polls `fds` and `waker` until one is ready or `timeout` passes; whether the waker was
/// readable. The others' results are left in `fds`; an interrupted wait finds nothing.
pub(crate) fn poll_all<'a>(
    fds: &mut Vec<PollFd<'a>>,
    timeout: Duration,
    waker: Option<BorrowedFd<'a>>,
) -> io::Result<bool> {
    // Rounded up: a timer 0.4 ms away must not turn into a busy loop of zero waits.
    let ms = u16::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(u16::MAX);
    let own = fds.len();
    if let Some(w) = waker {
        fds.push(PollFd::new(w, PollFlags::POLLIN));
    }
    let result = match poll(fds, PollTimeout::from(ms)) {
        Ok(_) => Ok(fds.get(own).is_some_and(ready)),
        // Whatever the kernel left in the others' results is true, or empty.
        Err(Errno::EINTR) => Ok(false),
        Err(e) => Err(e.into()),
    };
    fds.truncate(own);
    result
}

/// An engine's datagram I/O, owned by its thread.
pub trait Transport {
    /// The address datagrams reach it at.
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// Waits until a datagram can be read, `waker` is readable, or `timeout` passes: whether
    /// a datagram can be read, and whether the waker was.
    fn wait(
        &mut self,
        timeout: Duration,
        waker: Option<BorrowedFd<'_>>,
    ) -> io::Result<(bool, bool)>;

    /// Reads one batch of what waits and gives `each` every datagram in it; the count of
    /// datagrams, 0 when nothing waits.
    fn recv(&mut self, each: impl FnMut(Peer, &[u8])) -> io::Result<usize>;

    /// Queues `bytes` for `to`, for the next flush.
    fn queue(&mut self, to: Peer, bytes: &[u8]);

    /// Sends what is queued.
    fn flush(&mut self) -> io::Result<Flushed>;

    /// The flows that ended since the last call (closed TCP connections), each once.
    fn take_closed(&mut self, each: impl FnMut(Peer)) {
        let _ = each;
    }

    /// What its ICE-TCP listener did, if it has one.
    fn tcp_counts(&self) -> Option<TcpCounts> {
        None
    }
}

/// The server's transport: an engine's UDP socket and, unless turned off, its ICE-TCP
/// listener on the same port number ([`TcpPassive`]).
pub struct ServerIo {
    udp: EngineSocket,
    tcp: Option<TcpPassive>,
    /// Whose each polled TCP connection was, kept for its allocation.
    order: Vec<SocketAddr>,
    polled: Vec<bool>,
    udp_ready: bool,
    /// The TCP frames written and dropped as last reported by a flush.
    tcp_reported: (u64, u64),
}

/// Tries at binding port 0 on both transports before giving up (another TCP socket may hold
/// the port the system gave UDP).
const BIND_TRIES: usize = 16;

impl ServerIo {
    /// Binds UDP at `addr` and, with `tcp`, TCP at the same address and port: when `addr`'s
    /// port is 0, the port the system gives UDP.
    pub fn bind(addr: SocketAddr, tcp: Option<TcpLimits>) -> io::Result<ServerIo> {
        for _ in 0..BIND_TRIES {
            let udp = EngineSocket::bind(addr)?;
            let tcp = match tcp {
                None => None,
                Some(limits) => match TcpPassive::bind(udp.local_addr()?, limits) {
                    Ok(t) => Some(t),
                    Err(e) if addr.port() == 0 && e.kind() == io::ErrorKind::AddrInUse => continue,
                    Err(e) => return Err(io::Error::new(e.kind(), format!("TCP: {e}"))),
                },
            };
            return Ok(ServerIo {
                udp,
                tcp,
                order: Vec::new(),
                polled: Vec::new(),
                udp_ready: false,
                tcp_reported: (0, 0),
            });
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "no port was free on both UDP and TCP",
        ))
    }

    pub fn tcp(&self) -> Option<&TcpPassive> {
        self.tcp.as_ref()
    }

    pub fn tcp_mut(&mut self) -> Option<&mut TcpPassive> {
        self.tcp.as_mut()
    }
}

impl Transport for ServerIo {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.udp.local_addr()
    }

    fn wait(
        &mut self,
        timeout: Duration,
        waker: Option<BorrowedFd<'_>>,
    ) -> io::Result<(bool, bool)> {
        let mut fds = vec![PollFd::new(self.udp.as_fd(), PollFlags::POLLIN)];
        if let Some(t) = &self.tcp {
            t.poll_fds(&mut fds, &mut self.order);
        }
        let woken = poll_all(&mut fds, timeout, waker)?;
        self.polled.clear();
        self.polled.extend(fds.iter().map(ready));
        drop(fds);
        self.udp_ready = self.polled[0];
        let tcp = match &mut self.tcp {
            Some(t) => t.polled(&self.polled[1..], &self.order),
            None => false,
        };
        Ok((self.udp_ready || tcp, woken))
    }

    fn recv(&mut self, mut each: impl FnMut(Peer, &[u8])) -> io::Result<usize> {
        if self.udp_ready {
            let n = self.udp.recv(|from, d| each(Peer::udp(from), d))?;
            if n > 0 {
                return Ok(n);
            }
            self.udp_ready = false;
        }
        Ok(match &mut self.tcp {
            Some(t) => t.recv(Instant::now(), each),
            None => 0,
        })
    }

    fn queue(&mut self, to: Peer, bytes: &[u8]) {
        match (to.proto, &mut self.tcp) {
            (Proto::Udp, _) => self.udp.queue(to.addr, bytes),
            (Proto::Tcp, Some(t)) => t.queue(to.addr, bytes),
            // No connection can have proved a TCP address: nothing listens for one.
            (Proto::Tcp, None) => {}
        }
    }

    fn flush(&mut self) -> io::Result<Flushed> {
        let mut done = self.udp.flush()?;
        if let Some(t) = &mut self.tcp {
            done.calls += t.flush(Instant::now());
            let c = t.counts();
            let (out, dropped) =
                std::mem::replace(&mut self.tcp_reported, (c.frames_out, c.frames_dropped));
            done.sent += (c.frames_out - out) as usize;
            done.dropped += (c.frames_dropped - dropped) as usize;
        }
        Ok(done)
    }

    fn take_closed(&mut self, each: impl FnMut(Peer)) {
        if let Some(t) = &mut self.tcp {
            t.take_closed(each);
        }
    }

    fn tcp_counts(&self) -> Option<TcpCounts> {
        self.tcp.as_ref().map(TcpPassive::counts)
    }
}
