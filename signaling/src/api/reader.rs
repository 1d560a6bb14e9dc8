//! Who reads a stored room's kept life through the HTTP API (its chat now; its board and
//! attendance later): a participant with an invite or personal link to the room, or an
//! organiser key that manages it, which acts as a host.
//!
//! The credential is `Authorization: Bearer <token>`: an invite token (a JWT) or an API key,
//! or else the session cookie of an organiser signed in to the console. A
//! guest's page also sends its device id in `X-Cohort-Device`, the one it sends on the
//! WebSocket, so that what it posted stays its own. A revoked personal link is a 401 on every
//! route, and a token that fits no room is refused exactly as one that fits another room, so
//! that nobody can probe which rooms exist.

use axum::http::HeaderMap;
use chrono::Utc;

use super::extract::{bearer, caller};
use crate::AppState;
use crate::access::{Refusal, check_room_invite, invite_for_room, unknown_room};
use crate::chat::service::Author;
use crate::error::AppError;
use crate::invite::Role;
use crate::members::Identity;
use crate::store::Room;

/// The header a guest's page names its device with.
pub const DEVICE_HEADER: &str = "x-cohort-device";

/// A caller allowed into a room.
pub struct Reader {
    pub room: Room,
    /// Who they are; an organiser key is `key:<key id>`, a host without a name.
    pub author: Author,
    /// A participant without a host's rights (not a host link, not a key).
    pub participant: bool,
}

/// What a route needs to know of the caller besides who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Reading only.
    Read,
    /// Posting: the meeting on now is looked up, to tag what is posted.
    Post,
}

fn unauthorized(r: Refusal) -> AppError {
    AppError::Unauthorized(r.message.into())
}

/// The caller of a route on the room `room_id`.
pub async fn reader(
    state: &AppState,
    headers: &HeaderMap,
    room_id: &str,
    need: Need,
) -> Result<Reader, AppError> {
    let token = match bearer(headers) {
        Some(Some(token)) => Some(token),
        // The organiser's console, signed in by a sign-in link, sends its session cookie.
        None if super::session::session_token(headers).is_some() => None,
        _ => {
            return Err(AppError::Unauthorized(
                "this needs an invite link's token or an API key: Authorization: Bearer <token>"
                    .into(),
            ));
        }
    };
    // An invite token is a JWT (three dot-separated parts); an API key has no dots.
    let Some(token) = token.filter(|t| t.contains('.')) else {
        let key = caller(state, headers).await?;
        let room = key.room(state, room_id).await?;
        let author = Author {
            room_id: room.id.clone(),
            identity: format!("key:{}", key.0.id),
            host: true,
            name: None,
            participant_id: String::new(),
            occurrence: None,
        };
        return Ok(Reader {
            room,
            author,
            participant: false,
        });
    };
    let now = Utc::now();
    let Some(room) = state.store.room(room_id).await? else {
        return Err(unauthorized(unknown_room(Some(token), now)));
    };
    let device = headers.get(DEVICE_HEADER).and_then(|v| v.to_str().ok());
    let (claims, member, occurrence) = match need {
        Need::Read => {
            let (claims, member) = invite_for_room(state, &room, Some(token), now)
                .await
                .map_err(unauthorized)?;
            (claims, member, None)
        }
        Need::Post => {
            let invited = check_room_invite(state, room.clone(), Some(token), now)
                .await
                .map_err(unauthorized)?;
            let occurrence = invited.occurrence(now);
            (invited.claims, invited.member, occurrence)
        }
    };
    let identity = match (&member, device) {
        (Some(m), _) => Identity::Member(m.id.clone()),
        (None, Some(d)) => Identity::guest(d).map_err(|mut e| {
            e.field = "X-Cohort-Device".into();
            AppError::from(e)
        })?,
        // A guest without a device id reads as nobody in particular: it can post nothing.
        (None, None) => Identity::Guest(String::new()),
    };
    let host = claims.role == Role::Host;
    let author = Author {
        room_id: room.id.clone(),
        identity: identity.to_string(),
        host,
        name: member.map(|m| m.fields.display_name),
        participant_id: String::new(),
        occurrence,
    };
    Ok(Reader {
        room,
        author,
        participant: !host,
    })
}

impl Reader {
    /// Refuses a guest whose page sent no device id: what it would post or change could not
    /// be told apart from any other guest's.
    pub fn identified(&self) -> Result<(), AppError> {
        if self.author.identity == "guest:" {
            return Err(crate::error::field(
                "X-Cohort-Device",
                "a guest names its device (the id its page keeps) to post or change messages",
            )
            .into());
        }
        Ok(())
    }
}
