//! Changing a room's attendance: a host's override of someone's status in one meeting, with a
//! note (`/api/v1/rooms/{id}/attendance/overrides`), and deleting everything kept of one
//! person's attendance on their request (`DELETE /api/v1/rooms/{id}/attendance`, organiser
//! keys only).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::attendance::HostOverride;
use super::extract::{ApiJson, ApiQuery};
use super::reader::{Need, Reader, reader};
use crate::AppState;
use crate::attendance::{Status, check_note};
use crate::error::{AppError, field};
use crate::members::Identity;
use crate::schedule::{parse_meeting, parse_time_zone};
use crate::store::{Override, now_ms, rfc3339_ms};

/// A host's override of one person's status in one meeting.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOverride {
    /// The meeting's start, as the register names it.
    pub meeting: String,
    /// `member:<id>` or `guest:<device>`.
    pub identity: String,
    pub status: Status,
    /// Why, up to 500 characters ("ill, told us in advance").
    #[serde(default)]
    pub note: String,
}

/// Whose override to remove.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OverrideKey {
    pub meeting: String,
    pub identity: String,
}

/// Whose attendance to delete.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ForgetQuery {
    pub identity: String,
}

/// What was deleted.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Forgotten {
    /// Stretches of presence and overrides deleted.
    pub deleted: u64,
}

/// The caller, who must be a host or an organiser key; the meeting's canonical name; the
/// identity, checked.
async fn host_of(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    meeting: &str,
    identity: &str,
) -> Result<(Reader, String, String), AppError> {
    let r = reader(state, headers, id, Need::Read).await?;
    if r.participant {
        return Err(AppError::Forbidden(
            "only a host changes someone's attendance".into(),
        ));
    }
    let zone = parse_time_zone(&r.room.time_zone)?;
    let (_, meeting) = parse_meeting(meeting, zone, "meeting")?;
    let identity = Identity::parse(identity)?.to_string();
    Ok((r, meeting, identity))
}

/// Sets a host's override of one person's status in one meeting, with a note; it replaces an
/// earlier one. The person must be on the roster or have come to the meeting.
#[utoipa::path(put, path = "/rooms/{id}/attendance/overrides", tag = "attendance",
    params(("id" = String, Path, description = "The room's id")), request_body = NewOverride,
    security(("api_key" = []), ("invite" = [])),
    responses((status = 200, description = "Set", body = HostOverride),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn set_override(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewOverride>,
) -> Result<Json<HostOverride>, AppError> {
    let (r, meeting, identity) =
        host_of(&state, &headers, &id, &body.meeting, &body.identity).await?;
    let note = check_note(&body.note)?;
    let on_roster = match Identity::parse(&identity)? {
        Identity::Member(m) => state.store.member(&r.room.id, &m).await?.is_some(),
        Identity::Guest(_) => false,
    };
    if !on_roster {
        let came = state.store.presence(&r.room.id, &meeting, now_ms()).await?;
        if !came.iter().any(|p| p.identity == identity) {
            return Err(AppError::NotFound(
                "person on the roster or at this meeting",
            ));
        }
    }
    let o = Override {
        identity,
        status: body.status.as_str().to_owned(),
        note,
        set_by: r.author.identity.clone(),
        set_at: now_ms(),
    };
    state.store.set_override(&r.room.id, &meeting, &o).await?;
    tracing::info!(room = %r.room.id, meeting = %meeting, status = %o.status, "attendance overridden");
    Ok(Json(HostOverride {
        status: body.status,
        note: o.note,
        set_by: o.set_by,
        set_at: rfc3339_ms(o.set_at),
    }))
}

/// Removes a host's override: the suggested status stands again.
#[utoipa::path(delete, path = "/rooms/{id}/attendance/overrides", tag = "attendance",
    params(("id" = String, Path, description = "The room's id"), OverrideKey),
    security(("api_key" = []), ("invite" = [])),
    responses((status = 204, description = "Removed"),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn clear_override(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<OverrideKey>,
) -> Result<StatusCode, AppError> {
    let (r, meeting, identity) = host_of(&state, &headers, &id, &q.meeting, &q.identity).await?;
    if state
        .store
        .clear_override(&r.room.id, &meeting, &identity)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound("override"))
    }
}

/// Deletes everything the room keeps of one person's attendance, in every meeting: their
/// stretches of presence, talk time and the hosts' overrides. For a person's request to be
/// forgotten; organiser keys only. A member stays on the roster (and so is listed absent).
#[utoipa::path(delete, path = "/rooms/{id}/attendance", tag = "attendance",
    params(("id" = String, Path, description = "The room's id"), ForgetQuery),
    security(("api_key" = [])),
    responses((status = 200, description = "Deleted", body = Forgotten),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn forget_attendance(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ForgetQuery>,
) -> Result<Json<Forgotten>, AppError> {
    let r = reader(&state, &headers, &id, Need::Read).await?;
    if !r.author.identity.starts_with("key:") {
        return Err(AppError::Forbidden(
            "deleting someone's attendance takes the organiser's API key".into(),
        ));
    }
    let identity = Identity::parse(&q.identity)
        .map_err(|_| field("identity", "member:<id> or guest:<device id>"))?
        .to_string();
    let deleted = state
        .store
        .delete_attendance_of(&r.room.id, &identity)
        .await?;
    tracing::info!(room = %r.room.id, deleted, "a person's attendance deleted on request");
    Ok(Json(Forgotten { deleted }))
}
