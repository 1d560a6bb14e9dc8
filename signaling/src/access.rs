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
use crate::error::AppError;
use crate::invite::{self, InviteError, Role};
use crate::schedule::{Schedule, Window};

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

/// A room and the invite that was checked for it.
pub struct Invited {
    pub room: crate::store::Room,
    pub claims: invite::Claims,
    /// The room's schedule, if it has one.
    pub schedule: Option<Schedule>,
}

fn internal(e: AppError) -> Refusal {
    tracing::error!(error = %e, "invite check failed");
    refuse(ErrorCode::Internal, "the server could not check the invite")
}

/// Checks `token` for the stored room `slug`. `Ok(None)`: no such room.
pub async fn check_invite(
    state: &AppState,
    slug: &str,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Invited>, Refusal> {
    let Some(room) = state.store.room_by_slug(slug).await.map_err(internal)? else {
        return Ok(None);
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
    let schedule = match state.store.schedule(&room.id).await.map_err(internal)? {
        Some(row) => Some(crate::api::schedule::load(&row, &room.time_zone).map_err(internal)?),
        None => None,
    };
    Ok(Some(Invited {
        room,
        claims,
        schedule,
    }))
}

impl Invited {
    /// Whether the room is open for this invite at `now`: always for hosts and for rooms
    /// without a schedule; otherwise by the schedule's window.
    pub fn window(&self, now: DateTime<Utc>) -> Window {
        match (&self.schedule, self.claims.role) {
            (Some(schedule), Role::Participant) => schedule.window(
                now,
                Duration::minutes(self.room.early_join_minutes),
                Duration::minutes(self.room.grace_minutes),
            ),
            _ => Window::Always,
        }
    }
}

/// Whether this join may enter the room `slug` at `now`.
pub async fn authorize_join(
    state: &AppState,
    slug: &str,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Admission, Refusal> {
    let Some(invited) = check_invite(state, slug, token, now).await? else {
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
    let admission = Admission {
        role: invited.claims.role,
        capacity: usize::try_from(invited.room.capacity).ok(),
    };
    match invited.window(now) {
        Window::Open { .. } | Window::Always => Ok(admission),
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
