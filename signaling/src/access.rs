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
use crate::error::FieldError;
use crate::invite::{self, InviteError, Role};
use crate::members::Identity;
use crate::schedule::{Occurrence, Schedule, Window};
use crate::store::Member;

/// What a join that was let in may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub role: Role,
    /// Who this is: the member of a personal link, otherwise a guest by device.
    pub identity: Identity,
    /// The room's capacity, when it has one of its own.
    pub capacity: Option<usize>,
    /// The stored room's id (`None` for an ad hoc room of `--open-rooms`): its chat is kept.
    pub room_id: Option<String>,
    /// The start (RFC 3339) of the meeting running at the join, if the schedule has one.
    pub occurrence: Option<String>,
    /// What the room keeps of who came (and of who spoke).
    pub attendance: crate::attendance::Mode,
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

/// A room and the invite that was checked for it, with what its schedule says at that moment.
pub struct Invited {
    pub room: crate::store::Room,
    /// The invite's claims, with the role it admits with.
    pub claims: invite::Claims,
    /// The member a personal link belongs to.
    pub member: Option<Member>,
    /// Whether the room is open for this invite: always for hosts and for rooms without a
    /// schedule; otherwise by the schedule's window.
    pub window: Window,
    /// The meeting running now or the next one, if the room has a schedule.
    pub next: Option<Occurrence>,
    /// Why the stored schedule cannot be used, when it cannot: participants are kept out
    /// (hosts are not) until the organiser sets it again.
    pub problem: Option<String>,
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
    check_room_invite(state, room, token, now).await.map(Some)
}

