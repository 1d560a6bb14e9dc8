//! A shared-notes client made of yrs, as a browser's yjs would be: it syncs, types, and keeps
//! what the server refused and how the connection ended.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use yrs::sync::Message;
use yrs::sync::protocol::SyncMessage;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct NoteClient {
    ws: Stream,
    pub doc: Doc,
    /// The server answered our step 1: we have everything it had then.
    pub synced: bool,
    /// Reasons of the auth-denied frames the server sent.
    pub denied: Vec<String>,
    /// How the server closed the connection, if it did.
    pub closed: Option<(u16, String)>,
}

/// The notes URL of `doc` in `room_id`, with a link and a guest's device.
pub fn url(addr: std::net::SocketAddr, room_id: &str, doc: &str, token: &str) -> String {
    let url = loadtest::notes::doc_url(&addr.to_string(), room_id, doc, token);
    format!("{url}&device=notes-device-01")
}

impl NoteClient {
    /// Connects and sends our step 1; `Err` with the HTTP status when the upgrade is refused.
    pub async fn connect(url: &str) -> Result<NoteClient, u16> {
        let (ws, _) = match tokio_tungstenite::connect_async(url).await {
            Ok(ok) => ok,
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => return Err(r.status().as_u16()),
            Err(e) => panic!("connect {url}: {e}"),
        };
        let mut c = NoteClient {
            ws,
            doc: Doc::new(),
            synced: false,
            denied: Vec::new(),
            closed: None,
        };
        c.doc.get_or_insert_text("content");
        let sv = c.doc.transact().state_vector();
        c.send(&Message::Sync(SyncMessage::SyncStep1(sv))).await;
        Ok(c)
    }

    pub async fn send(&mut self, msg: &Message) {
        self.send_raw(msg.encode_v1()).await;
    }

    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        let _ = self.ws.send(Ws::Binary(bytes.into())).await;
    }

    pub fn text(&self) -> String {
        self.doc
            .get_or_insert_text("content")
            .get_string(&self.doc.transact())
    }

    /// Types `text` at the end, and sends the edit.
    pub async fn type_text(&mut self, text: &str) {
        let before = self.doc.transact().state_vector();
        {
            let t = self.doc.get_or_insert_text("content");
            let mut txn = self.doc.transact_mut();
            let end = t.len(&txn);
            t.insert(&mut txn, end, text);
        }
        let update = self.doc.transact().encode_state_as_update_v1(&before);
        self.send(&Message::Sync(SyncMessage::Update(update))).await;
    }

    /// Reads what the server sends until `done` holds, the connection closes, or `limit`
    /// passes; whether `done` held.
    pub async fn pump_until(
        &mut self,
        limit: Duration,
        done: impl Fn(&NoteClient) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if done(self) {
                return true;
            }
            if self.closed.is_some() {
                return false;
            }
            let next = tokio::time::timeout_at(deadline, self.ws.next()).await;
            match next {
                Err(_) => return done(self),
                Ok(Some(Ok(Ws::Binary(b)))) => self.receive(&b).await,
                Ok(Some(Ok(Ws::Close(frame)))) => {
                    self.closed = Some(frame.map_or((1005, String::new()), |f| {
                        (u16::from(f.code), f.reason.to_string())
                    }));
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) => {
                    self.closed
                        .get_or_insert((u16::from(CloseCode::Abnormal), String::new()));
                }
            }
        }
    }

    async fn receive(&mut self, bytes: &[u8]) {
        let msg = Message::decode_v1(bytes).expect("the server sends y-sync frames");
        match msg {
            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                let diff = self.doc.transact().encode_state_as_update_v1(&sv);
                self.send(&Message::Sync(SyncMessage::SyncStep2(diff)))
                    .await;
            }
            Message::Sync(SyncMessage::SyncStep2(u)) => {
                self.apply(&u);
                self.synced = true;
            }
            Message::Sync(SyncMessage::Update(u)) => self.apply(&u),
            Message::Auth(Some(reason)) => self.denied.push(reason),
            _ => {}
        }
    }

    fn apply(&self, u: &[u8]) {
        let update = Update::decode_v1(u).expect("the server's updates decode");
        self.doc
            .transact_mut()
            .apply_update(update)
            .expect("the server's updates apply");
    }

    /// Connects, syncs, and returns the client.
    pub async fn synced(url: &str) -> NoteClient {
        let mut c = NoteClient::connect(url).await.expect("upgrade");
        assert!(
            c.pump_until(Duration::from_secs(5), |c| c.synced).await,
            "synced with the server: {:?}",
            c.closed
        );
        c
    }

    /// An empty state vector, for a client that has nothing.
    pub fn nothing() -> StateVector {
        StateVector::default()
    }
}
