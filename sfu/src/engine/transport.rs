//! What an engine reads and writes datagrams with: its UDP socket ([`EngineSocket`]) in the
//! server, or an in-memory network ([`super::memnet`]) in tests and benchmarks of the whole
//! engine without the kernel.

use std::io;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::socket::{EngineSocket, Flushed};

/// Waits until `fd` or `waker` is readable, or `timeout` passes: whether each was. An
/// interrupted wait reads as neither.
pub(crate) fn wait_readable(
    fd: BorrowedFd<'_>,
    timeout: Duration,
    waker: Option<BorrowedFd<'_>>,
) -> io::Result<(bool, bool)> {
    // Rounded up: a timer 0.4 ms away must not turn into a busy loop of zero waits.
    let ms = u16::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(u16::MAX);
    let mut fds = vec![PollFd::new(fd, PollFlags::POLLIN)];
    if let Some(w) = waker {
        fds.push(PollFd::new(w, PollFlags::POLLIN));
    }
    match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(0) => Ok((false, false)),
        Ok(_) => {
            let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            Ok((ready(&fds[0]), fds.get(1).is_some_and(ready)))
        }
        Err(Errno::EINTR) => Ok((false, false)),
        Err(e) => Err(e.into()),
    }
}

/// An engine's datagram I/O, owned by its thread.
pub trait Transport {
    /// The address datagrams reach it at.
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// Waits until a datagram can be read, `waker` is readable, or `timeout` passes: whether
    /// a datagram can be read, and whether the waker was.
    fn wait(&self, timeout: Duration, waker: Option<BorrowedFd<'_>>) -> io::Result<(bool, bool)>;

    /// Reads one batch of what waits and gives `each` every datagram in it; the count of
    /// datagrams, 0 when nothing waits.
    fn recv(&mut self, each: impl FnMut(SocketAddr, &[u8])) -> io::Result<usize>;

    /// Queues `bytes` for `to`, for the next flush.
    fn queue(&mut self, to: SocketAddr, bytes: &[u8]);

    /// Sends what is queued.
    fn flush(&mut self) -> io::Result<Flushed>;
}

impl Transport for EngineSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        EngineSocket::local_addr(self)
    }

    fn wait(&self, timeout: Duration, waker: Option<BorrowedFd<'_>>) -> io::Result<(bool, bool)> {
        EngineSocket::wait(self, timeout, waker)
    }

    fn recv(&mut self, each: impl FnMut(SocketAddr, &[u8])) -> io::Result<usize> {
        EngineSocket::recv(self, each)
    }

    fn queue(&mut self, to: SocketAddr, bytes: &[u8]) {
        EngineSocket::queue(self, to, bytes);
    }

    fn flush(&mut self) -> io::Result<Flushed> {
        EngineSocket::flush(self)
    }
}
