//! `/api/v1/rooms/{id}/invites` and the room's invite key: signed invite links to a room, for a
//! role and a time, and the rotation that revokes every one of them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, Caller};
use super::rooms::RoomView;
use crate::AppState;
use crate::error::{AppError, field};
use crate::invite::{self, Role};
use crate::store::Room;

/// Invites last 30 days unless asked otherwise, and at most a year.
const DEFAULT_INVITE_SECONDS: i64 = 30 * 24 * 3600;
const MAX_INVITE_SECONDS: i64 = 366 * 24 * 3600;

/// `POST /api/v1/rooms/{id}/invites`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    pub role: Role,
    /// Seconds the invite stays valid: 60 to a year (default 30 days).
    pub expires_in_seconds: Option<i64>,
}

/// An invite: the link to hand out, and the token inside it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InviteView {
    /// The room's page with the token: `/r/{slug}?t=...`.
    pub url: String,
    pub token: String,
    pub role: Role,
    pub expires_at: String,
}

/// Makes an invite link to a room.
#[utoipa::path(post, path = "/rooms/{id}/invites", tag = "invites", request_body = NewInvite,
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The room's id")),
    responses((status = 201, body = InviteView), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_invite(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewInvite>,
) -> Result<(StatusCode, Json<InviteView>), AppError> {
    let ttl = invite_ttl(body.expires_in_seconds)?;
    let room = caller.room(&state, &id).await?;
    let view = invite_for(&room, body.role, ttl, &state.settings.public_url, None);
    Ok((StatusCode::CREATED, Json(view)))
}

/// An invite's lifetime as asked for: 60 s to a year, 30 days when not given.
pub fn invite_ttl(asked: Option<i64>) -> Result<i64, AppError> {
    let ttl = asked.unwrap_or(DEFAULT_INVITE_SECONDS);
    if !(60..=MAX_INVITE_SECONDS).contains(&ttl) {
        return Err(field(
            "expires_in_seconds",
            format!("from 60 to {MAX_INVITE_SECONDS}"),
        )
        .into());
    }
    Ok(ttl)
}

/// Signs an invite to `room` and builds its link; `personal` (a member's id and link version)
/// makes it that member's personal link.
pub fn invite_for(
    room: &Room,
    role: Role,
    ttl: i64,
    public_url: &str,
    personal: Option<(&str, i64)>,
) -> InviteView {
    let now = Utc::now().timestamp();
    let token = match personal {
        None => invite::mint(&room.invite_secret, &room.id, role, now, ttl),
        Some(member) => {
            invite::mint_personal(&room.invite_secret, &room.id, role, member, now, ttl)
        }
    };
    InviteView {
        url: format!("{public_url}/r/{}?t={token}", room.slug),
        token,
        role,
        expires_at: DateTime::<Utc>::from_timestamp(now + ttl, 0)
            .unwrap_or_default()
            .to_rfc3339(),
    }
}

/// Gives the room a new invite key: every invite made so far stops working.
#[utoipa::path(post, path = "/rooms/{id}/invite-key/rotate", tag = "invites",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The room's id")),
    responses((status = 200, body = RoomView), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn rotate_invite_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RoomView>, AppError> {
    caller.room(&state, &id).await?;
    let room = state
        .store
        .rotate_invite_secret(&id, &invite::new_secret())
        .await?
        .ok_or(AppError::NotFound("room"))?;
    tracing::info!(room = %room.slug, key_version = room.key_version, "invite key rotated");
    state.hub.revoke(&room.id, crate::hub::Revoked::All);
    Ok(Json(RoomView::new(&room, &state.settings.public_url)))
}
