//! An engine's one UDP socket, with batched I/O. Receiving drains what waits with recvmmsg,
//! GRO included (quinn-udp's `recv`); sending queues every datagram a loop turn makes, and
//! [`EngineSocket::flush`] hands them to the kernel with sendmmsg (nix's safe wrapper), up to
//! [`SEND_BATCH`] per system call, once per turn, after all input is drained.
//!
//! Where the kernel has UDP GSO (`UDP_SEGMENT`, Linux 4.18), a flush first groups each
//! destination's datagrams together (each destination's own order kept, the order between
//! destinations rotated every flush, so that none is always first or last), and sends a run
//! of equal-sized datagrams to one destination (the last may be shorter) as one GSO send
//! through quinn-udp; the rest go by sendmmsg. A kernel or device that refuses GSO turns it
//! off for the socket, and the run goes by sendmmsg instead.
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
/// Most bytes in one GSO send: the largest UDP payload, less headroom for the headers.
const GSO_MAX_BYTES: usize = 65_000;

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
    /// Of `sent`, those that went as segments of a GSO send (each such send is one of
    /// `calls`).
    pub segmented: usize,
}

/// One queued datagram: where to, and its bytes in the queue's arena.
struct Queued {
    to: SocketAddr,
    start: usize,
    len: usize,
}

/// The bytes the send queue's arena keeps once it empties (a turn of a busy room fits).
const ARENA_KEEP: usize = 1 << 20;

