//! `GET /api/v1/rooms/{id}/notes/history`: the notes kept at each meeting's end
//! ([`crate::notes::history`]): a meeting's minutes, and the room's notes as they were then,
//! to read (read-only) and download as Markdown. Anyone with the room's link reads them.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Json, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::ApiQuery;
use super::notes::{file_name, markdown_attachment, with_link};
use super::reader::{Need, Reader, reader};
use crate::AppState;
use crate::error::{AppError, field};
use crate::notes::{DocId, history};
use crate::schedule::{parse_meeting, parse_time_zone};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// The room link's token (or `Authorization`).
    pub t: Option<String>,
    /// A guest's device id (or `X-Cohort-Device`).
    pub device: Option<String>,
    /// One meeting (its start, any RFC 3339 spelling); without it, every meeting.
    pub meeting: Option<String>,
    /// With `/markdown`: `room` or `minutes:<the meeting's start>`.
    pub doc: Option<String>,
}

/// One document as it was when a meeting ended.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeptView {
    /// The meeting, as its minutes and the register name it.
    pub meeting: String,
    /// `minutes:<meeting>` or `room`.
    pub doc: String,
    pub title: String,
    /// When it was kept (RFC 3339): within `--notes-history-seconds` of the meeting's end.
    pub kept_at: String,
    /// The text, Markdown.
    pub text: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct History {
    /// Latest meeting first.
    pub kept: Vec<KeptView>,
}

async fn read(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    q: &HistoryQuery,
) -> Result<(Reader, Option<String>), AppError> {
    let headers = with_link(headers, q.t.as_deref(), q.device.as_deref());
    let r = reader(state, &headers, id, Need::Read).await?;
    let zone = parse_time_zone(&r.room.time_zone)?;
    let meeting = match &q.meeting {
        Some(m) => Some(parse_meeting(m, zone, "meeting")?.1),
        None => None,
    };
    Ok((r, meeting))
}

/// What was kept of the room's notes at its meetings' ends.
#[utoipa::path(get, path = "/rooms/{id}/notes/history", tag = "notes",
    params(("id" = String, Path, description = "The room's id"), HistoryQuery),
    security(("api_key" = []), ("invite" = [])),
    responses((status = 200, body = History), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn notes_history(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<History>, AppError> {
    let (r, meeting) = read(&state, &headers, &id, &q).await?;
    let kept = state
        .store
        .history(&r.room.id, meeting.as_deref())
        .await?
        .into_iter()
        .map(|k| KeptView {
            title: history::title(&k.doc).to_owned(),
            kept_at: DateTime::<Utc>::from_timestamp_millis(k.at)
                .unwrap_or_default()
                .to_rfc3339(),
            meeting: k.meeting,
            doc: k.doc,
            text: k.body,
        })
        .collect();
    Ok(Json(History { kept }))
}

/// One kept document, as a Markdown attachment.
#[utoipa::path(get, path = "/rooms/{id}/notes/history/markdown", tag = "notes",
    params(("id" = String, Path, description = "The room's id"), HistoryQuery),
    security(("api_key" = []), ("invite" = [])),
    responses((status = 200, description = "The text as it was kept", content_type = "text/markdown", body = String),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn notes_history_markdown(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Response, AppError> {
    let (r, meeting) = read(&state, &headers, &id, &q).await?;
    let Some(meeting) = meeting else {
        return Err(field("meeting", "which meeting's notes").into());
    };
    let zone = parse_time_zone(&r.room.time_zone)?;
    let doc = DocId::parse(q.doc.as_deref().unwrap_or("room"), zone)?;
    let wanted = doc.as_string();
    let kept = state
        .store
        .history(&r.room.id, Some(&meeting))
        .await?
        .into_iter()
        .find(|k| k.doc == wanted)
        .ok_or(AppError::NotFound("kept notes"))?;
    let name = format!(
        "{}-{}-kept-{}.md",
        r.room.slug,
        file_name(&doc),
        meeting
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
    );
    Ok(markdown_attachment(kept.body, &name))
}
