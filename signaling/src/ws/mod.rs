//! One signaling connection: a state machine over any stream and sink of WebSocket messages.
//!
//! The first message is `join` (into a call) or `open` (a stored room's channel, without
//! media: the room home). An opened connection may `join` later. Once joined, the session
//! relays the client's requests to its [`sfu::SessionHandle`] and the room's events back as
//! JSON. A connection to a stored room also listens to the room's [`crate::hub`]: its kept
//! chat, posted, edited and deleted through [`crate::chat::service`] ([`room`]).

mod room;

use std::time::Duration;

use futures::{Sink, SinkExt, Stream, StreamExt};
use protocol::{
    ClientMessage, ErrorCode, LAYOUT_TRACKS_MAX, PROTOCOL_VERSION, ServerMessage,
    normalize_chat_text, normalize_display_name, parse_client_message, validate_room_name,
};
use sfu::{SessionHandle, SfuError};
use tokio::sync::mpsc;
use tokio::time::{Instant, interval, sleep_until};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tracing::{Instrument, debug, info, info_span};

use crate::AppState;
use crate::access::authorize_join;
use crate::hub;
use room::RoomLink;

/// Close codes the server uses.
pub mod close {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const TRY_AGAIN: u16 = 1013;
}

enum Phase {
    AwaitingJoin,
    /// A stored room's channel, without media.
    Open,
    Joined {
        handle: SessionHandle,
        events: mpsc::Receiver<ServerMessage>,
    },
}

/// What the loop does after one client message.
enum Next {
    Continue,
    Close(u16, &'static str),
}

/// A read error, as the session tells a message over the size limit (closed with 1009) from a
/// connection that failed (dropped).
pub trait ReadError: std::fmt::Display {
    fn too_big(&self) -> bool;
}

impl ReadError for tungstenite::Error {
    fn too_big(&self) -> bool {
        matches!(self, tungstenite::Error::Capacity(_))
    }
}

/// Runs one connection to its end.
pub async fn run<S, E>(socket: S, state: AppState)
where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin + Send + 'static,
    E: ReadError,
{
    let span = info_span!(
        "ws",
        room = tracing::field::Empty,
        participant = tracing::field::Empty,
        identity = tracing::field::Empty
    );
    Session::new(state).run(socket).instrument(span).await
}

struct Session {
    state: AppState,
    phase: Phase,
    rate: crate::ratelimit::Bucket,
    /// The stored room this connection listens to, once opened or joined.
    room: Option<RoomLink>,
    /// The stretch of attendance this call's participant has open, in a stored room.
    presence: Option<Stretch>,
    /// This call's place among who is in the stored room's call now.
    live: Option<crate::live::Entry>,
}

/// An open stretch of attendance.
struct Stretch {
    id: String,
    /// The room keeps talk time: write it at the leave, and now and then before.
    talk_time: bool,
    /// The talk time last written.
    written_ms: i64,
}

impl Session {
    fn new(state: AppState) -> Self {
        let rate =
            crate::ratelimit::Bucket::new(state.limits.message_rate, state.limits.message_rate * 2);
        Session {
            state,
            phase: Phase::AwaitingJoin,
            rate,
            room: None,
            presence: None,
            live: None,
        }
    }

