//! ICE-TCP, the passive side (RFC 6544): for clients whose UDP is blocked. Each engine listens
//! on TCP at the same port number as its UDP socket, and its connections advertise a
//! `tcptype passive` host candidate there. A browser opens a TCP connection to it and sends
//! RFC 4571 frames (a 16-bit length, then one STUN, DTLS or SRTP message); each frame is handed
//! to the engine as a datagram from that connection's address, so the demux judges it exactly
//! as it judges UDP, and what the engine sends to that address goes back framed on the same
//! connection. The engine never opens a TCP connection itself: a client's `tcptype passive`
//! candidate is never dialled.
//!
//! Everything is bounded, since anyone may connect: connections per engine and per remote IP,
//! a read buffer of one largest frame per connection, the bytes waiting to be written to one
//! (media beyond it is dropped and counted, as a full UDP queue drops it), how long a connection
//! may stay before the engine has answered anything on it (a proved ICE check is the only thing
//! that makes the engine answer), and how long one may stay silent.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags};

use super::transport::Peer;

/// The largest frame: its 16-bit length field's limit.
pub const MAX_FRAME: usize = u16::MAX as usize;
/// Connections accepted in one turn, so that a flood of them cannot stall the loop.
const ACCEPTS_PER_TURN: usize = 64;
/// Bytes read from one connection in one turn, so that one busy connection cannot stall the
/// others: a few frames' worth of full-size media.
const READ_PER_TURN: usize = 64 * 1024;
/// How often the deadlines are looked at.
const SWEEP: Duration = Duration::from_secs(1);

/// What one engine accepts over TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// Connections open at once on the engine.
    pub connections: usize,
    /// Connections open at once from one IP address. A school's NAT puts a whole class behind
    /// one address, with two connections per participant.
    pub per_ip: usize,
    /// How long a connection may stay before the engine has answered on it.
    pub unanswered: Duration,
    /// How long a connection may stay with nothing read (browsers check consent every 4-6 s).
    pub idle: Duration,
    /// Bytes waiting to be written to one connection; a frame past it is dropped.
    pub write_buffer: usize,
}

impl Default for TcpLimits {
    fn default() -> TcpLimits {
        TcpLimits {
            connections: 1024,
            per_ip: 128,
            unanswered: Duration::from_secs(10),
            idle: Duration::from_secs(30),
            write_buffer: 256 * 1024,
        }
    }
}

/// What the listener did, since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpCounts {
    pub accepted: u64,
    /// Refused at accept: over a limit.
    pub refused: u64,
    /// Closed: by the client, on an error, or past a deadline.
    pub closed: u64,
    /// Frames read, and frames written.
    pub frames_in: u64,
    pub frames_out: u64,
    /// Frames not written: the connection's write buffer was full, or it was gone.
    pub frames_dropped: u64,
}

struct Conn {
    socket: TcpStream,
    /// Received bytes not yet framed: at most one frame and its length.
    read: Box<[u8]>,
    filled: usize,
    /// Framed bytes waiting to be written, from `written` on.
    write: Vec<u8>,
    written: usize,
    opened: Instant,
    last_read: Instant,
    /// Whether the engine has written anything to it (it answers only proved checks).
    answered: bool,
}

impl Conn {
    fn waiting(&self) -> usize {
        self.write.len() - self.written
    }
}

/// One engine's ICE-TCP listener and the connections clients opened to it.
pub struct TcpPassive {
    listener: TcpListener,
    conns: HashMap<SocketAddr, Conn>,
    per_ip: HashMap<IpAddr, usize>,
    limits: TcpLimits,
    counts: TcpCounts,
    /// Found ready by the last poll: the listener, and these connections.
    accept_ready: bool,
    readable: Vec<SocketAddr>,
    /// Connections with bytes waiting to be written.
    pending: Vec<SocketAddr>,
    /// Connections closed since [`TcpPassive::take_closed`] last ran.
    closed: Vec<SocketAddr>,
    last_sweep: Instant,
}

