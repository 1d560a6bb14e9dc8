//! `GET /api/v1/rooms/{id}/calendar.ics`: the schedule for calendar apps. An organiser fetches
//! it with an API key; participants subscribe with their invite token (`?t=`), and then every
//! event's join link carries that token.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{ApiQuery, caller};
use super::schedule::load;
use crate::AppState;
use crate::calendar::{CalendarRoom, render};
use crate::error::AppError;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CalendarQuery {
    /// An invite token for this room, instead of an API key.
    pub t: Option<String>,
}

/// The room's schedule as an iCalendar file (RFC 5545).
#[utoipa::path(get, path = "/rooms/{id}/calendar.ics", tag = "schedule",
    security(("api_key" = []), ()),
    params(("id" = String, Path, description = "The room's id"), CalendarQuery),
    responses((status = 200, description = "The calendar", content_type = "text/calendar"),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn calendar(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<CalendarQuery>,
) -> Result<Response, AppError> {
    // Who may read it: an invite holder for this room, or a key that manages it.
    let room = match &q.t {
        None => caller(&state, &headers).await?.room(&state, &id).await?,
        Some(token) => {
            let room = state.store.existing_room(&id).await?;
            crate::access::invite_for_room(&state, &room, Some(token), Utc::now())
                .await
                .map_err(|r| AppError::Forbidden(r.message.into()))?;
            room
        }
    };
    let row = state
        .store
        .schedule(&id)
        .await?
        .ok_or(AppError::NotFound("schedule"))?;
    let schedule = load(&row, &room.time_zone)?;
    if let Some(problem) = schedule.problem() {
        return Err(super::schedule::stored_problem(problem.clone()));
    }
    let mut join_url = format!("{}/r/{}", state.settings.public_url, room.slug);
    if let Some(token) = &q.t {
        join_url.push_str("?t=");
        join_url.push_str(token);
    }
    let cal = CalendarRoom {
        id: &room.id,
        name: &room.name,
        description: room.description.as_deref(),
        join_url: &join_url,
    };
    let body = render(&cal, &schedule, Utc::now());
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{}.ics\"", room.slug)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