    async fn run<S, E>(mut self, socket: S)
    where
        S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
        E: ReadError,
    {
        let (mut tx, mut rx) = socket.split();
        let _open = crate::metrics::SessionGauge::new(&self.state.metrics);
        let limits = self.state.limits.clone();
        let mut last_seen = Instant::now();
        let join_by = last_seen + limits.join_within;
        let mut pings = interval(limits.ping_every);
        let mut cut = self
            .state
            .hooks
            .as_ref()
            .map(|h| h.drop_signaling.subscribe());
        let close = loop {
            let dead_at = last_seen + limits.dead_after;
            let awaiting_join = matches!(self.phase, Phase::AwaitingJoin);
            let (phase, room) = (&mut self.phase, &mut self.room);
            let event = async move {
                match phase {
                    Phase::Joined { events, .. } => events.recv().await,
                    Phase::AwaitingJoin | Phase::Open => std::future::pending().await,
                }
            };
            let heard = async move {
                match room {
                    Some(link) => link.listener.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                incoming = rx.next() => {
                    let msg = match incoming {
                        Some(Ok(msg)) => msg,
                        Some(Err(e)) if e.too_big() => break Some((close::TOO_BIG, "message too big")),
                        _ => break None,
                    };
                    last_seen = Instant::now();
                    let text = match msg {
                        Message::Text(t) => t,
                        Message::Binary(_) => {
                            let m = ServerMessage::error(ErrorCode::InvalidJson, "binary frames are not used; send JSON text");
                            if send(&mut tx, &m).await.is_err() { break None }
                            continue;
                        }
                        Message::Close(_) => break None,
                        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                    };
                    if text.len() > limits.max_message_bytes {
                        break Some((close::TOO_BIG, "message too big"));
                    }
                    match self.on_text(&text, &mut tx).await {
                        Ok(Next::Continue) => {}
                        Ok(Next::Close(code, why)) => break Some((code, why)),
                        Err(()) => break None,
                    }
                }
                event = event => {
                    let Some(event) = event else {
                        break Some((close::GOING_AWAY, "the room has ended this session"));
                    };
                    let leaving = matches!(event, ServerMessage::Leave { .. });
                    if send(&mut tx, &event).await.is_err() { break None }
                    if leaving {
                        break Some((close::GOING_AWAY, "asked to leave"));
                    }
                }
                heard = heard => match heard {
                    hub::Next::Event(hub::Event::Send(text)) => {
                        if tx.send(Message::Text(text.as_ref().into())).await.is_err() { break None }
                    }
                    hub::Next::Event(hub::Event::Revoked(revoked)) => {
                        if self.room.as_ref().is_some_and(|r| revoked.covers(&r.author.identity)) {
                            info!("link revoked; closing");
                            break Some((close::POLICY, "this link was revoked"));
                        }
                    }
                    hub::Next::Lagged => {
                        info!("fell behind the room's updates; closing");
                        break Some((close::TRY_AGAIN, "fell behind the room's updates; reconnect"));
                    }
                },
                _ = pings.tick() => {
                    if tx.send(Message::Ping(Default::default())).await.is_err() { break None }
                    self.record_talk().await;
                }
                _ = async {
                    match cut.as_mut() {
                        Some(rx) => { let _ = rx.changed().await; }
                        None => std::future::pending().await,
                    }
                } => {
                    info!("cut by the test hook");
                    // Dropped without a close frame, as a failed network would.
                    if let Phase::Joined { handle, .. } = &self.phase {
                        handle.leave().await;
                    }
                    self.record_leave().await;
                    return;
                }
                _ = sleep_until(join_by), if awaiting_join => {
                    info!("no join within {:?}; closing", limits.join_within);
                    break Some((close::POLICY, "join within the time allowed"));
                }
                _ = sleep_until(dead_at) => {
                    info!("no traffic for {:?}; closing", limits.dead_after);
                    break Some((close::GOING_AWAY, "no traffic"));
                }
            }
        };
        if let Phase::Joined { handle, .. } = &self.phase {
            handle.leave().await;
        }
        self.record_leave().await;
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code: code.into(),
                reason: Utf8Bytes::from_static(reason),
            };
            let _ =
                tokio::time::timeout(Duration::from_secs(1), tx.send(Message::Close(Some(frame))))
                    .await;
            // The closing handshake: read (and drop) what the client still sends until its Close
            // comes back. Closing the socket with unread data in it would reset the connection,
            // and the client could lose the replies and the close frame it had not read yet.
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                while let Some(Ok(m)) = rx.next().await {
                    if matches!(m, Message::Close(_)) {
                        break;
                    }
                }
            })
            .await;
        }
        debug!("connection closed");
    }

    /// Handles one text message. `Err` means the socket is gone.
    async fn on_text<T>(&mut self, text: &str, tx: &mut T) -> Result<Next, ()>
    where
        T: Sink<Message> + Unpin,
    {
        if !self.rate.allow() {
            if self.rate.strikes > self.state.limits.message_rate {
                return Ok(Next::Close(close::POLICY, "message rate exceeded"));
            }
            let m = ServerMessage::error(ErrorCode::RateLimited, "too many messages; slow down");
            return send(tx, &m).await.map(|_| Next::Continue);
        }
        let msg = match parse_client_message(text) {
            Ok(m) => m,
            Err(e) => {
                let m = ServerMessage::error(e.code, e.message);
                return send(tx, &m).await.map(|_| Next::Continue);
            }
        };
        let reply = self.on_message(msg).await;
        match reply {
            Reply::None => Ok(Next::Continue),
            Reply::Send(m) => send(tx, &m).await.map(|_| Next::Continue),
            Reply::Close(code, why) => Ok(Next::Close(code, why)),
        }
    }

    async fn on_message(&mut self, msg: ClientMessage) -> Reply {
        // A stored room's chat goes through the room, whether the connection is in the call
        // or only has the room open.
        match msg {
            ClientMessage::Chat { text } if self.room.is_some() => {
                return self.chat(room::Action::Post(text)).await;
            }
            ClientMessage::ChatEdit { id, text } => {
                return self.chat(room::Action::Edit(id, text)).await;
            }
            ClientMessage::ChatDelete { id } => return self.chat(room::Action::Delete(id)).await,
            _ => {}
        }
        match (&self.phase, msg) {
            (_, ClientMessage::Ping { ts }) => Reply::Send(ServerMessage::Pong { ts }),
            (_, ClientMessage::Leave {}) => Reply::Close(close::NORMAL, "left"),
            (
                Phase::AwaitingJoin | Phase::Open,
                ClientMessage::Join {
                    v,
                    room,
                    name,
                    token,
                    device,
                },
            ) => self.join(v, room, name, token, device).await,
            (Phase::Joined { .. }, ClientMessage::Join { .. }) => {
                out_of_order("already joined; one join per connection")
            }
            (
                Phase::AwaitingJoin,
                ClientMessage::Open {
                    v,
                    room,
                    token,
                    device,
                    name,
                },
            ) => self.open(v, room, token, device, name).await,
            (_, ClientMessage::Open { .. }) => out_of_order("open comes first, once"),
            (Phase::AwaitingJoin | Phase::Open, _) => out_of_order("join first"),
            (Phase::Joined { handle, .. }, msg) => {
                let result = match msg {
                    ClientMessage::PublishOffer { sdp, tracks } => {
                        handle.publish_offer(sdp, tracks).await
                    }
                    ClientMessage::SubscribeAnswer { sdp } => handle.subscribe_answer(sdp).await,
                    ClientMessage::RestartIce {} => handle.restart_ice().await,
                    ClientMessage::Candidate { target, candidate } => {
                        handle.candidate(target, candidate).await
                    }
                    ClientMessage::Mute { track_id, muted } => handle.mute(track_id, muted).await,
                    ClientMessage::Unpublish { track_id } => handle.unpublish(track_id).await,
                    ClientMessage::Layout { tracks } if tracks.len() > LAYOUT_TRACKS_MAX => {
                        return Reply::Send(ServerMessage::error(
                            ErrorCode::InvalidMessage,
                            format!("a layout names at most {LAYOUT_TRACKS_MAX} tracks"),
                        ));
                    }
                    ClientMessage::Layout { tracks } => handle.layout(tracks).await,
                    // An ad hoc room of `--open-rooms`: the call relays it, nothing keeps it.
                    ClientMessage::Chat { text } => match normalize_chat_text(&text) {
                        Ok(text) => handle.chat(text).await,
                        Err(e) => {
                            return Reply::Send(ServerMessage::error(ErrorCode::InvalidMessage, e));
                        }
                    },
                    ClientMessage::Join { .. }
                    | ClientMessage::Open { .. }
                    | ClientMessage::ChatEdit { .. }
                    | ClientMessage::ChatDelete { .. }
                    | ClientMessage::Ping { .. }
                    | ClientMessage::Leave {} => Ok(()),
                };
                match result {
                    Ok(()) => Reply::None,
                    Err(SfuError::Closed) => Reply::Close(close::GOING_AWAY, "session ended"),
                    Err(e) => Reply::Send(ServerMessage::error(e.code(), e.to_string())),
                }
            }
        }
    }

    async fn join(
        &mut self,
        v: u32,
        room: String,
        name: String,
        token: Option<String>,
        device: Option<String>,
    ) -> Reply {
        let requested_at = std::time::Instant::now();
        if v != PROTOCOL_VERSION {
            return Reply::Send(ServerMessage::error(
                ErrorCode::UnsupportedVersion,
                format!("this server speaks protocol version {PROTOCOL_VERSION}"),
            ));
        }
        if let Err(e) = validate_room_name(&room) {
            return Reply::Send(ServerMessage::error(ErrorCode::InvalidRoom, e));
        }
        if self.room.as_ref().is_some_and(|link| link.slug != room) {
            return out_of_order("join the room this connection opened");
        }
        let name = match normalize_display_name(&name) {
            Ok(n) => n,
            Err(e) => return Reply::Send(ServerMessage::error(ErrorCode::InvalidName, e)),
        };
        let now = chrono::Utc::now();
        let device = device.as_deref();
        let admission =
            match authorize_join(&self.state, &room, token.as_deref(), device, now).await {
                Ok(a) => a,
                Err(refusal) => {
                    return Reply::Send(ServerMessage::Error {
                        code: refusal.code,
                        message: refusal.message,
                        opens_at: refusal.opens_at.map(|t| t.to_rfc3339()),
                    });
                }
            };
        let joined = self
            .state
            .sfu
            .join_with_capacity(&room, &name, admission.capacity, requested_at)
            .await;
        match joined {
            Ok(session) => {
                let span = tracing::Span::current();
                span.record("room", room.as_str());
                span.record("participant", session.participant_id.as_str());
                span.record("identity", admission.identity.to_string().as_str());
                info!(role = ?admission.role, "joined");
                let (chat, more_chat) = match &admission.room_id {
                    Some(room_id) => {
                        let author = crate::chat::service::Author {
                            room_id: room_id.clone(),
                            identity: admission.identity.to_string(),
                            host: admission.role == crate::invite::Role::Host,
                            name: Some(name.clone()),
                            participant_id: session.participant_id.clone(),
                            occurrence: admission.occurrence.clone(),
                        };
                        self.link(&room, author, token, true);
                        let identity = admission.identity.to_string();
                        self.live = Some(self.state.live.enter(
                            room_id,
                            &session.participant_id,
                            crate::live::Attendee {
                                identity: identity.clone(),
                                name: name.clone(),
                                host: admission.role == crate::invite::Role::Host,
                                joined_at: crate::store::now_ms(),
                            },
                        ));
                        if admission.attendance.records_attendance() {
                            self.presence = self
                                .record_join(
                                    room_id,
                                    admission.occurrence.as_deref(),
                                    &identity,
                                    &name,
                                )
                                .await
                                .map(|id| Stretch {
                                    id,
                                    talk_time: admission.attendance.records_talk_time(),
                                    written_ms: 0,
                                });
                        }
                        self.stored_chat(room_id).await
                    }
                    None => (session.chat.clone(), false),
                };
                let joined = ServerMessage::Joined {
                    v: PROTOCOL_VERSION,
                    room: session.room.clone(),
                    participant_id: session.participant_id.clone(),
                    identity: admission.identity.to_string(),
                    participants: session.others.clone(),
                    chat,
                    room_id: admission.room_id.clone(),
                    host: admission.role == crate::invite::Role::Host,
                    more_chat,
                    simulcast: self.state.sfu.config().simulcast,
                };
                self.phase = Phase::Joined {
                    handle: session.handle,
                    events: session.events,
                };
                Reply::Send(joined)
            }
            Err(e) => Reply::Send(ServerMessage::error(e.code(), e.to_string())),
        }
    }
}

enum Reply {
    None,
    Send(ServerMessage),
    Close(u16, &'static str),
}

fn out_of_order(why: &str) -> Reply {
    Reply::Send(ServerMessage::error(ErrorCode::OutOfOrder, why))
}

async fn send<T>(tx: &mut T, msg: &ServerMessage) -> Result<(), ()>
where
    T: Sink<Message> + Unpin,
{
    // Invariant: ServerMessage holds only strings, numbers, bools and lists of them, which
    // always serialise.
    let text = serde_json::to_string(msg).expect("server messages serialise");
    tx.send(Message::Text(text.into())).await.map_err(|_| ())
}
