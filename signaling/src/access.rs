//! Who may join a room, decided on the WebSocket join itself, not only on the page.
//!
//! A room created through the API needs an invite token for that room, signed with its current
//! key and not expired. Participants get in while the room is open by its schedule (from
//! `early_join_minutes` before a meeting until `grace_minutes` after it); hosts always. A room
//! without a schedule is always open. Rooms that were never created are refused, unless the
//! server runs with `--open-rooms`, where anyone with the link may use any room name.

use chrono::{DateTime, Duration, Utc};
use protocol::ErrorCode;

use crate::AppState;
use crate::invite::{self, InviteError, Role};
use crate::schedule::Window;

/// What a join that was let in may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub role: Role,
    /// The room's capacity, when it has one of its own.
    pub capacity: Option<usize>,
}

/// Why a join was refused, as the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
    /// For a room outside its meeting window: when it opens.
    pub opens_at: Option<DateTime<Utc>>,
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
        opens_at: None,
    }
}

/// Whether this join may enter the room `slug` at `now`.
pub async fn authorize_join(
    state: &AppState,
    slug: &str,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Admission, Refusal> {
    let internal = |e: crate::error::AppError| {
        tracing::error!(error = %e, "join check failed");
        refuse(ErrorCode::Internal, "the server could not check the invite")
    };
    let Some(room) = state.store.room_by_slug(slug).await.map_err(internal)? else {
        if state.settings.open_rooms {
            return Ok(Admission {
                role: Role::Participant,
                capacity: None,
            });
        }
        return Err(refuse(
            ErrorCode::NoSuchRoom,
            format!("there is no room \"{slug}\" on this server; check the link"),
        ));
    };
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(refuse(
            ErrorCode::InviteRequired,
            "this room needs an invite link; ask the organiser for one",
        ));
    };
    let claims =
        invite::verify(&room.invite_secret, &room.id, token, now.timestamp()).map_err(|e| {
            let code = match e {
                InviteError::Expired => ErrorCode::InviteExpired,
                _ => ErrorCode::InviteInvalid,
            };
            tracing::info!(room = %room.slug, reason = ?e, "invite refused");
            refuse(code, e.to_string())
        })?;
    let admission = Admission {
        role: claims.role,
        capacity: usize::try_from(room.capacity).ok(),
    };
    if claims.role == Role::Host {
        return Ok(admission);
    }
    let Some(row) = state.store.schedule(&room.id).await.map_err(internal)? else {
        return Ok(admission);
    };
    let schedule = crate::api::schedule::load(&row, &room.time_zone).map_err(internal)?;
    let early = Duration::minutes(room.early_join_minutes);
    let grace = Duration::minutes(room.grace_minutes);
    match schedule.window(now, early, grace) {
        Window::Open { .. } => Ok(admission),
        Window::Closed {
            opens_at: Some(opens_at),
        } => Err(Refusal {
            code: ErrorCode::RoomClosed,
            message: format!(
                "the room is closed until the next meeting; it opens at {}",
                opens_at.to_rfc3339()
            ),
            opens_at: Some(opens_at.with_timezone(&Utc)),
        }),
        Window::Closed { opens_at: None } => Err(refuse(
            ErrorCode::RoomClosed,
            "the room has no more meetings scheduled",
        )),
    }
}