pub struct EngineSocket {
    socket: UdpSocket,
    state: UdpSocketState,
    recv_buffers: Vec<Vec<u8>>,
    meta: Vec<RecvMeta>,
    arena: Vec<u8>,
    queue: std::collections::VecDeque<Queued>,
    headers: MultiHeaders<SockaddrStorage>,
    dropped_on_queue: usize,
    /// One GSO run's bytes, gathered from the arena.
    run: Vec<u8>,
    /// Turned every flush: the order in which destinations go.
    salt: u64,
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
            run: Vec::new(),
            salt: 0,
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
            to,
            start,
            len: bytes.len(),
        });
    }

    /// Datagrams queued and not yet sent.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Whether the kernel takes GSO sends on this socket (as far as it has shown so far).
    pub fn gso(&self) -> bool {
        self.state.max_gso_segments() > 1
    }

    /// Sends what is queued, GSO runs as one send each and the rest [`SEND_BATCH`]
    /// datagrams per sendmmsg, until the queue is empty or the socket's buffer is full.
    pub fn flush(&mut self) -> io::Result<Flushed> {
        let mut done = Flushed {
            dropped: std::mem::take(&mut self.dropped_on_queue),
            ..Flushed::default()
        };
        if self.gso() && self.queue.len() > 1 {
            self.salt = self.salt.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let salt = self.salt;
            // A stable sort: each destination's datagrams keep their order.
            self.queue
                .make_contiguous()
                .sort_by_key(|q| destination_order(q.to, salt));
        }
        while !self.queue.is_empty() {
            let run = self.run_at_front();
            if run > 1 {
                match self.send_run(run) {
                    Sent::All => {
                        done.calls += 1;
                        done.sent += run;
                        done.segmented += run;
                        self.queue.drain(..run);
                    }
                    Sent::Full => break,
                    // GSO is off now: the run goes by sendmmsg.
                    Sent::NoGso => {}
                    Sent::Refused => {
                        done.calls += 1;
                        done.dropped += run;
                        self.queue.drain(..run);
                    }
                }
                continue;
            }
            match self.send_batch() {
                Ok(sent) => {
                    done.calls += 1;
                    done.sent += sent;
                    self.queue.drain(..sent);
                }
                Err(Errno::EAGAIN | Errno::ENOBUFS) => break,
                Err(Errno::EINTR) => {}
                // The first datagram of the batch is refused for itself (EMSGSIZE, an
                // unreachable destination the kernel already knows of): drop it, go on.
                Err(_) => {
                    done.calls += 1;
                    self.queue.pop_front();
                    done.dropped += 1;
                }
            }
        }
        // What was sent leaves the arena, so that a socket that stays full keeps it bounded.
        // (After the sort, the earliest bytes still queued need not be the front's.)
        match self.queue.iter().map(|q| q.start).min() {
            None => {
                self.arena.clear();
                // A burst's bytes are given back; a usual turn's fit without growing again.
                if self.arena.capacity() > ARENA_KEEP {
                    self.arena.shrink_to(ARENA_KEEP);
                    self.queue.shrink_to(ARENA_KEEP / 1024);
                }
            }
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

    /// How many datagrams from the front of the queue make one GSO send: to one
    /// destination, all of the first one's size but the last, which may be shorter; 1 when
    /// GSO is off or there is no such run.
    fn run_at_front(&self) -> usize {
        let Some(first) = self.queue.front() else {
            return 0;
        };
        let max = self.state.max_gso_segments();
        let mut n = 1;
        let mut bytes = first.len;
        for q in self.queue.iter().skip(1) {
            if n >= max || q.to != first.to || q.len > first.len || bytes + q.len > GSO_MAX_BYTES {
                break;
            }
            n += 1;
            bytes += q.len;
            if q.len < first.len {
                break;
            }
        }
        n
    }

    /// One GSO send of the `n` datagrams at the front of the queue.
    fn send_run(&mut self, n: usize) -> Sent {
        self.run.clear();
        for q in self.queue.range(..n) {
            self.run
                .extend_from_slice(&self.arena[q.start..q.start + q.len]);
        }
        let first = &self.queue[0];
        let transmit = quinn_udp::Transmit {
            destination: first.to,
            ecn: None,
            contents: &self.run,
            segment_size: Some(first.len),
            src_ip: None,
        };
        match self
            .state
            .try_send(UdpSockRef::from(&self.socket), &transmit)
        {
            Ok(()) => Sent::All,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Sent::Full,
            // (quinn-udp retries an interrupted send itself.)
            Err(_) if !self.gso() => Sent::NoGso,
            Err(_) => Sent::Refused,
        }
    }

    /// One sendmmsg of up to [`SEND_BATCH`] datagrams from the front of the queue, up to the
    /// next GSO run: how many the kernel took.
    fn send_batch(&mut self) -> Result<usize, Errno> {
        let mut take = 1;
        while take < self.queue.len().min(SEND_BATCH) && !self.starts_run(take) {
            take += 1;
        }
        let batch = self.queue.range(..take);
        let slices: Vec<[IoSlice<'_>; 1]> = batch
            .clone()
            .map(|q| [IoSlice::new(&self.arena[q.start..q.start + q.len])])
            .collect();
        let addrs: Vec<Option<SockaddrStorage>> =
            batch.map(|q| Some(SockaddrStorage::from(q.to))).collect();
        sendmmsg(
            self.socket.as_raw_fd(),
            &mut self.headers,
            &slices,
            &addrs,
            [],
            MsgFlags::empty(),
        )
        .map(|r| r.count())
    }

    /// Whether the datagram at `i` and the next one begin a GSO run.
    fn starts_run(&self, i: usize) -> bool {
        let (Some(a), Some(b)) = (self.queue.get(i), self.queue.get(i + 1)) else {
            return false;
        };
        self.gso() && a.to == b.to && b.len <= a.len && a.len + b.len <= GSO_MAX_BYTES
    }
}

/// What one GSO send did.
enum Sent {
    All,
    /// The socket's buffer is full.
    Full,
    /// The kernel or the device refused GSO, and it is off now for this socket.
    NoGso,
    /// The kernel refused these datagrams for themselves.
    Refused,
}

/// Where a destination goes in a flush's order: its address mixed with the flush's salt.
fn destination_order(to: SocketAddr, salt: u64) -> u64 {
    let ip = match to.ip() {
        std::net::IpAddr::V4(v4) => u64::from(v4.to_bits()),
        std::net::IpAddr::V6(v6) => {
            let b = v6.to_bits();
            (b as u64) ^ ((b >> 64) as u64)
        }
    };
    ((ip << 16) ^ u64::from(to.port()) ^ salt).wrapping_mul(0xBF58_476D_1CE4_E5B9)
}

impl std::os::fd::AsFd for EngineSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

#[cfg(test)]
mod tests;
