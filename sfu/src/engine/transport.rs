//! What an engine reads and writes datagrams with: its UDP socket ([`EngineSocket`]) in the
//! server, or an in-memory network ([`super::memnet`]) in tests and benchmarks of the whole
//! engine without the kernel.

use std::io;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use super::socket::{EngineSocket, Flushed};

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
