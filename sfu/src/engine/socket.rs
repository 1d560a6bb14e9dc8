//! An engine's one UDP socket, with batched I/O. Receiving drains what waits with recvmmsg,
//! GRO included (quinn-udp's `recv`); sending queues every datagram a loop turn makes, and
//! [`EngineSocket::flush`] hands them to the kernel with sendmmsg (nix's safe wrapper), up to
//! [`SEND_BATCH`] per system call, once per turn, after all input is drained.
//!
//! A datagram the kernel refuses for itself (too big, an unreachable destination) is dropped
//! and counted, and the rest go on; a full socket buffer leaves the rest queued for the next
//! turn, up to [`MAX_QUEUED`] datagrams, beyond which the oldest are dropped and counted.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};
use quinn_udp::{RecvMeta, UdpSockRef, UdpSocketState};

/// Most datagrams one sendmmsg call carries.
pub const SEND_BATCH: usize = 64;
/// Most datagrams waiting to be sent; past it, the oldest are dropped.
pub const MAX_QUEUED: usize = 16 * 1024;
/// Room for one receive buffer: a GRO batch of full-size datagrams.
const RECV_BUFFER: usize = 64 * 1024;

/// What a flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flushed {
    pub sent: usize,
    /// sendmmsg calls made.
    pub calls: usize,
    /// Refused by the kernel for themselves, or pushed out of a full queue.
    pub dropped: usize,
    /// Still queued: the socket's buffer was full.
    pub pending: usize,
}

/// One queued datagram: where to, and its bytes in the queue's arena.
struct Queued {
    to: SockaddrStorage,
    start: usize,
    len: usize,
}

pub struct EngineSocket {
    socket: UdpSocket,
    state: UdpSocketState,
    recv_buffers: Vec<Vec<u8>>,
    meta: Vec<RecvMeta>,
    arena: Vec<u8>,
    queue: std::collections::VecDeque<Queued>,
    headers: MultiHeaders<SockaddrStorage>,
    dropped_on_queue: usize,
}

impl EngineSocket {
    /// Binds `addr` (non-blocking).
    pub fn bind(addr: SocketAddr) -> io::Result<EngineSocket> {
        let socket = UdpSocket::bind(addr)?;
        socket.set_nonblocking(true)?;
        let state = UdpSocketState::new(UdpSockRef::from(&socket))?;
        let slots = quinn_udp::BATCH_SIZE;
        Ok(EngineSocket {
            socket,
            state,
            recv_buffers: vec![vec![0; RECV_BUFFER]; slots],
            meta: vec![RecvMeta::default(); slots],
            arena: Vec::new(),
            queue: std::collections::VecDeque::new(),
            headers: MultiHeaders::preallocate(SEND_BATCH, None),
            dropped_on_queue: 0,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Waits until a datagram can be read, `waker` is readable, or `timeout` passes: whether
    /// a datagram can be read, and whether the waker was.
    pub fn wait(
        &self,
        timeout: Duration,
        waker: Option<std::os::fd::BorrowedFd<'_>>,
    ) -> io::Result<(bool, bool)> {
        // Rounded up there: a timer 0.4 ms away must not turn into a busy loop of zero waits.
        super::transport::wait_readable(std::os::fd::AsFd::as_fd(&self.socket), timeout, waker)
    }

    /// Reads one batch of what waits (one recvmmsg), and gives `each` every datagram in it,
    /// GRO segments split; the count of datagrams, 0 when nothing waits.
    pub fn recv(&mut self, mut each: impl FnMut(SocketAddr, &[u8])) -> io::Result<usize> {
        let mut bufs: Vec<IoSliceMut<'_>> = self
            .recv_buffers
            .iter_mut()
            .map(|b| IoSliceMut::new(b))
            .collect();
        let n = match self
            .state
            .recv(UdpSockRef::from(&self.socket), &mut bufs, &mut self.meta)
        {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut count = 0;
        for (meta, buf) in self.meta.iter().zip(bufs.iter()).take(n) {
            let filled = &buf[..meta.len.min(buf.len())];
            let stride = meta.stride.max(1);
            for datagram in filled.chunks(stride) {
                each(meta.addr, datagram);
                count += 1;
            }
        }
        Ok(count)
    }

    /// Queues `bytes` for `to`, for the next flush.
    pub fn queue(&mut self, to: SocketAddr, bytes: &[u8]) {
        if self.queue.len() >= MAX_QUEUED {
            self.queue.pop_front();
            self.dropped_on_queue += 1;
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        self.queue.push_back(Queued {
            to: SockaddrStorage::from(to),
            start,
            len: bytes.len(),
        });
    }

    /// Datagrams queued and not yet sent.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Sends what is queued, [`SEND_BATCH`] datagrams per system call, until the queue is
    /// empty or the socket's buffer is full.
    pub fn flush(&mut self) -> io::Result<Flushed> {
        let mut done = Flushed {
            dropped: std::mem::take(&mut self.dropped_on_queue),
            ..Flushed::default()
        };
        while !self.queue.is_empty() {
            let take = self.queue.len().min(SEND_BATCH);
            let batch = self.queue.range(..take);
            let slices: Vec<[IoSlice<'_>; 1]> = batch
                .clone()
                .map(|q| [IoSlice::new(&self.arena[q.start..q.start + q.len])])
                .collect();
            let addrs: Vec<Option<SockaddrStorage>> = batch.map(|q| Some(q.to)).collect();
            let result = sendmmsg(
                self.socket.as_raw_fd(),
                &mut self.headers,
                &slices,
                &addrs,
                [],
                MsgFlags::empty(),
            )
            .map(|r| r.count());
            done.calls += 1;
            match result {
                Ok(sent) => {
                    done.sent += sent;
                    self.queue.drain(..sent);
                    if sent < take {
                        // The kernel stopped at a datagram: the next call reports why.
                        continue;
                    }
                }
                Err(Errno::EAGAIN | Errno::ENOBUFS) => break,
                Err(Errno::EINTR) => continue,
                // The first datagram of the batch is refused for itself (EMSGSIZE, an
                // unreachable destination the kernel already knows of): drop it, go on.
                Err(_) => {
                    self.queue.pop_front();
                    done.dropped += 1;
                }
            }
        }
        // What was sent leaves the arena, so that a socket that stays full keeps it bounded.
        match self.queue.front().map(|q| q.start) {
            None => self.arena.clear(),
            Some(base) => {
                self.arena.drain(..base);
                for q in &mut self.queue {
                    q.start -= base;
                }
            }
        }
        done.pending = self.queue.len();
        Ok(done)
    }
}

impl std::os::fd::AsFd for EngineSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

#[cfg(test)]
mod tests;