impl TcpPassive {
    /// Listens on `addr` (non-blocking).
    pub fn bind(addr: SocketAddr, limits: TcpLimits) -> io::Result<TcpPassive> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(TcpPassive {
            listener,
            conns: HashMap::new(),
            per_ip: HashMap::new(),
            limits,
            counts: TcpCounts::default(),
            accept_ready: false,
            readable: Vec::new(),
            pending: Vec::new(),
            closed: Vec::new(),
            last_sweep: Instant::now(),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn counts(&self) -> TcpCounts {
        self.counts
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.conns.len()
    }

    /// Adds what to poll to `fds`: the listener, then each connection (for writing too while
    /// bytes wait for it). `order` is told whose each connection's entry is, for
    /// [`TcpPassive::polled`].
    pub fn poll_fds<'a>(&'a self, fds: &mut Vec<PollFd<'a>>, order: &mut Vec<SocketAddr>) {
        order.clear();
        fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
        for (addr, c) in &self.conns {
            let mut events = PollFlags::POLLIN;
            if c.waiting() > 0 {
                events |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(c.socket.as_fd(), events));
            order.push(*addr);
        }
    }

    /// Takes the poll's results for the entries [`TcpPassive::poll_fds`] added (whether each
    /// was ready, from the listener's on, in `order`); whether any was.
    pub fn polled(&mut self, ready: &[bool], order: &[SocketAddr]) -> bool {
        let Some((&listener, conns)) = ready.split_first() else {
            return false;
        };
        self.accept_ready |= listener;
        for (&ready, addr) in conns.iter().zip(order) {
            if ready && !self.readable.contains(addr) {
                self.readable.push(*addr);
            }
        }
        self.accept_ready || !self.readable.is_empty()
    }

    /// Accepts what waits and reads the connections the last poll found ready, handing
    /// `each` every whole frame; the count of frames.
    pub fn recv(&mut self, now: Instant, mut each: impl FnMut(Peer, &[u8])) -> usize {
        if std::mem::take(&mut self.accept_ready) {
            self.accept(now);
        }
        let mut frames = 0;
        for addr in std::mem::take(&mut self.readable) {
            frames += self.read(now, addr, &mut each);
        }
        self.counts.frames_in += frames as u64;
        frames
    }

    fn accept(&mut self, now: Instant) {
        for _ in 0..ACCEPTS_PER_TURN {
            let (socket, addr) = match self.listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // A connection that went away before it was accepted, or no descriptors left
                // for now: the next turn tries again.
                Err(e) => {
                    tracing::debug!(error = %e, "an ICE-TCP accept failed");
                    return;
                }
            };
            let from_ip = self.per_ip.get(&addr.ip()).copied().unwrap_or(0);
            if self.conns.len() >= self.limits.connections || from_ip >= self.limits.per_ip {
                self.counts.refused += 1;
                continue;
            }
            if socket.set_nonblocking(true).is_err() {
                self.counts.refused += 1;
                continue;
            }
            // Media is small and late media is useless: no Nagle delay.
            let _ = socket.set_nodelay(true);
            self.counts.accepted += 1;
            *self.per_ip.entry(addr.ip()).or_default() += 1;
            self.conns.insert(
                addr,
                Conn {
                    socket,
                    read: vec![0; 2 + MAX_FRAME].into_boxed_slice(),
                    filled: 0,
                    write: Vec::new(),
                    written: 0,
                    opened: now,
                    last_read: now,
                    answered: false,
                },
            );
            // The client speaks first; what it sent with its handshake is read now.
            self.readable.push(addr);
        }
    }

    /// Reads what waits on one connection, up to [`READ_PER_TURN`], and hands over its whole
    /// frames; closes it at its end or on an error.
    fn read(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        each: &mut impl FnMut(Peer, &[u8]),
    ) -> usize {
        let Some(c) = self.conns.get_mut(&addr) else {
            return 0;
        };
        let mut frames = 0;
        let mut taken = 0;
        let mut end = false;
        while taken < READ_PER_TURN {
            let n = match c.socket.read(&mut c.read[c.filled..]) {
                Ok(0) => {
                    end = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    end = true;
                    break;
                }
            };
            taken += n;
            c.filled += n;
            c.last_read = now;
            frames += frames_in(&mut c.read, &mut c.filled, |frame| {
                each(Peer::tcp(addr), frame)
            });
        }
        if end {
            self.close(addr);
        } else if taken >= READ_PER_TURN {
            // More may wait: read on next turn without waiting for the poll.
            self.readable.push(addr);
        }
        frames
    }

