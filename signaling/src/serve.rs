//! The HTTP listener: hyper's HTTP/1 server under the router, with the limits that keep slow or
//! idle clients from taking the server offline (`axum::serve` sets none of them).
//!
//! - **Header-read timeout.** A request head must arrive whole within
//!   [`ConnLimits::header_timeout`]; the same timer runs while a keep-alive connection waits for
//!   its next request, so it is also the idle timeout. Upgraded WebSockets are past it; the
//!   signaling session has deadlines of its own (join, no traffic).
//! - **Connection caps.** At most [`ConnLimits::max_connections`] at once, and
//!   [`ConnLimits::max_per_ip`] from one address; past either, a connection gets a one-line 503
//!   and is closed at once, without taking a slot.
//! - **File descriptors.** [`raise_fd_limit`] raises the soft limit to the hard one at start and
//!   [`ConnLimits::fit_to_fds`] keeps the total cap below it, with room for media sockets.
//! - **Draining.** Until the `stop` future resolves, the listener keeps accepting (health and
//!   readiness keep answering while the rest of the server drains); then it stops accepting,
//!   asks every connection to finish its request, and returns.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::Service;
use tracing::{debug, info, warn};

/// Limits on the connections one listener holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Time a client has to send a whole request head, and a keep-alive connection to start
    /// its next one.
    pub header_timeout: Duration,
    /// Open connections at once, upgraded WebSockets included.
    pub max_connections: usize,
    /// Open connections from one IP address.
    pub max_per_ip: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_per_ip: 256,
        }
    }
}

/// File descriptors kept free for everything but HTTP connections: the database, logs, the
/// runtime, and (added per server) the media sockets.
const FD_RESERVE: u64 = 256;

impl ConnLimits {
    /// The caps made to fit `fd_limit` open files, keeping [`FD_RESERVE`] and `other_fds` (one
    /// per media port) free. Says so in the log when that lowers them.
    pub fn fit_to_fds(mut self, fd_limit: u64, other_fds: u64) -> ConnLimits {
        let room = fd_limit.saturating_sub(FD_RESERVE + other_fds).max(16);
        let room = usize::try_from(room).unwrap_or(usize::MAX);
        if room < self.max_connections {
            warn!(
                fd_limit,
                max_connections = room,
                "the open-file limit allows fewer connections than --max-connections; \
                 raise it (ulimit -n, LimitNOFILE=) to serve more"
            );
            self.max_connections = room;
        }
        self.max_per_ip = self.max_per_ip.min(self.max_connections);
        self
    }
}

/// Raises the soft open-file limit to the hard one; returns the limit in force.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            warn!("could not read the open-file limit; assuming 1024");
            return 1024;
        }
        let before = lim.rlim_cur;
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        info!(
            soft_before = before,
            soft = lim.rlim_cur,
            hard = lim.rlim_max,
            "open-file limit"
        );
        lim.rlim_cur
    }
}

/// Open connections per address.
#[derive(Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

/// A connection's place in the counts; given back when dropped.
struct Slot {
    per_ip: Arc<PerIp>,
    ip: IpAddr,
    _total: tokio::sync::OwnedSemaphorePermit,
}

impl PerIp {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<(Arc<Self>, IpAddr)> {
        // Invariant: the lock is never held across an await or a panic-prone call.
        let mut map = self
            .0
            .lock()
            .expect("per-address counts are never poisoned");
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some((self.clone(), ip))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self
            .per_ip
            .0
            .lock()
            .expect("per-address counts are never poisoned");
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// A connection's slot, in every request's extensions: an upgraded WebSocket keeps it (so it
/// still counts) until its session ends.
#[derive(Clone)]
pub struct ConnSlot(#[allow(dead_code)] Arc<Slot>);

/// Tells a refused client why, without waiting on it, and closes.
fn refuse(stream: TcpStream, why: &str) {
    let body = format!("{why}\n");
    let reply = format!(
        "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // One non-blocking write straight to the socket (a fresh tokio stream has no readiness
    // yet): a new socket's buffer takes these few bytes, and nothing waits on the client.
    if let Ok(std) = stream.into_std() {
        use std::io::Write;
        let _ = (&std).write(reply.as_bytes());
    }
}

/// Serves `router` on `listener` within `limits` until `stop` resolves, then lets open requests
/// finish (for at most `linger`) and returns. Each request carries the peer's
/// [`ConnectInfo<SocketAddr>`], which the rate limits key on.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    stop: impl Future<Output = ()>,
    linger: Duration,
) -> std::io::Result<()> {
    let total = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = Arc::new(PerIp::default());
    let (closing, closed) = watch::channel(false);
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // wait a moment rather than spin; the listener itself is fine.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Ok(permit) = total.clone().try_acquire_owned() else {
            debug!(%peer, "connection refused: server at its connection limit");
            refuse(
                stream,
                "the server is at its connection limit; try again shortly",
            );
            continue;
        };
        let Some((per_ip, ip)) = per_ip.take(peer.ip(), limits.max_per_ip) else {
            debug!(%peer, "connection refused: too many from this address");
            refuse(stream, "too many connections from your address");
            continue;
        };
        let slot = ConnSlot(Arc::new(Slot {
            per_ip,
            ip,
            _total: permit,
        }));
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(slot.clone());
                let mut router = router.clone();
                async move { router.call(req.map(axum::body::Body::new)).await }
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            let conn = http
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                _ = async { let _ = closed.wait_for(|c| *c).await; } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    // Every connection holds a permit: they are all done once every permit is back.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(linger, total.acquire_many(all)).await;
    Ok(())
}

/// [`serve`] with the default limits and no end, for tests and tools that need a plain server.
pub async fn serve_forever(listener: TcpListener, router: Router) -> std::io::Result<()> {
    serve(
        listener,
        router,
        ConnLimits::default(),
        std::future::pending(),
        Duration::ZERO,
    )
    .await
}