/// Checks `token` for `room`, with what the room's schedule says at `now`.
pub async fn check_room_invite(
    state: &AppState,
    room: crate::store::Room,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Invited, Refusal> {
    let (claims, member) = invite_for_room(state, &room, token, now).await?;
    let Some(row) = state.store.schedule(&room.id).await.map_err(internal)? else {
        return Ok(Invited {
            room,
            claims,
            member,
            window: Window::Always,
            next: None,
            problem: None,
        });
    };
    let schedule = crate::api::schedule::load(&row, &room.time_zone).map_err(internal)?;
    let (early, grace) = (room.early_join_minutes, room.grace_minutes);
    let host = claims.role == Role::Host;
    let timing =
        crate::api::schedule::off_thread(move || timing(&schedule, host, now, early, grace))
            .await
            .map_err(internal)?;
    let (window, next, problem) = match timing {
        Ok((window, next)) => (window, next, None),
        Err(e) => {
            tracing::warn!(room = %room.slug, error = %e, "stored schedule cannot be used");
            let window = if host {
                Window::Always
            } else {
                Window::Closed { opens_at: None }
            };
            (window, None, Some(e.to_string()))
        }
    };
    Ok(Invited {
        room,
        claims,
        member,
        window,
        next,
        problem,
    })
}

impl Invited {
    /// The meeting that is on at `now` (from its early-join time), as its start in RFC 3339:
    /// what a chat message sent now is tagged with.
    pub fn occurrence(&self, now: DateTime<Utc>) -> Option<String> {
        self.next
            .as_ref()
            .filter(|o| {
                o.start.with_timezone(&Utc) <= now + Duration::minutes(self.room.early_join_minutes)
            })
            .map(|o| o.start.to_rfc3339())
    }

    /// Who holds this invite: the member of a personal link, otherwise a guest by `device`.
    pub fn identity(&self, device: Option<&str>) -> Result<Identity, Refusal> {
        match &self.member {
            Some(m) => Ok(Identity::Member(m.id.clone())),
            None => guest(device),
        }
    }
}

/// Checks `token` for `room`: signed with its key, for it, in time, and, for a member's
/// personal link, not revoked. The claims carry the role to admit with (a member's current
/// one), with the member for a personal link.
pub async fn invite_for_room(
    state: &AppState,
    room: &crate::store::Room,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(invite::Claims, Option<Member>), Refusal> {
    let mut claims = verified(&room.invite_secret, &room.id, token, now).inspect_err(|e| {
        tracing::info!(room = %room.slug, reason = %e.message, "invite refused");
    })?;
    let Some(member_id) = claims.sub.clone() else {
        return Ok((claims, None));
    };
    let member = state
        .store
        .member(&room.id, &member_id)
        .await
        .map_err(internal)?
        .filter(|m| Some(m.link_version) == claims.ver);
    let Some(member) = member else {
        tracing::info!(room = %room.slug, "personal link revoked");
        return Err(refuse(
            ErrorCode::InviteInvalid,
            "this personal link was revoked; ask the organiser for a new one",
        ));
    };
    claims.role = member.fields.role;
    Ok((claims, Some(member)))
}

/// Checks `token` against a room's key and id, as the person holding it is told.
fn verified(
    secret: &str,
    room_id: &str,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<invite::Claims, Refusal> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(refuse(
            ErrorCode::InviteRequired,
            "this room needs an invite link; ask the organiser for one",
        ));
    };
    invite::verify(secret, room_id, token, now.timestamp()).map_err(|e| {
        let code = match e {
            InviteError::Expired => ErrorCode::InviteExpired,
            _ => ErrorCode::InviteInvalid,
        };
        refuse(code, e.to_string())
    })
}

/// The refusal for a room that does not exist: exactly what a room that exists says to the same
/// token, so that nobody without a valid invite can tell which rooms exist. The token is checked
/// against a key and a room id that nothing has, which fails the way a stranger's token fails.
pub fn unknown_room(token: Option<&str>, now: DateTime<Utc>) -> Refusal {
    let nobody = invite::new_secret();
    match verified(&nobody, &nobody, token, now) {
        Err(refusal) => refusal,
        // Invariant: no token verifies against a fresh random key.
        Ok(_) => refuse(
            ErrorCode::InviteInvalid,
            InviteError::BadSignature.to_string(),
        ),
    }
}

/// The window for a host or a participant at `now`, and the next meeting.
fn timing(
    schedule: &Schedule,
    host: bool,
    now: DateTime<Utc>,
    early_minutes: i64,
    grace_minutes: i64,
) -> Result<(Window, Option<Occurrence>), FieldError> {
    let window = if host {
        Window::Always
    } else {
        schedule.window(
            now,
            Duration::minutes(early_minutes),
            Duration::minutes(grace_minutes),
        )?
    };
    Ok((window, schedule.next(now)?))
}

/// A guest's identity from the device id the page sent, or a fresh one for a client that keeps
/// none (it is then a new guest each time).
fn guest(device: Option<&str>) -> Result<Identity, Refusal> {
    match device {
        Some(d) => Identity::guest(d).map_err(|e| {
            refuse(
                ErrorCode::InvalidMessage,
                format!("{}: {}", e.field, e.message),
            )
        }),
        None => {
            use base64::Engine;
            let fresh = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(crate::random_bytes::<16>());
            Ok(Identity::Guest(fresh))
        }
    }
}

/// Whether this join may enter the room `slug` at `now`; `device` is the page's device id.
pub async fn authorize_join(
    state: &AppState,
    slug: &str,
    token: Option<&str>,
    device: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Admission, Refusal> {
    let Some(invited) = check_invite(state, slug, token, now).await? else {
        if state.settings.open_rooms {
            return Ok(Admission {
                role: Role::Participant,
                identity: guest(device)?,
                capacity: None,
                room_id: None,
                occurrence: None,
                attendance: crate::attendance::Mode::Off,
            });
        }
        return Err(unknown_room(token, now));
    };
    let identity = invited.identity(device)?;
    let occurrence = invited.occurrence(now);
    let admission = Admission {
        identity,
        role: invited.claims.role,
        capacity: usize::try_from(invited.room.capacity).ok(),
        room_id: Some(invited.room.id.clone()),
        occurrence,
        attendance: crate::attendance::Mode::parse(&invited.room.attendance_mode),
    };
    if let Some(problem) = invited.problem.filter(|_| invited.window != Window::Always) {
        return Err(refuse(
            ErrorCode::RoomClosed,
            format!(
                "the room's schedule cannot be used ({problem}); ask the organiser to set it again"
            ),
        ));
    }
    match invited.window {
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