    /// Queues `bytes` as one frame to the connection from `to`; dropped and counted when it
    /// is gone, the frame is too big, or the connection's write buffer is full.
    pub fn queue(&mut self, to: SocketAddr, bytes: &[u8]) {
        let Some(c) = self.conns.get_mut(&to) else {
            self.counts.frames_dropped += 1;
            return;
        };
        let Ok(len) = u16::try_from(bytes.len()) else {
            self.counts.frames_dropped += 1;
            return;
        };
        if c.waiting() + 2 + bytes.len() > self.limits.write_buffer {
            self.counts.frames_dropped += 1;
            return;
        }
        if c.waiting() == 0 {
            self.pending.push(to);
        }
        c.write.extend_from_slice(&len.to_be_bytes());
        c.write.extend_from_slice(bytes);
        c.answered = true;
        self.counts.frames_out += 1;
    }

    /// Writes what waits, as far as each connection takes it now, and closes connections past
    /// their deadlines; the write calls made.
    pub fn flush(&mut self, now: Instant) -> usize {
        let mut calls = 0;
        let mut failed = Vec::new();
        self.pending.retain(|addr| {
            let Some(c) = self.conns.get_mut(addr) else {
                return false;
            };
            while c.waiting() > 0 {
                calls += 1;
                match c.socket.write(&c.write[c.written..]) {
                    Ok(0) => {
                        failed.push(*addr);
                        return false;
                    }
                    Ok(n) => c.written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        failed.push(*addr);
                        return false;
                    }
                }
            }
            if c.waiting() == 0 {
                c.write.clear();
                c.written = 0;
                return false;
            }
            // What was written leaves the buffer, so that it holds only what waits.
            c.write.drain(..c.written);
            c.written = 0;
            true
        });
        for addr in failed {
            self.close(addr);
        }
        if now.duration_since(self.last_sweep) >= SWEEP {
            self.last_sweep = now;
            self.sweep(now);
        }
        calls
    }

    /// Closes the connections past a deadline: never answered in time, or silent too long.
    fn sweep(&mut self, now: Instant) {
        let limits = self.limits;
        let late: Vec<SocketAddr> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                (!c.answered && now.duration_since(c.opened) >= limits.unanswered)
                    || now.duration_since(c.last_read) >= limits.idle
            })
            .map(|(a, _)| *a)
            .collect();
        for addr in late {
            self.close(addr);
        }
    }

    fn close(&mut self, addr: SocketAddr) {
        if self.conns.remove(&addr).is_none() {
            return;
        }
        self.counts.closed += 1;
        if let Some(n) = self.per_ip.get_mut(&addr.ip()) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&addr.ip());
            }
        }
        self.pending.retain(|a| *a != addr);
        self.readable.retain(|a| *a != addr);
        self.closed.push(addr);
    }

    /// The connections closed since the last call, each as the peer it was.
    pub fn take_closed(&mut self, mut each: impl FnMut(Peer)) {
        for addr in self.closed.drain(..) {
            each(Peer::tcp(addr));
        }
    }
}

/// Hands `each` every whole RFC 4571 frame at the start of `buf[..*filled]`, and moves what is
/// left (part of the next frame) to the front; the count of frames. An empty frame carries
/// nothing and is skipped.
pub fn frames_in(buf: &mut [u8], filled: &mut usize, mut each: impl FnMut(&[u8])) -> usize {
    let mut at = 0;
    let mut frames = 0;
    while *filled - at >= 2 {
        let len = usize::from(u16::from_be_bytes([buf[at], buf[at + 1]]));
        if *filled - at < 2 + len {
            break;
        }
        if len > 0 {
            each(&buf[at + 2..at + 2 + len]);
            frames += 1;
        }
        at += 2 + len;
    }
    buf.copy_within(at..*filled, 0);
    *filled -= at;
    frames
}

#[cfg(test)]
mod tests;
