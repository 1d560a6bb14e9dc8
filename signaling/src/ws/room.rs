//! A connection's link to a stored room: opening its channel (the room home, no media), and
//! posting, editing and deleting its kept chat, in the call or out of it.
//!
//! A link re-checks its invite now and then ([`RECHECK_EVERY`], at the next chat action), so
//! an expired link stops posting; revoked ones are cut at once through the hub.

use std::time::{Duration, Instant};

use protocol::{ChatMessage, ErrorCode, PROTOCOL_VERSION, ServerMessage, normalize_display_name};
use tracing::info;

use super::{Phase, Reply, Session, close, out_of_order};
use crate::access::{Refusal, check_invite, check_room_invite, unknown_room};
use crate::chat::service::{self, Author};
use crate::hub::Listener;
use crate::invite::Role;

/// Most messages of a stored room's chat sent on `open` and `join`; older ones are paged.
pub const CHAT_ON_JOIN: i64 = 100;
/// How long an invite check holds before the next chat action checks again.
pub const RECHECK_EVERY: Duration = Duration::from_secs(30);

/// What a connection knows of the stored room it opened or joined.
pub struct RoomLink {
    pub slug: String,
    pub listener: Listener,
    pub author: Author,
    /// The invite it came with, checked again after [`RECHECK_EVERY`]; never logged.
    token: Option<String>,
    checked_at: Instant,
    /// In the call, messages carry the meeting it joined; on the room home, the one on now.
    in_call: bool,
}

/// One chat action of the client.
pub enum Action {
    Post(String),
    Edit(String, String),
    Delete(String),
}

fn refused(r: Refusal) -> Reply {
    Reply::Send(ServerMessage::Error {
        code: r.code,
        message: r.message,
        opens_at: r.opens_at.map(|t| t.to_rfc3339()),
    })
}

impl Session {
    /// Opens the stored room `slug`'s channel.
    pub(super) async fn open(
        &mut self,
        v: u32,
        slug: String,
        token: Option<String>,
        device: Option<String>,
        name: Option<String>,
    ) -> Reply {
        if v != PROTOCOL_VERSION {
            return Reply::Send(ServerMessage::error(
                ErrorCode::UnsupportedVersion,
                format!("this server speaks protocol version {PROTOCOL_VERSION}"),
            ));
        }
        let name = match name.as_deref().map(normalize_display_name).transpose() {
            Ok(n) => n,
            Err(e) => return Reply::Send(ServerMessage::error(ErrorCode::InvalidName, e)),
        };
        let now = chrono::Utc::now();
        // A room's name that breaks the rules names no stored room either.
        let invited = match check_invite(&self.state, &slug, token.as_deref(), now).await {
            Ok(Some(invited)) => invited,
            Ok(None) => return refused(unknown_room(token.as_deref(), now)),
            Err(r) => return refused(r),
        };
        let identity = match invited.identity(device.as_deref()) {
            Ok(identity) => identity,
            Err(r) => return refused(r),
        };
        let host = invited.claims.role == Role::Host;
        let author = Author {
            room_id: invited.room.id.clone(),
            identity: identity.to_string(),
            host,
            name: name.or_else(|| {
                invited
                    .member
                    .as_ref()
                    .map(|m| m.fields.display_name.clone())
            }),
            participant_id: format!("ch-{}", uuid::Uuid::new_v4().simple()),
            occurrence: invited.occurrence(now),
        };
        let span = tracing::Span::current();
        span.record("room", slug.as_str());
        span.record("identity", author.identity.as_str());
        info!(host, "room opened");
        let (room_id, name) = (author.room_id.clone(), author.name.clone());
        let identity = author.identity.clone();
        self.link(&slug, author, token, false);
        self.phase = Phase::Open;
        let (chat, more_chat) = self.stored_chat(&room_id).await;
        Reply::Send(ServerMessage::Opened {
            v: PROTOCOL_VERSION,
            room: slug,
            room_id,
            identity,
            host,
            name,
            chat,
            more_chat,
        })
    }

    /// Listens to the stored room (before its history is read, so nothing falls between; a
    /// client drops a message whose id it has), or updates the link of an opened connection
    /// that joined the call.
    pub(super) fn link(&mut self, slug: &str, author: Author, token: Option<String>, call: bool) {
        match &mut self.room {
            Some(link) => {
                link.author = author;
                link.token = token;
                link.in_call = call;
                link.checked_at = Instant::now();
            }
            None => {
                self.room = Some(RoomLink {
                    slug: slug.to_owned(),
                    listener: self.state.hub.listen(&author.room_id),
                    author,
                    token,
                    checked_at: Instant::now(),
                    in_call: call,
                });
            }
        }
    }

    /// The room's latest kept messages, oldest first, and whether older ones exist.
    pub(super) async fn stored_chat(&self, room_id: &str) -> (Vec<ChatMessage>, bool) {
        match self
            .state
            .store
            .chat_page(room_id, None, CHAT_ON_JOIN)
            .await
        {
            Ok(page) => (page.messages, page.more),
            Err(e) => {
                tracing::error!(error = %e, "stored chat could not be read");
                (Vec::new(), false)
            }
        }
    }

