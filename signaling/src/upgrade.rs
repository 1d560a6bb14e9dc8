//! The signaling WebSocket's upgrade (RFC 6455), done here rather than by axum so that a
//! connection can be closed properly whatever the client sent.
//!
//! A message over the size limit is refused as soon as its frame header says how long it is; the
//! rest of it is still on its way. Closing the socket with those bytes unread makes the kernel
//! reset the connection, and a reset discards what the client had not read yet, the close frame
//! (1009) included: the client saw 1006. So every socket ends with a lingering close
//! ([`Lingering`]): the server sends its FIN and reads and drops what still comes, up to
//! [`LINGER_BYTES`] or for [`LINGER_TIME`], before it lets go.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::error::AppError;

/// Most bytes a closing socket reads and drops before it lets go.
pub const LINGER_BYTES: u64 = 32 << 20;
/// Longest a closing socket waits for the client to finish sending.
pub const LINGER_TIME: Duration = Duration::from_secs(3);

/// An upgraded connection, as the WebSocket session reads and writes it.
pub type Socket = WebSocketStream<Lingering<TokioIo<hyper::upgrade::Upgraded>>>;

/// An I/O stream that, when dropped, closes with a lingering close on a task of its own.
pub struct Lingering<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> {
    io: Option<T>,
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Lingering<T> {
    pub fn new(io: T) -> Self {
        Lingering { io: Some(io) }
    }

    fn io(&mut self) -> &mut T {
        // Invariant: `io` is taken only in `drop`.
        self.io
            .as_mut()
            .expect("the stream is there until it is dropped")
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncRead for Lingering<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(self.io()).poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for Lingering<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(self.io()).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(self.io()).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(self.io()).poll_shutdown(cx)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Drop for Lingering<T> {
    fn drop(&mut self) {
        let Some(mut io) = self.io.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let _ = tokio::time::timeout(LINGER_TIME, async {
                let _ = io.shutdown().await;
                let mut buf = vec![0u8; 16 * 1024];
                let mut left = LINGER_BYTES;
                while left > 0 {
                    match io.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => left = left.saturating_sub(n as u64),
                    }
                }
            })
            .await;
        });
    }
}

/// Whether a header's comma-separated tokens include `token`, ignoring case.
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Bytes each WebSocket reads at a time.
const READ_BUFFER: usize = 8 * 1024;

/// Answers a WebSocket upgrade request (101) and runs `session` on the socket once the upgrade
/// is through; a request that is not a valid upgrade gets a 400 saying why.
pub fn accept<F, Fut>(mut req: Request, config: WebSocketConfig, session: F) -> Response
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let headers = req.headers();
    let refuse = |why: &str| AppError::BadRequest(why.to_owned()).into_response();
    if req.method() != axum::http::Method::GET {
        return refuse("a WebSocket upgrade is a GET");
    }
    if !has_token(headers, header::CONNECTION, "upgrade")
        || !has_token(headers, header::UPGRADE, "websocket")
    {
        return refuse(
            "this is a WebSocket endpoint: send Connection: upgrade, Upgrade: websocket",
        );
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        let mut r = refuse("Sec-WebSocket-Version must be 13");
        r.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return r;
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return refuse("Sec-WebSocket-Key is missing");
    };
    let accept_key = derive_accept_key(key.as_bytes());
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return refuse("this connection cannot be upgraded");
    };
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "WebSocket upgrade failed");
                return;
            }
        };
        let io = Lingering::new(TokioIo::new(upgraded));
        // tungstenite reserves its read buffer up front (128 KiB by default), per socket: a
        // room's signaling messages are small, and a larger one is read in several chunks.
        let config = config.read_buffer_size(READ_BUFFER);
        let socket = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
        session(socket).await;
    });
    let Ok(accept_key) = HeaderValue::from_str(&accept_key) else {
        // Invariant: derive_accept_key returns base64, which is a valid header value.
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, HeaderValue::from_static("upgrade")),
            (header::UPGRADE, HeaderValue::from_static("websocket")),
            (header::SEC_WEBSOCKET_ACCEPT, accept_key),
        ],
    )
        .into_response()
}
