//! `GET /api/v1/lobby/{slug}`: what the room page shows before joining, for the holder of an
//! invite: the room's name, the next meeting, and whether (and when) the room lets them in.

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use protocol::ErrorCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::ApiQuery;
use super::schedule::OccurrenceView;
use crate::AppState;
use crate::access::{Refusal, check_invite, unknown_room};
use crate::error::AppError;
use crate::invite::Role;
use crate::schedule::Window;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LobbyQuery {
    /// The invite token from the room link.
    pub t: Option<String>,
}

/// The room as its invite holder sees it before joining.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LobbyView {
    /// The room's id, for its routes that take an invite (chat, calendar).
    pub room_id: String,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub time_zone: String,
    /// The role the invite gives.
    pub role: Role,
    /// Whether the invite lets its holder in now.
    pub open: bool,
    /// When closed: when the room opens (absent when no meeting is left).
    pub opens_at: Option<String>,
    /// When open by the schedule: when it closes (the meeting's end plus the grace period).
    pub closes_at: Option<String>,
    /// The meeting running now or the next one, if the room has a schedule.
    pub next_meeting: Option<OccurrenceView>,
    /// Why the room's stored schedule cannot be used, when it cannot: participants are kept
    /// out until the organiser sets it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_problem: Option<String>,
    /// The server's clock, so a page can correct for a wrong clock of its own.
    pub server_time: String,
    /// What the room records of who came, for the page to say before anyone joins.
    pub attendance_mode: crate::attendance::Mode,
}

fn refusal(r: Refusal) -> AppError {
    match r.code {
        ErrorCode::InviteRequired => AppError::Unauthorized(r.message.into()),
        ErrorCode::Internal => AppError::Config(r.message),
        _ => AppError::Forbidden(r.message.into()),
    }
}

/// The room behind an invite link, before joining.
#[utoipa::path(get, path = "/lobby/{slug}", tag = "rooms",
    params(("slug" = String, Path, description = "The room's slug"), LobbyQuery),
    responses((status = 200, body = LobbyView), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn lobby(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<LobbyQuery>,
) -> Result<Json<LobbyView>, AppError> {
    let now = Utc::now();
    let invited = match check_invite(&state, &slug, q.t.as_deref(), now)
        .await
        .map_err(refusal)?
    {
        Some(invited) => invited,
        // With open rooms any name may be used, so there is nothing to hide.
        None if state.settings.open_rooms => return Err(AppError::NotFound("room")),
        None => return Err(refusal(unknown_room(q.t.as_deref(), now))),
    };
    let (open, opens_at, closes_at) = match &invited.window {
        Window::Always => (true, None, None),
        Window::Open { closes_at } => (true, None, Some(closes_at.to_rfc3339())),
        Window::Closed { opens_at } => (false, opens_at.map(|t| t.to_rfc3339()), None),
    };
    let next_meeting = invited.next.as_ref().map(OccurrenceView::from);
    let room = invited.room;
    Ok(Json(LobbyView {
        room_id: room.id,
        slug: room.slug,
        name: room.name,
        description: room.description,
        time_zone: room.time_zone,
        role: invited.claims.role,
        open,
        opens_at,
        closes_at,
        next_meeting,
        schedule_problem: invited.problem,
        server_time: now.to_rfc3339(),
        attendance_mode: crate::attendance::Mode::parse(&room.attendance_mode),
    }))
}