    /// Posts, edits or deletes a kept message. Everyone listening, this connection too, hears
    /// of it from the hub; only a refusal is answered here.
    pub(super) async fn chat(&mut self, action: Action) -> Reply {
        if self.room.is_none() {
            return match (&self.phase, action) {
                (Phase::AwaitingJoin, _) => out_of_order("join or open first"),
                _ => Reply::Send(ServerMessage::error(
                    ErrorCode::NotAllowed,
                    "messages are kept, and changed, in stored rooms only",
                )),
            };
        }
        if let Err(reply) = self.recheck().await {
            return reply;
        }
        let Some(link) = &self.room else {
            return out_of_order("join or open first");
        };
        let done = match action {
            Action::Post(text) => service::post(&self.state, &link.author, &text).await,
            Action::Edit(id, text) => service::edit(&self.state, &link.author, &id, &text).await,
            Action::Delete(id) => service::delete(&self.state, &link.author, &id).await,
        };
        match done {
            Ok(_) => Reply::None,
            Err(crate::error::AppError::Invalid(errors))
                if errors.iter().any(|e| e.field == "name") =>
            {
                Reply::Send(ServerMessage::error(
                    ErrorCode::NotAllowed,
                    "say who you are: open the room with a name to post",
                ))
            }
            Err(e) => Reply::Send(e.to_wire()),
        }
    }

    /// Checks the link's invite again once [`RECHECK_EVERY`] has passed: an invite that no
    /// longer holds closes the connection.
    async fn recheck(&mut self) -> Result<(), Reply> {
        let Some(link) = &self.room else {
            return Ok(());
        };
        if link.checked_at.elapsed() < RECHECK_EVERY {
            return Ok(());
        }
        let now = chrono::Utc::now();
        let room = match self.state.store.room(&link.author.room_id).await {
            Ok(Some(room)) => room,
            Ok(None) => return Err(Reply::Close(close::GOING_AWAY, "the room was deleted")),
            Err(e) => return Err(Reply::Send(e.to_wire())),
        };
        let invited = check_room_invite(&self.state, room, link.token.as_deref(), now).await;
        let Some(link) = &mut self.room else {
            return Ok(());
        };
        match invited {
            Ok(invited) => {
                link.checked_at = Instant::now();
                link.author.host = invited.claims.role == Role::Host;
                if !link.in_call {
                    link.author.occurrence = invited.occurrence(now);
                }
                Ok(())
            }
            Err(r) => {
                info!(reason = %r.message, "the link no longer holds; closing");
                Err(Reply::Close(close::POLICY, "this link is no longer valid"))
            }
        }
    }

    /// Opens this participant's stretch of attendance in the meeting on now, or, without one,
    /// in the room's session under way (a new one starting now if there is none).
    pub(super) async fn record_join(
        &self,
        room_id: &str,
        occurrence: Option<&str>,
        identity: &str,
        name: &str,
    ) -> Option<String> {
        let store = &self.state.store;
        let now = crate::store::now_ms();
        let meeting = match occurrence {
            Some(o) => o.to_owned(),
            None => match store.open_session(room_id).await {
                Ok(Some(session)) => session,
                // A new session, named by its start in the room's zone, as meetings are.
                Ok(None) => {
                    let zone = match store.room(room_id).await {
                        Ok(Some(room)) => crate::schedule::parse_time_zone(&room.time_zone).ok(),
                        _ => None,
                    };
                    let at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now)
                        .unwrap_or_default();
                    crate::schedule::meeting_name(at, zone.unwrap_or(chrono_tz::UTC))
                }
                Err(e) => {
                    tracing::error!(error = %e, "attendance could not be read; this join is not recorded");
                    return None;
                }
            },
        };
        match store
            .open_presence(room_id, &meeting, identity, name, now)
            .await
        {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::error!(error = %e, "attendance could not be recorded");
                None
            }
        }
    }

    /// The call's talk time so far, if the room keeps it (milliseconds).
    fn talk_ms(&self) -> Option<i64> {
        self.presence.as_ref().filter(|s| s.talk_time)?;
        match &self.phase {
            Phase::Joined { handle, .. } => {
                Some(i64::try_from(handle.talk_time().as_millis()).unwrap_or(i64::MAX))
            }
            _ => None,
        }
    }

    /// Writes the call's talk time to its open stretch, if it grew, so that a server that dies
    /// loses at most the talk since the last ping.
    pub(super) async fn record_talk(&mut self) {
        let Some(talk) = self.talk_ms() else {
            return;
        };
        let Some(stretch) = self.presence.as_mut().filter(|s| s.written_ms != talk) else {
            return;
        };
        match self.state.store.set_talk_time(&stretch.id, talk).await {
            Ok(()) => stretch.written_ms = talk,
            Err(e) => tracing::error!(error = %e, "talk time could not be recorded"),
        }
    }

    /// Closes this participant's stretch of attendance, if one is open.
    pub(super) async fn record_leave(&mut self) {
        self.live = None;
        let talk = self.talk_ms();
        let Some(stretch) = self.presence.take() else {
            return;
        };
        if let Err(e) = self
            .state
            .store
            .close_presence(&stretch.id, crate::store::now_ms(), talk)
            .await
        {
            // The heartbeat stops with the connection, so a restart closes it at its last beat.
            tracing::error!(error = %e, "a leave could not be recorded");
        }
    }
}
