//! The Janus API over its WebSocket transport (subprotocol `janus-protocol`): requests matched
//! to their replies by transaction, and unsolicited events routed to the handle they concern.
//! See loadtest/janus/README.md for the exchange as captured from Janus 1.1.2.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::client::ClientError;

/// How long a request may wait for its reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

type Pending = Mutex<HashMap<String, oneshot::Sender<Value>>>;
type Routes = Mutex<HashMap<u64, mpsc::UnboundedSender<Value>>>;

/// One WebSocket to Janus.
pub(crate) struct Api {
    out: mpsc::Sender<Message>,
    pending: Arc<Pending>,
    handles: Arc<Routes>,
    next: AtomicU64,
    tasks: Vec<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Invariant: nothing panics while holding these locks (map inserts and removals only).
    m.lock().expect("janus api lock poisoned")
}

fn ws_err(e: impl std::fmt::Display) -> ClientError {
    ClientError::Ws(e.to_string())
}

impl Api {
    pub(crate) async fn connect(url: &str) -> Result<Api, ClientError> {
        let mut request = url.into_client_request().map_err(ws_err)?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("janus-protocol"),
        );
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(ws_err)?;
        let (mut tx, mut rx) = ws.split();
        let (out, mut out_rx) = mpsc::channel::<Message>(256);
        let pending: Arc<Pending> = Arc::default();
        let handles: Arc<Routes> = Arc::default();
        let writer = tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                if tx.send(m).await.is_err() {
                    break;
                }
            }
            let _ = tx.close().await;
        });
        let (p, h) = (Arc::clone(&pending), Arc::clone(&handles));
        let reader = tokio::spawn(async move {
            while let Some(Ok(msg)) = rx.next().await {
                let Message::Text(text) = msg else { continue };
                let Ok(v) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                if v["janus"] == "ack" {
                    continue;
                }
                let waiter = v["transaction"].as_str().and_then(|t| lock(&p).remove(t));
                if let Some(w) = waiter {
                    let _ = w.send(v);
                } else if let Some(route) =
                    v["sender"].as_u64().and_then(|s| lock(&h).get(&s).cloned())
                {
                    let _ = route.send(v);
                }
            }
            // The socket is gone: every waiter hears so by its sender being dropped.
            lock(&p).clear();
            lock(&h).clear();
        });
        Ok(Api {
            out,
            pending,
            handles,
            next: AtomicU64::new(1),
            tasks: vec![writer, reader],
        })
    }

    /// Sends `body` with a fresh transaction and waits for its reply (`success`, `error` or the
    /// plugin's `event`; acks are skipped). Janus and plugin errors become `Err`.
    pub(crate) async fn call(&self, mut body: Value) -> Result<Value, ClientError> {
        let transaction = format!("t{}", self.next.fetch_add(1, Ordering::Relaxed));
        body["transaction"] = json!(transaction);
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(transaction.clone(), tx);
        self.out
            .send(Message::Text(body.to_string().into()))
            .await
            .map_err(|_| ClientError::Ws("Janus closed the connection".into()))?;
        let reply = tokio::time::timeout(REPLY_TIMEOUT, rx).await;
        lock(&self.pending).remove(&transaction);
        let reply = reply
            .map_err(|_| ClientError::Timeout("a Janus reply"))?
            .map_err(|_| ClientError::Ws("Janus closed the connection".into()))?;
        if reply["janus"] == "error" {
            return Err(ClientError::Protocol(format!(
                "Janus error {}: {}",
                reply["error"]["code"], reply["error"]["reason"]
            )));
        }
        let data = &reply["plugindata"]["data"];
        if data["error_code"].is_number() {
            return Err(ClientError::Protocol(format!(
                "VideoRoom error {}: {}",
                data["error_code"], data["error"]
            )));
        }
        Ok(reply)
    }

    /// Sends without waiting for a reply (keepalives, trickles).
    pub(crate) async fn send(&self, mut body: Value) {
        body["transaction"] = json!(format!("t{}", self.next.fetch_add(1, Ordering::Relaxed)));
        let _ = self.out.send(Message::Text(body.to_string().into())).await;
    }

    /// A new session: its id.
    pub(crate) async fn create_session(&self) -> Result<u64, ClientError> {
        let r = self.call(json!({"janus": "create"})).await?;
        r["data"]["id"]
            .as_u64()
            .ok_or_else(|| ClientError::Protocol(format!("no session id in {r}")))
    }

    /// A VideoRoom handle on `session`, and the unsolicited events addressed to it.
    pub(crate) async fn attach(
        &self,
        session: u64,
    ) -> Result<(u64, mpsc::UnboundedReceiver<Value>), ClientError> {
        let r = self
            .call(json!({"janus": "attach", "session_id": session, "plugin": "janus.plugin.videoroom"}))
            .await?;
        let handle = r["data"]["id"]
            .as_u64()
            .ok_or_else(|| ClientError::Protocol(format!("no handle id in {r}")))?;
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.handles).insert(handle, tx);
        Ok((handle, rx))
    }

    /// A VideoRoom request on a handle, with an optional JSEP.
    pub(crate) async fn message(
        &self,
        session: u64,
        handle: u64,
        body: Value,
        jsep: Option<Value>,
    ) -> Result<Value, ClientError> {
        let mut m =
            json!({"janus": "message", "session_id": session, "handle_id": handle, "body": body});
        if let Some(j) = jsep {
            m["jsep"] = j;
        }
        self.call(m).await
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The SDP of a reply's `jsep`, if it carries one of `kind` (`offer` or `answer`).
pub(crate) fn jsep_sdp(v: &Value, kind: &str) -> Option<String> {
    (v["jsep"]["type"] == kind)
        .then(|| v["jsep"]["sdp"].as_str().map(str::to_owned))
        .flatten()
}

/// A JSEP object for a description of ours, its candidates inside.
pub(crate) fn jsep(kind: &str, sdp: String) -> Value {
    json!({"type": kind, "sdp": sdp, "trickle": false})
}
